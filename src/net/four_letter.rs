//! The text of the four-letter words, in Apache ZooKeeper's formats (`server/command/*Command.java`,
//! `ServerStats.toString`, `ZooKeeperServer.dumpConf`, `Environment.list`): operators' scripts and monitoring
//! agents parse these byte for byte. Only figures ferrokeeper really has are printed; a line whose figure it does
//! not have is left out rather than filled with an invented value.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use crate::config::ServerConfig;
use crate::types::Zxid;

/// The Apache ZooKeeper release whose client protocol and behaviour ferrokeeper reproduces.
pub const ZOOKEEPER_COMPAT_VERSION: &str = "3.8.4";

/// The version text of `srvr`, `stat`, `envi` and `mntr`. It has ZooKeeper's shape,
/// `<release>-<revision>, built on <date>`, starting with the release ZooKeeper clients compare against: kazoo's
/// `server_version()` and Curator read the leading digits and dots of `zookeeper.version` to decide which
/// operations the server supports. The revision slot names ferrokeeper and its version.
pub const FULL_VERSION: &str = concat!(
    "3.8.4-ferrokeeper-",
    env!("CARGO_PKG_VERSION"),
    ", built on an unrecorded date"
);

/// Request latency in ms, as ZooKeeper's `AvgMinMaxCounter` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Latency {
    pub min_ms: u64,
    /// The mean rounded half-up to 4 decimals.
    pub avg_ms: f64,
    pub max_ms: u64,
}

/// One connection as `stat` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnFacts {
    pub peer: SocketAddr,
    /// Being read from (interest ops 1) or not (0).
    pub reading: bool,
    pub queued: usize,
    pub received: u64,
    pub sent: u64,
}

/// The figures `srvr`, `stat` and `mntr` print.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerFacts {
    pub latency: Latency,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub connections: Vec<ConnFacts>,
    pub outstanding: u64,
    pub zxid: Zxid,
    pub node_count: u64,
    pub watch_count: u64,
    pub ephemerals_count: u64,
    pub approximate_data_size: u64,
    pub global_sessions: u64,
    pub uptime_ms: u64,
    pub connections_rejected: u64,
}

/// The answer to a command that is not in `4lw.commands.whitelist`.
pub fn not_whitelisted(word: &str) -> String {
    format!("{word} is not executed because it is not in the whitelist.\n")
}

/// `wchs`: the data-watch table's summary (`WatchesSummary`).
pub fn wchs(connections: usize, paths: usize, watches: usize) -> String {
    format!("{connections} connections watching {paths} paths\nTotal watches:{watches}\n")
}

/// `ruok`.
pub fn ruok() -> &'static str {
    "imok"
}

/// `isro`: a standalone server is never read-only.
pub fn isro() -> &'static str {
    "rw"
}

/// Java's `Double.toString` for the values latencies take: a whole number keeps its `.0`.
fn java_double(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e7 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

/// `InetSocketAddress.toString` of a resolved address: `/ip:port`, IPv6 in Java's uncompressed form.
fn java_socket_address(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("/{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => {
            let segments: Vec<String> = a.ip().segments().iter().map(|s| format!("{s:x}")).collect();
            format!("/{}:{}", segments.join(":"), a.port())
        }
    }
}

fn server_stats(out: &mut String, f: &ServerFacts) {
    let l = &f.latency;
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        l.min_ms,
        java_double(l.avg_ms),
        l.max_ms
    );
    let _ = writeln!(out, "Received: {}", f.packets_received);
    let _ = writeln!(out, "Sent: {}", f.packets_sent);
    let _ = writeln!(out, "Connections: {}", f.connections.len());
    let _ = writeln!(out, "Outstanding: {}", f.outstanding);
    let _ = writeln!(out, "Zxid: 0x{:x}", f.zxid.0);
    let _ = writeln!(out, "Mode: standalone");
    let _ = writeln!(out, "Node count: {}", f.node_count);
}

/// `srvr`.
pub fn srvr(f: &ServerFacts) -> String {
    let mut out = format!("Zookeeper version: {FULL_VERSION}\n");
    server_stats(&mut out, f);
    out
}

/// `stat`: `srvr` with the client list after the version line.
pub fn stat(f: &ServerFacts) -> String {
    let mut out = format!("Zookeeper version: {FULL_VERSION}\nClients:\n");
    for c in &f.connections {
        let _ = writeln!(
            out,
            " {}[{}](queued={},recved={},sent={})",
            java_socket_address(&c.peer),
            u8::from(c.reading),
            c.queued,
            c.received,
            c.sent
        );
    }
    out.push('\n');
    server_stats(&mut out, f);
    out
}

