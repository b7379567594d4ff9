//! Fast Leader Election as a pure state machine: `FastLeaderElection` (`lookForLeader`, the
//! `Messenger.WorkerReceiver` answers, `receivedFollowingNotification`, `checkLeader`), with the vote rules of
//! `vote` and the majority of `quorum`.
//!
//! Inputs: [`Election::look_for_leader`] (the member enters LOOKING with what it has persisted), received
//! notifications ([`Election::receive`]) and [`Election::tick`]. Outputs ([`Output`]): notifications to send
//! and to whom, the decision (LEADING, FOLLOWING or OBSERVING and the final vote), and a note when a peer
//! carries a newer configuration. A notification to ourselves is delivered inside the call, never sent, as
//! `QuorumCnxManager.toSend` loops it back.
//!
//! Time is in ticks. ZooKeeper waits `finalizeWait` (200 ms) after a quorum agrees for a better vote, restarting
//! that wait on every notification that is not better, and resends its vote when no notification has arrived
//! for the notification interval, which doubles from `minNotificationInterval` (200 ms) to
//! `maxNotificationInterval` (60 s) within one election. ZooKeeper resends only when one of its per-peer
//! queues is empty and otherwise reconnects; the queues are the port's business, so here the vote is always
//! offered again and the port's one-slot queues (`SEND_CAPACITY` 1, oldest dropped) absorb the repeat.
//!
//! Every map is a `BTreeMap` and every output comes out in sid order, so one sequence of inputs gives one
//! sequence of outputs.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use jute::election::{config_version, Notification, ServerState};

use super::quorum::{LearnerType, QuorumVerifier};
use super::vote::{Candidate, Vote};
use crate::types::{ServerId, Zxid};

/// `FastLeaderElection.finalizeWait`, and the default `zookeeper.fastleader.minNotificationInterval`.
pub const FINALIZE_WAIT_MS: u64 = 200;
/// The default `zookeeper.fastleader.maxNotificationInterval`.
pub const MAX_NOTIFICATION_INTERVAL_MS: u64 = 60_000;

/// The election's waits, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElectionTimeouts {
    pub finalize_wait_ticks: u64,
    pub min_notification_interval_ticks: u64,
    pub max_notification_interval_ticks: u64,
}

impl ElectionTimeouts {
    /// ZooKeeper's waits in milliseconds, rounded up to whole ticks of `tick_ms` (each at least one tick).
    pub fn from_ms(tick_ms: u64, finalize_wait_ms: u64, min_interval_ms: u64, max_interval_ms: u64) -> Self {
        let ticks = |ms: u64| ms.div_ceil(tick_ms.max(1)).max(1);
        ElectionTimeouts {
            finalize_wait_ticks: ticks(finalize_wait_ms),
            min_notification_interval_ticks: ticks(min_interval_ms),
            max_notification_interval_ticks: ticks(max_interval_ms).max(ticks(min_interval_ms)),
        }
    }

    /// ZooKeeper's defaults (200 ms, 200 ms, 60 s) for a tick of `tick_ms`.
    pub fn zookeeper_defaults(tick_ms: u64) -> Self {
        Self::from_ms(
            tick_ms,
            FINALIZE_WAIT_MS,
            FINALIZE_WAIT_MS,
            MAX_NOTIFICATION_INTERVAL_MS,
        )
    }
}

/// What one member knows about itself and its ensemble.
#[derive(Debug, Clone)]
pub struct ElectionConfig {
    pub my_id: ServerId,
    pub quorum: QuorumVerifier,
    /// The configuration text sent in every notification (`QuorumMaj.toString`).
    pub config_text: Bytes,
    pub timeouts: ElectionTimeouts,
}

/// What the member has persisted, read when it starts looking: the last zxid in its log and `currentEpoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Persisted {
    pub last_logged_zxid: Zxid,
    pub current_epoch: i64,
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this notification to that member.
    Send {
        to: ServerId,
        notification: Notification,
    },
    /// The election is over: the member is now LEADING, FOLLOWING or OBSERVING, behind this vote.
    Decided { state: ServerState, vote: Vote },
    /// A peer's notification carried a configuration with a higher version than ours. ZooKeeper adopts it
    /// and restarts the election (dynamic reconfiguration); this election keeps its configuration.
    NewerConfig { from: ServerId, version: i64 },
}

