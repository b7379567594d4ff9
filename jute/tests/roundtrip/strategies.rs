//! proptest strategies for every record, shared by the round-trip tests. Values are drawn so that they can be
//! written at all: strings in the Basic Multilingual Plane, opcodes matching their records, closeSession paths
//! that are real paths.

use bytes::Bytes;
use jute::codes::OpCode;
use jute::records::data::{Acl, Id, Stat, StatPersisted};
use jute::records::multi::{MultiOp, MultiRequest, MultiResponse, OpResult};
use jute::records::proto::*;
use jute::records::txn::*;
use jute::request::Request;
use jute::txn_entry::{TxnBody, TxnEntry, DIGEST_VERSION};
use proptest::prelude::*;

pub fn string() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        "[a-z0-9:/._-]{0,12}",
        prop::collection::vec(prop::char::range('\u{0}', '\u{FFFF}'), 0..8).prop_map(String::from_iter),
    ]
}

pub fn path() -> impl Strategy<Value = String> + Clone {
    "(/[a-z0-9._-]{1,6}){1,3}"
}

pub fn paths() -> impl Strategy<Value = Vec<String>> + Clone {
    prop::collection::vec(path(), 0..4)
}

pub fn bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

pub fn opt_bytes() -> impl Strategy<Value = Option<Bytes>> {
    prop::option::of(bytes())
}

pub fn id() -> impl Strategy<Value = Id> {
    (string(), proptest::option::of(string())).prop_map(|(scheme, id)| Id { scheme, id })
}

pub fn acl() -> impl Strategy<Value = Acl> {
    (any::<i32>(), id()).prop_map(|(perms, id)| Acl { perms, id })
}

pub fn acls() -> impl Strategy<Value = Vec<Acl>> {
    prop::collection::vec(acl(), 0..3)
}

pub fn stat() -> impl Strategy<Value = Stat> {
    (any::<[i64; 6]>(), any::<[i32; 5]>()).prop_map(|(l, i)| Stat {
        czxid: l[0],
        mzxid: l[1],
        ctime: l[2],
        mtime: l[3],
        version: i[0],
        cversion: i[1],
        aversion: i[2],
        ephemeral_owner: l[4],
        data_length: i[3],
        num_children: i[4],
        pzxid: l[5],
    })
}

pub fn stat_persisted() -> impl Strategy<Value = StatPersisted> {
    (any::<[i64; 6]>(), any::<[i32; 3]>()).prop_map(|(l, i)| StatPersisted {
        czxid: l[0],
        mzxid: l[1],
        ctime: l[2],
        mtime: l[3],
        version: i[0],
        cversion: i[1],
        aversion: i[2],
        ephemeral_owner: l[4],
        pzxid: l[5],
    })
}

pub fn create_request() -> impl Strategy<Value = CreateRequest> {
    (path(), opt_bytes(), acls(), any::<i32>()).prop_map(|(path, data, acl, flags)| CreateRequest {
        path,
        data,
        acl,
        flags,
    })
}

fn create_ttl_request() -> impl Strategy<Value = CreateTtlRequest> {
    (create_request(), any::<i64>()).prop_map(|(c, ttl)| CreateTtlRequest {
        path: c.path,
        data: c.data,
        acl: c.acl,
        flags: c.flags,
        ttl,
    })
}

fn path_version() -> impl Strategy<Value = (String, i32)> {
    (path(), any::<i32>())
}

fn exists_request() -> impl Strategy<Value = ExistsRequest> {
    (path(), any::<bool>()).prop_map(|(path, watch)| ExistsRequest { path, watch })
}

fn set_data_request() -> impl Strategy<Value = SetDataRequest> {
    (path(), opt_bytes(), any::<i32>()).prop_map(|(path, data, version)| SetDataRequest {
        path,
        data,
        version,
    })
}

fn create_op() -> impl Strategy<Value = OpCode> {
    prop::sample::select(vec![OpCode::Create, OpCode::Create2, OpCode::CreateContainer])
}

/// A create op of a multi: its flags name a create mode (0-6), or the request does not decode.
fn multi_create_request() -> impl Strategy<Value = CreateRequest> {
    (create_request(), 0..=6i32).prop_map(|(r, flags)| CreateRequest { flags, ..r })
}

pub fn multi_write_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        (create_op(), multi_create_request()).prop_map(|(op, r)| MultiOp::Create(op, r)),
        create_ttl_request().prop_map(MultiOp::CreateTtl),
        path_version().prop_map(|(path, version)| MultiOp::Delete(DeleteRequest { path, version })),
        set_data_request().prop_map(MultiOp::SetData),
        path_version().prop_map(|(path, version)| MultiOp::Check(CheckVersionRequest { path, version })),
    ]
}

pub fn multi_read_op() -> impl Strategy<Value = MultiOp> {
    prop_oneof![
        exists_request().prop_map(MultiOp::GetChildren),
        exists_request().prop_map(MultiOp::GetData),
    ]
}

