use bytes::Bytes;

use super::*;

fn versioned(version: i64, sid: i64, address: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&version.to_be_bytes());
    v.extend_from_slice(&sid.to_be_bytes());
    v.extend_from_slice(&(address.len() as i32).to_be_bytes());
    v.extend_from_slice(address);
    v
}

#[test]
fn legacy_handshake_is_the_sid_alone() {
    let (h, used) = Handshake::decode(&7i64.to_be_bytes())
        .expect("decodes")
        .expect("whole");
    assert_eq!((h.clone(), used), (Handshake::Legacy { sid: 7 }, 8));
    assert!(h.addresses().expect("addresses").is_empty());
    assert_eq!(&h.encode()[..], &7i64.to_be_bytes());
}

#[test]
fn versioned_handshake_waits_for_its_whole_address() {
    let bytes = versioned(PROTOCOL_VERSION_V1, 3, b"127.0.0.1:3888");
    for cut in 0..bytes.len() {
        assert_eq!(Handshake::decode(&bytes[..cut]), Ok(None), "cut at {cut}");
    }
    let (h, used) = Handshake::decode(&bytes).expect("decodes").expect("whole");
    assert_eq!(used, bytes.len());
    assert_eq!(h.sid(), 3);
    assert_eq!(h.encode(), Bytes::from(bytes));
}

#[test]
fn multi_address_handshake_lists_every_address_but_wildcards() {
    let bytes = versioned(PROTOCOL_VERSION_V2, 1, b"127.0.0.1:1|[::1]:2|0.0.0.0:3|");
    let (h, _) = Handshake::decode(&bytes).expect("decodes").expect("whole");
    let hosts: Vec<_> = h
        .addresses()
        .expect("addresses")
        .into_iter()
        .map(|a| (a.host, a.port))
        .collect();
    assert_eq!(hosts, vec![("127.0.0.1".to_owned(), 1), ("::1".to_owned(), 2)]);
}

