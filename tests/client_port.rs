//! The client port against raw bytes: bad frames, four-letter words and connection limits.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ferrokeeper::config::FourLetterWhitelist;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn frame_longer_than_jute_maxbuffer_is_closed() {
    let mut config = test_config();
    config.jute_max_buffer = 1024;
    let server = start(config).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(&1025i32.to_be_bytes()).await.expect("write");
    assert_eq!(
        read_some(&mut stream, Duration::from_secs(5)).await,
        ReadOutcome::Closed
    );
    // One byte under the limit is read (and then judged as a ConnectRequest, not as a length).
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(&1024i32.to_be_bytes()).await.expect("write");
    assert_eq!(
        read_some(&mut stream, Duration::from_millis(300)).await,
        ReadOutcome::StillOpen
    );
}

#[tokio::test]
async fn negative_frame_length_is_closed() {
    let server = start(test_config()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(&(-5i32).to_be_bytes()).await.expect("write");
    assert_eq!(
        read_some(&mut stream, Duration::from_secs(5)).await,
        ReadOutcome::Closed
    );
}

#[tokio::test]
async fn garbage_connect_request_is_closed() {
    let server = start(test_config()).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(&frame(b"0123456789")).await.expect("write");
    assert_eq!(
        read_some(&mut stream, Duration::from_secs(5)).await,
        ReadOutcome::Closed
    );
}

#[tokio::test]
async fn ruok_answers_imok_when_whitelisted() {
    let mut config = test_config();
    config.four_letter_whitelist = FourLetterWhitelist::parse("ruok");
    let server = start(config).await;
    assert_eq!(four_letter(server.addr, "ruok").await, "imok");
}

#[tokio::test]
async fn commands_outside_the_whitelist_are_refused_and_srvr_is_always_allowed() {
    let server = start(test_config()).await;
    assert_eq!(
        four_letter(server.addr, "ruok").await,
        "ruok is not executed because it is not in the whitelist.\n"
    );
    let srvr = four_letter(server.addr, "srvr").await;
    assert!(srvr.starts_with("Zookeeper version: 3.9.3-"), "{srvr}");
    assert!(srvr.contains("\nMode: standalone\n"), "{srvr}");
}

#[tokio::test]
async fn stat_lists_the_asking_connection_as_not_reading() {
    let mut config = test_config();
    config.four_letter_whitelist = FourLetterWhitelist::All;
    let server = start(config).await;
    let stat = four_letter(server.addr, "stat").await;
    let clients: Vec<&str> = stat.lines().skip_while(|l| *l != "Clients:").skip(1).collect();
    assert!(clients[0].starts_with(" /127.0.0.1:"), "{stat}");
    assert!(clients[0].ends_with("[0](queued=0,recved=1,sent=0)"), "{stat}");
    assert_eq!(clients[1], "", "{stat}");
    assert_eq!(four_letter(server.addr, "isro").await, "rw");
}

#[tokio::test]
async fn connections_over_max_client_cnxns_are_closed_at_once() {
    let mut config = test_config();
    config.max_client_cnxns = 2;
    config.four_letter_whitelist = FourLetterWhitelist::All;
    let server = start(config).await;
    let mut first = TcpStream::connect(server.addr).await.expect("connect");
    let mut second = TcpStream::connect(server.addr).await.expect("connect");
    let mut third = TcpStream::connect(server.addr).await.expect("connect");
    assert_eq!(
        read_some(&mut third, Duration::from_secs(5)).await,
        ReadOutcome::Closed
    );
    assert_eq!(
        read_some(&mut first, Duration::from_millis(200)).await,
        ReadOutcome::StillOpen
    );
    assert_eq!(
        read_some(&mut second, Duration::from_millis(10)).await,
        ReadOutcome::StillOpen
    );
    // Closing one frees its slot.
    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = four_letter(server.addr, "ruok").await;
        if answer == "imok" {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn connection_without_a_handshake_is_dropped_after_the_sessionless_timeout() {
    let mut config = test_config();
    config.sessionless_cnxn_timeout_ms = 300;
    let server = start(config).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    // Half a ConnectRequest, then silence.
    stream
        .write_all(&connect_frame(30_000)[..20])
        .await
        .expect("write");
    assert_eq!(
        read_some(&mut stream, Duration::from_secs(5)).await,
        ReadOutcome::Closed
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "closed too early: {waited:?}"
    );
}

#[tokio::test]
async fn established_session_outlives_the_sessionless_timeout() {
    let mut config = test_config();
    config.sessionless_cnxn_timeout_ms = 200;
    let server = start(config).await;
    let (mut stream, response) = connect_session(server.addr).await;
    assert_eq!(response.len(), 37);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stream.write_all(&ping_frame()).await.expect("write");
    let reply = read_frame(&mut stream).await;
    assert_eq!(&reply[..4], &(-2i32).to_be_bytes(), "ping reply xid");
}

#[tokio::test]
async fn four_letter_word_split_across_packets_is_recognised() {
    let mut config = test_config();
    config.four_letter_whitelist = FourLetterWhitelist::All;
    let server = start(config).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(b"ru").await.expect("write");
    stream.flush().await.expect("flush");
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.write_all(b"ok").await.expect("write");
    assert_eq!(read_to_close(&mut stream).await, b"imok");
}

#[tokio::test]
async fn server_stops_when_asked() {
    let server = start(test_config()).await;
    let mut idle = TcpStream::connect(server.addr).await.expect("connect");
    let addr = server.addr;
    tokio::time::timeout(Duration::from_secs(5), server.stop())
        .await
        .expect("stop took over 5 s")
        .expect("run returned an error");
    assert_eq!(
        read_some(&mut idle, Duration::from_secs(5)).await,
        ReadOutcome::Closed
    );
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after stop"
    );
}
