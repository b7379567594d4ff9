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
