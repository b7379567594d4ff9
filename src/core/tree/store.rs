//! Where the znodes live. Each node is one slot of a chunked array, named by its index (a `NodeId`), and holds
//! its path and data in a single allocation. A hash table of ids finds nodes by full path (the path index), and
//! each node's child set (`children`) lists its children in Apache ZooKeeper's order, with the links of its
//! buckets kept in the children's own slots. Table entries are 4 bytes, so neither the index nor the child sets
//! copy a path or a name.
//!
//! Ids of deleted nodes are reused. A snapshot walk that keeps ids between two reads of the tree may therefore
//! find another node under an id it kept; that node was created after the walk began (every create after it
//! has a larger zxid), so the walk's rule of leaving out nodes newer than its zxid leaves it out too.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use jute::records::data::StatPersisted;

use super::children::{java_hash, ChildSet, Links, Ring, NONE};
use super::PathHasher;

/// The index of a node's slot.
pub type NodeId = u32;

/// Slots per chunk. Chunks never move once allocated, so growing the tree never copies the nodes (nor holds
/// two copies of them for a moment, as a doubling array would). 3780 slots of 104 bytes fill 384 KiB, one of
/// mimalloc's size classes, where 4096 of them (416 KiB) would be rounded up to 448 KiB.
const CHUNK: usize = 3780;

/// One znode: its persisted Stat, ACL reference, children, and its path followed by its data in one buffer.
#[derive(Debug)]
pub struct Node {
    pub stat: StatPersisted,
    pub acl: i64,
    /// The node's child set in `Store::sets`, or `NO_CHILDREN` for a node that never had a child.
    children: u32,
    /// The neighbours of this node in its bucket of its parent's child set, or `NONE` when in no set.
    next: NodeId,
    prev: NodeId,
    /// The path's bytes, then the data's.
    bytes: Box<[u8]>,
    /// The path's length, and `HAS_DATA` when the data is present (ZooKeeper tells null data from empty).
    meta: u32,
}

impl Node {
    /// A node at `path` with no children.
    pub fn new(path: &str, data: Option<&[u8]>, acl: i64, stat: StatPersisted) -> Node {
        Node {
            stat,
            acl,
            children: NO_CHILDREN,
            next: NONE,
            prev: NONE,
            bytes: joined(path.as_bytes(), data),
            meta: meta(path.len(), data),
        }
    }

    /// The node's full path.
    pub fn path(&self) -> &str {
        // Built from a `&str` and cut at its end, so always UTF-8.
        std::str::from_utf8(self.path_bytes()).unwrap_or_default()
    }

    pub(super) fn path_len(&self) -> usize {
        (self.meta & !HAS_DATA) as usize
    }

    pub(super) fn path_bytes(&self) -> &[u8] {
        &self.bytes[..self.path_len()]
    }

    /// The path's bytes and then the data's, as they are kept.
    pub(super) fn path_and_data(&self) -> &[u8] {
        &self.bytes
    }

    /// The data; `None` for a node created with null data.
    pub fn data(&self) -> Option<&[u8]> {
        (self.meta & HAS_DATA != 0).then(|| &self.bytes[self.path_len()..])
    }

    /// The data's length (0 for null data).
    pub fn data_len(&self) -> usize {
        self.bytes.len() - self.path_len()
    }

    /// Replaces the data.
    pub fn set_data(&mut self, data: Option<&[u8]>) {
        self.bytes = joined(self.path_bytes(), data);
        self.meta = meta(self.path_len(), data);
    }

    /// The last segment of the path (the whole path for the root).
    fn name(&self) -> &str {
        let path = self.path();
        path.rsplit('/').next().unwrap_or(path)
    }
}

/// The bit of `Node::meta` that says the data is present; paths are far shorter than 2 GiB (jute.maxbuffer).
const HAS_DATA: u32 = 1 << 31;

fn meta(path_len: usize, data: Option<&[u8]>) -> u32 {
    (path_len as u32 & !HAS_DATA) | if data.is_some() { HAS_DATA } else { 0 }
}

fn joined(path: &[u8], data: Option<&[u8]>) -> Box<[u8]> {
    let data = data.unwrap_or_default();
    let mut bytes = Vec::with_capacity(path.len() + data.len());
    bytes.extend_from_slice(path);
    bytes.extend_from_slice(data);
    bytes.into_boxed_slice()
}

/// The `children` of a node that never had a child: most znodes are leaves, and they have no set at all.
const NO_CHILDREN: u32 = u32::MAX;

