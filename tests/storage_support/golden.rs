//! The data directory Apache ZooKeeper 3.8.0 wrote (jute/tests/golden/datadir: snapshots 0, 5, f, 16, 1c, 25;
//! logs 1, 7, 11, 18, 1e; last zxid 0x26), loaded into a fault-injecting file system.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferrokeeper::storage::faulty::FaultyFs;
use ferrokeeper::storage::fs::Fs;
use ferrokeeper::storage::recovery::{DataDirs, Recovered, RecoveryOptions};
use ferrokeeper::types::Zxid;

pub fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("jute/tests/golden/datadir")
}

/// dataDir and dataLogDir, one directory as in the golden capture.
pub fn dirs() -> DataDirs {
    DataDirs::new(Path::new("/data"), Path::new("/data"))
}

pub fn opts() -> RecoveryOptions {
    RecoveryOptions {
        extended_types: true,
        trust_empty_snapshot: false,
        repair: true,
    }
}

/// The golden logs and snapshots: name and path.
pub fn golden_files() -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(golden()).expect("golden") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_string();
        if name.starts_with("log.") || name.starts_with("snapshot.") {
            files.push((name, path));
        }
    }
    files
}

/// The golden files, durable, without those named in `skip`.
pub fn golden_fs_without(skip: &[&str]) -> FaultyFs {
    let fs = FaultyFs::new();
    let dir = dirs().snap_dir;
    for (name, path) in golden_files() {
        if !skip.contains(&name.as_str()) {
            fs.put(&dir.join(name), &std::fs::read(&path).expect("read"));
        }
    }
    fs
}

/// What a recovered database comes down to: zxid, tree digest, node count, sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub zxid: Zxid,
    pub digest: u64,
    pub nodes: usize,
    pub sessions: Vec<(i64, i32)>,
}

pub fn summary(r: &Recovered) -> Summary {
    Summary {
        zxid: r.last_zxid,
        digest: r.tree.digest(),
        nodes: r.tree.node_count(),
        sessions: r.sessions.clone(),
    }
}

/// The names of `paths`.
pub fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| p.file_name().and_then(|n| n.to_str()).expect("name").to_string())
        .collect()
}

/// Every file of the data directory with its bytes.
pub fn files(fs: &FaultyFs) -> BTreeMap<String, Vec<u8>> {
    let dir = dirs().snap_dir;
    fs.list(&dir)
        .expect("list")
        .into_iter()
        .map(|n| {
            let bytes = fs.contents(&dir.join(&n)).expect("contents");
            (n, bytes)
        })
        .collect()
}
