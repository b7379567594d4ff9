//! Requests that do not change the tree (`FinalRequestProcessor` read cases): served from the committed tree, in
//! session order. Also the watch-table requests (setWatches, addWatch, checkWatches, removeWatches), ping and
//! sync, which are ordered with the connection's other replies.
//!
//! The size of some replies is the client's choice (a multiRead may name one large node thousands of times)
//! or the tree's (getChildren of a wide parent, getEphemerals). Those replies are measured while they are
//! built, and a reply that would pass `reply_bytes_max` closes the connection before the rest is built, so
//! that no single request can take more than that much memory, or time to copy it, on the server task.
//! Closing is what a ZooKeeper client sees from Apache ZooKeeper for such a reply: the server has no cap of its
//! own (it builds the reply on its heap), and the Java client refuses any frame longer than its
//! `jute.maxbuffer` (1 MB by default, `ClientCnxnSocket.readLength`) by dropping the connection, so the
//! request ends in CONNECTIONLOSS and the session carries on over a new connection. An error code instead
//! would be an answer Apache ZooKeeper never gives.

use jute::codes::{perms, AddWatchMode, ErrorCode, EventType, WatcherType};
use jute::records::data::ClientInfo;
use jute::records::multi::{MultiOp, MultiResponse, OpResult};
use jute::records::proto::*;
use jute::request::Request;
use jute::ser::Utf8Bytes;

use super::tree::{DataTree, Node};
use super::watch::{Table, WatchMode};
use super::{auth, reply, Core, Effect, Queued};
use crate::types::ConnId;

type ReadResult = Result<bytes::Bytes, Refusal>;

/// Bytes of a `ReplyHeader` (xid, zxid, err).
const REPLY_HEADER_BYTES: usize = 16;
/// Bytes of a `Stat`.
const STAT_BYTES: usize = 68;
/// Bytes of a `MultiHeader` (type, done, err), before each result of a multi and once at its end.
const MULTI_HEADER_BYTES: usize = 9;
/// Bytes of the length before a buffer, string or vector.
const LENGTH_BYTES: usize = 4;

/// Why a read is not answered with its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The reply carries this error code.
    Error(ErrorCode),
    /// The reply would be at least `bytes` long, over `reply_bytes_max`: the connection is closed instead.
    TooLarge { bytes: usize },
}

impl From<ErrorCode> for Refusal {
    fn from(code: ErrorCode) -> Self {
        Refusal::Error(code)
    }
}

/// `Err` if a reply of `bytes` is over `cap`.
fn within_cap(bytes: usize, cap: usize) -> Result<(), Refusal> {
    if bytes > cap {
        return Err(Refusal::TooLarge { bytes });
    }
    Ok(())
}

