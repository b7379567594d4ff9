//! Outstanding changes (`PrepRequestProcessor.outstandingChanges`): what prepared but not yet applied writes will
//! do to the nodes they touch, so that each write is validated against the tree as the earlier writes will
//! leave it. A record is dropped once the txn that made it (or a later one) has been applied.
//!
//! Every write adds records and every applied txn drops them, so this sits on the hot path of each write: a
//! path is stored once (`Arc<str>`, shared by the map and the queue, and reused while the path stays pending)
//! and ACL lists are shared with the tree rather than copied.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use jute::records::data::StatPersisted;

use super::tree::{DataTree, PathHasher, SharedAcl};

/// A node as pending writes will leave it; `None` in the map means "deleted".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRecord {
    pub stat: StatPersisted,
    pub child_count: i32,
    pub acl: SharedAcl,
    pub data_len: usize,
}

#[derive(Debug, Default)]
pub struct Pending {
    by_path: HashMap<Arc<str>, (i64, Option<ChangeRecord>), PathHasher>,
    order: VecDeque<(i64, Arc<str>)>,
    /// Records added so far (`outstanding_changes_queued`).
    pub(super) queued: u64,
    /// Records dropped after their txn was applied (`outstanding_changes_removed`); those a failed multi
    /// rolls back are not counted, as in ZooKeeper.
    pub(super) removed: u64,
}

/// What the map held for some paths before a multi started, to undo it if an op fails.
pub type Saved = Vec<(Arc<str>, Option<(i64, Option<ChangeRecord>)>)>;

impl Pending {
    /// The node at `path` as pending writes will leave it, or the committed node.
    pub fn record(&self, tree: &DataTree, path: &str) -> Option<ChangeRecord> {
        if let Some((_, entry)) = self.by_path.get(path) {
            return entry.clone();
        }
        let node = tree.get(path)?;
        Some(ChangeRecord {
            stat: node.stat,
            child_count: node.children.len() as i32,
            acl: tree.shared_acl_of(node),
            data_len: node.data.as_ref().map_or(0, |d| d.len()),
        })
    }

    /// Whether a node exists at `path` once pending writes are applied.
    pub fn exists(&self, tree: &DataTree, path: &str) -> bool {
        match self.by_path.get(path) {
            Some((_, entry)) => entry.is_some(),
            None => tree.get(path).is_some(),
        }
    }

    /// Records what a prepared write will do to `path` (`None`: delete it).
    pub fn add(&mut self, zxid: i64, path: &str, record: Option<ChangeRecord>, saved: Option<&mut Saved>) {
        let (key, previous) = match self.by_path.get_key_value(path) {
            Some((key, entry)) => (Arc::clone(key), Some(entry)),
            None => (Arc::from(path), None),
        };
        if let Some(saved) = saved {
            if !saved.iter().any(|(p, _)| **p == *path) {
                saved.push((Arc::clone(&key), previous.cloned()));
            }
        }
        self.order.push_back((zxid, Arc::clone(&key)));
        self.by_path.insert(key, (zxid, record));
        self.queued += 1;
    }

    /// Undoes the records a failed multi added (`rollbackPendingChanges`).
    pub fn rollback(&mut self, zxid: i64, saved: Saved) {
        while self.order.back().is_some_and(|(z, _)| *z == zxid) {
            self.order.pop_back();
        }
        for (path, previous) in saved {
            match previous {
                Some(entry) => {
                    self.by_path.insert(path, entry);
                }
                None => {
                    self.by_path.remove(&*path);
                }
            }
        }
    }

    /// Forgets records of txns up to `zxid`, now applied to the tree.
    pub fn applied(&mut self, zxid: i64) {
        while self.order.front().is_some_and(|(z, _)| *z <= zxid) {
            let Some((z, path)) = self.order.pop_front() else {
                break;
            };
            self.removed += 1;
            if let Entry::Occupied(entry) = self.by_path.entry(path) {
                if entry.get().0 <= z {
                    entry.remove();
                }
            }
        }
    }

    /// The ephemerals of `session` as pending writes will leave them, in path order.
    pub fn ephemerals_of(&self, tree: &DataTree, session: i64) -> Vec<String> {
        let mut paths: std::collections::BTreeSet<String> = tree.ephemerals_of(session).cloned().collect();
        for (p, (_, record)) in &self.by_path {
            match record {
                None => {
                    paths.remove(&**p);
                }
                Some(r) if r.stat.ephemeral_owner == session && session != 0 => {
                    paths.insert(p.to_string());
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
            self.add(zxid, parent_path, Some(parent), None);
        }
        self.add(zxid, path, None, None);
    }
}
