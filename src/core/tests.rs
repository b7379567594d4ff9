//! Scenario tests of the core: a client's requests in, frames out, decoded and checked.

use bytes::Bytes;
use jute::codes::{perms, ErrorCode, EventType, OpCode};
use jute::records::data::{Acl, Id, Stat};
use jute::records::multi::{MultiOp, MultiRequest, MultiResponse, OpResult};
use jute::records::proto::*;
use jute::request::Request;
use jute::Decoder;

use super::{Core, CoreConfig, Effect};
use crate::types::{ConnId, Now, Zxid};

pub(super) struct Harness {
    pub(super) core: Core,
    pub(super) now: Now,
    frames: Vec<(ConnId, Bytes)>,
    pub(super) closed: Vec<ConnId>,
    pub(super) next_xid: i32,
}

impl Harness {
    pub(super) fn new() -> Harness {
        Harness::with(|_| {})
    }

    pub(super) fn with(adjust: impl FnOnce(&mut CoreConfig)) -> Harness {
        let now = Now {
            wall_ms: 1_700_000_000_000,
            mono_ms: 1000,
        };
        let mut config = CoreConfig {
            tick_time_ms: 2000,
            min_session_timeout_ms: 4000,
            max_session_timeout_ms: 40000,
            ..Default::default()
        };
        adjust(&mut config);
        Harness {
            core: Core::new(config, now),
            now,
            frames: Vec::new(),
            closed: Vec::new(),
            next_xid: 0,
        }
    }

    /// Runs effects as a runtime with an always-durable log would.
    pub(super) fn run(&mut self, effects: Vec<Effect>) {
        let mut queue = effects;
        while !queue.is_empty() {
            let mut next = Vec::new();
            for e in queue {
                match e {
                    Effect::Send { conn, frame } => self.frames.push((conn, frame)),
                    Effect::Close { conn } => self.closed.push(conn),
                    Effect::Persist { zxid, .. } => next.extend(self.core.persisted(self.now, zxid)),
                    Effect::Forward { .. } | Effect::Revalidate { .. } => {
                        panic!("a standalone core forwards nothing")
                    }
                }
            }
            queue = next;
        }
    }

    pub(super) fn connect(&mut self, conn: u64) -> ConnectResponse {
        self.connect_with(conn, 0, 30000, Bytes::from_static(&[0; 16]))
    }

    /// Connects with a session id (0: a new session), a timeout and a password.
    pub(super) fn connect_with(
        &mut self,
        conn: u64,
        session_id: i64,
        time_out: i32,
        passwd: Bytes,
    ) -> ConnectResponse {
        let req = ConnectRequest {
            session_id,
            time_out,
            passwd,
            read_only: Some(false),
            ..Default::default()
        };
        let effects = self.core.connect(self.now, ConnId(conn), "127.0.0.1", req);
        self.run(effects);
        let frame = self.take(ConnId(conn)).remove(0);
        ConnectResponse::decode(&frame[4..], 1 << 20).expect("connect response")
    }

    pub(super) fn send(&mut self, conn: u64, request: Request) -> (ReplyHeader, Vec<u8>) {
        let op = request.opcode();
        self.send_decoded(conn, op, Ok(request))
    }

    /// Sends what decoding a request body gave (a request or the decoder's error), as the network layer does.
    pub(super) fn send_decoded(
        &mut self,
        conn: u64,
        op: OpCode,
        request: Result<Request, jute::request::RequestError>,
    ) -> (ReplyHeader, Vec<u8>) {
        self.next_xid += 1;
        // A ping is answered with the ping xid whatever xid it came with.
        let expected_xid = match request {
            Ok(Request::Ping) => jute::codes::xid::PING,
            _ => self.next_xid,
        };
        let header = RequestHeader {
            xid: self.next_xid,
            op: op.code(),
        };
        let effects = self.core.request(self.now, ConnId(conn), header, request);
        self.run(effects);
        let frames = self.take(ConnId(conn));
        let last = frames.last().expect("a reply");
        let mut d = Decoder::new(&last[4..]);
        let h: ReplyHeader = d.read().expect("header");
        assert_eq!(h.xid, expected_xid);
        (h, d.remaining().to_vec())
    }

    pub(super) fn take(&mut self, conn: ConnId) -> Vec<Bytes> {
        let (mine, rest): (Vec<_>, Vec<_>) = self.frames.drain(..).partition(|(c, _)| *c == conn);
        self.frames = rest;
        mine.into_iter().map(|(_, f)| f).collect()
    }

