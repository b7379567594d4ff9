//! Snapshot files (`FileSnap`, `SnapStream`): `version-2/snapshot.<zxid>` plain (CHECKED), `.gz` (gzip) or
//! `.snappy` (snappy-java stream), as `zookeeper.snapshot.compression.method` selects for writing; reading
//! goes by each file's suffix. The checksums inside are over the uncompressed stream (see
//! `core::tree::snapshot`).
//!
//! A snapshot is written to `<name>.tmp`, fsynced, renamed into place and the directory fsynced, so a crash
//! never leaves a half-written file under a snapshot name (Apache ZooKeeper does this for synced snapshots via
//! `AtomicFileOutputStream`; its `isValidSnapshot` check catches the others).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::fs::{parent, tmp_path, Fs, FsFile};
use super::names::{sorted, SNAPSHOT_PREFIX};
use super::snappy::{self, SnappyWriter};
use super::StorageError;
use crate::core::tree::snapshot::{write_parts, SnapshotImage, StreamPart};
use crate::types::Zxid;

/// `SnapStream.StreamMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Snappy,
}

impl Compression {
    /// From the value of `zookeeper.snapshot.compression.method` (unknown values mean none, as in
    /// `StreamMode.fromString`).
    pub fn from_config(value: &str) -> Compression {
        match value.to_ascii_lowercase().as_str() {
            "gz" => Compression::Gzip,
            "snappy" => Compression::Snappy,
            _ => Compression::None,
        }
    }

    /// The mode of a file, from its last dot-separated part (`SnapStream.getStreamMode(String)`).
    pub fn of_file(name: &str) -> Compression {
        match name.rsplit_once('.') {
            Some((_, ext)) => Compression::from_config(ext),
            None => Compression::None,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Snappy => ".snappy",
        }
    }
}

/// `snapshot.<hexzxid>[.gz|.snappy]`.
pub fn snapshot_name(zxid: Zxid, compression: Compression) -> String {
    format!("{SNAPSHOT_PREFIX}.{:x}{}", zxid.0, compression.suffix())
}

/// A snapshot is made durable a MiB at a time as it is written: with one fsync at the end, hundreds of MiB of
/// dirty pages would go to the disk at once and every txn-log fsync meanwhile would wait behind them; with a
/// MiB, a log fsync waits behind at most that much of the snapshot (about 3 ms at 350 MB/s).
const SYNC_EVERY: u64 = 1 << 20;

/// Bytes gathered before a write to the file.
const WRITE_BYTES: usize = 1 << 20;

/// An `io::Write` over an [`FsFile`], buffering up to [`WRITE_BYTES`] per write.
struct FileWriter {
    file: Box<dyn FsFile>,
    offset: u64,
    buf: Vec<u8>,
    /// Where the last intermediate fsync left off.
    synced: u64,
}

impl FileWriter {
    fn drain(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_at(self.offset, &self.buf)?;
            self.offset += self.buf.len() as u64;
            self.buf.clear();
        }
        if self.offset - self.synced >= SYNC_EVERY {
            self.file.fsync()?;
            self.synced = self.offset;
        }
        Ok(())
    }

    /// Writes `data` to the file as it is, after what is buffered.
    fn write_through(&mut self, data: &[u8]) -> io::Result<()> {
        self.drain()?;
        self.file.write_at(self.offset, data)?;
        self.offset += data.len() as u64;
        self.drain()
    }
}

impl Write for FileWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // A part of a streamed snapshot is already a MiB: it goes to the file without a copy.
        if data.len() >= WRITE_BYTES {
            self.write_through(data)?;
            return Ok(data.len());
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= WRITE_BYTES {
            self.drain()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.drain()
    }
}

fn write_stream(
    body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    compression: Compression,
    w: FileWriter,
) -> io::Result<FileWriter> {
    match compression {
        Compression::None => {
            let mut w = w;
            body(&mut w)?;
            Ok(w)
        }
        Compression::Gzip => {
            let mut gz = GzEncoder::new(w, flate2::Compression::default());
            body(&mut gz)?;
            gz.finish()
        }
        Compression::Snappy => {
            let mut s = SnappyWriter::new(w)?;
            body(&mut s)?;
            s.finish()
        }
    }
}

/// Writes `image` into `dir` durably and returns its path.
pub fn write_snapshot(
    fs: &dyn Fs,
    dir: &Path,
    image: &SnapshotImage,
    compression: Compression,
) -> Result<PathBuf, StorageError> {
    write_file(fs, dir, image.zxid, compression, |w| image.write_to(w))
}

/// Writes the snapshot named after `zxid` whose stream arrives as `parts` (see `SnapshotStream`) into `dir`
/// durably and returns its path. If the parts stop before their end, no file is left.
pub fn write_snapshot_parts(
    fs: &dyn Fs,
    dir: &Path,
    zxid: Zxid,
    compression: Compression,
    parts: impl IntoIterator<Item = StreamPart>,
) -> Result<PathBuf, StorageError> {
    write_file(fs, dir, zxid, compression, |w| write_parts(w, parts))
}

