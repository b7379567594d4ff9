//! Truncating the log to a zxid when the leader sends TRUNC (`Learner.syncWithLeader`, `ZKDatabase.truncateLog`,
//! `FileTxnSnapLog.truncateLog`, `FileTxnLog.truncate`): every txn after the zxid leaves the data directory, the
//! entries after it in the log file that holds it (the file is cut right after its last entry at or before the
//! zxid, as `RandomAccessFile.setLength` does there) and every later log file. The caller closes its log writer
//! first and starts a new one at the zxid afterwards, as `truncateLog` closes and reopens `FileTxnLog`.
//!
//! Snapshots named after a later zxid hold txns that are being removed: they are removed too, provided an older
//! snapshot remains from which the logs rebuild the state at the zxid. Without one the truncation is refused
//! ([`TruncateError::NeedsSnapshot`]): only a SNAP from the leader can bring the member back. (Apache ZooKeeper
//! keeps such snapshots and reloads the newest, so its tree keeps the truncated txns; it also keeps the first
//! entry after the zxid when the zxid itself is not in the log. Neither happens here.)
//!
//! Crash safety: removing several files is not atomic, so the truncation is first recorded in
//! `<dataLogDir>/version-2/truncate` (the zxid in hex, written through `truncate.tmp`, fsynced and renamed).
//! Until that file is durable a crash leaves the old state; once it is, [`finish_pending`] (which recovery runs
//! before it loads anything) completes the truncation, so a crash anywhere later leaves the truncated state.
//! Every step is idempotent. Apache ZooKeeper ignores the file (it reads only `log.*` and `snapshot.*`).

use std::path::{Path, PathBuf};

use super::fs::{write_atomic, Fs};
use super::logread::{entry_zxid, read_log, scan_file, RECORD_OVERHEAD};
use super::names::{sorted, LOG_PREFIX};
use super::recovery::DataDirs;
use super::snapfile::{list_snapshots, looks_valid};
use super::txnlog::HEADER_LEN;
use super::StorageError;
use crate::types::Zxid;

/// The file recording a truncation under way, in the log directory.
pub const MARKER: &str = "truncate";

/// Why a truncation was not done.
#[derive(Debug, thiserror::Error)]
pub enum TruncateError {
    /// A snapshot newer than the zxid exists and no snapshot at or before it remains: the state at the zxid
    /// cannot be rebuilt from this data directory.
    #[error(
        "cannot truncate the log to {zxid}: snapshot {snapshot} is newer and no snapshot at or before {zxid} \
         remains to rebuild from; the member needs a SNAP"
    )]
    NeedsSnapshot { zxid: Zxid, snapshot: Zxid },
    /// The logs after the snapshot that would remain do not reach the zxid.
    #[error(
        "cannot truncate the log to {zxid}: the newest snapshot at or before it is {snapshot} and no log holds \
         the txns between them; the member needs a SNAP"
    )]
    LogsDoNotReach { zxid: Zxid, snapshot: Zxid },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a truncation changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Truncated {
    pub removed_snapshots: Vec<PathBuf>,
    pub removed_logs: Vec<PathBuf>,
    /// The log file that was cut, and its new length.
    pub cut: Option<(PathBuf, u64)>,
}

fn io_err(file: &Path) -> impl FnOnce(std::io::Error) -> StorageError {
    let file = file.to_path_buf();
    move |source| StorageError::Io { file, source }
}

fn list(fs: &dyn Fs, dir: &Path) -> Result<Vec<String>, StorageError> {
    match fs.list(dir) {
        Ok(names) => Ok(names),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(io_err(dir)(e)),
    }
}

/// Removes every txn after `zxid` from the data directory (TRUNC), crash-safely.
pub fn truncate_log(fs: &dyn Fs, dirs: &DataDirs, zxid: Zxid) -> Result<Truncated, TruncateError> {
    // A truncation a crash interrupted is finished first: its zxid may be lower.
    finish_pending(fs, dirs)?;
    check(fs, dirs, zxid)?;
    Ok(discard_after(fs, dirs, zxid)?)
}

/// Removes every txn and snapshot after `zxid` without asking whether the state at `zxid` can be rebuilt
/// from what remains: for a SNAP, whose snapshot replaces it. Crash-safe as [`truncate_log`].
pub fn discard_after(fs: &dyn Fs, dirs: &DataDirs, zxid: Zxid) -> Result<Truncated, StorageError> {
    let marker = dirs.log_dir.join(MARKER);
    tracing::warn!(%zxid, "truncating the txn log");
    write_atomic(fs, &marker, format!("{:x}", zxid.0).as_bytes()).map_err(io_err(&marker))?;
    let done = finish(fs, dirs, zxid)?;
    fs.remove(&marker).map_err(io_err(&marker))?;
    fs.sync_dir(&dirs.log_dir).map_err(io_err(&dirs.log_dir))?;
    Ok(done)
}