    pub(super) fn events(&mut self, conn: u64) -> Vec<(i32, String)> {
        self.take(ConnId(conn))
            .iter()
            .map(|f| {
                let mut d = Decoder::new(&f[4..]);
                let h: ReplyHeader = d.read().expect("header");
                assert_eq!(h.xid, -1);
                let e: WatcherEvent = d.read().expect("event");
                (e.event_type, e.path)
            })
            .collect()
    }

    pub(super) fn create(&mut self, conn: u64, path: &str, flags: i32) -> (i32, String) {
        let req = CreateRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"d")),
            acl: Acl::open_unsafe(),
            flags,
        };
        let (h, body) = self.send(conn, Request::Create(OpCode::Create, req));
        let path = if h.err == 0 {
            jute::from_slice::<CreateResponse>(&body).expect("body").path
        } else {
            String::new()
        };
        (h.err, path)
    }

    pub(super) fn stat(&mut self, conn: u64, path: &str) -> Option<Stat> {
        let (h, body) = self.send(
            conn,
            Request::Exists(ExistsRequest {
                path: path.into(),
                watch: false,
            }),
        );
        (h.err == 0).then(|| jute::from_slice::<ExistsResponse>(&body).expect("stat").stat)
    }
}

#[test]
fn new_session_gets_a_clamped_timeout_and_a_java_compatible_password() {
    let mut h = Harness::new();
    let rsp = h.connect(1);
    assert_eq!(rsp.time_out, 30000);
    assert_eq!(rsp.session_id >> 56, 1);
    assert_eq!(
        rsp.passwd.as_ref(),
        super::session::password(crate::types::SessionId(rsp.session_id))
    );
    assert_eq!(rsp.read_only, Some(false));
    assert_eq!(h.core.last_zxid(), Zxid(1));
}

#[test]
fn sequential_suffix_uses_the_persisted_cversion_and_stats_follow_zookeeper() {
    let mut h = Harness::new();
    h.connect(1);
    assert_eq!(h.create(1, "/p", 0).0, 0);
    assert_eq!(h.create(1, "/p/a", 0).0, 0);
    let (h1, _) = h.send(
        1,
        Request::Delete(DeleteRequest {
            path: "/p/a".into(),
            version: -1,
        }),
    );
    assert_eq!(h1.err, 0);
    assert_eq!(h.create(1, "/p/s-", 2), (0, "/p/s-0000000001".into()));
    let stat = h.stat(1, "/p").expect("exists");
    assert_eq!(stat.cversion, 3);
    assert_eq!(stat.num_children, 1);
    assert_eq!(h.create(1, "/p", 0).0, ErrorCode::NodeExists.code());
    assert_eq!(h.create(1, "/missing/x", 0).0, ErrorCode::NoNode.code());
    assert_eq!(h.create(1, "/p/", 0).0, ErrorCode::BadArguments.code());
    assert_eq!(h.create(1, "/p/x", 9).0, ErrorCode::BadArguments.code());
}

#[test]
fn failed_writes_consume_a_zxid() {
    let mut h = Harness::new();
    h.connect(1);
    h.create(1, "/a", 0);
    let before = h.core.last_zxid();
    let req = CreateRequest {
        path: "/a".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
    };
    let (rh, body) = h.send(1, Request::Create(OpCode::Create, req));
    assert_eq!(rh.err, ErrorCode::NodeExists.code());
    assert!(body.is_empty());
    assert_eq!(rh.zxid, before.0 + 1);
}

#[test]
fn delete_checks_version_and_children_and_special_paths() {
    let mut h = Harness::new();
    h.connect(1);
    h.create(1, "/a", 0);
    h.create(1, "/a/b", 0);
    let del = |path: &str, version| {
        Request::Delete(DeleteRequest {
            path: path.into(),
            version,
        })
    };
    assert_eq!(h.send(1, del("/a", -1)).0.err, ErrorCode::NotEmpty.code());
    assert_eq!(h.send(1, del("/a/b", 3)).0.err, ErrorCode::BadVersion.code());
    assert_eq!(
        h.send(1, del("/zookeeper", -1)).0.err,
        ErrorCode::BadArguments.code()
    );
    assert_eq!(h.send(1, del("/nope", -1)).0.err, ErrorCode::NoNode.code());
    assert_eq!(h.send(1, del("/a/b", 0)).0.err, 0);
}

