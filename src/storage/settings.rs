//! The storage settings of zoo.cfg (keys that Apache ZooKeeper turns into `zookeeper.<key>` properties, read
//! by `FileTxnLog`, `FilePadding`, `SyncRequestProcessor`, `SnapStream` and `DatadirCleanupManager`), and
//! the snapshot trigger of `SyncRequestProcessor.shouldSnapshot`.

use super::snapfile::Compression;
use super::txnlog::LogConfig;

/// Storage settings with ZooKeeper's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSettings {
    /// `snapCount`: txns between snapshots, randomised (default 100000; at least 2).
    pub snap_count: u64,
    /// `snapSizeLimitInKb` in bytes: log bytes between snapshots, randomised; 0 = off (default 4 GiB).
    pub snap_size_limit_bytes: u64,
    /// `preAllocSize` in bytes (zoo.cfg gives KiB; default 64 MiB).
    pub pre_alloc_bytes: u64,
    /// `forceSync`.
    pub force_sync: bool,
    /// `txnLogSizeLimitInKb` in bytes; 0 = off.
    pub txn_log_size_limit_bytes: u64,
    /// `fsync.warningthresholdms`.
    pub fsync_warning_ms: u64,
    /// `snapshot.compression.method`.
    pub compression: Compression,
    /// `autopurge.snapRetainCount` (at least 3).
    pub snap_retain_count: usize,
    /// `autopurge.purgeInterval` in hours; 0 = off.
    pub purge_interval_hours: u32,
    /// `snapshot.trust.empty`.
    pub trust_empty_snapshot: bool,
    /// `snapshotSizeFactor` (`zookeeper.snapshotSizeFactor`): how much log a leader may read to sync a
    /// learner by DIFF, as a share of the newest snapshot's size; negative turns that off.
    pub snapshot_size_factor: Option<super::diff::SnapshotSizeFactor>,
}

impl Default for StorageSettings {
    fn default() -> Self {
        StorageSettings {
            snap_count: 100_000,
            snap_size_limit_bytes: 4_194_304 * 1024,
            pre_alloc_bytes: 65536 * 1024,
            force_sync: true,
            txn_log_size_limit_bytes: 0,
            fsync_warning_ms: 1000,
            compression: Compression::None,
            snap_retain_count: 3,
            purge_interval_hours: 0,
            trust_empty_snapshot: false,
            snapshot_size_factor: None,
        }
    }
}

impl StorageSettings {
    /// The zoo.cfg keys these settings come from.
    pub const KEYS: &'static [&'static str] = &[
        "snapCount",
        "snapSizeLimitInKb",
        "preAllocSize",
        "forceSync",
        "txnLogSizeLimitInKb",
        "fsync.warningthresholdms",
        "snapshot.compression.method",
        "autopurge.snapRetainCount",
        "autopurge.purgeInterval",
        "snapshot.trust.empty",
        "snapshotSizeFactor",
    ];

    /// Applies one zoo.cfg entry; the error says why the value is refused.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let long = || value.parse::<i64>().map_err(|e| e.to_string());
        match key {
            // SyncRequestProcessor: a snapCount below 2 is raised to 2.
            "snapCount" => self.snap_count = long()?.max(2) as u64,
            // ZooKeeper refuses a zoo.cfg value that is not a number (`Double.parseDouble`).
            "snapshotSizeFactor" => {
                value.trim().parse::<f64>().map_err(|e| e.to_string())?;
                self.snapshot_size_factor = Some(super::diff::SnapshotSizeFactor::parse(value))
            }
            "snapSizeLimitInKb" => self.snap_size_limit_bytes = long()?.max(0) as u64 * 1024,
            "preAllocSize" => self.pre_alloc_bytes = long()?.max(0) as u64 * 1024,
            "forceSync" => self.force_sync = value != "no",
            "txnLogSizeLimitInKb" => self.txn_log_size_limit_bytes = long()?.max(0) as u64 * 1024,
            "fsync.warningthresholdms" => self.fsync_warning_ms = long()?.max(0) as u64,
            "snapshot.compression.method" => self.compression = Compression::from_config(value),
            "autopurge.snapRetainCount" => {
                let n = long()?;
                if n < 3 {
                    tracing::warn!(value = n, "autopurge.snapRetainCount is below 3; using 3");
                }
                self.snap_retain_count = n.max(3) as usize;
            }
            "autopurge.purgeInterval" => self.purge_interval_hours = long()?.max(0) as u32,
            "snapshot.trust.empty" => self.trust_empty_snapshot = value.eq_ignore_ascii_case("true"),
            _ => return Err(format!("{key} is not a storage setting")),
        }
        Ok(())
    }

    /// The txn log part.
    pub fn log_config(&self) -> LogConfig {
        LogConfig {
            pre_alloc_bytes: self.pre_alloc_bytes,
            force_sync: self.force_sync,
            size_limit_bytes: self.txn_log_size_limit_bytes,
            fsync_warning_ms: self.fsync_warning_ms,
        }
    }
}

