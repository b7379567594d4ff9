//! Requests a client should never send (server-internal opcodes, malformed records), answered as Apache ZooKeeper
//! 3.8 answers them. The same cases run against both servers in compat-tests/hostile.

use bytes::Bytes;
use jute::codes::{xid, ErrorCode, OpCode};
use jute::records::data::{Acl, Id};
use jute::records::proto::*;
use jute::request::{Request, RequestError};
use jute::Decoder;

use super::tests::Harness;
use crate::types::ConnId;

/// Sends `body` as opcode `op` with `xid` and returns the header of the last frame the connection got.
fn send_as(
    h: &mut Harness,
    conn: u64,
    xid: i32,
    op: OpCode,
    body: Result<Request, RequestError>,
) -> ReplyHeader {
    let header = RequestHeader { xid, op: op.code() };
    let effects = h.core.request(h.now, ConnId(conn), header, body);
    h.run(effects);
    let frames = h.take(ConnId(conn));
    let frame = frames.last().expect("a reply");
    Decoder::new(&frame[4..]).read().expect("header")
}

/// Sends a request whose record did not decode, as the codec reports it.
fn send_undecodable(h: &mut Harness, conn: u64, op: OpCode) -> ReplyHeader {
    h.next_xid += 1;
    let source = jute::from_slice::<DeleteRequest>(b"\x00").expect_err("a short record");
    let body = Err(RequestError::Marshalling {
        op: op.code(),
        source,
        body: vec![0],
    });
    let xid = h.next_xid;
    send_as(h, conn, xid, op, body)
}

fn protected_node(h: &mut Harness, conn: u64, path: &str, flags: i32, op: OpCode) {
    let auth = AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(b"alice:secret"),
    };
    assert_eq!(h.send(conn, Request::Auth(auth)).0.err, 0);
    let req = CreateRequest {
        path: path.into(),
        data: None,
        acl: vec![Acl {
            perms: 31,
            id: Id::new("auth", ""),
        }],
        flags,
    };
    assert_eq!(h.send(conn, Request::Create(op, req)).0.err, 0);
}

#[test]
fn a_clients_delete_container_is_bad_arguments_and_deletes_nothing() {
    let mut h = Harness::new();
    h.connect(1);
    h.connect(2);
    protected_node(&mut h, 1, "/protected", 0, OpCode::Create);
    protected_node(&mut h, 1, "/empty-container", 4, OpCode::CreateContainer);
    for path in ["/protected", "/empty-container"] {
        let before = h.core.last_zxid().0;
        let request = Request::DeleteContainer(DeleteContainerRequest {
            path: Bytes::copy_from_slice(path.as_bytes()),
        });
        let (rh, body) = h.send(2, request);
        assert_eq!(
            (rh.err, rh.zxid, body.len()),
            (ErrorCode::BadArguments.code(), before + 1, 0),
            "{path}: an error txn, as ZooKeeper 3.8 logs it"
        );
        assert!(h.stat(1, path).is_some(), "{path} is still there");
    }
    let before = h.core.last_zxid().0;
    let rh = send_undecodable(&mut h, 2, OpCode::DeleteContainer);
    assert_eq!(
        (rh.err, rh.zxid),
        (ErrorCode::MarshallingError.code(), before),
        "a raw path (no length prefix) or an empty body is MARSHALLINGERROR and takes no zxid, as in 3.9"
    );
    assert_eq!(h.core.last_zxid().0, before);
    assert!(h.stat(1, "/protected").is_some());
    assert!(!h.closed.contains(&ConnId(2)));
}

#[test]
fn a_write_that_does_not_decode_consumes_no_zxid_but_a_multi_does() {
    let mut h = Harness::new();
    h.connect(1);
    let before = h.core.last_zxid().0;
    let rh = send_undecodable(&mut h, 1, OpCode::Reconfig);
    assert_eq!((rh.err, rh.zxid), (ErrorCode::MarshallingError.code(), before));
    assert_eq!(h.core.last_zxid().0, before);
    for op in [OpCode::SetData, OpCode::Create, OpCode::Delete, OpCode::SetAcl] {
        let rh = send_undecodable(&mut h, 1, op);
        assert_eq!(
            (rh.err, rh.zxid),
            (ErrorCode::MarshallingError.code(), before),
            "{op:?}: ZooKeeper 3.9 reads the record before it takes a zxid"
        );
    }
    let rh = send_undecodable(&mut h, 1, OpCode::Multi);
    assert_eq!(
        (rh.err, rh.zxid),
        (ErrorCode::MarshallingError.code(), before + 1),
        "a multi takes its zxid first, so its error is a txn"
    );
}

#[test]
fn a_ping_is_answered_with_the_ping_xid_whatever_its_xid() {
    let mut h = Harness::new();
    h.connect(1);
    let rh = send_as(&mut h, 1, 7, OpCode::Ping, Ok(Request::Ping));
    assert_eq!((rh.xid, rh.err), (xid::PING, 0));
}

#[test]
fn enforce_auth_answers_unauthenticated_requests_with_124_and_closes() {
    let mut h = Harness::with(|c| c.enforce_auth_schemes = Some(vec!["digest".to_owned()]));
    for (conn, op, request) in [
        (
            1,
            OpCode::Exists,
            Request::Exists(ExistsRequest {
                path: "/".into(),
                watch: false,
            }),
        ),
        (2, OpCode::Ping, Request::Ping),
    ] {
        h.connect(conn);
        let rh = send_as(&mut h, conn, 9, op, Ok(request));
        assert_eq!(
            (rh.xid, rh.zxid, rh.err),
            (9, 0, ErrorCode::SessionClosedRequireSaslAuth.code()),
            "{op:?}"
        );
        assert!(h.closed.contains(&ConnId(conn)), "{op:?} closes the connection");
    }
    h.connect(3);
    let auth = AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(b"alice:secret"),
    };
    assert_eq!(
        h.send(3, Request::Auth(auth)).0.err,
        0,
        "auth is always let through"
    );
    assert!(
        h.stat(3, "/").is_some(),
        "a digest-authenticated session is served"
    );
    assert!(!h.closed.contains(&ConnId(3)));
}

#[test]
fn enforce_auth_with_the_ip_scheme_lets_every_connection_through() {
    let mut h = Harness::with(|c| c.enforce_auth_schemes = Some(vec!["ip".to_owned()]));
    h.connect(1);
    assert!(h.stat(1, "/").is_some(), "every connection has its ip id");
}

#[test]
fn ip_auth_succeeds_whatever_it_carries_and_adds_nothing() {
    let mut h = Harness::new();
    h.connect(1);
    let auth = AuthPacket {
        auth_type: 0,
        scheme: "ip".into(),
        auth: Bytes::from_static(b"10.0.0.1"),
    };
    let rh = send_as(&mut h, 1, xid::AUTH, OpCode::Auth, Ok(Request::Auth(auth)));
    assert_eq!((rh.xid, rh.err), (xid::AUTH, 0));
    assert!(!h.closed.contains(&ConnId(1)));
    let (_, body) = h.send(1, Request::WhoAmI);
    let who: WhoAmIResponse = jute::from_slice(&body).expect("whoami");
    assert_eq!(
        who.client_info.len(),
        1,
        "only the ip id it had: {:?}",
        who.client_info
    );
}
