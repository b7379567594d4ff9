//! Fast Leader Election against real Apache ZooKeeper: two Debian 3.8.0 servers are members 1 and 2 of a
//! three-member ensemble on 127.0.0.1, and member 3 is our election port driven by our election core (the
//! library, no server). Both orders of start-up:
//!
//! - ours last: the real members have already elected 2; we must decide FOLLOWING 2 from their FOLLOWING and
//!   LEADING answers, and they must keep their modes (`srvr`).
//! - ours first: everyone starts empty (zxid 0, epoch 0), so sid 3 wins; we must decide LEADING, and both real
//!   members must then come to our quorum port as followers (their FOLLOWERINFO names their sid).
//! - ours first as member 1 with currentEpoch 2 and a last zxid of epoch 1: the epoch beats the real members'
//!   higher sids, so again we lead and both follow (and this time we open connections to higher sids, which
//!   drop them and connect back).
//!
//! The test fails if Debian's ZooKeeper (or java) is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrokeeper::core::zab::election::{Election, ElectionConfig, ElectionTimeouts, Persisted};
use ferrokeeper::core::zab::quorum::QuorumVerifier;
use ferrokeeper::quorum::election_port::{ElectionPort, ElectionPortConfig};
use ferrokeeper::quorum::{Decision, ElectionRunner};
use ferrokeeper::types::{ServerId, Zxid};
use jute::election::ServerState;
use jute::records::quorum::{LearnerInfo, QuorumPacket};
use tokio::io::AsyncReadExt;

#[path = "support/debian_zookeeper.rs"]
mod debian_zookeeper;
use debian_zookeeper::{classpath, JAVA};

const TICK_TIME_MS: u64 = 500;
const SYNC_LIMIT: u64 = 5;
/// A follower waits initLimit x tickTime (20 s) for its leader's LEADERINFO: long enough for a member whose JVM
/// starts late to follow us too while the first one still waits on our quorum port.
const INIT_LIMIT: u64 = 40;
const FOLLOWERINFO: i32 = 11;

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Ports for members 1..=3 and client ports for the two real ones.
struct Ports {
    election: BTreeMap<i64, u16>,
    quorum: BTreeMap<i64, u16>,
    client: BTreeMap<i64, u16>,
}

impl Ports {
    fn new() -> Ports {
        let pick = |ids: &[i64]| ids.iter().map(|&s| (s, free_port())).collect();
        Ports {
            election: pick(&[1, 2, 3]),
            quorum: pick(&[1, 2, 3]),
            client: pick(&[1, 2, 3]),
        }
    }

    /// `QuorumMaj.toString` of the ensemble, as every member sends it.
    fn config_text(&self) -> String {
        let lines: Vec<String> = (1..=3)
            .map(|s| {
                format!(
                    "server.{s}=127.0.0.1:{}:{}:participant",
                    self.quorum[&s], self.election[&s]
                )
            })
            .collect();
        format!("{}\nversion=0", lines.join("\n"))
    }
}

/// One real Apache ZooKeeper member, stopped (by its own pid) when dropped.
struct RealMember {
    sid: i64,
    dir: tempfile::TempDir,
    child: Child,
    client_port: u16,
}

