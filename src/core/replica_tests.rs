//! A leader's core and a follower's core wired as the runtime wires them through ZAB (every proposal committed
//! at once): a client of the follower creates its session, writes, syncs and reads through the leader, and the
//! leader's clients see the follower's writes and their watches fire.

use bytes::Bytes;
use jute::codes::{ErrorCode, EventType, OpCode, PacketType};
use jute::quorum::{Payload, Sender};
use jute::records::proto::*;
use jute::records::quorum::QuorumPacket;
use jute::request::{Request, RequestError};
use jute::Decoder;

use super::txn::Txn;
use super::{Core, CoreConfig, Effect, Role};
use crate::types::{ConnId, Now};

/// The follower's connection as the leader numbers it.
const FOLLOWER_CONN: u64 = 4;

struct Pair {
    leader: Core,
    follower: Core,
    now: Now,
    /// Frames sent to clients: (on the follower?, conn, frame).
    frames: Vec<(bool, ConnId, Bytes)>,
    committed: Vec<i64>,
    /// While set, the leader's txns wait here instead of committing at once (several prepared, none applied).
    held: Option<Vec<(crate::types::Zxid, Bytes)>>,
    /// Connections closed: (on the follower?, conn).
    closed: Vec<(bool, ConnId)>,
}

impl Pair {
    fn new() -> Pair {
        Pair::with_local_sessions(false, false)
    }

    /// Both members with `localSessionsEnabled` and `localSessionsUpgradingEnabled` as given.
    fn with_local_sessions(local: bool, upgrading: bool) -> Pair {
        let now = Now {
            wall_ms: 1_700_000_000_000,
            mono_ms: 1000,
        };
        let config = |id| CoreConfig {
            server_id: id,
            local_sessions: local,
            local_sessions_upgrading: upgrading,
            ..Default::default()
        };
        let mut leader = Core::new(config(3), now);
        leader.start_epoch(1, now);
        let mut follower = Core::new(config(1), now);
        follower.become_follower();
        Pair {
            leader,
            follower,
            now,
            frames: Vec::new(),
            committed: Vec::new(),
            held: None,
            closed: Vec::new(),
        }
    }

