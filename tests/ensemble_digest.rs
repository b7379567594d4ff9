//! Per-txn digests across kinds of member: each PROPOSAL carries the tree digest its txn leaves (TxnDigest,
//! `zookeeper.digest.enabled`, on by default), and every member checks its tree against it after applying the
//! txn, counting differences in `digest_mismatches_count`. A ferrokeeper follower of an Apache ZooKeeper 3.9.5
//! leader and 3.9.5 followers of a ferrokeeper leader take writes of every kind a client can make, and every
//! member ends with no mismatch. That the digests were there to compare is read from each follower's own txn
//! log: every txn that did not fail carries one.

#[path = "support/ensemble.rs"]
mod ensemble;

use std::process::Command;
use std::time::Duration;

use ensemble::{four_letter, kazoo, wait_for_quorum, Kind, Member, Ports};

/// Writes of every kind through clients of two members at once (hosts[0] and hosts[1]), with the errors that
/// become error txns and a multi that fails half-way.
const WRITES: &str = r#"
from kazoo.security import make_digest_acl, OPEN_ACL_UNSAFE
a = KazooClient(hosts=hosts[0], timeout=10); a.start(timeout=20)
b = KazooClient(hosts=hosts[1], timeout=10); b.start(timeout=20)
for c, tag in ((a, "a"), (b, "b")):
    root = "/" + tag
    c.create(root, b"top")
    c.create(root + "/deep/er/path", b"p", makepath=True)
    seq = c.create(root + "/s-", b"seq", sequence=True)
    c.create(root + "/e", b"eph", ephemeral=True)
    c.create(root + "/es-", b"", ephemeral=True, sequence=True)
    c.set(root, b"x" * 5000)
    c.set(root + "/deep", b"")
    c.set_acls(root + "/deep/er", [make_digest_acl("u", "p", all=True)] + list(OPEN_ACL_UNSAFE))
    try:
        c.create(root, b""); raise SystemExit("created twice")
    except NodeExistsError:
        pass
    try:
        c.set(root, b"", version=99); raise SystemExit("bad version accepted")
    except BadVersionError:
        pass
    try:
        c.delete(root + "/deep"); raise SystemExit("deleted a parent")
    except NotEmptyError:
        pass
    t = c.transaction(); t.create(root + "/m1", b"1"); t.set_data(root + "/m1", b"2"); t.delete(seq)
    r = t.commit()
    assert r[0] == root + "/m1" and r[2] is True, r
    t = c.transaction(); t.create(root + "/never"); t.delete(root + "/absent")
    r = t.commit()
    assert isinstance(r[1], NoNodeError), r
    for i in range(60):
        c.create(root + "/n-%d" % i, b"v" * (i * 7))
    for i in range(0, 60, 3):
        c.delete(root + "/n-%d" % i)
# Writes in flight together from both members.
for i in range(100):
    a.create_async("/a/async-%d" % i, b"x")
    b.set_async("/b", b"y%d" % i)
a.sync("/"); b.sync("/")
# A session with ephemerals closes: its closeSession removes them.
e = KazooClient(hosts=hosts[1], timeout=10); e.start(timeout=20)
for i in range(5):
    e.create("/a/gone-%d" % i, b"", ephemeral=True)
e.stop(); e.close()
a.delete("/b/deep", recursive=True)
a.sync("/"); b.sync("/")
assert a.get("/b")[0] == b.get("/b")[0]
a.stop(); a.close(); b.stop(); b.close()
print("writes done")
"#;

/// `zk_digest_mismatches_count` from a member's `mntr`.
fn digest_mismatches(m: &Member) -> u64 {
    let mntr = four_letter(m.client_port, "mntr").unwrap_or_default();
    mntr.lines()
        .find_map(|l| l.strip_prefix("zk_digest_mismatches_count"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "member {} has no zk_digest_mismatches_count in mntr:\n{mntr}",
                m.id
            )
        })
}

