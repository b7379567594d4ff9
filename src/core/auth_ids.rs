//! The ids a connection has authenticated as (`ServerCnxn.authInfo`): its `ip` id, then one or two ids per
//! auth packet. Apache ZooKeeper keeps them in a list with a linear duplicate check and no bound; here a hash
//! table finds a duplicate in O(1), the list keeps the order they were added in (which decides the order
//! whoAmI and an `auth` ACL list them, see `auth::java_set_order`), and the total is bounded.
//!
//! The bound: the ids' bytes may not pass `jute.maxbuffer`. Every id is listed in the connection's whoAmI
//! reply, and a client refuses a frame over its `jute.maxbuffer`, so ids past that could never all be shown to
//! their own client; and each ACL check of the connection's requests walks its ids, so their number decides
//! how long that client's requests hold the server task. An auth packet that would pass the bound is refused
//! the way ZooKeeper refuses any auth packet: AUTHFAILED, then the connection is closed.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use jute::records::data::Id;

/// Fixed-seed hashing, so that the core behaves the same from one run to the next.
type IdHasher = foldhash::fast::FixedState;

/// A connection's ids, in the order they were added, without duplicates.
#[derive(Debug, Default)]
pub struct AuthIds {
    list: Vec<Id>,
    /// Indexes into `list`, by the hash of the id.
    index: HashTable<usize>,
    hasher: IdHasher,
    /// Bytes of the schemes and ids in `list`.
    bytes: usize,
}

/// Adding an id would take the connection's ids past their bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyIds {
    /// The bytes the ids would have taken.
    pub bytes: usize,
}

/// The bytes an id counts for against the bound.
fn id_bytes(id: &Id) -> usize {
    id.scheme.len() + id.id_str().len()
}

impl AuthIds {
    /// The ids, oldest first.
    pub fn as_slice(&self) -> &[Id] {
        &self.list
    }

    /// True if `id` is among them.
    pub fn contains(&self, id: &Id) -> bool {
        let hash = self.hasher.hash_one(id);
        self.index.find(hash, |&i| self.list[i] == *id).is_some()
    }

    /// Adds those of `ids` not already present, all or none: none if they would take the total past
    /// `bytes_max`.
    pub fn add_all(&mut self, ids: Vec<Id>, bytes_max: usize) -> Result<(), TooManyIds> {
        let new: Vec<Id> = ids.into_iter().filter(|id| !self.contains(id)).collect();
        let bytes = self.bytes + new.iter().map(id_bytes).sum::<usize>();
        if bytes > bytes_max {
            return Err(TooManyIds { bytes });
        }
        for id in new {
            // An id listed twice in `ids` itself is added once.
            if self.contains(&id) {
                continue;
            }
            let hash = self.hasher.hash_one(&id);
            let at = self.list.len();
            self.bytes += id_bytes(&id);
            self.list.push(id);
            let (list, hasher) = (&self.list, &self.hasher);
            self.index.insert_unique(hash, at, |&i| hasher.hash_one(&list[i]));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_order_and_appear_once() {
        let mut ids = AuthIds::default();
        ids.add_all(vec![Id::new("ip", "127.0.0.1")], 1000).expect("fits");
        ids.add_all(vec![Id::new("super", ""), Id::new("digest", "a:x")], 1000)
            .expect("fits");
        ids.add_all(vec![Id::new("digest", "a:x"), Id::new("digest", "b:y")], 1000)
            .expect("fits");
        ids.add_all(vec![Id::new("digest", "c:z"), Id::new("digest", "c:z")], 1000)
            .expect("fits");
        let listed: Vec<String> = ids
            .as_slice()
            .iter()
            .map(|i| format!("{}:{}", i.scheme, i.id_str()))
            .collect();
        assert_eq!(
            listed,
            ["ip:127.0.0.1", "super:", "digest:a:x", "digest:b:y", "digest:c:z"]
        );
        assert!(ids.contains(&Id::new("digest", "b:y")));
        assert!(!ids.contains(&Id::new("digest", "b:z")));
    }

    #[test]
    fn ids_past_the_bound_are_refused_whole_and_duplicates_cost_nothing() {
        let mut ids = AuthIds::default();
        // 2 + 9 bytes.
        ids.add_all(vec![Id::new("ip", "127.0.0.1")], 20).expect("fits");
        // 6 + 3: 20 exactly.
        ids.add_all(vec![Id::new("digest", "a:x")], 20).expect("fits");
        assert_eq!(
            ids.add_all(vec![Id::new("digest", "a:x"), Id::new("x", "")], 20),
            Err(TooManyIds { bytes: 21 })
        );
        assert_eq!(ids.as_slice().len(), 2, "nothing of a refused packet is kept");
        ids.add_all(vec![Id::new("digest", "a:x")], 20)
            .expect("a duplicate adds no bytes");
    }
}
