//! The client port: framing, the handshake, four-letter words and the limits that keep one client from hurting
//! the others.
//!
//! Each accepted connection runs one task (`conn`) that reads frames into a buffer, checks each with
//! `jute::frame::check_frame` against `jute.maxbuffer`, decodes it (the first frame as a `ConnectRequest` or a
//! four-letter word, later ones as `RequestHeader` + `Request`) and sends it to the server task as an
//! [`Inbound`] message over a bounded channel. The server answers with [`Outbound`] messages on the
//! connection's own channel, which the task writes in order. `net` never sees the core: it only frames,
//! decodes and enforces limits (what `NIOServerCnxn` and `NIOServerCnxnFactory` do in Apache ZooKeeper).

pub mod conn;
pub mod conn_stats;
pub mod dumps;
pub mod four_letter;
pub mod java;
pub mod limits;
pub mod quorum_view;

use std::net::SocketAddr;

use bytes::Bytes;
use jute::frame::FourLetter;
use jute::records::proto::{ConnectRequest, RequestHeader};
use jute::request::{Request, RequestError};

use crate::types::ConnId;

/// Server-wide figures the connection tasks count (for `mntr` and Prometheus).
#[derive(Debug, Default)]
pub struct NetCounters {
    /// Connections refused by maxClientCnxns (`connection_rejected`).
    pub rejected: std::sync::atomic::AtomicU64,
    /// Frame bytes read, length prefixes included, and 4 per four-letter word (`bytes_received_count`).
    pub bytes_received: std::sync::atomic::AtomicU64,
    /// Connections dropped for not finishing the handshake in time (`sessionless_connections_expired`).
    pub sessionless_expired: std::sync::atomic::AtomicU64,
    /// Connections whose client closed the socket while the server still had it open, seen as end of
    /// stream on a read (`connection_drop_count`, counted by `NIOServerCnxn.handleFailedRead`).
    pub dropped: std::sync::atomic::AtomicU64,
    /// Request frames read from every connection and not yet answered (`ZooKeeperServer.requestsInProcess`),
    /// what `globalOutstandingLimit` bounds: the connection tasks add each one they forward, the server task
    /// takes each one away when it queues its reply or drops it.
    pub requests_in_process: std::sync::atomic::AtomicUsize,
}

/// A request frame as the connection task decoded it: its header and its body, or why the body did not decode.
pub type Decoded = (RequestHeader, Result<Request, RequestError>);

/// What a connection task tells the server task, in the order it happened on that connection.
#[derive(Debug)]
pub enum Inbound {
    /// The connection was accepted; `conn` holds what the server needs to write to it.
    Opened {
        conn: ConnId,
        peer: SocketAddr,
        handle: conn::ConnHandle,
    },
    /// The first frame, a connect request.
    Connect { conn: ConnId, request: ConnectRequest },
    /// A later frame: its header and its body, or why the body did not decode.
    Request {
        conn: ConnId,
        header: RequestHeader,
        body: Result<Request, RequestError>,
    },
    /// Several later frames read together, in the order they came: one message instead of one per frame.
    Requests { conn: ConnId, requests: Vec<Decoded> },
    /// The first four bytes were a four-letter word; the server answers and closes. `stmk` carries the
    /// trace mask that followed it.
    FourLetter {
        conn: ConnId,
        word: FourLetter,
        mask: Option<i64>,
    },
    /// The connection is gone (the reason was logged by the connection task).
    Closed { conn: ConnId },
}

/// What the server tells one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// Whole frames (or a four-letter word's text) to write.
    Bytes(Bytes),
    /// Write everything queued before, then close.
    Close,
    /// Close now, dropping whatever is still queued.
    Abort,
}
