//! Golden test of the quorum port: every packet that real Apache ZooKeeper members (Debian's 3.8.0 in
//! `quorum/`, 3.9.5 in `quorum/3.9.5/`) exchanged on their quorum connections while `tools/capture/quorum.py`
//! made them join, sync by DIFF, SNAP and TRUNC, replicate client writes, ping, revalidate a moved session and
//! forward requests and a sync.
//!
//! Each direction of each connection is one file, the packets back to back exactly as sent (the database after
//! SNAP included). Every packet must decode into its typed body with the fields `quorum/manifest.json` gives,
//! and encoding what was decoded must give back the captured bytes, packet by packet and for the whole stream.

mod common;

use std::collections::BTreeSet;

use common::{
    expect_bytes, expect_json, fixture, fixture_files, manifest, op_name, proto_json, report, stat_persisted,
    txn_json, Failures,
};
use jute::codes::PacketType;
use jute::quorum::{ForwardedBody, Payload, Sender, SyncSnapshot};
use jute::records::quorum::QuorumPacket;
use jute::txn_entry::{TxnBody, TxnEntry};
use jute::{to_bytes, Decoder, DEFAULT_MAX_BUFFER};
use serde_json::{json, Value};

/// Debian's Apache ZooKeeper 3.8.0.
const SET: &str = "quorum";
/// Apache ZooKeeper 3.9.5.
const SET_3_9: &str = "quorum/3.9.5";

fn streams(set: &str) -> Vec<Value> {
    manifest(set).as_array().expect("manifest is an array").clone()
}

#[test]
fn every_fixture_file_is_in_the_manifest() {
    for set in [SET, SET_3_9] {
        let mut listed: Vec<String> = streams(set)
            .iter()
            .map(|s| s["file"].as_str().expect("file").to_owned())
            .collect();
        listed.sort();
        assert_eq!(listed, fixture_files(set), "{set}");
    }
}

fn txn_json(t: &TxnEntry) -> Value {
    json!({
        "header": txn_json::header(&t.header), "type_name": op_name(t.header.txn_type),
        "body": txn_json::body(&t.body), "digest": txn_json::digest(t.digest.as_ref()),
    })
}

/// The body as the manifest writes it (`decode_body` in `quorum.py`); `None` where the data is null.
fn payload_json(p: &Payload) -> Option<Value> {
    let data = p.encode().expect("a decoded body encodes")?;
    Some(match p {
        Payload::NewLeader { .. } => {
            json!({"config": String::from_utf8(data.to_vec()).expect("utf-8 config")})
        }
        Payload::Request(r) => {
            let request = match &r.body {
                ForwardedBody::CreateSession(t) => json!({"time_out": t.time_out}),
                ForwardedBody::Client(req) => proto_json::request(req),
                ForwardedBody::Undecoded(body) => json!({"undecoded": body}),
            };
            json!({"session_id": r.session_id, "cxid": r.cxid, "type": r.op, "type_name": op_name(r.op),
                   "request": request})
        }
        Payload::Proposal(t) | Payload::Inform(t) => txn_json(t),
        Payload::LearnerPing(list) => json!({"sessions": list
            .iter()
            .map(|s| json!({"session_id": s.session_id, "timeout": s.timeout}))
            .collect::<Vec<_>>()}),
        Payload::RevalidateRequest(s) => json!({"session_id": s.session_id, "timeout": s.timeout}),
        Payload::RevalidateReply(r) => json!({"session_id": r.session_id, "valid": r.valid}),
        Payload::CommitAndActivate { designated_leader } => json!({"designated_leader": designated_leader}),
        Payload::FollowerInfo(i) | Payload::ObserverInfo(i) => json!({
            "serverid": i.serverid, "protocol_version": i.protocol_version, "config_version": i.config_version,
        }),
        Payload::LeaderInfo { protocol_version } => json!({"protocol_version": protocol_version}),
        Payload::AckEpoch { current_epoch } => json!({"current_epoch": current_epoch}),
        Payload::InformAndActivate {
            designated_leader,
            txn,
        } => {
            let mut v = txn_json(txn);
            v["designated_leader"] = json!(designated_leader);
            v
        }
        bodiless => panic!("{bodiless:?} encoded data"),
    })
}

/// The manifest's body, without the raw `data_hex` of a multi's sub-txns (checked by the re-encoding).
fn manifest_body(entry: &Value) -> Value {
    let mut body = entry["body"].clone();
    if let Some(subs) = body.pointer_mut("/body/txns").and_then(Value::as_array_mut) {
        for sub in subs {
            sub.as_object_mut().expect("sub-txn").remove("data_hex");
        }
    }
    body
}

