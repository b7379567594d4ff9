//! Local sessions (`localSessionsEnabled=true`), the same checks against Apache ZooKeeper 3.9.5 ensembles,
//! ferrokeeper ensembles and mixed ones (a ferrokeeper follower under a real leader, real followers under a
//! ferrokeeper leader). Member 1 runs with `localSessionsUpgradingEnabled=false`, the others with it on.
//!
//! On a member with upgrading on, a kazoo session is local: creating it, closing it and letting it expire
//! leave the zxid where it was and change `zk_local_sessions` only; persistent nodes are written and read;
//! an ephemeral create makes the session global first (`zk_global_sessions` goes up by one, the local count
//! down), the ephemeral is seen from another member and lasts as long as the session. On member 1 an
//! ephemeral create is answered EPHEMERALONLOCALSESSION, no node is made, and the session stays local.

#[path = "support/ensemble.rs"]
mod ensemble;

use std::time::Duration;

use ensemble::{kazoo, wait_for_quorum, Kind, Member, Ports};

const LOCAL: &str =
    "admin.enableServer=false\nlocalSessionsEnabled=true\nlocalSessionsUpgradingEnabled=true\n";
const LOCAL_NO_UPGRADE: &str =
    "admin.enableServer=false\nlocalSessionsEnabled=true\nlocalSessionsUpgradingEnabled=false\n";

/// Helpers of the scripts: `mntr` as a dict, the member's zxid from `srvr`, and a raw session that vanishes
/// without a closeSession.
const HELPERS: &str = r#"
import logging, socket, struct
logging.disable(logging.CRITICAL)
def word(port, w):
    s = socket.create_connection(("127.0.0.1", port), timeout=5); s.sendall(w.encode()); out = b""
    while True:
        d = s.recv(4096)
        if not d: return out.decode()
        out += d
def mntr(port):
    return dict(l.split("\t", 1) for l in word(port, "mntr").splitlines() if "\t" in l)
def counts(port):
    m = mntr(port)
    return int(m["zk_local_sessions"]), int(m["zk_global_sessions"])
def zxid(port):
    for l in word(port, "srvr").splitlines():
        if l.startswith("Zxid: "): return int(l[6:], 16)
def raw_session(port, timeout):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    body = struct.pack(">iqiq", 0, 0, timeout, 0) + struct.pack(">i", 16) + b"\0" * 16
    s.sendall(struct.pack(">i", len(body)) + body)
    n = struct.unpack(">i", s.recv(4))[0]; r = b""
    while len(r) < n: r += s.recv(n - len(r))
    return s, struct.unpack(">iiq", r[:16])[2]
def port_of(h): return int(h.split(":")[1])
"#;

/// hosts[0]: a member with upgrading on; hosts[1]: another member; hosts[2]: member 1 (upgrading off).
const CHECKS: &str = r#"
up, other, noup = port_of(hosts[0]), port_of(hosts[1]), port_of(hosts[2])
l0, g0 = counts(up)
z0 = zxid(up)
c = KazooClient(hosts=hosts[0], timeout=10); c.start(timeout=20)
assert counts(up) == (l0 + 1, g0), ("a new session is local", counts(up), l0, g0)
assert zxid(up) == z0, "no txn for a local session"
c.create("/ls", b"1")
c.set("/ls", b"2")
assert c.get("/ls")[0] == b"2"
assert c.get_children("/ls") == []
z1 = zxid(up)
assert z1 > z0 and z1 & 0xffffffff == (z0 & 0xffffffff) + 2 if z0 >> 32 == z1 >> 32 else z1 > z0, (z0, z1)
c.stop(); c.close()
assert counts(up) == (l0, g0), ("closed", counts(up))
assert zxid(up) == z1, "no txn for closing a local session"
# An ephemeral create upgrades the session.
c = KazooClient(hosts=hosts[0], timeout=10); c.start(timeout=20)
c.create("/ls/e", b"", ephemeral=True)
assert counts(up) == (l0, g0 + 1), ("upgraded", counts(up), l0, g0)
o = KazooClient(hosts=hosts[1], timeout=10); o.start(timeout=20)
o.sync("/ls/e")
owner = o.exists("/ls/e").ephemeralOwner
assert owner == c.client_id[0], (owner, c.client_id)
time.sleep(3)
o.sync("/ls/e")
assert o.exists("/ls/e") is not None, "the ephemeral lasts as long as its session"
c.stop(); c.close()
o.sync("/ls/e")
assert o.exists("/ls/e") is None, "closing the global session removes its ephemeral"
# A local session that vanishes expires on its member without a txn.
z2 = zxid(up)
l2, _ = counts(up)
s, sid = raw_session(up, 2000)
assert counts(up)[0] == l2 + 1
s.close()
deadline = time.time() + 30
while counts(up)[0] != l2 and time.time() < deadline: time.sleep(0.3)
assert counts(up)[0] == l2, ("expired", counts(up))
assert zxid(up) == z2, "no txn for expiring a local session"
# Without upgrading, an ephemeral create fails and the session stays local.
ln, gn = counts(noup)
n = KazooClient(hosts=hosts[2], timeout=10); n.start(timeout=20)
try:
    n.create("/ls/n", b"", ephemeral=True)
    raise SystemExit("an ephemeral create on a local session without upgrading succeeded")
