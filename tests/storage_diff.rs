//! Reading the txns after a zxid from the logs for a DIFF, over the data directory Apache ZooKeeper 3.8.0
//! wrote (jute/tests/golden/datadir: snapshots 0, 5, f, 16, 1c, 25; logs 1, 7, 11, 18, 1e; last zxid 0x26),
//! and the rule (`zookeeper.snapshotSizeFactor`) that sends a SNAP instead.

use std::path::PathBuf;
use std::sync::Arc;

use ferrokeeper::storage::diff::{
    read_txns_after, txn_log_size_limit, DiffError, LogSizeLimit, LoggedTxn, SnapshotSizeFactor,
};
use ferrokeeper::storage::faulty::FaultyFs;
use ferrokeeper::storage::logread;
use ferrokeeper::storage::txnlog::{LogConfig, TxnLogWriter};
use ferrokeeper::types::Zxid;

#[path = "storage_support/golden.rs"]
mod golden;
use golden::{dirs, golden};

fn dir() -> PathBuf {
    dirs().log_dir
}

fn golden_fs_without(skip: &[&str]) -> Arc<FaultyFs> {
    Arc::new(golden::golden_fs_without(skip))
}

/// Every entry of the golden logs, in order, as the log scanner reads them.
fn golden_entries() -> Vec<(Zxid, Vec<u8>)> {
    let mut out = Vec::new();
    for name in ["log.1", "log.7", "log.11", "log.18", "log.1e"] {
        let path = golden().join(name);
        let data = std::fs::read(&path).expect("log");
        logread::scan_file(&path, &data, |_, bytes| {
            out.push((logread::entry_zxid(bytes).expect("zxid"), bytes.to_vec()));
            Ok(())
        })
        .expect("scan");
    }
    out
}

fn collect(range: impl Iterator<Item = Result<LoggedTxn, DiffError>>) -> Vec<LoggedTxn> {
    range.map(|t| t.expect("txn")).collect()
}

const NO_LIMIT: LogSizeLimit = LogSizeLimit::Bytes(0);

#[test]
fn a_diff_yields_every_txn_after_the_zxid_in_order_as_logged_with_its_digest() {
    let fs = golden_fs_without(&[]);
    let txns = collect(read_txns_after(fs, &dir(), Zxid(0x10), Zxid(0x26), NO_LIMIT).expect("range"));
    let expected: Vec<(Zxid, Vec<u8>)> = golden_entries().into_iter().filter(|(z, _)| z.0 > 0x10).collect();
    assert_eq!(txns.len(), 0x26 - 0x10);
    let digests = manifest_digests();
    for (txn, (zxid, bytes)) in txns.iter().zip(&expected) {
        assert_eq!(txn.zxid, *zxid);
        assert_eq!(&txn.entry, bytes);
        // The TxnDigest Apache ZooKeeper 3.8.0 logged after the txn, where it logged one (the manifest says).
        let logged = &digests[&zxid.0];
        match &txn.digest {
            Some(digest) => {
                assert_eq!(logged["version"], 2, "{zxid}");
                assert_eq!(logged["tree_digest"], digest.tree_digest, "{zxid}");
                assert_eq!(&bytes[bytes.len() - 8..], &digest.tree_digest.to_be_bytes());
            }
            None => assert!(logged.is_null(), "{zxid}: the manifest has a digest"),
        }
    }
    assert!(txns.iter().any(|t| t.digest.is_some()));
}

