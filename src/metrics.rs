//! Server metrics under Apache ZooKeeper's names (`ServerMetrics`, `ZooKeeperServer.registerMetrics`), so
//! `mntr`, the AdminServer's `monitor` and Prometheus dashboards built for ZooKeeper read them unchanged.
//!
//! One [`Metrics`] per server keeps the figures `mntr` prints (counters, and summaries as
//! `avg/min/max/cnt/sum`, plus `p50/p95/p99/p999` for ZooKeeper's ADVANCED ones, as
//! `AvgMinMaxCounter` and `AvgMinMaxPercentileCounter` report them). When zoo.cfg names ZooKeeper's
//! `PrometheusMetricsProvider`, the same events also go through the `metrics` facade to a
//! `metrics-exporter-prometheus` recorder owned by this server (a local recorder, not the process-global one, so
//! two servers in one process never mix figures), and gauges are sampled when /metrics is scraped, as
//! ZooKeeper's provider samples its gauges on collection.
//!
//! ZooKeeper 3.9 registers every metric on every server, and dashboards look them up by name: ferrokeeper reports
//! those it measures, and those of parts it does not have (the quorum, request throttling, TLS) at 0, which is
//! what they read on a standalone ZooKeeper that never sees their events (see [`counter::ALL`] and
//! `SUMMARIES`). `jvm_pause_time_ms` (the pauses ZooKeeper's `JvmPauseMonitor` sees) is registered and stays empty:
//! ferrokeeper has no collector to pause it. Left out: the JVM collectors of `exportJvmInfo`.

use std::fmt;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use rand::Rng as _;

/// Counters (`ServerMetrics.getCounter`).
pub mod counter {
    /// Tree digests that differed from the one recorded, at a snapshot's zxid or after a logged txn
    /// (`DataTree.reportDigestMismatch`); recovery is where they are compared, the txns this server writes carry
    /// no digest.
    pub const DIGEST_MISMATCHES_COUNT: &str = "digest_mismatches_count";
    /// ConnectRequests received.
    pub const CONNECTION_REQUEST_COUNT: &str = "connection_request_count";
    /// Connections refused by maxClientCnxns.
    pub const CONNECTION_REJECTED: &str = "connection_rejected";
    /// Request payload bytes received on the client port.
    pub const BYTES_RECEIVED_COUNT: &str = "bytes_received_count";
    /// Reply bytes sent on the client port (notifications are `watch_bytes` in ZooKeeper and not counted).
    pub const RESPONSE_BYTES: &str = "response_bytes";
    /// Bytes of watch notifications sent (each one's frame without its length prefix, as
    /// `ServerCnxn.sendResponse` returns it).
    pub const WATCH_BYTES: &str = "watch_bytes";
    /// Connections closed for not finishing the handshake within nio.sessionlessCnxnTimeout.
    pub const SESSIONLESS_CONNECTIONS_EXPIRED: &str = "sessionless_connections_expired";
    /// Requests entering the pipeline (`PrepRequestProcessor.processRequest`): every request with an
    /// operation, reads included, as ZooKeeper's standalone pipeline passes every request through prep.
    pub const PREP_PROCESSOR_REQUEST_QUEUED: &str = "prep_processor_request_queued";
    /// Requests passing the log stage (`SyncRequestProcessor`): in ZooKeeper's standalone pipeline every
    /// request goes through it (reads wait behind the writes queued before them, as they do here for a
    /// session's FIFO order), so it counts the same requests as prep.
    pub const SYNC_PROCESSOR_REQUEST_QUEUED: &str = "sync_processor_request_queued";
    /// Connections whose client closed the socket under the server (`NIOServerCnxn.handleFailedRead`).
    pub const CONNECTION_DROP_COUNT: &str = "connection_drop_count";
    /// Change records added by prepared writes (`PrepRequestProcessor.addChangeRecord`).
    pub const OUTSTANDING_CHANGES_QUEUED: &str = "outstanding_changes_queued";
    /// Change records dropped once their txn is applied (`ZooKeeperServer.processTxnInDB`).
    pub const OUTSTANDING_CHANGES_REMOVED: &str = "outstanding_changes_removed";
    /// Replies to writes whose connection closed before the write was applied (`FinalRequestProcessor`,
    /// `Request.isStale`).
    pub const STALE_REPLIES: &str = "stale_replies";
    /// Sessions expired by the session tracker's ticks (`SessionTrackerImpl.run`).
    pub const STALE_SESSIONS_EXPIRED: &str = "stale_sessions_expired";
    /// Times the server stopped taking requests because the txns in flight reached
    /// `ferrokeeper.maxInFlightTxns` or `maxInFlightTxnBytes` (ZooKeeper counts its `RequestThrottler`'s stalls
    /// at `request_throttle_max_requests` here).
    pub const REQUEST_THROTTLE_WAIT_COUNT: &str = "request_throttle_wait_count";

