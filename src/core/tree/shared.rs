//! The tree as the core and a snapshot writer share it. The core is the only writer; a snapshot thread walks
//! the tree concurrently, a few nodes at a time under a read lock, so a snapshot costs the core task nothing
//! but the moments it waits for such a slice to end (`FileTxnSnapLog.save` runs on its own thread over
//! ZooKeeper's concurrent node map in the same way). While the core applies a batch of txns it raises a
//! pause, and the walker takes no new slice until the batch is done, so a batch waits for at most one slice,
//! not one per txn.
//!
//! Only the core's own thread ever takes the write lock, and never while it holds a read guard, so a read
//! taken while the walker reads cannot deadlock behind a waiting writer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::DataTree;

#[derive(Debug)]
struct Inner {
    tree: RwLock<DataTree>,
    /// Batches of writes under way; the walker waits while this is not zero.
    paused: AtomicUsize,
}

/// A handle to the shared tree; clones share it.
#[derive(Debug, Clone)]
pub struct SharedTree(Arc<Inner>);

impl SharedTree {
    pub fn new(tree: DataTree) -> SharedTree {
        SharedTree(Arc::new(Inner {
            tree: RwLock::new(tree),
            paused: AtomicUsize::new(0),
        }))
    }

    /// Read access. A poisoned lock means a thread panicked while applying a txn, which stops the server;
    /// the tree is read as it is until then.
    pub fn read(&self) -> RwLockReadGuard<'_, DataTree> {
        self.0.tree.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Write access, for applying txns (the core only).
    pub fn write(&self) -> RwLockWriteGuard<'_, DataTree> {
        self.0.tree.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks concurrent walkers to stay out until the returned guard is dropped.
    pub fn pause(&self) -> Pause<'_> {
        self.0.paused.fetch_add(1, Ordering::AcqRel);
        Pause(&self.0.paused)
    }

    /// True while the core is applying a batch: a walker should not take a new slice now.
    pub fn paused(&self) -> bool {
        self.0.paused.load(Ordering::Acquire) > 0
    }

    /// Replaces the whole tree (recovery hands the core a loaded tree).
    pub fn replace(&self, tree: DataTree) {
        *self.write() = tree;
    }
}

/// A raised pause; see [`SharedTree::pause`].
#[derive(Debug)]
pub struct Pause<'a>(&'a AtomicUsize);

impl Drop for Pause<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_lasts_as_long_as_its_guard() {
        let shared = SharedTree::new(DataTree::new(false));
        assert!(!shared.paused());
        {
            let _outer = shared.pause();
            let inner = shared.pause();
            assert!(shared.paused());
            drop(inner);
            assert!(shared.paused());
        }
        assert!(!shared.paused());
    }
}
