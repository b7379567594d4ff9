//! Durable storage in Apache ZooKeeper's own data-directory format (version-2), so a data directory moves
//! between ferrokeeper and Apache ZooKeeper in both directions (`FileTxnSnapLog`, `FileTxnLog`, `FileSnap`).
//!
//! - [`txnlog`] writes the transaction log with group commit; [`logread`] reads and replays it.
//! - [`snapfile`] writes and reads snapshot files (plain, gzip, snappy) around the pure encoding in
//!   `core::tree::snapshot`.
//! - For a learner's sync: [`diff`] reads the txns after a zxid for a DIFF, [`truncate`] cuts the log back to a
//!   zxid (TRUNC) crash-safely, and [`install`] writes the snapshot received with a SNAP.
//! - [`recovery`] loads the newest valid snapshot and replays the logs after it; [`epoch`] keeps
//!   `acceptedEpoch` and `currentEpoch`; [`purge`] removes old snapshots and logs.
//! - All file I/O goes through [`fs::Fs`], which tests replace with [`faulty::FaultyFs`].
//!
//! On the request path, storage sits between `Effect::Persist` and `Core::persisted`: a write is answered only
//! after its log entry is fsynced.

pub mod diff;
pub mod epoch;
pub mod faulty;
pub mod fs;
pub mod install;
pub mod logread;
pub mod names;
pub mod purge;
pub mod recovery;
pub mod settings;
pub mod snapfile;
pub mod snappy;
pub mod truncate;
pub mod txnlog;

use std::io;
use std::path::PathBuf;

/// A storage failure: an I/O error, or a file that is not what it should be (with the offset).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{}: {source}", file.display())]
    Io { file: PathBuf, source: io::Error },
    #[error("{} at offset {offset}: {message}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        message: String,
    },
    #[error("storage stopped after an earlier failure: {0}")]
    Failed(String),
}
