//! The learner side of ZAB's discovery and synchronisation as a pure state machine: `Learner.registerWithLeader`
//! and `Learner.syncWithLeader` of ZooKeeper 3.9, then the follower's part of broadcast (log, ACK once durable,
//! apply on COMMIT).
//!
//! Inputs: [`Learner::start`] (with what the member has persisted), packets from the leader
//! ([`Learner::receive`]), completed durable writes ([`Learner::persisted`]) and [`Learner::tick`]. Outputs
//! ([`Action`]): packets to send, epoch-file writes, log truncation, txns to log or to apply directly, commits,
//! the snapshot to install from the stream and the snapshot to take. ZooKeeper does every write of the sync
//! synchronously on the thread that reads the leader's packets; here a write that ZooKeeper waits for is an
//! action with a [`Durable`] token, and packets that arrive before the caller reports it durable are held and
//! handled afterwards, in order, as ZooKeeper would read them after its write returned.
//!
//! The order, as ZooKeeper 3.9 does it:
//! - FOLLOWERINFO (zxid `acceptedEpoch << 32`, LearnerInfo); LEADERINFO with a newer epoch: write
//!   acceptedEpoch, then ACKEPOCH (zxid = last logged zxid, data = currentEpoch); the same epoch: ACKEPOCH with
//!   -1 at once; an older one: fail.
//! - DIFF: txns go to the log, nothing is applied before NEWLEADER. SNAP: load the database that follows on
//!   the stream, lastProcessedZxid = the SNAP zxid. TRUNC: truncate the log to its zxid. Anything else fails.
//! - Until NEWLEADER, PROPOSALs are queued; a COMMIT after SNAP or TRUNC applies the head of the queue in
//!   memory (not logged: the snapshot taken at NEWLEADER holds it); after DIFF it is remembered.
//! - NEWLEADER: after SNAP or TRUNC take a snapshot (synced after SNAP); log and apply the remembered commits
//!   and make the log durable (ZOOKEEPER-3911, -4646); write currentEpoch (ZOOKEEPER-4785); then ACK with the
//!   NEWLEADER zxid. Proposals and commits keep being queued.
//! - UPTODATE: ACK `newEpoch << 32`, start serving, log every queued proposal (each ACKed once durable, as the
//!   follower's sync processor does) and commit the queued commits.
//!
//! ZooKeeper 3.8 (through 3.8.4) differs at NEWLEADER: it writes currentEpoch before logging, logs every queued
//! proposal without waiting for it to be durable, and ACKs them once durable, committed or not; its leader
//! ignores ACKs for committed zxids. Reconfiguration during sync (COMMITANDACTIVATE, INFORMANDACTIVATE) and
//! leaders older than protocol 0x10000 (no LEADERINFO) are refused with an error naming them.
//!
//! Time is in ticks: with no packet from the leader for `init_limit` ticks before the NEWLEADER ACK, or
//! `sync_limit` ticks after it, the learner gives up, as ZooKeeper's socket timeout does. Ticks spent waiting
//! for our own writes do not count (ZooKeeper is not reading then).

use std::collections::VecDeque;

use jute::codes::PacketType;
use jute::quorum::{Payload, PROTOCOL_VERSION};
use jute::records::quorum::LearnerInfo;
use jute::txn_entry::TxnEntry;

use crate::types::{ServerId, Zxid};

/// What the learner is and how long it waits for its leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnerConfig {
    pub my_id: ServerId,
    /// OBSERVERINFO instead of FOLLOWERINFO.
    pub observer: bool,
    /// The version of this member's quorum configuration (LearnerInfo.configVersion).
    pub config_version: i64,
    pub init_limit_ticks: u64,
    pub sync_limit_ticks: u64,
}

/// What the member has persisted when it connects to its leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Persisted {
    pub accepted_epoch: i64,
    pub current_epoch: i64,
    pub last_logged_zxid: Zxid,
    /// The database was loaded with no snapshot on disk (ZooKeeper's
    /// `shouldForceWriteInitialSnapshotAfterLeaderElection`): even a DIFF sync ends with a synced snapshot.
    pub needs_initial_snapshot: bool,
}

/// A write the learner waits for, reported back with [`Learner::persisted`] once durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durable {
    AcceptedEpoch,
    CurrentEpoch,
    Snapshot,
    /// The log, up to and including this zxid.
    LogUpTo(Zxid),
}