#[test]
fn watches_fire_before_the_reply_that_shows_the_change() {
    let mut h = Harness::new();
    h.connect(1);
    h.connect(2);
    let (rh, _) = h.send(
        2,
        Request::Exists(ExistsRequest {
            path: "/w".into(),
            watch: true,
        }),
    );
    assert_eq!(rh.err, ErrorCode::NoNode.code());
    h.create(1, "/w", 0);
    assert_eq!(
        h.events(2),
        vec![(EventType::NodeCreated.code(), "/w".to_string())]
    );
    // The writer watching its own node sees the event before its reply.
    h.send(
        1,
        Request::GetData(ExistsRequest {
            path: "/w".into(),
            watch: true,
        }),
    );
    h.next_xid += 1;
    let header = RequestHeader {
        xid: h.next_xid,
        op: OpCode::SetData.code(),
    };
    let set = SetDataRequest {
        path: "/w".into(),
        data: None,
        version: -1,
    };
    let effects = h
        .core
        .request(h.now, ConnId(1), header, Ok(Request::SetData(set)));
    h.run(effects);
    let frames = h.take(ConnId(1));
    assert_eq!(frames.len(), 2);
    let first: ReplyHeader = Decoder::new(&frames[0][4..]).read().expect("header");
    assert_eq!(first.xid, -1);
}

#[test]
fn close_session_removes_ephemerals_and_notifies_watchers() {
    let mut h = Harness::new();
    h.connect(1);
    h.connect(2);
    assert_eq!(h.create(1, "/e", 1).0, 0);
    h.send(
        2,
        Request::GetChildren(ExistsRequest {
            path: "/".into(),
            watch: true,
        }),
    );
    h.send(
        2,
        Request::Exists(ExistsRequest {
            path: "/e".into(),
            watch: true,
        }),
    );
    let (rh, _) = h.send(1, Request::CloseSession);
    assert_eq!(rh.err, 0);
    assert!(h.closed.contains(&ConnId(1)));
    let events = h.events(2);
    assert_eq!(events, vec![(2, "/e".to_string()), (4, "/".to_string())]);
    assert_eq!(h.stat(2, "/e"), None);
}

#[test]
fn sessions_expire_on_ticks_and_cannot_be_resumed() {
    let mut h = Harness::new();
    let rsp = h.connect(1);
    h.create(1, "/eph", 1);
    h.core.disconnected(h.now, ConnId(1));
    h.now.mono_ms += 60_000;
    let effects = h.core.tick(h.now);
    h.run(effects);
    h.connect(2);
    assert_eq!(h.stat(2, "/eph"), None);
    let rsp = h.connect_with(3, rsp.session_id, 30000, rsp.passwd.clone());
    assert_eq!((rsp.time_out, rsp.session_id), (0, 0));
    assert!(h.closed.contains(&ConnId(3)));
}

#[test]
fn a_negative_session_timeout_is_kept_and_expires_at_the_next_tick() {
    // tickTime=2000000000 gives ZooKeeper minSessionTimeout=-294967296 (Java int arithmetic), and a client that
    // asks for -5 ms gets -5 ms: the session is due at once, not in 2^32 - 5 ms.
    let mut h = Harness::with(|c| {
        c.min_session_timeout_ms = -294_967_296;
        c.max_session_timeout_ms = 1_345_294_336;
    });
    let rsp = h.connect_with(1, 0, -5, Bytes::from_static(&[0; 16]));
    assert_eq!(rsp.time_out, -5);
    h.create(1, "/eph", 1);
    h.now.mono_ms += 2000;
    let effects = h.core.tick(h.now);
    h.run(effects);
    h.connect(2);
    assert_eq!(h.stat(2, "/eph"), None, "the session expired at the next tick");
    // The same session read back from a log or snapshot at start.
    let restored = Core::restore(
        CoreConfig::default(),
        h.now,
        super::tree::DataTree::new(false),
        &[(crate::types::SessionId(rsp.session_id), -5)],
    );
    let session = restored
        .sessions()
        .get(crate::types::SessionId(rsp.session_id))
        .expect("restored");
    assert_eq!(session.timeout_ms, -5);
    assert!(session.expires_at_ms <= h.now.mono_ms + 2000, "{session:?}");
}

