//! A member cut off from its quorum, serving reads (`ReadOnlyZooKeeperServer`; the runtime starts it while the
//! member looks for a leader, `server::peer`). What follows is ZooKeeper's default of no local sessions; with
//! `localSessionsEnabled` a new session is a local one (taken, read-only, closed and expired here without a
//! txn), and only the server's own local sessions can be brought back.
//!
//! - **Handshake** (`ZooKeeperServer.processConnectRequest`): a client that did not say it can be read-only
//!   is closed before anything else. A new session (id 0) takes an id, but `ReadOnlyRequestProcessor` refuses
//!   its createSession, which is not a local session: the client gets a bare reply header (xid 0, the last
//!   zxid, NOTREADONLY) where it waits for its ConnectResponse, and the connection stays until the
//!   sessionless-connection timeout closes it. A session the database holds (a global one) is refused
//!   (`validateSession`: "Refusing global session reconnection in RO mode"). Any other id is taken on its
//!   password alone and answered with `readOnly` set: it is tracked by no session tracker, so it never expires;
//!   only its connection is closed when idle for the session timeout (`NIOServerCnxnFactory`'s expiry queue,
//!   whose deadlines are rounded up to the next multiple of the sessionless-connection timeout).
//! - **Requests** (`ReadOnlyRequestProcessor`): every write, `sync` and `closeSession` is answered NOTREADONLY
//!   with the last zxid; the rest is served from the tree as usual. Nothing becomes a txn: nothing is logged
//!   and the tree never changes.

use std::collections::BTreeMap;

use jute::codes::{ErrorCode, OpCode};
use jute::records::proto::RequestHeader;

use super::session::password;
use super::{reply, Core, Effect, Role};
use crate::types::{ConnId, Now, SessionId};

/// The connections of a read-only server and when each is closed if idle.
#[derive(Debug, Default)]
pub(super) struct ReadOnlyConns {
    /// Connection -> (its session, 0 while it has none; its idle timeout; when it is closed unless active,
    /// monotonic ms).
    idle: BTreeMap<ConnId, (SessionId, u64, u64)>,
    /// How long a connection without a session is kept (`zookeeper.nio.sessionlessCnxnTimeout`).
    sessionless_ms: u64,
}

impl ReadOnlyConns {
    fn deadline(&self, now: Now, timeout_ms: u64) -> u64 {
        rounded_deadline(now, timeout_ms, self.sessionless_ms)
    }
}

/// `ExpiryQueue.roundToNextInterval(now + timeout)`: the end of the interval the deadline falls in.
fn rounded_deadline(now: Now, timeout_ms: u64, interval_ms: u64) -> u64 {
    let at = now.mono_ms.saturating_add(timeout_ms);
    match interval_ms {
        0 => at,
        i => (at / i + 1) * i,
    }
}

/// The opcodes `ReadOnlyRequestProcessor` answers NOTREADONLY (`check` never gets there: it is unimplemented
/// at the top level, ZOOKEEPER-2623).
pub(super) fn refused(op: i32) -> bool {
    matches!(
        OpCode::from_code(op),
        Some(
            OpCode::Sync
                | OpCode::Create
                | OpCode::Create2
                | OpCode::CreateTtl
                | OpCode::CreateContainer
                | OpCode::Delete
                | OpCode::DeleteContainer
                | OpCode::SetData
                | OpCode::Reconfig
                | OpCode::SetAcl
                | OpCode::Multi
                | OpCode::CloseSession
        )
    )
}

impl Core {
    /// Serve read-only from now on, connections without a session kept `sessionless_ms`. Called before any
    /// client connects.
    pub fn become_read_only(&mut self, sessionless_ms: u64) {
        self.role = Role::ReadOnly;
        self.read_only.sessionless_ms = sessionless_ms;
    }

    /// Stop serving read-only: every connection is forgotten (with its watches), and the core is as the
    /// database was recovered, for the role that follows.
    pub fn leave_read_only(&mut self, now: Now) {
        assert!(self.inflight.is_empty(), "a read-only server made a txn");
        // Its local sessions go with it, as its session tracker does.
        self.local.clear();
        let conns: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in conns {
            self.disconnected(now, conn);
        }
        self.read_only = ReadOnlyConns::default();
        self.role = Role::Standalone;
    }

