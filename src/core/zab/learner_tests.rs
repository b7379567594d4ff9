//! The learner driven by what real Apache ZooKeeper leaders sent (Debian's 3.8.0 in `jute/tests/golden/quorum`,
//! 3.9.5 in its `3.9.5` directory, captured by `tools/capture/quorum.py`), its packets compared byte for byte
//! with what the real followers answered, and the cases the captures do not reach.

use std::collections::BTreeSet;
use std::path::PathBuf;

use jute::quorum::{Payload, Sender, SyncSnapshot};
use jute::records::quorum::QuorumPacket;
use jute::records::txn::{CreateSessionTxn, TxnHeader};
use jute::txn_entry::{TxnBody, TxnEntry};
use jute::{to_bytes, Decoder, DEFAULT_MAX_BUFFER};
use serde_json::Value;

use super::*;

pub(in crate::core::zab) fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("jute/tests/golden/quorum")
}

/// Every packet of one captured stream in `dir`, in order (the database after SNAP skipped).
pub(in crate::core::zab) fn packets_in(
    dir: &std::path::Path,
    file: &str,
    from: Sender,
) -> Vec<(QuorumPacket, Payload)> {
    let path = dir.join(file);
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut d = Decoder::new(&raw);
    let mut out = Vec::new();
    while !d.is_empty() {
        let packet: QuorumPacket = d.read().unwrap_or_else(|e| panic!("{file}: {e}"));
        let payload =
            Payload::decode(&packet, from, DEFAULT_MAX_BUFFER).unwrap_or_else(|e| panic!("{file}: {e}"));
        if matches!(payload, Payload::Snap) && from == Sender::Leader {
            SyncSnapshot::decode(&mut d).unwrap_or_else(|e| panic!("{file}: snapshot: {e}"));
        }
        out.push((packet, payload));
    }
    out
}

/// Carries out actions the way a member with an instant disk would, collecting what it did.
struct Driver {
    learner: Learner,
    sent: Vec<Vec<u8>>,
    done: Vec<Action>,
}

impl Driver {
    fn start(cfg: LearnerConfig, persisted: Persisted) -> Driver {
        let (learner, actions) = Learner::start(cfg, persisted);
        let mut d = Driver {
            learner,
            sent: Vec::new(),
            done: Vec::new(),
        };
        d.run(actions);
        d
    }

    fn receive(&mut self, zxid: i64, payload: Payload) {
        let actions = self.learner.receive(zxid, payload).expect("receive");
        self.run(actions);
    }

    fn run(&mut self, actions: Vec<Action>) {
        for action in actions {
            let durable = match &action {
                Action::Send { zxid, payload } => {
                    let packet = payload.to_packet(*zxid).expect("encode");
                    self.sent.push(to_bytes(&packet).expect("encode"));
                    None
                }
                Action::WriteAcceptedEpoch(_) => Some(Durable::AcceptedEpoch),
                Action::WriteCurrentEpoch(_) => Some(Durable::CurrentEpoch),
                Action::TakeSnapshot { .. } => Some(Durable::Snapshot),
                Action::SyncLog(z) => Some(Durable::LogUpTo(*z)),
                Action::Log(txn) if self.learner.is_serving() => {
                    Some(Durable::LogUpTo(Zxid(txn.header.zxid)))
                }
                _ => None,
            };
            self.done.push(action);
            if let Some(what) = durable {
                let more = self.learner.persisted(what).expect("persisted");
                self.run(more);
            }
        }
    }
}

fn cfg(my_id: i64, config_version: i64) -> LearnerConfig {
    LearnerConfig {
        my_id: ServerId(my_id),
        observer: false,
        config_version,
        init_limit_ticks: 20,
        sync_limit_ticks: 5,
    }
}

