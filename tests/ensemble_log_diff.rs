//! DIFF from the leader's on-disk txn log: a follower stopped while more txns were committed than the leader
//! keeps in memory (500) comes back and is synced by DIFF read from the leader's log
//! (`ZKDatabase.getProposalsFromTxnLog`, within `zookeeper.snapshotSizeFactor` of the snapshot size), not by
//! SNAP; the leader says so in its log and in `diff_count`/`snap_count`, and the trees agree afterwards. The
//! follower is a ferrokeeper member, then an Apache ZooKeeper 3.9.5 member; the leader is ferrokeeper. With
//! `snapshotSizeFactor=-1` (log sync off) the same follower is synced by SNAP, as ZooKeeper does.

#[path = "support/ensemble.rs"]
mod ensemble;

use std::time::Duration;

use ensemble::{four_letter, kazoo, wait_for_quorum, Kind, Member, Ports};

/// A counter from a member's `mntr` (0 when absent).
fn mntr_counter(m: &Member, name: &str) -> u64 {
    let mntr = four_letter(m.client_port, "mntr").unwrap_or_default();
    mntr.lines()
        .find_map(|l| l.strip_prefix(&format!("zk_{name}\t")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Every node's path and data under /d on each host after a sync, as one text per host.
const TREES: &str = r#"
out = []
for h in hosts:
    c = KazooClient(hosts=h, timeout=10); c.start(timeout=20)
    c.sync("/")
    names = sorted(c.get_children("/d"))
    out.append(";".join("%s=%s" % (n, c.get("/d/" + n)[0].decode()) for n in names))
    c.stop(); c.close()
assert len(out[0].split(";")) >= 760, len(out[0].split(";"))
assert all(o == out[0] for o in out), "the trees differ"
print("trees agree")
"#;

fn writes(port: u16, from: usize, count: usize) {
    let script = format!(
        "c = KazooClient(hosts=hosts[0], timeout=10); c.start(timeout=20)\n\
         for i in range({from}, {}):\n    c.create('/d/n%05d' % i, b'%d' % i)\n\
         for i in range({from}, {}, 50):\n    c.set('/d/n%05d' % i, b'changed')\n\
         c.stop(); print('written')",
        from + count,
        from + count
    );
    let out = kazoo(&[port], &script);
    assert!(out.contains("written"), "{out}");
}

/// Ferrokeeper leads (id 3, started first with id 2); `kind` is member 1, which is stopped while 700 txns are
/// written and then restarted. Returns the leader's log lines about syncing learner sid 1 after the restart.
fn behind_follower_rejoins(kind: Kind, extra: &str) -> (Vec<String>, u64, u64) {
    let base = tempfile::tempdir().expect("tempdir");
    let ports = Ports::new(&[1, 2, 3]);
    let mut members = vec![
        Member::start_with(base.path(), 3, Kind::Ferrokeeper, &ports, extra),
        Member::start_with(base.path(), 2, Kind::Ferrokeeper, &ports, extra),
    ];
    assert_eq!(wait_for_quorum(&members, Duration::from_secs(60)), 3);
    members.push(Member::start_with(base.path(), 1, kind, &ports, extra));
    assert_eq!(wait_for_quorum(&members, Duration::from_secs(60)), 3);
    let out = kazoo(
        &[ports.client[&3]],
        "c = KazooClient(hosts=hosts[0]); c.start(timeout=20); c.create('/d', b''); c.stop(); print('ok')",
    );
    assert!(out.contains("ok"), "{out}");
    writes(ports.client[&3], 0, 60);
    members[2].kill();
    let leader_log = members[0].dir.join("server.log");
    let before = std::fs::read_to_string(&leader_log).unwrap_or_default().len();
    let (diffs, snaps) = (
        mntr_counter(&members[0], "diff_count"),
        mntr_counter(&members[0], "snap_count"),
    );
    // More than the 500 committed txns the leader keeps in memory.
    writes(ports.client[&3], 60, 700);
    members[2].restart();
    assert_eq!(wait_for_quorum(&members, Duration::from_secs(60)), 3);
    let out = kazoo(&[ports.client[&3], ports.client[&2], ports.client[&1]], TREES);
    assert!(out.contains("trees agree"), "{out}");
    let text = std::fs::read_to_string(&leader_log).unwrap_or_default();
    let lines = text[before..]
        .lines()
        .filter(|l| l.contains("learner sid 1"))
        .map(str::to_owned)
        .collect();
    (
        lines,
        mntr_counter(&members[0], "diff_count") - diffs,
        mntr_counter(&members[0], "snap_count") - snaps,
    )
}

fn assert_synced_by_diff_from_the_log(kind: Kind) {
    let (lines, diffs, snaps) = behind_follower_rejoins(kind, "admin.enableServer=false\n");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("using the txn log and the committed log")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("synchronising learner sid 1 by DIFF")),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("by SNAP")), "{lines:#?}");
    assert_eq!((diffs, snaps), (1, 0), "{lines:#?}");
}

#[test]
fn a_ferrokeeper_follower_behind_the_committed_log_is_synced_by_diff_from_the_leaders_log() {
    assert_synced_by_diff_from_the_log(Kind::Ferrokeeper);
}

#[test]
fn an_apache_zookeeper_3_9_follower_behind_the_committed_log_is_synced_by_diff_from_the_leaders_log() {
    assert_synced_by_diff_from_the_log(Kind::ZooKeeper("3.9.5"));
}

#[test]
fn with_log_sync_off_the_follower_behind_the_committed_log_gets_a_snapshot() {
    let (lines, diffs, snaps) = behind_follower_rejoins(
        Kind::Ferrokeeper,
        "admin.enableServer=false\nsnapshotSizeFactor=-1\n",
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("synchronising learner sid 1 by SNAP")),
        "{lines:#?}"
    );
    assert_eq!((diffs, snaps), (0, 1), "{lines:#?}");
}