/// Refuses a truncation the data directory could not recover from.
fn check(fs: &dyn Fs, dirs: &DataDirs, zxid: Zxid) -> Result<(), TruncateError> {
    let snaps = list_snapshots(fs, &dirs.snap_dir)?;
    let Some(&(newest, _)) = snaps.first() else {
        return Ok(());
    };
    let kept = snaps
        .iter()
        .find(|(z, path)| *z <= zxid && looks_valid(fs, path))
        .map(|(z, _)| *z);
    let Some(kept) = kept else {
        return Err(TruncateError::NeedsSnapshot {
            zxid,
            snapshot: newest,
        });
    };
    if kept < zxid {
        let logs = sorted(&list(fs, &dirs.log_dir)?, LOG_PREFIX);
        if !logs.iter().any(|(z, _)| *z <= zxid) {
            return Err(TruncateError::LogsDoNotReach { zxid, snapshot: kept });
        }
    }
    Ok(())
}

/// Completes a truncation recorded in the log directory by a run that did not finish it; the zxid it
/// truncated to, if there was one. Recovery calls this before it loads anything.
pub fn finish_pending(fs: &dyn Fs, dirs: &DataDirs) -> Result<Option<Zxid>, StorageError> {
    let marker = dirs.log_dir.join(MARKER);
    if !fs.exists(&marker) {
        return Ok(None);
    }
    let text = fs.read(&marker).map_err(io_err(&marker))?;
    let zxid = std::str::from_utf8(&text)
        .ok()
        .and_then(|t| i64::from_str_radix(t.trim(), 16).ok())
        .map(Zxid)
        .ok_or_else(|| StorageError::Corrupt {
            file: marker.clone(),
            offset: 0,
            message: format!("not a zxid in hex: {:?}", String::from_utf8_lossy(&text)),
        })?;
    tracing::warn!(%zxid, "finishing an interrupted truncation of the txn log");
    finish(fs, dirs, zxid)?;
    fs.remove(&marker).map_err(io_err(&marker))?;
    fs.sync_dir(&dirs.log_dir).map_err(io_err(&dirs.log_dir))?;
    Ok(Some(zxid))
}

/// The truncation itself; safe to run again on what a crash left of it.
fn finish(fs: &dyn Fs, dirs: &DataDirs, zxid: Zxid) -> Result<Truncated, StorageError> {
    let mut done = Truncated::default();
    for (z, path) in list_snapshots(fs, &dirs.snap_dir)? {
        if z > zxid {
            tracing::warn!(file = %path.display(), "removing a snapshot newer than the truncation");
            fs.remove(&path).map_err(io_err(&path))?;
            done.removed_snapshots.push(path);
        }
    }
    if !done.removed_snapshots.is_empty() {
        fs.sync_dir(&dirs.snap_dir).map_err(io_err(&dirs.snap_dir))?;
    }
    let logs = sorted(&list(fs, &dirs.log_dir)?, LOG_PREFIX);
    for (_, name) in logs.iter().rev().filter(|(z, _)| *z > zxid) {
        let path = dirs.log_dir.join(name);
        tracing::warn!(file = %path.display(), "removing a log after the truncation");
        fs.remove(&path).map_err(io_err(&path))?;
        done.removed_logs.push(path);
    }
    if !done.removed_logs.is_empty() {
        fs.sync_dir(&dirs.log_dir).map_err(io_err(&dirs.log_dir))?;
    }
    if let Some((_, name)) = logs.iter().rev().find(|(z, _)| *z <= zxid) {
        let path = dirs.log_dir.join(name);
        done.cut = cut_after(fs, &path, zxid)?;
    }
    Ok(done)
}

/// Cuts the log file at `path` right after its last entry at or before `zxid`, unless it already ends there.
fn cut_after(fs: &dyn Fs, path: &Path, zxid: Zxid) -> Result<Option<(PathBuf, u64)>, StorageError> {
    let data = read_log(fs, path).map_err(io_err(path))?;
    let mut end = HEADER_LEN;
    let mut past = false;
    let scan = scan_file(path, &data, |offset, bytes| {
        match entry_zxid(bytes) {
            Some(z) if z <= zxid && !past => end = offset + (bytes.len() + RECORD_OVERHEAD) as u64,
            _ => past = true,
        }
        Ok(())
    })?;
    let len = fs.file_len(path).map_err(io_err(path))?;
    if !past && scan.end_offset == end && len == end {
        return Ok(None);
    }
    let mut file = fs.open(path).map_err(io_err(path))?;
    file.set_len(end).map_err(io_err(path))?;
    file.fsync().map_err(io_err(path))?;
    tracing::warn!(file = %path.display(), offset = end, "cut the txn log after the truncation zxid");
    Ok(Some((path.to_path_buf(), end)))
}