    /// The counters of ZooKeeper 3.9's `ServerMetrics`, in name order: those ferrokeeper feeds (the constants
    /// above), and those counting events of parts a standalone ferrokeeper does not have (the quorum, the
    /// response cache, the dead-watcher cleaner, TLS handshakes, the AdminServer's `snapshot` and `restore`
    /// commands of 3.9, whose `snapshot_*`/`restore_*` counters 3.8 does not have), which stay 0 as they do on a standalone
    /// ZooKeeper that never sees them: dashboards and checks look these names up. `stale_requests`,
    /// `stale_requests_dropped` and `throttled_ops` are `RequestThrottler`'s dropping of requests that went
    /// stale while it stalled: ferrokeeper stalls by not reading (globalOutstandingLimit, the txns in flight)
    /// and drops nothing, so they read 0.
    pub(super) const ALL: [&str; 51] = [
        "add_dead_watcher_stall_time",
        BYTES_RECEIVED_COUNT,
        "cnxn_closed_without_zk_server_running",
        "commit_count",
        CONNECTION_DROP_COUNT,
        CONNECTION_REJECTED,
        CONNECTION_REQUEST_COUNT,
        "connection_revalidate_count",
        "dead_watchers_cleared",
        "dead_watchers_queued",
        "diff_count",
        DIGEST_MISMATCHES_COUNT,
        "ensemble_auth_fail",
        "ensemble_auth_skip",
        "ensemble_auth_success",
        "insecure_admin_count",
        "large_requests_rejected",
        "learner_commit_received_count",
        "learner_proposal_received_count",
        "looking_count",
        OUTSTANDING_CHANGES_QUEUED,
        OUTSTANDING_CHANGES_REMOVED,
        PREP_PROCESSOR_REQUEST_QUEUED,
        "proposal_count",
        "quit_leading_due_to_disloyal_voter",
        "request_commit_queued",
        REQUEST_THROTTLE_WAIT_COUNT,
        "requests_not_forwarded_to_commit_processor",
        RESPONSE_BYTES,
        "response_packet_cache_hits",
        "response_packet_cache_misses",
        "response_packet_get_children_cache_hits",
        "response_packet_get_children_cache_misses",
        "restore_error_count",
        "restore_rate_limited_count",
        "revalidate_count",
        SESSIONLESS_CONNECTIONS_EXPIRED,
        "skip_learner_request_to_next_processor_count",
        "snap_count",
        "snapshot_error_count",
        "snapshot_rate_limited_count",
        STALE_REPLIES,
        "stale_requests",
        "stale_requests_dropped",
        STALE_SESSIONS_EXPIRED,
        SYNC_PROCESSOR_REQUEST_QUEUED,
        "throttled_ops",
        "tls_handshake_exceeded",
        "unrecoverable_error_count",
        "unsuccessful_handshake",
        WATCH_BYTES,
    ];
}

/// Summaries (`ServerMetrics.getSummary`), in ms unless said otherwise.
pub mod summary {
    /// Reads, from arrival to answer (ADVANCED).
    pub const READ_LATENCY: &str = "readlatency";
    /// Writes, from arrival to answer (ADVANCED).
    pub const UPDATE_LATENCY: &str = "updatelatency";
    /// One fsync of the txn log.
    pub const FSYNC_TIME: &str = "fsynctime";
    /// Writing one snapshot file.
    pub const SNAPSHOT_TIME: &str = "snapshottime";
    /// Loading the database at start-up.
    pub const DB_INIT_TIME: &str = "dbinittime";
    /// Txns replayed from the log at start-up, on top of the snapshot (`FileTxnSnapLog.fastForwardFromEdits`);
    /// a count, not ms.
    pub const STARTUP_TXNS_LOADED: &str = "startup_txns_loaded";
    /// Time the core takes to validate a request and turn it into a txn, an error or a queued read
    /// (`PrepRequestProcessor.pRequest`).
    pub const PREP_PROCESS_TIME: &str = "prep_process_time";
    /// Time the log thread takes to append a batch of txns and fsync it (`SyncRequestProcessor.run`).
    pub const SYNC_PROCESS_TIME: &str = "sync_process_time";
    /// Per txn, from its hand-over to the log thread until the runtime hears it is durable
    /// (`SyncRequestProcessor`: from enqueue to flushed; ADVANCED).
    pub const SYNC_PROCESSOR_QUEUE_AND_FLUSH_TIME: &str = "sync_processor_queue_and_flush_time_ms";
    /// One sync of the log thread: buffered writes out, then the fsync (`SyncRequestProcessor.flush`; ADVANCED).
    pub const SYNC_PROCESSOR_QUEUE_FLUSH_TIME: &str = "sync_processor_queue_flush_time_ms";
    /// Txns appended per fsync (`SyncRequestProcessor.flush`).
    pub const SYNC_PROCESSOR_BATCH_SIZE: &str = "sync_processor_batch_size";
    /// Applying a batch of durable txns, firing their watches and queuing their replies
    /// (`CommitProcessor`'s commit loop).
    pub const COMMIT_PROCESS_TIME: &str = "commit_process_time";
    /// Watchers one NodeCreated trigger fired (`WatchManager.triggerWatch`); a count, not ms.
    pub const NODE_CREATED_WATCH_COUNT: &str = "node_created_watch_count";
    /// Watchers one NodeDeleted trigger fired, per table as ZooKeeper triggers each table on its own.
    pub const NODE_DELETED_WATCH_COUNT: &str = "node_deleted_watch_count";
    /// Watchers one NodeDataChanged trigger fired.
    pub const NODE_CHANGED_WATCH_COUNT: &str = "node_changed_watch_count";
    /// Watchers one NodeChildrenChanged trigger fired.
    pub const NODE_CHILDREN_WATCH_COUNT: &str = "node_children_watch_count";
}

