//! The tree digest (`DigestCalculator`, `NodeHashMapImpl`, `AdHash`): each node hashes to the CRC-32 of its path
//! (the root as `""`), its data and a 60-byte block of its persisted Stat in the order czxid, mzxid, pzxid,
//! ctime, mtime, version, cversion, aversion, ephemeralOwner; nodes under `/zookeeper/` hash to 0. The tree
//! digest is the wrapping 64-bit sum of the node digests, so each change updates it in O(1): subtract the old
//! node digest, add the new. Apache ZooKeeper logs it after each txn (TxnDigest) and in snapshots, and compares.

use jute::records::data::StatPersisted;

use super::Node;

/// The digest version ZooKeeper 3.6+ computes (`DigestCalculator.DIGEST_VERSION`).
pub const DIGEST_VERSION: i32 = 2;

/// The length of the Stat block hashed after a node's path and data.
const STAT_BLOCK_LEN: usize = 60;

/// A node whose path, data and Stat block fit in this many bytes is hashed in one piece: crc32fast folds
/// inputs of 128 bytes or more with carry-less multiplication but takes each shorter piece a table lookup at
/// a time, and every write hashes two or three nodes.
const ONE_PIECE_MAX: usize = 512;

/// The digest of one node (`DigestCalculator.calculateDigest`).
pub fn node_digest(node: &Node) -> u64 {
    let path = node.path_bytes();
    if path.starts_with(b"/zookeeper/") {
        return 0;
    }
    // The node keeps its path and data side by side, which is the order they are hashed in; the root's path
    // is hashed as "".
    let head = node.path_and_data();
    let head = if path == b"/" { &head[1..] } else { head };
    let block = stat_block(&node.stat);
    let mut crc = crc32fast::Hasher::new();
    let len = head.len() + STAT_BLOCK_LEN;
    if len <= ONE_PIECE_MAX {
        let mut buf = [0u8; ONE_PIECE_MAX];
        buf[..head.len()].copy_from_slice(head);
        buf[head.len()..len].copy_from_slice(&block);
        crc.update(&buf[..len]);
    } else {
        crc.update(head);
        crc.update(&block);
    }
    u64::from(crc.finalize())
}

/// The CRC-32 of the part of a node hashed before its Stat: its path (the root as `""`) and its data. A
/// pending change keeps it, so the digest of the node it leaves costs only the Stat block ([`digest_from_head`]).
pub fn head_crc(path: &str, data: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    if path != "/" {
        crc.update(path.as_bytes());
    }
    crc.update(data);
    crc.finalize()
}

/// [`head_crc`] of a node in the tree.
pub fn node_head_crc(node: &Node) -> u32 {
    let head = node.path_and_data();
    let head = if node.path_bytes() == b"/" {
        &head[1..]
    } else {
        head
    };
    crc32fast::hash(head)
}

/// The digest of the node at `path` whose path and data hash to `head` and whose Stat is `stat`: what
/// [`node_digest`] gives for that node.
pub fn digest_from_head(path: &str, head: u32, stat: &StatPersisted) -> u64 {
    if path.starts_with("/zookeeper/") {
        return 0;
    }
    let mut crc = crc32fast::Hasher::new_with_initial(head);
    crc.update(&stat_block(stat));
    u64::from(crc.finalize())
}

/// The persisted Stat as the digest hashes it: czxid, mzxid, pzxid, ctime, mtime, version, cversion, aversion,
/// ephemeralOwner, big-endian.
fn stat_block(s: &StatPersisted) -> [u8; STAT_BLOCK_LEN] {
    let mut block = [0u8; STAT_BLOCK_LEN];
    block[0..8].copy_from_slice(&s.czxid.to_be_bytes());
    block[8..16].copy_from_slice(&s.mzxid.to_be_bytes());
    block[16..24].copy_from_slice(&s.pzxid.to_be_bytes());
    block[24..32].copy_from_slice(&s.ctime.to_be_bytes());
    block[32..40].copy_from_slice(&s.mtime.to_be_bytes());
    block[40..44].copy_from_slice(&s.version.to_be_bytes());
    block[44..48].copy_from_slice(&s.cversion.to_be_bytes());
    block[48..52].copy_from_slice(&s.aversion.to_be_bytes());
    block[52..60].copy_from_slice(&s.ephemeral_owner.to_be_bytes());
    block
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
        let at = |p: &str| node_digest(&Node::new(p, None, 0, StatPersisted::default()));
        assert_eq!(at("/zookeeper/quota"), 0);
        assert_ne!(at("/zookeeper"), 0);
        // The root hashes as "": the CRC-32 of the Stat block alone.
        let mut crc = crc32fast::Hasher::new();
        crc.update(&[0u8; STAT_BLOCK_LEN]);
        assert_eq!(at("/"), u64::from(crc.finalize()));
    }

    #[test]
    fn a_digest_from_the_head_crc_is_the_node_digest() {
        let stat = StatPersisted {
            czxid: 3,
            mzxid: 4,
            pzxid: 5,
            ctime: 6,
            mtime: 7,
            version: 8,
            cversion: 9,
            aversion: 10,
            ephemeral_owner: 11,
        };
        for (path, data) in [
            ("/", &b""[..]),
            ("/a", b"x"),
            ("/zookeeper", b""),
            ("/zookeeper/quota", b"q"),
            ("/big", &[9u8; 2000][..]),
        ] {
            let node = Node::new(path, Some(data), 0, stat);
            assert_eq!(node_head_crc(&node), head_crc(path, data), "{path}");
            assert_eq!(
                digest_from_head(path, head_crc(path, data), &stat),
                node_digest(&node),
                "{path}"
            );
        }
    }

    #[test]
    fn a_node_hashes_the_same_in_one_piece_or_in_three() {
        let path = "/app/node";
        for data_len in [
            0,
            1,
            100,
            ONE_PIECE_MAX - STAT_BLOCK_LEN - path.len(),
            ONE_PIECE_MAX,
            4096,
        ] {
            let data = vec![7u8; data_len];
            let node = Node::new(
                path,
                Some(&data),
                0,
                StatPersisted {
                    czxid: 3,
                    mzxid: 4,
                    pzxid: 5,
                    ctime: 6,
                    mtime: 7,
                    version: 8,
                    cversion: 9,
                    aversion: 10,
                    ephemeral_owner: 11,
                },
            );
            let mut crc = crc32fast::Hasher::new();
            crc.update(path.as_bytes());
            crc.update(&vec![7u8; data_len]);
            crc.update(&stat_block(&node.stat));
            assert_eq!(
                node_digest(&node),
                u64::from(crc.finalize()),
                "data length {data_len}"
            );
        }
    }
}