/// A multi or multiRead body of one kind of op (mixing kinds does not decode).
pub fn multi_request() -> impl Strategy<Value = MultiRequest> {
    prop_oneof![
        prop::collection::vec(multi_write_op(), 0..5),
        prop::collection::vec(multi_read_op(), 0..5),
    ]
    .prop_map(|ops| MultiRequest { ops })
}

pub fn multi_response() -> impl Strategy<Value = MultiResponse> {
    let result = prop_oneof![
        path().prop_map(|path| OpResult::Create(CreateResponse { path })),
        (path(), stat()).prop_map(|(path, stat)| OpResult::Create2(Create2Response { path, stat })),
        Just(OpResult::Delete),
        stat().prop_map(OpResult::SetData),
        Just(OpResult::Check),
        paths().prop_map(|children| OpResult::GetChildren(GetChildrenResponse { children })),
        (opt_bytes(), stat()).prop_map(|(data, stat)| OpResult::GetData(GetDataResponse { data, stat })),
        any::<i32>().prop_map(OpResult::Error),
    ];
    prop::collection::vec(result, 0..5).prop_map(|results| MultiResponse { results })
}

pub fn request() -> impl Strategy<Value = Request> {
    let path_only = || path().prop_map(|path| PathRequest { path });
    let watches = || (any::<i64>(), paths(), paths(), paths());
    prop_oneof![
        (create_op(), create_request()).prop_map(|(op, r)| Request::Create(op, r)),
        create_ttl_request().prop_map(Request::CreateTtl),
        path_version().prop_map(|(path, version)| Request::Delete(DeleteRequest { path, version })),
        exists_request().prop_map(Request::Exists),
        exists_request().prop_map(Request::GetData),
        set_data_request().prop_map(Request::SetData),
        path_only().prop_map(Request::GetAcl),
        (path(), acls(), any::<i32>()).prop_map(|(path, acl, version)| Request::SetAcl(SetAclRequest {
            path,
            acl,
            version
        })),
        exists_request().prop_map(Request::GetChildren),
        exists_request().prop_map(Request::GetChildren2),
        proptest::option::of(path()).prop_map(|path| Request::Sync(SyncRequest { path })),
        Just(Request::Ping),
        path_version().prop_map(|(path, version)| Request::Check(CheckVersionRequest { path, version })),
        multi_request().prop_map(Request::Multi),
        multi_request().prop_map(Request::MultiRead),
        (
            prop::option::of(string()),
            prop::option::of(string()),
            any::<i64>()
        )
            .prop_map(|(j, l, id)| {
                Request::Reconfig(ReconfigRequest {
                    joining_servers: j,
                    leaving_servers: l,
                    new_members: None,
                    cur_config_id: id,
                })
            }),
        path_version().prop_map(|(path, t)| Request::CheckWatches(CheckWatchesRequest {
            path,
            watcher_type: t
        })),
        path_version().prop_map(|(path, t)| Request::RemoveWatches(CheckWatchesRequest {
            path,
            watcher_type: t
        })),
        bytes().prop_map(|path| Request::DeleteContainer(DeleteContainerRequest { path })),
        (any::<i32>(), string(), bytes()).prop_map(|(auth_type, scheme, auth)| Request::Auth(AuthPacket {
            auth_type,
            scheme,
            auth
        })),
        watches().prop_map(|(z, d, e, c)| Request::SetWatches(SetWatches {
            relative_zxid: z,
            data_watches: d,
            exist_watches: e,
            child_watches: c,
        })),
        (watches(), paths(), paths()).prop_map(|((z, d, e, c), p, r)| Request::SetWatches2(SetWatches2 {
            relative_zxid: z,
            data_watches: d,
            exist_watches: e,
            child_watches: c,
            persistent_watches: p,
            persistent_recursive_watches: r,
        })),
        bytes().prop_map(|token| Request::Sasl(GetSaslRequest { token: Some(token) })),
        prop::option::of(path())
            .prop_map(|prefix_path| Request::GetEphemerals(GetEphemeralsRequest { prefix_path })),
        path_only().prop_map(Request::GetAllChildrenNumber),
        path_version().prop_map(|(path, mode)| Request::AddWatch(AddWatchRequest { path, mode })),
        Just(Request::WhoAmI),
        Just(Request::CloseSession),
    ]
}

pub fn connect_request() -> impl Strategy<Value = ConnectRequest> {
    (
        any::<(i32, i64, i32, i64)>(),
        bytes(),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |((protocol_version, last_zxid_seen, time_out, session_id), passwd, read_only)| ConnectRequest {
                protocol_version,
                last_zxid_seen,
                time_out,
                session_id,
                passwd,
                read_only,
            },
        )
}

