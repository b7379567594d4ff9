//! One transaction as the log stores it and a leader proposes it: a `TxnHeader`, the record its type calls for,
//! and an optional `TxnDigest` (`Util.marshallTxnEntry` writes it, `SerializeUtils.deserializeTxn` reads it).
//!
//! Which record follows the header is decided by the header's type (§7.3 of the protocol reference). A few
//! readings are not obvious and follow the Java reader or the logs it must accept:
//! - create (1) falls back to the pre-3.3 `CreateTxnV0` when the body is too short for `CreateTxn`; the missing
//!   parent cversion becomes -1, which `DataTree.processTxn` reads as "current + 1".
//! - closeSession (-11) may have no body (logs before 3.6, or `zookeeper.closeSessionTxn.enabled=false`). With
//!   the digest on, such an entry is the header plus a 12-byte digest; a `CloseSessionTxn` of exactly 12 bytes
//!   starting with the digest version would be two empty paths, which no server writes, so 12 bytes starting with
//!   [`DIGEST_VERSION`] are read as "no body, digest". The Java reader gets this case wrong.
//! - check (13) only exists inside a multi, but 3.8.0-3.8.4 and 3.9.0-3.9.2 also logged it at the top level
//!   (ZOOKEEPER-2623); such an entry is read as a no-op instead of stopping recovery.
//! - The sub-txns of a multi are decoded here (`DataTree.processTxn` does it when applying), from the types it
//!   accepts: the creates, delete, deleteContainer, setData, check and error.
//! - The digest is present iff bytes remain after the body; anything after the digest, or a sub-record that does
//!   not fill its buffer, is an error (the Java reader ignores both, but no writer produces them).

use bytes::BufMut;

use crate::codes::OpCode;
use crate::de::Decoder;
use crate::error::{Error, Result};
use crate::records::txn::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn, CreateTxn,
    CreateTxnV0, DeleteTxn, ErrorTxn, SetAclTxn, SetDataTxn, TxnDigest, TxnHeader,
};
use crate::ser::to_writer;

/// The `version` of the `TxnDigest` that ZooKeeper 3.6+ writes (`DigestCalculator.DIGEST_VERSION`).
pub const DIGEST_VERSION: i32 = 2;

const HEADER_LEN: usize = 32;
const DIGEST_LEN: usize = 12;
/// Where the type sits in a `TxnHeader`: after clientId (8), cxid (4), zxid (8) and time (8).
const TYPE_OFFSET: usize = 28;

/// A logged or proposed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    pub header: TxnHeader,
    pub body: TxnBody,
    pub digest: Option<TxnDigest>,
}

/// The record after a `TxnHeader`, by header type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    /// createSession (-10).
    CreateSession(CreateSessionTxn),
    /// closeSession (-11); `None` when the entry carries no record.
    CloseSession(Option<CloseSessionTxn>),
    /// create (1) and create2 (15).
    Create(CreateTxn),
    /// createContainer (19).
    CreateContainer(CreateContainerTxn),
    /// createTTL (21).
    CreateTtl(CreateTtlTxn),
    /// delete (2) and deleteContainer (20).
    Delete(DeleteTxn),
    /// setData (5) and reconfig (16), which stores the new config as the data of /zookeeper/config.
    SetData(SetDataTxn),
    /// setACL (7).
    SetAcl(SetAclTxn),
    /// error (-1): a write that failed after it was given a zxid.
    Error(ErrorTxn),
    /// multi (14): each sub-txn with the type written for it.
    Multi(Vec<(OpCode, TxnBody)>),
    /// check (13): inside a multi, or a no-op at the top level.
    Check(CheckVersionTxn),
}

/// Which record a txn type carries, without the record: one per `TxnBody` variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxnKind {
    CreateSession,
    CloseSession,
    Create,
    CreateContainer,
    CreateTtl,
    Delete,
    SetData,
    SetAcl,
    Error,
    Multi,
    Check,
}

