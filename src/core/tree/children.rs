//! A node's child set, kept so that it lists its children in the order Apache ZooKeeper's does. ZooKeeper keeps
//! a node's children in a `java.util.HashSet<String>` made with `new HashSet<>(8)` (`DataNode.addChild`);
//! getChildren copies it into a list in its iteration order, and a snapshot writes children in that order too
//! (`DataTree.serializeNode`), so clients, their tests and snapshot readers see that order, the same for the
//! same history. The order is that of `java.util.HashMap`:
//!
//! - a name's hash is `String.hashCode` (over UTF-16 code units) spread as `h ^ (h >>> 16)`; its bucket is the
//!   hash's low bits for the table's capacity;
//! - the table starts at 8 buckets with the first child and doubles once the set holds more than 3/4 of its
//!   capacity, or when one bucket reaches 9 names while the table is under 64 buckets (`treeifyBin`); it never
//!   shrinks, not even when the set empties;
//! - buckets are listed in index order, each in the order its names were added; doubling splits each bucket
//!   into two keeping that order.
//!
//! A snapshot load adds children in the order the snapshot lists them, into new sets: the order after a restart
//! is the one ZooKeeper's own restart gives. Not modelled: a bucket of 9 or more names in a table of 64 or more,
//! which Java turns into a red-black tree with an order of its own (only names whose hashes collide in their low
//! bits get there).
//!
//! Memory: the table holds 4 bytes per bucket (1.33 to 2.67 per child), and each node carries the links of its
//! bucket's doubly linked ring (8 bytes), so that removing a child takes constant time whatever its bucket holds.

use super::store::NodeId;

/// No node: an empty bucket, or the links of a node in no set.
pub(super) const NONE: NodeId = u32::MAX;

/// `new HashSet<>(8)`: the table's capacity at the first child, as a power of two.
const INITIAL_CAPACITY_LOG2: u8 = 3;
/// `HashMap.MAXIMUM_CAPACITY`.
const MAXIMUM_CAPACITY_LOG2: u8 = 30;
/// `HashMap.TREEIFY_THRESHOLD`: a bucket reaching this many names grows a small table.
const TREEIFY_THRESHOLD: usize = 8;
/// `HashMap.MIN_TREEIFY_CAPACITY`.
const MIN_TREEIFY_CAPACITY: usize = 64;

/// The bucket links of the nodes and the hashes of their names, as the store holds them.
pub(super) trait Ring {
    fn next(&self, id: NodeId) -> NodeId;
    fn prev(&self, id: NodeId) -> NodeId;
    /// The spread `String.hashCode` of the node's name (its last path segment).
    fn hash(&self, id: NodeId) -> u32;
}

/// [`Ring`], changed.
pub(super) trait Links: Ring {
    fn set_links(&mut self, id: NodeId, prev: NodeId, next: NodeId);
    fn set_next(&mut self, id: NodeId, next: NodeId);
    fn set_prev(&mut self, id: NodeId, prev: NodeId);
}

/// `String.hashCode` of `name` (over its UTF-16 code units), spread as `HashMap.hash` spreads it.
pub(super) fn java_hash(name: &str) -> u32 {
    let h = name
        .encode_utf16()
        .fold(0u32, |h, unit| h.wrapping_mul(31).wrapping_add(u32::from(unit)));
    h ^ (h >> 16)
}

/// One node's child set.
#[derive(Debug, Default)]
pub(super) struct ChildSet {
    /// The first node of each bucket's ring, or [`NONE`]; no table while the set is empty (its capacity is
    /// kept in `capacity_log2`, as Java keeps the table).
    heads: Box<[NodeId]>,
    len: u32,
    /// The capacity of the Java table; 0 before the first child.
    capacity_log2: u8,
}

impl ChildSet {
    pub(super) fn len(&self) -> usize {
        self.len as usize
    }

    fn capacity(&self) -> usize {
        1 << self.capacity_log2
    }

    /// Adds `id`, which is in no set (`HashMap.putVal`).
    pub(super) fn insert(&mut self, links: &mut impl Links, id: NodeId) {
        debug_assert_eq!(links.next(id), NONE, "node {id} is in a set already");
        if self.capacity_log2 == 0 {
            self.capacity_log2 = INITIAL_CAPACITY_LOG2;
        }
        if self.heads.is_empty() {
            self.heads = vec![NONE; self.capacity()].into_boxed_slice();
        }
        let bucket = links.hash(id) as usize & (self.capacity() - 1);
        let bin_len = self.bucket_len(links, bucket, TREEIFY_THRESHOLD + 1);
        append(&mut self.heads, links, bucket, id);
        if bin_len >= TREEIFY_THRESHOLD && self.capacity() < MIN_TREEIFY_CAPACITY {
            // `treeifyBin` on a small table resizes it instead.
            self.resize(links);
        }
        self.len += 1;
        if self.len as usize > self.threshold() {
            self.resize(links);
        }
    }

