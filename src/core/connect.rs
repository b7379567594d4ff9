//! Connection lifecycle and commits: the connect handshake (`ZooKeeperServer.processConnectRequest`), auth
//! packets, and applying a durable txn (`FinalRequestProcessor`): tree change, watch notifications to the
//! watchers first, then the reply to the writer, then the reads that waited behind the write.

use bytes::Bytes;
use jute::codes::{ErrorCode, OpCode};
use jute::records::data::{Id, Stat};
use jute::records::multi::{MultiResponse, OpResult};
use jute::records::proto::{
    AuthPacket, ConnectRequest, ConnectResponse, Create2Response, CreateResponse, ExistsResponse,
    ReplyHeader, RequestHeader,
};
use jute::records::txn::CreateSessionTxn;
use serde::Serialize;

use super::auth_ids::{AuthIds, TooManyIds};
use super::sasl::{SaslError, SaslStep};
use super::session::password;
use super::tree::{ApplyResult, TriggerKind};
use super::txn::{Txn, TxnBody};
use super::{auth, reply, Conn, Core, Effect, InFlight, Origin, Queued};
use crate::types::{ConnId, Now, SessionId, Zxid};

impl Core {
    /// The first frame of a connection.
    pub fn connect(&mut self, now: Now, conn: ConnId, client_ip: &str, req: ConnectRequest) -> Vec<Effect> {
        let mut out = Vec::new();
        let mut ids = AuthIds::default();
        // The bound is for auth packets; the first id always fits.
        let _ = ids.add_all(vec![Id::new("ip", client_ip)], usize::MAX);
        self.conns.insert(
            conn,
            Conn {
                session: None,
                ids,
                deferred: Default::default(),
                queue: Default::default(),
                closed: false,
                sasl: Default::default(),
            },
        );
        if self.role == super::Role::ReadOnly && req.read_only != Some(true) {
            // `ZooKeeperServer.processConnectRequest`: closed before anything else is looked at.
            tracing::info!(%conn, "refusing session request for not-read-only client");
            self.close_conn(conn, &mut out);
            return out;
        }
        if req.last_zxid_seen > self.last_zxid().0 {
            // The client has seen more than this server: it must try another one (no response, just close).
            tracing::info!(
                %conn,
                client_zxid = %format!("0x{:x}", req.last_zxid_seen),
                our_zxid = %self.last_zxid(),
                "refusing a client that has seen a newer zxid than this server"
            );
            self.close_conn(conn, &mut out);
            return out;
        }
        // `ZooKeeperServer.processConnectRequest`: raised to the minimum, then lowered to the maximum.
        let timeout = req
            .time_out
            .max(self.config.min_session_timeout_ms)
            .min(self.config.max_session_timeout_ms);
        if self.role == super::Role::ReadOnly {
            self.connect_read_only(now, conn, req.session_id, &req.passwd, timeout, &mut out);
            return out;
        }
        if req.session_id == 0 && self.local_sessions_on() {
            self.create_local(now, conn, timeout, req.read_only, &mut out);
            return out;
        }
        if req.session_id == 0 {
            let id = self.sessions.next_session_id();
            if self.role == super::Role::Follower {
                self.forward_create_session(conn, id, timeout, req.read_only, &mut out);
                return out;
            }
            let body = TxnBody::CreateSession(CreateSessionTxn { time_out: timeout });
            let origin = Origin::Connect {
                conn,
                read_only: req.read_only,
            };
            self.propose_txn(now, id, 0, OpCode::CreateSession, body, origin, &mut out);
            return out;
        }
        let id = SessionId(req.session_id);
        if self.is_local(id) {
            let password_ok = req.passwd.as_ref() == password(id);
            self.resume_local(now, conn, id, password_ok, timeout, req.read_only, &mut out);
            return out;
        }
        // A session moves to its newest connection: the old one is closed first.
        if let Some(old) = self.sessions.get(id).and_then(|s| s.conn) {
            if old != conn {
                self.close_conn(old, &mut out);
            }
        }
        if self.role == super::Role::Follower && req.passwd.as_ref() == password(id) {
            // `Learner.validateSession`: the leader says whether the session lives, and makes this member its
            // owner, so that its requests through here are not SESSIONMOVED.
            self.pending_revalidations
                .insert(id.0, (conn, timeout, req.read_only));
            out.push(Effect::Revalidate {
                session: jute::quorum::SessionTimeout {
                    session_id: id.0,
                    timeout,
                },
            });
            return out;
        }
        let valid = req.passwd.as_ref() == password(id)
            && self.sessions.get(id).is_some_and(|s| !s.closing)
            && self.sessions.touch(id, now.mono_ms);
        self.finish_resume(now, conn, id, timeout, req.read_only, valid, &mut out);
        out
    }

