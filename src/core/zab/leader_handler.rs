//! One learner's connection as the leader sees it: ZooKeeper 3.9's `LearnerHandler.run` (FOLLOWERINFO or
//! OBSERVERINFO, LEADERINFO, ACKEPOCH, the sync and NEWLEADER, its ACK, UPTODATE, then the read loop of ACK,
//! PING, REVALIDATE and REQUEST), its socket timeouts and `ping`. The decisions that involve every learner
//! (the epoch, the quorums, commits) are `Leader`'s, in `leader.rs`.

use std::collections::VecDeque;

use jute::quorum::{Payload, PROTOCOL_VERSION};
use jute::records::data::Id;
use jute::records::quorum::LearnerInfo;
use jute::txn_entry::TxnEntry;

use super::{Action, Leader, LearnerConn, Phase};
use crate::core::zab::leader_sync::{plan_sync, plan_sync_from_log, LogTail, SyncPlan};
use crate::types::{ServerId, Zxid};

/// Where one learner's handler is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    /// Connected; FOLLOWERINFO or OBSERVERINFO comes first.
    Info,
    /// Registered, waiting for the epoch to be chosen.
    Epoch,
    /// LEADERINFO sent, waiting for ACKEPOCH.
    AckEpoch,
    /// ACKEPOCH received (its last zxid), waiting for currentEpoch to be durable before the sync.
    Sync(Zxid),
    /// Behind the in-memory log (its last zxid): waiting for the on-disk log to be read for a DIFF.
    ReadingLog(Zxid),
    /// Synced and NEWLEADER sent: now receives proposals and commits; waiting for the NEWLEADER ACK.
    NewLeaderAck,
    /// NEWLEADER ACKed, waiting for the epoch to be established.
    Established,
    /// UPTODATE sent: the broadcast read loop.
    Broadcast,
}

#[derive(Debug, Clone)]
pub(super) struct LearnerState {
    pub(super) sid: Option<ServerId>,
    pub(super) observer: bool,
    pub(super) stage: Stage,
    /// Ticks since the handler began waiting for this learner's next packet.
    pub(super) silent_ticks: u64,
    /// `tickOfNextAckDeadline`: counted as synced up to this tick.
    pub(super) deadline_tick: u64,
    /// `SyncLimitCheck`: proposals sent since the NEWLEADER ACK and not yet ACKed, with the tick of sending.
    pub(super) unacked: VecDeque<(Zxid, u64)>,
    /// REVALIDATE requests awaiting an answer: session and the zxid to answer with.
    pub(super) revalidations: VecDeque<(i64, i64)>,
}

impl LearnerState {
    /// In `forwardingFollowers` or `observingLearners`: sent everything committed or proposed from now on.
    pub(super) fn forwarding(&self) -> bool {
        matches!(
            self.stage,
            Stage::NewLeaderAck | Stage::Established | Stage::Broadcast
        )
    }
}

impl Leader {
    /// The handler's socket timeout: initLimit while the handler reads during discovery and sync, syncLimit
    /// in the broadcast loop; waits on the leader are bounded by initLimit too.
    pub(super) fn expire_silent_learners(&mut self) {
        let mut expired = Vec::new();
        for (conn, l) in &mut self.learners {
            let limit = match l.stage {
                Stage::Established => continue,
                Stage::Broadcast => self.cfg.sync_limit_ticks,
                _ => self.cfg.init_limit_ticks,
            };
            l.silent_ticks += 1;
            if l.silent_ticks >= limit {
                expired.push((*conn, l.silent_ticks));
            }
        }
        for (conn, ticks) in expired {
            self.drop_learner(conn, format!("no packet from the learner for {ticks} ticks"));
        }
    }

    /// `LearnerHandler.ping` for each learner past its sync: PING with the last proposed zxid, or the
    /// connection closed when a proposal went un-ACKed for syncLimit ticks.
    pub(super) fn ping_learners(&mut self) {
        let mut late = Vec::new();
        let mut ping = Vec::new();
        for (conn, l) in &self.learners {
            if !l.forwarding() {
                continue;
            }
            match l.unacked.front() {
                Some((zxid, sent)) if self.tick - sent >= self.cfg.sync_limit_ticks => {
                    late.push((*conn, *zxid))
                }
                _ => ping.push(*conn),
            }
        }
        for conn in ping {
            self.send(conn, self.last_proposed.0, Payload::LeaderPing);
        }
        for (conn, zxid) in late {
            self.drop_learner(
                conn,
                format!("transaction timeout: proposal {zxid} not acknowledged"),
            );
        }
    }

