//! The leader side of ZAB as a pure state machine: ZooKeeper 3.9's `Leader` (`lead`, `getEpochToPropose`,
//! `waitForEpochAck`, `waitForNewLeaderAck`, `propose`, `processAck`, `tryToCommit`, `processSync`) and the
//! per-learner `LearnerHandler` (discovery, `syncFollower`, the broadcast read loop, `ping`) in
//! `leader_handler.rs`, with the choice of DIFF, TRUNC or SNAP in `leader_sync.rs`.
//!
//! Inputs: [`Leader::start`] (what the leader persisted and the tail of its committed log), learner
//! connections ([`Leader::connected`], [`Leader::disconnected`]) and their packets ([`Leader::receive`]), the
//! leader's own durable writes ([`Leader::persisted`]), txns the front end prepared ([`Leader::propose`]),
//! answers to REVALIDATE ([`Leader::revalidated`]), a learner's sync reaching the head of the request pipeline
//! ([`Leader::sync`]) and [`Leader::tick`]. Outputs are [`Action`]s, carried out in order.
//!
//! The order, as ZooKeeper 3.9 does it:
//! - Discovery: the epoch is one more than the largest acceptedEpoch among the leader and the learners that
//!   registered (FOLLOWERINFO or OBSERVERINFO) before a quorum of voters, the leader included, had; the leader
//!   writes it as its acceptedEpoch, then sends LEADERINFO (zxid `epoch << 32`, protocol 0x10000) to each.
//!   It waits for ACKEPOCH from a quorum of voters; a learner whose (currentEpoch, last zxid) is ahead of the
//!   leader's is dropped. Then it writes currentEpoch.
//! - Sync, per learner once currentEpoch is durable: DIFF, TRUNC or SNAP (`leader_sync`), the proposals
//!   still outstanding, NEWLEADER (zxid `epoch << 32`, data = the configuration text). A quorum of voters
//!   ACKing NEWLEADER establishes the epoch; every learner that ACKed gets UPTODATE, and a learner joining
//!   later goes through LEADERINFO, sync, NEWLEADER and UPTODATE alone.
//! - Broadcast: PROPOSAL to followers, ACKs counted per zxid over voters only, commits strictly in zxid
//!   order, COMMIT to followers and INFORM (with the txn) to observers. SYNC is answered once every proposal
//!   made before it is committed. Every tick the leader checks that the voters it heard from within syncLimit
//!   are a quorum and PINGs each learner (zxid = last proposed).
//!
//! ZooKeeper pings twice per tick; this core pings once per tick, which a learner (whose timeout is syncLimit
//! ticks of silence) cannot tell apart. Reconfiguration (COMMITANDACTIVATE, INFORMANDACTIVATE) and learners
//! older than protocol 0x10000 (no LEADERINFO) are refused; a learner with a newer configuration version than
//! the leader's (`version=` in the configuration text) is dropped, as ZooKeeper drops it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use bytes::Bytes;
use jute::quorum::{ForwardedRequest, Payload, RevalidateReply, SessionTimeout};
use jute::records::data::Id;
use jute::txn_entry::TxnEntry;

use super::quorum::QuorumVerifier;
use crate::types::{ServerId, Zxid};
use handler::{LearnerState, Stage};

/// Who the leader leads and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderConfig {
    pub my_id: ServerId,
    /// Every voting member, the leader included.
    pub voters: Vec<ServerId>,
    pub observers: Vec<ServerId>,
    /// `group.N` and `weight.N` (a hierarchical quorum over `voters`), or `None` for a majority of them.
    pub groups: Option<Groups>,
    /// initLimit: how long discovery and sync may take, and how long a syncing learner may stay silent.
    pub init_limit_ticks: u64,
    /// syncLimit: how long a learner may stay silent, or leave a proposal un-ACKed, once synced.
    pub sync_limit_ticks: u64,
    /// How many committed txns are kept in memory to sync learners with (ZooKeeper's `commitLogCount`, 500).
    pub committed_log_max: usize,
    /// The configuration text NEWLEADER carries (`QuorumVerifier.toString`).
    pub config_text: Option<Bytes>,
}

