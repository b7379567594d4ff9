//! Writing the transaction log exactly as `FileTxnLog` does, so Apache ZooKeeper reads it: files
//! `version-2/log.<zxid of the first entry>` starting with `FileHeader { "ZKLG", 2, dbid 0 }`, then per entry
//! the Adler-32 of the txn bytes as an 8-byte long, their length, the bytes, and `0x42`; zero-filled
//! preallocation in steps of preAllocSize (`FilePadding`), so the reader finds a zero record at the end.
//!
//! Group commit: `append` only buffers; `sync` writes everything buffered with one write, pads, fsyncs once
//! (unless forceSync=no) and returns the last zxid that is now durable, which is when the runtime may call
//! `Core::persisted`. The first failed write or fsync makes the log refuse every later call: after a failed
//! fsync the kernel may have dropped the dirty pages, so nothing written after it could be trusted
//! (the reason Apache ZooKeeper exits on a log I/O error).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::fs::{Fs, FsFile};
use super::names::log_name;
use super::StorageError;
use crate::types::Zxid;

/// "ZKLG".
pub const TXNLOG_MAGIC: i32 = 0x5A4B_4C47;
/// Header, then entries from here.
pub const HEADER_LEN: u64 = 16;
/// The end-of-record marker, 'B'.
pub const END_OF_RECORD: u8 = 0x42;
/// A log grows by a new preallocation step when the position comes within this of its size.
const PAD_SLACK: u64 = 4096;
/// How far past the last entry a fsync'd log keeps real zeros on disk. Preallocation only sets the file's
/// size, so the file is sparse past what was written; an fdatasync after writing into a hole must allocate
/// blocks and so waits for a journal commit, which on ext4 also flushes every other file's dirty data (a
/// snapshot being written). Over blocks already written it is a data write and a cache flush. Zeroing ahead
/// makes one in many syncs pay for allocation instead of every one; the bytes are the zeros the file already
/// reads as there, so nothing a reader or a crash can see changes.
const ZERO_AHEAD: u64 = 256 * 1024;
/// Zeros are written once fewer than this many are left ahead of the last entry.
const ZERO_LOW: u64 = ZERO_AHEAD / 2;
/// Zeroed regions end on this boundary, a whole filesystem block.
const ZERO_ALIGN: u64 = 4096;
/// A run of zeros to write from: the most one step writes.
static ZEROS: [u8; (ZERO_AHEAD + ZERO_ALIGN) as usize] = [0; (ZERO_AHEAD + ZERO_ALIGN) as usize];

/// Log settings, named after the zoo.cfg keys.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `preAllocSize` in bytes (zoo.cfg gives KiB; default 64 MiB).
    pub pre_alloc_bytes: u64,
    /// `forceSync`: fsync each group commit.
    pub force_sync: bool,
    /// `zookeeper.txnLogSizeLimitInKb` in bytes: roll after a commit that leaves the file larger; 0 = off.
    pub size_limit_bytes: u64,
    /// `fsync.warningthresholdms`.
    pub fsync_warning_ms: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            pre_alloc_bytes: 65536 * 1024,
            force_sync: true,
            size_limit_bytes: 0,
            fsync_warning_ms: 1000,
        }
    }
}

/// Counters for metrics and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    pub entries: u64,
    pub commits: u64,
    pub fsyncs: u64,
    pub fsync_micros_total: u64,
    pub fsync_micros_max: u64,
}

#[derive(Debug)]
struct OpenLog {
    path: PathBuf,
    file: Box<dyn FsFile>,
    /// Where the next entry goes.
    position: u64,
    /// The size preallocation has given the file.
    size: u64,
    /// Bytes from the start of the file that have been written (entries or zeros); past this it is sparse.
    written: u64,
    /// Whether the directory entry has been made durable.
    dir_synced: bool,
}

/// The size a log must be grown to before writing up to `position` (`FilePadding.calculateFileSizeWithPadding`).
pub fn padded_size(position: u64, size: u64, pre_alloc: u64) -> u64 {
    if pre_alloc == 0 || position + PAD_SLACK < size {
        return size;
    }
    if position > size {
        let grown = position + pre_alloc;
        grown - grown % pre_alloc
    } else {
        size + pre_alloc
    }
}

