//! Truncating the log to a zxid (TRUNC) over the data directory Apache ZooKeeper 3.8.0 wrote
//! (jute/tests/golden/datadir: snapshots 0, 5, f, 16, 1c, 25; logs 1, 7, 11, 18, 1e; last zxid 0x26), and a
//! crash at every step of it: the next start recovers the old state or the truncated one, never anything else.

use std::collections::BTreeMap;

use ferrokeeper::storage::faulty::{Crash, Fault};
use ferrokeeper::storage::fs::Fs;
use ferrokeeper::storage::recovery::recover;
use ferrokeeper::storage::truncate::{truncate_log, TruncateError, MARKER};
use ferrokeeper::types::Zxid;

#[path = "storage_support/golden.rs"]
mod golden;
use golden::{dirs, files, golden_fs_without, names, opts, summary};

#[test]
fn truncation_removes_later_entries_later_logs_and_newer_snapshots() {
    let fs = golden_fs_without(&[]);
    let done = truncate_log(&fs, &dirs(), Zxid(0x1b)).expect("truncate");
    assert_eq!(names(&done.removed_snapshots), ["snapshot.25", "snapshot.1c"]);
    assert_eq!(names(&done.removed_logs), ["log.1e"]);
    let (cut, len) = done.cut.expect("cut");
    assert_eq!(cut, dirs().log_dir.join("log.18"));
    assert_eq!(fs.contents(&cut).expect("log.18").len() as u64, len);
    assert!(!fs.exists(&dirs().log_dir.join(MARKER)));
    let r = recover(&fs, &dirs(), opts()).expect("recover");
    assert_eq!(r.last_zxid, Zxid(0x1b));
    assert_eq!(r.snapshot, Some(dirs().snap_dir.join("snapshot.16")));
    assert_eq!(r.replayed, 5);
    assert!(r.digest_mismatches.is_empty(), "{:?}", r.digest_mismatches);
    // Done twice, it changes nothing more.
    let again = truncate_log(&fs, &dirs(), Zxid(0x1b)).expect("truncate again");
    assert_eq!(again, Default::default());
}

#[test]
fn truncation_below_every_remaining_snapshot_is_refused_as_needing_a_snap() {
    let fs = golden_fs_without(&["snapshot.0", "snapshot.5"]);
    let before = files(&fs);
    match truncate_log(&fs, &dirs(), Zxid(0x3)) {
        Err(TruncateError::NeedsSnapshot { zxid, snapshot }) => {
            assert_eq!((zxid, snapshot), (Zxid(0x3), Zxid(0x25)));
        }
        other => panic!("expected NeedsSnapshot, got {other:?}"),
    }
    assert_eq!(files(&fs), before, "a refused truncation changes nothing");
}

#[test]
fn truncation_past_the_last_zxid_keeps_every_txn() {
    let fs = golden_fs_without(&[]);
    let old = summary(&recover(&golden_fs_without(&[]), &dirs(), opts()).expect("recover"));
    let done = truncate_log(&fs, &dirs(), Zxid(0x26)).expect("truncate");
    assert!(done.removed_logs.is_empty() && done.removed_snapshots.is_empty());
    assert_eq!(summary(&recover(&fs, &dirs(), opts()).expect("recover")), old);
}

/// Every failpoint a clean truncation to `zxid` passes, with how often.
fn failpoints_of_truncation(zxid: Zxid) -> BTreeMap<String, u64> {
    let fs = golden_fs_without(&[]);
    truncate_log(&fs, &dirs(), zxid).expect("truncate");
    fs.hits()
}

#[test]
fn a_crash_at_any_step_of_a_truncation_recovers_to_the_old_or_the_truncated_state() {
    let zxid = Zxid(0x1b);
    let old = summary(&recover(&golden_fs_without(&[]), &dirs(), opts()).expect("recover"));
    let truncated = {
        let fs = golden_fs_without(&[]);
        truncate_log(&fs, &dirs(), zxid).expect("truncate");
        summary(&recover(&fs, &dirs(), opts()).expect("recover"))
    };
    assert_ne!(old, truncated);
    let mut cases = 0;
    let mut seen_truncated_after_crash = false;
    for (name, hits) in failpoints_of_truncation(zxid) {
        let mut faults = vec![Fault::Io];
        if name.starts_with("write:") {
            faults.push(Fault::TornWrite { keep: 1 });
        }
        for nth in 1..=hits {
            for &fault in &faults {
                for crash in [Crash::ProcessKill, Crash::PowerLoss] {
                    let fs = golden_fs_without(&[]);
                    fs.fail(&name, nth, fault, false);
                    let result = truncate_log(&fs, &dirs(), zxid);
                    fs.crash(crash);
                    let r = recover(&fs, &dirs(), opts()).unwrap_or_else(|e| {
                        panic!("{name} #{nth} {fault:?} then {crash:?} ({result:?}): recovery failed: {e}")
                    });
                    let got = summary(&r);
                    assert!(
                        got == old || got == truncated,
                        "{name} #{nth} {fault:?} then {crash:?}: recovered to {got:?}"
                    );
                    seen_truncated_after_crash |= result.is_err() && got == truncated;
                    // The follower is told TRUNC again and gets there.
                    truncate_log(&fs, &dirs(), zxid).expect("truncate after the crash");
                    let r = recover(&fs, &dirs(), opts()).expect("recover after the second truncation");
                    assert_eq!(summary(&r), truncated, "{name} #{nth} {fault:?} then {crash:?}");
                    cases += 1;
                }
            }
        }
    }
    assert!(cases > 20, "only {cases} crash points");
    assert!(seen_truncated_after_crash, "no crash point was past the marker");
}

#[test]
fn a_pending_truncation_is_finished_by_the_next_start_and_left_alone_by_a_read_only_look() {
    let zxid = Zxid(0x1b);
    let old = summary(&recover(&golden_fs_without(&[]), &dirs(), opts()).expect("recover"));
    let fs = golden_fs_without(&[]);
    // The marker is durable; the first removal fails and the machine goes down.
    fs.fail("remove:snapshot", 1, Fault::Io, false);
    assert!(truncate_log(&fs, &dirs(), zxid).is_err());
    fs.crash(Crash::PowerLoss);
    assert!(fs.exists(&dirs().log_dir.join(MARKER)));
    let look = ferrokeeper::storage::recovery::RecoveryOptions {
        repair: false,
        ..opts()
    };
    assert_eq!(
        summary(&recover(&fs, &dirs(), look).expect("read-only recovery")),
        old
    );
    assert!(
        fs.exists(&dirs().log_dir.join(MARKER)),
        "a read-only look changes nothing"
    );
    let r = recover(&fs, &dirs(), opts()).expect("recover");
    assert_eq!(r.last_zxid, zxid);
    assert!(!fs.exists(&dirs().log_dir.join(MARKER)));
}
