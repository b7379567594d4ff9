//! The leader core rule by rule (each test names the `Leader` or `LearnerHandler` behaviour of ZooKeeper 3.9 it
//! checks), the sync choice of `leader_sync`, and the captured traffic of real Apache ZooKeeper 3.8.0 and 3.9.5
//! leaders replayed: the real learners' packets go in, and what comes out must be what the real leader sent.

use std::collections::{BTreeMap, VecDeque};

use jute::quorum::{ForwardedBody, Payload, Sender, PROTOCOL_VERSION};
use jute::records::quorum::{LearnerInfo, QuorumPacket};
use jute::request::Request;
use jute::to_bytes;
use jute::txn_entry::TxnEntry;
use serde_json::Value;

use super::*;
use crate::core::zab::leader_sync::{plan_sync, plan_sync_from_log, SyncPlan};
use crate::core::zab::learner::tests::{golden_dir, packets_in, txn};

const E1: i64 = 1 << 32;
const E2: i64 = 2 << 32;

pub(super) fn cfg(voters: &[i64], observers: &[i64]) -> LeaderConfig {
    LeaderConfig {
        my_id: ServerId(1),
        voters: voters.iter().copied().map(ServerId).collect(),
        observers: observers.iter().copied().map(ServerId).collect(),
        groups: None,
        init_limit_ticks: 10,
        sync_limit_ticks: 5,
        committed_log_max: 500,
        config_text: Some(Bytes::from_static(
            b"server.1=127.0.0.1:2888:3888:participant\nversion=0",
        )),
    }
}

fn info(sid: i64) -> Payload {
    Payload::FollowerInfo(LearnerInfo {
        serverid: sid,
        protocol_version: PROTOCOL_VERSION,
        config_version: 0,
    })
}

fn send(to: u64, zxid: i64, payload: Payload) -> Action {
    Action::Send {
        to: LearnerConn(to),
        zxid,
        payload,
    }
}

fn c(n: u64) -> LearnerConn {
    LearnerConn(n)
}

/// The leader's epoch writes made durable at once, and its log read with nothing there; every action, the
/// writes included, in order.
fn instant(leader: &mut Leader, actions: Vec<Action>) -> Vec<Action> {
    let mut out = Vec::new();
    for action in actions {
        let durable = match action {
            Action::WriteAcceptedEpoch(_) => Some(Durable::AcceptedEpoch),
            Action::WriteCurrentEpoch(_) => Some(Durable::CurrentEpoch),
            Action::ReadLog { to, .. } => {
                let more = leader.log_read(to, None);
                out.extend(instant(leader, more));
                continue;
            }
            _ => None,
        };
        out.push(action);
        if let Some(what) = durable {
            let more = leader.persisted(what).expect("durable");
            out.extend(instant(leader, more));
        }
    }
    out
}

fn recv(leader: &mut Leader, conn: u64, zxid: i64, payload: Payload) -> Vec<Action> {
    let actions = leader.receive(c(conn), zxid, payload);
    instant(leader, actions)
}

fn leader_with(cfg: LeaderConfig, persisted: LeaderPersisted, recent: Vec<TxnEntry>) -> Leader {
    let (mut leader, actions) = Leader::start(cfg, persisted, recent);
    instant(&mut leader, actions);
    leader
}

/// A leader (server 1, nothing persisted) established in epoch 1 with learners `sids` on connections of the
/// same numbers, each empty; `observers` register with OBSERVERINFO.
fn established(voters: &[i64], observers: &[i64], sids: &[i64]) -> Leader {
    let mut leader = leader_with(cfg(voters, observers), LeaderPersisted::default(), vec![]);
    for &sid in sids {
        leader.connected(c(sid as u64));
        let payload = if observers.contains(&sid) {
            Payload::ObserverInfo(LearnerInfo {
                serverid: sid,
                protocol_version: PROTOCOL_VERSION,
                config_version: 0,
            })
        } else {
            info(sid)
        };
        recv(&mut leader, sid as u64, 0, payload);
    }
    for &sid in sids {
        recv(&mut leader, sid as u64, 0, Payload::AckEpoch { current_epoch: 0 });
    }
    for &sid in sids {
        recv(&mut leader, sid as u64, E1, Payload::Ack);
    }
    assert!(leader.is_established());
    leader
}

fn to(actions: &[Action], conn: u64) -> Vec<(i64, Payload)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, zxid, payload } if *to == c(conn) => Some((*zxid, payload.clone())),
            _ => None,
        })
        .collect()
}

fn dropped(actions: &[Action]) -> Vec<(u64, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Drop { conn, reason } => Some((conn.0, reason.clone())),
            _ => None,
        })
        .collect()
}

fn commits(actions: &[Action]) -> Vec<i64> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Commit(z) => Some(z.0),
            _ => None,
        })
        .collect()
}

fn leader_info(epoch: i64) -> (i64, Payload) {
    (
        epoch << 32,
        Payload::LeaderInfo {
            protocol_version: PROTOCOL_VERSION,
        },
    )
}

