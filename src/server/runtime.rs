//! The one task that owns the core. It takes connection messages in arrival order, calls the core, and runs the
//! effects it returns in order: `Send` to the connection's queue, `Close`, and `Persist` to the log thread,
//! which reports back once entries are durable; only then is the core told `persisted`. Nothing here is
//! shared: no lock is held around the core. Snapshots are walked here, a step at a time.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use jute::frame::FourLetter;

use super::logthread::LogCommand;
use super::snapshots::Snapshotter;
use super::stats::ServerStats;
use crate::config::ServerConfig;
use crate::core::{Core, CoreConfig, Effect};
use crate::net::conn::{frame_xids, ConnHandle};
use crate::net::four_letter::{self as fl, ConnFacts, ServerFacts};
use crate::net::Inbound;
use crate::types::{ConnId, Now, Zxid};

/// xid of watch notifications, which answer no request.
const NOTIFICATION_XID: i32 = -1;

/// The server's view of one connection.
#[derive(Debug)]
struct ConnEntry {
    peer: SocketAddr,
    handle: ConnHandle,
    /// The core has seen its ConnectRequest, so it must hear of its end.
    in_core: bool,
    /// The ConnectResponse has been queued.
    handshake_sent: bool,
    received: u64,
    sent: u64,
    /// Arrival times of requests not yet answered, oldest first (for latency and `Outstanding`).
    pending: VecDeque<Instant>,
}

/// The state of the server task.
pub(crate) struct Runtime {
    core: Core,
    config: ServerConfig,
    log: std::sync::mpsc::Sender<LogCommand>,
    snapshots: Option<Snapshotter>,
    conns: HashMap<ConnId, ConnEntry>,
    stats: ServerStats,
    started: Instant,
    rejected: Arc<AtomicU64>,
}

/// The CoreConfig that a ServerConfig implies. A standalone server creates sessions as server id 1
/// (`ZooKeeperServer.createSessionTrackerServerId`), so session ids start 0x01…
pub(crate) fn core_config(config: &ServerConfig) -> CoreConfig {
    CoreConfig {
        server_id: 1,
        tick_time_ms: config.tick_time_ms,
        min_session_timeout_ms: config.min_session_timeout_ms,
        max_session_timeout_ms: config.max_session_timeout_ms,
        max_buffer: config.jute_max_buffer,
        skip_acl: config.skip_acl,
        super_digest: config.super_digest.clone(),
        extended_types: config.extended_types,
        enforce_quota: config.enforce_quota,
        containers: config.containers,
    }
}

impl Runtime {
    /// A runtime over `core` (built with [`now_at`] from `started`), sending entries to the log thread.
    pub(crate) fn new(
        config: ServerConfig,
        core: Core,
        started: Instant,
        log: std::sync::mpsc::Sender<LogCommand>,
        snapshots: Option<Snapshotter>,
        rejected: Arc<AtomicU64>,
    ) -> Self {
        Runtime {
            core,
            config,
            log,
            snapshots,
            conns: HashMap::new(),
            stats: ServerStats::default(),
            started,
            rejected,
        }
    }

    fn now(&self) -> Now {
        now(self.started)
    }

    /// Handles one message from a connection task.
    pub(crate) fn handle(&mut self, message: Inbound) -> io::Result<()> {
        let effects = match message {
            Inbound::Opened { conn, peer, handle } => {
                let entry = ConnEntry {
                    peer,
                    handle,
                    in_core: false,
                    handshake_sent: false,
                    received: 0,
                    sent: 0,
                    pending: VecDeque::new(),
                };
                self.conns.insert(conn, entry);
                return Ok(());
            }
            Inbound::Connect { conn, request } => {
                let Some(entry) = self.received(conn) else {
                    return Ok(());
                };
                entry.in_core = true;
                let ip = entry.peer.ip().to_string();
                self.core.connect(now(self.started), conn, &ip, request)
            }
            Inbound::Request { conn, header, body } => {
                if self.received(conn).is_none() {
                    return Ok(());
                }
                self.core.request(now(self.started), conn, header, body)
            }
            Inbound::FourLetter { conn, word } => {
                self.four_letter(conn, word);
                return Ok(());
            }
            Inbound::Closed { conn } => match self.conns.remove(&conn) {
                Some(entry) if entry.in_core => self.core.disconnected(self.now(), conn),
                _ => return Ok(()),
            },
        };
        self.execute(effects)
    }