/// The Adler-32 of a log entry. Every entry is checksummed when written and when read back, so this uses the
/// vectorised implementation (the same sum as `java.util.zip.Adler32`).
pub fn entry_checksum(entry: &[u8]) -> u64 {
    u64::from(simd_adler32::adler32(&entry))
}

/// Frames one entry: checksum, length, bytes, end marker (`FileTxnLog.append`, `Util.writeTxnBytes`).
pub fn frame_entry(out: &mut Vec<u8>, entry: &[u8]) {
    let checksum = entry_checksum(entry);
    out.extend_from_slice(&checksum.to_be_bytes());
    out.extend_from_slice(&(entry.len() as i32).to_be_bytes());
    out.extend_from_slice(entry);
    out.push(END_OF_RECORD);
}

/// The txn log of one server.
#[derive(Debug)]
pub struct TxnLogWriter {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    config: LogConfig,
    current: Option<OpenLog>,
    buf: Vec<u8>,
    first_buffered: Option<Zxid>,
    last_appended: Zxid,
    synced: Option<Zxid>,
    failed: Option<String>,
    stats: LogStats,
}

impl TxnLogWriter {
    /// A writer for `dir` (the `version-2` directory), whose next entry follows `last_zxid`. The first entry
    /// always opens a new file, as Apache ZooKeeper does after a restart.
    pub fn new(fs: Arc<dyn Fs>, dir: &Path, config: LogConfig, last_zxid: Zxid) -> TxnLogWriter {
        TxnLogWriter {
            fs,
            dir: dir.to_path_buf(),
            config,
            current: None,
            buf: Vec::with_capacity(64 * 1024),
            first_buffered: None,
            last_appended: last_zxid,
            synced: None,
            failed: None,
            stats: LogStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> LogStats {
        self.stats
    }

    /// The file entries currently go to, if one is open.
    pub fn current_file(&self) -> Option<&Path> {
        self.current.as_ref().map(|c| c.path.as_path())
    }

    /// Bytes written to the current file so far (entries, not preallocation).
    pub fn current_size(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| c.position)
    }

    /// The error that stopped the log, if any.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    fn check_alive(&self) -> Result<(), StorageError> {
        match &self.failed {
            Some(why) => Err(StorageError::Failed(why.clone())),
            None => Ok(()),
        }
    }

    /// Buffers one entry (TxnHeader, body, optional TxnDigest). Zxids must strictly increase.
    pub fn append(&mut self, zxid: Zxid, entry: &[u8]) -> Result<(), StorageError> {
        self.check_alive()?;
        assert!(
            zxid > self.last_appended,
            "txn log append out of order: {zxid} after {}",
            self.last_appended
        );
        assert!(
            !entry.is_empty(),
            "an empty txn entry would read back as the end of the log"
        );
        self.last_appended = zxid;
        self.first_buffered.get_or_insert(zxid);
        frame_entry(&mut self.buf, entry);
        self.stats.entries += 1;
        Ok(())
    }

    /// Writes what was appended, fsyncs once, and returns the last durable zxid (`FileTxnLog.commit`).
    pub fn sync(&mut self) -> Result<Option<Zxid>, StorageError> {
        self.check_alive()?;
        let Some(first) = self.first_buffered else {
            return Ok(self.synced);
        };
        match self.write_buffered(first) {
            Ok(()) => {
                self.buf.clear();
                self.first_buffered = None;
                self.synced = Some(self.last_appended);
                self.stats.commits += 1;
                if self.config.size_limit_bytes > 0 && self.current_size() > self.config.size_limit_bytes {
                    self.current = None;
                }
                Ok(self.synced)
            }
            Err(e) => {
                let why = e.to_string();
                tracing::error!(error = %why, "transaction log write failed; no more writes are accepted");
                self.failed = Some(why);
                Err(e)
            }
        }
    }

