//! A read-only core (`read_only`): who may connect, what it answers, and that nothing it does becomes a txn.

use bytes::Bytes;
use jute::codes::{ErrorCode, OpCode};
use jute::records::proto::*;
use jute::request::Request;
use jute::Decoder;

use super::session::password;
use super::{Core, CoreConfig, Effect, Role};
use crate::types::{ConnId, Now, SessionId, Zxid};

const SESSIONLESS_MS: u64 = 10_000;

fn now(mono_ms: u64) -> Now {
    Now {
        wall_ms: 1_700_000_000_000 + mono_ms as i64,
        mono_ms,
    }
}

/// A standalone core with `/a` and one live session, then turned read-only.
fn read_only_core() -> (Core, SessionId) {
    read_only_core_with(false)
}

/// A read-only core whose database holds one global session, with `localSessionsEnabled` as given.
fn read_only_core_with(local_sessions: bool) -> (Core, SessionId) {
    let config = CoreConfig {
        server_id: 2,
        min_session_timeout_ms: 2000,
        max_session_timeout_ms: 40_000,
        local_sessions,
        ..Default::default()
    };
    let mut core = Core::new(config, now(0));
    let out = core.connect(
        now(0),
        ConnId(100),
        "127.0.0.1",
        connect_request(0, &[0; 16], Some(false)),
    );
    let out = persist_all(&mut core, out);
    let frame = sent(&out, ConnId(100)).remove(0);
    let session = ConnectResponse::decode(&frame[4..], 1 << 20).expect("connect response");
    let out = core.request(now(0), ConnId(100), header(1, OpCode::Create), Ok(create("/a")));
    persist_all(&mut core, out);
    core.disconnected(now(0), ConnId(100));
    core.become_read_only(SESSIONLESS_MS);
    assert_eq!(core.role(), Role::ReadOnly);
    (core, SessionId(session.session_id))
}

fn persist_all(core: &mut Core, effects: Vec<Effect>) -> Vec<Effect> {
    let mut out = Vec::new();
    for e in effects {
        match e {
            Effect::Persist { zxid, .. } => out.extend(core.persisted(now(0), zxid)),
            other => out.push(other),
        }
    }
    out
}

fn connect_request(session_id: i64, passwd: &[u8], read_only: Option<bool>) -> ConnectRequest {
    ConnectRequest {
        time_out: 4000,
        session_id,
        passwd: Bytes::copy_from_slice(passwd),
        read_only,
        ..Default::default()
    }
}

fn header(xid: i32, op: OpCode) -> RequestHeader {
    RequestHeader { xid, op: op.code() }
}

fn create(path: &str) -> Request {
    Request::Create(
        OpCode::Create,
        CreateRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"x")),
            acl: jute::records::data::Acl::open_unsafe(),
            flags: 0,
        },
    )
}

fn sent(effects: &[Effect], to: ConnId) -> Vec<Bytes> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { conn, frame } if *conn == to => Some(frame.clone()),
            _ => None,
        })
        .collect()
}

fn closed(effects: &[Effect], to: ConnId) -> bool {
    effects
        .iter()
        .any(|e| matches!(e, Effect::Close { conn } if *conn == to))
}

fn no_txn(effects: &[Effect]) {
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, Effect::Persist { .. } | Effect::Forward { .. })),
        "a read-only server made a txn: {effects:?}"
    );
}

fn reply_header(frame: &Bytes) -> ReplyHeader {
    Decoder::new(&frame[4..]).read().expect("reply header")
}

#[test]
fn a_client_that_is_not_read_only_is_closed_unanswered() {
    let (mut core, _) = read_only_core();
    for flag in [None, Some(false)] {
        let out = core.connect(now(5), ConnId(1), "127.0.0.1", connect_request(0, &[0; 16], flag));
        no_txn(&out);
        assert!(sent(&out, ConnId(1)).is_empty());
        assert!(closed(&out, ConnId(1)));
    }
}

