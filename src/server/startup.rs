//! Opening the data directories at start (`ZooKeeperServer.loadData`): recover the database, build the core
//! over it, take the start-up snapshot ("Make a clean snapshot"), and open the txn log after the last zxid.

use std::sync::Arc;
use std::time::Instant;

use super::runtime::{core_config, now_at};
use crate::config::ServerConfig;
use crate::core::tree::snapshot::snapshot_of;
use crate::core::Core;
use crate::storage::fs::{Fs, RealFs};
use crate::storage::recovery::{recover, DataDirs, RecoveryOptions};
use crate::storage::snapfile::write_snapshot;
use crate::storage::txnlog::TxnLogWriter;
use crate::storage::StorageError;
use crate::types::SessionId;

/// A recovered database, ready to serve.
pub struct Opened {
    pub fs: Arc<dyn Fs>,
    pub dirs: DataDirs,
    pub core: Core,
    pub log: TxnLogWriter,
    /// The start-up snapshot is still to be taken, once serving.
    pub snapshot_in_background: bool,
    /// Txns replayed from the log on top of the snapshot (`startup_txns_loaded`).
    pub txns_loaded: u64,
    /// Tree digests recovery found different from those recorded (`digest_mismatches_count`).
    pub digest_mismatches: u64,
}

/// Trees at least this large take their start-up snapshot while serving (when a snapshot was loaded).
const BACKGROUND_STARTUP_SNAPSHOT_NODES: usize = 100_000;

/// Recovers from `config`'s dataDir and dataLogDir.
pub fn open(config: &ServerConfig, started: Instant) -> Result<Opened, StorageError> {
    let fs: Arc<dyn Fs> = Arc::new(RealFs);
    let dirs = DataDirs::new(&config.data_dir, &config.data_log_dir);
    dirs.create(fs.as_ref())?;
    let t = Instant::now();
    let opts = RecoveryOptions {
        extended_types: config.extended_types,
        trust_empty_snapshot: config.storage.trust_empty_snapshot,
        repair: true,
    };
    let recovered = recover(fs.as_ref(), &dirs, opts)?;
    tracing::info!(
        zxid = %recovered.last_zxid,
        snapshot = ?recovered.snapshot,
        txns = recovered.replayed,
        sessions = recovered.sessions.len(),
        ms = t.elapsed().as_millis() as u64,
        "database recovered"
    );
    let sessions: Vec<(i64, i32)> = recovered.sessions.clone();
    // With a snapshot already on disk, the log after it replays to this same state: a large tree's start-up
    // snapshot can then be taken while serving (a fuzzy walk and a background write, as every later one) instead
    // of holding the start for seconds. Without one (a fresh or snapshot-less directory), it is written first,
    // since logs without any snapshot would not recover.
    let snapshot_in_background =
        recovered.snapshot.is_some() && recovered.tree.node_count() >= BACKGROUND_STARTUP_SNAPSHOT_NODES;
    if !snapshot_in_background {
        let t = Instant::now();
        let image = snapshot_of(&recovered.tree, &sessions);
        let path = write_snapshot(fs.as_ref(), &dirs.snap_dir, &image, config.storage.compression)?;
        tracing::info!(file = %path.display(), ms = t.elapsed().as_millis() as u64, "start-up snapshot taken");
    }
    let last = recovered.last_zxid;
    let txns_loaded = recovered.replayed;
    let digest_mismatches = recovered.digest_mismatches.len() as u64;
    let restored: Vec<(SessionId, i32)> = sessions
        .iter()
        .map(|(id, timeout)| (SessionId(*id), *timeout))
        .collect();
    let core = Core::restore(core_config(config), now_at(started), recovered.tree, &restored);
    let log = TxnLogWriter::new(Arc::clone(&fs), &dirs.log_dir, config.storage.log_config(), last);
    Ok(Opened {
        fs,
        dirs,
        core,
        log,
        snapshot_in_background,
        txns_loaded,
        digest_mismatches,
    })
}
