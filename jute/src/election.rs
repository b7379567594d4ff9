//! The election port's messages: the connection handshake of `QuorumCnxManager` (`startConnection`,
//! `handleConnection`, `InitialMessage.parse`) and the vote notification of `FastLeaderElection`
//! (`buildMsg`, `Messenger.WorkerReceiver`).
//!
//! Neither is a Jute record: both are written field by field with `DataOutputStream` / `ByteBuffer`, big-endian.
//! The handshake is sent once by the side that opens the connection and is not length-prefixed; every message
//! after it, in both directions, is an `int` length (1..=[`PACKET_MAX_SIZE`]) and a notification.
//!
//! A notification is read as ZooKeeper 3.8/3.9 reads it: by its length. 28 bytes is the form before peerEpoch
//! (peerEpoch is then the zxid's epoch); exactly 40 bytes carries a version field that is not read (version 0);
//! any other length reads the version, and a version above 1 is followed by the sender's configuration text.
//! A 36-byte message (peerEpoch, no version), as 3.4.0-3.4.5 sent it, is read past its end and dropped.
//! Bytes after the fields ZooKeeper reads are ignored there and kept here, so every message re-encodes to the
//! bytes it came from.

use bytes::{BufMut, Bytes, BytesMut};

/// `QuorumCnxManager.PROTOCOL_VERSION_V1`: the handshake sent since 3.5.0, one election address.
pub const PROTOCOL_VERSION_V1: i64 = -65536;
/// `QuorumCnxManager.PROTOCOL_VERSION_V2`: sent with `zookeeper.multiAddress.enabled`, addresses joined by `|`.
pub const PROTOCOL_VERSION_V2: i64 = -65535;
/// `QuorumCnxManager.maxBuffer`: the longest election address text a handshake may carry.
pub const MAX_ADDRESS_BYTES: usize = 2048;
/// `QuorumCnxManager.PACKETMAXSIZE`: the longest message on an established election connection.
pub const PACKET_MAX_SIZE: usize = 512 * 1024;
/// `QuorumPeer.OBSERVER_ID`: the sid an observer without an id sends.
pub const OBSERVER_ID: i64 = i64::MAX;
/// `FastLeaderElection.Notification.CURRENTVERSION`.
pub const NOTIFICATION_VERSION: i32 = 2;

/// Why a handshake or a notification cannot be read. ZooKeeper closes the connection on a bad handshake or a
/// bad length, and drops a bad notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElectionWireError {
    #[error("unrecognized election protocol version {0}")]
    ProtocolVersion(i64),
    #[error("unreasonable election address length {0} (1..=2048)")]
    AddressLength(i32),
    #[error("badly formed election address {0:?}")]
    Address(String),
    #[error("bad port number in election address {0:?}")]
    Port(String),
    #[error("election address is not UTF-8")]
    AddressUtf8,
    #[error("election message length {0} outside 1..=524288")]
    FrameLength(i32),
    #[error("notification of {0} bytes is shorter than its fields")]
    Short(usize),
    #[error("notification state {0} is none of LOOKING, FOLLOWING, LEADING, OBSERVING")]
    State(i32),
    #[error("notification config length {len} outside 0..={capacity}")]
    ConfigLength { len: i32, capacity: usize },
}

/// `QuorumPeer.ServerState`, numbered by its ordinal as notifications carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerState {
    Looking,
    Following,
    Leading,
    Observing,
}

impl ServerState {
    pub fn from_wire(n: i32) -> Result<ServerState, ElectionWireError> {
        match n {
            0 => Ok(ServerState::Looking),
            1 => Ok(ServerState::Following),
            2 => Ok(ServerState::Leading),
            3 => Ok(ServerState::Observing),
            other => Err(ElectionWireError::State(other)),
        }
    }

    pub fn to_wire(self) -> i32 {
        match self {
            ServerState::Looking => 0,
            ServerState::Following => 1,
            ServerState::Leading => 2,
            ServerState::Observing => 3,
        }
    }

