//! Golden test of the client protocol: every frame that Apache ZooKeeper 3.8.0 and its real clients (kazoo, the
//! Java client, the C client, and hand-built frames for what no client sends) exchanged in `tools/capture`.
//!
//! Each frame is decoded with the record its direction and opcode call for, its header and fields must equal
//! what `client/manifest.json` says, and encoding the decoded values must give back the captured bytes exactly.
//! A reply is decoded by the opcode of the request it answers (`FinalRequestProcessor` picks the response
//! record the same way), and an error reply must carry nothing after its header. An opcode with no mapping
//! here fails the test, so a new fixture cannot be skipped without anyone noticing; the only exceptions are
//! four-letter-word captures and the opcodes in [`REFUSED_OPCODES`], which must decode as UNIMPLEMENTED.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use common::proto_json::{self, Reply};
use common::{expect_bytes, expect_json, fixture, fixture_files, int, op_name, report, text, Failures};
use jute::codes::{ErrorCode, OpCode};
use jute::frame::{check_frame, four_letter_word, put_frame, FourLetter, FrameCheck};
use jute::records::proto::{ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader, WatcherEvent};
use jute::request::{Request, RequestError};
use jute::{to_bytes, Decoder, DEFAULT_MAX_BUFFER};
use serde::Serialize;
use serde_json::{json, Value};

/// Opcodes that hand-built fixtures send although ZooKeeper has no such request (it answers UNIMPLEMENTED).
const REFUSED_OPCODES: &[i32] = &[99];

/// How many frames of each kind were checked, per opcode name.
#[derive(Default)]
struct Counts {
    requests: usize,
    replies: usize,
    error_replies: usize,
    other: usize,
}

type Tally = BTreeMap<String, Counts>;

#[test]
fn every_fixture_file_is_listed_in_the_manifest_and_pairs_are_complementary() {
    let manifest = common::manifest("client");
    let entries = manifest.as_array().expect("manifest is an array");
    let listed: BTreeSet<String> = entries
        .iter()
        .map(|e| text(e, "file").expect("file").to_owned())
        .collect();
    let files: BTreeSet<String> = fixture_files("client").into_iter().collect();
    let unlisted: Vec<_> = files.difference(&listed).collect();
    let missing: Vec<_> = listed.difference(&files).collect();
    assert!(
        unlisted.is_empty() && missing.is_empty() && listed.len() == entries.len(),
        "files not in the manifest: {unlisted:?}; manifest entries without a file: {missing:?}"
    );
    let direction: HashMap<&str, &str> = entries
        .iter()
        .map(|e| {
            (
                text(e, "file").expect("file"),
                text(e, "direction").expect("direction"),
            )
        })
        .collect();
    for entry in entries {
        let file = text(entry, "file").expect("file");
        // A pair may point at a frame another client sent with the same bytes, so it need not point back.
        let Some(pair) = entry["pair"].as_str() else {
            assert!(
                matches!(direction[file], "notification" | "fourletter"),
                "{file} has no pair"
            );
            continue;
        };
        let expected = match direction[file] {
            "request" => "response",
            "response" => "request",
            "connect_request" => "connect_response",
            "connect_response" => "connect_request",
            "fourletter" => "fourletter",
            other => panic!("{file}: a {other} has no pair"),
        };
        assert_eq!(direction.get(pair), Some(&expected), "{file} pairs with {pair}");
    }
}

#[test]
fn captured_frames_decode_as_the_manifest_says_and_re_encode_identically() {
    let manifest = common::manifest("client");
    let entries = manifest.as_array().expect("manifest is an array");
    let by_file: HashMap<&str, &Value> = entries
        .iter()
        .filter_map(|e| Some((e["file"].as_str()?, e)))
        .collect();
    let mut failures = Failures::default();
    let mut tally = Tally::new();
    for entry in entries {
        let file = entry["file"].as_str().unwrap_or("(entry without a file)");
        let bytes = fixture("client", file);
        failures.check(file, check_entry(entry, &bytes, &by_file, &mut tally));
    }
    report_tally(entries.len(), &tally);
    failures.assert_none("the client fixtures");
    // Every opcode a client may send is covered, both ways, so a regeneration cannot lose one unnoticed.
    let uncovered: Vec<&str> = OpCode::ALL
        .iter()
        .filter(|op| reply_shape(op.code()).is_some())
        .filter_map(|op| op_name(op.code()))
        .filter(|name| tally.get(*name).is_none_or(|c| c.requests == 0 || c.replies == 0))
        .collect();
    assert!(
        uncovered.is_empty(),
        "no request and reply captured for {uncovered:?}"
    );
}