#[test]
fn resume_with_the_right_password_and_refuse_a_wrong_one() {
    let mut h = Harness::new();
    let rsp = h.connect(1);
    let resume = |passwd: Bytes| ConnectRequest {
        session_id: rsp.session_id,
        time_out: 10000,
        passwd,
        read_only: None,
        ..Default::default()
    };
    let effects = h
        .core
        .connect(h.now, ConnId(2), "127.0.0.1", resume(rsp.passwd.clone()));
    h.run(effects);
    assert!(h.closed.contains(&ConnId(1)), "the old connection is closed");
    let frame = h.take(ConnId(2)).remove(0);
    let ok = ConnectResponse::decode(&frame[4..], 1024).expect("response");
    assert_eq!(
        (ok.session_id, ok.time_out, ok.read_only),
        (rsp.session_id, 10000, None)
    );
    let effects = h.core.connect(
        h.now,
        ConnId(3),
        "127.0.0.1",
        resume(Bytes::from_static(&[1; 16])),
    );
    h.run(effects);
    let frame = h.take(ConnId(3)).remove(0);
    assert_eq!(
        ConnectResponse::decode(&frame[4..], 1024)
            .expect("response")
            .time_out,
        0
    );
}

#[test]
fn failed_multi_applies_nothing_and_reports_each_op() {
    let mut h = Harness::new();
    h.connect(1);
    h.create(1, "/m", 0);
    let create = |p: &str| {
        MultiOp::Create(
            OpCode::Create,
            CreateRequest {
                path: p.into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags: 0,
            },
        )
    };
    let ops = vec![create("/m/a"), create("/m"), create("/m/b")];
    let (rh, body) = h.send(1, Request::Multi(MultiRequest { ops }));
    assert_eq!(rh.err, 0);
    let rsp: MultiResponse = jute::from_slice(&body).expect("multi response");
    assert_eq!(
        rsp.results,
        vec![OpResult::Error(0), OpResult::Error(-110), OpResult::Error(-2)]
    );
    assert_eq!(h.stat(1, "/m/a"), None);
    let ops = vec![
        create("/m/a"),
        MultiOp::Check(CheckVersionRequest {
            path: "/m/a".into(),
            version: 0,
        }),
    ];
    let (_, body) = h.send(1, Request::Multi(MultiRequest { ops }));
    let rsp: MultiResponse = jute::from_slice(&body).expect("multi response");
    assert_eq!(
        rsp.results,
        vec![
            OpResult::Create(CreateResponse { path: "/m/a".into() }),
            OpResult::Check
        ]
    );
}

#[test]
fn acls_guard_operations_and_digest_ids_are_masked() {
    let mut h = Harness::new();
    h.connect(1);
    h.connect(2);
    let auth = AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(b"bob:pw"),
    };
    let (rh, _) = h.send(1, Request::Auth(auth));
    assert_eq!(rh.err, 0);
    let req = CreateRequest {
        path: "/s".into(),
        data: None,
        acl: Acl::creator_all(),
        flags: 0,
    };
    assert_eq!(h.send(1, Request::Create(OpCode::Create, req)).0.err, 0);
    let get = || {
        Request::GetData(ExistsRequest {
            path: "/s".into(),
            watch: false,
        })
    };
    assert_eq!(h.send(2, get()).0.err, ErrorCode::NoAuth.code());
    assert_eq!(h.send(1, get()).0.err, 0);
    let (_, body) = h.send(1, Request::GetAcl(PathRequest { path: "/s".into() }));
    let acl: GetAclResponse = jute::from_slice(&body).expect("acl");
    assert_eq!(acl.acl[0].id.id_str(), super::auth::digest_id("bob:pw"));
    let bad = Request::SetAcl(SetAclRequest {
        path: "/s".into(),
        acl: vec![Acl {
            perms: 31,
            id: Id::new("world", "x"),
        }],
        version: -1,
    });
    assert_eq!(h.send(1, bad).0.err, ErrorCode::InvalidAcl.code());
    let (_, body) = h.send(1, Request::WhoAmI);
    let who: WhoAmIResponse = jute::from_slice(&body).expect("whoami");
    assert_eq!(who.client_info.len(), 2);
}

#[test]
fn unknown_opcodes_and_top_level_check_close_the_connection() {
    let mut h = Harness::new();
    h.connect(1);
    let header = RequestHeader { xid: 5, op: 99 };
    let effects = h.core.request(
        h.now,
        ConnId(1),
        header,
        Err(jute::request::RequestError::Unimplemented(99)),
    );
    h.run(effects);
    let frame = h.take(ConnId(1)).remove(0);
    let rh: ReplyHeader = Decoder::new(&frame[4..]).read().expect("header");
    assert_eq!(
        (rh.xid, rh.zxid, rh.err),
        (5, -1, ErrorCode::Unimplemented.code())
    );
    assert!(h.closed.contains(&ConnId(1)));
}

