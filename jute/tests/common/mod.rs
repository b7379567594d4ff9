//! Helpers shared by the golden tests: loading the fixtures under `tests/golden/`, writing decoded records in
//! the vocabulary of the fixtures' `manifest.json` (snake_case field names from `zookeeper.jute`, buffers as
//! hex strings with null for length -1, ACLs as flat `{perms, scheme, id}`), and comparing two JSON values
//! with a message that names the first place they differ.
//!
//! The manifests are written by `tools/capture`, independently of this crate; see `tools/capture/README.md`.

// Each test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;

use jute::records::data::{Acl, Stat, StatPersisted};
use serde_json::{json, Map, Value};

pub mod proto_json;
pub mod txn_json;

/// The directory of one fixture set: `client` or `datadir`.
pub fn golden_dir(set: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("golden")
        .join(set)
}

/// The parsed `manifest.json` of a fixture set.
pub fn manifest(set: &str) -> Value {
    let path = golden_dir(set).join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes of one fixture file.
pub fn fixture(set: &str, file: &str) -> Vec<u8> {
    let path = golden_dir(set).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file of a fixture set other than its manifest, sorted.
pub fn fixture_files(set: &str) -> Vec<String> {
    let dir = golden_dir(set);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry"))
        // A directory holds another set (the captures of another server version).
        .filter(|entry| !entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "manifest.json")
        .collect();
    names.sort();
    names
}

/// Writes a line to the test's standard error directly, so it shows in `cargo test` output even when the test
/// passes (the `eprintln!` macro's output is captured and dropped for passing tests).
pub fn report(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// A buffer as the manifests write it: hex, or null for a null buffer.
pub fn buf(data: Option<&[u8]>) -> Value {
    data.map_or(Value::Null, |d| Value::String(hex::encode(d)))
}

/// A list of strings.
pub fn strings(list: &[String]) -> Value {
    Value::Array(list.iter().map(|s| Value::String(s.clone())).collect())
}

/// An ACL list as flat `{perms, scheme, id}` objects.
pub fn acl(list: &[Acl]) -> Value {
    Value::Array(
        list.iter()
            .map(|a| json!({"perms": a.perms, "scheme": a.id.scheme, "id": a.id.id}))
            .collect(),
    )
}

/// A `Stat` with all 11 fields.
pub fn stat(s: &Stat) -> Value {
    json!({
        "czxid": s.czxid, "mzxid": s.mzxid, "ctime": s.ctime, "mtime": s.mtime, "version": s.version,
        "cversion": s.cversion, "aversion": s.aversion, "ephemeral_owner": s.ephemeral_owner,
        "data_length": s.data_length, "num_children": s.num_children, "pzxid": s.pzxid,
    })
}

/// A `StatPersisted` with all 9 fields.
pub fn stat_persisted(s: &StatPersisted) -> Value {
    json!({
        "czxid": s.czxid, "mzxid": s.mzxid, "ctime": s.ctime, "mtime": s.mtime, "version": s.version,
        "cversion": s.cversion, "aversion": s.aversion, "ephemeral_owner": s.ephemeral_owner, "pzxid": s.pzxid,
    })
}

/// An empty JSON object (a record with no fields).
pub fn empty() -> Value {
    Value::Object(Map::new())
}

/// The name the manifests give an opcode (`ZooDefs.OpCode` field names, as `Request.op2String` prints them).
pub fn op_name(code: i32) -> Option<&'static str> {
    Some(match code {
        0 => "notification",
        1 => "create",
        2 => "delete",
        3 => "exists",
        4 => "getData",
        5 => "setData",
        6 => "getACL",
        7 => "setACL",
        8 => "getChildren",
        9 => "sync",
        11 => "ping",
        12 => "getChildren2",
        13 => "check",
        14 => "multi",
        15 => "create2",
        16 => "reconfig",
        17 => "checkWatches",
        18 => "removeWatches",
        19 => "createContainer",
        20 => "deleteContainer",
        21 => "createTTL",
        22 => "multiRead",
        100 => "auth",
        101 => "setWatches",
        102 => "sasl",
        103 => "getEphemerals",
        104 => "getAllChildrenNumber",
        105 => "setWatches2",
        106 => "addWatch",
        107 => "whoAmI",
        -10 => "createSession",
        -11 => "closeSession",
        -1 => "error",
        _ => return None,
    })
}

/// `None` if `actual` equals `expected`, else where and how they first differ.
pub fn json_diff(expected: &Value, actual: &Value) -> Option<String> {
    let mut out = String::new();
    diff_at("$", expected, actual, &mut out);
    (!out.is_empty()).then_some(out)
}

fn diff_at(at: &str, expected: &Value, actual: &Value, out: &mut String) {
    if !out.is_empty() {
        return;
    }
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for key in e.keys().chain(a.keys().filter(|k| !e.contains_key(*k))) {
                match (e.get(key), a.get(key)) {
                    (Some(ev), Some(av)) => diff_at(&format!("{at}.{key}"), ev, av, out),
                    (Some(_), None) => {
                        let _ = write!(
                            out,
                            "{at}.{key}: given by the manifest, missing from the decoded record"
                        );
                    }
                    (None, _) => {
                        let _ = write!(out, "{at}.{key}: in the decoded record, not in the manifest");
                    }
                }
                if !out.is_empty() {
                    return;
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                diff_at(&format!("{at}[{i}]"), ev, av, out);
            }
        }
        _ if expected == actual => {}
        _ => {
            let _ = write!(out, "{at}: manifest {expected}, decoded {actual}");
        }
    }
}

/// Collects failures so that one run reports every fixture that is wrong, not only the first.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    /// Records a failure for `what`.
    pub fn add(&mut self, what: &str, message: impl std::fmt::Display) {
        self.0.push(format!("{what}: {message}"));
    }

    /// Records the error of `result`, if any.
    pub fn check(&mut self, what: &str, result: Result<(), String>) {
        if let Err(message) = result {
            self.add(what, message);
        }
    }

    /// Panics with every failure recorded.
    pub fn assert_none(self, checked: &str) {
        assert!(
            self.0.is_empty(),
            "{} failure(s) in {checked}:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Fails with a readable diff when `actual` is not what the manifest says.
pub fn expect_json(expected: &Value, actual: &Value) -> Result<(), String> {
    json_diff(expected, actual).map_or(Ok(()), Err)
}

/// Fails when `actual` differs from `expected`, showing the first differing byte.
pub fn expect_bytes(expected: &[u8], actual: &[u8]) -> Result<(), String> {
    if expected == actual {
        return Ok(());
    }
    let at = expected
        .iter()
        .zip(actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    Err(format!(
        "re-encoded {} bytes differ from the captured {} bytes at byte {at}: captured {}, re-encoded {}",
        actual.len(),
        expected.len(),
        hex::encode(&expected[at..expected.len().min(at + 16)]),
        hex::encode(&actual[at..actual.len().min(at + 16)]),
    ))
}

/// A manifest field as an `i64`.
pub fn int(v: &Value, key: &str) -> Result<i64, String> {
    v.get(key)
        .and_then(Value::as_i64)
        .ok_or_else(|| format!("manifest entry has no integer `{key}`"))
}

/// A manifest field as a string.
pub fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("manifest entry has no string `{key}`"))
}
