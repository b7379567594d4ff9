//! Reading the committed txns after a zxid from the logs, for a DIFF to a learner (`ZKDatabase.
//! getProposalsFromTxnLog`, `FileTxnLog.read(zxid, false)`, `FileTxnIterator`), and the rule that decides when a
//! DIFF from the logs is worth sending rather than a SNAP (`ZKDatabase.calculateTxnLogSizeLimit`,
//! `zookeeper.snapshotSizeFactor`, default 0.33).
//!
//! The leader asks for the txns after a learner's last zxid. As in Apache ZooKeeper, the logs read are the
//! newest one that starts at or before that zxid and every later one; their first entry must be at or before
//! it (otherwise the learner's zxid is older than the oldest log and only a SNAP serves), and the files after the
//! first one must not hold more bytes than the newest snapshot's file size times the factor
//! (`FileTxnIterator.getStorageSize` counts the files after the one opened first, preallocation included). A
//! negative factor turns DIFF from the logs off.
//!
//! The reader holds one chunk of one file at a time (plus the longest entry), never a whole log. Each txn
//! comes as its log bytes (TxnHeader, txn record, and the TxnDigest when ZooKeeper 3.6+ wrote one: exactly
//! the data of a PROPOSAL) with its zxid and digest. Where Apache ZooKeeper reads past a gap in the zxids of
//! one epoch or a damaged entry, this reader stops with [`DiffError::Gap`] or a corrupt-file error: a DIFF
//! with a hole would leave the learner silently different.

use std::path::PathBuf;
use std::sync::Arc;

use jute::records::txn::TxnDigest;
use jute::txn_entry::TxnEntry;

use super::fs::Fs;
use super::logread::{entry_zxid, files_after, read_record, LogEnd, Record, MAX_ENTRY_LEN, RECORD_OVERHEAD};
use super::snapfile::list_snapshots;
use super::txnlog::{HEADER_LEN, TXNLOG_MAGIC};
use super::StorageError;
use crate::types::Zxid;

/// `zookeeper.snapshotSizeFactor`: the share of the newest snapshot's size the logs sent in a DIFF may take.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotSizeFactor(f64);

impl SnapshotSizeFactor {
    /// `ZKDatabase.DEFAULT_SNAPSHOT_SIZE_FACTOR`.
    pub const DEFAULT: SnapshotSizeFactor = SnapshotSizeFactor(0.33);

    /// From the property's value as `ZKDatabase` reads it: a value that does not parse, or one above 1,
    /// gives the default (with a warning); a negative one turns DIFF from the logs off.
    pub fn parse(value: &str) -> SnapshotSizeFactor {
        match value.trim().parse::<f64>() {
            Ok(f) if f <= 1.0 => SnapshotSizeFactor(f),
            Ok(f) => {
                tracing::warn!(
                    value = f,
                    "zookeeper.snapshotSizeFactor above 1; using the default 0.33"
                );
                Self::DEFAULT
            }
            Err(e) => {
                tracing::warn!(value, error = %e, "zookeeper.snapshotSizeFactor is not a number; using 0.33");
                Self::DEFAULT
            }
        }
    }

    pub fn value(self) -> f64 {
        self.0
    }

    /// `ZKDatabase.isTxnLogSyncEnabled`.
    pub fn enabled(self) -> bool {
        self.0 >= 0.0
    }
}