    fn write_buffered(&mut self, first: Zxid) -> Result<(), StorageError> {
        if self.current.is_none() {
            self.current = Some(self.open_new(first)?);
        }
        let force = self.config.force_sync;
        let pre_alloc = self.config.pre_alloc_bytes;
        let Some(log) = self.current.as_mut() else {
            unreachable!("a log was opened above")
        };
        let io = |path: &Path| {
            let file = path.to_path_buf();
            move |source| StorageError::Io { file, source }
        };
        // Pad as `FilePadding.padFile` does before an append (from the position before it), and again if the
        // batch runs past that, so the file always ends in zeros after the last entry.
        let end = log.position + self.buf.len() as u64;
        let mut size = padded_size(log.position, log.size, pre_alloc);
        if end >= size {
            size = padded_size(end, size, pre_alloc);
        }
        if size != log.size {
            log.file.write_at(size - 1, &[0]).map_err(io(&log.path))?;
            log.size = size;
        }
        log.file
            .write_at(log.position, &self.buf)
            .map_err(io(&log.path))?;
        log.position = end;
        log.written = log.written.max(end);
        if force && end + ZERO_LOW > log.written && log.written < log.size {
            let upto = (end + ZERO_AHEAD).next_multiple_of(ZERO_ALIGN).min(log.size);
            let from = log.written;
            let zeros = &ZEROS[..(upto - from) as usize];
            log.file.write_at(from, zeros).map_err(io(&log.path))?;
            log.written = upto;
        }
        if force {
            let started = Instant::now();
            log.file.fsync().map_err(io(&log.path))?;
            let micros = started.elapsed().as_micros() as u64;
            self.stats.fsyncs += 1;
            self.stats.fsync_micros_total += micros;
            self.stats.fsync_micros_max = self.stats.fsync_micros_max.max(micros);
            if micros / 1000 > self.config.fsync_warning_ms {
                tracing::warn!(
                    ms = micros / 1000,
                    file = %log.path.display(),
                    "fsync-ing the write ahead log took longer than fsync.warningthresholdms"
                );
            }
        }
        if !log.dir_synced {
            self.fs.sync_dir(&self.dir).map_err(io(&self.dir))?;
            log.dir_synced = true;
        }
        Ok(())
    }

    fn open_new(&mut self, first: Zxid) -> Result<OpenLog, StorageError> {
        let path = self.dir.join(log_name(first));
        tracing::info!(file = %path.display(), "creating new log file");
        let err = |source| StorageError::Io {
            file: path.clone(),
            source,
        };
        let mut file = self.fs.create(&path).map_err(err)?;
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(&TXNLOG_MAGIC.to_be_bytes());
        header.extend_from_slice(&2i32.to_be_bytes());
        header.extend_from_slice(&0i64.to_be_bytes());
        file.write_at(0, &header).map_err(err)?;
        Ok(OpenLog {
            path,
            file,
            position: HEADER_LEN,
            size: HEADER_LEN,
            written: HEADER_LEN,
            dir_synced: false,
        })
    }

    /// Starts a new file with the next entry (`FileTxnLog.rollLog`), after writing what is buffered.
    pub fn roll(&mut self) -> Result<(), StorageError> {
        self.sync()?;
        self.current = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_follows_file_padding() {
        let mb64 = 64 * 1024 * 1024;
        assert_eq!(padded_size(16, 16, mb64), 16 + mb64);
        assert_eq!(padded_size(100, 16 + mb64, mb64), 16 + mb64);
        assert_eq!(padded_size(mb64 - 4000, 16 + mb64, mb64), 16 + 2 * mb64);
        assert_eq!(padded_size(3 * mb64 + 5, 16 + mb64, mb64), 4 * mb64);
        assert_eq!(padded_size(10, 16, 0), 16);
    }

    #[test]
    fn a_framed_entry_is_checksum_length_bytes_and_b() {
        let mut out = Vec::new();
        frame_entry(&mut out, b"abc");
        let adler = u64::from(adler2::adler32_slice(b"abc"));
        assert_eq!(&out[..8], &adler.to_be_bytes());
        assert_eq!(&out[8..12], &[0, 0, 0, 3]);
        assert_eq!(&out[12..], b"abcB");
    }

    #[test]
    fn entry_checksums_are_adler32_at_every_length() {
        // Lengths around the vector widths and the 5552-byte block after which the sums are reduced.
        let bytes: Vec<u8> = (0..12_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in [
            0, 1, 15, 16, 31, 32, 33, 63, 64, 65, 200, 5551, 5552, 5553, 12_000,
        ] {
            let entry = &bytes[..len];
            assert_eq!(
                entry_checksum(entry),
                u64::from(adler2::adler32_slice(entry)),
                "length {len}"
            );
        }
    }
}
