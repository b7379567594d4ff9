//! Replays the committed corpus of the data-directory fuzz targets (`fuzz/corpus/<target>/`) through the same
//! bodies the fuzz targets run, so `cargo test` keeps every input the fuzzer kept (and every crash it found,
//! once fixed) from regressing.

use std::fs;
use std::path::Path;

#[path = "../fuzz/src/bodies.rs"]
mod bodies;

/// A corpus smaller than this means the files were not checked out or a target lost its corpus.
const CORPUS_FILES_MIN: usize = 5;

#[test]
fn every_storage_fuzz_target_replays_its_committed_corpus_without_panicking() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus");
    for (name, body) in bodies::TARGETS {
        let dir = root.join(name);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|entry| entry.expect("corpus entry").path())
            .collect();
        files.sort();
        assert!(
            files.len() >= CORPUS_FILES_MIN,
            "{name}: only {} corpus files",
            files.len()
        );
        for file in files {
            let data = fs::read(&file).expect("corpus file");
            let outcome = std::panic::catch_unwind(|| body(&data));
            assert!(outcome.is_ok(), "{name}: {} panicked", file.display());
        }
    }
}

/// The seeds do reach the deep end: the framed golden logs replay entries, the golden snapshots load.
#[test]
fn the_seed_modes_reach_replay_and_snapshot_loading() {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("jute/tests/golden/datadir");
    let log = fs::read(golden.join("log.1")).expect("golden log");
    let framed = {
        let mut entries = Vec::new();
        let path = golden.join("log.1");
        ferrokeeper::storage::logread::scan_file(&path, &log, |_, e| {
            entries.extend_from_slice(&(e.len() as u16).to_be_bytes());
            entries.extend_from_slice(e);
            Ok(())
        })
        .expect("scan");
        bodies::framed_log(&entries)
    };
    assert_eq!(
        &framed[..],
        &log[..framed.len()],
        "framing rebuilds the golden log"
    );
    let snap = fs::read(golden.join("snapshot.f")).expect("golden snapshot");
    assert_eq!(
        bodies::seal(snap.clone(), false),
        snap,
        "a valid snapshot needs no patch"
    );
    // A changed session id (header 16 bytes, count 4, then the first id) breaks only the seals.
    let tree = ferrokeeper::core::tree::DataTree::new(false);
    let mut changed = ferrokeeper::core::tree::snapshot::snapshot_of(&tree, &[(7, 30_000)]).to_bytes();
    changed[27] = 8;
    let decode = |b: &[u8]| ferrokeeper::core::tree::snapshot::decode(b, false);
    assert!(decode(&changed).is_err(), "the seal catches the change");
    let loaded = decode(&bodies::seal(changed, false)).expect("patched seals read back");
    assert_eq!(loaded.sessions, vec![(8, 30_000)]);
}