except EphemeralOnLocalSessionError:
    pass
assert counts(noup) == (ln + 1, gn), ("still local", counts(noup), ln, gn)
n.create("/ls/p", b"")
n.stop(); n.close()
o.sync("/ls")
# The leader refused the ephemeral (the session is not global): only the persistent node is there.
assert sorted(o.get_children("/ls")) == ["p"], o.get_children("/ls")
o.stop(); o.close()
print("checks passed")
"#;

fn script() -> String {
    format!("{HELPERS}{CHECKS}")
}

fn extra(id: u64) -> &'static str {
    if id == 1 {
        LOCAL_NO_UPGRADE
    } else {
        LOCAL
    }
}

/// Starts members `first` together, then `later`, and runs the checks on an upgrading member other than
/// the leader when there is one.
fn run(kinds: &[(u64, Kind)], later: &[(u64, Kind)], want_leader: Option<u64>) {
    let base = tempfile::tempdir().expect("tempdir");
    let ports = Ports::new(&[1, 2, 3]);
    let mut members: Vec<Member> = kinds
        .iter()
        .map(|&(id, kind)| Member::start_with(base.path(), id, kind, &ports, extra(id)))
        .collect();
    if !later.is_empty() {
        wait_for_quorum(&members, Duration::from_secs(60));
        for &(id, kind) in later {
            members.push(Member::start_with(base.path(), id, kind, &ports, extra(id)));
        }
    }
    let leader = wait_for_quorum(&members, Duration::from_secs(60));
    if let Some(want) = want_leader {
        assert_eq!(leader, want, "the leader of the mixed ensemble");
    }
    let up = [2, 3]
        .into_iter()
        .find(|&id| id != leader)
        .expect("a follower with upgrading on");
    let other = [1, 2, 3].into_iter().find(|&id| id != up && id != 1).unwrap_or(1);
    let out = kazoo(
        &[ports.client[&up], ports.client[&other], ports.client[&1]],
        &script(),
    );
    assert!(out.contains("checks passed"), "{out}");
}

#[test]
fn local_sessions_on_apache_zookeeper_3_9() {
    let z = Kind::ZooKeeper("3.9.5");
    run(&[(1, z), (2, z), (3, z)], &[], None);
}

#[test]
fn local_sessions_on_ferrokeeper() {
    let f = Kind::Ferrokeeper;
    run(&[(1, f), (2, f), (3, f)], &[], None);
}

#[test]
fn local_sessions_on_a_ferrokeeper_follower_under_an_apache_leader() {
    let z = Kind::ZooKeeper("3.9.5");
    let f = Kind::Ferrokeeper;
    // Member 2 (ferrokeeper, upgrading on) and member 1 (ferrokeeper, upgrading off) follow real member 3.
    run(&[(3, z), (2, f)], &[(1, f)], Some(3));
}

#[test]
fn local_sessions_on_apache_followers_under_a_ferrokeeper_leader() {
    let z = Kind::ZooKeeper("3.9.5");
    let f = Kind::Ferrokeeper;
    run(&[(3, f), (2, z)], &[(1, z)], Some(3));
}
