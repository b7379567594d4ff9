//! The one task that owns the core. It takes connection messages in arrival order, calls the core, and runs the
//! effects it returns in order: `Send` to the connection's queue, `Close`, and `Persist` to the log thread,
//! which reports back once entries are durable; only then is the core told `persisted`. A connection's frames
//! of one turn of the loop go to its task together at the end of the turn (`outbox`), in the order queued. Nothing of the core
//! is shared but its tree, which a snapshot thread reads while the core goes on (`core::tree::SharedTree`).

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use foldhash::HashMap;
use jute::codes::{EventType, OpCode};
use jute::records::proto::RequestHeader;
use jute::request::{Request, RequestError};

use super::logqueue::{InFlightLimits, LogQueue};
use super::logthread::{Batch, LogCommand};
use super::outbox::Outgoing;
use super::snapshots::Snapshotter;
use super::stats::ServerStats;
use super::trace::TraceMask;
use crate::config::ServerConfig;
use crate::core::{Core, CoreConfig, Effect, EventCounts};
use crate::metrics::{summary, summary_set, Metrics};
use crate::net::conn::ConnHandle;
use crate::net::conn_stats::{op_name, reply_headers, ConnStats};
use crate::net::four_letter::ResponseSizes;
use crate::net::{Inbound, NetCounters};
use crate::types::{ConnId, Now, Zxid};

/// xid of watch notifications, which answer no request.
const NOTIFICATION_XID: i32 = -1;
/// xid of ping replies, which `ServerStats` does not count as client responses.
const PING_XID: i32 = -2;
/// ZooKeeper logs a digest of the tree for every zxid that is a multiple of this (`DataTree.DIGEST_LOG_INTERVAL`).
const DIGEST_LOG_INTERVAL: i64 = 128;
/// Digests kept for `hash` (`DataTree.DIGEST_LOG_LIMIT`).
const DIGEST_LOG_LIMIT: usize = 1024;
/// An fsync longer than this counts in `fsync_threshold_exceed_count` (`fsync.warningthresholdms`).
const FSYNC_WARNING_THRESHOLD_MS: u64 = 1000;

/// Connection frames handled in one turn of the server loop, at most (a message with several requests counts
/// each), before it looks at its other sources (the log thread, timers) again.
const MESSAGES_PER_TURN: usize = 64;

/// Counter increments gathered during one turn of the server loop and added to the metrics at its end
/// ([`Runtime::end_turn`]): one metrics update per turn rather than one per request or reply, whose cost
/// (a lookup of the metric by name, and the recorder) showed in the instructions per request.
#[derive(Debug, Clone, Copy, Default)]
struct TurnCounts {
    /// Requests the core prepared (`prep_processor_request_queued`, `sync_processor_request_queued`).
    prepared: u64,
    /// Bytes of replies queued (`response_bytes`).
    response_bytes: u64,
    /// Bytes of watch notifications queued (`watch_bytes`).
    watch_bytes: u64,
}

/// A request waiting for its answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Waiting {
    pub(super) arrived: Instant,
    pub(super) xid: i32,
    /// The operation, or `None` for frames ZooKeeper answers outside its request pipeline (auth, SASL, the
    /// handshake that resumes a session), which count in no latency figure.
    pub(super) op: Option<OpCode>,
}

/// The server's view of one connection.
#[derive(Debug)]
pub(super) struct ConnEntry {
    pub(super) peer: SocketAddr,
    pub(super) handle: ConnHandle,
    /// The core has seen its ConnectRequest, so it must hear of its end.
    pub(super) in_core: bool,
    /// The ConnectResponse has been queued.
    pub(super) handshake_sent: bool,
    pub(super) stats: ConnStats,
    /// Last activity on the server's monotonic clock, for the connection expiry buckets of `dump`.
    pub(super) active_ms: u64,
    /// Requests not yet answered, oldest first (for latency and `Outstanding`).
    pub(super) pending: VecDeque<Waiting>,
    /// Frames queued during this turn, handed to the connection's task at its end.
    outgoing: Outgoing,
}