/// The encoded size of a child list of these names (counted by their UTF-8 length; Java's encoding of
/// characters outside the BMP is longer, so this is a lower bound).
fn children_bytes(names: &[Utf8Bytes<'_>]) -> usize {
    LENGTH_BYTES + names.iter().map(|n| LENGTH_BYTES + n.0.len()).sum::<usize>()
}

impl Core {
    /// Serves a read now if no earlier write of the connection is outstanding, else queues it behind them.
    /// An `Err` is an answer decided up front (a malformed read) that still waits its turn.
    pub(super) fn queue_read(
        &mut self,
        conn: ConnId,
        header: RequestHeader,
        request: Result<Request, ErrorCode>,
        out: &mut Vec<Effect>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.queue.is_empty() {
            self.serve(conn, header, request, out);
        } else {
            c.queue.push_back(Queued::Read(header, request));
        }
    }

    /// Serves the reads at the head of a connection's queue, up to its next outstanding write.
    pub(super) fn drain_reads(&mut self, conn: ConnId, out: &mut Vec<Effect>) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            if !matches!(c.queue.front(), Some(Queued::Read(..))) {
                return;
            }
            let Some(Queued::Read(header, request)) = c.queue.pop_front() else {
                return;
            };
            self.serve(conn, header, request, out);
        }
    }

    fn serve(
        &mut self,
        conn: ConnId,
        header: RequestHeader,
        request: Result<Request, ErrorCode>,
        out: &mut Vec<Effect>,
    ) {
        if self.conns.get(&conn).is_none_or(|c| c.closed) {
            return;
        }
        if let Err(ErrorCode::SessionMoved) = request {
            // Closed without a reply, as `FinalRequestProcessor` answers SESSIONMOVED.
            self.close_conn(conn, out);
            return;
        }
        let zxid = self.last_zxid().0;
        if matches!(request, Ok(Request::CloseSession)) {
            // A local session's closeSession (the only one served here): forgotten, answered, closed.
            if let Some(session) = self.session_of(conn) {
                self.closed_local(session);
            }
            out.push(Effect::Send {
                conn,
                frame: reply::header_only(header.xid, zxid, 0),
            });
            self.close_conn(conn, out);
            return;
        }
        let result = request
            .map_err(Refusal::Error)
            .and_then(|request| self.answer(conn, header.xid, zxid, &request, out));
        let frame = match result {
            Ok(frame) => frame,
            Err(Refusal::Error(code)) => reply::header_only(header.xid, zxid, code.code()),
            Err(Refusal::TooLarge { bytes }) => {
                tracing::warn!(
                    %conn, xid = header.xid, op = header.op, reply_bytes_at_least = bytes,
                    max = self.config.reply_bytes_max,
                    "closing connection: the reply would be larger than the per-connection queue cap"
                );
                self.close_conn(conn, out);
                return;
            }
        };
        out.push(Effect::Send { conn, frame });
    }

    /// The reply frame to one read.
    fn answer(
        &mut self,
        conn: ConnId,
        xid: i32,
        zxid: i64,
        request: &Request,
        out: &mut Vec<Effect>,
    ) -> ReadResult {
        let ok = ReplyHeader { xid, zxid, err: 0 };
        let frame = match request {
            // Whatever xid the ping came with, the reply has the ping xid (`FinalRequestProcessor`).
            Request::Ping => reply::header_only(jute::codes::xid::PING, zxid, 0),
            Request::Sync(r) => reply::frame(ok, Some(r)),
            Request::Exists(r) => {
                let stat = self.exists(conn, r)?;
                reply::frame(ok, Some(&ExistsResponse { stat }))
            }
            Request::GetData(r) => {
                let rsp = self.get_data(conn, r, true)?;
                let data_bytes = rsp.data.as_ref().map_or(0, |d| d.len());
                within_cap(
                    REPLY_HEADER_BYTES + LENGTH_BYTES + data_bytes + STAT_BYTES,
                    self.config.reply_bytes_max,
                )?;
                reply::frame(ok, Some(&rsp))
            }
            Request::GetChildren(r) => self.children_reply(conn, r, ok, false)?,
            Request::GetChildren2(r) => self.children_reply(conn, r, ok, true)?,
            Request::GetAcl(r) => reply::frame(ok, Some(&self.get_acl(conn, r)?)),
            Request::GetAllChildrenNumber(r) => {
                let n = self.all_children_number(conn, r)?;
                let rsp = GetAllChildrenNumberResponse {
                    total_number: n as i32,
                };
                reply::frame(ok, Some(&rsp))
            }
            Request::GetEphemerals(r) => reply::frame(ok, Some(&self.ephemerals(conn, r)?)),
            Request::WhoAmI => reply::frame(ok, Some(&self.who_am_i(conn))),
            Request::MultiRead(m) if m.ops.iter().any(|o| !o.is_read()) => {
                // Only write ops: the record decodes, the response list is started, then the first op is
                // refused, so the error header carries an empty result list (`FinalRequestProcessor`).
                let header = ReplyHeader {
                    err: ErrorCode::MarshallingError.code(),
                    ..ok
                };
                reply::frame(header, Some(&MultiResponse::default()))
            }
            Request::MultiRead(m) => reply::frame(ok, Some(&self.multi_read(conn, &m.ops)?)),
            Request::AddWatch(r) => {
                self.add_watch(conn, r)?;
                reply::frame(ok, Some(&ErrorResponse { err: 0 }))
            }
            Request::CheckWatches(r) => {
                self.check_watches(conn, r, false)?;
                reply::header_only(xid, zxid, 0)
            }
            Request::RemoveWatches(r) => {
                self.check_watches(conn, r, true)?;
                reply::header_only(xid, zxid, 0)
            }
            Request::SetWatches(r) => {
                let all = SetWatches2 {
                    relative_zxid: r.relative_zxid,
                    data_watches: r.data_watches.clone(),
                    exist_watches: r.exist_watches.clone(),
                    child_watches: r.child_watches.clone(),
                    persistent_watches: Vec::new(),
                    persistent_recursive_watches: Vec::new(),
                };
                self.set_watches(conn, &all, out);
                reply::header_only(xid, zxid, 0)
            }
            Request::SetWatches2(r) => {
                self.set_watches(conn, r, out);
                reply::header_only(xid, zxid, 0)
            }
            Request::Create(..)
            | Request::CreateTtl(_)
            | Request::Delete(_)
            | Request::SetData(_)
            | Request::SetAcl(_)
            | Request::Check(_)
            | Request::Multi(_)
            | Request::Reconfig(_)
            | Request::DeleteContainer(_)
            | Request::Auth(_)
            | Request::Sasl(_)
            | Request::CloseSession => return Err(ErrorCode::Unimplemented.into()),
        };
        Ok(frame)
    }

    pub(super) fn ids(&self, conn: ConnId) -> &[jute::records::data::Id] {
        self.conns.get(&conn).map_or(&[], |c| c.ids.as_slice())
    }

    fn read_check(&self, conn: ConnId, path: &str, perm: i32) -> Result<(), ErrorCode> {
        let tree = self.tree.read();
        let node = tree.get(path).ok_or(ErrorCode::NoNode)?;
        auth::check(tree.acl_of(node), perm, self.ids(conn), &self.policy)
    }

    fn exists(&mut self, conn: ConnId, r: &ExistsRequest) -> Result<jute::records::data::Stat, ErrorCode> {
        if r.path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        if self.tree.read().get(&r.path).is_some() {
            self.read_check(conn, &r.path, perms::READ)?;
        }
        if r.watch {
            self.watches.add(Table::Data, &r.path, conn, WatchMode::Standard);
        }
        let stat = self.tree.read().stat(&r.path).ok_or(ErrorCode::NoNode)?;
        self.namespaces.read(&r.path, 0);
        Ok(stat)
    }

    fn get_data(
        &mut self,
        conn: ConnId,
        r: &ExistsRequest,
        watch: bool,
    ) -> Result<GetDataResponse, ErrorCode> {
        self.read_check(conn, &r.path, perms::READ)?;
        let tree = self.tree.read();
        let node = tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
        let rsp = GetDataResponse {
            data: node.data().map(bytes::Bytes::copy_from_slice),
            stat: tree.client_stat(node),
        };
        drop(tree);
        if watch && r.watch {
            self.watches.add(Table::Data, &r.path, conn, WatchMode::Standard);
        }
        let bytes = rsp.data.as_ref().map_or(0, |d| d.len() as u64);
        self.namespaces.read(&r.path, bytes);
        Ok(rsp)
    }

    /// What getChildren checks and counts, and the child watch it may leave, around `answer`, which builds the
    /// result from the node and its children's names borrowed from the tree (no `String` per name: a wide
    /// parent's reply is most of the cost of the request).
    fn with_children<T>(
        &mut self,
        conn: ConnId,
        r: &ExistsRequest,
        watch: bool,
        answer: impl FnOnce(&DataTree, &Node, Vec<Utf8Bytes<'_>>) -> T,
    ) -> Result<T, ErrorCode> {
        self.read_check(conn, &r.path, perms::READ)?;
        let tree = self.tree.read();
        let node = tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
        let children: Vec<Utf8Bytes<'_>> = tree.child_name_bytes(node).map(Utf8Bytes).collect();
        let bytes: usize = children.iter().map(|c| c.0.len()).sum();
        let result = answer(&tree, node, children);
        drop(tree);
        self.namespaces.read(&r.path, bytes as u64);
        if watch && r.watch {
            self.watches.add(Table::Child, &r.path, conn, WatchMode::Standard);
        }
        Ok(result)
    }

    /// getChildren and getChildren2, encoded straight from the borrowed names once their size is known to be
    /// within the cap.
    fn children_reply(
        &mut self,
        conn: ConnId,
        r: &ExistsRequest,
        ok: ReplyHeader,
        with_stat: bool,
    ) -> ReadResult {
        let stat_bytes = if with_stat { STAT_BYTES } else { 0 };
        let cap = self.config.reply_bytes_max;
        self.with_children(conn, r, true, |tree, node, children| {
            within_cap(REPLY_HEADER_BYTES + children_bytes(&children) + stat_bytes, cap)?;
            Ok(if with_stat {
                let stat = tree.client_stat(node);
                reply::frame(ok, Some(&Children2 { children, stat }))
            } else {
                reply::frame(ok, Some(&Children { children }))
            })
        })?
    }

    fn get_acl(&self, conn: ConnId, r: &PathRequest) -> Result<GetAclResponse, ErrorCode> {
        self.read_check(conn, &r.path, perms::READ | perms::ADMIN)?;
        let tree = self.tree.read();
        let node = tree.get(&r.path).ok_or(ErrorCode::NoNode)?;
        let acl = tree.acl_of(node);
        let acl = if auth::has_admin(acl, self.ids(conn), &self.policy) {
            acl.to_vec()
        } else {
            auth::mask_digests(acl)
        };
        Ok(GetAclResponse {
            acl,
            stat: tree.client_stat(node),
        })
    }

    fn all_children_number(&self, conn: ConnId, r: &PathRequest) -> Result<usize, ErrorCode> {
        self.read_check(conn, &r.path, perms::READ)?;
        // ZooKeeper counts the keys of its node map under `path + "/"`: for the empty path (the root's alias)
        // that includes the root itself.
        let own = usize::from(r.path.is_empty());
        Ok(self.tree.read().descendant_count(&r.path) + own)
    }

    /// The session's ephemerals under the prefix, measured as they are collected.
    fn ephemerals(&self, conn: ConnId, r: &GetEphemeralsRequest) -> Result<GetEphemeralsResponse, Refusal> {
        let Some(session) = self.session_of(conn) else {
            return Ok(GetEphemeralsResponse::default());
        };
        let prefix = r.prefix_path.as_deref().map(str::trim).unwrap_or("");
        let all = prefix.is_empty() || prefix == "/";
        let prefix = r.prefix_path.as_deref().unwrap_or("");
        let cap = self.config.reply_bytes_max;
        let mut bytes = REPLY_HEADER_BYTES + LENGTH_BYTES;
        let mut ephemerals = Vec::new();
        for path in self.tree.read().ephemerals_of(session.0) {
            if all || path.starts_with(prefix) {
                bytes += LENGTH_BYTES + path.len();
                within_cap(bytes, cap)?;
                ephemerals.push(path.clone());
            }
        }
        Ok(GetEphemeralsResponse { ephemerals })
    }

    fn who_am_i(&self, conn: ConnId) -> WhoAmIResponse {
        // Listed in the order of ZooKeeper's hash set of connection ids.
        let client_info = auth::java_set_order(self.ids(conn))
            .into_iter()
            .map(|id| {
                let user = match id.scheme.as_str() {
                    "digest" => id.id_str().split(':').next().unwrap_or("").to_string(),
                    _ => id.id_str().to_string(),
                };
                ClientInfo {
                    auth_scheme: id.scheme.clone(),
                    user,
                }
            })
            .collect();
        WhoAmIResponse { client_info }
    }

    /// The results of a multiRead, measured op by op: the first op that takes the reply over the cap stops it.
    fn multi_read(&mut self, conn: ConnId, ops: &[MultiOp]) -> Result<MultiResponse, Refusal> {
        let cap = self.config.reply_bytes_max;
        // The header and the closing MultiHeader.
        let mut bytes = REPLY_HEADER_BYTES + MULTI_HEADER_BYTES;
        let mut results = Vec::new();
        for op in ops {
            let result = match op {
                MultiOp::GetData(r) => self
                    .get_data(conn, r, false)
                    .map(OpResult::GetData)
                    .map_err(Refusal::Error),
                MultiOp::GetChildren(r) => self
                    .with_children(conn, r, false, |_, _, names| {
                        within_cap(bytes + MULTI_HEADER_BYTES + children_bytes(&names), cap)?;
                        Ok(GetChildrenResponse {
                            // Cut from paths that were `&str`s at a slash, so always UTF-8.
                            children: names
                                .iter()
                                .map(|n| String::from_utf8_lossy(n.0).into_owned())
                                .collect(),
                        })
                    })
                    .map_err(Refusal::Error)
                    .and_then(|r| r)
                    .map(OpResult::GetChildren),
                _ => Err(ErrorCode::MarshallingError.into()),
            };
            let result = match result {
                Ok(result) => result,
                Err(Refusal::Error(code)) => OpResult::Error(code.code()),
                Err(too_large) => return Err(too_large),
            };
            bytes += MULTI_HEADER_BYTES + result_bytes(&result);
            within_cap(bytes, cap)?;
            results.push(result);
        }
        Ok(MultiResponse { results })
    }

    fn add_watch(&mut self, conn: ConnId, r: &AddWatchRequest) -> Result<(), ErrorCode> {
        match AddWatchMode::from_code(r.mode) {
            Some(AddWatchMode::Persistent) => {
                self.watches
                    .add(Table::Data, &r.path, conn, WatchMode::Persistent);
                self.watches
                    .add(Table::Child, &r.path, conn, WatchMode::Persistent);
            }
            Some(AddWatchMode::PersistentRecursive) => {
                self.watches
                    .add(Table::Data, &r.path, conn, WatchMode::PersistentRecursive);
            }
            None => return Err(ErrorCode::MarshallingError),
        }
        Ok(())
    }

    /// checkWatches (`remove` false) and removeWatches: 3.9 semantics, where Data and Children mean the
    /// one-shot registrations and Persistent/PersistentRecursive their own modes.
    fn check_watches(
        &mut self,
        conn: ConnId,
        r: &CheckWatchesRequest,
        remove: bool,
    ) -> Result<(), ErrorCode> {
        let standard = WatchMode::Standard as u8;
        let persistent = WatchMode::Persistent as u8;
        let recursive = WatchMode::PersistentRecursive as u8;
        let targets: &[(Table, u8)] = match WatcherType::from_code(r.watcher_type) {
            Some(WatcherType::Children) => &[(Table::Child, standard)],
            Some(WatcherType::Data) => &[(Table::Data, standard)],
            Some(WatcherType::Any) => &[(Table::Data, 0xff), (Table::Child, 0xff)],
            Some(WatcherType::Persistent) => &[(Table::Data, persistent), (Table::Child, persistent)],
            Some(WatcherType::PersistentRecursive) => &[(Table::Data, recursive)],
            None => return Err(ErrorCode::MarshallingError),
        };
        let mut found = false;
        for &(table, mask) in targets {
            if remove {
                found |= self.watches.remove(table, &r.path, conn, mask);
            } else {
                found |= self.watches.modes(table, &r.path, conn) & mask != 0;
            }
        }
        if found {
            Ok(())
        } else {
            Err(ErrorCode::NoWatcher)
        }
    }

    /// Re-registers watches after a reconnect, firing at once what changed since `relative_zxid`
    /// (`DataTree.setWatches`). These events carry zxid -1 and are not ACL-filtered.
    fn set_watches(&mut self, conn: ConnId, r: &SetWatches2, out: &mut Vec<Effect>) {
        let rel = r.relative_zxid;
        let fire = |out: &mut Vec<Effect>, event: EventType, path: &str| {
            out.push(Effect::Send {
                conn,
                frame: reply::notification(-1, event.code(), path),
            });
        };
        for p in &r.data_watches {
            let mzxid = self.tree.read().get(p).map(|n| n.stat.mzxid);
            match mzxid {
                None => fire(out, EventType::NodeDeleted, p),
                Some(mzxid) if mzxid > rel => fire(out, EventType::NodeDataChanged, p),
                Some(_) => self.watches.add(Table::Data, p, conn, WatchMode::Standard),
            }
        }
        for p in &r.exist_watches {
            if self.tree.read().get(p).is_some() {
                fire(out, EventType::NodeCreated, p);
            } else {
                self.watches.add(Table::Data, p, conn, WatchMode::Standard);
            }
        }
        for p in &r.child_watches {
            let pzxid = self.tree.read().get(p).map(|n| n.stat.pzxid);
            match pzxid {
                None => fire(out, EventType::NodeDeleted, p),
                Some(pzxid) if pzxid > rel => fire(out, EventType::NodeChildrenChanged, p),
                Some(_) => self.watches.add(Table::Child, p, conn, WatchMode::Standard),
            }
        }
        for p in &r.persistent_watches {
            self.watches.add(Table::Data, p, conn, WatchMode::Persistent);
            self.watches.add(Table::Child, p, conn, WatchMode::Persistent);
        }
        for p in &r.persistent_recursive_watches {
            self.watches
                .add(Table::Data, p, conn, WatchMode::PersistentRecursive);
        }
    }
}

