//! One client must not be able to take the server's memory or stall the other clients: replies whose size the
//! client chooses, connections, outstanding requests and auth ids are all bounded, proven here with real
//! sockets.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use jute::records::data::Acl;
use jute::records::multi::{MultiOp, MultiRequest};
use jute::records::proto::{CreateRequest, ExistsRequest, ReplyHeader, RequestHeader};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// A request frame: header and encoded body.
fn request(xid: i32, op: i32, body: &[u8]) -> Vec<u8> {
    let mut payload = jute::to_bytes(&RequestHeader { xid, op }).expect("encode");
    payload.extend_from_slice(body);
    frame(&payload)
}

fn reply_header(payload: &[u8]) -> ReplyHeader {
    jute::Decoder::new(payload).read().expect("reply header")
}

/// Creates a persistent node open to all, and checks the reply.
async fn create(stream: &mut TcpStream, xid: i32, path: &str, data: Vec<u8>) {
    let body = CreateRequest {
        path: path.to_string(),
        data: Some(Bytes::from(data)),
        acl: Acl::open_unsafe(),
        flags: 0,
    };
    let bytes = jute::to_bytes(&body).expect("encode");
    stream.write_all(&request(xid, 1, &bytes)).await.expect("write");
    let reply = read_frame(stream).await;
    assert_eq!(reply_header(&reply).err, 0, "create {path}");
}

/// getData of `path` on `stream`: the reply's error code and payload length.
async fn get_data(stream: &mut TcpStream, xid: i32, path: &str) -> (i32, usize) {
    let body = jute::to_bytes(&ExistsRequest {
        path: path.to_string(),
        watch: false,
    })
    .expect("encode");
    stream.write_all(&request(xid, 4, &body)).await.expect("write");
    let reply = read_frame(stream).await;
    let header = reply_header(&reply);
    assert_eq!(header.xid, xid);
    (header.err, reply.len())
}

/// The peak resident set of this process (`VmHWM`), in bytes.
fn peak_rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM line");
    kb * 1024
}

/// A multiRead naming one 1 MB node 300 times asks for a 300 MB reply in a 7 KB request. The server stops
/// building it at the per-connection cap and closes that connection (as the Java client would on a frame over
/// its jute.maxbuffer); its memory grows by a few times the cap, not by the reply, and every other client,
/// the asker's session included, is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_read_asking_for_more_than_the_cap_closes_its_connection_without_building_the_reply() {
    const NODE_BYTES: usize = 1_000_000;
    const OPS: usize = 300;
    let mut config = test_config();
    config.outbound_queue_bytes_max = 4 * 1024 * 1024;
    let server = start(config).await;
    let (mut writer, _) = connect_session(server.addr).await;
    create(&mut writer, 1, "/big", vec![7; NODE_BYTES]).await;

    let (mut asker, response) = connect_session(server.addr).await;
    let ops = (0..OPS)
        .map(|_| {
            MultiOp::GetData(ExistsRequest {
                path: "/big".into(),
                watch: false,
            })
        })
        .collect();
    let body = jute::to_bytes(&MultiRequest { ops }).expect("encode");
    assert!(body.len() < 8 * 1024, "{} bytes", body.len());
    let before = peak_rss_bytes();
    asker.write_all(&request(1, 22, &body)).await.expect("write");
    let rest = read_to_close(&mut asker).await;
    let grown = peak_rss_bytes().saturating_sub(before);
    assert!(rest.is_empty(), "no reply is sent: {} bytes came", rest.len());
    assert!(
        grown < 64 * 1024 * 1024,
        "peak RSS grew by {} MB for a reply the server never sends",
        grown / (1024 * 1024)
    );

    // The writer's connection was never disturbed, and reads the node whole.
    let (err, len) = get_data(&mut writer, 2, "/big").await;
    assert_eq!(err, 0);
    assert!(len > NODE_BYTES);
    // The asker's session outlives its connection: it resumes on a new one.
    let session: [u8; 8] = response[8..16].try_into().expect("session id");
    let passwd = &response[20..36];
    let mut resumed = TcpStream::connect(server.addr).await.expect("connect");
    let mut connect = Vec::new();
    connect.extend_from_slice(&0i32.to_be_bytes()); // protocol version
    connect.extend_from_slice(&0i64.to_be_bytes()); // last zxid seen
    connect.extend_from_slice(&30_000i32.to_be_bytes());
    connect.extend_from_slice(&session);
    connect.extend_from_slice(&16i32.to_be_bytes());
    connect.extend_from_slice(passwd);
    connect.push(0);
    resumed.write_all(&frame(&connect)).await.expect("write");
    let again = read_frame(&mut resumed).await;
    assert_eq!(&again[8..16], &session, "same session");
    let (err, _) = get_data(&mut resumed, 1, "/big").await;
    assert_eq!(err, 0);
}

