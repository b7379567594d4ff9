//! The pipelined session loop: each session keeps up to `outstanding` requests in flight, writes every new
//! request of a round in one batch and matches replies to requests in order.
//!
//! ZooKeeper answers the requests of one session in the order it received them (`FinalRequestProcessor`
//! completes them in order, and the client's `ClientCnxn` relies on it), so the reply to match is always the
//! oldest request in flight. Notifications (xid -1) interleave freely and are skipped here.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::conn::Conn;
use crate::opts::Limit;
use crate::stats::Stats;
use crate::wire::{reply_header, XID_NOTIFICATION};
use crate::workload::OpGen;

/// The clock and budget that every session of a run shares.
pub struct Shared {
    pub start: Instant,
    /// Operations sent before this are warm-up: they are not recorded and do not use the budget.
    pub measure_from: Instant,
    deadline: Option<Instant>,
    ops_left: Option<AtomicU64>,
    /// With a rate cap: seconds between operations, and operations sent so far after the warm-up.
    interval_s: Option<f64>,
    sent: AtomicU64,
    /// Replies received (warm-up included), for progress lines.
    pub completed: AtomicU64,
    pub stop: AtomicBool,
}

impl Shared {
    pub fn new(limit: Option<Limit>, warmup: Duration, rate: Option<f64>) -> Arc<Shared> {
        let start = Instant::now();
        let measure_from = start + warmup;
        Arc::new(Shared {
            start,
            measure_from,
            deadline: match limit {
                Some(Limit::Duration(d)) => Some(measure_from + d),
                _ => None,
            },
            ops_left: match limit {
                Some(Limit::Ops(n)) => Some(AtomicU64::new(n)),
                _ => None,
            },
            interval_s: rate.map(|r| 1.0 / r),
            sent: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        })
    }

    /// Waits as the rate cap requires; false when no more operations may be sent.
    pub async fn acquire(&self) -> bool {
        loop {
            match self.permit(Instant::now()) {
                Permit::Go => return true,
                Permit::Stop => return false,
                Permit::WaitUntil(at) => tokio::time::sleep_until(at.into()).await,
            }
        }
    }

    /// Whether one more operation may be sent at `now`, must wait for the rate cap, or must not be sent.
    pub fn permit(&self, now: Instant) -> Permit {
        if self.stop.load(Ordering::Relaxed) {
            return Permit::Stop;
        }
        if now < self.measure_from {
            return Permit::Go;
        }
        if let Some(deadline) = self.deadline {
            if now >= deadline {
                return Permit::Stop;
            }
        }
        if let Some(interval) = self.interval_s {
            let due = self.sent.load(Ordering::Relaxed) as f64 * interval;
            let at = now.duration_since(self.measure_from).as_secs_f64();
            if due > at {
                return Permit::WaitUntil(self.measure_from + Duration::from_secs_f64(due));
            }
        }
        let go = match &self.ops_left {
            Some(left) => left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
            None => true,
        };
        if !go {
            return Permit::Stop;
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        Permit::Go
    }

    /// Microseconds from the start of the run to `t`.
    pub fn offset_us(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.start).as_micros() as u64
    }
}

/// The answer of `Shared::permit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    Go,
    /// The rate cap allows the next operation at this instant.
    WaitUntil(Instant),
    Stop,
}

/// What one session reports when it is done.
pub struct SessionEnd {
    pub conn: Conn,
    pub stats: Stats,
    pub last_reply: Option<Instant>,
    pub next_xid: i32,
}

/// Runs one session until its generator or the shared budget is exhausted and every reply is in.
pub async fn drive(
    mut conn: Conn,
    mut gen: Box<dyn OpGen>,
    outstanding: usize,
    shared: Arc<Shared>,
    trace: bool,
) -> Result<SessionEnd> {
    let mut stats = Stats::new(trace)?;
    let mut inflight: VecDeque<(i32, Instant)> = VecDeque::with_capacity(outstanding);
    let mut wbuf = Vec::with_capacity(outstanding * 256);
    let mut xid: i32 = 1;
    let mut last_reply = None;
    let mut exhausted = false;
    loop {
        let now = Instant::now();
        let mut wait = None;
        while !exhausted && inflight.len() < outstanding {
            match shared.permit(now) {
                Permit::Go => {}
                Permit::WaitUntil(at) => {
                    wait = Some(at);
                    break;
                }
                Permit::Stop => {
                    exhausted = true;
                    break;
                }
            }
            match gen.next(xid, &mut wbuf)? {
                Some(reply_xid) => inflight.push_back((reply_xid, now)),
                None => exhausted = true,
            }
            xid = if xid == i32::MAX { 1 } else { xid + 1 };
        }
        if !wbuf.is_empty() {
            conn.write_all(&wbuf).await?;
            wbuf.clear();
        }
        if inflight.is_empty() {
            match wait {
                Some(at) => {
                    tokio::time::sleep_until(at.into()).await;
                    continue;
                }
                None => break,
            }
        }
        last_reply = Some(read_replies(&mut conn, &mut inflight, &mut stats, &shared).await?);
    }
    Ok(SessionEnd {
        conn,
        stats,
        last_reply,
        next_xid: xid,
    })
}

