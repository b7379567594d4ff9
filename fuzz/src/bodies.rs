//! What each fuzz target does with its bytes, as plain functions: the fuzz targets run them, and
//! `tests/storage_fuzz_corpus.rs` replays the committed corpus through them.
//!
//! Both targets end in start-up recovery (`storage::recovery::recover`) over an in-memory data directory, so
//! everything a damaged or hostile file reaches on the way is covered: the log scanner and torn-tail repair,
//! txn decoding and replay into the tree, session tracking, the snapshot decompressors and decoder, and the
//! removal of dead sessions' ephemerals. A body panics when an invariant breaks:
//! - no input makes the readers panic (an error is fine: it names the file and stops the start);
//! - the log scanner reports entries in file order, inside the file, and an end within the file;
//! - recovery that succeeded succeeds again on the directory it left (the torn tail it cut stays cut) with
//!   the same zxid, tree and sessions;
//! - whatever tree was recovered or loaded is written as a snapshot that reads back, and writing and reading
//!   that again gives the same tree.
//!
//! Checksums would stop the fuzzer at the first entry, so each input starts with a mode byte that can have the
//! body compute them: log entries framed with their Adler-32, snapshot seals patched with theirs.

use std::io::Write;
use std::path::{Path, PathBuf};

use ferrokeeper::core::tree::snapshot::{self, snapshot_of};
use ferrokeeper::core::tree::DataTree;
use ferrokeeper::storage::faulty::FaultyFs;
use ferrokeeper::storage::fs::Fs;
use ferrokeeper::storage::logread;
use ferrokeeper::storage::recovery::{recover, DataDirs, Recovered, RecoveryOptions};
use ferrokeeper::storage::snapfile::read_snapshot;
use ferrokeeper::storage::snappy::SnappyWriter;
use ferrokeeper::storage::txnlog::{frame_entry, TXNLOG_MAGIC};

/// A target body.
pub type Body = fn(&[u8]);

/// Every target, by the name of its fuzz target and corpus directory.
pub const TARGETS: &[(&str, Body)] = &[("txnlog", txnlog), ("snapshot", snapshot)];

/// Seals patched at most (a snapshot has two or three).
const SEALS_MAX: usize = 4;

fn dirs() -> DataDirs {
    DataDirs::new(Path::new("/d"), Path::new("/d"))
}

fn options(extended_types: bool) -> RecoveryOptions {
    RecoveryOptions {
        extended_types,
        trust_empty_snapshot: false,
        repair: true,
    }
}

/// A log header and then, from `rest`, entries of (u16 length, bytes) framed with their checksums; what is
/// left after the last whole entry goes after them as it is (a torn tail, or anything else).
pub fn framed_log(rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rest.len() + 64);
    out.extend_from_slice(&TXNLOG_MAGIC.to_be_bytes());
    out.extend_from_slice(&2i32.to_be_bytes());
    out.extend_from_slice(&0i64.to_be_bytes());
    let mut rest = rest;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let Some(entry) = rest.get(2..2 + len) else {
            break;
        };
        frame_entry(&mut out, entry);
        rest = &rest[2 + len..];
    }
    out.extend_from_slice(rest);
    out
}

/// A snapshot of `tree` reads back, and a snapshot of what it read back reads back as the same tree. (Not
/// necessarily as `tree` itself: a log can hold txns no server would write, such as children of an ephemeral
/// that is then removed with its session; as in Apache ZooKeeper, the replay leaves those children in the tree
/// but unreachable, and a snapshot, written by walking from the root, does not hold them.)
fn assert_snapshot_round_trip(tree: &DataTree, sessions: &[(i64, i32)], extended_types: bool) {
    let read_back = |tree: &DataTree, sessions: &[(i64, i32)]| {
        let bytes = snapshot_of(tree, sessions).to_bytes();
        match snapshot::decode(&bytes, extended_types) {
            Ok(back) => back,
            Err(e) => panic!("a snapshot written from a loaded tree does not read back: {e}"),
        }
    };
    let once = read_back(tree, sessions);
    assert!(
        once.tree.node_count() <= tree.node_count(),
        "nodes out of nowhere"
    );
    assert_eq!(once.sessions, sessions, "sessions");
    let twice = read_back(&once.tree, &once.sessions);
    assert_eq!(twice.tree.node_count(), once.tree.node_count(), "node count");
    assert_eq!(twice.tree.digest(), once.tree.digest(), "tree digest");
    assert_eq!(twice.sessions, once.sessions, "sessions");
}

