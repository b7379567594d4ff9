//! Building the frames the server sends: replies (`ReplyHeader` + record) and notifications (xid -1).

use bytes::{BufMut, Bytes, BytesMut};
use jute::codes::{xid, KeeperState};
use jute::records::proto::{ReplyHeader, WatcherEvent};
use serde::Serialize;

/// One whole frame: length, ReplyHeader, then the body if any.
pub fn frame<T: Serialize>(header: ReplyHeader, body: Option<&T>) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_i32(0);
    // Encoding into memory only fails for lengths over 2 GiB, which frames limited by jute.maxbuffer never reach.
    let encoded = jute::to_writer(&mut buf, &header).and_then(|()| match body {
        Some(b) => jute::to_writer(&mut buf, b),
        None => Ok(()),
    });
    if encoded.is_err() {
        buf.truncate(4);
        let _ = jute::to_writer(
            &mut buf,
            &ReplyHeader {
                err: jute::codes::ErrorCode::MarshallingError.code(),
                ..header
            },
        );
    }
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    buf.freeze()
}

/// A reply with no body.
pub fn header_only(xid: i32, zxid: i64, err: i32) -> Bytes {
    frame::<()>(ReplyHeader { xid, zxid, err }, None)
}

/// A watch notification.
pub fn notification(zxid: i64, event_type: i32, path: &str) -> Bytes {
    let event = WatcherEvent {
        event_type,
        state: KeeperState::SyncConnected.code(),
        path: path.to_string(),
    };
    frame(
        ReplyHeader {
            xid: xid::NOTIFICATION,
            zxid,
            err: 0,
        },
        Some(&event),
    )
}

/// A raw payload with its length prefix (the connect response).
pub fn raw(payload: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(payload.len() + 4);
    buf.put_i32(payload.len() as i32);
    buf.put_slice(payload);
    buf.freeze()
}