/// A hierarchical quorum's groups (`group.N=a:b:c`) and weights (`weight.N=w`).
pub type Groups = (Vec<(i64, Vec<ServerId>)>, Vec<(ServerId, u64)>);

/// What the leader has persisted when it starts leading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaderPersisted {
    pub accepted_epoch: i64,
    pub current_epoch: i64,
    /// The last logged zxid, which is also the last applied one at start.
    pub last_zxid: Zxid,
}

/// One quorum-port connection, numbered by the caller before FOLLOWERINFO tells who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LearnerConn(pub u64);

/// A write of the leader's own, reported back with [`Leader::persisted`] once durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durable {
    AcceptedEpoch,
    CurrentEpoch,
    /// The log, up to and including this zxid.
    LogUpTo(Zxid),
}

/// What the caller must do, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        to: LearnerConn,
        zxid: i64,
        payload: Payload,
    },
    /// Stream the leader's database as it is now (after every Commit action before this one) after a SNAP
    /// packet, then the signature (`SyncSnapshot`).
    SendSnapshot { to: LearnerConn },
    /// Write the acceptedEpoch file, then report [`Durable::AcceptedEpoch`].
    WriteAcceptedEpoch(i64),
    /// Write the currentEpoch file, then report [`Durable::CurrentEpoch`].
    WriteCurrentEpoch(i64),
    /// Append a txn to the leader's own log; report [`Durable::LogUpTo`] once durable (the leader's own ACK).
    Log(TxnEntry),
    /// Every proposal up to this zxid is committed: apply them in order and answer their clients.
    Commit(Zxid),
    /// A quorum acknowledged NEWLEADER: start serving clients with zxids from `(epoch << 32) + 1`.
    Established { epoch: i64 },
    /// A learner's REQUEST for the front end to prepare as a txn (then given back through
    /// [`Leader::propose`]). A sync (`op` 9) is not a txn: when the front end reaches it in its pipeline it
    /// calls [`Leader::sync`], as ZooKeeper's `ProposalRequestProcessor` calls `processSync`.
    Forwarded {
        from: LearnerConn,
        request: ForwardedRequest,
        auth: Vec<Id>,
    },
    /// The sessions a learner's PING reports touched.
    Touch(Vec<SessionTimeout>),
    /// REVALIDATE: the caller answers with [`Leader::revalidated`].
    Revalidate {
        from: LearnerConn,
        session: SessionTimeout,
    },
    /// Close this learner's connection (timeout, protocol error, ahead of the leader ...), with the reason.
    /// The leader has already forgotten it.
    Drop { conn: LearnerConn, reason: String },
}

/// Why the leader stops leading (ZooKeeper's `Leader.shutdown` reasons), or a caller's mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaderError {
    #[error("Timeout while waiting for epoch from quorum (connected voters: {0:?})")]
    EpochTimeout(Vec<i64>),
    #[error("Timeout while waiting for epoch to be acked by quorum (acked: {0:?})")]
    EpochAckTimeout(Vec<i64>),
    #[error("Waiting for a quorum of followers, only synced with sids: {0:?}")]
    NewLeaderAckTimeout(Vec<i64>),
    #[error("Not sufficient followers synced, only synced with sids: {0:?}")]
    NotSufficientFollowersSynced(Vec<i64>),
    #[error("zxid lower 32 bits have rolled over, forcing re-election, and therefore new epoch start")]
    ZxidRollover,
    #[error("a durable write was reported that was not asked for: {0:?}")]
    UnexpectedDurable(Durable),
}

/// Where the leader is in `lead()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    /// `getEpochToPropose`: waiting for a quorum of voters to register.
    Epoch,
    /// The epoch is chosen; acceptedEpoch is being written.
    WritingAcceptedEpoch,
    /// `waitForEpochAck`.
    EpochAck,
    /// A quorum acknowledged the epoch; currentEpoch is being written.
    WritingCurrentEpoch,
    /// `waitForNewLeaderAck`.
    NewLeaderAck,
    /// Established: serving.
    Broadcast,
}

