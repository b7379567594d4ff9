//! The election port's connection rules with real sockets on 127.0.0.1 (`QuorumCnxManager`): which side keeps a
//! connection, the one-message send queue, the length limit, refused handshakes, and three ferrokeeper members
//! electing over the port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper::core::zab::election::{Election, ElectionConfig, ElectionTimeouts, Persisted};
use ferrokeeper::core::zab::quorum::QuorumVerifier;
use ferrokeeper::quorum::election_port::{ElectionPort, ElectionPortConfig};
use ferrokeeper::quorum::ElectionRunner;
use ferrokeeper::types::ServerId;
use jute::election::{Handshake, HandshakeVersion, Notification, ServerState, PACKET_MAX_SIZE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(10);

fn config(my_id: i64, listen: SocketAddr, peers: BTreeMap<ServerId, SocketAddr>) -> ElectionPortConfig {
    ElectionPortConfig {
        my_id: ServerId(my_id),
        listen,
        advertised: vec![listen.to_string()],
        multi_address: false,
        peers,
        connect_timeout: Duration::from_secs(2),
        socket_timeout: Duration::from_secs(2),
    }
}

async fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    l.local_addr().expect("addr")
}

fn vote(leader: i64) -> Notification {
    Notification::current(
        ServerState::Looking,
        leader,
        0,
        1,
        0,
        Bytes::from_static(b"version=0"),
    )
}

fn handshake(sid: i64, addr: SocketAddr) -> Bytes {
    Handshake::Versioned {
        version: HandshakeVersion::V1,
        sid,
        address: addr.to_string(),
    }
    .encode()
}

