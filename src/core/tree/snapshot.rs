//! The tree as Apache ZooKeeper's snapshot stream (`FileSnap.serialize`, `SerializeUtils.serializeSnapshot`,
//! `DataTree.serialize`, `DataTree.serializeZxidDigest`), before any compression:
//!
//! ```text
//! FileHeader { "ZKSN", 2, dbid -1 }
//! int count, then (long sessionId, int timeout) per session
//! int count, then (long aclRef, vector<ACL>) per ACL list
//! (ustring path, buffer data, long aclRef, StatPersisted) per node, pre-order, the root as ""; then ustring "/"
//! long Adler-32 of everything so far; ustring "/"                          (seal 1)
//! long zxid, int digestVersion, long digest                               (digest section)
//! long Adler-32 of everything so far; ustring "/"                          (seal 2)
//! ```
//!
//! A snapshot is *fuzzy*, as in Apache ZooKeeper: it is named after the last zxid applied when it started, and
//! txns applied while it is taken may or may not be in it; replaying the log from that zxid + 1 fixes both
//! cases (`DataTree.processTxn` tolerates re-applied creates and deletes). [`SnapshotStream`] walks the tree
//! in bounded steps, each of which sees the tree between two applied txns (the server runs them on a thread
//! of their own over a `SharedTree`), and hands its bytes to a writer as it goes, so writes never wait for a
//! whole snapshot; [`snapshot_of`] runs the same walk in one go. The digest section carries the (zxid, digest)
//! of the tree when the walk ended, which replay reaches exactly, so a reader can check it
//! (`DataTree.compareSnapshotDigests`).

use std::io::{self, Write};

use jute::records::data::{Acl, StatPersisted};
use jute::Decoder;

use super::digest::DIGEST_VERSION;
use super::{owner_kind, path, AclCache, DataTree, Node, NodeId, OwnerKind};
use crate::types::Zxid;

/// "ZKSN".
pub const SNAPSHOT_MAGIC: i32 = 0x5A4B_534E;
/// Longest data or string a snapshot may hold (far above jute.maxbuffer).
const MAX_LEN: usize = 256 * 1024 * 1024;

fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_i32(out, s.len() as i32);
    out.extend_from_slice(s.as_bytes());
}

fn put_acls(out: &mut Vec<u8>, list: &[Acl]) {
    put_i32(out, list.len() as i32);
    for acl in list {
        put_i32(out, acl.perms);
        put_str(out, &acl.id.scheme);
        put_str(out, acl.id.id_str());
    }
}

fn put_node(out: &mut Vec<u8>, node: &Node) {
    // The path goes out as the bytes it is kept in, with no UTF-8 check (it was a `&str` when stored).
    let path = node.path_bytes();
    let path = if path == b"/" { &path[..0] } else { path };
    put_i32(out, path.len() as i32);
    out.extend_from_slice(path);
    match node.data() {
        Some(d) => {
            put_i32(out, d.len() as i32);
            out.extend_from_slice(d);
        }
        None => put_i32(out, -1),
    }
    put_i64(out, node.acl);
    let s = &node.stat;
    for v in [s.czxid, s.mzxid, s.ctime, s.mtime] {
        put_i64(out, v);
    }
    for v in [s.version, s.cversion, s.aversion] {
        put_i32(out, v);
    }
    put_i64(out, s.ephemeral_owner);
    put_i64(out, s.pzxid);
}

/// `FileHeader { "ZKSN", 2, dbid -1 }`, 16 bytes.
fn put_file_header(out: &mut Vec<u8>) {
    put_i32(out, SNAPSHOT_MAGIC);
    put_i32(out, 2);
    put_i64(out, -1);
}

/// The file header, the sessions and the ACL table.
fn put_head<'a>(
    out: &mut Vec<u8>,
    sessions: &[(i64, i32)],
    acls: impl ExactSizeIterator<Item = (i64, &'a [Acl])>,
) {
    put_file_header(out);
    put_i32(out, sessions.len() as i32);
    for (id, timeout) in sessions {
        put_i64(out, *id);
        put_i32(out, *timeout);
    }
    put_i32(out, acls.len() as i32);
    for (r, list) in acls {
        put_i64(out, r);
        put_acls(out, list);
    }
}

