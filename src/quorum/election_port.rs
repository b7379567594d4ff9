//! The election port, as `QuorumCnxManager` runs it: one TCP connection per pair of members, a one-message
//! send queue per peer, and a bounded receive queue.
//!
//! Connections: the side that opens one sends the handshake (`jute::election::Handshake`, protocol version
//! -65536 with our election address, or -65535 with every address when multi-address is on). Only a connection
//! opened by the higher sid is kept: the opener drops its own connection to a higher sid right after the
//! handshake, and a receiver drops a connection from a lower sid and connects back (to the address in the
//! handshake if there is one; an address given by host name, which ZooKeeper would resolve, falls back to the
//! configured one), so the pair ends with one connection either way. A handshake that is malformed,
//! or that does not arrive within the socket timeout, closes the connection.
//!
//! Queues: a peer's send queue holds one message and a newer one replaces it (`SEND_CAPACITY` 1 over a
//! `CircularBlockingQueue`: a stale vote is never worth sending); a new connection first sends the last message
//! sent to that peer when nothing newer waits. Received notifications go to one queue of `RECV_CAPACITY` (100)
//! that drops its oldest when full. Messages are length-prefixed; a length outside 1..=`PACKET_MAX_SIZE` closes
//! the connection, and a notification that does not decode is dropped, as `WorkerReceiver` drops it. A message
//! to ourselves goes straight to the receive queue.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use jute::election::{check_message, Handshake, HandshakeVersion, Notification, OBSERVER_ID};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::types::ServerId;

/// `QuorumCnxManager.RECV_CAPACITY`.
pub const RECV_CAPACITY: usize = 100;
/// `zookeeper.cnxTimeout`'s default, in milliseconds.
pub const CONNECT_TIMEOUT_MS_DEFAULT: u64 = 5000;

/// How this member's election port is set up.
#[derive(Debug, Clone)]
pub struct ElectionPortConfig {
    pub my_id: ServerId,
    /// Where to listen: every address of this member's server line (several with `multiAddress.enabled`).
    pub listen: Vec<SocketAddr>,
    /// Our election addresses as peers should reach them ("host:port"), sent in the handshake.
    pub advertised: Vec<String>,
    /// `zookeeper.multiAddress.enabled`: send every address with protocol version -65535.
    pub multi_address: bool,
    /// Every other member's election addresses, tried in order until one connects.
    pub peers: BTreeMap<ServerId, Vec<SocketAddr>>,
    /// `zookeeper.cnxTimeout`.
    pub connect_timeout: Duration,
    /// `quorumCnxnTimeoutMs`, else tickTime x syncLimit: how long a handshake may take.
    pub socket_timeout: Duration,
}

/// One peer's outgoing side.
#[derive(Debug, Default)]
struct SendSlot {
    queued: Option<Bytes>,
    last_sent: Option<Bytes>,
}

#[derive(Debug)]
struct Worker {
    generation: u64,
    tasks: [JoinHandle<()>; 2],
}

#[derive(Debug, Default)]
struct State {
    slots: BTreeMap<ServerId, SendSlot>,
    workers: BTreeMap<ServerId, Worker>,
    connecting: BTreeSet<ServerId>,
    received: VecDeque<(ServerId, Notification)>,
    next_generation: u64,
    /// `observerCounter`: ids given to observers that connect without one.
    next_observer_id: i64,
    dropped_received: u64,
}

#[derive(Debug)]
struct Shared {
    cfg: ElectionPortConfig,
    state: Mutex<State>,
    /// Wakes send workers (a message was queued) and the receiver (a notification arrived).
    sent: Notify,
    received: Notify,
}