/// Gauges sampled from the server's state (`ZooKeeperServer.registerMetrics`).
pub mod gauge {
    pub const AVG_LATENCY: &str = "avg_latency";
    pub const MAX_LATENCY: &str = "max_latency";
    pub const MIN_LATENCY: &str = "min_latency";
    pub const PACKETS_RECEIVED: &str = "packets_received";
    pub const PACKETS_SENT: &str = "packets_sent";
    pub const NUM_ALIVE_CONNECTIONS: &str = "num_alive_connections";
    pub const OUTSTANDING_REQUESTS: &str = "outstanding_requests";
    pub const UPTIME: &str = "uptime";
    pub const ZNODE_COUNT: &str = "znode_count";
    pub const WATCH_COUNT: &str = "watch_count";
    pub const EPHEMERALS_COUNT: &str = "ephemerals_count";
    pub const APPROXIMATE_DATA_SIZE: &str = "approximate_data_size";
    pub const GLOBAL_SESSIONS: &str = "global_sessions";
    pub const LOCAL_SESSIONS: &str = "local_sessions";
    pub const OPEN_FILE_DESCRIPTOR_COUNT: &str = "open_file_descriptor_count";
    pub const MAX_FILE_DESCRIPTOR_COUNT: &str = "max_file_descriptor_count";
    pub const CONNECTION_DROP_PROBABILITY: &str = "connection_drop_probability";
    pub const LAST_CLIENT_RESPONSE_SIZE: &str = "last_client_response_size";
    pub const MAX_CLIENT_RESPONSE_SIZE: &str = "max_client_response_size";
    pub const MIN_CLIENT_RESPONSE_SIZE: &str = "min_client_response_size";
    pub const OUTSTANDING_TLS_HANDSHAKE: &str = "outstanding_tls_handshake";
    pub const AUTH_FAILED_COUNT: &str = "auth_failed_count";
    pub const NON_MTLS_REMOTE_CONN_COUNT: &str = "non_mtls_remote_conn_count";
    pub const NON_MTLS_LOCAL_CONN_COUNT: &str = "non_mtls_local_conn_count";
}

/// ZooKeeper's summary detail levels: BASIC reports min/avg/max/count/sum, ADVANCED adds percentiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    Basic,
    Advanced,
}

/// The summaries of ZooKeeper 3.9's `ServerMetrics` with their detail levels, in name order, chosen as the
/// counters are: those ferrokeeper feeds, and those of parts it does not have, which stay empty (3.9's
/// `restore_time` among them: the AdminServer's `restore` command). Among the
/// latter are the `CommitProcessor`'s queue and session-queue figures (`*_commit_proc_*`, `*_session_queue*`,
/// `session_queues_drained`, `*_commitproc_time_ms`, `*_final_proc_time_ms`, `*_write_committed_time_ms`,
/// ...), which a standalone ZooKeeper does not run either; `socket_closing_time`, which ZooKeeper measures only
/// on quorum sockets (`Learner`, `LearnerHandler`). Registered but not measured yet, so empty although the
/// events exist: `startup_snap_load_time` and `startup_txns_load_time` (recovery loads the snapshot and replays
/// the log in one pass, timed as a whole in `dbinittime`) and the log thread's queue figures
/// (`sync_processor_queue_size`, `sync_processor_queue_time_ms`), and the prep stage's queue
/// (`prep_processor_queue_size`, `prep_processor_queue_time_ms`: the wait in the channel from a connection task
/// to the server task, which the runtime does not see). Always empty: `jvm_pause_time_ms`, the garbage
/// collector's pauses, which this server does not have (dashboards and alerts on it read 0).
const SUMMARIES: [(&str, Detail); 65] = [
    ("close_session_prep_time", Detail::Advanced),
    ("commit_commit_proc_req_queued", Detail::Basic),
    (summary::COMMIT_PROCESS_TIME, Detail::Basic),
    ("commit_propagation_latency", Detail::Advanced),
    ("concurrent_request_processing_in_commit_processor", Detail::Basic),
    ("connection_token_deficit", Detail::Basic),
    (summary::DB_INIT_TIME, Detail::Basic),
    ("dead_watchers_cleaner_latency", Detail::Advanced),
    ("election_time", Detail::Basic),
    ("follower_sync_time", Detail::Basic),
    (summary::FSYNC_TIME, Detail::Basic),
    ("inflight_diff_count", Detail::Basic),
    ("inflight_snap_count", Detail::Basic),
    ("jvm_pause_time_ms", Detail::Advanced),
    ("leader_unavailable_time", Detail::Basic),
    ("learner_request_processor_queue_size", Detail::Basic),
    ("local_write_committed_time_ms", Detail::Advanced),
    ("netty_queued_buffer_capacity", Detail::Basic),
    (summary::NODE_CHANGED_WATCH_COUNT, Detail::Basic),
    (summary::NODE_CHILDREN_WATCH_COUNT, Detail::Basic),
    (summary::NODE_CREATED_WATCH_COUNT, Detail::Basic),
    (summary::NODE_DELETED_WATCH_COUNT, Detail::Basic),
    ("observer_sync_time", Detail::Basic),
    ("om_commit_process_time_ms", Detail::Advanced),
    ("om_proposal_process_time_ms", Detail::Advanced),
    ("pending_session_queue_size", Detail::Basic),
    (summary::PREP_PROCESS_TIME, Detail::Basic),
    ("prep_processor_queue_size", Detail::Basic),
    ("prep_processor_queue_time_ms", Detail::Advanced),
    ("propagation_latency", Detail::Advanced),
    ("proposal_ack_creation_latency", Detail::Advanced),
    ("proposal_latency", Detail::Advanced),
    ("proposal_process_time", Detail::Basic),
    ("quorum_ack_latency", Detail::Advanced),
    ("read_commit_proc_issued", Detail::Basic),
    ("read_commit_proc_req_queued", Detail::Basic),
    ("read_commitproc_time_ms", Detail::Advanced),
    ("read_final_proc_time_ms", Detail::Advanced),
    (summary::READ_LATENCY, Detail::Advanced),
    ("reads_after_write_in_session_queue", Detail::Basic),
    ("reads_issued_from_session_queue", Detail::Basic),
    ("request_throttle_queue_time_ms", Detail::Advanced),
    ("requests_in_session_queue", Detail::Basic),
    ("restore_time", Detail::Basic),
    ("server_write_committed_time_ms", Detail::Advanced),
    ("session_queues_drained", Detail::Basic),
    (summary::SNAPSHOT_TIME, Detail::Basic),
    ("socket_closing_time", Detail::Basic),
    ("startup_snap_load_time", Detail::Basic),
    ("startup_txns_load_time", Detail::Basic),
    (summary::STARTUP_TXNS_LOADED, Detail::Basic),
    (summary::SYNC_PROCESS_TIME, Detail::Basic),
    (summary::SYNC_PROCESSOR_BATCH_SIZE, Detail::Basic),
    (summary::SYNC_PROCESSOR_QUEUE_AND_FLUSH_TIME, Detail::Advanced),
    (summary::SYNC_PROCESSOR_QUEUE_FLUSH_TIME, Detail::Advanced),
    ("sync_processor_queue_size", Detail::Basic),
    ("sync_processor_queue_time_ms", Detail::Advanced),
    (
        "time_waiting_empty_pool_in_commit_processor_read_ms",
        Detail::Basic,
    ),
    ("unavailable_time", Detail::Basic),
    (summary::UPDATE_LATENCY, Detail::Advanced),
    ("write_batch_time_in_commit_processor", Detail::Basic),
    ("write_commit_proc_issued", Detail::Basic),
    ("write_commit_proc_req_queued", Detail::Basic),
    ("write_commitproc_time_ms", Detail::Advanced),
    ("write_final_proc_time_ms", Detail::Advanced),
];

