//! The `ferrokeeper` command: start a server from a zoo.cfg, or print the version.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use ferrokeeper::config::ServerConfig;
use ferrokeeper::net::four_letter::{FULL_VERSION, ZOOKEEPER_COMPAT_VERSION};
use ferrokeeper::server::Server;

/// The allocator: mimalloc's size classes carry no per-object header, and requests allocate and free many
/// small objects. Measured when a znode was still several allocations: 1M znodes took about 8% less memory
/// than with the system allocator, and creates ran 14% to 20% faster. It is built without transparent huge
/// pages (the `no_thp` feature), which would keep whole 2 MiB pages resident for a few objects each.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "ferrokeeper", version, about = "A ZooKeeper server")]
struct Cli {
    /// How log lines are written to stderr: readable text, or one JSON object per line for log shippers.
    /// The FERROKEEPER_LOG_FORMAT environment variable sets it too; RUST_LOG sets the levels (default info).
    #[arg(
        long,
        value_enum,
        global = true,
        env = "FERROKEEPER_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a standalone server in the foreground until SIGTERM or SIGINT. Without a zoo.cfg it listens on
    /// 127.0.0.1:2181 with its data in ./data.
    Start {
        /// A zoo.cfg file (Java properties, Apache ZooKeeper's keys).
        config: Option<PathBuf>,
    },
    /// Print the version and the Apache ZooKeeper release it is compatible with.
    Version,
    /// Ask the server named by a zoo.cfg (default: $ZOOCFGDIR/zoo.cfg, else $ZOO_CONF_DIR/zoo.cfg, else
    /// conf/zoo.cfg) for its mode with `srvr`, as `zkServer.sh status` does; exit status 1 when it does not
    /// answer.
    Status { config: Option<PathBuf> },
    /// Stop the server started with that zoo.cfg: SIGTERM to the pid in <dataDir>/zookeeper_server.pid, as
    /// `zkServer.sh stop` does.
    Stop { config: Option<PathBuf> },
    /// Stop, then start in the foreground, as `zkServer.sh restart` does.
    Restart { config: Option<PathBuf> },
    /// Print the command line `start` runs with that zoo.cfg.
    PrintCmd { config: Option<PathBuf> },
    /// The container image's entrypoint: write zoo.cfg and myid from the official `zookeeper` image's
    /// environment variables where they do not exist yet, then run the given command, or without one serve
    /// from $ZOO_CONF_DIR/zoo.cfg.
    DockerEntrypoint {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Print a snapshot file (snapshot.<zxid>, plain, .gz or .snappy): every node with its Stat, the sessions
    /// and the last zxid, as zkSnapShotToolkit does.
    Snapshot {
        file: PathBuf,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
        /// Include each node's data (base64).
        #[arg(long)]
        data: bool,
    },
    /// Print a transaction log file (log.<zxid>): one line per txn and how the file ends, as zkTxnLogToolkit
    /// does.
    Txnlog {
        file: PathBuf,
        /// One JSON object per line instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Check a data directory without changing it: run the recovery a start would run and report what it
    /// loads, or the file and offset that would stop the start (exit status 1).
    Check {
        /// A zoo.cfg naming dataDir and dataLogDir.
        #[arg(long, conflicts_with = "data_dir")]
        config: Option<PathBuf>,
        /// The dataDir (holding version-2).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The dataLogDir, when the logs are kept apart (default: the dataDir).
        #[arg(long, requires = "data_dir")]
        data_log_dir: Option<PathBuf>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let result = run(cli);
    // A dump piped into `head` ends when the reader goes: not an error.
    if let Err(e) = &result {
        let closed_pipe = e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        });
        if closed_pipe {
            return Ok(());
        }
    }
    result
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Version => {
            println!(
                "ferrokeeper {}, compatible with Apache ZooKeeper {ZOOKEEPER_COMPAT_VERSION} ({FULL_VERSION})",
                env!("CARGO_PKG_VERSION")
            );
            Ok(())
        }
        Command::Snapshot { file, json, data } => {
            let mut out = std::io::stdout().lock();
            ferrokeeper::tools::dump_snapshot(&file, format_of(json), data, &mut out)
        }
        Command::Txnlog { file, json } => {
            let mut out = std::io::stdout().lock();
            ferrokeeper::tools::dump_txnlog(&file, format_of(json), &mut out)
        }
        Command::Check {
            config,
            data_dir,
            data_log_dir,
        } => check(config, data_dir, data_log_dir),
        Command::Status { config } => {
            operator_answer(ferrokeeper::operator::status(&config_or_default(config)))
        }
        Command::Stop { config } => operator_answer(ferrokeeper::operator::stop(&config_or_default(config))),
        Command::PrintCmd { config } => {
            operator_answer(ferrokeeper::operator::print_cmd(&config_or_default(config)))
        }
        Command::Restart { config } => {
            let config = config_or_default(config);
            println!("{}", ferrokeeper::operator::stop(&config)?);
            serve(cli.log_format, Some(config))
        }
        Command::DockerEntrypoint { command } => {
            let env = ferrokeeper::docker::ImageEnv::new(|name: &str| std::env::var(name).ok());
            let config = env.prepare()?;
            match command.split_first() {
                None => serve(cli.log_format, Some(config)),
                Some((program, args)) => {
                    use std::os::unix::process::CommandExt as _;
                    let e = std::process::Command::new(program).args(args).exec();
                    Err(e).with_context(|| format!("running {program}"))
                }
            }
        }
        Command::Start { config } => serve(cli.log_format, config),
    }
}

