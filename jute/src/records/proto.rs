//! The client protocol (`org.apache.zookeeper.proto` in `zookeeper.jute`): headers, the connect handshake and the
//! request and response record of every opcode. The multi records are in `multi`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::data::{Acl, ClientInfo, Stat};

/// The first frame a client sends. `read_only` is absent in the short form older clients send; a reply must
/// mirror the shape of the request (see `ConnectResponse`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    pub read_only: Option<bool>,
}

/// The server's answer to a ConnectRequest; `read_only` is present iff the request carried it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub time_out: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    pub read_only: Option<bool>,
}

/// Precedes every request after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RequestHeader {
    pub xid: i32,
    #[serde(rename = "type")]
    pub op: i32,
}

/// Precedes every reply and notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
}

/// A watch notification (xid -1).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WatcherEvent {
    #[serde(rename = "type")]
    pub event_type: i32,
    pub state: i32,
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateRequest {
    #[serde(deserialize_with = "crate::de::required_string")]
    pub path: String,
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub flags: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateTtlRequest {
    #[serde(deserialize_with = "crate::de::required_string")]
    pub path: String,
    pub data: Option<Bytes>,
    pub acl: Vec<Acl>,
    pub flags: i32,
    pub ttl: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CreateResponse {
    pub path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Create2Response {
    pub path: String,
    pub stat: Stat,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeleteRequest {
    #[serde(deserialize_with = "crate::de::required_string")]
    pub path: String,
    pub version: i32,
}

/// Also the request of getData, getChildren and getChildren2, which share its layout.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExistsRequest {
    #[serde(deserialize_with = "crate::de::required_string")]
    pub path: String,
    pub watch: bool,
}

pub type GetDataRequest = ExistsRequest;
pub type GetChildrenRequest = ExistsRequest;
pub type GetChildren2Request = ExistsRequest;

/// Also SetDataResponse and SetACLResponse, which share its layout.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExistsResponse {
    pub stat: Stat,
}

pub type SetDataResponse = ExistsResponse;
pub type SetAclResponse = ExistsResponse;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GetDataResponse {
    pub data: Option<Bytes>,
    pub stat: Stat,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetDataRequest {
    #[serde(deserialize_with = "crate::de::required_string")]
    pub path: String,
    pub data: Option<Bytes>,
    pub version: i32,
}

/// Also SyncRequest, SyncResponse, GetEphemeralsRequest and GetAllChildrenNumberRequest: one path.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PathRequest {
    #[serde(deserialize_with = "crate::de::required_string")]
    pub path: String,
}

pub type GetAclRequest = PathRequest;

/// sync's path, which ZooKeeper echoes back as it came, null included.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncRequest {
    pub path: Option<String>,
}

pub type SyncResponse = SyncRequest;
pub type GetAllChildrenNumberRequest = PathRequest;

/// getEphemerals' prefix; null means every ephemeral of the session.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GetEphemeralsRequest {
    pub prefix_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GetAclResponse {
    pub acl: Vec<Acl>,
    pub stat: Stat,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetAclRequest {
    #[serde(deserialize_with = "crate::de::required_string")]
    pub path: String,
    pub acl: Vec<Acl>,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GetChildrenResponse {
    pub children: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GetChildren2Response {
    pub children: Vec<String>,
    pub stat: Stat,
}

/// check (13), inside multi.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckVersionRequest {
    #[serde(deserialize_with = "crate::de::required_string")]
    pub path: String,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReconfigRequest {
    pub joining_servers: Option<String>,
    pub leaving_servers: Option<String>,
    pub new_members: Option<String>,
    pub cur_config_id: i64,
}

/// Also RemoveWatchesRequest, which shares its layout; `watcher_type` is a `WatcherType` number.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CheckWatchesRequest {
    pub path: String,
    #[serde(rename = "type")]
    pub watcher_type: i32,
}

pub type RemoveWatchesRequest = CheckWatchesRequest;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuthPacket {
    #[serde(rename = "type")]
    pub auth_type: i32,
    pub scheme: String,
    pub auth: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetWatches {
    pub relative_zxid: i64,
    pub data_watches: Vec<String>,
    pub exist_watches: Vec<String>,
    pub child_watches: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetWatches2 {
    pub relative_zxid: i64,
    pub data_watches: Vec<String>,
    pub exist_watches: Vec<String>,
    pub child_watches: Vec<String>,
    pub persistent_watches: Vec<String>,
    pub persistent_recursive_watches: Vec<String>,
}

/// sasl (102), client to server; the answer is `SetSaslResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GetSaslRequest {
    pub token: Option<Bytes>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SetSaslResponse {
    pub token: Option<Bytes>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GetEphemeralsResponse {
    pub ephemerals: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GetAllChildrenNumberResponse {
    pub total_number: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AddWatchRequest {
    pub path: String,
    pub mode: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WhoAmIResponse {
    pub client_info: Vec<ClientInfo>,
}

/// The body of an error result in a multi, and of addWatch's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub err: i32,
}

/// Precedes each op of a multi request and each result of a multi response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MultiHeader {
    #[serde(rename = "type")]
    pub op: i32,
    pub done: bool,
    pub err: i32,
}

/// The leader's internal request to remove an empty container (never sent by clients).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeleteContainerRequest {
    pub path: Bytes,
}
