//! Fast Leader Election simulated over many seeds; see `ferrokeeper_sim::election` for what is checked.
//!
//! `cargo test -p ferrokeeper-sim` runs seeds 0..300. `SIM_SEEDS=COUNT SIM_FROM=FIRST` runs others (the long
//! mode; `cargo run --release -p ferrokeeper-sim -- --seeds COUNT` is faster), `SIM_SEED=N` replays one.

use ferrokeeper_sim::election::{self, Totals};
use ferrokeeper_sim::env_number;

#[test]
fn election_seeds_hold_every_invariant_and_converge_after_the_heal() {
    let (from, count) = match env_number("SIM_SEED") {
        Some(seed) => (seed, 1),
        None => (
            env_number("SIM_FROM").unwrap_or(0),
            env_number("SIM_SEEDS").unwrap_or(300),
        ),
    };
    let mut totals = Totals::default();
    for seed in from..from + count {
        match election::run(seed) {
            Ok(report) => totals.add(&report),
            Err(failure) => panic!("{failure}"),
        }
    }
    eprintln!("seeds {from}..{}: {totals}", from + count);
    assert_eq!(totals.seeds, count);
    assert!(
        count < 20 || totals.faultless_seeds > 0,
        "no run without faults among {count} seeds"
    );
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [3, 17, 101] {
        let (mut a, mut b) = (
            election::World::with_full_trace(seed),
            election::World::with_full_trace(seed),
        );
        let (ra, rb) = (a.run().is_ok(), b.run().is_ok());
        assert_eq!(ra, rb);
        assert!(a.trace().eq(b.trace()), "seed {seed} ran two ways");
    }
}
