//! connect-storm: `--sessions` loops each connect, open a session (ConnectRequest), close it (closeSession)
//! and disconnect, as fast as the server lets them. One operation is that whole cycle; both the session's
//! creation and its close are transactions the server logs (`SessionTrackerImpl`, `createSession` and
//! `closeSession` txns), so this measures the write path as much as the accept path.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::conn::Conn;
use crate::engine::Shared;
use crate::stats::Stats;

/// A loop stops after this many failed cycles in a row.
const FAILURES_IN_A_ROW_MAX: u32 = 20;

/// The outcome of a connect storm.
pub struct StormEnd {
    pub stats: Stats,
    pub elapsed: Duration,
}

/// Runs `loops` connect/close loops spread over the targets.
pub async fn run(
    addrs: &[SocketAddr],
    loops: usize,
    timeout_ms: i32,
    shared: Arc<Shared>,
) -> Result<StormEnd> {
    let tasks: Vec<_> = (0..loops)
        .map(|i| tokio::spawn(cycle_loop(addrs[i % addrs.len()], timeout_ms, shared.clone())))
        .collect();
    let mut stats = Stats::new(false)?;
    let mut last = shared.measure_from;
    for task in tasks {
        let (s, at) = task.await??;
        stats.merge(s)?;
        last = last.max(at.unwrap_or(last));
    }
    Ok(StormEnd {
        stats,
        elapsed: last.saturating_duration_since(shared.measure_from),
    })
}

async fn cycle_loop(
    addr: SocketAddr,
    timeout_ms: i32,
    shared: Arc<Shared>,
) -> Result<(Stats, Option<Instant>)> {
    let mut stats = Stats::new(false)?;
    let mut last = None;
    let mut failures_in_a_row = 0;
    loop {
        if !shared.acquire().await {
            break;
        }
        let sent = Instant::now();
        let outcome = async {
            let conn = Conn::open(addr, timeout_ms).await?;
            conn.close(1).await
        }
        .await;
        let now = Instant::now();
        shared.completed.fetch_add(1, Ordering::Relaxed);
        match outcome {
            Ok(()) => {
                failures_in_a_row = 0;
                if sent >= shared.measure_from {
                    let latency = now.saturating_duration_since(sent).as_micros() as u64;
                    stats.record(shared.offset_us(sent), latency, 0);
                    last = Some(now);
                }
            }
            Err(e) => {
                stats.fail(format!("{addr}: {e:#}"));
                failures_in_a_row += 1;
                if failures_in_a_row >= FAILURES_IN_A_ROW_MAX {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    Ok((stats, last))
}