/// The nodes, their path index and their child sets.
#[derive(Debug, Default)]
pub(super) struct Store {
    /// Every chunk but the last is full; each was allocated with room for `CHUNK` slots.
    chunks: Vec<Vec<Option<Node>>>,
    /// Empty slots, to be filled before the last chunk grows.
    free: Vec<NodeId>,
    /// Every node's id, by the hash of its path.
    index: HashTable<NodeId>,
    /// The child sets of nodes that have or had children.
    sets: Vec<ChildSet>,
    /// Entries of `sets` that no node uses.
    free_sets: Vec<u32>,
    hasher: PathHasher,
}

impl Store {
    fn hash(&self, bytes: &[u8]) -> u64 {
        self.hasher.hash_one(bytes)
    }

    fn slot_mut(&mut self, id: NodeId) -> &mut Option<Node> {
        let id = id as usize;
        &mut self.chunks[id / CHUNK][id % CHUNK]
    }

    /// The node with this id, if the slot holds one.
    pub(super) fn node(&self, id: NodeId) -> Option<&Node> {
        slot_in(&self.chunks, id)
    }

    /// The node with this id, if the slot holds one.
    pub(super) fn node_mut(&mut self, id: NodeId) -> Option<&mut Node> {
        slot_in_mut(&mut self.chunks, id)
    }

    /// The id of the node at `path`.
    pub(super) fn id_of(&self, path: &str) -> Option<NodeId> {
        let path = path.as_bytes();
        self.find(self.hash(path), path)
    }

    /// The id of the node whose path is `path`, which hashes to `hash`.
    fn find(&self, hash: u64, path: &[u8]) -> Option<NodeId> {
        self.index
            .find(hash, |&id| self.node(id).is_some_and(|n| n.path_bytes() == path))
            .copied()
    }

    pub(super) fn get(&self, path: &str) -> Option<&Node> {
        self.id_of(path).and_then(|id| self.node(id))
    }

    pub(super) fn get_mut(&mut self, path: &str) -> Option<&mut Node> {
        let id = self.id_of(path)?;
        self.node_mut(id)
    }

