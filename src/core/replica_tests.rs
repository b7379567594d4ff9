//! A leader's core and a follower's core wired as the runtime wires them through ZAB (every proposal committed
//! at once): a client of the follower creates its session, writes, syncs and reads through the leader, and the
//! leader's clients see the follower's writes and their watches fire.

use bytes::Bytes;
use jute::codes::{EventType, OpCode};
use jute::records::proto::*;
use jute::request::Request;
use jute::Decoder;

use super::txn::Txn;
use super::{Core, CoreConfig, Effect, Role};
use crate::types::{ConnId, Now};

struct Pair {
    leader: Core,
    follower: Core,
    now: Now,
    /// Frames sent to clients: (on the follower?, conn, frame).
    frames: Vec<(bool, ConnId, Bytes)>,
    committed: Vec<i64>,
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
        }
    }

    /// Runs effects: forwards go to the leader, the leader's txns commit at once on both cores in order.
    fn run(&mut self, on_follower: bool, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send { conn, frame } => self.frames.push((on_follower, conn, frame)),
                Effect::Close { .. } => {}
                Effect::Forward { request, auth } => {
                    assert!(on_follower, "only the follower forwards");
                    if request.op == OpCode::Sync.code() {
                        // Nothing outstanding: the leader answers SYNC at once.
                        let out = self.follower.synced();
                        self.run(true, out);
                    } else {
                        let out = self.leader.forwarded(self.now, request, &auth);
                        self.run(false, out);
                    }
                }
                Effect::Revalidate { session } => {
                    assert!(on_follower, "only the follower revalidates");
                    let valid = self.leader.revalidate(self.now, session);
                    let out = self.follower.revalidated(self.now, session.session_id, valid);
                    self.run(true, out);
                }
                Effect::Persist { zxid, entry } => {
                    assert!(!on_follower, "a follower prepares nothing");
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
    let out = p.leader.forwarded(p.now, request(1 << 56 | 5), &[]);
    assert_eq!(error_of(&out), Some(OpCode::SetData.code()));
    // The leader's own id: it would know it, so it has expired.
    let out = p.leader.forwarded(p.now, request(3 << 56 | 5), &[]);
    assert_eq!(error_of(&out), Some(OpCode::Error.code()));
    // Without local sessions every unknown session has expired.
    let mut q = Pair::new();
    let out = q.leader.forwarded(q.now, request(1 << 56 | 5), &[]);
    assert_eq!(error_of(&out), Some(OpCode::Error.code()));
}