fn report_tally(total: usize, tally: &Tally) {
    let mut lines = vec![format!("golden client frames checked: {total}")];
    for (name, c) in tally {
        let mut parts = Vec::new();
        for (n, what) in [
            (c.requests, "requests"),
            (c.replies, "replies"),
            (c.other, "frames"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        if c.error_replies > 0 {
            parts.push(format!("{} of them errors", c.error_replies));
        }
        lines.push(format!("  {name:<22} {}", parts.join(", ")));
    }
    report(&lines.join("\n"));
}

/// What checking one frame found: the name it is counted under, whether it is an error reply, and the frame
/// encoded again from the decoded values.
struct Checked {
    name: String,
    kind: Kind,
    again: Vec<u8>,
}

enum Kind {
    Request,
    Reply { err: i32 },
    Other,
}

fn check_entry(
    entry: &Value,
    bytes: &[u8],
    by_file: &HashMap<&str, &Value>,
    tally: &mut Tally,
) -> Result<(), String> {
    let declared = int(entry, "length")?;
    if usize::try_from(declared).ok() != Some(bytes.len()) {
        return Err(format!(
            "manifest length {declared}, file holds {} bytes",
            bytes.len()
        ));
    }
    let checked = match text(entry, "direction")? {
        "fourletter" => check_four_letter(entry, bytes)?,
        direction => {
            let payload = whole_frame(bytes)?;
            let mut checked = match direction {
                "connect_request" => check_connect_request(entry, payload)?,
                "connect_response" => check_connect_response(entry, payload, by_file)?,
                "notification" => check_notification(entry, payload)?,
                "request" => check_request(entry, payload)?,
                "response" => check_response(entry, payload, by_file)?,
                other => return Err(format!("unknown direction {other:?}")),
            };
            let mut frame = Vec::with_capacity(checked.again.len() + 4);
            put_frame(&mut frame, &checked.again).map_err(|e| format!("framing: {e}"))?;
            checked.again = frame;
            checked
        }
    };
    expect_bytes(bytes, &checked.again)?;
    let counts = tally.entry(checked.name).or_default();
    match checked.kind {
        Kind::Request => counts.requests += 1,
        Kind::Reply { err } => {
            counts.replies += 1;
            counts.error_replies += usize::from(err != 0);
        }
        Kind::Other => counts.other += 1,
    }
    Ok(())
}

/// The payload of a file that must hold exactly one length-prefixed frame.
fn whole_frame(bytes: &[u8]) -> Result<&[u8], String> {
    match check_frame(bytes, DEFAULT_MAX_BUFFER) {
        FrameCheck::Complete { len } if len + 4 == bytes.len() => Ok(&bytes[4..]),
        other => Err(format!(
            "not one whole frame: {other:?} for {} bytes",
            bytes.len()
        )),
    }
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    to_bytes(value).map_err(|e| format!("encode: {e}"))
}

fn other(name: &str, again: Vec<u8>) -> Checked {
    Checked {
        name: name.to_owned(),
        kind: Kind::Other,
        again,
    }
}

/// A four-letter word is recognised from its raw bytes (no frame); its answer is plain text.
fn check_four_letter(entry: &Value, bytes: &[u8]) -> Result<Checked, String> {
    let fields = &entry["fields"];
    let again = if let Some(word) = fields["word"].as_str() {
        match four_letter_word(bytes) {
            Some(FourLetter::Word(w)) if w == word => w.as_bytes().to_vec(),
            other => return Err(format!("four-letter word {word:?} recognised as {other:?}")),
        }
    } else {
        text(fields, "text")?.as_bytes().to_vec()
    };
    Ok(other("four-letter word", again))
}

fn check_connect_request(entry: &Value, payload: &[u8]) -> Result<Checked, String> {
    let request = ConnectRequest::decode(payload, DEFAULT_MAX_BUFFER).map_err(|e| format!("decode: {e}"))?;
    expect_json(&entry["fields"], &proto_json::connect_request(&request))?;
    let again = request.encode().map_err(|e| format!("encode: {e}"))?;
    let shape = if request.read_only.is_some() {
        "long"
    } else {
        "short"
    };
    Ok(other(&format!("connect request ({shape})"), again))
}

/// Also checks that the answer has the shape of the request it answers (with or without the readOnly byte).
fn check_connect_response(
    entry: &Value,
    payload: &[u8],
    by_file: &HashMap<&str, &Value>,
) -> Result<Checked, String> {
    let response =
        ConnectResponse::decode(payload, DEFAULT_MAX_BUFFER).map_err(|e| format!("decode: {e}"))?;
    expect_json(&entry["fields"], &proto_json::connect_response(&response))?;
    let pair = text(entry, "pair")?;
    if by_file.get(pair).map(|p| &p["direction"]) != Some(&json!("connect_request")) {
        return Err(format!("paired with {pair}, which is not a connect request"));
    }
    let request_bytes = fixture("client", pair);
    let request = ConnectRequest::decode(whole_frame(&request_bytes)?, DEFAULT_MAX_BUFFER)
        .map_err(|e| format!("paired connect request {pair}: {e}"))?;
    if request.read_only.is_some() != response.read_only.is_some() {
        return Err(format!(
            "the readOnly byte is in only one of this answer and {pair}"
        ));
    }
    let again = response.encode().map_err(|e| format!("encode: {e}"))?;
    let shape = if response.read_only.is_some() {
        "long"
    } else {
        "short"
    };
    Ok(other(&format!("connect response ({shape})"), again))
}

fn check_notification(entry: &Value, payload: &[u8]) -> Result<Checked, String> {
    let mut d = Decoder::new(payload);
    let header: ReplyHeader = d.read().map_err(|e| format!("reply header: {e}"))?;
    check_reply_header(entry, &header)?;
    if header.xid != -1 || int(entry, "opcode")? != i64::from(OpCode::Notification.code()) {
        return Err(format!("a notification with xid {}", header.xid));
    }
    let event: WatcherEvent = d.read().map_err(|e| format!("watcher event: {e}"))?;
    d.finish().map_err(|e| format!("watcher event: {e}"))?;
    expect_json(&entry["fields"], &proto_json::watcher_event(&event))?;
    let mut again = encode(&header)?;
    again.extend(encode(&event)?);
    Ok(other("notification", again))
}

/// Decodes a request by its header's opcode.
fn check_request(entry: &Value, payload: &[u8]) -> Result<Checked, String> {
    let mut d = Decoder::new(payload);
    let header: RequestHeader = d.read().map_err(|e| format!("request header: {e}"))?;
    expect_json(&entry["header"], &json!({"xid": header.xid, "type": header.op}))?;
    expect_json(
        &json!([entry["xid"], entry["opcode"], entry["opname"]]),
        &json!([header.xid, header.op, op_name(header.op)]),
    )?;
    let mut again = encode(&header)?;
    let name = match Request::decode(header.op, d.remaining(), DEFAULT_MAX_BUFFER) {
        Ok(request) => {
            if request.opcode().code() != header.op {
                return Err(format!("opcode {} decoded as {:?}", header.op, request.opcode()));
            }
            expect_json(&entry["fields"], &proto_json::request(&request))?;
            again.extend(request.encode_body().map_err(|e| format!("encode: {e}"))?);
            op_name(header.op).unwrap_or("?").to_owned()
        }
        Err(RequestError::Unimplemented(op)) if REFUSED_OPCODES.contains(&op) => {
            expect_json(&entry["fields"], &common::empty())?;
            format!("refused opcode {op}")
        }
        Err(e) => return Err(format!("no request record for this frame: {e}")),
    };
    Ok(Checked {
        name,
        kind: Kind::Request,
        again,
    })
}

fn check_reply_header(entry: &Value, header: &ReplyHeader) -> Result<(), String> {
    expect_json(
        &entry["header"],
        &json!({"xid": header.xid, "zxid": header.zxid, "err": header.err}),
    )?;
    // The manifest names codes as `KeeperException.Code` does: NONODE, NOCHILDRENFOREPHEMERALS, ...
    let err_name = ErrorCode::from_code(header.err).map(|c| format!("{c:?}").to_uppercase());
    expect_json(
        &json!([entry["xid"], entry["err"], entry["err_name"]]),
        &json!([header.xid, header.err, err_name]),
    )
}

/// Decodes a reply by the opcode of the request it answers.
fn check_response(entry: &Value, payload: &[u8], by_file: &HashMap<&str, &Value>) -> Result<Checked, String> {
    let mut d = Decoder::new(payload);
    let header: ReplyHeader = d.read().map_err(|e| format!("reply header: {e}"))?;
    check_reply_header(entry, &header)?;
    let op = i32::try_from(int(entry, "opcode")?).map_err(|e| e.to_string())?;
    expect_json(&entry["opname"], &json!(op_name(op)))?;
    check_answers(entry, op, header.xid, by_file)?;
    let shape = reply_shape(op);
    let name = match shape {
        Some(_) => op_name(op).unwrap_or("?").to_owned(),
        None if REFUSED_OPCODES.contains(&op) && header.err == ErrorCode::Unimplemented.code() => {
            format!("refused opcode {op}")
        }
        None => return Err(format!("no reply record is mapped for opcode {op}")),
    };
    let reply = match shape {
        Some(shape) if header.err == 0 => decode_reply(shape, &mut d)?,
        // An error reply is the header alone.
        _ => Reply::Empty,
    };
    d.finish().map_err(|e| format!("after the reply record: {e}"))?;
    expect_json(&entry["fields"], &proto_json::reply(&reply))?;
    let mut again = encode(&header)?;
    again.extend(encode_reply(&reply)?);
    Ok(Checked {
        name,
        kind: Kind::Reply { err: header.err },
        again,
    })
}

/// A reply must answer its paired request: same xid, and the opcode it is decoded by is the request's.
fn check_answers(entry: &Value, op: i32, xid: i32, by_file: &HashMap<&str, &Value>) -> Result<(), String> {
    let pair = text(entry, "pair")?;
    if by_file.get(pair).map(|p| &p["direction"]) != Some(&json!("request")) {
        return Err(format!("paired with {pair}, which is not a request"));
    }
    let request_bytes = fixture("client", pair);
    let request: RequestHeader = Decoder::new(whole_frame(&request_bytes)?)
        .read()
        .map_err(|e| format!("paired request {pair}: {e}"))?;
    if request.op != op || request.xid != xid {
        return Err(format!(
            "answers {pair} (xid {}, type {}) but is xid {xid}, opcode {op}",
            request.xid, request.op
        ));
    }
    Ok(())
}

/// Which record follows a successful reply header, by request opcode.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Empty,
    Create,
    Create2,
    Stat,
    GetData,
    GetAcl,
    Children,
    Children2,
    Sync,
    Multi,
    Sasl,
    Ephemerals,
    Count,
    AddWatch,
    WhoAmI,
}

/// The reply record of each opcode a client may send (`FinalRequestProcessor.processRequest`).
fn reply_shape(op: i32) -> Option<Shape> {
    let shape = match OpCode::from_code(op)? {
        OpCode::Create => Shape::Create,
        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => Shape::Create2,
        OpCode::Delete
        | OpCode::Ping
        | OpCode::CloseSession
        | OpCode::Auth
        | OpCode::SetWatches
        | OpCode::SetWatches2
        | OpCode::CheckWatches
        | OpCode::RemoveWatches => Shape::Empty,
        OpCode::Exists | OpCode::SetData | OpCode::SetAcl => Shape::Stat,
        // reconfig answers with the new config as the data of /zookeeper/config.
        OpCode::GetData | OpCode::Reconfig => Shape::GetData,
        OpCode::GetAcl => Shape::GetAcl,
        OpCode::GetChildren => Shape::Children,
        OpCode::GetChildren2 => Shape::Children2,
        OpCode::Sync => Shape::Sync,
        OpCode::Multi | OpCode::MultiRead => Shape::Multi,
        OpCode::Sasl => Shape::Sasl,
        OpCode::GetEphemerals => Shape::Ephemerals,
        OpCode::GetAllChildrenNumber => Shape::Count,
        OpCode::AddWatch => Shape::AddWatch,
        OpCode::WhoAmI => Shape::WhoAmI,
        OpCode::Notification
        | OpCode::Check
        | OpCode::DeleteContainer
        | OpCode::CreateSession
        | OpCode::Error => return None,
    };
    Some(shape)
}

fn decode_reply(shape: Shape, d: &mut Decoder<'_>) -> Result<Reply, String> {
    let reply = match shape {
        Shape::Empty => Ok(Reply::Empty),
        Shape::Create => d.read().map(Reply::Create),
        Shape::Create2 => d.read().map(Reply::Create2),
        Shape::Stat => d.read().map(Reply::Stat),
        Shape::GetData => d.read().map(Reply::GetData),
        Shape::GetAcl => d.read().map(Reply::GetAcl),
        Shape::Children => d.read().map(Reply::Children),
        Shape::Children2 => d.read().map(Reply::Children2),
        Shape::Sync => d.read().map(Reply::Sync),
        Shape::Multi => d.read().map(Reply::Multi),
        Shape::Sasl => d.read().map(Reply::Sasl),
        Shape::Ephemerals => d.read().map(Reply::Ephemerals),
        Shape::Count => d.read().map(Reply::Count),
        Shape::AddWatch => d.read().map(Reply::AddWatch),
        Shape::WhoAmI => d.read().map(Reply::WhoAmI),
    };
    reply.map_err(|e| format!("{shape:?} reply: {e}"))
}

fn encode_reply(reply: &Reply) -> Result<Vec<u8>, String> {
    match reply {
        Reply::Empty => Ok(Vec::new()),
        Reply::Create(r) => encode(r),
        Reply::Create2(r) => encode(r),
        Reply::Stat(r) => encode(r),
        Reply::GetData(r) => encode(r),
        Reply::GetAcl(r) => encode(r),
        Reply::Children(r) => encode(r),
        Reply::Children2(r) => encode(r),
        Reply::Sync(r) => encode(r),
        Reply::Multi(r) => encode(r),
        Reply::Sasl(r) => encode(r),
        Reply::Ephemerals(r) => encode(r),
        Reply::Count(r) => encode(r),
        Reply::AddWatch(r) => encode(r),
        Reply::WhoAmI(r) => encode(r),
    }
}
