//! The data tree (`DataTree`): znodes with their data, ACL reference and persisted Stat, the child sets, the
//! ephemerals of each session, containers and TTL nodes. The tree changes only by applying a committed txn;
//! applying returns the watch triggers the change fires and the per-op results the reply needs.

mod acl_cache;
mod apply;
mod children;
pub mod digest;
pub mod path;
pub mod quota;
mod shared;
pub mod snapshot;
mod store;
mod treebin;

use std::collections::{BTreeSet, HashMap, HashSet};

use jute::records::data::{Acl, Stat, StatPersisted};

pub use acl_cache::{AclCache, SharedAcl, OPEN_UNSAFE_REF};
pub use apply::{ApplyResult, Trigger, TriggerKind};
pub use shared::{Pause, SharedTree};
pub use store::{Node, NodeId};

use store::Store;

use crate::types::Zxid;

/// The stored ephemeralOwner of a container (`EphemeralType.CONTAINER`).
pub const CONTAINER_OWNER: i64 = i64::MIN;
/// The top byte of an extended-type ephemeralOwner (`EphemeralType.EXTENDED_MASK`).
pub const EXTENDED_MASK: i64 = 0xff00_0000_0000_0000_u64 as i64;
/// The largest TTL a TTL node may have (`EphemeralType.MAX_VALUE`, 2^40 - 1 ms).
pub const TTL_MAX_MS: i64 = 0xff_ffff_ffff;

/// What kind of node an ephemeralOwner value denotes (`EphemeralType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerKind {
    Persistent,
    Container,
    Ttl(i64),
    Ephemeral(i64),
}

/// Decodes a stored ephemeralOwner. Extended types are only recognised when `extended` is enabled, as in
/// `EphemeralType.get`.
pub fn owner_kind(owner: i64, extended: bool) -> OwnerKind {
    if owner == 0 {
        OwnerKind::Persistent
    } else if owner == CONTAINER_OWNER {
        OwnerKind::Container
    } else if extended && owner & EXTENDED_MASK == EXTENDED_MASK && (owner >> 40) & 0xffff == 0 {
        OwnerKind::Ttl(owner & TTL_MAX_MS)
    } else {
        OwnerKind::Ephemeral(owner)
    }
}

/// The hasher of the node map: foldhash, several times faster than SipHash on paths (recovery and snapshots hash
/// every path once or more), with a fixed seed so that runs are the same from one process to the next.
pub type PathHasher = foldhash::fast::FixedState;

/// The whole tree, found by full path (the root is `/`) or by following child sets (`store`).
#[derive(Debug)]
pub struct DataTree {
    nodes: Store,
    ephemerals: HashMap<i64, BTreeSet<String>>,
    containers: HashSet<String>,
    ttls: HashSet<String>,
    acls: AclCache,
    extended_types: bool,
    last_processed_zxid: Zxid,
    /// The sum of the node digests (`digest`), kept up to date by every change.
    digest: u64,
    /// Paths with a quota (ZooKeeper's `pTrie`).
    quota_paths: BTreeSet<String>,
}

impl DataTree {
    /// A tree with the nodes every ZooKeeper server starts with: `/`, `/zookeeper`, `/zookeeper/quota` and
    /// `/zookeeper/config` (READ for anyone, aversion -1, as a setACL with version -1 left it).
    pub fn new(extended_types: bool) -> DataTree {
        let mut tree = DataTree {
            nodes: Store::default(),
            ephemerals: HashMap::new(),
            containers: HashSet::new(),
            ttls: HashSet::new(),
            acls: AclCache::new(),
            extended_types,
            last_processed_zxid: Zxid(0),
            digest: 0,
            quota_paths: BTreeSet::new(),
        };
        tree.nodes.insert_new(Node::new(
            "/",
            Some(b""),
            OPEN_UNSAFE_REF,
            StatPersisted::default(),
        ));
        tree.insert_system_node("/zookeeper", OPEN_UNSAFE_REF, 0);
        tree.insert_system_node("/zookeeper/quota", OPEN_UNSAFE_REF, 0);
        let read = tree.acls.acquire(&Acl::read_unsafe());
        tree.insert_system_node("/zookeeper/config", read, -1);
        tree.digest = tree.compute_digest();
        tree
    }

    /// The tree digest (`DataTree.getTreeDigest`).
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// The digest computed from scratch over every node.
    pub fn compute_digest(&self) -> u64 {
        self.nodes
            .iter()
            .fold(0u64, |sum, n| sum.wrapping_add(digest::node_digest(n)))
    }

    /// The digest of the node at `path` (0 if absent).
    fn node_digest_at(&self, path: &str) -> u64 {
        self.nodes.get(path).map_or(0, digest::node_digest)
    }

    /// Replaces `before` (a node's digest before a change) by its digest now.
    fn redigest(&mut self, path: &str, before: u64) {
        let after = self.node_digest_at(path);
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
    }

    fn insert_system_node(&mut self, path: &str, acl: i64, aversion: i32) {
        let stat = StatPersisted {
            aversion,
            ..Default::default()
        };
        // The system nodes hold empty (not null) data, as `DataTree`'s constructor makes them.
        let id = self.nodes.insert_new(Node::new(path, Some(b""), acl, stat));
        if let Some(parent) = self.nodes.id_of(path::parent(path)) {
            self.nodes.link(parent, id);
        }
    }