    /// Runs effects: forwards go to the leader, the leader's txns commit at once on both cores in order.
    fn run(&mut self, on_follower: bool, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send { conn, frame } => self.frames.push((on_follower, conn, frame)),
                Effect::Close { conn } => self.closed.push((on_follower, conn)),
                Effect::Forward { request, auth } => {
                    assert!(on_follower, "only the follower forwards");
                    if request.op == OpCode::Sync.code() {
                        // Nothing outstanding: the leader answers SYNC at once.
                        let out = self.follower.synced();
                        self.run(true, out);
                    } else {
                        // As it travels: a REQUEST packet, decoded by the leader.
                        let data = Payload::Request(request).encode().expect("encodes");
                        let packet = QuorumPacket {
                            packet_type: PacketType::Request.code(),
                            zxid: 0,
                            data,
                            authinfo: None,
                        };
                        let Ok(Payload::Request(request)) =
                            Payload::decode(&packet, Sender::Learner, 1 << 20)
                        else {
                            panic!("a REQUEST the leader cannot decode");
                        };
                        let out = self.leader.forwarded(self.now, FOLLOWER_CONN, request, &auth);
                        self.run(false, out);
                    }
                }
                Effect::Revalidate { session } => {
                    assert!(on_follower, "only the follower revalidates");
                    let valid = self.leader.revalidate(self.now, FOLLOWER_CONN, session);
                    let out = self.follower.revalidated(self.now, session.session_id, valid);
                    self.run(true, out);
                }
                Effect::Persist { zxid, entry } => {
                    assert!(!on_follower, "a follower prepares nothing");
                    if let Some(held) = &mut self.held {
                        held.push((zxid, entry));
                        continue;
                    }
                    self.committed.push(zxid.0);
                    let out = self.leader.persisted(self.now, zxid);
                    self.run(false, out);
                    let txn = Txn::decode(&entry, usize::MAX).expect("a txn");
                    let out = self.follower.apply_committed(self.now, txn);
                    self.run(true, out);
                }
            }
        }
    }

    /// Commits the held txns in order on both cores, and commits at once from now on.
    fn release(&mut self) {
        for (zxid, entry) in self.held.take().unwrap_or_default() {
            self.committed.push(zxid.0);
            let out = self.leader.persisted(self.now, zxid);
            self.run(false, out);
            let txn = Txn::decode(&entry, usize::MAX).expect("a txn");
            let out = self.follower.apply_committed(self.now, txn);
            self.run(true, out);
        }
    }

    /// Sends a request without waiting for its reply.
    fn submit(&mut self, on_follower: bool, conn: u64, xid: i32, request: Request) {
        let header = RequestHeader {
            xid,
            op: request.opcode().code(),
        };
        let core = if on_follower {
            &mut self.follower
        } else {
            &mut self.leader
        };
        let out = core.request(self.now, ConnId(conn), header, Ok(request));
        self.run(on_follower, out);
    }

    fn connect(&mut self, on_follower: bool, conn: u64) -> ConnectResponse {
        let req = ConnectRequest {
            time_out: 10_000,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
            ..Default::default()
        };
        let core = if on_follower {
            &mut self.follower
        } else {
            &mut self.leader
        };
        let out = core.connect(self.now, ConnId(conn), "127.0.0.1", req);
        self.run(on_follower, out);
        let frame = self.take(on_follower, conn).remove(0);
        ConnectResponse::decode(&frame[4..], 1 << 20).expect("connect response")
    }

    fn send(&mut self, on_follower: bool, conn: u64, xid: i32, request: Request) -> (ReplyHeader, Vec<u8>) {
        let op = request.opcode().code();
        self.send_decoded(on_follower, conn, RequestHeader { xid, op }, Ok(request))
    }

    /// Sends what the client connection decoded, a request or why its record does not decode.
    fn send_decoded(
        &mut self,
        on_follower: bool,
        conn: u64,
        header: RequestHeader,
        body: Result<Request, RequestError>,
    ) -> (ReplyHeader, Vec<u8>) {
        let xid = header.xid;
        let core = if on_follower {
            &mut self.follower
        } else {
            &mut self.leader
        };
        let out = core.request(self.now, ConnId(conn), header, body);
        self.run(on_follower, out);
        let frames = self.take(on_follower, conn);
        let last = frames.last().expect("a reply");
        let mut d = Decoder::new(&last[4..]);
        let h: ReplyHeader = d.read().expect("header");
        assert_eq!(h.xid, xid);
        (h, d.remaining().to_vec())
    }

    fn take(&mut self, on_follower: bool, conn: u64) -> Vec<Bytes> {
        let (mine, rest): (Vec<_>, Vec<_>) = self
            .frames
            .drain(..)
            .partition(|(f, c, _)| *f == on_follower && *c == ConnId(conn));
        self.frames = rest;
        mine.into_iter().map(|(_, _, f)| f).collect()
    }
}

fn create(path: &str, data: &[u8]) -> Request {
    Request::Create(
        OpCode::Create,
        CreateRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            acl: jute::records::data::Acl::open_unsafe(),
            flags: 0,
        },
    )
}

#[test]
fn a_follower_forwards_writes_and_answers_its_client_from_the_commit() {
    let mut p = Pair::new();
    assert_eq!(p.follower.role(), Role::Follower);
    let session = p.connect(true, 1);
    // The session is the follower's (its id in the top byte), created by the leader's txn in epoch 1.
    assert_eq!(session.session_id >> 56, 1);
    assert_eq!(p.committed, [(1 << 32) + 1]);
    assert!(p
        .leader
        .sessions()
        .get(crate::types::SessionId(session.session_id))
        .is_some());
    let (h, body) = p.send(true, 1, 1, create("/a", b"x"));
    assert_eq!((h.err, h.zxid), (0, (1 << 32) + 2));
    let created: CreateResponse = jute::from_slice(&body).expect("create response");
    assert_eq!(created.path, "/a");
    // Both trees have it; the leader prepared it, the follower only applied it.
    for core in [&p.leader, &p.follower] {
        assert_eq!(core.tree().get("/a").map(|n| n.data_len()), Some(1));
        assert_eq!(core.last_zxid().0, (1 << 32) + 2);
    }
    // An error the leader's prep finds comes back as the follower's answer.
    let (h, _) = p.send(true, 1, 2, create("/a", b"y"));
    assert_eq!(h.err, jute::codes::ErrorCode::NodeExists.code());
    // A read after the writes is served locally, in order.
    let (h, body) = p.send(
        true,
        1,
        3,
        Request::GetData(GetDataRequest {
            path: "/a".into(),
            watch: false,
        }),
    );
    assert_eq!(h.err, 0);
    let data: GetDataResponse = jute::from_slice(&body).expect("data");
    assert_eq!(data.data.as_deref(), Some(&b"x"[..]));
    // sync goes to the leader and is answered with its path.
    let (h, body) = p.send(
        true,
        1,
        4,
        Request::Sync(SyncRequest {
            path: Some("/a".into()),
        }),
    );
    assert_eq!(h.err, 0);
    let synced: SyncResponse = jute::from_slice(&body).expect("sync");
    assert_eq!(synced.path.as_deref(), Some("/a"));
}