/// ZooKeeper's summary sets (`ServerMetrics.getSummarySet`): one summary per key (a top-level namespace, a
/// learner's server id), labelled `key` in Prometheus and keyed `avg_<key>_<name>` (and so on) in `mntr`.
pub mod summary_set {
    /// Packets waiting in a learner's queue each time the leader's writer takes one (`LearnerHandler.sendPackets`),
    /// per learner sid.
    pub const LEARNER_HANDLER_QP_SIZE: &str = "learner_handler_qp_size";
    /// Time a packet waited in a learner's queue, sampled on the first packet and every 1000th as ZooKeeper's
    /// marker packets sample it, per learner sid (ADVANCED).
    pub const LEARNER_HANDLER_QP_TIME_MS: &str = "learner_handler_qp_time_ms";
    /// Bytes of reads per namespace: path, data or children's names, and the Stat (`DataTree.updateReadStat`).
    pub const READ_PER_NAMESPACE: &str = "read_per_namespace";
    /// Bytes of writes per namespace: path and data (`DataTree.updateWriteStat`).
    pub const WRITE_PER_NAMESPACE: &str = "write_per_namespace";
}

/// One summary of a summary set.
#[derive(Debug)]
struct SetMember {
    set: &'static str,
    key: String,
    stats: SummaryStats,
    /// The exporter's handle, registered with the member (so recording needs no lookup by labels).
    histogram: Option<metrics::Histogram>,
}

/// Samples kept for percentiles: a uniform reservoir of this many (`AvgMinMaxPercentileCounter`'s
/// `ResettableUniformReservoir`).
const RESERVOIR_SIZE: usize = 4096;

/// One value of `mntr` / `monitor`.
#[derive(Debug, Clone, PartialEq)]
pub enum MonitorValue {
    Int(i64),
    /// Printed as Java prints a double (`0.0`, `9.5`).
    Double(f64),
    Text(String),
}

impl fmt::Display for MonitorValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MonitorValue::Int(v) => write!(f, "{v}"),
            MonitorValue::Double(v) => f.write_str(&crate::net::java::double(*v)),
            MonitorValue::Text(v) => f.write_str(v),
        }
    }
}

/// Min, max, count and sum of a summary, and a sample for its percentiles.
#[derive(Debug, Clone, Default)]
struct SummaryStats {
    count: u64,
    sum: u64,
    min: Option<u64>,
    max: u64,
    sample: Vec<u64>,
}

impl SummaryStats {
    fn add(&mut self, value: u64, detail: Detail) {
        self.count += 1;
        self.sum += value;
        self.min = Some(self.min.map_or(value, |m| m.min(value)));
        self.max = self.max.max(value);
        if detail == Detail::Advanced {
            if self.sample.len() < RESERVOIR_SIZE {
                self.sample.push(value);
            } else {
                let slot = rand::rng().random_range(0..self.count) as usize;
                if let Some(s) = self.sample.get_mut(slot) {
                    *s = value;
                }
            }
        }
    }

    /// The mean rounded half-up to 4 decimals (`AvgMinMaxCounter.getAvg`).
    fn avg(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        (self.sum as f64 / self.count as f64 * 10_000.0).round() / 10_000.0
    }

