//! Taking snapshots while serving (`SyncRequestProcessor`, `ZooKeeperServer.takeSnapshot`): every snapCount
//! txns (randomised) the log rolls and a snapshot starts. The tree is walked a few thousand nodes at a time
//! between the core task's other work (see `core::tree::snapshot`), so no write waits for a whole snapshot;
//! the finished image is compressed and written by its own thread. A snapshot due while the previous one is
//! still being written is skipped, as Apache ZooKeeper does ("Too busy to snap, skipping").

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::core::tree::snapshot::{SnapshotImage, SnapshotWalk};
use crate::core::Core;
use crate::storage::fs::Fs;
use crate::storage::purge;
use crate::storage::recovery::DataDirs;
use crate::storage::settings::{SnapshotTrigger, StorageSettings};
use crate::storage::snapfile::{write_snapshot, Compression};

/// Nodes serialised between two looks at the clock.
const NODES_PER_SLICE: usize = 256;
/// The longest a step may hold the core task: requests that arrive meanwhile wait at most this much longer.
const STEP_TIME: Duration = Duration::from_micros(500);

/// The snapshot state of the server task.
pub(crate) struct Snapshotter {
    fs: Arc<dyn Fs>,
    dirs: DataDirs,
    compression: Compression,
    trigger: SnapshotTrigger,
    walk: Option<(SnapshotWalk, Instant, Duration)>,
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

    /// Starts a snapshot of the core's tree, unless one is still being taken.
    pub(crate) fn start(&mut self, core: &Core) {
        let busy = self.walk.is_some() || self.writing.as_ref().is_some_and(|w| !w.is_finished());
        if busy {
            tracing::warn!("too busy to snap, skipping");
            return;
        }
        let walk = SnapshotWalk::new(core.tree());
        tracing::info!(zxid = %walk.zxid(), "snapshot started");
        self.walk = Some((walk, Instant::now(), Duration::ZERO));
    }

    /// True while a walk is under way.
    pub(crate) fn walking(&self) -> bool {
        self.walk.is_some()
    }

    /// Walks a little further; at the end hands the image to a writer thread.
    pub(crate) fn step(&mut self, core: &Core) {
        let Some((walk, _, busy)) = self.walk.as_mut() else {
            return;
        };
        let t = Instant::now();
        let done = loop {
            if walk.step(core.tree(), NODES_PER_SLICE) {
                break true;
            }
            if t.elapsed() >= STEP_TIME {
                break false;
            }
        };
        *busy += t.elapsed();
        if !done {
            return;
        }
        let Some((walk, started_at, busy)) = self.walk.take() else {
            return;
        };
        let nodes = walk.node_count();
        let sessions: Vec<(i64, i32)> = core
            .sessions()
            .iter()
            .map(|s| (s.id.0, s.timeout_ms as i32))
            .collect();
        let image = walk.finish(core.tree(), &sessions);
        tracing::info!(
            zxid = %image.zxid, nodes, walk_ms = started_at.elapsed().as_millis() as u64,
            core_busy_ms = busy.as_millis() as u64, "snapshot walk done"
        );
        let (fs, dirs, compression) = (Arc::clone(&self.fs), self.dirs.clone(), self.compression);
        let spawned = std::thread::Builder::new()
            .name("snapshot".into())
            .spawn(move || write_in_background(fs.as_ref(), &dirs, &image, compression));
        match spawned {
            Ok(handle) => self.writing = Some(handle),
            Err(e) => tracing::error!(error = %e, "cannot start the snapshot writer; snapshot skipped"),
        }
    }
}

fn write_in_background(fs: &dyn Fs, dirs: &DataDirs, image: &SnapshotImage, compression: Compression) {
    let t = Instant::now();
    match write_snapshot(fs, &dirs.snap_dir, image, compression) {
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