impl RealMember {
    fn start(sid: i64, ports: &Ports) -> RealMember {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        std::fs::write(data.join("myid"), format!("{sid}\n")).expect("myid");
        let mut cfg = format!(
            "tickTime={TICK_TIME_MS}\ninitLimit={INIT_LIMIT}\nsyncLimit={SYNC_LIMIT}\ndataDir={}\nclientPort={}\n\
             clientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
            data.display(),
            ports.client[&sid]
        );
        for s in 1..=3 {
            cfg.push_str(&format!(
                "server.{s}=127.0.0.1:{}:{}\n",
                ports.quorum[&s], ports.election[&s]
            ));
        }
        let cfg_path = dir.path().join("zoo.cfg");
        std::fs::write(&cfg_path, cfg).expect("zoo.cfg");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(JAVA)
            .args(["-cp", &classpath(), "-Djava.awt.headless=true"])
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start Apache ZooKeeper");
        RealMember {
            sid,
            dir,
            child,
            client_port: ports.client[&sid],
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// `srvr`'s Mode line, if the member answers.
    fn mode(&self) -> Option<String> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.client_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        s.write_all(b"srvr").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_owned)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for RealMember {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn logs(members: &[RealMember]) -> String {
    members
        .iter()
        .map(|m| format!("--- member {} log tail ---\n{}", m.sid, m.log_tail()))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn our_member(ports: &Ports, me: i64, persisted: Persisted) -> ElectionRunner {
    let peers = [1, 2, 3]
        .iter()
        .filter(|&&s| s != me)
        .map(|&s| {
            (
                ServerId(s),
                SocketAddr::from(([127, 0, 0, 1], ports.election[&s])),
            )
        })
        .collect();
    let port = ElectionPort::bind(ElectionPortConfig {
        my_id: ServerId(me),
        listen: SocketAddr::from(([127, 0, 0, 1], ports.election[&me])),
        advertised: vec![format!("127.0.0.1:{}", ports.election[&me])],
        multi_address: false,
        peers,
        connect_timeout: Duration::from_secs(5),
        socket_timeout: Duration::from_millis(TICK_TIME_MS * SYNC_LIMIT),
    })
    .await
    .expect("bind our election port");
    let quorum = QuorumVerifier::new([1, 2, 3].map(ServerId), [], 0).expect("quorum");
    let election = Election::new(
        ElectionConfig {
            my_id: ServerId(me),
            quorum,
            config_text: Bytes::from(ports.config_text()),
            timeouts: ElectionTimeouts::zookeeper_defaults(50),
        },
        persisted,
    );
    ElectionRunner::new(port, election, Duration::from_millis(50))
}

async fn wait_for_modes(members: &[RealMember], want: &[&str]) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let modes: Vec<String> = members.iter().map(|m| m.mode().unwrap_or_default()).collect();
        let mut sorted = modes.clone();
        sorted.sort();
        if sorted == want {
            return modes;
        }
        assert!(
            Instant::now() < deadline,
            "modes {modes:?}, wanted {want:?}\n{}",
            logs(members)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_member_joining_last_follows_the_leader_the_real_members_elected() {
    let ports = Ports::new();
    let members = vec![RealMember::start(1, &ports), RealMember::start(2, &ports)];
    let modes = wait_for_modes(&members, &["follower", "leader"]).await;
    assert_eq!(
        modes,
        ["follower", "leader"],
        "member 2 has the higher sid and must lead"
    );
    let mut ours = our_member(&ports, 3, Persisted::default()).await;
    let decision = tokio::time::timeout(Duration::from_secs(60), ours.elect(Persisted::default()))
        .await
        .unwrap_or_else(|_| panic!("no decision; received {:?}\n{}", ours.received, logs(&members)));
    assert_eq!(decision.state, ServerState::Following, "{decision:?}");
    assert_eq!(decision.vote.candidate.leader, ServerId(2), "{decision:?}");
    let leading_from_2 = ours
        .received
        .iter()
        .any(|(from, n)| *from == ServerId(2) && n.state == ServerState::Leading && n.leader == 2);
    assert!(
        leading_from_2,
        "decided without member 2's LEADING vote: {:?}",
        ours.received
    );
    assert_eq!(
        wait_for_modes(&members, &["follower", "leader"]).await,
        ["follower", "leader"]
    );
}

/// Reads the first quorum packet a learner sends: FOLLOWERINFO with its LearnerInfo (40 bytes).
async fn first_learner_packet(sock: &mut tokio::net::TcpStream) -> Option<(QuorumPacket, LearnerInfo)> {
    let mut buf = [0u8; 40];
    tokio::time::timeout(Duration::from_secs(10), sock.read_exact(&mut buf))
        .await
        .ok()?
        .ok()?;
    let packet: QuorumPacket = jute::from_slice(&buf).ok()?;
    let info: LearnerInfo = jute::from_slice(packet.data.as_deref()?).ok()?;
    Some((packet, info))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_member_starting_first_with_the_highest_sid_is_elected_and_followed() {
    start_ours_first_and_expect_to_lead(3, Persisted::default()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_member_with_the_lowest_sid_but_the_highest_epoch_is_elected_and_followed() {
    let persisted = Persisted {
        last_logged_zxid: Zxid::new(1, 3),
        current_epoch: 2,
    };
    start_ours_first_and_expect_to_lead(1, persisted).await;
}

/// Our member starts first as `me` with `persisted`; the two real members (empty data directories) must vote
/// for it and come to its quorum port as followers.
async fn start_ours_first_and_expect_to_lead(me: i64, persisted: Persisted) {
    let ports = Ports::new();
    let real: Vec<i64> = [1, 2, 3].into_iter().filter(|&s| s != me).collect();
    let quorum_listener = tokio::net::TcpListener::bind(("127.0.0.1", ports.quorum[&me]))
        .await
        .expect("bind our quorum port");
    let followers = tokio::spawn(async move {
        let mut seen: BTreeMap<i64, (QuorumPacket, LearnerInfo)> = BTreeMap::new();
        // Held open, so a follower waits for LEADERINFO instead of going back to LOOKING at once.
        let mut held = Vec::new();
        while seen.len() < 2 {
            let Ok((mut sock, _)) = quorum_listener.accept().await else {
                continue;
            };
            if let Some((packet, info)) = first_learner_packet(&mut sock).await {
                seen.insert(info.serverid, (packet, info));
            }
            held.push(sock);
        }
        seen
    });
    let mut ours = our_member(&ports, me, persisted).await;
    let (decided_tx, decided_rx) = tokio::sync::oneshot::channel();
    // Our member keeps answering for the whole test, as a leader answers looking members.
    let election = tokio::spawn(async move {
        let decision: Decision = ours.elect(persisted).await;
        let _ = decided_tx.send((decision, ours.received.clone()));
        ours.answer_for(Duration::from_secs(180)).await;
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let members: Vec<RealMember> = real.iter().map(|&s| RealMember::start(s, &ports)).collect();
    let seen = tokio::time::timeout(Duration::from_secs(90), followers)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "the real members never came to our quorum port\n{}",
                logs(&members)
            )
        })
        .expect("quorum listener task");
    let (decision, received) = tokio::time::timeout(Duration::from_secs(30), decided_rx)
        .await
        .expect("our election decided")
        .expect("election task");
    election.abort();
    assert_eq!(
        decision.state,
        ServerState::Leading,
        "{decision:?}; received {received:?}"
    );
    assert_eq!(decision.vote.candidate.leader, ServerId(me));
    assert_eq!(decision.vote.candidate.zxid, persisted.last_logged_zxid);
    assert_eq!(decision.vote.candidate.peer_epoch, persisted.current_epoch);
    assert_eq!(
        seen.keys().copied().collect::<BTreeSet<i64>>(),
        real.iter().copied().collect::<BTreeSet<i64>>()
    );
    for (sid, (packet, info)) in &seen {
        assert_eq!(packet.packet_type, FOLLOWERINFO, "member {sid}: {packet:?}");
        assert_eq!(info.protocol_version, 0x10000, "member {sid}: {info:?}");
    }
    let voted_for_us = received.iter().any(|(from, n)| from.0 != me && n.leader == me);
    assert!(
        voted_for_us,
        "decided LEADING without a real member's vote: {received:?}"
    );
}
