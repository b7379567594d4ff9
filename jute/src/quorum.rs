//! What a `QuorumPacket`'s `data` carries, typed by packet type and by who sent it (`Leader`, `Learner`,
//! `LearnerHandler`, `LearnerSessionTracker` of ZooKeeper 3.8/3.9), and the database a leader streams after SNAP.
//!
//! The same type means different bodies in the two directions: a learner's PING lists the sessions it touched
//! (`long sessionId, int timeout` repeated, possibly none), the leader's carries nothing; REVALIDATE asks with
//! `long sessionId, int timeout` and is answered with `long sessionId, boolean valid`. Packets whose data
//! ZooKeeper never reads (ACK, COMMIT, SYNC, UPTODATE, DIFF, TRUNC, SNAP, the leader's PING) decode whatever
//! data they carry to their bodiless variant, as ZooKeeper ignores it, and encode with null data, as it sends
//! them. A body that does not fill its data exactly is an error.
//!
//! SNAP is followed on the stream, outside any packet, by `SerializeUtils.serializeSnapshot` (global sessions,
//! ACL cache, nodes up to the "/" terminator: a snapshot file's body without file header or seals) and the
//! string "BenWasHere" ([`SyncSnapshot`]).

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::codes::PacketType;
use crate::de::Decoder;
use crate::error::{Error, Result};
use crate::records::data::{Acl, StatPersisted};
use crate::records::quorum::{LearnerInfo, QuorumPacket};
use crate::records::txn::CreateSessionTxn;
use crate::request::{Request, RequestError};
use crate::ser::to_writer;
use crate::txn_entry::TxnEntry;

/// The protocol version of LEADERINFO and LearnerInfo (`0x10000`, ZooKeeper 3.4 and later).
pub const PROTOCOL_VERSION: i32 = 0x10000;
/// The string after the database streamed on SNAP (`LearnerHandler`).
pub const SNAP_SIGNATURE: &str = "BenWasHere";
/// The path that ends the node list of a serialized tree.
const TREE_END: &str = "/";
/// `opcode` of a forwarded createSession (`ZooDefs.OpCode.createSession`).
const CREATE_SESSION: i32 = -10;

/// Which end of a quorum connection sent a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Leader,
    Learner,
}

/// A session and its timeout, as a learner's PING, REVALIDATE and the SNAP stream carry them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionTimeout {
    pub session_id: i64,
    pub timeout: i32,
}

/// The leader's answer to REVALIDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RevalidateReply {
    pub session_id: i64,
    pub valid: bool,
}

/// What a forwarded request carries after its session, cxid and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardedBody {
    /// A global session created on a learner: the timeout it negotiated.
    CreateSession(CreateSessionTxn),
    /// A client request, with the record its opcode calls for.
    Client(Request),
    /// A client request whose record does not decode (a multi mixing read and write ops, say), as the client
    /// sent it: ZooKeeper's learners forward a request without reading it, and its leader answers a multi that
    /// does not decode with a MARSHALLINGERROR error txn.
    Undecoded(Vec<u8>),
}

/// REQUEST: a write, sync or session change a learner hands to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    pub session_id: i64,
    pub cxid: i32,
    pub op: i32,
    pub body: ForwardedBody,
}

/// The body of a quorum packet, by type and direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    Request(ForwardedRequest),
    Proposal(TxnEntry),
    Ack,
    Commit,
    /// The leader's PING (its zxid is the last proposed zxid).
    LeaderPing,
    /// A learner's PING: the sessions touched since its last one.
    LearnerPing(Vec<SessionTimeout>),
    RevalidateRequest(SessionTimeout),
    RevalidateReply(RevalidateReply),
    Sync,
    Inform(TxnEntry),
    CommitAndActivate {
        designated_leader: i64,
    },
    /// NEWLEADER: the leader's config text (`QuorumVerifier.toString`), as sent.
    NewLeader {
        config: Option<Bytes>,
    },
    FollowerInfo(LearnerInfo),
    UpToDate,
    Diff,
    Trunc,
    Snap,
    ObserverInfo(LearnerInfo),
    LeaderInfo {
        protocol_version: i32,
    },
    /// ACKEPOCH: the learner's currentEpoch, or -1 when it had already accepted the proposed epoch.
    AckEpoch {
        current_epoch: i32,
    },
    InformAndActivate {
        designated_leader: i64,
        txn: TxnEntry,
    },
}

