use std::path::{Path, PathBuf};

use super::super::{decode as decode_file, snapshot_of, SnapshotStream};
use super::*;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("jute/tests/golden/datadir")
}

/// The golden snapshots Apache ZooKeeper 3.8.0 wrote, with their bytes.
fn golden_snapshots() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(golden())
        .expect("golden")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            name.starts_with("snapshot.")
                .then(|| (name, std::fs::read(&p).expect("read")))
        })
        .collect();
    out.sort();
    assert!(out.len() >= 6);
    out
}

/// After the nodes' end marker a 3.8 snapshot file holds a seal (8 + 5), the digest section (20) and a seal.
const FILE_TAIL: usize = 13 + 20 + 13;

/// What `LearnerHandler` sends for the database a snapshot file holds: the stream between the file header
/// and the first seal, then the signature.
fn as_sent(file: &[u8]) -> Vec<u8> {
    let mut wire = file[16..file.len() - FILE_TAIL].to_vec();
    wire.extend_from_slice(&signature_bytes());
    wire
}

#[test]
fn a_zookeeper_snapshot_body_round_trips_through_the_snap_form() {
    for (name, file) in golden_snapshots() {
        let wire = as_sent(&file);
        assert_eq!(&wire[wire.len() - 19..wire.len() - 14], &END_MARKER, "{name}");
        let ours = decode(&wire, true).unwrap_or_else(|e| panic!("{name}: {e}"));
        let theirs = decode_file(&file, true).expect(&name);
        assert_eq!(ours.tree.digest(), theirs.tree.digest(), "{name}");
        assert_eq!(ours.node_count, theirs.node_count, "{name}");
        assert_eq!(ours.sessions, theirs.sessions, "{name}");
        // Our encoding of what we read is ZooKeeper's, byte for byte.
        let again = snapshot_of(&ours.tree, &ours.sessions).to_wire();
        assert!(again == wire, "{name}: our SNAP body differs from ZooKeeper's");
        // And the file a learner writes from it is the file ZooKeeper wrote.
        let digest = theirs.digest.expect("digest section");
        let mut written = Vec::new();
        write_file_stream(&mut written, &wire, (digest.zxid.0, digest.digest)).expect("file");
        assert!(written == file, "{name}: the file from the SNAP body differs");
    }
}

#[test]
fn the_scanner_finds_the_end_of_a_body_however_it_arrives() {
    let (name, file) = golden_snapshots().pop().expect("a snapshot");
    let wire = as_sent(&file);
    let mut sent = wire.clone();
    // What follows the body on the socket (the next quorum packet) is not part of it.
    sent.extend_from_slice(&[0, 0, 0, 9, 1, 2, 3]);
    for step in [1, 7, 64, sent.len()] {
        let mut scanner = WireScanner::default();
        let mut found = None;
        let mut have = 0;
        while found.is_none() && have < sent.len() {
            have = (have + step).min(sent.len());
            found = scanner.scan(&sent[..have]).expect(&name);
            if have < wire.len() {
                assert_eq!(found, None, "{name}: complete at {have} of {}", wire.len());
            }
        }
        assert_eq!(found, Some(wire.len()), "{name}, {step} bytes at a time");
    }
}

#[test]
fn a_body_without_its_signature_or_with_a_bad_length_is_refused_with_the_offset() {
    let (_, file) = golden_snapshots().pop().expect("a snapshot");
    let wire = as_sent(&file);
    let mut unsigned = wire.clone();
    let at = unsigned.len() - 3;
    unsigned[at] = b'X';
    let e = WireScanner::default().scan(&unsigned).expect_err("bad signature");
    assert!(e.message.contains("missing signature"), "{e}");
    assert_eq!(e.offset as usize, wire.len() - 14);
    let e = decode(&unsigned, true).expect_err("bad signature");
    assert!(e.message.contains("missing signature"), "{e}");
    // The first node's path length made impossible.
    let mut bad = wire.clone();
    let sessions = i32::from_be_bytes(bad[..4].try_into().expect("count")) as usize;
    let int_at = |b: &[u8], at: usize| i32::from_be_bytes(b[at..at + 4].try_into().expect("int"));
    let mut pos = 4 + 12 * sessions;
    let lists = int_at(&bad, pos);
    pos += 4;
    for _ in 0..lists {
        let entries = int_at(&bad, pos + 8);
        pos += 12;
        for _ in 0..entries {
            pos += 4;
            for _ in 0..2 {
                pos += 4 + int_at(&bad, pos) as usize;
            }
        }
    }
    bad[pos..pos + 4].copy_from_slice(&(-5i32).to_be_bytes());
    let e = WireScanner::default().scan(&bad).expect_err("bad length");
    assert_eq!(e.offset as usize, pos, "{e}");
    assert!(decode(&bad, true).is_err());
    assert!(decode(&wire[..wire.len() - 1], true).is_err(), "a body cut short");
}

#[test]
fn a_streamed_walk_goes_out_as_the_snap_body_of_the_whole_snapshot() {
    let (_, file) = golden_snapshots().pop().expect("a snapshot");
    let mut loaded = decode_file(&file, true).expect("decode");
    // Every node is older than the walk (a fuzzy snapshot holds nodes past its name).
    loaded.tree.set_last_processed_zxid(crate::types::Zxid(i64::MAX));
    let whole = snapshot_of(&loaded.tree, &loaded.sessions).to_wire();
    let mut stream = SnapshotStream::new(&loaded.tree, &loaded.sessions);
    let mut parts = Vec::new();
    while !stream.step(&loaded.tree, 2) {
        parts.push(stream.take());
    }
    parts.extend(stream.finish(&loaded.tree));
    let mut streamed = Vec::new();
    write_parts(&mut streamed, parts).expect("write");
    assert_eq!(streamed, whole);
    let mut cut = Vec::new();
    assert!(write_parts(&mut cut, Vec::new()).is_err(), "a walk that stopped");
}
