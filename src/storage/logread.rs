//! Reading transaction logs (`FileTxnLog.FileTxnIterator`) and replaying them after a snapshot.
//!
//! A log ends at a zero record (preallocated space: checksum 0, length 0) or at the end of the file. What a
//! crash can leave after the last durable entry is a *torn tail*: an entry cut short, one without its `0x42`
//! marker, an impossible length, or one whose checksum does not match with nothing valid after it. Recovery
//! truncates a torn tail of the newest log, saying which file and offset. A checksum mismatch followed by a
//! valid entry is damage in the middle of the log: that stops recovery with the file and offset, because
//! starting would silently drop acknowledged writes; so does a gap in the zxids inside one epoch, and a torn
//! log that is not the newest unless the next log continues it. (Apache ZooKeeper stops on every checksum
//! mismatch, treats the other tails as the end of that file, and reads past gaps.)

use std::path::{Path, PathBuf};

use super::fs::Fs;
use super::names::{sorted, LOG_PREFIX};
use super::txnlog::{entry_checksum, END_OF_RECORD, HEADER_LEN, TXNLOG_MAGIC};
use super::StorageError;
use crate::types::Zxid;

/// Entries longer than this are taken for garbage (jute.maxbuffer is far smaller).
pub const MAX_ENTRY_LEN: usize = 256 * 1024 * 1024;
/// Bytes a log record takes besides its entry: checksum, length, end-of-record marker.
pub const RECORD_OVERHEAD: usize = 8 + 4 + 1;

/// Where and why a log file's entries end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEnd {
    /// A zero record: preallocated space.
    Zero,
    /// The end of the file, at an entry boundary.
    Eof,
    /// Something a crash can leave: what it is.
    Torn(String),
}

/// What one file held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileScan {
    pub entries: usize,
    pub first_zxid: Option<Zxid>,
    pub last_zxid: Option<Zxid>,
    /// The offset just after the last good entry.
    pub end_offset: u64,
    pub end: LogEnd,
}

pub(super) enum Record<'a> {
    Entry(&'a [u8], usize),
    End(LogEnd),
    BadChecksum(usize),
}

pub(super) fn read_record(data: &[u8], pos: usize) -> Record<'_> {
    let rest = &data[pos..];
    if rest.is_empty() {
        return Record::End(LogEnd::Eof);
    }
    if rest.len() < 12 {
        return Record::End(if rest.iter().all(|b| *b == 0) {
            LogEnd::Zero
        } else {
            LogEnd::Torn(format!("{} bytes, too short for an entry", rest.len()))
        });
    }
    let checksum = u64::from_be_bytes(rest[..8].try_into().unwrap_or([0; 8]));
    let len = i32::from_be_bytes(rest[8..12].try_into().unwrap_or([0; 4]));
    if len == 0 {
        return Record::End(LogEnd::Zero);
    }
    if len < 0 || len as usize > MAX_ENTRY_LEN {
        return Record::End(LogEnd::Torn(format!("impossible entry length {len}")));
    }
    let len = len as usize;
    if rest.len() < len + RECORD_OVERHEAD {
        return Record::End(LogEnd::Torn(format!(
            "entry of {len} bytes cut short by the end of the file"
        )));
    }
    if rest[12 + len] != END_OF_RECORD {
        return Record::End(LogEnd::Torn("entry without its end-of-record marker".into()));
    }
    let bytes = &rest[12..12 + len];
    if entry_checksum(bytes) != checksum {
        return Record::BadChecksum(len + RECORD_OVERHEAD);
    }
    Record::Entry(bytes, len + RECORD_OVERHEAD)
}

/// The zxid in the TxnHeader at the start of an entry (clientId 8, cxid 4, then zxid).
pub fn entry_zxid(entry: &[u8]) -> Option<Zxid> {
    entry
        .get(12..20)
        .map(|b| Zxid(i64::from_be_bytes(b.try_into().unwrap_or([0; 8]))))
}

