//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) through the same bodies the fuzz targets run,
//! so `cargo test` keeps every input the fuzzer kept (and every crash it found, once fixed) from regressing.
//! The heap bound is checked only under the fuzzer, which has a counting allocator.

use std::fs;
use std::path::Path;

#[path = "../fuzz/src/bodies.rs"]
mod bodies;

/// A corpus smaller than this means the files were not checked out or a target lost its corpus.
const CORPUS_FILES_MIN: usize = 5;

#[test]
fn every_fuzz_target_replays_its_committed_corpus_without_panicking() {
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
