//! One benchmark run from start to report: prepare the tree, open the sessions, load the server while
//! measuring CPU on both sides, then close the sessions and read the server's resident memory.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use bytes::Bytes;

use crate::conn::Conn;
use crate::engine::{self, Shared};
use crate::opts::{Opts, Workload};
use crate::report::Report;
use crate::snapshot;
use crate::stats::{Stats, Summary};
use crate::sysinfo;
use crate::wire::ERR_NODE_EXISTS;
use crate::workload::{generators, CreateList, Layout, OpGen};
use crate::{fanout, storm};

/// Sessions opened at once, so that a thousand watchers do not overflow the server's accept backlog.
const OPEN_CONCURRENCY_MAX: usize = 64;
/// Sessions and depth used to create the prepared znodes.
const PREPARE_SESSIONS: usize = 8;
const PREPARE_OUTSTANDING: usize = 64;

/// Opens `n` sessions spread round-robin over the targets.
pub async fn open_sessions(addrs: &[SocketAddr], n: usize, timeout_ms: i32) -> Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(n);
    let mut next = 0;
    while next < n {
        let batch: Vec<_> = (next..n.min(next + OPEN_CONCURRENCY_MAX))
            .map(|i| tokio::spawn(Conn::open(addrs[i % addrs.len()], timeout_ms)))
            .collect();
        next += batch.len();
        for task in batch {
            conns.push(task.await??);
        }
    }
    Ok(conns)
}

/// Creates the znodes of `levels`, one level after the other; existing znodes are fine.
async fn prepare(addrs: &[SocketAddr], levels: &[Vec<String>], data: &Bytes, timeout_ms: i32) -> Result<()> {
    for level in levels {
        let sessions = PREPARE_SESSIONS.min(level.len());
        let conns = open_sessions(addrs, sessions, timeout_ms).await?;
        let chunk = level.len().div_ceil(sessions);
        let gens = level
            .chunks(chunk)
            .map(|paths| Ok(Box::new(CreateList::new(paths, data)?) as Box<dyn OpGen>))
            .collect::<Result<Vec<_>>>()?;
        let shared = Shared::new(None, Duration::ZERO, None);
        let end = engine::run(conns, gens, PREPARE_OUTSTANDING, shared, false).await?;
        engine::close_all(end.conns).await;
        let stats = end.stats;
        if let Some(why) = stats.first_failure {
            bail!("preparing the tree failed: {why}");
        }
        if let Some((code, n)) = stats.errors.iter().find(|(code, _)| **code != ERR_NODE_EXISTS) {
            bail!("preparing the tree: {n} creates failed with error {code}");
        }
    }
    Ok(())
}

/// What the load phase produced, whatever the workload.
struct Outcome {
    stats: Stats,
    elapsed: Duration,
    rounds: Option<u64>,
    to_close: Vec<(Conn, i32)>,
}

/// The sessions of a run, opened before the clock starts.
enum Ready {
    Pipelined(Vec<Conn>, Vec<Box<dyn OpGen>>),
    Fanout(Vec<Conn>, Conn),
    Storm,
}

async fn open_for(opts: &Opts, addrs: &[SocketAddr], layout: &Layout, data: &Bytes) -> Result<Ready> {
    let timeout = opts.session_timeout_ms;
    Ok(match opts.workload {
        Workload::ConnectStorm => Ready::Storm,
        Workload::WatchFanout => {
            let (watchers, writer) = fanout::open(addrs, opts.sessions, timeout).await?;
            Ready::Fanout(watchers, writer)
        }
        _ => {
            let gens = generators(opts, layout, data)?;
            Ready::Pipelined(open_sessions(addrs, opts.sessions, timeout).await?, gens)
        }
    })
}

async fn load(
    opts: &Opts,
    addrs: &[SocketAddr],
    ready: Ready,
    layout: &Layout,
    data: &Bytes,
    shared: Arc<Shared>,
) -> Result<Outcome> {
    Ok(match ready {
        Ready::Storm => {
            let end = storm::run(addrs, opts.sessions, opts.session_timeout_ms, shared).await?;
            Outcome {
                stats: end.stats,
                elapsed: end.elapsed,
                rounds: None,
                to_close: Vec::new(),
            }
        }
        Ready::Fanout(watchers, writer) => {
            let end = fanout::run(watchers, writer, &layout.watched(), data, shared).await?;
            Outcome {
                stats: end.stats,
                elapsed: end.elapsed,
                rounds: Some(end.rounds),
                to_close: Vec::new(),
            }
        }
        Ready::Pipelined(conns, gens) => {
            let trace = opts.snapshot_dir.is_some();
            let end = engine::run(conns, gens, opts.outstanding, shared, trace).await?;
            Outcome {
                stats: end.stats,
                elapsed: end.elapsed,
                rounds: None,
                to_close: end.conns,
            }
        }
    })
}