    /// The handshake of a read-only server once the client's flag and zxid passed: `timeout` is already
    /// within the bounds.
    pub(super) fn connect_read_only(
        &mut self,
        now: Now,
        conn: ConnId,
        session_id: i64,
        passwd: &[u8],
        timeout: i32,
        out: &mut Vec<Effect>,
    ) {
        if session_id == 0 && self.config.local_sessions {
            // With local sessions a read-only server's new sessions are local ones (`setLocalSessionFlag`).
            self.create_local(now, conn, timeout, Some(true), out);
            let idle = u64::try_from(timeout).unwrap_or(0);
            let deadline = self.read_only.deadline(now, idle);
            if let Some(id) = self.session_of(conn) {
                self.read_only.idle.insert(conn, (id, idle, deadline));
            }
            return;
        }
        if session_id == 0 {
            // `LearnerSessionTracker.createSession` takes the id; the createSession request is then refused.
            let id = self.sessions.next_session_id();
            tracing::info!(%conn, session = %id, "a new session cannot be created by a read-only server");
            out.push(Effect::Send {
                conn,
                frame: reply::header_only(0, self.last_zxid().0, ErrorCode::NotReadOnly.code()),
            });
            let idle = self.read_only.sessionless_ms;
            let deadline = self.read_only.deadline(now, idle);
            self.read_only.idle.insert(conn, (SessionId(0), idle, deadline));
            return;
        }
        let id = SessionId(session_id);
        if self.sessions.get(id).is_some() {
            tracing::info!(%conn, session = %id, "refusing global session reconnection in read-only mode");
            self.close_conn(conn, out);
            return;
        }
        // The session moves to its newest connection (`serverCnxnFactory.closeSession`).
        let older: Vec<ConnId> = (self.read_only.idle.iter())
            .filter(|(c, (s, ..))| *s == id && **c != conn)
            .map(|(c, _)| *c)
            .collect();
        for old in older {
            self.close_conn(old, out);
        }
        if self.config.local_sessions {
            // `revalidateSession` touches the session: only a local one of this server is known, the others
            // are refused (without local sessions any id is taken, see above).
            let password_ok = passwd == password(id);
            if self.is_local(id) {
                self.resume_local(now, conn, id, password_ok, timeout, Some(true), out);
            } else {
                self.finish_resume(now, conn, id, timeout, Some(true), false, out);
            }
            if let Some(id) = self.session_of(conn) {
                let idle = u64::try_from(timeout).unwrap_or(0);
                let deadline = self.read_only.deadline(now, idle);
                self.read_only.idle.insert(conn, (id, idle, deadline));
            }
            return;
        }
        let valid = passwd == password(id);
        if valid {
            let idle = u64::try_from(timeout).unwrap_or(0);
            let deadline = self.read_only.deadline(now, idle);
            self.read_only.idle.insert(conn, (id, idle, deadline));
        }
        self.finish_resume(now, conn, id, timeout, Some(true), valid, out);
    }

    /// A request of a read-only server's client: true if it was answered NOTREADONLY here.
    pub(super) fn refuse_read_only(
        &mut self,
        conn: ConnId,
        header: RequestHeader,
        out: &mut Vec<Effect>,
    ) -> bool {
        if self.role != Role::ReadOnly || !refused(header.op) {
            return false;
        }
        // A local session's closeSession is served (`ReadOnlyRequestProcessor` lets local ones through).
        if header.op == OpCode::CloseSession.code() && self.session_of(conn).is_some_and(|s| self.is_local(s))
        {
            return false;
        }
        self.queue_read(conn, header, Err(ErrorCode::NotReadOnly), out);
        true
    }

    /// A read-only server's client was active.
    pub(super) fn touch_read_only(&mut self, conn: ConnId, now: Now) {
        let interval = self.read_only.sessionless_ms;
        if let Some(entry) = self.read_only.idle.get_mut(&conn) {
            entry.2 = rounded_deadline(now, entry.1, interval);
        }
    }

    /// A read-only server's connection is gone.
    pub(super) fn forget_read_only(&mut self, conn: ConnId) {
        self.read_only.idle.remove(&conn);
    }

    /// Closes the read-only server's connections idle past their timeout.
    pub(super) fn expire_read_only(&mut self, now: Now, out: &mut Vec<Effect>) {
        let idle: Vec<ConnId> = (self.read_only.idle.iter())
            .filter(|(_, (_, _, deadline))| now.mono_ms >= *deadline)
            .map(|(c, _)| *c)
            .collect();
        for conn in idle {
            tracing::info!(%conn, "closing an idle read-only connection");
            self.read_only.idle.remove(&conn);
            self.close_conn(conn, out);
        }
    }
}
