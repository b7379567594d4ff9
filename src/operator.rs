//! The operator's commands of `zkServer.sh`: `status` (the mode, asked with `srvr`), `stop` (by the pid file
//! `zookeeper_server.pid` in the data directory, which `start` writes) and `print-cmd`, with zkServer.sh's
//! messages and exit statuses.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;

use crate::config::ServerConfig;

/// The pid file's name in the data directory (`ZOOPIDFILE`'s default).
pub const PID_FILE: &str = "zookeeper_server.pid";

/// Writes this process's id to `<data_dir>/zookeeper_server.pid`, as `zkServer.sh start` does (no newline).
pub fn write_pid_file(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let path = data_dir.join(PID_FILE);
    std::fs::write(&path, std::process::id().to_string())
        .with_context(|| format!("writing the pid file {}", path.display()))?;
    Ok(path)
}

/// How long `stop` waits for the server to exit after SIGTERM before saying so.
const STOP_WAIT: Duration = Duration::from_secs(30);

/// `zkServer.sh stop`: SIGTERM to the pid in the pid file, which is then removed. Without a pid file there is
/// nothing to stop, which is not an error (exit status 0, as zkServer.sh).
pub fn stop(config_file: &Path) -> anyhow::Result<String> {
    let config = ServerConfig::from_file(config_file)?;
    let path = config.data_dir.join(PID_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(format!(
            "no zookeeper to stop (could not find file {})",
            path.display()
        ));
    };
    let raw: i32 = text
        .trim()
        .parse()
        .with_context(|| format!("{}: {text:?} is not a process id", path.display()))?;
    let pid = rustix::process::Pid::from_raw(raw)
        .with_context(|| format!("{}: {raw} is not a process id", path.display()))?;
    let sent = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    sent.with_context(|| format!("signalling process {raw}"))?;
    let give_up = std::time::Instant::now() + STOP_WAIT;
    while running(pid) {
        if std::time::Instant::now() > give_up {
            anyhow::bail!("process {raw} is still running {STOP_WAIT:?} after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok("STOPPED".to_owned())
}

/// Whether the process exists and has not exited: an exited child its parent has not reaped yet still takes
/// signals, so /proc tells (state `Z`).
fn running(pid: rustix::process::Pid) -> bool {
    let zombie = std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero()))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false);
    !zombie && rustix::process::test_kill_process(pid).is_ok()
}

/// `zkServer.sh print-cmd`: the command line `start` runs.
pub fn print_cmd(config_file: &Path) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("finding this program")?;
    Ok(format!(
        "\"{}\" start \"{}\"",
        exe.display(),
        config_file.display()
    ))
}

/// The zoo.cfg `zkServer.sh` would use without an argument: `$ZOOCFGDIR/zoo.cfg`, else `$ZOO_CONF_DIR/zoo.cfg`
/// (the image's), else `conf/zoo.cfg`.
pub fn default_config_file() -> PathBuf {
    let dir = std::env::var_os("ZOOCFGDIR")
        .or_else(|| std::env::var_os("ZOO_CONF_DIR"))
        .map_or_else(|| PathBuf::from("conf"), PathBuf::from);
    dir.join("zoo.cfg")
}

/// How long `status` waits to connect and for the answer.
const STATUS_TIMEOUT: Duration = Duration::from_secs(5);

/// `zkServer.sh status`: prints the client address it asks (the config on stderr), asks it with `srvr` and
/// returns the mode line, or the error text `zkServer.sh` prints when the server does not answer.
pub fn status(config_file: &Path) -> anyhow::Result<String> {
    let config = ServerConfig::from_file(config_file)?;
    eprintln!("Using config: {}", config_file.display());
    let mut address = config.client_address;
    // zkServer.sh asks `localhost` when no clientPortAddress is set.
    let shown = if address.ip().is_unspecified() {
        address = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), address.port());
        "localhost".to_owned()
    } else {
        address.ip().to_string()
    };
    println!(
        "Client port found: {}. Client address: {shown}. Client SSL: false.",
        address.port()
    );
    let answer = srvr(address).ok();
    match answer
        .as_deref()
        .and_then(|a| a.lines().find_map(|l| l.strip_prefix("Mode: ")))
    {
        Some(mode) => Ok(format!("Mode: {mode}")),
        None => anyhow::bail!("Error contacting service. It is probably not running."),
    }
}

fn srvr(address: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&address, STATUS_TIMEOUT)?;
    stream.set_read_timeout(Some(STATUS_TIMEOUT))?;
    stream.write_all(b"srvr")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}
