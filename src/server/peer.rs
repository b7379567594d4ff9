//! A member of an ensemble (`QuorumPeer.run`): look for a leader on the election port, then follow it until
//! it is gone, then look again. Each role starts from the data directory as the last one left it (recovery
//! runs again), so a role never inherits half-done work from the one before: what was in flight and not
//! committed is gone, as in ZooKeeper, whose members rebuild their server at every change of role.
//!
//! The client port, the AdminServer and the metrics endpoint stay up throughout; between roles client
//! connections are closed as they arrive (ZooKeeper's "not currently serving requests"), or, with
//! `readonlymode.enabled`, served read-only while the election lasts (`read_only`).
//!
//! A follower first registers with its leader and receives the sync mode (`core::zab::learner`) here, with
//! the database it recovered before the election still open: after a DIFF it serves that database (as
//! ZooKeeper's learner keeps its in-memory one); a TRUNC truncates the log and a SNAP installs the leader's
//! snapshot on disk, closing it first, and the database is then recovered from what is there. The rest of the
//! sync (the proposals up to NEWLEADER, UPTODATE) and the broadcast run in the serving loop (`link`).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use jute::codes::PacketType;
use jute::election::ServerState;
use jute::quorum::{Payload, Sender};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::link::{FollowerLink, LeaderLink, Link, QuorumEvent};
use super::quorum_ops::{self, RoleOps};
use super::read_only;
use super::runtime::Runtime;
use super::snapshots::Snapshotter;
use super::{logthread, startup, Server, Services, Stopped, Turns};
use crate::config::ensemble::{QuorumSettings, Role};
use crate::config::ServerConfig;
use crate::core::zab::election::{
    Election, ElectionConfig, ElectionTimeouts, Persisted as ElectionPersisted,
};
use crate::core::zab::leader::{Leader, LeaderConfig, LeaderPersisted};
use crate::core::zab::learner::{Action, Durable, Learner, LearnerConfig, Persisted as LearnerPersisted};

use crate::quorum::election_port::{ElectionPort, ElectionPortConfig, CONNECT_TIMEOUT_MS_DEFAULT};
use crate::quorum::link::{Outgoing, PacketReader, PacketWriter};
use crate::quorum::ElectionRunner;
use crate::storage::diff::recent_txns;
use crate::storage::epoch::{load_epochs, write_epoch, ACCEPTED_EPOCH};
use crate::storage::install::install_snapshot;
use crate::storage::truncate::truncate_log;
use crate::types::ServerId;

/// Quorum events waiting for the server task, at most (a reader waits while it is full).
const QUORUM_EVENTS_MAX: usize = 1024;

/// The largest snapshot a follower takes from its leader (bytes buffered before it is installed).
const SNAP_MAX_BYTES: usize = 1 << 34;

impl Server {
    /// Runs this member of the ensemble in `quorum` until `shutdown` completes.
    pub async fn run_member(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let Some(quorum) = self.config.quorum.clone() else {
            return Err(io::Error::other("no ensemble in the configuration"));
        };
        let mut svc = self.start_services()?;
        let mut election = bind_election(&svc.config, &quorum).await?;
        tokio::pin!(shutdown);
        let result = loop {
            match one_role(&mut svc, &quorum, &mut election, shutdown.as_mut()).await {
                Ok(Stopped::Shutdown) => break Ok(()),
                Ok(Stopped::RoleEnded(why)) => {
                    tracing::warn!(reason = %why, "leaving the current role; looking for a leader");
                }
                Err(e) => break Err(e),
            }
        };
        svc.stop().await;
        result
    }
}

