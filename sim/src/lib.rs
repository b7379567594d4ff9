//! Deterministic simulation of ferrokeeper ensembles: members run the real pure core (`ferrokeeper::core::zab`)
//! on a simulated network driven by one seed, with checks after every step. One seed is one run, exactly:
//! all chance comes from `rng` and every collection iterates in a fixed order.
//!
//! `election` simulates Fast Leader Election under crashes, restarts, partitions, loss and reordering.

pub mod election;
pub mod network;
pub mod rng;
