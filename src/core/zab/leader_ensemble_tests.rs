//! An ensemble in one thread: the leader core and the learner cores of `learner` exchange packets (encoded
//! and decoded as on the wire) over in-memory connections, with logs and databases as vectors and every
//! write durable at once. From empty and from divergent histories, the learners are synced by DIFF, TRUNC,
//! TRUNC followed by proposals, and SNAP; then many proposals are broadcast, and every member must end with
//! the leader's committed sequence.

use std::collections::{BTreeMap, VecDeque};

use jute::codes::PacketType;
use jute::quorum::{Payload, Sender};
use jute::records::quorum::QuorumPacket;
use jute::txn_entry::TxnEntry;
use jute::{from_slice, to_bytes, DEFAULT_MAX_BUFFER};

use super::*;
use crate::core::zab::learner::tests::txn;
use crate::core::zab::learner::{self, Learner, LearnerConfig};

/// What travels from the leader to a learner: packets, and the database after SNAP.
#[derive(Debug)]
enum Wire {
    Packet(i64, Payload),
    Snapshot(Vec<TxnEntry>),
}

/// A packet as the other end reads it: encoded, then decoded as sent by `from`.
fn over_the_wire(zxid: i64, payload: &Payload, from: Sender) -> (i64, Payload) {
    let bytes = to_bytes(&payload.to_packet(zxid).expect("encode")).expect("encode");
    let packet: QuorumPacket = from_slice(&bytes).expect("decode");
    let payload = Payload::decode(&packet, from, DEFAULT_MAX_BUFFER).expect("decode");
    (packet.zxid, payload)
}

struct Member {
    learner: Learner,
    log: Vec<TxnEntry>,
    /// What the member applied, in order.
    db: Vec<TxnEntry>,
    inbox: VecDeque<Wire>,
    outbox: VecDeque<(i64, Payload)>,
}

struct Ensemble {
    leader: Leader,
    log: Vec<TxnEntry>,
    db: Vec<TxnEntry>,
    members: BTreeMap<u64, Member>,
    /// Packet types the leader sent each connection, in order.
    sent: BTreeMap<u64, Vec<PacketType>>,
    /// Syncs the leader's log served (`Action::ReadLog` answered with txns).
    from_log: usize,
}

fn zxids(txns: &[TxnEntry]) -> Vec<i64> {
    txns.iter().map(|t| t.header.zxid).collect()
}

fn history(zxids: &[i64]) -> Vec<TxnEntry> {
    zxids.iter().map(|&z| txn(z)).collect()
}

impl Ensemble {
    fn start(cfg: LeaderConfig, accepted_epoch: i64, current_epoch: i64, history: Vec<TxnEntry>) -> Ensemble {
        let persisted = LeaderPersisted {
            accepted_epoch,
            current_epoch,
            last_zxid: Zxid(history.last().map_or(0, |t| t.header.zxid)),
        };
        let (leader, actions) = Leader::start(cfg, persisted, history.clone());
        let mut e = Ensemble {
            leader,
            log: history.clone(),
            db: history,
            members: BTreeMap::new(),
            sent: BTreeMap::new(),
            from_log: 0,
        };
        e.leader_actions(actions);
        e
    }

    /// A member with this history (all applied, as after a restart) connects as `conn`.
    fn join(&mut self, conn: u64, sid: i64, observer: bool, epochs: (i64, i64), history: Vec<TxnEntry>) {
        let cfg = LearnerConfig {
            my_id: ServerId(sid),
            observer,
            config_version: 0,
            init_limit_ticks: 10,
            sync_limit_ticks: 5,
        };
        let persisted = learner::Persisted {
            accepted_epoch: epochs.0,
            current_epoch: epochs.1,
            last_logged_zxid: Zxid(history.last().map_or(0, |t| t.header.zxid)),
            needs_initial_snapshot: false,
        };
        let (learner, actions) = Learner::start(cfg, persisted);
        self.members.insert(
            conn,
            Member {
                learner,
                log: history.clone(),
                db: history,
                inbox: VecDeque::new(),
                outbox: VecDeque::new(),
            },
        );
        self.leader.connected(LearnerConn(conn));
        self.learner_actions(conn, actions);
    }