    pub(super) fn send_leader_info(&mut self, conn: LearnerConn) {
        if let Some(l) = self.learners.get_mut(&conn) {
            l.stage = Stage::AckEpoch;
            l.silent_ticks = 0;
        }
        self.send(
            conn,
            self.epoch << 32,
            Payload::LeaderInfo {
                protocol_version: PROTOCOL_VERSION,
            },
        );
    }

    /// The deadline for counting as synced stays the one set at connection until the learner's first packet
    /// in the read loop, as ZooKeeper's `tickOfNextAckDeadline`.
    pub(super) fn send_up_to_date(&mut self, conn: LearnerConn) {
        if let Some(l) = self.learners.get_mut(&conn) {
            l.stage = Stage::Broadcast;
            l.silent_ticks = 0;
        }
        self.send(conn, -1, Payload::UpToDate);
    }

    /// FOLLOWERINFO or OBSERVERINFO, the first packet of a connection.
    pub(super) fn registration(&mut self, conn: LearnerConn, zxid: i64, payload: Payload) {
        let (info, observer): (LearnerInfo, bool) = match payload {
            Payload::FollowerInfo(info) => (info, false),
            Payload::ObserverInfo(info) => (info, true),
            other => {
                let reason = format!(
                    "first packet {:?} is not FOLLOWERINFO or OBSERVERINFO",
                    other.packet_type()
                );
                return self.drop_learner(conn, reason);
            }
        };
        if info.config_version > self.config_version {
            let reason = "Follower is ahead of the leader (has a later activated configuration)";
            return self.drop_learner(conn, reason.to_owned());
        }
        if info.protocol_version < PROTOCOL_VERSION {
            let reason = format!(
                "learner protocol 0x{:x} is older than 0x10000 (no LEADERINFO): not supported",
                info.protocol_version
            );
            return self.drop_learner(conn, reason);
        }
        let sid = ServerId(info.serverid);
        if let Some(l) = self.learners.get_mut(&conn) {
            l.sid = Some(sid);
            l.observer = observer;
            l.stage = Stage::Epoch;
        }
        match self.phase {
            Phase::Epoch => self.propose_epoch(sid, zxid >> 32),
            Phase::WritingAcceptedEpoch => {}
            _ => self.send_leader_info(conn),
        }
    }

    /// ACKEPOCH: `waitForEpochAck` for this learner.
    pub(super) fn ack_epoch(&mut self, conn: LearnerConn, zxid: i64, payload: Payload) {
        let Payload::AckEpoch { current_epoch } = payload else {
            let reason = format!("{:?} is not ACKEPOCH", payload.packet_type());
            return self.drop_learner(conn, reason);
        };
        let Some(sid) = self.learners.get(&conn).and_then(|l| l.sid) else {
            return;
        };
        if self.phase == Phase::EpochAck && current_epoch != -1 {
            // The leader's summary as `lead()` took it at the start: currentEpoch is only written once this
            // wait is over.
            let current_epoch = i64::from(current_epoch);
            let leader = (self.persisted.current_epoch, self.persisted.last_zxid.0);
            if (current_epoch, zxid) > leader {
                let reason = format!(
                    "Follower is ahead of the leader, leader summary: {} (current epoch), {} (last zxid)",
                    leader.0,
                    Zxid(leader.1)
                );
                return self.drop_learner(conn, reason);
            }
            if self.quorum.is_voter(sid) {
                self.electing.insert(sid);
            }
        }
        if let Some(l) = self.learners.get_mut(&conn) {
            l.stage = Stage::Sync(Zxid(zxid));
        }
        self.check_epoch_acks();
        if self.phase >= Phase::NewLeaderAck {
            self.sync_learner(conn, Zxid(zxid));
        }
    }

    /// `syncFollower`, `startForwarding` and NEWLEADER; a learner behind the in-memory log first has the
    /// on-disk log read ([`Action::ReadLog`], answered with [`Leader::log_read`]).
    pub(super) fn sync_learner(&mut self, conn: LearnerConn, peer_last: Zxid) {
        let plan = plan_sync(&self.committed_log, self.last_processed, peer_last);
        if let SyncPlan::FromLog { up_to } = plan {
            if let Some(l) = self.learners.get_mut(&conn) {
                l.stage = Stage::ReadingLog(peer_last);
                self.out.push(Action::ReadLog {
                    to: conn,
                    from: peer_last,
                    up_to,
                });
            }
            return;
        }
        self.send_sync(conn, plan);
    }