impl TxnKind {
    /// The record that follows a `TxnHeader` of type `op`; `None` for types that never make a txn.
    pub fn top_level(op: OpCode) -> Option<TxnKind> {
        match op {
            OpCode::CreateSession => Some(TxnKind::CreateSession),
            OpCode::CloseSession => Some(TxnKind::CloseSession),
            OpCode::Create | OpCode::Create2 => Some(TxnKind::Create),
            OpCode::CreateContainer => Some(TxnKind::CreateContainer),
            OpCode::CreateTtl => Some(TxnKind::CreateTtl),
            OpCode::Delete | OpCode::DeleteContainer => Some(TxnKind::Delete),
            OpCode::SetData | OpCode::Reconfig => Some(TxnKind::SetData),
            OpCode::SetAcl => Some(TxnKind::SetAcl),
            OpCode::Error => Some(TxnKind::Error),
            OpCode::Multi => Some(TxnKind::Multi),
            OpCode::Check => Some(TxnKind::Check),
            OpCode::Notification
            | OpCode::Exists
            | OpCode::GetData
            | OpCode::GetAcl
            | OpCode::GetChildren
            | OpCode::Sync
            | OpCode::Ping
            | OpCode::GetChildren2
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::MultiRead
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::Sasl
            | OpCode::GetEphemerals
            | OpCode::GetAllChildrenNumber
            | OpCode::SetWatches2
            | OpCode::AddWatch
            | OpCode::WhoAmI => None,
        }
    }

    /// The record of a sub-txn of type `op` inside a multi (`DataTree.processTxn`); `None` if not allowed there.
    pub fn in_multi(op: OpCode) -> Option<TxnKind> {
        match op {
            OpCode::CreateSession
            | OpCode::CloseSession
            | OpCode::Reconfig
            | OpCode::SetAcl
            | OpCode::Multi => None,
            other => TxnKind::top_level(other),
        }
    }
}

impl TxnBody {
    /// The kind of record this body is.
    pub fn kind(&self) -> TxnKind {
        match self {
            TxnBody::CreateSession(_) => TxnKind::CreateSession,
            TxnBody::CloseSession(_) => TxnKind::CloseSession,
            TxnBody::Create(_) => TxnKind::Create,
            TxnBody::CreateContainer(_) => TxnKind::CreateContainer,
            TxnBody::CreateTtl(_) => TxnKind::CreateTtl,
            TxnBody::Delete(_) => TxnKind::Delete,
            TxnBody::SetData(_) => TxnKind::SetData,
            TxnBody::SetAcl(_) => TxnKind::SetAcl,
            TxnBody::Error(_) => TxnKind::Error,
            TxnBody::Multi(_) => TxnKind::Multi,
            TxnBody::Check(_) => TxnKind::Check,
        }
    }

    /// Appends the record (nothing for a closeSession without one).
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        match self {
            TxnBody::CreateSession(r) => to_writer(out, r),
            TxnBody::CloseSession(r) => r.as_ref().map_or(Ok(()), |r| to_writer(out, r)),
            TxnBody::Create(r) => to_writer(out, r),
            TxnBody::CreateContainer(r) => to_writer(out, r),
            TxnBody::CreateTtl(r) => to_writer(out, r),
            TxnBody::Delete(r) => to_writer(out, r),
            TxnBody::SetData(r) => to_writer(out, r),
            TxnBody::SetAcl(r) => to_writer(out, r),
            TxnBody::Error(r) => to_writer(out, r),
            TxnBody::Multi(txns) => encode_multi(out, txns),
            TxnBody::Check(r) => to_writer(out, r),
        }
    }
}

