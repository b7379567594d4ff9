//! Deterministic simulation of ferrokeeper ensembles: members run the real pure core (`ferrokeeper::core::zab`)
//! on a simulated network driven by one seed, with checks after every step. One seed is one run, exactly:
//! all chance comes from `rng` and every collection iterates in a fixed order.
//!
//! `election` simulates Fast Leader Election under crashes, restarts, partitions, loss and reordering; `zab`
//! runs the leader and learner cores through discovery, sync and broadcast under crashes that lose unsynced
//! writes and broken connections.

pub mod election;
pub mod network;
pub mod rng;
pub mod zab;

/// A number from the environment (`SIM_SEED`, `SIM_FROM`, `SIM_SEEDS` in the seed tests); a value that is not
/// a number stops the run.
pub fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value} is not a number")),
    )
}
