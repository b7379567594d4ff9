use std::path::{Path, PathBuf};

use super::*;
use crate::core::tree::{SharedTree, OPEN_UNSAFE_REF};
use crate::core::txn::{Txn, TxnBody};
use crate::storage::fs::RealFs;
use crate::storage::logread;

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("jute/tests/golden/datadir")
}

fn golden_snapshots() -> Vec<(String, i64)> {
    let text = std::fs::read_to_string(golden().join("manifest.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_str(&text).expect("json");
    m["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|f| f["kind"] == "snapshot")
        .map(|f| {
            let name = f["file"].as_str().expect("name").to_string();
            let zxid = i64::from_str_radix(name.trim_start_matches("snapshot."), 16).expect("zxid");
            (name, zxid)
        })
        .collect()
}

fn manifest_file(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(golden().join("manifest.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_str(&text).expect("json");
    m["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["file"] == name)
        .expect("file in manifest")
        .clone()
}

/// Every txn of the golden logs with the TxnDigest Apache ZooKeeper logged after it.
fn golden_txns() -> Vec<(Txn, Option<i64>)> {
    let mut out = Vec::new();
    logread::replay(&RealFs, &golden(), Zxid(0), false, |_, _, _, bytes| {
        let entry = jute::txn_entry::TxnEntry::decode(bytes, 1 << 20).expect("entry");
        let digest = entry.digest.map(|d| d.tree_digest);
        out.push((entry, digest));
        Ok(())
    })
    .expect("golden logs");
    out
}

fn apply(tree: &mut DataTree, txn: &Txn) {
    let mut triggers = Vec::new();
    tree.apply(txn, &mut triggers);
}

#[test]
fn the_digest_matches_apache_zookeeper_after_every_golden_txn() {
    let mut tree = DataTree::new(true);
    let txns = golden_txns();
    assert!(txns.len() > 30);
    for (txn, logged) in &txns {
        apply(&mut tree, txn);
        if let Some(d) = logged {
            assert_eq!(tree.digest() as i64, *d, "after zxid {:#x}", txn.header.zxid);
            assert_eq!(tree.digest(), tree.compute_digest());
        }
    }
}

fn assert_same_tree(a: &DataTree, b: &DataTree) {
    assert_eq!(a.nodes.len(), b.nodes.len());
    for n in a.nodes() {
        let p = n.path();
        let m = b.get(p).unwrap_or_else(|| panic!("{p} missing"));
        assert_eq!(n.stat, m.stat, "{p}");
        assert_eq!(n.data(), m.data(), "{p}");
        let names = |t: &DataTree, n| {
            let mut v: Vec<String> = t.child_names(n).map(str::to_string).collect();
            v.sort();
            v
        };
        assert_eq!(names(a, n), names(b, m), "{p}");
        assert_eq!(a.acl_of(n), b.acl_of(m), "{p}");
    }
    assert_eq!(a.ephemerals, b.ephemerals);
    assert_eq!(a.containers, b.containers);
    assert_eq!(a.ttls, b.ttls);
    assert_eq!(a.digest(), b.digest());
}

#[test]
fn golden_snapshots_load_as_the_manifest_describes() {
    let snaps = golden_snapshots();
    assert!(snaps.len() >= 3);
    for (name, _) in &snaps {
        let name = name.as_str();
        let bytes = std::fs::read(golden().join(name)).expect("snapshot");
        let want = manifest_file(name);
        let loaded = decode(&bytes, true).expect(name);
        let nodes = want["nodes"].as_array().expect("nodes");
        assert_eq!(loaded.node_count as usize, nodes.len(), "{name}");
        for n in nodes {
            let p = n["path"].as_str().expect("path");
            let p = if p.is_empty() { "/" } else { p };
            let node = loaded.tree.get(p).unwrap_or_else(|| panic!("{name}: {p}"));
            assert_eq!(node.acl, n["acl_ref"].as_i64().expect("acl"), "{name} {p}");
            assert_eq!(
                node.stat.pzxid,
                n["stat"]["pzxid"].as_i64().expect("pzxid"),
                "{name} {p}"
            );
            assert_eq!(
                node.stat.ephemeral_owner,
                n["stat"]["ephemeral_owner"].as_i64().expect("owner")
            );
        }
        let sessions = want["sessions"].as_array().expect("sessions");
        assert_eq!(loaded.sessions.len(), sessions.len(), "{name}");
        let d = &want["digest"];
        let got = loaded.digest.expect("digest section");
        assert_eq!(got.zxid.0, d["zxid"].as_i64().expect("zxid"), "{name}");
        assert_eq!(got.digest, d["digest"].as_i64().expect("digest"), "{name}");
        assert_eq!(
            loaded.last_processed_zxid, None,
            "3.8 writes no last-zxid section"
        );
    }
}

#[test]
fn a_golden_snapshot_plus_the_logs_after_it_is_the_tree_the_logs_build() {
    let txns = golden_txns();
    let mut full = DataTree::new(true);
    for (txn, _) in &txns {
        apply(&mut full, txn);
    }
    for (name, zxid) in golden_snapshots().iter().filter(|(_, z)| *z > 0) {
        let (name, zxid) = (name.as_str(), *zxid);
        let bytes = std::fs::read(golden().join(name)).expect("snapshot");
        let mut loaded = decode(&bytes, true).expect(name);
        let digest = loaded.digest.expect("digest");
        for (txn, _) in txns.iter().filter(|(t, _)| t.header.zxid > zxid) {
            apply(&mut loaded.tree, txn);
            if txn.header.zxid == digest.zxid.0 {
                assert_eq!(
                    loaded.tree.digest() as i64,
                    digest.digest,
                    "{name}: digest at its zxid"
                );
            }
        }
        assert_same_tree(&full, &loaded.tree);
    }
}

#[test]
fn our_snapshot_reads_back_to_the_same_tree_and_seals_like_zookeeper() {
    let mut tree = DataTree::new(true);
    for (txn, _) in golden_txns() {
        apply(&mut tree, &txn);
    }
    let image = snapshot_of(&tree, &[(0x0100_0000_0000_0001, 4000)]);
    let bytes = image.to_bytes();
    assert_eq!(
        &bytes[bytes.len() - 5..],
        &[0, 0, 0, 1, b'/'],
        "what isValidSnapshot checks"
    );
    let loaded = decode(&bytes, true).expect("decode");
    assert_same_tree(&tree, &loaded.tree);
    assert_eq!(loaded.sessions, vec![(0x0100_0000_0000_0001, 4000)]);
    let digest = loaded.digest.expect("digest");
    assert_eq!(
        (digest.zxid, digest.digest),
        (tree.last_processed_zxid(), tree.digest() as i64)
    );
}

#[test]
fn a_fresh_tree_snapshots_to_zookeepers_snapshot_0_byte_for_byte() {
    let ours = snapshot_of(&DataTree::new(false), &[]).to_bytes();
    let theirs = std::fs::read(golden().join("snapshot.0")).expect("snapshot.0");
    assert_eq!(ours, theirs);
    let (a, b) = (
        decode(&ours, false).expect("ours"),
        decode(&theirs, false).expect("theirs"),
    );
    assert_same_tree(&a.tree, &b.tree);
    assert_eq!(a.digest, b.digest, "an empty ZxidDigest before any txn");
}

#[test]
fn damage_is_reported_with_its_offset() {
    let bytes = std::fs::read(golden().join("snapshot.5")).expect("snapshot");
    let mut bad = bytes.clone();
    bad[100] ^= 0x01;
    let err = decode(&bad, true).expect_err("a flipped bit");
    assert!(err.offset > 100, "{err}");
    let err = decode(&bytes[..bytes.len() / 2], true).expect_err("cut short");
    assert!(err.message.contains("reading"), "{err}");
    let mut wrong = bytes;
    wrong[0] = 0;
    assert_eq!(decode(&wrong, true).expect_err("magic").offset, 0);
}

/// A tree with `count` children of `/big`, each holding `len` bytes of data (the byte `i % 251` for child i).
fn wide_tree(count: u32, len: usize) -> DataTree {
    let mut tree = DataTree::new(false);
    tree.insert_system_node("/big", OPEN_UNSAFE_REF, 0);
    for i in 0..count {
        let p = format!("/big/n{i:06}");
        tree.insert_system_node(&p, OPEN_UNSAFE_REF, 0);
        let node = tree.nodes.get_mut(p.as_str()).expect("node");
        node.set_data(Some(&vec![(i % 251) as u8; len]));
        node.stat.czxid = i64::from(i);
    }
    tree.digest = tree.compute_digest();
    tree
}

#[test]
fn a_large_snapshot_checks_its_seals_beside_the_parsing() {
    let tree = wide_tree(30_000, 200);
    let bytes = snapshot_of(&tree, &[]).to_bytes();
    assert!(
        bytes.len() > 5 * CHECKPOINT,
        "large enough for the checksum thread"
    );
    let loaded = decode(&bytes, false).expect("decode");
    assert_same_tree(&tree, &loaded.tree);
    assert_eq!(loaded.tree.digest(), tree.compute_digest());
    // One flipped bit of node data, early (before a checkpoint) and in the last node (after the last one).
    let run = [250u8; 200];
    let first = bytes.windows(200).position(|w| w == run).expect("a node's data");
    let last = bytes.windows(200).rposition(|w| w == run).expect("a node's data");
    for at in [first + 10, last + 10] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 1;
        let err = decode(&damaged, false).expect_err("damage goes unnoticed");
        assert!(err.message.contains("CRC corruption"), "{err}");
    }
}

#[test]
fn a_streamed_snapshot_interleaved_with_writes_replays_to_the_live_tree() {
    let txns = golden_txns();
    // Start the walk at several points of the golden history, so that creates, deletes and ACL changes of
    // every kind happen while it runs.
    for start in [1, txns.len() / 4, txns.len() / 2, txns.len() * 3 / 4] {
        let mut tree = DataTree::new(true);
        for (txn, _) in &txns[..start] {
            apply(&mut tree, txn);
        }
        let mut stream = SnapshotStream::new(&tree, &[(7, 4000)]);
        let zxid = stream.zxid();
        let mut parts = Vec::new();
        let mut rest = txns[start..].iter();
        while !stream.step(&tree, 1) {
            parts.push(stream.take());
            if let Some((txn, _)) = rest.next() {
                apply(&mut tree, txn);
            }
        }
        parts.extend(stream.finish(&tree));
        let mut bytes = Vec::new();
        write_parts(&mut bytes, parts).expect("write");
        let mut loaded = decode(&bytes, true).expect("decode");
        assert_eq!(loaded.sessions, vec![(7, 4000)]);
        let digest = loaded.digest.expect("digest");
        for (txn, _) in txns.iter().filter(|(t, _)| t.header.zxid > zxid.0) {
            apply(&mut loaded.tree, txn);
            if txn.header.zxid == digest.zxid.0 {
                assert_eq!(loaded.tree.digest() as i64, digest.digest, "from {start}");
            }
        }
        for (txn, _) in rest {
            apply(&mut tree, txn);
        }
        assert_same_tree(&tree, &loaded.tree);
    }
}

#[test]
fn a_streamed_snapshot_of_a_quiet_tree_is_the_image_snapshot() {
    let mut tree = DataTree::new(true);
    for (txn, _) in golden_txns() {
        apply(&mut tree, &txn);
    }
    let mut stream = SnapshotStream::new(&tree, &[(7, 4000)]);
    while !stream.step(&tree, 3) {}
    let mut bytes = Vec::new();
    write_parts(&mut bytes, stream.finish(&tree)).expect("write");
    let image = snapshot_of(&tree, &[(7, 4000)]).to_bytes();
    assert_eq!(bytes.len(), image.len());
    assert_same_tree(
        &decode(&bytes, true).expect("stream").tree,
        &decode(&image, true).expect("image").tree,
    );
    let cut = write_parts(&mut Vec::new(), vec![StreamPart::Bytes(vec![1, 2, 3])]);
    assert!(cut.is_err(), "a stream without its end is refused");
}

#[test]
fn a_snapshot_walked_on_another_thread_while_txns_are_applied_replays_to_the_live_tree() {
    let txns = golden_txns();
    let start = txns.len() / 3;
    let mut tree = DataTree::new(true);
    for (txn, _) in &txns[..start] {
        apply(&mut tree, txn);
    }
    let mut stream = SnapshotStream::new(&tree, &[(7, 4000)]);
    let zxid = stream.zxid();
    let shared = SharedTree::new(tree);
    let walker = shared.clone();
    let walk = std::thread::spawn(move || {
        let mut parts = Vec::new();
        loop {
            let tree = walker.read();
            if stream.step(&tree, 1) {
                parts.extend(stream.finish(&tree));
                return parts;
            }
            drop(tree);
            parts.push(stream.take());
            std::thread::yield_now();
        }
    });
    for (txn, _) in &txns[start..] {
        let _pause = shared.pause();
        apply(&mut shared.write(), txn);
    }
    let parts = walk.join().expect("walker");
    let mut bytes = Vec::new();
    write_parts(&mut bytes, parts).expect("write");
    let mut loaded = decode(&bytes, true).expect("decode");
    for (txn, _) in txns.iter().filter(|(t, _)| t.header.zxid > zxid.0) {
        apply(&mut loaded.tree, txn);
    }
    assert_same_tree(&shared.read(), &loaded.tree);
}

/// A txn at `zxid` that creates `path` (with its path as data) under a parent of this `cversion`, or deletes
/// `path`.
fn change(zxid: i64, path: &str, create: bool, cversion: i32) -> Txn {
    use jute::records::data::Acl;
    use jute::records::txn::{CreateTxn, DeleteTxn, TxnHeader};
    let (txn_type, body) = if create {
        let c = CreateTxn {
            path: path.to_string(),
            data: Some(bytes::Bytes::copy_from_slice(path.as_bytes())),
            acl: Acl::open_unsafe(),
            ephemeral: false,
            parent_cversion: cversion + 1,
        };
        (1, TxnBody::Create(c))
    } else {
        let d = DeleteTxn {
            path: path.to_string(),
        };
        (2, TxnBody::Delete(d))
    };
    let header = TxnHeader {
        client_id: 1,
        cxid: zxid as i32,
        zxid,
        time: zxid,
        txn_type,
    };
    Txn {
        header,
        body,
        digest: None,
    }
}

#[test]
fn nodes_deleted_and_created_in_their_slots_during_a_walk_replay_to_the_live_tree() {
    // Deleted nodes' slots are reused by the next creates, so the walk meets ids it kept from a child set
    // that now hold other nodes (deeper, under other parents, with children of their own).
    let mut tree = DataTree::new(false);
    let mut zxid = 0;
    let mut log = Vec::new();
    let mut run = |tree: &mut DataTree, path: &str, create: bool| {
        zxid += 1;
        // As prep writes it: the parent's cversion after the create, so that a replay does not count it twice.
        let cversion = tree.get(path::parent(path)).map_or(0, |n| n.stat.cversion);
        let txn = change(zxid, path, create, cversion);
        apply(tree, &txn);
        log.push(txn);
    };
    for top in ["/a", "/b"] {
        run(&mut tree, top, true);
        for i in 0..40 {
            run(&mut tree, &format!("{top}/n{i}"), true);
        }
    }
    let mut stream = SnapshotStream::new(&tree, &[]);
    let start = stream.zxid();
    let mut parts = Vec::new();
    let mut round = 0;
    while !stream.step(&tree, 3) {
        parts.push(stream.take());
        round += 1;
        for i in 0..2 {
            let victim = format!(
                "/{}/n{}",
                if round % 2 == 0 { "a" } else { "b" },
                (round * 2 + i) % 40
            );
            // As the server prepares them: only a node without children is deleted.
            if tree.get(&victim).is_some_and(|n| tree.child_count(n) == 0) {
                run(&mut tree, &victim, false);
                run(&mut tree, &format!("/b/n{}/r{round}-{i}", (round + 7) % 40), true);
            }
        }
    }
    parts.extend(stream.finish(&tree));
    assert!(round > 10, "the walk took {round} steps");
    let mut bytes = Vec::new();
    write_parts(&mut bytes, parts).expect("write");
    let mut loaded = decode(&bytes, false).expect("decode");
    for txn in log.iter().filter(|t| t.header.zxid > start.0) {
        apply(&mut loaded.tree, txn);
    }
    assert_same_tree(&tree, &loaded.tree);
}

#[test]
fn a_step_ends_once_a_part_is_pending_and_the_parts_make_the_image() {
    let tree = wide_tree(3_000, 1000);
    let mut stream = SnapshotStream::new(&tree, &[]);
    // The nodes' czxids are past the tree's last processed zxid; keep them all, as `snapshot_of` does.
    stream.newest = i64::MAX;
    let mut parts = Vec::new();
    while !stream.step(&tree, usize::MAX) {
        let pending = stream.pending_bytes();
        assert!(
            (PART_BYTES..PART_BYTES + 1100).contains(&pending),
            "a step stopped at {pending} bytes"
        );
        parts.push(stream.take());
    }
    assert!(parts.len() >= 2, "3 MB of nodes make several parts");
    parts.extend(stream.finish(&tree));
    let mut bytes = Vec::new();
    write_parts(&mut bytes, parts).expect("write");
    assert_eq!(bytes, snapshot_of(&tree, &[]).to_bytes());
}

/// The paths of a tree in the order a snapshot writes them: depth first, children in getChildren's order.
fn snapshot_order(tree: &DataTree) -> Vec<String> {
    fn walk(tree: &DataTree, node: &Node, out: &mut Vec<String>) {
        out.push(if node.path() == "/" {
            String::new()
        } else {
            node.path().to_string()
        });
        for child in tree.children(node).collect::<Vec<_>>() {
            walk(tree, child, out);
        }
    }
    let mut out = Vec::new();
    walk(tree, tree.get("/").expect("root"), &mut out);
    out
}

#[test]
fn nodes_are_written_in_the_order_apache_zookeeper_wrote_its_snapshots() {
    let txns = golden_txns();
    for (name, zxid) in golden_snapshots() {
        let mut tree = DataTree::new(true);
        for (txn, _) in txns.iter().filter(|(t, _)| t.header.zxid <= zxid) {
            apply(&mut tree, txn);
        }
        let theirs: Vec<String> = manifest_file(&name)["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["path"].as_str().expect("path").to_string())
            .collect();
        assert_eq!(snapshot_order(&tree), theirs, "{name}");
    }
}