/// The election port and the election core, bound once for the member's life.
async fn bind_election(config: &ServerConfig, quorum: &QuorumSettings) -> io::Result<ElectionRunner> {
    let me = quorum.me();
    let peers = quorum
        .members
        .iter()
        .filter(|m| m.id != quorum.my_id)
        .map(|m| (ServerId(m.id as i64), m.election_all.clone()))
        .collect();
    let tick = Duration::from_millis(u64::from(config.tick_time_ms));
    let port = ElectionPort::bind(ElectionPortConfig {
        my_id: ServerId(quorum.my_id as i64),
        listen: me
            .election_all
            .iter()
            .map(|a| quorum.listen_address(*a))
            .collect(),
        advertised: me.election_all.iter().map(|a| a.to_string()).collect(),
        multi_address: quorum.multi_address,
        peers,
        connect_timeout: Duration::from_millis(CONNECT_TIMEOUT_MS_DEFAULT),
        socket_timeout: tick * quorum.sync_limit,
    })
    .await
    .map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen on the election port {}: {e}", me.election),
        )
    })?;
    let majority = quorum.verifier().map_err(io::Error::other)?;
    let election = Election::new(
        ElectionConfig {
            my_id: ServerId(quorum.my_id as i64),
            quorum: majority,
            config_text: Bytes::from(config_text(config)),
            timeouts: ElectionTimeouts::zookeeper_defaults(u64::from(config.tick_time_ms)),
        },
        ElectionPersisted::default(),
    );
    Ok(ElectionRunner::new(port, election, Duration::from_millis(200)))
}

/// `QuorumMaj.toString` (and `QuorumHierarchical.toString`): the server lines as ZooKeeper prints them, the
/// groups and weights if any, then the version.
pub(super) fn config_text(config: &ServerConfig) -> String {
    let mut lines: Vec<String> = config
        .ensemble
        .servers
        .iter()
        .map(|s| {
            let role = match s.role {
                Role::Participant => "participant",
                Role::Observer => "observer",
            };
            // Several addresses are listed in the order of their host strings (`QuorumServer.toString`).
            let mut addresses: Vec<_> = s.addresses.iter().collect();
            addresses.sort_by(|a, b| a.host.cmp(&b.host));
            let addresses: Vec<String> = addresses
                .iter()
                .map(|a| format!("{}:{}:{}", a.host, a.quorum_port, a.election_port))
                .collect();
            let mut line = format!("server.{}={}:{role}", s.id, addresses.join("|"));
            if let Some((host, port)) = &s.client {
                line.push_str(&format!(";{host}:{port}"));
            }
            line
        })
        .collect();
    if let Some(q) = config.quorum.as_ref() {
        if let Ok(v) = q.verifier() {
            lines.extend(v.hierarchy_lines());
        }
    }
    lines.push("version=0".into());
    lines.join("\n")
}

/// Elects, then plays the role the election gave until it ends.
async fn one_role(
    svc: &mut Services,
    quorum: &QuorumSettings,
    election: &mut ElectionRunner,
    mut shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> io::Result<Stopped> {
    let config = svc.config.clone();
    let started = std::time::Instant::now();
    let mut opened = open_database(&config, started).await?;
    let last = opened.core.last_zxid();
    let epochs = load_epochs(opened.fs.as_ref(), &opened.dirs.snap_dir, last).map_err(io::Error::other)?;
    let persisted = ElectionPersisted {
        last_logged_zxid: last,
        current_epoch: epochs.current,
    };
    quorum_ops::election_began(svc.metrics.as_mut(), quorum.my_id);
    let looking = std::time::Instant::now();
    let mut serving = None;
    let decision = tokio::select! {
        () = &mut shutdown => return Ok(Stopped::Shutdown),
        d = election.elect(persisted) => d,
        r = read_only::serve_while_looking(svc, &mut opened.core, started, &mut serving) => return r,
    };
    read_only::stop(svc, &mut opened.core, serving);
    quorum_ops::election_ended(svc.metrics.as_mut(), &decision, looking.elapsed());
    match decision.state {
        ServerState::Following | ServerState::Observing => {
            let leader = decision.vote.candidate.leader;
            let Some(addrs) = quorum
                .members
                .iter()
                .find(|m| m.id as i64 == leader.0)
                .map(|m| m.quorum_all.clone())
            else {
                return Ok(Stopped::RoleEnded(format!(
                    "the elected leader {} is not in the server list",
                    leader.0
                )));
            };
            let start = LearnerPersisted {
                accepted_epoch: epochs.accepted,
                current_epoch: epochs.current,
                last_logged_zxid: last,
                needs_initial_snapshot: false,
            };
            let leader = (leader.0 as u64, addrs);
            follow(svc, quorum, election, leader, start, (opened, started), shutdown).await
        }
        // A leader serves the database it was elected with.
        ServerState::Leading => lead(svc, quorum, election, epochs, (opened, started), shutdown).await,
        other => Ok(Stopped::RoleEnded(format!(
            "the election ended in state {other:?}"
        ))),
    }
}

/// Recovers the database from the data directory, off the async threads.
async fn open_database(config: &ServerConfig, started: std::time::Instant) -> io::Result<startup::Opened> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || startup::open(&config, started))
        .await
        .map_err(io::Error::other)?
        .map_err(io::Error::other)
}

