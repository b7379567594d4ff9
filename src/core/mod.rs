//! The pure core: data tree, sessions, watches and the one write path. No tokio, files, sockets, clocks or
//! randomness here: time comes in as `Now`, I/O results as calls (`persisted`), and everything the server must
//! do comes out as `Effect`s, in order.
//!
//! Every write takes one path whether the server is standalone or (later) part of an ensemble:
//! prep (validation against the tree plus outstanding changes, `prep`) -> txn -> `Effect::Persist` ->
//! `persisted` -> apply to the tree (which fires watches) -> reply. Reads are served from the committed tree in
//! session order: a read waits behind the earlier writes of its own connection.

pub mod auth;
mod auth_ids;
mod connect;
pub mod containers;
pub mod effects;
mod local_sessions;
pub mod namespace;
mod pending;
mod prep;
mod read_only;
mod reads;
mod replica;
pub mod reply;
pub mod sasl;
pub mod session;
pub mod tree;
pub mod txn;
pub mod watch;
pub mod zab;

use std::collections::VecDeque;

use foldhash::HashMap;

use bytes::Bytes;
use jute::codes::{ErrorCode, EventType, OpCode};
use jute::quorum::ForwardedBody;
use jute::records::proto::RequestHeader;
use jute::records::txn::{TxnDigest, TxnHeader};
use jute::request::{Request, RequestError};

pub use effects::Effect;
pub use replica::Role;

use crate::types::{ConnId, Now, SessionId, Zxid};
use auth::AclPolicy;
use pending::Pending;
use session::SessionTracker;
use tree::{DataTree, SharedTree};
use txn::{Txn, TxnBody};
use watch::WatchManager;

/// The settings the core needs.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    pub server_id: i64,
    pub tick_time_ms: u32,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// `jute.maxbuffer`.
    pub max_buffer: usize,
    pub skip_acl: bool,
    pub super_digest: Option<String>,
    /// `zookeeper.extendedTypesEnabled`: TTL nodes.
    pub extended_types: bool,
    /// `zookeeper.enforceQuota`.
    pub enforce_quota: bool,
    /// `znode.container.*`.
    pub containers: containers::ContainerConfig,
    /// The largest reply a read may build. A read whose reply would be larger closes its connection
    /// instead, before the rest of the reply is built (see `reads`). The server sets it to the cap on the
    /// bytes queued for one connection, which such a reply could never fit under.
    pub reply_bytes_max: usize,
    /// `zookeeper.enforce.auth.schemes` when `zookeeper.enforce.auth.enabled`: the schemes one of which a
    /// connection must have authenticated with before anything but auth and sasl is served.
    pub enforce_auth_schemes: Option<Vec<String>>,
    /// The SASL server of the client port, when the JAAS configuration has a server section
    /// (`ServerCnxnFactory.configureSaslLogin`); without it a SASL token gets an empty answer.
    pub sasl: Option<sasl::SaslConfig>,
    /// An `authProvider.N` names `SASLAuthenticationProvider`: the `sasl` scheme is registered for ACLs.
    pub sasl_provider: bool,
    /// `zookeeper.letAnySaslUserDoX`: a `sasl` ACL entry with this id admits every SASL-authenticated client.
    pub let_any_sasl_user: Option<String>,
    /// The seed of the generator the SASL challenges' nonces come from (the server draws it from the OS).
    pub nonce_seed: [u8; 32],
    /// `zookeeper.digest.enabled`: txns carry the tree digest they leave (`TxnDigest`), and applying a txn
    /// that carries one checks the tree against it.
    pub digest_enabled: bool,
    /// `localSessionsEnabled`: a member's new sessions are its own until an ephemeral needs them global.
    pub local_sessions: bool,
    /// `localSessionsUpgradingEnabled`: an ephemeral create upgrades a local session (else it is refused).
    pub local_sessions_upgrading: bool,
}

