//! Network partitions between members on 127.0.0.1: a TCP proxy for every ordered pair of members and each of
//! the quorum and election ports, which the members' zoo.cfg name instead of each other's ports (`Net::view`).
//! Member `a` reaches member `b` only through the proxies of the pair (a, b), so a connection that `a` opens
//! to `b` carries `a`'s bytes to `b` forward and `b`'s bytes to `a` back.
//!
//! A cut stalls the bytes one member sends to another, as a lossy network does to TCP: they are neither lost
//! nor reordered, they wait (and the sender's writes block once the buffers fill) until the cut heals, and a
//! connection that ends during the cut ends for the other side only then. A connection opened during the cut
//! is accepted and stalls in the same way.
//!
//! The election handshake names the address the receiver connects back to (`QuorumCnxManager`); the proxy
//! rewrites it to the proxy of the reverse pair, so that connection goes through a proxy too.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::ensemble::Ports;

/// The election handshake's protocol version with one address (`QuorumCnxManager.PROTOCOL_VERSION_V1`).
const HANDSHAKE_V1: i64 = -65536;
/// The longest address a handshake names here.
const HANDSHAKE_ADDRESS_MAX: usize = 512;
/// How long the proxy tries to reach a port that refuses connections.
const CONNECT_WITHIN: Duration = Duration::from_secs(5);
const CONNECT_RETRY: Duration = Duration::from_millis(50);
/// How often a stalled or idle pump looks at the cut and stop flags.
const POLL: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Shared {
    /// (from, to): the bytes `from` sends to `to` stall.
    cuts: Mutex<BTreeSet<(u64, u64)>>,
    stop: AtomicBool,
}

impl Shared {
    fn cuts(&self) -> std::sync::MutexGuard<'_, BTreeSet<(u64, u64)>> {
        // A pump that panicked holding the lock left the set whole: it is only ever read or changed whole.
        self.cuts.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn passes(&self, from: u64, to: u64) -> bool {
        !self.cuts().contains(&(from, to))
    }
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// The proxies of an ensemble. Dropping it stops them and closes every connection through them.
pub struct Net {
    shared: Arc<Shared>,
    views: BTreeMap<u64, Ports>,
}

#[derive(Clone, Copy)]
enum Port {
    Quorum,
    Election,
}

impl Net {
    /// Proxies between the members of `ports`, forwarding to their quorum and election ports.
    pub fn new(ports: &Ports) -> Net {
        let shared = Arc::new(Shared::default());
        let ids: Vec<u64> = ports.quorum.keys().copied().collect();
        let mut listeners = BTreeMap::new();
        let mut views: BTreeMap<u64, Ports> = ids.iter().map(|&a| (a, ports.clone())).collect();
        for &a in &ids {
            for &b in ids.iter().filter(|&&b| b != a) {
                for port in [Port::Quorum, Port::Election] {
                    let l = TcpListener::bind("127.0.0.1:0").expect("a proxy port");
                    let p = l.local_addr().expect("proxy address").port();
                    let view = views.get_mut(&a).expect("view");
                    match port {
                        Port::Quorum => view.quorum.insert(b, p),
                        Port::Election => view.election.insert(b, p),
                    };
                    listeners.insert((a, b, port as u8), (l, port));
                }
            }
        }
        for ((a, b, _), (listener, port)) in listeners {
            let target = match port {
                Port::Quorum => ports.quorum[&b],
                Port::Election => ports.election[&b],
            };
            // The address `b` connects back to `a` through.
            let back = format!("127.0.0.1:{}", views[&b].election[&a]);
            let shared = shared.clone();
            std::thread::spawn(move || accept_loop(listener, shared, a, b, target, port, back));
        }
        Net { shared, views }
    }

    /// The ports member `id` names in its zoo.cfg: its own, and the proxies to the others.
    pub fn view(&self, id: u64) -> &Ports {
        &self.views[&id]
    }

    /// The bytes `from` sends to `to` stall from now on.
    pub fn cut(&self, from: u64, to: u64) {
        self.shared.cuts().insert((from, to));
    }

