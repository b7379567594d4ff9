//! What each fuzz target does with its bytes, as plain functions: the fuzz targets run them under a heap
//! counter, and `jute/tests/fuzz_corpus.rs` replays the committed corpus through them.
//!
//! A body panics when an invariant breaks. Whatever decodes must encode again, and decoding that encoding must
//! give the same value back. The one exception is a valid 4-byte UTF-8 sequence: it decodes to a supplementary
//! character, which is written back as two 3-byte surrogates that read as replacement characters, as in Java.
//! So when the input holds such a sequence, only the second round trip must be exact.
//!
//! The first byte of every input chooses the length limit: below 0x40 it is the limit itself (so the limit is
//! hit often), otherwise ZooKeeper's default `jute.maxbuffer`.

use std::fmt::Debug;

use jute::codes::{OpCode, PacketType};
use jute::frame::{check_frame, four_letter_word, stmk_mask, FrameCheck};
use jute::records::multi::{MultiRequest, MultiResponse};
use jute::records::proto::{ConnectRequest, ConnectResponse};
use jute::records::quorum::{LearnerInfo, QuorumPacket};
use jute::request::{Request, RequestError};
use jute::txn_entry::{TxnEntry, TxnKind};
use jute::{to_bytes, Decoder, DEFAULT_MAX_BUFFER};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A target body.
pub type Body = fn(&[u8]);

/// Every target, by the name of its fuzz target and corpus directory.
pub const TARGETS: &[(&str, Body)] = &[
    ("frame", frame),
    ("request", request),
    ("multi", multi),
    ("txn_entry", txn_entry),
    ("quorum", quorum),
];

/// Most quorum packets read from one input.
const QUORUM_PACKETS_MAX: usize = 64;

/// Splits off the first byte as the length limit.
fn split_limit(data: &[u8]) -> (usize, &[u8]) {
    match data.split_first() {
        Some((&b, rest)) if b < 0x40 => (usize::from(b), rest),
        Some((_, rest)) => (DEFAULT_MAX_BUFFER, rest),
        None => (DEFAULT_MAX_BUFFER, data),
    }
}

/// True if `input` may hold a 4-byte UTF-8 sequence (lead byte 0xF0 to 0xF4).
fn may_hold_supplementary(input: &[u8]) -> bool {
    input.iter().any(|b| (0xF0..=0xF4).contains(b))
}

/// Checks that `first` (decoded from `input`) encodes, and that decoding that encoding gives it back. Decoding
/// again is done without a length limit: a replacement character takes three bytes where the invalid byte it
/// replaced took one, so the encoding of a decoded value can be longer than its input.
fn assert_round_trip<T, E, F>(
    input: &[u8],
    first: &T,
    encode: impl Fn(&T) -> jute::Result<Vec<u8>>,
    decode: F,
) where
    T: PartialEq + Debug,
    E: Debug,
    F: Fn(&[u8]) -> Result<T, E>,
{
    let bytes = encode(first).expect("a decoded value encodes");
    let second = decode(&bytes).expect("the encoding of a decoded value decodes");
    if !may_hold_supplementary(input) {
        assert_eq!(&second, first, "decode(encode(value)) differs");
    }
    let again = encode(&second).expect("a decoded value encodes");
    let third = decode(&again).expect("the encoding of a decoded value decodes");
    assert_eq!(third, second, "the second round trip differs");
}

fn record_round_trip<T>(input: &[u8], value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    assert_round_trip(
        input,
        value,
        |v| to_bytes(v),
        |b| {
            let mut d = Decoder::new(b).with_max_len(usize::MAX);
            let v = d.read::<T>()?;
            d.finish().map(|()| v)
        },
    );
}

/// Frame check, four-letter words and the connect handshake in both directions.
pub fn frame(data: &[u8]) {
    let (max_len, data) = split_limit(data);
    match check_frame(data, max_len) {
        FrameCheck::Complete { len } => {
            assert!(len <= max_len && 4 + len <= data.len());
            connect(&data[4..4 + len], max_len);
        }
        FrameCheck::Incomplete { needed } => {
            assert!(needed > 0);
            if data.len() >= 4 {
                let declared = i32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                assert_eq!(usize::try_from(declared).ok(), Some(data.len() - 4 + needed));
            } else {
                assert_eq!(needed, 4 - data.len());
            }
        }
        FrameCheck::Invalid { len } => assert!(usize::try_from(len).map_or(true, |n| n > max_len)),
    }
    let _ = four_letter_word(data);
    let _ = stmk_mask(data.get(4..).unwrap_or_default());
    connect(data, max_len);
}