/// Reads a quorum connection's packets into the server task's queue until it ends.
fn spawn_reader(
    conn: u64,
    mut reader: PacketReader,
    tx: mpsc::Sender<QuorumEvent>,
) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        loop {
            let (event, end) = match reader.next().await {
                Ok(packet) => (QuorumEvent::Packet { conn, packet }, false),
                Err(e) => (
                    QuorumEvent::Closed {
                        conn,
                        why: format!("the quorum connection ended: {e}"),
                    },
                    true,
                ),
            };
            if tx.send(event).await.is_err() || end {
                return;
            }
        }
    })
    .abort_handle()
}

/// Follows the leader (its id and quorum addresses) until it is gone, serving the database the member was
/// elected with when the leader syncs it by DIFF (as ZooKeeper's learner keeps its in-memory database), and the
/// one on disk after a TRUNC or a SNAP.
async fn follow(
    svc: &mut Services,
    quorum: &QuorumSettings,
    election: &mut ElectionRunner,
    (leader_id, addrs): (u64, Vec<SocketAddr>),
    start: LearnerPersisted,
    (opened, elected_with): (startup::Opened, std::time::Instant),
    shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> io::Result<Stopped> {
    let config = svc.config.clone();
    let tick = Duration::from_millis(u64::from(config.tick_time_ms));
    let cfg = LearnerConfig {
        my_id: ServerId(quorum.my_id as i64),
        observer: quorum.me().observer,
        config_version: 0,
        init_limit_ticks: u64::from(quorum.init_limit),
        sync_limit_ticks: u64::from(quorum.sync_limit),
    };
    let fs: Arc<dyn crate::storage::fs::Fs> = Arc::new(crate::storage::fs::RealFs);
    let dirs = crate::storage::recovery::DataDirs::new(&config.data_dir, &config.data_log_dir);
    let connecting = std::time::Instant::now();
    let mut kept = Some(opened);
    let registered = tokio::time::timeout(
        tick * quorum.init_limit,
        register(&addrs, cfg, start, &config, fs.as_ref(), &dirs, &mut kept),
    )
    .await;
    let (learner, reader, writer, leftover, addr) = match registered {
        Ok(Ok(r)) => r,
        Ok(Err(why)) => return Ok(Stopped::RoleEnded(why)),
        Err(_) => {
            return Ok(Stopped::RoleEnded(format!(
                "no sync from the leader at {addrs:?} within initLimit"
            )))
        }
    };
    // Reading the data directory again can take longer than initLimit for a large tree: only a sync that
    // changed it on disk does.
    let (opened, started) = match kept {
        Some(opened) => (opened, elected_with),
        None => {
            let started = std::time::Instant::now();
            (open_database(&config, started).await?, started)
        }
    };
    let mut core = opened.core;
    core.become_follower();
    let (events_tx, mut events) = mpsc::channel(logthread::EVENTS_MAX);
    let (log_tx, log_thread) = logthread::spawn(Box::new(opened.log), events_tx)?;
    let snapshots = Snapshotter::new(opened.fs.clone(), opened.dirs.clone(), &config.storage);
    let mut runtime = Runtime::new(
        config.clone(),
        core,
        started,
        log_tx,
        Some(snapshots),
        Arc::clone(&svc.counters),
        svc.metrics.take().unwrap_or_default(),
    );
    let durable = runtime.last_zxid();
    runtime.link = Link::Follower(Box::new(FollowerLink {
        learner,
        writer,
        fs,
        dirs,
        logged: Default::default(),
        durable,
        serving: false,
        observer: quorum.me().observer,
        max_len: config.jute_max_buffer,
        ops: RoleOps::new(leader_id, addr).since(connecting),
    }));
    runtime.load_config_node();
    let (quorum_tx, quorum_rx) = mpsc::channel(QUORUM_EVENTS_MAX);
    let reader_task = spawn_reader(0, reader, quorum_tx);
    let first = runtime.learner_actions(leftover);
    let result = serve_role(
        svc,
        &mut runtime,
        first,
        &mut events,
        quorum_rx,
        election,
        shutdown,
    )
    .await;
    reader_task.abort();
    runtime.close_all();
    svc.metrics = Some(std::mem::take(&mut runtime.metrics));
    drop(runtime);
    drop(events);
    let _ = log_thread.join();
    result
}

/// Leads until a quorum no longer follows: discovery, sync and broadcast run in the serving loop (`link`),
/// with learners accepted on the quorum port as they come.
async fn lead(
    svc: &mut Services,
    quorum: &QuorumSettings,
    election: &mut ElectionRunner,
    epochs: crate::storage::epoch::Epochs,
    (opened, started): (startup::Opened, std::time::Instant),
    shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> io::Result<Stopped> {
    let config = svc.config.clone();
    let last = opened.core.last_zxid();
    let me = quorum.me().quorum;
    let mut listeners = Vec::new();
    for addr in &quorum.me().quorum_all {
        match tokio::net::TcpListener::bind(quorum.listen_address(*addr)).await {
            Ok(l) => listeners.push(l),
            Err(e) => {
                // As ZooKeeper's `makeLeader` failing: look for a leader again (after a pause, not in a hot
                // loop).
                tokio::time::sleep(Duration::from_millis(u64::from(config.tick_time_ms))).await;
                return Ok(Stopped::RoleEnded(format!(
                    "cannot listen on the quorum port {addr}: {e}"
                )));
            }
        }
    }
    let recent = {
        let (fs, dir) = (opened.fs.clone(), opened.dirs.log_dir.clone());
        tokio::task::spawn_blocking(move || recent_txns(fs, &dir, last, COMMITTED_LOG_MAX))
            .await
            .map_err(io::Error::other)?
    };
    tracing::info!(txns = recent.len(), "committed log for DIFF loaded");
    let (leader, first) = Leader::start(
        LeaderConfig {
            my_id: ServerId(quorum.my_id as i64),
            voters: quorum.voters().map(|m| ServerId(m.id as i64)).collect(),
            observers: quorum.observers().map(|m| ServerId(m.id as i64)).collect(),
            groups: quorum.hierarchy(),
            init_limit_ticks: u64::from(quorum.init_limit),
            sync_limit_ticks: u64::from(quorum.sync_limit),
            committed_log_max: COMMITTED_LOG_MAX,
            config_text: Some(Bytes::from(config_text(&config))),
        },
        LeaderPersisted {
            accepted_epoch: epochs.accepted,
            current_epoch: epochs.current,
            last_zxid: last,
        },
        recent,
    );
    let (events_tx, mut events) = mpsc::channel(logthread::EVENTS_MAX);
    let (log_tx, log_thread) = logthread::spawn(Box::new(opened.log), events_tx)?;
    let snapshots = Snapshotter::new(opened.fs.clone(), opened.dirs.clone(), &config.storage);
    let mut runtime = Runtime::new(
        config.clone(),
        opened.core,
        started,
        log_tx,
        Some(snapshots),
        Arc::clone(&svc.counters),
        svc.metrics.take().unwrap_or_default(),
    );
    runtime.link = Link::Leader(Box::new(LeaderLink {
        leader,
        learners: Default::default(),
        stats: Default::default(),
        fs: opened.fs.clone(),
        dirs: opened.dirs.clone(),
        established: false,
        max_len: config.jute_max_buffer,
        ops: RoleOps::new(quorum.my_id, me),
    }));
    runtime.load_config_node();
    let (quorum_tx, quorum_rx) = mpsc::channel(QUORUM_EVENTS_MAX);
    let max_len = config.jute_max_buffer;
    // One acceptor per quorum address; learners are numbered across them.
    let next = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let acceptors: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            let (quorum_tx, next) = (quorum_tx.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let Ok((stream, peer)) = listener.accept().await else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let conn = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(%peer, learner = conn, "a learner connected");
                    let _ = stream.set_nodelay(true);
                    let (rd, wr) = stream.into_split();
                    let writer = PacketWriter::spawn(wr);
                    let reader = spawn_reader(conn, PacketReader::new(rd, max_len), quorum_tx.clone());
                    let accepted = QuorumEvent::Accepted {
                        conn,
                        peer,
                        writer,
                        reader,
                    };
                    if quorum_tx.send(accepted).await.is_err() {
                        return;
                    }
                }
            })
        })
        .collect();
    drop(quorum_tx);
    let first = runtime.leader_actions(first);
    let result = serve_role(
        svc,
        &mut runtime,
        first,
        &mut events,
        quorum_rx,
        election,
        shutdown,
    )
    .await;
    for acceptor in &acceptors {
        acceptor.abort();
    }
    runtime.close_all();
    if let Link::Leader(l) = &runtime.link {
        for (_, reader) in l.learners.values() {
            reader.abort();
        }
    }
    svc.metrics = Some(std::mem::take(&mut runtime.metrics));
    drop(runtime);
    drop(events);
    let _ = log_thread.join();
    result
}

