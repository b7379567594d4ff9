//! `ferrokeeper-sim`: runs simulation seeds. `--seed N` replays one seed and prints its trace;
//! `--seeds COUNT [--from FIRST]` runs many (the long mode) and stops at the first failure. `--zab-seed N` and
//! `--zab-seeds COUNT [--from FIRST]` do the same for the ZAB simulation.

use std::process::ExitCode;

use ferrokeeper_sim::{election, zab};

fn arg(args: &[String], name: &str) -> Option<u64> {
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).and_then(|v| v.parse().ok())
}

/// The ZAB simulation: one seed (`--zab-seed`) or many (`--zab-seeds`).
fn zab_main(args: &[String]) -> Option<ExitCode> {
    let (from, count) = match (arg(args, "--zab-seed"), arg(args, "--zab-seeds")) {
        (Some(seed), _) => (seed, 1),
        (None, Some(count)) => (arg(args, "--from").unwrap_or(0), count),
        (None, None) => return None,
    };
    for seed in from..from + count {
        match zab::run(seed) {
            Ok(report) if count == 1 => println!("zab seed {seed}: ok {report:?}"),
            Ok(_) => {}
            Err(failure) => {
                println!("{failure}");
                return Some(ExitCode::FAILURE);
            }
        }
    }
    println!("zab: {count} seeds from {from}: ok");
    Some(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let Some(code) = zab_main(&args) {
        return code;
    }
    if let Some(seed) = arg(&args, "--seed") {
        let mut world = election::World::with_full_trace(seed);
        let result = world.run();
        return match result {
            Ok(()) => {
                for line in world.trace() {
                    println!("{line}");
                }
                println!("seed {seed}: ok {:?}", world.report);
                ExitCode::SUCCESS
            }
            Err(failure) => {
                println!("{failure}");
                ExitCode::FAILURE
            }
        };
    }
    let Some(count) = arg(&args, "--seeds") else {
        eprintln!(
            "usage: ferrokeeper-sim --seed N | --seeds COUNT [--from FIRST] | --zab-seed N | --zab-seeds COUNT [--from FIRST]"
        );
        return ExitCode::from(2);
    };
    let from = arg(&args, "--from").unwrap_or(0);
    let mut totals = election::Totals::default();
    for seed in from..from + count {
        match election::run(seed) {
            Ok(report) => totals.add(&report),
            Err(failure) => {
                println!("{failure}");
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{count} seeds from {from}: ok; {totals}");
    ExitCode::SUCCESS
}
