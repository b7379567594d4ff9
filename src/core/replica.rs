//! What changes in the core when the server is a member of an ensemble.
//!
//! A **leader** prepares every write as a standalone server does; its txns are committed when a quorum has
//! logged them rather than when its own log has (the runtime calls `persisted` on the quorum's commit). It
//! also prepares the requests its followers forward ([`Core::forwarded`]), whose answers go back through the
//! follower, and keeps the sessions its followers report alive ([`Core::touch`]). Its zxids carry its epoch
//! ([`Core::start_epoch`]).
//!
//! A **follower** prepares nothing: writes, syncs and session creations go to the leader (`Effect::Forward`,
//! `FollowerRequestProcessor`), and every txn the leader commits is applied here in zxid order
//! ([`Core::apply_committed`]). A committed txn of a session connected here, whose cxid is the one at the head
//! of that connection's queue, answers it; the others only change the tree and fire watches. Reads are served
//! from the local tree in session order as always. Sessions are expired by the leader only; the follower
//! reports the sessions its clients touched (`take_touched`), as ZooKeeper's learners do in their PING answers.

use jute::codes::{ErrorCode, OpCode};
use jute::quorum::{ForwardedBody, ForwardedRequest, SessionTimeout};
use jute::records::data::Id;
use jute::records::proto::SyncResponse;
use jute::records::txn::CreateSessionTxn;
use jute::request::Request;

use super::session::Owner;
use super::txn::{Txn, TxnBody};
use super::{is_write, prep, reply, Core, Effect, InFlight, Origin, Queued};
use crate::types::{ConnId, Now, SessionId, Zxid};

/// What part the server plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// One server alone: it commits what it has logged.
    #[default]
    Standalone,
    /// The leader of an ensemble: commits what a quorum has logged, prepares its followers' requests.
    Leader,
    /// A follower: forwards writes and applies what the leader commits.
    Follower,
    /// A member cut off from its quorum: serves reads, refuses writes, changes nothing (`read_only`).
    ReadOnly,
}

impl Core {
    pub fn role(&self) -> Role {
        self.role
    }

    /// Serve as a follower from now on. Called before any client connects.
    pub fn become_follower(&mut self) {
        self.role = Role::Follower;
    }

    /// An ensemble member's membership in `/zookeeper/config` (`DataTree::set_config`), configuration version 0.
    pub fn set_config(&mut self, text: &[u8], time_ms: i64) {
        self.tree.write().set_config(text, 0, time_ms);
    }

    /// Serve as the leader of `epoch`: the next txn is `(epoch << 32) + 1`, and the tree's last processed zxid
    /// is `epoch << 32` (what `srvr` shows and a snapshot is named after, as on a ZooKeeper leader). Every
    /// session's timeout starts again now, as the sessions of a new leader's tracker do: none expires for the
    /// time it took to elect.
    pub fn start_epoch(&mut self, epoch: i64, now: Now) {
        self.role = Role::Leader;
        self.next_zxid = epoch << 32;
        self.tree.write().raise_last_processed_zxid(Zxid(epoch << 32));
        let ids: Vec<SessionId> = self.sessions.iter().map(|s| s.id).collect();
        for id in ids {
            self.sessions.touch(id, now.mono_ms);
        }
    }

    /// A session touched by one of this server's own clients.
    pub(super) fn touch_own(&mut self, session: SessionId, now: Now) {
        // A local session is touched here only: the leader never hears of it.
        if self.touch_local(session, now) {
            return;
        }
        self.sessions.touch(session, now.mono_ms);
        if self.role == Role::Follower {
            if let Some(s) = self.sessions.get(session) {
                self.touched.insert(session.0, s.timeout_ms);
            }
        }
    }