/// What a captured follower must have sent that we send too: registration and ACKs (PINGs, REQUESTs and
/// REVALIDATEs come from its clients). ACKs for proposals a DIFF committed before NEWLEADER are left out: 3.8.0
/// logs and ACKs them, 3.9 (which this learner follows) commits them without an ACK.
fn expected_from(learner: &[(QuorumPacket, Payload)], diff_committed: &BTreeSet<i64>) -> Vec<Vec<u8>> {
    learner
        .iter()
        .filter(|(p, payload)| match payload {
            Payload::FollowerInfo(_) | Payload::AckEpoch { .. } => true,
            Payload::Ack => !diff_committed.contains(&p.zxid),
            _ => false,
        })
        .map(|(p, _)| to_bytes(p).expect("encode"))
        .collect()
}

#[test]
fn captured_syncs_give_the_packets_the_real_followers_sent() {
    replay_captured_syncs(&golden_dir());
}

#[test]
fn captured_3_9_syncs_give_the_packets_the_real_followers_sent() {
    replay_captured_syncs(&golden_dir().join("3.9.5"));
}

fn replay_captured_syncs(dir: &std::path::Path) {
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let streams = manifest.as_array().expect("array");
    let mut modes = BTreeSet::new();
    let connections: BTreeSet<i64> = streams
        .iter()
        .map(|s| s["connection"].as_i64().expect("connection"))
        .collect();
    for conn in connections {
        let file = |side: &str| {
            streams
                .iter()
                .find(|s| s["connection"] == conn && s["sender"] == side)
                .and_then(|s| s["file"].as_str())
                .expect("file")
                .to_owned()
        };
        let learner = packets_in(dir, &file("learner"), Sender::Learner);
        let leader = packets_in(dir, &file("leader"), Sender::Leader);
        let Payload::FollowerInfo(info) = &learner[0].1 else {
            panic!("connection {conn}: first learner packet {:?}", learner[0].1)
        };
        // With -1 in ACKEPOCH the real follower's currentEpoch is not known; it is not sent either.
        let (ack_epoch_zxid, current_epoch) = match &learner[1] {
            (p, Payload::AckEpoch { current_epoch }) => (p.zxid, i64::from(*current_epoch)),
            other => panic!("connection {conn}: second learner packet {other:?}"),
        };
        // What the real follower had on disk, as its FOLLOWERINFO and ACKEPOCH tell it.
        let persisted = Persisted {
            accepted_epoch: learner[0].0.zxid >> 32,
            current_epoch,
            last_logged_zxid: Zxid(ack_epoch_zxid),
            needs_initial_snapshot: false,
        };
        let mut d = Driver::start(cfg(info.serverid, info.config_version), persisted);
        let mut diff_committed = BTreeSet::new();
        let mut mode = None;
        for (packet, payload) in &leader {
            match payload {
                Payload::Diff | Payload::Snap | Payload::Trunc if mode.is_none() => {
                    mode = Some(packet.packet_type)
                }
                Payload::Commit if mode == Some(PacketType::Diff.code()) && !d.learner.new_leader_seen => {
                    diff_committed.insert(packet.zxid);
                }
                _ => {}
            }
            d.receive(packet.zxid, payload.clone());
        }
        let mode = PacketType::from_code(mode.expect("a sync mode")).expect("type");
        modes.insert(format!("{mode:?}"));
        assert!(
            d.learner.is_serving(),
            "connection {conn}: not serving at the end"
        );
        assert_eq!(
            d.sent,
            expected_from(&learner, &diff_committed),
            "connection {conn} ({mode:?}): our packets differ from the real follower's"
        );
        // The writes ZooKeeper 3.9 makes, in its order.
        let new_epoch = d.learner.new_epoch();
        let pos = |want: &dyn Fn(&Action) -> bool| d.done.iter().position(want);
        // acceptedEpoch is written only for an epoch newer than the one accepted (a member that restarts
        // into the same leader's epoch answers -1 and writes nothing).
        let accepted = pos(&|a| matches!(a, Action::WriteAcceptedEpoch(_)));
        assert_eq!(
            accepted.map(|i| d.done[i].clone()),
            (new_epoch > persisted.accepted_epoch).then_some(Action::WriteAcceptedEpoch(new_epoch)),
            "connection {conn}"
        );
        let ack_epoch = pos(&|a| {
            matches!(
                a,
                Action::Send {
                    payload: Payload::AckEpoch { .. },
                    ..
                }
            )
        })
        .expect("ACKEPOCH");
        let current = pos(&|a| *a == Action::WriteCurrentEpoch(new_epoch)).expect("currentEpoch written");
        let new_leader_ack =
            pos(&|a| matches!(a, Action::Send { payload: Payload::Ack, zxid } if *zxid == new_epoch << 32))
                .expect("NEWLEADER ACK");
        assert!(
            accepted.unwrap_or(0) <= ack_epoch && ack_epoch < current && current < new_leader_ack,
            "connection {conn}"
        );
        let snapshot = pos(&|a| matches!(a, Action::TakeSnapshot { .. }));
        match mode {
            PacketType::Diff => {
                assert_eq!(snapshot, None, "connection {conn}: no snapshot after DIFF");
                let logged_before_ack = d.done[..new_leader_ack]
                    .iter()
                    .filter(|a| matches!(a, Action::Log(_)))
                    .count();
                assert_eq!(logged_before_ack, diff_committed.len(), "connection {conn}");
            }
            PacketType::Snap => {
                let zxid = leader
                    .iter()
                    .find(|(p, _)| p.packet_type == PacketType::Snap.code())
                    .expect("SNAP")
                    .0
                    .zxid;
                assert_eq!(
                    d.done
                        .iter()
                        .position(|a| *a == Action::InstallSnapshot(Zxid(zxid)))
                        .map(|_| ()),
                    Some(())
                );
                assert_eq!(
                    d.done[snapshot.expect("snapshot")],
                    Action::TakeSnapshot { sync: true }
                );
            }
            PacketType::Trunc => {
                let zxid = leader
                    .iter()
                    .find(|(p, _)| p.packet_type == PacketType::Trunc.code())
                    .expect("TRUNC")
                    .0
                    .zxid;
                assert!(d.done.contains(&Action::TruncateLog(Zxid(zxid))));
                assert_eq!(
                    d.done[snapshot.expect("snapshot")],
                    Action::TakeSnapshot { sync: false }
                );
            }
            other => panic!("sync mode {other:?}"),
        }
    }
    assert_eq!(
        modes,
        ["Diff", "Snap", "Trunc"].iter().map(|s| s.to_string()).collect(),
        "the captures cover every sync mode"
    );
}