/// `reply_bytes_max` by default: the default cap on bytes queued for one connection.
pub const DEFAULT_REPLY_BYTES_MAX: usize = 16 * 1024 * 1024;

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            server_id: 1,
            tick_time_ms: 3000,
            min_session_timeout_ms: 6000,
            max_session_timeout_ms: 60000,
            max_buffer: jute::DEFAULT_MAX_BUFFER,
            skip_acl: false,
            super_digest: None,
            extended_types: false,
            enforce_quota: false,
            enforce_auth_schemes: None,
            sasl: None,
            sasl_provider: false,
            let_any_sasl_user: None,
            nonce_seed: [0; 32],
            digest_enabled: true,
            containers: Default::default(),
            reply_bytes_max: DEFAULT_REPLY_BYTES_MAX,
            local_sessions: false,
            local_sessions_upgrading: false,
        }
    }
}

/// Figures for four-letter words and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreStats {
    pub last_zxid: i64,
    pub node_count: usize,
    pub watch_count: usize,
    pub data_watch_count: usize,
    pub watched_data_paths: usize,
    pub watching_connections: usize,
    pub sessions: usize,
    /// Local sessions of this member (`zk_local_sessions`); `sessions` counts the global ones.
    pub local_sessions: usize,
    pub ephemerals_count: usize,
    pub approximate_data_size: u64,
    pub outstanding_requests: usize,
    pub connections: usize,
}

/// Where a request waits for earlier writes of its connection.
#[derive(Debug)]
enum Queued {
    Write(i64),
    /// A write or sync handed to the leader, answered when its txn (or the leader's SYNC) comes back.
    Remote {
        xid: i32,
        op: OpCode,
    },
    Read(RequestHeader, Result<Request, ErrorCode>),
}

/// A client connection as the core sees it.
#[derive(Debug)]
struct Conn {
    session: Option<SessionId>,
    ids: auth_ids::AuthIds,
    /// Frames that arrived before the session was settled (ZooKeeper stops reading until then).
    deferred: VecDeque<(RequestHeader, Result<Request, RequestError>)>,
    queue: VecDeque<Queued>,
    closed: bool,
    /// Where the connection's SASL exchange stands.
    sasl: sasl::DigestMd5,
}

/// Who waits for a txn.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Client {
        conn: ConnId,
        xid: i32,
        op: OpCode,
    },
    Connect {
        conn: ConnId,
        read_only: Option<bool>,
    },
    Expiry,
    /// A learner's request prepared by the leader: the learner answers its client.
    Learner,
}

#[derive(Debug)]
struct InFlight {
    txn: Txn,
    origin: Origin,
}

/// The state machine of one server.
#[derive(Debug)]
pub struct Core {
    config: CoreConfig,
    policy: AclPolicy,
    tree: SharedTree,
    sessions: SessionTracker,
    /// Local sessions (`LocalSessionTracker`): known to this member only, never in a txn or a snapshot.
    local: SessionTracker,
    /// Writes of local sessions answered with an error of their own once their txn commits, by connection
    /// and xid (an ephemeral create refused while upgrading is off: the txn is still made, as in ZooKeeper).
    refused: std::collections::BTreeMap<(ConnId, i32), ErrorCode>,
    watches: WatchManager,
    pending: Pending,
    conns: HashMap<ConnId, Conn>,
    inflight: VecDeque<InFlight>,
    /// The zxid handed to the last prepared txn.
    next_zxid: i64,
    /// When the container manager runs next (monotonic ms).
    next_container_check_ms: u64,
    /// Sessions expired by ticks so far.
    sessions_expired: u64,
    /// Write replies dropped because their connection had closed.
    stale_replies: u64,
    /// Applied txns whose digest differed from the tree's (`DataTree.compareDigest`).
    digest_mismatches: u64,
    /// Bytes read and written per top-level namespace, until the server drains them.
    namespaces: namespace::NamespaceStats,
    /// Where txns are encoded. Each entry is copied out at its exact size: the `Bytes` of a vector with room to
    /// spare would take a second allocation, and a fresh vector would grow while encoding.
    encode_buf: Vec<u8>,
    /// Standalone, leader or follower (see `replica`).
    role: Role,
    /// A follower's sessions touched since its last PING answer, with their timeouts.
    touched: std::collections::BTreeMap<i64, i32>,
    /// A follower's session creations handed to the leader, by session id.
    pending_connects: std::collections::BTreeMap<i64, (ConnId, Option<bool>)>,
    /// A follower's syncs handed to the leader, oldest first (`FollowerZooKeeperServer.pendingSyncs`).
    pending_syncs: VecDeque<(ConnId, i32, Option<String>)>,
    /// A leader's session creations prepared for a learner, by session id: the learner owns the session
    /// once it is created.
    created_by: std::collections::BTreeMap<i64, session::Owner>,
    /// A follower's resumed sessions waiting for the leader's REVALIDATE answer: connection, timeout, read-only.
    pending_revalidations: std::collections::BTreeMap<i64, (ConnId, i32, Option<bool>)>,
    /// A read-only server's connections and their idle timeouts.
    read_only: read_only::ReadOnlyConns,
    /// Where SASL challenges draw their nonces from: seeded from `CoreConfig::nonce_seed`, so a simulation
    /// replays the same exchange.
    nonces: rand::rngs::StdRng,
}

