//! Golden test of the on-disk records: the transaction logs and snapshots that Apache ZooKeeper 3.8.0 wrote in
//! `tools/capture` (run B: snapCount 10, TTL nodes enabled, containers reaped by the server itself).
//!
//! Only as much of the two file layouts is read here as it takes to reach the records (`FileTxnLog`,
//! `FileSnap`, `DataTree.serialize`); the storage layer owns the real readers. Every logged txn is decoded as a
//! `TxnEntry` (header, the record its type calls for, optional digest), must equal `datadir/manifest.json`,
//! and must encode back to the logged bytes; every log record's Adler-32 is checked. Every snapshot is read
//! down to its nodes, checked against the manifest, its seals' cumulative Adler-32 are verified, and the file
//! is rebuilt from the decoded values and compared byte for byte.

mod common;

use std::collections::BTreeMap;

use adler2::adler32_slice;
use bytes::Bytes;
use common::{
    expect_bytes, expect_json, fixture, fixture_files, int, op_name, report, text, txn_json, Failures,
};
use jute::records::data::{Acl, StatPersisted};
use jute::records::persistence::{FileHeader, FILE_VERSION, SNAPSHOT_MAGIC, TXNLOG_MAGIC};
use jute::records::txn::MultiTxn;
use jute::txn_entry::{TxnBody, TxnEntry};
use jute::{to_writer, Decoder, Error, DEFAULT_MAX_BUFFER};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The byte after every logged txn ('B', `FileTxnLog.append`); anything else marks a partial write.
const END_OF_RECORD: u8 = 0x42;
/// The `dbid` of every log (`FileTxnLog.dbId`) and of every snapshot (`FileSnap.serialize`).
const LOG_DBID: i64 = 0;
const SNAPSHOT_DBID: i64 = -1;
/// The path that ends a snapshot's node list and signs each seal.
const SIGNATURE: &str = "/";

#[test]
fn every_datadir_file_is_listed_in_the_manifest() {
    let manifest = common::manifest("datadir");
    let mut listed: Vec<String> = files(&manifest)
        .iter()
        .map(|f| text(f, "file").expect("file").to_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, fixture_files("datadir"));
    let kinds: Vec<&str> = files(&manifest)
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"txnlog") && kinds.contains(&"snapshot"),
        "{kinds:?}"
    );
}

#[test]
fn txn_logs_decode_as_the_manifest_says_and_re_encode_identically() {
    let manifest = common::manifest("datadir");
    let mut failures = Failures::default();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let mut logs = 0;
    for file in files(&manifest).iter().filter(|f| f["kind"] == "txnlog") {
        let name = file["file"].as_str().unwrap_or("(entry without a file)");
        logs += 1;
        failures.check(name, check_log(file, &fixture("datadir", name), &mut tally));
    }
    let total: usize = tally.values().sum();
    let mut lines = vec![format!(
        "golden txn logs checked: {logs} files, {total} txns and sub-txns"
    )];
    lines.extend(tally.iter().map(|(name, n)| format!("  {name:<22} {n}")));
    report(&lines.join("\n"));
    assert!(logs > 0 && total > 0, "no txn log in the manifest");
    failures.assert_none("the txn logs");
}

#[test]
fn snapshots_decode_as_the_manifest_says_with_valid_seals_and_re_encode_identically() {
    let manifest = common::manifest("datadir");
    let mut failures = Failures::default();
    let (mut snapshots, mut nodes, mut seals) = (0, 0, 0);
    for file in files(&manifest).iter().filter(|f| f["kind"] == "snapshot") {
        let name = file["file"].as_str().unwrap_or("(entry without a file)");
        snapshots += 1;
        match check_snapshot(file, &fixture("datadir", name)) {
            Ok(snap) => {
                nodes += snap.nodes.len();
                seals += snap.seals.len();
            }
            Err(message) => failures.add(name, message),
        }
    }
    report(&format!(
        "golden snapshots checked: {snapshots} files, {nodes} nodes, {seals} seals"
    ));
    assert!(snapshots > 0, "no snapshot in the manifest");
    failures.assert_none("the snapshots");
}

fn files(manifest: &Value) -> &[Value] {
    manifest["files"].as_array().map_or(&[], Vec::as_slice)
}

fn file_header_json(h: &FileHeader) -> Value {
    json!({"magic": h.magic, "version": h.version, "dbid": h.dbid})
}

