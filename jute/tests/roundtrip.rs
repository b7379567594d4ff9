//! Round trips of every record through the Jute encoder and decoder, on generated values.
//!
//! For each record: decoding its encoding gives the value back and consumes every byte, and every strict prefix
//! of the encoding fails to decode (without panicking), except where the format itself has optional tails: the
//! connect handshake's readOnly byte and a txn entry's digest (see `txn_entry`).
//!
//! Strings are drawn from the Basic Multilingual Plane: a supplementary character does not survive Java's
//! writer either (it is written as two 3-byte surrogates that the reader replaces). Failing cases are shrunk and
//! saved by proptest under `tests/roundtrip.proptest-regressions`; `PROPTEST_CASES=N` runs more of them.

use std::fmt::Debug;

use bytes::Bytes;
use jute::codes::OpCode;
use jute::records::data::{Acl, ClientInfo, Id, Stat, StatPersisted};
use jute::records::persistence::FileHeader;
use jute::records::proto::*;
use jute::records::quorum::{LearnerInfo, QuorumAuthPacket, QuorumPacket};
use jute::records::txn::*;
use jute::request::Request;
use jute::txn_entry::{TxnBody, TxnEntry, DIGEST_VERSION};
use jute::{to_bytes, Decoder, DEFAULT_MAX_BUFFER};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::de::DeserializeOwned;
use serde::Serialize;

#[path = "roundtrip/strategies.rs"]
mod strategies;
use strategies::*;

