//! Model-based property tests of the core: random sequences of writes from two sessions, checked against a
//! small model of ZooKeeper's rules (error codes in ZooKeeper's check order, Stat counters, sequential names,
//! ephemerals of closed sessions, one-shot watch events), and snapshots that read back to the same tree.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use jute::codes::EventType;
use jute::records::proto::*;
use jute::request::Request;
use proptest::prelude::*;

use super::tests::Harness;
use super::tree::snapshot;
use crate::types::ConnId;

/// The paths the generated operations touch: deep enough for parents, children and grandchildren.
const PATHS: [&str; 7] = ["/a", "/b", "/a/x", "/a/y", "/b/x", "/a/x/z", "/b/x/z"];

#[derive(Debug, Clone)]
enum Op {
    Create {
        session: usize,
        path: usize,
        ephemeral: bool,
        sequential: bool,
    },
    Delete {
        path: usize,
        version: i32,
    },
    SetData {
        path: usize,
        version: i32,
        len: usize,
    },
    /// The session closes and a new one takes its place.
    Close {
        session: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let path = 0..PATHS.len();
    let version = prop_oneof![3 => Just(-1), 1 => 0..3i32];
    prop_oneof![
        5 => (0..2usize, path.clone(), any::<bool>(), prop::bool::weighted(0.2)).prop_map(
            |(session, path, ephemeral, sequential)| Op::Create {
                session,
                path,
                ephemeral,
                sequential
            }
        ),
        3 => (path.clone(), version.clone()).prop_map(|(path, version)| Op::Delete { path, version }),
        3 => (path, version, 0..40usize).prop_map(|(path, version, len)| Op::SetData { path, version, len }),
        1 => (0..2usize).prop_map(|session| Op::Close { session }),
    ]
}

#[derive(Debug, Clone, Default)]
struct Node {
    data_len: usize,
    version: i32,
    /// The persisted cversion (StatPersisted), which names sequential children.
    cversion: i32,
    /// Index of the owning session slot, for ephemerals.
    owner: Option<usize>,
}

/// ZooKeeper's rules over a map of paths.
#[derive(Default)]
struct Model {
    nodes: BTreeMap<String, Node>,
}

fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "/",
    }
}

impl Model {
    fn new() -> Model {
        let mut nodes = BTreeMap::new();
        nodes.insert("/".to_string(), Node::default());
        Model { nodes }
    }

    fn children(&self, path: &str) -> Vec<String> {
        self.nodes
            .keys()
            .filter(|p| p.as_str() != "/" && parent_of(p) == path)
            .cloned()
            .collect()
    }

    /// The error of a create, or the name it creates.
    fn create(&mut self, path: &str, owner: Option<usize>, sequential: bool) -> Result<String, i32> {
        let parent = parent_of(path).to_string();
        let Some(p) = self.nodes.get(&parent) else {
            return Err(-101);
        };
        let name = if sequential {
            format!("{path}{:010}", p.cversion)
        } else {
            path.to_string()
        };
        if self.nodes.contains_key(&name) {
            return Err(-110);
        }
        if p.owner.is_some() {
            return Err(-108);
        }
        self.nodes.get_mut(&parent).expect("parent").cversion += 1;
        self.nodes.insert(
            name.clone(),
            Node {
                owner,
                // Harness::create writes one byte.
                data_len: 1,
                ..Node::default()
            },
        );
        Ok(name)
    }

    fn delete(&mut self, path: &str, version: i32) -> Result<(), i32> {
        let Some(n) = self.nodes.get(path) else {
            return Err(-101);
        };
        if version != -1 && version != n.version {
            return Err(-103);
        }
        if !self.children(path).is_empty() {
            return Err(-111);
        }
        self.remove(path);
        Ok(())
    }

    /// A delete leaves the parent's persisted cversion alone: only a create stores one (CreateTxn's
    /// parentCVersion); the cversion a client sees counts deletes through the number of children.
    fn remove(&mut self, path: &str) {
        self.nodes.remove(path);
    }

