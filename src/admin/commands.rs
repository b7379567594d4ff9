//! The AdminServer's commands (`admin/Commands.java`): their names and aliases, and the JSON each answers,
//! built from the same facts the four-letter words print. Field names and order follow what a real 3.8/3.9
//! AdminServer writes (Jackson's snake_case of `ServerStats`, `ServerCnxn.getConnectionInfo`,
//! `ZooKeeperServerConf.toMap`, ...). `snapshot` and `restore` (3.9, authenticated) are listed and refused
//! (see [`AUTHENTICATED`]).

use std::net::SocketAddr;

use super::json::{Json, Object};
use crate::config::ServerConfig;
use crate::metrics::MonitorValue;
use crate::net::dumps::{DumpFacts, WatchFacts};
use crate::net::four_letter::{ConnFacts, ResponseSizes, ServerFacts, FULL_VERSION};
use crate::net::java;
use crate::types::Zxid;

/// A command, by its primary name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    ConnectionStatReset,
    Configuration,
    Connections,
    Dirs,
    Dump,
    Environment,
    GetTraceMask,
    Hash,
    InitialConfiguration,
    IsReadOnly,
    LastSnapshot,
    Leader,
    Monitor,
    ObserverConnectionStatReset,
    Observers,
    Ruok,
    ServerStats,
    SetTraceMask,
    StatReset,
    Stats,
    SystemProperties,
    VotingView,
    WatchSummary,
    Watches,
    WatchesByPath,
    ZabState,
}

/// Every command with its names, the primary one first (`Commands` static registration).
const NAMES: &[(Command, &[&str])] = &[
    (Command::ConnectionStatReset, &["connection_stat_reset", "crst"]),
    (Command::Configuration, &["configuration", "conf", "config"]),
    (Command::Connections, &["connections", "cons"]),
    (Command::Dirs, &["dirs"]),
    (Command::Dump, &["dump"]),
    (Command::Environment, &["environment", "env", "envi"]),
    (Command::GetTraceMask, &["get_trace_mask", "gtmk"]),
    (Command::Hash, &["hash"]),
    (Command::InitialConfiguration, &["initial_configuration", "icfg"]),
    (Command::IsReadOnly, &["is_read_only", "isro"]),
    (Command::LastSnapshot, &["last_snapshot", "lsnp"]),
    (Command::Leader, &["leader", "lead"]),
    (Command::Monitor, &["monitor", "mntr"]),
    (
        Command::ObserverConnectionStatReset,
        &["observer_connection_stat_reset", "orst"],
    ),
    (Command::Observers, &["observers", "obsr"]),
    (Command::Ruok, &["ruok"]),
    (Command::ServerStats, &["server_stats", "srvr"]),
    (Command::SetTraceMask, &["set_trace_mask", "stmk"]),
    (Command::StatReset, &["stat_reset", "srst"]),
    (Command::Stats, &["stats", "stat"]),
    (Command::SystemProperties, &["system_properties", "sysp"]),
    (Command::VotingView, &["voting_view"]),
    (Command::WatchSummary, &["watch_summary", "wchs"]),
    (Command::Watches, &["watches", "wchc"]),
    (Command::WatchesByPath, &["watches_by_path", "wchp"]),
    (Command::ZabState, &["zabstate"]),
];

/// The commands of 3.9 that only an authenticated caller may run (`AuthRequest`: ALL on `/`), with their
/// aliases: taking a snapshot and streaming it out, and restoring the database from one. ferrokeeper does not
/// run them: a request without auth info gets 3.9's answer to it (HTTP 401, [`AUTH_INFO_MISSING`]), one with
/// auth info an error naming the command as not implemented (HTTP 501), never a snapshot or a restore.
pub const AUTHENTICATED: &[&[&str]] = &[&["restore", "rest"], &["snapshot", "snap"]];

/// What 3.9 answers a command of [`AUTHENTICATED`] asked without auth info (`Commands.runCommand`).
pub const AUTH_INFO_MISSING: &str = "Auth info is missing for the command";

/// True when `name` (a primary name or an alias) is one of [`AUTHENTICATED`].
pub fn needs_auth(name: &str) -> bool {
    AUTHENTICATED.iter().any(|names| names.contains(&name))
}

impl Command {
    /// The command any of its names selects.
    pub fn lookup(name: &str) -> Option<Command> {
        NAMES
            .iter()
            .find(|(_, names)| names.contains(&name))
            .map(|(c, _)| *c)
    }