impl Payload {
    /// Decodes the data of `packet` as sent by `from`, with `max_len` as the length limit.
    pub fn decode(packet: &QuorumPacket, from: Sender, max_len: usize) -> Result<Payload> {
        let packet_type = PacketType::from_code(packet.packet_type).ok_or_else(|| Error::Invalid {
            offset: 0,
            message: format!("unknown quorum packet type {}", packet.packet_type),
        })?;
        let data = packet.data.as_deref();
        let payload = match packet_type {
            PacketType::Request => Payload::Request(forwarded(required(data, packet_type)?, max_len)?),
            PacketType::Proposal => {
                Payload::Proposal(TxnEntry::decode(required(data, packet_type)?, max_len)?)
            }
            PacketType::Ack => Payload::Ack,
            PacketType::Commit => Payload::Commit,
            PacketType::Ping => match from {
                Sender::Leader => Payload::LeaderPing,
                Sender::Learner => Payload::LearnerPing(sessions(required(data, packet_type)?)?),
            },
            PacketType::Revalidate => {
                let data = required(data, packet_type)?;
                match from {
                    Sender::Leader => Payload::RevalidateReply(whole(data, max_len)?),
                    Sender::Learner => Payload::RevalidateRequest(whole(data, max_len)?),
                }
            }
            PacketType::Sync => Payload::Sync,
            PacketType::Inform => Payload::Inform(TxnEntry::decode(required(data, packet_type)?, max_len)?),
            PacketType::CommitAndActivate => Payload::CommitAndActivate {
                designated_leader: whole(required(data, packet_type)?, max_len)?,
            },
            PacketType::NewLeader => Payload::NewLeader {
                config: packet.data.clone(),
            },
            PacketType::FollowerInfo => Payload::FollowerInfo(whole(required(data, packet_type)?, max_len)?),
            PacketType::UpToDate => Payload::UpToDate,
            PacketType::Diff => Payload::Diff,
            PacketType::Trunc => Payload::Trunc,
            PacketType::Snap => Payload::Snap,
            PacketType::ObserverInfo => Payload::ObserverInfo(whole(required(data, packet_type)?, max_len)?),
            PacketType::LeaderInfo => Payload::LeaderInfo {
                protocol_version: whole(required(data, packet_type)?, max_len)?,
            },
            PacketType::AckEpoch => Payload::AckEpoch {
                current_epoch: whole(required(data, packet_type)?, max_len)?,
            },
            PacketType::InformAndActivate => {
                let mut d = Decoder::new(required(data, packet_type)?);
                let designated_leader = d.read()?;
                Payload::InformAndActivate {
                    designated_leader,
                    txn: TxnEntry::decode(d.remaining(), max_len)?,
                }
            }
        };
        Ok(payload)
    }

