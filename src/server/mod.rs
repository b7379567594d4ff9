//! The runtime of a standalone server: the listener, one task per connection (`net::conn`), and the single
//! task that owns the core (`runtime`). Connections talk to the core task over one bounded channel, so a
//! flood of requests waits in the connections' sockets rather than in memory; the core task answers on each
//! connection's own queue, whose size the runtime caps.
//!
//! Shutdown: when the future given to [`Server::run`] completes, the listener stops, every connection is
//! closed and `run` returns.

mod runtime;
pub mod stats;
pub mod txnlog;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::ServerConfig;
use crate::net::conn::{self, ConnLimits};
use crate::net::limits::IpLimiter;
use crate::net::Inbound;
use crate::types::ConnId;
use runtime::Runtime;
use txnlog::{MemTxnLog, TxnLog};

/// Messages from connections waiting for the core task, at most. When it is full, connection tasks wait,
/// and so stop reading their sockets. With frames of at most jute.maxbuffer, this bounds the memory held in
/// the queue to INBOUND_QUEUE_MAX × jute.maxbuffer.
const INBOUND_QUEUE_MAX: usize = 256;

/// A bound, not yet running, server.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    config: ServerConfig,
}

impl Server {
    /// Binds the client port (`clientPortAddress:clientPort`; port 0 picks a free one).
    pub async fn bind(config: ServerConfig) -> io::Result<Server> {
        let listener = TcpListener::bind(config.client_address).await?;
        Ok(Server { listener, config })
    }

    /// The address the client port is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves clients until `shutdown` completes, with an in-memory txn log.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        self.run_with_log(MemTxnLog::default(), shutdown).await
    }

    /// Serves clients until `shutdown` completes, persisting txns to `log`. Returns an error if the log fails
    /// (a write that cannot be made durable must not be acknowledged).
    pub async fn run_with_log<L: TxnLog>(self, log: L, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let limits = ConnLimits {
            max_frame_bytes: self.config.jute_max_buffer,
            outstanding_max: self.config.global_outstanding_limit as usize,
            handshake_timeout: Duration::from_millis(u64::from(self.config.sessionless_cnxn_timeout_ms)),
        };
        let rejected = Arc::new(AtomicU64::new(0));
        let (to_server, mut inbound) = mpsc::channel(INBOUND_QUEUE_MAX);
        let acceptor = Acceptor {
            listener: self.listener,
            limiter: IpLimiter::new(self.config.max_client_cnxns),
            limits,
            to_server,
            rejected: Arc::clone(&rejected),
        };
        let accept_task = tokio::spawn(acceptor.run());
        let tick = Duration::from_millis(u64::from(self.config.tick_time_ms / 2).max(1));
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut runtime = Runtime::new(self.config, log, rejected);
        tokio::pin!(shutdown);
        let result = loop {
            let step = tokio::select! {
                biased;
                () = &mut shutdown => break Ok(()),
                message = inbound.recv() => match message {
                    Some(message) => runtime.handle(message),
                    None => break Ok(()),
                },
                _ = ticker.tick() => runtime.tick(),
            };
            if let Err(e) = step {
                tracing::error!(error = %e, "txn log failed; stopping the server");
                break Err(e);
            }
        };
        tracing::info!(zxid = %runtime.last_zxid(), "shutting down");
        runtime.close_all();
        // Aborting the acceptor drops its JoinSet, which ends every connection task.
        accept_task.abort();
        let _ = accept_task.await;
        result
    }
}

/// The accept loop: applies maxClientCnxns, numbers connections and starts their tasks.
struct Acceptor {
    listener: TcpListener,
    limiter: Arc<IpLimiter>,
    limits: ConnLimits,
    to_server: mpsc::Sender<Inbound>,
    rejected: Arc<AtomicU64>,
}

impl Acceptor {
    async fn run(self) {
        let mut next_id = 1u64;
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let Some(permit) = self.limiter.try_acquire(peer.ip()) else {
                            // NIOServerCnxnFactory logs "Too many connections from <ip> - max is <n>".
                            tracing::warn!(
                                ip = %peer.ip(), max = self.limiter.max_per_ip(),
                                "too many connections from this address (maxClientCnxns); closing"
                            );
                            self.rejected.fetch_add(1, Ordering::Relaxed);
                            continue;
                        };
                        let conn = ConnId(next_id);
                        next_id += 1;
                        tracing::debug!(%conn, %peer, "accepted connection");
                        let to_server = self.to_server.clone();
                        let limits = self.limits;
                        tasks.spawn(async move {
                            let _permit = permit;
                            conn::serve(stream, conn, peer, limits, to_server).await;
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
