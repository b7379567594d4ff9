//! Latency during snapshots: which snapshot files the server wrote while the run lasted, when each was being
//! written (from the file's birth time to its last modification), and the latency of the operations in flight
//! during those windows compared with all the others.
//!
//! ZooKeeper names snapshots `snapshot.<zxid hex>` in `dataDir/version-2` and writes each in one pass
//! (`FileTxnSnapLog.save`, `SnapStream`), so the file's birth and modification times bound the write.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::stats::{Summary, LATENCY_US_MAX};

/// A snapshot file and when it was written, in microseconds from the run's start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub file: String,
    pub start_us: u64,
    pub end_us: u64,
    pub bytes: u64,
}

/// Latency split by whether an operation overlapped a snapshot being written.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotSplit {
    pub windows: Vec<Window>,
    pub during_us: Summary,
    pub steady_us: Summary,
}

/// The snapshot files present in `dir` now.
pub fn list(dir: &Path) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with("snapshot.") {
            names.insert(name);
        }
    }
    Ok(names)
}

/// The windows of the snapshots in `dir` that were not in `before`; `start` is the run's start.
pub fn windows(dir: &Path, before: &BTreeSet<String>, start: SystemTime) -> Result<Vec<Window>> {
    let mut out = Vec::new();
    for name in list(dir)?.difference(before) {
        let meta = std::fs::metadata(dir.join(name))?;
        let born = meta
            .created()
            .context("the file system does not report birth times")?;
        let offset = |t: SystemTime| t.duration_since(start).unwrap_or_default().as_micros() as u64;
        out.push(Window {
            file: name.clone(),
            start_us: offset(born),
            end_us: offset(meta.modified()?),
            bytes: meta.len(),
        });
    }
    out.sort_by_key(|w| w.start_us);
    Ok(out)
}

/// Splits traced operations (send offset, latency) into those that overlapped a window and the rest.
pub fn split(trace: &[(u64, u64)], windows: Vec<Window>) -> Result<SnapshotSplit> {
    let mut during = Histogram::<u64>::new_with_bounds(1, LATENCY_US_MAX, 3)?;
    let mut steady = during.clone();
    for &(sent, latency) in trace {
        let done = sent + latency;
        let overlaps = windows.iter().any(|w| sent <= w.end_us && done >= w.start_us);
        let h = if overlaps { &mut during } else { &mut steady };
        h.saturating_record(latency.clamp(1, LATENCY_US_MAX));
    }
    Ok(SnapshotSplit {
        windows,
        during_us: Summary::of(&during),
        steady_us: Summary::of(&steady),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_overlapping_a_window_are_counted_as_during() {
        let windows = vec![Window {
            file: "snapshot.10".into(),
            start_us: 1_000,
            end_us: 2_000,
            bytes: 1,
        }];
        let trace = [
            (0, 100),      // before
            (900, 200),    // completes inside
            (1_500, 10),   // inside
            (1_900, 5000), // starts inside
            (500, 3_000),  // spans the window
            (2_100, 50),   // after
            (3_000, 60),   // after
        ];
        let s = split(&trace, windows).expect("split");
        assert_eq!(s.during_us.count, 4);
        assert_eq!(s.steady_us.count, 3);
        assert!(s.during_us.max.abs_diff(5_000) <= 5);
        assert!(s.steady_us.max.abs_diff(100) <= 1);
    }

    #[test]
    fn new_snapshot_files_become_windows() {
        let dir = std::env::temp_dir().join(format!("fk-bench-snap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("snapshot.1"), b"old").expect("write");
        std::fs::write(dir.join("log.1"), b"log").expect("write");
        let start = SystemTime::now() - std::time::Duration::from_secs(1);
        let before = list(&dir).expect("list");
        assert_eq!(before.len(), 1);
        std::fs::write(dir.join("snapshot.2"), vec![0u8; 4096]).expect("write");
        let w = windows(&dir, &before, start).expect("windows");
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].file.as_str(), w[0].bytes), ("snapshot.2", 4096));
        assert!(w[0].start_us >= 900_000 && w[0].end_us >= w[0].start_us, "{w:?}");
    }
}