    fn set_data(&mut self, path: &str, version: i32, len: usize) -> Result<(), i32> {
        let Some(n) = self.nodes.get_mut(path) else {
            return Err(-101);
        };
        if version != -1 && version != n.version {
            return Err(-103);
        }
        n.version += 1;
        n.data_len = len;
        Ok(())
    }

    /// Ephemerals of a closing session, deepest first (they have no children).
    fn close(&mut self, owner: usize) -> Vec<String> {
        let gone: Vec<String> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.owner == Some(owner))
            .map(|(p, _)| p.clone())
            .collect();
        for p in &gone {
            self.remove(p);
        }
        gone
    }
}

/// Two sessions on connections 1 and 2 (a replaced session takes the next free connection id).
struct World {
    h: Harness,
    conns: [u64; 2],
    session_ids: [i64; 2],
    next_conn: u64,
}

impl World {
    fn new() -> World {
        let mut h = Harness::new();
        let a = h.connect(1).session_id;
        let b = h.connect(2).session_id;
        World {
            h,
            conns: [1, 2],
            session_ids: [a, b],
            next_conn: 3,
        }
    }

    fn apply(&mut self, op: &Op) -> i32 {
        match op {
            Op::Create {
                session,
                path,
                ephemeral,
                sequential,
            } => {
                let flags = i32::from(*ephemeral) | (i32::from(*sequential) << 1);
                self.h.create(self.conns[*session], PATHS[*path], flags).0
            }
            Op::Delete { path, version } => {
                let req = DeleteRequest {
                    path: PATHS[*path].into(),
                    version: *version,
                };
                self.h.send(self.conns[0], Request::Delete(req)).0.err
            }
            Op::SetData { path, version, len } => {
                let req = SetDataRequest {
                    path: PATHS[*path].into(),
                    data: Some(Bytes::from(vec![7u8; *len])),
                    version: *version,
                };
                self.h.send(self.conns[0], Request::SetData(req)).0.err
            }
            Op::Close { session } => {
                let conn = self.conns[*session];
                let err = self.h.send(conn, Request::CloseSession).0.err;
                let now = self.h.now;
                self.h.core.disconnected(now, ConnId(conn));
                let fresh = self.next_conn;
                self.next_conn += 1;
                self.conns[*session] = fresh;
                self.session_ids[*session] = self.h.connect(fresh).session_id;
                err
            }
        }
    }
}