/// Waits for at least one reply and records every whole reply that has arrived.
async fn read_replies(
    conn: &mut Conn,
    inflight: &mut VecDeque<(i32, Instant)>,
    stats: &mut Stats,
    shared: &Shared,
) -> Result<Instant> {
    loop {
        conn.read_more().await?;
        let now = Instant::now();
        let mut matched = 0u64;
        while let Some(frame) = conn.next_frame()? {
            let header = reply_header(&frame)?;
            if header.xid == XID_NOTIFICATION {
                continue;
            }
            let Some((xid, sent)) = inflight.pop_front() else {
                bail!("reply xid {} with nothing in flight", header.xid);
            };
            if header.xid != xid {
                bail!("reply xid {} out of order (expected {xid})", header.xid);
            }
            if sent >= shared.measure_from {
                let latency = now.saturating_duration_since(sent).as_micros() as u64;
                stats.record(shared.offset_us(sent), latency, header.err);
            }
            matched += 1;
        }
        if matched > 0 {
            shared.completed.fetch_add(matched, Ordering::Relaxed);
            return Ok(now);
        }
    }
}

/// The merged outcome of all sessions.
pub struct RunEnd {
    pub stats: Stats,
    /// From the start of measuring to the last reply.
    pub elapsed: Duration,
    /// Open sessions left to close, with their next xid.
    pub conns: Vec<(Conn, i32)>,
}

/// Runs every session to the end and merges what they measured.
pub async fn run(
    conns: Vec<Conn>,
    gens: Vec<Box<dyn OpGen>>,
    outstanding: usize,
    shared: Arc<Shared>,
    trace: bool,
) -> Result<RunEnd> {
    let mut tasks = Vec::with_capacity(conns.len());
    for (conn, gen) in conns.into_iter().zip(gens) {
        tasks.push(tokio::spawn(drive(conn, gen, outstanding, shared.clone(), trace)));
    }
    let mut stats = Stats::new(trace)?;
    let mut last = shared.measure_from;
    let mut open = Vec::new();
    for task in tasks {
        match task.await? {
            Ok(end) => {
                stats.merge(end.stats)?;
                if let Some(t) = end.last_reply {
                    last = last.max(t);
                }
                open.push((end.conn, end.next_xid));
            }
            Err(e) => stats.fail(format!("{e:#}")),
        }
    }
    Ok(RunEnd {
        stats,
        elapsed: last.saturating_duration_since(shared.measure_from),
        conns: open,
    })
}