fn check_size(file: &Value, bytes: &[u8]) -> Result<(), String> {
    let size = int(file, "size")?;
    if usize::try_from(size).ok() == Some(bytes.len()) {
        Ok(())
    } else {
        Err(format!("manifest size {size}, file holds {} bytes", bytes.len()))
    }
}

/// One record of a txn log: where it starts, its checksum, and the txn bytes it frames.
struct LogRecord<'a> {
    offset: usize,
    checksum: i64,
    txn: &'a [u8],
}

/// A txn log read up to its end: a zero-length record (preallocated padding) or the end of the file.
struct Log<'a> {
    header: FileHeader,
    records: Vec<LogRecord<'a>>,
    end: usize,
    end_reason: &'static str,
}

/// Reads the log framing: a FileHeader, then `long checksum; buffer txn; byte 'B'` until a zero length or EOF.
fn read_log(bytes: &[u8]) -> Result<Log<'_>, String> {
    let mut d = Decoder::new(bytes);
    let header: FileHeader = d.read().map_err(|e| format!("file header: {e}"))?;
    if (header.magic, header.version, header.dbid) != (TXNLOG_MAGIC, FILE_VERSION, LOG_DBID) {
        return Err(format!("not a version-2 txn log header: {header:?}"));
    }
    let mut records = Vec::new();
    let (end, end_reason) = loop {
        let offset = d.position();
        let Ok(checksum) = d.read::<i64>() else {
            break (offset, "eof");
        };
        if d.peek_i32() == Ok(0) {
            break (offset, "zero record (preallocated padding)");
        }
        // A record cut short by the end of the file is a partial write: the log ends before it.
        let (txn, marker) = match (d.read::<&[u8]>(), d.read::<u8>()) {
            (Ok(txn), Ok(marker)) => (txn, marker),
            (Err(Error::Eof { .. }), _) | (_, Err(Error::Eof { .. })) => break (offset, "eof"),
            (Err(e), _) | (_, Err(e)) => return Err(format!("record at {offset}: {e}")),
        };
        if marker != END_OF_RECORD {
            return Err(format!("record at {offset}: end marker {marker:#04x}"));
        }
        records.push(LogRecord {
            offset,
            checksum,
            txn,
        });
    };
    Ok(Log {
        header,
        records,
        end,
        end_reason,
    })
}

