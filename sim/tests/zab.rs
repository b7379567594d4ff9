//! ZAB discovery, sync and broadcast simulated over many seeds; see `ferrokeeper_sim::zab` for what is checked.
//!
//! `cargo test -p ferrokeeper-sim` runs seeds 0..200. `SIM_SEEDS=COUNT SIM_FROM=FIRST` runs others (the long
//! mode; `cargo run --release -p ferrokeeper-sim -- --zab-seeds COUNT` is faster), `SIM_SEED=N` replays one.

use ferrokeeper_sim::{env_number, zab};

#[test]
fn zab_seeds_keep_every_commit_and_converge_after_the_faults() {
    let (from, count) = match env_number("SIM_SEED") {
        Some(seed) => (seed, 1),
        None => (
            env_number("SIM_FROM").unwrap_or(0),
            env_number("SIM_SEEDS").unwrap_or(200),
        ),
    };
    let (mut eras, mut commits, mut crashes, mut broken) = (0, 0, 0, 0);
    for seed in from..from + count {
        match zab::run(seed) {
            Ok(r) => {
                eras += r.eras;
                commits += r.commits;
                crashes += r.crashes;
                broken += r.broken_connections;
            }
            Err(failure) => panic!("{failure}"),
        }
    }
    eprintln!("zab seeds {from}..{}: {eras} eras, {commits} commits, {crashes} crashes, {broken} broken connections", from + count);
    assert!(
        count < 20 || (eras > count && crashes > 0 && commits > count),
        "the seeds exercised too little"
    );
}

#[test]
fn a_zab_seed_replays_exactly() {
    for seed in [5, 23, 77] {
        let (a, b) = (zab::run(seed), zab::run(seed));
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "seed {seed} ran two ways");
    }
}
