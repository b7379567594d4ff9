//! Hierarchical quorums (`group.N=a:b:c`, `weight.N=w`, ZooKeeper's `QuorumHierarchical`): a quorum is more than
//! half of the groups, each by more than half of its weight, and a member of weight 0 is never elected. Shown
//! with three members in one group and `weight.3=0`, ferrokeeper and Apache ZooKeeper 3.9.5 members mixed: member
//! 3 never leads although the highest id would under a majority; every member prints the same membership
//! (`conf`, `/zookeeper/config`); and members 2 and 3 alone are no quorum (weight 1 of 2), where a majority
//! would have been, so the leader steps down when member 1 is killed and leads again once it is back.

#[path = "support/ensemble.rs"]
mod ensemble;

use std::time::Duration;

use ensemble::{four_letter, kazoo, wait_for_quorum, Kind, Member, Ports};

const GROUPS: &str = "admin.enableServer=false\ngroup.1=1:2:3\nweight.3=0\n";

fn membership(port: u16) -> String {
    let conf = four_letter(port, "conf").expect("conf");
    conf.split_once("membership: \n")
        .map(|(_, m)| m.trim_end().to_owned())
        .unwrap_or_else(|| panic!("no membership in {conf}"))
}

fn run(kinds: [Kind; 3]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let ids = [1, 2, 3];
    let ports = Ports::new(&ids);
    let mut members: Vec<Member> = ids
        .iter()
        .zip(kinds)
        .map(|(&id, kind)| Member::start_with(dir.path(), id, kind, &ports, GROUPS))
        .collect();
    let leader = wait_for_quorum(&members, Duration::from_secs(90));
    assert_eq!(
        leader, 2,
        "the weight-0 member 3 must not lead; 2 is the highest id left"
    );

    let texts: Vec<String> = members.iter().map(|m| membership(m.client_port)).collect();
    for (m, text) in members.iter().zip(&texts) {
        assert_eq!(text, &texts[0], "member {} ({:?})", m.id, m.kind);
        assert!(
            text.contains("\ngroup.1=1:2:3\nweight.1=1\nweight.2=1\nweight.3=0\nversion=0"),
            "{text}"
        );
    }
    let hosts: Vec<u16> = members.iter().map(|m| m.client_port).collect();
    let node = kazoo(
        &hosts,
        "c = KazooClient(hosts=hosts[2], timeout=10); c.start(timeout=30)\n\
         c.create('/g', b'before'); print(c.get('/zookeeper/config')[0].decode()); c.stop(); c.close()\n",
    );
    assert!(node.contains(&texts[0]), "{node}\n-- conf --\n{}", texts[0]);

    // Members 2 and 3 weigh 1 of the group's 2: no quorum, whatever their count.
    members[0].kill();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let modes: Vec<Option<String>> = members[1..].iter().map(Member::mode).collect();
        if modes
            .iter()
            .all(|m| !matches!(m.as_deref(), Some("leader" | "follower")))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "members 2 and 3 kept serving without member 1: {modes:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(300));
        for m in &members[1..] {
            let mode = m.mode();
            assert!(
                !matches!(mode.as_deref(), Some("leader" | "follower")),
                "member {} is {mode:?} with weight 1 of 2",
                m.id
            );
        }
    }
    members[0].restart();
    let leader = wait_for_quorum(&members, Duration::from_secs(90));
    assert_ne!(leader, 3);
    let out = kazoo(
        &hosts,
        "c = KazooClient(hosts=','.join(hosts), timeout=10); c.start(timeout=30)\n\
         c.sync('/g'); assert c.get('/g')[0] == b'before'; c.set('/g', b'after'); c.stop(); c.close(); print('ok')\n",
    );
    assert!(out.contains("ok"), "{out}");
}

/// A ferrokeeper leader (member 2) with a ferrokeeper follower and a 3.9.5 member of weight 0.
#[test]
fn a_ferrokeeper_leader_counts_groups_and_weights() {
    run([Kind::Ferrokeeper, Kind::Ferrokeeper, Kind::ZooKeeper("3.9.5")]);
}

/// A 3.9.5 leader (member 2) with a ferrokeeper follower and a ferrokeeper member of weight 0.
#[test]
fn ferrokeeper_members_elect_and_follow_under_groups_and_weights() {
    run([Kind::Ferrokeeper, Kind::ZooKeeper("3.9.5"), Kind::Ferrokeeper]);
}
