//! Client-protocol records (`org.apache.zookeeper.proto`) written as `client/manifest.json` writes their
//! `fields`: one function per record, so that a field this crate decodes differently from the capture's
//! independent reader shows up by name.

use jute::records::multi::{MultiOp, MultiRequest, MultiResponse, OpResult};
use jute::records::proto::*;
use jute::request::Request;
use serde_json::{json, Value};

use super::{acl, buf, empty, stat, strings};

/// The ConnectRequest fields; `read_only` only when the frame carried the byte.
pub fn connect_request(r: &ConnectRequest) -> Value {
    let mut v = json!({
        "protocol_version": r.protocol_version, "last_zxid_seen": r.last_zxid_seen, "time_out": r.time_out,
        "session_id": r.session_id, "passwd": hex::encode(&r.passwd),
    });
    if let Some(flag) = r.read_only {
        v["read_only"] = Value::Bool(flag);
    }
    v
}

/// The ConnectResponse fields; `read_only` only when the frame carried the byte.
pub fn connect_response(r: &ConnectResponse) -> Value {
    let mut v = json!({
        "protocol_version": r.protocol_version, "time_out": r.time_out, "session_id": r.session_id,
        "passwd": hex::encode(&r.passwd),
    });
    if let Some(flag) = r.read_only {
        v["read_only"] = Value::Bool(flag);
    }
    v
}

fn create(r: &CreateRequest) -> Value {
    json!({"path": r.path, "data": buf(r.data.as_deref()), "acl": acl(&r.acl), "flags": r.flags})
}

fn create_ttl(r: &CreateTtlRequest) -> Value {
    json!({
        "path": r.path, "data": buf(r.data.as_deref()), "acl": acl(&r.acl), "flags": r.flags, "ttl": r.ttl,
    })
}

fn path_watch(r: &ExistsRequest) -> Value {
    json!({"path": r.path, "watch": r.watch})
}

fn path(r: &PathRequest) -> Value {
    json!({"path": r.path})
}

fn path_version(path: &str, version: i32) -> Value {
    json!({"path": path, "version": version})
}

fn set_data(r: &SetDataRequest) -> Value {
    json!({"path": r.path, "data": buf(r.data.as_deref()), "version": r.version})
}

/// The `{type, done, err}` of a `MultiHeader`.
fn multi_header(op: i32, done: bool, err: i32) -> Value {
    json!({"type": op, "done": done, "err": err})
}

/// The terminator every multi request and response ends with.
fn multi_end() -> Value {
    json!({"header": multi_header(-1, true, -1)})
}

fn multi_request(r: &MultiRequest) -> Value {
    let mut ops: Vec<Value> = r
        .ops
        .iter()
        .map(|op| {
            let body = match op {
                MultiOp::Create(_, c) => create(c),
                MultiOp::CreateTtl(c) => create_ttl(c),
                MultiOp::Delete(d) => path_version(&d.path, d.version),
                MultiOp::SetData(s) => set_data(s),
                MultiOp::Check(c) => path_version(&c.path, c.version),
                MultiOp::GetChildren(g) | MultiOp::GetData(g) => path_watch(g),
            };
            json!({"header": multi_header(op.opcode().code(), false, -1), "body": body})
        })
        .collect();
    ops.push(multi_end());
    json!({ "ops": ops })
}

/// The fields of a decoded request body.
pub fn request(r: &Request) -> Value {
    match r {
        Request::Create(_, c) => create(c),
        Request::CreateTtl(c) => create_ttl(c),
        Request::Delete(d) => path_version(&d.path, d.version),
        Request::Exists(p) | Request::GetData(p) | Request::GetChildren(p) | Request::GetChildren2(p) => {
            path_watch(p)
        }
        Request::SetData(s) => set_data(s),
        Request::GetAcl(p) | Request::GetAllChildrenNumber(p) => path(p),
        Request::Sync(s) => json!({"path": s.path}),
        Request::SetAcl(s) => json!({"path": s.path, "acl": acl(&s.acl), "version": s.version}),
        Request::Check(c) => path_version(&c.path, c.version),
        Request::Multi(m) | Request::MultiRead(m) => multi_request(m),
        Request::Reconfig(c) => json!({
            "joining_servers": c.joining_servers, "leaving_servers": c.leaving_servers,
            "new_members": c.new_members, "cur_config_id": c.cur_config_id,
        }),
        Request::CheckWatches(w) | Request::RemoveWatches(w) => {
            json!({"path": w.path, "type": w.watcher_type})
        }
        Request::DeleteContainer(d) => json!({"path": hex::encode(&d.path)}),
        Request::Auth(a) => json!({"type": a.auth_type, "scheme": a.scheme, "auth": hex::encode(&a.auth)}),
        Request::SetWatches(w) => json!({
            "relative_zxid": w.relative_zxid, "data_watches": strings(&w.data_watches),
            "exist_watches": strings(&w.exist_watches), "child_watches": strings(&w.child_watches),
        }),
        Request::SetWatches2(w) => json!({
            "relative_zxid": w.relative_zxid, "data_watches": strings(&w.data_watches),
            "exist_watches": strings(&w.exist_watches), "child_watches": strings(&w.child_watches),
            "persistent_watches": strings(&w.persistent_watches),
            "persistent_recursive_watches": strings(&w.persistent_recursive_watches),
        }),
        Request::Sasl(s) => json!({"token": buf(s.token.as_deref())}),
        Request::GetEphemerals(g) => json!({"prefix_path": g.prefix_path}),
        Request::AddWatch(w) => json!({"path": w.path, "mode": w.mode}),
        Request::Ping | Request::WhoAmI | Request::CloseSession => empty(),
    }
}

