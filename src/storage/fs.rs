//! The file-system seam: every byte the storage layer reads or writes goes through [`Fs`] and [`FsFile`], so
//! tests can swap the real file system for [`super::faulty::FaultyFs`], which injects torn writes, lost fsyncs,
//! full disks and I/O errors at named failpoints and simulates a crash.
//!
//! The operations are the few the version-2 layout needs: create a file, write at an offset, fsync it, set its
//! length, rename, remove, list a directory, read a whole file or a range of it, and fsync a directory so that
//! a create, rename or remove is itself durable.

use std::fmt::Debug;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// An open file, positioned by explicit offsets (no cursor), as a log or snapshot writer uses it.
pub trait FsFile: Send + Debug {
    /// Writes all of `buf` at `offset`, extending the file if needed.
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Makes the file's data (and the size needed to read it) durable: `fdatasync`, as `FileChannel.force(false)`.
    fn fsync(&mut self) -> io::Result<()>;
    /// Truncates or extends the file.
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// The file's current length.
    fn size(&self) -> io::Result<u64>;
}

/// The file system as the storage layer sees it.
pub trait Fs: Send + Sync + Debug {
    /// Creates `path` (truncating any file there) for writing.
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// Opens an existing file for writing (to truncate a torn tail).
    fn open(&self, path: &Path) -> io::Result<Box<dyn FsFile>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Appends to `out` up to `len` bytes of `path` from `offset` (fewer at the end of the file) and returns
    /// how many: for reading the used part of a preallocated log, or a few bytes of a large snapshot.
    fn read_at(&self, path: &Path, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<usize>;
    /// The length of a file.
    fn file_len(&self, path: &Path) -> io::Result<u64>;
    /// The names of the regular files in `dir` (not their paths).
    fn list(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Atomically replaces `to` with `from`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Creates a directory and its parents.
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Makes the entries of `dir` (creates, renames, removes) durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Whether `path` exists.
    fn exists(&self, path: &Path) -> bool;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealFs;

#[derive(Debug)]
struct RealFile {
    file: File,
}

impl FsFile for RealFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn fsync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }
}

impl Fs for RealFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(Box::new(RealFile { file }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let file = OpenOptions::new().write(true).open(path)?;
        Ok(Box::new(RealFile { file }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        File::open(path)?.read_to_end(&mut buf)?;
        Ok(buf)
    }

    fn read_at(&self, path: &Path, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<usize> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        file.take(len as u64).read_to_end(out)
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        Ok(fs::metadata(path)?.len())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                if let Some(name) = entry.file_name().to_str() {
                    names.push(name.to_string());
                }
            }
        }
        Ok(names)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::create_dir_all(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// Writes `bytes` to `path` crash-safely: to `<path>.tmp`, fsync, rename over `path`, fsync the directory
/// (`AtomicFileOutputStream`, which Apache ZooKeeper uses for epoch files and synced snapshots).
pub fn write_atomic(fs: &dyn Fs, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = tmp_path(path);
    let mut file = fs.create(&tmp)?;
    file.write_at(0, bytes)?;
    file.fsync()?;
    drop(file);
    fs.rename(&tmp, path)?;
    fs.sync_dir(parent(path))
}

/// `<path>.tmp`.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// The directory holding `path`.
pub fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_fs_writes_renames_lists_and_reads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let fs = RealFs;
        let path = dir.path().join("a");
        write_atomic(&fs, &path, b"hello").expect("write");
        assert_eq!(fs.read(&path).expect("read"), b"hello");
        assert_eq!(fs.list(dir.path()).expect("list"), vec!["a".to_string()]);
        let mut f = fs.open(&path).expect("open");
        f.write_at(10, b"!").expect("write_at");
        assert_eq!(f.size().expect("size"), 11);
        let mut part = b">".to_vec();
        assert_eq!(fs.read_at(&path, 3, 4, &mut part).expect("read_at"), 4);
        assert_eq!(part, b">lo\0\0");
        assert_eq!(fs.read_at(&path, 9, 100, &mut part).expect("read_at"), 2);
        assert_eq!(part, b">lo\0\0\0!");
        assert_eq!(fs.read_at(&path, 20, 5, &mut part).expect("read_at"), 0);
        assert_eq!(fs.file_len(&path).expect("len"), 11);
        f.set_len(2).expect("set_len");
        assert_eq!(fs.read(&path).expect("read"), b"he");
        fs.remove(&path).expect("remove");
        assert!(!fs.exists(&path));
    }
}
