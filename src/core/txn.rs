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
