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
            OpCode::Create | OpCode::Create2 => Some(TxnKind::Create),
            OpCode::CreateContainer => Some(TxnKind::CreateContainer),
            OpCode::CreateTtl => Some(TxnKind::CreateTtl),
            OpCode::Delete | OpCode::DeleteContainer => Some(TxnKind::Delete),
            OpCode::SetData => Some(TxnKind::SetData),
            OpCode::Error => Some(TxnKind::Error),
            OpCode::Check => Some(TxnKind::Check),
            OpCode::CreateSession
            | OpCode::CloseSession
            | OpCode::Reconfig
            | OpCode::SetAcl
            | OpCode::Multi
            | OpCode::Notification
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
        let mut out = Vec::with_capacity(HEADER_LEN + DIGEST_LEN + 64);
        to_writer(&mut out, &self.header)?;
        self.body.encode_into(&mut out)?;
        if let Some(digest) = &self.digest {
            to_writer(&mut out, digest)?;
        }
        if let TxnBody::CloseSession(body) = &self.body {
            if close_session_tail_has_no_body(&out[HEADER_LEN..]) != body.is_none() {
                return Err(Error::Invalid {
                    offset: HEADER_LEN,
                    message: "this closeSession body and digest would read back as something else".into(),
                });
            }
        }
        Ok(out)
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
mod tests {
    use super::*;
    use crate::records::data::Acl;

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// clientId 0x0100000000000001, cxid 7, zxid 0x100000002, time 0x5f, then the type.
    fn header_bytes(txn_type: [u8; 4]) -> Vec<u8> {
        cat(&[
            &[1, 0, 0, 0, 0, 0, 0, 1],
            &[0, 0, 0, 7],
            &[0, 0, 0, 1, 0, 0, 0, 2],
            &[0, 0, 0, 0, 0, 0, 0, 0x5f],
            &txn_type,
        ])
    }

    fn header(txn_type: OpCode) -> TxnHeader {
        TxnHeader {
            client_id: 0x0100_0000_0000_0001,
            cxid: 7,
            zxid: 0x1_0000_0002,
            time: 0x5f,
            txn_type: txn_type.code(),
        }
    }

    const DIGEST: [u8; 12] = [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
    const DIGEST_VALUE: TxnDigest = TxnDigest {
        version: 2,
        tree_digest: 0x1234,
    };

    fn round_trip(bytes: &[u8], expected: &TxnEntry) {
        assert_eq!(&TxnEntry::decode(bytes, 1024).expect("decode"), expected);
        assert_eq!(expected.encode().expect("encode"), bytes);
    }

    #[test]
    fn create_session_is_header_timeout_and_digest() {
        let bytes = cat(&[
            &header_bytes([0xff, 0xff, 0xff, 0xf6]),
            &[0, 0, 0x75, 0x30],
            &DIGEST,
        ]);
        assert_eq!(bytes.len(), 48);
        let entry = TxnEntry {
            header: header(OpCode::CreateSession),
            body: TxnBody::CreateSession(CreateSessionTxn { time_out: 30000 }),
            digest: Some(DIGEST_VALUE),
        };
        round_trip(&bytes, &entry);
    }

    #[test]
    fn error_txn_without_digest_is_36_bytes() {
        let bytes = cat(&[&header_bytes([0xff; 4]), &[0xff, 0xff, 0xff, 0x9b]]);
        let entry = TxnEntry {
            header: header(OpCode::Error),
            body: TxnBody::Error(ErrorTxn { err: -101 }),
            digest: None,
        };
        round_trip(&bytes, &entry);
    }

    #[test]
    fn close_session_body_is_optional_with_or_without_digest() {
        let close = header_bytes([0xff, 0xff, 0xff, 0xf5]);
        let bare = TxnEntry {
            header: header(OpCode::CloseSession),
            body: TxnBody::CloseSession(None),
            digest: None,
        };
        round_trip(&close, &bare);
        let digest_only = TxnEntry {
            digest: Some(DIGEST_VALUE),
            ..bare.clone()
        };
        round_trip(&cat(&[&close, &DIGEST]), &digest_only);
        let with_path = TxnEntry {
            body: TxnBody::CloseSession(Some(CloseSessionTxn {
                paths2_delete: vec!["/e".into()],
            })),
            ..digest_only.clone()
        };
        round_trip(
            &cat(&[&close, &[0, 0, 0, 1, 0, 0, 0, 2, b'/', b'e'], &DIGEST]),
            &with_path,
        );
        // A body-less entry whose digest has another version cannot be told from a body: refuse to write it.
        let odd_digest = TxnEntry {
            digest: Some(TxnDigest {
                version: 1,
                tree_digest: 0,
            }),
            ..bare
        };
        assert!(matches!(
            odd_digest.encode(),
            Err(Error::Invalid { offset: 32, .. })
        ));
    }

    #[test]
    fn create_v0_from_old_logs_gets_parent_cversion_minus_one() {
        let v0_body: &[u8] = &[0, 0, 0, 2, b'/', b'a', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1];
        let entry = TxnEntry::decode(&cat(&[&header_bytes([0, 0, 0, 1]), v0_body]), 1024).expect("v0");
        let expected = TxnBody::Create(CreateTxn {
            path: "/a".into(),
            data: None,
            acl: Vec::new(),
            ephemeral: true,
            parent_cversion: -1,
        });
        assert_eq!(entry.body, expected);
        assert_eq!(entry.digest, None);
        // Only create (1) has an old form: the same bytes as a create2 are truncated.
        let create2 = cat(&[&header_bytes([0, 0, 0, 15]), v0_body]);
        assert!(matches!(
            TxnEntry::decode(&create2, 1024),
            Err(Error::Eof { offset: 47, .. })
        ));
    }

    #[test]
    fn multi_sub_txns_are_decoded_by_their_type() {
        let bytes = cat(&[
            &header_bytes([0, 0, 0, 14]),
            &[0, 0, 0, 2],
            &[0, 0, 0, 13, 0, 0, 0, 10, 0, 0, 0, 2, b'/', b'a', 0, 0, 0, 3],
            &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0x9b],
            &DIGEST,
        ]);
        let entry = TxnEntry {
            header: header(OpCode::Multi),
            body: TxnBody::Multi(vec![
                (
                    OpCode::Check,
                    TxnBody::Check(CheckVersionTxn {
                        path: "/a".into(),
                        version: 3,
                    }),
                ),
                (OpCode::Error, TxnBody::Error(ErrorTxn { err: -101 })),
            ]),
            digest: Some(DIGEST_VALUE),
        };
        round_trip(&bytes, &entry);
    }