/// A running election port. Dropping it stops the listener and every connection.
#[derive(Debug)]
pub struct ElectionPort {
    shared: Arc<Shared>,
    listeners: Vec<JoinHandle<()>>,
    local: SocketAddr,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A worker that panicked while holding the lock leaves nothing half-written we rely on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ElectionPort {
    /// Binds the listener and starts accepting peers.
    pub async fn bind(cfg: ElectionPortConfig) -> std::io::Result<ElectionPort> {
        let mut listeners = Vec::new();
        for addr in &cfg.listen {
            listeners.push(TcpListener::bind(addr).await?);
        }
        let Some(first) = listeners.first() else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "no election address to listen on",
            ));
        };
        let local = first.local_addr()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                next_observer_id: -1,
                ..State::default()
            }),
            cfg,
            sent: Notify::new(),
            received: Notify::new(),
        });
        let listeners = listeners.into_iter().map(|listener| {
            let accept_shared = shared.clone();
            tokio::spawn(async move {
                accept_loop(listener, accept_shared).await;
            })
        });
        let listeners = listeners.collect();
        Ok(ElectionPort {
            shared,
            listeners,
            local,
        })
    }

    /// The first address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `toSend`: to ourselves straight into the receive queue; to a peer into its one-message queue, then
    /// connect if there is no connection.
    pub fn send(&self, to: ServerId, n: &Notification) {
        if to == self.shared.cfg.my_id {
            push_received(&self.shared, to, n.clone());
            return;
        }
        self.shared.lock().slots.entry(to).or_default().queued = Some(n.encode());
        self.shared.sent.notify_waiters();
        connect_one(&self.shared, to, None);
    }

    /// `connectAll`: connect to every peer we have queued messages for and are not connected to.
    pub fn connect_all(&self) {
        let peers: Vec<ServerId> = self.shared.lock().slots.keys().copied().collect();
        for sid in peers {
            connect_one(&self.shared, sid, None);
        }
    }

    /// The next received notification, oldest first.
    pub async fn recv(&self) -> (ServerId, Notification) {
        loop {
            let notified = self.shared.received.notified();
            if let Some(next) = self.shared.lock().received.pop_front() {
                return next;
            }
            notified.await;
        }
    }

    /// Peers with a live connection.
    pub fn connected_peers(&self) -> Vec<ServerId> {
        self.shared.lock().workers.keys().copied().collect()
    }

    /// Notifications dropped because the receive queue was full.
    pub fn dropped_received(&self) -> u64 {
        self.shared.lock().dropped_received
    }
}

impl Drop for ElectionPort {
    fn drop(&mut self) {
        for listener in &self.listeners {
            listener.abort();
        }
        let mut state = self.shared.lock();
        for (_, w) in std::mem::take(&mut state.workers) {
            for t in &w.tasks {
                t.abort();
            }
        }
    }
}

/// Accepts peers on one of the member's election addresses.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (sock, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: wait a little rather than spin.
                tracing::warn!("election port accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Err(e) = receive_connection(shared, sock).await {
                tracing::info!("election connection from {peer} closed: {e}");
            }
        });
    }
}

fn push_received(shared: &Shared, from: ServerId, n: Notification) {
    let mut state = shared.lock();
    if state.received.len() >= RECV_CAPACITY {
        state.received.pop_front();
        state.dropped_received += 1;
    }
    state.received.push_back((from, n));
    drop(state);
    shared.received.notify_one();
}

/// `connectOne`: nothing if connected or already connecting; otherwise connect in the background, to the
/// first of the peer's addresses that accepts (`getReachableOrOne`).
fn connect_one(shared: &Arc<Shared>, sid: ServerId, addrs: Option<Vec<SocketAddr>>) {
    let Some(addrs) = addrs
        .filter(|a| !a.is_empty())
        .or_else(|| shared.cfg.peers.get(&sid).cloned())
    else {
        tracing::warn!("invalid server id: {}", sid.0);
        return;
    };
    {
        let mut state = shared.lock();
        if state.workers.contains_key(&sid) || !state.connecting.insert(sid) {
            return;
        }
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        for addr in &addrs {
            match initiate_connection(&shared, sid, *addr).await {
                Ok(()) => break,
                Err(e) => tracing::debug!("cannot open election connection to {} at {addr}: {e}", sid.0),
            }
        }
        shared.lock().connecting.remove(&sid);
    });
}

fn our_handshake(cfg: &ElectionPortConfig) -> Handshake {
    let (version, address) = if cfg.multi_address {
        (HandshakeVersion::V2, cfg.advertised.join("|"))
    } else {
        let first = cfg.advertised.first().cloned().unwrap_or_default();
        (HandshakeVersion::V1, first)
    };
    Handshake::Versioned {
        version,
        sid: cfg.my_id.0,
        address,
    }
}