/// Encodes `value`, decodes it back, and checks that every byte was used and every strict prefix fails.
fn round_trip<T>(value: &T) -> Result<(), TestCaseError>
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let bytes = to_bytes(value).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut decoder = Decoder::new(&bytes);
    let back: T = decoder
        .read()
        .map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    prop_assert_eq!(&back, value);
    prop_assert!(
        decoder.is_empty(),
        "{} bytes left over",
        decoder.remaining().len()
    );
    for cut in 0..bytes.len() {
        prop_assert!(
            Decoder::new(&bytes[..cut]).read::<T>().is_err(),
            "a {}-byte prefix of {} bytes decoded",
            cut,
            bytes.len()
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn data_records_round_trip(
        id in id(), acl in acl(), stat in stat(), persisted in stat_persisted(),
        info in (string(), string()).prop_map(|(auth_scheme, user)| ClientInfo { auth_scheme, user }),
    ) {
        round_trip(&id)?;
        round_trip(&acl)?;
        round_trip(&stat)?;
        round_trip(&persisted)?;
        round_trip(&info)?;
    }

    #[test]
    fn headers_and_events_round_trip(
        xid in any::<i32>(), op in any::<i32>(), zxid in any::<i64>(), err in any::<i32>(),
        state in any::<i32>(), path in path(), done in any::<bool>(),
    ) {
        round_trip(&RequestHeader { xid, op })?;
        round_trip(&ReplyHeader { xid, zxid, err })?;
        round_trip(&WatcherEvent { event_type: op, state, path })?;
        round_trip(&ErrorResponse { err })?;
        round_trip(&MultiHeader { op, done, err })?;
    }

    #[test]
    fn create_and_data_records_round_trip(
        create in create_request(), ttl in any::<i64>(), stat in stat(), data in opt_bytes(),
        version in any::<i32>(), watch in any::<bool>(),
    ) {
        let CreateRequest { path, data: create_data, acl, flags } = create.clone();
        round_trip(&create)?;
        round_trip(&CreateTtlRequest { path: path.clone(), data: create_data, acl: acl.clone(), flags, ttl })?;
        round_trip(&CreateResponse { path: path.clone() })?;
        round_trip(&Create2Response { path: path.clone(), stat })?;
        round_trip(&DeleteRequest { path: path.clone(), version })?;
        round_trip(&ExistsRequest { path: path.clone(), watch })?;
        round_trip(&ExistsResponse { stat })?;
        round_trip(&GetDataResponse { data: data.clone(), stat })?;
        round_trip(&SetDataRequest { path: path.clone(), data, version })?;
        round_trip(&PathRequest { path: path.clone() })?;
        round_trip(&GetAclResponse { acl: acl.clone(), stat })?;
        round_trip(&SetAclRequest { path: path.clone(), acl, version })?;
        round_trip(&CheckVersionRequest { path: path.clone(), version })?;
        round_trip(&AddWatchRequest { path: path.clone(), mode: version })?;
        round_trip(&CheckWatchesRequest { path, watcher_type: version })?;
    }

    #[test]
    fn list_session_and_auth_records_round_trip(
        children in paths(), more in paths(), stat in stat(), zxid in any::<i64>(), n in any::<i32>(),
        token in bytes(), scheme in string(), prefix in prop::option::of(path()),
        servers in (prop::option::of(string()), prop::option::of(string()), prop::option::of(string())),
        infos in prop::collection::vec((string(), string()), 0..4),
    ) {
        round_trip(&GetChildrenResponse { children: children.clone() })?;
        round_trip(&GetChildren2Response { children: children.clone(), stat })?;
        round_trip(&GetEphemeralsRequest { prefix_path: prefix })?;
        round_trip(&GetEphemeralsResponse { ephemerals: more.clone() })?;
        round_trip(&GetAllChildrenNumberResponse { total_number: n })?;
        round_trip(&SetWatches {
            relative_zxid: zxid, data_watches: children.clone(), exist_watches: more.clone(),
            child_watches: children.clone(),
        })?;
        round_trip(&SetWatches2 {
            relative_zxid: zxid, data_watches: children.clone(), exist_watches: more.clone(),
            child_watches: Vec::new(), persistent_watches: more, persistent_recursive_watches: children,
        })?;
        round_trip(&AuthPacket { auth_type: n, scheme, auth: token.clone() })?;
        round_trip(&GetSaslRequest { token: Some(token.clone()) })?;
        round_trip(&SetSaslResponse { token: Some(token.clone()) })?;
        round_trip(&DeleteContainerRequest { path: token })?;
        let (joining_servers, leaving_servers, new_members) = servers;
        round_trip(&ReconfigRequest { joining_servers, leaving_servers, new_members, cur_config_id: zxid })?;
        let client_info = infos.into_iter().map(|(auth_scheme, user)| ClientInfo { auth_scheme, user }).collect();
        round_trip(&WhoAmIResponse { client_info })?;
    }

    #[test]
    fn multi_requests_and_responses_round_trip(request in multi_request(), response in multi_response()) {
        round_trip(&request)?;
        round_trip(&response)?;
    }

    #[test]
    fn txn_records_round_trip(
        header in txn_header(any::<i32>()), digest in txn_digest(), create in create_txn(), ttl in any::<i64>(),
        n in any::<i32>(), paths in paths(), data in bytes(),
    ) {
        let CreateTxn { path, data: create_data, acl, ephemeral, parent_cversion } = create.clone();
        round_trip(&header)?;
        round_trip(&digest)?;
        round_trip(&create)?;
        round_trip(&CreateTxnV0 { path: path.clone(), data: create_data.clone(), acl: acl.clone(), ephemeral })?;
        round_trip(&CreateContainerTxn {
            path: path.clone(), data: create_data.clone(), acl: acl.clone(), parent_cversion,
        })?;
        round_trip(&CreateTtlTxn { path: path.clone(), data: create_data.clone(), acl: acl.clone(), parent_cversion, ttl })?;
        round_trip(&DeleteTxn { path: path.clone() })?;
        round_trip(&SetDataTxn { path: path.clone(), data: create_data, version: n })?;
        round_trip(&CheckVersionTxn { path: path.clone(), version: n })?;
        round_trip(&SetAclTxn { path: path.clone(), acl, version: n })?;
        round_trip(&SetMaxChildrenTxn { path, max: n })?;
        round_trip(&CreateSessionTxn { time_out: n })?;
        round_trip(&CloseSessionTxn { paths2_delete: paths })?;
        round_trip(&ErrorTxn { err: n })?;
        let txn = Txn { txn_type: n, data };
        round_trip(&txn)?;
        round_trip(&MultiTxn { txns: vec![txn.clone(), txn] })?;
    }

    #[test]
    fn quorum_and_persistence_records_round_trip(
        packet_type in any::<i32>(), zxid in any::<i64>(), data in opt_bytes(),
        authinfo in prop::option::of(prop::collection::vec(id(), 0..3)), n in any::<i32>(), token in bytes(),
    ) {
        round_trip(&QuorumPacket { packet_type, zxid, data, authinfo })?;
        round_trip(&LearnerInfo { serverid: zxid, protocol_version: n, config_version: !zxid })?;
        round_trip(&QuorumAuthPacket { magic: zxid, status: n, token })?;
        round_trip(&FileHeader { magic: n, version: packet_type, dbid: zxid })?;
    }

    #[test]
    fn requests_round_trip_through_their_opcode(request in request()) {
        let op = request.opcode().code();
        let body = request.encode_body().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(Request::decode(op, &body, DEFAULT_MAX_BUFFER), Ok(request.clone()));
        for cut in 0..body.len() {
            prop_assert!(Request::decode(op, &body[..cut], DEFAULT_MAX_BUFFER).is_err(), "prefix {}", cut);
        }
    }

    #[test]
    fn connect_records_round_trip_in_both_shapes(
        request in connect_request(), response in connect_response(),
    ) {
        let bytes = request.encode().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ConnectRequest::decode(&bytes, DEFAULT_MAX_BUFFER), Ok(request.clone()));
        let base = bytes.len() - usize::from(request.read_only.is_some());
        for cut in 0..bytes.len() {
            let decoded = ConnectRequest::decode(&bytes[..cut], DEFAULT_MAX_BUFFER);
            if cut == base {
                prop_assert_eq!(decoded, Ok(ConnectRequest { read_only: None, ..request.clone() }));
            } else {
                prop_assert!(decoded.is_err(), "prefix {}", cut);
            }
        }
        let bytes = response.encode().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(ConnectResponse::decode(&bytes, DEFAULT_MAX_BUFFER), Ok(response.clone()));
        let base = bytes.len() - usize::from(response.read_only.is_some());
        for cut in 0..bytes.len() {
            let decoded = ConnectResponse::decode(&bytes[..cut], DEFAULT_MAX_BUFFER);
            if cut == base {
                prop_assert_eq!(decoded, Ok(ConnectResponse { read_only: None, ..response.clone() }));
            } else {
                prop_assert!(decoded.is_err(), "prefix {}", cut);
            }
        }
    }

    #[test]
    fn txn_entries_round_trip(entry in txn_entry()) {
        let bytes = entry.encode().map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(TxnEntry::decode(&bytes, DEFAULT_MAX_BUFFER), Ok(entry.clone()));
        let body_end = bytes.len() - if entry.digest.is_some() { 12 } else { 0 };
        for cut in 0..bytes.len() {
            check_truncated_entry(&entry, &bytes[..cut], body_end)?;
        }
    }
}

