//! Transaction records (`org.apache.zookeeper.txn`) written as `datadir/manifest.json` writes a logged txn's
//! `header`, `body` and `digest`. The manifest spells `parentCVersion` as `parent_c_version`.

use jute::records::txn::{TxnDigest, TxnHeader};
use jute::txn_entry::TxnBody;
use serde_json::{json, Value};

use super::{acl, buf, empty, op_name, strings};

/// The `{client_id, cxid, zxid, time, type}` of a `TxnHeader`.
pub fn header(h: &TxnHeader) -> Value {
    json!({"client_id": h.client_id, "cxid": h.cxid, "zxid": h.zxid, "time": h.time, "type": h.txn_type})
}

/// The trailing `TxnDigest`, or null.
pub fn digest(d: Option<&TxnDigest>) -> Value {
    d.map_or(
        Value::Null,
        |d| json!({"version": d.version, "tree_digest": d.tree_digest}),
    )
}

/// The body of a txn. A multi's sub-txns are written with their type, its name and the body; the raw
/// `data_hex` of each is checked separately, against the bytes of the entry.
pub fn body(b: &TxnBody) -> Value {
    match b {
        TxnBody::CreateSession(s) => json!({"time_out": s.time_out}),
        TxnBody::CloseSession(None) => empty(),
        TxnBody::CloseSession(Some(c)) => json!({"paths2_delete": strings(&c.paths2_delete)}),
        TxnBody::Create(c) => json!({
            "path": c.path, "data": buf(c.data.as_deref()), "acl": acl(&c.acl), "ephemeral": c.ephemeral,
            "parent_c_version": c.parent_cversion,
        }),
        TxnBody::CreateContainer(c) => json!({
            "path": c.path, "data": buf(c.data.as_deref()), "acl": acl(&c.acl),
            "parent_c_version": c.parent_cversion,
        }),
        TxnBody::CreateTtl(c) => json!({
            "path": c.path, "data": buf(c.data.as_deref()), "acl": acl(&c.acl),
            "parent_c_version": c.parent_cversion, "ttl": c.ttl,
        }),
        TxnBody::Delete(d) => json!({"path": d.path}),
        TxnBody::SetData(s) => json!({"path": s.path, "data": buf(s.data.as_deref()), "version": s.version}),
        TxnBody::SetAcl(s) => json!({"path": s.path, "acl": acl(&s.acl), "version": s.version}),
        TxnBody::Error(e) => json!({"err": e.err}),
        TxnBody::Check(c) => json!({"path": c.path, "version": c.version}),
        TxnBody::Multi(txns) => json!({
            "txns": txns.iter().map(|(op, sub)| json!({
                "type": op.code(), "type_name": op_name(op.code()), "body": body(sub),
            })).collect::<Vec<_>>(),
        }),
    }
}
