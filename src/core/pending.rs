//! Outstanding changes (`PrepRequestProcessor.outstandingChanges`): what prepared but not yet applied writes will
//! do to the nodes they touch, so that each write is validated against the tree as the earlier writes will
//! leave it. A record is dropped once the txn that made it (or a later one) has been applied.
//!
//! Every write adds records and every applied txn drops them, so this sits on the hot path of each write: a
//! path is stored once (`Arc<str>`, shared by the table and the queue, and reused while the path stays
//! pending) and hashed once per record, the queue keeping the hash for the removal; ACL lists are shared with
//! the tree rather than copied.
//!
//! The changes also carry the tree digest as they will leave it (`precalculatedDigest`): each record knows the
//! CRC of its path and data, so the digest of the node it leaves costs one Stat block, and the digest after
//! the newest record is the txn's `TxnDigest`, which a follower checks after applying the txn.

use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::Arc;

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;
use jute::records::data::StatPersisted;

use super::tree::{digest, DataTree, PathHasher, SharedAcl};

/// A node as pending writes will leave it; `None` in the map means "deleted".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub stat: StatPersisted,
    pub child_count: i32,
    pub acl: SharedAcl,
    pub data_len: usize,
    /// `digest::head_crc` of the path and the data this record leaves; `None` while the data is the
    /// committed node's.
    pub head_crc: Option<u32>,
}

/// The latest change to one path: the zxid of the txn that made it and the node it leaves (`None`: deleted).
#[derive(Debug)]
struct Latest {
    path: Arc<str>,
    zxid: i64,
    record: Option<ChangeRecord>,
}

/// One added record, in zxid order: the path and its hash, to find the path's latest change when the txn is
/// applied.
#[derive(Debug)]
struct Queued {
    zxid: i64,
    hash: u64,
    path: Arc<str>,
}

#[derive(Debug, Default)]
pub struct Pending {
    by_path: HashTable<Latest>,
    hasher: PathHasher,
    order: VecDeque<Queued>,
    /// Records added so far (`outstanding_changes_queued`).
    pub(super) queued: u64,
    /// Records dropped after their txn was applied (`outstanding_changes_removed`); those a failed multi
    /// rolls back are not counted, as in ZooKeeper.
    pub(super) removed: u64,
    /// The tree digest once every queued record is applied; meaningful while `order` is not empty.
    digest: u64,
}

/// What the map held for some paths before a multi started, to undo it if an op fails.
pub type Saved = Vec<(Arc<str>, Option<(i64, Option<ChangeRecord>)>)>;

impl Pending {
    fn hash(&self, path: &str) -> u64 {
        self.hasher.hash_one(path)
    }

    fn latest(&self, path: &str) -> Option<&Latest> {
        self.by_path.find(self.hash(path), |l| *l.path == *path)
    }

    /// The node at `path` as pending writes will leave it, or the committed node.
    pub fn record(&self, tree: &DataTree, path: &str) -> Option<ChangeRecord> {
        if let Some(latest) = self.latest(path) {
            return latest.record.clone();
        }
        let node = tree.get(path)?;
        Some(ChangeRecord {
            stat: node.stat,
            child_count: tree.child_count(node) as i32,
            acl: tree.shared_acl_of(node),
            data_len: node.data_len(),
            head_crc: None,
        })
    }

    /// The tree digest once every pending write is applied (`getCurrentTreeDigest`).
    pub fn tree_digest(&self, tree: &DataTree) -> u64 {
        if self.order.is_empty() {
            tree.digest()
        } else {
            self.digest
        }
    }

    /// The digest of the node `record` leaves at `path`.
    fn record_digest(tree: &DataTree, path: &str, record: &ChangeRecord) -> u64 {
        let head = match record.head_crc {
            Some(head) => head,
            None => match tree.get(path) {
                Some(node) => digest::node_head_crc(node),
                None => digest::head_crc(path, &[]),
            },
        };
        digest::digest_from_head(path, head, &record.stat)
    }

    /// The digest of the node at `path` as pending writes leave it (0: none).
    fn current_node_digest(&self, tree: &DataTree, path: &str) -> u64 {
        match self.latest(path) {
            Some(latest) => latest
                .record
                .as_ref()
                .map_or(0, |r| Self::record_digest(tree, path, r)),
            None => tree.get(path).map_or(0, digest::node_digest),
        }
    }

    /// Whether a node exists at `path` once pending writes are applied.
    pub fn exists(&self, tree: &DataTree, path: &str) -> bool {
        match self.latest(path) {
            Some(latest) => latest.record.is_some(),
            None => tree.get(path).is_some(),
        }
    }

