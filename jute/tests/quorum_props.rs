//! Properties of the quorum packet bodies: no input makes a decoder panic, and what decodes encodes back to the
//! bytes it came from (or, for the types whose data ZooKeeper never reads, to null data; a forwarded request to
//! bytes that decode to the same request). Random bytes rarely
//! form a txn or a forwarded request, so those bodies are covered by the golden streams.

use bytes::Bytes;
use jute::quorum::{Payload, Sender, SessionTimeout, SyncSnapshot};
use jute::records::quorum::QuorumPacket;
use jute::{Decoder, DEFAULT_MAX_BUFFER};
use proptest::prelude::*;

fn packet(packet_type: i32, data: Option<Vec<u8>>) -> QuorumPacket {
    QuorumPacket {
        packet_type,
        zxid: 0,
        data: data.map(Bytes::from),
        authinfo: None,
    }
}

fn sender(leader: bool) -> Sender {
    if leader {
        Sender::Leader
    } else {
        Sender::Learner
    }
}

proptest! {
    #[test]
    fn any_body_decodes_without_panic_and_what_decodes_encodes_back(
        packet_type in 0i32..=21,
        leader in any::<bool>(),
        data in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
    ) {
        let p = packet(packet_type, data.clone());
        if let Ok(payload) = Payload::decode(&p, sender(leader), DEFAULT_MAX_BUFFER) {
            prop_assert_eq!(payload.packet_type().code(), packet_type);
            let encoded = payload.encode().expect("a decoded body encodes");
            // A txn reads some legacy forms (CreateTxnV0) it does not write: its round trip is TxnEntry's,
            // tested with the txn records.
            let carries_txn = matches!(
                payload,
                Payload::Proposal(_) | Payload::Inform(_) | Payload::InformAndActivate { .. }
            );
            // A forwarded request is read as a client connection reads it (bytes after the record ignored, a null
            // list read as empty), and a boolean as Java reads one (any byte but 0 is true): their encoding decodes
            // back to the same body.
            let forwarded = matches!(payload, Payload::Request(_) | Payload::RevalidateReply(_));
            match encoded {
                _ if carries_txn => {}
                Some(bytes) if forwarded => {
                    let again = Payload::decode(&packet(packet_type, Some(bytes.to_vec())), sender(leader), DEFAULT_MAX_BUFFER);
                    prop_assert_eq!(again.ok(), Some(payload.clone()));
                }
                None => {
                    let new_leader = matches!(payload, Payload::NewLeader { .. });
                    prop_assert!(data.is_none() || !new_leader, "NEWLEADER lost its data");
                }
                Some(bytes) => prop_assert_eq!(Some(bytes.to_vec()), data),
            }
        }
    }

    #[test]
    fn learner_pings_round_trip(sessions in proptest::collection::vec((any::<i64>(), any::<i32>()), 0..8)) {
        let list: Vec<SessionTimeout> =
            sessions.iter().map(|&(session_id, timeout)| SessionTimeout { session_id, timeout }).collect();
        let payload = Payload::LearnerPing(list);
        let p = payload.to_packet(7).expect("encode");
        prop_assert_eq!(p.data.as_ref().map(|d| d.len()), Some(sessions.len() * 12));
        prop_assert_eq!(Payload::decode(&p, Sender::Learner, DEFAULT_MAX_BUFFER).expect("decode"), payload);
    }

    #[test]
    fn any_snapshot_stream_decodes_without_panic_and_re_encodes_what_it_consumed(
        raw in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let mut d = Decoder::new(&raw);
        if let Ok(snap) = SyncSnapshot::decode(&mut d) {
            let used = d.position();
            prop_assert_eq!(snap.encode().expect("encode"), raw[..used].to_vec());
        }
    }
}

#[test]
fn the_smallest_snapshot_stream_round_trips() {
    // No sessions, no ACLs, no nodes, the "/" terminator and the signature.
    let mut raw = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'/', 0, 0, 0, 10];
    raw.extend_from_slice(b"BenWasHere");
    let mut d = Decoder::new(&raw);
    let snap = SyncSnapshot::decode(&mut d).expect("decode");
    assert!(d.is_empty());
    assert_eq!(snap, SyncSnapshot::default());
    assert_eq!(snap.encode().expect("encode"), raw);
    let bad = [&raw[..17], b"BenWasHerf"].concat();
    let err = SyncSnapshot::decode(&mut Decoder::new(&bad)).expect_err("bad signature");
    assert!(err.to_string().contains("BenWasHere"), "{err}");
}
