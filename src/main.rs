//! The `ferrokeeper` command: start a server from a zoo.cfg, or print the version.

use std::io::IsTerminal as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use ferrokeeper::config::ServerConfig;
use ferrokeeper::net::four_letter::{FULL_VERSION, ZOOKEEPER_COMPAT_VERSION};
use ferrokeeper::server::Server;

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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!(
                "ferrokeeper {}, compatible with Apache ZooKeeper {ZOOKEEPER_COMPAT_VERSION} ({FULL_VERSION})",
                env!("CARGO_PKG_VERSION")
            );
            Ok(())
        }
        Command::Start { config } => {
            init_logging(cli.log_format);
            let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
            runtime.block_on(start(config))
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
    server.run_durable(shutdown_signal()).await?;
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
