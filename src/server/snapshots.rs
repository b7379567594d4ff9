//! Taking snapshots while serving (`SyncRequestProcessor`, `ZooKeeperServer.takeSnapshot`): every snapCount
//! txns (randomised) the log rolls and a snapshot starts. The snapshot's head (sessions, ACL table) is taken on
//! the core task; the nodes are walked by a thread of the snapshot's own over the tree it shares with the core
//! (`core::tree::SharedTree`), a slice of nodes at a time under the read lock and never while the core applies
//! a batch of txns, and written as they are walked, a MiB at a time, so the core task spends nothing on the
//! walk and the whole image is never held in memory. The walking thread takes only idle CPU (`background`). A
//! snapshot due while the previous one is still being taken is skipped, as Apache ZooKeeper does ("Too busy to
//! snap, skipping"). A walk under way can be cancelled ([`Snapshotter::cancel`]), as a follower must before
//! a TRUNC or a SNAP replaces the state it is writing out.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::background::Background;
use crate::core::tree::snapshot::{SnapshotStream, StreamPart, PART_BYTES};
use crate::core::tree::SharedTree;
use crate::core::Core;
use crate::storage::fs::Fs;
use crate::storage::purge;
use crate::storage::recovery::DataDirs;
use crate::storage::settings::{SnapshotTrigger, StorageSettings};
use crate::storage::snapfile::{write_snapshot_parts, Compression};
use crate::types::Zxid;

/// Nodes walked under one hold of the read lock: the longest the core waits to apply a batch of txns.
const NODES_PER_SLICE: usize = 64;
/// How long the walker waits before it looks again whether the core has finished applying a batch.
const PAUSE_POLL: Duration = Duration::from_micros(50);

/// The snapshot state of the server task.
pub(crate) struct Snapshotter {
    fs: Arc<dyn Fs>,
    dirs: DataDirs,
    compression: Compression,
    trigger: SnapshotTrigger,
    /// The thread walking and writing the current snapshot, if any; it returns the file it wrote.
    writing: Option<JoinHandle<Option<PathBuf>>>,
    /// Set to stop the walk under way (at shutdown, or before a TRUNC or SNAP): it ends and leaves no file.
    cancel: Arc<AtomicBool>,
}

impl Snapshotter {
    pub(crate) fn new(fs: Arc<dyn Fs>, dirs: DataDirs, settings: &StorageSettings) -> Snapshotter {
        Snapshotter {
            fs,
            dirs,
            compression: settings.compression,
            trigger: SnapshotTrigger::new(settings),
            writing: None,
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Counts a logged entry; true when the log should roll and a snapshot start.
    pub(crate) fn logged(&mut self, bytes: usize) -> bool {
        self.trigger.logged(bytes as u64)
    }

    /// Starts a snapshot of the core's tree on a thread of its own, unless one is still being taken.
    pub(crate) fn start(&mut self, core: &Core) {
        if self.writing.as_ref().is_some_and(|w| !w.is_finished()) {
            tracing::warn!("too busy to snap, skipping");
            return;
        }
        let sessions: Vec<(i64, i32)> = core.sessions().iter().map(|s| (s.id.0, s.timeout_ms)).collect();
        let stream = SnapshotStream::new(&core.tree(), &sessions);
        let zxid = stream.zxid();
        let walk = Walk {
            tree: core.shared_tree(),
            stream: Some(stream),
            end: None,
            cancel: Arc::clone(&self.cancel),
            zxid,
            started_at: Instant::now(),
            background: Background::default(),
        };
        let (fs, dirs, compression) = (Arc::clone(&self.fs), self.dirs.clone(), self.compression);
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || write_in_background(fs.as_ref(), &dirs, zxid, compression, walk));
        match spawned {
            Ok(handle) => {
                tracing::info!(%zxid, "snapshot started");
                self.writing = Some(handle);
            }
            Err(e) => tracing::error!(error = %e, "cannot start the snapshot thread; snapshot skipped"),
        }
    }

    /// Stops the snapshot being taken, if any, and waits for its thread: afterwards no walk runs and no file
    /// of it is left unless it was complete before the stop (then that snapshot, fsynced and in place, is
    /// returned). A follower calls this before a TRUNC or a SNAP changes the data directory.
    pub(crate) fn cancel(&mut self) -> Option<PathBuf> {
        self.cancel.store(true, Ordering::Release);
        let written = self.wait();
        // The thread is gone: the next snapshot starts uncancelled.
        self.cancel.store(false, Ordering::Release);
        written
    }

    /// Waits for the snapshot being taken, if any; the file it wrote, if it finished.
    pub(crate) fn wait(&mut self) -> Option<PathBuf> {
        let handle = self.writing.take()?;
        match handle.join() {
            Ok(written) => written,
            Err(_) => {
                tracing::error!("the snapshot thread panicked");
                None
            }
        }
    }
}

impl Drop for Snapshotter {
    /// Ends a walk under way (its file is removed) and waits for its thread.
    fn drop(&mut self) {
        let _ = self.cancel();
    }
}

/// A walk over the shared tree, as the stream of parts the snapshot file is written from.
struct Walk {
    tree: SharedTree,
    /// None once the walk is done.
    stream: Option<SnapshotStream>,
    /// The end part, once the last bytes have been handed out.
    end: Option<StreamPart>,
    cancel: Arc<AtomicBool>,
    zxid: Zxid,
    started_at: Instant,
    /// The walking thread's scheduling class, entered once the walk runs on that thread.
    background: Background,
}

impl Iterator for Walk {
    type Item = StreamPart;

