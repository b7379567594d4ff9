//! The four-letter words that list the server's contents: `cons` (`ServerCnxn.dumpConnectionInfo`), `dump`
//! (`SessionTrackerImpl.dumpSessions`, `DataTree.dumpEphemerals`, `NIOServerCnxnFactory.dumpConnections`,
//! all through `ExpiryQueue.dump`), `wchc` and `wchp` (`WatchManager.dumpWatches`, data watches only as in
//! ZooKeeper) and `hash` (`DigestCommand`). The server hands the facts over already in the order ZooKeeper's
//! hash maps would list them (see `net::java`); these functions only print.

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::four_letter::ConnFacts;
use super::java;
use crate::types::{SessionId, Zxid};

/// One expiry bucket of an `ExpiryQueue`: when its members expire and who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket<T> {
    /// The expiry time on the server's monotonic clock (ms), the key ZooKeeper's JSON uses.
    pub expires_mono_ms: u64,
    /// The same moment as wall-clock ms since the Unix epoch, for the text dump.
    pub expires_wall_ms: i64,
    pub members: Vec<T>,
}

/// What `dump` lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DumpFacts {
    /// Session expiry buckets, soonest first.
    pub session_buckets: Vec<Bucket<SessionId>>,
    /// Sessions owning ephemeral nodes, with their paths.
    pub ephemerals: Vec<(SessionId, Vec<String>)>,
    /// Connection expiry buckets (idle connections are closed at these times), soonest first. A connection
    /// without a session shows session 0x0.
    pub connection_buckets: Vec<Bucket<(SocketAddr, SessionId)>>,
    /// A follower's or read-only server's sessions with their timeouts, in place of the expiry buckets: its
    /// tracker (`LearnerSessionTracker`) expires none and lists the database's sessions.
    pub learner_sessions: Option<Vec<(SessionId, i32)>>,
}

/// The data-watch table, both ways round.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WatchFacts {
    /// Each watching connection's session and the paths it watches.
    pub by_session: Vec<(SessionId, Vec<String>)>,
    /// Each watched path and the sessions watching it.
    pub by_path: Vec<(String, Vec<SessionId>)>,
}

impl WatchFacts {
    /// The number of (connection, path) registrations.
    pub fn total(&self) -> usize {
        self.by_session.iter().map(|(_, paths)| paths.len()).sum()
    }
}

/// One connection as `cons` prints it: `stat`'s line plus, once it has a session, the session's figures.
pub fn cons_line(out: &mut String, c: &ConnFacts) {
    let s = &c.stats;
    let _ = write!(
        out,
        " {}[{}](queued={},recved={},sent={}",
        java::socket_address(&c.peer),
        u8::from(c.reading),
        c.queued,
        s.packets_received,
        s.packets_sent
    );
    if let Some(session) = &c.session {
        let _ = write!(
            out,
            ",sid={},lop={},est={},to={}",
            session.id, s.last_op, s.established_ms, session.timeout_ms
        );
        if s.last_cxid >= 0 {
            let _ = write!(out, ",lcxid=0x{:x}", s.last_cxid);
        }
        let _ = write!(
            out,
            ",lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
            s.last_zxid,
            s.last_response_ms,
            s.last_latency_ms,
            s.min_latency_ms(),
            s.avg_latency_ms(),
            s.max_latency_ms
        );
    }
    out.push(')');
}

/// `cons`: every connection, each on its line, then an empty line.
pub fn cons(connections: &[ConnFacts]) -> String {
    let mut out = String::new();
    for c in connections {
        cons_line(&mut out, c);
        out.push('\n');
    }
    out.push('\n');
    out
}

fn expiry_queue<T>(out: &mut String, title: &str, buckets: &[Bucket<T>], member: impl Fn(&T) -> String) {
    let members: usize = buckets.iter().map(|b| b.members.len()).sum();
    let _ = writeln!(out, "{title} Sets ({})/({members}):", buckets.len());
    for b in buckets {
        let _ = writeln!(
            out,
            "{} expire at {}:",
            b.members.len(),
            java::date(b.expires_wall_ms)
        );
        for m in &b.members {
            let _ = writeln!(out, "\t{}", member(m));
        }
    }
}