fn check_log(file: &Value, bytes: &[u8], tally: &mut BTreeMap<String, usize>) -> Result<(), String> {
    check_size(file, bytes)?;
    let log = read_log(bytes)?;
    expect_json(&file["header"], &file_header_json(&log.header))?;
    expect_json(
        &file["end"],
        &json!({"offset": log.end, "reason": log.end_reason}),
    )?;
    let tail_all_zero = bytes[log.end..].iter().all(|&b| b == 0);
    expect_json(&file["tail_all_zero"], &json!(tail_all_zero))?;
    let expected = file["txns"].as_array().map_or(&[][..], Vec::as_slice);
    if expected.len() != log.records.len() {
        return Err(format!(
            "{} txns in the manifest, {} in the log",
            expected.len(),
            log.records.len()
        ));
    }
    let mut again = Vec::with_capacity(bytes.len());
    to_writer(&mut again, &log.header).map_err(|e| e.to_string())?;
    let mut errors = Vec::new();
    let mut first_zxid = None;
    for (record, manifest_txn) in log.records.iter().zip(expected) {
        match check_txn(record, manifest_txn, tally) {
            Ok((zxid, txn)) => {
                first_zxid = first_zxid.or(Some(zxid));
                let checksum = i64::from(adler32_slice(&txn));
                to_writer(&mut again, &(checksum, Bytes::from(txn), END_OF_RECORD))
                    .map_err(|e| e.to_string())?;
            }
            Err(e) => errors.push(format!("txn at {}: {e}", record.offset)),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n  "));
    }
    // A log is named after the zxid of its first txn, in lower-case hex.
    if let (Some(zxid), Some(name)) = (first_zxid, file["file"].as_str()) {
        if name != format!("log.{zxid:x}") {
            return Err(format!("first txn has zxid {zxid:#x}"));
        }
    }
    // The rest of the file is the preallocated zeros (or nothing, when the log ended at EOF).
    again.resize(bytes.len().max(again.len()), 0);
    expect_bytes(bytes, &again)
}

/// Checks one logged txn against the manifest; returns its zxid and the txn encoded again from its decoded
/// values.
fn check_txn(
    record: &LogRecord<'_>,
    manifest: &Value,
    tally: &mut BTreeMap<String, usize>,
) -> Result<(i64, Vec<u8>), String> {
    let adler = i64::from(adler32_slice(record.txn));
    if adler != record.checksum {
        return Err(format!("Adler-32 {adler:#x}, logged {:#x}", record.checksum));
    }
    expect_json(
        &json!({"offset": manifest["offset"], "checksum": manifest["checksum"], "length": manifest["length"]}),
        &json!({"offset": record.offset, "checksum": record.checksum, "length": record.txn.len()}),
    )?;
    let entry = TxnEntry::decode(record.txn, DEFAULT_MAX_BUFFER).map_err(|e| format!("decode: {e}"))?;
    let type_name = op_name(entry.header.txn_type);
    let mut body = txn_json::body(&entry.body);
    if let TxnBody::Multi(subs) = &entry.body {
        add_raw_sub_txns(record.txn, &mut body)?;
        for (op, _) in subs {
            *tally
                .entry(format!("{} (in multi)", op_name(op.code()).unwrap_or("?")))
                .or_default() += 1;
        }
    }
    let actual = json!({
        "header": txn_json::header(&entry.header), "type_name": type_name, "body": body,
        "digest": txn_json::digest(entry.digest.as_ref()),
    });
    let given = json!({
        "header": manifest["header"], "type_name": manifest["type_name"], "body": manifest["body"],
        "digest": manifest["digest"],
    });
    expect_json(&given, &actual)?;
    *tally.entry(type_name.unwrap_or("?").to_owned()).or_default() += 1;
    let again = entry.encode().map_err(|e| format!("encode: {e}"))?;
    expect_bytes(record.txn, &again)?;
    Ok((entry.header.zxid, again))
}

/// Adds each sub-txn's serialized record (`Txn.data`, as hex) to a multi's body, read with the plain
/// `MultiTxn` record from after the 32-byte header.
fn add_raw_sub_txns(txn: &[u8], body: &mut Value) -> Result<(), String> {
    let raw: MultiTxn = Decoder::new(txn.get(32..).unwrap_or_default())
        .read()
        .map_err(|e| format!("MultiTxn: {e}"))?;
    let subs = body["txns"].as_array_mut().ok_or("a multi body without txns")?;
    if subs.len() != raw.txns.len() {
        return Err(format!(
            "{} sub-txns decoded, {} in the MultiTxn",
            subs.len(),
            raw.txns.len()
        ));
    }
    for (sub, raw) in subs.iter_mut().zip(&raw.txns) {
        sub["data_hex"] = Value::String(hex::encode(&raw.data));
    }
    Ok(())
}

/// One global session of a snapshot (`SerializeUtils.serializeSnapshot`).
#[derive(Debug, Serialize, Deserialize)]
struct Session {
    session_id: i64,
    timeout: i32,
}

/// One entry of the ACL cache (`ReferenceCountedACLCache.serialize`).
#[derive(Debug, Serialize, Deserialize)]
struct AclCacheEntry {
    acl_ref: i64,
    acl: Vec<Acl>,
}

/// The record after each node's path (`DataNode.serialize`).
#[derive(Debug, Serialize, Deserialize)]
struct DataNode {
    data: Option<Bytes>,
    acl_ref: i64,
    stat: StatPersisted,
}

/// The digest section after the first seal (`DataTree.serializeZxidDigest`).
#[derive(Debug, Serialize, Deserialize)]
struct ZxidDigest {
    zxid: i64,
    digest_version: i32,
    digest: i64,
}

/// A snapshot decoded down to its records. Sessions and the ACL cache are an `int` count and entries, which is
/// how Jute writes a vector.
struct Snapshot {
    header: FileHeader,
    sessions: Vec<Session>,
    acls: Vec<AclCacheEntry>,
    nodes: Vec<(String, DataNode)>,
    /// Where each seal's checksum starts, and the checksum.
    seals: Vec<(usize, i64)>,
    digest: Option<ZxidDigest>,
}

fn read<'de, T: Deserialize<'de>>(d: &mut Decoder<'de>, what: &str) -> Result<T, String> {
    d.read().map_err(|e| format!("{what}: {e}"))
}

/// Reads a seal: a `long` Adler-32 of every byte before it, then the signature path.
fn read_seal(d: &mut Decoder<'_>, bytes: &[u8]) -> Result<(usize, i64), String> {
    let offset = d.position();
    let expected = i64::from(adler32_slice(&bytes[..offset]));
    let checksum: i64 = read(d, "seal")?;
    if checksum != expected {
        return Err(format!(
            "seal at {offset}: checksum {checksum:#x}, Adler-32 of what precedes it {expected:#x}"
        ));
    }
    let signature: String = read(d, "seal signature")?;
    if signature != SIGNATURE {
        return Err(format!("seal at {offset}: signature {signature:?}"));
    }
    Ok((offset, checksum))
}

fn read_snapshot(bytes: &[u8]) -> Result<Snapshot, String> {
    let mut d = Decoder::new(bytes);
    let header: FileHeader = read(&mut d, "file header")?;
    if (header.magic, header.version, header.dbid) != (SNAPSHOT_MAGIC, FILE_VERSION, SNAPSHOT_DBID) {
        return Err(format!("not a version-2 snapshot header: {header:?}"));
    }
    let sessions = read(&mut d, "sessions")?;
    let acls = read(&mut d, "ACL cache")?;
    let mut nodes = Vec::new();
    loop {
        let path: String = read(&mut d, "node path")?;
        if path == SIGNATURE {
            break;
        }
        let node = read(&mut d, &format!("node {path:?}"))?;
        nodes.push((path, node));
    }
    let mut seals = vec![read_seal(&mut d, bytes)?];
    // The digest section is absent when the server ran with the digest off.
    let digest = if d.is_empty() {
        None
    } else {
        let digest = read(&mut d, "digest section")?;
        seals.push(read_seal(&mut d, bytes)?);
        Some(digest)
    };
    d.finish().map_err(|e| format!("after the last seal: {e}"))?;
    Ok(Snapshot {
        header,
        sessions,
        acls,
        nodes,
        seals,
        digest,
    })
}

fn snapshot_json(s: &Snapshot) -> Value {
    json!({
        "header": file_header_json(&s.header),
        "sessions": s.sessions.iter()
            .map(|x| json!({"session_id": x.session_id, "timeout": x.timeout}))
            .collect::<Vec<_>>(),
        "acls": s.acls.iter().map(|a| json!({"ref": a.acl_ref, "acl": common::acl(&a.acl)})).collect::<Vec<_>>(),
        "nodes": s.nodes.iter().map(|(path, n)| json!({
            "path": path, "data": common::buf(n.data.as_deref()), "acl_ref": n.acl_ref,
            "stat": common::stat_persisted(&n.stat),
        })).collect::<Vec<_>>(),
        "seals": s.seals.iter().map(|(offset, checksum)| json!({"offset": offset, "checksum": checksum}))
            .collect::<Vec<_>>(),
        "digest": s.digest.as_ref().map_or(Value::Null, |d| json!({
            "zxid": d.zxid, "digest_version": d.digest_version, "digest": d.digest,
        })),
    })
}

/// Writes the snapshot again from its decoded values, computing each seal over what was written before it.
fn write_snapshot(s: &Snapshot) -> jute::Result<Vec<u8>> {
    let mut out = Vec::new();
    to_writer(&mut out, &(&s.header, &s.sessions, &s.acls))?;
    for (path, node) in &s.nodes {
        to_writer(&mut out, &(path, node))?;
    }
    to_writer(&mut out, SIGNATURE)?;
    let seal = i64::from(adler32_slice(&out));
    to_writer(&mut out, &(seal, SIGNATURE))?;
    if let Some(digest) = &s.digest {
        to_writer(&mut out, digest)?;
        let seal = i64::from(adler32_slice(&out));
        to_writer(&mut out, &(seal, SIGNATURE))?;
    }
    Ok(out)
}

fn check_snapshot(file: &Value, bytes: &[u8]) -> Result<Snapshot, String> {
    check_size(file, bytes)?;
    let snapshot = read_snapshot(bytes)?;
    let given = json!({
        "header": file["header"], "sessions": file["sessions"], "acls": file["acls"], "nodes": file["nodes"],
        "seals": file["seals"], "digest": file["digest"],
    });
    expect_json(&given, &snapshot_json(&snapshot))?;
    let again = write_snapshot(&snapshot).map_err(|e| format!("encode: {e}"))?;
    expect_bytes(bytes, &again)?;
    Ok(snapshot)
}