/// An outstanding proposal: its txn and the voters that ACKed it.
#[derive(Debug, Clone)]
struct Proposal {
    txn: TxnEntry,
    acks: BTreeSet<ServerId>,
}

/// The leader of one epoch, from election to step-down.
#[derive(Debug, Clone)]
pub struct Leader {
    cfg: LeaderConfig,
    quorum: QuorumVerifier,
    config_version: i64,
    persisted: LeaderPersisted,
    phase: Phase,
    /// Ticks spent in the current wait of `lead()`.
    phase_ticks: u64,
    /// The epoch being chosen, then the chosen one (ZooKeeper starts at -1).
    epoch: i64,
    connecting: BTreeSet<ServerId>,
    electing: BTreeSet<ServerId>,
    new_leader_acks: BTreeSet<ServerId>,
    learners: BTreeMap<LearnerConn, LearnerState>,
    /// `ZKDatabase.committedLog`, oldest first.
    committed_log: VecDeque<TxnEntry>,
    /// The zxid of the database (`getDataTreeLastProcessedZxid`).
    last_processed: Zxid,
    last_committed: Zxid,
    last_proposed: Zxid,
    outstanding: BTreeMap<Zxid, Proposal>,
    /// `pendingSyncs`: learners to answer once the zxid is committed.
    pending_syncs: BTreeMap<Zxid, Vec<LearnerConn>>,
    /// ZooKeeper's `self.tick`: counts only once established.
    tick: u64,
    rolled_over: bool,
    out: Vec<Action>,
}

impl Leader {
    /// Starts leading. `recent` is the tail of the committed log, oldest first. The configuration is the
    /// validated one of the server (the leader among the voters, no member both voter and observer).
    pub fn start(
        cfg: LeaderConfig,
        persisted: LeaderPersisted,
        recent: Vec<TxnEntry>,
    ) -> (Leader, Vec<Action>) {
        let (voters, observers) = (cfg.voters.iter().copied(), cfg.observers.iter().copied());
        let quorum = match &cfg.groups {
            None => QuorumVerifier::new(voters, observers, 0),
            Some((groups, weights)) => QuorumVerifier::hierarchical(voters, observers, 0, groups, weights),
        }
        .unwrap_or_else(|e| panic!("leader started with an invalid configuration: {e}"));
        assert!(
            quorum.is_voter(cfg.my_id),
            "leader {} is not among the voters",
            cfg.my_id.0
        );
        assert!(
            recent.windows(2).all(|w| w[0].header.zxid < w[1].header.zxid)
                && recent
                    .last()
                    .is_none_or(|t| t.header.zxid == persisted.last_zxid.0),
            "the committed log must be in zxid order and end at the last zxid {}",
            persisted.last_zxid
        );
        let skip = recent.len().saturating_sub(cfg.committed_log_max);
        let config_version = cfg.config_text.as_deref().map_or(0, config_version);
        let mut leader = Leader {
            quorum,
            config_version,
            persisted,
            phase: Phase::Epoch,
            phase_ticks: 0,
            epoch: -1,
            connecting: BTreeSet::new(),
            electing: BTreeSet::new(),
            new_leader_acks: BTreeSet::new(),
            learners: BTreeMap::new(),
            committed_log: recent.into_iter().skip(skip).collect(),
            last_processed: persisted.last_zxid,
            last_committed: persisted.last_zxid,
            last_proposed: Zxid(0),
            outstanding: BTreeMap::new(),
            pending_syncs: BTreeMap::new(),
            tick: 0,
            rolled_over: false,
            out: Vec::new(),
            cfg,
        };
        let me = leader.cfg.my_id;
        leader.propose_epoch(me, persisted.accepted_epoch);
        let out = leader.take();
        (leader, out)
    }

    /// The epoch being led (of the last proposed zxid; 0 before it is chosen).
    pub fn epoch(&self) -> i64 {
        i64::from(self.last_proposed.epoch())
    }