    /// The word ZooKeeper logs and `srvr` derives its Mode from.
    pub fn name(self) -> &'static str {
        match self {
            ServerState::Looking => "LOOKING",
            ServerState::Following => "FOLLOWING",
            ServerState::Leading => "LEADING",
            ServerState::Observing => "OBSERVING",
        }
    }
}

/// The handshake's protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeVersion {
    V1,
    V2,
}

impl HandshakeVersion {
    pub fn to_wire(self) -> i64 {
        match self {
            HandshakeVersion::V1 => PROTOCOL_VERSION_V1,
            HandshakeVersion::V2 => PROTOCOL_VERSION_V2,
        }
    }
}

/// What the side opening an election connection sends first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handshake {
    /// Before 3.5.0: the sid alone (a non-negative first long).
    Legacy { sid: i64 },
    /// Protocol version, sid, and the sender's election address text ("host:port", or "h1:p1|h2:p2" in V2).
    Versioned {
        version: HandshakeVersion,
        sid: i64,
        address: String,
    },
}

/// One election address from a handshake, as `ConfigUtils.getHostAndPort` splits it (IPv6 without brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddress {
    pub host: String,
    pub port: u16,
}

impl Handshake {
    pub fn sid(&self) -> i64 {
        match self {
            Handshake::Legacy { sid } | Handshake::Versioned { sid, .. } => *sid,
        }
    }

    /// Reads a handshake from the start of `buf`: `Ok(None)` until all of it is there, then the handshake and
    /// the bytes it took. A versioned handshake's addresses are checked as ZooKeeper checks them before it
    /// keeps the connection ([`Handshake::addresses`]).
    pub fn decode(buf: &[u8]) -> Result<Option<(Handshake, usize)>, ElectionWireError> {
        let Some(first) = be_i64(buf, 0) else {
            return Ok(None);
        };
        if first >= 0 {
            return Ok(Some((Handshake::Legacy { sid: first }, 8)));
        }
        let version = match first {
            PROTOCOL_VERSION_V1 => HandshakeVersion::V1,
            PROTOCOL_VERSION_V2 => HandshakeVersion::V2,
            other => return Err(ElectionWireError::ProtocolVersion(other)),
        };
        let (Some(sid), Some(len)) = (be_i64(buf, 8), be_i32(buf, 16)) else {
            return Ok(None);
        };
        let n = match usize::try_from(len) {
            Ok(n) if (1..=MAX_ADDRESS_BYTES).contains(&n) => n,
            _ => return Err(ElectionWireError::AddressLength(len)),
        };
        let Some(raw) = buf.get(20..20 + n) else {
            return Ok(None);
        };
        let address = std::str::from_utf8(raw)
            .map_err(|_| ElectionWireError::AddressUtf8)?
            .to_owned();
        let handshake = Handshake::Versioned {
            version,
            sid,
            address,
        };
        handshake.addresses()?;
        Ok(Some((handshake, 20 + n)))
    }

    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::new();
        match self {
            Handshake::Legacy { sid } => out.put_i64(*sid),
            Handshake::Versioned {
                version,
                sid,
                address,
            } => {
                out.put_i64(version.to_wire());
                out.put_i64(*sid);
                // Addresses come from our own configuration, far below i32::MAX bytes.
                out.put_i32(address.len() as i32);
                out.put_slice(address.as_bytes());
            }
        }
        out.freeze()
    }

    /// The addresses the receiver may connect back to: none for a legacy handshake; for a versioned one, each
    /// `|`-separated part split into host and port, with wildcard hosts (`0.0.0.0`, `::`) left out as
    /// `InitialMessage.isWildcardAddress` leaves them out.
    pub fn addresses(&self) -> Result<Vec<PeerAddress>, ElectionWireError> {
        let Handshake::Versioned { address, .. } = self else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for part in java_split(address, '|') {
            let fields = host_and_port(part)?;
            let [host, port] = fields.as_slice() else {
                return Err(ElectionWireError::Address(part.to_owned()));
            };
            let port = parse_java_port(port).ok_or_else(|| ElectionWireError::Port((*port).to_owned()))?;
            if !is_wildcard(host) {
                out.push(PeerAddress {
                    host: (*host).to_owned(),
                    port,
                });
            }
        }
        Ok(out)
    }
}

