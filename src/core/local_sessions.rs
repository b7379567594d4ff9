//! Local sessions of an ensemble member (`localSessionsEnabled`): `LocalSessionTracker`, and what
//! `LearnerSessionTracker`, `LeaderSessionTracker` and `QuorumZooKeeperServer.checkUpgradeSession` do with it.
//!
//! With local sessions on, a member's new sessions are its own: created, touched, closed and expired here
//! without a txn, never reported in PING answers, never in a snapshot. Their ids are laid out as global ones
//! (the member's id in the top byte), from a counter of their own. Their reads are served here and their
//! writes go through the leader as any other. A create (or create2, or a multi with such a create) of an
//! ephemeral node first makes the session global: it leaves the local table and a createSession txn goes
//! ahead of the write (`localSessionsUpgradingEnabled`). With upgrading off the write still goes to the
//! leader, which refuses an ephemeral of a session that is not global (an error txn), and the client is
//! answered EPHEMERALONLOCALSESSION (a multi gets the leader's result), as ZooKeeper answers.
//!
//! A leader with local sessions on accepts the writes of a session it does not know when the session's top
//! byte names another server: it may be that server's local session (`LeaderSessionTracker.checkSession`).

use jute::codes::{CreateMode, ErrorCode, OpCode};
use jute::records::multi::MultiOp;
use jute::records::txn::CreateSessionTxn;
use jute::request::Request;

use super::replica::Role;
use super::txn::TxnBody;
use super::{Core, Effect, Origin};
use crate::types::{ConnId, Now, SessionId};

impl Core {
    /// True when this member makes local sessions (ZooKeeper's standalone server ignores the setting).
    pub(super) fn local_sessions_on(&self) -> bool {
        self.config.local_sessions && matches!(self.role, Role::Leader | Role::Follower)
    }

    /// True if `id` is one of this member's local sessions.
    pub(super) fn is_local(&self, id: SessionId) -> bool {
        self.local.get(id).is_some()
    }

    /// The connection a session (local or global) is attached to.
    pub(super) fn conn_of_session(&self, id: SessionId) -> Option<ConnId> {
        self.sessions
            .get(id)
            .or_else(|| self.local.get(id))
            .and_then(|s| s.conn)
    }

    /// A new session on `conn` as a local one: settled at once, no txn.
    pub(super) fn create_local(
        &mut self,
        now: Now,
        conn: ConnId,
        timeout: i32,
        read_only: Option<bool>,
        out: &mut Vec<Effect>,
    ) {
        let id = self.local.next_session_id();
        self.local.add(id, timeout, now.mono_ms);
        if let Some(s) = self.local.get_mut(id) {
            s.conn = Some(conn);
        }
        tracing::info!(session = %id, "local session created");
        self.settle(now, conn, id, timeout, read_only, out);
    }