/// The state of the server task.
pub(crate) struct Runtime {
    pub(super) core: Core,
    pub(super) config: ServerConfig,
    pub(super) log: LogQueue,
    /// Standalone, or the connection to the rest of the ensemble.
    pub(crate) link: super::link::Link,
    /// Set when the member's role must end (its leader is gone, ...): the serving loop stops after the turn.
    pub(crate) role_end: Option<String>,
    /// Set when this member starts serving in an epoch it established with its leader or followers: the
    /// serving loop reports that epoch in its election vote from then on (`QuorumPeer.updateElectionVote`).
    pub(crate) established_epoch: Option<i64>,
    /// Requests of a connection message not yet handed to the core because the txns in flight were at their
    /// limit: at most the rest of one message, taken before any other message.
    parked: VecDeque<(ConnId, RequestHeader, Result<Request, RequestError>)>,
    /// The server took no requests at the end of the last turn.
    stalled: bool,
    snapshots: Option<Snapshotter>,
    pub(super) conns: HashMap<ConnId, ConnEntry>,
    pub(super) stats: ServerStats,
    pub(super) started: Instant,
    pub(super) counters: Arc<NetCounters>,
    pub(super) metrics: Metrics,
    /// The net counters already added to `metrics`.
    synced: [u64; 4],
    /// The core's event totals already added to `metrics`.
    published: EventCounts,
    /// Counter increments of this turn, not yet in `metrics`.
    turn_counts: TurnCounts,
    /// Connections with frames in their `outgoing`, in no particular order.
    dirty: Vec<ConnId>,
    /// Reused buffer for the core's per-trigger watcher counts.
    watch_counts: Vec<(EventType, u32)>,
    /// `gtmk` / `stmk` (`ZooTrace.textTraceLevel`): what request tracing writes.
    pub(super) trace_mask: TraceMask,
    /// Tree digests at zxids that are multiples of 128, oldest first (`hash`).
    pub(super) digests: VecDeque<(Zxid, u64)>,
    pub(super) client_response: ResponseSizes,
    pub(super) fsync_threshold_exceeded: u64,
}

/// The CoreConfig that a ServerConfig implies. A standalone server creates sessions as server id 1
/// (`ZooKeeperServer.createSessionTrackerServerId`), so session ids start 0x01…
pub(crate) fn core_config(config: &ServerConfig) -> CoreConfig {
    CoreConfig {
        server_id: config.quorum.as_ref().map_or(1, |q| q.my_id as i64),
        tick_time_ms: config.tick_time_ms,
        min_session_timeout_ms: config.min_session_timeout_ms,
        max_session_timeout_ms: config.max_session_timeout_ms,
        max_buffer: config.jute_max_buffer,
        skip_acl: config.skip_acl,
        super_digest: config.super_digest.clone(),
        extended_types: config.extended_types,
        enforce_quota: config.enforce_quota,
        digest_enabled: config.digest_enabled,
        containers: config.containers,
        reply_bytes_max: config.outbound_queue_bytes_max,
        enforce_auth_schemes: config.enforce_auth_schemes.clone(),
        sasl: config.sasl.clone(),
        sasl_provider: config.sasl_provider,
        let_any_sasl_user: config.let_any_sasl_user.clone(),
        // A fresh seed from the OS for every start: the SASL challenges' nonces must not repeat.
        nonce_seed: rand::random(),
        local_sessions: config.local_sessions,
        local_sessions_upgrading: config.local_sessions_upgrading,
    }
}

