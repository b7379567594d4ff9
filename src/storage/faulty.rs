//! An in-memory [`Fs`] for tests, with a named failpoint at every write, fsync, rename, create, remove, set_len
//! and directory sync, and a crash that keeps only what a real disk would keep.
//!
//! A failpoint is named `<op>:<kind>`, where `op` is `create`, `read`, `write`, `fsync`, `set_len`, `rename`,
//! `remove` or `sync_dir`, and `kind` is the file name up to its first dot (`log`, `snapshot`, `currentEpoch`, ...; a
//! directory's own name for `sync_dir`). Faults: an I/O error, a full disk (ENOSPC), a torn write (only a
//! prefix reaches the file, then the "machine dies": every later operation fails until [`FaultyFs::crash`]),
//! and a lost fsync (reported as done, but nothing becomes durable).
//!
//! Each file keeps what was written and what was made durable; each directory entry likewise. A crash keeps the
//! durable state ([`Crash::PowerLoss`]), everything ([`Crash::ProcessKill`], the page cache survives a
//! SIGKILL), or the durable state plus a prefix of what was written after it ([`Crash::PowerLossTorn`]).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::fs::{Fs, FsFile};

/// What a failpoint does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// EIO; nothing changes.
    Io,
    /// EACCES (a file the server may not read or write); nothing changes.
    Denied,
    /// ENOSPC; nothing is written.
    NoSpace,
    /// The first `keep` bytes of the write reach the file, then the machine dies.
    TornWrite { keep: usize },
    /// The fsync reports success but makes nothing durable.
    LostFsync,
}

/// How the machine goes down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// SIGKILL: the kernel keeps every write and every directory change.
    ProcessKill,
    /// Power loss: only what was fsynced (files) and directory-synced (entries) survives.
    PowerLoss,
    /// Power loss where each file also keeps the first `keep_per_mille`/1000 of what was written after its
    /// last fsync (a torn tail).
    PowerLossTorn { keep_per_mille: u32 },
}

#[derive(Debug, Clone)]
struct Failpoint {
    name: String,
    /// Hits to let through before firing.
    skip: u64,
    fault: Fault,
    /// Keeps firing after the first time (a disk that stays full).
    sticky: bool,
}

#[derive(Debug, Default, Clone)]
struct Inode {
    data: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug, Default)]
struct State {
    inodes: HashMap<u64, Inode>,
    next_inode: u64,
    entries: BTreeMap<PathBuf, u64>,
    durable_entries: BTreeMap<PathBuf, u64>,
    failpoints: Vec<Failpoint>,
    hits: BTreeMap<String, u64>,
    dead: bool,
}

/// The in-memory, fault-injecting file system. Clones share the same state.
#[derive(Debug, Default, Clone)]
pub struct FaultyFs {
    state: Arc<Mutex<State>>,
}

fn kind_of(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.split('.').next().unwrap_or("").to_string()
}

fn enoent(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file", path.display()),
    )
}