    /// Removes `id`; false if it is in no set. The table stays, as Java's does.
    pub(super) fn remove(&mut self, links: &mut impl Links, id: NodeId) -> bool {
        let next = links.next(id);
        if next == NONE || self.heads.is_empty() {
            return false;
        }
        let bucket = links.hash(id) as usize & (self.capacity() - 1);
        if next == id {
            self.heads[bucket] = NONE;
        } else {
            let prev = links.prev(id);
            links.set_next(prev, next);
            links.set_prev(next, prev);
            if self.heads[bucket] == id {
                self.heads[bucket] = next;
            }
        }
        links.set_links(id, NONE, NONE);
        self.len -= 1;
        if self.len == 0 {
            // Nothing to list: the buckets' memory goes, their number stays.
            self.heads = Box::default();
        }
        true
    }

    /// Takes every child out (the node leaves the tree), marking each as in no set.
    pub(super) fn clear(&mut self, links: &mut impl Links) {
        let members: Vec<NodeId> = self.iter(links).collect();
        for id in members {
            links.set_links(id, NONE, NONE);
        }
        *self = ChildSet::default();
    }

    /// The children in Java's iteration order.
    pub(super) fn iter<'a, L: Ring>(&'a self, links: &'a L) -> Iter<'a, L> {
        Iter {
            heads: &self.heads,
            links,
            bucket: 0,
            at: NONE,
        }
    }

    /// `HashMap.threshold`: the size past which the table doubles.
    fn threshold(&self) -> usize {
        if self.capacity_log2 >= MAXIMUM_CAPACITY_LOG2 {
            return usize::MAX;
        }
        self.capacity() / 4 * 3
    }

    /// The length of a bucket's ring, counted up to `limit`.
    fn bucket_len(&self, links: &impl Ring, bucket: usize, limit: usize) -> usize {
        let head = self.heads[bucket];
        if head == NONE {
            return 0;
        }
        let mut n = 1;
        let mut at = links.next(head);
        while at != head && n < limit {
            n += 1;
            at = links.next(at);
        }
        n
    }

    /// `HashMap.resize`: doubles the table, splitting each bucket into its low and high halves in order.
    fn resize(&mut self, links: &mut impl Links) {
        if self.capacity_log2 >= MAXIMUM_CAPACITY_LOG2 {
            return;
        }
        let old = std::mem::take(&mut self.heads);
        self.capacity_log2 += 1;
        let mask = self.capacity() - 1;
        let mut heads = vec![NONE; self.capacity()].into_boxed_slice();
        for &head in old.iter().filter(|&&h| h != NONE) {
            let mut at = head;
            loop {
                let next = links.next(at);
                let bucket = links.hash(at) as usize & mask;
                append(&mut heads, links, bucket, at);
                if next == head {
                    break;
                }
                at = next;
            }
        }
        self.heads = heads;
    }
}

/// Puts `id` at the end of a bucket's ring.
fn append(heads: &mut [NodeId], links: &mut impl Links, bucket: usize, id: NodeId) {
    let head = heads[bucket];
    if head == NONE {
        heads[bucket] = id;
        links.set_links(id, id, id);
        return;
    }
    let tail = links.prev(head);
    links.set_next(tail, id);
    links.set_prev(head, id);
    links.set_links(id, tail, head);
}

/// Children in Java's iteration order: bucket by bucket, each ring from its head.
pub(super) struct Iter<'a, L> {
    heads: &'a [NodeId],
    links: &'a L,
    bucket: usize,
    /// The node last returned, or [`NONE`] before a bucket's head.
    at: NodeId,
}

