//! Txn entries written out byte by byte. The same bytes were fed to `SerializeUtils.deserializeTxn` of
//! ZooKeeper 3.8.0, which read the same records, except where the module doc says ferrokeeper reads more
//! (a body-less closeSession's digest, a top-level check) or less (bytes after the digest, a sub-txn type
//! that `DataTree.processTxn` would refuse later).

use super::*;
use crate::records::data::Acl;

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// clientId 0x0100000000000001, cxid 7, zxid 0x100000002, time 0x5f, then the type.
fn header_bytes(txn_type: [u8; 4]) -> Vec<u8> {
    cat(&[
        &[1, 0, 0, 0, 0, 0, 0, 1],
        &[0, 0, 0, 7],
        &[0, 0, 0, 1, 0, 0, 0, 2],
        &[0, 0, 0, 0, 0, 0, 0, 0x5f],
        &txn_type,
    ])
}

fn header(txn_type: OpCode) -> TxnHeader {
    TxnHeader {
        client_id: 0x0100_0000_0000_0001,
        cxid: 7,
        zxid: 0x1_0000_0002,
        time: 0x5f,
        txn_type: txn_type.code(),
    }
}

const DIGEST: [u8; 12] = [0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0x12, 0x34];
const DIGEST_VALUE: TxnDigest = TxnDigest {
    version: 2,
    tree_digest: 0x1234,
};

fn round_trip(bytes: &[u8], expected: &TxnEntry) {
    assert_eq!(&TxnEntry::decode(bytes, 1024).expect("decode"), expected);
    assert_eq!(expected.encode().expect("encode"), bytes);
}

#[test]
fn create_session_is_header_timeout_and_digest() {
    let bytes = cat(&[
        &header_bytes([0xff, 0xff, 0xff, 0xf6]),
        &[0, 0, 0x75, 0x30],
        &DIGEST,
    ]);
    assert_eq!(bytes.len(), 48);
    let entry = TxnEntry {
        header: header(OpCode::CreateSession),
        body: TxnBody::CreateSession(CreateSessionTxn { time_out: 30000 }),
        digest: Some(DIGEST_VALUE),
    };
    round_trip(&bytes, &entry);
}

#[test]
fn error_txn_without_digest_is_36_bytes() {
    let bytes = cat(&[&header_bytes([0xff; 4]), &[0xff, 0xff, 0xff, 0x9b]]);
    let entry = TxnEntry {
        header: header(OpCode::Error),
        body: TxnBody::Error(ErrorTxn { err: -101 }),
        digest: None,
    };
    round_trip(&bytes, &entry);
}

#[test]
fn close_session_body_is_optional_with_or_without_digest() {
    let close = header_bytes([0xff, 0xff, 0xff, 0xf5]);
    let bare = TxnEntry {
        header: header(OpCode::CloseSession),
        body: TxnBody::CloseSession(None),
        digest: None,
    };
    round_trip(&close, &bare);
    let digest_only = TxnEntry {
        digest: Some(DIGEST_VALUE),
        ..bare.clone()
    };
    round_trip(&cat(&[&close, &DIGEST]), &digest_only);
    let with_path = TxnEntry {
        body: TxnBody::CloseSession(Some(CloseSessionTxn {
            paths2_delete: vec!["/e".into()],
        })),
        ..digest_only.clone()
    };
    round_trip(
        &cat(&[&close, &[0, 0, 0, 1, 0, 0, 0, 2, b'/', b'e'], &DIGEST]),
        &with_path,
    );
    // A body-less entry whose digest has another version cannot be told from a body: refuse to write it.
    let odd_digest = TxnEntry {
        digest: Some(TxnDigest {
            version: 1,
            tree_digest: 0,
        }),
        ..bare
    };
    assert!(matches!(
        odd_digest.encode(),
        Err(Error::Invalid { offset: 32, .. })
    ));
}

#[test]
fn create_v0_from_old_logs_gets_parent_cversion_minus_one() {
    let v0_body: &[u8] = &[0, 0, 0, 2, b'/', b'a', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1];
    let entry = TxnEntry::decode(&cat(&[&header_bytes([0, 0, 0, 1]), v0_body]), 1024).expect("v0");
    let expected = TxnBody::Create(CreateTxn {
        path: "/a".into(),
        data: None,
        acl: Vec::new(),
        ephemeral: true,
        parent_cversion: -1,
    });
    assert_eq!(entry.body, expected);
    assert_eq!(entry.digest, None);
    // Only create (1) has an old form: the same bytes as a create2 are truncated.
    let create2 = cat(&[&header_bytes([0, 0, 0, 15]), v0_body]);
    assert!(matches!(
        TxnEntry::decode(&create2, 1024),
        Err(Error::Eof { offset: 47, .. })
    ));
}

#[test]
fn multi_sub_txns_are_decoded_by_their_type() {
    let bytes = cat(&[
        &header_bytes([0, 0, 0, 14]),
        &[0, 0, 0, 2],
        &[0, 0, 0, 13, 0, 0, 0, 10, 0, 0, 0, 2, b'/', b'a', 0, 0, 0, 3],
        &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0x9b],
        &DIGEST,
    ]);
    let entry = TxnEntry {
        header: header(OpCode::Multi),
        body: TxnBody::Multi(vec![
            (
                OpCode::Check,
                TxnBody::Check(CheckVersionTxn {
                    path: "/a".into(),
                    version: 3,
                }),
            ),
            (OpCode::Error, TxnBody::Error(ErrorTxn { err: -101 })),
        ]),
        digest: Some(DIGEST_VALUE),
    };
    round_trip(&bytes, &entry);
}