#[test]
fn persistent_recursive_watches_see_every_descendant() {
    let mut h = Harness::new();
    h.connect(1);
    h.connect(2);
    let (rh, body) = h.send(
        2,
        Request::AddWatch(AddWatchRequest {
            path: "/r".into(),
            mode: 1,
        }),
    );
    assert_eq!((rh.err, body), (0, vec![0, 0, 0, 0]));
    h.create(1, "/r", 0);
    h.create(1, "/r/a", 0);
    assert_eq!(h.events(2), vec![(1, "/r".to_string()), (1, "/r/a".to_string())]);
}

#[test]
fn reads_wait_for_earlier_writes_of_their_session() {
    let mut h = Harness::new();
    h.connect(1);
    // Submit a create and a getData without making the create durable yet.
    let create = CreateRequest {
        path: "/q".into(),
        data: Some(Bytes::from_static(b"v")),
        acl: Acl::open_unsafe(),
        flags: 0,
    };
    let e1 = h.core.request(
        h.now,
        ConnId(1),
        RequestHeader { xid: 1, op: 1 },
        Ok(Request::Create(OpCode::Create, create)),
    );
    let e2 = h.core.request(
        h.now,
        ConnId(1),
        RequestHeader { xid: 2, op: 4 },
        Ok(Request::GetData(ExistsRequest {
            path: "/q".into(),
            watch: false,
        })),
    );
    assert!(e2.is_empty(), "the read waits");
    let zxid = e1
        .iter()
        .find_map(|e| match e {
            Effect::Persist { zxid, .. } => Some(*zxid),
            _ => None,
        })
        .expect("persist");
    let effects = h.core.persisted(h.now, zxid);
    h.run(effects);
    let frames = h.take(ConnId(1));
    let xids: Vec<i32> = frames
        .iter()
        .map(|f| Decoder::new(&f[4..]).read::<ReplyHeader>().expect("h").xid)
        .collect();
    assert_eq!(xids, vec![1, 2]);
    let mut d = Decoder::new(&frames[1][4..]);
    let rh: ReplyHeader = d.read().expect("header");
    assert_eq!(rh.err, 0);
}

#[test]
fn empty_containers_that_had_children_are_deleted_by_the_manager() {
    let mut h = Harness::new();
    h.connect(1);
    let req = CreateRequest {
        path: "/c".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 4,
    };
    let (rh, _) = h.send(1, Request::Create(OpCode::CreateContainer, req));
    assert_eq!(rh.err, 0);
    h.create(1, "/c/x", 0);
    h.send(
        1,
        Request::Delete(DeleteRequest {
            path: "/c/x".into(),
            version: -1,
        }),
    );
    let never = CreateRequest {
        path: "/never".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 4,
    };
    h.send(1, Request::Create(OpCode::CreateContainer, never));
    assert!(h.stat(1, "/c").is_some());
    h.now.mono_ms += 61_000;
    h.now.wall_ms += 61_000;
    // keep the session alive across the jump
    h.send(1, Request::Ping);
    let effects = h.core.tick(h.now);
    h.run(effects);
    assert_eq!(h.stat(1, "/c"), None);
    assert!(
        h.stat(1, "/never").is_some(),
        "a container that never had a child stays"
    );
}

#[test]
fn sasl_without_a_configured_mechanism_answers_a_null_token_out_of_band() {
    let mut h = Harness::new();
    h.connect(1);
    let (rh, body) = h.send(
        1,
        Request::Sasl(GetSaslRequest {
            token: Some(Bytes::from_static(b"abc")),
        }),
    );
    assert_eq!((rh.zxid, rh.err, body), (0, 0, vec![0xff, 0xff, 0xff, 0xff]));
}

#[test]
fn the_config_node_has_empty_data_and_aversion_minus_one() {
    let mut h = Harness::new();
    h.connect(1);
    let (rh, body) = h.send(
        1,
        Request::GetData(ExistsRequest {
            path: "/zookeeper/config".into(),
            watch: false,
        }),
    );
    assert_eq!(rh.err, 0);
    let rsp: GetDataResponse = jute::from_slice(&body).expect("data");
    assert_eq!(rsp.data, Some(Bytes::new()));
    assert_eq!(rsp.stat.aversion, -1);
    let (_, body) = h.send(
        1,
        Request::GetAcl(PathRequest {
            path: "/zookeeper".into(),
        }),
    );
    let acl: GetAclResponse = jute::from_slice(&body).expect("acl");
    assert_eq!((acl.stat.cversion, acl.stat.num_children), (-2, 2));
}

