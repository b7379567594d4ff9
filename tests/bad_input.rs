//! Bad input after the handshake, over a real socket: each case gets ZooKeeper's answer or a clean close, and
//! another session on the same server goes on being served.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use jute::records::data::Acl;
use jute::records::proto::{CreateRequest, GetDataRequest, ReplyHeader, RequestHeader};
use jute::Decoder;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

fn request(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut payload = jute::to_bytes(&RequestHeader { xid, op }).expect("header");
    payload.extend_from_slice(body);
    frame(&payload)
}

fn reply_header(payload: &[u8]) -> ReplyHeader {
    Decoder::new(payload).read().expect("reply header")
}

/// The bystander session still answers a ping and a read.
async fn still_served(stream: &mut TcpStream) {
    stream.write_all(&ping_frame()).await.expect("ping");
    assert_eq!(reply_header(&read_frame(stream).await).xid, -2);
    let body = jute::to_bytes(&GetDataRequest {
        path: "/zookeeper".into(),
        watch: false,
    })
    .expect("body");
    stream.write_all(&request(77, 4, &body)).await.expect("getData");
    let h = reply_header(&read_frame(stream).await);
    assert_eq!((h.xid, h.err), (77, 0));
}

async fn pair() -> (Running, TcpStream, TcpStream) {
    let mut config = test_config();
    config.jute_max_buffer = 4096;
    let server = start(config).await;
    let (victim, _) = connect_session(server.addr).await;
    let (bystander, _) = connect_session(server.addr).await;
    (server, victim, bystander)
}

#[tokio::test]
async fn an_unknown_opcode_closes_only_its_connection() {
    let (_server, mut victim, mut bystander) = pair().await;
    victim.write_all(&request(1, 999, &[])).await.expect("write");
    read_to_close(&mut victim).await;
    still_served(&mut bystander).await;
}

#[tokio::test]
async fn a_truncated_read_is_a_marshalling_error_and_the_session_goes_on() {
    let (_server, mut victim, mut bystander) = pair().await;
    // getData whose path claims 100 bytes and carries 3.
    let mut body = 100i32.to_be_bytes().to_vec();
    body.extend_from_slice(b"/ab");
    victim.write_all(&request(5, 4, &body)).await.expect("write");
    let h = reply_header(&read_frame(&mut victim).await);
    assert_eq!((h.xid, h.err), (5, -5));
    still_served(&mut victim).await;
    still_served(&mut bystander).await;
}

#[tokio::test]
async fn a_truncated_write_is_a_marshalling_error_that_consumes_a_zxid() {
    let (_server, mut victim, mut bystander) = pair().await;
    victim
        .write_all(&request(6, 1, &[0, 0, 0, 9, b'/']))
        .await
        .expect("write");
    let h = reply_header(&read_frame(&mut victim).await);
    assert_eq!((h.xid, h.err), (6, -5));
    assert!(h.zxid > 0, "the error txn has a zxid");
    still_served(&mut victim).await;
    still_served(&mut bystander).await;
}

/// ZooKeeper's order: no slash or a NUL first (BADARGUMENTS), then the parent (NONODE), then the whole path.
#[tokio::test]
async fn invalid_paths_get_zookeepers_errors_in_its_order() {
    let (_server, mut victim, mut bystander) = pair().await;
    let cases = [
        (10, "no-slash", -8),
        (11, "/a\0b", -8),
        (12, "/zookeeper/", -8),
        (13, "/zookeeper/.", -8),
        (14, "/zookeeper/..", -8),
        (15, "/zookeeper//x", -101),
        (16, "/missing/", -101),
    ];
    for (xid, path, err) in cases {
        let body = jute::to_bytes(&CreateRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"x")),
            acl: Acl::open_unsafe(),
            flags: 0,
        })
        .expect("body");
        victim.write_all(&request(xid, 1, &body)).await.expect("write");
        let h = reply_header(&read_frame(&mut victim).await);
        assert_eq!((h.xid, h.err), (xid, err), "create {path:?}");
    }
    still_served(&mut bystander).await;
}

#[tokio::test]
async fn a_request_over_jute_maxbuffer_closes_only_its_connection() {
    let (_server, mut victim, mut bystander) = pair().await;
    let body = jute::to_bytes(&CreateRequest {
        path: "/big".into(),
        data: Some(Bytes::from(vec![0u8; 8192])),
        acl: Acl::open_unsafe(),
        flags: 0,
    })
    .expect("body");
    victim.write_all(&request(3, 1, &body)).await.expect("write");
    read_to_close(&mut victim).await;
    still_served(&mut bystander).await;
}

#[tokio::test]
async fn a_frame_too_short_for_a_header_closes_the_connection() {
    let (_server, mut victim, mut bystander) = pair().await;
    victim.write_all(&frame(&[0, 0, 1])).await.expect("write");
    assert_eq!(
        read_some(&mut victim, Duration::from_secs(5)).await,
        ReadOutcome::Closed
    );
    still_served(&mut bystander).await;
}