    /// The number of nodes.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// Every node, in no particular order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Node> + '_ {
        self.chunks.iter().flatten().flatten()
    }

    /// The children of `node`, in Apache ZooKeeper's order.
    pub(super) fn children<'a>(&'a self, node: &'a Node) -> impl Iterator<Item = &'a Node> + 'a {
        self.child_ids(node).filter_map(|id| self.node(id))
    }

    /// The last path segments of the children of `node`, as bytes: the part of each child's path after the
    /// parent's path and its slash, found without a scan.
    pub(super) fn child_name_bytes<'a>(&'a self, node: &'a Node) -> impl Iterator<Item = &'a [u8]> + 'a {
        let skip = if node.path_bytes() == b"/" {
            1
        } else {
            node.path_len() + 1
        };
        self.children(node)
            .map(move |child| child.path_bytes().get(skip..).unwrap_or_default())
    }

    /// The ids of the children of `node`, in Apache ZooKeeper's order.
    pub(super) fn child_ids(&self, node: &Node) -> impl Iterator<Item = NodeId> + '_ {
        self.sets
            .get(node.children as usize)
            .into_iter()
            .flat_map(|set| set.iter(&self.chunks))
    }

    /// The number of children of `node`.
    pub(super) fn child_count(&self, node: &Node) -> usize {
        self.sets.get(node.children as usize).map_or(0, ChildSet::len)
    }

    /// Gives the child set of a node that is leaving the tree back; its children (if any are left) belong to
    /// no set any more.
    fn drop_set(&mut self, children: u32) {
        let Store {
            sets,
            chunks,
            free_sets,
            ..
        } = self;
        if let Some(set) = sets.get_mut(children as usize) {
            set.clear(chunks);
            free_sets.push(children);
        }
    }

    /// Makes room for `additional` more nodes in the index.
    pub(super) fn reserve(&mut self, additional: usize) {
        let Store {
            index,
            chunks,
            hasher,
            ..
        } = self;
        index.reserve(additional, |&id| rehash(chunks, hasher, id));
    }

    /// Drops every node.
    pub(super) fn clear(&mut self) {
        self.chunks.clear();
        self.free.clear();
        self.index.clear();
        self.sets.clear();
        self.free_sets.clear();
    }

    /// Puts `node` into a free slot.
    fn alloc(&mut self, node: Node) -> NodeId {
        if let Some(id) = self.free.pop() {
            *self.slot_mut(id) = Some(node);
            return id;
        }
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        let last = self.chunks.len() - 1;
        let chunk = &mut self.chunks[last];
        chunk.push(Some(node));
        (last * CHUNK + chunk.len() - 1) as NodeId
    }

    /// Adds `node`, whose path must not be in the tree yet, and returns its id.
    pub(super) fn insert_new(&mut self, node: Node) -> NodeId {
        let hash = self.hash(node.path_bytes());
        self.insert_hashed(hash, node)
    }

    /// Adds `node`, whose path hashes to `hash` and is not in the tree yet.
    fn insert_hashed(&mut self, hash: u64, node: Node) -> NodeId {
        let id = self.alloc(node);
        let Store {
            index,
            chunks,
            hasher,
            ..
        } = self;
        index.insert_unique(hash, id, |&i| rehash(chunks, hasher, i));
        id
    }

    /// Adds `node`, or replaces the node at its path (which keeps its id and its place among its parent's
    /// children, and loses its own children); returns the id and the node replaced.
    pub(super) fn insert(&mut self, mut node: Node) -> (NodeId, Option<Node>) {
        let hash = self.hash(node.path_bytes());
        match self.find(hash, node.path_bytes()) {
            Some(id) => {
                if let Some(old) = self.node(id) {
                    (node.next, node.prev) = (old.next, old.prev);
                }
                let old = self.slot_mut(id).replace(node);
                if let Some(old) = &old {
                    self.drop_set(old.children);
                }
                (id, old)
            }
            None => (self.insert_hashed(hash, node), None),
        }
    }

    /// Takes the node at `path` out of the index, its parent's child set and its slot.
    pub(super) fn remove(&mut self, path: &str) -> Option<(NodeId, Node)> {
        let bytes = path.as_bytes();
        let hash = self.hash(bytes);
        let id = self.find(hash, bytes)?;
        if let Some(parent) = self.id_of(super::path::parent(path)).filter(|_| path != "/") {
            self.unlink(parent, id);
        }
        let Store {
            index, chunks, free, ..
        } = self;
        if let Ok(entry) = index.find_entry(hash, |&i| i == id) {
            entry.remove();
        }
        let node = chunks[id as usize / CHUNK][id as usize % CHUNK].take()?;
        free.push(id);
        self.drop_set(node.children);
        Some((id, node))
    }

    /// Adds `child`, which is in no child set, to the child set of `parent` (`DataNode.addChild`).
    pub(super) fn link(&mut self, parent: NodeId, child: NodeId) {
        let Some(set) = self.node(parent).map(|p| p.children) else {
            return;
        };
        let set = if set == NO_CHILDREN {
            let set = match self.free_sets.pop() {
                Some(free) => free,
                None => {
                    self.sets.push(ChildSet::default());
                    (self.sets.len() - 1) as u32
                }
            };
            if let Some(p) = self.node_mut(parent) {
                p.children = set;
            }
            set
        } else {
            set
        };
        let Store { sets, chunks, .. } = self;
        sets[set as usize].insert(chunks, child);
    }

    /// Removes `child` from the child set of `parent`; false if it was not there. The set keeps its capacity,
    /// as Java's does.
    pub(super) fn unlink(&mut self, parent: NodeId, child: NodeId) -> bool {
        let Some(set) = self.node(parent).map(|p| p.children) else {
            return false;
        };
        let Store { sets, chunks, .. } = self;
        sets.get_mut(set as usize)
            .is_some_and(|s| s.remove(chunks, child))
    }
}

/// The slots, as the child sets see them: bucket links and name hashes.
type Chunks = Vec<Vec<Option<Node>>>;

impl Ring for Chunks {
    fn next(&self, id: NodeId) -> NodeId {
        slot_in(self, id).map_or(NONE, |n| n.next)
    }

    fn prev(&self, id: NodeId) -> NodeId {
        slot_in(self, id).map_or(NONE, |n| n.prev)
    }

    fn hash(&self, id: NodeId) -> u32 {
        slot_in(self, id).map_or(0, |n| java_hash(n.name()))
    }

    fn compare_names(&self, a: NodeId, b: NodeId) -> std::cmp::Ordering {
        let name = |id| slot_in(self, id).map_or("", Node::name);
        name(a).encode_utf16().cmp(name(b).encode_utf16())
    }
}

impl Links for Chunks {
    fn set_links(&mut self, id: NodeId, prev: NodeId, next: NodeId) {
        if let Some(n) = slot_in_mut(self, id) {
            (n.prev, n.next) = (prev, next);
        }
    }

    fn set_next(&mut self, id: NodeId, next: NodeId) {
        if let Some(n) = slot_in_mut(self, id) {
            n.next = next;
        }
    }

    fn set_prev(&mut self, id: NodeId, prev: NodeId) {
        if let Some(n) = slot_in_mut(self, id) {
            n.prev = prev;
        }
    }
}