#[test]
fn malformed_multi_requests_are_marshalling_errors_as_in_zookeeper() {
    let mut h = Harness::new();
    h.connect(1);
    let read = MultiOp::GetData(ExistsRequest {
        path: "/".into(),
        watch: false,
    });
    let write = MultiOp::Delete(DeleteRequest {
        path: "/x".into(),
        version: -1,
    });
    let before = h.core.last_zxid().0;
    let (rh, body) = h.send(
        1,
        Request::Multi(MultiRequest {
            ops: vec![read.clone()],
        }),
    );
    assert_eq!(
        (rh.err, rh.zxid, body.len()),
        (-5, before + 1, 0),
        "a write multi with a read consumes a zxid"
    );
    let mixed = Request::MultiRead(MultiRequest {
        ops: vec![read, write.clone()],
    });
    let (rh, body) = h.send(1, mixed);
    assert_eq!(
        (rh.err, body.len()),
        (-5, 0),
        "mixed kinds fail to decode: no body"
    );
    let (rh, body) = h.send(1, Request::MultiRead(MultiRequest { ops: vec![write] }));
    let empty_results = vec![0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff];
    assert_eq!(
        (rh.err, body),
        (-5, empty_results),
        "only writes: an empty result list follows the error"
    );
    let (rh, _) = h.send(
        1,
        Request::CheckWatches(CheckWatchesRequest {
            path: "/".into(),
            watcher_type: 9,
        }),
    );
    assert_eq!(rh.err, -5);
}

#[test]
fn quota_usage_is_tracked_and_hard_limits_refuse_writes_when_enforced() {
    let mut h = Harness::new();
    h.core.config.enforce_quota = true;
    h.connect(1);
    h.create(1, "/q", 0);
    h.create(1, "/zookeeper/quota/q", 0);
    let limits = CreateRequest {
        path: "/zookeeper/quota/q/zookeeper_limits".into(),
        data: Some(Bytes::from_static(b"count=-1,bytes=-1=;countHardLimit=3")),
        acl: Acl::open_unsafe(),
        flags: 0,
    };
    assert_eq!(h.send(1, Request::Create(OpCode::Create, limits)).0.err, 0);
    let stats = CreateRequest {
        path: "/zookeeper/quota/q/zookeeper_stats".into(),
        data: Some(Bytes::from_static(b"count=0,bytes=0")),
        acl: Acl::open_unsafe(),
        flags: 0,
    };
    assert_eq!(h.send(1, Request::Create(OpCode::Create, stats)).0.err, 0);
    assert_eq!(h.create(1, "/q/a", 0).0, 0);
    assert_eq!(h.create(1, "/q/b", 0).0, 0);
    assert_eq!(h.create(1, "/q/c", 0).0, ErrorCode::QuotaExceeded.code());
    let get = Request::GetData(ExistsRequest {
        path: "/zookeeper/quota/q/zookeeper_stats".into(),
        watch: false,
    });
    let (_, body) = h.send(1, get);
    let rsp: GetDataResponse = jute::from_slice(&body).expect("stats");
    assert_eq!(rsp.data.as_deref(), Some(&b"count=3,bytes=3"[..]));
    assert_eq!(rsp.stat.version, 0, "usage updates do not bump the version");
}

#[test]
fn notifications_go_only_to_connections_that_may_read_the_node() {
    let mut h = Harness::new();
    h.connect(1);
    h.connect(2);
    let auth = AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(b"bob:pw"),
    };
    h.send(1, Request::Auth(auth));
    let req = CreateRequest {
        path: "/private".into(),
        data: None,
        acl: Acl::creator_all(),
        flags: 0,
    };
    assert_eq!(h.send(1, Request::Create(OpCode::Create, req)).0.err, 0);
    // Connection 2 cannot read /private, so its exists watch is silent when the node goes.
    let (rh, _) = h.send(
        2,
        Request::Exists(ExistsRequest {
            path: "/private".into(),
            watch: true,
        }),
    );
    assert_eq!(rh.err, ErrorCode::NoAuth.code());
    // addWatch checks no ACL, so connection 2 holds a watch it may not be told about.
    let watch = |path: &str| {
        Request::AddWatch(AddWatchRequest {
            path: path.into(),
            mode: 0,
        })
    };
    h.send(2, watch("/private"));
    h.send(
        2,
        Request::GetChildren(ExistsRequest {
            path: "/".into(),
            watch: true,
        }),
    );
    h.send(1, watch("/private"));
    h.next_xid += 1;
    let header = RequestHeader {
        xid: h.next_xid,
        op: OpCode::Delete.code(),
    };
    let delete = Request::Delete(DeleteRequest {
        path: "/private".into(),
        version: -1,
    });
    let effects = h.core.request(h.now, ConnId(1), header, Ok(delete));
    h.run(effects);
    assert_eq!(
        h.events(2),
        vec![(EventType::NodeChildrenChanged.code(), "/".to_string())]
    );
    assert_eq!(
        h.take(ConnId(1)).len(),
        2,
        "the owner sees NodeDeleted, then the reply"
    );
}

