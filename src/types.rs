//! Newtypes for ZooKeeper's identifiers, so a zxid, a session id or a connection never travel as bare integers.

use std::fmt;

/// A transaction id: the epoch in the high 32 bits, a counter in the low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Zxid(pub i64);

impl Zxid {
    /// The zxid made of an epoch and a counter.
    pub const fn new(epoch: u32, counter: u32) -> Zxid {
        Zxid(((epoch as i64) << 32) | counter as i64)
    }
    /// The epoch (high 32 bits).
    pub const fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }
    /// The counter within the epoch (low 32 bits).
    pub const fn counter(self) -> u32 {
        self.0 as u32
    }
}

impl fmt::Display for Zxid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// A session id: the id of the server that created it in the top byte (`SessionTrackerImpl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SessionId(pub i64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}

/// A server id (`myid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ServerId(pub i64);

/// A client connection, numbered by the server that accepted it. Watches and auth belong to connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// The two clocks the core is given, never reads: wall time for txn times (ctime/mtime) and a monotonic time
/// for session expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Now {
    /// Milliseconds since the Unix epoch.
    pub wall_ms: i64,
    /// Milliseconds on a monotonic clock.
    pub mono_ms: u64,
}
