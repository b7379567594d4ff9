//! The quorum side of a member: the election port (`election_port`, after `QuorumCnxManager`) and the loop that
//! runs the pure election core (`core::zab::election`) on it, as `QuorumPeer` runs `FastLeaderElection`.
//!
//! Nothing here starts with the server yet: a member runs an election through [`ElectionRunner`] from the
//! library, and the quorum port (discovery, sync, broadcast) is still to come.

pub mod election_port;
pub mod link;

use std::time::Duration;

use jute::election::{Notification, ServerState};

use crate::core::zab::election::{Election, Output, Persisted};
use crate::core::zab::vote::Vote;
use crate::types::ServerId;
use election_port::ElectionPort;

/// How an election ended for this member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub state: ServerState,
    pub vote: Vote,
}

/// Runs one member's election core on its election port, one tick every `tick`.
#[derive(Debug)]
pub struct ElectionRunner {
    pub port: ElectionPort,
    pub election: Election,
    tick: Duration,
    /// Every notification received, in order, for operators and tests.
    pub received: Vec<(ServerId, Notification)>,
    /// The received log keeps at most this many (the oldest go first).
    pub received_max: usize,
}

impl ElectionRunner {
    pub fn new(port: ElectionPort, election: Election, tick: Duration) -> ElectionRunner {
        ElectionRunner {
            port,
            election,
            tick,
            received: Vec::new(),
            received_max: 10_000,
        }
    }

    fn carry_out(&mut self, out: Vec<Output>) -> Option<Decision> {
        let mut decision = None;
        for o in out {
            match o {
                Output::Send { to, notification } => self.port.send(to, &notification),
                Output::Decided { state, vote } => {
                    tracing::info!(
                        "{} - leader {} zxid {:#x} round {:#x} peer epoch {:#x}",
                        state.name(),
                        vote.candidate.leader.0,
                        vote.candidate.zxid.0,
                        vote.election_epoch,
                        vote.candidate.peer_epoch
                    );
                    decision = Some(Decision { state, vote });
                }
                Output::NewerConfig { from, version } => tracing::warn!(
                    "server {} has configuration version {version:#x}, newer than ours; reconfiguration is not supported",
                    from.0
                ),
            }
        }
        decision
    }

    /// Starts looking (`lookForLeader`) and runs until the core decides.
    pub async fn elect(&mut self, persisted: Persisted) -> Decision {
        let out = self.election.look_for_leader(persisted);
        if let Some(d) = self.carry_out(out) {
            return d;
        }
        let mut ticks = tokio::time::interval(self.tick);
        loop {
            if let Some(d) = self.step(&mut ticks).await {
                return d;
            }
        }
    }

    /// Keeps answering peers (a member that is not looking tells looking members whom it follows or that it
    /// leads) for `how_long`.
    pub async fn answer_for(&mut self, how_long: Duration) {
        let mut ticks = tokio::time::interval(self.tick);
        let deadline = tokio::time::Instant::now() + how_long;
        while tokio::time::Instant::now() < deadline {
            let _ = tokio::time::timeout_at(deadline, self.step(&mut ticks)).await;
        }
    }

    /// Receives one notification and answers it (a member that is not looking tells looking members whom it
    /// follows or that it leads). Cancel-safe: nothing is lost if the future is dropped before it completes.
    pub async fn answer_one(&mut self) {
        let (from, n) = self.port.recv().await;
        self.record(from, &n);
        let out = self.election.receive(from, n);
        self.carry_out(out);
    }

    fn record(&mut self, from: ServerId, n: &Notification) {
        if self.received.len() >= self.received_max {
            self.received.remove(0);
        }
        self.received.push((from, n.clone()));
    }

    async fn step(&mut self, ticks: &mut tokio::time::Interval) -> Option<Decision> {
        tokio::select! {
            (from, n) = self.port.recv() => {
                self.record(from, &n);
                let out = self.election.receive(from, n);
                self.carry_out(out)
            }
            _ = ticks.tick() => {
                let out = self.election.tick();
                self.carry_out(out)
            }
        }
    }
}
