//! Turning a write request into a txn (`PrepRequestProcessor.pRequest2Txn`). Each write is validated against the
//! committed tree plus the outstanding changes of earlier writes, in ZooKeeper's check order, so the first
//! failing check decides the error code. A failed write still becomes a txn: an `ErrorTxn` that consumes its
//! zxid, as Apache ZooKeeper logs it.

use jute::codes::{perms, CreateMode, ErrorCode, OpCode};
use jute::records::data::{Acl, Id, StatPersisted};
use jute::records::multi::MultiOp;
use jute::records::proto::{
    CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest, SetAclRequest, SetDataRequest,
};
use jute::records::txn::*;
use jute::request::Request;

use super::auth::{self, AclPolicy};
use super::pending::{ChangeRecord, Pending, Saved};
use super::tree::{
    digest, owner_kind, path, quota, DataTree, OwnerKind, SharedAcl, CONTAINER_OWNER, EXTENDED_MASK,
    TTL_MAX_MS,
};
use super::txn::TxnBody;

/// The paths nobody may delete (`ZKDatabase.isSpecialPath`).
pub(super) const SPECIAL_PATHS: [&str; 4] = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"];

/// The opcode a multi's op runs as (and is logged as). ZooKeeper rebuilds each create op from its flags
/// (`Op.create`): TTL modes run as createTTL, the container mode as createContainer, and every other mode keeps
/// the op's own opcode (3.8.2+ and 3.9, ZOOKEEPER-4026: a create2 answers with its Stat and is logged as a
/// create2 sub-txn; 3.8.0 ran it as a plain create), except that a createTTL with a non-TTL mode is a create and
/// drops its ttl.
fn multi_opcode(op: &MultiOp) -> OpCode {
    let (flags, own) = match op {
        MultiOp::Create(own, r) => (r.flags, *own),
        MultiOp::CreateTtl(r) => (r.flags, OpCode::Create),
        _ => return op.opcode(),
    };
    match CreateMode::from_code(flags) {
        Some(mode) if mode.is_ttl() => OpCode::CreateTtl,
        Some(CreateMode::Container) => OpCode::CreateContainer,
        Some(_) => own,
        None => OpCode::Create,
    }
}

/// Everything a write is validated against.
pub struct Prep<'a> {
    pub tree: &'a DataTree,
    pub pending: &'a mut Pending,
    pub ids: &'a [Id],
    pub policy: &'a AclPolicy,
    pub extended_types: bool,
    /// `zookeeper.enforceQuota`: hard quota limits refuse writes.
    pub enforce_quota: bool,
    /// The session's state: Ok, or the error a session check raises (SESSIONEXPIRED while closing).
    pub session_check: Result<(), ErrorCode>,
    /// The check of an ephemeral create, which needs a global session (`checkGlobalSession`), or the error
    /// a local session that could not be upgraded gets (`validateCreateRequest`).
    pub ephemeral_check: Result<(), ErrorCode>,
    pub session_id: i64,
    pub zxid: i64,
    pub time: i64,
}

type Prepared = Result<TxnBody, ErrorCode>;