/// `String.split(regex)` for a one-character separator: trailing empty parts are dropped.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// `ConfigUtils.getHostAndPort`: "[v6]:port[:more]" or "host:port[:more]".
fn host_and_port(s: &str) -> Result<Vec<&str>, ElectionWireError> {
    let bad = || ElectionWireError::Address(s.to_owned());
    let Some(rest) = s.strip_prefix('[') else {
        return Ok(java_split(s, ':'));
    };
    let close = rest.find(']').ok_or_else(bad)?;
    let host = &rest[..close];
    let after = &rest[close + 1..];
    match after.len() {
        0 => Ok(vec![host]),
        1 => Err(bad()),
        _ => {
            let mut v = vec![host];
            v.extend(java_split(&after[1..], ':'));
            Ok(v)
        }
    }
}

/// `Integer.parseInt` of a port, then the range `InetSocketAddress` accepts.
fn parse_java_port(s: &str) -> Option<u16> {
    let digits = s.strip_prefix('+').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u16>().ok()
}

fn is_wildcard(host: &str) -> bool {
    matches!(host, "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0")
}

/// How a notification was laid out, kept so it re-encodes to the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationForm {
    /// 28 bytes: no peerEpoch (it is the zxid's epoch), version 0.
    Short28,
    /// Exactly 40 bytes: peerEpoch and a version field that ZooKeeper does not read (version 0).
    Legacy40 { version_field: i32 },
    /// peerEpoch and version read; a version above 1 carries the sender's config text. `trailing` is whatever
    /// followed the fields ZooKeeper reads.
    Versioned {
        version: i32,
        config: Option<Bytes>,
        trailing: Bytes,
    },
}

/// `FastLeaderElection.Notification` as it travels: the sender's state and its vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub state: ServerState,
    /// The proposed leader's sid.
    pub leader: i64,
    /// The proposed leader's last zxid.
    pub zxid: i64,
    /// The sender's logical clock (election round).
    pub election_epoch: i64,
    /// The proposed leader's epoch.
    pub peer_epoch: i64,
    pub form: NotificationForm,
}

