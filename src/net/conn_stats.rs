//! Per-connection figures of `cons`, `stat` and the AdminServer's `connections`, kept as `ServerCnxn` keeps
//! them: packets in and out, and for each answered request its operation, cxid, zxid, answer time and latency
//! (`ServerCnxn.updateStatsForResponse`, reset by `crst` through `resetStats`).

use jute::codes::OpCode;

/// The figures of one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnStats {
    /// When the connection was accepted, ms since the Unix epoch (`est=`).
    pub established_ms: i64,
    pub packets_received: u64,
    pub packets_sent: u64,
    /// The short name of the last answered operation (`lop=`), `NA` before any.
    pub last_op: &'static str,
    /// The last non-negative cxid answered, -1 before any (`lcxid=`, printed only when set).
    pub last_cxid: i64,
    /// The zxid of the last answer (`lzxid=`), -1 before any.
    pub last_zxid: i64,
    /// When the last answer went out, ms on the server's monotonic clock (`lresp=`), 0 before any.
    pub last_response_ms: u64,
    pub last_latency_ms: u64,
    min_latency_ms: u64,
    pub max_latency_ms: u64,
    count: u64,
    total_latency_ms: u64,
}

impl ConnStats {
    /// A connection accepted at `established_ms`.
    pub fn new(established_ms: i64) -> ConnStats {
        let mut stats = ConnStats {
            established_ms,
            packets_received: 0,
            packets_sent: 0,
            last_op: "NA",
            last_cxid: -1,
            last_zxid: -1,
            last_response_ms: 0,
            last_latency_ms: 0,
            min_latency_ms: u64::MAX,
            max_latency_ms: 0,
            count: 0,
            total_latency_ms: 0,
        };
        stats.reset();
        stats
    }

    /// `crst`: every figure but the establishment time back to its start value.
    pub fn reset(&mut self) {
        *self = ConnStats {
            established_ms: self.established_ms,
            packets_received: 0,
            packets_sent: 0,
            last_op: "NA",
            last_cxid: -1,
            last_zxid: -1,
            last_response_ms: 0,
            last_latency_ms: 0,
            min_latency_ms: u64::MAX,
            max_latency_ms: 0,
            count: 0,
            total_latency_ms: 0,
        };
    }

    /// One request answered: `cxid` (special xids are negative and leave `last_cxid` alone), the zxid of the
    /// answer, the operation's short name, and when it arrived and was answered (monotonic ms).
    pub fn answered(&mut self, cxid: i32, zxid: i64, op: &'static str, arrived_ms: u64, answered_ms: u64) {
        if cxid >= 0 {
            self.last_cxid = i64::from(cxid);
        }
        self.last_zxid = zxid;
        self.last_op = op;
        self.last_response_ms = answered_ms;
        let elapsed = answered_ms.saturating_sub(arrived_ms);
        self.last_latency_ms = elapsed;
        self.min_latency_ms = self.min_latency_ms.min(elapsed);
        self.max_latency_ms = self.max_latency_ms.max(elapsed);
        self.count += 1;
        self.total_latency_ms += elapsed;
    }

    /// The smallest latency, 0 before any answer.
    pub fn min_latency_ms(&self) -> u64 {
        if self.min_latency_ms == u64::MAX {
            0
        } else {
            self.min_latency_ms
        }
    }

    /// The mean latency in whole ms (integer division, as `ServerCnxn.getAvgLatency`).
    pub fn avg_latency_ms(&self) -> u64 {
        self.total_latency_ms.checked_div(self.count).unwrap_or(0)
    }
}

/// The reply header at the start of a reply frame's payload, and the payload's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader {
    pub xid: i32,
    pub zxid: i64,
    pub err: i32,
    pub len: u32,
}

/// The reply headers of a run of whole frames (a frame too short for a header reads as zeros).
pub fn reply_headers(mut bytes: &[u8]) -> impl Iterator<Item = ReplyHeader> + '_ {
    std::iter::from_fn(move || {
        let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?);
        let payload = bytes.get(4..4 + len as usize)?;
        bytes = &bytes[4 + len as usize..];
        let int = |at: usize| {
            payload
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map_or(0, i32::from_be_bytes)
        };
        let zxid = payload
            .get(4..12)
            .and_then(|b| b.try_into().ok())
            .map_or(0, i64::from_be_bytes);
        Some(ReplyHeader {
            xid: int(0),
            zxid,
            err: int(12),
            len,
        })
    })
}