#[test]
fn a_new_session_gets_a_bare_notreadonly_header_and_is_closed_after_the_sessionless_timeout() {
    let (mut core, _) = read_only_core();
    let last = core.last_zxid();
    let out = core.connect(
        now(5),
        ConnId(1),
        "127.0.0.1",
        connect_request(0, &[0; 16], Some(true)),
    );
    no_txn(&out);
    let frames = sent(&out, ConnId(1));
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].len(), 4 + 16);
    let h = reply_header(&frames[0]);
    assert_eq!((h.xid, h.zxid, h.err), (0, last.0, ErrorCode::NotReadOnly.code()));
    assert!(!closed(&out, ConnId(1)));
    // Deadlines are rounded up to the next multiple of the sessionless timeout.
    assert!(!closed(&core.tick(now(2 * SESSIONLESS_MS - 1)), ConnId(1)));
    assert!(closed(&core.tick(now(2 * SESSIONLESS_MS)), ConnId(1)));
}

#[test]
fn a_global_session_is_refused_and_any_other_id_is_taken_on_its_password() {
    let (mut core, global) = read_only_core();
    let out = core.connect(
        now(5),
        ConnId(1),
        "127.0.0.1",
        connect_request(global.0, &password(global), Some(true)),
    );
    assert!(sent(&out, ConnId(1)).is_empty());
    assert!(closed(&out, ConnId(1)));

    let other = SessionId(0x0301_0000_0000_0007);
    let out = core.connect(
        now(5),
        ConnId(2),
        "127.0.0.1",
        connect_request(other.0, &[1; 16], Some(true)),
    );
    let rsp = ConnectResponse::decode(&sent(&out, ConnId(2))[0][4..], 1 << 20).expect("response");
    assert_eq!((rsp.time_out, rsp.session_id, rsp.read_only), (0, 0, Some(true)));
    assert!(closed(&out, ConnId(2)));

    let out = core.connect(
        now(5),
        ConnId(3),
        "127.0.0.1",
        connect_request(other.0, &password(other), Some(true)),
    );
    no_txn(&out);
    let rsp = ConnectResponse::decode(&sent(&out, ConnId(3))[0][4..], 1 << 20).expect("response");
    assert_eq!(
        (rsp.time_out, rsp.session_id, rsp.read_only),
        (4000, other.0, Some(true))
    );
    assert!(!closed(&out, ConnId(3)));
    assert!(
        core.sessions().get(other).is_none(),
        "no session tracker holds it"
    );
    // Its connection is closed once idle for the session timeout (rounded up to a multiple of the sessionless
    // timeout); activity keeps it.
    let out = core.request(now(8000), ConnId(3), header(-2, OpCode::Ping), Ok(Request::Ping));
    assert_eq!(sent(&out, ConnId(3)).len(), 1);
    assert!(!closed(&core.tick(now(SESSIONLESS_MS)), ConnId(3)));
    assert!(!closed(&core.tick(now(2 * SESSIONLESS_MS - 1)), ConnId(3)));
    assert!(closed(&core.tick(now(2 * SESSIONLESS_MS)), ConnId(3)));
}

