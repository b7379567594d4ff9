use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use jute::election::{Notification, ServerState};

use super::*;

const CONFIG: &[u8] = b"server.1=127.0.0.1:2888:3888:participant\nversion=0";

fn timeouts() -> ElectionTimeouts {
    ElectionTimeouts {
        finalize_wait_ticks: 4,
        min_notification_interval_ticks: 4,
        max_notification_interval_ticks: 30,
    }
}

fn quorum(voters: &[i64], observers: &[i64]) -> QuorumVerifier {
    QuorumVerifier::new(
        voters.iter().copied().map(ServerId),
        observers.iter().copied().map(ServerId),
        0,
    )
    .expect("valid quorum")
}

fn member(me: i64, q: &QuorumVerifier) -> Election {
    Election::new(
        ElectionConfig {
            my_id: ServerId(me),
            quorum: q.clone(),
            config_text: Bytes::from_static(CONFIG),
            timeouts: timeouts(),
        },
        Persisted::default(),
    )
}

fn persisted(zxid: i64, epoch: i64) -> Persisted {
    Persisted {
        last_logged_zxid: Zxid(zxid),
        current_epoch: epoch,
    }
}

fn looking(leader: i64, zxid: i64, round: i64, peer_epoch: i64) -> Notification {
    note(ServerState::Looking, leader, zxid, round, peer_epoch)
}

fn note(state: ServerState, leader: i64, zxid: i64, round: i64, peer_epoch: i64) -> Notification {
    Notification::current(state, leader, zxid, round, peer_epoch, Bytes::from_static(CONFIG))
}

fn sends(out: &[Output]) -> Vec<(i64, ServerState, i64, i64)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send { to, notification: n } => Some((to.0, n.state, n.leader, n.election_epoch)),
            Output::Decided { .. } | Output::NewerConfig { .. } => None,
        })
        .collect()
}

fn decided(out: &[Output]) -> Option<(ServerState, i64)> {
    out.iter().find_map(|o| match o {
        Output::Decided { state, vote } => Some((*state, vote.candidate.leader.0)),
        Output::Send { .. } | Output::NewerConfig { .. } => None,
    })
}

/// Members on a lossless FIFO network, ticked together until every one has decided.
struct Net {
    members: BTreeMap<i64, Election>,
    queue: VecDeque<(i64, i64, Notification)>,
    decisions: BTreeMap<i64, (ServerState, i64)>,
}

impl Net {
    fn new(q: &QuorumVerifier, state: &[(i64, Persisted)]) -> Net {
        let mut net = Net {
            members: BTreeMap::new(),
            queue: VecDeque::new(),
            decisions: BTreeMap::new(),
        };
        for (id, p) in state {
            net.members.insert(*id, member(*id, q));
            let out = net.members.get_mut(id).expect("member").look_for_leader(*p);
            net.route(*id, out);
        }
        net
    }

    fn route(&mut self, from: i64, out: Vec<Output>) {
        for o in out {
            match o {
                Output::Send { to, notification } => self.queue.push_back((from, to.0, notification)),
                Output::Decided { state, vote } => {
                    self.decisions.insert(from, (state, vote.candidate.leader.0));
                }
                Output::NewerConfig { .. } => {}
            }
        }
    }

    fn run(&mut self, max_ticks: usize) {
        for _ in 0..max_ticks {
            while let Some((from, to, n)) = self.queue.pop_front() {
                if let Some(m) = self.members.get_mut(&to) {
                    let out = m.receive(ServerId(from), n);
                    self.route(to, out);
                }
            }
            if self.decisions.len() == self.members.len() {
                return;
            }
            let ids: Vec<i64> = self.members.keys().copied().collect();
            for id in ids {
                let out = self.members.get_mut(&id).expect("member").tick();
                self.route(id, out);
            }
        }
    }
}

#[test]
fn fresh_members_elect_the_highest_sid() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut net = Net::new(
        &q,
        &[(1, persisted(0, 0)), (2, persisted(0, 0)), (3, persisted(0, 0))],
    );
    net.run(100);
    let want: BTreeMap<i64, (ServerState, i64)> = [
        (1, (ServerState::Following, 3)),
        (2, (ServerState::Following, 3)),
        (3, (ServerState::Leading, 3)),
    ]
    .into();
    assert_eq!(net.decisions, want);
}