    /// The member's connection breaks; its log and database stay as they are.
    fn leave(&mut self, conn: u64) -> Member {
        let actions = self.leader.disconnected(LearnerConn(conn));
        self.leader_actions(actions);
        self.members.remove(&conn).expect("member")
    }

    fn propose(&mut self, count: usize) {
        for _ in 0..count {
            let zxid = self.leader.last_proposed().0 + 1;
            let actions = self.leader.propose(txn(zxid));
            self.leader_actions(actions);
        }
    }

    fn leader_actions(&mut self, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            let more = match action {
                Action::Send { to, zxid, payload } => {
                    self.sent.entry(to.0).or_default().push(payload.packet_type());
                    let (zxid, payload) = over_the_wire(zxid, &payload, Sender::Leader);
                    let member = self.members.get_mut(&to.0).expect("a connected member");
                    member.inbox.push_back(Wire::Packet(zxid, payload));
                    continue;
                }
                Action::SendSnapshot { to } => {
                    let member = self.members.get_mut(&to.0).expect("a connected member");
                    member.inbox.push_back(Wire::Snapshot(self.db.clone()));
                    continue;
                }
                Action::WriteAcceptedEpoch(_) => self.leader.persisted(Durable::AcceptedEpoch),
                Action::WriteCurrentEpoch(_) => self.leader.persisted(Durable::CurrentEpoch),
                Action::Log(t) => {
                    let zxid = Zxid(t.header.zxid);
                    self.log.push(t);
                    self.leader.persisted(Durable::LogUpTo(zxid))
                }
                Action::Commit(zxid) => {
                    let t = self.log.iter().find(|t| t.header.zxid == zxid.0).expect("logged");
                    self.db.push(t.clone());
                    continue;
                }
                Action::ReadLog { to, from, up_to } => {
                    // The leader's whole log is at hand, as on disk; it serves only if it reaches back to
                    // `from` (`getProposalsFromTxnLog`).
                    if self.log.first().is_none_or(|t| t.header.zxid > from.0) {
                        queue.extend(self.leader.log_read(to, None));
                        continue;
                    }
                    let before = self
                        .log
                        .iter()
                        .map(|t| Zxid(t.header.zxid))
                        .filter(|z| *z < from)
                        .last();
                    let tail = LogTail {
                        before,
                        start_logged: self.log.iter().any(|t| t.header.zxid == from.0),
                        txns: self
                            .log
                            .iter()
                            .filter(|t| t.header.zxid > from.0 && t.header.zxid <= up_to.0)
                            .cloned()
                            .collect(),
                    };
                    self.from_log += 1;
                    Ok(self.leader.log_read(to, Some(tail)))
                }
                Action::Drop { conn, reason } => panic!("connection {}: dropped: {reason}", conn.0),
                Action::Established { .. }
                | Action::Forwarded { .. }
                | Action::Touch(_)
                | Action::Revalidate { .. } => continue,
            };
            queue.extend(more.expect("durable"));
        }
    }

    fn learner_actions(&mut self, conn: u64, actions: Vec<learner::Action>) {
        use learner::Action as A;
        let mut queue: VecDeque<A> = actions.into();
        while let Some(action) = queue.pop_front() {
            let m = self.members.get_mut(&conn).expect("member");
            let durable = match action {
                A::Send { zxid, payload } => {
                    m.outbox.push_back(over_the_wire(zxid, &payload, Sender::Learner));
                    None
                }
                A::WriteAcceptedEpoch(_) => Some(learner::Durable::AcceptedEpoch),
                A::WriteCurrentEpoch(_) => Some(learner::Durable::CurrentEpoch),
                A::TruncateLog(z) => {
                    m.log.retain(|t| t.header.zxid <= z.0);
                    m.db.retain(|t| t.header.zxid <= z.0);
                    None
                }
                A::InstallSnapshot(z) => {
                    let Some(Wire::Snapshot(db)) = m.inbox.pop_front() else {
                        panic!("connection {conn}: no database after SNAP")
                    };
                    assert_eq!(db.last().map_or(0, |t| t.header.zxid), z.0, "SNAP zxid");
                    m.log = db.clone();
                    m.db = db;
                    None
                }
                A::Apply(t) => {
                    m.db.push(t);
                    None
                }
                A::Log(t) => {
                    let zxid = Zxid(t.header.zxid);
                    m.log.push(t);
                    m.learner.is_serving().then_some(learner::Durable::LogUpTo(zxid))
                }
                A::Commit(z) => {
                    let t = m.log.iter().rev().find(|t| t.header.zxid == z.0).expect("logged");
                    m.db.push(t.clone());
                    None
                }
                A::SyncLog(z) => Some(learner::Durable::LogUpTo(z)),
                A::TakeSnapshot { .. } => {
                    m.log = m.db.clone();
                    Some(learner::Durable::Snapshot)
                }
                A::AnswerPing(zxid) => {
                    m.outbox.push_back((zxid, Payload::LearnerPing(vec![])));
                    None
                }
                A::StartServing | A::Deliver { .. } => None,
            };
            if let Some(what) = durable {
                let more = m
                    .learner
                    .persisted(what)
                    .unwrap_or_else(|e| panic!("connection {conn}: {e}"));
                queue.extend(more);
            }
        }
    }

    /// Delivers packets, one per connection and direction in turn, until none is left.
    fn settle(&mut self) {
        let conns: Vec<u64> = self.members.keys().copied().collect();
        self.settle_among(&conns);
    }

    /// The same on these connections only (the others' packets wait).
    fn settle_among(&mut self, conns: &[u64]) {
        for _ in 0..1_000_000 {
            let mut moved = false;
            for &conn in conns {
                let m = self.members.get_mut(&conn).expect("member");
                if let Some(wire) = m.inbox.pop_front() {
                    moved = true;
                    let Wire::Packet(zxid, payload) = wire else {
                        panic!("connection {conn}: a database nobody asked for")
                    };
                    let actions = m
                        .learner
                        .receive(zxid, payload)
                        .unwrap_or_else(|e| panic!("connection {conn}: {e}"));
                    self.learner_actions(conn, actions);
                }
                let m = self.members.get_mut(&conn).expect("member");
                if let Some((zxid, payload)) = m.outbox.pop_front() {
                    moved = true;
                    let actions = self.leader.receive(LearnerConn(conn), zxid, payload);
                    self.leader_actions(actions);
                }
            }
            if !moved {
                return;
            }
        }
        panic!("the ensemble did not settle");
    }

    /// Every member serves and has applied exactly what the leader applied.
    fn assert_agree(&self) {
        let want = zxids(&self.db);
        assert!(
            want.windows(2).all(|w| w[0] < w[1]),
            "leader applied out of order: {want:x?}"
        );
        for (conn, m) in &self.members {
            assert!(m.learner.is_serving(), "connection {conn} is not serving");
            assert_eq!(zxids(&m.db), want, "connection {conn} applied another sequence");
        }
    }

    /// How the leader synced a connection: DIFF, TRUNC, TRUNC+DIFF (TRUNC, then proposals) or SNAP.
    fn mode(&self, conn: u64) -> &'static str {
        let sent = &self.sent[&conn];
        let first = sent
            .iter()
            .position(|t| *t == PacketType::LeaderInfo)
            .expect("LEADERINFO")
            + 1;
        match (sent[first], sent.get(first + 1)) {
            (PacketType::Trunc, Some(PacketType::Proposal)) => "TRUNC+DIFF",
            (PacketType::Trunc, _) => "TRUNC",
            (PacketType::Diff, _) => "DIFF",
            (PacketType::Snap, _) => "SNAP",
            (other, _) => panic!("connection {conn}: sync began with {other:?}"),
        }
    }
}

