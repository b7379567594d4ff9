//! SIGKILL under concurrent write load, again and again, on one data directory: after every restart each
//! acknowledged write is there, and nothing is there that was never sent.
//!
//! The real binary runs from a zoo.cfg in a temp directory on 127.0.0.1. Each round starts it on the data
//! directory the previous round left, checks the whole `/crash` subtree against what the writers were told,
//! then lets several writer sessions create, set and delete their own znodes until a randomly chosen number
//! of writes has been acknowledged, and kills the server with SIGKILL while the writers still have requests in
//! flight. A small snapCount makes the server take snapshots during the load, so recovery reads a snapshot and
//! then the log after it.
//!
//! Rounds: 20, or `FERROKEEPER_CRASH_ROUNDS`. The random choices come from `FERROKEEPER_CRASH_SEED` when it is
//! set (the seed is printed, to replay a failure).

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use jute::codes::{ErrorCode, OpCode};
use jute::records::data::Acl;
use jute::records::proto::{
    ConnectRequest, ConnectResponse, CreateRequest, DeleteRequest, ExistsRequest, GetChildrenResponse,
    GetDataResponse, ReplyHeader, RequestHeader, SetDataRequest,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// The client port (the range 23000-23999 belongs to the storage tests).
const PORT: u16 = 23011;
const WRITERS: usize = 6;
/// Requests each writer keeps in flight.
const PIPELINE: usize = 4;
const ROOT: &str = "/crash";

fn rounds() -> usize {
    std::env::var("FERROKEEPER_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

fn seed() -> u64 {
    std::env::var("FERROKEEPER_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

fn write_config(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let logs = dir.join("datalog");
    std::fs::create_dir_all(&data).expect("dataDir");
    std::fs::create_dir_all(&logs).expect("dataLogDir");
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\ndataLogDir={}\nclientPort={PORT}\nclientPortAddress=127.0.0.1\n\
             snapCount=150\npreAllocSize=256\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
            data.display(),
            logs.display()
        ),
    )
    .expect("zoo.cfg");
    cfg
}

/// The server process; killed with SIGKILL when dropped.
struct ServerProcess {
    child: Child,
}

impl ServerProcess {
    fn start(cfg: &Path, log: &Path) -> ServerProcess {
        let log = std::fs::File::create(log).expect("server log");
        let child = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
            .arg("start")
            .arg(cfg)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start ferrokeeper");
        ServerProcess { child }
    }

    fn kill(&mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A session on a raw connection: requests go out with increasing xids; replies come back in order.
struct Session {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    next_xid: i32,
}

impl Session {
    async fn connect(addr: SocketAddr) -> io::Result<Session> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        let mut s = Session {
            reader: BufReader::new(r),
            writer: w,
            next_xid: 1,
        };
        let request = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            time_out: 30_000,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
        };
        let payload = request.encode().map_err(io::Error::other)?;
        s.write_frame(&payload).await?;
        let reply = s.read_frame().await?;
        let response = ConnectResponse::decode(&reply, 1 << 20).map_err(io::Error::other)?;
        if response.session_id == 0 {
            return Err(io::Error::other("session refused"));
        }
        Ok(s)
    }

    async fn write_frame(&mut self, payload: &[u8]) -> io::Result<()> {
        let mut out = (payload.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(payload);
        self.writer.write_all(&out).await
    }

    async fn read_frame(&mut self) -> io::Result<Vec<u8>> {
        let len = self.reader.read_i32().await?;
        let len = usize::try_from(len).map_err(|_| io::Error::other("negative frame length"))?;
        let mut payload = vec![0u8; len];
        self.reader.read_exact(&mut payload).await?;
        Ok(payload)
    }

    /// Sends one request and returns its xid.
    async fn send<T: serde::Serialize>(&mut self, op: OpCode, body: &T) -> io::Result<i32> {
        self.send_raw(op, &encode(body)).await
    }

    /// Sends one request with an encoded body and returns its xid.
    async fn send_raw(&mut self, op: OpCode, body: &[u8]) -> io::Result<i32> {
        let xid = self.next_xid;
        self.next_xid += 1;
        let mut payload = encode(&RequestHeader { xid, op: op.code() });
        payload.extend_from_slice(body);
        self.write_frame(&payload).await?;
        Ok(xid)
    }

    /// Reads the next reply: its header and body bytes.
    async fn receive(&mut self) -> io::Result<(ReplyHeader, Vec<u8>)> {
        loop {
            let frame = self.read_frame().await?;
            let mut d = jute::Decoder::new(&frame);
            let header: ReplyHeader = d.read().map_err(io::Error::other)?;
            if header.xid == -1 {
                continue; // a watch event
            }
            let body = frame[frame.len() - d.remaining().len()..].to_vec();
            return Ok((header, body));
        }
    }
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    jute::to_bytes(value).expect("encode")
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// What a znode may be after a crash.
#[derive(Debug, Clone, PartialEq, Eq)]
enum NodeState {
    Absent,
    Present(String),
}

#[derive(Debug, Clone)]
struct Tracked {
    /// The state the last acknowledged write (or the last check after a restart) established.
    confirmed: NodeState,
    /// The state a write sent but not acknowledged would give.
    pending: Option<NodeState>,
}

/// Every znode any writer ever sent a request for, by path.
type Model = BTreeMap<String, Tracked>;

/// One writer's pipelined load on its own znodes until the server dies or `stop` says so.
async fn writer(
    addr: SocketAddr,
    round: usize,
    id: usize,
    mut rng: StdRng,
    model: Arc<Mutex<Model>>,
    acked: Arc<std::sync::atomic::AtomicUsize>,
) {
    let Ok(mut session) = Session::connect(addr).await else {
        return;
    };
    // This writer's znodes that exist (as far as acknowledged or in flight), for sets and deletes.
    let mut mine: Vec<String> = Vec::new();
    let mut in_flight: std::collections::VecDeque<(i32, String, NodeState)> = Default::default();
    let mut seq = 0u64;
    let mut busy: BTreeSet<String> = BTreeSet::new();
    loop {
        while in_flight.len() < PIPELINE {
            let pick = rng.random_range(0..10);
            let target = (pick >= 6 && !mine.is_empty())
                .then(|| mine[rng.random_range(0..mine.len())].clone())
                .filter(|p| !busy.contains(p));
            let (op, payload, path, state) = match target {
                Some(path) if pick == 9 => {
                    mine.retain(|p| *p != path);
                    let body = DeleteRequest {
                        path: path.clone(),
                        version: -1,
                    };
                    (OpCode::Delete, encode(&body), path, NodeState::Absent)
                }
                Some(path) => {
                    let data = format!("{path} set {}", rng.random::<u32>()).into_bytes();
                    let body = SetDataRequest {
                        path: path.clone(),
                        data: Some(Bytes::from(data.clone())),
                        version: -1,
                    };
                    (
                        OpCode::SetData,
                        encode(&body),
                        path,
                        NodeState::Present(text(&data)),
                    )
                }
                None => {
                    seq += 1;
                    let path = format!("{ROOT}/r{round}-w{id}-{seq}");
                    let len = rng.random_range(0..300);
                    let mut data = format!("{path} created ").into_bytes();
                    data.extend((0..len).map(|i| b'a' + (i % 26) as u8));
                    let body = CreateRequest {
                        path: path.clone(),
                        data: Some(Bytes::from(data.clone())),
                        acl: Acl::open_unsafe(),
                        flags: 0,
                    };
                    mine.push(path.clone());
                    (
                        OpCode::Create,
                        encode(&body),
                        path,
                        NodeState::Present(text(&data)),
                    )
                }
            };
            // Pending before the first byte goes out: from then on the write may reach the log.
            {
                let mut m = model.lock().expect("model");
                let t = m.entry(path.clone()).or_insert(Tracked {
                    confirmed: NodeState::Absent,
                    pending: None,
                });
                assert!(t.pending.is_none(), "{path}: two writes in flight");
                t.pending = Some(state.clone());
            }
            let Ok(xid) = session.send_raw(op, &payload).await else {
                return;
            };
            busy.insert(path.clone());
            in_flight.push_back((xid, path, state));
        }
        let Ok((header, _)) = session.receive().await else {
            return; // the server is gone; what is in flight stays pending
        };
        let Some((xid, path, state)) = in_flight.pop_front() else {
            panic!("a reply with nothing in flight");
        };
        assert_eq!(header.xid, xid, "replies come in request order");
        assert_eq!(header.err, ErrorCode::Ok.code(), "{path}: write failed");
        busy.remove(&path);
        let mut m = model.lock().expect("model");
        let t = m.get_mut(&path).expect("tracked");
        t.confirmed = state;
        t.pending = None;
        drop(m);
        acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

async fn wait_for_port(addr: SocketAddr, server: &mut ServerProcess, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "ferrokeeper exited with {status} at start:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "ferrokeeper did not open {addr}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks the `/crash` subtree against the model and makes what was found the confirmed state.
async fn verify(addr: SocketAddr, model: &mut Model, round: usize) -> (usize, usize) {
    let mut s = Session::connect(addr).await.expect("connect to check");
    let xid = s
        .send(
            OpCode::GetChildren,
            &ExistsRequest {
                path: ROOT.into(),
                watch: false,
            },
        )
        .await
        .expect("send");
    let (h, body) = s.receive().await.expect("children");
    assert_eq!(h.xid, xid);
    assert_eq!(
        h.err,
        ErrorCode::Ok.code(),
        "{ROOT} is missing after round {round}"
    );
    let children: GetChildrenResponse = jute::from_slice(&body).expect("children");
    for child in &children.children {
        let path = format!("{ROOT}/{child}");
        assert!(
            model.contains_key(&path),
            "after round {round}: {path} exists but was never sent"
        );
    }
    // Every tracked path, pipelined in chunks.
    let paths: Vec<String> = model.keys().cloned().collect();
    let mut present = 0;
    for chunk in paths.chunks(500) {
        for path in chunk {
            let body = ExistsRequest {
                path: path.clone(),
                watch: false,
            };
            s.send(OpCode::GetData, &body).await.expect("send");
        }
        for path in chunk {
            let (h, body) = s.receive().await.expect("getData");
            let found = if h.err == ErrorCode::NoNode.code() {
                NodeState::Absent
            } else {
                assert_eq!(h.err, ErrorCode::Ok.code(), "getData {path}");
                let r: GetDataResponse = jute::from_slice(&body).expect("getData response");
                NodeState::Present(text(r.data.as_deref().unwrap_or_default()))
            };
            let t = model.get_mut(path).expect("tracked");
            let allowed = found == t.confirmed || t.pending.as_ref() == Some(&found);
            assert!(
                allowed,
                "after round {round}: {path} is {found:?}, but the acknowledged state is {:?} and the one in \
                 flight {:?}",
                t.confirmed, t.pending
            );
            if found != NodeState::Absent {
                present += 1;
            }
            t.confirmed = found;
            t.pending = None;
        }
    }
    let listed: BTreeSet<&String> = children.children.iter().collect();
    assert_eq!(
        listed.len(),
        present,
        "after round {round}: children of {ROOT} and getData disagree"
    );
    (children.children.len(), model.len())
}

#[test]
fn sigkill_under_write_load_loses_no_acknowledged_write() {
    let rounds = rounds();
    let seed = seed();
    eprintln!("crash test: {rounds} rounds, FERROKEEPER_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path());
    let addr: SocketAddr = ([127, 0, 0, 1], PORT).into();
    // Another process on the port would answer in the server's place.
    drop(std::net::TcpListener::bind(addr).unwrap_or_else(|e| panic!("{addr} is not free: {e}")));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut model = Model::new();
    let mut acked_total = 0;
    let mut snapshots_during_load = 0;
    for round in 0..=rounds {
        let log = dir.path().join(format!("server-{round}.log"));
        let mut server = ServerProcess::start(&cfg, &log);
        runtime.block_on(wait_for_port(addr, &mut server, &log));
        if round == 0 {
            runtime.block_on(async {
                let mut s = Session::connect(addr).await.expect("connect");
                let body = CreateRequest {
                    path: ROOT.into(),
                    data: None,
                    acl: Acl::open_unsafe(),
                    flags: 0,
                };
                s.send(OpCode::Create, &body).await.expect("send");
                let (h, _) = s.receive().await.expect("create root");
                assert_eq!(h.err, ErrorCode::Ok.code());
            });
        } else {
            let (children, tracked) = runtime.block_on(verify(addr, &mut model, round - 1));
            eprintln!(
                "round {}: {children} znodes after restart, {tracked} tracked",
                round - 1
            );
        }
        if round == rounds {
            server.kill();
            snapshots_during_load += count_lines(&log, "snapshot written");
            break;
        }
        let target = rng.random_range(100..600);
        let shared = Arc::new(Mutex::new(std::mem::take(&mut model)));
        let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        runtime.block_on(async {
            let tasks: Vec<_> = (0..WRITERS)
                .map(|id| {
                    let writer_rng = StdRng::seed_from_u64(rng.random());
                    tokio::spawn(writer(
                        addr,
                        round,
                        id,
                        writer_rng,
                        Arc::clone(&shared),
                        Arc::clone(&acked),
                    ))
                })
                .collect();
            let deadline = Instant::now() + Duration::from_secs(30);
            while acked.load(std::sync::atomic::Ordering::SeqCst) < target {
                assert!(Instant::now() < deadline, "round {round}: writes stalled");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            server.kill();
            for task in tasks {
                task.await.expect("writer panicked");
            }
        });
        acked_total += acked.load(std::sync::atomic::Ordering::SeqCst);
        model = Arc::try_unwrap(shared)
            .expect("writers done")
            .into_inner()
            .expect("model");
        snapshots_during_load += count_lines(&log, "snapshot written");
    }
    eprintln!("crash test: {acked_total} acknowledged writes, {snapshots_during_load} snapshots written");
    assert!(
        snapshots_during_load > 0,
        "no snapshot was taken under load, so recovery never combined a snapshot with the log"
    );
}

fn count_lines(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}