impl TxnEntry {
    /// Decodes the txn bytes of one log record or PROPOSAL, with `max_len` as the length limit.
    pub fn decode(bytes: &[u8], max_len: usize) -> Result<TxnEntry> {
        let mut d = Decoder::new(bytes).with_max_len(max_len);
        let header: TxnHeader = d.read()?;
        let kind = OpCode::from_code(header.txn_type)
            .and_then(TxnKind::top_level)
            .ok_or_else(|| Error::Invalid {
                offset: TYPE_OFFSET,
                message: format!("txn type {} has no txn record", header.txn_type),
            })?;
        let body = match kind {
            TxnKind::CreateSession => TxnBody::CreateSession(d.read()?),
            TxnKind::CloseSession => TxnBody::CloseSession(close_session_body(&mut d)?),
            TxnKind::Create if header.txn_type == OpCode::Create.code() => create_or_v0(&mut d)?,
            TxnKind::Create => TxnBody::Create(d.read()?),
            TxnKind::CreateContainer => TxnBody::CreateContainer(d.read()?),
            TxnKind::CreateTtl => TxnBody::CreateTtl(d.read()?),
            TxnKind::Delete => TxnBody::Delete(d.read()?),
            TxnKind::SetData => TxnBody::SetData(d.read()?),
            TxnKind::SetAcl => TxnBody::SetAcl(d.read()?),
            TxnKind::Error => TxnBody::Error(d.read()?),
            TxnKind::Multi => TxnBody::Multi(decode_multi(&mut d, max_len)?),
            TxnKind::Check => TxnBody::Check(d.read()?),
        };
        let digest = if d.is_empty() { None } else { Some(d.read()?) };
        d.finish()?;
        Ok(TxnEntry { header, body, digest })
    }

    /// Encodes the entry. Fails if the body is not the record the header's type calls for, or (for a
    /// closeSession) if the bytes would read back differently.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(HEADER_LEN + DIGEST_LEN + 64);
        self.encode_into(&mut out)?;
        Ok(out)
    }

    /// Appends the encoding to `out`, as [`TxnEntry::encode`] makes it: a caller encoding many entries can
    /// reuse one buffer instead of growing a new one for each. On failure `out` may hold part of the entry.
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        let expected = OpCode::from_code(self.header.txn_type).and_then(TxnKind::top_level);
        if expected != Some(self.body.kind()) {
            return Err(Error::Invalid {
                offset: TYPE_OFFSET,
                message: format!(
                    "a {:?} body cannot follow txn type {}",
                    self.body.kind(),
                    self.header.txn_type
                ),
            });
        }
        let start = out.len();
        to_writer(out, &self.header)?;
        self.body.encode_into(out)?;
        if let Some(digest) = &self.digest {
            to_writer(out, digest)?;
        }
        if let TxnBody::CloseSession(body) = &self.body {
            if close_session_tail_has_no_body(&out[start + HEADER_LEN..]) != body.is_none() {
                return Err(Error::Invalid {
                    offset: HEADER_LEN,
                    message: "this closeSession body and digest would read back as something else".into(),
                });
            }
        }
        Ok(())
    }
}

/// True when what follows a closeSession header is nothing, or only a digest.
fn close_session_tail_has_no_body(tail: &[u8]) -> bool {
    tail.is_empty() || (tail.len() == DIGEST_LEN && tail[..4] == DIGEST_VERSION.to_be_bytes())
}

fn close_session_body(d: &mut Decoder<'_>) -> Result<Option<CloseSessionTxn>> {
    if close_session_tail_has_no_body(d.remaining()) {
        Ok(None)
    } else {
        d.read().map(Some)
    }
}

/// A create (1) body, falling back to `CreateTxnV0` when `CreateTxn` runs out of input.
fn create_or_v0(d: &mut Decoder<'_>) -> Result<TxnBody> {
    let start = d.clone();
    match d.read::<CreateTxn>() {
        Ok(create) => Ok(TxnBody::Create(create)),
        Err(Error::Eof { .. }) => {
            *d = start;
            let v0: CreateTxnV0 = d.read()?;
            Ok(TxnBody::Create(CreateTxn {
                path: v0.path,
                data: v0.data,
                acl: v0.acl,
                ephemeral: v0.ephemeral,
                parent_cversion: -1,
            }))
        }
        Err(e) => Err(e),
    }
}