/// Recovery that succeeded succeeds again on what it left, with the same result.
fn assert_recovers_again(fs: &FaultyFs, first: &Recovered, extended_types: bool) {
    let again = match recover(fs, &dirs(), options(extended_types)) {
        Ok(again) => again,
        Err(e) => panic!("the directory recovery left does not recover again: {e}"),
    };
    assert_eq!(again.last_zxid, first.last_zxid, "last zxid");
    assert_eq!(again.tree.digest(), first.tree.digest(), "tree digest");
    assert_eq!(again.tree.node_count(), first.tree.node_count(), "node count");
    assert_eq!(again.sessions, first.sessions, "sessions");
    assert_eq!(again.torn_tail, None, "the torn tail was cut the first time");
}

/// Mode bit 0: `framed_log` of the rest (else the rest is the log file); bit 1: extended types. The log is
/// `log.1` after an empty snapshot at zxid 0.
pub fn txnlog(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let extended_types = mode & 2 != 0;
    let file = if mode & 1 == 1 {
        framed_log(rest)
    } else {
        rest.to_vec()
    };
    let dirs = dirs();
    let path = dirs.log_dir.join("log.1");
    let mut previous: Option<u64> = None;
    let scanned = logread::scan_file(&path, &file, |offset, entry| {
        assert!(previous.is_none_or(|p| p < offset), "entries out of order");
        assert!(
            offset as usize + entry.len() + 13 <= file.len(),
            "entry past the end"
        );
        previous = Some(offset);
        Ok(())
    });
    if let Ok(scan) = scanned {
        assert!(scan.end_offset as usize <= file.len(), "end past the file");
        assert!(
            previous.is_none_or(|p| p < scan.end_offset),
            "end before the last entry"
        );
    }
    let fs = FaultyFs::new();
    let empty = snapshot_of(&DataTree::new(extended_types), &[]).to_bytes();
    fs.put(&dirs.snap_dir.join("snapshot.0"), &empty);
    fs.put(&path, &file);
    if let Ok(first) = recover(&fs, &dirs, options(extended_types)) {
        assert_snapshot_round_trip(&first.tree, &first.sessions, extended_types);
        assert_recovers_again(&fs, &first, extended_types);
    }
}

/// Patches up to [`SEALS_MAX`] seals of a plain snapshot stream with the checksum the decoder expects there.
pub fn seal(mut stream: Vec<u8>, extended_types: bool) -> Vec<u8> {
    for _ in 0..SEALS_MAX {
        let Err(e) = snapshot::decode(&stream, extended_types) else {
            break;
        };
        let at = e.offset as usize;
        if !e.message.starts_with("CRC corruption") || at + 8 > stream.len() {
            break;
        }
        let sum = u64::from(adler2::adler32_slice(&stream[..at]));
        stream[at..at + 8].copy_from_slice(&sum.to_be_bytes());
    }
    stream
}

fn gzip(stream: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let written = gz.write_all(stream).and_then(|()| gz.finish());
    written.unwrap_or_else(|e| panic!("gzip into memory: {e}"))
}

fn snappy(stream: &[u8]) -> Vec<u8> {
    let written = SnappyWriter::new(Vec::new()).and_then(|mut w| {
        w.write_all(stream)?;
        w.finish()
    });
    written.unwrap_or_else(|e| panic!("snappy into memory: {e}"))
}

/// Mode bits 0-1: 0 a plain snapshot, 1 gzip of it, 2 snappy of it, 3 the rest as a compressed file as it is
/// (bit 2: `.gz`, else `.snappy`); bit 3: extended types; bit 4: patch the seals of the stream. The file is
/// `snapshot.1`, alone in the data directory.
pub fn snapshot(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let extended_types = mode & 8 != 0;
    let stream = || {
        if mode & 16 != 0 {
            seal(rest.to_vec(), extended_types)
        } else {
            rest.to_vec()
        }
    };
    let (name, file) = match mode & 3 {
        0 => ("snapshot.1", stream()),
        1 => ("snapshot.1.gz", gzip(&stream())),
        2 => ("snapshot.1.snappy", snappy(&stream())),
        _ if mode & 4 != 0 => ("snapshot.1.gz", rest.to_vec()),
        _ => ("snapshot.1.snappy", rest.to_vec()),
    };
    let dirs = dirs();
    let path: PathBuf = dirs.snap_dir.join(name);
    let fs = FaultyFs::new();
    fs.put(&path, &file);
    if let Ok(plain) = read_snapshot(&fs, &path) {
        if let Ok(loaded) = snapshot::decode(&plain, extended_types) {
            assert_snapshot_round_trip(&loaded.tree, &loaded.sessions, extended_types);
        }
    }
    if let Ok(first) = recover(&fs, &dirs, options(extended_types)) {
        assert_snapshot_round_trip(&first.tree, &first.sessions, extended_types);
        assert_recovers_again(&fs, &first, extended_types);
    }
    assert!(fs.exists(&path), "recovery never removes a snapshot");
}
