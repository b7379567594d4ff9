//! Snapshots and recovery under every fault the file-system seam injects, over the data directory Apache
//! ZooKeeper 3.8.0 wrote (jute/tests/golden/datadir: six snapshots, five logs, last zxid 0x26).
//!
//! A snapshot that fails at its create, write, fsync, rename or directory sync, whether by an I/O error, a
//! full disk, a torn write or a lost fsync followed by a power loss, never damages the snapshots already there
//! and never keeps the next start from recovering the same database. A snapshot that is there but does not
//! read back stops the start with its file and offset unless an older snapshot and the logs carry the state
//! past it. A snapshot that cannot be read (EIO, EACCES) stops the start with the I/O error. Faults during
//! recovery itself (cutting a torn tail) stop the start, and the next try succeeds.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferrokeeper::core::tree::snapshot::snapshot_of;
use ferrokeeper::storage::faulty::{Crash, Fault, FaultyFs};
use ferrokeeper::storage::fs::Fs;
use ferrokeeper::storage::recovery::{recover, Recovered, RecoveryOptions};
use ferrokeeper::storage::snapfile::{list_snapshots, write_snapshot, Compression};
use ferrokeeper::storage::StorageError;
use ferrokeeper::types::Zxid;

#[path = "storage_support/golden.rs"]
mod golden;
use golden::{dirs, files, golden, golden_fs_without, summary};

fn opts() -> RecoveryOptions {
    RecoveryOptions {
        extended_types: false,
        trust_empty_snapshot: false,
        repair: true,
    }
}

/// The golden data directory, durable, in a fault-injecting file system.
fn golden_fs() -> FaultyFs {
    golden_fs_without(&[])
}

/// Takes a snapshot of the recovered database into `fs`.
fn snapshot(fs: &FaultyFs, r: &Recovered, compression: Compression) -> Result<PathBuf, StorageError> {
    let image = snapshot_of(&r.tree, &r.sessions);
    write_snapshot(fs, &dirs().snap_dir, &image, compression)
}

const COMPRESSIONS: [Compression; 3] = [Compression::None, Compression::Gzip, Compression::Snappy];

#[test]
fn the_golden_directory_recovers_from_its_newest_snapshot_and_a_new_snapshot_takes_over() {
    let fs = golden_fs();
    let r = recover(&fs, &dirs(), opts()).expect("recover");
    assert_eq!(r.last_zxid, Zxid(0x26));
    assert_eq!(r.snapshot, Some(dirs().snap_dir.join("snapshot.25")));
    assert!(r.digest_mismatches.is_empty(), "{:?}", r.digest_mismatches);
    for compression in COMPRESSIONS {
        let fs = golden_fs();
        let path = snapshot(&fs, &r, compression).expect("snapshot");
        let again = recover(&fs, &dirs(), opts()).expect("recover");
        assert_eq!(again.snapshot, Some(path));
        assert_eq!(again.replayed, 0);
        assert_eq!(summary(&again), summary(&r));
    }
}

#[test]
fn a_failed_snapshot_never_damages_the_previous_ones_nor_the_next_start() {
    let reference = summary(&recover(&golden_fs(), &dirs(), opts()).expect("recover"));
    let faults: &[(&str, Fault)] = &[
        ("create:snapshot", Fault::Io),
        ("create:snapshot", Fault::NoSpace),
        ("write:snapshot", Fault::Io),
        ("write:snapshot", Fault::NoSpace),
        ("fsync:snapshot", Fault::Io),
        ("rename:snapshot", Fault::Io),
        ("rename:snapshot", Fault::NoSpace),
        ("sync_dir:version-2", Fault::Io),
    ];
    for compression in COMPRESSIONS {
        for (failpoint, fault) in faults {
            let what = format!("{failpoint} {fault:?} {compression:?}");
            let fs = golden_fs();
            let r = recover(&fs, &dirs(), opts()).expect("recover");
            let before = files(&fs);
            fs.fail(failpoint, 1, *fault, true);
            let err = snapshot(&fs, &r, compression).expect_err(&what);
            assert!(matches!(err, StorageError::Io { .. }), "{what}: {err}");
            fs.clear_failpoints();
            let after = files(&fs);
            for (name, bytes) in &before {
                assert_eq!(after.get(name), Some(bytes), "{what}: {name} changed");
            }
            assert!(
                !after.keys().any(|n| n.ends_with(".tmp")),
                "{what}: the unfinished file is removed: {:?}",
                after.keys()
            );
            for crash in [Crash::ProcessKill, Crash::PowerLoss] {
                fs.crash(crash);
                let again = recover(&fs, &dirs(), opts()).unwrap_or_else(|e| panic!("{what} {crash:?}: {e}"));
                assert_eq!(summary(&again), reference, "{what} {crash:?}");
            }
            // Space back: the next snapshot works and is the one recovery loads.
            let path = snapshot(&fs, &r, compression).expect("snapshot after the fault");
            let again = recover(&fs, &dirs(), opts()).expect("recover");
            assert_eq!(again.snapshot, Some(path), "{what}");
            assert_eq!(summary(&again), reference, "{what}");
        }
    }
}

