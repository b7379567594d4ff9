//! The bytes the generator sends and the little it reads back, built on the `jute` records.
//!
//! A request frame is `int len, RequestHeader{xid, type}, body`; bodies are encoded once with `jute` and the
//! header is written around them per request, so the hot path only copies bytes. A reply starts with
//! `ReplyHeader{xid, zxid, err}`; xid -1 marks a watch notification and -2 a ping reply
//! (`ClientCnxn.NOTIFICATION_XID`, `PING_XID`).

use anyhow::{bail, Result};
use bytes::{BufMut, Bytes};
use jute::codes::OpCode;
use jute::frame::put_frame;
use jute::records::data::Acl;
use jute::records::multi::{MultiOp, MultiRequest};
use jute::records::proto::{
    ConnectRequest, CreateRequest, ExistsRequest, ReplyHeader, SetDataRequest, WatcherEvent,
};
use jute::to_bytes;

/// The xid of a watch notification.
pub const XID_NOTIFICATION: i32 = -1;
/// The xid of a ping and of its reply.
pub const XID_PING: i32 = -2;
/// `KeeperException.Code.NODEEXISTS`.
pub const ERR_NODE_EXISTS: i32 = -110;
/// `CreateMode.PERSISTENT_SEQUENTIAL`.
pub const FLAG_SEQUENTIAL: i32 = 2;
/// `Watcher.Event.EventType.NodeDataChanged`.
pub const EVENT_NODE_DATA_CHANGED: i32 = 3;

/// Appends one framed request: length, xid, opcode, then the encoded body.
pub fn put_request(out: &mut Vec<u8>, xid: i32, op: OpCode, body: &[u8]) -> Result<()> {
    let Ok(len) = i32::try_from(body.len() + 8) else {
        bail!("request body of {} bytes is too long", body.len());
    };
    out.reserve(body.len() + 12);
    out.put_i32(len);
    out.put_i32(xid);
    out.put_i32(op.code());
    out.put_slice(body);
    Ok(())
}

/// The framed ConnectRequest of a new session (16-byte zero password, readOnly false).
pub fn connect_frame(session_timeout_ms: i32) -> Result<Vec<u8>> {
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: session_timeout_ms,
        session_id: 0,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: Some(false),
    };
    let mut out = Vec::with_capacity(49);
    put_frame(&mut out, &req.encode()?)?;
    Ok(out)
}

/// The body of a create with an open ACL.
pub fn create_body(path: &str, data: &Bytes, flags: i32) -> Result<Vec<u8>> {
    Ok(to_bytes(&CreateRequest {
        path: path.to_owned(),
        data: Some(data.clone()),
        acl: Acl::open_unsafe(),
        flags,
    })?)
}

/// The body of exists, getData and getChildren, which share one layout.
pub fn path_watch_body(path: &str, watch: bool) -> Result<Vec<u8>> {
    Ok(to_bytes(&ExistsRequest {
        path: path.to_owned(),
        watch,
    })?)
}

/// The body of an unconditional setData.
pub fn set_body(path: &str, data: &Bytes) -> Result<Vec<u8>> {
    Ok(to_bytes(&SetDataRequest {
        path: path.to_owned(),
        data: Some(data.clone()),
        version: -1,
    })?)
}

/// The body of a multi of unconditional setData ops.
pub fn multi_set_body(paths: &[String], data: &Bytes) -> Result<Vec<u8>> {
    let ops = paths
        .iter()
        .map(|path| {
            MultiOp::SetData(SetDataRequest {
                path: path.clone(),
                data: Some(data.clone()),
                version: -1,
            })
        })
        .collect();
    Ok(to_bytes(&MultiRequest { ops })?)
}

/// Reads the ReplyHeader at the start of a reply payload.
pub fn reply_header(payload: &[u8]) -> Result<ReplyHeader> {
    let Some(head) = payload.get(..16) else {
        bail!("reply of {} bytes is shorter than its header", payload.len());
    };
    let int = |at: usize| i32::from_be_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let mut zxid = [0u8; 8];
    zxid.copy_from_slice(&head[4..12]);
    Ok(ReplyHeader {
        xid: int(0),
        zxid: i64::from_be_bytes(zxid),
        err: int(12),
    })
}