async fn read_handshake(sock: &mut TcpStream) -> Handshake {
    let mut buf = Vec::new();
    loop {
        if let Ok(Some((h, _))) = Handshake::decode(&buf) {
            return h;
        }
        let mut chunk = [0u8; 256];
        let n = tokio::time::timeout(WAIT, sock.read(&mut chunk))
            .await
            .expect("handshake in time")
            .expect("read");
        assert!(n > 0, "closed before a whole handshake: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn read_notification(sock: &mut TcpStream) -> Notification {
    let len = tokio::time::timeout(WAIT, sock.read_i32())
        .await
        .expect("in time")
        .expect("length");
    let mut payload = vec![0u8; len as usize];
    sock.read_exact(&mut payload).await.expect("payload");
    Notification::decode(&Bytes::from(payload)).expect("notification")
}

async fn closed_by_peer(sock: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(WAIT, sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test]
async fn a_connection_from_a_lower_sid_is_dropped_and_we_connect_back_to_its_address() {
    let ours = free_addr().await;
    let port = ElectionPort::bind(config(2, ours, BTreeMap::new()))
        .await
        .expect("bind");
    let theirs = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let their_addr = theirs.local_addr().expect("addr");
    let mut first = TcpStream::connect(ours).await.expect("connect");
    first.write_all(&handshake(1, their_addr)).await.expect("write");
    assert!(
        closed_by_peer(&mut first).await,
        "the connection from sid 1 was kept"
    );
    let (mut back, _) = tokio::time::timeout(WAIT, theirs.accept())
        .await
        .expect("connect back")
        .expect("accept");
    let h = read_handshake(&mut back).await;
    assert_eq!(h.sid(), 2);
    let deadline = tokio::time::Instant::now() + WAIT;
    while port.connected_peers() != vec![ServerId(1)] {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{:?}",
            port.connected_peers()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn our_connection_to_a_higher_sid_is_closed_after_the_handshake() {
    let theirs = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let peers = BTreeMap::from([(ServerId(5), theirs.local_addr().expect("addr"))]);
    let ours = free_addr().await;
    let port = ElectionPort::bind(config(1, ours, peers)).await.expect("bind");
    port.send(ServerId(5), &vote(1));
    let (mut sock, _) = tokio::time::timeout(WAIT, theirs.accept())
        .await
        .expect("connect")
        .expect("accept");
    let h = read_handshake(&mut sock).await;
    assert_eq!(
        h,
        Handshake::Versioned {
            version: HandshakeVersion::V1,
            sid: 1,
            address: ours.to_string()
        }
    );
    assert!(
        closed_by_peer(&mut sock).await,
        "a lower sid kept its connection to a higher one"
    );
}

#[tokio::test]
async fn a_higher_sid_gets_only_the_newest_queued_message_and_ours_are_received() {
    let ours = free_addr().await;
    let port = ElectionPort::bind(config(1, ours, BTreeMap::new()))
        .await
        .expect("bind");
    for leader in [1, 2, 3] {
        port.send(ServerId(7), &vote(leader));
    }
    let mut sock = TcpStream::connect(ours).await.expect("connect");
    sock.write_all(&handshake(7, "127.0.0.1:1".parse().expect("addr")))
        .await
        .expect("write");
    assert_eq!(
        read_notification(&mut sock).await.leader,
        3,
        "the newest message replaces older ones"
    );
    sock.write_all(&vote(7).encode_frame()).await.expect("write");
    let (from, n) = tokio::time::timeout(WAIT, port.recv()).await.expect("received");
    assert_eq!((from, n.leader), (ServerId(7), 7));
}

#[tokio::test]
async fn a_message_length_outside_the_limit_or_a_bad_handshake_closes_the_connection() {
    let ours = free_addr().await;
    let _port = ElectionPort::bind(config(1, ours, BTreeMap::new()))
        .await
        .expect("bind");
    for bad_length in [0i32, PACKET_MAX_SIZE as i32 + 1, -1] {
        let mut sock = TcpStream::connect(ours).await.expect("connect");
        sock.write_all(&handshake(9, "127.0.0.1:1".parse().expect("addr")))
            .await
            .expect("write");
        sock.write_all(&bad_length.to_be_bytes()).await.expect("write");
        assert!(
            closed_by_peer(&mut sock).await,
            "length {bad_length} was accepted"
        );
    }
    let mut sock = TcpStream::connect(ours).await.expect("connect");
    sock.write_all(&(-65534i64).to_be_bytes()).await.expect("write");
    assert!(
        closed_by_peer(&mut sock).await,
        "an unknown protocol version was accepted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_elect_the_highest_over_real_sockets() {
    let addrs: BTreeMap<i64, SocketAddr> = [
        (1, free_addr().await),
        (2, free_addr().await),
        (3, free_addr().await),
    ]
    .into();
    let quorum = QuorumVerifier::new([1, 2, 3].map(ServerId), [], 0).expect("quorum");
    let mut tasks = Vec::new();
    for (&me, &addr) in &addrs {
        let peers = addrs
            .iter()
            .filter(|(s, _)| **s != me)
            .map(|(s, a)| (ServerId(*s), *a))
            .collect();
        let port = ElectionPort::bind(config(me, addr, peers)).await.expect("bind");
        let election = Election::new(
            ElectionConfig {
                my_id: ServerId(me),
                quorum: quorum.clone(),
                config_text: Bytes::from_static(b"version=0"),
                timeouts: ElectionTimeouts::zookeeper_defaults(20),
            },
            Persisted::default(),
        );
        let mut runner = ElectionRunner::new(port, election, Duration::from_millis(20));
        tasks.push(tokio::spawn(async move {
            let d = runner.elect(Persisted::default()).await;
            // Keep answering until everyone has decided.
            runner.answer_for(Duration::from_secs(2)).await;
            (me, d)
        }));
    }
    for t in tasks {
        let (me, d) = tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .expect("decided")
            .expect("task");
        let want = if me == 3 {
            ServerState::Leading
        } else {
            ServerState::Following
        };
        assert_eq!(
            (d.state, d.vote.candidate.leader),
            (want, ServerId(3)),
            "member {me}"
        );
    }
}
