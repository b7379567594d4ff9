//! Where the znodes live. Each node is one slot of a chunked array, named by its index (a `NodeId`), and holds
//! its path and data in a single allocation. Two kinds of hash table of ids find nodes: the path index (every
//! node, hashed by full path) and each node's child set (hashed by id: a child is only ever looked up by its
//! full path, so a set never reads its children to grow or to drop one). A table entry is 4 bytes, so neither
//! the index nor the child sets copy a path or a name: at a million znodes of 100 bytes a node costs under 300
//! bytes in all, against about 380 for a map of boxed paths to boxed nodes with sets of boxed names.
//!
//! Ids of deleted nodes are reused. A snapshot walk that keeps ids between two reads of the tree may therefore
//! find another node under an id it kept; that node was created after the walk began (every create after it
//! has a larger zxid), so the walk's rule of leaving out nodes newer than its zxid leaves it out too.

use std::hash::BuildHasher;

use hashbrown::HashTable;
use jute::records::data::StatPersisted;

use super::PathHasher;

/// The index of a node's slot.
pub type NodeId = u32;

/// Slots per chunk. Chunks never move once allocated, so growing the tree never copies the nodes (nor holds
/// two copies of them for a moment, as a doubling array would).
const CHUNK: usize = 4096;

/// One znode: its persisted Stat, ACL reference, children, and its path followed by its data in one buffer.
#[derive(Debug)]
pub struct Node {
    pub stat: StatPersisted,
    pub acl: i64,
    /// The node's child set in `Store::sets`, or `NO_CHILDREN`: a slot then takes 96 bytes instead of 104.
    children: u32,
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

    /// True when the node has no children.
    pub fn is_leaf(&self) -> bool {
        self.children == NO_CHILDREN
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

/// The `children` of a leaf: most znodes are leaves, and they have no set at all.
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
    /// The child sets of nodes that have children, hashed by id.
    sets: Vec<HashTable<NodeId>>,
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
        let id = id as usize;
        self.chunks.get_mut(id / CHUNK)?.get_mut(id % CHUNK)?.as_mut()
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

    /// The children of `node`, in no particular order.
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

    /// The ids of the children of `node`.
    pub(super) fn child_ids(&self, node: &Node) -> impl Iterator<Item = NodeId> + '_ {
        self.sets
            .get(node.children as usize)
            .into_iter()
            .flat_map(|set| set.iter().copied())
    }

    /// The number of children of `node`.
    pub(super) fn child_count(&self, node: &Node) -> usize {
        self.sets.get(node.children as usize).map_or(0, HashTable::len)
    }

    /// Gives the child set of a node that is leaving the tree back.
    fn drop_set(&mut self, node: &Node) {
        if let Some(set) = self.sets.get_mut(node.children as usize) {
            *set = HashTable::new();
            self.free_sets.push(node.children);
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

    /// Adds `node`, or replaces the node at its path (which keeps its id and loses its children); returns the id
    /// and the node replaced.
    pub(super) fn insert(&mut self, node: Node) -> (NodeId, Option<Node>) {
        let hash = self.hash(node.path_bytes());
        match self.find(hash, node.path_bytes()) {
            Some(id) => {
                let old = self.slot_mut(id).replace(node);
                if let Some(old) = &old {
                    self.drop_set(old);
                }
                (id, old)
            }
            None => (self.insert_hashed(hash, node), None),
        }
    }

    /// Takes the node at `path` out of the index and its slot (not out of its parent's child set: see
    /// [`Store::unlink`]).
    pub(super) fn remove(&mut self, path: &str) -> Option<(NodeId, Node)> {
        let bytes = path.as_bytes();
        let hash = self.hash(bytes);
        let Store {
            index, chunks, free, ..
        } = self;
        let entry = index
            .find_entry(hash, |&id| {
                slot_in(chunks, id).is_some_and(|n| n.path_bytes() == bytes)
            })
            .ok()?;
        let (id, _) = entry.remove();
        let node = chunks[id as usize / CHUNK][id as usize % CHUNK].take()?;
        free.push(id);
        self.drop_set(&node);
        Some((id, node))
    }

    /// Adds `child` to the child set of `parent`; false if it was there already.
    pub(super) fn link(&mut self, parent: NodeId, child: NodeId) -> bool {
        let hash = id_hash(child);
        let Some(set) = self.node(parent).map(|p| p.children) else {
            return false;
        };
        let set = if set == NO_CHILDREN {
            let set = match self.free_sets.pop() {
                Some(free) => free,
                None => {
                    self.sets.push(HashTable::new());
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
        let table = &mut self.sets[set as usize];
        let added = table.find(hash, |&id| id == child).is_none();
        if added {
            table.insert_unique(hash, child, |&id| id_hash(id));
        }
        added
    }

    /// Removes `child` from the child set of `parent`; false if it was not there. The set's memory goes with
    /// its last child.
    pub(super) fn unlink(&mut self, parent: NodeId, child: NodeId) -> bool {
        let hash = id_hash(child);
        let Some(set) = self.node(parent).map(|p| p.children) else {
            return false;
        };
        let Some(table) = self.sets.get_mut(set as usize) else {
            return false;
        };
        let removed = match table.find_entry(hash, |&id| id == child) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        };
        if table.is_empty() {
            *table = HashTable::new();
            self.free_sets.push(set);
            if let Some(p) = self.node_mut(parent) {
                p.children = NO_CHILDREN;
            }
        }
        removed
    }
}

fn slot_in(chunks: &[Vec<Option<Node>>], id: NodeId) -> Option<&Node> {
    let id = id as usize;
    chunks.get(id / CHUNK)?.get(id % CHUNK)?.as_ref()
}

/// The hash of a node's path, for the index when it grows. The index holds only ids of nodes in their slots.
fn rehash(chunks: &[Vec<Option<Node>>], hasher: &PathHasher, id: NodeId) -> u64 {
    slot_in(chunks, id).map_or(0, |n| hasher.hash_one(n.path_bytes()))
}

/// The hash of an id in a child set: Fibonacci hashing, whose high bits (the table's tags) and low bits (its
/// buckets) both spread ids that are close together.
fn id_hash(id: NodeId) -> u64 {
    let h = u64::from(id).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 32)
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
            assert!(store.link(root, id));
            assert!(!store.link(root, id), "linked twice");
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
    fn a_slot_takes_96_bytes() {
        assert_eq!(std::mem::size_of::<Option<Node>>(), 96);
    }

    #[test]
    fn removed_slots_are_reused_and_unlinked_sets_free_their_memory() {
        let mut store = Store::default();
        let root = store.insert_new(node("/"));
        let a = store.insert_new(node("/a"));
        store.link(root, a);
        let (id, gone) = store.remove("/a").expect("removed");
        assert_eq!((id, gone.path()), (a, "/a"));
        assert!(store.unlink(root, a));
        assert!(!store.unlink(root, a));
        assert!(store.node(root).expect("root").is_leaf());
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