/// A prefix of an entry's encoding must fail, except where the format has an optional tail: without its
/// digest, a create (1) without its parent cversion (the old `CreateTxnV0`), and a closeSession cut to a
/// body-less entry.
fn check_truncated_entry(entry: &TxnEntry, prefix: &[u8], body_end: usize) -> Result<(), TestCaseError> {
    let Ok(decoded) = TxnEntry::decode(prefix, DEFAULT_MAX_BUFFER) else {
        return Ok(());
    };
    let cut = prefix.len();
    if cut == body_end {
        prop_assert_eq!(
            decoded,
            TxnEntry {
                digest: None,
                ..entry.clone()
            }
        );
        return Ok(());
    }
    let is_create = entry.header.txn_type == OpCode::Create.code();
    match (&decoded.body, &entry.body) {
        (TxnBody::Create(v0), TxnBody::Create(full)) if is_create && cut + 4 == body_end => {
            prop_assert_eq!(
                v0,
                &CreateTxn {
                    parent_cversion: -1,
                    ..full.clone()
                }
            );
        }
        (TxnBody::CloseSession(None), TxnBody::CloseSession(Some(_))) => {
            // Cut to the bare header, or to the header and 12 bytes that start like a digest.
            let digest_version = decoded.digest.map(|d| d.version);
            prop_assert!(
                (cut, digest_version) == (32, None) || (cut, digest_version) == (44, Some(DIGEST_VERSION))
            );
        }
        _ => prop_assert!(false, "a {}-byte prefix decoded as {:?}", cut, decoded),
    }
    Ok(())
}

