//! The operator's view of the server task: the facts the four-letter words and AdminServer commands print,
//! gathered from the core and the connection table, and the commands that change counters (`srst`, `crst`,
//! `stmk`). Everything is ordered as Apache ZooKeeper's hash maps order it (`net::java`), so dumps compare line
//! by line with a real server's.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use jute::frame::FourLetter;

use super::runtime::Runtime;
use super::stats::ServerStats;
use super::trace::TraceMask;
use crate::admin::commands::{self as cmd, Command, DirSizes, Response};
use crate::admin::Query;
use crate::core::watch::Table;
use crate::metrics::MonitorValue;
use crate::net::dumps::{self, Bucket, DumpFacts, WatchFacts};
use crate::net::four_letter::{self as fl, ConnFacts, ServerFacts, SessionFacts};
use crate::net::java;
use crate::types::{ConnId, SessionId, Zxid};

impl Runtime {
    pub(super) fn four_letter(&mut self, conn: ConnId, word: FourLetter, mask: Option<i64>) {
        self.stats.packets_received += 1;
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.stats.packets_received += 1;
        }
        let text = match word {
            FourLetter::Word(w) => self.four_letter_text(w, mask),
            FourLetter::TelnetClose => None,
        };
        let Some(entry) = self.conns.get(&conn) else {
            return;
        };
        if let Some(text) = text {
            self.stats.packets_sent += fl::packets_sent_for(&text);
            entry.handle.send(Bytes::from(text));
        }
        entry.handle.close();
    }

    fn four_letter_text(&mut self, word: &str, mask: Option<i64>) -> Option<String> {
        if !self.config.four_letter_whitelist.allows(word) {
            tracing::info!(
                command = word,
                "four-letter word refused: not in 4lw.commands.whitelist"
            );
            return Some(fl::not_whitelisted(word));
        }
        Some(match word {
            "ruok" => fl::ruok().to_owned(),
            "isro" => fl::isro(matches!(self.link, super::link::Link::ReadOnly)).to_owned(),
            "srvr" => fl::srvr(&self.facts()),
            "stat" => fl::stat(&self.facts()),
            "mntr" => fl::mntr(&self.monitor_values()),
            "conf" if matches!(self.link, super::link::Link::ReadOnly) => fl::conf_read_only(&self.config),
            "conf" => fl::conf(&self.config, self.quorum_view().as_ref()),
            "envi" => fl::envi(),
            "cons" => dumps::cons(&self.connection_facts()),
            "dump" => dumps::dump(&self.dump_facts()),
            "wchc" => dumps::wchc(&self.watch_facts()),
            "wchp" => dumps::wchp(&self.watch_facts()),
            "hash" => dumps::hash(self.digests.make_contiguous()),
            "dirs" => {
                let d = self.dir_sizes();
                format!("datadir_size: {}\nlogdir_size: {}\n", d.data_dir, d.log_dir)
            }
            "wchs" => {
                let w = self.watch_facts();
                fl::wchs(w.by_session.len(), w.by_path.len(), w.total())
            }
            "srst" => {
                self.reset_server_stats();
                "Server stats reset.\n".to_owned()
            }
            "crst" => {
                self.reset_connection_stats();
                "Connection stats reset.\n".to_owned()
            }
            "gtmk" => self.trace_mask.get().to_string(),
            "stmk" => {
                // NIOServerCnxn reads the mask that follows the word before answering with it.
                if let Some(mask) = mask {
                    self.trace_mask.set(mask);
                }
                self.trace_mask.get().to_string()
            }
            _ => {
                tracing::warn!(
                    command = word,
                    "four-letter word not supported; closing the connection"
                );
                return None;
            }
        })
    }

    fn reset_server_stats(&mut self) {
        self.stats = ServerStats::default();
        self.client_response = Default::default();
        self.fsync_threshold_exceeded = 0;
        // Counted before the reset, so that what the connection tasks saw earlier does not land after it.
        self.sync_net_counters();
        self.metrics.reset_all();
    }

    fn reset_connection_stats(&mut self) {
        for entry in self.conns.values_mut() {
            entry.stats.reset();
        }
    }

    /// Answers a query from the AdminServer or the Prometheus endpoint.
    pub(crate) fn query(&mut self, query: Query) {
        match query {
            Query::Command {
                command,
                params,
                reply,
            } => {
                let _ = reply.send(self.admin_command(command, &params));
            }
            Query::SampleGauges { reply } => {
                self.sync_net_counters();
                self.collect_learner_queues();
                let gauges = fl::provider_gauges(&self.facts());
                self.metrics.set_gauges(&gauges);
                let _ = reply.send(crate::metrics::unregistered(&gauges));
            }
        }
    }

    fn admin_command(&mut self, command: Command, params: &HashMap<String, String>) -> Response {
        let mut r = Response::new(command.primary());
        match command {
            Command::ConnectionStatReset => self.reset_connection_stats(),
            Command::StatReset => self.reset_server_stats(),
            Command::Configuration => {
                let id = self.config.quorum.as_ref().map_or(0, |q| q.my_id);
                cmd::configuration(&mut r, &self.config, id)
            }
            Command::Connections => cmd::connections(&mut r, &self.connection_facts(), false),
            Command::Dirs => {
                let d = self.dir_sizes();
                r.put("datadir_size", d.data_dir).put("logdir_size", d.log_dir);
            }
            Command::Dump => cmd::dump(&mut r, &self.dump_facts()),
            Command::Environment => {
                for (k, v) in fl::environment() {
                    r.put(&k, v);
                }
            }
            Command::GetTraceMask => {
                r.put("tracemask", self.trace_mask.get());
            }
            Command::SetTraceMask => set_trace_mask(&mut r, &mut self.trace_mask, params),
            Command::Hash => cmd::digests(&mut r, self.digests.make_contiguous()),
            Command::InitialConfiguration => {
                let text = self.config.ops.initial_config.clone();
                r.put(
                    "initial_configuration",
                    text.map_or(crate::admin::json::Json::Null, Into::into),
                );
            }
            Command::LastSnapshot => cmd::last_snapshot(&mut r, self.last_snapshot()),
            Command::Monitor => cmd::monitor(&mut r, self.monitor_values()),
            Command::ServerStats | Command::Stats => {
                let facts = self.facts();
                cmd::server_stats(&mut r, &facts, self.dir_sizes());
                if command == Command::Stats {
                    cmd::connections(&mut r, &facts.connections, true);
                }
            }
            Command::SystemProperties => {
                for (k, v) in fl::system_properties(&self.config) {
                    r.put(&k, v);
                }
            }
            Command::Watches | Command::WatchesByPath | Command::WatchSummary => {
                cmd::watches(&mut r, command, &self.watch_facts())
            }
            Command::Ruok | Command::ObserverConnectionStatReset => {}
            Command::IsReadOnly if matches!(self.link, super::link::Link::ReadOnly) => {
                r.put("read_only", true);
            }
            Command::IsReadOnly
            | Command::Leader
            | Command::Observers
            | Command::VotingView
            | Command::ZabState => match self.quorum_view() {
                Some(q) => crate::admin::quorum::command(&mut r, command, &q, self.last_zxid()),
                None => cmd::standalone(&mut r, command),
            },
        }
        r
    }

    /// The values of `mntr` and `monitor`.
    pub(super) fn monitor_values(&mut self) -> Vec<(String, MonitorValue)> {
        self.sync_net_counters();
        self.collect_learner_queues();
        let facts = self.facts();
        match self.metrics.prometheus_dump(&fl::provider_gauges(&facts)) {
            Some(samples) => fl::provider_monitor_values(&facts, samples),
            None => fl::monitor_values(&facts, self.metrics.monitor_values()),
        }
    }

    fn dir_sizes(&self) -> DirSizes {
        DirSizes {
            data_dir: fl::dir_size(&self.config.data_dir.join("version-2")),
            log_dir: fl::dir_size(&self.config.data_log_dir.join("version-2")),
        }
    }

    /// The newest snapshot file in the data directory: its zxid and modification time in seconds.
    fn last_snapshot(&self) -> Option<(Zxid, i64)> {
        let dir = self.config.data_dir.join("version-2");
        std::fs::read_dir(dir)
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let zxid = i64::from_str_radix(name.strip_prefix("snapshot.")?, 16).ok()?;
                let modified = e.metadata().ok()?.modified().ok()?;
                let secs = modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
                Some((Zxid(zxid), secs as i64))
            })
            .max_by_key(|(zxid, _)| *zxid)
    }

    /// Every connection, in the order they were accepted.
    pub(super) fn connection_facts(&self) -> Vec<ConnFacts> {
        let mut ids: Vec<&ConnId> = self.conns.keys().collect();
        ids.sort();
        ids.into_iter()
            .filter_map(|id| Some((id, self.conns.get(id)?)))
            .map(|(id, c)| ConnFacts {
                peer: c.peer,
                reading: c.handle.is_reading(),
                queued: c.pending.len(),
                stats: c.stats.clone(),
                session: self.core.session_of(*id).map(|s| SessionFacts {
                    id: s,
                    timeout_ms: self.core.sessions().get(s).map_or(0, |x| x.timeout_ms),
                }),
            })
            .collect()
    }

    pub(super) fn facts(&self) -> ServerFacts {
        let core = self.core.stats();
        ServerFacts {
            latency: self.stats.latency.latency(),
            packets_received: self.stats.packets_received,
            packets_sent: self.stats.packets_sent,
            connections: self.connection_facts(),
            outstanding: self.conns.values().map(|c| c.pending.len() as u64).sum(),
            zxid: Zxid(core.last_zxid),
            node_count: core.node_count as u64,
            watch_count: core.watch_count as u64,
            ephemerals_count: core.ephemerals_count as u64,
            approximate_data_size: core.approximate_data_size,
            global_sessions: core.sessions as u64,
            local_sessions: core.local_sessions as u64,
            uptime_ms: self.started.elapsed().as_millis() as u64,
            client_response: self.client_response,
            fsync_threshold_exceeded: self.fsync_threshold_exceeded,
            mode: self.mode(),
            quorum: self.quorum_view(),
        }
    }

    /// The data-watch table by session and by path.
    pub(super) fn watch_facts(&self) -> WatchFacts {
        let session = |conn: &ConnId| self.core.session_of(*conn).unwrap_or_default();
        let mut by_conn: BTreeMap<ConnId, Vec<String>> = BTreeMap::new();
        let mut by_path = Vec::new();
        for (path, conns) in self.core.watches().watchers(Table::Data) {
            let mut conns: Vec<ConnId> = conns.copied().collect();
            conns.sort();
            for c in &conns {
                by_conn.entry(*c).or_default().push(path.to_owned());
            }
            let ids = conns.iter().map(session).collect();
            by_path.push((path.to_owned(), ids));
        }
        by_path.sort();
        let by_path = java::hash_order(by_path, |(p, _)| java::string_hash(p));
        let by_session = by_conn
            .into_iter()
            .map(|(c, mut paths)| {
                paths.sort();
                (session(&c), java::hash_order(paths, |p| java::string_hash(p)))
            })
            .collect();
        WatchFacts {
            by_session: java::hash_order(by_session, |(s, _)| java::long_hash(s.0)),
            by_path,
        }
    }

    /// Sessions by expiry bucket, ephemerals by session, connections by expiry bucket.
    pub(super) fn dump_facts(&self) -> DumpFacts {
        let now = self.now();
        let wall = |mono: u64| now.wall_ms - now.mono_ms as i64 + mono as i64;
        let session_buckets = self
            .core
            .sessions()
            .buckets()
            .map(|(at, ids)| {
                let mut ids: Vec<SessionId> = ids.iter().copied().collect();
                ids.sort();
                Bucket {
                    expires_mono_ms: *at,
                    expires_wall_ms: wall(*at),
                    members: java::hash_order(ids, |s| java::long_hash(s.0)),
                }
            })
            .collect();
        let mut ephemerals: Vec<(SessionId, Vec<String>)> = self
            .core
            .tree()
            .sessions_with_ephemerals()
            .filter(|(_, paths)| !paths.is_empty())
            .map(|(s, paths)| {
                let paths = java::hash_order(paths.iter().cloned().collect(), |p| java::string_hash(p));
                (SessionId(*s), paths)
            })
            .collect();
        ephemerals.sort();
        DumpFacts {
            session_buckets,
            ephemerals: java::hash_order(ephemerals, |(s, _)| java::long_hash(s.0)),
            connection_buckets: self.connection_buckets(&wall),
            learner_sessions: matches!(
                self.link,
                super::link::Link::Follower(_) | super::link::Link::ReadOnly
            )
            .then(|| {
                (self.core.sessions().iter())
                    .map(|s| (s.id, s.timeout_ms))
                    .collect()
            }),
        }
    }

    /// Connections grouped as `NIOServerCnxnFactory`'s expiry queue groups them: each expires its timeout
    /// (the session's, or nio.sessionlessCnxnTimeout before one) after its last activity, rounded up to the
    /// next multiple of nio.sessionlessCnxnTimeout.
    fn connection_buckets(
        &self,
        wall: &dyn Fn(u64) -> i64,
    ) -> Vec<Bucket<(std::net::SocketAddr, SessionId)>> {
        let interval = u64::from(self.config.sessionless_cnxn_timeout_ms.max(1));
        let mut buckets: BTreeMap<u64, Vec<(ConnId, std::net::SocketAddr, SessionId)>> = BTreeMap::new();
        for (id, c) in &self.conns {
            let session = self.core.session_of(*id);
            let timeout = session
                .and_then(|s| self.core.sessions().get(s))
                .map_or(interval as i64, |s| i64::from(s.timeout_ms));
            let at = (c.active_ms.saturating_add_signed(timeout) / interval + 1) * interval;
            buckets
                .entry(at)
                .or_default()
                .push((*id, c.peer, session.unwrap_or_default()));
        }
        buckets
            .into_iter()
            .map(|(at, mut members)| {
                members.sort();
                Bucket {
                    expires_mono_ms: at,
                    expires_wall_ms: wall(at),
                    members: members.into_iter().map(|(_, peer, s)| (peer, s)).collect(),
                }
            })
            .collect()
    }
}

/// `set_trace_mask`: the `traceMask` parameter as a Java long.
fn set_trace_mask(r: &mut Response, mask: &mut TraceMask, params: &HashMap<String, String>) {
    let Some(value) = params.get("traceMask") else {
        r.put("error", "setTraceMask requires long traceMask argument");
        return;
    };
    match value.parse::<i64>() {
        Ok(v) => {
            mask.set(v);
            r.put("tracemask", v);
        }
        Err(_) => {
            r.put(
                "error",
                format!("setTraceMask requires long traceMask argument, got {value}"),
            );
        }
    }
}
