//! The snapshot as a leader streams it to a learner for a SNAP (`LearnerHandler.run`: after the SNAP packet,
//! `ZKDatabase.serializeSnapshot` on the socket's `BinaryOutputArchive`, then the string "BenWasHere"), and
//! as the learner reads it (`Learner.syncWithLeader`, `ZKDatabase.deserializeSnapshot`,
//! `SerializeUtils.deserializeSnapshot`):
//!
//! ```text
//! int count, then (long sessionId, int timeout) per session
//! int count, then (long aclRef, vector<ACL>) per ACL list
//! (ustring path, buffer data, long aclRef, StatPersisted) per node, pre-order, the root as ""; then ustring "/"
//! ustring "BenWasHere"
//! ```
//!
//! That is a snapshot file's stream without its 16-byte `FileHeader`, seals and digest section, and with the
//! signature after it; there is no length in front, so [`WireScanner`] finds where it ends in the bytes
//! received so far, a step at a time without rescanning, before [`decode`] builds the tree with the same code
//! that reads snapshot files. [`write_parts`] streams a snapshot walk in this form, and
//! [`write_file_stream`] turns a received body into the file a learner writes after a SNAP.

use std::io::{self, Write};

use super::{
    decode_body, put_file_header, Checked, LoadedSnapshot, Reader, SnapshotError, SnapshotImage, StreamPart,
    MAX_LEN,
};

/// The string after the body (`LearnerHandler`: "BenWasHere", checked by `Learner`).
pub const SIGNATURE: &str = "BenWasHere";
/// The file header a snapshot stream starts with and a SNAP body leaves out.
const FILE_HEADER_BYTES: usize = 16;
/// The "/" end marker after the nodes, as a jute string.
const END_MARKER: [u8; 5] = [0, 0, 0, 1, b'/'];
/// Bytes of a StatPersisted: czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, pzxid.
const STAT_BYTES: usize = 8 * 4 + 4 * 3 + 8 * 2;

/// The signature as it follows the body.
fn signature_bytes() -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + SIGNATURE.len());
    out.extend_from_slice(&(SIGNATURE.len() as i32).to_be_bytes());
    out.extend_from_slice(SIGNATURE.as_bytes());
    out
}

/// Why a scan stopped.
enum Stop {
    /// The bytes so far end inside an item.
    More,
    Bad(SnapshotError),
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Stop> {
        if self.buf.len() - self.pos < n {
            return Err(Stop::More);
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn int(&mut self) -> Result<i32, Stop> {
        let b = self.take(4)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A count, where ZooKeeper loops `while (count > 0)`.
    fn count(&mut self) -> Result<u32, Stop> {
        Ok(self.int()?.max(0) as u32)
    }

    /// A length-prefixed string or buffer; None for -1 (null).
    fn bytes(&mut self, what: &str) -> Result<Option<&'a [u8]>, Stop> {
        let at = self.pos;
        let len = self.int()?;
        if len == -1 {
            return Ok(None);
        }
        if len < -1 || len as usize > MAX_LEN {
            return Err(Stop::Bad(SnapshotError {
                offset: at as u64,
                message: format!("reading {what}: impossible length {len}"),
            }));
        }
        self.take(len as usize).map(Some)
    }
}

/// Where a [`WireScanner`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    SessionCount,
    Sessions(u32),
    AclCount,
    /// ACL lists left, then entries left in the current one (None: its count is next).
    Acls(u32, Option<u32>),
    Nodes,
    Signature,
    Done,
}

/// Finds the end of a SNAP body in the bytes received so far, resuming where the last call stopped.
#[derive(Debug, Clone)]
pub struct WireScanner {
    pos: usize,
    phase: Phase,
}

impl Default for WireScanner {
    fn default() -> Self {
        WireScanner {
            pos: 0,
            phase: Phase::SessionCount,
        }
    }
}

impl WireScanner {
    /// Scans `buf` (every byte received so far, the same prefix each call): the length of the body and its
    /// signature once they are all there, None while more are needed, or what is wrong. The caller bounds how
    /// much it buffers.
    pub fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, SnapshotError> {
        loop {
            if self.phase == Phase::Done {
                return Ok(Some(self.pos));
            }
            let mut c = Cursor { buf, pos: self.pos };
            match self.step(&mut c) {
                Ok(next) => {
                    self.pos = c.pos;
                    self.phase = next;
                }
                Err(Stop::More) => return Ok(None),
                Err(Stop::Bad(e)) => return Err(e),
            }
        }
    }

