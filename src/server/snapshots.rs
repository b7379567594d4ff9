//! Taking snapshots while serving (`SyncRequestProcessor`, `ZooKeeperServer.takeSnapshot`): every snapCount
//! txns (randomised) the log rolls and a snapshot starts. The tree is walked for at most half a millisecond at
//! a time between the core task's other work (see `core::tree::snapshot::SnapshotStream`), so no request waits
//! for a whole snapshot; what the walk produces goes, a MiB at a time, to a thread that compresses and writes
//! it, so the whole image is never held in memory. A snapshot due while the previous one is still being taken
//! is skipped, as Apache ZooKeeper does ("Too busy to snap, skipping").

use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::core::tree::snapshot::{SnapshotStream, StreamPart};
use crate::core::Core;
use crate::storage::fs::Fs;
use crate::storage::purge;
use crate::storage::recovery::DataDirs;
use crate::storage::settings::{SnapshotTrigger, StorageSettings};
use crate::storage::snapfile::{write_snapshot_parts, Compression};

/// Nodes serialised between two looks at the clock.
const NODES_PER_SLICE: usize = 256;
/// The longest a step may hold the core task: requests that arrive meanwhile wait at most this much longer.
const STEP_TIME: Duration = Duration::from_micros(500);

/// Bytes of a snapshot stream handed to the writer thread at a time.
const PART_BYTES: usize = 1 << 20;

/// A snapshot under way: the walk, and the channel to the thread writing what it produces.
struct Walk {
    stream: SnapshotStream,
    parts: Sender<StreamPart>,
    started_at: Instant,
    busy: Duration,
}

/// The snapshot state of the server task.
pub(crate) struct Snapshotter {
    fs: Arc<dyn Fs>,
    dirs: DataDirs,
    compression: Compression,
    trigger: SnapshotTrigger,
    walk: Option<Walk>,
    writing: Option<JoinHandle<()>>,
}

impl Snapshotter {
    pub(crate) fn new(fs: Arc<dyn Fs>, dirs: DataDirs, settings: &StorageSettings) -> Snapshotter {
        Snapshotter {
            fs,
            dirs,
            compression: settings.compression,
            trigger: SnapshotTrigger::new(settings),
            walk: None,
            writing: None,
        }
    }

    /// Counts a logged entry; true when the log should roll and a snapshot start.
    pub(crate) fn logged(&mut self, bytes: usize) -> bool {
        self.trigger.logged(bytes as u64)
    }

    /// Starts a snapshot of the core's tree, unless one is still being taken. The file is written by its own
    /// thread as the walk goes, so that no image of the whole tree is held in memory.
    pub(crate) fn start(&mut self, core: &Core) {
        let busy = self.walk.is_some() || self.writing.as_ref().is_some_and(|w| !w.is_finished());
        if busy {
            tracing::warn!("too busy to snap, skipping");
            return;
        }
        let sessions: Vec<(i64, i32)> = core
            .sessions()
            .iter()
            .map(|s| (s.id.0, s.timeout_ms as i32))
            .collect();
        let stream = SnapshotStream::new(core.tree(), &sessions);
        let zxid = stream.zxid();
        let (parts, received) = std::sync::mpsc::channel();
        let (fs, dirs, compression) = (Arc::clone(&self.fs), self.dirs.clone(), self.compression);
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || write_in_background(fs.as_ref(), &dirs, zxid, compression, received));
        match spawned {
            Ok(handle) => self.writing = Some(handle),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the snapshot writer; snapshot skipped");
                return;
            }
        }
        tracing::info!(%zxid, "snapshot started");
        self.walk = Some(Walk {
            stream,
            parts,
            started_at: Instant::now(),
            busy: Duration::ZERO,
        });
    }

    /// True while a walk is under way.
    pub(crate) fn walking(&self) -> bool {
        self.walk.is_some()
    }

    /// Walks a little further, handing the bytes to the writer; at the end, hands it the digest.
    pub(crate) fn step(&mut self, core: &Core) {
        let Some(walk) = self.walk.as_mut() else {
            return;
        };
        let t = Instant::now();
        let done = loop {
            if walk.stream.step(core.tree(), NODES_PER_SLICE) {
                break true;
            }
            if walk.stream.pending_bytes() >= PART_BYTES {
                // A writer that has failed (and logged why) no longer listens: the walk ends with it.
                if walk.parts.send(walk.stream.take()).is_err() {
                    self.walk = None;
                    return;
                }
            }
            if t.elapsed() >= STEP_TIME {
                break false;
            }
        };
        walk.busy += t.elapsed();
        if !done {
            return;
        }
        let Some(walk) = self.walk.take() else {
            return;
        };
        let nodes = walk.stream.node_count();
        let zxid = walk.stream.zxid();
        for part in walk.stream.finish(core.tree()) {
            let _ = walk.parts.send(part);
        }
        tracing::info!(
            %zxid, nodes, walk_ms = walk.started_at.elapsed().as_millis() as u64,
            core_busy_ms = walk.busy.as_millis() as u64, "snapshot walk done"
        );
    }
}

fn write_in_background(
    fs: &dyn Fs,
    dirs: &DataDirs,
    zxid: crate::types::Zxid,
    compression: Compression,
    parts: Receiver<StreamPart>,
) {
    let t = Instant::now();
    match write_snapshot_parts(fs, &dirs.snap_dir, zxid, compression, parts) {
        Ok(path) => {
            tracing::info!(file = %path.display(), ms = t.elapsed().as_millis() as u64, "snapshot written")
        }
        // The log still holds everything: a failed snapshot only means a longer replay at the next start.
        Err(e) => tracing::error!(error = %e, "snapshot failed"),
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
