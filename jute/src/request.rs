//! A client request decoded by its opcode: the typed form the server's pipeline consumes.
//!
//! Unknown or client-forbidden opcodes are reported as `RequestError::Unimplemented` (ZooKeeper answers
//! UNIMPLEMENTED and closes, `UnimplementedRequestProcessor`); a body that does not decode as its record is
//! `RequestError::Marshalling` (MARSHALLINGERROR). Bytes after the record are ignored, as Java's reader does.

use crate::codes::OpCode;
use crate::de::Decoder;
use crate::error::Error;
use crate::records::multi::MultiRequest;
use crate::records::proto::*;

/// A request body, by opcode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// create (1), create2 (15) and createContainer (19) share a record; the opcode decides the reply.
    Create(OpCode, CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    Exists(ExistsRequest),
    GetData(GetDataRequest),
    SetData(SetDataRequest),
    GetAcl(GetAclRequest),
    SetAcl(SetAclRequest),
    GetChildren(GetChildrenRequest),
    GetChildren2(GetChildren2Request),
    Sync(SyncRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(MultiRequest),
    MultiRead(MultiRequest),
    Reconfig(ReconfigRequest),
    CheckWatches(CheckWatchesRequest),
    RemoveWatches(RemoveWatchesRequest),
    DeleteContainer(DeleteContainerRequest),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(GetSaslRequest),
    GetEphemerals(GetEphemeralsRequest),
    GetAllChildrenNumber(GetAllChildrenNumberRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

/// Why a request body could not be turned into a `Request`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("opcode {0} is not accepted from clients")]
    Unimplemented(i32),
    /// `body` is what arrived: an ensemble's follower forwards it to the leader as it is, as ZooKeeper's
    /// learners forward a request without reading its record.
    #[error("malformed request for opcode {op}: {source}")]
    Marshalling { op: i32, source: Error, body: Vec<u8> },
}

impl Request {
    /// The opcode this request travels under.
    pub fn opcode(&self) -> OpCode {
        match self {
            Request::Create(op, _) => *op,
            Request::CreateTtl(_) => OpCode::CreateTtl,
            Request::Delete(_) => OpCode::Delete,
            Request::Exists(_) => OpCode::Exists,
            Request::GetData(_) => OpCode::GetData,
            Request::SetData(_) => OpCode::SetData,
            Request::GetAcl(_) => OpCode::GetAcl,
            Request::SetAcl(_) => OpCode::SetAcl,
            Request::GetChildren(_) => OpCode::GetChildren,
            Request::GetChildren2(_) => OpCode::GetChildren2,
            Request::Sync(_) => OpCode::Sync,
            Request::Ping => OpCode::Ping,
            Request::Check(_) => OpCode::Check,
            Request::Multi(_) => OpCode::Multi,
            Request::MultiRead(_) => OpCode::MultiRead,
            Request::Reconfig(_) => OpCode::Reconfig,
            Request::CheckWatches(_) => OpCode::CheckWatches,
            Request::RemoveWatches(_) => OpCode::RemoveWatches,
            Request::DeleteContainer(_) => OpCode::DeleteContainer,
            Request::Auth(_) => OpCode::Auth,
            Request::SetWatches(_) => OpCode::SetWatches,
            Request::SetWatches2(_) => OpCode::SetWatches2,
            Request::Sasl(_) => OpCode::Sasl,
            Request::GetEphemerals(_) => OpCode::GetEphemerals,
            Request::GetAllChildrenNumber(_) => OpCode::GetAllChildrenNumber,
            Request::AddWatch(_) => OpCode::AddWatch,
            Request::WhoAmI => OpCode::WhoAmI,
            Request::CloseSession => OpCode::CloseSession,
        }
    }

    /// Decodes the body of a request of type `op`, with `max_len` as the length limit.
    pub fn decode(op: i32, body: &[u8], max_len: usize) -> Result<Request, RequestError> {
        let code = OpCode::from_code(op).ok_or(RequestError::Unimplemented(op))?;
        let mut d = Decoder::new(body).with_max_len(max_len);
        let request = match code {
            OpCode::Create | OpCode::Create2 | OpCode::CreateContainer => {
                d.read().map(|r| Request::Create(code, r))
            }
            OpCode::CreateTtl => d.read().map(Request::CreateTtl),
            OpCode::Delete => d.read().map(Request::Delete),
            OpCode::Exists => d.read().map(Request::Exists),
            OpCode::GetData => d.read().map(Request::GetData),
            OpCode::SetData => d.read().map(Request::SetData),
            OpCode::GetAcl => d.read().map(Request::GetAcl),
            OpCode::SetAcl => d.read().map(Request::SetAcl),
            OpCode::GetChildren => d.read().map(Request::GetChildren),
            OpCode::GetChildren2 => d.read().map(Request::GetChildren2),
            OpCode::Sync => d.read().map(Request::Sync),
            OpCode::Ping => Ok(Request::Ping),
            OpCode::Check => d.read().map(Request::Check),
            OpCode::Multi => d.read().map(Request::Multi),
            OpCode::MultiRead => d.read().map(Request::MultiRead),
            OpCode::Reconfig => d.read().map(Request::Reconfig),
            OpCode::CheckWatches => d.read().map(Request::CheckWatches),
            OpCode::RemoveWatches => d.read().map(Request::RemoveWatches),
            OpCode::DeleteContainer => d.read().map(Request::DeleteContainer),
            OpCode::Auth => d.read().map(Request::Auth),
            OpCode::SetWatches => d.read().map(Request::SetWatches),
            OpCode::SetWatches2 => d.read().map(Request::SetWatches2),
            OpCode::Sasl => d.read().map(Request::Sasl),
            OpCode::GetEphemerals => d.read().map(Request::GetEphemerals),
            OpCode::GetAllChildrenNumber => d.read().map(Request::GetAllChildrenNumber),
            OpCode::AddWatch => d.read().map(Request::AddWatch),
            OpCode::WhoAmI => Ok(Request::WhoAmI),
            OpCode::CloseSession => Ok(Request::CloseSession),
            OpCode::Notification | OpCode::CreateSession | OpCode::Error => {
                return Err(RequestError::Unimplemented(op));
            }
        };
        request.map_err(|source| RequestError::Marshalling {
            op,
            source,
            body: body.to_vec(),
        })
    }

    /// Encodes the body (without the RequestHeader).
    pub fn encode_body(&self) -> crate::Result<Vec<u8>> {
        use crate::ser::to_bytes;
        match self {
            Request::Create(_, r) => to_bytes(r),
            Request::CreateTtl(r) => to_bytes(r),
            Request::Delete(r) => to_bytes(r),
            Request::Exists(r) | Request::GetData(r) | Request::GetChildren(r) | Request::GetChildren2(r) => {
                to_bytes(r)
            }
            Request::SetData(r) => to_bytes(r),
            Request::GetAcl(r) | Request::GetAllChildrenNumber(r) => to_bytes(r),
            Request::Sync(r) => to_bytes(r),
            Request::SetAcl(r) => to_bytes(r),
            Request::Check(r) => to_bytes(r),
            Request::Multi(r) | Request::MultiRead(r) => to_bytes(r),
            Request::Reconfig(r) => to_bytes(r),
            Request::CheckWatches(r) | Request::RemoveWatches(r) => to_bytes(r),
            Request::DeleteContainer(r) => to_bytes(r),
            Request::Auth(r) => to_bytes(r),
            Request::SetWatches(r) => to_bytes(r),
            Request::SetWatches2(r) => to_bytes(r),
            Request::Sasl(r) => to_bytes(r),
            Request::GetEphemerals(r) => to_bytes(r),
            Request::AddWatch(r) => to_bytes(r),
            Request::Ping | Request::WhoAmI | Request::CloseSession => Ok(Vec::new()),
        }
    }
}