fn check_tree(world: &mut World, model: &Model) -> Result<(), TestCaseError> {
    let conn = world.conns[0];
    for (path, node) in &model.nodes {
        let stat = world.h.stat(conn, path);
        prop_assert!(stat.is_some(), "{} exists in the model only", path);
        let stat = stat.expect("checked");
        prop_assert_eq!(stat.version, node.version, "version of {}", path);
        // The root also has /zookeeper, which came without a cversion change.
        let children = model.children(path).len() + usize::from(path == "/");
        prop_assert_eq!(stat.num_children as usize, children, "numChildren of {}", path);
        // DataNode.copyStat shows the persisted cversion doubled less the children.
        prop_assert_eq!(
            stat.cversion,
            node.cversion * 2 - children as i32,
            "cversion of {}",
            path
        );
        if path != "/" {
            prop_assert_eq!(stat.data_length as usize, node.data_len, "dataLength of {}", path);
        }
        let owner = node.owner.map_or(0, |s| world.session_ids[s]);
        prop_assert_eq!(stat.ephemeral_owner, owner, "ephemeralOwner of {}", path);
        prop_assert!(
            stat.mzxid >= stat.czxid && stat.pzxid >= stat.czxid,
            "zxids of {}",
            path
        );
    }
    let tree = world.h.core.tree();
    // The model has the root; the server also has /zookeeper, /zookeeper/quota and /zookeeper/config, and counts
    // the root twice as ZooKeeper does ("" and "/").
    prop_assert_eq!(
        tree.node_count(),
        model.nodes.len() + 4,
        "nodes that exist in the server only"
    );
    prop_assert_eq!(tree.digest(), tree.compute_digest(), "incremental digest");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every reply's error and every Stat agree with the model, whatever the order of writes and closes.
    #[test]
    fn writes_follow_zookeepers_rules(ops in prop::collection::vec(op(), 1..60)) {
        let mut world = World::new();
        let mut model = Model::new();
        for op in &ops {
            let expected = match op {
                Op::Create { session, path, ephemeral, sequential } => {
                    let owner = ephemeral.then_some(*session);
                    model.create(PATHS[*path], owner, *sequential).map(|_| ()).err().unwrap_or(0)
                }
                Op::Delete { path, version } => model.delete(PATHS[*path], *version).err().unwrap_or(0),
                Op::SetData { path, version, len } => {
                    model.set_data(PATHS[*path], *version, *len).err().unwrap_or(0)
                }
                Op::Close { session } => {
                    model.close(*session);
                    0
                }
            };
            let got = world.apply(op);
            prop_assert_eq!(got, expected, "reply to {:?}", op);
        }
        check_tree(&mut world, &model)?;
    }

    /// A snapshot of any reachable tree reads back to a tree with the same nodes, Stats, ACLs and digest.
    #[test]
    fn snapshots_read_back_to_the_same_tree(ops in prop::collection::vec(op(), 1..40)) {
        let mut world = World::new();
        for op in &ops {
            world.apply(op);
        }
        let tree = world.h.core.tree();
        let sessions: Vec<(i64, i32)> = world.session_ids.iter().map(|s| (*s, 30000)).collect();
        let bytes = snapshot::snapshot_of(&tree, &sessions).to_bytes();
        let loaded = snapshot::decode(&bytes, false).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(loaded.tree.node_count(), tree.node_count());
        prop_assert_eq!(loaded.tree.compute_digest(), tree.compute_digest());
        for p in ["/", "/zookeeper"].iter().chain(PATHS.iter()) {
            prop_assert_eq!(loaded.tree.stat(p), tree.stat(p), "stat of {}", p);
            let acl = |t: &super::tree::DataTree| t.get(p).map(|n| t.acl_of(n).to_vec());
            prop_assert_eq!(acl(&loaded.tree), acl(&tree), "acl of {}", p);
        }
        prop_assert_eq!(loaded.sessions, sessions);
    }
}

/// Which one-shot watches session 2 holds, by kind, and the events a write owes it.
#[derive(Default)]
struct Watches {
    data: BTreeSet<String>,
    exist: BTreeSet<String>,
    child: BTreeSet<String>,
}

impl Watches {
    /// Fires the watches a write of `kind` at `path` triggers, removing them (one-shot), as ZooKeeper's
    /// `DataTree` triggers them: one event per watcher and path, however many of its watches matched.
    fn fire(&mut self, kind: EventType, path: &str) -> Vec<(i32, String)> {
        let mut out = Vec::new();
        let mut hit = |table: &mut BTreeSet<String>, p: &str, event: EventType| {
            if table.remove(p) {
                let e = (event.code(), p.to_string());
                if !out.contains(&e) {
                    out.push(e);
                }
            }
        };
        match kind {
            EventType::NodeCreated => {
                hit(&mut self.exist, path, EventType::NodeCreated);
                hit(&mut self.data, path, EventType::NodeCreated);
                hit(&mut self.child, parent_of(path), EventType::NodeChildrenChanged);
            }
            EventType::NodeDataChanged => {
                hit(&mut self.data, path, EventType::NodeDataChanged);
                hit(&mut self.exist, path, EventType::NodeDataChanged);
            }
            EventType::NodeDeleted => {
                hit(&mut self.data, path, EventType::NodeDeleted);
                hit(&mut self.exist, path, EventType::NodeDeleted);
                hit(&mut self.child, path, EventType::NodeDeleted);
                hit(&mut self.child, parent_of(path), EventType::NodeChildrenChanged);
            }
            _ => {}
        }
        out
    }
}

