//! Applying a committed txn to the tree (`DataTree.processTxn`). Applying never fails the server: a txn that
//! does not fit the tree (possible only when replaying over a fuzzy snapshot) yields an error result and leaves
//! the tree as it was, as Apache ZooKeeper does.
//!
//! Triggers and results borrow their paths from the txn being applied (its parent paths are slices of its
//! paths): the core delivers them before the txn is dropped, so a create allocates no path copy for them.

use std::borrow::Cow;

use bytes::Bytes;
use jute::codes::ErrorCode;
use jute::records::data::{Acl, Stat, StatPersisted};

use super::{digest, path, DataTree, Node, OwnerKind, SharedAcl, CONTAINER_OWNER, EXTENDED_MASK};
use crate::core::txn::{Txn, TxnBody};
use crate::types::Zxid;

/// Which watch event a change fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    Created,
    Deleted,
    DataChanged,
    ChildrenChanged,
}

/// A change that watches on `path` may be told about, in the order the tree made the changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger<'t> {
    /// Borrowed from the txn, except for the ephemerals of a closeSession logged without its path list.
    pub path: Cow<'t, str>,
    pub kind: TriggerKind,
    /// For NodeDeleted: the ACL the node had, which decides who may be told (the node is gone by delivery).
    pub deleted_acl: Option<SharedAcl>,
}

impl<'t> Trigger<'t> {
    fn new(path: Cow<'t, str>, kind: TriggerKind) -> Trigger<'t> {
        Trigger {
            path,
            kind,
            deleted_acl: None,
        }
    }
}

/// What applying one txn (or one op of a multi) produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyResult<'t> {
    Session,
    /// `path` is the txn's.
    Created {
        path: &'t str,
        stat: Stat,
    },
    Deleted,
    SetData {
        stat: Stat,
    },
    SetAcl {
        stat: Stat,
    },
    Check,
    Error(i32),
    Multi(Vec<ApplyResult<'t>>),
}

/// The parent of `p`, borrowed from the txn as `p` is.
fn parent_of<'t>(p: &Cow<'t, str>) -> Cow<'t, str> {
    match p {
        Cow::Borrowed(p) => Cow::Borrowed(path::parent(p)),
        Cow::Owned(p) => Cow::Owned(path::parent(p).to_string()),
    }
}

struct NewNode<'a> {
    path: &'a str,
    data: &'a Option<Bytes>,
    acl: &'a [Acl],
    owner: i64,
    parent_cversion: i32,
}

impl DataTree {
    /// Applies `txn`, appending the watch triggers it fires to `triggers`.
    pub fn apply<'t>(&mut self, txn: &'t Txn, triggers: &mut Vec<Trigger<'t>>) -> ApplyResult<'t> {
        let result = self.apply_body(txn, &txn.body, triggers);
        if txn.header.zxid > self.last_processed_zxid.0 {
            self.last_processed_zxid = Zxid(txn.header.zxid);
        }
        result
    }