#[test]
fn higher_zxid_beats_higher_sid_and_higher_epoch_beats_higher_zxid() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut net = Net::new(
        &q,
        &[(1, persisted(9, 0)), (2, persisted(5, 0)), (3, persisted(0, 0))],
    );
    net.run(100);
    assert!(
        net.decisions.values().all(|(_, leader)| *leader == 1),
        "{:?}",
        net.decisions
    );
    let mut net = Net::new(
        &q,
        &[
            (1, persisted(0x1_0000_0009, 1)),
            (2, persisted(0x1_0000_0001, 2)),
            (3, persisted(0, 0)),
        ],
    );
    net.run(100);
    assert!(
        net.decisions.values().all(|(_, leader)| *leader == 2),
        "{:?}",
        net.decisions
    );
}

#[test]
fn decision_waits_finalize_wait_ticks_after_a_quorum_agrees() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut m = member(3, &q);
    m.look_for_leader(persisted(0, 0));
    assert_eq!(decided(&m.receive(ServerId(1), looking(3, 0, 1, 0))), None);
    for _ in 1..timeouts().finalize_wait_ticks {
        assert_eq!(decided(&m.tick()), None);
    }
    assert_eq!(decided(&m.tick()), Some((ServerState::Leading, 3)));
    assert_eq!(m.state(), ServerState::Leading);
}

#[test]
fn a_worse_vote_during_the_finalize_wait_restarts_the_wait() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut m = member(3, &q);
    m.look_for_leader(persisted(0, 0));
    m.receive(ServerId(1), looking(3, 0, 1, 0));
    m.tick();
    m.tick();
    assert!(sends(&m.receive(ServerId(2), looking(2, 0, 1, 0))).is_empty());
    for _ in 1..timeouts().finalize_wait_ticks {
        assert_eq!(decided(&m.tick()), None);
    }
    assert_eq!(decided(&m.tick()), Some((ServerState::Leading, 3)));
}

#[test]
fn a_better_vote_during_the_finalize_wait_is_adopted_and_sent() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut m = member(2, &q);
    m.look_for_leader(persisted(0, 0));
    m.receive(ServerId(1), looking(2, 0, 1, 0));
    let out = m.receive(ServerId(3), looking(3, 0, 1, 0));
    assert_eq!(
        sends(&out),
        vec![(1, ServerState::Looking, 3, 1), (3, ServerState::Looking, 3, 1)]
    );
    assert_eq!(m.proposal().leader, ServerId(3));
    let mut result = None;
    for _ in 0..timeouts().finalize_wait_ticks {
        result = result.or(decided(&m.tick()));
    }
    assert_eq!(result, Some((ServerState::Following, 3)));
}

#[test]
fn notification_interval_doubles_up_to_the_maximum() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut m = member(1, &q);
    m.look_for_leader(persisted(0, 0));
    let mut resend_ticks = Vec::new();
    for t in 1..=200u64 {
        if !sends(&m.tick()).is_empty() {
            resend_ticks.push(t);
        }
    }
    assert_eq!(resend_ticks[..6], [4, 12, 28, 58, 88, 118]);
}

#[test]
fn a_newer_round_clears_the_votes_and_is_adopted() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut m = member(3, &q);
    m.look_for_leader(persisted(0, 0));
    let out = m.receive(ServerId(1), looking(1, 0, 7, 0));
    assert_eq!(m.logical_clock(), 7);
    assert_eq!(
        m.proposal().leader,
        ServerId(3),
        "our own vote is better than theirs"
    );
    assert_eq!(
        sends(&out),
        vec![(1, ServerState::Looking, 3, 7), (2, ServerState::Looking, 3, 7)]
    );
}

#[test]
fn a_looking_member_behind_our_round_gets_our_round_and_proposal() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut m = member(3, &q);
    m.look_for_leader(persisted(0, 0));
    m.receive(ServerId(1), looking(1, 0, 5, 0));
    let out = m.receive(ServerId(2), looking(2, 0, 1, 0));
    assert_eq!(sends(&out), vec![(2, ServerState::Looking, 3, 5)]);
}

#[test]
fn a_member_that_is_not_looking_answers_looking_members_with_its_vote_and_round() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut net = Net::new(
        &q,
        &[(1, persisted(0, 0)), (2, persisted(0, 0)), (3, persisted(0, 0))],
    );
    net.run(100);
    let follower = net.members.get_mut(&1).expect("member");
    let out = follower.receive(ServerId(2), looking(2, 0, 9, 0));
    assert_eq!(sends(&out), vec![(2, ServerState::Following, 3, 1)]);
    assert!(sends(&follower.receive(ServerId(2), note(ServerState::Following, 3, 0, 1, 0))).is_empty());
}