#[test]
fn epoch_is_one_more_than_the_largest_accepted_epoch_seen_before_a_quorum_registered() {
    // getEpochToPropose: every registrant raises the epoch, observers included; only voters make the quorum.
    let (mut leader, out) = Leader::start(
        cfg(&[1, 2, 3, 4, 5], &[6]),
        LeaderPersisted {
            accepted_epoch: 3,
            current_epoch: 3,
            last_zxid: Zxid(3 << 32),
        },
        vec![],
    );
    assert_eq!(out, vec![], "no quorum with the leader alone");
    for (sid, accepted) in [(2, 7), (6, 9)] {
        leader.connected(c(sid));
        let payload = if sid == 6 {
            Payload::ObserverInfo(LearnerInfo {
                serverid: 6,
                protocol_version: PROTOCOL_VERSION,
                config_version: 0,
            })
        } else {
            info(sid as i64)
        };
        assert_eq!(leader.receive(c(sid), accepted << 32, payload), vec![]);
    }
    leader.connected(c(3));
    assert_eq!(
        leader.receive(c(3), 1 << 32, info(3)),
        vec![Action::WriteAcceptedEpoch(10)],
        "the third voter makes a quorum; LEADERINFO waits for the write"
    );
    assert_eq!(
        leader.persisted(Durable::CurrentEpoch),
        Err(LeaderError::UnexpectedDurable(Durable::CurrentEpoch))
    );
    let out = leader.persisted(Durable::AcceptedEpoch).expect("durable");
    assert_eq!(
        out,
        [2, 3, 6]
            .iter()
            .map(|&n| {
                let (z, p) = leader_info(10);
                send(n, z, p)
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(leader.epoch(), 10);
    // A learner registering later gets the chosen epoch, whatever it had accepted.
    leader.connected(c(4));
    assert_eq!(leader.receive(c(4), 20 << 32, info(4)), {
        let (z, p) = leader_info(10);
        vec![send(4, z, p)]
    });
}

#[test]
fn the_epoch_needs_a_quorum_of_ackepochs_and_currentepoch_is_written_before_newleader() {
    let mut leader = leader_with(cfg(&[1, 2, 3, 4, 5], &[]), LeaderPersisted::default(), vec![]);
    for sid in 2..=4 {
        leader.connected(c(sid));
        recv(&mut leader, sid, 0, info(sid as i64));
    }
    assert_eq!(
        leader.receive(c(2), 0, Payload::AckEpoch { current_epoch: 0 }),
        vec![],
        "two of five"
    );
    // -1 (the learner had already accepted the epoch) does not count, as in waitForEpochAck.
    assert_eq!(
        leader.receive(c(3), 0, Payload::AckEpoch { current_epoch: -1 }),
        vec![]
    );
    assert_eq!(
        leader.receive(c(4), 0, Payload::AckEpoch { current_epoch: 0 }),
        vec![Action::WriteCurrentEpoch(1)],
        "no sync before currentEpoch is durable"
    );
    let out = leader.persisted(Durable::CurrentEpoch).expect("durable");
    let config = leader.cfg.config_text.clone();
    for sid in 2..=4 {
        assert_eq!(
            to(&out, sid),
            vec![
                (0, Payload::Diff),
                (
                    E1,
                    Payload::NewLeader {
                        config: config.clone()
                    }
                )
            ],
            "learner {sid}"
        );
    }
    assert_eq!(recv(&mut leader, 2, E1, Payload::Ack), vec![]);
    assert_eq!(
        recv(&mut leader, 3, E1 | 7, Payload::Ack),
        vec![],
        "an ACK of another NEWLEADER zxid is not counted"
    );
    let out = recv(&mut leader, 4, E1, Payload::Ack);
    assert_eq!(
        out,
        vec![
            Action::Established { epoch: 1 },
            send(2, -1, Payload::UpToDate),
            send(3, -1, Payload::UpToDate),
            send(4, -1, Payload::UpToDate),
        ]
    );
    assert_eq!(leader.last_committed(), Zxid(E1));
    // A learner joining after that goes through every step alone.
    leader.connected(c(5));
    let (z, p) = leader_info(1);
    assert_eq!(recv(&mut leader, 5, 0, info(5)), vec![send(5, z, p)]);
    let out = recv(&mut leader, 5, 0, Payload::AckEpoch { current_epoch: 0 });
    assert_eq!(to(&out, 5)[1].1, Payload::NewLeader { config });
    assert_eq!(
        recv(&mut leader, 5, E1, Payload::Ack),
        vec![send(5, -1, Payload::UpToDate)]
    );
    assert_eq!(leader.synced_followers(), [2, 3, 4, 5].map(ServerId).to_vec());
}

#[test]
fn a_learner_ahead_of_the_leader_during_discovery_is_dropped() {
    let persisted = LeaderPersisted {
        accepted_epoch: 1,
        current_epoch: 1,
        last_zxid: Zxid(E1 | 5),
    };
    let mut leader = leader_with(cfg(&[1, 2, 3, 4, 5], &[]), persisted, vec![]);
    for sid in 2..=5 {
        leader.connected(c(sid));
        recv(&mut leader, sid, E1, info(sid as i64));
    }
    let out = recv(&mut leader, 2, E1 | 5, Payload::AckEpoch { current_epoch: 2 });
    assert_eq!(dropped(&out).len(), 1);
    assert!(
        dropped(&out)[0].1.contains("Follower is ahead of the leader"),
        "{out:?}"
    );
    let out = recv(&mut leader, 3, E1 | 6, Payload::AckEpoch { current_epoch: 1 });
    assert_eq!(dropped(&out).iter().map(|d| d.0).collect::<Vec<_>>(), vec![3]);
    assert_eq!(
        recv(&mut leader, 4, E1 | 5, Payload::AckEpoch { current_epoch: 1 }),
        vec![]
    );
    let out = recv(&mut leader, 5, E1 | 4, Payload::AckEpoch { current_epoch: 1 });
    assert_eq!(out[0], Action::WriteCurrentEpoch(2));
    // Once the epoch is acknowledged ZooKeeper compares no more: a learner ahead is truncated instead.
    leader.connected(c(6));
    recv(&mut leader, 6, E1, info(2));
    let out = recv(&mut leader, 6, E1 | 9, Payload::AckEpoch { current_epoch: 1 });
    assert_eq!(to(&out, 6)[0], (E1 | 5, Payload::Trunc));
}

fn log(zxids: &[i64]) -> VecDeque<TxnEntry> {
    zxids.iter().map(|&z| txn(z)).collect()
}

fn pairs(zxids: &[i64]) -> Vec<(i64, Payload)> {
    zxids
        .iter()
        .flat_map(|&z| [(z, Payload::Proposal(txn(z))), (z, Payload::Commit)])
        .collect()
}

fn packets_plan(packets: Vec<(i64, Payload)>, up_to: i64) -> SyncPlan {
    SyncPlan::Packets {
        packets,
        up_to: Zxid(up_to),
    }
}

#[test]
fn sync_choice_follows_sync_follower() {
    let l = log(&[E1 | 1, E1 | 2, E1 | 3, E2 | 1, E2 | 2]);
    let last = Zxid(E2 | 2);
    // In sync: an empty DIFF.
    assert_eq!(
        plan_sync(&l, last, last),
        packets_plan(vec![(E2 | 2, Payload::Diff)], E2 | 2)
    );
    // Ahead: TRUNC to the last committed.
    assert_eq!(
        plan_sync(&l, last, Zxid(E2 | 3)),
        packets_plan(vec![(E2 | 2, Payload::Trunc)], E2 | 2)
    );
    // Behind, within the log: DIFF (zxid = last committed) and the pairs it lacks.
    let mut want = vec![(E2 | 2, Payload::Diff)];
    want.extend(pairs(&[E1 | 3, E2 | 1, E2 | 2]));
    assert_eq!(plan_sync(&l, last, Zxid(E1 | 2)), packets_plan(want, E2 | 2));
    // Behind the log, or the log empty: the on-disk log up to the oldest committed txn, if it holds them.
    assert_eq!(
        plan_sync(&l, last, Zxid(0)),
        SyncPlan::FromLog { up_to: Zxid(E1 | 1) }
    );
    assert_eq!(
        plan_sync(&VecDeque::new(), last, Zxid(E1 | 1)),
        SyncPlan::FromLog { up_to: last }
    );
    // An epoch's first zxid (no txn of its own) is never truncated: DIFF from there.
    let mut want = vec![(E2 | 2, Payload::Diff)];
    want.extend(pairs(&[E2 | 1, E2 | 2]));
    assert_eq!(plan_sync(&l, last, Zxid(E2)), packets_plan(want, E2 | 2));
    // A last zxid the leader never had, inside its log: TRUNC to the txn before, then the pairs after it.
    let gap = log(&[E1 | 1, E1 | 2, E1 | 4, E1 | 5]);
    let mut want = vec![(E1 | 2, Payload::Trunc)];
    want.extend(pairs(&[E1 | 4, E1 | 5]));
    assert_eq!(
        plan_sync(&gap, Zxid(E1 | 5), Zxid(E1 | 3)),
        packets_plan(want, E1 | 5)
    );
    // ... unless that TRUNC would cross an epoch: SNAP.
    assert_eq!(plan_sync(&l, last, Zxid(E1 | 4)), SyncPlan::Snap);
}

fn tail(before: Option<i64>, start_logged: bool, zxids: &[i64]) -> LogTail {
    LogTail {
        before: before.map(Zxid),
        start_logged,
        txns: zxids.iter().map(|&z| txn(z)).collect(),
    }
}

#[test]
fn a_learner_behind_the_committed_log_is_synced_from_the_txn_log_as_sync_follower_does() {
    let l = log(&[E1 | 4, E1 | 5, E1 | 6]);
    let last = Zxid(E1 | 6);
    // The learner's zxid is logged: DIFF, the logged txns up to the oldest committed one, then the rest.
    let t = tail(Some(E1 | 1), true, &[E1 | 3, E1 | 4]);
    let mut want = vec![(E1 | 6, Payload::Diff)];
    want.extend(pairs(&[E1 | 3, E1 | 4, E1 | 5, E1 | 6]));
    assert_eq!(
        plan_sync_from_log(Some(&t), &l, last, Zxid(E1 | 2)),
        packets_plan(want, E1 | 6)
    );
    // Logged txns past the oldest committed one are left to the committed log.
    let t = tail(None, true, &[E1 | 3, E1 | 4, E1 | 5]);
    let mut want = vec![(E1 | 6, Payload::Diff)];
    want.extend(pairs(&[E1 | 3, E1 | 4, E1 | 5, E1 | 6]));
    assert_eq!(
        plan_sync_from_log(Some(&t), &l, last, Zxid(E1 | 2)),
        packets_plan(want, E1 | 6)
    );
    // A zxid the leader never logged: TRUNC to the logged one before it, then what follows.
    let t = tail(Some(E1 | 1), false, &[E1 | 3, E1 | 4]);
    let mut want = vec![(E1 | 1, Payload::Trunc)];
    want.extend(pairs(&[E1 | 3, E1 | 4, E1 | 5, E1 | 6]));
    assert_eq!(
        plan_sync_from_log(Some(&t), &l, last, Zxid(E1 | 2)),
        packets_plan(want, E1 | 6)
    );
    // ... unless the TRUNC would cross an epoch: SNAP.
    let l2 = log(&[E2 | 3, E2 | 4]);
    let t = tail(Some(E1 | 1), false, &[E2 | 1, E2 | 2, E2 | 3]);
    assert_eq!(
        plan_sync_from_log(Some(&t), &l2, Zxid(E2 | 4), Zxid(E1 | 2)),
        SyncPlan::Snap
    );
    // An epoch's first zxid: DIFF whatever came before.
    let mut want = vec![(E2 | 4, Payload::Diff)];
    want.extend(pairs(&[E2 | 1, E2 | 2, E2 | 3, E2 | 4]));
    assert_eq!(
        plan_sync_from_log(Some(&t), &l2, Zxid(E2 | 4), Zxid(E2)),
        packets_plan(want, E2 | 4)
    );
    // A log that ends before the committed log begins leaves a gap; a log that cannot serve: SNAP.
    let t = tail(None, true, &[E1 | 3]);
    assert_eq!(
        plan_sync_from_log(Some(&t), &l, last, Zxid(E1 | 2)),
        SyncPlan::Snap
    );
    assert_eq!(plan_sync_from_log(None, &l, last, Zxid(E1 | 2)), SyncPlan::Snap);
}

#[test]
fn the_leader_asks_for_the_txn_log_and_syncs_with_what_it_holds() {
    let mut config = cfg(&[1], &[2, 3]);
    config.committed_log_max = 2;
    let persisted = LeaderPersisted {
        accepted_epoch: 1,
        current_epoch: 1,
        last_zxid: Zxid(E1 | 4),
    };
    let recent: Vec<TxnEntry> = (1..=4).map(|n| txn(E1 | n)).collect();
    let mut leader = leader_with(config, persisted, recent);
    assert!(leader.is_established());
    let observer = Payload::ObserverInfo(LearnerInfo {
        serverid: 2,
        protocol_version: PROTOCOL_VERSION,
        config_version: 0,
    });
    for conn in [2, 3] {
        leader.connected(c(conn));
        recv(&mut leader, conn, E1, observer.clone());
    }
    // Behind the in-memory log (E1|3, E1|4): the leader asks for its on-disk log and sends nothing yet.
    let out = leader.receive(c(2), E1 | 1, Payload::AckEpoch { current_epoch: 1 });
    assert_eq!(
        out,
        vec![Action::ReadLog {
            to: c(2),
            from: Zxid(E1 | 1),
            up_to: Zxid(E1 | 3)
        }]
    );
    let out = leader.log_read(c(2), Some(tail(None, true, &[E1 | 2, E1 | 3])));
    let sent = to(&out, 2);
    let mut want = vec![(E1 | 4, Payload::Diff)];
    want.extend(pairs(&[E1 | 2, E1 | 3, E1 | 4]));
    assert_eq!(sent[..want.len()], want[..]);
    assert!(
        matches!(sent[want.len()].1, Payload::NewLeader { .. }),
        "{sent:?}"
    );
    // The log cannot serve the other one: SNAP.
    leader.receive(c(3), E1 | 1, Payload::AckEpoch { current_epoch: 1 });
    let out = leader.log_read(c(3), None);
    assert_eq!(to(&out, 3)[0].1, Payload::Snap);
    assert!(out.contains(&Action::SendSnapshot { to: c(3) }));
    // An answer for a learner that is not waiting for one is ignored.
    assert_eq!(leader.log_read(c(3), None), vec![]);
}

#[test]
fn observers_are_never_counted_and_get_inform_after_commit() {
    let mut leader = leader_with(cfg(&[1, 2, 3], &[4]), LeaderPersisted::default(), vec![]);
    leader.connected(c(4));
    let observer = Payload::ObserverInfo(LearnerInfo {
        serverid: 4,
        protocol_version: PROTOCOL_VERSION,
        config_version: 0,
    });
    assert_eq!(
        recv(&mut leader, 4, 0, observer),
        vec![],
        "an observer does not make the epoch quorum"
    );
    leader.connected(c(2));
    recv(&mut leader, 2, 0, info(2));
    recv(&mut leader, 4, 0, Payload::AckEpoch { current_epoch: 0 });
    assert_eq!(
        leader.phase,
        Phase::EpochAck,
        "an observer's ACKEPOCH is not counted"
    );
    recv(&mut leader, 2, 0, Payload::AckEpoch { current_epoch: 0 });
    assert_eq!(recv(&mut leader, 4, E1, Payload::Ack), vec![]);
    assert!(
        !leader.is_established(),
        "an observer's NEWLEADER ACK is not counted"
    );
    let out = recv(&mut leader, 2, E1, Payload::Ack);
    assert_eq!(out[0], Action::Established { epoch: 1 });
    assert_eq!(leader.synced_followers(), vec![ServerId(2)]);
    let out = leader.propose(txn(E1 | 1));
    assert_eq!(
        out,
        vec![
            send(2, E1 | 1, Payload::Proposal(txn(E1 | 1))),
            Action::Log(txn(E1 | 1))
        ]
    );
    assert_eq!(
        leader.persisted(Durable::LogUpTo(Zxid(E1 | 1))).expect("durable"),
        vec![]
    );
    assert_eq!(
        recv(&mut leader, 4, E1 | 1, Payload::Ack),
        vec![],
        "an observer's ACK is not counted"
    );
    let out = recv(&mut leader, 2, E1 | 1, Payload::Ack);
    assert_eq!(
        out,
        vec![
            send(2, E1 | 1, Payload::Commit),
            send(4, E1 | 1, Payload::Inform(txn(E1 | 1))),
            Action::Commit(Zxid(E1 | 1)),
        ]
    );
}

#[test]
fn commits_go_strictly_in_zxid_order_whatever_order_the_acks_come_in() {
    let mut leader = established(&[1, 2, 3, 4, 5], &[], &[2, 3, 4, 5]);
    for n in 1..=3 {
        leader.propose(txn(E1 | n));
    }
    assert_eq!(
        leader.persisted(Durable::LogUpTo(Zxid(E1 | 3))).expect("durable"),
        vec![]
    );
    for (sid, zxid) in [(2, E1 | 3), (3, E1 | 3), (2, E1 | 2), (3, E1 | 2), (2, E1)] {
        let out = recv(&mut leader, sid, zxid, Payload::Ack);
        assert_eq!(
            commits(&out),
            Vec::<i64>::new(),
            "ACK {sid} {zxid:x}: nothing before 1 commits"
        );
    }
    // An ACK for a zxid never proposed is ignored.
    assert_eq!(recv(&mut leader, 4, E1 | 9, Payload::Ack), vec![]);
    recv(&mut leader, 2, E1 | 1, Payload::Ack);
    let out = recv(&mut leader, 3, E1 | 1, Payload::Ack);
    assert_eq!(commits(&out), vec![E1 | 1, E1 | 2, E1 | 3]);
    assert_eq!(
        to(&out, 4),
        vec![
            (E1 | 1, Payload::Commit),
            (E1 | 2, Payload::Commit),
            (E1 | 3, Payload::Commit)
        ]
    );
    assert_eq!(leader.last_committed(), Zxid(E1 | 3));
    assert_eq!(
        recv(&mut leader, 4, E1 | 2, Payload::Ack),
        vec![],
        "committed already"
    );
    // The leader's own ACK counts like any voter's.
    leader.propose(txn(E1 | 4));
    recv(&mut leader, 2, E1 | 4, Payload::Ack);
    recv(&mut leader, 3, E1 | 4, Payload::Ack);
    let out = leader.persisted(Durable::LogUpTo(Zxid(E1 | 4))).expect("durable");
    assert_eq!(commits(&out), vec![E1 | 4]);
    assert_eq!(
        leader.persisted(Durable::LogUpTo(Zxid(E1 | 9))),
        Err(LeaderError::UnexpectedDurable(Durable::LogUpTo(Zxid(E1 | 9)))),
        "beyond the last proposal"
    );
}

fn sync_request(session_id: i64) -> Payload {
    Payload::Request(ForwardedRequest {
        session_id,
        cxid: 3,
        op: 9,
        body: ForwardedBody::Client(Request::Sync(jute::records::proto::SyncRequest {
            path: Some("/".into()),
        })),
    })
}

#[test]
fn sync_is_answered_once_everything_proposed_before_it_is_committed() {
    let mut leader = established(&[1, 2, 3], &[], &[2, 3]);
    let out = recv(&mut leader, 2, -1, sync_request(7));
    assert!(
        matches!(&out[..], [Action::Forwarded { from, request, .. }] if *from == c(2) && request.op == 9)
    );
    assert_eq!(
        leader.sync(c(2)),
        vec![send(2, 0, Payload::Sync)],
        "nothing outstanding: at once"
    );
    leader.propose(txn(E1 | 1));
    leader.propose(txn(E1 | 2));
    assert_eq!(leader.sync(c(2)), vec![]);
    leader.propose(txn(E1 | 3));
    leader.persisted(Durable::LogUpTo(Zxid(E1 | 3))).expect("durable");
    assert_eq!(commits(&recv(&mut leader, 3, E1 | 1, Payload::Ack)), vec![E1 | 1]);
    let out = recv(&mut leader, 3, E1 | 2, Payload::Ack);
    assert_eq!(
        to(&out, 2),
        vec![(E1 | 2, Payload::Commit), (0, Payload::Sync)],
        "after the commit of 2, not of 3"
    );
}

#[test]
fn revalidate_is_answered_with_the_request_zxid_and_pings_report_touches() {
    let mut leader = established(&[1, 2, 3], &[], &[2, 3]);
    let session = SessionTimeout {
        session_id: 0x100,
        timeout: 6000,
    };
    let out = recv(&mut leader, 2, -1, Payload::RevalidateRequest(session));
    assert_eq!(out, vec![Action::Revalidate { from: c(2), session }]);
    assert_eq!(leader.revalidated(c(2), 0x999, true), vec![], "never asked");
    assert_eq!(
        leader.revalidated(c(2), 0x100, false),
        vec![send(
            2,
            -1,
            Payload::RevalidateReply(RevalidateReply {
                session_id: 0x100,
                valid: false
            })
        )]
    );
    assert_eq!(recv(&mut leader, 3, E1, Payload::LearnerPing(vec![])), vec![]);
    assert_eq!(
        recv(&mut leader, 3, E1, Payload::LearnerPing(vec![session])),
        vec![Action::Touch(vec![session])]
    );
}

#[test]
fn the_leader_pings_each_tick_and_drops_silent_or_lagging_learners() {
    let mut leader = established(&[1, 2, 3, 4, 5], &[], &[2, 3, 4, 5]);
    leader.propose(txn(E1 | 1));
    let out = leader.tick().expect("quorum");
    for sid in 2..=5 {
        assert_eq!(
            to(&out, sid),
            vec![(E1 | 1, Payload::LeaderPing)],
            "learner {sid}"
        );
    }
    // 2 pings and ACKs, 3 pings without ACKing the proposal, 4 and 5 stay silent.
    for tick in 2..=5 {
        recv(&mut leader, 2, E1 | 1, Payload::LearnerPing(vec![]));
        if tick == 2 {
            recv(&mut leader, 2, E1 | 1, Payload::Ack);
        }
        recv(&mut leader, 3, E1, Payload::LearnerPing(vec![]));
        let out = leader.tick().expect("quorum: 1, 2 and 3");
        let gone: Vec<u64> = dropped(&out).iter().map(|d| d.0).collect();
        if tick < 5 {
            assert_eq!(gone, Vec::<u64>::new(), "tick {tick}");
        } else {
            assert_eq!(gone, vec![4, 5, 3], "tick {tick}: {out:?}");
            assert!(dropped(&out)[0].1.contains("no packet"), "{out:?}");
            assert!(dropped(&out)[2].1.contains("transaction timeout"), "{out:?}");
        }
    }
    assert_eq!(leader.synced_followers(), vec![ServerId(2)]);
    assert_eq!(
        leader.tick(),
        Err(LeaderError::NotSufficientFollowersSynced(vec![1, 2])),
        "two of five: step down"
    );
}

#[test]
fn discovery_and_sync_must_reach_a_quorum_within_init_limit() {
    let mut leader = leader_with(cfg(&[1, 2, 3], &[]), LeaderPersisted::default(), vec![]);
    for _ in 0..9 {
        leader.tick().expect("within initLimit");
    }
    assert_eq!(leader.tick(), Err(LeaderError::EpochTimeout(vec![1])));

    let (mut leader, _) = Leader::start(cfg(&[1, 2, 3], &[]), LeaderPersisted::default(), vec![]);
    leader.connected(c(2));
    assert_eq!(
        leader.receive(c(2), 0, info(2)),
        vec![Action::WriteAcceptedEpoch(1)]
    );
    for _ in 0..5 {
        leader.tick().expect("the leader's own write does not count");
    }
    leader.persisted(Durable::AcceptedEpoch).expect("durable");
    for _ in 0..9 {
        let out = leader.tick().expect("within initLimit");
        assert_eq!(dropped(&out), vec![]);
    }
    let out = leader.tick();
    assert_eq!(out, Err(LeaderError::EpochAckTimeout(vec![1])));

    let mut leader = leader_with(cfg(&[1, 2, 3], &[]), LeaderPersisted::default(), vec![]);
    leader.connected(c(2));
    recv(&mut leader, 2, 0, info(2));
    recv(&mut leader, 2, 0, Payload::AckEpoch { current_epoch: 0 });
    for _ in 0..9 {
        leader.tick().expect("within initLimit");
    }
    assert_eq!(leader.tick(), Err(LeaderError::NewLeaderAckTimeout(vec![1])));
}

#[test]
fn a_misbehaving_learner_is_dropped_with_the_reason() {
    let mut leader = leader_with(cfg(&[1, 2, 3, 4, 5], &[]), LeaderPersisted::default(), vec![]);
    let cases: Vec<(Vec<(i64, Payload)>, &str)> = vec![
        (vec![(0, Payload::Ack)], "is not FOLLOWERINFO or OBSERVERINFO"),
        (
            vec![(
                0,
                Payload::FollowerInfo(LearnerInfo {
                    serverid: 2,
                    protocol_version: 0xffff,
                    config_version: 0,
                }),
            )],
            "older than 0x10000",
        ),
        (
            vec![(
                0,
                Payload::FollowerInfo(LearnerInfo {
                    serverid: 2,
                    protocol_version: PROTOCOL_VERSION,
                    config_version: 5,
                }),
            )],
            "later activated configuration",
        ),
        (
            vec![(0, info(2)), (0, Payload::Sync)],
            "while the leader was not reading",
        ),
        // The third voter makes the epoch quorum: LEADERINFO goes out, and ACKEPOCH must come back.
        (vec![(0, info(3)), (0, Payload::Diff)], "is not ACKEPOCH"),
    ];
    for (n, (packets, reason)) in cases.into_iter().enumerate() {
        let conn = 10 + n as u64;
        leader.connected(c(conn));
        let mut out = Vec::new();
        for (zxid, payload) in packets {
            out = recv(&mut leader, conn, zxid, payload);
        }
        let gone = dropped(&out);
        assert_eq!(gone.len(), 1, "case {n}: {out:?}");
        assert!(gone[0].1.contains(reason), "case {n}: {}", gone[0].1);
        assert_eq!(
            leader.receive(c(conn), 0, Payload::Ack),
            vec![],
            "a dropped connection is forgotten"
        );
    }
    let mut leader = established(&[1, 2, 3], &[], &[2]);
    leader.connected(c(3));
    recv(&mut leader, 3, 0, info(3));
    recv(&mut leader, 3, 0, Payload::AckEpoch { current_epoch: 0 });
    let out = recv(&mut leader, 3, 0, Payload::LearnerPing(vec![]));
    assert!(dropped(&out)[0].1.contains("supposed to be an ACK"), "{out:?}");
}

#[test]
fn a_zxid_counter_about_to_roll_over_makes_the_leader_step_down() {
    let mut leader = established(&[1], &[], &[]);
    leader.last_proposed = Zxid(E1 | 0xffff_fffe);
    assert_eq!(leader.propose(txn(E1 | 0xffff_ffff)), vec![]);
    assert_eq!(leader.tick(), Err(LeaderError::ZxidRollover));
}

#[test]
fn a_single_voter_leads_alone_and_commits_on_its_own_ack() {
    let (mut leader, out) = Leader::start(cfg(&[1], &[]), LeaderPersisted::default(), vec![]);
    assert_eq!(
        instant(&mut leader, out),
        vec![
            Action::WriteAcceptedEpoch(1),
            Action::WriteCurrentEpoch(1),
            Action::Established { epoch: 1 },
        ]
    );
    leader.propose(txn(E1 | 1));
    let out = leader.persisted(Durable::LogUpTo(Zxid(E1 | 1))).expect("durable");
    assert_eq!(out, vec![Action::Commit(Zxid(E1 | 1))]);
    assert_eq!(leader.tick(), Ok(vec![]));
}

/// One real leader's run over several connections, replayed. `conns` are the capture's connection numbers.
struct Replay {
    leader: Leader,
    /// What we sent on each connection, PINGs left out, encoded; SNAP's stream as the word "snapshot".
    sent: BTreeMap<u64, Vec<Vec<u8>>>,
}

impl Replay {
    fn run(&mut self, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::Send { to, zxid, payload } => {
                    if payload != Payload::LeaderPing {
                        let packet = payload.to_packet(zxid).expect("encode");
                        self.sent
                            .entry(to.0)
                            .or_default()
                            .push(to_bytes(&packet).expect("encode"));
                    }
                }
                Action::SendSnapshot { to } => self.sent.entry(to.0).or_default().push(b"snapshot".to_vec()),
                // The captures hold no log to read: the in-memory log serves or a SNAP does.
                Action::ReadLog { to, .. } => queue.extend(self.leader.log_read(to, None)),
                Action::WriteAcceptedEpoch(_) => {
                    queue.extend(self.leader.persisted(Durable::AcceptedEpoch).expect("durable"))
                }
                Action::WriteCurrentEpoch(_) => {
                    queue.extend(self.leader.persisted(Durable::CurrentEpoch).expect("durable"))
                }
                Action::Log(t) => queue.extend(
                    self.leader
                        .persisted(Durable::LogUpTo(Zxid(t.header.zxid)))
                        .expect("durable"),
                ),
                Action::Forwarded { from, request, .. } if request.op == 9 => {
                    queue.extend(self.leader.sync(from))
                }
                Action::Revalidate { from, session } => {
                    queue.extend(self.leader.revalidated(from, session.session_id, true))
                }
                Action::Drop { conn, reason } => panic!("connection {}: dropped: {reason}", conn.0),
                Action::Commit(_)
                | Action::Established { .. }
                | Action::Forwarded { .. }
                | Action::Touch(_) => {}
            }
        }
    }
}

/// What one capture says the leader did: (seq, file order, connection, learner's packet or leader's packet).
type Event = (i64, usize, u64, bool, QuorumPacket, Payload);

#[test]
fn captured_learner_traffic_gives_what_the_real_leaders_sent() {
    replay_captured_learner_traffic(&golden_dir());
}

#[test]
fn captured_3_9_learner_traffic_gives_what_the_real_leaders_sent() {
    replay_captured_learner_traffic(&golden_dir().join("3.9.5"));
}

fn replay_captured_learner_traffic(dir: &std::path::Path) {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let streams = manifest.as_array().expect("array");
    let stream = |conn: u64, side: &str| -> (Vec<i64>, Vec<(QuorumPacket, Payload)>) {
        let s = streams
            .iter()
            .find(|s| s["connection"] == conn && s["sender"] == side)
            .expect("stream");
        let seqs = s["packets"]
            .as_array()
            .expect("packets")
            .iter()
            .map(|p| p["seq"].as_i64().expect("seq"))
            .collect();
        let from = if side == "leader" {
            Sender::Leader
        } else {
            Sender::Learner
        };
        (seqs, packets_in(dir, s["file"].as_str().expect("file"), from))
    };
    // Leader 3 led epoch 1 (connections 0 to 2); leader 2 led epoch 2 (3 and 4) with the txns of epoch 1 in
    // its log.
    let epoch1_txns: Vec<TxnEntry> = stream(0, "leader")
        .1
        .into_iter()
        .filter_map(|(_, p)| match p {
            Payload::Proposal(t) => Some(t),
            _ => None,
        })
        .collect();
    // Member 2 led epoch 2 with every txn of epoch 1 that leader 3 had sent it in its log.
    let epoch1_last = epoch1_txns.last().expect("epoch 1 txns").header.zxid;
    let runs: [(i64, LeaderPersisted, Vec<TxnEntry>, &[u64]); 2] = [
        (3, LeaderPersisted::default(), vec![], &[0, 1, 2]),
        (
            2,
            LeaderPersisted {
                accepted_epoch: 1,
                current_epoch: 1,
                last_zxid: Zxid(epoch1_last),
            },
            epoch1_txns,
            &[3, 4],
        ),
    ];
    let mut modes = Vec::new();
    for (my_id, persisted, recent, conns) in runs {
        let mut events: Vec<Event> = Vec::new();
        let mut expected: BTreeMap<u64, Vec<Vec<u8>>> = BTreeMap::new();
        let mut config_text = None;
        for &conn in conns {
            for (learner, side) in [(true, "learner"), (false, "leader")] {
                let (seqs, pkts) = stream(conn, side);
                for (i, ((packet, payload), seq)) in pkts.into_iter().zip(seqs).enumerate() {
                    if !learner {
                        if let Payload::NewLeader { config } = &payload {
                            config_text = config.clone();
                        }
                        if payload != Payload::LeaderPing {
                            let e = expected.entry(conn).or_default();
                            e.push(to_bytes(&packet).expect("encode"));
                            if payload == Payload::Snap {
                                e.push(b"snapshot".to_vec());
                                modes.push("SNAP");
                            }
                            if payload == Payload::Trunc {
                                modes.push("TRUNC");
                            }
                            if payload == Payload::Diff {
                                modes.push("DIFF");
                            }
                        }
                    }
                    events.push((seq, i, conn, learner, packet, payload));
                }
            }
        }
        events.sort_by_key(|e| (e.0, !e.3, e.1));
        let cfg = LeaderConfig {
            my_id: ServerId(my_id),
            voters: [1, 2, 3].map(ServerId).to_vec(),
            observers: vec![],
            groups: None,
            init_limit_ticks: 1000,
            sync_limit_ticks: 1000,
            committed_log_max: 500,
            config_text,
        };
        let (leader, actions) = Leader::start(cfg, persisted, recent);
        let mut replay = Replay {
            leader,
            sent: BTreeMap::new(),
        };
        replay.run(actions);
        // A connection is closed after its last captured packet (the learner stopped, or the capture ended).
        let mut last_seq: BTreeMap<u64, i64> = BTreeMap::new();
        for e in &events {
            last_seq.insert(e.2, e.0);
        }
        for (seq, _, conn, learner, packet, payload) in events {
            let closed: Vec<u64> = last_seq
                .iter()
                .filter(|(_, s)| **s < seq)
                .map(|(c, _)| *c)
                .collect();
            for old in closed {
                last_seq.remove(&old);
                let out = replay.leader.disconnected(c(old));
                replay.run(out);
            }
            if learner {
                if matches!(payload, Payload::FollowerInfo(_)) {
                    replay.leader.connected(c(conn));
                }
                let out = replay.leader.receive_with_auth(
                    c(conn),
                    packet.zxid,
                    payload,
                    packet.authinfo.unwrap_or_default(),
                );
                replay.run(out);
                continue;
            }
            match payload {
                Payload::Proposal(t) if t.header.zxid > replay.leader.last_proposed().0 => {
                    let out = replay.leader.propose(t);
                    replay.run(out);
                }
                Payload::LeaderPing => {
                    let out = replay.leader.tick().expect("tick");
                    let ours = to(&out, conn);
                    assert_eq!(
                        ours,
                        vec![(packet.zxid, Payload::LeaderPing)],
                        "seq {seq}: PING on connection {conn}"
                    );
                    let rest: Vec<Action> = out
                        .into_iter()
                        .filter(|a| {
                            !matches!(
                                a,
                                Action::Send {
                                    payload: Payload::LeaderPing,
                                    ..
                                }
                            )
                        })
                        .collect();
                    replay.run(rest);
                }
                _ => {}
            }
        }
        for &conn in conns {
            assert_eq!(
                replay.sent.get(&conn).cloned().unwrap_or_default(),
                expected.get(&conn).cloned().unwrap_or_default(),
                "connection {conn}: what we sent differs from what the real leader sent"
            );
        }
    }
    modes.sort();
    assert_eq!(
        modes,
        ["DIFF", "DIFF", "DIFF", "SNAP", "TRUNC"],
        "the captures cover every sync mode"
    );
}

/// A small xorshift, so the run below is the same every time.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn any_payload(rng: &mut Lcg) -> (i64, Payload) {
    let zxid = [0, -1, E1, E1 | 1, E1 | 2, E2, E2 | 1, i64::MAX][rng.below(8) as usize];
    let sid = rng.below(6) as i64;
    let learner_info = LearnerInfo {
        serverid: sid,
        protocol_version: PROTOCOL_VERSION - (rng.below(2) as i32),
        config_version: rng.below(2) as i64,
    };
    let session = SessionTimeout {
        session_id: 7,
        timeout: 10,
    };
    let payload = match rng.below(12) {
        0 => Payload::FollowerInfo(learner_info),
        1 => Payload::ObserverInfo(learner_info),
        2 => Payload::AckEpoch {
            current_epoch: rng.below(3) as i32 - 1,
        },
        3 | 4 => Payload::Ack,
        5 => Payload::LearnerPing(vec![session]),
        6 => Payload::RevalidateRequest(session),
        7 => sync_request(7),
        8 => Payload::Proposal(txn(zxid)),
        9 => Payload::Commit,
        10 => Payload::NewLeader { config: None },
        _ => Payload::Diff,
    };
    (zxid, payload)
}