    fn apply_body<'t>(
        &mut self,
        txn: &Txn,
        body: &'t TxnBody,
        triggers: &mut Vec<Trigger<'t>>,
    ) -> ApplyResult<'t> {
        let h = &txn.header;
        match body {
            TxnBody::CreateSession(_) => ApplyResult::Session,
            TxnBody::CloseSession(close) => {
                // Logs written without the CloseSessionTxn body: the session's ephemerals come from the tree.
                let paths: Vec<Cow<'t, str>> = match close {
                    Some(c) => c
                        .paths2_delete
                        .iter()
                        .map(|p| Cow::Borrowed(p.as_str()))
                        .collect(),
                    None => self.ephemerals_of(h.client_id).cloned().map(Cow::Owned).collect(),
                };
                for p in paths {
                    // A node already gone (replay) is skipped, as killSession does.
                    let _ = self.delete_node(p, h.zxid, triggers);
                }
                self.ephemerals.remove(&h.client_id);
                ApplyResult::Session
            }
            TxnBody::Create(c) => {
                let owner = if c.ephemeral { h.client_id } else { 0 };
                let new = NewNode {
                    path: &c.path,
                    data: &c.data,
                    acl: &c.acl,
                    owner,
                    parent_cversion: c.parent_cversion,
                };
                self.create_node(new, h.zxid, h.time, triggers)
            }
            TxnBody::CreateContainer(c) => {
                let new = NewNode {
                    path: &c.path,
                    data: &c.data,
                    acl: &c.acl,
                    owner: CONTAINER_OWNER,
                    parent_cversion: c.parent_cversion,
                };
                self.create_node(new, h.zxid, h.time, triggers)
            }
            TxnBody::CreateTtl(c) => {
                let new = NewNode {
                    path: &c.path,
                    data: &c.data,
                    acl: &c.acl,
                    owner: EXTENDED_MASK | (c.ttl & super::TTL_MAX_MS),
                    parent_cversion: c.parent_cversion,
                };
                self.create_node(new, h.zxid, h.time, triggers)
            }
            TxnBody::Delete(d) => match self.delete_node(Cow::Borrowed(&d.path), h.zxid, triggers) {
                Ok(()) => ApplyResult::Deleted,
                Err(code) => ApplyResult::Error(code.code()),
            },
            TxnBody::SetData(s) => self.set_data(&s.path, &s.data, s.version, h.zxid, h.time, triggers),
            TxnBody::SetAcl(s) => self.set_acl(&s.path, &s.acl, s.version),
            TxnBody::Check(_) => ApplyResult::Check,
            TxnBody::Error(e) => ApplyResult::Error(e.err),
            TxnBody::Multi(subs) => {
                if subs.iter().any(|(_, b)| matches!(b, TxnBody::Error(_))) {
                    // One failed op fails them all: nothing is applied (`DataTree.processTxn`, multi case).
                    let results = subs
                        .iter()
                        .map(|(_, b)| match b {
                            TxnBody::Error(e) => ApplyResult::Error(e.err),
                            _ => ApplyResult::Error(ErrorCode::Ok.code()),
                        })
                        .collect();
                    return ApplyResult::Multi(results);
                }
                let results = subs
                    .iter()
                    .map(|(_, b)| self.apply_body(txn, b, triggers))
                    .collect();
                ApplyResult::Multi(results)
            }
        }
    }

    fn create_node<'t>(
        &mut self,
        new: NewNode<'t>,
        zxid: i64,
        time: i64,
        triggers: &mut Vec<Trigger<'t>>,
    ) -> ApplyResult<'t> {
        let parent_path = path::parent(new.path);
        let exists = self.nodes.id_of(new.path).is_some();
        let Some(parent_id) = self.nodes.id_of(parent_path) else {
            return ApplyResult::Error(ErrorCode::NoNode.code());
        };
        let Some(parent) = self.nodes.node_mut(parent_id) else {
            return ApplyResult::Error(ErrorCode::NoNode.code());
        };
        let parent_before = digest::node_digest(parent);
        let cversion = if new.parent_cversion == -1 {
            parent.stat.cversion + 1
        } else {
            new.parent_cversion
        };
        // Only move forward: a replay over a fuzzy snapshot may see this create again (`setCversionPzxid`).
        if cversion > parent.stat.cversion {
            parent.stat.cversion = cversion;
            parent.stat.pzxid = zxid;
        }
        let parent_after = digest::node_digest(parent);
        self.digest = self.digest.wrapping_sub(parent_before).wrapping_add(parent_after);
        if exists {
            return ApplyResult::Error(ErrorCode::NodeExists.code());
        }
        let acl = self.acls.acquire(new.acl);
        let stat = StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: new.owner,
            pzxid: zxid,
        };
        // The node keeps a copy of the data: the txn's `Bytes` shares the request it was decoded from.
        let node = Node::new(new.path, new.data.as_deref(), acl, stat);
        let client_stat = self.client_stat(&node);
        self.digest = self.digest.wrapping_add(digest::node_digest(&node));
        let id = self.nodes.insert_new(node);
        self.nodes.link(parent_id, id);
        match super::owner_kind(new.owner, self.extended_types) {
            OwnerKind::Ephemeral(session) => {
                self.ephemerals
                    .entry(session)
                    .or_default()
                    .insert(new.path.to_string());
            }
            OwnerKind::Container => {
                self.containers.insert(new.path.to_string());
            }
            OwnerKind::Ttl(_) => {
                self.ttls.insert(new.path.to_string());
            }
            OwnerKind::Persistent => {}
        }
        self.quota_created(new.path, new.data);
        triggers.push(Trigger::new(Cow::Borrowed(new.path), TriggerKind::Created));
        triggers.push(Trigger::new(
            Cow::Borrowed(parent_path),
            TriggerKind::ChildrenChanged,
        ));
        ApplyResult::Created {
            path: new.path,
            stat: client_stat,
        }
    }

    fn delete_node<'t>(
        &mut self,
        path: Cow<'t, str>,
        zxid: i64,
        triggers: &mut Vec<Trigger<'t>>,
    ) -> Result<(), ErrorCode> {
        let p = &*path;
        let parent_path = path::parent(p);
        let Some(parent_id) = self.nodes.id_of(parent_path) else {
            return Err(ErrorCode::NoNode);
        };
        // The parent's pzxid moves even when the node is gone already, as `DataTree.deleteNode` moves it before
        // it looks for the node: a replay over a fuzzy snapshot that missed the node then still ends with the
        // pzxid the live tree had.
        let parent_before = self.node_digest_at(parent_path);
        let removed = self.nodes.remove(p);
        if let Some(parent) = self.nodes.node_mut(parent_id) {
            if zxid > parent.stat.pzxid {
                parent.stat.pzxid = zxid;
            }
        }
        self.redigest(parent_path, parent_before);
        let (_, node) = removed.ok_or(ErrorCode::NoNode)?;
        self.digest = self.digest.wrapping_sub(digest::node_digest(&node));
        let deleted_acl = Some(SharedAcl::clone(self.acls.shared(node.acl)));
        self.acls.release(node.acl);
        match super::owner_kind(node.stat.ephemeral_owner, self.extended_types) {
            OwnerKind::Ephemeral(session) => {
                if let Some(set) = self.ephemerals.get_mut(&session) {
                    set.remove(p);
                    if set.is_empty() {
                        self.ephemerals.remove(&session);
                    }
                }
            }
            OwnerKind::Container => {
                self.containers.remove(p);
            }
            OwnerKind::Ttl(_) => {
                self.ttls.remove(p);
            }
            OwnerKind::Persistent => {}
        }
        self.quota_deleted(p, node.data_len());
        let parent = parent_of(&path);
        triggers.push(Trigger {
            deleted_acl,
            ..Trigger::new(path, TriggerKind::Deleted)
        });
        triggers.push(Trigger::new(parent, TriggerKind::ChildrenChanged));
        Ok(())
    }

    fn set_data<'t>(
        &mut self,
        p: &'t str,
        data: &Option<Bytes>,
        version: i32,
        zxid: i64,
        time: i64,
        triggers: &mut Vec<Trigger<'t>>,
    ) -> ApplyResult<'t> {
        let mut old = 0;
        let Some(stat) = self.change_node(p, |node| {
            old = node.data_len();
            node.set_data(data.as_deref());
            node.stat.version = version;
            node.stat.mzxid = zxid;
            node.stat.mtime = time;
        }) else {
            return ApplyResult::Error(ErrorCode::NoNode.code());
        };
        self.quota_changed(p, old, data);
        triggers.push(Trigger::new(Cow::Borrowed(p), TriggerKind::DataChanged));
        ApplyResult::SetData { stat }
    }

    fn set_acl(&mut self, p: &str, acl: &[Acl], version: i32) -> ApplyResult<'static> {
        let Some(old) = self.nodes.get(p).map(|n| n.acl) else {
            return ApplyResult::Error(ErrorCode::NoNode.code());
        };
        self.acls.release(old);
        let new = self.acls.acquire(acl);
        match self.change_node(p, |node| {
            node.acl = new;
            node.stat.aversion = version;
        }) {
            Some(stat) => ApplyResult::SetAcl { stat },
            None => ApplyResult::Error(ErrorCode::NoNode.code()),
        }
    }

    /// Changes the node at `p` in place (found once), keeps the tree digest up to date and returns the Stat a
    /// client sees afterwards; None if there is no such node.
    pub(super) fn change_node(&mut self, p: &str, change: impl FnOnce(&mut Node)) -> Option<Stat> {
        let id = self.nodes.id_of(p)?;
        let node = self.nodes.node_mut(id)?;
        let before = digest::node_digest(node);
        change(node);
        let after = digest::node_digest(node);
        self.digest = self.digest.wrapping_sub(before).wrapping_add(after);
        self.nodes.node(id).map(|n| self.client_stat(n))
    }
}