    /// Answers a client that brought back session `id`: settled on `conn` if `valid`, else an empty
    /// ConnectResponse and the connection closed (`finishSessionInit`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn finish_resume(
        &mut self,
        now: Now,
        conn: ConnId,
        id: SessionId,
        timeout: i32,
        read_only: Option<bool>,
        valid: bool,
        out: &mut Vec<Effect>,
    ) {
        if valid {
            if self.role != super::Role::Follower {
                // A client brought its session back to this member (`LeaderZooKeeperServer.revalidateSession`).
                self.set_owner(id, super::session::Owner::Me);
            }
            self.sessions.set_timeout(id, timeout, now.mono_ms);
            self.settle(now, conn, id, timeout, read_only, out);
        } else {
            let rsp = ConnectResponse {
                protocol_version: 0,
                time_out: 0,
                session_id: 0,
                passwd: Bytes::from_static(&[0; 16]),
                read_only: read_only.map(|_| self.role == super::Role::ReadOnly),
            };
            self.send_connect_response(conn, &rsp, out);
            self.close_conn(conn, out);
        }
    }

    fn send_connect_response(&mut self, conn: ConnId, rsp: &ConnectResponse, out: &mut Vec<Effect>) {
        match rsp.encode() {
            Ok(payload) => out.push(Effect::Send {
                conn,
                frame: reply::raw(&payload),
            }),
            Err(e) => {
                tracing::error!(%conn, error = %e, "cannot encode a connect response");
                self.close_conn(conn, out);
            }
        }
    }

    /// The session is established on `conn`: answer the handshake and process what the client sent meanwhile.
    pub(super) fn settle(
        &mut self,
        now: Now,
        conn: ConnId,
        id: SessionId,
        timeout: i32,
        read_only: Option<bool>,
        out: &mut Vec<Effect>,
    ) {
        if let Some(s) = self.sessions.get_mut(id) {
            s.conn = Some(conn);
        }
        let rsp = ConnectResponse {
            protocol_version: 0,
            time_out: timeout,
            session_id: id.0,
            passwd: Bytes::copy_from_slice(&password(id)),
            read_only: read_only.map(|_| self.role == super::Role::ReadOnly),
        };
        self.send_connect_response(conn, &rsp, out);
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.session = Some(id);
        let deferred = std::mem::take(&mut c.deferred);
        for (header, body) in deferred {
            if self.conns.get(&conn).is_none_or(|c| c.closed) {
                break;
            }
            self.dispatch(now, conn, header, body, out);
        }
    }

    /// An auth packet: handled at once, out of band (`ZooKeeperServer.processPacket`).
    pub(super) fn auth(
        &mut self,
        conn: ConnId,
        header: RequestHeader,
        packet: &AuthPacket,
        out: &mut Vec<Effect>,
    ) {
        let ids = match packet.scheme.as_str() {
            "digest" => Some(auth::digest_auth(
                &String::from_utf8_lossy(&packet.auth),
                &self.policy,
            )),
            // `IPAuthenticationProvider.handleAuthentication`: adds the connection's own ip id, which every
            // connection already has, and succeeds whatever the packet says.
            "ip" => Some(Vec::new()),
            _ => None,
        };
        let bytes_max = self.config.max_buffer;
        let added = match (ids, self.conns.get_mut(&conn)) {
            (Some(ids), Some(c)) => c.ids.add_all(ids, bytes_max).map_err(Some),
            (Some(_), None) => Ok(()),
            (None, _) => Err(None),
        };
        match added {
            Ok(()) => out.push(Effect::Send {
                conn,
                frame: reply::header_only(header.xid, 0, 0),
            }),
            Err(refused) => {
                match refused {
                    Some(TooManyIds { bytes }) => tracing::warn!(
                        %conn, ids_bytes = bytes, max = bytes_max,
                        "authentication refused: the connection's ids would pass jute.maxbuffer"
                    ),
                    None => tracing::warn!(
                        %conn, scheme = %packet.scheme, "authentication failed: no provider for the scheme"
                    ),
                }
                out.push(Effect::Send {
                    conn,
                    frame: reply::header_only(header.xid, 0, ErrorCode::AuthFailed.code()),
                });
                self.close_conn(conn, out);
            }
        }
    }

    /// A SASL token (`ZooKeeperServer.processSasl`), answered at once, outside the request order as ZooKeeper
    /// answers it. Without a SASL server (no JAAS server section) the answer is OK with a null token.
    pub(super) fn sasl(&mut self, conn: ConnId, header: RequestHeader, token: &[u8], out: &mut Vec<Effect>) {
        let xid = header.xid;
        let (Some(config), Some(c)) = (&self.config.sasl, self.conns.get_mut(&conn)) else {
            out.push(sasl_answer(conn, xid, ErrorCode::Ok, None));
            return;
        };
        let nonces = &mut self.nonces;
        let step = c.sasl.evaluate(token, config, || rand::Rng::random(nonces));
        let session = c.session.map(|s| s.to_string()).unwrap_or_default();
        let failure = match step {
            Ok(SaslStep::Continue(token)) => {
                return out.push(sasl_answer(conn, xid, ErrorCode::Ok, Some(token)))
            }
            Ok(SaslStep::Complete {
                token,
                authorization_id,
            }) => {
                tracing::info!(%session, %authorization_id, "adding SASL authorization");
                let mut ids = vec![Id::new("sasl", authorization_id.clone())];
                if config.super_users.contains(&authorization_id) {
                    tracing::info!(%session, %authorization_id, "authenticated as super user");
                    ids.push(Id::new("super", ""));
                }
                match c.ids.add_all(ids, self.config.max_buffer) {
                    Ok(()) => return out.push(sasl_answer(conn, xid, ErrorCode::Ok, Some(token))),
                    Err(TooManyIds { bytes }) => {
                        format!("the connection's ids would take {bytes} bytes, past jute.maxbuffer")
                    }
                }
            }
            Err(e @ SaslError::Malformed(_)) => {
                // Not a SaslException: it escapes `processSasl` and the connection is closed unanswered.
                tracing::warn!(%conn, %session, reason = %e, "closing the connection: malformed SASL token");
                self.close_conn(conn, out);
                return;
            }
            Err(e) => e.to_string(),
        };
        tracing::warn!(%conn, %session, reason = %failure, "client failed to SASL authenticate");
        self.sasl_failed(conn, xid, out);
    }

    /// A failed exchange: AUTHFAILED (SESSIONCLOSEDREQUIRESASLAUTH when SASL is required) with a null token, then
    /// the connection is closed, unless `allowSaslFailedClients` keeps it (only when SASL is not required).
    fn sasl_failed(&mut self, conn: ConnId, xid: i32, out: &mut Vec<Effect>) {
        let required = self
            .config
            .enforce_auth_schemes
            .as_ref()
            .is_some_and(|s| s.iter().any(|s| s == "sasl"));
        let allow = self.config.sasl.as_ref().is_some_and(|c| c.allow_failed_clients);
        if allow && !required {
            tracing::warn!(%conn, "keeping the connection despite the SASL failure (allowSaslFailedClients)");
            out.push(sasl_answer(conn, xid, ErrorCode::Ok, None));
            return;
        }
        let err = if required {
            ErrorCode::SessionClosedRequireSaslAuth
        } else {
            ErrorCode::AuthFailed
        };
        out.push(sasl_answer(conn, xid, err, None));
        self.close_conn(conn, out);
    }

    /// `DataTree.compareDigest`: the digest a txn carries is the one the tree must have once it is applied. A
    /// mismatch means this replica's tree differs from the one that prepared the txn: it is counted
    /// (`digest_mismatches_count`) and logged, and the txn stays applied, as in ZooKeeper. A digest of another
    /// version is not compared. (A SNAP carries no digest section, so ZooKeeper compares from the first txn
    /// after it, as here.)
    fn compare_digest(&mut self, txn: &Txn) {
        let zxid = Zxid(txn.header.zxid);
        let Some(expected) = txn.digest else {
            return;
        };
        if self.config.digest_enabled && expected.version == super::tree::digest::DIGEST_VERSION {
            self.check_tree_digest(zxid, expected.tree_digest);
        }
    }

    /// Counts and logs a tree whose digest after `zxid` is not `expected`.
    fn check_tree_digest(&mut self, zxid: Zxid, expected: i64) {
        let actual = self.tree.read().digest() as i64;
        if actual != expected {
            self.digest_mismatches += 1;
            tracing::error!(
                zxid = %zxid,
                expected,
                actual,
                "digest mismatch: the tree after txn {zxid} has digest {actual}, {expected} was expected"
            );
        }
    }

    /// Applies one durable txn and answers whoever waits for it.
    pub(super) fn commit(&mut self, now: Now, f: InFlight, out: &mut Vec<Effect>) {
        let InFlight { txn, origin } = f;
        let zxid = txn.header.zxid;
        let mut triggers = Vec::new();
        let result = self.tree.write().apply(&txn, &mut triggers);
        self.compare_digest(&txn);
        self.pending.applied(zxid);
        let session = SessionId(txn.header.client_id);
        match &txn.body {
            TxnBody::CreateSession(c) => {
                // An upgraded local session is global from now on (`commitSession`).
                self.local.remove(session);
                self.sessions.add(session, c.time_out, now.mono_ms);
                // `setOwner` at prep: the member that asked for the session owns it.
                let owner = match origin {
                    Origin::Connect { .. } => Some(super::session::Owner::Me),
                    _ => self.created_by.remove(&session.0),
                };
                if let Some(owner) = owner {
                    self.set_owner(session, owner);
                }
            }
            TxnBody::CloseSession(_) => {
                if let Some(s) = self.sessions.remove(session) {
                    if let Some(conn) = s.conn {
                        if !matches!(origin, Origin::Client { conn: c, .. } if c == conn) {
                            self.close_conn(conn, out);
                        }
                    }
                }
            }
            _ => {}
        }
        self.notify(zxid, &triggers, out);
        match origin {
            Origin::Expiry | Origin::Learner => {}
            Origin::Connect { conn, read_only } => {
                if self.conns.contains_key(&conn) {
                    let timeout = self.sessions.get(session).map_or(0, |s| s.timeout_ms);
                    self.settle(now, conn, session, timeout, read_only, out);
                }
            }
            Origin::Client { conn, xid, op } => {
                let frame = match self.refused.remove(&(conn, xid)) {
                    Some(err) => reply::header_only(xid, zxid, err.code()),
                    None => write_reply(xid, zxid, op, &result, &txn.body),
                };
                let Some(c) = self.conns.get_mut(&conn) else {
                    // Its connection closed while the write was in flight: the reply has nowhere to go
                    // (`Request.isStale`, which does not count closeSession).
                    if op != OpCode::CloseSession {
                        self.stale_replies += 1;
                    }
                    return;
                };
                match c.queue.front() {
                    Some(Queued::Write(z)) if *z == zxid => {
                        c.queue.pop_front();
                    }
                    Some(Queued::Remote { xid: x, .. }) if *x == xid => {
                        c.queue.pop_front();
                    }
                    _ => {}
                }
                if session_moved(&result) {
                    // `FinalRequestProcessor`: SESSIONMOVED is a connection-level error; the connection is closed
                    // without a reply (ZOOKEEPER-710), whichever member the client is on.
                    self.close_conn(conn, out);
                    return;
                }
                out.push(Effect::Send { conn, frame });
                if op == OpCode::CloseSession {
                    self.close_conn(conn, out);
                    return;
                }
                self.drain_reads(conn, out);
            }
        }
    }

    /// Delivers the notifications a change fires, filtered by READ permission on the node (the parent for
    /// NodeChildrenChanged) at delivery time.
    fn notify(&mut self, zxid: i64, triggers: &[super::tree::Trigger], out: &mut Vec<Effect>) {
        for trigger in triggers {
            // The tree change behind the trigger, as `DataTree.createNode` / `setData` / `deleteNode` count
            // it per namespace.
            match trigger.kind {
                TriggerKind::Created | TriggerKind::DataChanged => {
                    let bytes = self
                        .tree
                        .read()
                        .get(&trigger.path)
                        .map_or(0, |n| n.data_len() as u64);
                    self.namespaces.write(&trigger.path, bytes);
                }
                TriggerKind::Deleted => self.namespaces.write(&trigger.path, 0),
                TriggerKind::ChildrenChanged => {}
            }
            let fired = self.watches.trigger(trigger);
            if fired.is_empty() {
                continue;
            }
            let acl = match trigger.kind {
                TriggerKind::Deleted => trigger.deleted_acl.clone(),
                _ => {
                    let tree = self.tree.read();
                    tree.get(&trigger.path).map(|n| tree.shared_acl_of(n))
                }
            };
            for f in fired {
                let Some(c) = self.conns.get(&f.conn) else {
                    continue;
                };
                if c.closed {
                    continue;
                }
                if let Some(acl) = &acl {
                    if auth::check(acl, jute::codes::perms::READ, c.ids.as_slice(), &self.policy).is_err() {
                        continue;
                    }
                }
                out.push(Effect::Send {
                    conn: f.conn,
                    frame: reply::notification(zxid, f.event.code(), &f.path),
                });
            }
        }
    }
}