/// The (zxid, digest) of the tree as it is now; before any txn ZooKeeper writes an empty ZxidDigest.
fn digest_section(tree: &DataTree) -> (i64, i64) {
    let last = tree.last_processed_zxid();
    if last.0 == 0 {
        (0, 0)
    } else {
        (last.0, tree.digest() as i64)
    }
}

/// A piece of a snapshot stream, in stream order, as [`SnapshotStream`] hands them to a writer.
#[derive(Debug)]
pub enum StreamPart {
    /// Bytes of the stream: the head, then nodes.
    Bytes(Vec<u8>),
    /// The nodes are done; the end marker, the seals and this digest section (zxid, digest) follow.
    End { digest: (i64, i64) },
}

/// A snapshot written while it is walked, so that no image of the whole tree is ever held in memory. The head
/// (sessions and ACL table) is taken when the walk starts and goes out first. A node created after the
/// snapshot's zxid is left out, with its subtree: replaying the log from zxid + 1 creates them, and their ACL
/// lists may be newer than the table. A node that existed before may refer to a list added since (a setACL
/// during the walk); the replayed setACL sets its list again, and loaders ignore a reference missing from the
/// table until then (`ReferenceCountedACLCache.addUsage`).
#[derive(Debug)]
pub struct SnapshotStream {
    zxid: Zxid,
    /// Nodes created after this zxid are left out (the snapshot's own zxid while writes go on).
    newest: i64,
    /// Nodes still to walk. An id may have been reused since it was pushed, by a node too new to be written
    /// (see `store`).
    stack: Vec<NodeId>,
    out: Vec<u8>,
    /// A step ends once this many bytes are pending, so that a part fits the buffer it was given.
    part_bytes: usize,
    count: u64,
}

/// The bytes of a stream part: a step stops once this much is pending, and a part is taken at this size.
pub const PART_BYTES: usize = 1 << 20;
/// Room past [`PART_BYTES`] in a part's buffer for the node that crosses it, so that the buffer is not
/// grown (and copied) for one node of ordinary size.
const PART_SLACK: usize = 64 * 1024;

fn part_buffer() -> Vec<u8> {
    Vec::with_capacity(PART_BYTES + PART_SLACK)
}

impl SnapshotStream {
    /// Starts a snapshot of `tree` with these sessions (id, timeout ms); it is named after the tree's last
    /// processed zxid now.
    pub fn new(tree: &DataTree, sessions: &[(i64, i32)]) -> SnapshotStream {
        let mut out = part_buffer();
        let mut lists: Vec<(i64, &[Acl])> = tree.acls.lists().collect();
        lists.sort_unstable_by_key(|(r, _)| *r);
        put_head(&mut out, sessions, lists.into_iter());
        SnapshotStream {
            zxid: tree.last_processed_zxid(),
            newest: tree.last_processed_zxid().0,
            stack: tree.nodes.id_of("/").into_iter().collect(),
            out,
            part_bytes: PART_BYTES,
            count: 0,
        }
    }

    /// The zxid the snapshot is named after.
    pub fn zxid(&self) -> Zxid {
        self.zxid
    }

    /// Nodes written so far.
    pub fn node_count(&self) -> u64 {
        self.count
    }

    /// Walks up to `budget` more nodes of `tree` as it is now, fewer if [`PART_BYTES`] become pending first;
    /// true when every node has been walked.
    pub fn step(&mut self, tree: &DataTree, budget: usize) -> bool {
        for _ in 0..budget {
            if self.out.len() >= self.part_bytes {
                break;
            }
            let Some(id) = self.stack.pop() else {
                return true;
            };
            // Deleted since its parent was walked, or created after the snapshot's zxid: not in this snapshot.
            let Some(node) = tree.nodes.node(id) else {
                continue;
            };
            if node.stat.czxid > self.newest {
                continue;
            }
            put_node(&mut self.out, node);
            self.count += 1;
            // Children are written in the order getChildren lists them, as `DataTree.serializeNode` writes them:
            // a snapshot load then rebuilds the sets ZooKeeper's own restart would.
            let first = self.stack.len();
            self.stack.extend(tree.nodes.child_ids(node));
            self.stack[first..].reverse();
        }
        self.stack.is_empty()
    }

    /// Bytes produced and not yet taken.
    pub fn pending_bytes(&self) -> usize {
        self.out.len()
    }

