//! ferrokeeper: a ZooKeeper server that Apache ZooKeeper's clients, operators and ensemble peers cannot tell
//! from the original.
//!
//! The request path: `net` reads frames and decodes them with `jute`, hands typed requests to `server`, which
//! owns the pure `core` and runs each step in order persist -> send -> apply -> reply. `core` holds the data
//! tree, sessions, watches and the write pipeline (prep -> txn -> apply) and never touches a socket, file,
//! clock or random number: time and I/O results come in as inputs, and what to do comes out as `Effect`s.

pub mod admin;
pub mod config;
pub mod core;
pub mod docker;
pub mod metrics;
pub mod net;
pub mod operator;
pub mod quorum;
pub mod server;
pub mod storage;
pub mod tools;
pub mod types;