impl Default for SnapshotSizeFactor {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl PartialEq for SnapshotSizeFactor {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for SnapshotSizeFactor {}

/// How many log bytes a DIFF from the logs may cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSizeLimit {
    /// The factor is negative: no DIFF from the logs.
    Disabled,
    /// At most this many bytes; 0 (no snapshot yet) means no limit, as in `getProposalsFromTxnLog`.
    Bytes(u64),
}

/// `ZKDatabase.calculateTxnLogSizeLimit`: the newest snapshot file's size times the factor.
pub fn txn_log_size_limit(
    fs: &dyn Fs,
    snap_dir: &std::path::Path,
    factor: SnapshotSizeFactor,
) -> Result<LogSizeLimit, StorageError> {
    if !factor.enabled() {
        return Ok(LogSizeLimit::Disabled);
    }
    let size = match list_snapshots(fs, snap_dir)?.first() {
        Some((_, path)) => fs.file_len(path).map_err(|source| StorageError::Io {
            file: path.clone(),
            source,
        })?,
        None => 0,
    };
    Ok(LogSizeLimit::Bytes((size as f64 * factor.value()) as u64))
}

/// Why the txns after a zxid cannot come from the logs (the learner then needs a SNAP), or stopped coming.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("reading txns from the log for a DIFF is off (zookeeper.snapshotSizeFactor is negative)")]
    Disabled,
    #[error("the logs to send hold {size} bytes, more than the limit of {limit} (snapshot size times zookeeper.snapshotSizeFactor)")]
    TooLarge { size: u64, limit: u64 },
    #[error("zxid {after} is older than the oldest log (which starts at {oldest:?})")]
    StartNotInLog { after: Zxid, oldest: Option<Zxid> },
    #[error("gap in the txn log at {} offset {offset}: zxid {next} follows {last} in the same epoch", file.display())]
    Gap {
        last: Zxid,
        next: Zxid,
        file: PathBuf,
        offset: u64,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// One logged txn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedTxn {
    pub zxid: Zxid,
    /// TxnHeader, txn record and (where logged) TxnDigest, as the log holds them and a PROPOSAL carries them.
    pub entry: Vec<u8>,
    pub digest: Option<TxnDigest>,
}

/// Bytes of a log read at a time.
const CHUNK: usize = 1 << 20;

/// The committed txns after a zxid and up to another, read from the logs a chunk at a time.
#[derive(Debug)]
pub struct TxnRange {
    fs: Arc<dyn Fs>,
    files: Vec<PathBuf>,
    /// Index of the file being read.
    file: usize,
    /// Bytes of the file from `buf_at`.
    buf: Vec<u8>,
    buf_at: u64,
    /// Where the next record starts, in the file.
    pos: u64,
    /// The file has no more bytes past the buffer.
    file_done: bool,
    after: Zxid,
    up_to: Zxid,
    last: Option<Zxid>,
    /// The last zxid read before `after`, and whether `after` itself was read.
    before: Option<Zxid>,
    saw_after: bool,
    done: bool,
}

/// The txns with `after < zxid <= up_to` (the leader's last committed zxid) from the logs in `log_dir`, if the
/// logs hold all of them within `limit`.
pub fn read_txns_after(
    fs: Arc<dyn Fs>,
    log_dir: &std::path::Path,
    after: Zxid,
    up_to: Zxid,
    limit: LogSizeLimit,
) -> Result<TxnRange, DiffError> {
    let LogSizeLimit::Bytes(limit) = limit else {
        return Err(DiffError::Disabled);
    };
    let files: Vec<PathBuf> = files_after(fs.as_ref(), log_dir, after)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    if limit > 0 {
        let mut size = 0;
        for path in files.iter().skip(1) {
            size += fs.file_len(path).map_err(|source| StorageError::Io {
                file: path.clone(),
                source,
            })?;
        }
        if size > limit {
            return Err(DiffError::TooLarge { size, limit });
        }
    }
    let mut range = TxnRange {
        fs,
        files,
        file: 0,
        buf: Vec::new(),
        buf_at: 0,
        pos: HEADER_LEN,
        file_done: false,
        after,
        up_to,
        last: None,
        before: None,
        saw_after: false,
        done: false,
    };
    range.open_file()?;
    // The first entry must be at or before `after`, so that nothing between them can be missing.
    let oldest = range.peek_first()?;
    match oldest {
        Some(first) if first <= after => Ok(range),
        _ => Err(DiffError::StartNotInLog { after, oldest }),
    }
}

impl TxnRange {
    /// Of the txns read so far up to the start: the last one before it, and whether the start zxid itself is
    /// logged (what a leader needs to choose between DIFF and TRUNC).
    pub fn start(&self) -> (Option<Zxid>, bool) {
        (self.before, self.saw_after)
    }

    fn path(&self) -> PathBuf {
        self.files[self.file].clone()
    }

    fn io(&self, source: std::io::Error) -> DiffError {
        DiffError::Storage(StorageError::Io {
            file: self.path(),
            source,
        })
    }

