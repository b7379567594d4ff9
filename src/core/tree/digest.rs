//! The tree digest (`DigestCalculator`, `NodeHashMapImpl`, `AdHash`): each node hashes to the CRC-32 of its path
//! (the root as `""`), its data and a 60-byte block of its persisted Stat in the order czxid, mzxid, pzxid,
//! ctime, mtime, version, cversion, aversion, ephemeralOwner; nodes under `/zookeeper/` hash to 0. The tree
//! digest is the wrapping 64-bit sum of the node digests, so each change updates it in O(1): subtract the old
//! node digest, add the new. Apache ZooKeeper logs it after each txn (TxnDigest) and in snapshots, and compares.

use super::Node;

/// The digest version ZooKeeper 3.6+ computes (`DigestCalculator.DIGEST_VERSION`).
pub const DIGEST_VERSION: i32 = 2;

/// The digest of one node at `path` (`DigestCalculator.calculateDigest`).
pub fn node_digest(path: &str, node: &Node) -> u64 {
    if path.starts_with("/zookeeper/") {
        return 0;
    }
    let path = if path == "/" { "" } else { path };
    let s = &node.stat;
    let mut block = [0u8; 60];
    block[0..8].copy_from_slice(&s.czxid.to_be_bytes());
    block[8..16].copy_from_slice(&s.mzxid.to_be_bytes());
    block[16..24].copy_from_slice(&s.pzxid.to_be_bytes());
    block[24..32].copy_from_slice(&s.ctime.to_be_bytes());
    block[32..40].copy_from_slice(&s.mtime.to_be_bytes());
    block[40..44].copy_from_slice(&s.version.to_be_bytes());
    block[44..48].copy_from_slice(&s.cversion.to_be_bytes());
    block[48..52].copy_from_slice(&s.aversion.to_be_bytes());
    block[52..60].copy_from_slice(&s.ephemeral_owner.to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(path.as_bytes());
    if let Some(data) = &node.data {
        crc.update(data);
    }
    crc.update(&block);
    u64::from(crc.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::tree::DataTree;

    #[test]
    fn a_fresh_tree_has_the_digest_apache_zookeeper_logs_for_it() {
        // The TxnDigest of the first createSession in jute/tests/golden/datadir/log.1 (the tree is untouched).
        assert_eq!(DataTree::new(false).digest(), 1_371_985_504);
    }

    #[test]
    fn nodes_under_slash_zookeeper_do_not_count_but_slash_zookeeper_does() {
        let node = Node::default();
        assert_eq!(node_digest("/zookeeper/quota", &node), 0);
        assert_ne!(node_digest("/zookeeper", &node), 0);
        assert_eq!(node_digest("/", &node), node_digest("", &node));
    }
}