impl FaultyFs {
    pub fn new() -> FaultyFs {
        FaultyFs::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Fires `fault` at the `nth` hit (1-based) of failpoint `name`; `sticky` keeps it firing afterwards.
    pub fn fail(&self, name: &str, nth: u64, fault: Fault, sticky: bool) {
        self.lock().failpoints.push(Failpoint {
            name: name.to_string(),
            skip: nth.saturating_sub(1),
            fault,
            sticky,
        });
    }

    /// Removes every armed failpoint (a disk that got space back).
    pub fn clear_failpoints(&self) {
        self.lock().failpoints.clear();
    }

    /// How often each failpoint was passed so far.
    pub fn hits(&self) -> BTreeMap<String, u64> {
        self.lock().hits.clone()
    }

    /// Takes the machine down and brings it back with what the disk kept.
    pub fn crash(&self, how: Crash) {
        let mut s = self.lock();
        s.dead = false;
        s.failpoints.clear();
        if how == Crash::ProcessKill {
            return;
        }
        s.entries = s.durable_entries.clone();
        let live: Vec<u64> = s.entries.values().copied().collect();
        s.inodes.retain(|ino, _| live.contains(ino));
        for inode in s.inodes.values_mut() {
            let keep = match how {
                Crash::PowerLossTorn { keep_per_mille } if inode.data.len() > inode.durable.len() => {
                    let extra = inode.data.len() - inode.durable.len();
                    extra * keep_per_mille.min(1000) as usize / 1000
                }
                _ => 0,
            };
            let mut kept = inode.durable.clone();
            if keep > 0 && inode.data.starts_with(&inode.durable) {
                kept = inode.data[..inode.durable.len() + keep].to_vec();
            }
            inode.data = kept.clone();
            inode.durable = kept;
        }
    }

    /// Writes a file directly (durably), as a test fixture.
    pub fn put(&self, path: &Path, bytes: &[u8]) {
        let mut s = self.lock();
        let ino = s.next_inode;
        s.next_inode += 1;
        s.inodes.insert(
            ino,
            Inode {
                data: bytes.to_vec(),
                durable: bytes.to_vec(),
            },
        );
        s.entries.insert(path.to_path_buf(), ino);
        s.durable_entries.insert(path.to_path_buf(), ino);
    }

    /// The current contents of a file, if it exists.
    pub fn contents(&self, path: &Path) -> Option<Vec<u8>> {
        let s = self.lock();
        let ino = s.entries.get(path)?;
        s.inodes.get(ino).map(|i| i.data.clone())
    }

    /// Looks at the bytes of the file at `path` (what a read sees: everything written, synced or not), through
    /// failpoint `read:<kind>`.
    fn read_data<T>(&self, path: &Path, look: impl FnOnce(&[u8]) -> T) -> io::Result<T> {
        let mut s = self.lock();
        s.check("read", path)?;
        Ok(look(&s.inode_mut(path)?.data))
    }
}

impl State {
    /// Counts a pass through failpoint `op:kind` and returns the fault to inject, if any.
    fn check(&mut self, op: &str, path: &Path) -> io::Result<Option<Fault>> {
        if self.dead {
            return Err(io::Error::other("the machine is down"));
        }
        let name = format!("{op}:{}", kind_of(path));
        *self.hits.entry(name.clone()).or_default() += 1;
        let Some(i) = self.failpoints.iter().position(|f| f.name == name) else {
            return Ok(None);
        };
        if self.failpoints[i].skip > 0 {
            self.failpoints[i].skip -= 1;
            return Ok(None);
        }
        let fault = self.failpoints[i].fault;
        if !self.failpoints[i].sticky {
            self.failpoints.remove(i);
        }
        match fault {
            Fault::Io => Err(io::Error::from_raw_os_error(5)),
            Fault::NoSpace => Err(io::Error::from_raw_os_error(28)),
            Fault::Denied => Err(io::Error::from_raw_os_error(13)),
            Fault::TornWrite { .. } | Fault::LostFsync => Ok(Some(fault)),
        }
    }

    fn inode_mut(&mut self, path: &Path) -> io::Result<&mut Inode> {
        let ino = *self.entries.get(path).ok_or_else(|| enoent(path))?;
        self.inodes.get_mut(&ino).ok_or_else(|| enoent(path))
    }
}

#[derive(Debug)]
struct FaultyFile {
    fs: FaultyFs,
    path: PathBuf,
    inode: u64,
}

impl FaultyFile {
    fn with<T>(&self, f: impl FnOnce(&mut Inode) -> T) -> io::Result<T> {
        let mut s = self.fs.lock();
        let inode = s.inodes.get_mut(&self.inode).ok_or_else(|| enoent(&self.path))?;
        Ok(f(inode))
    }
}

fn write_into(data: &mut Vec<u8>, offset: u64, buf: &[u8]) {
    let offset = offset as usize;
    if data.len() < offset + buf.len() {
        data.resize(offset + buf.len(), 0);
    }
    data[offset..offset + buf.len()].copy_from_slice(buf);
}

impl FsFile for FaultyFile {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        let fault = self.fs.lock().check("write", &self.path)?;
        if let Some(Fault::TornWrite { keep }) = fault {
            let keep = keep.min(buf.len());
            self.with(|i| write_into(&mut i.data, offset, &buf[..keep]))?;
            self.fs.lock().dead = true;
            return Err(io::Error::other("torn write: the machine died"));
        }
        self.with(|i| write_into(&mut i.data, offset, buf))
    }

    fn fsync(&mut self) -> io::Result<()> {
        let fault = self.fs.lock().check("fsync", &self.path)?;
        if fault == Some(Fault::LostFsync) {
            return Ok(());
        }
        self.with(|i| i.durable = i.data.clone())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.fs.lock().check("set_len", &self.path)?;
        self.with(|i| i.data.resize(len as usize, 0))
    }

    fn size(&self) -> io::Result<u64> {
        self.with(|i| i.data.len() as u64)
    }
}