fn config(voters: &[i64], observers: &[i64], committed_log_max: usize) -> LeaderConfig {
    LeaderConfig {
        committed_log_max,
        config_text: None,
        ..super::tests::cfg(voters, observers)
    }
}

const E1: i64 = 1 << 32;
const E2: i64 = 2 << 32;

#[test]
fn three_empty_members_elect_sync_by_empty_diff_and_agree_on_every_commit() {
    let mut e = Ensemble::start(config(&[1, 2, 3], &[], 500), 0, 0, vec![]);
    e.join(2, 2, false, (0, 0), vec![]);
    e.join(3, 3, false, (0, 0), vec![]);
    e.settle();
    assert!(e.leader.is_established());
    assert_eq!((e.mode(2), e.mode(3)), ("DIFF", "DIFF"));
    for _ in 0..40 {
        e.propose(5);
        e.settle();
    }
    assert_eq!(e.db.len(), 200);
    assert_eq!(e.leader.last_committed(), Zxid(E1 | 200));
    e.assert_agree();
}

#[test]
fn divergent_histories_are_synced_by_diff_trunc_trunc_and_diff_and_snap() {
    // The leader lacks 1:5 (its history was not written by one run of ZAB) and keeps only four committed txns
    // in memory: 1:3, 1:4, 1:6 and 1:7.
    let leader_history = history(&[E1 | 1, E1 | 2, E1 | 3, E1 | 4, E1 | 6, E1 | 7]);
    let mut e = Ensemble::start(config(&[1, 2, 3, 4, 5], &[], 4), 1, 1, leader_history.clone());
    e.join(2, 2, false, (1, 1), history(&[E1 | 1, E1 | 2, E1 | 3]));
    e.join(
        4,
        4,
        false,
        (1, 1),
        history(&[E1 | 1, E1 | 2, E1 | 3, E1 | 4, E1 | 5]),
    );
    e.join(5, 5, false, (0, 0), vec![]);
    e.settle();
    assert!(e.leader.is_established());
    assert_eq!(e.leader.epoch(), 2);
    // Server 3 logged a txn nobody else has: it joins once the epoch is settled and is cut back.
    let mut ahead = leader_history.clone();
    ahead.push(txn(E1 | 8));
    e.join(3, 3, false, (1, 1), ahead);
    e.settle();
    assert_eq!(
        [2, 3, 4, 5].map(|c| e.mode(c)),
        ["DIFF", "TRUNC", "TRUNC+DIFF", "SNAP"]
    );
    e.assert_agree();
    for _ in 0..30 {
        e.propose(4);
        e.settle();
    }
    e.assert_agree();
    let mut want = zxids(&leader_history);
    want.extend((1..=120).map(|n| E2 | n));
    assert_eq!(zxids(&e.db), want);
}

