//! The text of the four-letter words, in Apache ZooKeeper's formats (`server/command/*Command.java`,
//! `ServerStats.toString`, `ZooKeeperServer.dumpConf`, `Environment.list`): operators' scripts and monitoring
//! agents parse these byte for byte. Only figures ferrokeeper really has are printed; a line whose figure it does
//! not have is left out rather than filled with an invented value.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use super::conn_stats::ConnStats;
use super::java;
use super::quorum_view::{QuorumView, RoleView};
use crate::config::ServerConfig;
use crate::metrics::MonitorValue;
use crate::types::{SessionId, Zxid};

/// The Apache ZooKeeper release whose client protocol and behaviour ferrokeeper reproduces.
pub const ZOOKEEPER_COMPAT_VERSION: &str = "3.9.3";

/// The version text of `srvr`, `stat`, `envi` and `mntr`. It has ZooKeeper's shape,
/// `<release>-<revision>, built on <date>`, starting with the release ZooKeeper clients compare against: kazoo's
/// `server_version()` reads the leading digits and dots of `zookeeper.version` (`([\d\.]*).*`) to decide which
/// operations the server supports. The release is from the 3.9 series because ferrokeeper has 3.9's semantics
/// (for one, a watch notification carries the zxid of the txn that fired it). The revision slot names
/// ferrokeeper and its version.
pub const FULL_VERSION: &str = concat!(
    "3.9.3-ferrokeeper-",
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

/// The session a connection carries, for `cons`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionFacts {
    pub id: SessionId,
    pub timeout_ms: i32,
}

/// One connection as `stat` and `cons` list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnFacts {
    pub peer: SocketAddr,
    /// Being read from (interest ops 1) or not (0).
    pub reading: bool,
    /// Requests received and not yet answered (`queued=`, `getOutstandingRequests`).
    pub queued: usize,
    pub stats: ConnStats,
    /// Set once the connection has a session; `cons` prints the session part only then.
    pub session: Option<SessionFacts>,
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
    /// This member's local sessions (`localSessionsEnabled`).
    pub local_sessions: u64,
    pub uptime_ms: u64,
    /// Sizes of the last, smallest and largest reply payloads, -1 before any (`BufferStats`).
    pub client_response: ResponseSizes,
    /// fsyncs slower than fsync.warningthresholdms.
    pub fsync_threshold_exceeded: u64,
    /// `standalone`, `leader` or `follower` (`ServerState`'s name as `srvr` and `mntr` print it).
    pub mode: &'static str,
    /// The ensemble as this member sees it; None for a standalone server.
    pub quorum: Option<QuorumView>,
}

/// Reply payload sizes (`BufferStats`): -1 until the first reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSizes {
    pub last: i64,
    pub min: i64,
    pub max: i64,
}

impl Default for ResponseSizes {
    fn default() -> Self {
        ResponseSizes {
            last: -1,
            min: -1,
            max: -1,
        }
    }
}

impl ResponseSizes {
    /// Records one reply of `bytes` payload bytes.
    pub fn record(&mut self, bytes: i64) {
        self.last = bytes;
        self.min = if self.min < 0 { bytes } else { self.min.min(bytes) };
        self.max = self.max.max(bytes);
    }
}

/// The packets ZooKeeper counts as sent (`Sent:` of `srvr`) for a four-letter word's answer of `text`: its
/// answer goes through a `BufferedWriter` of 8192 chars into `NIOServerCnxn.SendBufferWriter`, which sends (and
/// counts) each full 8192-char block and then the rest at close, and nothing for an empty answer.
pub fn packets_sent_for(text: &str) -> u64 {
    const BLOCK: usize = 8192;
    text.len().div_ceil(BLOCK) as u64
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

/// `isro` (`IsroCommand`): "ro" from a member serving read-only, "rw" from any other running server (a member
/// between roles answers no four-letter word).
pub fn isro(read_only: bool) -> &'static str {
    if read_only {
        "ro"
    } else {
        "rw"
    }
}

/// The line `srvr` and `stat` add after the version on a read-only server (`StatCommand`).
fn read_only_line(out: &mut String, f: &ServerFacts) {
    if f.mode == READ_ONLY_MODE {
        out.push_str("READ-ONLY mode; serving only read-only clients\n");
    }
}

/// The mode of a member serving read-only, as `srvr` and `mntr` name it (`ReadOnlyZooKeeperServer.getState`).
pub const READ_ONLY_MODE: &str = "read-only";