#[test]
fn handshakes_zookeeper_closes_are_refused() {
    let cases: Vec<(Vec<u8>, ElectionWireError)> = vec![
        (
            versioned(-65534, 3, b"a:1"),
            ElectionWireError::ProtocolVersion(-65534),
        ),
        (
            versioned(PROTOCOL_VERSION_V1, 3, b""),
            ElectionWireError::AddressLength(0),
        ),
        (
            versioned(PROTOCOL_VERSION_V1, 3, b"127.0.0.1"),
            ElectionWireError::Address("127.0.0.1".into()),
        ),
        (
            versioned(PROTOCOL_VERSION_V1, 3, b"h:ab"),
            ElectionWireError::Port("ab".into()),
        ),
        (
            versioned(PROTOCOL_VERSION_V1, 3, b"h:70000"),
            ElectionWireError::Port("70000".into()),
        ),
        (
            versioned(PROTOCOL_VERSION_V1, 3, b"[::1]"),
            ElectionWireError::Address("[::1]".into()),
        ),
        (
            versioned(PROTOCOL_VERSION_V1, 3, b"|h:1"),
            ElectionWireError::Address("".into()),
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(Handshake::decode(&bytes), Err(want));
    }
    let mut long = versioned(PROTOCOL_VERSION_V1, 3, b"");
    long[16..20].copy_from_slice(&2049i32.to_be_bytes());
    assert_eq!(
        Handshake::decode(&long),
        Err(ElectionWireError::AddressLength(2049))
    );
}

fn head(state: i32, leader: i64, zxid: i64, epoch: i64) -> Vec<u8> {
    let mut v = state.to_be_bytes().to_vec();
    for x in [leader, zxid, epoch] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v
}

#[test]
fn short_notification_takes_its_peer_epoch_from_the_zxid() {
    let bytes = Bytes::from(head(0, 2, 0x5_0000_0007, 9));
    let n = Notification::decode(&bytes).expect("decodes");
    assert_eq!((n.peer_epoch, n.version(), n.config()), (5, 0, None));
    assert_eq!(n.encode(), bytes);
}

#[test]
fn forty_byte_notification_has_version_zero_whatever_its_field_says() {
    let mut v = head(1, 2, 3, 4);
    v.extend_from_slice(&6i64.to_be_bytes());
    v.extend_from_slice(&7i32.to_be_bytes());
    let bytes = Bytes::from(v);
    let n = Notification::decode(&bytes).expect("decodes");
    assert_eq!(
        (n.state, n.peer_epoch, n.version()),
        (ServerState::Following, 6, 0)
    );
    assert_eq!(n.encode(), bytes);
}

#[test]
fn thirty_six_byte_notification_is_dropped_as_zookeeper_drops_it() {
    let mut v = head(0, 2, 3, 4);
    v.extend_from_slice(&6i64.to_be_bytes());
    assert_eq!(
        Notification::decode(&Bytes::from(v)),
        Err(ElectionWireError::Short(36))
    );
    assert_eq!(
        Notification::decode(&Bytes::from(head(0, 1, 1, 1)[..27].to_vec())),
        Err(ElectionWireError::Short(27))
    );
}

#[test]
fn notification_with_unknown_state_or_bad_config_length_is_refused() {
    let n = Notification::current(ServerState::Looking, 1, 2, 3, 4, Bytes::from_static(b"version=0"));
    let mut bytes = n.encode().to_vec();
    bytes[3] = 4;
    assert_eq!(
        Notification::decode(&Bytes::from(bytes.clone())),
        Err(ElectionWireError::State(4))
    );
    bytes[3] = 0;
    bytes[40..44].copy_from_slice(&(-1i32).to_be_bytes());
    assert!(matches!(
        Notification::decode(&Bytes::from(bytes.clone())),
        Err(ElectionWireError::ConfigLength { len: -1, .. })
    ));
    bytes[40..44].copy_from_slice(&20i32.to_be_bytes());
    assert_eq!(
        Notification::decode(&Bytes::from(bytes)),
        Err(ElectionWireError::Short(53))
    );
}

#[test]
fn current_notification_round_trips_with_its_config_version() {
    let cfg = Bytes::from_static(b"server.1=127.0.0.1:2888:3888:participant\nversion=1a");
    let n = Notification::current(ServerState::Leading, 1, -1, 3, 4, cfg.clone());
    let bytes = n.encode();
    assert_eq!(bytes.len(), 44 + cfg.len());
    assert_eq!(Notification::decode(&bytes).expect("decodes"), n);
    assert_eq!(config_version(&cfg), Some(0x1a));
    assert_eq!(config_version(b"server.1=x"), None);
}

#[test]
fn message_lengths_outside_one_to_packet_max_are_refused() {
    assert_eq!(check_message(&[0, 0]), Ok(None));
    assert_eq!(
        check_message(&0i32.to_be_bytes()),
        Err(ElectionWireError::FrameLength(0))
    );
    let over = (PACKET_MAX_SIZE as i32 + 1).to_be_bytes();
    assert_eq!(
        check_message(&over),
        Err(ElectionWireError::FrameLength(PACKET_MAX_SIZE as i32 + 1))
    );
    assert_eq!(check_message(&[0, 0, 0, 2, 9]), Ok(None));
    assert_eq!(check_message(&[0, 0, 0, 2, 9, 9]), Ok(Some(2)));
}

mod properties {
    use bytes::Bytes;
    use proptest::prelude::*;

    use super::super::*;

    fn state() -> impl Strategy<Value = ServerState> {
        prop_oneof![
            Just(ServerState::Looking),
            Just(ServerState::Following),
            Just(ServerState::Leading),
            Just(ServerState::Observing),
        ]
    }

    proptest! {
        #[test]
        fn any_bytes_decode_to_a_value_or_an_error_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Handshake::decode(&bytes);
            let _ = check_message(&bytes);
            let _ = Notification::decode(&Bytes::from(bytes));
        }

        #[test]
        fn every_current_notification_round_trips(
            s in state(), leader in any::<i64>(), zxid in any::<i64>(), round in any::<i64>(),
            epoch in any::<i64>(), config in proptest::collection::vec(any::<u8>(), 0..100),
        ) {
            let n = Notification::current(s, leader, zxid, round, epoch, Bytes::from(config));
            prop_assert_eq!(Notification::decode(&n.encode()).expect("decodes"), n);
        }

        #[test]
        fn a_decoded_notification_reencodes_to_its_bytes(bytes in proptest::collection::vec(any::<u8>(), 28..120)) {
            let mut bytes = bytes;
            bytes[..4].copy_from_slice(&[0, 0, 0, 1]);
            let payload = Bytes::from(bytes);
            if let Ok(n) = Notification::decode(&payload) {
                prop_assert_eq!(n.encode(), payload);
            }
        }
    }
}