impl Runtime {
    /// A runtime over `core` (built with [`now_at`] from `started`), sending entries to the log thread.
    pub(crate) fn new(
        config: ServerConfig,
        core: Core,
        started: Instant,
        log: std::sync::mpsc::SyncSender<LogCommand>,
        snapshots: Option<Snapshotter>,
        counters: Arc<NetCounters>,
        metrics: Metrics,
    ) -> Self {
        let limits = InFlightLimits {
            txns_max: config.in_flight_txns_max,
            bytes_max: config.in_flight_bytes_max,
        };
        Runtime {
            core,
            config,
            log: LogQueue::new(log, limits),
            link: super::link::Link::Standalone,
            role_end: None,
            established_epoch: None,
            parked: VecDeque::new(),
            stalled: false,
            snapshots,
            conns: HashMap::default(),
            stats: ServerStats::default(),
            started,
            counters,
            metrics,
            synced: [0; 4],
            published: EventCounts::default(),
            turn_counts: TurnCounts::default(),
            dirty: Vec::new(),
            watch_counts: Vec::new(),
            // ZooTrace's default: client requests, server packets and final requests.
            trace_mask: TraceMask::default(),
            digests: VecDeque::new(),
            client_response: ResponseSizes::default(),
            fsync_threshold_exceeded: 0,
        }
    }

    pub(super) fn now(&self) -> Now {
        now(self.started)
    }

    /// Handles one message from a connection task.
    pub(crate) fn handle(&mut self, message: Inbound) -> io::Result<()> {
        let effects = match message {
            Inbound::Opened { conn, peer, handle } => {
                let now = self.now();
                let entry = ConnEntry {
                    peer,
                    handle,
                    in_core: false,
                    handshake_sent: false,
                    stats: ConnStats::new(now.wall_ms),
                    active_ms: now.mono_ms,
                    pending: VecDeque::new(),
                    outgoing: Outgoing::Empty,
                };
                self.conns.insert(conn, entry);
                return Ok(());
            }
            Inbound::Connect { conn, request } => {
                self.metrics
                    .count(crate::metrics::counter::CONNECTION_REQUEST_COUNT, 1);
                // Only a new session goes through ZooKeeper's pipeline (createSession); a resumed one does not.
                let op = (request.session_id == 0).then_some(OpCode::CreateSession);
                let arrived = Instant::now();
                let Some(entry) = self.received(conn, 0, op, arrived) else {
                    return Ok(());
                };
                entry.in_core = true;
                let ip = entry.peer.ip().to_string();
                if let Some(op) = op {
                    self.trace_mask.request_in(None, 0, op.code(), None);
                }
                let effects = self
                    .core
                    .connect(now_from(self.started, arrived), conn, &ip, request);
                if op.is_some() {
                    self.prepared(arrived);
                }
                effects
            }
            Inbound::Request { conn, header, body } => return self.request(conn, header, body),
            Inbound::Requests { conn, requests } => {
                let mut requests = requests.into_iter();
                while self.log.has_room() {
                    let Some((header, body)) = requests.next() else {
                        return Ok(());
                    };
                    self.request(conn, header, body)?;
                }
                // The txns in flight reached their limit: the rest wait for room.
                self.parked
                    .extend(requests.map(|(header, body)| (conn, header, body)));
                return Ok(());
            }
            Inbound::FourLetter { conn, word, mask } => {
                // `mntr` and the like report what the earlier messages of this turn did.
                self.end_turn()?;
                self.four_letter(conn, word, mask);
                return Ok(());
            }
            Inbound::Closed { conn } => match self.conns.remove(&conn) {
                Some(entry) => {
                    self.unanswered(&entry);
                    if !entry.in_core {
                        return Ok(());
                    }
                    self.core.disconnected(self.now(), conn)
                }
                None => return Ok(()),
            },
        };
        self.execute(effects)
    }