    /// The sessions touched since the last call, for a follower's PING answer (`LearnerSessionTracker.snapshot`).
    pub fn take_touched(&mut self) -> Vec<SessionTimeout> {
        std::mem::take(&mut self.touched)
            .into_iter()
            .map(|(session_id, timeout)| SessionTimeout { session_id, timeout })
            .collect()
    }

    /// Leader: sessions a follower reports its clients touched (its PING answer).
    pub fn touch(&mut self, now: Now, sessions: &[SessionTimeout]) {
        for s in sessions {
            self.sessions.touch(SessionId(s.session_id), now.mono_ms);
        }
    }

    /// Leader: whether a session a client brings to the learner on connection `from` is alive (REVALIDATE);
    /// touches it if so, and makes that learner its owner (`Leader.revalidateSession`).
    pub fn revalidate(&mut self, now: Now, from: u64, session: SessionTimeout) -> bool {
        let id = SessionId(session.session_id);
        let valid = self.sessions.get(id).is_some_and(|s| !s.closing) && self.sessions.touch(id, now.mono_ms);
        if valid {
            self.set_owner(id, Owner::Learner(from));
        }
        valid
    }

    /// `setOwner`.
    pub(super) fn set_owner(&mut self, id: SessionId, owner: Owner) {
        if let Some(s) = self.sessions.get_mut(id) {
            s.owner = Some(owner);
        }
    }

    /// `SessionTrackerImpl.checkSession` (through `LeaderSessionTracker`): SESSIONEXPIRED for a session
    /// unknown or closing, SESSIONMOVED for one another member owns; a session without an owner becomes
    /// `owner`'s.
    pub(super) fn check_session(&mut self, id: SessionId, owner: Owner) -> Result<(), ErrorCode> {
        match self.sessions.get_mut(id) {
            Some(s) if !s.closing => match s.owner {
                None => {
                    s.owner = Some(owner);
                    Ok(())
                }
                Some(o) if o == owner => Ok(()),
                Some(_) => Err(ErrorCode::SessionMoved),
            },
            Some(_) => Err(ErrorCode::SessionExpired),
            // Not a global session: a local one here, or perhaps another member's (`LeaderSessionTracker`).
            None => self.session_check(id),
        }
    }

    /// Follower: a write or sync of a connected session (or a multi whose record does not decode, as it came)
    /// goes to the leader; the connection's later requests wait behind it.
    pub(super) fn forward(
        &mut self,
        conn: ConnId,
        session: SessionId,
        xid: i32,
        op: OpCode,
        body: ForwardedBody,
        out: &mut Vec<Effect>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.queue.push_back(Queued::Remote { xid, op });
        // In the order ZooKeeper's learner lists them (its `authInfo` is a hash set): an Apache ZooKeeper leader
        // expands an `auth` ACL entry in the order the list comes in.
        let auth = super::auth::java_set_order(c.ids.as_slice())
            .into_iter()
            .cloned()
            .collect();
        if let ForwardedBody::Client(Request::Sync(ref s)) = body {
            self.pending_syncs.push_back((conn, xid, s.path.clone()));
        }
        out.push(Effect::Forward {
            request: ForwardedRequest {
                session_id: session.0,
                cxid: xid,
                op: op.code(),
                body,
            },
            auth,
        });
    }

    /// Follower: a new session's creation goes to the leader; the client is answered when it commits.
    pub(super) fn forward_create_session(
        &mut self,
        conn: ConnId,
        id: SessionId,
        timeout: i32,
        read_only: Option<bool>,
        out: &mut Vec<Effect>,
    ) {
        self.pending_connects.insert(id.0, (conn, read_only));
        out.push(Effect::Forward {
            request: ForwardedRequest {
                session_id: id.0,
                cxid: 0,
                op: OpCode::CreateSession.code(),
                body: ForwardedBody::CreateSession(CreateSessionTxn { time_out: timeout }),
            },
            auth: Vec::new(),
        });
    }

