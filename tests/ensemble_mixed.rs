//! A ferrokeeper member in an Apache ZooKeeper ensemble: two real members (3.9.5, 3.8.6, then Debian's 3.8.0) and one
//! ferrokeeper member with the lowest id, so the real members elect one of their own and ferrokeeper follows
//! it: it registers, takes the snapshot the leader sends (SNAP), and then serves kazoo clients, forwarding
//! writes, syncs and session creations to the real leader and applying what it commits. Checked through
//! clients on ferrokeeper and on a real member at once: writes in both directions, sequential and ephemeral
//! nodes, multi, errors, a watch fired by a write made on the real member, an ephemeral removed on close, and a
//! session that moves from ferrokeeper to the real member. Then the other way round: ferrokeeper leads two real
//! members, one of which joins while it already serves.

#[path = "support/ensemble.rs"]
mod ensemble;

use std::time::Duration;

use ensemble::{kazoo, wait_for_quorum, Kind, Member, Ports};

const CHECKS: &str = r#"
f = KazooClient(hosts=hosts[0], timeout=10); f.start(timeout=20)
z = KazooClient(hosts=hosts[1], timeout=10); z.start(timeout=20)
events = []
f.exists("/a", watch=lambda e: events.append(("exists", e.type)))
assert f.create("/a", b"x") == "/a"
assert f.create("/a/s-", b"", sequence=True) == "/a/s-0000000000"
assert f.create("/a/e", b"", ephemeral=True) == "/a/e"
assert f.set("/a", b"y").version == 1
z.sync("/a")  # another member's reads see a write once synced with the leader
assert z.get("/a")[0] == b"y"
assert sorted(z.get_children("/a")) == ["e", "s-0000000000"]
f.get("/a", watch=lambda e: events.append(("data", e.type)))
z.set("/a", b"from-zk")
f.sync("/a")
assert f.get("/a")[0] == b"from-zk"
t = f.transaction(); t.create("/m1"); t.create("/m2"); assert t.commit() == ["/m1", "/m2"]
try:
    f.create("/a"); raise SystemExit("created twice")
except NodeExistsError:
    pass
try:
    f.delete("/a"); raise SystemExit("deleted a node with children")
except NotEmptyError:
    pass
for _ in range(50):
    if len(events) == 2: break
    time.sleep(0.1)
assert events == [("exists", "CREATED"), ("data", "CHANGED")], events
for i in range(200):
    f.create("/load-%d" % i, b"v" * 100)
z.sync("/")
assert len(z.get_children("/")) >= 204
f.stop(); f.close()
for _ in range(50):
    if z.exists("/a/e") is None: break
    time.sleep(0.1)
assert z.exists("/a/e") is None, "the ephemeral outlived its session"
# A session made on ferrokeeper moves to the real member with its ephemeral.
g = KazooClient(hosts=hosts[0], timeout=10); g.start(timeout=20)
g.create("/g", b"", ephemeral=True)
sid, pwd = g.client_id
h = KazooClient(hosts=hosts[1], client_id=(sid, pwd), timeout=10); h.start(timeout=20)
h.sync("/g")
assert h.exists("/g") is not None and h.exists("/g").ephemeralOwner == sid
h.stop(); h.close(); g.stop(); g.close()
# And a session made on the real member moves to ferrokeeper, with its ephemeral, and writes there: ferrokeeper
# revalidates it with the leader, which then takes its requests through ferrokeeper (no SESSIONMOVED).
g = KazooClient(hosts=hosts[1], timeout=10); g.start(timeout=20)
g.create("/g2", b"", ephemeral=True)
sid, pwd = g.client_id
h = KazooClient(hosts=hosts[0], client_id=(sid, pwd), timeout=10); h.start(timeout=20)
h.sync("/g2")
assert h.exists("/g2").ephemeralOwner == sid
h.create("/moved-in", b"1")
h.set("/g2", b"still mine")
h.stop(); h.close(); g.stop(); g.close()
z.stop(); z.close()
print("checks passed")
"#;