/// The capacity the txn encoding buffer keeps after a larger txn.
const ENCODE_BUF_KEPT_BYTES: usize = 64 * 1024;

/// Running totals of core events, for the server's metrics (cheap to read: plain fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventCounts {
    /// Change records prepared writes added (`outstanding_changes_queued`).
    pub changes_queued: u64,
    /// Change records dropped after their txn was applied (`outstanding_changes_removed`).
    pub changes_removed: u64,
    /// Sessions expired by ticks (`stale_sessions_expired`).
    pub sessions_expired: u64,
    /// Replies to writes whose connection closed before they were applied (`stale_replies`).
    pub stale_replies: u64,
    /// Applied txns whose `TxnDigest` differed from the tree's digest after them (`digest_mismatches_count`).
    pub digest_mismatches: u64,
}

impl Core {
    pub fn new(config: CoreConfig, now: Now) -> Core {
        let policy = AclPolicy {
            skip_acl: config.skip_acl,
            super_digest: config.super_digest.clone(),
            sasl_provider: config.sasl_provider,
            let_any_sasl_user: config.let_any_sasl_user.clone(),
        };
        Core {
            tree: SharedTree::new(DataTree::new(config.extended_types)),
            sessions: SessionTracker::new(config.server_id, config.tick_time_ms, now.wall_ms),
            local: SessionTracker::new(config.server_id, config.tick_time_ms, now.wall_ms),
            refused: Default::default(),
            watches: WatchManager::default(),
            pending: Pending::default(),
            sessions_expired: 0,
            stale_replies: 0,
            digest_mismatches: 0,
            namespaces: namespace::NamespaceStats::default(),
            encode_buf: Vec::new(),
            conns: HashMap::default(),
            inflight: VecDeque::new(),
            next_zxid: 0,
            next_container_check_ms: now.mono_ms + config.containers.check_interval_ms,
            role: Role::Standalone,
            touched: Default::default(),
            pending_connects: Default::default(),
            pending_syncs: VecDeque::new(),
            pending_revalidations: Default::default(),
            read_only: Default::default(),
            created_by: Default::default(),
            nonces: rand::SeedableRng::from_seed(config.nonce_seed),
            policy,
            config,
        }
    }

    /// A core over a recovered database: the tree (from a snapshot and the log) and the live sessions with
    /// their timeouts, which are touched now and expire later as usual unless their clients come back
    /// (`SessionTrackerImpl` built from `ZKDatabase.getSessionWithTimeOuts`). Zxids continue after the tree's.
    pub fn restore(config: CoreConfig, now: Now, tree: DataTree, sessions: &[(SessionId, i32)]) -> Core {
        let mut core = Core::new(config, now);
        core.next_zxid = tree.last_processed_zxid().0;
        core.tree.replace(tree);
        for (id, timeout_ms) in sessions {
            core.sessions.add(*id, *timeout_ms, now.mono_ms);
        }
        core
    }