    fn next(&mut self) -> Option<StreamPart> {
        loop {
            if self.stream.is_none() {
                return self.end.take();
            }
            if self.cancel.load(Ordering::Acquire) {
                // The writer sees the parts stop before their end and removes the file.
                self.stream = None;
                return None;
            }
            if self.tree.paused() {
                std::thread::sleep(PAUSE_POLL);
                continue;
            }
            let shared = &self.tree;
            let owner = &mut self.stream;
            let slice = || {
                let tree = shared.read();
                let stream = owner.as_mut()?;
                if !stream.step(&tree, NODES_PER_SLICE) {
                    return None;
                }
                let nodes = stream.node_count();
                let stream = owner.take()?;
                Some((nodes, stream.finish(&tree)))
            };
            if let Some((nodes, [last, end])) = self.background.holding(slice) {
                tracing::info!(
                    zxid = %self.zxid, nodes,
                    walk_ms = self.started_at.elapsed().as_millis() as u64, "snapshot walk done"
                );
                self.end = Some(end);
                return Some(last);
            }
            match self.stream.as_mut() {
                Some(stream) if stream.pending_bytes() >= PART_BYTES => return Some(stream.take()),
                _ => {}
            }
        }
    }
}

fn write_in_background(
    fs: &dyn Fs,
    dirs: &DataDirs,
    zxid: Zxid,
    compression: Compression,
    mut walk: Walk,
) -> Option<PathBuf> {
    walk.background = Background::enter();
    let t = Instant::now();
    let cancel = Arc::clone(&walk.cancel);
    match write_snapshot_parts(fs, &dirs.snap_dir, zxid, compression, walk) {
        Ok(path) => {
            tracing::info!(file = %path.display(), ms = t.elapsed().as_millis() as u64, "snapshot written");
            Some(path)
        }
        Err(e) if cancel.load(Ordering::Acquire) => {
            tracing::info!(%zxid, reason = %e, "snapshot cancelled");
            None
        }
        // The log still holds everything: a failed snapshot only means a longer replay at the next start.
        Err(e) => {
            tracing::error!(error = %e, "snapshot failed");
            None
        }
    }
}

/// Removes old snapshots and logs every `autopurge.purgeInterval` hours (`DatadirCleanupManager`).
pub(crate) fn spawn_autopurge(
    fs: Arc<dyn Fs>,
    dirs: DataDirs,
    settings: &StorageSettings,
) -> Option<JoinHandle<()>> {
    if settings.purge_interval_hours == 0 {
        return None;
    }
    let (interval, retain) = (
        Duration::from_secs(3600 * u64::from(settings.purge_interval_hours)),
        settings.snap_retain_count,
    );
    tracing::info!(hours = settings.purge_interval_hours, retain, "autopurge enabled");
    std::thread::Builder::new()
        .name("purge".into())
        .spawn(move || loop {
            std::thread::sleep(interval);
            match purge::purge(fs.as_ref(), &dirs, retain) {
                Ok(removed) => tracing::info!(files = removed.len(), "purge task done"),
                Err(e) => tracing::warn!(error = %e, "purge failed"),
            }
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::CoreConfig;
    use crate::storage::faulty::FaultyFs;
    use crate::types::Now;
    use std::path::Path;

    fn setup() -> (FaultyFs, Snapshotter, Core) {
        let fs = FaultyFs::new();
        let dirs = DataDirs::new(Path::new("/data"), Path::new("/data"));
        dirs.create(&fs).expect("dirs");
        let snapshotter = Snapshotter::new(Arc::new(fs.clone()), dirs, &StorageSettings::default());
        let now = Now {
            wall_ms: 1_700_000_000_000,
            mono_ms: 1000,
        };
        (fs, snapshotter, Core::new(CoreConfig::default(), now))
    }

    fn snapshot_files(fs: &FaultyFs) -> Vec<String> {
        let mut names: Vec<String> = fs
            .list(Path::new("/data/version-2"))
            .expect("list")
            .into_iter()
            .filter(|n| n.starts_with("snapshot."))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_cancelled_walk_leaves_no_file_and_the_next_snapshot_is_taken() {
        let (fs, mut snapshotter, core) = setup();
        let tree = core.shared_tree();
        {
            // While the core holds a pause the walker takes no slice: the walk is under way when cancelled.
            let _pause = tree.pause();
            snapshotter.start(&core);
            assert!(snapshotter.writing.is_some(), "a walk started");
            assert_eq!(snapshotter.cancel(), None);
        }
        assert!(snapshot_files(&fs).is_empty(), "{:?}", snapshot_files(&fs));
        assert!(snapshotter.writing.is_none());
        snapshotter.start(&core);
        let written = snapshotter.wait().expect("a snapshot after the cancelled one");
        assert_eq!(snapshot_files(&fs), ["snapshot.0"]);
        assert_eq!(written, Path::new("/data/version-2/snapshot.0"));
    }

    #[test]
    fn cancelling_after_the_walk_finished_keeps_its_snapshot() {
        let (fs, mut snapshotter, core) = setup();
        snapshotter.start(&core);
        let handle = snapshotter.writing.take().expect("a walk");
        let written = handle.join().expect("thread");
        assert!(written.is_some());
        assert_eq!(snapshotter.cancel(), None, "nothing under way");
        assert_eq!(snapshot_files(&fs), ["snapshot.0"]);
    }
}
