//! Installing the snapshot a leader sends with SNAP, from the body Apache ZooKeeper 3.8.0 would send for the
//! database of its own golden snapshots: the next start recovers exactly that database, a history after the
//! SNAP's zxid is gone, and a crash at any step leaves a directory that recovers.

use ferrokeeper::core::tree::snapshot::{self, wire};
use ferrokeeper::storage::faulty::{Crash, Fault, FaultyFs};
use ferrokeeper::storage::install::{install_snapshot, InstallError};
use ferrokeeper::storage::recovery::recover;
use ferrokeeper::storage::snapfile::Compression;
use ferrokeeper::storage::truncate::discard_after;
use ferrokeeper::types::Zxid;

#[path = "storage_support/golden.rs"]
mod golden;
use golden::{dirs, files, golden, golden_fs_without, opts, summary, Summary};

/// What `LearnerHandler` sends for the database of the golden snapshot `name`: the stream between the file
/// header and the first seal (a 3.8 file ends with seal, digest section, seal: 46 bytes), then the signature.
fn as_sent(name: &str) -> Vec<u8> {
    let file = std::fs::read(golden().join(name)).expect("snapshot");
    let mut body = file[16..file.len() - 46].to_vec();
    body.extend_from_slice(&(wire::SIGNATURE.len() as i32).to_be_bytes());
    body.extend_from_slice(wire::SIGNATURE.as_bytes());
    body
}

fn theirs(name: &str) -> snapshot::LoadedSnapshot {
    snapshot::decode(&std::fs::read(golden().join(name)).expect("snapshot"), true).expect("decode")
}

#[test]
fn an_installed_snap_is_what_the_next_start_recovers() {
    for compression in [Compression::None, Compression::Gzip, Compression::Snappy] {
        let fs = FaultyFs::new();
        let body = as_sent("snapshot.25");
        let installed =
            install_snapshot(&fs, &dirs(), Zxid(0x25), &body, compression, true).expect("install");
        let r = recover(&fs, &dirs(), opts()).expect("recover");
        assert_eq!(r.snapshot, Some(installed.path));
        assert_eq!(r.last_zxid, Zxid(0x25));
        let theirs = theirs("snapshot.25");
        assert_eq!(r.tree.digest(), theirs.tree.digest());
        assert_eq!(r.tree.node_count(), theirs.tree.node_count());
        assert_eq!(installed.snapshot.tree.digest(), theirs.tree.digest());
        assert_eq!(installed.snapshot.tree.last_processed_zxid(), Zxid(0x25));
        assert!(r.digest_mismatches.is_empty());
    }
}

#[test]
fn a_snap_replaces_a_history_after_its_zxid() {
    let fs = golden_fs_without(&[]);
    // The member holds txns up to 0x26 and snapshots up to 0x25; the leader's history ends at 0x16.
    install_snapshot(
        &fs,
        &dirs(),
        Zxid(0x16),
        &as_sent("snapshot.16"),
        Compression::None,
        true,
    )
    .expect("install");
    let left: Vec<String> = files(&fs).into_keys().collect();
    assert!(
        !left
            .iter()
            .any(|n| ["snapshot.1c", "snapshot.25", "log.18", "log.1e"].contains(&n.as_str())),
        "{left:?}"
    );
    let r = recover(&fs, &dirs(), opts()).expect("recover");
    assert_eq!((r.last_zxid, r.replayed), (Zxid(0x16), 0));
    assert_eq!(r.tree.digest(), theirs("snapshot.16").tree.digest());
}