    /// The packet type this body travels under.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Payload::Request(_) => PacketType::Request,
            Payload::Proposal(_) => PacketType::Proposal,
            Payload::Ack => PacketType::Ack,
            Payload::Commit => PacketType::Commit,
            Payload::LeaderPing | Payload::LearnerPing(_) => PacketType::Ping,
            Payload::RevalidateRequest(_) | Payload::RevalidateReply(_) => PacketType::Revalidate,
            Payload::Sync => PacketType::Sync,
            Payload::Inform(_) => PacketType::Inform,
            Payload::CommitAndActivate { .. } => PacketType::CommitAndActivate,
            Payload::NewLeader { .. } => PacketType::NewLeader,
            Payload::FollowerInfo(_) => PacketType::FollowerInfo,
            Payload::UpToDate => PacketType::UpToDate,
            Payload::Diff => PacketType::Diff,
            Payload::Trunc => PacketType::Trunc,
            Payload::Snap => PacketType::Snap,
            Payload::ObserverInfo(_) => PacketType::ObserverInfo,
            Payload::LeaderInfo { .. } => PacketType::LeaderInfo,
            Payload::AckEpoch { .. } => PacketType::AckEpoch,
            Payload::InformAndActivate { .. } => PacketType::InformAndActivate,
        }
    }

    /// The packet's data: `None` (length -1) for the bodiless types, as ZooKeeper sends them.
    pub fn encode(&self) -> Result<Option<Bytes>> {
        let mut out = Vec::new();
        match self {
            Payload::Ack
            | Payload::Commit
            | Payload::LeaderPing
            | Payload::Sync
            | Payload::UpToDate
            | Payload::Diff
            | Payload::Trunc
            | Payload::Snap => return Ok(None),
            Payload::NewLeader { config } => return Ok(config.clone()),
            Payload::Request(r) => {
                out.extend_from_slice(&r.session_id.to_be_bytes());
                out.extend_from_slice(&r.cxid.to_be_bytes());
                out.extend_from_slice(&r.op.to_be_bytes());
                match &r.body {
                    ForwardedBody::CreateSession(txn) => to_writer(&mut out, txn)?,
                    ForwardedBody::Client(request) => out.extend_from_slice(&request.encode_body()?),
                    ForwardedBody::Undecoded(body) => out.extend_from_slice(body),
                }
            }
            Payload::Proposal(txn) | Payload::Inform(txn) => txn.encode_into(&mut out)?,
            Payload::LearnerPing(list) => {
                for s in list {
                    to_writer(&mut out, s)?;
                }
            }
            Payload::RevalidateRequest(s) => to_writer(&mut out, s)?,
            Payload::RevalidateReply(r) => to_writer(&mut out, r)?,
            Payload::CommitAndActivate { designated_leader } => to_writer(&mut out, designated_leader)?,
            Payload::FollowerInfo(info) | Payload::ObserverInfo(info) => to_writer(&mut out, info)?,
            Payload::LeaderInfo { protocol_version } => to_writer(&mut out, protocol_version)?,
            Payload::AckEpoch { current_epoch } => to_writer(&mut out, current_epoch)?,
            Payload::InformAndActivate {
                designated_leader,
                txn,
            } => {
                to_writer(&mut out, designated_leader)?;
                txn.encode_into(&mut out)?;
            }
        }
        Ok(Some(Bytes::from(out)))
    }

    /// A packet with this body, `zxid` and no auth info (only REQUEST carries any).
    pub fn to_packet(&self, zxid: i64) -> Result<QuorumPacket> {
        Ok(QuorumPacket {
            packet_type: self.packet_type().code(),
            zxid,
            data: self.encode()?,
            authinfo: None,
        })
    }
}

/// The data of a packet type that needs some.
fn required(data: Option<&[u8]>, packet_type: PacketType) -> Result<&[u8]> {
    data.ok_or_else(|| Error::Invalid {
        offset: 0,
        message: format!("{packet_type:?} packet without data"),
    })
}

/// One record that must fill `data` exactly.
fn whole<'de, T: Deserialize<'de>>(data: &'de [u8], max_len: usize) -> Result<T> {
    let mut d = Decoder::new(data).with_max_len(max_len);
    let value = d.read()?;
    d.finish()?;
    Ok(value)
}

/// `(sessionId, timeout)` pairs up to the end of `data`.
fn sessions(data: &[u8]) -> Result<Vec<SessionTimeout>> {
    let mut d = Decoder::new(data);
    let mut out = Vec::with_capacity(data.len() / 12);
    while !d.is_empty() {
        out.push(d.read()?);
    }
    Ok(out)
}

