//! The reference-counted ACL cache (`ReferenceCountedACLCache`): each distinct ACL list is stored once and
//! nodes hold a `long` reference to it. Reference -1 stands for OPEN_ACL_UNSAFE and is never in the table,
//! which is how Apache ZooKeeper writes it in snapshots. Lists are shared (`Arc`), so that the outstanding
//! changes of prepared writes can hold a node's list without copying it.

use foldhash::HashMap;
use std::sync::Arc;

use jute::records::data::Acl;

/// One ACL list, shared between the cache and whoever holds it.
pub type SharedAcl = Arc<[Acl]>;

/// The reference that means OPEN_ACL_UNSAFE.
pub const OPEN_UNSAFE_REF: i64 = -1;

#[derive(Debug, Default)]
pub struct AclCache {
    lists: HashMap<i64, (SharedAcl, u64)>,
    refs: HashMap<SharedAcl, i64>,
    next_ref: i64,
    open_unsafe: SharedAcl,
    /// What an unknown reference reads as.
    empty: SharedAcl,
}

impl AclCache {
    pub fn new() -> AclCache {
        AclCache {
            open_unsafe: Acl::open_unsafe().into(),
            ..Default::default()
        }
    }

    /// The reference for `acl`, adding one use of it.
    pub fn acquire(&mut self, acl: &[Acl]) -> i64 {
        if acl == &*self.open_unsafe {
            return OPEN_UNSAFE_REF;
        }
        if let Some(&r) = self.refs.get(acl) {
            if let Some(entry) = self.lists.get_mut(&r) {
                entry.1 += 1;
            }
            return r;
        }
        self.next_ref += 1;
        let r = self.next_ref;
        let list: SharedAcl = acl.into();
        self.refs.insert(Arc::clone(&list), r);
        self.lists.insert(r, (list, 1));
        r
    }

    /// The stored list equal to `acl`, if there is one: sharing it saves a copy.
    pub fn find(&self, acl: &[Acl]) -> Option<SharedAcl> {
        if acl == &*self.open_unsafe {
            return Some(Arc::clone(&self.open_unsafe));
        }
        let r = self.refs.get(acl)?;
        self.lists.get(r).map(|(list, _)| Arc::clone(list))
    }

    /// Drops one use of `r`; the list is forgotten when nobody uses it.
    pub fn release(&mut self, r: i64) {
        if r == OPEN_UNSAFE_REF {
            return;
        }
        let gone = match self.lists.get_mut(&r) {
            Some(entry) => {
                entry.1 = entry.1.saturating_sub(1);
                entry.1 == 0
            }
            None => false,
        };
        if gone {
            if let Some((list, _)) = self.lists.remove(&r) {
                self.refs.remove(&list);
            }
        }
    }

    /// The list behind `r` (an unknown reference reads as empty, which ZooKeeper treats as "no ACL").
    pub fn get(&self, r: i64) -> &[Acl] {
        self.shared(r)
    }

    /// The list behind `r`, shared.
    pub fn shared(&self, r: i64) -> &SharedAcl {
        if r == OPEN_UNSAFE_REF {
            return &self.open_unsafe;
        }
        self.lists.get(&r).map_or(&self.empty, |(list, _)| list)
    }

    /// Puts `list` under reference `r`, as read from a snapshot, with no users yet
    /// (`ReferenceCountedACLCache.deserialize`); new references continue after the largest loaded one.
    pub fn load(&mut self, r: i64, list: Vec<Acl>) {
        self.next_ref = self.next_ref.max(r);
        let list: SharedAcl = list.into();
        self.refs.insert(Arc::clone(&list), r);
        self.lists.insert(r, (list, 0));
    }

    /// Counts one more user of `r` (a node loaded from a snapshot); unknown references are ignored, as
    /// `addUsage` does.
    pub fn add_usage(&mut self, r: i64) {
        if let Some(entry) = self.lists.get_mut(&r) {
            entry.1 += 1;
        }
    }

    /// Forgets lists nobody uses (`purgeUnused`, after loading a snapshot).
    pub fn purge_unused(&mut self) {
        let unused: Vec<i64> = self
            .lists
            .iter()
            .filter(|(_, (_, n))| *n == 0)
            .map(|(r, _)| *r)
            .collect();
        for r in unused {
            if let Some((list, _)) = self.lists.remove(&r) {
                if self.refs.get(&list) == Some(&r) {
                    self.refs.remove(&list);
                }
            }
        }
    }

    /// Every stored list with its reference, in no particular order.
    pub fn lists(&self) -> impl Iterator<Item = (i64, &[Acl])> + '_ {
        self.lists.iter().map(|(r, (list, _))| (*r, &**list))
    }

    /// Whether `r` is OPEN_ACL_UNSAFE or a stored list.
    pub fn contains(&self, r: i64) -> bool {
        r == OPEN_UNSAFE_REF || self.lists.contains_key(&r)
    }

    /// The number of distinct lists stored.
    pub fn len(&self) -> usize {
        self.lists.len()
    }

    /// True when no list other than OPEN_ACL_UNSAFE is in use.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jute::records::data::Id;

    #[test]
    fn open_unsafe_is_minus_one_and_lists_are_shared_and_released() {
        let mut cache = AclCache::new();
        assert_eq!(cache.acquire(&Acl::open_unsafe()), OPEN_UNSAFE_REF);
        let read = Acl::read_unsafe();
        let a = cache.acquire(&read);
        let b = cache.acquire(&read);
        assert_eq!(a, b);
        assert_eq!(a, 1);
        assert_eq!(cache.get(a), read.as_slice());
        cache.release(a);
        assert_eq!(cache.len(), 1);
        cache.release(b);
        assert!(cache.is_empty());
        let other = vec![Acl {
            perms: 1,
            id: Id::new("ip", "127.0.0.1"),
        }];
        assert_eq!(cache.acquire(&other), 2);
    }
}
