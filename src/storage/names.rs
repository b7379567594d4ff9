//! File names of the version-2 layout (`Util.makeLogName`, `Util.makeSnapshotName`, `Util.getZxidFromName`):
//! `log.<hexzxid>` and `snapshot.<hexzxid>[.gz|.snappy]`, the zxid as `Long.toHexString` writes it (lower
//! case, no `0x`, no leading zeros). Files are ordered by the parsed zxid, never lexically.

use crate::types::Zxid;

/// The directory under dataDir and dataLogDir that holds the files.
pub const VERSION_DIR: &str = "version-2";
/// The prefix of transaction log files.
pub const LOG_PREFIX: &str = "log";
/// The prefix of snapshot files.
pub const SNAPSHOT_PREFIX: &str = "snapshot";

/// `log.<hexzxid>`.
pub fn log_name(zxid: Zxid) -> String {
    format!("{LOG_PREFIX}.{:x}", zxid.0)
}

/// The zxid in a file name `<prefix>.<hex>[.<anything>]`, as `Util.getZxidFromName` reads it.
pub fn zxid_from_name(name: &str, prefix: &str) -> Option<Zxid> {
    let mut parts = name.split('.');
    if parts.next()? != prefix {
        return None;
    }
    let hex = parts.next()?;
    if hex.is_empty() || hex.starts_with('+') {
        return None;
    }
    i64::from_str_radix(hex, 16).ok().map(Zxid)
}

/// The files of `names` with `prefix`, with their zxids, ascending by zxid.
pub fn sorted(names: &[String], prefix: &str) -> Vec<(Zxid, String)> {
    let mut files: Vec<(Zxid, String)> = names
        .iter()
        .filter_map(|n| zxid_from_name(n, prefix).map(|z| (z, n.clone())))
        .collect();
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_hex_without_leading_zeros_and_sort_numerically() {
        assert_eq!(log_name(Zxid(1)), "log.1");
        assert_eq!(log_name(Zxid(0x1_0000_00ab)), "log.1000000ab");
        assert_eq!(
            zxid_from_name("snapshot.1a.snappy", SNAPSHOT_PREFIX),
            Some(Zxid(0x1a))
        );
        assert_eq!(zxid_from_name("log.zz", LOG_PREFIX), None);
        assert_eq!(zxid_from_name("logx.1", LOG_PREFIX), None);
        let names: Vec<String> = ["log.f", "log.10", "log.9", "snapshot.0"]
            .map(String::from)
            .to_vec();
        let order: Vec<String> = sorted(&names, LOG_PREFIX).into_iter().map(|(_, n)| n).collect();
        assert_eq!(order, ["log.9", "log.f", "log.10"]);
    }
}