#[test]
fn create_ttl_needs_a_ttl_mode() {
    let mut h = Harness::with(|c| c.extended_types = true);
    h.connect(1);
    let ttl = |flags, ttl| {
        Request::CreateTtl(CreateTtlRequest {
            path: "/t".into(),
            data: None,
            acl: Acl::open_unsafe(),
            flags,
            ttl,
        })
    };
    assert_eq!(h.send(1, ttl(0, -1)).0.err, ErrorCode::BadArguments.code());
    assert_eq!(h.send(1, ttl(5, 0)).0.err, ErrorCode::BadArguments.code());
    assert_eq!(h.send(1, ttl(5, 1000)).0.err, 0);
    assert_eq!(h.stat(1, "/t").map(|s| s.ephemeral_owner), Some(0));
}

#[test]
fn sync_echoes_a_null_path_and_a_null_read_path_is_a_marshalling_error() {
    let mut h = Harness::new();
    h.connect(1);
    let (rh, body) = h.send(1, Request::Sync(SyncRequest { path: None }));
    assert_eq!((rh.err, body), (0, vec![0xff, 0xff, 0xff, 0xff]));
    let null_path = [0xff, 0xff, 0xff, 0xff, 0];
    let decoded = Request::decode(OpCode::GetData.code(), &null_path, 1024);
    assert!(matches!(
        decoded,
        Err(jute::request::RequestError::Marshalling { .. })
    ));
}

#[test]
fn create_ops_in_a_multi_run_as_their_flags_say() {
    let mut h = Harness::new();
    h.connect(1);
    let op = |code, path: &str, flags| {
        MultiOp::Create(
            code,
            CreateRequest {
                path: path.into(),
                data: None,
                acl: Acl::open_unsafe(),
                flags,
            },
        )
    };
    let ttl_as_plain = MultiOp::CreateTtl(CreateTtlRequest {
        path: "/t".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
        ttl: 1000,
    });
    let ops = vec![
        op(OpCode::Create2, "/a", 0),
        op(OpCode::Create, "/c", 4),
        ttl_as_plain,
    ];
    let (rh, body) = h.send(1, Request::Multi(MultiRequest { ops }));
    assert_eq!(rh.err, 0);
    let rsp: MultiResponse = jute::from_slice(&body).expect("multi");
    assert!(
        matches!(&rsp.results[0], OpResult::Create2(r) if r.path == "/a" && r.stat.czxid == rh.zxid),
        "create2 answers with its stat"
    );
    assert!(
        matches!(&rsp.results[1], OpResult::Create2(_)),
        "container flags run as createContainer"
    );
    assert!(
        matches!(&rsp.results[2], OpResult::Create(r) if r.path == "/t"),
        "a non-TTL createTTL is a create"
    );
}

#[test]
fn a_null_acl_id_in_a_multi_fails_the_whole_request_without_results() {
    let mut h = Harness::new();
    h.connect(1);
    let op = |path: &str, acl: Vec<Acl>| {
        MultiOp::Create(
            OpCode::Create,
            CreateRequest {
                path: path.into(),
                data: None,
                acl,
                flags: 0,
            },
        )
    };
    let null_world = vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "world".into(),
            id: None,
        },
    }];
    let ops = vec![op("/a", Acl::open_unsafe()), op("/b", null_world.clone())];
    let (rh, body) = h.send(1, Request::Multi(MultiRequest { ops }));
    assert_eq!(rh.err, ErrorCode::MarshallingError.code());
    assert!(body.is_empty(), "no per-op results");
    assert_eq!(h.stat(1, "/a"), None, "the earlier op is not applied");
    // After an earlier failure the op is never prepared, so the per-op results stand.
    let ops = vec![op("/x/y", Acl::open_unsafe()), op("/b", null_world)];
    let (rh, body) = h.send(1, Request::Multi(MultiRequest { ops }));
    assert_eq!(rh.err, 0);
    let rsp: MultiResponse = jute::from_slice(&body).expect("multi");
    assert_eq!(rsp.results, vec![OpResult::Error(-101), OpResult::Error(-2)]);
    assert_eq!(h.create(1, "/a", 0).0, 0, "nothing pending is left behind");
}

