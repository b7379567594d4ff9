//! The runtime of a standalone server: the listener, one task per connection (`net::conn`), and the single
//! task that owns the core (`runtime`). Connections talk to the core task over one bounded channel, so a
//! flood of requests waits in the connections' sockets rather than in memory; the core task answers on each
//! connection's own queue, whose size the runtime caps.
//!
//! Shutdown: when the future given to [`Server::run`] completes, the listener stops, every connection is
//! closed and `run` returns.

mod background;
pub(crate) mod link;
mod logqueue;
mod logthread;
mod ops;
mod outbox;
mod peer;
mod quorum_ops;
mod read_only;
mod runtime;
mod snapshots;
pub mod startup;
pub mod stats;
pub mod trace;
pub mod txnlog;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::admin::{self, Query};
use crate::config::ServerConfig;
use crate::core::Core;
use crate::metrics::{summary, Metrics};
use crate::net::conn::{self, ConnLimits};
use crate::net::limits::{IpLimiter, Refused};
use crate::net::{Inbound, NetCounters};
use crate::types::ConnId;
use logthread::LogEvent;
use runtime::Runtime;
use snapshots::Snapshotter;
use txnlog::{MemTxnLog, TxnLog};

/// Messages from connections waiting for the core task, at most. When it is full, connection tasks wait,
/// and so stop reading their sockets. A message carries one frame, or several with at most jute.maxbuffer of
/// bytes together (`net::conn`), so this bounds the memory held in the queue to INBOUND_QUEUE_MAX ×
/// jute.maxbuffer.
const INBOUND_QUEUE_MAX: usize = 256;

/// Queries from the HTTP endpoints waiting for the core task, at most.
const QUERY_QUEUE_MAX: usize = 16;

/// A bound, not yet running, server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    /// The AdminServer's port, when admin.enableServer.
    admin: Option<TcpListener>,
    /// The Prometheus port, when metricsProvider.className names the Prometheus provider.
    prometheus: Option<TcpListener>,
    config: ServerConfig,
}

impl Server {
    /// Binds the client port (`clientPortAddress:clientPort`; port 0 picks a free one), and the AdminServer and
    /// Prometheus ports when they are enabled. A port that cannot be bound fails the start, naming its setting,
    /// as a standalone ZooKeeper does.
    pub async fn bind(config: ServerConfig) -> io::Result<Server> {
        let listener = TcpListener::bind(config.client_address).await?;
        let admin = match &config.ops.admin {
            a if a.enabled => Some(bind_named(a.address, "admin.serverAddress:admin.serverPort").await?),
            _ => None,
        };
        let prometheus = match config.ops.prometheus {
            Some(addr) => Some(bind_named(addr, "metricsProvider.httpHost:httpPort").await?),
            None => None,
        };
        Ok(Server {
            listener,
            admin,
            prometheus,
            config,
        })
    }