/// The `lop=` name `FinalRequestProcessor` gives an operation. A write that failed before it became a txn
/// of its own kind is answered from an error txn and shows `NA`, as in ZooKeeper; `multi` is `MULT` either way.
pub fn op_name(op: OpCode, failed_write: bool) -> &'static str {
    if failed_write && op != OpCode::Multi {
        return "NA";
    }
    match op {
        OpCode::Ping => "PING",
        OpCode::CreateSession => "SESS",
        OpCode::Multi => "MULT",
        OpCode::MultiRead => "MLTR",
        OpCode::Create | OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => "CREA",
        OpCode::Delete | OpCode::DeleteContainer => "DELE",
        OpCode::SetData => "SETD",
        OpCode::Reconfig => "RECO",
        OpCode::SetAcl => "SETA",
        OpCode::CloseSession => "CLOS",
        OpCode::Sync => "SYNC",
        OpCode::Check => "CHEC",
        OpCode::Exists => "EXIS",
        OpCode::GetData => "GETD",
        OpCode::SetWatches => "SETW",
        OpCode::SetWatches2 => "STW2",
        OpCode::AddWatch => "ADDW",
        OpCode::GetAcl => "GETA",
        OpCode::GetChildren | OpCode::GetChildren2 => "GETC",
        OpCode::GetAllChildrenNumber => "GETACN",
        OpCode::CheckWatches => "CHKW",
        OpCode::RemoveWatches => "REMW",
        OpCode::WhoAmI => "HOMI",
        OpCode::GetEphemerals => "GETE",
        OpCode::Notification | OpCode::Auth | OpCode::Sasl | OpCode::Error => "NA",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_update_last_op_and_latency() {
        let mut s = ConnStats::new(1_795_682_195_981);
        assert_eq!((s.last_op, s.last_cxid, s.last_zxid), ("NA", -1, -1));
        assert_eq!(
            (s.min_latency_ms(), s.avg_latency_ms(), s.max_latency_ms),
            (0, 0, 0)
        );
        s.answered(0, 1, "SESS", 100, 140);
        s.answered(-2, 1, "PING", 200, 200);
        s.answered(10, 7, "GETD", 300, 301);
        assert_eq!((s.last_op, s.last_cxid, s.last_zxid), ("GETD", 10, 7));
        assert_eq!(
            (s.min_latency_ms(), s.avg_latency_ms(), s.max_latency_ms),
            (0, 13, 40)
        );
        assert_eq!((s.last_response_ms, s.last_latency_ms), (301, 1));
        s.packets_received = 4;
        s.reset();
        assert_eq!(s, ConnStats::new(1_795_682_195_981));
    }

    #[test]
    fn reply_headers_reads_each_frame() {
        let mut bytes = Vec::new();
        for (xid, zxid, err) in [(5i32, 7i64, 0i32), (-1, -1, 0), (9, 8, -101)] {
            bytes.extend_from_slice(&20u32.to_be_bytes());
            bytes.extend_from_slice(&xid.to_be_bytes());
            bytes.extend_from_slice(&zxid.to_be_bytes());
            bytes.extend_from_slice(&err.to_be_bytes());
            bytes.extend_from_slice(&[0; 4]);
        }
        let headers: Vec<ReplyHeader> = reply_headers(&bytes).collect();
        assert_eq!(headers.len(), 3);
        assert_eq!(
            headers[2],
            ReplyHeader {
                xid: 9,
                zxid: 8,
                err: -101,
                len: 20
            }
        );
        assert_eq!(reply_headers(&bytes[..10]).count(), 0);
    }

    #[test]
    fn operation_names_follow_final_request_processor() {
        assert_eq!(op_name(OpCode::GetChildren2, false), "GETC");
        assert_eq!(op_name(OpCode::Create2, false), "CREA");
        assert_eq!(op_name(OpCode::Create2, true), "NA");
        assert_eq!(op_name(OpCode::Multi, true), "MULT");
        assert_eq!(op_name(OpCode::GetData, false), "GETD");
    }
}
