//! What the pure core asks the runtime to do. The runtime executes effects in order: a `Persist` is made durable
//! before `Core::persisted` is called for it, and a connection's `Send`s are written in the order given.

use bytes::Bytes;

use crate::types::{ConnId, Zxid};

/// One thing for the runtime to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write these bytes (one or more whole frames, length prefixes included) to the connection.
    Send { conn: ConnId, frame: Bytes },
    /// Close the connection once everything sent before has been written.
    Close { conn: ConnId },
    /// Append this txn entry (TxnHeader, body and TxnDigest, as Apache ZooKeeper logs them) to the log, then call
    /// `Core::persisted` with its zxid once it is durable.
    Persist { zxid: Zxid, entry: Bytes },
    /// A follower's write, sync or session creation for its leader (a REQUEST packet carrying `auth` as the
    /// packet's authinfo).
    Forward {
        request: jute::quorum::ForwardedRequest,
        auth: Vec<jute::records::data::Id>,
    },
    /// A follower asks its leader whether a session a client brings back is alive (REVALIDATE), which also
    /// makes this member the session's owner; the answer comes back through `Core::revalidated`.
    Revalidate { session: jute::quorum::SessionTimeout },
}