/// What the caller must do, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this packet to the leader.
    Send { zxid: i64, payload: Payload },
    /// Write the acceptedEpoch file, then report [`Durable::AcceptedEpoch`].
    WriteAcceptedEpoch(i64),
    /// Write the currentEpoch file, then report [`Durable::CurrentEpoch`].
    WriteCurrentEpoch(i64),
    /// Drop every logged txn after this zxid (and what was applied from them).
    TruncateLog(Zxid),
    /// Clear the database and load the one that follows the SNAP packet on the stream; its last processed
    /// zxid is this one.
    InstallSnapshot(Zxid),
    /// Apply this txn to the database without logging it (a commit before NEWLEADER after SNAP or TRUNC).
    Apply(TxnEntry),
    /// Append this txn to the log. Report [`Durable::LogUpTo`] when it is durable if [`Action::SyncLog`] or
    /// the broadcast phase asks for it.
    Log(TxnEntry),
    /// Apply the logged txn with this zxid.
    Commit(Zxid),
    /// Make the log durable up to this zxid, then report [`Durable::LogUpTo`].
    SyncLog(Zxid),
    /// Take a snapshot of the database (fsynced and renamed into place when `sync`), then report
    /// [`Durable::Snapshot`].
    TakeSnapshot { sync: bool },
    /// Synchronisation is over: serve clients (and vote for this leader's epoch in elections,
    /// `updateElectionVote`).
    StartServing,
    /// The leader pinged: answer PING with this zxid and the sessions touched since the last answer.
    AnswerPing(i64),
    /// A packet for the server layer (REVALIDATE answers, SYNC).
    Deliver { zxid: i64, payload: Payload },
}

/// Why the learner gives up on this leader (ZooKeeper closes the connection and goes back to election).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LearnerError {
    #[error("leader's epoch {leader} is less than our accepted epoch {accepted}")]
    StaleLeaderEpoch { leader: i64, accepted: i64 },
    #[error("leader sent {got:?} where {want} was expected")]
    Unexpected { got: PacketType, want: &'static str },
    #[error("leader protocol older than 0x10000 (first packet NEWLEADER, no LEADERINFO) is not supported")]
    PreZab10Leader,
    #[error("reconfiguration during sync ({0}) is not supported")]
    ReconfigDuringSync(&'static str),
    #[error("COMMIT of {0} with no proposal queued")]
    CommitWithoutProposal(Zxid),
    #[error("no packet from the leader for {0} ticks")]
    Timeout(u64),
    #[error("a durable write was reported that was not asked for: {0:?}")]
    UnexpectedDurable(Durable),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// FOLLOWERINFO sent, waiting for LEADERINFO.
    Discovery,
    /// ACKEPOCH sent, waiting for DIFF, SNAP or TRUNC.
    SyncMode,
    /// Proposals and commits until NEWLEADER, then until UPTODATE.
    Syncing,
    /// UPTODATE received.
    Broadcast,
}

/// What to do once the write being waited for is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    AckEpoch {
        current_epoch: i64,
    },
    /// At NEWLEADER: the snapshot is taken; next log the remembered commits.
    NewLeaderLog,
    /// At NEWLEADER: the commits are durable; next write currentEpoch.
    NewLeaderEpoch,
    /// At NEWLEADER: currentEpoch is written; next ACK.
    NewLeaderAck,
    /// UPTODATE before NEWLEADER (pre-1.0 order): the snapshot is taken; next write currentEpoch.
    UpToDateEpoch,
    /// UPTODATE before NEWLEADER: currentEpoch is written; next finish.
    UpToDateFinish,
}

/// One learner's connection to its leader, from FOLLOWERINFO on.
#[derive(Debug, Clone)]
pub struct Learner {
    cfg: LearnerConfig,
    persisted: Persisted,
    phase: Phase,
    new_epoch: i64,
    new_leader_zxid: i64,
    /// ZooKeeper's `snapshotNeeded`: false after DIFF.
    snapshot_needed: bool,
    /// ZooKeeper's `syncSnapshot`: true after SNAP.
    sync_snapshot: bool,
    /// ZooKeeper's `writeToTxnLog`.
    write_to_log: bool,
    /// True once NEWLEADER was handled (ZooKeeper's `!isPreZAB1_0`).
    new_leader_seen: bool,
    /// `packetsNotLogged`.
    not_logged: VecDeque<TxnEntry>,
    /// `packetsCommitted`.
    committed: VecDeque<Zxid>,
    /// Broadcast: proposals logged and not yet ACKed, in order.
    unacked: VecDeque<Zxid>,
    waiting: Option<(Durable, Then)>,
    held: VecDeque<(i64, Payload)>,
    idle_ticks: u64,
    out: Vec<Action>,
}

