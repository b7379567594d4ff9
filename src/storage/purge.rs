//! Removing old snapshots and logs (`PurgeTxnLog.purge`, run every `autopurge.purgeInterval` hours by
//! `DatadirCleanupManager`): keep the newest `autopurge.snapRetainCount` valid snapshots (at least 3) and
//! every log that recovery from the oldest of them needs; remove older snapshots and logs.

use std::path::PathBuf;

use super::fs::Fs;
use super::logread::files_after;
use super::names::{sorted, LOG_PREFIX};
use super::recovery::DataDirs;
use super::snapfile::{list_snapshots, looks_valid};
use super::StorageError;

/// The smallest retain count ZooKeeper accepts.
pub const MIN_RETAIN: usize = 3;

/// Purges old files and returns what was removed.
pub fn purge(fs: &dyn Fs, dirs: &DataDirs, retain: usize) -> Result<Vec<PathBuf>, StorageError> {
    let retain = retain.max(MIN_RETAIN);
    let valid: Vec<_> = list_snapshots(fs, &dirs.snap_dir)?
        .into_iter()
        .filter(|(_, p)| looks_valid(fs, p))
        .take(retain)
        .collect();
    let Some((least, _)) = valid.last().cloned() else {
        return Ok(Vec::new());
    };
    let keep_logs: Vec<PathBuf> = files_after(fs, &dirs.log_dir, least)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let mut doomed = Vec::new();
    let logs = fs.list(&dirs.log_dir).unwrap_or_default();
    for (z, name) in sorted(&logs, LOG_PREFIX) {
        let path = dirs.log_dir.join(name);
        if z < least && !keep_logs.contains(&path) {
            doomed.push(path);
        }
    }
    for (z, path) in list_snapshots(fs, &dirs.snap_dir)? {
        if z < least {
            doomed.push(path);
        }
    }
    for path in &doomed {
        tracing::info!(file = %path.display(), "removing file");
        fs.remove(path).map_err(|source| StorageError::Io {
            file: path.clone(),
            source,
        })?;
    }
    Ok(doomed)
}