/// When to take the next snapshot (`SyncRequestProcessor.shouldSnapshot`): after more than
/// `snapCount/2 + rand(snapCount/2)` txns, or more than `snapSizeLimit/2 + rand(snapSizeLimit/2)` log bytes,
/// the random part drawn again after each snapshot so the servers of an ensemble do not all snapshot at once.
#[derive(Debug, Clone)]
pub struct SnapshotTrigger {
    snap_count: u64,
    size_limit: u64,
    count_roll: u64,
    size_roll: u64,
    txns: u64,
    bytes: u64,
}

impl SnapshotTrigger {
    pub fn new(settings: &StorageSettings) -> SnapshotTrigger {
        let mut t = SnapshotTrigger {
            snap_count: settings.snap_count,
            size_limit: settings.snap_size_limit_bytes,
            count_roll: 0,
            size_roll: 0,
            txns: 0,
            bytes: 0,
        };
        t.reset();
        t
    }

    fn reset(&mut self) {
        use rand::Rng as _;
        let mut rng = rand::rng();
        self.count_roll = rng.random_range(0..(self.snap_count / 2).max(1));
        self.size_roll = rng.random_range(0..(self.size_limit / 2).max(1));
        self.txns = 0;
        self.bytes = 0;
    }

    /// Counts one logged txn of `bytes`; true when a snapshot is due (and starts counting again).
    pub fn logged(&mut self, bytes: u64) -> bool {
        self.txns += 1;
        self.bytes += bytes;
        let by_count = self.txns > self.snap_count / 2 + self.count_roll;
        let by_size = self.size_limit > 0 && self.bytes > self.size_limit / 2 + self.size_roll;
        if by_count || by_size {
            self.reset();
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_comes_between_half_and_all_of_snap_count() {
        let settings = StorageSettings {
            snap_count: 100,
            ..StorageSettings::default()
        };
        let mut t = SnapshotTrigger::new(&settings);
        for _ in 0..20 {
            let n = (1..=200)
                .find(|_| t.logged(10))
                .expect("a snapshot within snapCount");
            assert!((51..=100).contains(&n), "{n}");
        }
    }

    #[test]
    fn zoo_cfg_values_are_read_in_zookeepers_units() {
        let mut s = StorageSettings::default();
        s.set("preAllocSize", "16").expect("preAllocSize");
        s.set("forceSync", "no").expect("forceSync");
        s.set("snapshot.compression.method", "SNAPPY").expect("method");
        s.set("autopurge.snapRetainCount", "1").expect("retain");
        assert_eq!(s.pre_alloc_bytes, 16 * 1024);
        assert!(!s.force_sync);
        assert_eq!(s.compression, Compression::Snappy);
        assert_eq!(s.snap_retain_count, 3);
        assert!(s.set("snapCount", "x").is_err());
    }
}