/// The encoded size of one multiRead result, without its `MultiHeader`.
fn result_bytes(result: &OpResult) -> usize {
    match result {
        OpResult::GetData(r) => LENGTH_BYTES + r.data.as_ref().map_or(0, |d| d.len()) + STAT_BYTES,
        OpResult::GetChildren(r) => {
            LENGTH_BYTES + r.children.iter().map(|c| LENGTH_BYTES + c.len()).sum::<usize>()
        }
        OpResult::Error(_) => LENGTH_BYTES,
        // The write results never answer a read; sized all the same.
        OpResult::Create(r) => LENGTH_BYTES + r.path.len(),
        OpResult::Create2(r) => LENGTH_BYTES + r.path.len() + STAT_BYTES,
        OpResult::SetData(_) => STAT_BYTES,
        OpResult::Delete | OpResult::Check => 0,
    }
}

/// `GetChildrenResponse` with borrowed names (the same bytes on the wire).
#[derive(serde::Serialize)]
struct Children<'a> {
    children: Vec<Utf8Bytes<'a>>,
}

/// `GetChildren2Response` with borrowed names (the same bytes on the wire).
#[derive(serde::Serialize)]
struct Children2<'a> {
    children: Vec<Utf8Bytes<'a>>,
    stat: jute::records::data::Stat,
}