    /// The bytes produced since the last call.
    pub fn take(&mut self) -> StreamPart {
        StreamPart::Bytes(std::mem::replace(&mut self.out, part_buffer()))
    }

    /// Ends the walk (which must be done): the last bytes, then the end with the tree's digest now.
    pub fn finish(mut self, tree: &DataTree) -> [StreamPart; 2] {
        assert!(self.stack.is_empty(), "snapshot finished before its walk");
        let last = StreamPart::Bytes(std::mem::take(&mut self.out));
        [
            last,
            StreamPart::End {
                digest: digest_section(tree),
            },
        ]
    }
}

/// Writes the uncompressed stream made of `parts` to `out` (`FileSnap.serialize`), checksums and seals
/// included. Fails if the parts stop before their end (a walk abandoned at shutdown).
pub fn write_parts<W: Write>(out: W, parts: impl IntoIterator<Item = StreamPart>) -> io::Result<()> {
    let mut w = Checked {
        inner: out,
        adler: simd_adler32::Adler32::new(),
    };
    for part in parts {
        match part {
            StreamPart::Bytes(bytes) => w.put(&bytes)?,
            StreamPart::End { digest } => return w.end(digest),
        }
    }
    Err(io::Error::other("the snapshot walk stopped before its end"))
}

/// A finished snapshot, ready to be written in stream order.
#[derive(Debug)]
pub struct SnapshotImage {
    pub zxid: Zxid,
    /// The head and every node.
    bytes: Vec<u8>,
    digest: (i64, i64),
}

/// A writer that keeps the Adler-32 of what went through it (`CheckedOutputStream`).
struct Checked<W: Write> {
    inner: W,
    adler: simd_adler32::Adler32,
}

impl<W: Write> Checked<W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.adler.write(bytes);
        self.inner.write_all(bytes)
    }

    fn seal(&mut self) -> io::Result<()> {
        let mut seal = Vec::with_capacity(13);
        put_i64(&mut seal, i64::from(self.adler.finish()));
        put_str(&mut seal, "/");
        self.put(&seal)
    }

    /// After the nodes: the end marker, the first seal, the digest section (zxid, digest), the second seal.
    fn end(mut self, digest: (i64, i64)) -> io::Result<()> {
        let mut end = Vec::with_capacity(5);
        put_str(&mut end, "/");
        self.put(&end)?;
        self.seal()?;
        let mut section = Vec::with_capacity(20);
        put_i64(&mut section, digest.0);
        put_i32(&mut section, DIGEST_VERSION);
        put_i64(&mut section, digest.1);
        self.put(&section)?;
        self.seal()?;
        self.inner.flush()
    }
}

impl SnapshotImage {
    /// Writes the uncompressed stream to `out` (`FileSnap.serialize` with `SnapStream.sealStream`).
    pub fn write_to<W: Write>(&self, out: W) -> io::Result<()> {
        let mut w = Checked {
            inner: out,
            adler: simd_adler32::Adler32::new(),
        };
        w.put(&self.bytes)?;
        w.end(self.digest)
    }

    /// The stream as one buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + 64);
        // Writing to a Vec cannot fail.
        let _ = self.write_to(&mut out);
        out
    }
}

/// Takes a whole snapshot in one go (the start-up snapshot, tools and tests; the server streams it in steps).
pub fn snapshot_of(tree: &DataTree, sessions: &[(i64, i32)]) -> SnapshotImage {
    let mut stream = SnapshotStream::new(tree, sessions);
    // Nothing changes during this walk, so every node is in it, even one whose czxid is past the tree's last
    // processed zxid (a fuzzy snapshot loaded without the log after it).
    stream.newest = i64::MAX;
    stream.part_bytes = usize::MAX;
    while !stream.step(tree, usize::MAX) {}
    let zxid = stream.zxid();
    let mut bytes = Vec::new();
    let mut digest = (0, 0);
    for part in stream.finish(tree) {
        match part {
            StreamPart::Bytes(b) => bytes.extend_from_slice(&b),
            StreamPart::End { digest: d } => digest = d,
        }
    }
    SnapshotImage { zxid, bytes, digest }
}

/// The (zxid, digest) a snapshot recorded for the tree (`DataTree.ZxidDigest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    pub zxid: Zxid,
    pub version: i32,
    pub digest: i64,
}