    /// Starts reading file `self.file` after its header, checking the header's magic.
    fn open_file(&mut self) -> Result<(), DiffError> {
        self.buf.clear();
        self.buf_at = 0;
        self.pos = HEADER_LEN;
        self.file_done = false;
        let Some(path) = self.files.get(self.file).cloned() else {
            return Ok(());
        };
        self.fill(HEADER_LEN as usize)?;
        let magic = self
            .buf
            .get(..4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        if magic != Some(TXNLOG_MAGIC) {
            return Err(DiffError::Storage(StorageError::Corrupt {
                file: path,
                offset: 0,
                message: "not a transaction log (no ZKLG header)".into(),
            }));
        }
        Ok(())
    }

    /// Makes the buffer hold at least `want` bytes from `pos`, unless the file ends first.
    fn fill(&mut self, want: usize) -> Result<(), DiffError> {
        let start = (self.pos - self.buf_at) as usize;
        if start > 0 && start <= self.buf.len() {
            self.buf.drain(..start);
            self.buf_at = self.pos;
        }
        while self.buf.len() < want && !self.file_done {
            let path = self.path();
            let at = self.buf_at + self.buf.len() as u64;
            let step = CHUNK.max(want - self.buf.len());
            let got = self
                .fs
                .read_at(&path, at, step, &mut self.buf)
                .map_err(|e| self.io(e))?;
            if got < step {
                self.file_done = true;
            }
        }
        Ok(())
    }

    /// Makes the buffer hold the whole record at `pos` (as far as the file has it); its index in the buffer.
    fn fill_record(&mut self) -> Result<usize, DiffError> {
        self.fill(12)?;
        let at = (self.pos - self.buf_at) as usize;
        let len = self
            .buf
            .get(at + 8..at + 12)
            .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        if len > 0 && (len as usize) <= MAX_ENTRY_LEN {
            self.fill(len as usize + RECORD_OVERHEAD)?;
        }
        Ok((self.pos - self.buf_at) as usize)
    }

    /// The zxid of the first entry of the first file, without consuming it.
    fn peek_first(&mut self) -> Result<Option<Zxid>, DiffError> {
        if self.files.is_empty() {
            return Ok(None);
        }
        let at = self.fill_record()?;
        Ok(read_record_whole(self, at)?.and_then(entry_zxid))
    }

    /// The next entry of the current file (with its offset), or None at its end.
    fn next_in_file(&mut self) -> Result<Option<(u64, Vec<u8>)>, DiffError> {
        let at = self.fill_record()?;
        let offset = self.pos;
        let Some(bytes) = read_record_whole(self, at)?.map(<[u8]>::to_vec) else {
            return Ok(None);
        };
        self.pos += (bytes.len() + RECORD_OVERHEAD) as u64;
        Ok(Some((offset, bytes)))
    }

    fn next_txn(&mut self) -> Result<Option<LoggedTxn>, DiffError> {
        while self.file < self.files.len() {
            let Some((offset, entry)) = self.next_in_file()? else {
                self.file += 1;
                self.open_file()?;
                continue;
            };
            let path = self.path();
            let corrupt = |message: String| {
                DiffError::Storage(StorageError::Corrupt {
                    file: path.clone(),
                    offset,
                    message,
                })
            };
            let zxid = entry_zxid(&entry).ok_or_else(|| corrupt("entry shorter than a TxnHeader".into()))?;
            if let Some(last) = self.last {
                if zxid <= last {
                    // An older file overlapping a newer one: already read.
                    continue;
                }
                if zxid.epoch() == last.epoch() && zxid.0 != last.0 + 1 {
                    return Err(DiffError::Gap {
                        last,
                        next: zxid,
                        file: path,
                        offset,
                    });
                }
            }
            self.last = Some(zxid);
            if zxid < self.after {
                self.before = Some(zxid);
                continue;
            }
            if zxid == self.after {
                self.saw_after = true;
                continue;
            }
            if zxid > self.up_to {
                return Ok(None);
            }
            let decoded = TxnEntry::decode(&entry, MAX_ENTRY_LEN)
                .map_err(|e| corrupt(format!("txn {zxid} does not decode: {e}")))?;
            return Ok(Some(LoggedTxn {
                zxid,
                digest: decoded.digest,
                entry,
            }));
        }
        Ok(None)
    }
}

/// The entry of the record at `at` in the buffer, None at the end of the file's entries (a zero record, the
/// end, or a torn tail, as `FileTxnIterator` ends a file). A checksum mismatch is an error.
fn read_record_whole(range: &TxnRange, at: usize) -> Result<Option<&[u8]>, DiffError> {
    match read_record(&range.buf, at) {
        Record::Entry(bytes, _) => Ok(Some(bytes)),
        Record::End(LogEnd::Torn(why)) => {
            tracing::warn!(file = %range.path().display(), offset = range.pos, reason = %why, "torn txn log tail");
            Ok(None)
        }
        Record::End(_) => Ok(None),
        Record::BadChecksum(_) => Err(DiffError::Storage(StorageError::Corrupt {
            file: range.path(),
            offset: range.pos,
            message: "checksum mismatch (CRC check failed)".into(),
        })),
    }
}

impl Iterator for TxnRange {
    type Item = Result<LoggedTxn, DiffError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_txn() {
            Ok(Some(txn)) => Some(Ok(txn)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// The last `max` txns of the logs up to and including `last`, oldest first, for a new leader's in-memory
/// committed log (`ZKDatabase.committedLog`, which ZooKeeper fills while it loads the database): the newest
/// log file that holds `last` (and those after it) is read, without its first entry. Empty when the logs end
/// elsewhere than at `last` or cannot be read: the leader then syncs every learner that is not exactly at its
/// zxid with a SNAP, which is always correct.
pub fn recent_txns(fs: Arc<dyn Fs>, log_dir: &std::path::Path, last: Zxid, max: usize) -> Vec<TxnEntry> {
    let Ok(files) = files_after(fs.as_ref(), log_dir, last) else {
        return Vec::new();
    };
    let Some(&(first, _)) = files.first() else {
        return Vec::new();
    };
    let Ok(range) = read_txns_after(fs, log_dir, first, last, LogSizeLimit::Bytes(0)) else {
        return Vec::new();
    };
    let mut tail = std::collections::VecDeque::with_capacity(max.min(1024));
    for txn in range {
        let Ok(txn) = txn else {
            return Vec::new();
        };
        let Ok(entry) = TxnEntry::decode(&txn.entry, usize::MAX) else {
            return Vec::new();
        };
        if tail.len() == max {
            tail.pop_front();
        }
        tail.push_back(entry);
    }
    match tail.back() {
        Some(t) if t.header.zxid == last.0 => tail.into(),
        _ => Vec::new(),
    }
}