/// `dump`: sessions by expiry bucket, ephemeral nodes by session, connections by expiry bucket.
pub fn dump(f: &DumpFacts) -> String {
    let mut out = String::from("SessionTracker dump:\n");
    match &f.learner_sessions {
        Some(sessions) => {
            // `LearnerSessionTracker.dumpSessions`: by id, as a `TreeSet<Long>` orders them.
            let mut sessions = sessions.clone();
            sessions.sort();
            let _ = writeln!(out, "Global Sessions({}):", sessions.len());
            for (id, timeout_ms) in sessions {
                let _ = writeln!(out, "{id}\t{timeout_ms}ms");
            }
        }
        None => expiry_queue(&mut out, "Session", &f.session_buckets, |id| id.to_string()),
    }
    out.push_str("ephemeral nodes dump:\n");
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", f.ephemerals.len());
    for (session, paths) in &f.ephemerals {
        let _ = writeln!(out, "{session}:");
        for p in paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    out.push_str("Connections dump:\n");
    expiry_queue(&mut out, "Connections", &f.connection_buckets, |(peer, id)| {
        format!("ip: {} sessionId: {id}", java::socket_address(peer))
    });
    out
}

/// `wchc`: each session and the paths it watches, then an empty line.
pub fn wchc(w: &WatchFacts) -> String {
    let mut out = String::new();
    for (session, paths) in &w.by_session {
        let _ = writeln!(out, "{session}");
        for p in paths {
            let _ = writeln!(out, "\t{p}");
        }
    }
    out.push('\n');
    out
}

/// `wchp`: each watched path and the sessions watching it, then an empty line.
pub fn wchp(w: &WatchFacts) -> String {
    let mut out = String::new();
    for (path, sessions) in &w.by_path {
        let _ = writeln!(out, "{path}");
        for s in sessions {
            let _ = writeln!(out, "\t{s}");
        }
    }
    out.push('\n');
    out
}

/// `hash`: each logged tree digest as `<zxid in hex>: <digest as a Java long>`.
pub fn hash(digests: &[(Zxid, u64)]) -> String {
    let mut out = String::new();
    for (zxid, digest) in digests {
        let _ = writeln!(out, "{:x}: {}", zxid.0, *digest as i64);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::conn_stats::ConnStats;
    use crate::net::four_letter::SessionFacts;

    const A: SessionId = SessionId(0x0100_0034_91ef_0000);
    const B: SessionId = SessionId(0x0100_0034_91ef_0001);

    fn conn(peer: &str, session: Option<SessionId>) -> ConnFacts {
        ConnFacts {
            peer: peer.parse().expect("addr"),
            reading: session.is_some(),
            queued: 0,
            stats: ConnStats::new(1_795_682_195_981),
            session: session.map(|id| SessionFacts {
                id,
                timeout_ms: 10_000,
            }),
        }
    }

    /// Lines of a real 3.8.0 server's `cons`, before and after `crst`.
    #[test]
    fn cons_matches_zookeeper() {
        let mut a = conn("127.0.0.1:38122", Some(A));
        a.stats.packets_received = 11;
        a.stats.packets_sent = 12;
        a.stats.answered(0, 1, "SESS", 3_458_000, 3_458_040);
        a.stats.answered(10, 7, "GETD", 3_458_194, 3_458_194);
        let probe = conn("127.0.0.1:38152", None);
        let mut probe = probe;
        probe.stats.packets_received = 1;
        assert_eq!(
            cons(&[a.clone(), probe]),
            " /127.0.0.1:38122[1](queued=0,recved=11,sent=12,sid=0x100003491ef0000,lop=GETD,est=1795682195981,\
             to=10000,lcxid=0xa,lzxid=0x7,lresp=3458194,llat=0,minlat=0,avglat=20,maxlat=40)\n \
             /127.0.0.1:38152[0](queued=0,recved=1,sent=0)\n\n"
        );
        a.stats.reset();
        let mut line = String::new();
        cons_line(&mut line, &a);
        assert_eq!(
            line,
            " /127.0.0.1:38122[1](queued=0,recved=0,sent=0,sid=0x100003491ef0000,lop=NA,est=1795682195981,\
             to=10000,lzxid=0xffffffffffffffff,lresp=0,llat=0,minlat=0,avglat=0,maxlat=0)"
        );
    }

    /// A real 3.8.0 server's `dump` with two sessions, each owning one ephemeral node.
    #[test]
    fn dump_matches_zookeeper() {
        let facts = DumpFacts {
            session_buckets: vec![
                Bucket {
                    expires_mono_ms: 3_468_000,
                    expires_wall_ms: 1_795_682_206_000,
                    members: vec![],
                },
                Bucket {
                    expires_mono_ms: 3_470_000,
                    expires_wall_ms: 1_795_682_208_000,
                    members: vec![B, A],
                },
            ],
            ephemerals: vec![(B, vec!["/app/e2".into()]), (A, vec!["/app/e1".into()])],
            connection_buckets: vec![Bucket {
                expires_mono_ms: 3_470_000,
                expires_wall_ms: 1_795_682_208_000,
                members: vec![
                    ("127.0.0.1:38122".parse().expect("addr"), A),
                    ("127.0.0.1:38166".parse().expect("addr"), SessionId(0)),
                ],
            }],
            learner_sessions: None,
        };
        assert_eq!(
            dump(&facts),
            "SessionTracker dump:\nSession Sets (2)/(2):\n0 expire at Thu Nov 26 08:36:46 UTC 2026:\n\
             2 expire at Thu Nov 26 08:36:48 UTC 2026:\n\t0x100003491ef0001\n\t0x100003491ef0000\n\
             ephemeral nodes dump:\nSessions with Ephemerals (2):\n0x100003491ef0001:\n\t/app/e2\n\
             0x100003491ef0000:\n\t/app/e1\nConnections dump:\nConnections Sets (1)/(2):\n\
             2 expire at Thu Nov 26 08:36:48 UTC 2026:\n\tip: /127.0.0.1:38122 sessionId: 0x100003491ef0000\n\
             \tip: /127.0.0.1:38166 sessionId: 0x0\n"
        );
    }

    #[test]
    fn watch_dumps_match_zookeeper() {
        let w = WatchFacts {
            by_session: vec![(A, vec!["/app/x".into()]), (B, vec!["/nope".into()])],
            by_path: vec![("/app/x".into(), vec![A]), ("/nope".into(), vec![B])],
        };
        assert_eq!(
            wchc(&w),
            "0x100003491ef0000\n\t/app/x\n0x100003491ef0001\n\t/nope\n\n"
        );
        assert_eq!(
            wchp(&w),
            "/app/x\n\t0x100003491ef0000\n/nope\n\t0x100003491ef0001\n\n"
        );
        assert_eq!(w.total(), 2);
    }

    #[test]
    fn hash_prints_hex_zxids_and_signed_digests() {
        assert_eq!(hash(&[]), "");
        assert_eq!(
            hash(&[(Zxid(0x80), 1234), (Zxid(0x100), u64::MAX)]),
            "80: 1234\n100: -1\n"
        );
    }
}