    /// The address the client port is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The address the AdminServer is bound to, if it is enabled.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The address /metrics is served on, if the Prometheus provider is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.prometheus.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves clients until `shutdown` completes, with an in-memory txn log.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        self.run_with_log(MemTxnLog::default(), shutdown).await
    }

    /// Serves clients until `shutdown` completes, persisting txns to `log`, from an empty tree.
    pub async fn run_with_log<L: TxnLog>(self, log: L, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let started = std::time::Instant::now();
        let core = Core::new(runtime::core_config(&self.config), runtime::now_at(started));
        self.serve(core, started, Box::new(log), None, None, shutdown)
            .await
    }

    /// Serves clients until `shutdown` completes from the data directories: recovers the database, takes the
    /// start-up snapshot, then logs every txn to `dataLogDir` and snapshots every snapCount txns
    /// (`ZooKeeperServer.loadData`, `SyncRequestProcessor`). Fails at start on a damaged data directory.
    pub async fn run_durable(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let started = std::time::Instant::now();
        let config = self.config.clone();
        let opened = tokio::task::spawn_blocking(move || startup::open(&config, started))
            .await
            .map_err(io::Error::other)?
            .map_err(io::Error::other)?;
        let db_init_ms = started.elapsed().as_millis() as u64;
        let snapshots = Snapshotter::new(opened.fs.clone(), opened.dirs.clone(), &self.config.storage);
        let _purge = snapshots::spawn_autopurge(opened.fs.clone(), opened.dirs.clone(), &self.config.storage);
        let startup = Startup {
            db_init_ms,
            txns_loaded: opened.txns_loaded,
            digest_mismatches: opened.digest_mismatches,
            snapshot: opened.snapshot_in_background,
        };
        self.serve(
            opened.core,
            started,
            Box::new(opened.log),
            Some(snapshots),
            Some(startup),
            shutdown,
        )
        .await
    }

    /// The serving loop. Returns an error if the log fails (a write that cannot be made durable must not be
    /// acknowledged).
    async fn serve(
        self,
        core: Core,
        started: std::time::Instant,
        log: Box<dyn TxnLog>,
        snapshots: Option<Snapshotter>,
        startup: Option<Startup>,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let mut svc = self.start_services()?;
        let mut metrics = svc.metrics.take().unwrap_or_default();
        if let Some(s) = &startup {
            metrics.observe(summary::DB_INIT_TIME, s.db_init_ms);
            metrics.observe(summary::STARTUP_TXNS_LOADED, s.txns_loaded);
            metrics.count(
                crate::metrics::counter::DIGEST_MISMATCHES_COUNT,
                s.digest_mismatches,
            );
        }
        let (events_tx, mut events) = mpsc::channel(logthread::EVENTS_MAX);
        let (log_tx, log_thread) = logthread::spawn(log, events_tx)?;
        let mut runtime = Runtime::new(
            svc.config.clone(),
            core,
            started,
            log_tx,
            snapshots,
            Arc::clone(&svc.counters),
            metrics,
        );
        if startup.is_some_and(|s| s.snapshot) {
            runtime.start_snapshot();
        }
        tokio::pin!(shutdown);
        let turns = Turns {
            inbound: &mut svc.inbound,
            queries: &mut svc.queries,
            events: &mut events,
            prometheus: svc.prometheus.as_ref(),
            quorum: None,
            election: None,
        };
        let result = turns.run(&mut runtime, shutdown.as_mut()).await.map(|_| ());
        tracing::info!(zxid = %runtime.last_zxid(), "shutting down");
        runtime.close_all();
        drop(runtime);
        // The log thread may wait to report a batch: let it go.
        drop(events);
        let _ = log_thread.join();
        svc.stop().await;
        result
    }

    /// Starts what outlives a member's roles: the client port's acceptor, the AdminServer and the metrics
    /// endpoint.
    pub(crate) fn start_services(self) -> io::Result<Services> {
        let limits = ConnLimits {
            max_frame_bytes: self.config.jute_max_buffer,
            outstanding_max: self.config.global_outstanding_limit as usize,
            handshake_timeout: Duration::from_millis(u64::from(self.config.sessionless_cnxn_timeout_ms)),
        };
        let mut config = self.config;
        // Port 0 in zoo.cfg: `conf` and the AdminServer report the port actually bound, as ZooKeeper does.
        config.client_address = self.listener.local_addr()?;
        let counters = Arc::new(NetCounters::default());
        let (to_server, inbound) = mpsc::channel(INBOUND_QUEUE_MAX);
        let acceptor = Acceptor {
            listener: self.listener,
            limiter: IpLimiter::new(
                config.max_cnxns,
                u32::try_from(config.max_client_cnxns).unwrap_or(0),
            ),
            limits,
            to_server,
            counters: Arc::clone(&counters),
        };
        let accept_task = tokio::spawn(acceptor.run());
        let (queries_tx, queries) = mpsc::channel(QUERY_QUEUE_MAX);
        let (metrics, prometheus) = match self.prometheus {
            Some(_) => {
                let (m, h) = Metrics::with_prometheus();
                (m, Some(h))
            }
            None => (Metrics::new(), None),
        };
        let http = spawn_http(
            self.admin,
            self.prometheus,
            prometheus.clone(),
            &config,
            queries_tx,
        );
        Ok(Services {
            config,
            counters,
            inbound,
            queries,
            metrics: Some(metrics),
            prometheus,
            accept_task,
            http,
        })
    }
}