fn serve(log_format: LogFormat, config: Option<PathBuf>) -> anyhow::Result<()> {
    init_logging(log_format);
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    // The server runs as a task on the runtime's workers rather than on this thread: the core task and
    // the connection tasks then wake each other on the workers' run queues instead of through a thread
    // of their own (32 x 8 pipelined getData: 243k-415k against 301k-480k ops/s, alternating runs).
    runtime.block_on(async {
        tokio::spawn(start(config))
            .await
            .context("the server task failed")?
    })
}

fn config_or_default(config: Option<PathBuf>) -> PathBuf {
    config.unwrap_or_else(ferrokeeper::operator::default_config_file)
}

/// Prints an operator command's answer; its error goes to stdout with exit status 1, as zkServer.sh answers.
fn operator_answer(answer: anyhow::Result<String>) -> anyhow::Result<()> {
    match answer {
        Ok(text) => {
            println!("{text}");
            Ok(())
        }
        Err(e) => {
            println!("{e:#}");
            std::process::exit(1);
        }
    }
}

fn format_of(json: bool) -> ferrokeeper::tools::Format {
    if json {
        ferrokeeper::tools::Format::Json
    } else {
        ferrokeeper::tools::Format::Text
    }
}

fn check(
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    data_log_dir: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (data_dir, data_log_dir, trust_empty) = match (config, data_dir) {
        (Some(path), _) => {
            let c = ServerConfig::from_file(&path)?;
            (
                c.data_dir.clone(),
                c.data_log_dir.clone(),
                c.storage.trust_empty_snapshot,
            )
        }
        (None, Some(dir)) => {
            let logs = data_log_dir.unwrap_or_else(|| dir.clone());
            (dir, logs, false)
        }
        (None, None) => anyhow::bail!("name the data directory with --data-dir, or a zoo.cfg with --config"),
    };
    match ferrokeeper::tools::check(&data_dir, &data_log_dir, trust_empty) {
        Ok(report) => {
            let snapshot = report
                .snapshot
                .as_ref()
                .map_or_else(|| "none".to_owned(), |p| p.display().to_string());
            println!("snapshot: {snapshot}");
            println!("txns replayed after it: {}", report.replayed);
            println!("last zxid: 0x{:x}", report.last_zxid);
            println!("nodes: {}, sessions: {}", report.nodes, report.sessions);
            for w in &report.warnings {
                println!("warning: {w}");
            }
            println!("ok: a start would load this data directory");
            Ok(())
        }
        Err(e) => {
            println!("error: {e}");
            println!("a start would stop here");
            std::process::exit(1);
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().with_current_span(false).flatten_event(true).init(),
    }
}

/// One line with the settings in effect, as ZooKeeper logs its configuration at start. Secrets (the super
/// digest) are never printed, only whether one is set.
fn log_effective_config(config: &ServerConfig) {
    let ops = &config.ops;
    let admin = if ops.admin.enabled {
        ops.admin.address.to_string()
    } else {
        "disabled".to_owned()
    };
    tracing::info!(
        client_address = %config.client_address,
        data_dir = %config.data_dir.display(),
        data_log_dir = %config.data_log_dir.display(),
        tick_time_ms = config.tick_time_ms,
        min_session_timeout_ms = config.min_session_timeout_ms,
        max_session_timeout_ms = config.max_session_timeout_ms,
        max_client_cnxns = config.max_client_cnxns,
        max_cnxns = config.max_cnxns,
        global_outstanding_limit = config.global_outstanding_limit,
        jute_max_buffer = config.jute_max_buffer,
        four_letter_whitelist = ?config.four_letter_whitelist,
        skip_acl = config.skip_acl,
        super_digest_set = config.super_digest.is_some(),
        extended_types = config.extended_types,
        enforce_quota = config.enforce_quota,
        admin_server = %admin,
        prometheus = %ops.prometheus.map_or_else(|| "disabled".to_owned(), |a| a.to_string()),
        "effective configuration"
    );
}

async fn start(config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let config = match &config_path {
        Some(path) => ServerConfig::from_file(path)?,
        None => ServerConfig::standalone_default(),
    };
    log_effective_config(&config);
    let data_dir = std::path::absolute(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
    let server = Server::bind(config.clone())
        .await
        .with_context(|| format!("binding the client port {}", config.client_address))?;
    let address = server.local_addr()?;
    let source = config_path.map_or_else(|| "built-in defaults".to_owned(), |p| p.display().to_string());
    println!(
        "ferrokeeper {} listening on {address}, data directory {} (config: {source})",
        env!("CARGO_PKG_VERSION"),
        data_dir.display()
    );
    tracing::info!(%address, data_dir = %data_dir.display(), config = %source, "serving clients");
    ferrokeeper::operator::write_pid_file(&data_dir)?;
    match &config.quorum {
        Some(q) => {
            tracing::info!(
                myid = q.my_id,
                members = q.members.len(),
                "starting as a member of an ensemble"
            );
            server.run_member(shutdown_signal()).await?
        }
        None => server.run_durable(shutdown_signal()).await?,
    }
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; stop with SIGINT");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("signal received, shutting down");
}