/// A snapshot read back.
#[derive(Debug)]
pub struct LoadedSnapshot {
    pub tree: DataTree,
    /// (session id, timeout ms) in file order.
    pub sessions: Vec<(i64, i32)>,
    pub digest: Option<ZxidDigest>,
    /// The 3.9 last-processed-zxid section, when present.
    pub last_processed_zxid: Option<Zxid>,
    pub node_count: u64,
}

/// What is wrong with a snapshot stream, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("offset {offset}: {message}")]
pub struct SnapshotError {
    pub offset: u64,
    pub message: String,
}

struct Reader<'a> {
    d: Decoder<'a>,
    all: &'a [u8],
    /// The Adler-32 of the stream's first `k * CHECKPOINT` bytes, for every k, once [`checkpoints`] is done.
    checkpoints: Option<std::thread::ScopedJoinHandle<'a, Vec<u32>>>,
    done: Option<Vec<u32>>,
}

/// The distance between two running checksums of [`checkpoints`].
const CHECKPOINT: usize = 1 << 20;

/// The running Adler-32 of `bytes` at every multiple of [`CHECKPOINT`] (index 0 is the empty prefix). Computed on
/// a second thread while the first parses, so that checking a seal only adds up the last partial chunk.
fn checkpoints(bytes: &[u8]) -> Vec<u32> {
    let mut sums = Vec::with_capacity(bytes.len() / CHECKPOINT + 1);
    let mut adler = simd_adler32::Adler32::new();
    sums.push(adler.finish());
    for chunk in bytes.chunks_exact(CHECKPOINT) {
        adler.write(chunk);
        sums.push(adler.finish());
    }
    sums
}

impl<'a> Reader<'a> {
    fn err(&self, message: impl Into<String>) -> SnapshotError {
        SnapshotError {
            offset: self.d.position() as u64,
            message: message.into(),
        }
    }

