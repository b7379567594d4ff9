//! Where `Effect::Persist` entries go. The runtime appends each entry, then calls `sync` once for the batch
//! (group commit) and only then tells the core `persisted(zxid)`, which is what releases the replies: the
//! order `FileTxnLog.append` / `commit` / `SyncRequestProcessor` gives in Apache ZooKeeper. The durable
//! version-2 log implements the same trait.

use std::io;

use bytes::Bytes;

use crate::types::Zxid;

/// An append-only log of txn entries.
pub trait TxnLog: Send + 'static {
    /// Appends one entry (TxnHeader, body and digest, as the core encoded them). Zxids strictly increase.
    fn append(&mut self, zxid: Zxid, entry: Bytes) -> io::Result<()>;
    /// Makes every appended entry durable; returns the last zxid that now is.
    fn sync(&mut self) -> io::Result<Option<Zxid>>;
    /// Starts a new log file with the next entry (before a snapshot, `FileTxnLog.rollLog`).
    fn roll(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// True if `sync` is an fsync, whose time is the `fsynctime` metric.
    fn fsyncs(&self) -> bool {
        true
    }
}

/// The durable version-2 log.
impl TxnLog for crate::storage::txnlog::TxnLogWriter {
    fn append(&mut self, zxid: Zxid, entry: Bytes) -> io::Result<()> {
        crate::storage::txnlog::TxnLogWriter::append(self, zxid, &entry).map_err(io::Error::other)
    }

    fn sync(&mut self) -> io::Result<Option<Zxid>> {
        crate::storage::txnlog::TxnLogWriter::sync(self).map_err(io::Error::other)
    }

    fn roll(&mut self) -> io::Result<()> {
        crate::storage::txnlog::TxnLogWriter::roll(self).map_err(io::Error::other)
    }
}

/// A log kept in memory: nothing survives a restart. It holds every entry (count and bytes are reported), so
/// memory grows with the number of writes until the durable log replaces it.
#[derive(Debug, Default)]
pub struct MemTxnLog {
    entries: Vec<(Zxid, Bytes)>,
    bytes: usize,
    synced: usize,
}

impl MemTxnLog {
    /// Entries appended so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if nothing was appended.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of entries held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[(Zxid, Bytes)] {
        &self.entries
    }
}

impl TxnLog for MemTxnLog {
    fn fsyncs(&self) -> bool {
        false
    }

    fn append(&mut self, zxid: Zxid, entry: Bytes) -> io::Result<()> {
        if let Some((last, _)) = self.entries.last() {
            assert!(zxid > *last, "txn log append out of order: {zxid} after {last}");
        }
        self.bytes += entry.len();
        self.entries.push((zxid, entry));
        Ok(())
    }

    fn sync(&mut self) -> io::Result<Option<Zxid>> {
        self.synced = self.entries.len();
        Ok(self.entries.last().map(|(zxid, _)| *zxid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_reports_the_last_appended_zxid() {
        let mut log = MemTxnLog::default();
        assert_eq!(log.sync().expect("sync"), None);
        log.append(Zxid(1), Bytes::from_static(b"ab")).expect("append");
        log.append(Zxid(2), Bytes::from_static(b"cde")).expect("append");
        assert_eq!(log.sync().expect("sync"), Some(Zxid(2)));
        assert_eq!((log.len(), log.bytes()), (2, 5));
    }

    #[test]
    #[should_panic(expected = "out of order")]
    fn appending_an_older_zxid_is_a_broken_invariant() {
        let mut log = MemTxnLog::default();
        log.append(Zxid(5), Bytes::new()).expect("append");
        let _ = log.append(Zxid(5), Bytes::new());
    }
}
