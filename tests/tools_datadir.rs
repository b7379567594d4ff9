//! The data-directory tools (`ferrokeeper snapshot`, `txnlog`, `check`) over files Apache ZooKeeper 3.8 wrote,
//! judged by the manifest captured with them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn golden() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("jute/tests/golden/datadir")
}

fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(golden().join("manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("manifest json")
}

fn ferrokeeper(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .args(args)
        .output()
        .expect("run ferrokeeper")
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone())
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect()
}

#[test]
fn txnlog_dumps_every_entry_and_where_the_file_ends() {
    for f in manifest()["files"].as_array().expect("files") {
        if f["kind"] != "txnlog" {
            continue;
        }
        let path = golden().join(f["file"].as_str().expect("name"));
        let lines = json_lines(&ferrokeeper(&["txnlog", "--json", path.to_str().expect("path")]));
        let (summary, entries) = lines.split_last().expect("a summary line");
        let txns = f["txns"].as_array().expect("txns");
        assert_eq!(entries.len(), txns.len(), "{path:?}");
        for (got, want) in entries.iter().zip(txns) {
            assert_eq!(got["zxid"], want["header"]["zxid"]);
            assert_eq!(got["session"], want["header"]["client_id"]);
            assert_eq!(got["type"], want["type_name"]);
        }
        assert_eq!(summary["endOffset"], f["end"]["offset"], "{path:?}");
        assert_eq!(summary["end"], "preallocated space");
        let text = ferrokeeper(&["txnlog", path.to_str().expect("path")]);
        let text = String::from_utf8(text.stdout).expect("utf8");
        assert_eq!(text.lines().count(), txns.len() + 1);
        assert!(text.contains(&format!("{} txns;", txns.len())));
    }
}

#[test]
fn snapshot_dumps_every_node_and_session() {
    for f in manifest()["files"].as_array().expect("files") {
        if f["kind"] != "snapshot" {
            continue;
        }
        let name = f["file"].as_str().expect("name");
        let path = golden().join(name);
        let lines = json_lines(&ferrokeeper(&[
            "snapshot",
            "--json",
            "--data",
            path.to_str().expect("path"),
        ]));
        let nodes = lines.iter().filter(|l| l.get("path").is_some()).count();
        let sessions = lines.iter().filter(|l| l.get("session").is_some()).count();
        assert_eq!(nodes, f["nodes"].as_array().expect("nodes").len(), "{name}");
        assert_eq!(
            sessions,
            f["sessions"].as_array().expect("sessions").len(),
            "{name}"
        );
        let last = lines.last().expect("summary");
        let zxid = i64::from_str_radix(name.trim_start_matches("snapshot."), 16).expect("hex");
        assert_eq!(last["lastZxid"], zxid);
        assert!(lines
            .iter()
            .any(|l| l["path"] == "/zookeeper/quota" && l["acl"][0]["perms"] == 31));
        let text = ferrokeeper(&["snapshot", path.to_str().expect("path")]);
        let text = String::from_utf8(text.stdout).expect("utf8");
        assert!(text.starts_with(&format!("ZNode Details (count={nodes}):")));
        assert!(text.ends_with(&format!("Last zxid: 0x{zxid:x}\n")));
    }
}

fn copy_golden(into: &Path) -> PathBuf {
    let dir = into.join("version-2");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for entry in std::fs::read_dir(golden()).expect("golden") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("log.") || name.starts_with("snapshot.") {
            std::fs::copy(entry.path(), dir.join(&name)).expect("copy");
        }
    }
    dir
}

fn snapshot_of_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let e = e.expect("entry");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn check_reports_what_a_start_would_load_and_changes_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = copy_golden(tmp.path());
    // A torn tail: the last log cut in the middle of its last entry.
    let log = dir.join("log.1e");
    let bytes = std::fs::read(&log).expect("log");
    std::fs::write(&log, &bytes[..600]).expect("cut");
    let before = snapshot_of_files(&dir);
    let out = ferrokeeper(&["check", "--data-dir", tmp.path().to_str().expect("path")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("snapshot.25"), "{text}");
    assert!(text.contains("warning: torn tail"), "{text}");
    assert!(text.contains("ok: a start would load"), "{text}");
    assert_eq!(
        snapshot_of_files(&dir),
        before,
        "check must not change the data directory"
    );
}

#[test]
fn check_names_the_file_and_offset_that_would_stop_a_start() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = copy_golden(tmp.path());
    // Damage the first entry of a log that recovery must replay, with good entries after it.
    for name in ["snapshot.25", "snapshot.1c"] {
        std::fs::remove_file(dir.join(name)).expect("rm");
    }
    let log = dir.join("log.18");
    let mut bytes = std::fs::read(&log).expect("log");
    bytes[40] ^= 0xff;
    std::fs::write(&log, &bytes).expect("damage");
    let out = ferrokeeper(&["check", "--data-dir", tmp.path().to_str().expect("path")]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("log.18") && text.contains("offset"), "{text}");
}