impl Learner {
    /// Registers with the leader: the first packet (FOLLOWERINFO or OBSERVERINFO) is in the returned actions.
    pub fn start(cfg: LearnerConfig, persisted: Persisted) -> (Learner, Vec<Action>) {
        let info = LearnerInfo {
            serverid: cfg.my_id.0,
            protocol_version: PROTOCOL_VERSION,
            config_version: cfg.config_version,
        };
        let payload = if cfg.observer {
            Payload::ObserverInfo(info)
        } else {
            Payload::FollowerInfo(info)
        };
        let mut learner = Learner {
            cfg,
            persisted,
            phase: Phase::Discovery,
            new_epoch: 0,
            new_leader_zxid: 0,
            snapshot_needed: true,
            sync_snapshot: false,
            write_to_log: false,
            new_leader_seen: false,
            not_logged: VecDeque::new(),
            committed: VecDeque::new(),
            unacked: VecDeque::new(),
            waiting: None,
            held: VecDeque::new(),
            idle_ticks: 0,
            out: Vec::new(),
        };
        learner.send(epoch_zxid(persisted.accepted_epoch), payload);
        let out = std::mem::take(&mut learner.out);
        (learner, out)
    }

    /// True once UPTODATE has been handled.
    pub fn is_serving(&self) -> bool {
        self.phase == Phase::Broadcast
    }

    /// The epoch the leader proposed (0 before LEADERINFO).
    pub fn new_epoch(&self) -> i64 {
        self.new_epoch
    }

    /// A packet from the leader.
    pub fn receive(&mut self, zxid: i64, payload: Payload) -> Result<Vec<Action>, LearnerError> {
        self.idle_ticks = 0;
        if self.waiting.is_some() {
            self.held.push_back((zxid, payload));
            return Ok(Vec::new());
        }
        self.handle(zxid, payload)?;
        Ok(std::mem::take(&mut self.out))
    }

    /// A write asked for is durable.
    pub fn persisted(&mut self, what: Durable) -> Result<Vec<Action>, LearnerError> {
        match (self.waiting, what) {
            (Some((want, then)), got) if want == got => {
                self.waiting = None;
                self.continue_with(then)?;
                while self.waiting.is_none() {
                    let Some((zxid, payload)) = self.held.pop_front() else {
                        break;
                    };
                    self.handle(zxid, payload)?;
                }
            }
            (_, Durable::LogUpTo(up_to)) if self.phase == Phase::Broadcast => {
                while self.unacked.front().is_some_and(|z| *z <= up_to) {
                    let z = self.unacked.pop_front().expect("front checked");
                    self.send(z.0, Payload::Ack);
                }
            }
            (_, got) => return Err(LearnerError::UnexpectedDurable(got)),
        }
        Ok(std::mem::take(&mut self.out))
    }

    /// One tick of time.
    pub fn tick(&mut self) -> Result<(), LearnerError> {
        if self.waiting.is_some() {
            return Ok(());
        }
        self.idle_ticks += 1;
        let limit = if self.new_leader_seen {
            self.cfg.sync_limit_ticks
        } else {
            self.cfg.init_limit_ticks
        };
        if self.idle_ticks >= limit {
            return Err(LearnerError::Timeout(self.idle_ticks));
        }
        Ok(())
    }

    fn send(&mut self, zxid: i64, payload: Payload) {
        self.out.push(Action::Send { zxid, payload });
    }

    fn wait(&mut self, what: Durable, then: Then) {
        self.waiting = Some((what, then));
    }

    fn handle(&mut self, zxid: i64, payload: Payload) -> Result<(), LearnerError> {
        match self.phase {
            Phase::Discovery => self.discovery(zxid, payload),
            Phase::SyncMode => self.sync_mode(zxid, payload),
            Phase::Syncing => self.syncing(zxid, payload),
            Phase::Broadcast => {
                self.broadcast(zxid, payload);
                Ok(())
            }
        }
    }