    /// Follower: the leader answered the oldest sync handed to it: every txn committed before it has been
    /// applied here, so the sync is answered (after anything its connection still waits for).
    pub fn synced(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        let Some((conn, xid, path)) = self.pending_syncs.pop_front() else {
            tracing::warn!("SYNC from the leader with no sync pending");
            return out;
        };
        let zxid = self.last_zxid().0;
        let Some(c) = self.conns.get_mut(&conn) else {
            return out;
        };
        if matches!(c.queue.front(), Some(Queued::Remote { xid: x, op: OpCode::Sync }) if *x == xid) {
            c.queue.pop_front();
        }
        if c.closed {
            return out;
        }
        let header = jute::records::proto::ReplyHeader { xid, zxid, err: 0 };
        out.push(Effect::Send {
            conn,
            frame: reply::frame(header, Some(&SyncResponse { path })),
        });
        self.drain_reads(conn, &mut out);
        out
    }

    /// Follower: the leader's answer to REVALIDATE for a session a client brought back here.
    pub fn revalidated(&mut self, now: Now, session: i64, valid: bool) -> Vec<Effect> {
        let mut out = Vec::new();
        let Some((conn, timeout, read_only)) = self.pending_revalidations.remove(&session) else {
            return out;
        };
        if !self.conns.contains_key(&conn) {
            return out;
        }
        let id = SessionId(session);
        // The leader vouches for it; this member knows it too once the txn that created it is applied here.
        let known = self.sessions.get(id).is_some_and(|s| !s.closing);
        self.finish_resume(now, conn, id, timeout, read_only, valid && known, &mut out);
        out
    }

    /// Follower: apply a txn the leader committed, answering the client that asked for it if it is connected
    /// here.
    pub fn apply_committed(&mut self, now: Now, txn: Txn) -> Vec<Effect> {
        let mut out = Vec::new();
        let session = txn.header.client_id;
        let origin = if txn.header.txn_type == OpCode::CreateSession.code() {
            match self.pending_connects.remove(&session) {
                Some((conn, read_only)) => Origin::Connect { conn, read_only },
                None => Origin::Learner,
            }
        } else {
            self.waiting_client(SessionId(session), txn.header.cxid)
                .unwrap_or(Origin::Learner)
        };
        self.next_zxid = self.next_zxid.max(txn.header.zxid);
        let shared = self.tree.clone();
        let _pause = shared.pause();
        self.commit(now, InFlight { txn, origin }, &mut out);
        out
    }

    /// The connection of `session` here whose oldest outstanding request is the forwarded one with `cxid`.
    fn waiting_client(&self, session: SessionId, cxid: i32) -> Option<Origin> {
        let conn = self.conn_of_session(session)?;
        match self.conns.get(&conn)?.queue.front()? {
            Queued::Remote { xid, op } if *xid == cxid => Some(Origin::Client {
                conn,
                xid: *xid,
                op: *op,
            }),
            _ => None,
        }
    }