/// Reads `MultiTxn { vector<Txn> txns }` and decodes each `Txn { int type; buffer data }` by its type.
fn decode_multi(d: &mut Decoder<'_>, max_len: usize) -> Result<Vec<(OpCode, TxnBody)>> {
    let count_offset = d.position();
    let count: i32 = d.read()?;
    if count == -1 {
        return Ok(Vec::new());
    }
    let count = usize::try_from(count).map_err(|_| Error::Length {
        offset: count_offset,
        len: i64::from(count),
        max: max_len,
    })?;
    // Each Txn takes at least 8 bytes, so never reserve more than the input can hold.
    let mut txns = Vec::with_capacity(count.min(d.remaining().len() / 8));
    for _ in 0..count {
        let type_offset = d.position();
        let txn_type: i32 = d.read()?;
        let data_offset = d.position() + 4;
        let data: &[u8] = d.read()?;
        let (op, kind) = OpCode::from_code(txn_type)
            .and_then(|op| TxnKind::in_multi(op).map(|kind| (op, kind)))
            .ok_or_else(|| Error::Invalid {
                offset: type_offset,
                message: format!("txn type {txn_type} is not allowed in a multi"),
            })?;
        let body = decode_sub_txn(kind, data, max_len).map_err(|e| shift(e, data_offset))?;
        txns.push((op, body));
    }
    Ok(txns)
}

fn decode_sub_txn(kind: TxnKind, data: &[u8], max_len: usize) -> Result<TxnBody> {
    let mut d = Decoder::new(data).with_max_len(max_len);
    let body = match kind {
        TxnKind::Create => TxnBody::Create(d.read()?),
        TxnKind::CreateContainer => TxnBody::CreateContainer(d.read()?),
        TxnKind::CreateTtl => TxnBody::CreateTtl(d.read()?),
        TxnKind::Delete => TxnBody::Delete(d.read()?),
        TxnKind::SetData => TxnBody::SetData(d.read()?),
        TxnKind::Error => TxnBody::Error(d.read()?),
        TxnKind::Check => TxnBody::Check(d.read()?),
        TxnKind::CreateSession | TxnKind::CloseSession | TxnKind::SetAcl | TxnKind::Multi => {
            return Err(d.invalid(format!("a {kind:?} record cannot be a sub-txn")));
        }
    };
    d.finish()?;
    Ok(body)
}

fn encode_multi(out: &mut Vec<u8>, txns: &[(OpCode, TxnBody)]) -> Result<()> {
    let count = i32::try_from(txns.len()).map_err(|_| Error::Length {
        offset: out.len(),
        len: txns.len() as i64,
        max: i32::MAX as usize,
    })?;
    out.put_i32(count);
    for (op, body) in txns {
        if TxnKind::in_multi(*op) != Some(body.kind()) {
            return Err(Error::Invalid {
                offset: out.len(),
                message: format!("a {:?} sub-txn cannot have type {}", body.kind(), op.code()),
            });
        }
        out.put_i32(op.code());
        let mut data = Vec::with_capacity(64);
        body.encode_into(&mut data)?;
        let len = i32::try_from(data.len()).map_err(|_| Error::Length {
            offset: out.len(),
            len: data.len() as i64,
            max: i32::MAX as usize,
        })?;
        out.put_i32(len);
        out.put_slice(&data);
    }
    Ok(())
}

/// Moves the offset of an error found inside a sub-txn buffer to where that buffer starts in the entry.
fn shift(error: Error, base: usize) -> Error {
    match error {
        Error::Eof { offset, needed } => Error::Eof {
            offset: offset + base,
            needed,
        },
        Error::Length { offset, len, max } => Error::Length {
            offset: offset + base,
            len,
            max,
        },
        Error::Trailing { offset, remaining } => Error::Trailing {
            offset: offset + base,
            remaining,
        },
        Error::Invalid { offset, message } => Error::Invalid {
            offset: offset + base,
            message,
        },
        Error::Unsupported(what) => Error::Unsupported(what),
        Error::Custom(message) => Error::Custom(message),
    }
}

#[cfg(test)]
mod tests;