#[test]
fn a_member_rejoining_mid_broadcast_gets_the_commits_it_missed_and_the_outstanding_proposals() {
    let mut e = Ensemble::start(config(&[1, 2, 3], &[4], 500), 0, 0, vec![]);
    e.join(2, 2, false, (0, 0), vec![]);
    e.join(3, 3, false, (0, 0), vec![]);
    e.join(4, 4, true, (0, 0), vec![]);
    e.settle();
    e.propose(20);
    e.settle();
    e.assert_agree();
    let gone = e.leave(3);
    e.propose(15);
    e.settle();
    // Five more proposals are outstanding (nobody has ACKed them) when server 3 comes back.
    e.propose(5);
    assert_eq!(e.db.len(), 35);
    e.join(13, 3, false, (1, 1), gone.log);
    e.settle_among(&[13]);
    assert_eq!(e.mode(13), "DIFF");
    let sent = &e.sent[&13];
    let new_leader = sent
        .iter()
        .position(|t| *t == PacketType::NewLeader)
        .expect("NEWLEADER");
    assert_eq!(
        sent[new_leader - 5..new_leader],
        [PacketType::Proposal; 5],
        "the outstanding proposals, without COMMIT, before NEWLEADER"
    );
    assert_eq!(e.db.len(), 40, "server 3's ACKs commit them");
    e.settle();
    e.assert_agree();
    assert!(
        !e.sent[&4].contains(&PacketType::Proposal),
        "the observer gets INFORM, never PROPOSAL, after its sync"
    );
}

#[test]
fn a_member_behind_the_committed_log_is_synced_by_diff_from_the_leaders_log() {
    // The leader keeps three committed txns in memory (1:8 to 1:10); its log holds all ten.
    let leader_history = history(&(1..=10).map(|n| E1 | n).collect::<Vec<_>>());
    let mut e = Ensemble::start(config(&[1, 2, 3], &[], 3), 1, 1, leader_history.clone());
    e.join(2, 2, false, (1, 1), history(&[E1 | 1, E1 | 2]));
    e.join(3, 3, false, (0, 0), vec![]);
    e.settle();
    assert!(e.leader.is_established());
    // Member 2's last zxid is in the leader's log: DIFF from the log, then the committed log. Member 3 has
    // nothing the log reaches back to: SNAP.
    assert_eq!([2, 3].map(|c| e.mode(c)), ["DIFF", "SNAP"]);
    assert_eq!(e.from_log, 1);
    e.assert_agree();
    e.propose(20);
    e.settle();
    e.assert_agree();
}