fn server_stats(out: &mut String, f: &ServerFacts) {
    let l = &f.latency;
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        l.min_ms,
        java::double(l.avg_ms),
        l.max_ms
    );
    let _ = writeln!(out, "Received: {}", f.packets_received);
    let _ = writeln!(out, "Sent: {}", f.packets_sent);
    let _ = writeln!(out, "Connections: {}", f.connections.len());
    let _ = writeln!(out, "Outstanding: {}", f.outstanding);
    let _ = writeln!(out, "Zxid: 0x{:x}", f.zxid.0);
    let _ = writeln!(out, "Mode: {}", f.mode);
    let _ = writeln!(out, "Node count: {}", f.node_count);
    if let Some(q) = &f.quorum {
        q.stat_lines(out);
    }
}

/// `srvr`.
pub fn srvr(f: &ServerFacts) -> String {
    let mut out = format!("Zookeeper version: {FULL_VERSION}\n");
    read_only_line(&mut out, f);
    server_stats(&mut out, f);
    out
}

/// `stat`: `srvr` with the client list after the version line.
pub fn stat(f: &ServerFacts) -> String {
    let mut out = format!("Zookeeper version: {FULL_VERSION}\n");
    read_only_line(&mut out, f);
    out.push_str("Clients:\n");
    for c in &f.connections {
        let _ = writeln!(
            out,
            " {}[{}](queued={},recved={},sent={})",
            java::socket_address(&c.peer),
            u8::from(c.reading),
            c.queued,
            c.stats.packets_received,
            c.stats.packets_sent
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

/// `conf` (`ZooKeeperServer.dumpConf`, and for an ensemble member `QuorumZooKeeperServer.dumpConf`); the
/// directories are the `version-2` subdirectories where the files live.
pub fn conf(config: &ServerConfig, quorum: Option<&QuorumView>) -> String {
    let mut out = conf_server(config, quorum.map_or(0, |q| q.my_id));
    if let Some(q) = quorum {
        q.conf_lines(&mut out);
    }
    out
}

/// `conf` of a member serving read-only (`ReadOnlyZooKeeperServer.dumpConf`): the server's lines, then its
/// quorum settings without the membership.
pub fn conf_read_only(config: &ServerConfig) -> String {
    let Some(q) = config.quorum.as_ref() else {
        return conf(config, None);
    };
    let mut out = conf_server(config, q.my_id);
    let me = q.me();
    let _ = writeln!(out, "initLimit={}", q.init_limit);
    let _ = writeln!(out, "syncLimit={}", q.sync_limit);
    let _ = writeln!(out, "electionAlg=3");
    let _ = writeln!(out, "electionPort={}", me.election.port());
    let _ = writeln!(out, "quorumPort={}", me.quorum.port());
    let _ = writeln!(out, "peerType=0");
    out
}

/// The lines of `ZooKeeperServer.dumpConf`.
fn conf_server(config: &ServerConfig, server_id: u64) -> String {
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
    let _ = writeln!(out, "serverId={server_id}");
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

/// The entries of `Environment.list` that describe a process rather than a JVM, in its order. The `java.*`
/// and `os.memory.*` entries are JVM figures and are left out.
pub fn environment() -> Vec<(String, String)> {
    let mut out = vec![("zookeeper.version".to_owned(), FULL_VERSION.to_owned())];
    if let Some(host) = read_trimmed("/proc/sys/kernel/hostname") {
        out.push(("host.name".to_owned(), host));
    }
    out.extend(os_properties());
    out.extend(user_properties());
    out
}

fn os_properties() -> Vec<(String, String)> {
    let (os_name, os_arch) = java_os();
    let mut out = vec![
        ("os.name".to_owned(), os_name.to_owned()),
        ("os.arch".to_owned(), os_arch.to_owned()),
    ];
    if let Some(release) = read_trimmed("/proc/sys/kernel/osrelease") {
        out.push(("os.version".to_owned(), release));
    }
    out
}

/// The name of the user the process runs as: `$USER`, else the /etc/passwd entry of its uid (what the JVM's
/// `user.name` is).
fn user_name() -> Option<String> {
    if let Ok(name) = std::env::var("USER") {
        return Some(name);
    }
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let mut fields = l.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then(|| name.to_owned())
    })
}

fn user_properties() -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(name) = user_name() {
        out.push(("user.name".to_owned(), name));
    }
    if let Ok(home) = std::env::var("HOME") {
        out.push(("user.home".to_owned(), home));
    }
    if let Ok(dir) = std::env::current_dir() {
        out.push(("user.dir".to_owned(), dir.display().to_string()));
    }
    out
}

/// `envi`.
pub fn envi() -> String {
    let mut out = String::from("Environment:\n");
    for (k, v) in environment() {
        let _ = writeln!(out, "{k}={v}");
    }
    out
}

/// The AdminServer's `system_properties`, sorted by name: the process's counterparts of the JVM's standard
/// properties, and every `-D` flag of `SERVER_JVMFLAGS` and `JVMFLAGS` (which ferrokeeper reads as the JVM
/// would have). A password's value is masked (`config::is_secret_key`).
pub fn system_properties(config: &ServerConfig) -> Vec<(String, String)> {
    let mut props: std::collections::BTreeMap<String, String> = os_properties().into_iter().collect();
    props.extend(user_properties());
    for (k, v) in [
        ("file.separator", "/"),
        ("path.separator", ":"),
        ("line.separator", "\n"),
    ] {
        props.insert(k.to_owned(), v.to_owned());
    }
    props.insert(
        "java.io.tmpdir".to_owned(),
        std::env::temp_dir().display().to_string(),
    );
    for (k, v) in config.jvm.properties() {
        let v = if crate::config::is_secret_key(k) {
            crate::config::MASKED
        } else {
            v
        };
        props.insert(k.to_owned(), v.to_owned());
    }
    props.into_iter().collect()
}

/// Open file descriptors and their soft limit, from /proc (Linux only, as ZooKeeper's Unix-only figures).
fn file_descriptors() -> Option<(u64, u64)> {
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line.split_whitespace().nth(3)?.parse().ok()?;
    Some((open, soft))
}

/// The gauges of `mntr` and of Prometheus (`ZooKeeperServer.registerMetrics`), sampled from the server.
pub fn gauges(f: &ServerFacts) -> Vec<(&'static str, MonitorValue)> {
    use crate::metrics::gauge::*;
    let int = |v: u64| MonitorValue::Int(v as i64);
    let mut out = vec![
        (AVG_LATENCY, MonitorValue::Double(f.latency.avg_ms)),
        (MAX_LATENCY, int(f.latency.max_ms)),
        (MIN_LATENCY, int(f.latency.min_ms)),
        (PACKETS_RECEIVED, int(f.packets_received)),
        (PACKETS_SENT, int(f.packets_sent)),
        (NUM_ALIVE_CONNECTIONS, int(f.connections.len() as u64)),
        (OUTSTANDING_REQUESTS, int(f.outstanding)),
        (ZNODE_COUNT, int(f.node_count)),
        (WATCH_COUNT, int(f.watch_count)),
        (EPHEMERALS_COUNT, int(f.ephemerals_count)),
        (APPROXIMATE_DATA_SIZE, int(f.approximate_data_size)),
        (GLOBAL_SESSIONS, int(f.global_sessions)),
        (LOCAL_SESSIONS, int(f.local_sessions)),
        (UPTIME, int(f.uptime_ms)),
        // No connection is ever dropped on purpose: ZooKeeper's BlueThrottle is not configured.
        (CONNECTION_DROP_PROBABILITY, MonitorValue::Double(0.0)),
        // No TLS client port, so no handshake is ever outstanding.
        (OUTSTANDING_TLS_HANDSHAKE, int(0)),
        // ZooKeeper counts plain connections only on a Netty port that also takes TLS (port unification,
        // which ferrokeeper does not offer): 0, as on ZooKeeper's default NIO client port.
        (NON_MTLS_REMOTE_CONN_COUNT, int(0)),
        // ZooKeeper counts failed TLS handshakes and X.509 authentications there (a failed addauth is not
        // counted: a 3.8.0 server answering AuthFailed still reports 0); no TLS port, so 0.
        (AUTH_FAILED_COUNT, int(0)),
        (NON_MTLS_LOCAL_CONN_COUNT, int(0)),
        (
            LAST_CLIENT_RESPONSE_SIZE,
            MonitorValue::Int(f.client_response.last),
        ),
        (MAX_CLIENT_RESPONSE_SIZE, MonitorValue::Int(f.client_response.max)),
        (MIN_CLIENT_RESPONSE_SIZE, MonitorValue::Int(f.client_response.min)),
    ];
    if let Some((open, max)) = file_descriptors() {
        out.push((OPEN_FILE_DESCRIPTOR_COUNT, int(open)));
        out.push((MAX_FILE_DESCRIPTOR_COUNT, int(max)));
    }
    if let Some(q) = &f.quorum {
        out.extend(q.gauges());
    }
    out
}

/// The gauges ZooKeeper's Prometheus provider reports: [`gauges`], and those a member registers with no value,
/// which that provider reports as 0 where the default one leaves them out.
pub fn provider_gauges(f: &ServerFacts) -> Vec<(&'static str, MonitorValue)> {
    let mut out = gauges(f);
    if let Some(q) = &f.quorum {
        out.extend(q.null_gauges());
    }
    out
}

/// The values of `mntr` and the AdminServer's `monitor`, in order: version and state first as in ZooKeeper
/// (`ZooKeeperServer.dumpMonitorValues`), then the gauges, then the counters and summaries of `metrics`.
pub fn monitor_values(f: &ServerFacts, metrics: Vec<(String, MonitorValue)>) -> Vec<(String, MonitorValue)> {
    let mut out = vec![
        ("version".to_owned(), MonitorValue::Text(FULL_VERSION.to_owned())),
        ("server_state".to_owned(), MonitorValue::Text(f.mode.to_owned())),
    ];
    out.extend(peer_state(f.quorum.as_ref()));
    out.extend(gauges(f).into_iter().map(|(k, v)| (k.to_owned(), v)));
    out.extend(metrics);
    out
}

/// The values of `mntr` and `monitor` under ZooKeeper's Prometheus provider: version and state, then the
/// provider's samples (see `Metrics::prometheus_dump`).
pub fn provider_monitor_values(
    f: &ServerFacts,
    samples: Vec<(String, MonitorValue)>,
) -> Vec<(String, MonitorValue)> {
    let mut out = vec![
        ("version".to_owned(), MonitorValue::Text(FULL_VERSION.to_owned())),
        ("server_state".to_owned(), MonitorValue::Text(f.mode.to_owned())),
    ];
    out.extend(peer_state(f.quorum.as_ref()));
    out.extend(samples);
    out
}

/// `peer_state`, which `QuorumZooKeeperServer.dumpMonitorValues` adds after `server_state` on a member, and
/// the `observer_master_id` an observer adds after it (`ObserverZooKeeperServer.dumpMonitorValues`).
fn peer_state(quorum: Option<&QuorumView>) -> Vec<(String, MonitorValue)> {
    let Some(q) = quorum else {
        return Vec::new();
    };
    let mut out = vec![("peer_state".to_owned(), MonitorValue::Text(q.peer_state()))];
    if q.role == RoleView::Observing {
        out.push((
            "observer_master_id".to_owned(),
            MonitorValue::Int(q.leader_id as i64),
        ));
    }
    out
}

/// `mntr`: `zk_<key>\t<value>` lines.
pub fn mntr(values: &[(String, MonitorValue)]) -> String {
    let mut out = String::new();
    for (key, value) in values {
        let _ = writeln!(out, "zk_{key}\t{value}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(peer: &str, reading: bool, received: u64, sent: u64) -> ConnFacts {
        let mut stats = ConnStats::new(0);
        stats.packets_received = received;
        stats.packets_sent = sent;
        ConnFacts {
            peer: peer.parse().expect("addr"),
            reading,
            queued: 0,
            stats,
            session: None,
        }
    }

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
                conn("127.0.0.1:48204", false, 1, 0),
                conn("127.0.0.1:48190", true, 4, 4),
            ],
            zxid: Zxid(3),
            node_count: 7,
            mode: "standalone",
            quorum: None,
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
            mode: "standalone",
            quorum: None,
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

    /// What a 3.8.0 server counted: 1 packet for `envi` (779 bytes), 2 for `mntr` (16309 bytes).
    #[test]
    fn large_answers_count_one_packet_per_block() {
        assert_eq!(packets_sent_for(""), 0);
        assert_eq!(packets_sent_for(&"x".repeat(779)), 1);
        assert_eq!(packets_sent_for(&"x".repeat(8192)), 1);
        assert_eq!(packets_sent_for(&"x".repeat(16309)), 2);
        assert_eq!(packets_sent_for(&"x".repeat(16385)), 3);
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
            conf(&config, None),
            "clientPort=2181\nsecureClientPort=-1\ndataDir=/nonexistent/zk/version-2\ndataDirSize=0\n\
             dataLogDir=/nonexistent/zklog/version-2\ndataLogSize=0\ntickTime=2000\nmaxClientCnxns=3\n\
             minSessionTimeout=4000\nmaxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=0\n"
        );
    }

    #[test]
    fn mntr_is_tab_separated_with_version_first() {
        let values = monitor_values(&facts(), crate::metrics::Metrics::new().monitor_values());
        let text = mntr(&values);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some(format!("zk_version\t{FULL_VERSION}").as_str()));
        assert_eq!(lines.next(), Some("zk_server_state\tstandalone"));
        assert!(text.contains("\nzk_avg_latency\t9.5\n"));
        assert!(text.contains("\nzk_num_alive_connections\t2\n"));
        assert!(text.contains("\nzk_last_client_response_size\t-1\n"));
        assert!(text.contains("\nzk_avg_readlatency\t0.0\n"));
        assert!(text
            .lines()
            .all(|l| l.starts_with("zk_") && l.split('\t').count() == 2));
    }

    #[test]
    fn system_properties_mask_passwords() {
        let mut config = ServerConfig::standalone_default();
        config.jvm = crate::config::JvmFlags::parse(
            "-Dzookeeper.SASLAuthenticationProvider.superPassword=s3cret -Dzookeeper.superUser=bob",
        );
        let props: std::collections::BTreeMap<_, _> = system_properties(&config).into_iter().collect();
        assert_eq!(
            props["zookeeper.SASLAuthenticationProvider.superPassword"],
            crate::config::MASKED
        );
        assert_eq!(props["zookeeper.superUser"], "bob");
    }
}