/// Serves a role's turns once its first actions (`first`) are carried out, unless they ended it.
async fn serve_role(
    svc: &mut Services,
    runtime: &mut Runtime,
    first: io::Result<Option<String>>,
    events: &mut mpsc::Receiver<logthread::LogEvent>,
    quorum_rx: mpsc::Receiver<QuorumEvent>,
    election: &mut ElectionRunner,
    shutdown: std::pin::Pin<&mut impl Future<Output = ()>>,
) -> io::Result<Stopped> {
    match first? {
        Some(why) => Ok(Stopped::RoleEnded(why)),
        None => {
            let turns = Turns {
                inbound: &mut svc.inbound,
                queries: &mut svc.queries,
                events,
                prometheus: svc.prometheus.as_ref(),
                quorum: Some(quorum_rx),
                election: Some(election),
            };
            turns.run(runtime, shutdown).await
        }
    }
}

/// Committed txns a leader keeps to sync learners by DIFF (ZooKeeper's `commitLogCount`).
const COMMITTED_LOG_MAX: usize = 500;

/// What registering with the leader leaves: the learner, the connection, the actions that follow the sync
/// mode's packet, for the serving loop, and the leader's address that answered.
type Registered = (Learner, PacketReader, PacketWriter, Vec<Action>, SocketAddr);

