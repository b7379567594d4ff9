//! A transaction as the core prepares and applies it: Apache ZooKeeper's TxnHeader, the txn record for its type
//! and the optional TxnDigest, exactly as ZooKeeper logs and proposes it (`jute::txn_entry`).

pub use jute::txn_entry::{TxnBody, TxnEntry as Txn};