    /// The primary name, which every answer carries as `command`.
    pub fn primary(self) -> &'static str {
        NAMES
            .iter()
            .find(|(c, _)| *c == self)
            .and_then(|(_, names)| names.first())
            .copied()
            .unwrap_or("unknown")
    }
}

/// `GET <commandURL>`: a link per primary name, sorted, each followed by `<br/>` (`JettyAdminServer`).
pub fn listing(command_url: &str) -> String {
    let mut names: Vec<&str> = NAMES.iter().filter_map(|(_, n)| n.first().copied()).collect();
    names.extend(AUTHENTICATED.iter().filter_map(|n| n.first().copied()));
    names.sort_unstable();
    names
        .iter()
        .map(|n| format!("<a href=\"{command_url}/{n}\">{n}</a>\n<br/>\n"))
        .collect()
}

/// A command's answer: its fields, then `command` and `error` (`CommandResponse.toMap`: a field that a
/// command itself named `error` keeps its place and value).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub command: String,
    pub data: Object,
    /// The response's own error (unknown command, server not serving).
    pub error: Option<String>,
}

impl Response {
    pub fn new(command: &str) -> Response {
        Response {
            command: command.to_owned(),
            data: Object::new(),
            error: None,
        }
    }

    /// An answer that is only an error (`new CommandResponse(cmdName, error, status)`).
    pub fn error(command: &str, message: &str) -> Response {
        let mut r = Response::new(command);
        r.error = Some(message.to_owned());
        r
    }

    pub fn put(&mut self, key: &str, value: impl Into<Json>) -> &mut Response {
        self.data.put(key, value);
        self
    }

    pub fn to_json(&self) -> Json {
        let mut out = self.data.clone();
        out.put("command", self.command.as_str());
        if out.get("error").is_none() {
            out.put("error", self.error.clone().map_or(Json::Null, Json::Str));
        }
        out.into()
    }
}

/// One connection (`ServerCnxn.getConnectionInfo`); `brief` leaves out the session part, as `stats` does.
pub fn connection_info(c: &ConnFacts, brief: bool) -> Json {
    let s = &c.stats;
    let mut o = Object::new();
    o.put("remote_socket_address", java::host_port(&c.peer))
        .put("interest_ops", u32::from(c.reading))
        .put("outstanding_requests", c.queued)
        .put("packets_received", s.packets_received)
        .put("packets_sent", s.packets_sent);
    if !brief {
        o.put("session_id", c.session.map_or(0, |x| x.id.0))
            .put("last_operation", s.last_op)
            .put("established", s.established_ms)
            .put("session_timeout", c.session.map_or(0, |x| x.timeout_ms))
            .put("last_cxid", s.last_cxid)
            .put("last_zxid", s.last_zxid)
            .put("last_response_time", s.last_response_ms)
            .put("last_latency", s.last_latency_ms)
            .put("min_latency", s.min_latency_ms())
            .put("avg_latency", s.avg_latency_ms())
            .put("max_latency", s.max_latency_ms);
    }
    o.into()
}

/// `connections` (and, brief, the list of `stats`).
pub fn connections(r: &mut Response, conns: &[ConnFacts], brief: bool) {
    let list = conns.iter().map(|c| connection_info(c, brief)).collect();
    r.put("connections", Json::Array(list))
        .put("secure_connections", Json::Array(Vec::new()));
}

/// Sizes of the data and log directories, as `dirs` and `server_stats` report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DirSizes {
    pub data_dir: u64,
    pub log_dir: u64,
}

fn buffer_stats(s: &ResponseSizes) -> Json {
    let mut o = Object::new();
    o.put("last_buffer_size", s.last)
        .put("min_buffer_size", s.min)
        .put("max_buffer_size", s.max);
    o.into()
}