fn get_data(r: &GetDataResponse) -> Value {
    json!({"data": buf(r.data.as_deref()), "stat": stat(&r.stat)})
}

/// One result of a multi or multiRead response, with the header the server writes before it.
fn op_result(r: &OpResult) -> Value {
    let (op, err, body) = match r {
        OpResult::Create(c) => (1, 0, json!({"path": c.path})),
        OpResult::Create2(c) => (15, 0, json!({"path": c.path, "stat": stat(&c.stat)})),
        OpResult::Delete => (2, 0, empty()),
        OpResult::SetData(s) => (5, 0, json!({"stat": stat(s)})),
        OpResult::Check => (13, 0, empty()),
        OpResult::GetChildren(g) => (8, 0, json!({"children": strings(&g.children)})),
        OpResult::GetData(g) => (4, 0, get_data(g)),
        OpResult::Error(err) => (-1, *err, json!({"err": err})),
    };
    json!({"header": multi_header(op, false, err), "body": body})
}

fn multi_response(r: &MultiResponse) -> Value {
    let mut results: Vec<Value> = r.results.iter().map(op_result).collect();
    results.push(multi_end());
    json!({ "results": results })
}

/// A decoded reply body, by the record the request's opcode calls for (`FinalRequestProcessor`).
#[derive(Debug)]
pub enum Reply {
    /// No record after the header.
    Empty,
    Create(CreateResponse),
    Create2(Create2Response),
    Stat(ExistsResponse),
    GetData(GetDataResponse),
    GetAcl(GetAclResponse),
    Children(GetChildrenResponse),
    Children2(GetChildren2Response),
    Sync(SyncResponse),
    Multi(MultiResponse),
    Sasl(SetSaslResponse),
    Ephemerals(GetEphemeralsResponse),
    Count(GetAllChildrenNumberResponse),
    AddWatch(ErrorResponse),
    WhoAmI(WhoAmIResponse),
}

/// The fields of a decoded reply body.
pub fn reply(r: &Reply) -> Value {
    match r {
        Reply::Empty => empty(),
        Reply::Create(c) => json!({"path": c.path}),
        Reply::Create2(c) => json!({"path": c.path, "stat": stat(&c.stat)}),
        Reply::Stat(s) => json!({"stat": stat(&s.stat)}),
        Reply::GetData(g) => get_data(g),
        Reply::GetAcl(g) => json!({"acl": acl(&g.acl), "stat": stat(&g.stat)}),
        Reply::Children(g) => json!({"children": strings(&g.children)}),
        Reply::Children2(g) => json!({"children": strings(&g.children), "stat": stat(&g.stat)}),
        Reply::Sync(s) => json!({"path": s.path}),
        Reply::Multi(m) => multi_response(m),
        Reply::Sasl(s) => json!({"token": buf(s.token.as_deref())}),
        Reply::Ephemerals(e) => json!({"ephemerals": strings(&e.ephemerals)}),
        Reply::Count(c) => json!({"total_number": c.total_number}),
        Reply::AddWatch(e) => json!({"err": e.err}),
        Reply::WhoAmI(w) => json!({
            "client_info": w.client_info.iter()
                .map(|c| json!({"auth_scheme": c.auth_scheme, "user": c.user}))
                .collect::<Vec<_>>(),
        }),
    }
}

/// The fields of a watch notification.
pub fn watcher_event(e: &WatcherEvent) -> Value {
    json!({"type": e.event_type, "state": e.state, "path": e.path})
}