    fn read<T: serde::Deserialize<'a>>(&mut self, what: &str) -> Result<T, SnapshotError> {
        let at = self.d.position() as u64;
        self.d.read().map_err(|e| SnapshotError {
            offset: at,
            message: format!("reading {what}: {e}"),
        })
    }

    /// The Adler-32 of the first `end` bytes.
    fn adler_of_prefix(&mut self, end: usize) -> u32 {
        if let Some(handle) = self.checkpoints.take() {
            // The thread cannot fail short of a panic, which is worth passing on.
            self.done = Some(handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        let sums = self.done.as_deref().unwrap_or(&[]);
        let k = (end / CHECKPOINT).min(sums.len().saturating_sub(1));
        let (start, mut adler) = match sums.get(k) {
            Some(&sum) => (k * CHECKPOINT, simd_adler32::Adler32::from_checksum(sum)),
            None => (0, simd_adler32::Adler32::new()),
        };
        adler.write(&self.all[start..end]);
        adler.finish()
    }

    /// Checks a seal: the Adler-32 of everything before it, then the "/" string (`checkSealIntegrity`).
    fn seal(&mut self) -> Result<(), SnapshotError> {
        let expected = u64::from(self.adler_of_prefix(self.d.position()));
        let at = self.d.position() as u64;
        let found: i64 = self.read("seal checksum")?;
        let _: String = self.read("seal path")?;
        if found as u64 != expected {
            return Err(SnapshotError {
                offset: at,
                message: format!("CRC corruption: seal {found:#x}, content {expected:#x}"),
            });
        }
        Ok(())
    }
}

/// Reads an uncompressed snapshot stream into a tree (`FileSnap.deserialize`, `DataTree.deserialize`).
pub fn decode(bytes: &[u8], extended_types: bool) -> Result<LoadedSnapshot, SnapshotError> {
    std::thread::scope(|scope| {
        // A snapshot of a few MiB is checked on this thread; a large one's checksum runs beside the parsing.
        let checkpoints = (bytes.len() >= 4 * CHECKPOINT).then(|| scope.spawn(|| checkpoints(bytes)));
        let mut r = Reader {
            d: Decoder::new(bytes).with_max_len(MAX_LEN),
            all: bytes,
            checkpoints,
            done: None,
        };
        decode_with(&mut r, bytes.len(), extended_types)
    })
}

fn decode_with(
    r: &mut Reader<'_>,
    len: usize,
    extended_types: bool,
) -> Result<LoadedSnapshot, SnapshotError> {
    let magic: i32 = r.read("header")?;
    let _version: i32 = r.read("header")?;
    let _dbid: i64 = r.read("header")?;
    if magic != SNAPSHOT_MAGIC {
        return Err(SnapshotError {
            offset: 0,
            message: format!("mismatching magic header {magic:#x}, not a snapshot"),
        });
    }
    let mut loaded = decode_body(r, len, extended_types)?;
    r.seal()?;
    if !r.d.is_empty() {
        loaded.digest = Some(read_digest(r)?);
        r.seal()?;
    }
    if !r.d.is_empty() {
        loaded.last_processed_zxid = Some(Zxid(r.read("last processed zxid")?));
        r.seal()?;
    }
    loaded.tree.acls.purge_unused();
    Ok(loaded)
}

/// The body a snapshot file and a SNAP share (`SerializeUtils.deserializeSnapshot`): the sessions, the ACL
/// table and the nodes up to the "/" end marker.
fn decode_body(
    r: &mut Reader<'_>,
    len: usize,
    extended_types: bool,
) -> Result<LoadedSnapshot, SnapshotError> {
    let count: i32 = r.read("session count")?;
    let mut sessions = Vec::with_capacity(count.clamp(0, 1 << 16) as usize);
    for _ in 0..count.max(0) {
        let id: i64 = r.read("session id")?;
        let timeout: i32 = r.read("session timeout")?;
        sessions.push((id, timeout));
    }
    let mut tree = DataTree::empty(extended_types);
    // Room for the nodes a snapshot of this size holds at least (a node takes 60 to a few hundred bytes in it):
    // the map then rehashes fewer times while loading.
    tree.nodes.reserve(len / 256);
    let count: i32 = r.read("ACL count")?;
    for _ in 0..count.max(0) {
        let aref: i64 = r.read("ACL reference")?;
        let list: Option<Vec<Acl>> = r.read("ACL list")?;
        let list = list.ok_or_else(|| r.err("missing ACL list"))?;
        tree.acls.load(aref, list);
    }
    let node_count = read_nodes(r, &mut tree)?;
    Ok(LoadedSnapshot {
        tree,
        sessions,
        digest: None,
        last_processed_zxid: None,
        node_count,
    })
}

fn read_digest(r: &mut Reader<'_>) -> Result<ZxidDigest, SnapshotError> {
    let zxid: i64 = r.read("digest zxid")?;
    let version: i32 = r.read("digest version")?;
    let digest = if version < 2 {
        // Before version 2 the digest was a hex string.
        let s: Option<String> = r.read("digest")?;
        s.and_then(|s| u64::from_str_radix(&s, 16).ok()).unwrap_or(0) as i64
    } else {
        r.read("digest")?
    };
    Ok(ZxidDigest {
        zxid: Zxid(zxid),
        version,
        digest,
    })
}

/// Nodes handed from the parsing thread to the loading one at a time.
const LOAD_BATCH: usize = 1024;
/// Batches parsed ahead of the loader, at most.
const BATCHES_AHEAD: usize = 8;

/// A node as the parsing thread hands it over: its offset in the stream, the node and its digest.
struct ParsedNode {
    at: usize,
    node: Node,
    digest: u64,
}

type ParsedBatch = Result<Vec<ParsedNode>, SnapshotError>;

/// Reads the nodes up to the end marker into `tree`. One thread decodes the records (and digests each node),
/// this one links them into the tree: the two halves of the work take about as long, so a start loads a large
/// snapshot in about half the time. Errors are reported in stream order, as a one-thread read would.
fn read_nodes(r: &mut Reader<'_>, tree: &mut DataTree) -> Result<u64, SnapshotError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<ParsedBatch>(BATCHES_AHEAD);
    std::thread::scope(|s| {
        s.spawn(move || parse_nodes(r, &tx));
        let mut count = 0;
        let mut recent = Recent::default();
        // The channel ends when the parser has sent the last batch; returning early drops the receiver, and
        // the parser stops at its next send.
        for batch in rx {
            for parsed in batch? {
                let at = parsed.at as u64;
                tree.load_node(parsed, &mut recent)
                    .map_err(|message| SnapshotError { offset: at, message })?;
                count += 1;
            }
        }
        Ok(count)
    })
}

/// Decodes node records until the end marker, in batches; a record that does not decode ends the stream with
/// its error.
fn parse_nodes(r: &mut Reader<'_>, tx: &std::sync::mpsc::SyncSender<ParsedBatch>) {
    let mut batch = Vec::with_capacity(LOAD_BATCH);
    loop {
        match parse_node(r) {
            Ok(Some(parsed)) => batch.push(parsed),
            Ok(None) => break,
            Err(e) => {
                let _ = tx.send(Ok(batch));
                let _ = tx.send(Err(e));
                return;
            }
        }
        if batch.len() == LOAD_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(LOAD_BATCH));
            if tx.send(Ok(full)).is_err() {
                return;
            }
        }
    }
    let _ = tx.send(Ok(batch));
}

