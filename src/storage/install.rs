//! Installing the snapshot a leader sends with SNAP (`Learner.syncWithLeader`, `ZKDatabase.deserializeSnapshot`,
//! then `ZooKeeperServer.takeSnapshot(syncSnapshot)`): the body is decoded into the tree and sessions that
//! recovery would load, named after the SNAP packet's zxid, and written as `snapshot.<zxid>` so that a restart
//! starts from it.
//!
//! Txns and snapshots after the zxid that the member still holds (a history the leader does not share) are
//! removed first, crash-safely as a truncation is (see [`super::truncate`]): otherwise the next start would
//! replay them on top of the received snapshot. Only then is the snapshot file written (through
//! `<name>.tmp`, fsynced, renamed). A crash before the rename leaves the member's own state without what
//! followed the zxid, which it never had committed by this leader; the next sync sends it what it lacks. Apache
//! ZooKeeper keeps such logs, and writes the snapshot only at NEWLEADER, after the txns that arrive in between.
//!
//! The leader walks its tree while it commits, so a SNAP may hold txns after its zxid; the file's digest
//! section is therefore the empty one (zxid 0), which no reader checks, as in the file an Apache ZooKeeper
//! 3.8.0 follower writes after a SNAP (tests/storage_install.rs compares the two byte for byte). That follower
//! also replaces `/zookeeper/config` with its own configuration (ZOOKEEPER-2819); that is the caller's part.

use std::path::PathBuf;

use super::recovery::DataDirs;
use super::snapfile::{write_snapshot_from_wire, Compression};
use super::truncate::discard_after;
use super::StorageError;
use crate::core::tree::snapshot::{wire, LoadedSnapshot, SnapshotError};
use crate::types::Zxid;

/// Why a received snapshot was not installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("the snapshot received with SNAP {zxid} does not decode: {source}")]
    Decode { zxid: Zxid, source: SnapshotError },
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A snapshot received and written.
#[derive(Debug)]
pub struct Installed {
    /// The tree and sessions, the tree's last processed zxid set to the SNAP's.
    pub snapshot: LoadedSnapshot,
    pub path: PathBuf,
}

/// Decodes `wire` (the body after a SNAP packet with `zxid`, signature included, as
/// `wire::WireScanner` measured it), removes what the data directory holds after `zxid`, and writes the
/// snapshot file.
pub fn install_snapshot(
    fs: &dyn super::fs::Fs,
    dirs: &DataDirs,
    zxid: Zxid,
    wire_bytes: &[u8],
    compression: Compression,
    extended_types: bool,
) -> Result<Installed, InstallError> {
    let mut snapshot =
        wire::decode(wire_bytes, extended_types).map_err(|source| InstallError::Decode { zxid, source })?;
    snapshot.tree.set_last_processed_zxid(zxid);
    dirs.create(fs)?;
    discard_after(fs, dirs, zxid)?;
    let path = write_snapshot_from_wire(fs, &dirs.snap_dir, zxid, compression, wire_bytes, (0, 0))?;
    tracing::info!(%zxid, file = %path.display(), nodes = snapshot.node_count, "installed the snapshot from the leader");
    Ok(Installed { snapshot, path })
}
