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
        let now = Now {
            wall_ms: 1_700_000_000_000,
            mono_ms: 1000,
        };
        let config = |id| CoreConfig {
            server_id: id,
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