/// One node record, or None at the end marker.
fn parse_node(r: &mut Reader<'_>) -> Result<Option<ParsedNode>, SnapshotError> {
    let at = r.d.position();
    let p: String = r.read("node path")?;
    if p == "/" {
        return Ok(None);
    }
    let data: Option<&[u8]> = r.read("node data")?;
    let acl: i64 = r.read("node ACL reference")?;
    let stat: StatPersisted = r.read("node stat")?;
    let node = Node::new(if p.is_empty() { "/" } else { &p }, data, acl, stat);
    let digest = super::digest::node_digest(&node);
    Ok(Some(ParsedNode { at, node, digest }))
}

/// The last parent a loaded node had and the last node loaded. Snapshots list nodes depth first, so the next
/// node's parent is nearly always one of the two, which saves a hash lookup of its path.
#[derive(Default)]
struct Recent {
    parent: Option<NodeId>,
    last: Option<NodeId>,
}

impl DataTree {
    /// A tree with no nodes at all, to load a snapshot into.
    fn empty(extended_types: bool) -> DataTree {
        let mut tree = DataTree::new(extended_types);
        tree.nodes.clear();
        tree.acls = AclCache::new();
        tree.digest = 0;
        tree
    }

    /// Adds a node read from a snapshot under its already-loaded parent (`DataTree.deserialize`), and its digest
    /// to the tree's.
    fn load_node(&mut self, parsed: ParsedNode, recent: &mut Recent) -> Result<(), String> {
        let ParsedNode { node, digest, .. } = parsed;
        let path = node.path();
        let mut parent = None;
        if path != "/" {
            let (parent_path, name) = path::split(path);
            if name.is_empty() {
                // "//" would be a child of the root named "": the root's own path again.
                return Err(format!(
                    "invalid data tree: node path {path:?} has an empty last segment"
                ));
            }
            let known = [recent.parent, recent.last].into_iter().flatten().find(|&id| {
                self.nodes
                    .node(id)
                    .is_some_and(|n| n.path_bytes() == parent_path.as_bytes())
            });
            let Some(p) = known.or_else(|| self.nodes.id_of(parent_path)) else {
                return Err(format!("invalid data tree: no parent {parent_path} for {path}"));
            };
            recent.parent = Some(p);
            parent = Some(p);
            let owned = || path.to_string();
            match owner_kind(node.stat.ephemeral_owner, self.extended_types) {
                OwnerKind::Ephemeral(session) => {
                    self.ephemerals.entry(session).or_default().insert(owned());
                }
                OwnerKind::Container => {
                    self.containers.insert(owned());
                }
                OwnerKind::Ttl(_) => {
                    self.ttls.insert(owned());
                }
                OwnerKind::Persistent => {}
            }
        }
        self.acls.add_usage(node.acl);
        self.digest = self.digest.wrapping_add(digest);
        // A path loaded twice replaces the node, as the Java map does; its digest then counts once.
        let (id, old) = self.nodes.insert(node);
        let old_was_none = old.is_none();
        recent.last = Some(id);
        if let Some(old) = old {
            self.digest = self.digest.wrapping_sub(super::digest::node_digest(&old));
        }
        // A replaced node kept its place among its parent's children, as `HashSet.add` of a name already there.
        if let Some(p) = parent.filter(|_| old_was_none) {
            self.nodes.link(p, id);
        }
        Ok(())
    }

    /// Sets the zxid a loaded snapshot is named after.
    pub fn set_last_processed_zxid(&mut self, zxid: Zxid) {
        self.last_processed_zxid = zxid;
    }
}

pub mod wire;

#[cfg(test)]
mod tests;