    /// Every cut heals: what stalled is delivered.
    pub fn heal(&self) {
        self.shared.cuts().clear();
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    a: u64,
    b: u64,
    target: u16,
    port: Port,
    back: String,
) {
    listener.set_nonblocking(true).expect("nonblocking listener");
    while !shared.stopped() {
        match listener.accept() {
            Ok((from_a, _)) => {
                let shared = shared.clone();
                let back = back.clone();
                std::thread::spawn(move || connection(from_a, shared, a, b, target, port, &back));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// One connection that `a` opened to `b`.
fn connection(from_a: TcpStream, shared: Arc<Shared>, a: u64, b: u64, target: u16, port: Port, back: &str) {
    let _ = from_a.set_nonblocking(false);
    let Some(to_b) = connect_target(target, &shared, a, b) else {
        // `b` is down: so is this connection, once `b` could have said so.
        wait_passing(&shared, b, a);
        return;
    };
    let _ = from_a.set_nodelay(true);
    let _ = to_b.set_nodelay(true);
    let first = match port {
        Port::Quorum => Vec::new(),
        Port::Election => match read_handshake(&from_a, back) {
            Some(h) => h,
            None => return,
        },
    };
    let (a_in, b_out) = (from_a.try_clone(), to_b.try_clone());
    let (Ok(a_in), Ok(b_out)) = (a_in, b_out) else {
        return;
    };
    let forward = {
        let shared = shared.clone();
        std::thread::spawn(move || pump(a_in, b_out, first, &shared, a, b))
    };
    pump(to_b, from_a, Vec::new(), &shared, b, a);
    let _ = forward.join();
}

/// Connects to `b`'s port for `a`, once `a`'s bytes reach `b`. The proxy has accepted `a`'s connection
/// already, so a refusal cannot reach `a` as such: while `b` is not listening (a leader binds its quorum port
/// only once elected, a member may be down for a moment) the proxy tries again for `CONNECT_WITHIN`, as a
/// connecting peer would.
fn connect_target(target: u16, shared: &Shared, a: u64, b: u64) -> Option<TcpStream> {
    wait_passing(shared, a, b);
    let deadline = std::time::Instant::now() + CONNECT_WITHIN;
    loop {
        match TcpStream::connect(("127.0.0.1", target)) {
            Ok(s) => return Some(s),
            Err(_) if std::time::Instant::now() < deadline && !shared.stopped() => {
                std::thread::sleep(CONNECT_RETRY)
            }
            Err(_) => return None,
        }
    }
}

/// Waits until the bytes `from` sends to `to` pass (or the proxies stop).
fn wait_passing(shared: &Shared, from: u64, to: u64) {
    while !shared.passes(from, to) && !shared.stopped() {
        std::thread::sleep(POLL);
    }
}

/// Reads an election handshake and returns it with its address replaced by `back`; anything else read is
/// returned unchanged. None when the connection ends first.
fn read_handshake(mut s: &TcpStream, back: &str) -> Option<Vec<u8>> {
    let mut head = [0u8; 8];
    s.read_exact(&mut head).ok()?;
    if i64::from_be_bytes(head) != HANDSHAKE_V1 {
        return Some(head.to_vec());
    }
    let mut sid_len = [0u8; 12];
    s.read_exact(&mut sid_len).ok()?;
    let len = i32::from_be_bytes(sid_len[8..12].try_into().ok()?);
    let len = usize::try_from(len)
        .ok()
        .filter(|&n| n <= HANDSHAKE_ADDRESS_MAX)?;
    let mut addr = vec![0u8; len];
    s.read_exact(&mut addr).ok()?;
    let mut out = head.to_vec();
    out.extend_from_slice(&sid_len[..8]);
    out.extend_from_slice(&(back.len() as i32).to_be_bytes());
    out.extend_from_slice(back.as_bytes());
    Some(out)
}

/// Carries what `from` sends on `src` to `dst`, stalling while (from, to) is cut; when `src` ends, ends
/// `dst` for writing (after the cut heals, as the end is news for the other side).
fn pump(mut src: TcpStream, mut dst: TcpStream, first: Vec<u8>, shared: &Shared, from: u64, to: u64) {
    let _ = src.set_read_timeout(Some(Duration::from_millis(200)));
    let mut pending = first;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if !pending.is_empty() {
            wait_passing(shared, from, to);
            if shared.stopped() || dst.write_all(&pending).is_err() {
                break;
            }
            pending.clear();
        }
        if shared.stopped() {
            break;
        }
        match src.read(&mut buf) {
            Ok(0) => {
                wait_passing(shared, from, to);
                break;
            }
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                wait_passing(shared, from, to);
                break;
            }
        }
    }
    let _ = src.shutdown(Shutdown::Read);
    let _ = dst.shutdown(Shutdown::Write);
}