/// `CreateResponse` with the path borrowed from the applied txn instead of copied into the record: the same
/// field, so the same bytes.
#[derive(Serialize)]
struct CreatedReply<'a> {
    path: &'a str,
}

/// `Create2Response`, borrowing its path likewise.
#[derive(Serialize)]
struct Created2Reply<'a> {
    path: &'a str,
    stat: Stat,
}

/// The reply to a write, from what applying its txn produced.
/// The txn failed with SESSIONMOVED, or (a multi) one of its ops did.
fn session_moved(result: &ApplyResult) -> bool {
    let moved = ErrorCode::SessionMoved.code();
    match result {
        ApplyResult::Error(code) => *code == moved,
        ApplyResult::Multi(results) => results
            .iter()
            .any(|r| matches!(r, ApplyResult::Error(c) if *c == moved)),
        _ => false,
    }
}

fn write_reply(xid: i32, zxid: i64, op: OpCode, result: &ApplyResult, body: &TxnBody) -> Bytes {
    let header = ReplyHeader { xid, zxid, err: 0 };
    match result {
        ApplyResult::Error(code) => reply::header_only(xid, zxid, *code),
        ApplyResult::Created { path, stat } => match op {
            OpCode::Create => reply::frame(header, Some(&CreatedReply { path })),
            _ => reply::frame(header, Some(&Created2Reply { path, stat: *stat })),
        },
        ApplyResult::SetData { stat } | ApplyResult::SetAcl { stat } => {
            reply::frame(header, Some(&ExistsResponse { stat: *stat }))
        }
        ApplyResult::Deleted | ApplyResult::Session | ApplyResult::Check => reply::header_only(xid, zxid, 0),
        ApplyResult::Multi(results) => {
            let ops: Vec<OpCode> = match body {
                TxnBody::Multi(subs) => subs.iter().map(|(op, _)| *op).collect(),
                _ => Vec::new(),
            };
            let results = results
                .iter()
                .enumerate()
                .map(|(i, r)| multi_result(ops.get(i).copied(), r))
                .collect();
            reply::frame(header, Some(&MultiResponse { results }))
        }
    }
}