pub fn connect_response() -> impl Strategy<Value = ConnectResponse> {
    (any::<(i32, i32, i64)>(), bytes(), prop::option::of(any::<bool>())).prop_map(
        |((protocol_version, time_out, session_id), passwd, read_only)| ConnectResponse {
            protocol_version,
            time_out,
            session_id,
            passwd,
            read_only,
        },
    )
}

pub fn txn_header(txn_type: impl Strategy<Value = i32>) -> impl Strategy<Value = TxnHeader> {
    (any::<(i64, i32, i64, i64)>(), txn_type).prop_map(|((client_id, cxid, zxid, time), txn_type)| {
        TxnHeader {
            client_id,
            cxid,
            zxid,
            time,
            txn_type,
        }
    })
}

pub fn txn_digest() -> impl Strategy<Value = TxnDigest> {
    (prop_oneof![Just(DIGEST_VERSION), any::<i32>()], any::<i64>())
        .prop_map(|(version, tree_digest)| TxnDigest { version, tree_digest })
}

pub fn create_txn() -> impl Strategy<Value = CreateTxn> {
    (create_request(), any::<bool>(), any::<i32>()).prop_map(|(c, ephemeral, parent_cversion)| CreateTxn {
        path: c.path,
        data: c.data,
        acl: c.acl,
        ephemeral,
        parent_cversion,
    })
}

/// A body that may appear inside a multi, with a type that calls for it.
fn sub_txn() -> impl Strategy<Value = (OpCode, TxnBody)> {
    let creates = prop::sample::select(vec![OpCode::Create, OpCode::Create2]);
    let deletes = prop::sample::select(vec![OpCode::Delete, OpCode::DeleteContainer]);
    prop_oneof![
        (creates, create_txn()).prop_map(|(op, c)| (op, TxnBody::Create(c))),
        create_txn().prop_map(|c| (
            OpCode::CreateContainer,
            TxnBody::CreateContainer(CreateContainerTxn {
                path: c.path,
                data: c.data,
                acl: c.acl,
                parent_cversion: c.parent_cversion,
            })
        )),
        (create_txn(), any::<i64>()).prop_map(|(c, ttl)| (
            OpCode::CreateTtl,
            TxnBody::CreateTtl(CreateTtlTxn {
                path: c.path,
                data: c.data,
                acl: c.acl,
                parent_cversion: c.parent_cversion,
                ttl,
            })
        )),
        (deletes, path()).prop_map(|(op, path)| (op, TxnBody::Delete(DeleteTxn { path }))),
        set_data_request().prop_map(|r| (
            OpCode::SetData,
            TxnBody::SetData(SetDataTxn {
                path: r.path,
                data: r.data,
                version: r.version
            })
        )),
        any::<i32>().prop_map(|err| (OpCode::Error, TxnBody::Error(ErrorTxn { err }))),
        path_version()
            .prop_map(|(path, version)| (OpCode::Check, TxnBody::Check(CheckVersionTxn { path, version }))),
    ]
}

/// A top-level body with a header type that calls for it.
fn top_txn() -> impl Strategy<Value = (OpCode, TxnBody)> {
    let close = prop::option::of(paths().prop_map(|paths2_delete| CloseSessionTxn { paths2_delete }));
    prop_oneof![
        sub_txn().prop_filter("top-level types", |(op, _)| *op != OpCode::Check),
        any::<i32>().prop_map(|time_out| (
            OpCode::CreateSession,
            TxnBody::CreateSession(CreateSessionTxn { time_out })
        )),
        close.prop_map(|c| (OpCode::CloseSession, TxnBody::CloseSession(c))),
        (path(), acls(), any::<i32>()).prop_map(|(path, acl, version)| (
            OpCode::SetAcl,
            TxnBody::SetAcl(SetAclTxn { path, acl, version })
        )),
        (path(), opt_bytes()).prop_map(|(path, data)| (
            OpCode::Reconfig,
            TxnBody::SetData(SetDataTxn {
                path,
                data,
                version: -1
            })
        )),
        prop::collection::vec(sub_txn(), 0..4).prop_map(|subs| (OpCode::Multi, TxnBody::Multi(subs))),
        path_version()
            .prop_map(|(path, version)| (OpCode::Check, TxnBody::Check(CheckVersionTxn { path, version }))),
    ]
}

pub fn txn_entry() -> impl Strategy<Value = TxnEntry> {
    (top_txn(), txn_header(Just(0)), prop::option::of(txn_digest())).prop_map(
        |((op, body), header, digest)| {
            // A body-less closeSession can only be followed by a digest of the current version (see txn_entry).
            let digest = match body {
                TxnBody::CloseSession(None) => digest.map(|d| TxnDigest {
                    version: DIGEST_VERSION,
                    ..d
                }),
                _ => digest,
            };
            TxnEntry {
                header: TxnHeader {
                    txn_type: op.code(),
                    ..header
                },
                body,
                digest,
            }
        },
    )
}