fn slot_in_mut(chunks: &mut [Vec<Option<Node>>], id: NodeId) -> Option<&mut Node> {
    let id = id as usize;
    chunks.get_mut(id / CHUNK)?.get_mut(id % CHUNK)?.as_mut()
}

fn slot_in(chunks: &[Vec<Option<Node>>], id: NodeId) -> Option<&Node> {
    let id = id as usize;
    chunks.get(id / CHUNK)?.get(id % CHUNK)?.as_ref()
}

/// The hash of a node's path, for the index when it grows. The index holds only ids of nodes in their slots.
fn rehash(chunks: &[Vec<Option<Node>>], hasher: &PathHasher, id: NodeId) -> u64 {
    slot_in(chunks, id).map_or(0, |n| hasher.hash_one(n.path_bytes()))
}

impl PartialEq for Node {
    /// Same path, data, ACL reference and Stat (children are the tree's to compare).
    fn eq(&self, other: &Node) -> bool {
        self.bytes == other.bytes
            && self.meta == other.meta
            && self.acl == other.acl
            && self.stat == other.stat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(path: &str) -> Node {
        Node::new(path, Some(path.as_bytes()), -1, StatPersisted::default())
    }

    #[test]
    fn nodes_are_found_by_path_and_children_by_name_across_chunks() {
        let mut store = Store::default();
        let root = store.insert_new(node("/"));
        let n = 3 * CHUNK + 7;
        for i in 0..n {
            let id = store.insert_new(node(&format!("/n{i}")));
            store.link(root, id);
        }
        assert_eq!(store.len(), n + 1);
        let r = store.node(root).expect("root");
        assert_eq!(store.child_count(r), n);
        for i in (0..n).step_by(97) {
            let p = format!("/n{i}");
            let found = store.get(&p).expect("node");
            assert_eq!(found.path(), p);
            assert_eq!(found.data(), Some(p.as_bytes()));
            assert!(store.child_name_bytes(r).any(|n| n == &p.as_bytes()[1..]));
            let id = store.id_of(&p).expect("id");
            assert!(store.child_ids(r).any(|c| c == id));
        }
        assert!(store.get("/n").is_none());
    }

    #[test]
    fn a_slot_takes_104_bytes() {
        assert_eq!(std::mem::size_of::<Option<Node>>(), 104);
    }

    #[test]
    fn removed_slots_are_reused_and_a_removed_node_leaves_its_parents_set() {
        let mut store = Store::default();
        let root = store.insert_new(node("/"));
        let a = store.insert_new(node("/a"));
        store.link(root, a);
        let (id, gone) = store.remove("/a").expect("removed");
        assert_eq!((id, gone.path()), (a, "/a"));
        assert!(
            !store.unlink(root, a),
            "removed from its parent's set with the node"
        );
        assert_eq!(store.child_count(store.node(root).expect("root")), 0);
        assert!(store.get("/a").is_none() && store.node(a).is_none());
        let b = store.insert_new(node("/b"));
        assert_eq!(b, a, "the free slot is taken first");
        assert_eq!(store.get("/b").map(Node::path), Some("/b"));
        assert_eq!(store.remove("/a").map(|(id, _)| id), None);
    }

    #[test]
    fn data_is_kept_apart_from_the_path_and_can_be_null_or_replaced() {
        let mut n = Node::new("/x/y", None, 0, StatPersisted::default());
        assert_eq!((n.data(), n.data_len()), (None, 0));
        let mut store = Store::default();
        let root = store.insert_new(Node::new("/", Some(b""), 0, StatPersisted::default()));
        let x = store.insert_new(Node::new("/x", None, 0, StatPersisted::default()));
        store.link(root, x);
        let parent = store.node(root).expect("root");
        assert_eq!(store.child_name_bytes(parent).collect::<Vec<_>>(), [b"x"]);
        n.set_data(Some(b""));
        assert_eq!(n.data(), Some(&b""[..]));
        n.set_data(Some(b"hello"));
        assert_eq!(
            (n.data(), n.data_len(), n.path()),
            (Some(&b"hello"[..]), 5, "/x/y")
        );
    }

    #[test]
    fn an_insert_over_an_existing_path_keeps_the_id_and_returns_the_old_node() {
        let mut store = Store::default();
        let first = store.insert_new(node("/a"));
        let (id, old) = store.insert(Node::new("/a", None, 7, StatPersisted::default()));
        assert_eq!(id, first);
        assert_eq!(old.map(|n| n.acl), Some(-1));
        assert_eq!(store.get("/a").map(|n| n.acl), Some(7));
        assert_eq!(store.len(), 1);
    }
}
