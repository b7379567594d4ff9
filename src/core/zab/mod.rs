//! ZooKeeper's replication protocol as pure state machines: messages and ticks in, messages and decisions out.
//!
//! `election` is Fast Leader Election (`FastLeaderElection`), with the vote order and vote equality of `Vote`
//! in `vote` and the majority rule of `QuorumMaj` in `quorum`. `learner` is a learner's discovery and
//! synchronisation with its leader (`Learner.registerWithLeader`, `syncWithLeader`); `leader` is the other end
//! (`Leader`, `LearnerHandler`), with the choice of DIFF, TRUNC or SNAP in `leader_sync`. Nothing here reads a clock
//! or a socket: the election port (`crate::quorum`) or the simulator (`sim/`) feeds it received notifications
//! and ticks and carries out what it returns.

pub mod election;
pub mod leader;
mod leader_sync;
pub mod learner;
pub mod quorum;
pub mod vote;