fn connect(payload: &[u8], max_len: usize) {
    if let Ok(request) = ConnectRequest::decode(payload, max_len) {
        assert_round_trip(payload, &request, ConnectRequest::encode, |b| {
            ConnectRequest::decode(b, usize::MAX)
        });
    }
    if let Ok(response) = ConnectResponse::decode(payload, max_len) {
        assert_round_trip(payload, &response, ConnectResponse::encode, |b| {
            ConnectResponse::decode(b, usize::MAX)
        });
    }
}

/// A request body under an opcode chosen by the second byte: one of ZooKeeper's opcodes, or (past the last)
/// the byte itself as a signed number, which is mostly not an opcode.
pub fn request(data: &[u8]) {
    let (max_len, data) = split_limit(data);
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let op = OpCode::ALL
        .get(usize::from(selector))
        .map_or(i32::from(selector as i8), |op| op.code());
    decode_request(op, body, max_len);
}

fn decode_request(op: i32, body: &[u8], max_len: usize) {
    match Request::decode(op, body, max_len) {
        Ok(request) => {
            assert_eq!(request.opcode().code(), op);
            assert_round_trip(body, &request, Request::encode_body, |b| {
                Request::decode(op, b, usize::MAX)
            });
        }
        Err(RequestError::Unimplemented(code)) => assert_eq!(code, op),
        Err(RequestError::Marshalling { op: code, .. }) => assert_eq!(code, op),
    }
}

/// A multi request or response, chosen by the second byte's low bit.
pub fn multi(data: &[u8]) {
    let (max_len, data) = split_limit(data);
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let mut d = Decoder::new(rest).with_max_len(max_len);
    if which & 1 == 0 {
        if let Ok(request) = d.read::<MultiRequest>() {
            record_round_trip(rest, &request);
        }
    } else if let Ok(response) = d.read::<MultiResponse>() {
        record_round_trip(rest, &response);
    }
}

/// One txn entry, as a log record or a PROPOSAL carries it.
pub fn txn_entry(data: &[u8]) {
    let (max_len, data) = split_limit(data);
    decode_txn_entry(data, max_len);
}

fn decode_txn_entry(bytes: &[u8], max_len: usize) {
    let Ok(entry) = TxnEntry::decode(bytes, max_len) else {
        return;
    };
    let kind = OpCode::from_code(entry.header.txn_type).and_then(TxnKind::top_level);
    assert_eq!(kind, Some(entry.body.kind()));
    assert_round_trip(bytes, &entry, TxnEntry::encode, |b| {
        TxnEntry::decode(b, usize::MAX)
    });
}

/// Quorum packets back to back, as on the quorum port, with the payload of each decoded by its type.
pub fn quorum(data: &[u8]) {
    let (max_len, data) = split_limit(data);
    let mut d = Decoder::new(data).with_max_len(max_len);
    for _ in 0..QUORUM_PACKETS_MAX {
        let start = d.position();
        let Ok(packet) = d.read::<QuorumPacket>() else {
            return;
        };
        record_round_trip(&data[start..d.position()], &packet);
        quorum_payload(&packet, max_len);
        if d.is_empty() {
            return;
        }
    }
}

fn quorum_payload(packet: &QuorumPacket, max_len: usize) {
    let payload = packet.data.as_deref().unwrap_or_default();
    let Some(packet_type) = PacketType::from_code(packet.packet_type) else {
        return;
    };
    match packet_type {
        PacketType::Proposal | PacketType::Inform => decode_txn_entry(payload, max_len),
        PacketType::InformAndActivate => decode_txn_entry(payload.get(8..).unwrap_or_default(), max_len),
        PacketType::FollowerInfo | PacketType::ObserverInfo => {
            if let Ok(info) = Decoder::new(payload).read::<LearnerInfo>() {
                record_round_trip(payload, &info);
            }
        }
        PacketType::Request => {
            // sessionId (8), cxid (4), type (4), then the request record.
            if let Some(header) = payload.get(12..16) {
                let op = i32::from_be_bytes([header[0], header[1], header[2], header[3]]);
                decode_request(op, &payload[16..], max_len);
            }
        }
        PacketType::Ack
        | PacketType::Commit
        | PacketType::Ping
        | PacketType::Revalidate
        | PacketType::Sync
        | PacketType::CommitAndActivate
        | PacketType::NewLeader
        | PacketType::UpToDate
        | PacketType::Diff
        | PacketType::Trunc
        | PacketType::Snap
        | PacketType::LeaderInfo
        | PacketType::AckEpoch => {}
    }
}