/// Total size of the regular files directly in `dir` (what `conf` and `dirs` report), 0 if it is absent.
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// `conf` for a standalone server (`ZooKeeperServer.dumpConf`); the directories are the `version-2`
/// subdirectories where the files live.
pub fn conf(config: &ServerConfig) -> String {
    let data_dir = std::path::absolute(&config.data_dir)
        .unwrap_or_else(|_| config.data_dir.clone())
        .join("version-2");
    let log_dir = std::path::absolute(&config.data_log_dir)
        .unwrap_or_else(|_| config.data_log_dir.clone())
        .join("version-2");
    let mut out = String::new();
    let _ = writeln!(out, "clientPort={}", config.client_address.port());
    let _ = writeln!(out, "secureClientPort=-1");
    let _ = writeln!(out, "dataDir={}", data_dir.display());
    let _ = writeln!(out, "dataDirSize={}", dir_size(&data_dir));
    let _ = writeln!(out, "dataLogDir={}", log_dir.display());
    let _ = writeln!(out, "dataLogSize={}", dir_size(&log_dir));
    let _ = writeln!(out, "tickTime={}", config.tick_time_ms);
    let _ = writeln!(out, "maxClientCnxns={}", config.max_client_cnxns);
    let _ = writeln!(out, "minSessionTimeout={}", config.min_session_timeout_ms);
    let _ = writeln!(out, "maxSessionTimeout={}", config.max_session_timeout_ms);
    let _ = writeln!(out, "clientPortListenBacklog=-1");
    let _ = writeln!(out, "serverId=0");
    out
}

/// Java's `os.name` and `os.arch` for this build's platform.
fn java_os() -> (&'static str, &'static str) {
    let name = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS X",
        "windows" => "Windows",
        "freebsd" => "FreeBSD",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        other => other,
    };
    (name, arch)
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

/// `envi`: the lines of `Environment.list` that describe a process rather than a JVM. The `java.*` and
/// `os.memory.*` lines are JVM figures and are left out.
pub fn envi() -> String {
    let mut out = format!("Environment:\nzookeeper.version={FULL_VERSION}\n");
    if let Some(host) = read_trimmed("/proc/sys/kernel/hostname") {
        let _ = writeln!(out, "host.name={host}");
    }
    let (os_name, os_arch) = java_os();
    let _ = writeln!(out, "os.name={os_name}");
    let _ = writeln!(out, "os.arch={os_arch}");
    if let Some(release) = read_trimmed("/proc/sys/kernel/osrelease") {
        let _ = writeln!(out, "os.version={release}");
    }
    for (key, var) in [("user.name", "USER"), ("user.home", "HOME")] {
        if let Ok(value) = std::env::var(var) {
            let _ = writeln!(out, "{key}={value}");
        }
    }
    if let Ok(dir) = std::env::current_dir() {
        let _ = writeln!(out, "user.dir={}", dir.display());
    }
    out
}

/// Open file descriptors and their soft limit, from /proc (Linux only, as ZooKeeper's Unix-only figures).
fn file_descriptors() -> Option<(u64, u64)> {
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line.split_whitespace().nth(3)?.parse().ok()?;
    Some((open, soft))
}