    /// The zxid of the last applied txn.
    pub fn last_zxid(&self) -> Zxid {
        self.tree.read().last_processed_zxid()
    }

    /// Read access to the tree (for dumps and digests).
    pub fn tree(&self) -> std::sync::RwLockReadGuard<'_, DataTree> {
        self.tree.read()
    }

    /// A handle to the tree for a snapshot thread, which walks it while the core goes on.
    pub fn shared_tree(&self) -> SharedTree {
        self.tree.clone()
    }

    /// Read access to the sessions.
    pub fn sessions(&self) -> &SessionTracker {
        &self.sessions
    }

    /// Running totals of events the server publishes as metrics.
    pub fn event_counts(&self) -> EventCounts {
        EventCounts {
            changes_queued: self.pending.queued,
            changes_removed: self.pending.removed,
            sessions_expired: self.sessions_expired,
            stale_replies: self.stale_replies,
            digest_mismatches: self.digest_mismatches,
        }
    }

    /// Moves the watcher counts of the triggers fired since the last call into `out` (emptied first):
    /// one entry per trigger that fired at least one watcher, as `WatchManager.triggerWatch` records them.
    pub fn take_watch_counts(&mut self, out: &mut Vec<(EventType, u32)>) {
        out.clear();
        std::mem::swap(out, &mut self.watches.fired_counts);
    }

    /// Hands the per-namespace reads and writes recorded since the last call to `f` (namespace name,
    /// write, bytes), then forgets them.
    pub fn drain_namespace_events(&mut self, mut f: impl FnMut(&str, bool, u64)) {
        for e in &self.namespaces.events {
            f(self.namespaces.name(e.namespace), e.write, e.bytes);
        }
        self.namespaces.events.clear();
    }

    /// Read access to the watches.
    pub fn watches(&self) -> &WatchManager {
        &self.watches
    }

    /// The session of a connection, once settled.
    pub fn session_of(&self, conn: ConnId) -> Option<SessionId> {
        self.conns.get(&conn).and_then(|c| c.session)
    }

    pub fn stats(&self) -> CoreStats {
        let tree = self.tree.read();
        CoreStats {
            last_zxid: self.last_zxid().0,
            node_count: tree.node_count(),
            watch_count: self.watches.watch_count(),
            data_watch_count: self.watches.data_watch_count(),
            watched_data_paths: self.watches.data_paths(),
            watching_connections: self.watches.watching_conns(),
            sessions: self.sessions.len(),
            local_sessions: self.local.len(),
            ephemerals_count: tree.ephemeral_count(),
            approximate_data_size: tree.approximate_data_size(),
            outstanding_requests: self
                .conns
                .values()
                .map(|c| c.queue.len() + c.deferred.len())
                .sum(),
            connections: self.conns.len(),
        }
    }

    /// A frame after the handshake.
    pub fn request(
        &mut self,
        now: Now,
        conn: ConnId,
        header: RequestHeader,
        body: Result<Request, RequestError>,
    ) -> Vec<Effect> {
        let mut out = Vec::new();
        let Some(c) = self.conns.get_mut(&conn) else {
            return out;
        };
        if c.closed {
            return out;
        }
        if c.session.is_none() || !c.deferred.is_empty() {
            c.deferred.push_back((header, body));
            return out;
        }
        self.dispatch(now, conn, header, body, &mut out);
        out
    }

    fn dispatch(
        &mut self,
        now: Now,
        conn: ConnId,
        header: RequestHeader,
        body: Result<Request, RequestError>,
        out: &mut Vec<Effect>,
    ) {
        let Some(session) = self.session_of(conn) else {
            return;
        };
        if !self.authenticated_enough(conn, header.op) {
            // `AuthenticationHelper.enforceAuthentication`: SESSIONCLOSEDREQUIRESASLAUTH with zxid 0, then the
            // connection is closed; the session stays until it expires.
            out.push(Effect::Send {
                conn,
                frame: reply::header_only(header.xid, 0, ErrorCode::SessionClosedRequireSaslAuth.code()),
            });
            self.close_conn(conn, out);
            return;
        }
        self.touch_own(session, now);
        self.touch_read_only(conn, now);
        if self.refuse_read_only(conn, header, out) {
            return;
        }
        let request = match body {
            Ok(Request::Check(_)) | Err(RequestError::Unimplemented(_)) => {
                // Top-level check and unknown opcodes: UNIMPLEMENTED with zxid -1, then close
                // (`UnimplementedRequestProcessor`, ZOOKEEPER-2623 for check).
                out.push(Effect::Send {
                    conn,
                    frame: reply::header_only(header.xid, -1, ErrorCode::Unimplemented.code()),
                });
                self.close_conn(conn, out);
                return;
            }
            Ok(Request::Auth(packet)) => return self.auth(conn, header, &packet, out),
            Ok(Request::Sasl(ref sasl)) if sasl.token.is_none() => {
                // ZooKeeper reads the token's length before anything else (`processSasl`): a null token fails
                // there and the connection is closed without a reply.
                self.close_conn(conn, out);
                return;
            }
            Ok(Request::Sasl(sasl)) => {
                return self.sasl(conn, header, sasl.token.as_deref().unwrap_or_default(), out)
            }
            Ok(r) => r,
            Err(RequestError::Marshalling { source, .. }) if source.is_null_acl_in_multi() => {
                // Refused before ZooKeeper takes a zxid (see `is_null_acl_in_multi`): no txn.
                self.queue_read(conn, header, Err(ErrorCode::MarshallingError), out);
                return;
            }
            Err(RequestError::Marshalling { op, body, .. }) => {
                // ZooKeeper 3.9 reads a request's record before it takes a zxid (`PrepRequestProcessor.
                // pRequestHelper`): a body that does not decode is answered MARSHALLINGERROR and the zxid does
                // not move. It then logs an error txn under the zxid already used; nothing is written here.
                // Only a multi takes its zxid before its record is read, so its error is a txn of its own:
                // a follower hands the multi to its leader as it came, and is answered by that txn.
                // (3.8 took a zxid for every write, and answered a client's deleteContainer BADARGUMENTS
                // whatever its body.)
                if OpCode::from_code(op) == Some(OpCode::Multi) && self.role == Role::Follower {
                    self.forward(
                        conn,
                        session,
                        header.xid,
                        OpCode::Multi,
                        ForwardedBody::Undecoded(body),
                        out,
                    );
                } else if OpCode::from_code(op) == Some(OpCode::Multi) {
                    let body = TxnBody::Error(jute::records::txn::ErrorTxn {
                        err: ErrorCode::MarshallingError.code(),
                    });
                    self.propose(
                        now,
                        conn,
                        header.xid,
                        OpCode::Multi,
                        session,
                        OpCode::Error,
                        body,
                        out,
                    );
                } else {
                    self.queue_read(conn, header, Err(ErrorCode::MarshallingError), out);
                }
                return;
            }
        };
        let op = request.opcode();
        if op == OpCode::CloseSession && self.is_local(session) {
            // No txn: answered in session order, after the writes before it (`setLocalSessionFlag`).
            self.close_local(session);
            return self.queue_read(conn, header, Ok(request), out);
        }
        if is_write(op) {
            self.check_upgrade(now, conn, session, header.xid, &request, out);
        }
        if self.role == Role::Follower && (is_write(op) || op == OpCode::Sync) {
            return self.forward(conn, session, header.xid, op, ForwardedBody::Client(request), out);
        }
        if self.role == Role::Leader && !is_write(op) {
            // A leader's reads, syncs and pings go through its prep, which checks who owns the session: one
            // that moved to another member is answered by closing this connection, behind what it waits for.
            if let Err(ErrorCode::SessionMoved) = self.check_session(session, session::Owner::Me) {
                self.queue_read(conn, header, Err(ErrorCode::SessionMoved), out);
                return;
            }
        }
        match request {
            Request::MultiRead(ref m)
                if m.ops.iter().any(|o| o.is_read()) && m.ops.iter().any(|o| !o.is_read()) =>
            {
                // Mixed read and write ops fail to decode (`MultiOperationRecord`): an error with no body.
                self.queue_read(conn, header, Err(ErrorCode::MarshallingError), out);
            }
            Request::CloseSession => {
                let body = self.close_session_body(session);
                self.sessions.set_closing(session);
                self.propose(
                    now,
                    conn,
                    header.xid,
                    op,
                    session,
                    OpCode::CloseSession,
                    body,
                    out,
                );
            }
            // Only the container manager may delete containers: it has no ACL check. Apache ZooKeeper 3.8 reads
            // a client's deleteContainer path from the whole packet, header included, so the path never
            // validates and the request becomes a BADARGUMENTS error txn, whatever its body (`prepare_write`).
            // (3.9 decodes it, and would delete an empty container or TTL node without any ACL check: that is
            // not reproduced.) A multi with read ops is a MARSHALLINGERROR error txn.
            r if is_write(op) => {
                let (txn_type, body) =
                    self.prepare_write(now, session, Some(conn), session::Owner::Me, &[], r);
                self.propose(now, conn, header.xid, op, session, txn_type, body, out);
            }
            r => self.queue_read(conn, header, Ok(r), out),
        }
    }

    /// False when `enforce.auth` is on, `op` is neither auth nor sasl (ZooKeeper checks every other packet,
    /// pings and unknown opcodes included), and the connection has no id of an enforced scheme.
    fn authenticated_enough(&self, conn: ConnId, op: i32) -> bool {
        let Some(schemes) = &self.config.enforce_auth_schemes else {
            return true;
        };
        if op == OpCode::Auth.code() || op == OpCode::Sasl.code() {
            return true;
        }
        self.conns
            .get(&conn)
            .is_some_and(|c| c.ids.as_slice().iter().any(|id| schemes.contains(&id.scheme)))
    }

    /// Assigns the next zxid to a txn, emits it for persistence and remembers who waits for it.
    #[allow(clippy::too_many_arguments)]
    fn propose(
        &mut self,
        now: Now,
        conn: ConnId,
        xid: i32,
        op: OpCode,
        session: SessionId,
        txn_type: OpCode,
        body: TxnBody,
        out: &mut Vec<Effect>,
    ) {
        let origin = Origin::Client { conn, xid, op };
        self.propose_txn(now, session, xid, txn_type, body, origin, out);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.queue.push_back(Queued::Write(self.next_zxid));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn propose_txn(
        &mut self,
        now: Now,
        session: SessionId,
        cxid: i32,
        txn_type: OpCode,
        body: TxnBody,
        origin: Origin,
        out: &mut Vec<Effect>,
    ) {
        assert!(
            self.role != Role::ReadOnly,
            "a read-only server never makes a txn"
        );
        self.next_zxid += 1;
        let header = TxnHeader {
            client_id: session.0,
            cxid,
            zxid: self.next_zxid,
            time: now.wall_ms,
            txn_type: txn_type.code(),
        };
        // `setTxnDigest`: the digest the tree will have once this txn is applied. A write that failed before
        // it was prepared has none (ZooKeeper's prep threw before setting it); a multi whose op failed has one.
        let digest = (self.config.digest_enabled && txn_type != OpCode::Error).then(|| TxnDigest {
            version: tree::digest::DIGEST_VERSION,
            tree_digest: self.pending.tree_digest(&self.tree.read()) as i64,
        });
        let txn = Txn { header, body, digest };
        self.encode_buf.clear();
        if let Err(e) = txn.encode_into(&mut self.encode_buf) {
            // A txn the codec cannot encode would be lost on restart: stop before acknowledging it.
            panic!("txn 0x{:x} cannot be encoded: {e}", self.next_zxid)
        }
        out.push(Effect::Persist {
            zxid: Zxid(self.next_zxid),
            entry: Bytes::copy_from_slice(&self.encode_buf),
        });
        // One large txn must not keep its buffer for good.
        self.encode_buf.shrink_to(ENCODE_BUF_KEPT_BYTES);
        self.inflight.push_back(InFlight { txn, origin });
    }

    /// The ephemerals a closeSession removes: those in the tree plus those pending writes will create, minus
    /// those pending writes will delete (`PrepRequestProcessor`, closeSession case).
    fn close_session_body(&mut self, session: SessionId) -> TxnBody {
        let tree = self.tree.read();
        let paths = self.pending.ephemerals_of(&tree, session.0);
        let zxid = self.next_zxid + 1;
        for p in &paths {
            self.pending.delete_for_close(&tree, zxid, p);
        }
        TxnBody::CloseSession(Some(jute::records::txn::CloseSessionTxn { paths2_delete: paths }))
    }

    /// The connection went away: its watches go, its session stays until it expires.
    pub fn disconnected(&mut self, _now: Now, conn: ConnId) -> Vec<Effect> {
        self.forget_read_only(conn);
        if !self.refused.is_empty() {
            self.refused.retain(|(c, _), _| *c != conn);
        }
        if let Some(c) = self.conns.remove(&conn) {
            if let Some(s) = c.session {
                for tracker in [&mut self.sessions, &mut self.local] {
                    if let Some(session) = tracker.get_mut(s) {
                        if session.conn == Some(conn) {
                            session.conn = None;
                        }
                    }
                }
            }
        }
        self.watches.remove_conn(conn);
        Vec::new()
    }

    fn close_conn(&mut self, conn: ConnId, out: &mut Vec<Effect>) {
        if let Some(c) = self.conns.get_mut(&conn) {
            if !c.closed {
                c.closed = true;
                out.push(Effect::Close { conn });
            }
        }
    }

    /// Expires sessions whose time has passed: each becomes a closeSession txn.
    pub fn tick(&mut self, now: Now) -> Vec<Effect> {
        let mut out = Vec::new();
        match self.role {
            // Only the leader expires global sessions and reaps containers; a member expires its local ones.
            Role::Follower => {
                self.expire_local(now, &mut out);
                return out;
            }
            // A read-only server tracks no session: only idle connections are closed.
            Role::ReadOnly => {
                self.expire_local(now, &mut out);
                self.expire_read_only(now, &mut out);
                return out;
            }
            Role::Standalone | Role::Leader => {}
        }
        self.expire_local(now, &mut out);
        for session in self.sessions.expire(now.mono_ms) {
            tracing::info!(session = %session, "session expired");
            self.sessions_expired += 1;
            let body = self.close_session_body(session);
            self.propose_txn(
                now,
                session,
                0,
                OpCode::CloseSession,
                body,
                Origin::Expiry,
                &mut out,
            );
        }
        self.check_containers(now, &mut out);
        out
    }

    /// Txns up to `up_to` are durable: apply them, fire watches, reply, and serve the reads that waited.
    pub fn persisted(&mut self, now: Now, up_to: Zxid) -> Vec<Effect> {
        let mut out = Vec::new();
        // One pause for the batch: a snapshot walker stays out until every txn of it is applied.
        let shared = self.tree.clone();
        let _pause = shared.pause();
        while self
            .inflight
            .front()
            .is_some_and(|f| f.txn.header.zxid <= up_to.0)
        {
            let Some(f) = self.inflight.pop_front() else { break };
            self.commit(now, f, &mut out);
        }
        out
    }
}

/// True for opcodes that become txns.
fn is_write(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::Create
            | OpCode::Create2
            | OpCode::CreateContainer
            | OpCode::CreateTtl
            | OpCode::Delete
            | OpCode::SetData
            | OpCode::SetAcl
            | OpCode::Multi
            | OpCode::Reconfig
            | OpCode::CloseSession
            | OpCode::DeleteContainer
    )
}

#[cfg(test)]
mod hostile_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod read_only_tests;
#[cfg(test)]
mod replica_tests;
#[cfg(test)]
mod sasl_tests;
#[cfg(test)]
mod tests;
