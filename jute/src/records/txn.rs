//! Transactions (`org.apache.zookeeper.txn` in `zookeeper.jute`): what the transaction log stores and what a
//! leader proposes. A logged entry is a `TxnHeader`, the body for its type, and (optionally) a `TxnDigest`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::data::Acl;

/// 32 bytes before every txn body; `txn_type` is an `OpCode` number (-1 for an error txn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnHeader {
    pub client_id: i64,
    pub cxid: i32,
    pub zxid: i64,
    pub time: i64,
    #[serde(rename = "type")]
    pub txn_type: i32,
}

/// The tree digest after the txn (`version` 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnDigest {
    pub version: i32,
    pub tree_digest: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateTxn {
    pub path: String,
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub ephemeral: bool,
    pub parent_cversion: i32,
}

/// The pre-3.3 create txn, still readable from very old logs.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateTxnV0 {
    pub path: String,
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub ephemeral: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateContainerTxn {
    pub path: String,
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub parent_cversion: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateTtlTxn {
    pub path: String,
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub parent_cversion: i32,
    pub ttl: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeleteTxn {
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetDataTxn {
    pub path: String,
    pub data: Option<Bytes>,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckVersionTxn {
    pub path: String,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetAclTxn {
    pub path: String,
    pub acl: Vec<Acl>,
    pub version: i32,
}

/// Unused by the server since 3.x but still a record of the txn module.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetMaxChildrenTxn {
    pub path: String,
    pub max: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateSessionTxn {
    pub time_out: i32,
}

/// The ephemerals to delete; absent in logs written before 3.6 or with closeSessionTxn disabled.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CloseSessionTxn {
    pub paths2_delete: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorTxn {
    pub err: i32,
}

/// One sub-txn of a multi: its type and its serialized body.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Txn {
    #[serde(rename = "type")]
    pub txn_type: i32,
    pub data: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MultiTxn {
    pub txns: Vec<Txn>,
}
