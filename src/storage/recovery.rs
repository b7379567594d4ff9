//! Start-up recovery (`FileTxnSnapLog.restore`, `FileSnap.deserialize`, `ZooKeeperServer.loadData`): load the
//! newest snapshot that reads back whole (trying older ones, up to 100, as `FileSnap` does), then replay every
//! logged txn after its zxid, tracking sessions as `processTransaction` does and checking the tree digest
//! where the snapshot and the log entries recorded one. A torn tail of the newest log is cut off. What stops
//! the start, with the file and the offset: damage in the middle of a log, a txn entry that does not decode,
//! snapshots that exist but none of which reads back, and logs without any snapshot (unless
//! `snapshot.trust.empty`). Finally, ephemerals of sessions that no longer exist are removed, as `loadData`
//! does before its start-up snapshot. A truncation (TRUNC) a crash interrupted is finished before anything is
//! loaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::fs::Fs;
use super::logread::{self, files_after};
use super::names::VERSION_DIR;
use super::snapfile::{list_snapshots, looks_valid_bytes, uncompress};
use super::StorageError;
use crate::core::tree::snapshot::{self, ZxidDigest};
use crate::core::tree::DataTree;
use crate::core::txn::{Txn, TxnBody};
use crate::types::Zxid;

/// How many snapshots recovery tries, newest first (`FileSnap.deserialize`).
const SNAPSHOTS_TRIED: usize = 100;
/// Entries longer than this do not decode (far above jute.maxbuffer).
const MAX_ENTRY: usize = 256 * 1024 * 1024;

/// The two `version-2` directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDirs {
    /// `<dataDir>/version-2`: snapshots and epoch files.
    pub snap_dir: PathBuf,
    /// `<dataLogDir>/version-2`: transaction logs.
    pub log_dir: PathBuf,
}

impl DataDirs {
    pub fn new(data_dir: &Path, data_log_dir: &Path) -> DataDirs {
        DataDirs {
            snap_dir: data_dir.join(VERSION_DIR),
            log_dir: data_log_dir.join(VERSION_DIR),
        }
    }