impl Notification {
    /// A notification as ZooKeeper 3.5+ sends it (`buildMsg`): version 2 and the sender's config text.
    pub fn current(
        state: ServerState,
        leader: i64,
        zxid: i64,
        election_epoch: i64,
        peer_epoch: i64,
        config: Bytes,
    ) -> Notification {
        Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            form: NotificationForm::Versioned {
                version: NOTIFICATION_VERSION,
                config: Some(config),
                trailing: Bytes::new(),
            },
        }
    }

    /// The message format version as FastLeaderElection records it (0 for the 28- and 40-byte forms).
    pub fn version(&self) -> i32 {
        match &self.form {
            NotificationForm::Short28 | NotificationForm::Legacy40 { .. } => 0,
            NotificationForm::Versioned { version, .. } => *version,
        }
    }

    pub fn config(&self) -> Option<&Bytes> {
        match &self.form {
            NotificationForm::Short28 | NotificationForm::Legacy40 { .. } => None,
            NotificationForm::Versioned { config, .. } => config.as_ref(),
        }
    }

    /// Reads one notification payload (the bytes after the length prefix).
    pub fn decode(payload: &Bytes) -> Result<Notification, ElectionWireError> {
        let n = payload.len();
        let short = || ElectionWireError::Short(n);
        let state = ServerState::from_wire(be_i32(payload, 0).ok_or_else(short)?)?;
        let leader = be_i64(payload, 4).ok_or_else(short)?;
        let zxid = be_i64(payload, 12).ok_or_else(short)?;
        let election_epoch = be_i64(payload, 20).ok_or_else(short)?;
        let (peer_epoch, form) = if n == 28 {
            (zxid >> 32, NotificationForm::Short28)
        } else {
            let peer_epoch = be_i64(payload, 28).ok_or_else(short)?;
            let version = be_i32(payload, 36).ok_or_else(short)?;
            let form = if n == 40 {
                NotificationForm::Legacy40 {
                    version_field: version,
                }
            } else if version > 1 {
                let len = be_i32(payload, 40).ok_or_else(short)?;
                let bad = ElectionWireError::ConfigLength { len, capacity: n };
                let clen = usize::try_from(len).ok().filter(|l| *l <= n).ok_or(bad)?;
                let config = payload.get(44..44 + clen).ok_or_else(short)?;
                NotificationForm::Versioned {
                    version,
                    config: Some(payload.slice_ref(config)),
                    trailing: payload.slice(44 + clen..),
                }
            } else {
                NotificationForm::Versioned {
                    version,
                    config: None,
                    trailing: payload.slice(40..),
                }
            };
            (peer_epoch, form)
        };
        Ok(Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            form,
        })
    }

    /// The payload, without the length prefix.
    pub fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(44);
        out.put_i32(self.state.to_wire());
        out.put_i64(self.leader);
        out.put_i64(self.zxid);
        out.put_i64(self.election_epoch);
        match &self.form {
            NotificationForm::Short28 => {}
            NotificationForm::Legacy40 { version_field } => {
                out.put_i64(self.peer_epoch);
                out.put_i32(*version_field);
            }
            NotificationForm::Versioned {
                version,
                config,
                trailing,
            } => {
                out.put_i64(self.peer_epoch);
                out.put_i32(*version);
                if let Some(config) = config {
                    // Config text is ours or was read under PACKET_MAX_SIZE.
                    out.put_i32(config.len() as i32);
                    out.put_slice(config);
                }
                out.put_slice(trailing);
            }
        }
        out.freeze()
    }

    /// The payload with its length prefix, as written on an election connection.
    pub fn encode_frame(&self) -> Bytes {
        let payload = self.encode();
        let mut out = BytesMut::with_capacity(4 + payload.len());
        out.put_i32(payload.len() as i32);
        out.put_slice(&payload);
        out.freeze()
    }
}

/// The `version=<hex>` line of a configuration text (`QuorumVerifier.toString`), if there is one.
pub fn config_version(config: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(config).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("version="))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .map(|v| v as i64)
}

/// Looks for one length-prefixed election message at the start of `buf`: `Ok(None)` until it is whole, then
/// the payload's length. A length of 0 or over [`PACKET_MAX_SIZE`] is refused, as `RecvWorker` refuses it.
pub fn check_message(buf: &[u8]) -> Result<Option<usize>, ElectionWireError> {
    let Some(len) = be_i32(buf, 0) else {
        return Ok(None);
    };
    let n = match usize::try_from(len) {
        Ok(n) if (1..=PACKET_MAX_SIZE).contains(&n) => n,
        _ => return Err(ElectionWireError::FrameLength(len)),
    };
    Ok((buf.len() >= 4 + n).then_some(n))
}

fn be_i64(buf: &[u8], at: usize) -> Option<i64> {
    let b: [u8; 8] = buf.get(at..at + 8)?.try_into().ok()?;
    Some(i64::from_be_bytes(b))
}

fn be_i32(buf: &[u8], at: usize) -> Option<i32> {
    let b: [u8; 4] = buf.get(at..at + 4)?.try_into().ok()?;
    Some(i32::from_be_bytes(b))
}

#[cfg(test)]
mod tests;
