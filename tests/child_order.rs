//! getChildren's order against Apache ZooKeeper 3.8.0 (Debian's, started from its jars as compat-tests does):
//! the same create and delete history on both servers, then every parent's child list compared as it comes off
//! the wire, while serving, after a restart from each server's data directory (the log replayed), after a
//! second one (the start-up snapshot loaded), and with ferrokeeper started on a copy of ZooKeeper's directory.
//! The history has thousands of children under one parent (the table doubles up to 4096 buckets), deletes and
//! re-creates, a parent emptied and refilled (the table never shrinks), non-ASCII names, names whose hashes
//! collide (9 in one bucket of a small table, which doubles it; dozens in a large one, which Java keeps as a
//! tree), and sequential nodes. Without java and Debian's jars the test fails, saying what to install.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{connect_frame, frame, read_frame_blocking as read_frame, write_zoo_cfg};
use jute::records::data::Acl;
use jute::records::proto::{CreateRequest, DeleteRequest, ExistsRequest, GetChildrenResponse, RequestHeader};

const JAVA_DIR: &str = "/usr/share/java";
const JARS: [&str; 6] = [
    "zookeeper.jar",
    "netty-codec.jar",
    "netty-resolver.jar",
    "servlet-api.jar",
    "slf4j-log4j12.jar",
    "log4j-1.2.jar",
];
/// The loopback ports of one comparison: Apache ZooKeeper's, then ferrokeeper's.
#[derive(Clone, Copy)]
struct Ports {
    zookeeper: u16,
    ferrokeeper: u16,
}

/// A server process, stopped (TERM, then KILL) when dropped.
struct Server {
    child: Child,
}

impl Server {
    fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.halt();
        }
    }
}

fn start_zookeeper(dir: &Path, ports: Ports) -> Server {
    let cfg = write_zoo_cfg(dir, ports.zookeeper);
    let classpath: Vec<String> = JARS.iter().map(|j| format!("{JAVA_DIR}/{j}")).collect();
    let log = std::fs::File::create(dir.join("zookeeper.log")).expect("log");
    let child = Command::new("java")
        .arg("-Xmx256m")
        .arg("-cp")
        .arg(classpath.join(":"))
        .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
        .arg("-Dzookeeper.root.logger=INFO,CONSOLE")
        .arg("-Dlog4j.configuration=file:/etc/zookeeper/conf/log4j.properties")
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(&cfg)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start java");
    Server { child }
}

fn start_ferrokeeper(dir: &Path, ports: Ports) -> Server {
    let cfg = write_zoo_cfg(dir, ports.ferrokeeper);
    let child = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .arg("start")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferrokeeper");
    Server { child }
}

/// A session over raw frames, one request at a time.
struct Client {
    stream: TcpStream,
    xid: i32,
}

impl Client {
    /// Connects once the server serves (within 60 s).
    fn connect(port: u16) -> Client {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(c) = Client::try_connect(addr) {
                return c;
            }
            assert!(Instant::now() < deadline, "no server on {addr}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn try_connect(addr: SocketAddr) -> Option<Client> {
        let mut stream = TcpStream::connect(addr).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
        stream.write_all(&connect_frame(30_000)).ok()?;
        let reply = read_frame(&mut stream)?;
        (reply.len() >= 16 && reply[8..16] != [0; 8]).then_some(Client { stream, xid: 0 })
    }

    /// Sends one request; returns the error code and the body of its reply.
    fn call(&mut self, op: i32, body: &[u8]) -> (i32, Vec<u8>) {
        self.xid += 1;
        let mut payload = jute::to_bytes(&RequestHeader { xid: self.xid, op }).expect("header");
        payload.extend_from_slice(body);
        self.stream.write_all(&frame(&payload)).expect("write");
        loop {
            let reply = read_frame(&mut self.stream).expect("reply");
            if i32::from_be_bytes(reply[..4].try_into().expect("xid")) == self.xid {
                let err = i32::from_be_bytes(reply[12..16].try_into().expect("err"));
                return (err, reply[16..].to_vec());
            }
        }
    }

    fn create(&mut self, path: &str, flags: i32) {
        let request = CreateRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"x")),
            acl: Acl::open_unsafe(),
            flags,
        };
        let (err, _) = self.call(1, &jute::to_bytes(&request).expect("encode"));
        assert_eq!(err, 0, "create {path}");
    }

    fn delete(&mut self, path: &str) {
        let request = DeleteRequest {
            path: path.into(),
            version: -1,
        };
        let (err, _) = self.call(2, &jute::to_bytes(&request).expect("encode"));
        assert_eq!(err, 0, "delete {path}");
    }

    fn children(&mut self, path: &str) -> Vec<String> {
        let request = ExistsRequest {
            path: path.into(),
            watch: false,
        };
        let (err, body) = self.call(8, &jute::to_bytes(&request).expect("encode"));
        assert_eq!(err, 0, "getChildren {path}");
        jute::from_slice::<GetChildrenResponse>(&body)
            .expect("children")
            .children
    }
}

/// `n` distinct names that all share one `String.hashCode`, from blocks of "Aa" and "BB".
fn colliding(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            (0..8)
                .map(|bit| if i >> bit & 1 == 1 { "Aa" } else { "BB" })
                .collect()
        })
        .collect()
}

/// The same history, applied to one server.
fn history(c: &mut Client) {
    history_with(c, 9);
}