fn snapshot_json(s: &SyncSnapshot) -> Value {
    json!({
        "sessions": s.sessions.iter().map(|x| json!({"session_id": x.session_id, "timeout": x.timeout}))
            .collect::<Vec<_>>(),
        "acls": s.acls.iter().map(|a| json!({"ref": a.acl_ref, "acl": common::acl(&a.acl)})).collect::<Vec<_>>(),
        "nodes": s.nodes.iter().map(|n| json!({
            "path": n.path, "data": common::buf(n.data.as_deref()), "acl_ref": n.acl_ref,
            "stat": stat_persisted(&n.stat),
        })).collect::<Vec<_>>(),
        "signature": jute::quorum::SNAP_SIGNATURE,
    })
}

/// What one stream held: (packet type, sender, txn type of a proposal or op of a request, has sessions).
type Seen = BTreeSet<(i32, &'static str, Option<i32>, bool)>;

fn check_stream(set: &str, stream: &Value, seen: &mut Seen) -> Result<usize, String> {
    let file = stream["file"].as_str().ok_or("no file")?;
    let raw = fixture(set, file);
    let (sender, side) = match stream["sender"].as_str() {
        Some("leader") => (Sender::Leader, "leader"),
        Some("learner") => (Sender::Learner, "learner"),
        other => return Err(format!("sender {other:?}")),
    };
    let packets = stream["packets"].as_array().ok_or("no packets")?;
    let mut d = Decoder::new(&raw);
    let mut again = Vec::with_capacity(raw.len());
    for (i, entry) in packets.iter().enumerate() {
        let start = d.position();
        let at = |m: String| format!("packet {i} at {start}: {m}");
        expect_json(&entry["offset"], &json!(start)).map_err(at)?;
        let packet: QuorumPacket = d.read().map_err(|e| at(e.to_string()))?;
        let auth = packet.authinfo.as_ref().map(|ids| {
            ids.iter()
                .map(|id| json!({"scheme": id.scheme, "id": id.id}))
                .collect::<Vec<_>>()
        });
        expect_json(
            &json!({"length": entry["length"], "type": entry["type"], "zxid": entry["zxid"],
                    "data_len": entry["data_len"], "authinfo": entry["authinfo"]}),
            &json!({"length": d.position() - start, "type": packet.packet_type, "zxid": packet.zxid,
                    "data_len": packet.data.as_ref().map(|b| b.len()), "authinfo": auth}),
        )
        .map_err(at)?;
        let payload = Payload::decode(&packet, sender, DEFAULT_MAX_BUFFER).map_err(|e| at(e.to_string()))?;
        expect_json(
            &manifest_body(entry),
            &payload_json(&payload).unwrap_or(Value::Null),
        )
        .map_err(at)?;
        let mut rebuilt = payload.to_packet(packet.zxid).map_err(|e| at(e.to_string()))?;
        rebuilt.authinfo = packet.authinfo.clone();
        let bytes = to_bytes(&rebuilt).map_err(|e| at(e.to_string()))?;
        expect_bytes(&raw[start..d.position()], &bytes).map_err(at)?;
        again.extend_from_slice(&bytes);
        let detail = match &payload {
            Payload::Proposal(t) => Some(t.header.txn_type),
            Payload::Request(r) => Some(r.op),
            _ => None,
        };
        let has_sessions = matches!(&payload, Payload::LearnerPing(l) if !l.is_empty());
        seen.insert((packet.packet_type, side, detail, has_sessions));
        if let Payload::Proposal(TxnEntry {
            body: TxnBody::Multi(subs),
            ..
        }) = &payload
        {
            for (op, _) in subs {
                seen.insert((packet.packet_type, side, Some(op.code() + 1000), false));
            }
        }
        if matches!(payload, Payload::Snap) && sender == Sender::Leader {
            let snap_start = d.position();
            let snap = SyncSnapshot::decode(&mut d).map_err(|e| at(format!("snapshot: {e}")))?;
            let mut want = entry["snapshot"].clone();
            let obj = want.as_object_mut().ok_or("no snapshot in the manifest")?;
            expect_json(
                &json!({"offset": obj.remove("offset"), "length": obj.remove("length")}),
                &json!({"offset": snap_start, "length": d.position() - snap_start}),
            )
            .map_err(at)?;
            expect_json(&want, &snapshot_json(&snap)).map_err(at)?;
            let bytes = snap.encode().map_err(|e| at(e.to_string()))?;
            expect_bytes(&raw[snap_start..d.position()], &bytes).map_err(at)?;
            again.extend_from_slice(&bytes);
        }
    }
    d.finish()
        .map_err(|e| format!("after {} packets: {e}", packets.len()))?;
    expect_bytes(&raw, &again)?;
    Ok(packets.len())
}

#[test]
fn captured_quorum_streams_decode_into_typed_bodies_and_reencode_byte_for_byte() {
    check_captures(SET);
}

#[test]
fn captured_3_9_quorum_streams_decode_into_typed_bodies_and_reencode_byte_for_byte() {
    check_captures(SET_3_9);
}

/// Every stream of `set` decodes and re-encodes; together they hold every packet type a join, a sync of each
/// kind, replication, pings, revalidation and forwarded requests use.
fn check_captures(set: &str) {
    let mut failures = Failures::default();
    let mut seen = Seen::new();
    let mut total = 0;
    let all = streams(set);
    for stream in &all {
        let file = stream["file"].as_str().unwrap_or("(no file)");
        match check_stream(set, stream, &mut seen) {
            Ok(n) => total += n,
            Err(e) => failures.add(file, e),
        }
    }
    report(&format!(
        "golden quorum streams checked ({set}): {} streams, {total} packets",
        all.len()
    ));
    failures.assert_none(&format!("the quorum streams of {set}"));

    let has = |t: PacketType, side: &str| seen.iter().any(|(c, s, _, _)| *c == t.code() && *s == side);
    let from_leader = [
        PacketType::LeaderInfo,
        PacketType::Diff,
        PacketType::Trunc,
        PacketType::Snap,
        PacketType::Proposal,
        PacketType::Commit,
        PacketType::NewLeader,
        PacketType::UpToDate,
        PacketType::Ping,
        PacketType::Revalidate,
        PacketType::Sync,
    ];
    let from_learner = [
        PacketType::FollowerInfo,
        PacketType::AckEpoch,
        PacketType::Ack,
        PacketType::Ping,
        PacketType::Revalidate,
        PacketType::Request,
    ];
    for t in from_leader {
        assert!(has(t, "leader"), "no {t:?} from a leader among the fixtures");
    }
    for t in from_learner {
        assert!(has(t, "learner"), "no {t:?} from a learner among the fixtures");
    }
    assert!(
        seen.iter()
            .any(|(c, s, _, sessions)| *c == PacketType::Ping.code() && *s == "learner" && *sessions),
        "no learner PING listing a session"
    );
    let proposal = PacketType::Proposal.code();
    let request = PacketType::Request.code();
    // createSession, closeSession, create, delete, setData, multi; inside a multi create, check, setData, delete.
    for (t, detail) in [
        (proposal, -10),
        (proposal, -11),
        (proposal, 1),
        (proposal, 2),
        (proposal, 5),
        (proposal, 14),
        (proposal, 1001),
        (proposal, 1013),
        (proposal, 1005),
        (proposal, 1002),
        (request, -10),
        (request, -11),
        (request, 1),
        (request, 5),
        (request, 9),
        (request, 14),
    ] {
        assert!(
            seen.iter().any(|(c, _, d, _)| *c == t && *d == Some(detail)),
            "no packet of type {t} for txn/op {detail} among the fixtures"
        );
    }
}

/// A learner forwards what its client sent without reading it (ZooKeeper's `FollowerRequestProcessor`), so a
/// REQUEST may carry a record that does not decode: it is kept as it came, for the leader to answer.
#[test]
fn a_forwarded_request_whose_record_does_not_decode_is_kept_as_sent() {
    // A multi mixing setData /a and getData /a: MultiOperationRecord refuses it.
    let mut record = Vec::new();
    for part in [
        &[0, 0, 0, 5, 0, 0xff, 0xff, 0xff, 0xff][..],
        &[0, 0, 0, 2, b'/', b'a', 0, 0, 0, 1, b'x', 0xff, 0xff, 0xff, 0xff],
        &[0, 0, 0, 4, 0, 0xff, 0xff, 0xff, 0xff],
        &[0, 0, 0, 2, b'/', b'a', 0],
        &[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff],
    ] {
        record.extend_from_slice(part);
    }
    assert!(jute::request::Request::decode(14, &record, DEFAULT_MAX_BUFFER).is_err());
    let mut data = Vec::new();
    data.extend_from_slice(&0x0100_0000_0000_0001_i64.to_be_bytes());
    data.extend_from_slice(&7_i32.to_be_bytes());
    data.extend_from_slice(&14_i32.to_be_bytes());
    data.extend_from_slice(&record);
    let packet = QuorumPacket {
        packet_type: PacketType::Request.code(),
        zxid: 0,
        data: Some(bytes::Bytes::copy_from_slice(&data)),
        authinfo: None,
    };
    let payload = Payload::decode(&packet, Sender::Learner, DEFAULT_MAX_BUFFER).expect("a REQUEST");
    let Payload::Request(ref r) = payload else {
        panic!("not a request: {payload:?}");
    };
    assert_eq!((r.session_id, r.cxid, r.op), (0x0100_0000_0000_0001, 7, 14));
    assert_eq!(r.body, ForwardedBody::Undecoded(record));
    let again = payload.encode().expect("encodes").expect("has data");
    assert_eq!(&again[..], &data[..]);
    // An opcode no client may send is still refused: no learner forwards one.
    let mut unknown = data.clone();
    unknown[12..16].copy_from_slice(&99_i32.to_be_bytes());
    let packet = QuorumPacket {
        data: Some(bytes::Bytes::from(unknown)),
        ..packet
    };
    assert!(Payload::decode(&packet, Sender::Learner, DEFAULT_MAX_BUFFER).is_err());
}

/// A REQUEST carries the client's bytes as they came (ZooKeeper's learner forwards them unread): a create with
/// a null ACL list decodes as a client connection decodes it, to the request the leader then refuses with
/// INVALIDACL, and is not taken for a broken packet.
#[test]
fn a_forwarded_create_with_a_null_acl_list_is_a_client_request() {
    let mut data = Vec::new();
    data.extend_from_slice(&0x0100_0000_0000_0001_i64.to_be_bytes());
    data.extend_from_slice(&9_i32.to_be_bytes());
    data.extend_from_slice(&1_i32.to_be_bytes());
    // CreateRequest{path "/b", data "x", acl null, flags 0}
    data.extend_from_slice(&[
        0, 0, 0, 2, b'/', b'b', 0, 0, 0, 1, b'x', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    let packet = QuorumPacket {
        packet_type: PacketType::Request.code(),
        zxid: 0,
        data: Some(bytes::Bytes::copy_from_slice(&data)),
        authinfo: None,
    };
    let payload = Payload::decode(&packet, Sender::Learner, DEFAULT_MAX_BUFFER).expect("a REQUEST");
    let Payload::Request(r) = payload else {
        panic!("not a request: {payload:?}");
    };
    let ForwardedBody::Client(jute::request::Request::Create(_, create)) = r.body else {
        panic!("not a create: {:?}", r.body);
    };
    assert_eq!(
        (create.path.as_str(), create.acl.len(), create.flags),
        ("/b", 0, 0)
    );
}

#[test]
fn bodies_that_do_not_fill_their_data_are_refused() {
    let with = |t: PacketType, data: &[u8]| QuorumPacket {
        packet_type: t.code(),
        zxid: 0,
        data: Some(bytes::Bytes::copy_from_slice(data)),
        authinfo: None,
    };
    let cases: [(PacketType, Sender, &[u8]); 6] = [
        (PacketType::LeaderInfo, Sender::Leader, &[0, 1, 0, 0, 0]),
        (PacketType::AckEpoch, Sender::Learner, &[0, 0, 1]),
        (PacketType::FollowerInfo, Sender::Learner, &[0; 19]),
        (PacketType::Ping, Sender::Learner, &[0; 13]),
        (
            PacketType::Revalidate,
            Sender::Leader,
            &[0, 0, 0, 0, 0, 0, 0, 1, 1, 0],
        ),
        (PacketType::Request, Sender::Learner, &[0; 15]),
    ];
    for (t, from, data) in cases {
        let r = Payload::decode(&with(t, data), from, DEFAULT_MAX_BUFFER);
        assert!(r.is_err(), "{t:?} from {from:?} with {data:?}: {r:?}");
    }
    let unknown = QuorumPacket {
        packet_type: 20,
        ..QuorumPacket::default()
    };
    let err = Payload::decode(&unknown, Sender::Leader, DEFAULT_MAX_BUFFER).expect_err("type 20");
    assert!(err.to_string().contains("unknown quorum packet type 20"), "{err}");
    let no_data = QuorumPacket {
        packet_type: PacketType::Proposal.code(),
        ..QuorumPacket::default()
    };
    assert!(Payload::decode(&no_data, Sender::Leader, DEFAULT_MAX_BUFFER).is_err());
}
