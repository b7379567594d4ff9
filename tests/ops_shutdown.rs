//! SIGTERM and SIGINT stop `ferrokeeper start` cleanly: the process exits 0, every write it acknowledged before
//! the signal is on disk (the fsync in flight is finished, not dropped), the client port is closed, and a session
//! resumes on a quick restart from the same zoo.cfg with its ephemeral nodes, as on Apache ZooKeeper (sessions
//! live in the txn log; the restarted server gives them a fresh timeout).

mod common;

use common::{frame, read_frame_blocking as read_frame};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use jute::records::data::{Acl, Id};
use jute::records::proto::{ConnectRequest, CreateRequest, ExistsRequest, RequestHeader};

const OK: i32 = 0;
const NO_NODE: i32 = -101;
const EPHEMERAL: i32 = 1;

/// A started `ferrokeeper start <zoo.cfg>` and the client address it printed.
struct Started {
    child: Child,
    client: SocketAddr,
}

fn start(cfg: &Path) -> Started {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .arg("start")
        .arg(cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ferrokeeper");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the start line");
    // "ferrokeeper <version> listening on 127.0.0.1:<port>, data directory ..."
    let client = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Started { child, client }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} failed");
}

/// A session over a blocking socket: (stream, session id, password, negotiated timeout).
fn connect(addr: SocketAddr, session: i64, passwd: &[u8]) -> (TcpStream, i64, Vec<u8>, i32) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        time_out: 30_000,
        session_id: session,
        passwd: Bytes::copy_from_slice(passwd),
        read_only: Some(false),
    };
    stream
        .write_all(&frame(&request.encode().expect("encode")))
        .expect("send ConnectRequest");
    let reply = read_frame(&mut stream).expect("ConnectResponse");
    let time_out = i32::from_be_bytes(reply[4..8].try_into().expect("timeout"));
    let id = i64::from_be_bytes(reply[8..16].try_into().expect("session"));
    let len = i32::from_be_bytes(reply[16..20].try_into().expect("passwd length")) as usize;
    (stream, id, reply[20..20 + len].to_vec(), time_out)
}

fn request(xid: i32, op: i32, body: Vec<u8>) -> Vec<u8> {
    let mut payload = jute::to_bytes(&RequestHeader { xid, op }).expect("header");
    payload.extend(body);
    frame(&payload)
}

fn create(xid: i32, path: &str, flags: i32) -> Vec<u8> {
    let acl = vec![Acl {
        perms: 31,
        id: Id {
            scheme: "world".into(),
            id: Some("anyone".into()),
        },
    }];
    let body = CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"v")),
        acl,
        flags,
    };
    request(xid, 1, jute::to_bytes(&body).expect("create"))
}

/// The error code of exists(path).
fn exists(stream: &mut TcpStream, xid: i32, path: &str) -> i32 {
    let body = ExistsRequest {
        path: path.into(),
        watch: false,
    };
    stream
        .write_all(&request(xid, 3, jute::to_bytes(&body).expect("exists")))
        .expect("send exists");
    loop {
        let reply = read_frame(stream).expect("exists reply");
        if i32::from_be_bytes(reply[..4].try_into().expect("xid")) == xid {
            return i32::from_be_bytes(reply[12..16].try_into().expect("err"));
        }
    }
}

/// Pipelines `count` creates, signals the server while they are in flight, and returns the paths whose creates
/// were acknowledged before the connection closed.
fn writes_then_signal(server: &Started, stream: &mut TcpStream, count: i32, sig: &str) -> Vec<String> {
    let mut burst = Vec::new();
    for i in 0..count {
        burst.extend(create(100 + i, &format!("/burst-{i}"), 0));
    }
    stream.write_all(&burst).expect("send the burst");
    // Wait for the first answer so that the burst is being processed, then signal.
    let mut acked = Vec::new();
    let first = read_frame(stream).expect("first reply");
    let mut replies = vec![first];
    signal(&server.child, sig);
    while let Some(reply) = read_frame(stream) {
        replies.push(reply);
    }
    for reply in replies {
        let xid = i32::from_be_bytes(reply[..4].try_into().expect("xid"));
        let err = i32::from_be_bytes(reply[12..16].try_into().expect("err"));
        if (100..100 + count).contains(&xid) && err == OK {
            acked.push(format!("/burst-{}", xid - 100));
        }
    }
    acked
}

fn clean_stop_keeps_acknowledged_writes_and_sessions(sig: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::write_zoo_cfg(dir.path(), 0);
    let mut server = start(&cfg);
    let (mut stream, session, passwd, _) = connect(server.client, 0, &[0; 16]);
    assert_ne!(session, 0);
    stream.write_all(&create(1, "/eph", EPHEMERAL)).expect("send");
    let reply = read_frame(&mut stream).expect("create reply");
    assert_eq!(i32::from_be_bytes(reply[12..16].try_into().expect("err")), OK);

    let acked = writes_then_signal(&server, &mut stream, 500, sig);
    assert!(!acked.is_empty(), "the first create of the burst was answered");
    let status = server.child.wait().expect("wait");
    assert!(status.success(), "ferrokeeper exited with {status} on SIG{sig}");
    assert!(
        TcpStream::connect(server.client).is_err(),
        "the client port still accepts after the process ended"
    );

    // A quick restart from the same zoo.cfg: the session resumes with its password and keeps its ephemeral.
    let restarted = start(&cfg);
    let (mut stream, resumed, _, time_out) = connect(restarted.client, session, &passwd);
    assert_eq!(resumed, session, "the session did not survive the restart");
    assert!(time_out > 0, "the session was reported expired");
    assert_eq!(exists(&mut stream, 1, "/eph"), OK, "the ephemeral is gone");
    for (i, path) in acked.iter().enumerate() {
        assert_eq!(
            exists(&mut stream, 2 + i as i32, path),
            OK,
            "{path} was acknowledged before SIG{sig} but is lost"
        );
    }
    assert_eq!(exists(&mut stream, 9999, "/never-created"), NO_NODE);
    drop(stream);
    let mut restarted = restarted;
    signal(&restarted.child, "TERM");
    assert!(restarted.child.wait().expect("wait").success());
}

#[test]
fn sigterm_stops_cleanly_and_sessions_survive_a_restart() {
    clean_stop_keeps_acknowledged_writes_and_sessions("TERM");
}

#[test]
fn sigint_stops_cleanly_and_sessions_survive_a_restart() {
    clean_stop_keeps_acknowledged_writes_and_sessions("INT");
}