    fn discovery(&mut self, zxid: i64, payload: Payload) -> Result<(), LearnerError> {
        let new_epoch = zxid >> 32;
        match payload {
            Payload::LeaderInfo { .. } => {
                self.new_epoch = new_epoch;
                self.new_leader_zxid = epoch_zxid(new_epoch);
                self.phase = Phase::SyncMode;
                let accepted = self.persisted.accepted_epoch;
                if new_epoch > accepted {
                    self.persisted.accepted_epoch = new_epoch;
                    self.out.push(Action::WriteAcceptedEpoch(new_epoch));
                    self.wait(
                        Durable::AcceptedEpoch,
                        Then::AckEpoch {
                            current_epoch: self.persisted.current_epoch,
                        },
                    );
                    Ok(())
                } else if new_epoch == accepted {
                    self.continue_with(Then::AckEpoch { current_epoch: -1 })
                } else {
                    Err(LearnerError::StaleLeaderEpoch {
                        leader: new_epoch,
                        accepted,
                    })
                }
            }
            Payload::NewLeader { .. } => Err(LearnerError::PreZab10Leader),
            other => Err(LearnerError::Unexpected {
                got: other.packet_type(),
                want: "LEADERINFO",
            }),
        }
    }

    fn sync_mode(&mut self, zxid: i64, payload: Payload) -> Result<(), LearnerError> {
        match payload {
            Payload::Diff => {
                if self.persisted.needs_initial_snapshot {
                    self.sync_snapshot = true;
                } else {
                    self.snapshot_needed = false;
                }
            }
            Payload::Snap => {
                self.out.push(Action::InstallSnapshot(Zxid(zxid)));
                self.sync_snapshot = true;
            }
            Payload::Trunc => {
                self.out.push(Action::TruncateLog(Zxid(zxid)));
            }
            other => {
                return Err(LearnerError::Unexpected {
                    got: other.packet_type(),
                    want: "DIFF, SNAP or TRUNC",
                })
            }
        }
        self.write_to_log = !self.snapshot_needed;
        self.phase = Phase::Syncing;
        Ok(())
    }

    fn syncing(&mut self, zxid: i64, payload: Payload) -> Result<(), LearnerError> {
        match payload {
            Payload::Proposal(txn) => self.not_logged.push_back(txn),
            Payload::Commit => {
                let head = self
                    .not_logged
                    .front()
                    .ok_or(LearnerError::CommitWithoutProposal(Zxid(zxid)))?;
                if !self.write_to_log {
                    // A commit that is not the head is skipped (ZooKeeper logs a warning).
                    if head.header.zxid == zxid {
                        let txn = self.not_logged.pop_front().expect("head checked");
                        self.out.push(Action::Apply(txn));
                    }
                } else {
                    self.committed.push_back(Zxid(zxid));
                }
            }
            Payload::Inform(txn) => {
                if !self.write_to_log {
                    self.out.push(Action::Apply(txn));
                } else {
                    self.not_logged.push_back(txn);
                    self.committed.push_back(Zxid(zxid));
                }
            }
            Payload::CommitAndActivate { .. } => {
                return Err(LearnerError::ReconfigDuringSync("COMMITANDACTIVATE"))
            }
            Payload::InformAndActivate { .. } => {
                return Err(LearnerError::ReconfigDuringSync("INFORMANDACTIVATE"))
            }
            Payload::NewLeader { .. } => {
                self.new_leader_seen = true;
                if self.snapshot_needed {
                    self.out.push(Action::TakeSnapshot {
                        sync: self.sync_snapshot,
                    });
                    self.wait(Durable::Snapshot, Then::NewLeaderLog);
                } else {
                    self.continue_with(Then::NewLeaderLog)?;
                }
            }
            Payload::UpToDate => {
                if self.new_leader_seen {
                    self.finish_sync();
                } else {
                    self.out.push(Action::TakeSnapshot {
                        sync: self.sync_snapshot,
                    });
                    self.wait(Durable::Snapshot, Then::UpToDateEpoch);
                }
            }
            // ZooKeeper's sync loop has no case for the other types: they are read and dropped.
            Payload::Request(_)
            | Payload::Ack
            | Payload::LeaderPing
            | Payload::LearnerPing(_)
            | Payload::RevalidateRequest(_)
            | Payload::RevalidateReply(_)
            | Payload::Sync
            | Payload::FollowerInfo(_)
            | Payload::Diff
            | Payload::Trunc
            | Payload::Snap
            | Payload::ObserverInfo(_)
            | Payload::LeaderInfo { .. }
            | Payload::AckEpoch { .. } => {}
        }
        Ok(())
    }