fn version_check(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

fn data_len(data: &Option<bytes::Bytes>) -> i64 {
    data.as_ref().map_or(0, |d| d.len() as i64)
}

/// The parent a create adds its node to.
fn parent_of(p: &str) -> &str {
    match path::parent(p) {
        "" => "/",
        parent => parent,
    }
}

/// A createTTL request as the create it is, with its ttl apart.
fn create_request(r: CreateTtlRequest) -> CreateRequest {
    CreateRequest {
        path: r.path,
        data: r.data,
        acl: r.acl,
        flags: r.flags,
    }
}

fn validate(p: &str) -> Result<(), ErrorCode> {
    if path::is_valid(p) {
        Ok(())
    } else {
        Err(ErrorCode::BadArguments)
    }
}

impl Prep<'_> {
    /// The txn type and body for a write request; a failure becomes `(Error, ErrorTxn)`. The request is
    /// consumed: its path, data and ACL move into the txn instead of being copied.
    pub fn prepare(&mut self, request: Request) -> (OpCode, TxnBody) {
        let op = request.opcode();
        let result = match request {
            Request::Create(op, r) => self.create(op, r, -1, None),
            Request::CreateTtl(r) => {
                let ttl = r.ttl;
                self.create(OpCode::CreateTtl, create_request(r), ttl, None)
            }
            Request::Delete(r) => self.delete(r, None),
            Request::SetData(r) => self.set_data(r, None),
            Request::SetAcl(r) => self.set_acl(r, None),
            Request::Multi(m) => self.multi(m.ops),
            Request::Reconfig(_) => Err(ErrorCode::ReconfigDisabled),
            _ => Err(ErrorCode::Unimplemented),
        };
        match result {
            Ok(body) => (op, body),
            Err(code) => (OpCode::Error, TxnBody::Error(ErrorTxn { err: code.code() })),
        }
    }

    fn record(&self, p: &str) -> Result<ChangeRecord, ErrorCode> {
        self.pending.record(self.tree, p).ok_or(ErrorCode::NoNode)
    }

    fn check_acl(&self, acl: &[Acl], perm: i32) -> Result<(), ErrorCode> {
        auth::check(acl, perm, self.ids, self.policy)
    }

    /// `acl` as a change record holds it: the tree's copy when some node has the same list (most do).
    fn shared_acl(&self, acl: &[Acl]) -> SharedAcl {
        self.tree.find_acl(acl).unwrap_or_else(|| acl.into())
    }

    fn create(&mut self, op: OpCode, r: CreateRequest, ttl: i64, saved: Option<&mut Saved>) -> Prepared {
        let mode = CreateMode::from_code(r.flags).ok_or(ErrorCode::BadArguments)?;
        if mode.is_ttl() && !self.extended_types {
            return Err(ErrorCode::Unimplemented);
        }
        // Deliberate divergence: ZooKeeper accepts createTTL (21) with a non-TTL mode and a negative ttl, then fails
        // to apply the txn and cannot restart past it; here that request is BADARGUMENTS like other bad TTLs.
        let ttl_ok = if mode.is_ttl() {
            ttl > 0 && ttl <= TTL_MAX_MS
        } else {
            ttl < 0 && op != OpCode::CreateTtl
        };
        if !ttl_ok {
            return Err(ErrorCode::BadArguments);
        }
        if mode.is_ephemeral() {
            self.ephemeral_check?;
        } else {
            self.session_check?;
        }
        if !r.path.contains('/') || r.path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let acl = auth::fixup(r.acl, self.ids, self.policy)?;
        let mut parent = self.record(parent_of(&r.path))?;
        self.check_acl(&parent.acl, perms::CREATE)?;
        let cversion = parent.stat.cversion;
        let mut full = r.path;
        if mode.is_sequential() {
            full.push_str(&format!("{cversion:010}"));
        }
        validate(&full)?;
        if self.pending.exists(self.tree, &full) {
            return Err(ErrorCode::NodeExists);
        }
        if matches!(
            owner_kind(parent.stat.ephemeral_owner, self.extended_types),
            OwnerKind::Ephemeral(_)
        ) {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        if self.enforce_quota && quota::exceeds_hard_limit(self.tree, &full, data_len(&r.data), 1) {
            return Err(ErrorCode::QuotaExceeded);
        }
        let new_cversion = cversion.wrapping_add(1);
        let owner = match op {
            OpCode::CreateContainer => CONTAINER_OWNER,
            OpCode::CreateTtl => EXTENDED_MASK | ttl,
            _ if mode.is_ephemeral() => self.session_id,
            _ => 0,
        };
        parent.stat.cversion = new_cversion;
        parent.stat.pzxid = self.zxid;
        parent.child_count += 1;
        let stat = StatPersisted {
            czxid: self.zxid,
            mzxid: self.zxid,
            ctime: self.time,
            mtime: self.time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            pzxid: self.zxid,
        };
        let node = ChangeRecord {
            stat,
            child_count: 0,
            acl: self.shared_acl(&acl),
            data_len: r.data.as_ref().map_or(0, |d| d.len()),
            head_crc: Some(digest::head_crc(&full, r.data.as_deref().unwrap_or_default())),
        };
        let mut saved = saved;
        // The sequence suffix has no '/': the parent is the one looked up above.
        self.pending.add(
            self.tree,
            self.zxid,
            parent_of(&full),
            Some(parent),
            saved.as_deref_mut(),
        );
        self.pending.add(self.tree, self.zxid, &full, Some(node), saved);
        let (path, data) = (full, r.data);
        Ok(match op {
            OpCode::CreateContainer => TxnBody::CreateContainer(CreateContainerTxn {
                path,
                data,
                acl,
                parent_cversion: new_cversion,
            }),
            OpCode::CreateTtl => TxnBody::CreateTtl(CreateTtlTxn {
                path,
                data,
                acl,
                parent_cversion: new_cversion,
                ttl,
            }),
            _ => TxnBody::Create(CreateTxn {
                path,
                data,
                acl,
                ephemeral: mode.is_ephemeral(),
                parent_cversion: new_cversion,
            }),
        })
    }

    fn delete(&mut self, r: DeleteRequest, saved: Option<&mut Saved>) -> Prepared {
        self.session_check?;
        let p = r.path.as_str();
        let Some(slash) = p.rfind('/') else {
            return Err(ErrorCode::BadArguments);
        };
        if p.contains('\0') || SPECIAL_PATHS.contains(&p) {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = if slash == 0 { "/" } else { &p[..slash] };
        let mut parent = self.record(parent_path)?;
        self.check_acl(&parent.acl, perms::DELETE)?;
        let node = self.record(p)?;
        version_check(node.stat.version, r.version)?;
        if node.child_count > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        parent.child_count -= 1;
        parent.stat.pzxid = self.zxid;
        let mut saved = saved;
        self.pending.add(
            self.tree,
            self.zxid,
            parent_path,
            Some(parent),
            saved.as_deref_mut(),
        );
        self.pending.add(self.tree, self.zxid, p, None, saved);
        Ok(TxnBody::Delete(DeleteTxn { path: r.path }))
    }

    fn set_data(&mut self, r: SetDataRequest, saved: Option<&mut Saved>) -> Prepared {
        self.session_check?;
        validate(&r.path)?;
        let mut node = self.record(&r.path)?;
        self.check_acl(&node.acl, perms::WRITE)?;
        if self.enforce_quota {
            let old = self.tree.get(&r.path).map_or(0, |n| n.data_len() as i64);
            if quota::exceeds_hard_limit(self.tree, &r.path, data_len(&r.data) - old, 0) {
                return Err(ErrorCode::QuotaExceeded);
            }
        }
        let version = version_check(node.stat.version, r.version)?;
        node.stat.version = version;
        node.stat.mzxid = self.zxid;
        node.stat.mtime = self.time;
        node.data_len = r.data.as_ref().map_or(0, |d| d.len());
        node.head_crc = Some(digest::head_crc(&r.path, r.data.as_deref().unwrap_or_default()));
        self.pending.add(self.tree, self.zxid, &r.path, Some(node), saved);
        Ok(TxnBody::SetData(SetDataTxn {
            path: r.path,
            data: r.data,
            version,
        }))
    }

    fn set_acl(&mut self, r: SetAclRequest, saved: Option<&mut Saved>) -> Prepared {
        self.session_check?;
        validate(&r.path)?;
        let acl = auth::fixup(r.acl, self.ids, self.policy)?;
        let mut node = self.record(&r.path)?;
        self.check_acl(&node.acl, perms::ADMIN)?;
        let version = version_check(node.stat.aversion, r.version)?;
        node.stat.aversion = version;
        node.acl = self.shared_acl(&acl);
        self.pending.add(self.tree, self.zxid, &r.path, Some(node), saved);
        Ok(TxnBody::SetAcl(SetAclTxn {
            path: r.path,
            acl,
            version,
        }))
    }

    fn check(&mut self, r: CheckVersionRequest) -> Prepared {
        self.session_check?;
        validate(&r.path)?;
        let node = self.record(&r.path)?;
        self.check_acl(&node.acl, perms::READ)?;
        let version = version_check(node.stat.version, r.version)?;
        Ok(TxnBody::Check(CheckVersionTxn {
            path: r.path,
            version,
        }))
    }

    /// A multi: ops prepared in order against the changes of the earlier ops; after the first failure the rest
    /// are RUNTIMEINCONSISTENCY and every change of the multi is rolled back. An op that ZooKeeper cannot even
    /// prepare (an ACL with a null id: a NullPointerException there, not a KeeperException) fails the whole
    /// request with MARSHALLINGERROR and no per-op results.
    fn multi(&mut self, ops: Vec<MultiOp>) -> Prepared {
        let mut saved: Saved = Vec::new();
        let mark = self.pending.digest_mark();
        let mut failed = false;
        let mut txns = Vec::with_capacity(ops.len());
        for op in ops {
            if failed {
                txns.push((
                    OpCode::Error,
                    TxnBody::Error(ErrorTxn {
                        err: ErrorCode::RuntimeInconsistency.code(),
                    }),
                ));
                continue;
            }
            let code = multi_opcode(&op);
            let malformed = !matches!(op, MultiOp::GetChildren(_) | MultiOp::GetData(_));
            let result = match op {
                MultiOp::Create(_, r) => self.create(code, r, -1, Some(&mut saved)),
                MultiOp::CreateTtl(r) => {
                    let ttl = if code == OpCode::CreateTtl { r.ttl } else { -1 };
                    self.create(code, create_request(r), ttl, Some(&mut saved))
                }
                MultiOp::Delete(r) => self.delete(r, Some(&mut saved)),
                MultiOp::SetData(r) => self.set_data(r, Some(&mut saved)),
                MultiOp::Check(r) => self.check(r),
                MultiOp::GetChildren(_) | MultiOp::GetData(_) => Err(ErrorCode::MarshallingError),
            };
            match result {
                Ok(body) => txns.push((code, body)),
                Err(ErrorCode::MarshallingError) if malformed => {
                    self.pending.rollback(self.zxid, saved, mark);
                    return Err(ErrorCode::MarshallingError);
                }
                Err(code) => {
                    failed = true;
                    txns.push((OpCode::Error, TxnBody::Error(ErrorTxn { err: code.code() })));
                    self.pending.rollback(self.zxid, std::mem::take(&mut saved), mark);
                }
            }
        }
        Ok(TxnBody::Multi(txns))
    }
}