/// Scans one log file, calling `each(offset, entry)` per entry in order.
pub fn scan_file(
    path: &Path,
    data: &[u8],
    mut each: impl FnMut(u64, &[u8]) -> Result<(), StorageError>,
) -> Result<FileScan, StorageError> {
    let corrupt = |offset: usize, message: String| StorageError::Corrupt {
        file: path.to_path_buf(),
        offset: offset as u64,
        message,
    };
    let mut scan = FileScan {
        entries: 0,
        first_zxid: None,
        last_zxid: None,
        end_offset: 0,
        end: LogEnd::Eof,
    };
    if data.len() < HEADER_LEN as usize {
        scan.end = LogEnd::Torn("file header incomplete".into());
        return Ok(scan);
    }
    let magic = i32::from_be_bytes(data[..4].try_into().unwrap_or([0; 4]));
    if magic != TXNLOG_MAGIC {
        return Err(corrupt(
            0,
            format!("invalid magic number {magic:#x}, not a transaction log"),
        ));
    }
    let mut pos = HEADER_LEN as usize;
    loop {
        scan.end_offset = pos as u64;
        match read_record(data, pos) {
            Record::Entry(bytes, step) => {
                let zxid =
                    entry_zxid(bytes).ok_or_else(|| corrupt(pos, "entry shorter than a TxnHeader".into()))?;
                each(pos as u64, bytes)?;
                scan.entries += 1;
                scan.first_zxid.get_or_insert(zxid);
                scan.last_zxid = Some(zxid);
                pos += step;
            }
            Record::End(end) => {
                scan.end = end;
                return Ok(scan);
            }
            Record::BadChecksum(step) => {
                if matches!(read_record(data, pos + step), Record::Entry(..)) {
                    return Err(corrupt(
                        pos,
                        "checksum mismatch in the middle of the log (CRC check failed)".into(),
                    ));
                }
                scan.end = LogEnd::Torn("checksum mismatch in the last entry".into());
                return Ok(scan);
            }
        }
    }
}

/// Bytes of a log read at a time.
const READ_CHUNK: usize = 4 << 20;

/// Reads a log file as far as [`scan_file`] can look: up to and including the header of its first zero record
/// (where preallocated space begins), or of a record whose length is impossible, or to the end of the file.
/// A preallocated log is mostly zeros, and reading them all would cost more than the entries (a 64 MiB file
/// per restart of a server that never filled one). Records are only stepped over here, by their lengths; the
/// scan checks them. What is left out past that point is nothing the scan would have read.
pub fn read_log(fs: &dyn Fs, path: &Path) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    // The start of the first record not yet known to be whole.
    let mut pos = HEADER_LEN as usize;
    loop {
        let got = fs.read_at(path, data.len() as u64, READ_CHUNK, &mut data)?;
        while let Some(header) = data.get(pos..pos + 12) {
            let len = i32::from_be_bytes([header[8], header[9], header[10], header[11]]);
            if len <= 0 || len as usize > MAX_ENTRY_LEN {
                return Ok(data);
            }
            let next = pos + len as usize + RECORD_OVERHEAD;
            if next > data.len() {
                break;
            }
            pos = next;
        }
        if got < READ_CHUNK {
            return Ok(data);
        }
    }
}

/// The log files recovery reads after a snapshot at `after` (`FileTxnLog.getLogFiles`): the newest one that
/// starts at or before `after`, and every later one, oldest first.
pub fn files_after(fs: &dyn Fs, dir: &Path, after: Zxid) -> Result<Vec<(Zxid, PathBuf)>, StorageError> {
    let names = match fs.list(dir) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(StorageError::Io {
                file: dir.to_path_buf(),
                source,
            })
        }
    };
    let files = sorted(&names, LOG_PREFIX);
    let start = files
        .iter()
        .filter(|(z, _)| *z <= after)
        .map(|(z, _)| *z)
        .max()
        .unwrap_or(Zxid(0));
    Ok(files
        .into_iter()
        .filter(|(z, _)| *z >= start)
        .map(|(z, n)| (z, dir.join(n)))
        .collect())
}

/// What replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayEnd {
    /// The last zxid replayed (None if no entry was newer than the snapshot).
    pub last_zxid: Option<Zxid>,
    pub replayed: u64,
    /// A torn tail found in the newest log: file and offset of the first bad byte.
    pub torn_tail: Option<(PathBuf, u64)>,
}

