//! Observers (`server.N=...:observer`): members that learn every commit from the leader (INFORM) and serve
//! clients, but never vote, so they add read capacity without changing the quorum. Each test runs three voting
//! members and one observer, of ferrokeeper and Apache ZooKeeper in every mix that matters for a migration:
//! all ferrokeeper, a ferrokeeper observer of an Apache ZooKeeper ensemble, and an Apache ZooKeeper observer of a
//! ferrokeeper ensemble. A client on the observer writes (forwarded to the leader) and reads what others wrote;
//! the leader counts the observer in `synced_observers` and never in its quorum: with two voters gone, nothing
//! is elected and the observer serves nobody, and once they are back it catches up.

#[path = "support/ensemble.rs"]
mod ensemble;

use std::time::Duration;

use ensemble::{four_letter, kazoo, wait_for_quorum, Kind, Member, Ports};

const IDS: [u64; 4] = [1, 2, 3, 4];
const OBSERVER: u64 = 4;

fn mntr(port: u16, key: &str) -> Option<String> {
    four_letter(port, "mntr")?
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}\t")).map(str::to_owned))
}

/// Starts voters 1-3 of `voters` and observer 4 of `observer`, and checks what each reports of its role.
fn start(dir: &std::path::Path, voters: Kind, observer: Kind) -> (Vec<Member>, u64) {
    let ports = Ports::new(&IDS).with_observers(&[OBSERVER]);
    let members: Vec<Member> = IDS
        .iter()
        .map(|&id| {
            let kind = if id == OBSERVER { observer } else { voters };
            Member::start(dir, id, kind, &ports)
        })
        .collect();
    let leader = wait_for_quorum(&members, Duration::from_secs(90));
    assert_ne!(leader, OBSERVER, "an observer was elected");
    let obs = &members[3];
    assert_eq!(obs.mode().as_deref(), Some("observer"));
    assert_eq!(
        mntr(obs.client_port, "zk_peer_state").as_deref(),
        Some("observing - broadcast")
    );
    assert_eq!(
        mntr(obs.client_port, "zk_observer_master_id"),
        Some(leader.to_string())
    );
    let conf = four_letter(obs.client_port, "conf").expect("conf");
    assert!(conf.contains("\npeerType=1\n"), "{conf}");
    assert!(
        conf.lines()
            .any(|l| l.starts_with("server.4=") && l.ends_with(":observer")),
        "{conf}"
    );
    let leader_port = members[leader as usize - 1].client_port;
    // The leader counts the observer once it is synced (it may still be syncing right after the election).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let synced = mntr(leader_port, "zk_synced_observers");
        if synced.as_deref() == Some("1") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the leader never counted its observer: {synced:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(mntr(leader_port, "zk_synced_followers").as_deref(), Some("2"));
    // Before any write, a leader's zxid is its epoch's first (`epoch << 32`), not the 0 it recovered.
    let srvr = four_letter(leader_port, "srvr").expect("srvr");
    let zxid = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Zxid: 0x"))
        .and_then(|z| i64::from_str_radix(z.trim(), 16).ok())
        .unwrap_or_else(|| panic!("{srvr}"));
    assert!(zxid >> 32 >= 1 && zxid & 0xffff_ffff == 0, "{srvr}");
    assert_eq!(mntr(leader_port, "zk_quorum_size").as_deref(), Some("3"));
    (members, leader)
}

/// Writes through the observer and through a voter; each side reads the other's writes after `sync`, watches
/// fire on the observer, and an ephemeral created through the observer goes with its session.
fn writes_and_reads(members: &[Member], leader: u64) {
    let voter = members
        .iter()
        .find(|m| m.id != leader && m.id != OBSERVER)
        .expect("a follower");
    let hosts = [members[3].client_port, voter.client_port];
    let out = kazoo(
        &hosts,
        "import threading\n\
         o = KazooClient(hosts=hosts[0], timeout=10); o.start(timeout=30)\n\
         v = KazooClient(hosts=hosts[1], timeout=10); v.start(timeout=30)\n\
         o.create('/obs', b'from-observer')\n\
         o.create('/obs/eph', b'e', ephemeral=True)\n\
         seq = o.create('/obs/s-', b'', sequence=True)\n\
         v.sync('/obs'); assert v.get('/obs')[0] == b'from-observer'\n\
         assert v.exists('/obs/eph') is not None\n\
         fired = threading.Event()\n\
         o.get('/obs', watch=lambda e: fired.set())\n\
         v.set('/obs', b'from-voter')\n\
         assert fired.wait(20), 'the watch on the observer never fired'\n\
         o.sync('/obs'); data, stat = o.get('/obs')\n\
         assert data == b'from-voter' and stat.version == 1, (data, stat)\n\
         t = o.transaction(); t.create('/obs/m1', b'1'); t.create('/obs/m2', b'2'); assert t.commit() == ['/obs/m1', '/obs/m2']\n\
         v.sync('/obs'); kids = sorted(v.get_children('/obs'))\n\
         assert kids == sorted(['eph', 'm1', 'm2', seq.split('/')[-1]]), kids\n\
         o.stop(); o.close()\n\
         v.sync('/obs'); assert v.exists('/obs/eph') is None, 'the observer session\\'s ephemeral outlived it'\n\
         v.stop(); v.close()\n\
         print('ok')\n",
    );
    assert!(out.contains("ok"), "{out}");
}

/// Kills two voters: the remaining voter and the observer must not elect anything (the observer's vote never
/// counts) and the observer stops serving; with the voters back, the observer catches up on what it missed.
fn observer_never_makes_a_quorum(members: &mut [Member], leader: u64) {
    let survivor = *IDS
        .iter()
        .find(|&&id| id != leader && id != OBSERVER)
        .expect("a follower");
    for m in members.iter_mut() {
        if m.id != survivor && m.id != OBSERVER {
            m.kill();
        }
    }
    // Two members of four are up, one of three voters: no quorum, whatever the observer says.
    for _ in 0..25 {
        std::thread::sleep(Duration::from_millis(200));
        for m in members.iter().filter(|m| m.is_running()) {
            let mode = m.mode();
            assert!(
                !matches!(mode.as_deref(), Some("leader" | "follower")),
                "member {} is {mode:?} without a quorum",
                m.id
            );
        }
    }
    for m in members.iter_mut() {
        if !m.is_running() {
            m.restart();
        }
    }
    let leader = wait_for_quorum(members, Duration::from_secs(90));
    let voter = members
        .iter()
        .find(|m| m.id != OBSERVER)
        .expect("a voter")
        .client_port;
    let hosts = [voter, members[3].client_port];
    let out = kazoo(
        &hosts,
        "v = KazooClient(hosts=hosts[0], timeout=10); v.start(timeout=30)\n\
         for i in range(50): v.create('/after/n-%d' % i, b'x' * i, makepath=True)\n\
         v.stop(); v.close()\n\
         o = KazooClient(hosts=hosts[1], timeout=10); o.start(timeout=30)\n\
         o.sync('/after'); kids = o.get_children('/after')\n\
         assert len(kids) == 50, kids\n\
         assert o.get('/obs')[0] == b'from-voter'\n\
         o.stop(); o.close(); print('ok')\n",
    );
    assert!(out.contains("ok"), "{out} (leader {leader})");
}

fn run(voters: Kind, observer: Kind) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut members, leader) = start(dir.path(), voters, observer);
    writes_and_reads(&members, leader);
    observer_never_makes_a_quorum(&mut members, leader);
}

#[test]
fn a_ferrokeeper_observer_of_a_ferrokeeper_ensemble() {
    run(Kind::Ferrokeeper, Kind::Ferrokeeper);
}

#[test]
fn a_ferrokeeper_observer_of_an_apache_zookeeper_3_9_ensemble() {
    run(Kind::ZooKeeper("3.9.5"), Kind::Ferrokeeper);
}

#[test]
fn an_apache_zookeeper_3_9_observer_of_a_ferrokeeper_ensemble() {
    run(Kind::Ferrokeeper, Kind::ZooKeeper("3.9.5"));
}

#[test]
fn a_ferrokeeper_observer_of_an_apache_zookeeper_3_8_ensemble() {
    run(Kind::ZooKeeper("3.8.6"), Kind::Ferrokeeper);
}

#[test]
fn an_apache_zookeeper_3_8_observer_of_a_ferrokeeper_ensemble() {
    run(Kind::Ferrokeeper, Kind::ZooKeeper("3.8.6"));
}