    /// One request frame of a connection.
    fn request(
        &mut self,
        conn: ConnId,
        header: RequestHeader,
        body: Result<Request, RequestError>,
    ) -> io::Result<()> {
        let op = match OpCode::from_code(header.op) {
            Some(OpCode::Auth | OpCode::Sasl) | None => None,
            Some(op) => Some(op),
        };
        // One clock reading serves the arrival, the core's `Now` and the start of the prep time.
        let arrived = Instant::now();
        if self.received(conn, header.xid, op, arrived).is_none() {
            // The connection was closed by the server meanwhile: this request is dropped.
            self.out_of_process(1);
            return Ok(());
        }
        self.trace_mask.request_in(
            self.core.session_of(conn),
            header.xid,
            header.op,
            body.as_ref().ok(),
        );
        let effects = self
            .core
            .request(now_from(self.started, arrived), conn, header, body);
        if op.is_some() {
            self.prepared(arrived);
        }
        self.execute(effects)
    }

    /// Handles `first` and then whatever else is already queued, up to [`MESSAGES_PER_TURN`] frames in all.
    pub(crate) fn handle_batch(
        &mut self,
        first: Inbound,
        inbound: &mut tokio::sync::mpsc::Receiver<Inbound>,
    ) -> io::Result<()> {
        let mut frames = frames_in(&first);
        self.handle(first)?;
        while frames < MESSAGES_PER_TURN && self.accepts_requests() {
            match inbound.try_recv() {
                Ok(message) => {
                    frames += frames_in(&message);
                    self.handle(message)?
                }
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// True while the server takes messages from connections: nothing is parked and the txns in flight are
    /// under their limits. While false, connection tasks wait on the bounded inbound queue and stop reading
    /// their sockets.
    pub(crate) fn accepts_requests(&self) -> bool {
        self.parked.is_empty() && self.log.has_room() && self.link_serving()
    }

    /// Hands parked requests to the core while the txns in flight leave room.
    fn resume(&mut self) -> io::Result<()> {
        while self.log.has_room() {
            let Some((conn, header, body)) = self.parked.pop_front() else {
                break;
            };
            self.request(conn, header, body)?;
        }
        Ok(())
    }

    /// Counts a request the core prepared from `started` on: it entered the pipeline (prep, then the ordered
    /// log stage every request passes, reads included, as in ZooKeeper's standalone pipeline).
    fn prepared(&mut self, started: Instant) {
        self.turn_counts.prepared += 1;
        self.metrics
            .observe(summary::PREP_PROCESS_TIME, started.elapsed().as_millis() as u64);
    }

    /// Ends one turn of the server loop (a batch of connection messages, a durable batch, a tick): hands the
    /// txn entries and the frames queued during it to the log thread and the connection tasks, and adds the counts gathered during it and the core's
    /// events to the metrics.
    pub(crate) fn end_turn(&mut self) -> io::Result<()> {
        use crate::metrics::counter;
        // The log first: its thread can write and fsync while the replies are handed over.
        self.log.flush()?;
        if !self.parked.is_empty() {
            self.resume()?;
            self.log.flush()?;
        }
        self.flush_replies()?;
        let stalled = !self.accepts_requests();
        if stalled && !self.stalled {
            tracing::debug!(
                txns = self.log.txns(),
                parked = self.parked.len(),
                "txns in flight at their limit: taking no requests until the log catches up"
            );
            self.metrics.count(counter::REQUEST_THROTTLE_WAIT_COUNT, 1);
        }
        self.stalled = stalled;
        let counts = std::mem::take(&mut self.turn_counts);
        for (name, delta) in [
            (counter::PREP_PROCESSOR_REQUEST_QUEUED, counts.prepared),
            (counter::SYNC_PROCESSOR_REQUEST_QUEUED, counts.prepared),
            (counter::RESPONSE_BYTES, counts.response_bytes),
            (counter::WATCH_BYTES, counts.watch_bytes),
        ] {
            if delta > 0 {
                self.metrics.count(name, delta);
            }
        }
        self.publish_core_events();
        Ok(())
    }

    /// Adds the core's events since the last call to the metrics: change records, expired sessions, and the
    /// watchers each trigger reached.
    fn publish_core_events(&mut self) {
        use crate::metrics::counter;
        let now = self.core.event_counts();
        let was = std::mem::replace(&mut self.published, now);
        for (name, delta) in [
            (
                counter::OUTSTANDING_CHANGES_QUEUED,
                now.changes_queued - was.changes_queued,
            ),
            (
                counter::OUTSTANDING_CHANGES_REMOVED,
                now.changes_removed - was.changes_removed,
            ),
            (
                counter::STALE_SESSIONS_EXPIRED,
                now.sessions_expired - was.sessions_expired,
            ),
            (counter::STALE_REPLIES, now.stale_replies - was.stale_replies),
            (
                counter::DIGEST_MISMATCHES_COUNT,
                now.digest_mismatches - was.digest_mismatches,
            ),
        ] {
            if delta > 0 {
                self.metrics.count(name, delta);
            }
        }
        let metrics = &mut self.metrics;
        self.core.drain_namespace_events(|namespace, write, bytes| {
            let set = if write {
                summary_set::WRITE_PER_NAMESPACE
            } else {
                summary_set::READ_PER_NAMESPACE
            };
            metrics.observe_in_set(set, namespace, bytes);
        });
        self.core.take_watch_counts(&mut self.watch_counts);
        for &(event, n) in &self.watch_counts {
            let name = match event {
                EventType::NodeCreated => summary::NODE_CREATED_WATCH_COUNT,
                EventType::NodeDeleted => summary::NODE_DELETED_WATCH_COUNT,
                EventType::NodeDataChanged => summary::NODE_CHANGED_WATCH_COUNT,
                EventType::NodeChildrenChanged => summary::NODE_CHILDREN_WATCH_COUNT,
                _ => continue,
            };
            self.metrics.observe(name, u64::from(n));
        }
    }

    /// Counts a request received at `arrived` and returns its connection, or `None` if the connection is
    /// already gone.
    fn received(
        &mut self,
        conn: ConnId,
        xid: i32,
        op: Option<OpCode>,
        arrived: Instant,
    ) -> Option<&mut ConnEntry> {
        let mono_ms = mono_ms_at(self.started, arrived);
        let entry = self.conns.get_mut(&conn)?;
        self.stats.packets_received += 1;
        entry.stats.packets_received += 1;
        entry.active_ms = mono_ms;
        entry.pending.push_back(Waiting { arrived, xid, op });
        Some(entry)
    }

    /// Lets the core's timers run (session expiry).
    pub(crate) fn tick(&mut self) -> io::Result<()> {
        self.sync_net_counters();
        if !self.link_serving() {
            // A leader expires sessions and reaps nodes only once its epoch is established.
            return Ok(());
        }
        let effects = self.core.tick(self.now());
        self.execute(effects)
    }

    /// Adds what the connection tasks counted since the last call to the metrics.
    pub(super) fn sync_net_counters(&mut self) {
        use crate::metrics::counter;
        use std::sync::atomic::Ordering;
        let now = [
            self.counters.rejected.load(Ordering::Relaxed),
            self.counters.bytes_received.load(Ordering::Relaxed),
            self.counters.sessionless_expired.load(Ordering::Relaxed),
            self.counters.dropped.load(Ordering::Relaxed),
        ];
        let names = [
            counter::CONNECTION_REJECTED,
            counter::BYTES_RECEIVED_COUNT,
            counter::SESSIONLESS_CONNECTIONS_EXPIRED,
            counter::CONNECTION_DROP_COUNT,
        ];
        for ((name, now), synced) in names.into_iter().zip(now).zip(self.synced.iter_mut()) {
            if now > *synced {
                self.metrics.count(name, now - *synced);
                *synced = now;
            }
        }
    }

    /// Entries up to `zxid` are durable (by `batch`): a standalone server applies and answers them; a leader
    /// counts its own ACK; a follower ACKs them to its leader.
    pub(crate) fn persisted(&mut self, zxid: Zxid, batch: Batch) -> io::Result<()> {
        let begun = Instant::now();
        let metrics = &mut self.metrics;
        self.log.durable(zxid, begun, |waited| {
            metrics.observe(summary::SYNC_PROCESSOR_QUEUE_AND_FLUSH_TIME, waited)
        });
        self.metrics.observe(summary::SYNC_PROCESS_TIME, batch.process_ms);
        self.metrics
            .observe(summary::SYNC_PROCESSOR_QUEUE_FLUSH_TIME, batch.flush_ms);
        self.metrics
            .observe(summary::SYNC_PROCESSOR_BATCH_SIZE, batch.entries);
        if let Some(ms) = batch.fsync_ms {
            self.metrics.observe(summary::FSYNC_TIME, ms);
            if ms > FSYNC_WARNING_THRESHOLD_MS {
                self.fsync_threshold_exceeded += 1;
            }
        }
        let end = match self.link {
            super::link::Link::Standalone => return self.apply_up_to(zxid),
            super::link::Link::Follower(_) => self.follower_durable(zxid)?,
            super::link::Link::Leader(_) => self.leader_durable(zxid)?,
            super::link::Link::ReadOnly => {
                return Err(io::Error::other("a read-only server has no txn log"));
            }
        };
        if let Some(why) = end {
            self.role_end.get_or_insert(why);
        }
        Ok(())
    }

    /// Applies the txns up to `zxid`, now committed, answering their clients.
    /// Application stops at every zxid that is a multiple of 128 on the way, so that the tree's digest there can
    /// be logged for `hash` as `DataTree.logZxidDigest` does.
    pub(super) fn apply_up_to(&mut self, zxid: Zxid) -> io::Result<()> {
        let begun = Instant::now();
        // Zxids jump at each new epoch: the next mark is the first multiple of 128 at or after the next txn.
        while let Some(next) = self.core.next_to_apply().filter(|n| *n <= zxid) {
            let mark =
                (next.0.max(0) as u64).div_ceil(DIGEST_LOG_INTERVAL as u64) as i64 * DIGEST_LOG_INTERVAL;
            if mark > zxid.0 {
                break;
            }
            let effects = self.core.persisted(self.now(), Zxid(mark));
            self.execute(effects)?;
            if self.core.last_zxid().0 == mark {
                self.digests.push_back((Zxid(mark), self.core.tree().digest()));
                if self.digests.len() > DIGEST_LOG_LIMIT {
                    self.digests.pop_front();
                }
            }
        }
        let effects = self.core.persisted(self.now(), zxid);
        let result = self.execute(effects);
        // Applying the durable txns, firing their watches and queuing their replies: the commit stage.
        self.metrics
            .observe(summary::COMMIT_PROCESS_TIME, begun.elapsed().as_millis() as u64);
        result
    }

    /// Starts a snapshot now (the start-up snapshot of a large recovered tree).
    pub(crate) fn start_snapshot(&mut self) {
        if let Some(s) = self.snapshots.as_mut() {
            s.start(&self.core);
        }
    }

    /// Runs effects in order. Entries to persist go to the log thread, which reports them durable later.
    pub(super) fn execute(&mut self, effects: Vec<Effect>) -> io::Result<()> {
        for effect in effects {
            match effect {
                Effect::Send { conn, frame } => {
                    if self.send(conn, frame) {
                        self.drop_unread(conn)?;
                    }
                }
                Effect::Close { conn } => {
                    // What was queued before the close goes out before it.
                    self.flush_conn(conn)?;
                    if let Some(entry) = self.conns.get(&conn) {
                        entry.handle.close();
                    }
                }
                Effect::Forward { request, auth } => {
                    if let Err(why) = self.forward(request, auth) {
                        self.role_end.get_or_insert(why);
                    }
                }
                Effect::Revalidate { session } => {
                    if let Err(why) = self.revalidate(session) {
                        self.role_end.get_or_insert(why);
                    }
                }
                Effect::Persist { zxid, entry } => {
                    let due = self.snapshots.as_mut().is_some_and(|s| s.logged(entry.len()));
                    if matches!(self.link, super::link::Link::Leader(_)) {
                        if let Some(why) = self.leader_propose(&entry)? {
                            self.role_end.get_or_insert(why);
                        }
                    }
                    self.log.push(zxid, entry);
                    if due {
                        self.log.roll()?;
                        if let Some(s) = self.snapshots.as_mut() {
                            s.start(&self.core);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Queues frames for a connection until the end of the turn, counting them and the requests they answer.
    /// Returns true if the connection now has more bytes queued (in this turn and with its task) than
    /// `outbound_queue_bytes_max`: checked at each frame, so that a turn with many large replies for one
    /// connection never holds more than the cap and one reply for it.
    fn send(&mut self, conn: ConnId, frame: Bytes) -> bool {
        let sent = Instant::now();
        let mono_ms = mono_ms_at(self.started, sent);
        let (trace, session) = (self.trace_mask, self.core.session_of(conn));
        let Some(entry) = self.conns.get_mut(&conn) else {
            return false;
        };
        entry.active_ms = mono_ms;
        for reply in reply_headers(&frame) {
            self.stats.packets_sent += 1;
            entry.stats.packets_sent += 1;
            let answers_request = !entry.handshake_sent || reply.xid != NOTIFICATION_XID;
            let handshake = !entry.handshake_sent;
            entry.handshake_sent = true;
            if !answers_request {
                self.turn_counts.watch_bytes += u64::from(reply.len);
                trace.event(session, reply.zxid);
                continue;
            }
            let position = if handshake {
                0
            } else {
                entry.pending.iter().position(|w| w.xid == reply.xid).unwrap_or(0)
            };
            let Some(waiting) = entry.pending.remove(position) else {
                continue;
            };
            if !handshake {
                out_of_process(&self.counters, 1);
            }
            let Some(op) = waiting.op else { continue };
            let latency_ms = sent.saturating_duration_since(waiting.arrived).as_millis() as u64;
            self.stats.latency.record(latency_ms);
            let write = is_txn_op(op);
            let name = if write {
                summary::UPDATE_LATENCY
            } else {
                summary::READ_LATENCY
            };
            self.metrics.observe(name, latency_ms);
            if reply.xid != PING_XID && !handshake {
                self.client_response.record(i64::from(reply.len));
                self.turn_counts.response_bytes += u64::from(reply.len);
            }
            let op_text = op_name(op, !handshake && write && reply.err != 0);
            let zxid = if handshake {
                self.core.last_zxid().0
            } else {
                reply.zxid
            };
            trace.request_out(session, waiting.xid, op, zxid);
            let arrived_ms = mono_ms.saturating_sub(latency_ms);
            entry
                .stats
                .answered(waiting.xid, zxid, op_text, arrived_ms, mono_ms);
        }
        if entry.outgoing.push(frame) {
            self.dirty.push(conn);
        }
        entry.handle.queued_bytes() + entry.outgoing.len() > self.config.outbound_queue_bytes_max
    }

    /// Hands every connection's frames of this turn to its task, one message per connection.
    fn flush_replies(&mut self) -> io::Result<()> {
        while let Some(conn) = self.dirty.pop() {
            self.flush_conn(conn)?;
        }
        Ok(())
    }

    /// Hands the frames queued for `conn` to its task; closes it if its queue is over the cap.
    fn flush_conn(&mut self, conn: ConnId) -> io::Result<()> {
        let Some(entry) = self.conns.get_mut(&conn) else {
            return Ok(());
        };
        let Some(frames) = entry.outgoing.take() else {
            return Ok(());
        };
        let queued = entry.handle.send(frames);
        if queued <= self.config.outbound_queue_bytes_max {
            return Ok(());
        }
        self.drop_unread(conn)
    }

    /// Closes a connection with more replies queued than `outbound_queue_bytes_max`, dropping them.
    fn drop_unread(&mut self, conn: ConnId) -> io::Result<()> {
        let Some(entry) = self.conns.remove(&conn) else {
            return Ok(());
        };
        tracing::warn!(
            %conn, peer = %entry.peer,
            queued_bytes = entry.handle.queued_bytes() + entry.outgoing.len(),
            max = self.config.outbound_queue_bytes_max,
            "closing connection: client is not reading its replies"
        );
        entry.handle.abort();
        self.unanswered(&entry);
        if entry.in_core {
            let effects = self.core.disconnected(self.now(), conn);
            self.execute(effects)?;
        }
        Ok(())
    }

    /// Takes the requests a removed connection left unanswered out of the server's count in process (its
    /// ConnectRequest, if still unanswered, was never in it).
    fn unanswered(&self, entry: &ConnEntry) {
        let handshake = usize::from(entry.in_core && !entry.handshake_sent);
        self.out_of_process(entry.pending.len().saturating_sub(handshake));
    }

    fn out_of_process(&self, requests: usize) {
        out_of_process(&self.counters, requests);
    }

    /// Closes every connection (server shutdown, or the end of a member's role), after what was queued for
    /// it. Their unanswered requests leave the server's count in process now: the runtime that serves next
    /// does not know these connections and ignores their closing.
    pub(crate) fn close_all(&mut self) {
        if let Err(e) = self.flush_replies() {
            tracing::warn!(error = %e, "replies not handed over at shutdown");
        }
        for (_, entry) in std::mem::take(&mut self.conns) {
            entry.handle.close();
            self.unanswered(&entry);
        }
    }

    /// The core, once the runtime is done with it (a read-only server hands it to the role that follows).
    pub(crate) fn into_core(self) -> Core {
        self.core
    }

    /// The zxid of the last txn the core applied.
    pub(crate) fn last_zxid(&self) -> Zxid {
        self.core.last_zxid()
    }
}

/// Takes `requests` answered or dropped out of the server's count in process. Every one was added by its
/// connection task before it was sent here, so the count cannot go below zero.
fn out_of_process(counters: &NetCounters, requests: usize) {
    use std::sync::atomic::Ordering;
    let before = counters.requests_in_process.fetch_sub(requests, Ordering::AcqRel);
    assert!(before >= requests, "requests in process went below zero");
}

/// How many frames of a connection a message carries, as counted against [`MESSAGES_PER_TURN`].
fn frames_in(message: &Inbound) -> usize {
    match message {
        Inbound::Requests { requests, .. } => requests.len(),
        _ => 1,
    }
}

/// Operations that become txns, whose latency is `updatelatency` (ZooKeeper: requests with a txn header).
fn is_txn_op(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::Create
            | OpCode::Create2
            | OpCode::CreateContainer
            | OpCode::CreateTtl
            | OpCode::Delete
            | OpCode::DeleteContainer
            | OpCode::SetData
            | OpCode::SetAcl
            | OpCode::Multi
            | OpCode::Reconfig
            | OpCode::CreateSession
            | OpCode::CloseSession
    )
}

/// The two clocks the core is given, with the monotonic one counted from `started`.
pub(crate) fn now_at(started: Instant) -> Now {
    now(started)
}

fn now(started: Instant) -> Now {
    now_from(started, Instant::now())
}

/// The two clocks with the monotonic one read at `at`.
fn now_from(started: Instant, at: Instant) -> Now {
    let wall_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Now {
        wall_ms,
        mono_ms: mono_ms_at(started, at),
    }
}

/// Milliseconds from `started` to `at` on the monotonic clock.
fn mono_ms_at(started: Instant, at: Instant) -> u64 {
    at.saturating_duration_since(started).as_millis() as u64
}