pub(in crate::core::zab) fn txn(zxid: i64) -> TxnEntry {
    TxnEntry {
        header: TxnHeader {
            client_id: 1,
            cxid: 0,
            zxid,
            time: 0,
            txn_type: -10,
        },
        body: TxnBody::CreateSession(CreateSessionTxn { time_out: 6000 }),
        digest: None,
    }
}

fn started(persisted: Persisted) -> Learner {
    Learner::start(cfg(1, 0), persisted).0
}

const E2: i64 = 2 << 32;

fn leader_info() -> Payload {
    Payload::LeaderInfo {
        protocol_version: 0x10000,
    }
}

/// A learner that had already accepted epoch 2 and got LEADERINFO for it (nothing to write).
fn in_epoch_2() -> Learner {
    let mut l = started(Persisted {
        accepted_epoch: 2,
        ..Persisted::default()
    });
    l.receive(E2, leader_info()).expect("LEADERINFO");
    l
}

fn ack(zxid: i64) -> Action {
    Action::Send {
        zxid,
        payload: Payload::Ack,
    }
}

#[test]
fn leader_epoch_equal_to_the_accepted_one_is_acked_with_minus_one_and_nothing_written() {
    let mut l = started(Persisted {
        accepted_epoch: 2,
        current_epoch: 1,
        last_logged_zxid: Zxid((1 << 32) | 5),
        needs_initial_snapshot: false,
    });
    let out = l.receive(E2, leader_info()).expect("LEADERINFO");
    assert_eq!(
        out,
        vec![Action::Send {
            zxid: (1 << 32) | 5,
            payload: Payload::AckEpoch { current_epoch: -1 }
        }]
    );
}

