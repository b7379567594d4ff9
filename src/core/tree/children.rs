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
//! - a bucket reaching 9 names in a table of 64 or more becomes a red-black tree with an order of its own
//!   (`treebin`), and a list again when it gets small.
//!
//! A snapshot load adds children in the order the snapshot lists them, into new sets: the order after a restart
//! is the one ZooKeeper's own restart gives.
//!
//! Memory: the table holds 4 bytes per bucket (1.33 to 2.67 per child), and each node carries the links of its
//! bucket's doubly linked ring (8 bytes), so that removing a child takes constant time whatever its bucket holds.

use super::store::NodeId;
use super::treebin::TreeBins;

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
    /// `String.compareTo` of two nodes' names (UTF-16 code unit order).
    fn compare_names(&self, a: NodeId, b: NodeId) -> std::cmp::Ordering;
}

/// [`Ring`], changed.
pub(super) trait Links: Ring {
    fn set_links(&mut self, id: NodeId, prev: NodeId, next: NodeId);
    fn set_next(&mut self, id: NodeId, next: NodeId);
    fn set_prev(&mut self, id: NodeId, prev: NodeId);
}

/// `String.hashCode` of `name` (over its UTF-16 code units), spread as `HashMap.hash` spreads it.
pub(super) fn java_hash(name: &str) -> u32 {
    let h = jute::string_hash_code(name) as u32;
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
    /// The tree links of buckets that Java keeps as trees; none in almost every set.
    trees: Option<Box<TreeBins>>,
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
        if let Some(trees) = self.trees.as_mut().filter(|t| t.is_tree(self.heads[bucket])) {
            trees.put(&mut self.heads, links, bucket, id);
        } else {
            let bin_len = self.bucket_len(links, bucket, TREEIFY_THRESHOLD + 1);
            append(&mut self.heads, links, bucket, id);
            if bin_len >= TREEIFY_THRESHOLD {
                if self.capacity() < MIN_TREEIFY_CAPACITY {
                    // `treeifyBin` on a small table resizes it instead.
                    self.resize(links);
                } else {
                    let trees = self.trees.get_or_insert_with(Box::default);
                    trees.treeify(&mut self.heads, links, bucket);
                }
            }
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
        match self.trees.as_mut() {
            Some(trees) if trees.is_tree(self.heads[bucket]) => {
                trees.remove(&mut self.heads, links, bucket, id);
                links.set_links(id, NONE, NONE);
            }
            _ => ring_unlink(&mut self.heads, links, bucket, id),
        }
        if self.trees.as_ref().is_some_and(|t| t.is_empty()) {
            self.trees = None;
        }
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
        if let Some(trees) = self.trees.as_mut() {
            trees.clear();
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

    /// `HashMap.resize`: doubles the table, splitting each bucket into its low and high halves in order (a
    /// tree bin's halves then as `TreeNode.split` leaves them).
    fn resize(&mut self, links: &mut impl Links) {
        if self.capacity_log2 >= MAXIMUM_CAPACITY_LOG2 {
            return;
        }
        let old = std::mem::take(&mut self.heads);
        let old_capacity = old.len();
        self.capacity_log2 += 1;
        let mask = self.capacity() - 1;
        let mut heads = vec![NONE; self.capacity()].into_boxed_slice();
        for (index, &head) in old.iter().enumerate().filter(|(_, &h)| h != NONE) {
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
            if let Some(trees) = self.trees.as_mut().filter(|t| t.is_tree(head)) {
                trees.split(&mut heads, links, index, index + old_capacity);
            }
        }
        self.heads = heads;
        if self.trees.as_ref().is_some_and(|t| t.is_empty()) {
            self.trees = None;
        }
    }
}

/// Takes `id` out of a bucket's ring.
pub(super) fn ring_unlink(heads: &mut [NodeId], links: &mut impl Links, bucket: usize, id: NodeId) {
    let next = links.next(id);
    if next == id {
        heads[bucket] = NONE;
    } else {
        let prev = links.prev(id);
        links.set_next(prev, next);
        links.set_prev(next, prev);
        if heads[bucket] == id {
            heads[bucket] = next;
        }
    }
    links.set_links(id, NONE, NONE);
}

/// Puts `id` right after `at` in its ring.
pub(super) fn ring_insert_after(links: &mut impl Links, at: NodeId, id: NodeId) {
    let next = links.next(at);
    links.set_links(id, at, next);
    links.set_next(at, id);
    links.set_prev(next, id);
}

/// Makes `id`, in the ring of `bucket`, its first (`TreeNode.moveRootToFront`).
pub(super) fn ring_move_to_front(heads: &mut [NodeId], links: &mut impl Links, bucket: usize, id: NodeId) {
    let head = heads[bucket];
    if head == id || head == NONE || id == NONE {
        return;
    }
    let (prev, next) = (links.prev(id), links.next(id));
    links.set_next(prev, next);
    links.set_prev(next, prev);
    let tail = links.prev(head);
    links.set_links(id, tail, head);
    links.set_next(tail, id);
    links.set_prev(head, id);
    heads[bucket] = id;
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
        fn compare_names(&self, a: NodeId, b: NodeId) -> std::cmp::Ordering {
            let (a, b) = (&self.names[a as usize], &self.names[b as usize]);
            a.encode_utf16().cmp(b.encode_utf16())
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

    /// A set in the test model that names are added to and removed from by name.
    struct Named {
        set: ChildSet,
        m: Model,
        ids: std::collections::HashMap<String, NodeId>,
    }

    impl Named {
        fn new() -> Named {
            Named {
                set: ChildSet::default(),
                m: Model {
                    names: Vec::new(),
                    links: Vec::new(),
                },
                ids: Default::default(),
            }
        }

        fn add(&mut self, name: &str) {
            let id = self.m.names.len() as NodeId;
            self.m.names.push(name.to_owned());
            self.m.links.push((NONE, NONE));
            self.ids.insert(name.to_owned(), id);
            self.set.insert(&mut self.m, id);
        }

        fn remove(&mut self, name: &str) {
            let id = self.ids[name];
            assert!(self.set.remove(&mut self.m, id), "{name}");
        }

        fn listed(&self) -> String {
            names(&self.set, &self.m).join(",")
        }
    }

    fn colliding(i: usize) -> String {
        (0..8)
            .map(|bit| if i >> bit & 1 == 1 { "Aa" } else { "BB" })
            .collect()
    }

    #[test]
    fn tree_bins_list_as_javas_do() {
        // The same histories as testdata/HashSetOrders.java, and its output.
        let java: std::collections::HashMap<&str, &str> = include_str!("testdata/hashset_orders.txt")
            .lines()
            .filter_map(|l| l.split_once(' '))
            .collect();
        let mut a = Named::new();
        (0..60).for_each(|i| a.add(&format!("p{i}")));
        (0..40).for_each(|i| a.add(&colliding(i)));
        assert_eq!(a.listed(), java["collide-40"]);
        (0..40).step_by(3).for_each(|i| a.remove(&colliding(i)));
        assert_eq!(a.listed(), java["collide-removed"]);
        (0..40)
            .filter(|i| i % 3 != 0 && i % 8 != 1)
            .for_each(|i| a.remove(&colliding(i)));
        assert_eq!(a.listed(), java["collide-few"]);

        let k: Vec<String> = (0..)
            .map(|i| format!("k{i}"))
            .filter(|n| java_hash(n) & 63 == 5)
            .take(30)
            .collect();
        let mut b = Named::new();
        (0..50).for_each(|i| b.add(&format!("q{i}")));
        k.iter().for_each(|n| b.add(n));
        assert_eq!(b.listed(), java["split-before"]);
        (50..200).for_each(|i| b.add(&format!("q{i}")));
        assert_eq!(b.listed(), java["split-after"]);
        k.iter().step_by(2).for_each(|n| b.remove(n));
        assert_eq!(b.listed(), java["split-removed"]);
    }
}