    /// Leader: a REQUEST from the learner on connection `from`, prepared as the learner's own request would
    /// be, with the connection's auth ids it carried. Its txn is committed like any other; the learner answers
    /// its client.
    pub fn forwarded(&mut self, now: Now, from: u64, request: ForwardedRequest, auth: &[Id]) -> Vec<Effect> {
        let mut out = Vec::new();
        let session = SessionId(request.session_id);
        match request.body {
            ForwardedBody::CreateSession(txn) => {
                self.created_by.insert(session.0, Owner::Learner(from));
                // Tracked from the proposal on (`trackSession` at prep), so that the writes right behind it
                // (an upgraded local session's ephemeral create) find it.
                if self.sessions.get(session).is_none() {
                    self.sessions.add(session, txn.time_out, now.mono_ms);
                }
                self.propose_txn(
                    now,
                    session,
                    request.cxid,
                    OpCode::CreateSession,
                    TxnBody::CreateSession(txn),
                    Origin::Learner,
                    &mut out,
                );
            }
            ForwardedBody::Client(Request::CloseSession) => {
                let body = self.close_session_body(session);
                self.sessions.set_closing(session);
                self.propose_txn(
                    now,
                    session,
                    request.cxid,
                    OpCode::CloseSession,
                    body,
                    Origin::Learner,
                    &mut out,
                );
            }
            ForwardedBody::Client(r) if is_write(r.opcode()) => {
                let owner = Owner::Learner(from);
                let (txn_type, body) = self.prepare_write(now, session, None, owner, auth, r);
                self.propose_txn(
                    now,
                    session,
                    request.cxid,
                    txn_type,
                    body,
                    Origin::Learner,
                    &mut out,
                );
            }
            ForwardedBody::Client(r) => {
                tracing::warn!(op = ?r.opcode(), session = %session, "a follower forwarded a request that is not a write; ignored");
            }
            // A multi whose record does not decode: MARSHALLINGERROR in an error txn, as for a client of ours.
            ForwardedBody::Undecoded(_) if request.op == OpCode::Multi.code() => {
                self.propose_txn(
                    now,
                    session,
                    request.cxid,
                    OpCode::Error,
                    TxnBody::Error(jute::records::txn::ErrorTxn {
                        err: ErrorCode::MarshallingError.code(),
                    }),
                    Origin::Learner,
                    &mut out,
                );
            }
            // Any other undecodable request ZooKeeper answers without a new zxid, which a follower could not
            // tell its client of: a follower of ours answers those itself (`Core::request`) and forwards none.
            ForwardedBody::Undecoded(_) => {
                tracing::warn!(op = request.op, session = %session, "a follower forwarded a request whose record does not decode; not answered");
            }
        }
        out
    }

    /// Validates a write against the tree and the pending changes and turns it into a txn (or an error txn),
    /// with the auth ids of `conn` when it is one of ours, else with `forwarded_ids`. The session is checked
    /// as coming from `owner` where ZooKeeper checks it (`checkSession`).
    pub(super) fn prepare_write(
        &mut self,
        now: Now,
        session: SessionId,
        conn: Option<ConnId>,
        owner: Owner,
        forwarded_ids: &[Id],
        request: Request,
    ) -> (OpCode, TxnBody) {
        if let Request::Multi(ref m) = request {
            if m.ops.iter().any(|o| o.is_read()) {
                return (
                    OpCode::Error,
                    TxnBody::Error(jute::records::txn::ErrorTxn {
                        err: ErrorCode::MarshallingError.code(),
                    }),
                );
            }
        }
        if let Request::DeleteContainer(_) = request {
            return (
                OpCode::Error,
                TxnBody::Error(jute::records::txn::ErrorTxn {
                    err: ErrorCode::BadArguments.code(),
                }),
            );
        }
        let zxid = self.next_zxid + 1;
        let session_check = self.check_session(session, owner);
        let ephemeral_check = self.ephemeral_check(session, conn.is_some());
        let ids = match conn {
            Some(conn) => self.conns.get(&conn).map_or(&[][..], |c| c.ids.as_slice()),
            None => forwarded_ids,
        };
        let tree = self.tree.read();
        prep::Prep {
            tree: &tree,
            pending: &mut self.pending,
            ids,
            policy: &self.policy,
            extended_types: self.config.extended_types,
            enforce_quota: self.config.enforce_quota,
            session_check,
            ephemeral_check,
            session_id: session.0,
            zxid,
            time: now.wall_ms,
        }
        .prepare(request)
    }

    /// The zxid of the oldest txn waiting to be committed, if any.
    pub fn next_to_apply(&self) -> Option<Zxid> {
        self.inflight.front().map(|f| Zxid(f.txn.header.zxid))
    }

    /// The zxid of the last txn handed out.
    pub fn last_proposed(&self) -> Zxid {
        Zxid(self.next_zxid)
    }
}