/// Writes the snapshot file of a SNAP body received from the leader (`wire`, signature included; see
/// `core::tree::snapshot::wire`) into `dir` durably, named after `zxid`, with the digest section `digest`.
pub fn write_snapshot_from_wire(
    fs: &dyn Fs,
    dir: &Path,
    zxid: Zxid,
    compression: Compression,
    wire: &[u8],
    digest: (i64, i64),
) -> Result<PathBuf, StorageError> {
    write_file(fs, dir, zxid, compression, |w| {
        crate::core::tree::snapshot::wire::write_file_stream(w, wire, digest)
    })
}

fn write_file(
    fs: &dyn Fs,
    dir: &Path,
    zxid: Zxid,
    compression: Compression,
    body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<PathBuf, StorageError> {
    let path = dir.join(snapshot_name(zxid, compression));
    let tmp = tmp_path(&path);
    let io = |file: &Path| {
        let file = file.to_path_buf();
        move |source| StorageError::Io { file, source }
    };
    let written = (|| {
        let file = fs.create(&tmp).map_err(io(&tmp))?;
        let writer = FileWriter {
            file,
            offset: 0,
            buf: Vec::with_capacity(WRITE_BYTES),
            synced: 0,
        };
        let mut writer = write_stream(body, compression, writer).map_err(io(&tmp))?;
        writer.drain().map_err(io(&tmp))?;
        writer.file.fsync().map_err(io(&tmp))?;
        drop(writer);
        fs.rename(&tmp, &path).map_err(io(&path))
    })();
    if let Err(e) = written {
        // What was written never becomes a snapshot (`AtomicFileOutputStream.abort`); recovery removes the
        // file if this fails too.
        if fs.exists(&tmp) {
            let _ = fs.remove(&tmp);
        }
        return Err(e);
    }
    fs.sync_dir(parent(&path)).map_err(io(dir))?;
    Ok(path)
}

/// Reads a snapshot file and returns its uncompressed stream.
pub fn read_snapshot(fs: &dyn Fs, path: &Path) -> Result<Vec<u8>, StorageError> {
    let raw = fs.read(path).map_err(|source| StorageError::Io {
        file: path.to_path_buf(),
        source,
    })?;
    uncompress(path, raw)
}

/// The uncompressed stream of the snapshot file at `path`, whose bytes are `raw`.
pub fn uncompress(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, StorageError> {
    let io = |source| StorageError::Io {
        file: path.to_path_buf(),
        source,
    };
    match Compression::of_file(file_name(path)) {
        Compression::None => Ok(raw),
        Compression::Gzip => {
            let mut out = Vec::with_capacity(raw.len() * 4);
            io::Read::read_to_end(&mut MultiGzDecoder::new(raw.as_slice()), &mut out).map_err(io)?;
            Ok(out)
        }
        Compression::Snappy => snappy::decompress(&raw).map_err(io),
    }
}

/// `SnapStream.isValidSnapshot`: a cheap check before the full read. Plain snapshots must end with the "/" of
/// the last seal; compressed ones must start with their magic.
/// Only the bytes the check looks at are read.
pub fn looks_valid(fs: &dyn Fs, path: &Path) -> bool {
    let Ok(len) = fs.file_len(path) else {
        return false;
    };
    let mut raw = Vec::new();
    match Compression::of_file(file_name(path)) {
        Compression::None => len >= 10 && fs.read_at(path, len - 5, 5, &mut raw).is_ok() && raw == SEAL_END,
        // A compressed one by its magic (gzip's 2 bytes, or snappy-java's longer one).
        _ => fs.read_at(path, 0, snappy::MAGIC.len(), &mut raw).is_ok() && looks_valid_bytes(path, &raw),
    }
}

/// The last bytes of a plain snapshot: the "/" string of its last seal.
const SEAL_END: [u8; 5] = [0, 0, 0, 1, b'/'];

/// [`looks_valid`] over the file's bytes, already read.
pub fn looks_valid_bytes(path: &Path, raw: &[u8]) -> bool {
    match Compression::of_file(file_name(path)) {
        Compression::None => raw.len() >= 10 && raw[raw.len() - 5..] == SEAL_END,
        Compression::Gzip => raw.starts_with(&[0x1f, 0x8b]),
        Compression::Snappy => raw.starts_with(&snappy::MAGIC),
    }
}

fn file_name(path: &Path) -> &str {
    path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

/// The snapshot files in `dir`, newest first (leftover `.tmp` files are not snapshots).
pub fn list_snapshots(fs: &dyn Fs, dir: &Path) -> Result<Vec<(Zxid, PathBuf)>, StorageError> {
    let names = match fs.list(dir) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(StorageError::Io {
                file: dir.to_path_buf(),
                source,
            })
        }
    };
    let names: Vec<String> = names.into_iter().filter(|n| !n.ends_with(".tmp")).collect();
    let mut files: Vec<(Zxid, PathBuf)> = sorted(&names, SNAPSHOT_PREFIX)
        .into_iter()
        .map(|(z, n)| (z, dir.join(n)))
        .collect();
    files.reverse();
    Ok(files)
}