#[test]
fn a_snap_that_does_not_decode_changes_nothing() {
    let fs = golden_fs_without(&[]);
    let before = files(&fs);
    let mut body = as_sent("snapshot.25");
    let n = body.len();
    body[n - 1] = b'!';
    match install_snapshot(&fs, &dirs(), Zxid(0x25), &body, Compression::None, true) {
        Err(InstallError::Decode { zxid, source }) => {
            assert_eq!(zxid, Zxid(0x25));
            assert!(source.message.contains("missing signature"), "{source}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(files(&fs), before);
}

#[test]
fn a_crash_at_any_step_of_an_install_leaves_a_directory_that_recovers() {
    let zxid = Zxid(0x1b);
    let body = as_sent("snapshot.16");
    let old = summary(&recover(&golden_fs_without(&[]), &dirs(), opts()).expect("recover"));
    let cut = {
        let fs = golden_fs_without(&[]);
        discard_after(&fs, &dirs(), zxid).expect("discard");
        summary(&recover(&fs, &dirs(), opts()).expect("recover"))
    };
    let clean = golden_fs_without(&[]);
    install_snapshot(&clean, &dirs(), zxid, &body, Compression::None, true).expect("install");
    let installed = summary(&recover(&clean, &dirs(), opts()).expect("recover"));
    let allowed: [&Summary; 3] = [&old, &cut, &installed];
    let mut cases = 0;
    for (name, hits) in clean.hits() {
        for nth in 1..=hits {
            for crash in [Crash::ProcessKill, Crash::PowerLoss] {
                let fs = golden_fs_without(&[]);
                fs.fail(&name, nth, Fault::Io, false);
                let result = install_snapshot(&fs, &dirs(), zxid, &body, Compression::None, true);
                fs.crash(crash);
                let r = recover(&fs, &dirs(), opts())
                    .unwrap_or_else(|e| panic!("{name} #{nth} then {crash:?} ({result:?}): {e}"));
                let got = summary(&r);
                assert!(
                    allowed.contains(&&got),
                    "{name} #{nth} then {crash:?}: recovered to {got:?}"
                );
                // The leader sends the SNAP again.
                install_snapshot(&fs, &dirs(), zxid, &body, Compression::None, true).expect("install again");
                assert_eq!(
                    summary(&recover(&fs, &dirs(), opts()).expect("recover")),
                    installed
                );
                cases += 1;
            }
        }
    }
    assert!(cases > 20, "only {cases} crash points");
}

fn support(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/storage_support")
        .join(name)
}

/// Steps over one QuorumPacket (type, zxid, data, authinfo) at `pos`; its type and zxid.
fn quorum_packet(bytes: &[u8], pos: &mut usize) -> (i32, i64) {
    let int = |at: usize| i32::from_be_bytes(bytes[at..at + 4].try_into().expect("int"));
    let kind = int(*pos);
    let zxid = i64::from_be_bytes(bytes[*pos + 4..*pos + 12].try_into().expect("zxid"));
    *pos += 12;
    let data = int(*pos);
    *pos += 4 + data.max(0) as usize;
    let ids = int(*pos);
    *pos += 4;
    for _ in 0..ids.max(0) {
        for _ in 0..2 {
            *pos += 4 + int(*pos) as usize;
        }
    }
    (kind, zxid)
}

#[test]
fn a_snap_recorded_between_two_apache_zookeeper_members_decodes_and_reencodes_byte_for_byte() {
    let stream = std::fs::read(support("snap-3.8.0-leader-to-follower.bin")).expect("capture");
    let mut pos = 0;
    assert_eq!(quorum_packet(&stream, &mut pos).0, 17, "LEADERINFO first");
    let (kind, zxid) = quorum_packet(&stream, &mut pos);
    assert_eq!((kind, zxid), (15, 0x1_0000_000c), "then SNAP");
    let rest = &stream[pos..];
    let len = wire::WireScanner::default()
        .scan(rest)
        .expect("scan")
        .expect("a whole body");
    let body = &rest[..len];
    let mut next = pos + len;
    assert_eq!(
        quorum_packet(&stream, &mut next).0,
        10,
        "NEWLEADER right after the signature"
    );
    let loaded = wire::decode(body, true).expect("decode");
    let session = 0x0200_0058_f935_0000;
    assert_eq!(loaded.sessions, vec![(session, 30000)]);
    let node = |p: &str| loaded.tree.get(p).unwrap_or_else(|| panic!("{p} missing"));
    assert_eq!(node("/snapcap/a").data(), Some(&b"hello again"[..]));
    assert_eq!(node("/snapcap/e").stat.ephemeral_owner, session);
    assert_eq!(node("/snapcap/c").stat.ephemeral_owner, i64::MIN, "a container");
    assert_eq!(node("/snapcap/c/kid").data(), Some(&b"k"[..]));
    // What we would send for this database is what ZooKeeper sent.
    let ours = snapshot::snapshot_of(&loaded.tree, &loaded.sessions).to_wire();
    assert!(ours == body, "our SNAP body differs from ZooKeeper's");
    // The ZooKeeper follower wrote the body as snapshot.10000000c with the empty digest section (0, 0), as
    // install does: its file and ours are the same bytes.
    let file = std::fs::read(support("snap-3.8.0-follower-snapshot.10000000c")).expect("follower snapshot");
    let theirs = snapshot::decode(&file, true).expect("follower snapshot decodes");
    let digest = theirs.digest.expect("digest section");
    assert_eq!((digest.zxid, digest.digest), (Zxid(0), 0));
    // The follower replaced /zookeeper/config with its own view of the ensemble (ZOOKEEPER-2819): the leader's
    // quorum port there is the recording proxy's (23532 for 23512) and its mtime is the follower's clock.
    // With that node as the follower has it (same lengths), the files must be the same bytes, seals included.
    let mut as_follower_has_it = body.to_vec();
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        from + hay[from..]
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("in the body")
    };
    let config = find(&as_follower_has_it, b"/zookeeper/config", 0);
    let (leader, proxy) = (b"127.0.0.1:23512:", b"127.0.0.1:23532:");
    let at = find(&as_follower_has_it, leader, config);
    as_follower_has_it[at..at + proxy.len()].copy_from_slice(proxy);
    let mtime =
        |t: &ferrokeeper::core::tree::DataTree| t.get("/zookeeper/config").expect("config").stat.mtime;
    let at = find(&as_follower_has_it, &mtime(&loaded.tree).to_be_bytes(), config);
    as_follower_has_it[at..at + 8].copy_from_slice(&mtime(&theirs.tree).to_be_bytes());
    let fs = FaultyFs::new();
    let installed = install_snapshot(
        &fs,
        &dirs(),
        Zxid(zxid),
        &as_follower_has_it,
        Compression::None,
        true,
    )
    .expect("install");
    assert_eq!(installed.path, dirs().snap_dir.join("snapshot.10000000c"));
    let written = fs.contents(&installed.path).expect("written");
    assert!(
        written == file,
        "our snapshot file after the SNAP differs from the follower's"
    );
    let r = recover(&fs, &dirs(), opts()).expect("recover");
    assert_eq!(r.last_zxid, Zxid(zxid));
    assert_eq!(r.tree.node_count(), loaded.tree.node_count());
}