#[test]
fn reads_are_served_and_writes_syncs_and_close_session_are_answered_notreadonly() {
    let (mut core, _) = read_only_core();
    let id = SessionId(0x0301_0000_0000_0009);
    core.connect(
        now(5),
        ConnId(1),
        "127.0.0.1",
        connect_request(id.0, &password(id), Some(true)),
    );
    let last = core.last_zxid();
    let path = || "/a".to_owned();
    let reads = [
        (
            OpCode::GetData,
            Request::GetData(GetDataRequest {
                path: path(),
                watch: true,
            }),
        ),
        (
            OpCode::Exists,
            Request::Exists(ExistsRequest {
                path: path(),
                watch: false,
            }),
        ),
        (
            OpCode::GetChildren,
            Request::GetChildren(GetChildrenRequest {
                path: "/".into(),
                watch: false,
            }),
        ),
        (OpCode::GetAcl, Request::GetAcl(GetAclRequest { path: path() })),
    ];
    for (xid, (op, request)) in (1..).zip(reads) {
        let out = core.request(now(10), ConnId(1), header(xid, op), Ok(request));
        no_txn(&out);
        let h = reply_header(&sent(&out, ConnId(1))[0]);
        assert_eq!((h.xid, h.zxid, h.err), (xid, last.0, 0), "{op:?}");
    }
    let refused = [
        (OpCode::Create, create("/b")),
        (OpCode::Sync, Request::Sync(SyncRequest { path: Some(path()) })),
        (
            OpCode::SetData,
            Request::SetData(SetDataRequest {
                path: path(),
                data: None,
                version: -1,
            }),
        ),
        (
            OpCode::Delete,
            Request::Delete(DeleteRequest {
                path: path(),
                version: -1,
            }),
        ),
        (OpCode::CloseSession, Request::CloseSession),
    ];
    for (xid, (op, request)) in (10..).zip(refused) {
        let out = core.request(now(10), ConnId(1), header(xid, op), Ok(request));
        no_txn(&out);
        let h = reply_header(&sent(&out, ConnId(1))[0]);
        assert_eq!(
            (h.xid, h.zxid, h.err),
            (xid, last.0, ErrorCode::NotReadOnly.code()),
            "{op:?}"
        );
        assert!(!closed(&out, ConnId(1)), "{op:?}");
    }
    assert_eq!(core.last_zxid(), last);
    assert!(core.tree().get("/b").is_none());
    assert_eq!(core.last_zxid(), Zxid(last.0));
}

#[test]
fn with_local_sessions_a_new_session_is_local_reads_and_closes_without_a_txn() {
    let (mut core, global) = read_only_core_with(true);
    let last = core.last_zxid();
    let out = core.connect(
        now(5),
        ConnId(1),
        "127.0.0.1",
        connect_request(0, &[0; 16], Some(true)),
    );
    no_txn(&out);
    let frame = sent(&out, ConnId(1)).remove(0);
    let rsp = ConnectResponse::decode(&frame[4..], 1 << 20).expect("connect response");
    assert_eq!(rsp.read_only, Some(true));
    assert_eq!(rsp.session_id >> 56, 2);
    assert_eq!(core.stats().local_sessions, 1);
    // Reads are served, writes refused, closeSession of the local session answered and the session gone.
    let out = core.request(
        now(6),
        ConnId(1),
        header(1, OpCode::Exists),
        Ok(Request::Exists(ExistsRequest {
            path: "/a".into(),
            watch: false,
        })),
    );
    assert_eq!(reply_header(&sent(&out, ConnId(1))[0]).err, 0);
    let out = core.request(now(6), ConnId(1), header(2, OpCode::Create), Ok(create("/b")));
    assert_eq!(
        reply_header(&sent(&out, ConnId(1))[0]).err,
        ErrorCode::NotReadOnly.code()
    );
    let out = core.request(
        now(7),
        ConnId(1),
        header(3, OpCode::CloseSession),
        Ok(Request::CloseSession),
    );
    no_txn(&out);
    let h = reply_header(&sent(&out, ConnId(1))[0]);
    assert_eq!((h.xid, h.zxid, h.err), (3, last.0, 0));
    assert!(closed(&out, ConnId(1)));
    assert_eq!(core.stats().local_sessions, 0);
    // A global session, or an id this server does not hold as local, is refused.
    for (conn, id) in [(2, global), (3, SessionId(7 << 56 | 1))] {
        let out = core.connect(
            now(8),
            ConnId(conn),
            "127.0.0.1",
            connect_request(id.0, &password(id), Some(true)),
        );
        no_txn(&out);
        assert!(closed(&out, ConnId(conn)));
    }
    // A local session expires on its timeout.
    let out = core.connect(
        now(10),
        ConnId(4),
        "127.0.0.1",
        connect_request(0, &[0; 16], Some(true)),
    );
    no_txn(&out);
    assert_eq!(core.stats().local_sessions, 1);
    let out = core.tick(now(10 + 60_000));
    no_txn(&out);
    assert!(closed(&out, ConnId(4)));
    assert_eq!(core.stats().local_sessions, 0);
}