/// `server_stats` (`SrvrCommand`): the `ServerStats` bean as Jackson writes it.
pub fn server_stats(r: &mut Response, f: &ServerFacts, dirs: DirSizes) {
    let mut stats = Object::new();
    stats
        .put("packets_sent", f.packets_sent)
        .put("packets_received", f.packets_received)
        .put("fsync_threshold_exceed_count", f.fsync_threshold_exceeded)
        .put("client_response_stats", buffer_stats(&f.client_response))
        .put("data_dir_size", dirs.data_dir)
        .put("log_dir_size", dirs.log_dir)
        .put("provider_null", false)
        .put("server_state", f.mode)
        .put("last_processed_zxid", f.zxid.0)
        .put("outstanding_requests", f.outstanding)
        .put("avg_latency", Json::Double(f.latency.avg_ms))
        .put("max_latency", f.latency.max_ms)
        .put("min_latency", f.latency.min_ms)
        .put("num_alive_client_connections", f.connections.len())
        // plain connections on a port that also takes TLS: none without port unification (see `gauges`)
        .put("non_mtlsremote_conn_count", 0u32)
        .put("non_mtlslocal_conn_count", 0u32)
        .put("auth_failed_count", 0u32)
        .put("uptime", f.uptime_ms);
    r.put("version", FULL_VERSION)
        .put("read_only", false)
        .put("server_stats", Json::from(stats))
        .put("client_response", buffer_stats(&f.client_response));
    // A leader adds its `Leader.getProposalStats` (`ServerStats.Provider` of `LeaderZooKeeperServer`).
    if let Some(l) = f.quorum.as_ref().and_then(|q| q.leader_facts()) {
        r.put("proposal_stats", buffer_stats(&l.proposal_sizes));
    }
    r.put("node_count", f.node_count);
}

/// `configuration` (`ZooKeeperServerConf.toMap`), with the `version-2` directories as ZooKeeper reports them;
/// `server_id` is the member's myid, 0 on a standalone server.
pub fn configuration(r: &mut Response, config: &ServerConfig, server_id: u64) {
    r.put("client_port", u32::from(config.client_address.port()))
        .put("data_dir", version2(&config.data_dir))
        .put("data_log_dir", version2(&config.data_log_dir))
        .put("tick_time", config.tick_time_ms)
        .put("max_client_cnxns", config.max_client_cnxns)
        .put("min_session_timeout", config.min_session_timeout_ms)
        .put("max_session_timeout", config.max_session_timeout_ms)
        .put("server_id", server_id)
        .put("client_port_listen_backlog", -1i64);
}

fn version2(dir: &std::path::Path) -> String {
    std::path::absolute(dir)
        .unwrap_or_else(|_| dir.to_owned())
        .join("version-2")
        .display()
        .to_string()
}

/// `dump`: expiry buckets keyed by their time on the monotonic clock, ephemeral paths by session.
pub fn dump(r: &mut Response, f: &DumpFacts) {
    let mut expiry = Object::new();
    for b in &f.session_buckets {
        let ids = b.members.iter().map(|id| Json::Int(id.0)).collect();
        expiry.put(&b.expires_mono_ms.to_string(), Json::Array(ids));
    }
    let mut ephemerals = Object::new();
    for (session, paths) in &f.ephemerals {
        let paths = paths.iter().map(|p| Json::from(p.as_str())).collect();
        ephemerals.put(&session.0.to_string(), Json::Array(paths));
    }
    r.put("expiry_time_to_session_ids", expiry)
        .put("session_id_to_ephemeral_paths", ephemerals);
}

/// `watches`, `watches_by_path` and `watch_summary` from the data-watch table.
pub fn watches(r: &mut Response, command: Command, w: &WatchFacts) {
    match command {
        Command::Watches => {
            let mut o = Object::new();
            for (session, paths) in &w.by_session {
                let paths = paths.iter().map(|p| Json::from(p.as_str())).collect();
                o.put(&session.0.to_string(), Json::Array(paths));
            }
            r.put("session_id_to_watched_paths", o);
        }
        Command::WatchesByPath => {
            let mut o = Object::new();
            for (path, sessions) in &w.by_path {
                o.put(
                    path,
                    Json::Array(sessions.iter().map(|s| Json::Int(s.0)).collect()),
                );
            }
            r.put("path_to_session_ids", o);
        }
        _ => {
            r.put("num_connections", w.by_session.len())
                .put("num_paths", w.by_path.len())
                .put("num_total_watches", w.total());
        }
    }
}

/// `hash`: the logged digests as `ZxidDigest` beans.
pub fn digests(r: &mut Response, digests: &[(Zxid, u64)]) {
    let list = digests
        .iter()
        .map(|(zxid, digest)| {
            let mut o = Object::new();
            o.put("zxid", zxid.0)
                .put("digest", *digest as i64)
                .put("digest_version", 2u32);
            Json::from(o)
        })
        .collect();
    r.put("digests", Json::Array(list));
}

/// `monitor`: the `mntr` values without their `zk_` prefix.
pub fn monitor(r: &mut Response, values: Vec<(String, MonitorValue)>) {
    for (key, value) in values {
        r.put(&key, Json::from(value));
    }
}

