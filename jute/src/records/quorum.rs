//! Quorum records (`org.apache.zookeeper.server.quorum` in `zookeeper.jute`): the packets leader and learners
//! exchange on the quorum port, written back to back with no length prefix.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::data::Id;

/// `packet_type` is a `PacketType` number.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QuorumPacket {
    #[serde(rename = "type")]
    pub packet_type: i32,
    pub zxid: i64,
    pub data: Option<Bytes>,
    pub authinfo: Option<Vec<Id>>,
}

/// Sent by a learner in FOLLOWERINFO / OBSERVERINFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LearnerInfo {
    pub serverid: i64,
    pub protocol_version: i32,
    pub config_version: i64,
}

/// Quorum SASL authentication exchange.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QuorumAuthPacket {
    pub magic: i64,
    pub status: i32,
    pub token: Bytes,
}