#[cfg(test)]
mod tests {
    use super::super::tests::Harness;
    use super::*;
    use jute::records::multi::MultiRequest;

    /// Sends `request` and returns the frames it was answered with and whether the connection was closed.
    fn outcome(h: &mut Harness, conn: u64, request: Request) -> (usize, bool) {
        let header = RequestHeader {
            xid: 77,
            op: request.opcode().code(),
        };
        let effects = h.core.request(h.now, ConnId(conn), header, Ok(request));
        h.run(effects);
        let frames = h.take(ConnId(conn)).len();
        let closed = h.closed.contains(&ConnId(conn));
        (frames, closed)
    }

    fn get_data_ops(path: &str, n: usize) -> Request {
        let op = MultiOp::GetData(ExistsRequest {
            path: path.into(),
            watch: false,
        });
        Request::MultiRead(MultiRequest { ops: vec![op; n] })
    }

    #[test]
    fn replies_over_the_cap_close_the_connection_and_smaller_ones_are_answered() {
        // A 1-byte node's getData result is 9 + 4 + 1 + 68 bytes, the reply 16 + 9 at least.
        let mut h = Harness::with(|c| c.reply_bytes_max = 16 + 9 + 10 * 82);
        h.connect(1);
        h.create(1, "/n", 0);
        assert_eq!(outcome(&mut h, 1, get_data_ops("/n", 10)), (1, false));
        assert_eq!(outcome(&mut h, 1, get_data_ops("/n", 11)), (0, true));
        // Nothing more is served on the closed connection.
        assert_eq!(outcome(&mut h, 1, get_data_ops("/n", 1)), (0, true));

        // getEphemerals and getChildren are measured the same way.
        h.connect(2);
        let names: Vec<String> = (0..40)
            .map(|i| format!("/ephemeral-with-a-long-name-{i:04}"))
            .collect();
        for name in &names {
            assert_eq!(h.create(2, name, 1).0, 0);
        }
        let ephemerals = |prefix: &str| {
            Request::GetEphemerals(GetEphemeralsRequest {
                prefix_path: Some(prefix.into()),
            })
        };
        assert_eq!(
            outcome(&mut h, 2, ephemerals("/ephemeral-with-a-long-name-000")),
            (1, false)
        );
        assert_eq!(outcome(&mut h, 2, ephemerals("/")), (0, true));
        h.connect(3);
        let children = Request::GetChildren(ExistsRequest {
            path: "/".into(),
            watch: false,
        });
        assert_eq!(outcome(&mut h, 3, children), (0, true));
    }

    fn encoded(value: &impl serde::Serialize) -> Vec<u8> {
        let mut out = Vec::new();
        jute::to_writer(&mut out, value).expect("encode");
        out
    }

    #[test]
    fn borrowed_child_lists_encode_as_the_records_do() {
        // A 4-byte character (U+1F600) is written as Java writes it, in two 3-byte surrogates.
        let names = ["a", "", "zk-\u{fc}n\u{ef}", "smile-\u{1F600}"];
        let stat = jute::records::data::Stat {
            czxid: 1,
            num_children: 4,
            ..Default::default()
        };
        let owned: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let borrowed = || names.iter().map(|n| Utf8Bytes(n.as_bytes())).collect::<Vec<_>>();
        let record = GetChildrenResponse {
            children: owned.clone(),
        };
        assert_eq!(encoded(&Children { children: borrowed() }), encoded(&record));
        let record = GetChildren2Response {
            children: owned,
            stat,
        };
        let ours = Children2 {
            children: borrowed(),
            stat,
        };
        assert_eq!(encoded(&ours), encoded(&record));
    }
}