    /// The caller's answer to [`Action::ReadLog`]: the on-disk log from the learner's last zxid, or `None` if
    /// it cannot serve (reading from the log is off, the log does not reach back that far, or holds more than
    /// the size limit). The sync goes on with the in-memory log as it is now.
    pub fn log_read(&mut self, conn: LearnerConn, tail: Option<LogTail>) -> Vec<Action> {
        let Some(Stage::ReadingLog(peer_last)) = self.learners.get(&conn).map(|l| l.stage) else {
            return Vec::new();
        };
        let plan = plan_sync_from_log(tail.as_ref(), &self.committed_log, self.last_processed, peer_last);
        self.send_sync(conn, plan);
        self.take()
    }

    fn send_sync(&mut self, conn: LearnerConn, plan: SyncPlan) {
        let observer = match self.learners.get_mut(&conn) {
            Some(l) => {
                l.stage = Stage::NewLeaderAck;
                l.silent_ticks = 0;
                l.observer
            }
            None => return,
        };
        let up_to = match plan {
            SyncPlan::Packets { packets, up_to } => {
                for (zxid, payload) in packets {
                    self.send(conn, zxid, payload);
                }
                up_to
            }
            SyncPlan::Snap | SyncPlan::FromLog { .. } => {
                self.send(conn, self.last_processed.0, Payload::Snap);
                self.out.push(Action::SendSnapshot { to: conn });
                self.last_processed
            }
        };
        // What is proposed and not yet committed follows, for participants only.
        if !observer {
            let pending: Vec<(Zxid, TxnEntry)> = self
                .outstanding
                .range(Zxid(up_to.0 + 1)..)
                .map(|(z, p)| (*z, p.txn.clone()))
                .collect();
            for (zxid, txn) in pending {
                self.send(conn, zxid.0, Payload::Proposal(txn));
            }
        }
        let config = self.cfg.config_text.clone();
        self.send(conn, self.epoch << 32, Payload::NewLeader { config });
    }

    /// The packet after NEWLEADER must be its ACK.
    pub(super) fn new_leader_ack(&mut self, conn: LearnerConn, zxid: i64, payload: Payload) {
        if payload != Payload::Ack {
            let reason = format!(
                "the packet after NEWLEADER was supposed to be an ACK, got {:?}",
                payload.packet_type()
            );
            return self.drop_learner(conn, reason);
        }
        let sid = self.learners.get(&conn).and_then(|l| l.sid);
        if let Some(l) = self.learners.get_mut(&conn) {
            l.stage = Stage::Established;
        }
        // `waitForNewLeaderAck`: an ACK of another epoch's NEWLEADER is not counted; only voters count.
        if self.phase == Phase::NewLeaderAck && zxid == self.epoch << 32 {
            if let Some(sid) = sid.filter(|s| self.quorum.is_voter(*s)) {
                self.new_leader_acks.insert(sid);
            }
            self.check_new_leader_acks();
        } else if self.phase == Phase::Broadcast {
            self.send_up_to_date(conn);
        }
    }

    /// The read loop of `LearnerHandler.run` after UPTODATE.
    pub(super) fn broadcast_packet(&mut self, conn: LearnerConn, zxid: i64, payload: Payload, auth: Vec<Id>) {
        let deadline_tick = self.tick + self.cfg.sync_limit_ticks;
        let Some(l) = self.learners.get_mut(&conn) else {
            return;
        };
        if l.stage == Stage::Broadcast {
            l.deadline_tick = deadline_tick;
        }
        let sid = l.sid;
        match payload {
            Payload::Ack => {
                while l.unacked.front().is_some_and(|(z, _)| z.0 <= zxid) {
                    l.unacked.pop_front();
                }
                if let Some(sid) = sid {
                    self.process_ack(sid, Zxid(zxid));
                }
            }
            Payload::LearnerPing(sessions) => {
                if !sessions.is_empty() {
                    self.out.push(Action::Touch(sessions));
                }
            }
            Payload::RevalidateRequest(session) => {
                l.revalidations.push_back((session.session_id, zxid));
                self.out.push(Action::Revalidate { from: conn, session });
            }
            Payload::Request(request) => self.out.push(Action::Forwarded {
                from: conn,
                request,
                auth,
            }),
            // ZooKeeper logs anything else as unexpected and reads on.
            Payload::Proposal(_)
            | Payload::Commit
            | Payload::LeaderPing
            | Payload::RevalidateReply(_)
            | Payload::Sync
            | Payload::Inform(_)
            | Payload::CommitAndActivate { .. }
            | Payload::NewLeader { .. }
            | Payload::FollowerInfo(_)
            | Payload::UpToDate
            | Payload::Diff
            | Payload::Trunc
            | Payload::Snap
            | Payload::ObserverInfo(_)
            | Payload::LeaderInfo { .. }
            | Payload::AckEpoch { .. }
            | Payload::InformAndActivate { .. } => {}
        }
    }
}