/// Replays every entry newer than `after`, in zxid order, through `apply(file, offset, zxid, entry)`. With
/// `repair`, a torn tail of the newest log is cut off (the file removed if nothing is left in it) and made
/// durable.
///
/// Two things stop the replay, with the file and the offset, because starting would drop txns that may have
/// been acknowledged: a gap in the zxids inside one epoch (the leader numbers an epoch's txns one by one), and a
/// torn log that is not the newest unless the next entry continues it at the next zxid of the same epoch (as
/// after a crash of Apache ZooKeeper, which leaves the torn file and starts a new one; what was torn was never
/// acknowledged). Apache ZooKeeper only reads past both; with no peer to resynchronise from, the log here is
/// the only copy.
pub fn replay(
    fs: &dyn Fs,
    dir: &Path,
    after: Zxid,
    repair: bool,
    mut apply: impl FnMut(&Path, u64, Zxid, &[u8]) -> Result<(), StorageError>,
) -> Result<ReplayEnd, StorageError> {
    let files = files_after(fs, dir, after)?;
    let mut end = ReplayEnd::default();
    let mut last = after;
    // A torn log that is not the newest, not yet shown to be continued: file, offset, why.
    let mut torn_before: Option<(PathBuf, u64, String)> = None;
    for (i, (_, path)) in files.iter().enumerate() {
        let data = read_log(fs, path).map_err(|source| StorageError::Io {
            file: path.clone(),
            source,
        })?;
        let scan = scan_file(path, &data, |offset, bytes| {
            let Some(zxid) = entry_zxid(bytes) else {
                return Ok(());
            };
            if zxid <= last {
                return Ok(());
            }
            let continues = zxid.epoch() == last.epoch() && zxid.0 == last.0 + 1;
            if let Some((file, torn_at, why)) = torn_before.take().filter(|_| !continues) {
                return Err(torn_not_newest(
                    file,
                    torn_at,
                    &why,
                    last,
                    Some((path, offset, zxid)),
                ));
            }
            if !continues && zxid.epoch() == last.epoch() {
                return Err(StorageError::Corrupt {
                    file: path.clone(),
                    offset,
                    message: format!(
                        "gap in the txn log: zxid {zxid} follows {last} in the same epoch, so the txns between \
                         them are missing"
                    ),
                });
            }
            apply(path, offset, zxid, bytes)?;
            last = zxid;
            end.last_zxid = Some(zxid);
            end.replayed += 1;
            Ok(())
        })?;
        if let LogEnd::Torn(why) = &scan.end {
            let newest = i + 1 == files.len();
            tracing::warn!(file = %path.display(), offset = scan.end_offset, reason = %why, "torn txn log tail");
            if newest {
                end.torn_tail = Some((path.clone(), scan.end_offset));
                if repair {
                    cut_tail(fs, dir, path, scan.end_offset)?;
                }
            } else {
                torn_before = Some((path.clone(), scan.end_offset, why.clone()));
            }
        }
    }
    if let Some((file, torn_at, why)) = torn_before {
        return Err(torn_not_newest(file, torn_at, &why, last, None));
    }
    Ok(end)
}

/// The error for a torn log that is not the newest and that the next entry (file, offset, zxid) does not
/// continue.
fn torn_not_newest(
    file: PathBuf,
    offset: u64,
    why: &str,
    last: Zxid,
    next: Option<(&Path, u64, Zxid)>,
) -> StorageError {
    let after = match next {
        Some((path, at, zxid)) => format!(
            "the next entry ({} at offset {at}) is zxid {zxid}",
            path.display()
        ),
        None => "no later log holds an entry".to_string(),
    };
    StorageError::Corrupt {
        file,
        offset,
        message: format!(
            "{why} in a log that is not the newest: the last entry before it is zxid {last} and {after}, \
             so txns may be missing"
        ),
    }
}

fn cut_tail(fs: &dyn Fs, dir: &Path, path: &Path, offset: u64) -> Result<(), StorageError> {
    let io = |source| StorageError::Io {
        file: path.to_path_buf(),
        source,
    };
    if offset <= HEADER_LEN {
        tracing::warn!(file = %path.display(), "removing a log with no complete entry");
        fs.remove(path).map_err(io)?;
    } else {
        tracing::warn!(file = %path.display(), offset, "truncating the torn tail of the txn log");
        let mut file = fs.open(path).map_err(io)?;
        file.set_len(offset).map_err(io)?;
        file.fsync().map_err(io)?;
    }
    fs.sync_dir(dir).map_err(|source| StorageError::Io {
        file: dir.to_path_buf(),
        source,
    })
}