    /// The `q` quantile of the sample, as Dropwizard's `UniformSnapshot.getValue` interpolates it, rounded
    /// with `Math.round` as ZooKeeper reports it.
    fn quantile(&self, q: f64) -> u64 {
        let mut sorted = self.sample.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return 0;
        }
        let pos = q * (sorted.len() + 1) as f64;
        let index = pos as usize;
        if index < 1 {
            return sorted[0];
        }
        if index >= sorted.len() {
            return sorted[sorted.len() - 1];
        }
        let (lower, upper) = (sorted[index - 1] as f64, sorted[index] as f64);
        (lower + (pos - pos.floor()) * (upper - lower)).round() as u64
    }
}

/// The metrics of one server.
pub struct Metrics {
    prometheus: Option<PrometheusRecorder>,
    counters: [u64; counter::ALL.len()],
    summaries: Vec<SummaryStats>,
    /// Members of the summary sets, in the order they were first seen (few: one per top-level namespace).
    sets: Vec<SetMember>,
    /// Where each name sits in `counters` and `summaries`: a request records several figures, and a scan of
    /// the name lists compared strings dozens of times for each.
    slots: Slots,
}

/// The index of each counter name in [`counter::ALL`] and each summary name in `SUMMARIES`.
#[derive(Debug)]
struct Slots {
    counters: foldhash::HashMap<&'static str, usize>,
    summaries: foldhash::HashMap<&'static str, usize>,
}

impl Slots {
    fn new() -> Slots {
        Slots {
            counters: positions(counter::ALL.iter().copied()),
            summaries: positions(SUMMARIES.iter().map(|(n, _)| *n)),
        }
    }
}

