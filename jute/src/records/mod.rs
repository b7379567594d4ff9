//! Every ZooKeeper 3.9 record as a plain Rust type, grouped as `zookeeper.jute` groups them.

pub mod data;
pub mod multi;
pub mod persistence;
pub mod proto;
pub mod quorum;
pub mod txn;
