//! A client that sends and never reads must not stall the server or make it hold unbounded memory.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ferrokeeper::config::FourLetterWhitelist;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

/// Pings per write from the flooding client.
const BATCH: usize = 1000;
/// Batches the flooding client sends at most (about 120 MB of requests).
const BATCHES_MAX: usize = 10_000;

/// Writes pings until the server stops reading (a write blocks for a second) or closes the connection.
/// Returns true if the connection was closed.
async fn flood_until_blocked(stream: &mut TcpStream) -> bool {
    let batch: Vec<u8> = std::iter::repeat_n(ping_frame(), BATCH).flatten().collect();
    for _ in 0..BATCHES_MAX {
        match tokio::time::timeout(Duration::from_secs(1), stream.write_all(&batch)).await {
            Err(_) => return false,
            Ok(Err(_)) => return true,
            Ok(Ok(())) => {}
        }
    }
    panic!(
        "the server kept reading {} pings from a client that reads nothing",
        BATCH * BATCHES_MAX
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_that_never_reads_is_throttled_and_others_are_served() {
    let mut config = test_config();
    config.global_outstanding_limit = 100;
    config.four_letter_whitelist = FourLetterWhitelist::All;
    let limit = config.global_outstanding_limit as u64;
    let server = start(config).await;

    // A small receive window so the replies back up quickly.
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let mut flooder = socket.connect(server.addr).await.expect("connect");
    flooder.write_all(&connect_frame(30_000)).await.expect("write");
    let closed = flood_until_blocked(&mut flooder).await;

    // Another client is served promptly while the flooder is stuck.
    let started = Instant::now();
    let (mut other, response) = connect_session(server.addr).await;
    assert_eq!(response.len(), 37, "ConnectResponse with the readOnly byte");
    other.write_all(&ping_frame()).await.expect("write");
    let reply = read_frame(&mut other).await;
    assert_eq!(&reply[..4], &(-2i32).to_be_bytes(), "ping reply xid");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );

    // The server holds at most the limit of unanswered requests for it, and no longer reads from it.
    let srvr = four_letter(server.addr, "srvr").await;
    let outstanding: u64 = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Outstanding: "))
        .expect("Outstanding line")
        .parse()
        .expect("number");
    assert!(outstanding <= limit, "{srvr}");
    // With 100 requests of 20-byte replies at most in flight, the 16 MiB queue cap is never reached: the
    // flooder is throttled, not closed, and `stat` shows it as not being read.
    assert!(
        !closed,
        "throttling should have stopped the flood before the queue cap"
    );
    let stat = four_letter(server.addr, "stat").await;
    let port = flooder.local_addr().expect("addr").port();
    let line = stat
        .lines()
        .find(|l| l.starts_with(&format!(" /127.0.0.1:{port}[")))
        .unwrap_or_else(|| panic!("flooder not listed: {stat}"));
    assert!(line.contains("[0]"), "flooder is still being read: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_whose_replies_pile_up_past_the_cap_is_closed() {
    let mut config = test_config();
    config.outbound_queue_bytes_max = 1024;
    config.global_outstanding_limit = 1000;
    let server = start(config).await;
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("rcvbuf");
    let mut flooder = socket.connect(server.addr).await.expect("connect");
    flooder.write_all(&connect_frame(30_000)).await.expect("write");
    // Up to 1000 replies of 20 bytes may be queued, well over the 1 KiB cap once the socket is full: the
    // server closes the connection rather than keep them.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut closed = false;
    while !closed && Instant::now() < deadline {
        closed = flood_until_blocked(&mut flooder).await;
    }
    assert!(closed, "the connection was never closed");
    let (_other, response) = connect_session(server.addr).await;
    assert_eq!(response.len(), 37);
}