/// (txns that did not fail, those of them with a TxnDigest, error txns, those of them with one) in the txn
/// logs of a member's data directory, read with `ferrokeeper txnlog --json` (the format is Apache ZooKeeper's
/// for both kinds).
fn logged_digests(m: &Member) -> (usize, usize, usize, usize) {
    let dir = m.dir.join("data/version-2");
    let mut logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("log."))
        })
        .collect();
    logs.sort();
    let (mut txns, mut with_digest, mut errors, mut errors_with_digest) = (0, 0, 0, 0);
    for log in logs {
        let out = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
            .arg("txnlog")
            .arg("--json")
            .arg(&log)
            .output()
            .expect("run ferrokeeper txnlog");
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let Some(kind) = v.get("type").and_then(|t| t.as_str()) else {
                continue;
            };
            let digest = v.get("digest").is_some_and(|d| !d.is_null());
            if kind == "error" {
                errors += 1;
                errors_with_digest += usize::from(digest);
                continue;
            }
            txns += 1;
            with_digest += usize::from(digest);
        }
    }
    (txns, with_digest, errors, errors_with_digest)
}

fn check_members(members: &[Member], followers: &[u64]) {
    for m in members {
        assert_eq!(digest_mismatches(m), 0, "member {} ({:?})", m.id, m.kind);
    }
    // A follower that fell behind and took a SNAP logs only what came after it: the logs are counted together.
    let (mut total, mut errors) = (0, 0);
    for m in members.iter().filter(|m| followers.contains(&m.id)) {
        let (txns, with_digest, failed, failed_with_digest) = logged_digests(m);
        // A write that failed in prep becomes an error txn without a digest (ZooKeeper's prep threw before
        // setting one).
        assert_eq!(failed_with_digest, 0, "member {} ({:?})", m.id, m.kind);
        errors += failed;
        assert!(txns > 0, "member {} logged no txn", m.id);
        assert_eq!(
            with_digest, txns,
            "member {} ({:?}): every txn that did not fail carries its digest",
            m.id, m.kind
        );
        total += txns;
    }
    assert!(total > 300, "the followers logged only {total} txns");
    assert!(errors > 0, "the followers logged no error txn");
}

#[test]
fn a_ferrokeeper_follower_checks_the_digests_of_an_apache_zookeeper_3_9_leader() {
    let base = tempfile::tempdir().expect("tempdir");
    let ports = Ports::new(&[1, 2, 3]);
    let mut members = vec![
        Member::start(base.path(), 2, Kind::ZooKeeper("3.9.5"), &ports),
        Member::start(base.path(), 3, Kind::ZooKeeper("3.9.5"), &ports),
    ];
    wait_for_quorum(&members, Duration::from_secs(60));
    members.push(Member::start(base.path(), 1, Kind::Ferrokeeper, &ports));
    let leader = wait_for_quorum(&members, Duration::from_secs(60));
    assert_ne!(leader, 1, "a real member leads");
    let real = if leader == 2 { 3 } else { 2 };
    let out = kazoo(&[ports.client[&1], ports.client[&real]], WRITES);
    assert!(out.contains("writes done"), "{out}");
    check_members(&members, &[1]);
}

#[test]
fn apache_zookeeper_3_9_followers_check_the_digests_of_a_ferrokeeper_leader() {
    let base = tempfile::tempdir().expect("tempdir");
    let ports = Ports::new(&[1, 2, 3]);
    let members = vec![
        Member::start(base.path(), 3, Kind::Ferrokeeper, &ports),
        Member::start(base.path(), 1, Kind::ZooKeeper("3.9.5"), &ports),
        Member::start(base.path(), 2, Kind::ZooKeeper("3.9.5"), &ports),
    ];
    assert_eq!(
        wait_for_quorum(&members, Duration::from_secs(60)),
        3,
        "ferrokeeper leads"
    );
    let out = kazoo(&[ports.client[&3], ports.client[&1]], WRITES);
    assert!(out.contains("writes done"), "{out}");
    check_members(&members, &[1, 2]);
}