    /// True once a quorum acknowledged NEWLEADER.
    pub fn is_established(&self) -> bool {
        self.phase == Phase::Broadcast
    }

    /// The last committed zxid (`epoch << 32` right after establishing).
    pub fn last_committed(&self) -> Zxid {
        self.last_committed
    }

    /// The last proposed zxid.
    pub fn last_proposed(&self) -> Zxid {
        self.last_proposed
    }

    /// The followers (not observers) that are synced or syncing and receive proposals, by server id.
    pub fn synced_followers(&self) -> Vec<ServerId> {
        let set: BTreeSet<ServerId> = self
            .learners
            .values()
            .filter(|l| l.forwarding() && !l.observer)
            .filter_map(|l| l.sid)
            .collect();
        set.into_iter().collect()
    }

    /// The observers that are synced or syncing and receive INFORMs (`Leader.getObservingLearners`), by
    /// connection, with their server ids.
    pub fn synced_observers(&self) -> Vec<(LearnerConn, ServerId)> {
        self.learners
            .iter()
            .filter(|(_, l)| l.forwarding() && l.observer)
            .filter_map(|(c, l)| Some((*c, l.sid?)))
            .collect()
    }

    /// Where `lead()` is, as `QuorumPeer.ZabState` names it: `discovery` until a quorum acknowledged the
    /// epoch, `synchronization` until a quorum acknowledged NEWLEADER, then `broadcast`.
    pub fn zab_state(&self) -> &'static str {
        match self.phase {
            Phase::Epoch | Phase::WritingAcceptedEpoch | Phase::EpochAck => "discovery",
            Phase::WritingCurrentEpoch | Phase::NewLeaderAck => "synchronization",
            Phase::Broadcast => "broadcast",
        }
    }

    /// `Leader.getNumPendingSyncs`: the zxids learners' `sync` requests wait on.
    pub fn pending_syncs(&self) -> usize {
        self.pending_syncs.len()
    }

    /// The server id a learner's connection registered with, once its FOLLOWERINFO came.
    pub fn learner_sid(&self, conn: LearnerConn) -> Option<ServerId> {
        self.learners.get(&conn).and_then(|l| l.sid)
    }

    /// A new quorum-port connection.
    pub fn connected(&mut self, conn: LearnerConn) {
        let deadline_tick = self.initial_deadline();
        self.learners.insert(
            conn,
            LearnerState {
                sid: None,
                observer: false,
                stage: Stage::Info,
                silent_ticks: 0,
                deadline_tick,
                unacked: VecDeque::new(),
                revalidations: VecDeque::new(),
            },
        );
    }

    /// The connection closed. What the learner acknowledged still counts, as in ZooKeeper.
    pub fn disconnected(&mut self, conn: LearnerConn) -> Vec<Action> {
        self.forget(conn);
        self.take()
    }

    fn forget(&mut self, conn: LearnerConn) {
        self.learners.remove(&conn);
        for conns in self.pending_syncs.values_mut() {
            conns.retain(|c| *c != conn);
        }
        self.pending_syncs.retain(|_, conns| !conns.is_empty());
    }

    /// A packet from a learner; REQUEST's auth info goes with [`Leader::receive_with_auth`].
    pub fn receive(&mut self, conn: LearnerConn, zxid: i64, payload: Payload) -> Vec<Action> {
        self.receive_with_auth(conn, zxid, payload, Vec::new())
    }

    /// A packet from a learner with the packet's auth info (only REQUEST carries any).
    pub fn receive_with_auth(
        &mut self,
        conn: LearnerConn,
        zxid: i64,
        payload: Payload,
        auth: Vec<Id>,
    ) -> Vec<Action> {
        let Some(learner) = self.learners.get_mut(&conn) else {
            return Vec::new();
        };
        learner.silent_ticks = 0;
        match learner.stage {
            Stage::Info => self.registration(conn, zxid, payload),
            Stage::AckEpoch => self.ack_epoch(conn, zxid, payload),
            Stage::NewLeaderAck => self.new_leader_ack(conn, zxid, payload),
            Stage::Epoch | Stage::Sync(_) => self.drop_learner(
                conn,
                format!("{:?} while the leader was not reading", payload.packet_type()),
            ),
            Stage::Established | Stage::Broadcast => self.broadcast_packet(conn, zxid, payload, auth),
        }
        self.take()
    }

    /// One of the leader's own writes is durable.
    pub fn persisted(&mut self, what: Durable) -> Result<Vec<Action>, LeaderError> {
        match (self.phase, what) {
            (Phase::WritingAcceptedEpoch, Durable::AcceptedEpoch) => self.epoch_chosen(),
            (Phase::WritingCurrentEpoch, Durable::CurrentEpoch) => self.current_epoch_written(),
            (Phase::Broadcast, Durable::LogUpTo(up_to)) if up_to <= self.last_proposed => {
                let me = self.cfg.my_id;
                for (_, p) in self.outstanding.range_mut(..=up_to) {
                    p.acks.insert(me);
                }
                self.commit_ready();
            }
            (_, what) => return Err(LeaderError::UnexpectedDurable(what)),
        }
        Ok(self.take())
    }

    /// Broadcasts a txn the front end prepared: its zxid must follow the last proposed one in this epoch.
    /// PROPOSAL goes to the followers and the txn to the leader's own log. A txn whose counter is 0xffffffff
    /// is not proposed: the next [`Leader::tick`] answers [`LeaderError::ZxidRollover`] (ZOOKEEPER-1277).
    pub fn propose(&mut self, entry: TxnEntry) -> Vec<Action> {
        let zxid = Zxid(entry.header.zxid);
        assert!(
            self.is_established(),
            "proposal {zxid} before the epoch is established"
        );
        assert!(
            zxid.0 == self.last_proposed.0 + 1 && zxid.epoch() == self.last_proposed.epoch(),
            "proposal {zxid} does not follow the last proposed {}",
            self.last_proposed
        );
        if zxid.counter() == u32::MAX {
            self.rolled_over = true;
            return Vec::new();
        }
        self.last_proposed = zxid;
        let tick = self.tick;
        for (conn, l) in &mut self.learners {
            if l.forwarding() && !l.observer {
                if matches!(l.stage, Stage::Established | Stage::Broadcast) {
                    l.unacked.push_back((zxid, tick));
                }
                self.out.push(Action::Send {
                    to: *conn,
                    zxid: zxid.0,
                    payload: Payload::Proposal(entry.clone()),
                });
            }
        }
        self.outstanding.insert(
            zxid,
            Proposal {
                txn: entry.clone(),
                acks: BTreeSet::new(),
            },
        );
        self.out.push(Action::Log(entry));
        self.take()
    }

    /// The front end's answer to [`Action::Revalidate`].
    pub fn revalidated(&mut self, conn: LearnerConn, session: i64, valid: bool) -> Vec<Action> {
        let Some(l) = self.learners.get_mut(&conn) else {
            return Vec::new();
        };
        let Some(pos) = l.revalidations.iter().position(|(s, _)| *s == session) else {
            return Vec::new();
        };
        let (session_id, zxid) = l.revalidations.remove(pos).expect("position found");
        self.send(
            conn,
            zxid,
            Payload::RevalidateReply(RevalidateReply { session_id, valid }),
        );
        self.take()
    }

    /// A learner's sync reached the head of the request pipeline (`processSync`): SYNC now if nothing is
    /// outstanding, else once the last proposal is committed. A learner that has gone gets nothing.
    pub fn sync(&mut self, conn: LearnerConn) -> Vec<Action> {
        if !self.learners.contains_key(&conn) {
            return Vec::new();
        }
        if self.outstanding.is_empty() {
            self.send(conn, 0, Payload::Sync);
        } else {
            let last = self.last_proposed;
            self.pending_syncs.entry(last).or_default().push(conn);
        }
        self.take()
    }

    /// One tick of time.
    pub fn tick(&mut self) -> Result<Vec<Action>, LeaderError> {
        if self.rolled_over {
            return Err(LeaderError::ZxidRollover);
        }
        self.expire_silent_learners();
        match self.phase {
            // Our own writes: ZooKeeper's wait has not begun.
            Phase::WritingAcceptedEpoch | Phase::WritingCurrentEpoch => {}
            Phase::Epoch | Phase::EpochAck | Phase::NewLeaderAck => {
                self.phase_ticks += 1;
                if self.phase_ticks >= self.cfg.init_limit_ticks {
                    return Err(self.wait_timeout());
                }
            }
            Phase::Broadcast => {
                self.tick += 1;
                let mut synced: BTreeSet<ServerId> = BTreeSet::from([self.cfg.my_id]);
                synced.extend(
                    self.learners
                        .values()
                        .filter(|l| self.tick <= l.deadline_tick)
                        .filter_map(|l| l.sid),
                );
                if !self.quorum.contains_quorum(&synced) {
                    return Err(LeaderError::NotSufficientFollowersSynced(ids(&synced)));
                }
                self.ping_learners();
            }
        }
        Ok(self.take())
    }

    fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }

    fn send(&mut self, to: LearnerConn, zxid: i64, payload: Payload) {
        self.out.push(Action::Send { to, zxid, payload });
    }

    fn drop_learner(&mut self, conn: LearnerConn, reason: String) {
        self.forget(conn);
        self.out.push(Action::Drop { conn, reason });
    }

    /// `getTickOfInitialAckDeadline`.
    fn initial_deadline(&self) -> u64 {
        self.tick + self.cfg.init_limit_ticks + self.cfg.sync_limit_ticks
    }

    fn wait_timeout(&self) -> LeaderError {
        match self.phase {
            Phase::Epoch => LeaderError::EpochTimeout(ids(&self.connecting)),
            Phase::EpochAck => LeaderError::EpochAckTimeout(ids(&self.electing)),
            _ => LeaderError::NewLeaderAckTimeout(ids(&self.new_leader_acks)),
        }
    }

    /// `getEpochToPropose` for one registrant.
    fn propose_epoch(&mut self, sid: ServerId, accepted_epoch: i64) {
        if accepted_epoch >= self.epoch {
            self.epoch = accepted_epoch + 1;
        }
        if self.quorum.is_voter(sid) {
            self.connecting.insert(sid);
        }
        if self.connecting.contains(&self.cfg.my_id) && self.quorum.contains_quorum(&self.connecting) {
            self.phase = Phase::WritingAcceptedEpoch;
            self.persisted.accepted_epoch = self.epoch;
            self.out.push(Action::WriteAcceptedEpoch(self.epoch));
        }
    }

    /// acceptedEpoch is durable: LEADERINFO to everyone registered, then the leader's own `waitForEpochAck`.
    fn epoch_chosen(&mut self) {
        self.last_proposed = Zxid(self.epoch << 32);
        self.phase = Phase::EpochAck;
        self.phase_ticks = 0;
        let waiting: Vec<LearnerConn> = self
            .learners
            .iter()
            .filter(|(_, l)| l.stage == Stage::Epoch)
            .map(|(c, _)| *c)
            .collect();
        for conn in waiting {
            self.send_leader_info(conn);
        }
        self.electing.insert(self.cfg.my_id);
        self.check_epoch_acks();
    }

    fn check_epoch_acks(&mut self) {
        if self.phase == Phase::EpochAck
            && self.electing.contains(&self.cfg.my_id)
            && self.quorum.contains_quorum(&self.electing)
        {
            self.phase = Phase::WritingCurrentEpoch;
            self.persisted.current_epoch = self.epoch;
            self.out.push(Action::WriteCurrentEpoch(self.epoch));
        }
    }

    /// currentEpoch is durable: the leader ACKs its own NEWLEADER and syncs every learner that acknowledged
    /// the epoch.
    fn current_epoch_written(&mut self) {
        self.phase = Phase::NewLeaderAck;
        self.phase_ticks = 0;
        let waiting: Vec<(LearnerConn, Zxid)> = self
            .learners
            .iter()
            .filter_map(|(c, l)| match l.stage {
                Stage::Sync(peer) => Some((*c, peer)),
                _ => None,
            })
            .collect();
        for (conn, peer) in waiting {
            self.sync_learner(conn, peer);
        }
        self.new_leader_acks.insert(self.cfg.my_id);
        self.check_new_leader_acks();
    }

    fn check_new_leader_acks(&mut self) {
        if self.phase == Phase::NewLeaderAck && self.quorum.contains_quorum(&self.new_leader_acks) {
            self.establish();
        }
    }

    /// `startZkServer`: the epoch's zxids start, and every learner that ACKed NEWLEADER gets UPTODATE.
    fn establish(&mut self) {
        self.phase = Phase::Broadcast;
        let start = Zxid(self.epoch << 32);
        self.last_committed = start;
        self.last_processed = start;
        self.out.push(Action::Established { epoch: self.epoch });
        let waiting: Vec<LearnerConn> = self
            .learners
            .iter()
            .filter(|(_, l)| l.stage == Stage::Established)
            .map(|(c, _)| *c)
            .collect();
        for conn in waiting {
            self.send_up_to_date(conn);
        }
    }

    /// `processAck`: ACKs of NEWLEADER or UPTODATE (counter 0), of committed or unknown zxids are ignored;
    /// only voters count.
    fn process_ack(&mut self, sid: ServerId, zxid: Zxid) {
        if zxid.counter() == 0 || zxid <= self.last_committed || !self.quorum.is_voter(sid) {
            return;
        }
        let Some(p) = self.outstanding.get_mut(&zxid) else {
            return;
        };
        p.acks.insert(sid);
        self.commit_ready();
    }

    /// `tryToCommit` from the oldest outstanding proposal on: a proposal commits only when everything
    /// before it has (ZooKeeper checks that `zxid - 1` is not outstanding). ZooKeeper tries only the ACKed
    /// zxid; going on to the next ones commits nothing it would not, since ACKs of one learner arrive in
    /// order, and keeps the leader's own range ACK ([`Durable::LogUpTo`]) from leaving a quorum unnoticed.
    fn commit_ready(&mut self) {
        while let Some(entry) = self.outstanding.first_entry() {
            if !self.quorum.contains_quorum(&entry.get().acks) {
                break;
            }
            let zxid = *entry.key();
            let txn = entry.remove().txn;
            self.commit(zxid, txn);
        }
    }

    /// COMMIT to the followers, INFORM to the observers, apply, then the syncs that waited for it.
    fn commit(&mut self, zxid: Zxid, txn: TxnEntry) {
        self.last_committed = zxid;
        let targets: Vec<(LearnerConn, bool)> = self
            .learners
            .iter()
            .filter(|(_, l)| l.forwarding())
            .map(|(c, l)| (*c, l.observer))
            .collect();
        for &(conn, observer) in &targets {
            if !observer {
                self.send(conn, zxid.0, Payload::Commit);
            }
        }
        for &(conn, observer) in &targets {
            if observer {
                self.send(conn, zxid.0, Payload::Inform(txn.clone()));
            }
        }
        self.out.push(Action::Commit(zxid));
        self.last_processed = zxid;
        self.committed_log.push_back(txn);
        while self.committed_log.len() > self.cfg.committed_log_max {
            self.committed_log.pop_front();
        }
        if let Some(conns) = self.pending_syncs.remove(&zxid) {
            for conn in conns {
                self.send(conn, 0, Payload::Sync);
            }
        }
    }
}

/// `version=` of a configuration text, hexadecimal (`QuorumMaj`); 0 without one.
fn config_version(text: &[u8]) -> i64 {
    String::from_utf8_lossy(text)
        .lines()
        .filter_map(|line| line.trim().strip_prefix("version="))
        .find_map(|v| i64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

fn ids(set: &BTreeSet<ServerId>) -> Vec<i64> {
    set.iter().map(|s| s.0).collect()
}

#[path = "leader_handler.rs"]
mod handler;

#[cfg(test)]
#[path = "leader_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "leader_ensemble_tests.rs"]
mod ensemble_tests;