#[test]
fn a_torn_snapshot_write_then_a_crash_leaves_a_recoverable_directory() {
    let reference = summary(&recover(&golden_fs(), &dirs(), opts()).expect("recover"));
    for compression in COMPRESSIONS {
        for keep in [0, 1, 100, 1000] {
            for crash in [
                Crash::ProcessKill,
                Crash::PowerLoss,
                Crash::PowerLossTorn { keep_per_mille: 500 },
            ] {
                let what = format!("{compression:?} keep {keep} {crash:?}");
                let fs = golden_fs();
                let r = recover(&fs, &dirs(), opts()).expect("recover");
                let before = files(&fs);
                fs.fail("write:snapshot", 1, Fault::TornWrite { keep }, false);
                assert!(snapshot(&fs, &r, compression).is_err(), "{what}");
                fs.crash(crash);
                let after = files(&fs);
                for (name, bytes) in &before {
                    assert_eq!(after.get(name), Some(bytes), "{what}: {name} changed");
                }
                let again = recover(&fs, &dirs(), opts()).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(summary(&again), reference, "{what}");
                assert_eq!(
                    again.snapshot,
                    Some(dirs().snap_dir.join("snapshot.25")),
                    "{what}"
                );
            }
        }
    }
}

#[test]
fn a_snapshot_whose_fsync_was_lost_falls_back_to_the_previous_one_and_the_log() {
    let reference = summary(&recover(&golden_fs(), &dirs(), opts()).expect("recover"));
    for compression in COMPRESSIONS {
        for keep_per_mille in [0, 300, 999] {
            let what = format!("{compression:?} keep {keep_per_mille}");
            let fs = golden_fs();
            let r = recover(&fs, &dirs(), opts()).expect("recover");
            fs.fail("fsync:snapshot", 1, Fault::LostFsync, false);
            let path = snapshot(&fs, &r, compression).expect("reported as written");
            fs.crash(Crash::PowerLossTorn { keep_per_mille });
            let left = fs.contents(&path).expect("the rename was made durable");
            assert!(left.len() < 2000, "{what}: {} bytes survived", left.len());
            let again = recover(&fs, &dirs(), opts()).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(summary(&again), reference, "{what}");
            assert_eq!(
                again.snapshot,
                Some(dirs().snap_dir.join("snapshot.25")),
                "{what}"
            );
            assert_eq!(
                again.skipped_snapshots.len(),
                1,
                "{what}: {:?}",
                again.skipped_snapshots
            );
        }
    }
}

/// Flips a byte in the middle of the only snapshot left (plain, so it still looks complete).
fn corrupt_only_snapshot(fs: &FaultyFs) -> (PathBuf, usize) {
    let dir = dirs().snap_dir;
    let snaps = list_snapshots(fs, &dir).expect("list");
    for (_, path) in &snaps[1..] {
        fs.remove(path).expect("remove");
    }
    let path = snaps[0].1.clone();
    let mut bytes = fs.contents(&path).expect("snapshot");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x5a;
    fs.put(&path, &bytes);
    (path, at)
}