/// Prints a progress line every `every` until aborted.
fn progress(shared: Arc<Shared>, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut before = 0;
        loop {
            tick.tick().await;
            let done = shared.completed.load(Ordering::Relaxed);
            let secs = shared.start.elapsed().as_secs_f64();
            let phase = if Instant::now() < shared.measure_from {
                " (warm-up)"
            } else {
                ""
            };
            eprintln!(
                "[{secs:7.1}s] {done} replies, {:.0}/s over the last {:.0}s{phase}",
                (done - before) as f64 / every.as_secs_f64(),
                every.as_secs_f64()
            );
            before = done;
        }
    })
}

fn run_id() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    format!("{:x}", nanos ^ (u64::from(std::process::id()) << 40))
}

/// Runs the whole benchmark described by `opts` against `addrs`.
pub async fn run(opts: &Opts, addrs: &[SocketAddr]) -> Result<Report> {
    let data = Bytes::from(vec![b'x'; opts.payload]);
    let layout = Layout::new(&opts.root, run_id());
    prepare(
        addrs,
        &layout.prepare_levels(opts),
        &data,
        opts.session_timeout_ms,
    )
    .await?;
    let ready = open_for(opts, addrs, &layout, &data).await?;
    let snap_before = match &opts.snapshot_dir {
        Some(dir) => Some(snapshot::list(dir)?),
        None => None,
    };
    let server_cpu0 = opts.server_pid.map(sysinfo::process_cpu).transpose()?;
    let own_cpu0 = sysinfo::own_cpu()?;
    let wall_start = SystemTime::now();
    let shared = Shared::new(
        Some(opts.limit()),
        Duration::from_secs_f64(opts.warmup),
        opts.rate,
    );
    let ticker =
        (opts.progress > 0.0).then(|| progress(shared.clone(), Duration::from_secs_f64(opts.progress)));
    let outcome = load(opts, addrs, ready, &layout, &data, shared.clone()).await;
    let load_s = shared.start.elapsed().as_secs_f64();
    let own_cpu = (sysinfo::own_cpu()? - own_cpu0).as_secs_f64();
    let server_cpu = match (opts.server_pid, server_cpu0) {
        (Some(pid), Some(c0)) => Some((sysinfo::process_cpu(pid)? - c0).as_secs_f64()),
        _ => None,
    };
    if let Some(t) = ticker {
        t.abort();
    }
    let outcome = outcome?;
    engine::close_all(outcome.to_close).await;
    let server_rss_kib = opts.server_pid.map(sysinfo::process_rss_kib).transpose()?;
    let snapshot = match (&opts.snapshot_dir, snap_before, &outcome.stats.trace) {
        (Some(dir), Some(before), Some(trace)) => Some(snapshot::split(
            trace,
            snapshot::windows(dir, &before, wall_start)?,
        )?),
        _ => None,
    };
    let stats = outcome.stats;
    let elapsed_s = outcome.elapsed.as_secs_f64();
    Ok(Report {
        label: opts.label.clone(),
        workload: opts.workload.name().to_owned(),
        targets: addrs.iter().map(|a| a.to_string()).collect(),
        sessions: opts.sessions,
        outstanding: opts.outstanding,
        payload: opts.payload,
        threads: opts.threads,
        ops: stats.ops(),
        elapsed_s,
        ops_per_s: if elapsed_s > 0.0 {
            stats.ops() as f64 / elapsed_s
        } else {
            0.0
        },
        latency_us: Summary::of(&stats.latency_us),
        error_count: stats.error_count(),
        errors: stats.errors,
        failures: stats.failures,
        first_failure: stats.first_failure,
        load_s,
        generator_cpu_s: own_cpu,
        generator_cpu_share: own_cpu / load_s.max(1e-9),
        server_cpu_s: server_cpu,
        server_cpu_share: server_cpu.map(|c| c / load_s.max(1e-9)),
        server_rss_kib,
        rounds: outcome.rounds,
        snapshot,
    })
}