#[test]
fn watches_fire_on_both_members_for_writes_made_through_either() {
    let mut p = Pair::new();
    p.connect(true, 1);
    p.connect(false, 7);
    let watch = Request::Exists(ExistsRequest {
        path: "/w".into(),
        watch: true,
    });
    p.send(true, 1, 1, watch.clone());
    p.send(false, 7, 1, watch);
    p.send(false, 7, 2, create("/w", b""));
    let fired = |frames: Vec<Bytes>| -> Vec<i32> {
        frames
            .iter()
            .filter_map(|f| {
                let mut d = Decoder::new(&f[4..]);
                let h: ReplyHeader = d.read().ok()?;
                (h.xid == -1).then(|| d.read::<WatcherEvent>().expect("event").event_type)
            })
            .collect()
    };
    assert_eq!(fired(p.take(true, 1)), [EventType::NodeCreated.code()]);
    // The leader's own client got its event before its reply (taken by `send`).
    assert!(p.take(false, 7).is_empty());
}

#[test]
fn only_the_leader_expires_sessions() {
    let mut p = Pair::new();
    let s = p.connect(true, 1);
    let later = Now {
        wall_ms: p.now.wall_ms + 60_000,
        mono_ms: p.now.mono_ms + 60_000,
    };
    assert!(p.follower.tick(later).is_empty(), "a follower expires nothing");
    let out = p.leader.tick(later);
    assert!(
        out.iter().any(|e| matches!(e, Effect::Persist { .. })),
        "the leader expires the idle session with a closeSession txn"
    );
    // The follower reports the sessions its clients touch, for the leader's PING.
    p.send(true, 1, jute::codes::xid::PING, Request::Ping);
    let touched = p.follower.take_touched();
    assert_eq!(touched.len(), 1);
    assert_eq!(touched[0].session_id, s.session_id);
    assert!(p.follower.take_touched().is_empty());
}

#[test]
fn a_session_brought_to_the_follower_is_revalidated_with_the_leader() {
    let mut p = Pair::new();
    let s = p.connect(false, 7);
    // The client moves to the follower with its session: the leader vouches for it.
    let req = ConnectRequest {
        session_id: s.session_id,
        time_out: 10_000,
        passwd: s.passwd.clone(),
        read_only: Some(false),
        ..Default::default()
    };
    let out = p.follower.connect(p.now, ConnId(2), "127.0.0.1", req.clone());
    p.run(true, out);
    let frame = p.take(true, 2).remove(0);
    let resumed = ConnectResponse::decode(&frame[4..], 1 << 20).expect("connect response");
    assert_eq!(resumed.session_id, s.session_id);
    let (h, _) = p.send(true, 2, 1, create("/moved", b""));
    assert_eq!(h.err, 0);
    // Once the leader has closed it, the same session is refused.
    p.send(false, 7, 9, Request::CloseSession);
    let out = p.follower.connect(p.now, ConnId(3), "127.0.0.1", req);
    p.run(true, out);
    let frame = p.take(true, 3).remove(0);
    let refused = ConnectResponse::decode(&frame[4..], 1 << 20).expect("connect response");
    assert_eq!(refused.session_id, 0);
}

fn with_flags(path: &str, data: &[u8], flags: i32) -> Request {
    Request::Create(
        OpCode::Create,
        CreateRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            acl: jute::records::data::Acl::open_unsafe(),
            flags,
        },
    )
}

