//! One client must not be able to take the server's memory or stall the other clients: replies whose size the
//! client chooses, connections, outstanding requests and auth ids are all bounded, proven here with real
//! sockets.

mod common;
mod ops_support;

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

/// The `stat` line of the client connected from `port`: whether it is being read (`[1]`) and its `queued=`.
async fn stat_of(addr: std::net::SocketAddr, port: u16) -> Option<(bool, usize)> {
    let stat = four_letter(addr, "stat").await;
    let line = stat
        .lines()
        .find(|l| l.starts_with(&format!(" /127.0.0.1:{port}[")))?;
    let reading = line.contains("[1]");
    let queued = line.split("queued=").nth(1)?.split(',').next()?.parse().ok()?;
    Some((reading, queued))
}

/// Polls `stat` until the connection from `port` shows `want` (for 10 s at most).
async fn await_stat(addr: std::net::SocketAddr, port: u16, want: (bool, usize)) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut last = None;
    while std::time::Instant::now() < deadline {
        last = stat_of(addr, port).await;
        if last == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("connection from port {port}: wanted (reading, queued) = {want:?}, last seen {last:?}");
}

/// A log whose `sync` waits while its gate is closed, so that writes stay in process as long as a test
/// needs.
struct GatedLog {
    inner: ferrokeeper::server::txnlog::MemTxnLog,
    gate: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl ferrokeeper::server::txnlog::TxnLog for GatedLog {
    fn append(&mut self, zxid: ferrokeeper::types::Zxid, entry: Bytes) -> std::io::Result<()> {
        self.inner.append(zxid, entry)
    }

    fn sync(&mut self) -> std::io::Result<Option<ferrokeeper::types::Zxid>> {
        let (open, changed) = &*self.gate;
        let mut is_open = open.lock().expect("gate");
        while !*is_open {
            is_open = changed.wait(is_open).expect("gate");
        }
        drop(is_open);
        self.inner.sync()
    }

    fn fsyncs(&self) -> bool {
        false
    }
}

/// A server over a [`GatedLog`], with its AdminServer on a free loopback port.
struct Gated {
    addr: std::net::SocketAddr,
    admin: std::net::SocketAddr,
    gate: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Gated {
    /// Opens the gate, stops the server and waits for it.
    async fn stop(self) {
        set_gate(&self.gate, true);
        let _ = self.stop.send(());
        self.task.await.expect("server task").expect("server");
    }
}

async fn start_gated(mut config: ferrokeeper::config::ServerConfig) -> Gated {
    config.ops.admin.enabled = true;
    config.ops.admin.address = "127.0.0.1:0".parse().expect("addr");
    let gate = std::sync::Arc::new((std::sync::Mutex::new(true), std::sync::Condvar::new()));
    let log = GatedLog {
        inner: Default::default(),
        gate: std::sync::Arc::clone(&gate),
    };
    let server = ferrokeeper::server::Server::bind(config).await.expect("bind");
    let addr = server.local_addr().expect("addr");
    let admin = server.admin_addr().expect("admin addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run_with_log(log, async move {
        let _ = stopped.await;
    }));
    Gated {
        addr,
        admin,
        gate,
        stop,
        task,
    }
}

fn set_gate(gate: &(std::sync::Mutex<bool>, std::sync::Condvar), open: bool) {
    *gate.0.lock().expect("gate") = open;
    gate.1.notify_all();
}

/// A create request frame for an empty node.
fn create_frame(xid: i32, path: &str) -> Vec<u8> {
    let body = CreateRequest {
        path: path.to_string(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
    };
    request(xid, 1, &jute::to_bytes(&body).expect("encode"))
}

/// globalOutstandingLimit counts requests in process on the whole server (`ZooKeeperServer.shouldThrottle`):
/// with the log held, one client fills the limit with writes, and then a second client that already waits
/// for one reply is not read from either, while a third with nothing outstanding is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_outstanding_limit_counts_requests_of_every_connection() {
    const LIMIT: usize = 10;
    let mut config = test_config();
    config.global_outstanding_limit = LIMIT as u32;
    config.four_letter_whitelist = ferrokeeper::config::FourLetterWhitelist::All;
    let gated = start_gated(config).await;
    let (addr, gate) = (gated.addr, &gated.gate);
    let (mut a, _) = connect_session(addr).await;
    let (mut b, _) = connect_session(addr).await;
    let (mut c, _) = connect_session(addr).await;
    set_gate(gate, false);

    let flood: Vec<u8> = (0..30)
        .flat_map(|i| create_frame(i + 1, &format!("/a{i}")))
        .collect();
    a.write_all(&flood).await.expect("write");
    let a_port = a.local_addr().expect("addr").port();
    await_stat(addr, a_port, (false, LIMIT)).await;

    // The server has LIMIT requests in process: b's first request is read, its next ones wait.
    let more: Vec<u8> = (0..5)
        .flat_map(|i| create_frame(i + 1, &format!("/b{i}")))
        .collect();
    b.write_all(&more).await.expect("write");
    let b_port = b.local_addr().expect("addr").port();
    await_stat(addr, b_port, (false, 1)).await;

    // A client with nothing outstanding still gets its turn.
    let (err, _) = get_data(&mut c, 1, "/").await;
    assert_eq!(err, 0);
    assert_eq!(stat_of(addr, b_port).await, Some((false, 1)));
    assert_eq!(stat_of(addr, a_port).await, Some((false, LIMIT)));

    // Once the log moves again every request is read and answered.
    set_gate(gate, true);
    for (stream, count) in [(&mut a, 30), (&mut b, 5)] {
        for xid in 1..=count {
            let header = reply_header(&read_frame(stream).await);
            assert_eq!((header.xid, header.err), (xid, 0));
        }
    }
    gated.stop().await;
}