fn forwarded(data: &[u8], max_len: usize) -> Result<ForwardedRequest> {
    let mut d = Decoder::new(data).with_max_len(max_len);
    let session_id: i64 = d.read()?;
    let cxid: i32 = d.read()?;
    let op: i32 = d.read()?;
    let body = if op == CREATE_SESSION {
        let txn = d.read()?;
        d.finish()?;
        ForwardedBody::CreateSession(txn)
    } else {
        let rest = d.remaining();
        // The record is read as the leader's own client connection reads it (ZooKeeper's leader deserializes
        // the request's bytes the same way for both): what follows it is ignored, and a null list reads as an
        // empty one, so the re-encoding may differ from what arrived (an ACL list sent as null, say).
        match Request::decode(op, rest, max_len) {
            Ok(request) => ForwardedBody::Client(request),
            // What a client sent that does not decode is the leader's to answer, as ZooKeeper's is.
            Err(RequestError::Marshalling { .. }) => ForwardedBody::Undecoded(rest.to_vec()),
            Err(e) => {
                return Err(Error::Invalid {
                    offset: 16,
                    message: e.to_string(),
                })
            }
        }
    };
    Ok(ForwardedRequest {
        session_id,
        cxid,
        op,
        body,
    })
}

/// One entry of the ACL cache of a serialized tree (`ReferenceCountedACLCache.serialize`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AclCacheEntry {
    pub acl_ref: i64,
    pub acl: Vec<Acl>,
}

/// One node of a serialized tree: its path, then `DataNode` (data, ACL reference, persisted stat).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TreeNode {
    pub path: String,
    pub data: Option<Bytes>,
    pub acl_ref: i64,
    pub stat: StatPersisted,
}

/// The database a leader streams after SNAP, decoded whole.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncSnapshot {
    pub sessions: Vec<SessionTimeout>,
    pub acls: Vec<AclCacheEntry>,
    /// In the order sent: parents before children, the root first with path "".
    pub nodes: Vec<TreeNode>,
}

impl SyncSnapshot {
    /// Reads the snapshot and its signature from `d`, which is left after the signature.
    pub fn decode(d: &mut Decoder<'_>) -> Result<SyncSnapshot> {
        let sessions = counted(d)?;
        let acls = counted(d)?;
        let mut nodes = Vec::new();
        loop {
            let path: String = d.read()?;
            if path == TREE_END {
                break;
            }
            nodes.push(TreeNode {
                path,
                data: d.read()?,
                acl_ref: d.read()?,
                stat: d.read()?,
            });
        }
        let signature: Option<String> = d.read()?;
        if signature.as_deref() != Some(SNAP_SIGNATURE) {
            return Err(d.invalid(format!(
                "snapshot signature {signature:?}, expected {SNAP_SIGNATURE:?}"
            )));
        }
        Ok(SyncSnapshot {
            sessions,
            acls,
            nodes,
        })
    }

    /// The stream as a leader writes it, signature included.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        write_counted(&mut out, &self.sessions)?;
        write_counted(&mut out, &self.acls)?;
        for node in &self.nodes {
            to_writer(&mut out, node)?;
        }
        to_writer(&mut out, TREE_END)?;
        to_writer(&mut out, SNAP_SIGNATURE)?;
        Ok(out)
    }
}

/// An `int` count, then that many records (the sessions and the ACL cache are written this way, not as a
/// Jute vector: a negative count is an error, not null).
fn counted<'de, T: Deserialize<'de>>(d: &mut Decoder<'de>) -> Result<Vec<T>> {
    let count: i32 = d.read()?;
    let count = usize::try_from(count).map_err(|_| d.invalid(format!("negative count {count}")))?;
    // Each record takes at least 8 bytes: do not reserve more than the input could hold.
    let mut out = Vec::with_capacity(count.min(d.remaining().len() / 8));
    for _ in 0..count {
        out.push(d.read()?);
    }
    Ok(out)
}

fn write_counted<T: Serialize>(out: &mut Vec<u8>, items: &[T]) -> Result<()> {
    let count = i32::try_from(items.len()).map_err(|_| Error::Invalid {
        offset: out.len(),
        message: format!("{} entries do not fit an int count", items.len()),
    })?;
    to_writer(&mut *out, &count)?;
    for item in items {
        to_writer(&mut *out, item)?;
    }
    Ok(())
}