/// What outlives a member's roles.
pub(crate) struct Services {
    pub(crate) config: ServerConfig,
    pub(crate) counters: Arc<NetCounters>,
    pub(crate) inbound: mpsc::Receiver<crate::net::Inbound>,
    pub(crate) queries: mpsc::Receiver<Query>,
    /// Handed to each role's runtime and back.
    pub(crate) metrics: Option<Metrics>,
    pub(crate) prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
    accept_task: tokio::task::JoinHandle<()>,
    http: Vec<tokio::task::JoinHandle<()>>,
}

impl Services {
    /// Stops accepting and serving HTTP; aborting the acceptor drops its JoinSet, which ends every
    /// connection task.
    pub(crate) async fn stop(self) {
        self.accept_task.abort();
        let _ = self.accept_task.await;
        for task in self.http {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Why the serving loop stopped without an error.
#[derive(Debug)]
pub(crate) enum Stopped {
    Shutdown,
    /// The member's role is over (its leader is gone, ...): back to election.
    RoleEnded(String),
}

/// The sources one serving loop takes turns on.
pub(crate) struct Turns<'a> {
    pub(crate) inbound: &'a mut mpsc::Receiver<crate::net::Inbound>,
    pub(crate) queries: &'a mut mpsc::Receiver<Query>,
    pub(crate) events: &'a mut mpsc::Receiver<LogEvent>,
    pub(crate) prometheus: Option<&'a metrics_exporter_prometheus::PrometheusHandle>,
    /// The leader's packets, for a member of an ensemble.
    pub(crate) quorum: Option<mpsc::Receiver<link::QuorumEvent>>,
    /// The election port, answered while serving so that looking members learn who leads.
    pub(crate) election: Option<&'a mut crate::quorum::ElectionRunner>,
}

impl Turns<'_> {
    /// Serves until `shutdown` completes, the role ends, or the log fails (an error: a write that cannot be
    /// made durable must not be acknowledged).
    pub(crate) async fn run(
        mut self,
        runtime: &mut Runtime,
        mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
    ) -> io::Result<Stopped> {
        let tick = Duration::from_millis(u64::from(runtime.config.tick_time_ms / 2).max(1));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut half_ticks = 0u64;
        loop {
            let step = tokio::select! {
                biased;
                () = &mut shutdown => return Ok(Stopped::Shutdown),
                event = self.events.recv() => match event {
                    Some(LogEvent::Durable(zxid, batch)) => runtime.persisted(zxid, batch),
                    Some(LogEvent::Failed(e)) => Err(e),
                    None => Err(io::Error::other("the txn log thread has stopped")),
                },
                Some(event) = recv_some(&mut self.quorum) => runtime.quorum_event(event).map(|end| {
                    if let Some(why) = end {
                        runtime.role_end.get_or_insert(why);
                    }
                }),
                message = self.inbound.recv(), if runtime.accepts_requests() => match message {
                    Some(message) => runtime.handle_batch(message, self.inbound),
                    None => return Ok(Stopped::Shutdown),
                },
                Some(query) = self.queries.recv() => {
                    runtime.query(query);
                    Ok(())
                }
                () = answer_some(&mut self.election) => Ok(()),
                _ = ticker.tick() => {
                    if let Some(h) = self.prometheus {
                        h.run_upkeep();
                    }
                    half_ticks += 1;
                    let link = if half_ticks % 2 == 0 {
                        runtime.link_tick().map(|end| {
                            if let Some(why) = end {
                                runtime.role_end.get_or_insert(why);
                            }
                        })
                    } else {
                        Ok(())
                    };
                    link.and_then(|()| runtime.tick())
                }
            };
            if let Err(e) = step.and_then(|()| runtime.end_turn()) {
                tracing::error!(error = %e, "txn log failed; stopping the server");
                return Err(e);
            }
            if let (Some(epoch), Some(election)) = (runtime.established_epoch.take(), self.election.as_mut())
            {
                // Every member of the ensemble then reports the same vote to members that start looking.
                election.election.update_election_vote(epoch);
            }
            if let Some(why) = runtime.role_end.take() {
                return Ok(Stopped::RoleEnded(why));
            }
        }
    }
}

async fn recv_some<T>(rx: &mut Option<mpsc::Receiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

async fn answer_some(election: &mut Option<&mut crate::quorum::ElectionRunner>) {
    match election {
        Some(e) => e.answer_one().await,
        None => std::future::pending().await,
    }
}

/// What recovery leaves to the serving loop.
#[derive(Debug, Clone, Copy)]
struct Startup {
    /// How long loading the database took (`db_init_time`).
    db_init_ms: u64,
    /// Txns replayed from the log on top of the snapshot (`startup_txns_loaded`).
    txns_loaded: u64,
    /// Digest mismatches recovery found.
    digest_mismatches: u64,
    /// The start-up snapshot is to be taken while serving.
    snapshot: bool,
}

/// The accept loop: applies maxCnxns and maxClientCnxns, numbers connections and starts their tasks.
struct Acceptor {
    listener: TcpListener,
    limiter: Arc<IpLimiter>,
    limits: ConnLimits,
    to_server: mpsc::Sender<Inbound>,
    counters: Arc<NetCounters>,
}

impl Acceptor {
    async fn run(self) {
        let mut next_id = 1u64;
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let permit = match self.limiter.try_acquire(peer.ip()) {
                            Ok(permit) => permit,
                            Err(refused) => {
                                log_refused(peer, refused);
                                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                        };
                        let conn = ConnId(next_id);
                        next_id += 1;
                        tracing::debug!(%conn, %peer, "accepted connection");
                        let to_server = self.to_server.clone();
                        let limits = self.limits;
                        let counters = Arc::clone(&self.counters);
                        tasks.spawn(async move {
                            let _permit = permit;
                            conn::serve(stream, conn, peer, limits, to_server, counters).await;
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little rather than spin.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
    }
}

/// Logs a connection refused at accept, as `NIOServerCnxnFactory` does ("Too many connections <n> - max is
/// <m>" at ERROR for maxCnxns, "Too many connections from <ip> - max is <n>" for maxClientCnxns).
fn log_refused(peer: SocketAddr, refused: Refused) {
    match refused {
        Refused::Total { open, max } => tracing::error!(
            %peer, open, max, "too many connections (maxCnxns); closing"
        ),
        Refused::PerIp { max } => tracing::warn!(
            ip = %peer.ip(), max, "too many connections from this address (maxClientCnxns); closing"
        ),
    }
}

async fn bind_named(addr: SocketAddr, setting: &str) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr} ({setting}): {e}")))
}

/// Starts the AdminServer and the Prometheus endpoint on their bound ports.
fn spawn_http(
    admin_listener: Option<TcpListener>,
    prometheus_listener: Option<TcpListener>,
    handle: Option<metrics_exporter_prometheus::PrometheusHandle>,
    config: &ServerConfig,
    queries: mpsc::Sender<Query>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(listener) = admin_listener {
        let url = &config.ops.admin.command_url;
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(url = %admin::commands::url(addr, url), "AdminServer started");
        }
        let router = admin::admin_router(url, queries.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = admin::serve(listener, router, std::future::pending()).await {
                tracing::error!(error = %e, "AdminServer stopped");
            }
        }));
    }
    if let (Some(listener), Some(handle)) = (prometheus_listener, handle) {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(url = %format!("http://{addr}/metrics"), "Prometheus metrics endpoint started");
        }
        let router = admin::metrics_router(handle, queries);
        tasks.push(tokio::spawn(async move {
            if let Err(e) = admin::serve(listener, router, std::future::pending()).await {
                tracing::error!(error = %e, "Prometheus metrics endpoint stopped");
            }
        }));
    }
    tasks
}