    /// Creates both directories.
    pub fn create(&self, fs: &dyn Fs) -> Result<(), StorageError> {
        for dir in [&self.snap_dir, &self.log_dir] {
            fs.create_dir_all(dir).map_err(|source| StorageError::Io {
                file: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Recovery settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecoveryOptions {
    /// `zookeeper.extendedTypesEnabled`.
    pub extended_types: bool,
    /// `zookeeper.snapshot.trust.empty`: accept logs without a snapshot.
    pub trust_empty_snapshot: bool,
    /// Cut a torn log tail (false for read-only tools).
    pub repair: bool,
}

/// What recovery rebuilt.
#[derive(Debug)]
pub struct Recovered {
    pub tree: DataTree,
    /// Live sessions and their timeouts, by id order.
    pub sessions: Vec<(i64, i32)>,
    pub last_zxid: Zxid,
    /// The snapshot loaded, if any.
    pub snapshot: Option<PathBuf>,
    /// Snapshots skipped because they did not read back, with why.
    pub skipped_snapshots: Vec<String>,
    pub replayed: u64,
    pub torn_tail: Option<(PathBuf, u64)>,
    /// Zxids where the tree digest differed from the one recorded.
    pub digest_mismatches: Vec<Zxid>,
    /// Sessions whose ephemerals were removed because the session is gone.
    pub dead_sessions: Vec<i64>,
}

struct Loaded {
    tree: DataTree,
    sessions: HashMap<i64, i32>,
    digest: Option<ZxidDigest>,
    path: Option<PathBuf>,
}

fn load_newest_snapshot(
    fs: &dyn Fs,
    dirs: &DataDirs,
    opts: RecoveryOptions,
    skipped: &mut Vec<(Zxid, StorageError)>,
) -> Result<Loaded, StorageError> {
    let snaps = list_snapshots(fs, &dirs.snap_dir)?;
    for (zxid, path) in snaps.iter().take(SNAPSHOTS_TRIED) {
        // One read serves the cheap validity check and the decode. A file that cannot be read (EIO, EACCES)
        // stops the start: it says nothing about whether the snapshot is whole.
        let raw = fs.read(path).map_err(|source| StorageError::Io {
            file: path.clone(),
            source,
        })?;
        if !looks_valid_bytes(path, &raw) {
            let e = StorageError::Corrupt {
                file: path.clone(),
                offset: raw.len() as u64,
                message: "incomplete snapshot (no final seal, or no compression header)".into(),
            };
            tracing::warn!(error = %e, "skipping an incomplete snapshot");
            skipped.push((*zxid, e));
            continue;
        }
        tracing::info!(file = %path.display(), "reading snapshot");
        let loaded = uncompress(path, raw).and_then(|bytes| {
            snapshot::decode(&bytes, opts.extended_types).map_err(|e| StorageError::Corrupt {
                file: path.clone(),
                offset: e.offset,
                message: e.message,
            })
        });
        match loaded {
            Ok(mut s) => {
                s.tree.set_last_processed_zxid(*zxid);
                // A digest older than the snapshot cannot be checked (`deserializeZxidDigest`).
                let digest = s.digest.filter(|d| d.zxid.0 > 0 && d.zxid >= *zxid);
                return Ok(Loaded {
                    tree: s.tree,
                    sessions: s.sessions.into_iter().collect(),
                    digest,
                    path: Some(path.clone()),
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "problem reading snapshot, trying an older one");
                skipped.push((*zxid, e));
            }
        }
    }
    if !skipped.is_empty() {
        // None reads back: the newest snapshot's problem is the one to report.
        return Err(skipped.remove(0).1);
    }
    let logs = files_after(fs, &dirs.log_dir, Zxid(0))?;
    if let Some((_, log)) = logs.first() {
        if !opts.trust_empty_snapshot {
            return Err(StorageError::Corrupt {
                file: log.clone(),
                offset: 0,
                message: "no snapshot found, but there are log entries; set snapshot.trust.empty=true only \
                          when upgrading from a version that did not write one"
                    .into(),
            });
        }
    }
    Ok(Loaded {
        tree: DataTree::new(opts.extended_types),
        sessions: HashMap::new(),
        digest: None,
        path: None,
    })
}

/// Recovers the database from `dirs`.
pub fn recover(fs: &dyn Fs, dirs: &DataDirs, opts: RecoveryOptions) -> Result<Recovered, StorageError> {
    if opts.repair {
        super::truncate::finish_pending(fs, dirs)?;
        remove_unfinished_snapshots(fs, &dirs.snap_dir)?;
    } else if fs.exists(&dirs.log_dir.join(super::truncate::MARKER)) {
        // A read-only look (the tools) leaves the directory as it is: it shows the state before the truncation.
        tracing::warn!(
            dir = %dirs.log_dir.display(),
            "an interrupted truncation of the txn log is pending; the next start finishes it"
        );
    }
    let mut skipped = Vec::new();
    let Loaded {
        mut tree,
        mut sessions,
        mut digest,
        path,
    } = load_newest_snapshot(fs, dirs, opts, &mut skipped)?;
    let mut mismatches = Vec::new();
    if let Some(d) = digest.filter(|d| d.zxid == tree.last_processed_zxid()) {
        check_digest(&tree, d, &mut mismatches);
        digest = None;
    }
    let start = tree.last_processed_zxid();
    let end = logread::replay(
        fs,
        &dirs.log_dir,
        start,
        opts.repair,
        |file, offset, zxid, bytes| {
            let entry =
                jute::txn_entry::TxnEntry::decode(bytes, MAX_ENTRY).map_err(|e| StorageError::Corrupt {
                    file: file.to_path_buf(),
                    offset,
                    message: format!("txn {zxid} does not decode: {e}"),
                })?;
            if let Some(bad) = created_paths(&entry.body).into_iter().find(|p| !is_node_path(p)) {
                return Err(StorageError::Corrupt {
                    file: file.to_path_buf(),
                    offset,
                    message: format!("txn {zxid} creates the invalid path {bad:?}"),
                });
            }
            let logged = entry.digest;
            let txn: Txn = entry;
            match &txn.body {
                TxnBody::CreateSession(c) => {
                    sessions.insert(txn.header.client_id, c.time_out);
                }
                TxnBody::CloseSession(_) => {
                    sessions.remove(&txn.header.client_id);
                }
                _ => {}
            }
            tree.apply(&txn, &mut Vec::new());
            match digest {
                Some(d) if d.zxid == zxid => {
                    check_digest(&tree, d, &mut mismatches);
                    digest = None;
                }
                Some(_) => {}
                None => {
                    if let Some(l) =
                        logged.filter(|l| l.version == d_version() && l.tree_digest != tree.digest() as i64)
                    {
                        tracing::warn!(zxid = %zxid, logged = l.tree_digest, actual = tree.digest(), "digest mismatch");
                        mismatches.push(zxid);
                    }
                }
            }
            Ok(())
        },
    )?;
    // An older snapshot stands in for a newer one that does not read back only if the logs carry the state
    // past the newer one's zxid; otherwise starting would silently drop what that snapshot holds.
    let reached = tree.last_processed_zxid();
    if let Some((zxid, e)) = skipped.iter().find(|(zxid, _)| *zxid > reached) {
        let (file, offset, why) = match e {
            StorageError::Corrupt {
                file,
                offset,
                message,
            } => (file.clone(), *offset, message.clone()),
            StorageError::Io { file, source } => (file.clone(), 0, source.to_string()),
            StorageError::Failed(why) => (dirs.snap_dir.clone(), 0, why.clone()),
        };
        return Err(StorageError::Corrupt {
            file,
            offset,
            message: format!(
                "{why}; the older snapshot and the logs after it end at zxid {reached}, before this \
                 snapshot's {zxid}, so starting would lose what it holds"
            ),
        });
    }
    let dead = remove_dead_ephemerals(&mut tree, &sessions);
    let mut sessions: Vec<(i64, i32)> = sessions.into_iter().collect();
    sessions.sort();
    Ok(Recovered {
        last_zxid: tree.last_processed_zxid(),
        tree,
        sessions,
        snapshot: path,
        skipped_snapshots: skipped.iter().map(|(_, e)| e.to_string()).collect(),
        replayed: end.replayed,
        torn_tail: end.torn_tail,
        digest_mismatches: mismatches,
        dead_sessions: dead,
    })
}

/// Removes the `snapshot.*.tmp` files a crash left in the middle of writing a snapshot: they never became
/// snapshots (one is renamed into place only once complete and fsynced) and nothing reads them.
fn remove_unfinished_snapshots(fs: &dyn Fs, dir: &Path) -> Result<(), StorageError> {
    let io = |file: &Path| {
        let file = file.to_path_buf();
        move |source| StorageError::Io { file, source }
    };
    let names = match fs.list(dir) {
        Ok(names) => names,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir)(e)),
    };
    let unfinished: Vec<PathBuf> = names
        .iter()
        .filter(|n| n.starts_with("snapshot.") && n.ends_with(".tmp"))
        .map(|n| dir.join(n))
        .collect();
    for path in &unfinished {
        tracing::info!(file = %path.display(), "removing an unfinished snapshot");
        fs.remove(path).map_err(io(path))?;
    }
    if !unfinished.is_empty() {
        fs.sync_dir(dir).map_err(io(dir))?;
    }
    Ok(())
}

/// The paths a txn creates, inside a multi too.
fn created_paths(body: &TxnBody) -> Vec<&str> {
    match body {
        TxnBody::Create(c) => vec![c.path.as_str()],
        TxnBody::CreateContainer(c) => vec![c.path.as_str()],
        TxnBody::CreateTtl(c) => vec![c.path.as_str()],
        TxnBody::Multi(subs) => subs.iter().flat_map(|(_, b)| created_paths(b)).collect(),
        _ => Vec::new(),
    }
}

/// A path a node can have: absolute, not the root, no empty segment. (A server never logs another; an empty
/// last segment would make a node its own child, and writing a snapshot of that tree would never end.)
fn is_node_path(path: &str) -> bool {
    path.len() > 1 && path.starts_with('/') && path[1..].split('/').all(|seg| !seg.is_empty())
}

fn d_version() -> i32 {
    crate::core::tree::digest::DIGEST_VERSION
}

fn check_digest(tree: &DataTree, d: ZxidDigest, mismatches: &mut Vec<Zxid>) {
    if d.version != d_version() {
        return;
    }
    if d.digest != tree.digest() as i64 {
        tracing::error!(zxid = %d.zxid, snapshot = d.digest, actual = tree.digest(), "snapshot digest mismatch");
        mismatches.push(d.zxid);
    }
}

/// Removes the ephemerals of sessions that are not live (`ZooKeeperServer.loadData`, "clean up dead
/// sessions"), as a closeSession at the last zxid would.
fn remove_dead_ephemerals(tree: &mut DataTree, sessions: &HashMap<i64, i32>) -> Vec<i64> {
    let mut dead: Vec<i64> = tree
        .sessions_with_ephemerals()
        .map(|(s, _)| *s)
        .filter(|s| !sessions.contains_key(s))
        .collect();
    dead.sort();
    for session in &dead {
        tracing::info!(session = %crate::types::SessionId(*session), "removing ephemerals of a dead session");
        let txn = Txn {
            header: jute::records::txn::TxnHeader {
                client_id: *session,
                cxid: 0,
                zxid: tree.last_processed_zxid().0,
                time: 0,
                txn_type: jute::codes::OpCode::CloseSession.code(),
            },
            body: TxnBody::CloseSession(None),
            digest: None,
        };
        tree.apply(&txn, &mut Vec::new());
    }
    dead
}