    fn continue_with(&mut self, then: Then) -> Result<(), LearnerError> {
        match then {
            Then::AckEpoch { current_epoch } => {
                // ZooKeeper writes `(int) currentEpoch`: the low 32 bits.
                let data = current_epoch as i32;
                self.send(
                    self.persisted.last_logged_zxid.0,
                    Payload::AckEpoch { current_epoch: data },
                );
            }
            Then::NewLeaderLog => {
                self.write_to_log = true;
                let mut last = None;
                // A follower logs and applies what the leader committed before ACKing; an observer keeps it for
                // UPTODATE.
                while !self.cfg.observer {
                    let Some(zxid) = self.committed.pop_front() else {
                        break;
                    };
                    // A commit that is not the head of the queue is skipped (ZooKeeper logs a warning).
                    if self.not_logged.front().is_some_and(|t| t.header.zxid == zxid.0) {
                        let txn = self.not_logged.pop_front().expect("head checked");
                        self.out.push(Action::Log(txn));
                        self.out.push(Action::Commit(zxid));
                        last = Some(zxid);
                    }
                }
                match last {
                    Some(zxid) => {
                        self.out.push(Action::SyncLog(zxid));
                        self.wait(Durable::LogUpTo(zxid), Then::NewLeaderEpoch);
                    }
                    None => self.continue_with(Then::NewLeaderEpoch)?,
                }
            }
            Then::NewLeaderEpoch => {
                self.persisted.current_epoch = self.new_epoch;
                self.out.push(Action::WriteCurrentEpoch(self.new_epoch));
                self.wait(Durable::CurrentEpoch, Then::NewLeaderAck);
            }
            Then::NewLeaderAck => {
                self.idle_ticks = 0;
                self.send(self.new_leader_zxid, Payload::Ack);
            }
            Then::UpToDateEpoch => {
                self.persisted.current_epoch = self.new_epoch;
                self.out.push(Action::WriteCurrentEpoch(self.new_epoch));
                self.wait(Durable::CurrentEpoch, Then::UpToDateFinish);
            }
            Then::UpToDateFinish => self.finish_sync(),
        }
        Ok(())
    }

    /// UPTODATE: ACK, serve, then (a follower) log what is still queued and commit what was committed, or (an
    /// observer) log and commit each queued txn that the next commit names, dropping the others.
    fn finish_sync(&mut self) {
        self.phase = Phase::Broadcast;
        self.send(epoch_zxid(self.new_epoch), Payload::Ack);
        self.out.push(Action::StartServing);
        if self.cfg.observer {
            while let Some(txn) = self.not_logged.pop_front() {
                let zxid = Zxid(txn.header.zxid);
                if self.committed.front() == Some(&zxid) {
                    self.committed.pop_front();
                    self.out.push(Action::Log(txn));
                    self.out.push(Action::Commit(zxid));
                }
            }
            return;
        }
        while let Some(txn) = self.not_logged.pop_front() {
            self.log_proposal(txn);
        }
        while let Some(zxid) = self.committed.pop_front() {
            self.out.push(Action::Commit(zxid));
        }
    }

    fn log_proposal(&mut self, txn: TxnEntry) {
        if !self.cfg.observer {
            self.unacked.push_back(Zxid(txn.header.zxid));
        }
        self.out.push(Action::Log(txn));
    }

    fn broadcast(&mut self, zxid: i64, payload: Payload) {
        match payload {
            Payload::Proposal(txn) => self.log_proposal(txn),
            Payload::Commit => self.out.push(Action::Commit(Zxid(zxid))),
            Payload::LeaderPing => self.out.push(Action::AnswerPing(zxid)),
            Payload::Inform(txn) => {
                self.out.push(Action::Log(txn));
                self.out.push(Action::Commit(Zxid(zxid)));
            }
            p @ (Payload::RevalidateReply(_)
            | Payload::Sync
            | Payload::CommitAndActivate { .. }
            | Payload::InformAndActivate { .. }
            | Payload::Request(_)
            | Payload::Ack
            | Payload::LearnerPing(_)
            | Payload::RevalidateRequest(_)
            | Payload::NewLeader { .. }
            | Payload::FollowerInfo(_)
            | Payload::UpToDate
            | Payload::Diff
            | Payload::Trunc
            | Payload::Snap
            | Payload::ObserverInfo(_)
            | Payload::LeaderInfo { .. }
            | Payload::AckEpoch { .. }) => self.out.push(Action::Deliver { zxid, payload: p }),
        }
    }
}

fn epoch_zxid(epoch: i64) -> i64 {
    epoch << 32
}

#[cfg(test)]
#[path = "learner_tests.rs"]
pub(super) mod tests;