#[test]
fn supplementary_characters_come_back_as_java_reads_them() {
    let id = Id::new("digest", "a\u{1F600}");
    let back: Id = jute::from_slice(&to_bytes(&id).expect("encode")).expect("decode");
    assert_eq!(back.scheme, "digest");
    assert_eq!(back.id_str(), "a\u{FFFD}\u{FFFD}");
    let stat = Stat::default();
    assert_eq!(to_bytes(&stat).expect("stat").len(), 68);
    assert_eq!(to_bytes(&StatPersisted::default()).expect("persisted").len(), 60);
    assert_eq!(to_bytes(&Acl::default()).expect("acl").len(), 12);
    assert_eq!(to_bytes(&Bytes::new()).expect("empty buffer"), [0, 0, 0, 0]);
}

/// A multi request body with one create op whose ACL list is given as raw vector bytes, then `rest` (more ops
/// and the terminator).
fn multi_with_create(acl: &[u8], flags: i32, rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(
        &to_bytes(&MultiHeader {
            op: 1,
            done: false,
            err: -1,
        })
        .expect("header"),
    );
    body.extend_from_slice(&to_bytes(&"/n".to_string()).expect("path"));
    body.extend_from_slice(&(-1i32).to_be_bytes()); // null data
    body.extend_from_slice(acl);
    body.extend_from_slice(&flags.to_be_bytes());
    body.extend_from_slice(rest);
    body
}

#[test]
fn multi_requests_refuse_what_zookeeper_refuses_while_reading_them() {
    let end = to_bytes(&MultiHeader {
        op: -1,
        done: true,
        err: -1,
    })
    .expect("end");
    let empty_acl = 0i32.to_be_bytes();
    let null_acl = (-1i32).to_be_bytes();
    let decode = |body: &[u8]| Request::decode(OpCode::Multi.code(), body, DEFAULT_MAX_BUFFER);

    let ok = decode(&multi_with_create(&empty_acl, 3, &end)).expect("an empty list decodes");
    assert!(matches!(ok, Request::Multi(m) if m.ops.len() == 1));

    let null = decode(&multi_with_create(&null_acl, 0, &end)).expect_err("a null list");
    assert!(
        matches!(&null, jute::request::RequestError::Marshalling { source, .. } if source.is_null_acl_in_multi())
    );

    let bad_flags = decode(&multi_with_create(&null_acl, 7, &end)).expect_err("flags of no mode");
    assert!(
        matches!(&bad_flags, jute::request::RequestError::Marshalling { source, .. } if !source.is_null_acl_in_multi()),
        "the flags are checked first: {bad_flags:?}"
    );

    // A read op after a write op: refused when it is read, before a later null ACL list is seen.
    let mut mixed = to_bytes(&MultiHeader {
        op: OpCode::GetData.code(),
        done: false,
        err: -1,
    })
    .expect("header");
    mixed.extend_from_slice(
        &to_bytes(&ExistsRequest {
            path: "/n".into(),
            watch: false,
        })
        .expect("read"),
    );
    mixed.extend_from_slice(&multi_with_create(&null_acl, 0, &end));
    let mixed = decode(&multi_with_create(&empty_acl, 0, &mixed)).expect_err("mixed kinds");
    assert!(
        matches!(&mixed, jute::request::RequestError::Marshalling { source, .. } if !source.is_null_acl_in_multi())
    );
}