fn positions(names: impl Iterator<Item = &'static str>) -> foldhash::HashMap<&'static str, usize> {
    names.enumerate().map(|(i, n)| (n, i)).collect()
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics")
            .field("prometheus", &self.prometheus.is_some())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics for `mntr` only.
    pub fn new() -> Metrics {
        Metrics {
            prometheus: None,
            counters: [0; counter::ALL.len()],
            summaries: vec![SummaryStats::default(); SUMMARIES.len()],
            sets: Vec::new(),
            slots: Slots::new(),
        }
    }

    /// Metrics that also feed a Prometheus recorder; the handle renders /metrics. Summaries report the 0.5,
    /// 0.9 and 0.99 quantiles (ZooKeeper's ADVANCED set; the exporter has one set for every summary).
    pub fn with_prometheus() -> (Metrics, PrometheusHandle) {
        let builder = PrometheusBuilder::new();
        let builder = match builder.set_quantiles(&[0.5, 0.9, 0.99]) {
            Ok(b) => b,
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let metrics = Metrics {
            prometheus: Some(recorder),
            ..Metrics::new()
        };
        metrics.describe();
        (metrics, handle)
    }

    /// ZooKeeper's provider gives every metric its own name as help text.
    /// Every counter and summary is registered at once, so /metrics lists them all from the first scrape as
    /// ZooKeeper's provider does.
    fn describe(&self) {
        self.with_recorder(|| {
            for name in counter::ALL {
                metrics::describe_counter!(name, name);
                metrics::counter!(name).increment(0);
            }
            for (name, _) in SUMMARIES {
                metrics::describe_histogram!(name, name);
                let _ = metrics::histogram!(name);
            }
            for name in [
                summary_set::READ_PER_NAMESPACE,
                summary_set::WRITE_PER_NAMESPACE,
                summary_set::LEARNER_HANDLER_QP_SIZE,
                summary_set::LEARNER_HANDLER_QP_TIME_MS,
            ] {
                metrics::describe_histogram!(name, name);
            }
        });
    }

    fn with_recorder(&self, f: impl FnOnce()) {
        if let Some(recorder) = &self.prometheus {
            metrics::with_local_recorder(recorder, f);
        }
    }

    /// Adds `delta` to the counter `name` (one of [`counter`]).
    pub fn count(&mut self, name: &'static str, delta: u64) {
        let Some(&i) = self.slots.counters.get(name) else {
            debug_assert!(false, "unknown counter {name}");
            return;
        };
        self.counters[i] += delta;
        self.with_recorder(|| metrics::counter!(name).increment(delta));
    }

    /// Adds one value to the summary `name` (one of [`summary`]).
    pub fn observe(&mut self, name: &'static str, value: u64) {
        let Some(&i) = self.slots.summaries.get(name) else {
            debug_assert!(false, "unknown summary {name}");
            return;
        };
        self.summaries[i].add(value, SUMMARIES[i].1);
        self.with_recorder(|| metrics::histogram!(name).record(value as f64));
    }

    /// Adds `value` to the member `key` of the summary set `set` (one of [`summary_set`]).
    pub fn observe_in_set(&mut self, set: &'static str, key: &str, value: u64) {
        let i = match self.sets.iter().position(|m| m.set == set && m.key == key) {
            Some(i) => i,
            None => {
                let mut histogram = None;
                let label = key.to_string();
                self.with_recorder(|| histogram = Some(metrics::histogram!(set, "key" => label)));
                self.sets.push(SetMember {
                    set,
                    key: key.to_string(),
                    stats: SummaryStats::default(),
                    histogram,
                });
                self.sets.len() - 1
            }
        };
        let member = &mut self.sets[i];
        member.stats.add(value, set_detail(set));
        if let Some(h) = &member.histogram {
            h.record(value as f64);
        }
    }

    /// `srst` / `stat_reset` (`ServerMetrics.resetAll`): the default provider zeroes every counter and
    /// summary, keeping the members of summary sets; the Prometheus one leaves its figures alone ("not
    /// supported on Prometheus"), and so does this for the exporter.
    pub fn reset_all(&mut self) {
        self.counters = [0; counter::ALL.len()];
        self.summaries
            .iter_mut()
            .for_each(|s| *s = SummaryStats::default());
        self.sets
            .iter_mut()
            .for_each(|m| m.stats = SummaryStats::default());
    }

    /// Sets gauges just before a scrape.
    pub fn set_gauges(&self, gauges: &[(&'static str, MonitorValue)]) {
        self.with_recorder(|| {
            for (name, value) in gauges {
                let v = match value {
                    MonitorValue::Int(v) => *v as f64,
                    MonitorValue::Double(v) => *v,
                    MonitorValue::Text(_) => continue,
                };
                metrics::describe_gauge!(*name, *name);
                metrics::gauge!(*name).set(v);
            }
        });
    }

    /// With ZooKeeper's Prometheus provider, `mntr` and `monitor` list the provider's samples in place of the
    /// default provider's figures (`PrometheusMetricsProvider.dump`): every sample of /metrics, gauges sampled
    /// first, keyed `name` or `name{label="value",...}` (no trailing comma there) with its value as a double.
    /// None without the provider.
    pub fn prometheus_dump(
        &self,
        gauges: &[(&'static str, MonitorValue)],
    ) -> Option<Vec<(String, MonitorValue)>> {
        let recorder = self.prometheus.as_ref()?;
        self.set_gauges(gauges);
        let text = exposition(&recorder.handle().render());
        Some(dump_samples(&without_families(&text, &unregistered(gauges))))
    }

    /// Drains samples the recorder buffered, so that memory stays bounded between scrapes.
    pub fn upkeep(&self, handle: Option<&PrometheusHandle>) {
        if let Some(h) = handle {
            h.run_upkeep();
        }
    }

    /// `mntr` lines for the counters and summaries, without the `zk_` prefix, in ZooKeeper's key shapes.
    pub fn monitor_values(&self) -> Vec<(String, MonitorValue)> {
        let mut out: Vec<(String, MonitorValue)> = counter::ALL
            .iter()
            .zip(self.counters)
            .map(|(name, v)| (name.to_string(), MonitorValue::Int(v as i64)))
            .collect();
        for ((name, detail), s) in SUMMARIES.iter().zip(&self.summaries) {
            summary_values(&mut out, name, *detail, s);
        }
        // `AvgMinMaxCounterSet.values`: the member's key before the set's name.
        for m in &self.sets {
            summary_values(
                &mut out,
                &format!("{}_{}", m.key, m.set),
                set_detail(m.set),
                &m.stats,
            );
        }
        out
    }
}

/// One summary's `mntr` lines: `avg_`, `min_`, `max_`, `cnt_`, `sum_` and, for an ADVANCED one, the percentiles.
fn summary_values(out: &mut Vec<(String, MonitorValue)>, name: &str, detail: Detail, s: &SummaryStats) {
    out.push((format!("avg_{name}"), MonitorValue::Double(s.avg())));
    for (prefix, v) in [
        ("min", s.min.unwrap_or(0)),
        ("max", s.max),
        ("cnt", s.count),
        ("sum", s.sum),
    ] {
        out.push((format!("{prefix}_{name}"), MonitorValue::Int(v as i64)));
    }
    if detail == Detail::Advanced {
        for (prefix, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999)] {
            out.push((
                format!("{prefix}_{name}"),
                MonitorValue::Int(s.quantile(q) as i64),
            ));
        }
    }
}

/// How much a summary set reports: `learner_handler_qp_time_ms` is ADVANCED, the others BASIC.
fn set_detail(set: &str) -> Detail {
    if set == summary_set::LEARNER_HANDLER_QP_TIME_MS {
        Detail::Advanced
    } else {
        Detail::Basic
    }
}

/// The exporter's text in the form ZooKeeper's provider (simpleclient 0.9) writes: a BASIC summary has only the
/// 0.5 quantile (the exporter gives every summary the ADVANCED set), and label sets end with a comma
/// (`{quantile="0.5",}`).
pub fn exposition(rendered: &str) -> String {
    let mut out = String::with_capacity(rendered.len());
    for line in rendered.lines() {
        if let Some((name, rest)) = line.split_once('{').filter(|_| !line.starts_with('#')) {
            let basic = SUMMARIES.iter().any(|(n, d)| *n == name && *d == Detail::Basic)
                || name == summary_set::READ_PER_NAMESPACE
                || name == summary_set::WRITE_PER_NAMESPACE
                || name == summary_set::LEARNER_HANDLER_QP_SIZE;
            if basic && !rest.contains("quantile=\"0.5\"") {
                continue;
            }
            if let Some((labels, value)) = rest.split_once('}') {
                let comma = if labels.is_empty() || labels.ends_with(',') {
                    ""
                } else {
                    ","
                };
                out.push_str(&format!("{name}{{{labels}{comma}}}{value}\n"));
                continue;
            }
        }
        // The exporter writes a summary's count without the `_count` suffix when the name already ends in
        // `_count` (`node_created_watch_count 3`); simpleclient always adds it.
        if let Some((name, value)) = line.split_once(' ').filter(|_| !line.starts_with('#')) {
            if name.ends_with("_count") && SUMMARIES.iter().any(|(n, _)| *n == name) {
                out.push_str(&format!("{name}_count {value}\n"));
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    // A labelled family with no member yet is listed by its HELP and TYPE lines alone, as simpleclient lists a
    // labelled collector without children.
    for (name, kind) in LABELLED_FAMILIES {
        if !out.contains(&format!("# TYPE {name} {kind}\n")) {
            out.push_str(&format!("# HELP {name} {name}\n# TYPE {name} {kind}\n"));
        }
    }
    out
}

/// The gauges ZooKeeper registers only while a member plays a role (`QuorumZooKeeperServer`,
/// `LeaderZooKeeperServer`, `FollowerZooKeeperServer`) and unregisters when the role ends, so that a member that
/// stopped leading no longer reports learners. The exporter keeps every gauge once set: those of a role the
/// server does not play now are left out of what it renders (see [`without_families`]).
pub const ROLE_GAUGES: [&str; 10] = [
    "quorum_size",
    "synced_observers",
    "learners",
    "synced_followers",
    "synced_non_voting_followers",
    "pending_syncs",
    "leader_uptime",
    "last_proposal_size",
    "max_proposal_size",
    "min_proposal_size",
];

/// The role gauges not among `gauges` (the ones the server samples now).
pub fn unregistered(gauges: &[(&'static str, MonitorValue)]) -> Vec<&'static str> {
    ROLE_GAUGES
        .into_iter()
        .filter(|name| !gauges.iter().any(|(g, _)| g == name))
        .collect()
}

/// An exposition without the families `names`: their HELP and TYPE lines and their samples.
pub fn without_families(text: &str, names: &[&str]) -> String {
    if names.is_empty() {
        return text.to_owned();
    }
    let family = |line: &str| -> String {
        let rest = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
            .unwrap_or(line);
        let end = rest.find([' ', '{']).unwrap_or(rest.len());
        rest[..end].to_owned()
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if !names.contains(&family(line).as_str()) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// ZooKeeper 3.9's labelled families (summary, gauge and counter sets) with their Prometheus types: the summary
/// sets ferrokeeper feeds, and those of parts it does not have, which a standalone ZooKeeper leaves without
/// members too: the quorum's `ack_latency` (per follower), the `LearnerHandler` queue figures (per learner).
/// The quota sets (`QuotaMetricsUtils`: limits and usage per namespace with a quota, quota-exceeded errors) are
/// not measured: listed without members, which a ZooKeeper with no quota set shows as well.
const LABELLED_FAMILIES: [(&str, &str); 10] = [
    (summary_set::READ_PER_NAMESPACE, "summary"),
    (summary_set::WRITE_PER_NAMESPACE, "summary"),
    ("ack_latency", "summary"),
    (summary_set::LEARNER_HANDLER_QP_SIZE, "summary"),
    (summary_set::LEARNER_HANDLER_QP_TIME_MS, "summary"),
    ("quota_bytes_limit_per_namespace", "gauge"),
    ("quota_bytes_usage_per_namespace", "gauge"),
    ("quota_count_limit_per_namespace", "gauge"),
    ("quota_count_usage_per_namespace", "gauge"),
    ("quota_exceeded_error_per_namespace", "counter"),
];

/// The samples of an exposition as `PrometheusMetricsProvider.dump` keys them.
fn dump_samples(text: &str) -> Vec<(String, MonitorValue)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().ok()?,
            };
            Some((key.replace(",}", "}"), MonitorValue::Double(value)))
        })
        .collect()
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value<'a>(values: &'a [(String, MonitorValue)], key: &str) -> &'a MonitorValue {
        &values.iter().find(|(k, _)| k == key).expect(key).1
    }

    #[test]
    fn summaries_report_as_zookeeper_does() {
        let mut m = Metrics::new();
        for v in [2, 23, 0, 13] {
            m.observe(summary::READ_LATENCY, v);
        }
        m.observe(summary::FSYNC_TIME, 5);
        let values = m.monitor_values();
        assert_eq!(value(&values, "avg_readlatency"), &MonitorValue::Double(9.5));
        assert_eq!(value(&values, "min_readlatency"), &MonitorValue::Int(0));
        assert_eq!(value(&values, "max_readlatency"), &MonitorValue::Int(23));
        assert_eq!(value(&values, "cnt_readlatency"), &MonitorValue::Int(4));
        assert_eq!(value(&values, "sum_readlatency"), &MonitorValue::Int(38));
        assert_eq!(value(&values, "p50_readlatency"), &MonitorValue::Int(8));
        assert_eq!(value(&values, "p999_readlatency"), &MonitorValue::Int(23));
        assert_eq!(value(&values, "cnt_fsynctime"), &MonitorValue::Int(1));
        assert!(
            !values.iter().any(|(k, _)| k == "p50_fsynctime"),
            "BASIC summaries have no percentiles"
        );
        assert_eq!(value(&values, "min_updatelatency"), &MonitorValue::Int(0));
    }

    #[test]
    fn summary_sets_report_per_key_as_zookeeper_does() {
        let (mut m, handle) = Metrics::with_prometheus();
        m.observe_in_set(summary_set::WRITE_PER_NAMESPACE, "app", 10);
        m.observe_in_set(summary_set::WRITE_PER_NAMESPACE, "app", 4);
        m.observe_in_set(summary_set::READ_PER_NAMESPACE, "app", 70);
        let values = m.monitor_values();
        assert_eq!(
            value(&values, "cnt_app_write_per_namespace"),
            &MonitorValue::Int(2)
        );
        assert_eq!(
            value(&values, "max_app_write_per_namespace"),
            &MonitorValue::Int(10)
        );
        assert_eq!(
            value(&values, "avg_app_write_per_namespace"),
            &MonitorValue::Double(7.0)
        );
        assert_eq!(
            value(&values, "sum_app_read_per_namespace"),
            &MonitorValue::Int(70)
        );
        let text = exposition(&handle.render());
        assert!(text.contains("# TYPE write_per_namespace summary\n"), "{text}");
        assert!(
            text.contains("write_per_namespace{key=\"app\",quantile=\"0.5\",}"),
            "{text}"
        );
        assert!(
            !text.contains("write_per_namespace{key=\"app\",quantile=\"0.9\""),
            "BASIC: {text}"
        );
        assert!(
            text.contains("write_per_namespace_count{key=\"app\",} 2\n"),
            "{text}"
        );
    }

    #[test]
    fn reset_zeroes_figures_and_keeps_set_members() {
        let mut m = Metrics::new();
        m.count(counter::OUTSTANDING_CHANGES_QUEUED, 3);
        m.observe(summary::PREP_PROCESS_TIME, 2);
        m.observe_in_set(summary_set::READ_PER_NAMESPACE, "app", 70);
        m.reset_all();
        let values = m.monitor_values();
        assert_eq!(
            value(&values, "outstanding_changes_queued"),
            &MonitorValue::Int(0)
        );
        assert_eq!(value(&values, "cnt_prep_process_time"), &MonitorValue::Int(0));
        assert_eq!(
            value(&values, "cnt_app_read_per_namespace"),
            &MonitorValue::Int(0)
        );
    }

    #[test]
    fn families_of_a_role_no_longer_played_are_left_out() {
        let text = "# HELP learners learners\n# TYPE learners gauge\nlearners 2\n\
                    # HELP learners_x learners_x\nlearners_x 1\nquorum_size 3\n";
        let absent = unregistered(&[("quorum_size", MonitorValue::Int(3))]);
        assert!(absent.contains(&"learners") && !absent.contains(&"quorum_size"));
        assert_eq!(
            without_families(text, &absent),
            "# HELP learners_x learners_x\nlearners_x 1\nquorum_size 3\n"
        );
    }

    #[test]
    fn counters_add_up() {
        let mut m = Metrics::new();
        m.count(counter::BYTES_RECEIVED_COUNT, 24);
        m.count(counter::BYTES_RECEIVED_COUNT, 32);
        assert_eq!(
            value(&m.monitor_values(), "bytes_received_count"),
            &MonitorValue::Int(56)
        );
    }

    #[test]
    fn the_prometheus_dump_keys_samples_as_zookeeper_does() {
        assert!(Metrics::new().prometheus_dump(&[]).is_none());
        let (mut m, _handle) = Metrics::with_prometheus();
        m.observe(summary::UPDATE_LATENCY, 4);
        m.count(counter::WATCH_BYTES, 12_345_678);
        let dump = m
            .prometheus_dump(&[(gauge::ZNODE_COUNT, MonitorValue::Int(5))])
            .expect("provider");
        let get = |k: &str| dump.iter().find(|(key, _)| key == k).map(|(_, v)| v.to_string());
        assert_eq!(get("znode_count").as_deref(), Some("5.0"));
        assert!(get("updatelatency{quantile=\"0.99\"}").is_some(), "{dump:?}");
        assert_eq!(get("updatelatency_sum").as_deref(), Some("4.0"));
        assert_eq!(get("updatelatency_count").as_deref(), Some("1.0"));
        assert_eq!(get("watch_bytes").as_deref(), Some("1.2345678E7"));
        assert!(dump.iter().all(|(_, v)| matches!(v, MonitorValue::Double(_))));
    }

    #[test]
    fn prometheus_recorder_renders_zookeeper_names_and_types() {
        let (mut m, handle) = Metrics::with_prometheus();
        m.count(counter::CONNECTION_REQUEST_COUNT, 2);
        m.observe(summary::UPDATE_LATENCY, 4);
        m.observe(summary::FSYNC_TIME, 3);
        m.set_gauges(&[(gauge::ZNODE_COUNT, MonitorValue::Int(5))]);
        let text = exposition(&handle.render());
        assert!(
            text.contains("# TYPE connection_request_count counter\nconnection_request_count 2\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE updatelatency summary\n"), "{text}");
        assert!(text.contains("updatelatency{quantile=\"0.5\",} 4"), "{text}");
        assert!(text.contains("updatelatency{quantile=\"0.99\",} 4"), "{text}");
        assert!(text.contains("fsynctime{quantile=\"0.5\",} 3"), "{text}");
        assert!(!text.contains("fsynctime{quantile=\"0.9\""), "BASIC: {text}");
        // registered at start, before any event
        assert!(
            text.contains("# TYPE throttled_ops counter\nthrottled_ops 0\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE election_time summary\n"), "{text}");
        assert!(text.contains("updatelatency_count 1\n"), "{text}");
        m.observe(summary::NODE_CREATED_WATCH_COUNT, 2);
        let text = exposition(&handle.render());
        assert!(text.contains("\nnode_created_watch_count_count 1\n"), "{text}");
        assert!(text.contains("# TYPE read_per_namespace summary\n"), "{text}");
        for family in [
            "# HELP ack_latency ack_latency\n# TYPE ack_latency summary\n",
            "# HELP learner_handler_qp_size learner_handler_qp_size\n# TYPE learner_handler_qp_size summary\n",
            "# TYPE quota_count_usage_per_namespace gauge\n",
            "# TYPE quota_exceeded_error_per_namespace counter\n",
        ] {
            assert!(text.contains(family), "{family} in {text}");
        }
        assert!(
            text.contains("# TYPE znode_count gauge\nznode_count 5\n"),
            "{text}"
        );
        assert!(text.contains("# HELP znode_count znode_count\n"), "{text}");
    }
}