/// The answers of a standalone server to the ensemble commands (`leader`, `observers`, `voting_view`,
/// `zabstate`), and of the commands that need no server state.
pub fn standalone(r: &mut Response, command: Command) {
    match command {
        Command::Leader => {
            r.put("error", "server is not initialized");
        }
        Command::Observers => {
            r.put("synced_observers", 0u32)
                .put("observers", Json::Array(Vec::new()));
        }
        Command::VotingView => {
            r.put("current_config", Object::new());
        }
        Command::ZabState => {
            r.put("voting", false).put("zabstate", "");
        }
        Command::IsReadOnly => {
            r.put("read_only", false);
        }
        _ => {}
    }
}

/// `last_snapshot`: the newest snapshot's zxid (hex, no prefix) and its file's modification time in
/// seconds, or -1 for both when there is none (`FileSnap.lastSnapshotInfo`).
pub fn last_snapshot(r: &mut Response, snapshot: Option<(Zxid, i64)>) {
    match snapshot {
        Some((zxid, secs)) => r.put("zxid", format!("{:x}", zxid.0)).put("timestamp", secs),
        None => r.put("zxid", format!("{:x}", -1i64)).put("timestamp", -1i64),
    };
}

/// Renders `addr` for the log line that says where the AdminServer listens.
pub fn url(addr: SocketAddr, command_url: &str) -> String {
    format!("http://{addr}{command_url}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::conn_stats::ConnStats;
    use crate::net::four_letter::SessionFacts;
    use crate::types::SessionId;

    #[test]
    fn names_and_aliases_resolve_to_primary_names() {
        assert_eq!(Command::lookup("wchc"), Some(Command::Watches));
        assert_eq!(Command::lookup("config"), Some(Command::Configuration));
        assert_eq!(Command::lookup("snapshot"), None);
        assert_eq!(Command::Stats.primary(), "stats");
        let list = listing("/commands");
        assert!(list.starts_with(
            "<a href=\"/commands/configuration\">configuration</a>\n<br/>\n<a href=\"/commands/connection_stat_reset\">"
        ));
        assert_eq!(list.matches("<br/>").count(), NAMES.len() + AUTHENTICATED.len());
        assert!(list.contains("/commands/snapshot\">snapshot</a>") && needs_auth("rest"));
    }

    #[test]
    fn errors_keep_their_place_as_in_command_response() {
        let mut r = Response::new("leader");
        standalone(&mut r, Command::Leader);
        assert_eq!(
            r.to_json().pretty(),
            "{\n  \"error\" : \"server is not initialized\",\n  \"command\" : \"leader\"\n}"
        );
        assert_eq!(
            Response::new("ruok").to_json().pretty(),
            "{\n  \"command\" : \"ruok\",\n  \"error\" : null\n}"
        );
        assert_eq!(
            Response::error("bogus", "Unknown command: bogus")
                .to_json()
                .pretty(),
            "{\n  \"command\" : \"bogus\",\n  \"error\" : \"Unknown command: bogus\"\n}"
        );
    }

    #[test]
    fn connection_info_has_zookeepers_fields() {
        let c = ConnFacts {
            peer: "127.0.0.1:38134".parse().expect("addr"),
            reading: true,
            queued: 0,
            stats: ConnStats::new(1_795_682_196_079),
            session: Some(SessionFacts {
                id: SessionId(72_057_819_824_586_753),
                timeout_ms: 10_000,
            }),
        };
        let Json::Object(fields) = connection_info(&c, false) else {
            panic!("not an object");
        };
        let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "remote_socket_address",
                "interest_ops",
                "outstanding_requests",
                "packets_received",
                "packets_sent",
                "session_id",
                "last_operation",
                "established",
                "session_timeout",
                "last_cxid",
                "last_zxid",
                "last_response_time",
                "last_latency",
                "min_latency",
                "avg_latency",
                "max_latency"
            ]
        );
        assert_eq!(fields[0].1, Json::from("127.0.0.1:38134"));
        assert_eq!(fields[5].1, Json::Int(72_057_819_824_586_753));
    }

    #[test]
    fn last_snapshot_without_one_reads_minus_one() {
        let mut r = Response::new("last_snapshot");
        last_snapshot(&mut r, None);
        assert_eq!(r.data.get("zxid"), Some(&Json::from("ffffffffffffffff")));
        let mut r = Response::new("last_snapshot");
        last_snapshot(&mut r, Some((Zxid(0), 1_795_682_183)));
        assert_eq!(r.data.get("zxid"), Some(&Json::from("0")));
    }
}