/// [`history`] with `collisions` names sharing one hash under `/mixed`.
fn history_with(c: &mut Client, collisions: usize) {
    for parent in ["/wide", "/mixed", "/emptied", "/few"] {
        c.create(parent, 0);
    }
    for i in 0..3000 {
        c.create(&format!("/wide/c{i}"), 0);
    }
    for i in (0..3000).step_by(3) {
        c.delete(&format!("/wide/c{i}"));
    }
    for i in (0..1500).step_by(6) {
        c.create(&format!("/wide/c{i}"), 0);
        c.create(&format!("/wide/d{i}"), 0);
    }
    for i in 0..40 {
        c.create(&format!("/mixed/é{i}"), 0);
        c.create(&format!("/mixed/日本{i}"), 0);
        c.create("/mixed/s-", 2);
    }
    for name in colliding(collisions) {
        c.create(&format!("/few/{name}"), 0);
    }
    for i in 0..100 {
        c.create(&format!("/emptied/e{i}"), 0);
    }
    for i in 0..100 {
        c.delete(&format!("/emptied/e{i}"));
    }
    for i in (0..100).step_by(17) {
        c.create(&format!("/emptied/e{i}"), 0);
    }
    for name in ["zeta", "alpha", "mu", "b", "a"] {
        c.create(&format!("/few/{name}"), 0);
    }
}

const PARENTS: [&str; 6] = ["/", "/zookeeper", "/wide", "/mixed", "/emptied", "/few"];

fn lists(port: u16) -> Vec<(String, Vec<String>)> {
    let mut c = Client::connect(port);
    PARENTS.iter().map(|p| (p.to_string(), c.children(p))).collect()
}

fn assert_same(when: &str, zookeeper: &[(String, Vec<String>)], ferrokeeper: &[(String, Vec<String>)]) {
    for ((path, want), (_, got)) in zookeeper.iter().zip(ferrokeeper) {
        let first = want.iter().zip(got).position(|(a, b)| a != b);
        assert!(
            want == got,
            "{when}: children of {path} differ (first at index {first:?}; {} vs {} children)\n\
             zookeeper:   {:?}\nferrokeeper: {:?}",
            want.len(),
            got.len(),
            &want[..want.len().min(40)],
            &got[..got.len().min(40)],
        );
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

#[test]
fn children_come_in_apache_zookeepers_order_while_serving_and_after_restarts() {
    let ports = Ports {
        zookeeper: 24710,
        ferrokeeper: 24711,
    };
    compare(ports, history);
}

/// Java turns a bucket of 9 or more names in a table of 64 or more buckets into a red-black tree, which lists
/// them in an order of its own, and back into a list when it gets small.
#[test]
fn colliding_names_in_a_large_table_come_in_apache_zookeepers_order() {
    let ports = Ports {
        zookeeper: 24712,
        ferrokeeper: 24713,
    };
    compare(ports, |c| {
        history_with(c, 0);
        for i in 0..60 {
            c.create(&format!("/few/pad{i}"), 0);
        }
        let names = colliding(40);
        for name in &names {
            c.create(&format!("/few/{name}"), 0);
        }
        for name in names.iter().step_by(3) {
            c.delete(&format!("/few/{name}"));
        }
    });
}

/// Runs `history` on both servers and compares the child lists while serving, after restarts and from a copy
/// of ZooKeeper's data directory.
fn compare(ports: Ports, history: impl Fn(&mut Client)) {
    let java_ok = Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    let jars_ok = JARS.iter().all(|j| Path::new(JAVA_DIR).join(j).exists());
    assert!(
        java_ok && jars_ok,
        "java and Debian's ZooKeeper jars are needed: run compat-tests/install.sh"
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let (zk_dir, fk_dir) = (tmp.path().join("zookeeper"), tmp.path().join("ferrokeeper"));

    let zk = start_zookeeper(&zk_dir, ports);
    let fk = start_ferrokeeper(&fk_dir, ports);
    history(&mut Client::connect(ports.zookeeper));
    history(&mut Client::connect(ports.ferrokeeper));
    let serving = lists(ports.zookeeper);
    assert!(serving[2].1.len() > 2000, "the wide parent is wide");
    assert_same("while serving", &serving, &lists(ports.ferrokeeper));
    zk.stop();
    fk.stop();

    // The first restart replays the log; it takes a snapshot, which the second restart loads.
    for when in ["after a restart", "after a second restart"] {
        let zk = start_zookeeper(&zk_dir, ports);
        let fk = start_ferrokeeper(&fk_dir, ports);
        let theirs = lists(ports.zookeeper);
        assert_same(when, &theirs, &lists(ports.ferrokeeper));
        zk.stop();
        fk.stop();
    }

    // ferrokeeper on ZooKeeper's own data directory, as ZooKeeper finds it (each start writes a snapshot that
    // the next one loads, so the copy is taken before ZooKeeper starts on it).
    let copy = tmp.path().join("copy");
    copy_dir(&zk_dir.join("data"), &copy.join("data"));
    let zk = start_zookeeper(&zk_dir, ports);
    let theirs = lists(ports.zookeeper);
    zk.stop();
    let fk = start_ferrokeeper(&copy, ports);
    assert_same(
        "on ZooKeeper's data directory",
        &theirs,
        &lists(ports.ferrokeeper),
    );
    fk.stop();
}