    /// A client bringing back one of this member's local sessions (`ZooKeeperServer.revalidateSession` on
    /// the local table): it moves to `conn` if the password matches and it is not closing.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn resume_local(
        &mut self,
        now: Now,
        conn: ConnId,
        id: SessionId,
        password_ok: bool,
        timeout: i32,
        read_only: Option<bool>,
        out: &mut Vec<Effect>,
    ) {
        if let Some(old) = self.local.get(id).and_then(|s| s.conn) {
            if old != conn {
                self.close_conn(old, out);
            }
        }
        let valid = password_ok
            && self.local.get(id).is_some_and(|s| !s.closing)
            && self.local.touch(id, now.mono_ms);
        if valid {
            self.local.set_timeout(id, timeout, now.mono_ms);
            if let Some(s) = self.local.get_mut(id) {
                s.conn = Some(conn);
            }
        }
        self.finish_resume(now, conn, id, timeout, read_only, valid, out);
    }

    /// Touches a local session; false if `id` is not one.
    pub(super) fn touch_local(&mut self, id: SessionId, now: Now) -> bool {
        self.local.touch(id, now.mono_ms)
    }

    /// The closeSession of a local session, answered here in session order: no txn.
    pub(super) fn close_local(&mut self, session: SessionId) {
        self.local.set_closing(session);
    }

    /// The closeSession reply of a local session is being sent: forget it.
    pub(super) fn closed_local(&mut self, session: SessionId) {
        if self.local.remove(session).is_some() {
            tracing::info!(session = %session, "local session closed");
        }
    }

    /// Local sessions whose time has passed: forgotten and their connections closed, no txn.
    pub(super) fn expire_local(&mut self, now: Now, out: &mut Vec<Effect>) {
        for id in self.local.expire(now.mono_ms) {
            tracing::info!(session = %id, "local session expired");
            self.sessions_expired += 1;
            if let Some(conn) = self.local.remove(id).and_then(|s| s.conn) {
                self.close_conn(conn, out);
            }
        }
    }

    /// Before a write of a local session goes to the leader (or is prepared here, on the leader): an
    /// ephemeral create needs a global session (`checkUpgradeSession`).
    pub(super) fn check_upgrade(
        &mut self,
        now: Now,
        conn: ConnId,
        session: SessionId,
        xid: i32,
        request: &Request,
        out: &mut Vec<Effect>,
    ) {
        if !self.local_sessions_on() || !self.is_local(session) || !creates_ephemeral(request) {
            return;
        }
        if !self.config.local_sessions_upgrading {
            // The leader's prep answers its own client with the error (see `ephemeral_check`); a follower's
            // client gets it in place of the leader's error for the create (`FinalRequestProcessor`).
            if self.role == Role::Follower && !matches!(request, Request::Multi(_)) {
                self.refused
                    .insert((conn, xid), ErrorCode::EphemeralOnLocalSession);
            }
            return;
        }
        let Some(local) = self.local.remove(session) else {
            return;
        };
        tracing::info!(session = %session, "upgrading local session");
        // Tracked as global from now on, on the connection it has; the createSession txn re-adds it.
        self.sessions.add(session, local.timeout_ms, now.mono_ms);
        if let Some(s) = self.sessions.get_mut(session) {
            s.conn = local.conn;
        }
        let txn = CreateSessionTxn {
            time_out: local.timeout_ms,
        };
        if self.role == Role::Follower {
            out.push(Effect::Forward {
                request: jute::quorum::ForwardedRequest {
                    session_id: session.0,
                    cxid: 0,
                    op: OpCode::CreateSession.code(),
                    body: jute::quorum::ForwardedBody::CreateSession(txn),
                },
                auth: Vec::new(),
            });
        } else {
            self.propose_txn(
                now,
                session,
                0,
                OpCode::CreateSession,
                TxnBody::CreateSession(txn),
                Origin::Learner,
                out,
            );
        }
    }

    /// The session check of a write prepared here (`LeaderSessionTracker.checkSession` when local sessions
    /// are on, `SessionTrackerImpl.checkSession` otherwise).
    pub(super) fn session_check(&self, session: SessionId) -> Result<(), ErrorCode> {
        if let Some(s) = self.sessions.get(session) {
            return if s.closing {
                Err(ErrorCode::SessionExpired)
            } else {
                Ok(())
            };
        }
        if !self.local_sessions_on() {
            return Err(ErrorCode::SessionExpired);
        }
        match self.local.get(session) {
            Some(s) if !s.closing => Ok(()),
            Some(_) => Err(ErrorCode::SessionExpired),
            // Perhaps another member's local session; one of this server's own is expired.
            None if session.0 >> 56 != self.config.server_id => Ok(()),
            None => Err(ErrorCode::SessionExpired),
        }
    }
}

impl Core {
    /// The session check of an ephemeral create prepared here: the session must be global. A client of this
    /// server whose local session could not be upgraded gets EPHEMERALONLOCALSESSION instead (the error
    /// `checkUpgradeSession` leaves on the request; a forwarded request does not carry it).
    pub(super) fn ephemeral_check(&self, session: SessionId, own_client: bool) -> Result<(), ErrorCode> {
        match self.sessions.get(session) {
            Some(s) if !s.closing => Ok(()),
            Some(_) => Err(ErrorCode::SessionExpired),
            None if own_client && self.local_sessions_on() && self.is_local(session) => {
                Err(ErrorCode::EphemeralOnLocalSession)
            }
            None => Err(ErrorCode::SessionExpired),
        }
    }
}

/// True for a create or create2 of an ephemeral node, or a multi holding one (what `checkUpgradeSession`
/// looks at: createContainer and createTTL are not).
fn creates_ephemeral(request: &Request) -> bool {
    let ephemeral = |op: OpCode, flags: i32| {
        matches!(op, OpCode::Create | OpCode::Create2)
            && CreateMode::from_code(flags).is_some_and(|m| m.is_ephemeral())
    };
    match request {
        Request::Create(op, r) => ephemeral(*op, r.flags),
        Request::Multi(m) => m.ops.iter().any(|o| match o {
            MultiOp::Create(op, r) => ephemeral(*op, r.flags),
            _ => false,
        }),
        _ => false,
    }
}
