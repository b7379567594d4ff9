//! Golden test of the election port: the handshakes and notifications that Apache ZooKeeper members sent
//! (Debian's 3.8.0 in `election/`, 3.9.5 in `election/3.9.5/`), and the LOOKING notifications
//! `tools/capture/election.py` sent them as member 3, captured on loopback.
//!
//! Every handshake and notification file must decode to the fields `election/manifest.json` gives, and
//! encoding what was decoded must give back the captured bytes exactly. The manifest's facts about what the
//! real members refused (handshakes they closed the connection on, the 36-byte notification they did not
//! answer) must be refused by our decoder too.

mod common;

use bytes::Bytes;
use common::{fixture, fixture_files, manifest};
use jute::election::{check_message, Handshake, HandshakeVersion, Notification, ServerState};
use serde_json::Value;

/// Debian's Apache ZooKeeper 3.8.0, then 3.9.5.
const SETS: [&str; 2] = ["election", "election/3.9.5"];

fn int(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn entries(set: &str, kind: &str) -> Vec<Value> {
    let m = manifest(set);
    let all = m.as_array().expect("manifest is an array").clone();
    all.into_iter().filter(|e| e["kind"] == kind).collect()
}

#[test]
fn every_fixture_file_is_in_the_manifest() {
    for set in SETS {
        let m = manifest(set);
        let listed: Vec<String> = m
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|e| e["file"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(listed, fixture_files(set), "{set}");
    }
}

#[test]
fn captured_handshakes_decode_and_reencode_byte_for_byte() {
    for set in SETS {
        handshakes_of(set);
    }
}

fn handshakes_of(set: &str) {
    let all = entries(set, "handshake");
    let forms: Vec<&str> = all
        .iter()
        .map(|e| e["fields"]["form"].as_str().expect("form"))
        .collect();
    assert!(
        forms.contains(&"legacy") && forms.contains(&"versioned"),
        "{forms:?}"
    );
    for e in &all {
        let file = e["file"].as_str().expect("file");
        let raw = fixture(set, file);
        let (h, used) = Handshake::decode(&raw)
            .unwrap_or_else(|err| panic!("{set}/{file}: {err}"))
            .unwrap_or_else(|| panic!("{set}/{file}: incomplete"));
        assert_eq!(used, raw.len(), "{set}/{file}: bytes left over");
        let f = &e["fields"];
        assert_eq!(h.sid(), int(f, "sid"), "{set}/{file}");
        match &h {
            Handshake::Legacy { .. } => assert_eq!(f["form"], "legacy", "{set}/{file}"),
            Handshake::Versioned { version, address, .. } => {
                assert_eq!(version.to_wire(), int(f, "protocol_version"), "{set}/{file}");
                assert_eq!(address, f["address"].as_str().expect("address"), "{set}/{file}");
                let parts = address.split('|').count();
                assert_eq!(h.addresses().expect("addresses").len(), parts, "{set}/{file}");
                if *version == HandshakeVersion::V2 {
                    assert!(file.contains("v2"), "{set}/{file}");
                }
            }
        }
        assert_eq!(&h.encode()[..], &raw[..], "{set}/{file}: re-encoded bytes differ");
    }
}

#[test]
fn captured_notifications_decode_and_reencode_byte_for_byte() {
    for set in SETS {
        notifications_of(set);
    }
}

fn notifications_of(set: &str) {
    let mut states = Vec::new();
    for e in entries(set, "notification") {
        let file = e["file"].as_str().expect("file");
        let raw = fixture(set, file);
        let f = &e["fields"];
        let malformed = f.get("malformed").is_some();
        let len = check_message(&raw).unwrap_or_else(|err| panic!("{set}/{file}: {err}"));
        assert_eq!(len, Some(raw.len() - 4), "{set}/{file}: frame length");
        let decoded = Notification::decode(&Bytes::copy_from_slice(&raw[4..]));
        if malformed {
            assert!(
                decoded.is_err(),
                "{set}/{file}: ZooKeeper drops it, we decoded {decoded:?}"
            );
            continue;
        }
        let n = decoded.unwrap_or_else(|err| panic!("{set}/{file}: {err}"));
        assert_eq!(
            n.state.name(),
            f["state"].as_str().expect("state"),
            "{set}/{file}"
        );
        assert_eq!(n.leader, int(f, "leader"), "{set}/{file}");
        assert_eq!(n.zxid, int(f, "zxid"), "{set}/{file}");
        assert_eq!(n.election_epoch, int(f, "election_epoch"), "{set}/{file}");
        assert_eq!(n.peer_epoch, int(f, "peer_epoch"), "{set}/{file}");
        assert_eq!(i64::from(n.version()), int(f, "version"), "{set}/{file}");
        let config = n.config().map(|c| String::from_utf8(c.to_vec()).expect("utf-8"));
        assert_eq!(config.as_deref(), f["config"].as_str(), "{set}/{file}");
        assert_eq!(
            &n.encode_frame()[..],
            &raw[..],
            "{set}/{file}: re-encoded bytes differ"
        );
        states.push(n.state);
    }
    for want in [ServerState::Looking, ServerState::Following, ServerState::Leading] {
        assert!(
            states.contains(&want),
            "no {want:?} notification among the fixtures"
        );
    }
}

#[test]
fn handshakes_the_real_members_closed_are_refused() {
    for set in SETS {
        refused_of(set);
    }
}

fn refused_of(set: &str) {
    let refused: Vec<Value> = entries(set, "fact")
        .into_iter()
        .filter(|e| e["what"] == "refused handshake")
        .collect();
    assert!(refused.len() >= 5, "{refused:?}");
    for e in refused {
        let f = &e["fields"];
        assert_eq!(f["closed"], true, "{f}");
        let bytes = hex::decode(f["hex"].as_str().expect("hex")).expect("hex");
        let got = Handshake::decode(&bytes);
        assert!(
            got.is_err(),
            "{}: ZooKeeper closed the connection, we read {got:?}",
            f["handshake"]
        );
    }
}