/// Connects to the leader and runs the learner until the sync mode (DIFF, TRUNC or SNAP) is handled, writing
/// the accepted epoch, truncating or installing the snapshot on disk on the way; `opened`, the database as
/// recovered before the election, is closed before the data directory is changed.
async fn register(
    addrs: &[SocketAddr],
    cfg: LearnerConfig,
    start: LearnerPersisted,
    config: &ServerConfig,
    fs: &dyn crate::storage::fs::Fs,
    dirs: &crate::storage::recovery::DataDirs,
    opened: &mut Option<startup::Opened>,
) -> Result<Registered, String> {
    let (stream, addr) = connect(addrs).await?;
    let _ = stream.set_nodelay(true);
    let (rd, wr) = stream.into_split();
    let mut reader = PacketReader::new(rd, config.jute_max_buffer);
    let writer = PacketWriter::spawn(wr);
    let (mut learner, first) = Learner::start(cfg, start);
    let mut synced_mode = false;
    let mut leftover = Vec::new();
    let mut queue: std::collections::VecDeque<Action> = first.into();
    loop {
        while let Some(action) = queue.pop_front() {
            let done = match action {
                Action::Send { zxid, payload } => {
                    let packet = payload.to_packet(zxid).map_err(|e| e.to_string())?;
                    if !writer.send(Outgoing::Packet(packet)) {
                        return Err("the connection to the leader is gone".into());
                    }
                    None
                }
                Action::WriteAcceptedEpoch(e) => {
                    write_epoch(fs, &dirs.snap_dir, ACCEPTED_EPOCH, e).map_err(|e| e.to_string())?;
                    Some(Durable::AcceptedEpoch)
                }
                Action::TruncateLog(z) => {
                    opened.take();
                    tracing::info!(zxid = %z, "truncating the log as the leader asks (TRUNC)");
                    truncate_log(fs, dirs, z).map_err(|e| e.to_string())?;
                    None
                }
                Action::InstallSnapshot(z) => {
                    opened.take();
                    let bytes = reader.snapshot(SNAP_MAX_BYTES).await.map_err(|e| e.to_string())?;
                    install_snapshot(
                        fs,
                        dirs,
                        z,
                        &bytes,
                        config.storage.compression,
                        config.extended_types,
                    )
                    .map_err(|e| e.to_string())?;
                    None
                }
                other => {
                    leftover.push(other);
                    None
                }
            };
            if let Some(done) = done {
                let more = learner.persisted(done).map_err(|e| e.to_string())?;
                for (i, a) in more.into_iter().enumerate() {
                    queue.insert(i, a);
                }
            }
        }
        if synced_mode {
            return Ok((learner, reader, writer, leftover, addr));
        }
        let packet = reader
            .next()
            .await
            .map_err(|e| format!("the connection to the leader ended: {e}"))?;
        // After this packet's actions the database is opened from disk; the rest runs in the serving loop.
        synced_mode = matches!(
            PacketType::from_code(packet.packet_type),
            Some(PacketType::Diff | PacketType::Trunc | PacketType::Snap)
        );
        quorum_ops::log_learner_sync(PacketType::from_code(packet.packet_type), packet.zxid);
        let payload =
            Payload::decode(&packet, Sender::Leader, config.jute_max_buffer).map_err(|e| e.to_string())?;
        queue.extend(learner.receive(packet.zxid, payload).map_err(|e| e.to_string())?);
    }
}

/// Connects to the leader's quorum port, trying for a few seconds (`Learner.connectToLeader`): every address
/// of its server line at once, keeping the first connection made.
async fn connect(addrs: &[SocketAddr]) -> Result<(TcpStream, SocketAddr), String> {
    let mut last = String::from("no address");
    for _ in 0..10 {
        let mut attempts = tokio::task::JoinSet::new();
        for &addr in addrs {
            attempts.spawn(async move {
                let connected = tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await;
                (addr, connected)
            });
        }
        while let Some(done) = attempts.join_next().await {
            match done {
                Ok((addr, Ok(Ok(s)))) => return Ok((s, addr)),
                Ok((addr, Ok(Err(e)))) => last = format!("{addr}: {e}"),
                Ok((addr, Err(_))) => last = format!("{addr}: timed out"),
                Err(e) => last = e.to_string(),
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("cannot connect to the leader at {addrs:?}: {last}"))
}