    /// Counts a received request and returns its connection, or `None` if the connection is already gone.
    fn received(&mut self, conn: ConnId) -> Option<&mut ConnEntry> {
        let entry = self.conns.get_mut(&conn)?;
        self.stats.packets_received += 1;
        entry.received += 1;
        entry.pending.push_back(Instant::now());
        Some(entry)
    }

    /// Lets the core's timers run (session expiry).
    pub(crate) fn tick(&mut self) -> io::Result<()> {
        let effects = self.core.tick(self.now());
        self.execute(effects)
    }

    /// Entries up to `zxid` are durable: the core applies and answers them.
    pub(crate) fn persisted(&mut self, zxid: Zxid) -> io::Result<()> {
        let effects = self.core.persisted(self.now(), zxid);
        self.execute(effects)
    }

    /// True while a snapshot walk wants more steps.
    pub(crate) fn snapshot_pending(&self) -> bool {
        self.snapshots.as_ref().is_some_and(Snapshotter::walking)
    }

    /// Advances a snapshot walk by one step.
    pub(crate) fn snapshot_step(&mut self) {
        if let Some(s) = self.snapshots.as_mut() {
            s.step(&self.core);
        }
    }

    fn log_command(&self, command: LogCommand) -> io::Result<()> {
        self.log
            .send(command)
            .map_err(|_| io::Error::other("the txn log thread has stopped"))
    }