/// One member's Fast Leader Election.
#[derive(Debug, Clone)]
pub struct Election {
    cfg: ElectionConfig,
    learner_type: LearnerType,
    state: ServerState,
    /// `logicalclock`: the election round.
    logical_clock: i64,
    proposal: Candidate,
    /// `initId`, `initLastLoggedZxid`, `peerEpoch` of this round.
    initial: Candidate,
    /// `QuorumPeer.currentVote`: what a member that is not looking tells one that is.
    current_vote: Vote,
    recvset: BTreeMap<ServerId, Vote>,
    outofelection: BTreeMap<ServerId, Vote>,
    /// Ticks left in the wait after a quorum agreed, when that wait is on.
    finalizing: Option<u64>,
    /// Ticks since the election loop last took a notification, and the current interval.
    idle_ticks: u64,
    notification_interval_ticks: u64,
    loopback: VecDeque<Notification>,
    /// The highest configuration version already reported as newer than ours.
    reported_config_version: i64,
}

impl Election {
    /// A member that has not started looking yet. Its current vote is itself with what it has persisted
    /// (`QuorumPeer.startLeaderElection`); its logical clock starts at 0 in every process.
    pub fn new(cfg: ElectionConfig, persisted: Persisted) -> Election {
        let learner_type = match cfg.quorum.learner_type(cfg.my_id) {
            Some(LearnerType::Participant) => LearnerType::Participant,
            Some(LearnerType::Observer) | None => LearnerType::Observer,
        };
        let me = Candidate {
            leader: cfg.my_id,
            zxid: persisted.last_logged_zxid,
            peer_epoch: persisted.current_epoch,
        };
        let interval = cfg.timeouts.min_notification_interval_ticks;
        Election {
            learner_type,
            state: ServerState::Looking,
            logical_clock: 0,
            proposal: me,
            initial: me,
            current_vote: Vote::looking(me, -1),
            recvset: BTreeMap::new(),
            outofelection: BTreeMap::new(),
            finalizing: None,
            idle_ticks: 0,
            notification_interval_ticks: interval,
            loopback: VecDeque::new(),
            reported_config_version: cfg.quorum.version(),
            cfg,
        }
    }

