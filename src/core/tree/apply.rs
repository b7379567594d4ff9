//! Applying a committed txn to the tree (`DataTree.processTxn`). Applying never fails the server: a txn that
//! does not fit the tree (possible only when replaying over a fuzzy snapshot) yields an error result and leaves
//! the tree as it was, as Apache ZooKeeper does.

use bytes::Bytes;
use jute::codes::ErrorCode;
use jute::records::data::{Acl, Stat, StatPersisted};

use super::{path, DataTree, Node, OwnerKind, CONTAINER_OWNER, EXTENDED_MASK};
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
pub struct Trigger {
    pub path: String,
    pub kind: TriggerKind,
    /// For NodeDeleted: the ACL the node had, which decides who may be told (the node is gone by delivery).
    pub deleted_acl: Option<Vec<Acl>>,
}

/// What applying one txn (or one op of a multi) produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyResult {
    Session,
    Created { path: String, stat: Stat },
    Deleted,
    SetData { stat: Stat },
    SetAcl { stat: Stat },
    Check,
    Error(i32),
    Multi(Vec<ApplyResult>),
}

/// The data a node keeps: a copy of its own, exactly its size. The txn's `Bytes` is shared with the request it
/// was decoded from, and sharing it would add a reference-count block to every node for as long as it lives.
fn stored(data: &Option<Bytes>) -> Option<Bytes> {
    data.as_deref().map(Bytes::copy_from_slice)
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
    pub fn apply(&mut self, txn: &Txn, triggers: &mut Vec<Trigger>) -> ApplyResult {
        let result = self.apply_body(txn, &txn.body, triggers);
        if txn.header.zxid > self.last_processed_zxid.0 {
            self.last_processed_zxid = Zxid(txn.header.zxid);
        }
        result
    }

    fn apply_body(&mut self, txn: &Txn, body: &TxnBody, triggers: &mut Vec<Trigger>) -> ApplyResult {
        let h = &txn.header;
        match body {
            TxnBody::CreateSession(_) => ApplyResult::Session,
            TxnBody::CloseSession(close) => {
                // Logs written without the CloseSessionTxn body: the session's ephemerals come from the tree.
                let paths: Vec<String> = match close {
                    Some(c) => c.paths2_delete.clone(),
                    None => self.ephemerals_of(h.client_id).cloned().collect(),
                };
                for p in paths {
                    // A node already gone (replay) is skipped, as killSession does.
                    let _ = self.delete_node(&p, h.zxid, triggers);
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
            TxnBody::Delete(d) => match self.delete_node(&d.path, h.zxid, triggers) {
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

    fn create_node(
        &mut self,
        new: NewNode<'_>,
        zxid: i64,
        time: i64,
        triggers: &mut Vec<Trigger>,
    ) -> ApplyResult {
        let (parent_path, name) = path::split(new.path);
        let exists = self.nodes.contains_key(new.path);
        let parent_before = self.node_digest_at(parent_path);
        let Some(parent) = self.nodes.get_mut(parent_path) else {
            return ApplyResult::Error(ErrorCode::NoNode.code());
        };
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
        if exists {
            self.redigest(parent_path, parent_before);
            return ApplyResult::Error(ErrorCode::NodeExists.code());
        }
        parent.children.insert(name);
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
        let node = Node {
            data: stored(new.data),
            acl,
            stat,
            children: Default::default(),
        };
        let client_stat = self.client_stat(&node);
        self.nodes.insert(new.path.into(), Box::new(node));
        self.redigest(parent_path, parent_before);
        self.redigest(new.path, 0);
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
        triggers.push(Trigger {
            path: new.path.to_string(),
            kind: TriggerKind::Created,
            deleted_acl: None,
        });
        triggers.push(Trigger {
            path: parent_path.to_string(),
            kind: TriggerKind::ChildrenChanged,
            deleted_acl: None,
        });
        ApplyResult::Created {
            path: new.path.to_string(),
            stat: client_stat,
        }
    }

    fn delete_node(&mut self, p: &str, zxid: i64, triggers: &mut Vec<Trigger>) -> Result<(), ErrorCode> {
        let (parent_path, name) = path::split(p);
        if !self.nodes.contains_key(parent_path) {
            return Err(ErrorCode::NoNode);
        }
        let before = self.node_digest_at(p);
        let parent_before = self.node_digest_at(parent_path);
        let node = self.nodes.remove(p).ok_or(ErrorCode::NoNode)?;
        self.digest = self.digest.wrapping_sub(before);
        let mut deleted_acl = Some(self.acls.get(node.acl).to_vec());
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
        self.quota_deleted(p, &node.data);
        if let Some(parent) = self.nodes.get_mut(parent_path) {
            parent.children.remove(name);
            if zxid > parent.stat.pzxid {
                parent.stat.pzxid = zxid;
            }
        }
        self.redigest(parent_path, parent_before);
        triggers.push(Trigger {
            path: p.to_string(),
            kind: TriggerKind::Deleted,
            deleted_acl: deleted_acl.take(),
        });
        triggers.push(Trigger {
            path: parent_path.to_string(),
            kind: TriggerKind::ChildrenChanged,
            deleted_acl: None,
        });
        Ok(())
    }

    fn set_data(
        &mut self,
        p: &str,
        data: &Option<Bytes>,
        version: i32,
        zxid: i64,
        time: i64,
        triggers: &mut Vec<Trigger>,
    ) -> ApplyResult {
        let before = self.node_digest_at(p);
        let Some(node) = self.nodes.get_mut(p) else {
            return ApplyResult::Error(ErrorCode::NoNode.code());
        };
        let old = std::mem::replace(&mut node.data, stored(data));
        node.stat.version = version;
        node.stat.mzxid = zxid;
        node.stat.mtime = time;
        self.redigest(p, before);
        let stat = match self.nodes.get(p) {
            Some(n) => self.client_stat(n),
            None => return ApplyResult::Error(ErrorCode::NoNode.code()),
        };
        self.quota_changed(p, &old, data);
        triggers.push(Trigger {
            path: p.to_string(),
            kind: TriggerKind::DataChanged,
            deleted_acl: None,
        });
        ApplyResult::SetData { stat }
    }

    fn set_acl(&mut self, p: &str, acl: &[Acl], version: i32) -> ApplyResult {
        let Some(old) = self.nodes.get(p).map(|n| n.acl) else {
            return ApplyResult::Error(ErrorCode::NoNode.code());
        };
        self.acls.release(old);
        let new = self.acls.acquire(acl);
        let Some(node) = self.nodes.get_mut(p) else {
            return ApplyResult::Error(ErrorCode::NoNode.code());
        };
        node.acl = new;
        let before = self.node_digest_at(p);
        let Some(node) = self.nodes.get_mut(p) else {
            return ApplyResult::Error(ErrorCode::NoNode.code());
        };
        node.stat.aversion = version;
        self.redigest(p, before);
        match self.nodes.get(p) {
            Some(n) => ApplyResult::SetAcl {
                stat: self.client_stat(n),
            },
            None => ApplyResult::Error(ErrorCode::NoNode.code()),
        }
    }
}
