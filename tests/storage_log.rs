//! The transaction log against files written by Apache ZooKeeper 3.8.0 (jute/tests/golden/datadir), and
//! under every fault the file-system seam can inject; replay refuses logs that may be missing txns (a gap inside
//! an epoch, a torn log that is not the newest and that the next one does not continue).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferrokeeper::storage::faulty::{Crash, Fault, FaultyFs};
use ferrokeeper::storage::fs::Fs;
use ferrokeeper::storage::logread::{self, LogEnd};
use ferrokeeper::storage::txnlog::{LogConfig, TxnLogWriter};
use ferrokeeper::storage::StorageError;
use ferrokeeper::types::Zxid;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("jute/tests/golden/datadir")
}

fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(golden().join("manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("json")
}

fn golden_logs() -> Vec<(String, serde_json::Value)> {
    let m = manifest();
    m["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| f["kind"] == "txnlog")
        .map(|f| (f["file"].as_str().expect("name").to_string(), f.clone()))
        .collect()
}

/// The entries of a golden log, as (zxid, txn bytes).
fn entries_of(name: &str) -> Vec<(Zxid, Vec<u8>)> {
    let path = golden().join(name);
    let data = std::fs::read(&path).expect("log");
    let mut out = Vec::new();
    logread::scan_file(&path, &data, |_, bytes| {
        out.push((logread::entry_zxid(bytes).expect("zxid"), bytes.to_vec()));
        Ok(())
    })
    .expect("scan");
    out
}

#[test]
fn golden_logs_read_entry_by_entry_as_the_manifest_says() {
    for (name, expected) in golden_logs() {
        let path = golden().join(&name);
        let data = std::fs::read(&path).expect("log");
        let mut seen = Vec::new();
        let scan = logread::scan_file(&path, &data, |offset, bytes| {
            seen.push((
                offset,
                bytes.len(),
                u64::from(adler2::adler32_slice(bytes)),
                logread::entry_zxid(bytes),
            ));
            Ok(())
        })
        .expect("scan");
        let txns = expected["txns"].as_array().expect("txns");
        assert_eq!(seen.len(), txns.len(), "{name}");
        for (got, want) in seen.iter().zip(txns) {
            assert_eq!(got.0, want["offset"].as_u64().expect("offset"), "{name}");
            assert_eq!(got.1 as u64, want["length"].as_u64().expect("length"), "{name}");
            assert_eq!(got.2, want["checksum"].as_u64().expect("checksum"), "{name}");
            assert_eq!(
                got.3,
                Some(Zxid(want["header"]["zxid"].as_i64().expect("zxid"))),
                "{name}"
            );
        }
        assert_eq!(scan.end, LogEnd::Zero, "{name}");
        assert_eq!(
            scan.end_offset,
            expected["end"]["offset"].as_u64().expect("end"),
            "{name}"
        );
    }
}

#[test]
fn rewriting_golden_entries_one_commit_each_gives_identical_bytes() {
    for (name, _) in golden_logs() {
        let fs = FaultyFs::new();
        let dir = Path::new("/data/version-2");
        let config = LogConfig {
            pre_alloc_bytes: 16 * 1024,
            ..LogConfig::default()
        };
        let entries = entries_of(&name);
        let mut log = TxnLogWriter::new(Arc::new(fs.clone()), dir, config, Zxid(entries[0].0 .0 - 1));
        for (zxid, bytes) in &entries {
            log.append(*zxid, bytes).expect("append");
            assert_eq!(log.sync().expect("sync"), Some(*zxid));
        }
        let written = fs
            .contents(&dir.join(&name))
            .expect("written under the golden name");
        let original = std::fs::read(golden().join(&name)).expect("golden");
        assert!(
            written == original,
            "{name}: bytes differ from Apache ZooKeeper's"
        );
    }
}

/// 64 KiB preallocation keeps the in-memory files small.
fn small() -> LogConfig {
    LogConfig {
        pre_alloc_bytes: 64 * 1024,
        ..LogConfig::default()
    }
}

fn setup(entries: usize) -> (FaultyFs, PathBuf, Vec<(Zxid, Vec<u8>)>) {
    let fs = FaultyFs::new();
    let dir = PathBuf::from("/data/version-2");
    let all: Vec<_> = golden_logs().iter().flat_map(|(n, _)| entries_of(n)).collect();
    let mut log = TxnLogWriter::new(Arc::new(fs.clone()), &dir, small(), Zxid(0));
    for (zxid, bytes) in all.iter().take(entries) {
        log.append(*zxid, bytes).expect("append");
        log.sync().expect("sync");
    }
    (fs, dir, all)
}

fn replay_all(
    fs: &FaultyFs,
    dir: &Path,
    repair: bool,
) -> Result<(Vec<Zxid>, logread::ReplayEnd), StorageError> {
    let mut zxids = Vec::new();
    let end = logread::replay(fs, dir, Zxid(0), repair, |_, _, z, _| {
        zxids.push(z);
        Ok(())
    })?;
    Ok((zxids, end))
}

#[test]
fn a_torn_tail_is_cut_off_and_named() {
    let (fs, dir, all) = setup(5);
    let path = dir.join("log.1");
    let mut data = fs.contents(&path).expect("log");
    let end = {
        let mut end = 0;
        logread::scan_file(&path, &data, |_, _| Ok(()))
            .map(|s| end = s.end_offset)
            .expect("scan");
        end as usize
    };
    // Half of a sixth entry: the write of an unacknowledged entry cut short.
    let mut framed = Vec::new();
    ferrokeeper::storage::txnlog::frame_entry(&mut framed, &all[5].1);
    data[end..end + framed.len() / 2].copy_from_slice(&framed[..framed.len() / 2]);
    fs.put(&path, &data);
    let (zxids, replay) = replay_all(&fs, &dir, true).expect("a torn tail is not an error");
    assert_eq!(zxids.len(), 5);
    assert_eq!(replay.torn_tail, Some((path.clone(), end as u64)));
    assert_eq!(
        fs.contents(&path).expect("log").len(),
        end,
        "truncated at the last good entry"
    );
    let (again, replay) = replay_all(&fs, &dir, true).expect("replay");
    assert_eq!((again.len(), replay.torn_tail), (5, None));
}

#[test]
fn a_checksum_mismatch_followed_by_good_entries_stops_recovery_with_file_and_offset() {
    let (fs, dir, _) = setup(5);
    let path = dir.join("log.1");
    let mut data = fs.contents(&path).expect("log");
    // Flip a byte inside the second entry (which starts at 77 in the golden log).
    data[77 + 12 + 20] ^= 0xff;
    fs.put(&path, &data);
    match replay_all(&fs, &dir, true) {
        Err(StorageError::Corrupt {
            file,
            offset,
            message,
        }) => {
            assert_eq!((file, offset), (path, 77));
            assert!(message.contains("checksum"), "{message}");
        }
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

#[test]
fn a_checksum_mismatch_in_the_last_entry_is_a_torn_tail() {
    let (fs, dir, _) = setup(5);
    let path = dir.join("log.1");
    let mut data = fs.contents(&path).expect("log");
    data[417 + 12 + 20] ^= 0xff;
    fs.put(&path, &data);
    let (zxids, replay) = replay_all(&fs, &dir, false).expect("torn");
    assert_eq!(zxids.len(), 4);
    assert_eq!(replay.torn_tail, Some((path, 417)));
}

#[test]
fn a_failed_fsync_stops_the_log_and_acknowledges_nothing_more() {
    for fault in [Fault::Io, Fault::NoSpace] {
        let fs = FaultyFs::new();
        let dir = PathBuf::from("/data/version-2");
        let all = entries_of("log.1");
        let mut log = TxnLogWriter::new(Arc::new(fs.clone()), &dir, small(), Zxid(0));
        log.append(all[0].0, &all[0].1).expect("append");
        assert_eq!(log.sync().expect("sync"), Some(all[0].0));
        fs.fail("fsync:log", 1, fault, false);
        log.append(all[1].0, &all[1].1).expect("append");
        assert!(log.sync().is_err(), "{fault:?}");
        assert!(matches!(
            log.append(all[2].0, &all[2].1),
            Err(StorageError::Failed(_))
        ));
        assert!(matches!(log.sync(), Err(StorageError::Failed(_))));
        fs.crash(Crash::PowerLoss);
        let (zxids, _) = replay_all(&fs, &dir, true).expect("replay");
        assert_eq!(
            zxids,
            vec![all[0].0],
            "{fault:?}: only the acknowledged entry is durable"
        );
    }
}

#[test]
fn a_full_disk_on_write_or_preallocation_stops_the_log_without_damage() {
    let all = entries_of("log.1");
    for nth in 1..=3 {
        let fs = FaultyFs::new();
        let dir = PathBuf::from("/data/version-2");
        let config = LogConfig {
            pre_alloc_bytes: 1024,
            ..LogConfig::default()
        };
        let mut log = TxnLogWriter::new(Arc::new(fs.clone()), &dir, config, Zxid(0));
        fs.fail("write:log", nth, Fault::NoSpace, true);
        let mut acked = Vec::new();
        for (zxid, bytes) in &all {
            if log.append(*zxid, bytes).is_err() {
                break;
            }
            match log.sync() {
                Ok(Some(z)) => acked.push(z),
                Ok(None) => unreachable!(),
                Err(_) => break,
            }
        }
        assert!(log.failure().is_some(), "nth {nth}");
        fs.crash(Crash::PowerLoss);
        let (zxids, _) = replay_all(&fs, &dir, true).expect("what is on disk still reads");
        assert_eq!(zxids, acked, "nth {nth}");
    }
}

#[test]
fn a_torn_write_then_crash_loses_only_the_unacknowledged_entry() {
    let all = entries_of("log.1");
    for keep in [0, 5, 12, 40] {
        let fs = FaultyFs::new();
        let dir = PathBuf::from("/data/version-2");
        let config = LogConfig {
            pre_alloc_bytes: 0,
            ..LogConfig::default()
        };
        let mut log = TxnLogWriter::new(Arc::new(fs.clone()), &dir, config, Zxid(0));
        for (zxid, bytes) in all.iter().take(3) {
            log.append(*zxid, bytes).expect("append");
            log.sync().expect("sync");
        }
        fs.fail("write:log", 1, Fault::TornWrite { keep }, false);
        log.append(all[3].0, &all[3].1).expect("append");
        assert!(log.sync().is_err());
        fs.crash(Crash::ProcessKill);
        let (zxids, _) = replay_all(&fs, &dir, true).expect("replay");
        assert_eq!(
            zxids,
            all.iter().take(3).map(|e| e.0).collect::<Vec<_>>(),
            "keep {keep}"
        );
    }
}

#[test]
fn a_lost_fsync_is_what_loses_acknowledged_entries_at_power_loss() {
    let fs = FaultyFs::new();
    let dir = PathBuf::from("/data/version-2");
    let all = entries_of("log.1");
    let mut log = TxnLogWriter::new(Arc::new(fs.clone()), &dir, small(), Zxid(0));
    log.append(all[0].0, &all[0].1).expect("append");
    log.sync().expect("sync");
    fs.fail("fsync:log", 1, Fault::LostFsync, false);
    log.append(all[1].0, &all[1].1).expect("append");
    assert_eq!(log.sync().expect("the disk lied"), Some(all[1].0));
    fs.crash(Crash::PowerLoss);
    let (zxids, _) = replay_all(&fs, &dir, true).expect("replay");
    assert_eq!(
        zxids,
        vec![all[0].0],
        "the acknowledged second entry is gone: the fault is visible"
    );
}

#[test]
fn group_commit_writes_many_entries_with_one_fsync_and_rolls_on_request() {
    let fs = FaultyFs::new();
    let dir = PathBuf::from("/data/version-2");
    let all: Vec<_> = golden_logs().iter().flat_map(|(n, _)| entries_of(n)).collect();
    let mut log = TxnLogWriter::new(Arc::new(fs.clone()), &dir, small(), Zxid(0));
    for (zxid, bytes) in all.iter().take(10) {
        log.append(*zxid, bytes).expect("append");
    }
    assert_eq!(log.sync().expect("sync"), Some(all[9].0));
    assert_eq!(fs.hits().get("fsync:log"), Some(&1));
    log.roll().expect("roll");
    for (zxid, bytes) in all.iter().skip(10) {
        log.append(*zxid, bytes).expect("append");
    }
    log.sync().expect("sync");
    let names = fs.list(&dir).expect("list");
    assert!(names.contains(&"log.1".to_string()) && names.contains(&format!("log.{:x}", all[10].0 .0)));
    let (zxids, _) = replay_all(&fs, &dir, true).expect("replay");
    assert_eq!(zxids.len(), all.len());
    let stats = log.stats();
    assert_eq!((stats.commits, stats.fsyncs), (2, 2));
}

#[test]
fn force_sync_no_skips_the_fsync() {
    let fs = FaultyFs::new();
    let dir = PathBuf::from("/data/version-2");
    let all = entries_of("log.1");
    let config = LogConfig {
        force_sync: false,
        ..LogConfig::default()
    };
    let mut log = TxnLogWriter::new(Arc::new(fs.clone()), &dir, config, Zxid(0));
    log.append(all[0].0, &all[0].1).expect("append");
    log.sync().expect("sync");
    assert_eq!(fs.hits().get("fsync:log"), None);
}

/// Bytes of the file that have blocks on disk.
fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).expect("metadata").blocks() * 512
}

#[test]
fn a_synced_log_has_real_zeros_past_its_last_entry_and_reads_the_same() {
    use ferrokeeper::storage::fs::RealFs;
    let all: Vec<_> = golden_logs().iter().flat_map(|(n, _)| entries_of(n)).collect();
    for force_sync in [true, false] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("version-2");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let config = LogConfig {
            force_sync,
            ..LogConfig::default()
        };
        let mut log = TxnLogWriter::new(Arc::new(RealFs), &dir, config, Zxid(0));
        for (zxid, bytes) in &all {
            log.append(*zxid, bytes).expect("append");
            log.sync().expect("sync");
        }
        let end = log.current_size();
        let file = log.current_file().expect("a log").to_path_buf();
        let bytes = std::fs::read(&file).expect("read");
        assert_eq!(
            bytes.len() as u64,
            16 + 64 * 1024 * 1024,
            "preallocated as FilePadding does"
        );
        assert!(
            bytes[end as usize..].iter().all(|&b| b == 0),
            "zeros after the last entry"
        );
        // A fsync'd log keeps written zeros ahead, so that its next syncs need no block allocation; one
        // that does not fsync leaves the rest sparse (the blocks of the last byte of padding aside).
        let blocks = allocated(&file);
        if force_sync {
            assert!(
                blocks >= end + 128 * 1024,
                "{blocks} bytes allocated for {end} written"
            );
        } else {
            assert!(
                blocks < end + 64 * 1024,
                "{blocks} bytes allocated for {end} written"
            );
        }
        let mut zxids = Vec::new();
        logread::replay(&RealFs, &dir, Zxid(0), false, |_, _, z, _| {
            zxids.push(z);
            Ok(())
        })
        .expect("replay");
        assert_eq!(zxids, all.iter().map(|(z, _)| *z).collect::<Vec<_>>());
    }
}

/// An entry of `len` bytes whose TxnHeader names `zxid` (the rest is filler: scanning does not decode it).
fn big_entry(zxid: i64, len: usize) -> Vec<u8> {
    let mut entry = vec![0u8; 12];
    entry.extend_from_slice(&zxid.to_be_bytes());
    entry.resize(len, (zxid % 251) as u8 | 1);
    entry
}

#[test]
fn a_log_is_read_up_to_its_preallocated_zeros_and_scans_as_the_whole_file() {
    use ferrokeeper::storage::logread::{read_log, scan_file};
    // Small entries in a 64 MiB file, then entries that straddle the reader's 4 MiB chunks.
    let small: Vec<(Zxid, Vec<u8>)> = golden_logs().iter().flat_map(|(n, _)| entries_of(n)).collect();
    let large: Vec<(Zxid, Vec<u8>)> = (1..=20)
        .map(|z| (Zxid(z), big_entry(z, 300_000 + z as usize)))
        .collect();
    for entries in [small, large] {
        let fs = FaultyFs::new();
        let dir = PathBuf::from("/data/version-2");
        let mut log = TxnLogWriter::new(Arc::new(fs.clone()), &dir, LogConfig::default(), Zxid(0));
        for (zxid, bytes) in &entries {
            log.append(*zxid, bytes).expect("append");
        }
        log.sync().expect("sync");
        let path = log.current_file().expect("a log").to_path_buf();
        let used = log.current_size() as usize;
        let whole = fs.contents(&path).expect("contents");
        let read = read_log(&fs, &path).expect("read");
        assert!(whole.len() >= 64 << 20, "preallocated");
        assert!(
            read.len() >= used + 12 && read.len() <= used + (4 << 20),
            "read {} bytes of a log using {used}",
            read.len()
        );
        assert_eq!(read[..], whole[..read.len()]);
        let scan = |data: &[u8]| {
            let mut seen = Vec::new();
            let end = scan_file(&path, data, |offset, bytes| {
                seen.push((offset, bytes.len()));
                Ok(())
            })
            .expect("scan");
            (seen, end)
        };
        let (seen, end) = scan(&read);
        assert_eq!(seen.len(), entries.len());
        assert_eq!((seen, end), scan(&whole));
    }
}

/// Writes `entries` (zxid and txn bytes) to a new log in `fs`, one commit each.
fn write_log(fs: &FaultyFs, dir: &Path, entries: &[(Zxid, Vec<u8>)]) {
    let mut log = TxnLogWriter::new(Arc::new(fs.clone()), dir, small(), Zxid(0));
    for (zxid, bytes) in entries {
        log.append(*zxid, bytes).expect("append");
        log.sync().expect("sync");
    }
}

/// The offset just after the last good entry of `path`.
fn end_of_entries(fs: &FaultyFs, path: &Path) -> usize {
    let data = fs.contents(path).expect("log");
    logread::scan_file(path, &data, |_, _| Ok(()))
        .expect("scan")
        .end_offset as usize
}

/// Tears `path` after its entries: half of `entry` written where the next one would go.
fn tear(fs: &FaultyFs, path: &Path, entry: &[u8]) -> usize {
    let end = end_of_entries(fs, path);
    let mut data = fs.contents(path).expect("log");
    let mut framed = Vec::new();
    ferrokeeper::storage::txnlog::frame_entry(&mut framed, entry);
    data[end..end + framed.len() / 2].copy_from_slice(&framed[..framed.len() / 2]);
    fs.put(path, &data);
    end
}

/// `entry` with its TxnHeader's zxid replaced.
fn with_zxid(entry: &[u8], zxid: Zxid) -> (Zxid, Vec<u8>) {
    let mut bytes = entry.to_vec();
    bytes[12..20].copy_from_slice(&zxid.0.to_be_bytes());
    (zxid, bytes)
}

fn expect_corrupt(result: Result<(Vec<Zxid>, logread::ReplayEnd), StorageError>) -> (PathBuf, u64, String) {
    match result {
        Err(StorageError::Corrupt {
            file,
            offset,
            message,
        }) => (file, offset, message),
        other => panic!("expected a corruption error, got {other:?}"),
    }
}

#[test]
fn a_gap_inside_one_epoch_stops_recovery_with_file_and_offset() {
    let (fs, dir, all) = setup(0);
    let mut kept = all[..8].to_vec();
    kept.remove(5);
    write_log(&fs, &dir, &kept);
    let path = dir.join("log.1");
    // The entry after the gap starts where the fifth ends.
    let mut offsets = Vec::new();
    let data = fs.contents(&path).expect("log");
    logread::scan_file(&path, &data, |offset, _| {
        offsets.push(offset);
        Ok(())
    })
    .expect("scan");
    let (file, offset, message) = expect_corrupt(replay_all(&fs, &dir, true));
    assert_eq!((file, offset), (path, offsets[5]));
    assert!(
        message.contains("gap") && message.contains(&format!("{} follows {}", all[6].0, all[4].0)),
        "{message}"
    );
}

#[test]
fn a_new_epoch_is_not_a_gap() {
    let (fs, dir, all) = setup(0);
    let mut entries = all[..5].to_vec();
    entries.push(with_zxid(&all[5].1, Zxid((1 << 32) + 1)));
    write_log(&fs, &dir, &entries);
    let (zxids, _) = replay_all(&fs, &dir, true).expect("replay");
    assert_eq!(zxids.last(), Some(&Zxid((1 << 32) + 1)));
}

#[test]
fn a_torn_log_continued_by_the_next_one_is_read_past_as_after_a_crash() {
    // Apache ZooKeeper crashed in the middle of an append, then started a new log at the next zxid.
    let (fs, dir, all) = setup(5);
    let torn = dir.join("log.1");
    tear(&fs, &torn, &all[5].1);
    write_log(&fs, &dir, &all[5..8]);
    let before = fs.contents(&torn).expect("log");
    let (zxids, end) = replay_all(&fs, &dir, true).expect("replay");
    assert_eq!(zxids, all[..8].iter().map(|(z, _)| *z).collect::<Vec<_>>());
    assert_eq!(end.torn_tail, None);
    assert_eq!(fs.contents(&torn), Some(before), "only the newest log is cut");
}

#[test]
fn a_torn_log_that_is_not_the_newest_and_not_continued_stops_recovery_with_file_and_offset() {
    enum After {
        Gap,
        NewEpoch,
        Nothing,
    }
    for (what, after) in [
        ("a gap after it", After::Gap),
        ("a new epoch after it", After::NewEpoch),
        ("no entry after it", After::Nothing),
    ] {
        let (fs, dir, all) = setup(5);
        let torn = dir.join("log.1");
        let at = tear(&fs, &torn, &all[5].1);
        match after {
            After::Gap => write_log(&fs, &dir, &all[7..9]),
            After::NewEpoch => write_log(&fs, &dir, &[with_zxid(&all[5].1, Zxid((1 << 32) + 1))]),
            After::Nothing => {
                // A newer log holding only its header (created, then the machine died).
                write_log(&fs, &dir, &all[9..10]);
                let name = dir.join(format!("log.{:x}", all[9].0 .0));
                let mut data = fs.contents(&name).expect("log");
                data.truncate(16);
                fs.put(&name, &data);
            }
        }
        let (file, offset, message) = expect_corrupt(replay_all(&fs, &dir, true));
        assert_eq!((file, offset), (torn.clone(), at as u64), "{what}: {message}");
        assert!(message.contains("not the newest"), "{what}: {message}");
    }
}
