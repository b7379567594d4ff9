//! multi (14) and multiRead (22): a sequence of `MultiHeader` + op record pairs ended by the header
//! `{type: -1, done: true, err: -1}`, in both directions (`MultiOperationRecord`, `MultiResponse`).
//!
//! Which records may appear is decided by the header's type, so these types implement serde by hand: the body
//! is read as an open-ended tuple whose next element's type depends on the header just read.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::proto::{
    CheckVersionRequest, Create2Response, CreateRequest, CreateResponse, CreateTtlRequest, DeleteRequest,
    ErrorResponse, ExistsRequest, GetChildrenResponse, GetDataResponse, MultiHeader, SetDataRequest,
};
use crate::codes::{CreateMode, OpCode};
use crate::records::data::Stat;

const END: MultiHeader = MultiHeader {
    op: -1,
    done: true,
    err: -1,
};

/// One operation of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// create (1), create2 (15) or createContainer (19): the opcode is kept because the result type echoes it.
    Create(OpCode, CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetChildren(ExistsRequest),
    GetData(ExistsRequest),
}

impl MultiOp {
    /// The opcode written in this op's header.
    pub fn opcode(&self) -> OpCode {
        match self {
            MultiOp::Create(op, _) => *op,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
            MultiOp::GetData(_) => OpCode::GetData,
        }
    }

    /// True for the two read ops that only multiRead may carry.
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetChildren(_) | MultiOp::GetData(_))
    }
}

/// The body of a multi or multiRead request. Decoding refuses what ZooKeeper's `MultiOperationRecord` refuses
/// while it reads the request: an unknown op type, a create whose flags name no mode or whose ACL list is null,
/// and read ops mixed with write ops (each checked in the order ZooKeeper reads the ops).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    pub ops: Vec<MultiOp>,
}

/// One result of a multi or multiRead response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpResult {
    Create(CreateResponse),
    /// Also the result of createContainer and createTTL.
    Create2(Create2Response),
    Delete,
    SetData(Stat),
    Check,
    GetChildren(GetChildrenResponse),
    GetData(GetDataResponse),
    Error(i32),
}

/// The body of a multi or multiRead response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    pub results: Vec<OpResult>,
}

impl Serialize for MultiRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.ops.len() * 2 + 1)?;
        for op in &self.ops {
            tuple.serialize_element(&MultiHeader {
                op: op.opcode().code(),
                done: false,
                err: -1,
            })?;
            match op {
                MultiOp::Create(_, r) => tuple.serialize_element(r)?,
                MultiOp::CreateTtl(r) => tuple.serialize_element(r)?,
                MultiOp::Delete(r) => tuple.serialize_element(r)?,
                MultiOp::SetData(r) => tuple.serialize_element(r)?,
                MultiOp::Check(r) => tuple.serialize_element(r)?,
                MultiOp::GetChildren(r) | MultiOp::GetData(r) => tuple.serialize_element(r)?,
            }
        }
        tuple.serialize_element(&END)?;
        tuple.end()
    }
}

impl Serialize for MultiResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut tuple = serializer.serialize_tuple(self.results.len() * 2 + 1)?;
        for result in &self.results {
            let (op, err) = match result {
                OpResult::Create(_) => (OpCode::Create.code(), 0),
                OpResult::Create2(_) => (OpCode::Create2.code(), 0),
                OpResult::Delete => (OpCode::Delete.code(), 0),
                OpResult::SetData(_) => (OpCode::SetData.code(), 0),
                OpResult::Check => (OpCode::Check.code(), 0),
                OpResult::GetChildren(_) => (OpCode::GetChildren.code(), 0),
                OpResult::GetData(_) => (OpCode::GetData.code(), 0),
                OpResult::Error(err) => (OpCode::Error.code(), *err),
            };
            tuple.serialize_element(&MultiHeader { op, done: false, err })?;
            match result {
                OpResult::Create(r) => tuple.serialize_element(r)?,
                OpResult::Create2(r) => tuple.serialize_element(r)?,
                OpResult::Delete | OpResult::Check => {}
                OpResult::SetData(stat) => tuple.serialize_element(stat)?,
                OpResult::GetChildren(r) => tuple.serialize_element(r)?,
                OpResult::GetData(r) => tuple.serialize_element(r)?,
                OpResult::Error(err) => tuple.serialize_element(&ErrorResponse { err: *err })?,
            }
        }
        tuple.serialize_element(&END)?;
        tuple.end()
    }
}

