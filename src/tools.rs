//! Data-directory tools for operators, the counterparts of Apache ZooKeeper's zkSnapShotToolkit,
//! zkTxnLogToolkit and a dry-run start: dump one snapshot or one transaction log as text or as JSON lines, and
//! check a whole data directory (the recovery a start would do) without changing a byte of it.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use base64::Engine as _;
use jute::codes::OpCode;
use jute::txn_entry::{TxnBody, TxnEntry};
use serde_json::{json, Value};

use crate::core::tree::{snapshot, DataTree};
use crate::storage::fs::RealFs;
use crate::storage::logread::{read_log, scan_file, LogEnd};
use crate::storage::names::{zxid_from_name, SNAPSHOT_PREFIX};
use crate::storage::recovery::{recover, DataDirs, RecoveryOptions};
use crate::storage::snapfile::read_snapshot;
use crate::storage::StorageError;

/// How a dump is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For a person: the layout of ZooKeeper's toolkits.
    Text,
    /// One JSON object per line, for scripts.
    Json,
}

/// Entries longer than this are reported, not decoded (far above any jute.maxbuffer).
const MAX_ENTRY: usize = 256 * 1024 * 1024;

fn hex(v: i64) -> String {
    format!("0x{v:x}")
}

fn line(out: &mut dyn Write, value: &Value) -> anyhow::Result<()> {
    writeln!(out, "{value}")?;
    Ok(())
}

/// Every path of `tree`, parents before children and siblings in name order.
fn paths(tree: &DataTree) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec!["/".to_string()];
    while let Some(path) = stack.pop() {
        if let Some(node) = tree.get(&path) {
            let mut names: Vec<String> = tree.child_names(node).map(str::to_string).collect();
            names.sort_unstable_by(|a, b| b.cmp(a));
            for name in names {
                stack.push(if path == "/" {
                    format!("/{name}")
                } else {
                    format!("{path}/{name}")
                });
            }
        }
        out.push(path);
    }
    out
}

/// Dumps a snapshot file (plain, gz or snappy, as its name says): every node with its Stat (and its data when
/// `with_data`), the sessions with their timeouts and ephemeral counts, and the zxid the snapshot reaches.
pub fn dump_snapshot(
    path: &Path,
    format: Format,
    with_data: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let bytes = read_snapshot(&RealFs, path)?;
    let loaded = snapshot::decode(&bytes, true).map_err(|e| StorageError::Corrupt {
        file: path.to_path_buf(),
        offset: e.offset,
        message: e.message,
    })?;
    let tree = &loaded.tree;
    let all = paths(tree);
    if format == Format::Text {
        writeln!(out, "ZNode Details (count={}):", all.len())?;
    }
    for p in &all {
        let Some(node) = tree.get(p) else { continue };
        let s = tree.client_stat(node);
        let data = node.data().unwrap_or_default();
        match format {
            Format::Text => {
                writeln!(out, "----\n{p}")?;
                writeln!(out, "  cZxid = {}\n  ctime = {}", hex(s.czxid), s.ctime)?;
                writeln!(out, "  mZxid = {}\n  mtime = {}", hex(s.mzxid), s.mtime)?;
                writeln!(out, "  pZxid = {}\n  cversion = {}", hex(s.pzxid), s.cversion)?;
                writeln!(
                    out,
                    "  dataVersion = {}\n  aclVersion = {}",
                    s.version, s.aversion
                )?;
                writeln!(
                    out,
                    "  ephemeralOwner = {}\n  dataLength = {}",
                    hex(node.stat.ephemeral_owner),
                    s.data_length
                )?;
                if with_data {
                    let text = base64::engine::general_purpose::STANDARD.encode(data);
                    writeln!(out, "  data (base64) = {text}")?;
                }
            }
            Format::Json => {
                let mut v = json!({
                    "path": p, "czxid": s.czxid, "ctime": s.ctime, "mzxid": s.mzxid, "mtime": s.mtime,
                    "pzxid": s.pzxid, "cversion": s.cversion, "version": s.version, "aversion": s.aversion,
                    "ephemeralOwner": node.stat.ephemeral_owner, "dataLength": s.data_length,
                    "numChildren": s.num_children,
                    "acl": tree.acl_of(node).iter().map(|a| json!({
                        "perms": a.perms, "scheme": a.id.scheme, "id": a.id.id,
                    })).collect::<Vec<_>>(),
                });
                if with_data {
                    v["data"] = json!(base64::engine::general_purpose::STANDARD.encode(data));
                }
                line(out, &v)?;
            }
        }
    }
    if format == Format::Text {
        writeln!(out, "----\nSession Details (sid, timeout, ephemeralCount):")?;
    }
    for (sid, timeout) in &loaded.sessions {
        let ephemerals = tree.ephemerals_of(*sid).count();
        match format {
            Format::Text => writeln!(out, "{}, {timeout}, {ephemerals}", hex(*sid))?,
            Format::Json => line(
                out,
                &json!({"session": sid, "timeout": timeout, "ephemerals": ephemerals}),
            )?,
        }
    }
    // The zxid the snapshot reaches is in its name (`Util.getZxidFromName`).
    let last = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| zxid_from_name(n, SNAPSHOT_PREFIX))
        .map_or(tree.last_processed_zxid().0, |z| z.0);
    match format {
        Format::Text => writeln!(out, "----\nLast zxid: {}", hex(last))?,
        Format::Json => line(out, &json!({"lastZxid": last, "nodes": all.len()}))?,
    }
    Ok(())
}