impl Fs for FaultyFs {
    fn create(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let mut s = self.lock();
        s.check("create", path)?;
        let ino = s.next_inode;
        s.next_inode += 1;
        s.inodes.insert(ino, Inode::default());
        s.entries.insert(path.to_path_buf(), ino);
        drop(s);
        Ok(Box::new(FaultyFile {
            fs: self.clone(),
            path: path.to_path_buf(),
            inode: ino,
        }))
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn FsFile>> {
        let s = self.lock();
        if s.dead {
            return Err(io::Error::other("the machine is down"));
        }
        let ino = *s.entries.get(path).ok_or_else(|| enoent(path))?;
        Ok(Box::new(FaultyFile {
            fs: self.clone(),
            path: path.to_path_buf(),
            inode: ino,
        }))
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.read_data(path, <[u8]>::to_vec)
    }

    fn read_at(&self, path: &Path, offset: u64, len: usize, out: &mut Vec<u8>) -> io::Result<usize> {
        self.read_data(path, |data| {
            let from = usize::try_from(offset).unwrap_or(usize::MAX).min(data.len());
            let part = &data[from..from.saturating_add(len).min(data.len())];
            out.extend_from_slice(part);
            part.len()
        })
    }

    fn file_len(&self, path: &Path) -> io::Result<u64> {
        let mut s = self.lock();
        if s.dead {
            return Err(io::Error::other("the machine is down"));
        }
        Ok(s.inode_mut(path)?.data.len() as u64)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<String>> {
        let s = self.lock();
        Ok(s.entries
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(String::from))
            .collect())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.check("rename", to)?;
        let ino = s.entries.remove(from).ok_or_else(|| enoent(from))?;
        s.entries.insert(to.to_path_buf(), ino);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.lock();
        s.check("remove", path)?;
        s.entries.remove(path).ok_or_else(|| enoent(path))?;
        Ok(())
    }

    fn create_dir_all(&self, _path: &Path) -> io::Result<()> {
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.lock();
        if s.check("sync_dir", dir)? == Some(Fault::LostFsync) {
            return Ok(());
        }
        let in_dir = |p: &PathBuf| p.parent() == Some(dir);
        let current: Vec<(PathBuf, u64)> = s
            .entries
            .iter()
            .filter(|(p, _)| in_dir(p))
            .map(|(p, i)| (p.clone(), *i))
            .collect();
        s.durable_entries.retain(|p, _| !in_dir(p));
        s.durable_entries.extend(current);
        Ok(())
    }

    fn exists(&self, path: &Path) -> bool {
        self.lock().entries.contains_key(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(s)
    }

    #[test]
    fn power_loss_keeps_only_fsynced_data_and_synced_entries() {
        let fs = FaultyFs::new();
        let mut f = fs.create(&p("/d/log.1")).expect("create");
        f.write_at(0, b"abc").expect("write");
        f.fsync().expect("fsync");
        f.write_at(3, b"def").expect("write");
        fs.crash(Crash::PowerLoss);
        assert!(
            !fs.exists(&p("/d/log.1")),
            "the create was never directory-synced"
        );

        let mut f = fs.create(&p("/d/log.1")).expect("create");
        f.write_at(0, b"abc").expect("write");
        f.fsync().expect("fsync");
        fs.sync_dir(&p("/d")).expect("sync_dir");
        f.write_at(3, b"def").expect("write");
        fs.crash(Crash::PowerLoss);
        assert_eq!(fs.contents(&p("/d/log.1")).expect("file"), b"abc");
    }

    #[test]
    fn failpoints_fire_by_name_and_count() {
        let fs = FaultyFs::new();
        fs.fail("fsync:log", 2, Fault::Io, false);
        let mut f = fs.create(&p("/d/log.1")).expect("create");
        f.fsync().expect("first fsync passes");
        assert_eq!(f.fsync().expect_err("second fails").raw_os_error(), Some(5));
        f.fsync().expect("one-shot");
        fs.fail("write:log", 1, Fault::NoSpace, true);
        assert_eq!(f.write_at(0, b"x").expect_err("full").raw_os_error(), Some(28));
        assert!(f.write_at(0, b"x").is_err(), "sticky");
        assert_eq!(fs.hits().get("fsync:log"), Some(&3));
    }

    #[test]
    fn a_torn_write_keeps_a_prefix_and_kills_the_machine() {
        let fs = FaultyFs::new();
        let mut f = fs.create(&p("/d/log.1")).expect("create");
        fs.fail("write:log", 1, Fault::TornWrite { keep: 2 }, false);
        assert!(f.write_at(0, b"abcd").is_err());
        assert!(f.fsync().is_err(), "dead until the crash");
        fs.crash(Crash::ProcessKill);
        assert_eq!(fs.contents(&p("/d/log.1")).expect("file"), b"ab");
    }

    #[test]
    fn lost_fsync_loses_data_at_power_loss() {
        let fs = FaultyFs::new();
        let mut f = fs.create(&p("/d/log.1")).expect("create");
        fs.sync_dir(&p("/d")).expect("sync_dir");
        fs.fail("fsync:log", 1, Fault::LostFsync, false);
        f.write_at(0, b"abc").expect("write");
        f.fsync().expect("reported as done");
        fs.crash(Crash::PowerLossTorn { keep_per_mille: 500 });
        assert_eq!(fs.contents(&p("/d/log.1")).expect("file"), b"a");
    }
}