/// One result of a multi; a create answers with the record of its own opcode (create -> path only).
fn multi_result(op: Option<OpCode>, r: &ApplyResult) -> OpResult {
    match r {
        ApplyResult::Error(code) => OpResult::Error(*code),
        ApplyResult::Created { path, .. } if op == Some(OpCode::Create) => OpResult::Create(CreateResponse {
            path: path.to_string(),
        }),
        ApplyResult::Created { path, stat } => OpResult::Create2(Create2Response {
            path: path.to_string(),
            stat: *stat,
        }),
        ApplyResult::Deleted => OpResult::Delete,
        ApplyResult::SetData { stat } => OpResult::SetData(*stat),
        ApplyResult::Check => OpResult::Check,
        ApplyResult::SetAcl { .. } | ApplyResult::Session | ApplyResult::Multi(_) => {
            OpResult::Error(ErrorCode::RuntimeInconsistency.code())
        }
    }
}

/// A SetSASLResponse out of band: zxid 0, `err`, the token (null when none).
fn sasl_answer(conn: ConnId, xid: i32, err: ErrorCode, token: Option<Vec<u8>>) -> Effect {
    let rsp = jute::records::proto::SetSaslResponse {
        token: token.map(Bytes::from),
    };
    let header = ReplyHeader {
        xid,
        zxid: 0,
        err: err.code(),
    };
    Effect::Send {
        conn,
        frame: reply::frame(header, Some(&rsp)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_create_replies_encode_as_the_records_do() {
        let stat = Stat {
            czxid: 5,
            num_children: 2,
            ..Default::default()
        };
        let path = "/app/node0000000007";
        let owned = CreateResponse {
            path: path.to_string(),
        };
        assert_eq!(
            jute::to_bytes(&CreatedReply { path }).expect("encode"),
            jute::to_bytes(&owned).expect("encode")
        );
        let owned = Create2Response {
            path: path.to_string(),
            stat,
        };
        assert_eq!(
            jute::to_bytes(&Created2Reply { path, stat }).expect("encode"),
            jute::to_bytes(&owned).expect("encode")
        );
    }
}
