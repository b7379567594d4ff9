//! A transaction as the core prepares and applies it: Apache ZooKeeper's TxnHeader and the txn record for its
//! type (`zookeeper.jute`, module txn), encodable exactly as ZooKeeper logs and proposes it.

use bytes::Bytes;
use jute::codes::OpCode;
use jute::records::txn::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn, CreateTxn,
    DeleteTxn, ErrorTxn, MultiTxn, SetAclTxn, SetDataTxn, TxnHeader,
};

/// The body of a txn, by header type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    CreateSession(CreateSessionTxn),
    CloseSession(CloseSessionTxn),
    /// Header types 1 (create) and 15 (create2).
    Create(CreateTxn),
    CreateContainer(CreateContainerTxn),
    CreateTtl(CreateTtlTxn),
    /// Header types 2 (delete) and 20 (deleteContainer).
    Delete(DeleteTxn),
    SetData(SetDataTxn),
    SetAcl(SetAclTxn),
    Check(CheckVersionTxn),
    Error(ErrorTxn),
    /// The sub-txns of a multi with their types; they share the multi's header.
    Multi(Vec<(OpCode, TxnBody)>),
}

/// A whole txn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Txn {
    pub header: TxnHeader,
    pub body: TxnBody,
}

impl TxnBody {
    /// Encodes the record alone (no header).
    pub fn encode(&self) -> jute::Result<Vec<u8>> {
        use jute::to_bytes;
        match self {
            TxnBody::CreateSession(r) => to_bytes(r),
            TxnBody::CloseSession(r) => to_bytes(r),
            TxnBody::Create(r) => to_bytes(r),
            TxnBody::CreateContainer(r) => to_bytes(r),
            TxnBody::CreateTtl(r) => to_bytes(r),
            TxnBody::Delete(r) => to_bytes(r),
            TxnBody::SetData(r) => to_bytes(r),
            TxnBody::SetAcl(r) => to_bytes(r),
            TxnBody::Check(r) => to_bytes(r),
            TxnBody::Error(r) => to_bytes(r),
            TxnBody::Multi(subs) => {
                let mut txns = Vec::with_capacity(subs.len());
                for (op, body) in subs {
                    txns.push(jute::records::txn::Txn {
                        txn_type: op.code(),
                        data: Bytes::from(body.encode()?),
                    });
                }
                to_bytes(&MultiTxn { txns })
            }
        }
    }
}

impl Txn {
    /// The bytes of a log entry or proposal: TxnHeader then the body (`Util.marshallTxnEntry`).
    pub fn encode(&self) -> jute::Result<Vec<u8>> {
        let mut out = jute::to_bytes(&self.header)?;
        out.extend_from_slice(&self.body.encode()?);
        Ok(out)
    }
}

impl Txn {
    /// The txn of a logged or proposed entry, as read by `jute::txn_entry` (its TxnDigest is not part of it).
    /// A closeSession without a record becomes one with no paths: the tree then removes the session's
    /// ephemerals itself, as Apache ZooKeeper does for such older entries.
    pub fn from_entry(entry: jute::txn_entry::TxnEntry) -> Txn {
        Txn {
            header: entry.header,
            body: body_from_entry(entry.body),
        }
    }
}

fn body_from_entry(body: jute::txn_entry::TxnBody) -> TxnBody {
    use jute::txn_entry::TxnBody as E;
    match body {
        E::CreateSession(r) => TxnBody::CreateSession(r),
        E::CloseSession(r) => TxnBody::CloseSession(r.unwrap_or_default()),
        E::Create(r) => TxnBody::Create(r),
        E::CreateContainer(r) => TxnBody::CreateContainer(r),
        E::CreateTtl(r) => TxnBody::CreateTtl(r),
        E::Delete(r) => TxnBody::Delete(r),
        E::SetData(r) => TxnBody::SetData(r),
        E::SetAcl(r) => TxnBody::SetAcl(r),
        E::Error(r) => TxnBody::Error(r),
        E::Multi(subs) => TxnBody::Multi(subs.into_iter().map(|(op, b)| (op, body_from_entry(b))).collect()),
        E::Check(r) => TxnBody::Check(r),
    }
}
