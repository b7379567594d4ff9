//! Persistence records (`org.apache.zookeeper.server.persistence` in `zookeeper.jute`).

use serde::{Deserialize, Serialize};

/// "ZKLG": the magic of a transaction log file.
pub const TXNLOG_MAGIC: i32 = 0x5A4B_4C47;
/// "ZKSN": the magic of a snapshot file.
pub const SNAPSHOT_MAGIC: i32 = 0x5A4B_534E;
/// The version of both file formats.
pub const FILE_VERSION: i32 = 2;

/// The first 16 bytes of a log or snapshot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FileHeader {
    pub magic: i32,
    pub version: i32,
    pub dbid: i64,
}