/// `mntr`: `zk_<key>\t<value>` lines, the version and state first as in ZooKeeper.
pub fn mntr(f: &ServerFacts) -> String {
    let mut out = String::new();
    let mut line = |key: &str, value: &dyn std::fmt::Display| {
        let _ = writeln!(out, "zk_{key}\t{value}");
    };
    line("version", &FULL_VERSION);
    line("server_state", &"standalone");
    line("avg_latency", &java_double(f.latency.avg_ms));
    line("max_latency", &f.latency.max_ms);
    line("min_latency", &f.latency.min_ms);
    line("packets_received", &f.packets_received);
    line("packets_sent", &f.packets_sent);
    line("num_alive_connections", &f.connections.len());
    line("outstanding_requests", &f.outstanding);
    line("znode_count", &f.node_count);
    line("watch_count", &f.watch_count);
    line("ephemerals_count", &f.ephemerals_count);
    line("approximate_data_size", &f.approximate_data_size);
    line("global_sessions", &f.global_sessions);
    line("local_sessions", &0);
    line("uptime", &f.uptime_ms);
    line("connection_drop_probability", &"0.0");
    line("outstanding_tls_handshake", &0);
    line("connection_rejected", &f.connections_rejected);
    if let Some((open, max)) = file_descriptors() {
        line("open_file_descriptor_count", &open);
        line("max_file_descriptor_count", &max);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> ServerFacts {
        ServerFacts {
            latency: Latency {
                min_ms: 2,
                avg_ms: 9.5,
                max_ms: 23,
            },
            packets_received: 9,
            packets_sent: 8,
            connections: vec![
                ConnFacts {
                    peer: "127.0.0.1:48204".parse().expect("addr"),
                    reading: false,
                    queued: 0,
                    received: 1,
                    sent: 0,
                },
                ConnFacts {
                    peer: "127.0.0.1:48190".parse().expect("addr"),
                    reading: true,
                    queued: 0,
                    received: 4,
                    sent: 4,
                },
            ],
            zxid: Zxid(3),
            node_count: 7,
            ..ServerFacts::default()
        }
    }

    /// The body of a real 3.8.0 server's `stat` after a kazoo session made two nodes (version line aside).
    #[test]
    fn stat_matches_zookeeper_layout() {
        let text = stat(&facts());
        let expected_tail = "Clients:\n /127.0.0.1:48204[0](queued=0,recved=1,sent=0)\n \
             /127.0.0.1:48190[1](queued=0,recved=4,sent=4)\n\nLatency min/avg/max: 2/9.5/23\nReceived: 9\n\
             Sent: 8\nConnections: 2\nOutstanding: 0\nZxid: 0x3\nMode: standalone\nNode count: 7\n";
        assert_eq!(
            text,
            format!("Zookeeper version: {FULL_VERSION}\n{expected_tail}")
        );
    }

    #[test]
    fn srvr_on_an_idle_server_prints_zero_latency_as_java_does() {
        let f = ServerFacts {
            node_count: 5,
            ..ServerFacts::default()
        };
        assert_eq!(
            srvr(&f),
            format!(
                "Zookeeper version: {FULL_VERSION}\nLatency min/avg/max: 0/0.0/0\nReceived: 0\nSent: 0\n\
                 Connections: 0\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n"
            )
        );
    }

    #[test]
    fn version_text_parses_as_kazoo_parses_it() {
        let digits: String = FULL_VERSION
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        assert_eq!(digits, ZOOKEEPER_COMPAT_VERSION);
        assert!(FULL_VERSION.contains(", built on "));
        assert!(envi().contains(&format!("\nzookeeper.version={FULL_VERSION}\n")));
    }

    #[test]
    fn wchs_matches_zookeeper() {
        assert_eq!(wchs(0, 0, 0), "0 connections watching 0 paths\nTotal watches:0\n");
        assert_eq!(wchs(1, 1, 1), "1 connections watching 1 paths\nTotal watches:1\n");
    }

    #[test]
    fn whitelist_refusal_text() {
        assert_eq!(
            not_whitelisted("mntr"),
            "mntr is not executed because it is not in the whitelist.\n"
        );
    }

    #[test]
    fn conf_lists_zookeeper_keys_in_order() {
        let mut config = ServerConfig::standalone_default();
        config.data_dir = "/nonexistent/zk".into();
        config.data_log_dir = "/nonexistent/zklog".into();
        config.max_client_cnxns = 3;
        assert_eq!(
            conf(&config),
            "clientPort=2181\nsecureClientPort=-1\ndataDir=/nonexistent/zk/version-2\ndataDirSize=0\n\
             dataLogDir=/nonexistent/zklog/version-2\ndataLogSize=0\ntickTime=2000\nmaxClientCnxns=3\n\
             minSessionTimeout=4000\nmaxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=0\n"
        );
    }

    #[test]
    fn mntr_is_tab_separated_with_version_first() {
        let text = mntr(&facts());
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(format!("zk_version\t{FULL_VERSION}").as_str()));
        assert_eq!(lines.next(), Some("zk_server_state\tstandalone"));
        assert!(text.contains("\nzk_avg_latency\t9.5\n"));
        assert!(text.contains("\nzk_num_alive_connections\t2\n"));
        assert!(text
            .lines()
            .all(|l| l.starts_with("zk_") && l.split('\t').count() == 2));
    }

    #[test]
    fn java_formats() {
        assert_eq!(java_double(0.0), "0.0");
        assert_eq!(java_double(10.0), "10.0");
        assert_eq!(java_double(3.3333), "3.3333");
        let v6: SocketAddr = "[::1]:2181".parse().expect("addr");
        assert_eq!(java_socket_address(&v6), "/0:0:0:0:0:0:0:1:2181");
    }
}
