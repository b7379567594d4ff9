//! The container manager (`ContainerManager`): every `znode.container.checkIntervalMs` the leader (or a
//! standalone server) deletes empty containers that once had a child (or, with
//! `znode.container.maxNeverUsedIntervalMs`, that never had one for that long) and TTL nodes with no children whose
//! last change is older than their TTL. Each deletion is a deleteContainer (20) txn from session 0, cxid 0, capped
//! at `znode.container.maxPerMinute`.

use jute::codes::{ErrorCode, OpCode};
use jute::records::txn::{DeleteTxn, ErrorTxn};

use super::pending::Pending;
use super::tree::{owner_kind, path, DataTree, OwnerKind};
use super::txn::TxnBody;
use super::{Core, Effect, Origin};
use crate::types::{Now, SessionId};

/// The container manager's settings (JVM properties `znode.container.*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerConfig {
    pub check_interval_ms: u64,
    pub max_per_minute: u32,
    /// 0 means containers that never had a child are kept forever.
    pub max_never_used_interval_ms: u64,
}

impl Default for ContainerConfig {
    fn default() -> Self {
        ContainerConfig {
            check_interval_ms: 60_000,
            max_per_minute: 10_000,
            max_never_used_interval_ms: 0,
        }
    }
}

/// The nodes the manager would delete now (`ContainerManager.getCandidates`), in path order.
pub fn candidates(tree: &DataTree, config: &ContainerConfig, wall_ms: i64) -> Vec<String> {
    let mut out = Vec::new();
    for p in tree.containers() {
        let Some(node) = tree.get(p) else { continue };
        if tree.child_count(node) > 0 {
            continue;
        }
        let elapsed = wall_ms.saturating_sub(node.stat.mtime);
        let never_used_expired =
            config.max_never_used_interval_ms != 0 && elapsed > config.max_never_used_interval_ms as i64;
        if node.stat.cversion > 0 || never_used_expired {
            out.push(p.clone());
        }
    }
    for p in tree.ttl_nodes() {
        let Some(node) = tree.get(p) else { continue };
        if tree.child_count(node) > 0 {
            continue;
        }
        if let OwnerKind::Ttl(ttl) = owner_kind(node.stat.ephemeral_owner, tree.extended_types()) {
            if ttl != 0 && wall_ms.saturating_sub(node.stat.mtime) > ttl {
                out.push(p.clone());
            }
        }
    }
    out.sort();
    out
}

/// Prepares a deleteContainer (`PrepRequestProcessor`, deleteContainer case): no ACL check; NOTEMPTY if a child
/// appeared meanwhile, BADVERSION for a normal ephemeral.
pub fn prepare_delete(tree: &DataTree, pending: &mut Pending, zxid: i64, p: &str) -> (OpCode, TxnBody) {
    match check_delete(tree, pending, zxid, p) {
        Ok(()) => (
            OpCode::DeleteContainer,
            TxnBody::Delete(DeleteTxn { path: p.to_string() }),
        ),
        Err(code) => (OpCode::Error, TxnBody::Error(ErrorTxn { err: code.code() })),
    }
}

fn check_delete(tree: &DataTree, pending: &mut Pending, zxid: i64, p: &str) -> Result<(), ErrorCode> {
    if !p.contains('/') || p.contains('\0') || super::prep::SPECIAL_PATHS.contains(&p) {
        return Err(ErrorCode::BadArguments);
    }
    let node = pending.record(tree, p).ok_or(ErrorCode::NoNode)?;
    if node.child_count > 0 {
        return Err(ErrorCode::NotEmpty);
    }
    if matches!(
        owner_kind(node.stat.ephemeral_owner, tree.extended_types()),
        OwnerKind::Ephemeral(_)
    ) {
        return Err(ErrorCode::BadVersion);
    }
    let parent_path = path::parent(p);
    let mut parent = pending.record(tree, parent_path).ok_or(ErrorCode::NoNode)?;
    parent.child_count -= 1;
    parent.stat.pzxid = zxid;
    pending.add(tree, zxid, parent_path, Some(parent), None);
    pending.add(tree, zxid, p, None, None);
    Ok(())
}

impl Core {
    /// Runs the container manager if its interval has passed.
    pub(super) fn check_containers(&mut self, now: Now, out: &mut Vec<Effect>) {
        let interval = self.config.containers.check_interval_ms;
        if interval == 0 || now.mono_ms < self.next_container_check_ms {
            return;
        }
        self.next_container_check_ms = now.mono_ms + interval;
        let limit = self.config.containers.max_per_minute as usize;
        let due = candidates(&self.tree.read(), &self.config.containers, now.wall_ms);
        for p in due.into_iter().take(limit) {
            let (txn_type, body) =
                prepare_delete(&self.tree.read(), &mut self.pending, self.next_zxid + 1, &p);
            self.propose_txn(now, SessionId(0), 0, txn_type, body, Origin::Expiry, out);
        }
    }
}