/// Writes of every kind, prepared while the earlier ones are still pending, all applied afterwards.
fn writes_of_every_kind(p: &mut Pair, on_follower: bool, conn: u64) {
    use jute::records::multi::{MultiOp, MultiRequest};
    let set = |path: &str, data: &[u8]| {
        Request::SetData(SetDataRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            version: -1,
        })
    };
    let delete = |path: &str| {
        Request::Delete(DeleteRequest {
            path: path.into(),
            version: -1,
        })
    };
    let requests = vec![
        create("/d", b"root"),
        create("/d/a", b"1"),
        with_flags("/d/seq-", b"s", 2),
        with_flags("/d/eph", b"e", 1),
        with_flags("/d/cont", b"", 4),
        create("/d/cont/child", b"c"),
        set("/d/a", b"22"),
        set("/d", &[7u8; 3000]),
        Request::SetAcl(SetAclRequest {
            path: "/d/a".into(),
            acl: jute::records::data::Acl::open_unsafe(),
            version: -1,
        }),
        // Errors: a node that exists, a missing parent, a bad version.
        create("/d/a", b""),
        create("/missing/x", b""),
        Request::SetData(SetDataRequest {
            path: "/d/a".into(),
            data: None,
            version: 42,
        }),
        Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::Create(
                    OpCode::Create,
                    CreateRequest {
                        path: "/d/m1".into(),
                        data: Some(Bytes::from_static(b"m")),
                        acl: jute::records::data::Acl::open_unsafe(),
                        flags: 0,
                    },
                ),
                MultiOp::SetData(SetDataRequest {
                    path: "/d/m1".into(),
                    data: Some(Bytes::from_static(b"mm")),
                    version: 0,
                }),
                MultiOp::Delete(DeleteRequest {
                    path: "/d/cont/child".into(),
                    version: -1,
                }),
            ],
        }),
        // A multi whose last op fails: everything it did is rolled back, its digest is the one before it.
        Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::Create(
                    OpCode::Create,
                    CreateRequest {
                        path: "/d/never".into(),
                        data: None,
                        acl: jute::records::data::Acl::open_unsafe(),
                        flags: 0,
                    },
                ),
                MultiOp::Delete(DeleteRequest {
                    path: "/d/absent".into(),
                    version: -1,
                }),
            ],
        }),
        delete("/d/a"),
        set("/", b"top"),
    ];
    for (xid, request) in requests.into_iter().enumerate() {
        p.submit(on_follower, conn, xid as i32 + 10, request);
    }
}

#[test]
fn every_txn_carries_the_digest_its_tree_reaches_and_both_members_agree_with_it() {
    let mut p = Pair::new();
    p.connect(true, 1);
    p.connect(false, 7);
    p.held = Some(Vec::new());
    writes_of_every_kind(&mut p, false, 7);
    writes_of_every_kind(&mut p, true, 1);
    // The leader's client leaves: its ephemeral goes in a closeSession prepared behind all of the above.
    p.submit(false, 7, 99, Request::CloseSession);
    let held = p.held.clone().expect("held");
    assert!(held.len() > 30, "{} txns", held.len());
    for (zxid, entry) in &held {
        let txn = Txn::decode(entry, usize::MAX).expect("a txn");
        let failed = txn.header.txn_type == OpCode::Error.code();
        assert_eq!(
            txn.digest.is_none(),
            failed,
            "txn {zxid}: a digest iff it did not fail"
        );
    }
    p.release();
    for core in [&p.leader, &p.follower] {
        assert_eq!(core.event_counts().digest_mismatches, 0);
        assert_eq!(core.tree().digest(), core.tree().compute_digest());
    }
    assert_eq!(p.leader.tree().digest(), p.follower.tree().digest());
    assert!(p.leader.tree().get("/d/m1").is_some() && p.leader.tree().get("/d/never").is_none());
    assert!(p.leader.tree().get("/d/eph").is_none(), "closed with its session");
    // The last txn's digest is the tree's.
    let last = Txn::decode(&held.last().expect("a txn").1, usize::MAX).expect("a txn");
    assert_eq!(
        last.digest.map(|d| d.tree_digest),
        Some(p.follower.tree().digest() as i64)
    );
}