/// What a learner on `conn` (server `conn`; 4 and 5 observe) would send next.
fn well_behaved(leader: &Leader, conn: u64) -> (i64, Payload) {
    let Some(l) = leader.learners.get(&c(conn)) else {
        return (0, Payload::Ack);
    };
    let info = LearnerInfo {
        serverid: conn as i64,
        protocol_version: PROTOCOL_VERSION,
        config_version: 0,
    };
    match l.stage {
        Stage::Info if conn >= 4 => (0, Payload::ObserverInfo(info)),
        Stage::Info => (0, Payload::FollowerInfo(info)),
        Stage::AckEpoch => (0, Payload::AckEpoch { current_epoch: 0 }),
        Stage::NewLeaderAck => (leader.epoch << 32, Payload::Ack),
        _ => (leader.last_proposed().0, Payload::Ack),
    }
}

#[test]
fn any_learner_traffic_gets_answers_or_drops_never_a_panic_nor_a_send_to_a_closed_connection() {
    let (mut established_runs, mut commits, mut drops) = (0, 0, 0);
    for seed in 1..=200u64 {
        let mut rng = Lcg(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut leader = leader_with(cfg(&[1, 2, 3], &[4, 5]), LeaderPersisted::default(), vec![]);
        let mut open = std::collections::BTreeSet::new();
        for step in 0..300 {
            let conn = rng.below(6);
            let out = match rng.below(10) {
                0 => {
                    leader.connected(c(conn));
                    open.insert(conn);
                    vec![]
                }
                1 => {
                    open.remove(&conn);
                    leader.disconnected(c(conn))
                }
                2 => match leader.tick() {
                    Ok(out) => out,
                    // The leader steps down: this run is over.
                    Err(_) => break,
                },
                3 if leader.is_established() => {
                    let zxid = leader.last_proposed().0 + 1;
                    let mut out = leader.propose(txn(zxid));
                    out.extend(leader.persisted(Durable::LogUpTo(Zxid(zxid))).expect("durable"));
                    out
                }
                _ if open.contains(&conn) => {
                    let (zxid, payload) = match rng.below(3) {
                        0 => any_payload(&mut rng),
                        _ => well_behaved(&leader, conn),
                    };
                    recv(&mut leader, conn, zxid, payload)
                }
                _ => vec![],
            };
            for action in &out {
                match action {
                    Action::Send { to, .. } | Action::SendSnapshot { to } => assert!(
                        open.contains(&to.0),
                        "seed {seed} step {step}: sent to closed connection {}",
                        to.0
                    ),
                    Action::Drop { conn, .. } => {
                        drops += 1;
                        open.remove(&conn.0);
                    }
                    Action::Commit(_) => commits += 1,
                    Action::Forwarded { from, request, .. } if request.op == 9 => {
                        assert!(leader
                            .sync(*from)
                            .iter()
                            .all(|a| matches!(a, Action::Send { to, .. } if to == from)));
                    }
                    _ => {}
                }
            }
        }
        established_runs += u32::from(leader.is_established());
    }
    assert!(
        established_runs > 20 && commits > 10 && drops > 500,
        "the traffic reached too little: {established_runs} established, {commits} commits, {drops} drops"
    );
}