#[test]
fn older_leader_epochs_and_old_protocols_are_refused() {
    let p = Persisted {
        accepted_epoch: 3,
        ..Persisted::default()
    };
    let err = started(p).receive(E2, leader_info());
    assert_eq!(
        err,
        Err(LearnerError::StaleLeaderEpoch {
            leader: 2,
            accepted: 3
        })
    );
    let err = started(p).receive(E2, Payload::NewLeader { config: None });
    assert_eq!(err, Err(LearnerError::PreZab10Leader));
    let mut l = started(Persisted::default());
    l.receive(E2, leader_info()).expect("LEADERINFO");
    l.persisted(Durable::AcceptedEpoch).expect("durable");
    let err = l
        .receive(E2, Payload::Commit)
        .expect_err("COMMIT before a sync mode");
    assert!(err.to_string().contains("DIFF, SNAP or TRUNC"), "{err}");
}

#[test]
fn packets_arriving_during_a_write_wait_for_it() {
    let mut l = started(Persisted::default());
    let out = l.receive(E2, leader_info()).expect("LEADERINFO");
    assert_eq!(
        out,
        vec![Action::WriteAcceptedEpoch(2)],
        "no ACKEPOCH before acceptedEpoch is durable"
    );
    assert_eq!(l.receive(0, Payload::Diff).expect("held"), vec![]);
    assert_eq!(
        l.persisted(Durable::CurrentEpoch),
        Err(LearnerError::UnexpectedDurable(Durable::CurrentEpoch))
    );
    let mut l = started(Persisted::default());
    l.receive(E2, leader_info()).expect("LEADERINFO");
    l.receive(0, Payload::Diff).expect("held");
    l.receive(E2 | 1, Payload::Proposal(txn(E2 | 1))).expect("held");
    l.receive(E2 | 1, Payload::Commit).expect("held");
    l.receive(E2, Payload::NewLeader { config: None }).expect("held");
    let out = l.persisted(Durable::AcceptedEpoch).expect("durable");
    assert_eq!(
        out,
        vec![
            Action::Send {
                zxid: 0,
                payload: Payload::AckEpoch { current_epoch: 0 }
            },
            Action::Log(txn(E2 | 1)),
            Action::Commit(Zxid(E2 | 1)),
            Action::SyncLog(Zxid(E2 | 1)),
        ],
        "the held DIFF, proposal, commit and NEWLEADER handled in order, up to the log sync"
    );
    assert_eq!(
        l.persisted(Durable::LogUpTo(Zxid(E2 | 1))).expect("durable"),
        vec![Action::WriteCurrentEpoch(2)]
    );
    assert_eq!(
        l.persisted(Durable::CurrentEpoch).expect("durable"),
        vec![ack(E2)]
    );
}

#[test]
fn after_snap_a_commit_before_newleader_is_applied_without_logging() {
    let mut l = in_epoch_2();
    assert_eq!(
        l.receive(E2, Payload::Snap).expect("SNAP"),
        vec![Action::InstallSnapshot(Zxid(E2))]
    );
    l.receive(E2 | 1, Payload::Proposal(txn(E2 | 1)))
        .expect("PROPOSAL");
    assert_eq!(
        l.receive(E2 | 1, Payload::Commit).expect("COMMIT"),
        vec![Action::Apply(txn(E2 | 1))]
    );
    l.receive(E2 | 2, Payload::Proposal(txn(E2 | 2)))
        .expect("PROPOSAL");
    assert_eq!(
        l.receive(E2, Payload::NewLeader { config: None })
            .expect("NEWLEADER"),
        vec![Action::TakeSnapshot { sync: true }]
    );
    assert_eq!(
        l.persisted(Durable::Snapshot).expect("durable"),
        vec![Action::WriteCurrentEpoch(2)]
    );
    l.persisted(Durable::CurrentEpoch).expect("durable");
    l.receive(E2 | 2, Payload::Commit)
        .expect("COMMIT after NEWLEADER is queued");
    let out = l.receive(-1, Payload::UpToDate).expect("UPTODATE");
    assert_eq!(
        out,
        vec![
            ack(E2),
            Action::StartServing,
            Action::Log(txn(E2 | 2)),
            Action::Commit(Zxid(E2 | 2)),
        ]
    );
    assert_eq!(
        l.persisted(Durable::LogUpTo(Zxid(E2 | 2))).expect("durable"),
        vec![ack(E2 | 2)],
        "a proposal logged after UPTODATE is ACKed once durable"
    );
}