/// maxCnxns bounds the connections of every client together (`ServerCnxnFactory.limitTotalNumberOfCnxns`):
/// the connection past it is closed at once and counted in `connection_rejected`; a slot freed is taken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_cnxns_bounds_the_connections_of_all_clients() {
    let mut config = test_config();
    config.max_cnxns = 3;
    config.four_letter_whitelist = ferrokeeper::config::FourLetterWhitelist::All;
    let server = start(config).await;
    let (s1, _) = connect_session(server.addr).await;
    let (_s2, _) = connect_session(server.addr).await;
    let (_s3, _) = connect_session(server.addr).await;
    let mut refused = TcpStream::connect(server.addr).await.expect("connect");
    let _ = refused.write_all(&connect_frame(30_000)).await;
    assert!(
        read_to_close(&mut refused).await.is_empty(),
        "no ConnectResponse past maxCnxns"
    );

    // One connection closes: its slot is taken by a four-letter word once its task has ended.
    drop(s1);
    let mut mntr = String::new();
    for _ in 0..100 {
        mntr = four_letter(server.addr, "mntr").await;
        if !mntr.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The refused session, and any word sent before the slot was free.
    let rejected: u64 = mntr
        .lines()
        .find_map(|l| l.strip_prefix("zk_connection_rejected\t"))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no zk_connection_rejected in {mntr}"));
    assert!(rejected >= 1, "{mntr}");
}

/// A number in the AdminServer's `monitor` answer.
async fn monitor_figure(admin: std::net::SocketAddr, key: &str) -> Option<u64> {
    let (status, _, body) = ops_support::http(admin, "GET", "/commands/monitor").await;
    assert_eq!(status, 200);
    let value: serde_json::Value = serde_json::from_str(&body).expect("json");
    value[key].as_u64()
}

/// Txns prepared and not yet durable are bounded (`ferrokeeper.maxInFlightTxns`): with the log held, a
/// client's pipelined writes past the bound wait (the rest of its message in the server, then its socket)
/// instead of being prepared; the AdminServer still answers, and once the log moves every write is answered
/// in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn txns_in_flight_are_bounded_while_the_log_is_held() {
    const TXNS_MAX: u64 = 5;
    let mut config = test_config();
    config.in_flight_txns_max = TXNS_MAX as usize;
    let gated = start_gated(config).await;
    let (mut a, _) = connect_session(gated.addr).await;
    let (mut b, _) = connect_session(gated.addr).await;
    set_gate(&gated.gate, false);

    let flood: Vec<u8> = (0..20)
        .flat_map(|i| create_frame(i + 1, &format!("/a{i}")))
        .collect();
    a.write_all(&flood).await.expect("write");
    let mut seen = (None, None);
    for _ in 0..200 {
        seen = (
            monitor_figure(gated.admin, "outstanding_requests").await,
            monitor_figure(gated.admin, "request_throttle_wait_count").await,
        );
        if seen.0 == Some(TXNS_MAX) && seen.1 >= Some(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen,
        (Some(TXNS_MAX), Some(1)),
        "(outstanding_requests, request_throttle_wait_count)"
    );
    b.write_all(&create_frame(1, "/b")).await.expect("write");

    set_gate(&gated.gate, true);
    for xid in 1..=20 {
        let header = reply_header(&read_frame(&mut a).await);
        assert_eq!((header.xid, header.err), (xid, 0));
    }
    let header = reply_header(&read_frame(&mut b).await);
    assert_eq!((header.xid, header.err), (1, 0));
    gated.stop().await;
}