/// `initiateConnection` + `startConnection`.
async fn initiate_connection(shared: &Arc<Shared>, sid: ServerId, addr: SocketAddr) -> std::io::Result<()> {
    let cfg = &shared.cfg;
    let mut sock = tokio::time::timeout(cfg.connect_timeout, TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    sock.set_nodelay(true)?;
    sock.write_all(&our_handshake(cfg).encode()).await?;
    sock.flush().await?;
    if sid > cfg.my_id {
        // The higher sid keeps only connections it opened: it will connect back.
        tracing::info!(
            "have smaller server identifier, so dropping the connection: (myId:{} --> sid:{})",
            cfg.my_id.0,
            sid.0
        );
        return Ok(());
    }
    start_workers(shared, sid, sock, BytesMut::new());
    Ok(())
}

/// Reads a whole handshake, with what came after it.
async fn read_handshake(sock: &mut TcpStream, timeout: Duration) -> std::io::Result<(Handshake, BytesMut)> {
    let mut buf = BytesMut::with_capacity(64);
    let read = async {
        loop {
            match Handshake::decode(&buf) {
                Ok(Some((h, used))) => {
                    let rest = buf.split_off(used);
                    return Ok((h, rest));
                }
                Ok(None) => {}
                Err(e) => return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
            }
            if sock.read_buf(&mut buf).await? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "handshake timed out"))?
}

/// `receiveConnection` / `handleConnection`.
async fn receive_connection(shared: Arc<Shared>, mut sock: TcpStream) -> std::io::Result<()> {
    let (handshake, rest) = read_handshake(&mut sock, shared.cfg.socket_timeout).await?;
    let addrs = resolvable(&handshake);
    let mut sid = ServerId(handshake.sid());
    if sid.0 == OBSERVER_ID {
        let mut state = shared.lock();
        sid = ServerId(state.next_observer_id);
        state.next_observer_id -= 1;
    }
    let my_id = shared.cfg.my_id;
    if sid < my_id {
        // We win the challenge: drop theirs, close any old connection to them and connect back.
        finish_worker(&shared, sid, None);
        drop(sock);
        connect_one(&shared, sid, Some(addrs));
    } else if sid == my_id {
        tracing::warn!(
            "election connection from a server with our own id {}: closing it",
            sid.0
        );
    } else {
        sock.set_nodelay(true)?;
        start_workers(&shared, sid, sock, rest);
    }
    Ok(())
}

/// The addresses a handshake gives that are IP addresses, in its order.
fn resolvable(h: &Handshake) -> Vec<SocketAddr> {
    let Ok(addrs) = h.addresses() else {
        return Vec::new();
    };
    addrs
        .iter()
        .filter_map(|a| format!("{}:{}", bracket(&a.host), a.port).parse().ok())
        .collect()
}

fn bracket(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// Replaces any connection to `sid` with this one and starts its send and receive workers.
fn start_workers(shared: &Arc<Shared>, sid: ServerId, sock: TcpStream, rest: BytesMut) {
    let (reader, writer) = sock.into_split();
    let mut state = shared.lock();
    state.next_generation += 1;
    let generation = state.next_generation;
    state.slots.entry(sid).or_default();
    let send = tokio::spawn(send_worker(shared.clone(), sid, generation, writer));
    let recv = tokio::spawn(recv_worker(shared.clone(), sid, generation, reader, rest));
    let old = state.workers.insert(
        sid,
        Worker {
            generation,
            tasks: [send, recv],
        },
    );
    drop(state);
    if let Some(old) = old {
        for t in &old.tasks {
            t.abort();
        }
    }
}

/// `SendWorker.finish`: stops the connection to `sid` (only that generation, when one is given).
fn finish_worker(shared: &Shared, sid: ServerId, generation: Option<u64>) {
    let mut state = shared.lock();
    let matches = state
        .workers
        .get(&sid)
        .is_some_and(|w| generation.is_none_or(|g| g == w.generation));
    if matches {
        if let Some(w) = state.workers.remove(&sid) {
            for t in &w.tasks {
                t.abort();
            }
        }
    }
}

async fn send_worker(shared: Arc<Shared>, sid: ServerId, generation: u64, mut writer: OwnedWriteHalf) {
    let resend = {
        let state = shared.lock();
        let slot = state.slots.get(&sid);
        slot.filter(|s| s.queued.is_none())
            .and_then(|s| s.last_sent.clone())
    };
    let mut next = resend;
    loop {
        if let Some(payload) = next.take() {
            let mut frame = BytesMut::with_capacity(4 + payload.len());
            frame.extend_from_slice(&(payload.len() as i32).to_be_bytes());
            frame.extend_from_slice(&payload);
            if writer.write_all(&frame).await.is_err() || writer.flush().await.is_err() {
                break;
            }
            continue;
        }
        let notified = shared.sent.notified();
        {
            let mut state = shared.lock();
            if let Some(slot) = state.slots.get_mut(&sid) {
                if let Some(payload) = slot.queued.take() {
                    slot.last_sent = Some(payload.clone());
                    next = Some(payload);
                    continue;
                }
            }
        }
        notified.await;
    }
    finish_worker(&shared, sid, Some(generation));
}

async fn recv_worker(
    shared: Arc<Shared>,
    sid: ServerId,
    generation: u64,
    mut reader: OwnedReadHalf,
    rest: BytesMut,
) {
    let mut buf = rest;
    loop {
        match check_message(&buf) {
            Ok(Some(len)) => {
                let mut frame = buf.split_to(4 + len);
                let payload = frame.split_off(4).freeze();
                match Notification::decode(&payload) {
                    Ok(n) => push_received(&shared, sid, n),
                    Err(e) => tracing::warn!("dropping a notification from {}: {e}", sid.0),
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("election connection to {} broken: {e}", sid.0);
                break;
            }
        }
        match reader.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    finish_worker(&shared, sid, Some(generation));
}