#[derive(Debug, Clone)]
enum WatchOp {
    /// Session 2 asks with a watch: 0 getData, 1 exists, 2 getChildren.
    Watch { kind: u8, path: usize },
    /// Session 1 writes.
    Write(Op),
}

fn watch_op() -> impl Strategy<Value = WatchOp> {
    prop_oneof![
        2 => (0..3u8, 0..PATHS.len()).prop_map(|(kind, path)| WatchOp::Watch { kind, path }),
        3 => op().prop_filter_map("writes by session 1 only", |op| match op {
            Op::Close { .. } => None,
            Op::Create { path, sequential, .. } => Some(WatchOp::Write(Op::Create {
                session: 0,
                path,
                ephemeral: false,
                sequential,
            })),
            other => Some(WatchOp::Write(other)),
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// One-shot watches fire once, with ZooKeeper's event type and path, and are gone afterwards; a read on a
    /// missing node sets a watch only through exists.
    #[test]
    fn one_shot_watches_fire_once_with_zookeepers_events(ops in prop::collection::vec(watch_op(), 1..60)) {
        let mut world = World::new();
        let mut model = Model::new();
        let mut watches = Watches::default();
        let watcher = world.conns[1];
        for op in &ops {
            match op {
                WatchOp::Watch { kind, path } => {
                    let p = PATHS[*path].to_string();
                    let exists = model.nodes.contains_key(&p);
                    let request = match kind {
                        0 => Request::GetData(GetDataRequest { path: p.clone(), watch: true }),
                        1 => Request::Exists(ExistsRequest { path: p.clone(), watch: true }),
                        _ => Request::GetChildren(GetChildrenRequest { path: p.clone(), watch: true }),
                    };
                    let err = world.h.send(watcher, request).0.err;
                    prop_assert_eq!(err, if exists { 0 } else { -101 }, "read of {}", p);
                    match (kind, exists) {
                        (0, true) => { watches.data.insert(p); }
                        (1, true) => { watches.data.insert(p); }
                        (1, false) => { watches.exist.insert(p); }
                        (2, true) => { watches.child.insert(p); }
                        _ => {}
                    }
                }
                WatchOp::Write(w) => {
                    let mut expected = Vec::new();
                    match w {
                        Op::Create { path, sequential, .. } => {
                            if let Ok(name) = model.create(PATHS[*path], None, *sequential) {
                                expected = watches.fire(EventType::NodeCreated, &name);
                            }
                        }
                        Op::Delete { path, version } => {
                            if model.delete(PATHS[*path], *version).is_ok() {
                                expected = watches.fire(EventType::NodeDeleted, PATHS[*path]);
                            }
                        }
                        Op::SetData { path, version, len } => {
                            if model.set_data(PATHS[*path], *version, *len).is_ok() {
                                expected = watches.fire(EventType::NodeDataChanged, PATHS[*path]);
                            }
                        }
                        Op::Close { .. } => {}
                    }
                    world.apply(w);
                    let mut got = world.h.events(watcher);
                    got.sort();
                    expected.sort();
                    prop_assert_eq!(got, expected, "events of {:?}", w);
                }
            }
        }
    }
}

#[test]
fn the_model_names_sequential_nodes_from_the_parent_cversion() {
    let mut m = Model::new();
    m.create("/a", None, false).expect("a");
    m.create("/a/x", None, false).expect("x");
    m.delete("/a/x", -1).expect("delete");
    assert_eq!(m.create("/a/q", None, true), Ok("/a/q0000000001".to_string()));
    assert_eq!(m.create("/a/x", Some(0), false), Ok("/a/x".to_string()));
    assert_eq!(m.create("/a/x/z", None, false), Err(-108));
    assert_eq!(m.delete("/a", -1), Err(-111));
}