    /// Records what a prepared write will do to `path` (`None`: delete it), and what that does to the tree
    /// digest.
    pub fn add(
        &mut self,
        tree: &DataTree,
        zxid: i64,
        path: &str,
        record: Option<ChangeRecord>,
        saved: Option<&mut Saved>,
    ) {
        let before = self.current_node_digest(tree, path);
        let after = record.as_ref().map_or(0, |r| Self::record_digest(tree, path, r));
        self.digest = self.tree_digest(tree).wrapping_sub(before).wrapping_add(after);
        let hash = self.hash(path);
        let hasher = &self.hasher;
        let entry = self
            .by_path
            .entry(hash, |l| *l.path == *path, |l| hasher.hash_one(&*l.path));
        let (key, previous) = match entry {
            Entry::Occupied(mut e) => {
                let latest = e.get_mut();
                let previous = (latest.zxid, std::mem::replace(&mut latest.record, record));
                latest.zxid = zxid;
                (Arc::clone(&latest.path), Some(previous))
            }
            Entry::Vacant(e) => {
                let path: Arc<str> = Arc::from(path);
                let latest = Latest {
                    path: Arc::clone(&path),
                    zxid,
                    record,
                };
                e.insert(latest);
                (path, None)
            }
        };
        if let Some(saved) = saved {
            if !saved.iter().any(|(p, _)| **p == *key) {
                saved.push((Arc::clone(&key), previous));
            }
        }
        self.order.push_back(Queued {
            zxid,
            hash,
            path: key,
        });
        self.queued += 1;
    }

    /// Where the digest stands before a multi, for [`Pending::rollback`].
    pub fn digest_mark(&self) -> u64 {
        self.digest
    }

    /// Undoes the records a failed multi added (`rollbackPendingChanges`), and their effect on the digest
    /// (`mark`, from [`Pending::digest_mark`] before the multi).
    pub fn rollback(&mut self, zxid: i64, saved: Saved, mark: u64) {
        self.digest = mark;
        while self.order.back().is_some_and(|q| q.zxid == zxid) {
            self.order.pop_back();
        }
        for (path, previous) in saved {
            let hash = self.hash(&path);
            let hasher = &self.hasher;
            let entry = self
                .by_path
                .entry(hash, |l| *l.path == *path, |l| hasher.hash_one(&*l.path));
            match (entry, previous) {
                (Entry::Occupied(mut e), Some((zxid, record))) => {
                    let latest = e.get_mut();
                    latest.zxid = zxid;
                    latest.record = record;
                }
                (Entry::Vacant(e), Some((zxid, record))) => {
                    e.insert(Latest { path, zxid, record });
                }
                (Entry::Occupied(e), None) => {
                    e.remove();
                }
                (Entry::Vacant(_), None) => {}
            }
        }
    }

    /// Forgets records of txns up to `zxid`, now applied to the tree.
    pub fn applied(&mut self, zxid: i64) {
        while self.order.front().is_some_and(|q| q.zxid <= zxid) {
            let Some(q) = self.order.pop_front() else {
                break;
            };
            self.removed += 1;
            if let Ok(e) = self.by_path.find_entry(q.hash, |l| *l.path == *q.path) {
                if e.get().zxid <= q.zxid {
                    e.remove();
                }
            }
        }
    }

    /// The ephemerals of `session` as pending writes will leave them, in path order.
    pub fn ephemerals_of(&self, tree: &DataTree, session: i64) -> Vec<String> {
        let mut paths: std::collections::BTreeSet<String> = tree.ephemerals_of(session).cloned().collect();
        for Latest { path, record, .. } in &self.by_path {
            match record {
                None => {
                    paths.remove(&**path);
                }
                Some(r) if r.stat.ephemeral_owner == session && session != 0 => {
                    paths.insert(path.to_string());
                }
                Some(_) => {}
            }
        }
        paths.into_iter().collect()
    }

    /// Records the deletion of an ephemeral by a closeSession and its effect on the parent.
    pub fn delete_for_close(&mut self, tree: &DataTree, zxid: i64, path: &str) {
        let parent_path = super::tree::path::parent(path);
        if let Some(mut parent) = self.record(tree, parent_path) {
            parent.child_count -= 1;
            parent.stat.pzxid = zxid;
            self.add(tree, zxid, parent_path, Some(parent), None);
        }
        self.add(tree, zxid, path, None, None);
    }
}