/// A create, create2 or createContainer op as the request carries it: the ACL list may be null on the wire.
#[derive(Deserialize)]
struct CreateOp {
    #[serde(deserialize_with = "crate::de::required_string")]
    path: String,
    data: Option<bytes::Bytes>,
    acl: Option<Vec<crate::records::data::Acl>>,
    flags: i32,
}

/// Checks a create op as `MultiOperationRecord` does while decoding (3.8.2+ and 3.9, ZOOKEEPER-4026): flags that
/// name no create mode fail the request (an IOException), and so does a null ACL list (see
/// `Error::is_null_acl_in_multi`).
fn create_op<E: de::Error>(op: CreateOp) -> Result<CreateRequest, E> {
    if CreateMode::from_code(op.flags).is_none() {
        return Err(E::custom(format!("invalid flag {} for create mode", op.flags)));
    }
    let Some(acl) = op.acl else {
        return Err(E::custom(crate::error::NULL_ACL_IN_MULTI));
    };
    Ok(CreateRequest {
        path: op.path,
        data: op.data,
        acl,
        flags: op.flags,
    })
}

fn next<'de, T: Deserialize<'de>, A: SeqAccess<'de>>(seq: &mut A) -> Result<T, A::Error> {
    seq.next_element()?
        .ok_or_else(|| de::Error::custom("multi record ended before its terminator"))
}

struct RequestVisitor;

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = MultiRequest;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a multi request")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MultiRequest, A::Error> {
        let mut ops: Vec<MultiOp> = Vec::new();
        loop {
            if ops.len() > 1 && ops[ops.len() - 1].is_read() != ops[0].is_read() {
                // `MultiOperationRecord.add`: one kind of op per request, checked as each op is read.
                return Err(de::Error::custom("mixing read and write operations in a multi"));
            }
            let header: MultiHeader = next(&mut seq)?;
            if header.done {
                return Ok(MultiRequest { ops });
            }
            let op = match OpCode::from_code(header.op) {
                Some(code @ (OpCode::Create | OpCode::Create2 | OpCode::CreateContainer)) => {
                    MultiOp::Create(code, create_op(next(&mut seq)?)?)
                }
                Some(OpCode::CreateTtl) => MultiOp::CreateTtl(next(&mut seq)?),
                Some(OpCode::Delete) => MultiOp::Delete(next(&mut seq)?),
                Some(OpCode::SetData) => MultiOp::SetData(next(&mut seq)?),
                Some(OpCode::Check) => MultiOp::Check(next(&mut seq)?),
                Some(OpCode::GetChildren) => MultiOp::GetChildren(next(&mut seq)?),
                Some(OpCode::GetData) => MultiOp::GetData(next(&mut seq)?),
                _ => {
                    return Err(de::Error::custom(format!(
                        "invalid op type {} in a multi",
                        header.op
                    )))
                }
            };
            ops.push(op);
        }
    }
}

struct ResponseVisitor;

impl<'de> Visitor<'de> for ResponseVisitor {
    type Value = MultiResponse;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a multi response")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MultiResponse, A::Error> {
        let mut results = Vec::new();
        loop {
            let header: MultiHeader = next(&mut seq)?;
            if header.done {
                return Ok(MultiResponse { results });
            }
            let result = match OpCode::from_code(header.op) {
                Some(OpCode::Create) => OpResult::Create(next(&mut seq)?),
                Some(OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl) => {
                    OpResult::Create2(next(&mut seq)?)
                }
                Some(OpCode::Delete) => OpResult::Delete,
                Some(OpCode::SetData) => OpResult::SetData(next(&mut seq)?),
                Some(OpCode::Check) => OpResult::Check,
                Some(OpCode::GetChildren) => OpResult::GetChildren(next(&mut seq)?),
                Some(OpCode::GetData) => OpResult::GetData(next(&mut seq)?),
                Some(OpCode::Error) => OpResult::Error(next::<ErrorResponse, _>(&mut seq)?.err),
                _ => {
                    return Err(de::Error::custom(format!(
                        "invalid result type {} in a multi",
                        header.op
                    )))
                }
            };
            results.push(result);
        }
    }
}

impl<'de> Deserialize<'de> for MultiRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_tuple(usize::MAX, RequestVisitor)
    }
}

impl<'de> Deserialize<'de> for MultiResponse {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_tuple(usize::MAX, ResponseVisitor)
    }
}