    pub fn my_id(&self) -> ServerId {
        self.cfg.my_id
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    pub fn logical_clock(&self) -> i64 {
        self.logical_clock
    }

    pub fn current_vote(&self) -> Vote {
        self.current_vote
    }

    pub fn proposal(&self) -> Candidate {
        self.proposal
    }

    pub fn quorum(&self) -> &QuorumVerifier {
        &self.cfg.quorum
    }

    /// `lookForLeader`: a new round (`logicalclock` + 1), a vote for ourselves (or for nobody if we do not
    /// vote), sent to every voter.
    pub fn look_for_leader(&mut self, persisted: Persisted) -> Vec<Output> {
        self.state = ServerState::Looking;
        self.logical_clock += 1;
        self.initial = match self.learner_type {
            LearnerType::Participant if self.cfg.quorum.is_voter(self.cfg.my_id) => Candidate {
                leader: self.cfg.my_id,
                zxid: persisted.last_logged_zxid,
                peer_epoch: persisted.current_epoch,
            },
            LearnerType::Participant | LearnerType::Observer => Candidate::NONE,
        };
        self.proposal = self.initial;
        self.recvset.clear();
        self.outofelection.clear();
        self.finalizing = None;
        self.idle_ticks = 0;
        self.notification_interval_ticks = self.cfg.timeouts.min_notification_interval_ticks;
        self.loopback.clear();
        let mut out = Vec::new();
        self.send_notifications(&mut out);
        self.drain_loopback(&mut out);
        out
    }

    /// `QuorumPeer.updateElectionVote`: once a leader and its followers agree on a new epoch, the vote given
    /// to members that are still looking carries it (ZOOKEEPER-1732).
    pub fn update_election_vote(&mut self, new_epoch: i64) {
        self.current_vote.candidate.peer_epoch = new_epoch;
    }

    /// One notification from `from`, decoded.
    pub fn receive(&mut self, from: ServerId, n: Notification) -> Vec<Output> {
        let mut out = Vec::new();
        self.on_message(from, n, &mut out);
        self.drain_loopback(&mut out);
        out
    }

    /// One tick of time.
    pub fn tick(&mut self) -> Vec<Output> {
        let mut out = Vec::new();
        if self.state != ServerState::Looking {
            return out;
        }
        if let Some(left) = self.finalizing {
            if left > 1 {
                self.finalizing = Some(left - 1);
            } else {
                self.finalizing = None;
                let vote = Vote::looking(self.proposal, self.logical_clock);
                self.decide(self.proposal.leader, vote, &mut out);
            }
            return out;
        }
        self.idle_ticks += 1;
        if self.idle_ticks >= self.notification_interval_ticks {
            self.idle_ticks = 0;
            self.send_notifications(&mut out);
            self.notification_interval_ticks =
                (self.notification_interval_ticks * 2).min(self.cfg.timeouts.max_notification_interval_ticks);
            self.drain_loopback(&mut out);
        }
        out
    }

    fn drain_loopback(&mut self, out: &mut Vec<Output>) {
        while let Some(n) = self.loopback.pop_front() {
            self.on_message(self.cfg.my_id, n, out);
        }
    }

    fn notification(&self, to: ServerId, state: ServerState, c: Candidate, round: i64) -> Output {
        Output::Send {
            to,
            notification: Notification::current(
                state,
                c.leader.0,
                c.zxid.0,
                round,
                c.peer_epoch,
                self.cfg.config_text.clone(),
            ),
        }
    }

    /// `sendNotifications`: our proposal, as LOOKING, to every voter (ourselves through the loopback).
    fn send_notifications(&mut self, out: &mut Vec<Output>) {
        let voters: Vec<ServerId> = self.cfg.quorum.voters().iter().copied().collect();
        for to in voters {
            let msg = self.notification(to, ServerState::Looking, self.proposal, self.logical_clock);
            match msg {
                Output::Send { to, notification } if to == self.cfg.my_id => {
                    self.loopback.push_back(notification)
                }
                other => out.push(other),
            }
        }
    }

    /// `Messenger.WorkerReceiver`: answers that do not wait for the election loop, then the loop itself.
    fn on_message(&mut self, from: ServerId, n: Notification, out: &mut Vec<Output>) {
        if let Some(version) = n.config().and_then(|c| config_version(c)) {
            if version > self.reported_config_version {
                self.reported_config_version = version;
                out.push(Output::NewerConfig { from, version });
            }
        }
        if !self.cfg.quorum.is_voter(from) {
            // A non-voter gets our current vote at once, whatever our state.
            let v = self.current_vote;
            out.push(self.notification(from, self.state, v.candidate, self.logical_clock));
            return;
        }
        if self.state == ServerState::Looking {
            let lagging = n.state == ServerState::Looking && n.election_epoch < self.logical_clock;
            self.election_loop(from, &n, out);
            if lagging {
                // A looking member behind our round gets our proposal and our round.
                out.push(self.notification(from, ServerState::Looking, self.proposal, self.logical_clock));
            }
        } else if n.state == ServerState::Looking {
            // Not looking: tell a looking member whom we follow or that we lead.
            let v = self.current_vote;
            out.push(self.notification(from, self.state, v.candidate, v.election_epoch));
        }
    }

    /// `totalOrderPredicate`: a candidate of weight 0 (a hierarchical quorum's `weight.N=0`) never wins, then
    /// the order of [`Candidate::beats`].
    fn beats(&self, new: &Candidate, current: &Candidate) -> bool {
        self.cfg.quorum.weight(new.leader) != 0 && new.beats(current)
    }

    fn election_loop(&mut self, from: ServerId, n: &Notification, out: &mut Vec<Output>) {
        let theirs = Candidate {
            leader: ServerId(n.leader),
            zxid: Zxid(n.zxid),
            peer_epoch: n.peer_epoch,
        };
        if self.finalizing.is_some() {
            if !self.beats(&theirs, &self.proposal) {
                // Taken off the queue and dropped; the wait starts again.
                self.finalizing = Some(self.cfg.timeouts.finalize_wait_ticks);
                return;
            }
            self.finalizing = None;
        }
        self.idle_ticks = 0;
        if !self.cfg.quorum.is_voter(theirs.leader) {
            return;
        }
        match n.state {
            ServerState::Looking => self.on_looking(from, theirs, n.election_epoch, out),
            ServerState::Observing => {}
            ServerState::Following | ServerState::Leading => self.on_out_of_election(from, theirs, n, out),
        }
    }

    fn on_looking(&mut self, from: ServerId, theirs: Candidate, round: i64, out: &mut Vec<Output>) {
        if self.initial.zxid.0 == -1 || theirs.zxid.0 == -1 {
            return;
        }
        if round > self.logical_clock {
            self.logical_clock = round;
            self.recvset.clear();
            self.proposal = if self.beats(&theirs, &self.initial) {
                theirs
            } else {
                self.initial
            };
            self.send_notifications(out);
        } else if round < self.logical_clock {
            return;
        } else if self.beats(&theirs, &self.proposal) {
            self.proposal = theirs;
            self.send_notifications(out);
        }
        self.recvset.insert(from, Vote::looking(theirs, round));
        let ours = Vote::looking(self.proposal, self.logical_clock);
        if self.has_quorum(&self.recvset, &ours) {
            self.finalizing = Some(self.cfg.timeouts.finalize_wait_ticks);
        }
    }

    /// `receivedFollowingNotification`: a member that is FOLLOWING or LEADING. Its vote counts in this round
    /// if it was cast in this round; it is always kept among the out-of-election votes, and a quorum of either
    /// that includes the leader's own LEADING vote (`checkLeader`) ends the election behind it.
    fn on_out_of_election(
        &mut self,
        from: ServerId,
        theirs: Candidate,
        n: &Notification,
        out: &mut Vec<Output>,
    ) {
        let round = n.election_epoch;
        let seen = Vote {
            candidate: theirs,
            election_epoch: round,
            state: n.state,
            version: n.version(),
        };
        let end_vote = Vote::looking(theirs, round);
        if round == self.logical_clock {
            self.recvset.insert(from, Vote { version: 0, ..seen });
            if self.has_quorum(&self.recvset, &seen) && self.check_leader(&self.recvset, theirs.leader, round)
            {
                self.decide(theirs.leader, end_vote, out);
                return;
            }
        }
        self.outofelection.insert(from, seen);
        if self.has_quorum(&self.outofelection, &seen)
            && self.check_leader(&self.outofelection, theirs.leader, round)
        {
            self.logical_clock = round;
            self.decide(theirs.leader, end_vote, out);
        }
    }

    /// `getVoteTracker(votes, vote).hasAllQuorums()`: the members whose vote equals `vote` form a quorum.
    fn has_quorum(&self, votes: &BTreeMap<ServerId, Vote>, vote: &Vote) -> bool {
        let agreeing = votes.iter().filter(|(_, v)| vote.same_as(v)).map(|(sid, _)| sid);
        self.cfg.quorum.contains_quorum(agreeing)
    }

    /// `checkLeader`: another member can only be followed once it said itself that it leads; we lead only
    /// if the agreeing votes are of our own round.
    fn check_leader(&self, votes: &BTreeMap<ServerId, Vote>, leader: ServerId, round: i64) -> bool {
        if leader != self.cfg.my_id {
            votes
                .get(&leader)
                .is_some_and(|v| v.state == ServerState::Leading)
        } else {
            self.logical_clock == round
        }
    }

    /// `setPeerState` and `leaveInstance`: LEADING if the winner is us, else FOLLOWING (OBSERVING if we do
    /// not vote); what was still queued for the loop is dropped.
    fn decide(&mut self, leader: ServerId, vote: Vote, out: &mut Vec<Output>) {
        self.state = if leader == self.cfg.my_id {
            ServerState::Leading
        } else {
            match self.learner_type {
                LearnerType::Participant => ServerState::Following,
                LearnerType::Observer => ServerState::Observing,
            }
        };
        self.current_vote = vote;
        self.finalizing = None;
        self.loopback.clear();
        out.push(Output::Decided {
            state: self.state,
            vote,
        });
    }
}

#[cfg(test)]
mod tests;