#[test]
fn without_digests_no_txn_carries_one() {
    let mut p = Pair::new();
    p.leader = Core::new(
        CoreConfig {
            server_id: 3,
            digest_enabled: false,
            ..Default::default()
        },
        p.now,
    );
    p.leader.start_epoch(1, p.now);
    p.connect(false, 7);
    p.held = Some(Vec::new());
    p.submit(false, 7, 1, create("/x", b""));
    let held = p.held.take().expect("held");
    let txn = Txn::decode(&held[0].1, usize::MAX).expect("a txn");
    assert_eq!(txn.digest, None);
}

/// Collects what is logged while `f` runs.
fn logged(f: impl FnOnce()) -> String {
    use std::sync::{Arc, Mutex};
    #[derive(Clone)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink(Arc::new(Mutex::new(Vec::new())));
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = sink.0.lock().expect("sink").clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn a_committed_txn_whose_digest_differs_from_the_tree_is_counted_and_logged() {
    let mut p = Pair::new();
    p.connect(false, 7);
    p.held = Some(Vec::new());
    p.submit(false, 7, 1, create("/x", b"data"));
    p.submit(false, 7, 2, create("/y", b"data"));
    let held = p.held.take().expect("held");
    let mut first = Txn::decode(&held[0].1, usize::MAX).expect("a txn");
    let right = first.digest.expect("a digest").tree_digest;
    first.digest = Some(jute::records::txn::TxnDigest {
        version: 2,
        tree_digest: right ^ 1,
    });
    let zxid = crate::types::Zxid(first.header.zxid);
    let log = logged(|| {
        p.follower.apply_committed(p.now, first);
    });
    assert_eq!(p.follower.event_counts().digest_mismatches, 1);
    assert!(log.contains("ERROR"), "{log}");
    assert!(log.contains(&zxid.to_string()), "{log}");
    assert!(
        log.contains(&right.to_string()) && log.contains(&(right ^ 1).to_string()),
        "{log}"
    );
    // The txn is applied all the same, and the next one, whose digest is right, matches again.
    assert!(p.follower.tree().get("/x").is_some());
    let second = Txn::decode(&held[1].1, usize::MAX).expect("a txn");
    p.follower.apply_committed(p.now, second);
    assert_eq!(p.follower.event_counts().digest_mismatches, 1);
    // A digest of another version is not compared.
    let mut third = Txn::decode(&held[1].1, usize::MAX).expect("a txn");
    third.header.zxid += 1;
    third.body = super::txn::TxnBody::Error(jute::records::txn::ErrorTxn { err: -110 });
    third.header.txn_type = OpCode::Error.code();
    third.digest = Some(jute::records::txn::TxnDigest {
        version: 1,
        tree_digest: 0,
    });
    p.follower.apply_committed(p.now, third);
    assert_eq!(p.follower.event_counts().digest_mismatches, 1);
}

/// Resumes session `s` on a new connection of one member, as a client that moved there does.
fn resume(p: &mut Pair, on_follower: bool, conn: u64, s: &ConnectResponse) {
    let req = ConnectRequest {
        session_id: s.session_id,
        time_out: 10_000,
        passwd: s.passwd.clone(),
        read_only: Some(false),
        ..Default::default()
    };
    let core = if on_follower {
        &mut p.follower
    } else {
        &mut p.leader
    };
    let out = core.connect(p.now, ConnId(conn), "127.0.0.1", req);
    p.run(on_follower, out);
    let frame = p.take(on_follower, conn).remove(0);
    let resumed = ConnectResponse::decode(&frame[4..], 1 << 20).expect("connect response");
    assert_eq!(resumed.session_id, s.session_id);
}

#[test]
fn a_write_through_the_member_a_session_left_is_sessionmoved_and_closes_that_connection() {
    // Made on the follower, moved to the leader: the follower's old connection writes.
    let mut p = Pair::new();
    let s = p.connect(true, 1);
    resume(&mut p, false, 8, &s);
    let before = p.leader.last_proposed();
    p.submit(true, 1, 5, create("/late", b""));
    assert!(p.take(true, 1).is_empty(), "no reply");
    assert!(p.closed.contains(&(true, ConnId(1))), "closed: {:?}", p.closed);
    // The leader logged the failure as an error txn, as ZooKeeper does.
    assert_eq!(p.leader.last_proposed().0, before.0 + 1);
    assert!(p.leader.tree().get("/late").is_none());
    // Through the member it moved to, the session works.
    let (h, _) = p.send(false, 8, 1, create("/here", b""));
    assert_eq!(h.err, 0);

    // Made on the leader, moved to the follower (REVALIDATE makes the follower its owner): the leader's old
    // connection is closed on a write, and on a read too, since a leader checks every request.
    let mut p = Pair::new();
    let s = p.connect(false, 7);
    resume(&mut p, true, 2, &s);
    p.submit(false, 7, 1, create("/old", b""));
    assert!(p.take(false, 7).is_empty(), "no reply");
    assert!(p.closed.contains(&(false, ConnId(7))));
    let s2 = p.connect(false, 9);
    resume(&mut p, true, 3, &s2);
    p.submit(
        false,
        9,
        1,
        Request::Exists(ExistsRequest {
            path: "/".into(),
            watch: false,
        }),
    );
    assert!(p.take(false, 9).is_empty(), "no reply to the read");
    assert!(p.closed.contains(&(false, ConnId(9))));
    let (h, _) = p.send(true, 2, 1, create("/new", b""));
    assert_eq!(h.err, 0, "the member it moved to writes");
}

#[test]
fn a_multi_through_the_member_a_session_left_closes_that_connection() {
    use jute::records::multi::{MultiOp, MultiRequest};
    let mut p = Pair::new();
    let s = p.connect(true, 1);
    resume(&mut p, false, 8, &s);
    p.submit(
        true,
        1,
        5,
        Request::Multi(MultiRequest {
            ops: vec![MultiOp::Create(
                OpCode::Create,
                CreateRequest {
                    path: "/m".into(),
                    data: None,
                    acl: jute::records::data::Acl::open_unsafe(),
                    flags: 0,
                },
            )],
        }),
    );
    assert!(p.take(true, 1).is_empty(), "no reply");
    assert!(p.closed.contains(&(true, ConnId(1))));
    assert!(p.leader.tree().get("/m").is_none());
}

/// A multi mixing read and write ops does not decode (`MultiOperationRecord`). ZooKeeper's leader answers it
/// with a MARSHALLINGERROR error txn of its own zxid; a follower forwards it as it came and answers its client
/// from that txn, preparing nothing itself (a txn of its own would take the zxid of the leader's next one).
#[test]
fn a_multi_that_does_not_decode_is_answered_through_the_leader_by_an_error_txn() {
    let mut p = Pair::new();
    p.connect(true, 1);
    p.send(true, 1, 1, create("/a", b"x"));
    let mut record = Vec::new();
    for part in [
        &[0, 0, 0, 5, 0, 0xff, 0xff, 0xff, 0xff][..],
        &[0, 0, 0, 2, b'/', b'a', 0, 0, 0, 1, b'y', 0xff, 0xff, 0xff, 0xff],
        &[0, 0, 0, 4, 0, 0xff, 0xff, 0xff, 0xff],
        &[0, 0, 0, 2, b'/', b'a', 0],
        &[0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff],
    ] {
        record.extend_from_slice(part);
    }
    let multi = OpCode::Multi.code();
    let decoded = Request::decode(multi, &record, 1 << 20);
    assert!(matches!(decoded, Err(RequestError::Marshalling { .. })));
    let before = p.committed.len();
    let header = RequestHeader { xid: 2, op: multi };
    let (h, body) = p.send_decoded(true, 1, header, decoded);
    assert_eq!((h.err, body.len()), (ErrorCode::MarshallingError.code(), 0));
    assert_eq!(p.committed.len(), before + 1, "the leader's error txn");
    assert_eq!(h.zxid, *p.committed.last().expect("a txn"));
    for core in [&p.leader, &p.follower] {
        assert_eq!(core.last_zxid().0, h.zxid);
        assert_eq!(
            core.tree().get("/a").map(|n| n.data_len()),
            Some(1),
            "the setData is not applied"
        );
    }
    // The next write takes the next zxid on both members.
    let (h2, _) = p.send(true, 1, 3, create("/b", b""));
    assert_eq!((h2.err, h2.zxid), (0, h.zxid + 1));
}

/// A follower lists its client's ids in REQUEST in the order ZooKeeper's learner does (its `authInfo` set's
/// iteration order, not the order they were added in): an Apache ZooKeeper leader expands an `auth` ACL entry
/// in the order the list comes in, and getACL shows it.
#[test]
fn a_follower_forwards_its_clients_ids_in_the_order_a_java_set_iterates_them() {
    let mut p = Pair::new();
    p.connect(true, 1);
    for user in ["alice:pw1", "nocolon", "carol:pw3", "alice:pw2"] {
        let auth = AuthPacket {
            auth_type: 0,
            scheme: "digest".into(),
            auth: Bytes::copy_from_slice(user.as_bytes()),
        };
        assert_eq!(p.send(true, 1, -4, Request::Auth(auth)).0.err, 0);
    }
    let header = RequestHeader {
        xid: 1,
        op: OpCode::SetAcl.code(),
    };
    let set_acl = Request::SetAcl(SetAclRequest {
        path: "/".into(),
        acl: vec![jute::records::data::Acl {
            perms: 31,
            id: jute::records::data::Id::new("auth", ""),
        }],
        version: -1,
    });
    let out = p.follower.request(p.now, ConnId(1), header, Ok(set_acl));
    let forwarded: Vec<_> = out
        .iter()
        .filter_map(|e| match e {
            Effect::Forward { auth, .. } => Some(auth.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(forwarded.len(), 1);
    let added: Vec<String> = p
        .follower
        .ids(ConnId(1))
        .iter()
        .map(|i| i.id_str().to_string())
        .collect();
    let sent: Vec<String> = forwarded[0].iter().map(|i| i.id_str().to_string()).collect();
    let java: Vec<String> = super::auth::java_set_order(p.follower.ids(ConnId(1)))
        .into_iter()
        .map(|i| i.id_str().to_string())
        .collect();
    assert_ne!(
        added, java,
        "the ids were added in an order a Java set does not keep"
    );
    assert_eq!(sent, java);
}

fn ephemeral(path: &str) -> Request {
    Request::Create(
        OpCode::Create,
        CreateRequest {
            path: path.into(),
            data: None,
            acl: jute::records::data::Acl::open_unsafe(),
            flags: jute::codes::CreateMode::Ephemeral.code(),
        },
    )
}

#[test]
fn a_local_session_reads_and_writes_without_a_session_txn_and_closes_without_one() {
    let mut p = Pair::with_local_sessions(true, true);
    let session = p.connect(true, 1);
    let id = crate::types::SessionId(session.session_id);
    // Local: no txn, the follower's id in the top byte, unknown to the leader, not reported in PINGs.
    assert_eq!(session.session_id >> 56, 1);
    assert!(p.committed.is_empty());
    assert!(p.leader.sessions().get(id).is_none());
    assert_eq!(
        (p.follower.stats().sessions, p.follower.stats().local_sessions),
        (0, 1)
    );
    // A persistent node is written through the leader, which takes it as another member's local session.
    let (h, _) = p.send(true, 1, 1, create("/a", b"x"));
    assert_eq!((h.err, h.zxid), (0, (1 << 32) + 1));
    let (h, _) = p.send(
        true,
        1,
        2,
        Request::GetData(GetDataRequest {
            path: "/a".into(),
            watch: false,
        }),
    );
    assert_eq!(h.err, 0);
    assert!(p.follower.take_touched().is_empty());
    // closeSession: answered here with the last zxid, no txn, the session forgotten.
    let (h, _) = p.send(true, 1, 3, Request::CloseSession);
    assert_eq!((h.err, h.zxid), (0, (1 << 32) + 1));
    assert_eq!(p.committed, [(1 << 32) + 1]);
    assert_eq!(p.follower.stats().local_sessions, 0);
}

#[test]
fn an_ephemeral_create_upgrades_a_local_session_first() {
    let mut p = Pair::with_local_sessions(true, true);
    let session = p.connect(true, 1);
    let id = crate::types::SessionId(session.session_id);
    let (h, _) = p.send(true, 1, 1, ephemeral("/e"));
    // createSession, then the create.
    assert_eq!((h.err, h.zxid), (0, (1 << 32) + 2));
    assert_eq!(p.committed, [(1 << 32) + 1, (1 << 32) + 2]);
    for core in [&p.leader, &p.follower] {
        assert!(core.sessions().get(id).is_some());
        assert_eq!(core.tree().get("/e").map(|n| n.stat.ephemeral_owner), Some(id.0));
    }
    assert_eq!(
        (p.follower.stats().sessions, p.follower.stats().local_sessions),
        (1, 0)
    );
    // Global now: touches are reported, and closeSession is a txn removing the ephemeral.
    let (h, _) = p.send(
        true,
        1,
        2,
        Request::Exists(ExistsRequest {
            path: "/e".into(),
            watch: false,
        }),
    );
    assert_eq!(h.err, 0);
    assert_eq!(p.follower.take_touched().len(), 1);
    let (h, _) = p.send(true, 1, 3, Request::CloseSession);
    assert_eq!((h.err, h.zxid), (0, (1 << 32) + 3));
    assert!(p.leader.tree().get("/e").is_none());
    assert!(p.follower.tree().get("/e").is_none());
}

#[test]
fn without_upgrading_an_ephemeral_create_is_answered_ephemeral_on_local_session() {
    let mut p = Pair::with_local_sessions(true, false);
    let session = p.connect(true, 1);
    let (h, _) = p.send(true, 1, 1, ephemeral("/e"));
    assert_eq!(h.err, jute::codes::ErrorCode::EphemeralOnLocalSession.code());
    // The session stays local; the write still went to the leader, which refused an ephemeral of a session
    // that is not global (an error txn), as ZooKeeper's does.
    assert_eq!(p.follower.stats().local_sessions, 1);
    assert_eq!(p.committed, [(1 << 32) + 1]);
    assert!(p.leader.tree().get("/e").is_none());
    assert_eq!(session.session_id >> 56, 1);
    // The leader's own client gets the same answer.
    p.connect(false, 7);
    let (h, _) = p.send(false, 7, 1, ephemeral("/e"));
    assert_eq!(h.err, jute::codes::ErrorCode::EphemeralOnLocalSession.code());
    assert!(p.leader.tree().get("/e").is_none());
    assert_eq!(p.leader.stats().local_sessions, 1);
}

#[test]
fn local_sessions_expire_on_their_member_without_a_txn() {
    let mut p = Pair::with_local_sessions(true, true);
    p.connect(true, 1);
    p.connect(false, 7);
    assert_eq!(p.leader.stats().local_sessions, 1);
    let later = Now {
        wall_ms: p.now.wall_ms + 60_000,
        mono_ms: p.now.mono_ms + 60_000,
    };
    let out = p.follower.tick(later);
    assert!(matches!(out.as_slice(), [Effect::Close { conn }] if *conn == ConnId(1)));
    let out = p.leader.tick(later);
    assert!(out.iter().all(|e| !matches!(e, Effect::Persist { .. })));
    assert!(out
        .iter()
        .any(|e| matches!(e, Effect::Close { conn } if *conn == ConnId(7))));
    assert_eq!(p.follower.stats().local_sessions, 0);
    assert_eq!(p.leader.stats().local_sessions, 0);
    assert!(p.committed.is_empty());
}

#[test]
fn a_leader_with_local_sessions_refuses_only_unknown_sessions_of_its_own() {
    let mut p = Pair::with_local_sessions(true, true);
    let request = |session_id: i64| jute::quorum::ForwardedRequest {
        session_id,
        cxid: 1,
        op: OpCode::SetData.code(),
        body: jute::quorum::ForwardedBody::Client(Request::SetData(SetDataRequest {
            path: "/".into(),
            data: Some(Bytes::new()),
            version: -1,
        })),
    };
    let error_of = |out: &[Effect]| {
        out.iter().find_map(|e| match e {
            Effect::Persist { entry, .. } => {
                Some(Txn::decode(entry, usize::MAX).expect("txn").header.txn_type)
            }
            _ => None,
        })
    };
    // Another member's id in the top byte: perhaps its local session, so the write is made.
    let out = p
        .leader
        .forwarded(p.now, FOLLOWER_CONN, request(1 << 56 | 5), &[]);
    assert_eq!(error_of(&out), Some(OpCode::SetData.code()));
    // The leader's own id: it would know it, so it has expired.
    let out = p
        .leader
        .forwarded(p.now, FOLLOWER_CONN, request(3 << 56 | 5), &[]);
    assert_eq!(error_of(&out), Some(OpCode::Error.code()));
    // Without local sessions every unknown session has expired.
    let mut q = Pair::new();
    let out = q
        .leader
        .forwarded(q.now, FOLLOWER_CONN, request(1 << 56 | 5), &[]);
    assert_eq!(error_of(&out), Some(OpCode::Error.code()));
}