fn body_json(body: &TxnBody) -> Value {
    let v = match body {
        TxnBody::CreateSession(r) => serde_json::to_value(r),
        TxnBody::CloseSession(r) => serde_json::to_value(r),
        TxnBody::Create(r) => serde_json::to_value(r),
        TxnBody::CreateContainer(r) => serde_json::to_value(r),
        TxnBody::CreateTtl(r) => serde_json::to_value(r),
        TxnBody::Delete(r) => serde_json::to_value(r),
        TxnBody::SetData(r) => serde_json::to_value(r),
        TxnBody::SetAcl(r) => serde_json::to_value(r),
        TxnBody::Error(r) => serde_json::to_value(r),
        TxnBody::Check(r) => serde_json::to_value(r),
        TxnBody::Multi(subs) => {
            return Value::Array(
                subs.iter()
                    .map(|(op, b)| json!({"type": op.name(), "body": body_json(b)}))
                    .collect(),
            )
        }
    };
    v.unwrap_or_else(|e| json!({ "unprintable": e.to_string() }))
}

/// Dumps a transaction log: one line per txn (time, session, cxid, zxid, type, record), then how the file ends.
/// A log damaged in the middle is reported with the offset, after the entries before it.
pub fn dump_txnlog(path: &Path, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    let data = read_log(&RealFs, path).with_context(|| format!("reading {}", path.display()))?;
    let mut failed: Option<anyhow::Error> = None;
    let scan = scan_file(path, &data, |offset, bytes| {
        let written = match TxnEntry::decode(bytes, MAX_ENTRY) {
            Ok(entry) => {
                let h = &entry.header;
                let op = OpCode::from_code(h.txn_type);
                let name = op.map_or_else(|| format!("type {}", h.txn_type), OpCode::name);
                match format {
                    Format::Text => writeln!(
                        out,
                        "{} session {} cxid {} zxid {} {name} {:?}",
                        h.time,
                        hex(h.client_id),
                        hex(i64::from(h.cxid)),
                        hex(h.zxid),
                        entry.body
                    )
                    .map_err(anyhow::Error::from),
                    Format::Json => line(
                        out,
                        &json!({
                            "offset": offset, "time": h.time, "session": h.client_id, "cxid": h.cxid,
                            "zxid": h.zxid, "type": name, "body": body_json(&entry.body),
                            "digest": entry.digest.map(|d| json!({"version": d.version, "treeDigest": d.tree_digest})),
                        }),
                    ),
                }
            }
            Err(e) => Err(anyhow::anyhow!("offset {offset}: txn does not decode: {e}")),
        };
        written.map_err(|e| {
            let message = e.to_string();
            failed = Some(e);
            StorageError::Corrupt {
                file: path.to_path_buf(),
                offset,
                message,
            }
        })
    });
    // A failure to print (a closed pipe) or to decode comes back as the first error, with its cause.
    if let Some(e) = failed {
        return Err(e);
    }
    let scan = scan?;
    let end = match &scan.end {
        LogEnd::Zero => "preallocated space".to_string(),
        LogEnd::Eof => "end of file".to_string(),
        LogEnd::Torn(why) => format!("torn tail ({why})"),
    };
    match format {
        Format::Text => writeln!(out, "{} txns; {end} at offset {}", scan.entries, scan.end_offset)?,
        Format::Json => line(
            out,
            &json!({"entries": scan.entries, "end": end, "endOffset": scan.end_offset}),
        )?,
    }
    Ok(())
}

/// What a data-directory check found.
#[derive(Debug)]
pub struct CheckReport {
    pub snapshot: Option<PathBuf>,
    pub last_zxid: i64,
    pub nodes: usize,
    pub sessions: usize,
    pub replayed: u64,
    /// Findings that a start would act on (a torn tail to cut, skipped snapshots, digest mismatches).
    pub warnings: Vec<String>,
}

/// Runs the recovery a start would run, read-only: nothing is truncated or removed. An error names the file
/// and the offset that would stop the start.
pub fn check(
    data_dir: &Path,
    data_log_dir: &Path,
    trust_empty_snapshot: bool,
) -> Result<CheckReport, StorageError> {
    let dirs = DataDirs::new(data_dir, data_log_dir);
    let opts = RecoveryOptions {
        extended_types: true,
        trust_empty_snapshot,
        repair: false,
    };
    let r = recover(&RealFs, &dirs, opts)?;
    let mut warnings: Vec<String> = r
        .skipped_snapshots
        .iter()
        .map(|s| format!("snapshot skipped: {s}"))
        .collect();
    if let Some((file, offset)) = &r.torn_tail {
        warnings.push(format!(
            "torn tail in {} at offset {offset}: a start cuts it off",
            file.display()
        ));
    }
    for z in &r.digest_mismatches {
        warnings.push(format!("tree digest differs from the one logged at zxid {z}"));
    }
    if !r.dead_sessions.is_empty() {
        warnings.push(format!(
            "{} sessions own ephemerals but are gone: a start removes those nodes",
            r.dead_sessions.len()
        ));
    }
    Ok(CheckReport {
        snapshot: r.snapshot,
        last_zxid: r.last_zxid.0,
        nodes: paths(&r.tree).len(),
        sessions: r.sessions.len(),
        replayed: r.replayed,
        warnings,
    })
}