/// The digest the manifest lists for each logged zxid (null where none was logged).
fn manifest_digests() -> std::collections::BTreeMap<i64, serde_json::Value> {
    let text = std::fs::read_to_string(golden().join("manifest.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut out = std::collections::BTreeMap::new();
    for file in manifest["files"].as_array().expect("files") {
        for txn in file["txns"].as_array().into_iter().flatten() {
            let zxid = txn["header"]["zxid"].as_i64().expect("zxid");
            out.insert(
                zxid,
                txn.get("digest").cloned().unwrap_or(serde_json::Value::Null),
            );
        }
    }
    out
}

#[test]
fn a_diff_stops_at_the_last_committed_zxid() {
    let fs = golden_fs_without(&[]);
    let txns = collect(read_txns_after(fs, &dir(), Zxid(0x5), Zxid(0x20), NO_LIMIT).expect("range"));
    let zxids: Vec<i64> = txns.iter().map(|t| t.zxid.0).collect();
    assert_eq!(zxids, (0x6..=0x20).collect::<Vec<_>>());
}

#[test]
fn a_learner_older_than_the_oldest_log_needs_a_snap() {
    let fs = golden_fs_without(&["log.1"]);
    match read_txns_after(fs, &dir(), Zxid(0x3), Zxid(0x26), NO_LIMIT) {
        Err(DiffError::StartNotInLog { after, oldest }) => {
            assert_eq!((after, oldest), (Zxid(0x3), Some(Zxid(0x7))));
        }
        other => panic!("expected StartNotInLog, got {other:?}"),
    }
    // A learner with nothing at all: the first logged txn is after its zxid 0, so nothing proves it complete.
    let fs = golden_fs_without(&[]);
    assert!(matches!(
        read_txns_after(fs, &dir(), Zxid(0), Zxid(0x26), NO_LIMIT),
        Err(DiffError::StartNotInLog {
            oldest: Some(Zxid(1)),
            ..
        })
    ));
}

#[test]
fn the_size_limit_is_the_newest_snapshot_size_times_the_factor() {
    let fs = golden_fs_without(&[]);
    let snapshot_len = std::fs::metadata(golden().join("snapshot.25"))
        .expect("snapshot.25")
        .len();
    let limit = txn_log_size_limit(fs.as_ref(), &dir(), SnapshotSizeFactor::DEFAULT).expect("limit");
    assert_eq!(limit, LogSizeLimit::Bytes((snapshot_len as f64 * 0.33) as u64));
    // From 0x10 the logs after log.7 (three preallocated files of 16400 bytes) are far larger.
    match read_txns_after(Arc::clone(&fs) as _, &dir(), Zxid(0x10), Zxid(0x26), limit) {
        Err(DiffError::TooLarge { size, limit: l }) => assert_eq!((size, l), (3 * 16400, 392)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // From 0x20 only log.1e is read, and nothing after it counts: within the limit.
    let txns =
        collect(read_txns_after(Arc::clone(&fs) as _, &dir(), Zxid(0x20), Zxid(0x26), limit).expect("range"));
    assert_eq!(txns.len(), 6);
    let off = txn_log_size_limit(fs.as_ref(), &dir(), SnapshotSizeFactor::parse("-1")).expect("limit");
    assert_eq!(off, LogSizeLimit::Disabled);
    assert!(matches!(
        read_txns_after(fs, &dir(), Zxid(0x20), Zxid(0x26), off),
        Err(DiffError::Disabled)
    ));
    // No snapshot yet: no limit, as in getProposalsFromTxnLog.
    let none = FaultyFs::new();
    assert_eq!(
        txn_log_size_limit(&none, &dir(), SnapshotSizeFactor::DEFAULT).expect("limit"),
        LogSizeLimit::Bytes(0)
    );
}

#[test]
fn the_size_factor_is_read_as_zookeeper_reads_it() {
    assert_eq!(SnapshotSizeFactor::parse("0.5").value(), 0.5);
    assert_eq!(SnapshotSizeFactor::parse("2"), SnapshotSizeFactor::DEFAULT);
    assert_eq!(SnapshotSizeFactor::parse("lots"), SnapshotSizeFactor::DEFAULT);
    assert!(!SnapshotSizeFactor::parse("-0.1").enabled());
    assert!(SnapshotSizeFactor::parse("0").enabled());
}

/// `entry` with its TxnHeader's zxid replaced.
fn with_zxid(entry: &[u8], zxid: Zxid) -> (Zxid, Vec<u8>) {
    let mut bytes = entry.to_vec();
    bytes[12..20].copy_from_slice(&zxid.0.to_be_bytes());
    (zxid, bytes)
}

fn write_log(fs: &Arc<FaultyFs>, entries: &[(Zxid, Vec<u8>)]) {
    let config = LogConfig {
        pre_alloc_bytes: 64 * 1024,
        ..LogConfig::default()
    };
    let mut log = TxnLogWriter::new(Arc::clone(fs) as _, &dir(), config, Zxid(0));
    for (zxid, bytes) in entries {
        log.append(*zxid, bytes).expect("append");
    }
    log.sync().expect("sync");
}

#[test]
fn a_gap_in_the_zxids_of_one_epoch_stops_the_diff_with_file_and_offset() {
    let fs = Arc::new(FaultyFs::new());
    let sample = &golden_entries()[2].1;
    let entries: Vec<(Zxid, Vec<u8>)> = [1, 2, 3, 5, 6]
        .iter()
        .map(|&z| with_zxid(sample, Zxid(z)))
        .collect();
    write_log(&fs, &entries);
    let mut range = read_txns_after(Arc::clone(&fs) as _, &dir(), Zxid(1), Zxid(6), NO_LIMIT).expect("range");
    assert_eq!(range.next().expect("2").expect("2").zxid, Zxid(2));
    assert_eq!(range.next().expect("3").expect("3").zxid, Zxid(3));
    match range.next() {
        Some(Err(DiffError::Gap {
            last,
            next,
            file,
            offset,
        })) => {
            assert_eq!((last, next), (Zxid(3), Zxid(5)));
            assert_eq!(file, dir().join("log.1"));
            assert!(offset > 16);
        }
        other => panic!("expected a gap, got {other:?}"),
    }
    assert!(range.next().is_none());
}

#[test]
fn entries_larger_than_a_read_chunk_come_whole_and_a_new_epoch_is_no_gap() {
    let fs = Arc::new(FaultyFs::new());
    // A setData of 3 MiB (the golden entries hold no large one): header, path, data, version.
    let mut big = golden_entries()
        .into_iter()
        .find(|(_, b)| i32::from_be_bytes(b[28..32].try_into().expect("type")) == 5)
        .expect("a setData in the golden log")
        .1;
    let data_at = 32 + 4 + i32::from_be_bytes(big[32..36].try_into().expect("len")) as usize;
    let old_len = i32::from_be_bytes(big[data_at..data_at + 4].try_into().expect("len")) as usize;
    let payload = vec![7u8; 3 << 20];
    let mut rebuilt = big[..data_at].to_vec();
    rebuilt.extend_from_slice(&(payload.len() as i32).to_be_bytes());
    rebuilt.extend_from_slice(&payload);
    rebuilt.extend_from_slice(&big[data_at + 4 + old_len..]);
    big = rebuilt;
    let epoch1 = 1i64 << 32;
    let entries = vec![
        with_zxid(&big, Zxid(1)),
        with_zxid(&big, Zxid(2)),
        with_zxid(&big, Zxid(epoch1 + 1)),
        with_zxid(&big, Zxid(epoch1 + 2)),
    ];
    write_log(&fs, &entries);
    let txns = collect(read_txns_after(fs, &dir(), Zxid(1), Zxid(epoch1 + 2), NO_LIMIT).expect("range"));
    let got: Vec<(Zxid, Vec<u8>)> = txns.into_iter().map(|t| (t.zxid, t.entry)).collect();
    assert_eq!(got, entries[1..].to_vec());
}

/// A new leader's committed log: the tail of the newest log up to its last zxid, without that file's first
/// entry (log.1e starts at 0x1e: 0x1f..=0x26), at most as many as asked for, and nothing when the logs do not
/// end at the zxid given.
#[test]
fn a_new_leader_takes_the_tail_of_the_newest_log_as_its_committed_log() {
    use ferrokeeper::storage::diff::recent_txns;
    let fs = golden_fs_without(&[]);
    let all = recent_txns(Arc::clone(&fs) as _, &dir(), Zxid(0x26), 500);
    let zxids: Vec<i64> = all.iter().map(|t| t.header.zxid).collect();
    assert_eq!(zxids, (0x1f..=0x26).collect::<Vec<i64>>());
    let three = recent_txns(Arc::clone(&fs) as _, &dir(), Zxid(0x26), 3);
    assert_eq!(
        three.iter().map(|t| t.header.zxid).collect::<Vec<_>>(),
        [0x24, 0x25, 0x26]
    );
    assert!(recent_txns(fs, &dir(), Zxid(0x40), 500).is_empty());
}

#[test]
fn a_range_tells_whether_the_learners_zxid_is_logged_and_which_one_comes_before_it() {
    let fs = Arc::new(FaultyFs::new());
    let sample = &golden_entries()[2].1;
    let e1 = 1i64 << 32;
    let entries: Vec<(Zxid, Vec<u8>)> = [1, 2, 3, e1 | 1, e1 | 2]
        .iter()
        .map(|&z| with_zxid(sample, Zxid(z)))
        .collect();
    write_log(&fs, &entries);
    // Logged: the leader answers DIFF.
    let mut range =
        read_txns_after(Arc::clone(&fs) as _, &dir(), Zxid(2), Zxid(e1 | 1), NO_LIMIT).expect("range");
    let got: Vec<Zxid> = range.by_ref().map(|t| t.expect("txn").zxid).collect();
    assert_eq!(got, [Zxid(3), Zxid(e1 | 1)]);
    assert_eq!(range.start(), (Some(Zxid(1)), true));
    // Never logged (a txn of an old epoch only the learner has): TRUNC to 3 would be the answer.
    let mut range =
        read_txns_after(Arc::clone(&fs) as _, &dir(), Zxid(4), Zxid(e1 | 2), NO_LIMIT).expect("range");
    let got: Vec<Zxid> = range.by_ref().map(|t| t.expect("txn").zxid).collect();
    assert_eq!(got, [Zxid(e1 | 1), Zxid(e1 | 2)]);
    assert_eq!(range.start(), (Some(Zxid(3)), false));
}
