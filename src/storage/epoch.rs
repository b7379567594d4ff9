//! `acceptedEpoch` and `currentEpoch` in the snapshot directory, kept as `QuorumPeer` keeps them: decimal
//! ASCII without a newline, written atomically through `<name>.tmp` (`AtomicFileWritingIdiom`). A standalone
//! server never writes them, as in Apache ZooKeeper; a quorum peer loads them with [`load_epochs`].

use std::path::Path;

use super::fs::{write_atomic, Fs};
use super::StorageError;
use crate::types::Zxid;

pub const CURRENT_EPOCH: &str = "currentEpoch";
pub const ACCEPTED_EPOCH: &str = "acceptedEpoch";

/// The two epochs of a quorum peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epochs {
    pub current: i64,
    pub accepted: i64,
}

/// Reads an epoch file (`QuorumPeer.readLongFromFile`: the first line as a decimal long); None if absent.
pub fn read_epoch(fs: &dyn Fs, dir: &Path, name: &str) -> Result<Option<i64>, StorageError> {
    let path = dir.join(name);
    if !fs.exists(&path) {
        return Ok(None);
    }
    let bytes = fs.read(&path).map_err(|source| StorageError::Io {
        file: path.clone(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let line = text.lines().next().unwrap_or("").trim();
    line.parse::<i64>().map(Some).map_err(|_| StorageError::Corrupt {
        file: path,
        offset: 0,
        message: format!("found {line:?} instead of an epoch"),
    })
}

/// Writes an epoch file atomically (`QuorumPeer.writeLongToFile`).
pub fn write_epoch(fs: &dyn Fs, dir: &Path, name: &str, value: i64) -> Result<(), StorageError> {
    let path = dir.join(name);
    write_atomic(fs, &path, value.to_string().as_bytes())
        .map_err(|source| StorageError::Io { file: path, source })
}

/// Loads (creating when missing) the epochs after recovery reached `last_zxid` (`QuorumPeer.loadDataBase`):
/// a missing file gets the epoch of the last zxid; a current epoch older than that epoch is replaced by
/// `currentEpoch.tmp` if a crash left one, else it is an error; an accepted epoch below the current one is an
/// error.
pub fn load_epochs(fs: &dyn Fs, dir: &Path, last_zxid: Zxid) -> Result<Epochs, StorageError> {
    let of_zxid = i64::from(last_zxid.epoch());
    let corrupt = |name: &str, message: String| StorageError::Corrupt {
        file: dir.join(name),
        offset: 0,
        message,
    };
    let mut current = match read_epoch(fs, dir, CURRENT_EPOCH)? {
        Some(e) => e,
        None => {
            tracing::info!(
                epoch = of_zxid,
                "currentEpoch not found, creating it from the last zxid"
            );
            write_epoch(fs, dir, CURRENT_EPOCH, of_zxid)?;
            of_zxid
        }
    };
    if of_zxid > current {
        let tmp = format!("{CURRENT_EPOCH}.tmp");
        match read_epoch(fs, dir, &tmp)? {
            Some(e) => {
                tracing::info!(epoch = e, "currentEpoch.tmp found, taking its epoch");
                write_epoch(fs, dir, CURRENT_EPOCH, e)?;
                current = e;
            }
            None => {
                return Err(corrupt(
                    CURRENT_EPOCH,
                    format!("the current epoch {current:#x} is older than the last zxid {last_zxid}"),
                ))
            }
        }
    }
    let accepted = match read_epoch(fs, dir, ACCEPTED_EPOCH)? {
        Some(e) => e,
        None => {
            tracing::info!(
                epoch = of_zxid,
                "acceptedEpoch not found, creating it from the last zxid"
            );
            write_epoch(fs, dir, ACCEPTED_EPOCH, of_zxid)?;
            of_zxid
        }
    };
    if accepted < current {
        return Err(corrupt(
            ACCEPTED_EPOCH,
            format!("the accepted epoch {accepted:#x} is less than the current epoch {current:#x}"),
        ));
    }
    Ok(Epochs { current, accepted })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::faulty::{Crash, Fault, FaultyFs};

    #[test]
    fn missing_epochs_are_created_from_the_last_zxid_as_plain_decimal() {
        let fs = FaultyFs::new();
        let dir = Path::new("/d/version-2");
        let e = load_epochs(&fs, dir, Zxid::new(3, 7)).expect("load");
        assert_eq!(
            e,
            Epochs {
                current: 3,
                accepted: 3
            }
        );
        assert_eq!(fs.contents(&dir.join(CURRENT_EPOCH)).expect("file"), b"3");
    }

    #[test]
    fn a_stale_current_epoch_takes_the_tmp_value_or_stops() {
        let fs = FaultyFs::new();
        let dir = Path::new("/d/version-2");
        fs.put(&dir.join(CURRENT_EPOCH), b"2");
        fs.put(&dir.join(ACCEPTED_EPOCH), b"5");
        assert!(load_epochs(&fs, dir, Zxid::new(4, 1)).is_err());
        fs.put(&dir.join("currentEpoch.tmp"), b"4");
        assert_eq!(load_epochs(&fs, dir, Zxid::new(4, 1)).expect("tmp").current, 4);
        fs.put(&dir.join(ACCEPTED_EPOCH), b"3");
        assert!(
            load_epochs(&fs, dir, Zxid::new(4, 1)).is_err(),
            "accepted < current"
        );
    }

    #[test]
    fn an_epoch_write_is_atomic_under_crashes() {
        let fs = FaultyFs::new();
        let dir = Path::new("/d/version-2");
        write_epoch(&fs, dir, CURRENT_EPOCH, 1).expect("write");
        for point in ["write:currentEpoch", "fsync:currentEpoch", "rename:currentEpoch"] {
            fs.fail(point, 1, Fault::Io, false);
            assert!(write_epoch(&fs, dir, CURRENT_EPOCH, 2).is_err(), "{point}");
            fs.crash(Crash::PowerLoss);
            assert_eq!(
                read_epoch(&fs, dir, CURRENT_EPOCH).expect("read"),
                Some(1),
                "{point}"
            );
        }
    }
}