    /// Reads one item whole and says what comes next.
    fn step(&self, c: &mut Cursor<'_>) -> Result<Phase, Stop> {
        Ok(match self.phase {
            Phase::SessionCount => Phase::Sessions(c.count()?),
            Phase::Sessions(0) => Phase::AclCount,
            Phase::Sessions(n) => {
                c.take(12)?;
                Phase::Sessions(n - 1)
            }
            Phase::AclCount => Phase::Acls(c.count()?, None),
            Phase::Acls(0, _) => Phase::Nodes,
            Phase::Acls(n, None) => {
                c.take(8)?;
                let at = c.pos;
                let entries = c.int()?;
                if entries < 0 {
                    return Err(Stop::Bad(SnapshotError {
                        offset: at as u64,
                        message: "missing ACL list".into(),
                    }));
                }
                Phase::Acls(n, Some(entries as u32))
            }
            Phase::Acls(n, Some(0)) => Phase::Acls(n - 1, None),
            Phase::Acls(n, Some(k)) => {
                c.take(4)?;
                c.bytes("ACL scheme")?;
                c.bytes("ACL id")?;
                Phase::Acls(n, Some(k - 1))
            }
            Phase::Nodes => {
                if c.bytes("node path")? == Some(b"/") {
                    Phase::Signature
                } else {
                    c.bytes("node data")?;
                    c.take(8 + STAT_BYTES)?;
                    Phase::Nodes
                }
            }
            Phase::Signature => {
                let at = c.pos;
                let sig = c.bytes("signature")?;
                if sig != Some(SIGNATURE.as_bytes()) {
                    return Err(Stop::Bad(missing_signature(at, sig)));
                }
                Phase::Done
            }
            Phase::Done => Phase::Done,
        })
    }
}

fn missing_signature(at: usize, got: Option<&[u8]>) -> SnapshotError {
    SnapshotError {
        offset: at as u64,
        message: format!(
            "missing signature: expected {SIGNATURE:?}, got {:?}",
            got.map(String::from_utf8_lossy)
        ),
    }
}

/// Reads a SNAP body with its signature (exactly the bytes [`WireScanner`] measured) into a tree. The tree's
/// last processed zxid is left for the caller to set to the SNAP packet's zxid, as `Learner` does.
pub fn decode(bytes: &[u8], extended_types: bool) -> Result<LoadedSnapshot, SnapshotError> {
    let mut r = Reader {
        d: jute::Decoder::new(bytes).with_max_len(MAX_LEN),
        all: bytes,
        checkpoints: None,
        done: None,
    };
    let mut loaded = decode_body(&mut r, bytes.len(), extended_types)?;
    let at = r.d.position();
    let sig: Option<String> = r.read("signature")?;
    if sig.as_deref() != Some(SIGNATURE) {
        return Err(missing_signature(at, sig.as_deref().map(str::as_bytes)));
    }
    if !r.d.is_empty() {
        return Err(r.err("bytes after the signature"));
    }
    loaded.tree.acls.purge_unused();
    Ok(loaded)
}

/// Writes the parts of a snapshot walk (see `SnapshotStream`) as a SNAP body: without the file header, and
/// with the end marker and the signature in place of the seals and the digest section. Fails if the parts
/// stop before their end.
pub fn write_parts<W: Write>(mut out: W, parts: impl IntoIterator<Item = StreamPart>) -> io::Result<()> {
    let mut skip = FILE_HEADER_BYTES;
    for part in parts {
        match part {
            StreamPart::Bytes(bytes) => {
                let from = skip.min(bytes.len());
                skip -= from;
                out.write_all(&bytes[from..])?;
            }
            StreamPart::End { .. } => {
                out.write_all(&END_MARKER)?;
                out.write_all(&signature_bytes())?;
                return out.flush();
            }
        }
    }
    Err(io::Error::other("the snapshot walk stopped before its end"))
}

impl SnapshotImage {
    /// The SNAP body of this snapshot, signature included.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + 32);
        out.extend_from_slice(&self.bytes[FILE_HEADER_BYTES.min(self.bytes.len())..]);
        out.extend_from_slice(&END_MARKER);
        out.extend_from_slice(&signature_bytes());
        out
    }
}

/// Writes the uncompressed snapshot file stream of a received SNAP body (`wire`, signature included): the
/// file header, the body, the seals, and the digest section `digest` (zxid, digest). A SNAP may be fuzzy (the
/// leader walks its tree while it commits), so a learner that cannot vouch for the digest at the zxid writes
/// (0, 0), the empty ZxidDigest that nobody checks.
pub fn write_file_stream<W: Write>(out: W, wire: &[u8], digest: (i64, i64)) -> io::Result<()> {
    let tail = END_MARKER.len() + 4 + SIGNATURE.len();
    let body_end = wire
        .len()
        .checked_sub(tail)
        .filter(|&end| wire[end..end + END_MARKER.len()] == END_MARKER)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "not a SNAP body ending in its signature",
            )
        })?;
    let mut w = Checked {
        inner: out,
        adler: simd_adler32::Adler32::new(),
    };
    let mut head = Vec::with_capacity(FILE_HEADER_BYTES);
    put_file_header(&mut head);
    w.put(&head)?;
    w.put(&wire[..body_end])?;
    w.end(digest)
}

#[cfg(test)]
mod tests;