#[test]
fn a_commit_with_nothing_queued_and_reconfig_during_sync_are_errors() {
    let mut l = in_epoch_2();
    l.receive(E2, Payload::Diff).expect("DIFF");
    assert_eq!(
        l.clone().receive(E2 | 1, Payload::Commit),
        Err(LearnerError::CommitWithoutProposal(Zxid(E2 | 1)))
    );
    let err = l
        .receive(E2 | 1, Payload::CommitAndActivate { designated_leader: 1 })
        .expect_err("reconfig");
    assert!(err.to_string().contains("COMMITANDACTIVATE"), "{err}");
}

#[test]
fn silence_from_the_leader_ends_the_sync_but_our_own_writes_do_not_count() {
    let mut l = started(Persisted::default());
    for _ in 0..19 {
        l.tick().expect("within initLimit");
    }
    l.receive(E2, leader_info()).expect("LEADERINFO");
    for _ in 0..100 {
        l.tick().expect("waiting for our acceptedEpoch write");
    }
    l.persisted(Durable::AcceptedEpoch).expect("durable");
    for _ in 0..19 {
        l.tick().expect("within initLimit");
    }
    assert_eq!(l.tick(), Err(LearnerError::Timeout(20)));
}

#[test]
fn a_member_without_a_snapshot_takes_a_synced_one_even_after_diff() {
    let mut l = started(Persisted {
        accepted_epoch: 2,
        needs_initial_snapshot: true,
        ..Persisted::default()
    });
    l.receive(E2, leader_info()).expect("LEADERINFO");
    l.receive(E2, Payload::Diff).expect("DIFF");
    l.receive(E2 | 1, Payload::Proposal(txn(E2 | 1)))
        .expect("PROPOSAL");
    assert_eq!(
        l.receive(E2 | 1, Payload::Commit).expect("COMMIT"),
        vec![Action::Apply(txn(E2 | 1))],
        "applied in memory: the snapshot at NEWLEADER holds it"
    );
    assert_eq!(
        l.receive(E2, Payload::NewLeader { config: None })
            .expect("NEWLEADER"),
        vec![Action::TakeSnapshot { sync: true }]
    );
}

#[test]
fn an_observer_registers_as_one_and_commits_queued_txns_only_at_uptodate() {
    let observer = LearnerConfig {
        observer: true,
        ..cfg(4, 0)
    };
    let (mut l, out) = Learner::start(
        observer,
        Persisted {
            accepted_epoch: 2,
            ..Persisted::default()
        },
    );
    assert!(matches!(
        &out[..],
        [Action::Send {
            payload: Payload::ObserverInfo(_),
            zxid: E2
        }]
    ));
    l.receive(E2, leader_info()).expect("LEADERINFO");
    l.receive(E2, Payload::Diff).expect("DIFF");
    l.receive(E2 | 1, Payload::Proposal(txn(E2 | 1)))
        .expect("PROPOSAL");
    l.receive(E2 | 1, Payload::Commit).expect("COMMIT");
    l.receive(E2 | 2, Payload::Proposal(txn(E2 | 2)))
        .expect("PROPOSAL");
    assert_eq!(
        l.receive(E2, Payload::NewLeader { config: None })
            .expect("NEWLEADER"),
        vec![Action::WriteCurrentEpoch(2)],
        "nothing logged before the NEWLEADER ACK"
    );
    assert_eq!(
        l.persisted(Durable::CurrentEpoch).expect("durable"),
        vec![ack(E2)]
    );
    assert_eq!(
        l.receive(-1, Payload::UpToDate).expect("UPTODATE"),
        vec![
            ack(E2),
            Action::StartServing,
            Action::Log(txn(E2 | 1)),
            Action::Commit(Zxid(E2 | 1)),
        ],
        "the uncommitted proposal is dropped"
    );
}