/// Closes sessions concurrently; returns how many failed to close cleanly.
pub async fn close_all(conns: Vec<(Conn, i32)>) -> usize {
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|(conn, xid)| tokio::spawn(conn.close(xid)))
        .collect();
    let mut failed = 0;
    for task in tasks {
        if !matches!(task.await, Ok(Ok(()))) {
            failed += 1;
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ops_budget_is_shared_and_not_used_by_warmup() {
        let shared = Shared::new(Some(Limit::Ops(3)), Duration::from_secs(3600), None);
        let now = Instant::now();
        let go = |t| shared.permit(t) == Permit::Go;
        assert!((0..10).all(|_| go(now)), "warm-up is unlimited");
        let after = shared.measure_from + Duration::from_millis(1);
        assert_eq!((0..10).filter(|_| go(after)).count(), 3);
        assert_eq!(shared.permit(after), Permit::Stop);
    }

    #[test]
    fn a_duration_budget_ends_at_the_deadline_and_stop_ends_everything() {
        let limit = Some(Limit::Duration(Duration::from_secs(5)));
        let shared = Shared::new(limit, Duration::ZERO, None);
        assert_eq!(shared.permit(shared.start + Duration::from_secs(4)), Permit::Go);
        assert_eq!(shared.permit(shared.start + Duration::from_secs(5)), Permit::Stop);
        shared.stop.store(true, Ordering::Relaxed);
        assert_eq!(shared.permit(shared.start), Permit::Stop);
        let unlimited = Shared::new(None, Duration::ZERO, None);
        assert_eq!(
            unlimited.permit(unlimited.start + Duration::from_secs(1 << 20)),
            Permit::Go
        );
    }

    #[test]
    fn a_rate_cap_spaces_operations_evenly() {
        let shared = Shared::new(None, Duration::ZERO, Some(1000.0));
        let t0 = shared.measure_from;
        assert_eq!(shared.permit(t0), Permit::Go);
        // the second operation is due 1 ms after the start
        assert_eq!(
            shared.permit(t0),
            Permit::WaitUntil(t0 + Duration::from_millis(1))
        );
        let later = t0 + Duration::from_millis(10);
        let sent = (0..100)
            .take_while(|_| shared.permit(later) == Permit::Go)
            .count();
        assert_eq!(sent, 10);
    }

    /// A stand-in server on port 0: answers the handshake, then every request in order with its xid,
    /// putting a notification before every third reply; with `swap`, it answers the first two out of order.
    async fn fake_server(swap: bool) -> std::net::SocketAddr {
        use jute::records::proto::{ConnectResponse, ReplyHeader};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.expect("accept");
            let mut frame = vec![0u8; 49];
            sock.read_exact(&mut frame).await.expect("connect request");
            let resp = ConnectResponse {
                time_out: 30_000,
                session_id: 0x42,
                passwd: bytes::Bytes::from_static(&[0; 16]),
                read_only: Some(false),
                ..Default::default()
            };
            let mut out = Vec::new();
            jute::frame::put_frame(&mut out, &resp.encode().expect("encode")).expect("frame");
            sock.write_all(&out).await.expect("write");
            let reply = |xid: i32| {
                let mut out = Vec::new();
                let header = ReplyHeader { xid, zxid: 1, err: 0 };
                jute::frame::put_frame(&mut out, &jute::to_bytes(&header).expect("header")).expect("frame");
                out
            };
            let mut n = 0;
            let mut held = None;
            loop {
                let mut len = [0u8; 4];
                if sock.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
                sock.read_exact(&mut body).await.expect("body");
                let xid = i32::from_be_bytes([body[0], body[1], body[2], body[3]]);
                n += 1;
                if swap && n == 1 {
                    held = Some(xid);
                    continue;
                }
                let mut out = if n % 3 == 0 {
                    reply(XID_NOTIFICATION)
                } else {
                    Vec::new()
                };
                out.extend(reply(xid));
                if let Some(first) = held.take() {
                    out.extend(reply(first));
                }
                sock.write_all(&out).await.expect("reply");
            }
        });
        addr
    }

    fn get_gen() -> Box<dyn OpGen> {
        use clap::Parser;
        let opts = crate::opts::Opts::try_parse_from(["b", "--targets", "127.0.0.1:1", "--sessions", "1"])
            .expect("opts");
        let layout = crate::workload::Layout::new("/b", "r".into());
        crate::workload::generators(&opts, &layout, &bytes::Bytes::new())
            .expect("gens")
            .remove(0)
    }

    #[tokio::test]
    async fn pipelined_replies_are_matched_in_order_past_notifications() {
        let addr = fake_server(false).await;
        let conn = Conn::open(addr, 30_000).await.expect("open");
        assert_eq!(conn.session_id, 0x42);
        let shared = Shared::new(Some(Limit::Ops(1000)), Duration::ZERO, None);
        let end = drive(conn, get_gen(), 8, shared.clone(), true)
            .await
            .expect("drive");
        assert_eq!(end.stats.ops(), 1000);
        assert_eq!(end.stats.error_count(), 0);
        assert_eq!(end.stats.trace.as_ref().map(Vec::len), Some(1000));
        assert_eq!(shared.completed.load(Ordering::Relaxed), 1000);
        assert_eq!(end.next_xid, 1001);
    }

    #[tokio::test]
    async fn a_reply_out_of_order_fails_the_session() {
        let addr = fake_server(true).await;
        let conn = Conn::open(addr, 30_000).await.expect("open");
        let shared = Shared::new(Some(Limit::Ops(10)), Duration::ZERO, None);
        let err = drive(conn, get_gen(), 4, shared, false)
            .await
            .err()
            .expect("must fail");
        assert!(format!("{err:#}").contains("out of order"), "{err:#}");
    }
}