    /// Runs effects in order. Entries to persist go to the log thread, which reports them durable later.
    fn execute(&mut self, effects: Vec<Effect>) -> io::Result<()> {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            match effect {
                Effect::Send { conn, frame } => queue.extend(self.send(conn, frame)),
                Effect::Close { conn } => {
                    if let Some(entry) = self.conns.get(&conn) {
                        entry.handle.close();
                    }
                }
                Effect::Persist { zxid, entry } => {
                    let due = self.snapshots.as_mut().is_some_and(|s| s.logged(entry.len()));
                    self.log_command(LogCommand::Append(zxid, entry))?;
                    if due {
                        self.log_command(LogCommand::Roll)?;
                        if let Some(s) = self.snapshots.as_mut() {
                            s.start(&self.core);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Queues frames for a connection; closes it if its queue is over the cap. Returns the core's effects if
    /// the connection had to be dropped.
    fn send(&mut self, conn: ConnId, frame: Bytes) -> Vec<Effect> {
        let Some(entry) = self.conns.get_mut(&conn) else {
            return Vec::new();
        };
        for xid in frame_xids(&frame) {
            self.stats.packets_sent += 1;
            entry.sent += 1;
            let answers_request = !entry.handshake_sent || xid != NOTIFICATION_XID;
            entry.handshake_sent = true;
            if answers_request {
                if let Some(arrived) = entry.pending.pop_front() {
                    self.stats.latency.record(arrived.elapsed().as_millis() as u64);
                }
            }
        }
        let queued = entry.handle.send(frame);
        if queued <= self.config.outbound_queue_bytes_max {
            return Vec::new();
        }
        tracing::warn!(
            %conn, peer = %entry.peer, queued_bytes = queued, max = self.config.outbound_queue_bytes_max,
            "closing connection: client is not reading its replies"
        );
        entry.handle.abort();
        match self.conns.remove(&conn) {
            Some(entry) if entry.in_core => self.core.disconnected(self.now(), conn),
            _ => Vec::new(),
        }
    }

    fn four_letter(&mut self, conn: ConnId, word: FourLetter) {
        self.stats.packets_received += 1;
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.received += 1;
        }
        let text = match word {
            FourLetter::Word(w) => self.four_letter_text(w),
            FourLetter::TelnetClose => None,
        };
        let Some(entry) = self.conns.get(&conn) else {
            return;
        };
        if let Some(text) = text {
            self.stats.packets_sent += 1;
            entry.handle.send(Bytes::from(text));
        }
        entry.handle.close();
    }

    fn four_letter_text(&mut self, word: &str) -> Option<String> {
        if !self.config.four_letter_whitelist.allows(word) {
            tracing::info!(
                command = word,
                "four-letter word refused: not in 4lw.commands.whitelist"
            );
            return Some(fl::not_whitelisted(word));
        }
        Some(match word {
            "ruok" => fl::ruok().to_owned(),
            "isro" => fl::isro().to_owned(),
            "srvr" => fl::srvr(&self.facts()),
            "stat" => fl::stat(&self.facts()),
            "mntr" => fl::mntr(&self.facts()),
            "conf" => fl::conf(&self.config),
            "envi" => fl::envi(),
            "dirs" => format!(
                "datadir_size: {}\nlogdir_size: {}\n",
                fl::dir_size(&self.config.data_dir.join("version-2")),
                fl::dir_size(&self.config.data_log_dir.join("version-2"))
            ),
            "wchs" => {
                let core = self.core.stats();
                fl::wchs(
                    core.watching_connections,
                    core.watched_data_paths,
                    core.data_watch_count,
                )
            }
            "srst" => {
                self.stats = ServerStats::default();
                "Server stats reset.\n".to_owned()
            }
            "crst" => {
                for entry in self.conns.values_mut() {
                    entry.received = 0;
                    entry.sent = 0;
                }
                "Connection stats reset.\n".to_owned()
            }
            _ => {
                tracing::warn!(
                    command = word,
                    "four-letter word not supported yet; closing the connection"
                );
                return None;
            }
        })
    }

    fn facts(&self) -> ServerFacts {
        let core = self.core.stats();
        let mut ids: Vec<&ConnId> = self.conns.keys().collect();
        ids.sort();
        let connections = ids
            .into_iter()
            .filter_map(|id| self.conns.get(id))
            .map(|c| ConnFacts {
                peer: c.peer,
                reading: c.handle.is_reading(),
                queued: c.handle.queued_messages(),
                received: c.received,
                sent: c.sent,
            })
            .collect();
        ServerFacts {
            latency: self.stats.latency.latency(),
            packets_received: self.stats.packets_received,
            packets_sent: self.stats.packets_sent,
            connections,
            outstanding: self.conns.values().map(|c| c.pending.len() as u64).sum(),
            zxid: Zxid(core.last_zxid),
            node_count: core.node_count as u64,
            watch_count: core.watch_count as u64,
            ephemerals_count: core.ephemerals_count as u64,
            approximate_data_size: core.approximate_data_size,
            global_sessions: core.sessions as u64,
            uptime_ms: self.started.elapsed().as_millis() as u64,
            connections_rejected: self.rejected.load(Ordering::Relaxed),
        }
    }

    /// Closes every connection (server shutdown).
    pub(crate) fn close_all(&mut self) {
        for entry in self.conns.values() {
            entry.handle.close();
        }
    }

    /// The zxid of the last txn the core applied.
    pub(crate) fn last_zxid(&self) -> Zxid {
        self.core.last_zxid()
    }
}

/// The two clocks the core is given, with the monotonic one counted from `started`.
pub(crate) fn now_at(started: Instant) -> Now {
    now(started)
}

fn now(started: Instant) -> Now {
    let wall_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Now {
        wall_ms,
        mono_ms: started.elapsed().as_millis() as u64,
    }
}