/// A getChildren2 of a parent whose child list is over the cap closes the asking connection; a smaller
/// parent is answered on the next connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_list_over_the_cap_closes_only_the_asking_connection() {
    let mut config = test_config();
    config.outbound_queue_bytes_max = 16 * 1024;
    let server = start(config).await;
    let (mut writer, _) = connect_session(server.addr).await;
    create(&mut writer, 1, "/wide", Vec::new()).await;
    for i in 0..600 {
        create(
            &mut writer,
            i + 2,
            &format!("/wide/child-with-a-long-name-{i:08}"),
            Vec::new(),
        )
        .await;
    }
    let body = jute::to_bytes(&ExistsRequest {
        path: "/wide".into(),
        watch: false,
    })
    .expect("encode");
    let (mut asker, _) = connect_session(server.addr).await;
    asker.write_all(&request(1, 12, &body)).await.expect("write");
    assert!(read_to_close(&mut asker).await.is_empty());
    let small = jute::to_bytes(&ExistsRequest {
        path: "/".into(),
        watch: false,
    })
    .expect("encode");
    writer.write_all(&request(1000, 12, &small)).await.expect("write");
    let reply = read_frame(&mut writer).await;
    assert_eq!(reply_header(&reply).err, 0);
    assert!(matches!(
        read_some(&mut writer, Duration::from_millis(100)).await,
        ReadOutcome::StillOpen
    ));
}

/// An auth packet (xid -4, opcode 100) with digest credentials.
fn digest_auth_frame(credentials: &str) -> Vec<u8> {
    let packet = jute::records::proto::AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from(credentials.as_bytes().to_vec()),
    };
    request(-4, 100, &jute::to_bytes(&packet).expect("encode"))
}

/// Each digest auth packet with new credentials adds an id to its connection. The ids are bounded by
/// jute.maxbuffer (64 KiB here, about 1500 digest ids): the packet that would pass it is answered AUTHFAILED
/// and the connection is closed, as ZooKeeper answers an auth packet it refuses; a packet naming an id the
/// connection already has costs nothing; other clients are served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_ids_of_a_connection_are_bounded_by_jute_maxbuffer() {
    const PACKETS_MAX: usize = 5000;
    let mut config = test_config();
    config.jute_max_buffer = 64 * 1024;
    let server = start(config).await;
    let (mut other, _) = connect_session(server.addr).await;
    let (mut client, _) = connect_session(server.addr).await;
    let mut accepted = 0;
    let mut refused = None;
    for i in 0..PACKETS_MAX {
        // A repeat of the first credentials now and then: no new id, always accepted.
        let credentials = if i % 100 == 99 {
            "user00000:pw".to_string()
        } else {
            format!("user{i:05}:pw")
        };
        client
            .write_all(&digest_auth_frame(&credentials))
            .await
            .expect("write");
        let header = reply_header(&read_frame(&mut client).await);
        assert_eq!(header.xid, -4);
        if header.err != 0 {
            refused = Some(header.err);
            break;
        }
        accepted += 1;
        if i % 500 == 0 {
            other.write_all(&ping_frame()).await.expect("ping");
            assert_eq!(reply_header(&read_frame(&mut other).await).xid, -2);
        }
    }
    assert_eq!(refused, Some(-115), "AUTHFAILED after {accepted} packets");
    // (64 KiB - the ip id) / 44 bytes per digest id ("digest" and "userNNNNN:" + 28 base64 characters), plus
    // the repeats.
    assert!((1450..=1550).contains(&accepted), "{accepted} accepted");
    assert!(read_to_close(&mut client).await.is_empty());
    other.write_all(&ping_frame()).await.expect("ping");
    assert_eq!(reply_header(&read_frame(&mut other).await).xid, -2);
}
