//! watch-fanout: `--sessions` watchers each hold a one-shot data watch on one znode and one writer changes it.
//! The latency recorded is from the moment the writer sends setData to the moment a watcher has read its
//! NodeDataChanged notification. Each round waits until every watcher has set its watch again (a getData with
//! watch=true, as a client re-arming in its watcher callback does), so every write notifies every watcher.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use jute::codes::OpCode;
use tokio::sync::{mpsc, watch};

use crate::conn::Conn;
use crate::engine::Shared;
use crate::stats::Stats;
use crate::wire::{
    path_watch_body, put_request, reply_header, set_body, watcher_event, EVENT_NODE_DATA_CHANGED,
    XID_NOTIFICATION,
};

/// How long the writer waits for every watcher to re-arm before declaring the run broken.
const ARM_TIMEOUT: Duration = Duration::from_secs(30);

/// The outcome of a fan-out run.
pub struct FanoutEnd {
    pub stats: Stats,
    pub elapsed: Duration,
    pub rounds: u64,
}

/// Runs the fan-out with already-open watcher sessions and one writer session.
pub async fn run(
    watchers: Vec<Conn>,
    writer: Conn,
    path: &str,
    data: &Bytes,
    shared: Arc<Shared>,
) -> Result<FanoutEnd> {
    let sent_ns = Arc::new(AtomicU64::new(0));
    let (armed_tx, armed_rx) = mpsc::unbounded_channel();
    let (stop_tx, stop_rx) = watch::channel(false);
    let arm = Arc::new(path_watch_body(path, true)?);
    let count = watchers.len();
    let tasks: Vec<_> = watchers
        .into_iter()
        .map(|conn| {
            let ctx = WatcherCtx {
                arm: arm.clone(),
                armed: armed_tx.clone(),
                stop: stop_rx.clone(),
                sent_ns: sent_ns.clone(),
                shared: shared.clone(),
            };
            tokio::spawn(watcher(conn, ctx))
        })
        .collect();
    drop(armed_tx);
    let written = write_rounds(writer, count, armed_rx, path, data, &sent_ns, &shared).await;
    // watchers stop whether or not the writer ended cleanly
    let _ = stop_tx.send(true);
    let mut stats = Stats::new(false)?;
    let mut last = shared.measure_from;
    for task in tasks {
        match task.await? {
            Ok((s, at)) => {
                stats.merge(s)?;
                last = last.max(at.unwrap_or(last));
            }
            Err(e) => stats.fail(format!("watcher: {e:#}")),
        }
    }
    let rounds = match written {
        Ok(rounds) => rounds,
        Err(e) => {
            stats.fail(format!("writer: {e:#}"));
            0
        }
    };
    Ok(FanoutEnd {
        stats,
        elapsed: last.saturating_duration_since(shared.measure_from),
        rounds,
    })
}

/// The writer's loop: wait for every watcher to be armed, then change the znode.
async fn write_rounds(
    mut writer: Conn,
    watchers: usize,
    mut armed: mpsc::UnboundedReceiver<()>,
    path: &str,
    data: &Bytes,
    sent_ns: &AtomicU64,
    shared: &Shared,
) -> Result<u64> {
    let body = set_body(path, data)?;
    let mut rounds = 0u64;
    let mut out = Vec::new();
    let mut xid = 1;
    loop {
        for _ in 0..watchers {
            tokio::time::timeout(ARM_TIMEOUT, armed.recv())
                .await
                .context("watchers did not re-arm in time")?
                .context("a watcher ended")?;
        }
        if !shared.acquire().await {
            break;
        }
        let now = Instant::now();
        sent_ns.store(
            now.duration_since(shared.start).as_nanos() as u64,
            Ordering::Release,
        );
        out.clear();
        put_request(&mut out, xid, OpCode::SetData, &body)?;
        writer.write_all(&out).await?;
        let reply = reply_header(&writer.read_frame().await?)?;
        if reply.xid != xid || reply.err != 0 {
            bail!("setData reply xid {} error {}", reply.xid, reply.err);
        }
        xid += 1;
        rounds += 1;
    }
    writer.close(xid).await?;
    Ok(rounds)
}

struct WatcherCtx {
    arm: Arc<Vec<u8>>,
    armed: mpsc::UnboundedSender<()>,
    stop: watch::Receiver<bool>,
    sent_ns: Arc<AtomicU64>,
    shared: Arc<Shared>,
}

/// One watcher: arm, report armed, wait for the notification, record its latency, repeat.
async fn watcher(mut conn: Conn, mut ctx: WatcherCtx) -> Result<(Stats, Option<Instant>)> {
    let mut stats = Stats::new(false)?;
    let mut last = None;
    let mut out = Vec::new();
    let mut xid = 1;
    loop {
        out.clear();
        put_request(&mut out, xid, OpCode::GetData, &ctx.arm)?;
        conn.write_all(&out).await?;
        let reply = reply_header(&conn.read_frame().await?)?;
        if reply.xid != xid || reply.err != 0 {
            bail!("getData reply xid {} error {}", reply.xid, reply.err);
        }
        xid += 1;
        if ctx.armed.send(()).is_err() || *ctx.stop.borrow() {
            break;
        }
        let frame = tokio::select! {
            frame = conn.read_frame() => frame?,
            _ = ctx.stop.changed() => break,
        };
        let now = Instant::now();
        let header = reply_header(&frame)?;
        let event = watcher_event(&frame)?;
        if header.xid != XID_NOTIFICATION || event.event_type != EVENT_NODE_DATA_CHANGED {
            bail!(
                "expected NodeDataChanged, got xid {} event {}",
                header.xid,
                event.event_type
            );
        }
        let sent = ctx.shared.start + Duration::from_nanos(ctx.sent_ns.load(Ordering::Acquire));
        if sent >= ctx.shared.measure_from {
            let latency = now.saturating_duration_since(sent).as_micros() as u64;
            stats.record(ctx.shared.offset_us(sent), latency, 0);
            ctx.shared.completed.fetch_add(1, Ordering::Relaxed);
            last = Some(now);
        }
    }
    conn.close(xid).await?;
    Ok((stats, last))
}

/// Opens the watcher sessions round-robin over the targets, and the writer on the first target.
pub async fn open(addrs: &[SocketAddr], watchers: usize, timeout_ms: i32) -> Result<(Vec<Conn>, Conn)> {
    let conns = crate::run::open_sessions(addrs, watchers, timeout_ms).await?;
    let writer = Conn::open(addrs[0], timeout_ms).await?;
    Ok((conns, writer))
}