    #[test]
    fn reconfig_and_delete_container_share_records_and_check_is_a_top_level_no_op() {
        let set_data = cat(&[
            &header_bytes([0, 0, 0, 16]),
            &[0, 0, 0, 1, b'/', 0, 0, 0, 1, b'x', 0xff, 0xff, 0xff, 0xff],
        ]);
        let entry = TxnEntry::decode(&set_data, 1024).expect("reconfig");
        assert_eq!(entry.body.kind(), TxnKind::SetData);
        let delete = cat(&[&header_bytes([0, 0, 0, 20]), &[0, 0, 0, 2, b'/', b'c']]);
        let entry = TxnEntry::decode(&delete, 1024).expect("deleteContainer");
        assert_eq!(entry.body, TxnBody::Delete(DeleteTxn { path: "/c".into() }));
        let check = cat(&[
            &header_bytes([0, 0, 0, 13]),
            &[0, 0, 0, 2, b'/', b'c', 0xff, 0xff, 0xff, 0xff],
        ]);
        let entry = TxnEntry::decode(&check, 1024).expect("check");
        assert_eq!(entry.body.kind(), TxnKind::Check);
    }

    #[test]
    fn malformed_entries_are_refused_with_the_offset_of_the_fault() {
        let exists = cat(&[&header_bytes([0, 0, 0, 3]), &[0, 0, 0, 0]]);
        assert!(matches!(
            TxnEntry::decode(&exists, 1024),
            Err(Error::Invalid { offset: 28, .. })
        ));
        let unknown = header_bytes([0, 0, 0, 10]);
        assert!(matches!(
            TxnEntry::decode(&unknown, 1024),
            Err(Error::Invalid { offset: 28, .. })
        ));
        let set_acl_in_multi = cat(&[
            &header_bytes([0, 0, 0, 14]),
            &[0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0],
        ]);
        assert!(matches!(
            TxnEntry::decode(&set_acl_in_multi, 1024),
            Err(Error::Invalid { offset: 36, .. })
        ));
        let sub_with_extra_byte = cat(&[
            &header_bytes([0, 0, 0, 14]),
            &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 5, 0, 0, 0, 0, 9],
        ]);
        assert!(matches!(
            TxnEntry::decode(&sub_with_extra_byte, 1024),
            Err(Error::Trailing {
                offset: 48,
                remaining: 1
            })
        ));
        let negative_count = cat(&[&header_bytes([0, 0, 0, 14]), &[0xff, 0xff, 0xff, 0xfe]]);
        assert!(matches!(
            TxnEntry::decode(&negative_count, 1024),
            Err(Error::Length {
                offset: 32,
                len: -2,
                ..
            })
        ));
        let after_digest = cat(&[&header_bytes([0xff; 4]), &[0, 0, 0, 0], &DIGEST, &[0]]);
        assert!(matches!(
            TxnEntry::decode(&after_digest, 1024),
            Err(Error::Trailing {
                offset: 48,
                remaining: 1
            })
        ));
        let short_header = &header_bytes([0xff; 4])[..31];
        assert!(matches!(
            TxnEntry::decode(short_header, 1024),
            Err(Error::Eof { .. })
        ));
    }

    #[test]
    fn encode_refuses_a_body_that_does_not_match_its_type() {
        let mismatched = TxnEntry {
            header: header(OpCode::Delete),
            body: TxnBody::SetAcl(SetAclTxn {
                path: "/a".into(),
                acl: Acl::open_unsafe(),
                version: 1,
            }),
            digest: None,
        };
        assert!(matches!(
            mismatched.encode(),
            Err(Error::Invalid { offset: 28, .. })
        ));
        let bad_sub = TxnEntry {
            header: header(OpCode::Multi),
            body: TxnBody::Multi(vec![(OpCode::Reconfig, TxnBody::Delete(DeleteTxn::default()))]),
            digest: None,
        };
        assert!(matches!(bad_sub.encode(), Err(Error::Invalid { offset: 36, .. })));
    }
}