#[test]
fn an_invalid_snapshot_stops_recovery_with_its_file_and_offset() {
    let fs = golden_fs();
    let (path, _) = corrupt_only_snapshot(&fs);
    match recover(&fs, &dirs(), opts()) {
        Err(StorageError::Corrupt {
            file,
            offset,
            message,
        }) => {
            assert_eq!(file, path);
            assert!(offset > 0, "{message}");
            let shown = StorageError::Corrupt {
                file: file.clone(),
                offset,
                message,
            }
            .to_string();
            assert!(
                shown.contains("snapshot.25") && shown.contains(&format!("offset {offset}")),
                "{shown}"
            );
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

#[test]
fn an_invalid_newest_snapshot_is_replaced_by_an_older_one_only_when_the_logs_reach_past_it() {
    let reference = summary(&recover(&golden_fs(), &dirs(), opts()).expect("recover"));
    let dir = dirs().snap_dir;
    // The logs reach 0x26: snapshot.25 may be stood in for by snapshot.1c and the log.
    let fs = golden_fs();
    let mut bytes = fs.contents(&dir.join("snapshot.25")).expect("snapshot");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x5a;
    fs.put(&dir.join("snapshot.25"), &bytes);
    let r = recover(&fs, &dirs(), opts()).expect("recover from the older snapshot");
    assert_eq!(r.snapshot, Some(dir.join("snapshot.1c")));
    assert_eq!(summary(&r), reference);
    // A newer snapshot (0x30) that does not read back, with logs ending at 0x26: starting from 0x26 would
    // lose 0x27..0x30.
    let fs = golden_fs();
    fs.put(&dir.join("snapshot.30"), &bytes);
    match recover(&fs, &dirs(), opts()) {
        Err(StorageError::Corrupt {
            file,
            offset,
            message,
        }) => {
            assert_eq!(file, dir.join("snapshot.30"));
            assert!(offset > 0);
            assert!(message.contains("would lose"), "{message}");
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
    // Likewise an incomplete one (no final seal).
    let fs = golden_fs();
    fs.put(&dir.join("snapshot.30"), &bytes[..at]);
    match recover(&fs, &dirs(), opts()) {
        Err(StorageError::Corrupt { file, offset, .. }) => {
            assert_eq!((file, offset), (dir.join("snapshot.30"), at as u64));
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

#[test]
fn a_snapshot_that_cannot_be_read_stops_recovery_with_the_io_error() {
    let dir = dirs().snap_dir;
    for (fault, errno) in [(Fault::Io, 5), (Fault::Denied, 13)] {
        // The newest snapshot cannot be read: that says nothing about whether it is whole, so recovery neither
        // calls it incomplete nor falls back to an older one (which the logs would allow here).
        let fs = golden_fs();
        fs.fail("read:snapshot", 1, fault, false);
        match recover(&fs, &dirs(), opts()) {
            Err(StorageError::Io { file, source }) => {
                assert_eq!(file, dir.join("snapshot.25"), "{fault:?}");
                assert_eq!(source.raw_os_error(), Some(errno), "{fault:?}: {source}");
            }
            other => panic!("{fault:?}: expected an I/O error, got {other:?}"),
        }
        // Once the file reads again, the same directory recovers from it.
        let r = recover(&fs, &dirs(), opts()).expect("recover");
        assert_eq!(r.snapshot, Some(dir.join("snapshot.25")));
        assert!(r.skipped_snapshots.is_empty(), "{:?}", r.skipped_snapshots);
    }
}

#[test]
fn faults_while_cutting_a_torn_tail_stop_recovery_and_the_next_try_succeeds() {
    let reference = summary(&recover(&golden_fs(), &dirs(), opts()).expect("recover"));
    let log = dirs().log_dir.join("log.1e");
    for (failpoint, fault) in [
        ("set_len:log", Fault::Io),
        ("fsync:log", Fault::Io),
        ("sync_dir:version-2", Fault::Io),
    ] {
        let fs = golden_fs();
        let mut bytes = fs.contents(&log).expect("log");
        // A torn entry after the last one: a length with nothing behind it.
        let end = {
            let mut end = 0;
            ferrokeeper::storage::logread::scan_file(&log, &bytes, |_, _| Ok(()))
                .map(|s| end = s.end_offset as usize)
                .expect("scan");
            end
        };
        bytes[end..end + 12].copy_from_slice(&[0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 40]);
        fs.put(&log, &bytes);
        fs.fail(failpoint, 1, fault, false);
        let err = recover(&fs, &dirs(), opts()).expect_err(failpoint);
        assert!(matches!(err, StorageError::Io { .. }), "{failpoint}: {err}");
        let again = recover(&fs, &dirs(), opts()).unwrap_or_else(|e| panic!("{failpoint}: {e}"));
        assert_eq!(summary(&again), reference, "{failpoint}");
        if failpoint == "set_len:log" {
            assert_eq!(
                again.torn_tail,
                Some((log.clone(), end as u64)),
                "the tail is still there"
            );
        }
        assert_eq!(fs.contents(&log).expect("log").len(), end, "{failpoint}");
    }
}

#[test]
fn the_server_refuses_to_start_on_an_invalid_snapshot_and_names_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let version2 = data.join("version-2");
    std::fs::create_dir_all(&version2).expect("mkdir");
    for name in ["snapshot.1c", "log.1e"] {
        std::fs::copy(golden().join(name), version2.join(name)).expect("copy");
    }
    let mut bytes = std::fs::read(version2.join("snapshot.1c")).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x5a;
    std::fs::write(version2.join("snapshot.1c"), &bytes).expect("write");
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort=23012\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n",
            data.display()
        ),
    )
    .expect("cfg");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .arg("start")
        .arg(&cfg)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started on an invalid snapshot");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let file = version2.join("snapshot.1c");
    assert!(
        text.contains(&format!("{} at offset ", file.display())),
        "the message names neither the file nor the offset:\n{text}"
    );
    assert_eq!(
        std::fs::read(&file).expect("read"),
        bytes,
        "the invalid snapshot is left as it was"
    );
}

/// A log entry whose checksum is right but which creates `path` (a server never logs an invalid one).
fn create_entry(zxid: i64, path: &str) -> Vec<u8> {
    use jute::records::txn::{CreateTxn, TxnHeader};
    use jute::txn_entry::{TxnBody, TxnEntry};
    let entry = TxnEntry {
        header: TxnHeader {
            client_id: 0,
            cxid: 1,
            zxid,
            time: 0,
            txn_type: jute::codes::OpCode::Create.code(),
        },
        body: TxnBody::Create(CreateTxn {
            path: path.into(),
            data: None,
            acl: jute::records::data::Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: 1,
        }),
        digest: None,
    };
    entry.encode().expect("encode")
}

#[test]
fn a_logged_create_of_an_impossible_path_stops_recovery_with_file_and_offset() {
    let log = dirs().log_dir.join("log.1e");
    for (bad, stops) in [("//", true), ("/a/", true), ("/ok", false)] {
        let fs = golden_fs();
        let mut bytes = fs.contents(&log).expect("log");
        let end = ferrokeeper::storage::logread::scan_file(&log, &bytes, |_, _| Ok(()))
            .expect("scan")
            .end_offset as usize;
        let mut framed = Vec::new();
        ferrokeeper::storage::txnlog::frame_entry(&mut framed, &create_entry(0x27, bad));
        bytes[end..end + framed.len()].copy_from_slice(&framed);
        fs.put(&log, &bytes);
        match recover(&fs, &dirs(), opts()) {
            Err(StorageError::Corrupt {
                file,
                offset,
                message,
            }) if stops => {
                assert_eq!((file, offset), (log.clone(), end as u64), "{bad}");
                assert!(message.contains("invalid path"), "{message}");
            }
            Ok(r) if !stops => {
                assert_eq!(r.last_zxid, Zxid(0x27));
                assert!(r.tree.get(bad).is_some());
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn the_validity_check_reads_a_few_bytes_and_agrees_with_the_check_over_the_whole_file() {
    use ferrokeeper::storage::snapfile::{looks_valid, looks_valid_bytes};
    let fs = golden_fs();
    let r = recover(&fs, &dirs(), opts()).expect("recover");
    let mut files = vec![dirs().snap_dir.join("snapshot.25")];
    for compression in COMPRESSIONS {
        files.push(snapshot(&fs, &r, compression).expect("snapshot"));
    }
    for path in files {
        let whole = fs.contents(&path).expect("contents");
        assert!(looks_valid(&fs, &path), "{}", path.display());
        for cut in [0, 1, 2, 5, 9, 10, whole.len() / 2, whole.len() - 1] {
            // Same suffix as the original, so the same check applies.
            let part = dirs().snap_dir.join(format!("snapshot.{cut:x}{}", suffix(&path)));
            fs.put(&part, &whole[..cut]);
            assert_eq!(
                looks_valid(&fs, &part),
                looks_valid_bytes(&part, &whole[..cut]),
                "{} cut at {cut}",
                path.display()
            );
            fs.remove(&part).expect("remove");
        }
    }
    assert!(
        !looks_valid(&fs, &dirs().snap_dir.join("snapshot.999")),
        "a missing file"
    );
}

fn suffix(path: &Path) -> &str {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    [".gz", ".snappy"]
        .into_iter()
        .find(|s| name.ends_with(s))
        .unwrap_or("")
}