#[test]
fn a_sasl_request_with_a_null_token_closes_the_connection_without_a_reply() {
    let mut h = Harness::new();
    h.connect(1);
    h.next_xid += 1;
    let header = RequestHeader {
        xid: h.next_xid,
        op: OpCode::Sasl.code(),
    };
    let request = Request::Sasl(GetSaslRequest { token: None });
    let now = h.now;
    let effects = h.core.request(now, ConnId(1), header, Ok(request));
    h.run(effects);
    assert!(h.take(ConnId(1)).is_empty(), "no reply");
    assert_eq!(h.closed, vec![ConnId(1)]);
}

#[test]
fn the_core_counts_change_records_watchers_namespaces_and_expiry() {
    let mut h = Harness::new();
    h.connect(1);
    h.connect(2);
    h.send(
        2,
        Request::Exists(ExistsRequest {
            path: "/app".into(),
            watch: true,
        }),
    );
    assert_eq!(h.create(1, "/app", 0).0, 0);
    let counts = h.core.event_counts();
    // a create records the node and its parent
    assert_eq!((counts.changes_queued, counts.changes_removed), (2, 2));
    let mut watchers = Vec::new();
    h.core.take_watch_counts(&mut watchers);
    assert_eq!(watchers, vec![(EventType::NodeCreated, 1)]);
    h.stat(2, "/app");
    let mut seen = Vec::new();
    h.core
        .drain_namespace_events(|ns, write, _| seen.push((ns.to_string(), write)));
    assert!(seen.contains(&("app".to_string(), true)), "{seen:?}");
    assert!(seen.contains(&("app".to_string(), false)), "{seen:?}");
    h.core.drain_namespace_events(|_, _, _| panic!("drained already"));

    h.core.disconnected(h.now, ConnId(2));
    h.now.mono_ms += 60_000;
    let effects = h.core.tick(h.now);
    h.run(effects);
    assert_eq!(h.core.event_counts().sessions_expired, 2);
}

/// The body of a multi with one create op (opcode 1, path "/n", null data), its ACL list and flags as given.
fn multi_create_body(acl: Option<&[u8]>, flags: i32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&1i32.to_be_bytes()); // MultiHeader: create, not done, err -1
    body.push(0);
    body.extend_from_slice(&(-1i32).to_be_bytes());
    body.extend_from_slice(&2i32.to_be_bytes());
    body.extend_from_slice(b"/n");
    body.extend_from_slice(&(-1i32).to_be_bytes()); // null data
    match acl {
        Some(vector) => body.extend_from_slice(vector),
        None => body.extend_from_slice(&(-1i32).to_be_bytes()),
    }
    body.extend_from_slice(&flags.to_be_bytes());
    body.extend_from_slice(&(-1i32).to_be_bytes()); // the terminator
    body.push(1);
    body.extend_from_slice(&(-1i32).to_be_bytes());
    body
}

#[test]
fn a_multi_create_with_a_null_acl_list_fails_before_taking_a_zxid() {
    let mut h = Harness::new();
    h.connect(1);
    let decode = |body: &[u8]| Request::decode(OpCode::Multi.code(), body, 1 << 20);
    let before = h.core.last_zxid().0;
    let (rh, body) = h.send_decoded(1, OpCode::Multi, decode(&multi_create_body(None, 0)));
    assert_eq!((rh.err, rh.zxid, body.len()), (-5, before, 0), "null ACL list");
    // world:anyone, all perms
    let mut open = Vec::new();
    open.extend_from_slice(&1i32.to_be_bytes());
    open.extend_from_slice(&31i32.to_be_bytes());
    for text in ["world", "anyone"] {
        open.extend_from_slice(&(text.len() as i32).to_be_bytes());
        open.extend_from_slice(text.as_bytes());
    }
    let (rh, _) = h.send_decoded(1, OpCode::Multi, decode(&multi_create_body(Some(&open), 9)));
    assert_eq!(
        (rh.err, rh.zxid),
        (-5, before + 1),
        "flags of no mode: an error txn"
    );
    let (rh, body) = h.send_decoded(1, OpCode::Multi, decode(&multi_create_body(Some(&open), 0)));
    let rsp: MultiResponse = jute::from_slice(&body).expect("multi");
    assert_eq!((rh.err, rh.zxid), (0, before + 2));
    assert!(matches!(&rsp.results[0], OpResult::Create(r) if r.path == "/n"));
}