#[test]
fn reconfig_and_delete_container_share_records_and_check_is_a_top_level_no_op() {
    let set_data = cat(&[
        &header_bytes([0, 0, 0, 16]),
        &[0, 0, 0, 1, b'/', 0, 0, 0, 1, b'x', 0xff, 0xff, 0xff, 0xff],
    ]);
    let entry = TxnEntry::decode(&set_data, 1024).expect("reconfig");
    assert_eq!(entry.body.kind(), TxnKind::SetData);
    let delete = cat(&[&header_bytes([0, 0, 0, 20]), &[0, 0, 0, 2, b'/', b'c']]);
    let entry = TxnEntry::decode(&delete, 1024).expect("deleteContainer");
    assert_eq!(entry.body, TxnBody::Delete(DeleteTxn { path: "/c".into() }));
    let check = cat(&[
        &header_bytes([0, 0, 0, 13]),
        &[0, 0, 0, 2, b'/', b'c', 0xff, 0xff, 0xff, 0xff],
    ]);
    let entry = TxnEntry::decode(&check, 1024).expect("check");
    assert_eq!(entry.body.kind(), TxnKind::Check);
}

#[test]
fn malformed_entries_are_refused_with_the_offset_of_the_fault() {
    let exists = cat(&[&header_bytes([0, 0, 0, 3]), &[0, 0, 0, 0]]);
    assert!(matches!(
        TxnEntry::decode(&exists, 1024),
        Err(Error::Invalid { offset: 28, .. })
    ));
    let unknown = header_bytes([0, 0, 0, 10]);
    assert!(matches!(
        TxnEntry::decode(&unknown, 1024),
        Err(Error::Invalid { offset: 28, .. })
    ));
    let set_acl_in_multi = cat(&[
        &header_bytes([0, 0, 0, 14]),
        &[0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0, 0],
    ]);
    assert!(matches!(
        TxnEntry::decode(&set_acl_in_multi, 1024),
        Err(Error::Invalid { offset: 36, .. })
    ));
    let sub_with_extra_byte = cat(&[
        &header_bytes([0, 0, 0, 14]),
        &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 5, 0, 0, 0, 0, 9],
    ]);
    assert!(matches!(
        TxnEntry::decode(&sub_with_extra_byte, 1024),
        Err(Error::Trailing {
            offset: 48,
            remaining: 1
        })
    ));
    let negative_count = cat(&[&header_bytes([0, 0, 0, 14]), &[0xff, 0xff, 0xff, 0xfe]]);
    assert!(matches!(
        TxnEntry::decode(&negative_count, 1024),
        Err(Error::Length {
            offset: 32,
            len: -2,
            ..
        })
    ));
    let after_digest = cat(&[&header_bytes([0xff; 4]), &[0, 0, 0, 0], &DIGEST, &[0]]);
    assert!(matches!(
        TxnEntry::decode(&after_digest, 1024),
        Err(Error::Trailing {
            offset: 48,
            remaining: 1
        })
    ));
    let short_header = &header_bytes([0xff; 4])[..31];
    assert!(matches!(
        TxnEntry::decode(short_header, 1024),
        Err(Error::Eof { .. })
    ));
}

#[test]
fn encode_refuses_a_body_that_does_not_match_its_type() {
    let mismatched = TxnEntry {
        header: header(OpCode::Delete),
        body: TxnBody::SetAcl(SetAclTxn {
            path: "/a".into(),
            acl: Acl::open_unsafe(),
            version: 1,
        }),
        digest: None,
    };
    assert!(matches!(
        mismatched.encode(),
        Err(Error::Invalid { offset: 28, .. })
    ));
    let bad_sub = TxnEntry {
        header: header(OpCode::Multi),
        body: TxnBody::Multi(vec![(OpCode::Reconfig, TxnBody::Delete(DeleteTxn::default()))]),
        digest: None,
    };
    assert!(matches!(bad_sub.encode(), Err(Error::Invalid { offset: 36, .. })));
}

#[test]
fn encode_into_appends_what_encode_returns() {
    let close = TxnEntry {
        header: header(OpCode::CloseSession),
        body: TxnBody::CloseSession(Some(CloseSessionTxn {
            paths2_delete: vec!["/e".into()],
        })),
        digest: Some(DIGEST_VALUE),
    };
    let mut out = b"earlier entry".to_vec();
    close.encode_into(&mut out).expect("encode");
    let alone = close.encode().expect("encode");
    assert_eq!(out, cat(&[b"earlier entry", &alone]));
    // The closeSession check looks at this entry's bytes, not at the start of the buffer.
    let bare = TxnEntry {
        body: TxnBody::CloseSession(None),
        ..close
    };
    let mut out = vec![0; 40];
    bare.encode_into(&mut out).expect("encode");
    assert_eq!(&out[40..], &bare.encode().expect("encode")[..]);
}