#[test]
fn a_non_voter_is_answered_at_once_and_never_counted() {
    let q = quorum(&[1, 2, 3], &[4]);
    let mut m = member(3, &q);
    m.look_for_leader(persisted(0, 0));
    let out = m.receive(ServerId(4), looking(3, 0, 1, 0));
    assert_eq!(sends(&out), vec![(4, ServerState::Looking, 3, 1)]);
    for _ in 0..10 {
        assert_eq!(decided(&m.tick()), None, "an observer's vote made a quorum");
    }
}

#[test]
fn an_observer_proposes_nobody_and_decides_observing() {
    let q = quorum(&[1, 2, 3], &[4]);
    let mut net = Net::new(
        &q,
        &[
            (1, persisted(0, 0)),
            (2, persisted(0, 0)),
            (3, persisted(0, 0)),
            (4, persisted(0, 0)),
        ],
    );
    assert_eq!(net.members[&4].proposal(), Candidate::NONE);
    net.run(200);
    assert_eq!(net.decisions.get(&4), Some(&(ServerState::Observing, 3)));
    assert_eq!(net.decisions.get(&3), Some(&(ServerState::Leading, 3)));
}

#[test]
fn votes_for_a_non_voter_and_votes_with_zxid_minus_one_are_ignored() {
    let q = quorum(&[1, 2, 3], &[4]);
    let mut m = member(1, &q);
    m.look_for_leader(persisted(0, 0));
    assert!(sends(&m.receive(ServerId(2), looking(4, 100, 1, 9))).is_empty());
    assert!(sends(&m.receive(ServerId(2), looking(2, -1, 1, 0))).is_empty());
    assert_eq!(m.proposal().leader, ServerId(1));
}

#[test]
fn a_late_member_follows_an_established_leader_only_after_the_leaders_own_vote() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut m = member(1, &q);
    m.look_for_leader(persisted(0, 0));
    // Member 2 follows 3 (elected in round 4 with epoch 1); that alone is not enough.
    let out = m.receive(ServerId(2), note(ServerState::Following, 3, 0, 4, 1));
    assert_eq!(decided(&out), None);
    let out = m.receive(ServerId(3), note(ServerState::Leading, 3, 0, 4, 1));
    assert_eq!(decided(&out), Some((ServerState::Following, 3)));
    assert_eq!(
        m.logical_clock(),
        4,
        "the round of the established leader is adopted"
    );
}

#[test]
fn followers_of_a_leader_that_never_says_it_leads_are_not_followed() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut m = member(1, &q);
    m.look_for_leader(persisted(0, 0));
    m.receive(ServerId(2), note(ServerState::Following, 3, 0, 4, 1));
    let out = m.receive(ServerId(3), note(ServerState::Following, 3, 0, 4, 1));
    assert_eq!(decided(&out), None);
}

#[test]
fn a_newer_configuration_version_is_reported_once() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut m = member(1, &q);
    m.look_for_leader(persisted(0, 0));
    let newer = Notification::current(
        ServerState::Looking,
        2,
        0,
        1,
        0,
        Bytes::from_static(b"server.1=a:1:2:participant\nversion=100000000"),
    );
    let reported = |out: &[Output]| {
        out.iter().any(|o| {
            matches!(
                o,
                Output::NewerConfig {
                    version: 0x1_0000_0000,
                    ..
                }
            )
        })
    };
    assert!(reported(&m.receive(ServerId(2), newer.clone())));
    assert!(!reported(&m.receive(ServerId(2), newer)));
}

#[test]
fn a_new_election_after_leading_starts_the_next_round_from_the_persisted_state() {
    let q = quorum(&[1, 2, 3], &[]);
    let mut m = member(3, &q);
    m.look_for_leader(persisted(0, 0));
    m.receive(ServerId(1), looking(3, 0, 1, 0));
    for _ in 0..timeouts().finalize_wait_ticks {
        m.tick();
    }
    assert_eq!(m.state(), ServerState::Leading);
    let out = m.look_for_leader(persisted(0x1_0000_0005, 1));
    assert_eq!(m.state(), ServerState::Looking);
    assert_eq!(m.logical_clock(), 2);
    assert_eq!(
        sends(&out),
        vec![(1, ServerState::Looking, 3, 2), (2, ServerState::Looking, 3, 2)]
    );
}