/// Decodes the WatcherEvent after the header of a notification.
pub fn watcher_event(payload: &[u8]) -> Result<WatcherEvent> {
    Ok(jute::from_slice(payload.get(16..).unwrap_or_default())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::records::proto::{ConnectResponse, RequestHeader};
    use jute::request::Request;

    fn framed_with_jute(xid: i32, req: &Request) -> Vec<u8> {
        let mut payload = to_bytes(&RequestHeader {
            xid,
            op: req.opcode().code(),
        })
        .expect("header");
        payload.extend(req.encode_body().expect("body"));
        let mut out = Vec::new();
        put_frame(&mut out, &payload).expect("frame");
        out
    }

    #[test]
    fn request_frames_match_jute_encoding() {
        let data = Bytes::from_static(b"0123456789");
        let create = create_body("/bench/a", &data, FLAG_SEQUENTIAL).expect("create");
        let mut out = Vec::new();
        put_request(&mut out, 7, OpCode::Create, &create).expect("put");
        let decoded = Request::decode(OpCode::Create.code(), &out[12..], 1 << 20).expect("decode");
        assert_eq!(out, framed_with_jute(7, &decoded));
        let Request::Create(_, c) = decoded else {
            panic!("not a create: {decoded:?}")
        };
        assert_eq!(
            (c.path.as_str(), c.flags, c.data),
            ("/bench/a", 2, Some(data.clone()))
        );
        assert_eq!(c.acl, Acl::open_unsafe());

        let get = path_watch_body("/bench/k1", true).expect("get");
        let mut out = Vec::new();
        put_request(&mut out, i32::MAX, OpCode::GetData, &get).expect("put");
        let req = Request::GetData(ExistsRequest {
            path: "/bench/k1".into(),
            watch: true,
        });
        assert_eq!(out, framed_with_jute(i32::MAX, &req));
    }

    #[test]
    fn set_and_multi_bodies_decode_as_their_requests() {
        let data = Bytes::from_static(&[7; 100]);
        let set = set_body("/k", &data).expect("set");
        assert_eq!(
            Request::decode(OpCode::SetData.code(), &set, 1 << 20).expect("decode"),
            Request::SetData(SetDataRequest {
                path: "/k".into(),
                data: Some(data.clone()),
                version: -1
            })
        );
        let paths = vec!["/a".to_owned(), "/b".to_owned()];
        let multi = multi_set_body(&paths, &data).expect("multi");
        let Request::Multi(m) = Request::decode(OpCode::Multi.code(), &multi, 1 << 20).expect("decode")
        else {
            panic!("not a multi")
        };
        assert_eq!(m.ops.len(), 2);
        assert!(m.ops.iter().all(|op| op.opcode() == OpCode::SetData));
    }

    #[test]
    fn ping_frame_is_header_only() {
        let mut out = Vec::new();
        put_request(&mut out, XID_PING, OpCode::Ping, &[]).expect("put");
        assert_eq!(out, [0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11]);
        assert_eq!(out, framed_with_jute(XID_PING, &Request::Ping));
    }

    #[test]
    fn connect_frame_is_the_long_handshake() {
        let frame = connect_frame(30_000).expect("connect");
        assert_eq!(&frame[..4], &[0, 0, 0, 45]);
        let req = ConnectRequest::decode(&frame[4..], 1024).expect("decode");
        assert_eq!(
            (req.time_out, req.session_id, req.read_only),
            (30_000, 0, Some(false))
        );
        assert_eq!(req.passwd.len(), 16);
        let resp = ConnectResponse {
            time_out: 30_000,
            session_id: 5,
            passwd: Bytes::from_static(&[1; 16]),
            read_only: Some(false),
            ..Default::default()
        };
        assert_eq!(
            ConnectResponse::decode(&resp.encode().expect("enc"), 1024).expect("dec"),
            resp
        );
    }

    #[test]
    fn reply_header_reads_xid_zxid_err() {
        let header = ReplyHeader {
            xid: -1,
            zxid: 0x1_0000_0002,
            err: ERR_NODE_EXISTS,
        };
        let mut payload = to_bytes(&header).expect("header");
        assert_eq!(reply_header(&payload).expect("parse"), header);
        assert!(reply_header(&payload[..15]).is_err());
        let event = WatcherEvent {
            event_type: EVENT_NODE_DATA_CHANGED,
            state: 3,
            path: "/w".into(),
        };
        payload.extend(to_bytes(&event).expect("event"));
        assert_eq!(watcher_event(&payload).expect("event"), event);
    }
}