fn ferrokeeper_follows_a_real_leader(real: Kind) {
    let base = tempfile::tempdir().expect("tempdir");
    let ports = Ports::new(&[1, 2, 3]);
    let mut members = vec![
        Member::start(base.path(), 2, real, &ports),
        Member::start(base.path(), 3, real, &ports),
    ];
    wait_for_quorum(&members, Duration::from_secs(60));
    members.push(Member::start(base.path(), 1, Kind::Ferrokeeper, &ports));
    let leader = wait_for_quorum(&members, Duration::from_secs(60));
    assert_ne!(leader, 1, "a real member leads");
    let real = if leader == 2 { 3 } else { 2 };
    let out = kazoo(&[ports.client[&1], ports.client[&real]], CHECKS);
    assert!(out.contains("checks passed"), "{out}");
    let f = &members[2];
    let srvr = ensemble::four_letter(f.client_port, "srvr").unwrap_or_default();
    assert!(srvr.contains("Mode: follower"), "{srvr}");
    // The real leader dies: ferrokeeper and the other real member elect a new leader and go on, with every
    // acknowledged write.
    let at = members.iter().position(|m| m.id == leader).expect("the leader");
    members[at].kill();
    let survivors: Vec<&Member> = members.iter().filter(|m| m.is_running()).collect();
    assert_eq!(survivors.len(), 2);
    let new_leader = wait_for_quorum(&members, Duration::from_secs(60));
    assert_ne!(new_leader, leader);
    let out = kazoo(
        &[ports.client[&1], ports.client[&real]],
        r#"
f = KazooClient(hosts=hosts[0], timeout=10); f.start(timeout=20)
z = KazooClient(hosts=hosts[1], timeout=10); z.start(timeout=20)
assert f.get("/a")[0] == b"from-zk"
assert len(f.get_children("/")) >= 204
f.create("/after", b"1")
z.sync("/after")
assert z.get("/after")[0] == b"1"
f.stop(); z.stop()
print("after failover")
"#,
    );
    assert!(out.contains("after failover"), "{out}");
}

/// ferrokeeper leads: it starts first with the highest id, with one real member, and the second real member
/// joins the running epoch. Both real members sync from it (DIFF from its committed log or SNAP of its tree),
/// follow its proposals and forward their clients' writes to it.
fn real_members_follow_a_ferrokeeper_leader(real: Kind) {
    let base = tempfile::tempdir().expect("tempdir");
    let ports = Ports::new(&[1, 2, 3]);
    let mut members = vec![
        Member::start(base.path(), 3, Kind::Ferrokeeper, &ports),
        Member::start(base.path(), 1, real, &ports),
    ];
    let leader = wait_for_quorum(&members, Duration::from_secs(60));
    assert_eq!(leader, 3, "ferrokeeper leads");
    let out = kazoo(&[ports.client[&1], ports.client[&3]], "f = KazooClient(hosts=hosts[0]); f.start(timeout=20); f.create('/before', b'1'); f.stop(); print('ok')");
    assert!(out.contains("ok"), "{out}");
    members.push(Member::start(base.path(), 2, real, &ports));
    assert_eq!(wait_for_quorum(&members, Duration::from_secs(60)), 3);
    // The first real member's clients write through the ferrokeeper leader; the ferrokeeper leader's clients
    // read what they wrote after a sync.
    let out = kazoo(&[ports.client[&1], ports.client[&3]], CHECKS);
    assert!(out.contains("checks passed"), "{out}");
    let out = kazoo(
        &[ports.client[&2]],
        "z = KazooClient(hosts=hosts[0]); z.start(timeout=20); z.sync('/'); assert z.get('/before')[0] == b'1'; \
         assert z.get('/a')[0] == b'from-zk'; z.stop(); print('late member synced')",
    );
    assert!(out.contains("late member synced"), "{out}");
}

#[test]
fn apache_zookeeper_3_9_members_follow_a_ferrokeeper_leader() {
    real_members_follow_a_ferrokeeper_leader(Kind::ZooKeeper("3.9.5"));
}

#[test]
fn apache_zookeeper_3_8_members_follow_a_ferrokeeper_leader() {
    real_members_follow_a_ferrokeeper_leader(Kind::ZooKeeper("3.8.6"));
}

/// Debian's 3.8.0 (the packages installed on the machine, not a Maven release).
#[test]
fn debian_zookeeper_3_8_0_members_follow_a_ferrokeeper_leader() {
    real_members_follow_a_ferrokeeper_leader(Kind::DebianZooKeeper);
}

#[test]
fn ferrokeeper_follows_an_apache_zookeeper_3_9_leader() {
    ferrokeeper_follows_a_real_leader(Kind::ZooKeeper("3.9.5"));
}

#[test]
fn ferrokeeper_follows_an_apache_zookeeper_3_8_leader() {
    ferrokeeper_follows_a_real_leader(Kind::ZooKeeper("3.8.6"));
}

#[test]
fn ferrokeeper_follows_a_debian_zookeeper_3_8_0_leader() {
    ferrokeeper_follows_a_real_leader(Kind::DebianZooKeeper);
}