    /// Puts an ensemble's membership in `/zookeeper/config`, as `ZKDatabase.initConfigInZKDatabase` does when a
    /// member loads its database: the `QuorumVerifier` text, version -1 and mzxid the configuration's version,
    /// without a txn. Nodes under `/zookeeper/` are outside the digest.
    pub fn set_config(&mut self, text: &[u8], config_version: i64, time_ms: i64) {
        self.change_node("/zookeeper/config", |node| {
            node.set_data(Some(text));
            node.stat.version = -1;
            node.stat.mzxid = config_version;
            node.stat.mtime = time_ms;
        });
    }

    /// The node at `path`. The empty path is the root too: ZooKeeper's node map holds the root under both `""`
    /// and `"/"`, so reads of `""` see the root.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(if path.is_empty() { "/" } else { path })
    }

    /// The children of `node`, in Apache ZooKeeper's order (see `children`).
    pub fn children<'a>(&'a self, node: &'a Node) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes.children(node)
    }

    /// The number of children of `node`.
    pub fn child_count(&self, node: &Node) -> usize {
        self.nodes.child_count(node)
    }

    /// The names of the children of `node`, in Apache ZooKeeper's order.
    pub fn child_names<'a>(&'a self, node: &'a Node) -> impl Iterator<Item = &'a str> + 'a {
        // Cut from paths that were `&str`s at a slash, so always UTF-8.
        self.child_name_bytes(node)
            .map(|name| std::str::from_utf8(name).unwrap_or_default())
    }

    /// The names of the children of `node` as UTF-8 bytes, in Apache ZooKeeper's order (no UTF-8 check: for
    /// replies that write them as they are).
    pub fn child_name_bytes<'a>(&'a self, node: &'a Node) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.nodes.child_name_bytes(node)
    }

    /// Every node, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> + '_ {
        self.nodes.iter()
    }

    /// The ACL list of a node.
    pub fn acl_of(&self, node: &Node) -> &[Acl] {
        self.acls.get(node.acl)
    }

    /// The ACL list of a node, shared rather than copied.
    pub fn shared_acl_of(&self, node: &Node) -> SharedAcl {
        SharedAcl::clone(self.acls.shared(node.acl))
    }

    /// The stored ACL list equal to `acl`, if some node already uses it.
    pub fn find_acl(&self, acl: &[Acl]) -> Option<SharedAcl> {
        self.acls.find(acl)
    }

    /// The Stat a client sees for `node` (`DataNode.copyStat`): cversion is creations plus deletions
    /// (2 x persisted - children) and containers and TTL nodes show ephemeralOwner 0.
    pub fn client_stat(&self, node: &Node) -> Stat {
        let s = &node.stat;
        let num_children = self.nodes.child_count(node) as i32;
        let owner = match owner_kind(s.ephemeral_owner, self.extended_types) {
            OwnerKind::Ephemeral(session) => session,
            OwnerKind::Persistent | OwnerKind::Container | OwnerKind::Ttl(_) => 0,
        };
        Stat {
            czxid: s.czxid,
            mzxid: s.mzxid,
            ctime: s.ctime,
            mtime: s.mtime,
            version: s.version,
            cversion: s.cversion.wrapping_mul(2).wrapping_sub(num_children),
            aversion: s.aversion,
            ephemeral_owner: owner,
            data_length: node.data_len() as i32,
            num_children,
            pzxid: s.pzxid,
        }
    }

    /// The Stat of the node at `path`, if it exists.
    pub fn stat(&self, path: &str) -> Option<Stat> {
        self.get(path).map(|n| self.client_stat(n))
    }

    /// The ephemerals owned by `session`, in path order.
    pub fn ephemerals_of(&self, session: i64) -> impl Iterator<Item = &String> {
        self.ephemerals.get(&session).into_iter().flatten()
    }

    /// How many ephemeral nodes there are.
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(BTreeSet::len).sum()
    }

    /// The sessions that own ephemerals.
    pub fn sessions_with_ephemerals(&self) -> impl Iterator<Item = (&i64, &BTreeSet<String>)> {
        self.ephemerals.iter()
    }

    /// The node count as ZooKeeper reports it: the root sits in its map twice (`""` and `"/"`).
    pub fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    /// The number of descendants of `path` (not counting it).
    pub fn descendant_count(&self, path: &str) -> usize {
        let Some(node) = self.get(path) else { return 0 };
        let mut count = 0;
        let mut stack: Vec<&Node> = self.children(node).collect();
        while let Some(n) = stack.pop() {
            count += 1;
            stack.extend(self.children(n));
        }
        count
    }

    /// The sum of the lengths of every path and every node's data (`DataTree.approximateDataSize`).
    pub fn approximate_data_size(&self) -> u64 {
        self.nodes.iter().map(|n| n.path_and_data().len() as u64).sum()
    }

    /// The zxid of the last txn applied.
    pub fn last_processed_zxid(&self) -> Zxid {
        self.last_processed_zxid
    }

    /// Moves the last processed zxid forward to `zxid` (never back), as a leader does when its quorum is
    /// established (`Leader.startZkServer`: the tree's zxid becomes the epoch's first, `epoch << 32`).
    pub fn raise_last_processed_zxid(&mut self, zxid: Zxid) {
        self.last_processed_zxid = self.last_processed_zxid.max(zxid);
    }

    /// The container nodes (candidates for the container manager).
    pub fn containers(&self) -> impl Iterator<Item = &String> {
        self.containers.iter()
    }

    /// The TTL nodes.
    pub fn ttl_nodes(&self) -> impl Iterator<Item = &String> {
        self.ttls.iter()
    }

    /// Whether extended ephemeralOwner types (TTL) are recognised.
    pub fn extended_types(&self) -> bool {
        self.extended_types
    }
}