impl<L: Ring> Iterator for Iter<'_, L> {
    type Item = NodeId;

    fn next(&mut self) -> Option<NodeId> {
        if self.at != NONE {
            let next = self.links.next(self.at);
            if next != self.heads[self.bucket] {
                self.at = next;
                return Some(next);
            }
            self.bucket += 1;
        }
        while let Some(&head) = self.heads.get(self.bucket) {
            if head != NONE {
                self.at = head;
                return Some(head);
            }
            self.bucket += 1;
        }
        self.at = NONE;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Links and names in plain vectors.
    struct Model {
        names: Vec<String>,
        links: Vec<(NodeId, NodeId)>,
    }

    impl Ring for Model {
        fn next(&self, id: NodeId) -> NodeId {
            self.links[id as usize].1
        }
        fn prev(&self, id: NodeId) -> NodeId {
            self.links[id as usize].0
        }
        fn hash(&self, id: NodeId) -> u32 {
            java_hash(&self.names[id as usize])
        }
    }

    impl Links for Model {
        fn set_links(&mut self, id: NodeId, prev: NodeId, next: NodeId) {
            self.links[id as usize] = (prev, next);
        }
        fn set_next(&mut self, id: NodeId, next: NodeId) {
            self.links[id as usize].1 = next;
        }
        fn set_prev(&mut self, id: NodeId, prev: NodeId) {
            self.links[id as usize].0 = prev;
        }
    }

    fn names(set: &ChildSet, m: &Model) -> Vec<String> {
        set.iter(m).map(|id| m.names[id as usize].clone()).collect()
    }

    fn build(names: &[&str]) -> (ChildSet, Model) {
        let mut m = Model {
            names: names.iter().map(|s| s.to_string()).collect(),
            links: vec![(NONE, NONE); names.len()],
        };
        let mut set = ChildSet::default();
        for id in 0..names.len() as NodeId {
            set.insert(&mut m, id);
        }
        (set, m)
    }

    #[test]
    fn string_hash_code_is_javas() {
        // "hello".hashCode() == 99162322, "é".hashCode() == 233; "Aa" and "BB" collide.
        assert_eq!(java_hash("hello"), 99_162_322 ^ (99_162_322 >> 16));
        assert_eq!(java_hash("Aa"), java_hash("BB"));
        let h = 0xe9u32; // "é" is one UTF-16 unit
        assert_eq!(java_hash("é"), h);
        let surrogates = 0xd83du32.wrapping_mul(31).wrapping_add(0xde00);
        assert_eq!(java_hash("😀"), surrogates ^ (surrogates >> 16));
    }

    #[test]
    fn order_is_javas_hash_set_order() {
        // What `new HashSet<>(8)` lists after these adds in OpenJDK 17 (printed by a Java program).
        let (set, m) = build(&["zookeeper", "a", "b", "c"]);
        assert_eq!(names(&set, &m), ["a", "b", "c", "zookeeper"]);
        let many: Vec<String> = (0..20).map(|i| format!("node{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let (set, m) = build(&refs);
        assert_eq!(set.capacity(), 32);
        assert_eq!(
            names(&set, &m),
            [
                "node10", "node11", "node12", "node13", "node14", "node15", "node16", "node17", "node18",
                "node19", "node0", "node1", "node4", "node5", "node2", "node3", "node8", "node9", "node6",
                "node7"
            ]
        );
    }

    #[test]
    fn removal_keeps_the_table_and_the_order_of_the_rest() {
        let all: Vec<String> = (0..40).map(|i| format!("n{i}")).collect();
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let (mut set, mut m) = build(&refs);
        let before = names(&set, &m);
        for id in (0..40).step_by(3) {
            assert!(set.remove(&mut m, id));
            assert!(!set.remove(&mut m, id));
        }
        let kept: Vec<String> = before
            .into_iter()
            .filter(|n| (n[1..].parse::<usize>().expect("n") % 3) != 0)
            .collect();
        assert_eq!(names(&set, &m), kept);
        for id in 0..40 {
            set.remove(&mut m, id);
        }
        assert_eq!((set.len(), set.capacity()), (0, 64), "the table never shrinks");
        assert_eq!(set.iter(&m).count(), 0);
    }

    #[test]
    fn a_full_bucket_grows_a_small_table() {
        // "Aa"/"BB" pairs make names that all share one hash: the 9th in one bucket doubles a table under 64.
        let colliding: Vec<String> = (0..9u32)
            .map(|i| {
                (0..4)
                    .map(|bit| if i >> bit & 1 == 1 { "Aa" } else { "BB" })
                    .collect()
            })
            .collect();
        let refs: Vec<&str> = colliding.iter().map(String::as_str).collect();
        let (set, m) = build(&refs);
        assert_eq!(
            set.capacity(),
            32,
            "8 -> 16 at the 7th name, 16 -> 32 at the 9th in one bucket"
        );
        assert_eq!(names(&set, &m), colliding, "one bucket, in insertion order");
    }
}
