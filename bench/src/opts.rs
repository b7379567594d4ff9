//! Command-line options of the load generator and their validation.
//!
//! One run drives one workload against one or more servers: `--sessions` client sessions spread round-robin
//! over `--targets`, each keeping up to `--outstanding` requests in flight, until `--duration` has passed or
//! `--ops` operations have completed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};

/// The largest payload accepted: ZooKeeper's default `jute.maxbuffer` is 1 MiB including the record around it.
pub const PAYLOAD_MAX: usize = 1 << 20;

/// What each operation of a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// create of a unique persistent znode (each session under its own parent).
    Create,
    /// create of a persistent sequential znode, every session under one shared parent.
    CreateSeq,
    /// setData on pre-populated keys.
    Set,
    /// getData on pre-populated keys.
    Get,
    /// exists on pre-populated keys.
    Exists,
    /// getChildren of one wide, pre-populated parent.
    Children,
    /// getData and setData on pre-populated keys, `--read-ratio` of them reads.
    Mixed,
    /// multi of `--multi-size` setData ops on pre-populated keys.
    Multi,
    /// many sessions watch one znode, one writer changes it: latency from setData sent to each notification.
    WatchFanout,
    /// each session slot repeatedly connects, opens a session and closes it.
    ConnectStorm,
    /// bare pings: the floor of a request round trip on this transport.
    Ping,
}

impl Workload {
    /// The name used on the command line and in the JSON line.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::CreateSeq => "create-seq",
            Workload::Set => "set",
            Workload::Get => "get",
            Workload::Exists => "exists",
            Workload::Children => "children",
            Workload::Mixed => "mixed",
            Workload::Multi => "multi",
            Workload::WatchFanout => "watch-fanout",
            Workload::ConnectStorm => "connect-storm",
            Workload::Ping => "ping",
        }
    }

    /// True for workloads that read or write the pre-populated keys.
    pub fn uses_keys(self) -> bool {
        matches!(
            self,
            Workload::Set | Workload::Get | Workload::Exists | Workload::Mixed | Workload::Multi
        )
    }
}

/// A pipelined load generator for ZooKeeper-protocol servers.
#[derive(Debug, Clone, Parser)]
#[command(name = "ferrokeeper-bench", version)]
pub struct Opts {
    /// Servers to load, as host:port[,host:port...]; sessions are spread over them round-robin.
    #[arg(long, value_delimiter = ',', required = true)]
    pub targets: Vec<String>,
    /// Client sessions (for watch-fanout: watchers; for connect-storm: concurrent connect loops).
    #[arg(long, default_value_t = 32)]
    pub sessions: usize,
    /// Requests each session keeps in flight.
    #[arg(long, default_value_t = 8)]
    pub outstanding: usize,
    /// Run for this many seconds (after the warm-up). Default 10 unless --ops is given.
    #[arg(long, conflicts_with = "ops")]
    pub duration: Option<f64>,
    /// Run until this many operations have completed (for watch-fanout: writes).
    #[arg(long)]
    pub ops: Option<u64>,
    /// Seconds of load before measuring starts; operations sent during it are not recorded.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Cap on the operations sent per second by all sessions together (after the warm-up); none by default.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Bytes of data in each created or set znode.
    #[arg(long, default_value_t = 100)]
    pub payload: usize,
    /// The kind of operation.
    #[arg(long, value_enum, default_value_t = Workload::Get)]
    pub workload: Workload,
    /// Share of reads in the mixed workload, from 0 to 1.
    #[arg(long, default_value_t = 0.9)]
    pub read_ratio: f64,
    /// Pre-populated keys read and written by get, exists, set, mixed and multi.
    #[arg(long, default_value_t = 1000)]
    pub keys: usize,
    /// Children of the wide parent listed by the children workload.
    #[arg(long, default_value_t = 1000)]
    pub children: usize,
    /// setData ops in each multi.
    #[arg(long, default_value_t = 4)]
    pub multi_size: usize,
    /// Path under which everything is created.
    #[arg(long, default_value = "/bench")]
    pub root: String,
    /// Session timeout requested in the handshake, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub session_timeout_ms: i32,
    /// Worker threads of the generator (1 runs everything on one thread).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Process id of the server, for its CPU time and resident memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The server's snapshot directory (dataDir/version-2): latency is split into during and outside the
    /// snapshots written while the run lasts.
    #[arg(long)]
    pub snapshot_dir: Option<PathBuf>,
    /// Seconds between progress lines on stderr (0: none).
    #[arg(long, default_value_t = 5.0)]
    pub progress: f64,
    /// Print only the JSON line on stdout (the human summary goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// Instead of a run: wait up to this many seconds until a session opens and a request on it succeeds,
    /// and report how long that took (for recovery time).
    #[arg(long)]
    pub wait_ready: Option<f64>,
    /// A label copied into the JSON line (for example the server's name).
    #[arg(long, default_value = "")]
    pub label: String,
}

/// When a run stops issuing new operations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    Duration(Duration),
    Ops(u64),
}

impl Opts {
    /// Checks the options against each other and resolves the targets.
    pub fn validate(&self) -> Result<Vec<SocketAddr>> {
        if self.sessions == 0 {
            bail!("--sessions must be at least 1");
        }
        if self.outstanding == 0 {
            bail!("--outstanding must be at least 1");
        }
        if self.threads == 0 {
            bail!("--threads must be at least 1");
        }
        if self.payload > PAYLOAD_MAX - 4096 {
            bail!("--payload must be below {} bytes", PAYLOAD_MAX - 4096);
        }
        if !(0.0..=1.0).contains(&self.read_ratio) {
            bail!("--read-ratio must be between 0 and 1");
        }
        if self.workload.uses_keys() && self.keys == 0 {
            bail!("--keys must be at least 1 for {}", self.workload.name());
        }
        if self.workload == Workload::Multi && self.multi_size == 0 {
            bail!("--multi-size must be at least 1");
        }
        if !self.root.starts_with('/') || self.root.len() < 2 || self.root.ends_with('/') {
            bail!("--root must be an absolute znode path other than /");
        }
        if self.ops == Some(0) {
            bail!("--ops must be at least 1");
        }
        if let Some(r) = self.rate {
            if !(r.is_finite() && r > 0.0) {
                bail!("--rate must be a positive number of operations per second");
            }
        }
        if let Some(d) = self.duration {
            if !(d.is_finite() && d > 0.0) {
                bail!("--duration must be a positive number of seconds");
            }
        }
        if !(self.warmup.is_finite() && self.warmup >= 0.0 && self.progress.is_finite()) {
            bail!("--warmup and --progress must be non-negative seconds");
        }
        self.targets.iter().map(|t| resolve(t)).collect()
    }

    /// The stop condition: --ops if given, else --duration (10 s by default).
    pub fn limit(&self) -> Limit {
        match (self.ops, self.duration) {
            (Some(n), _) => Limit::Ops(n),
            (None, Some(d)) => Limit::Duration(Duration::from_secs_f64(d)),
            (None, None) => Limit::Duration(Duration::from_secs(10)),
        }
    }
}

fn resolve(target: &str) -> Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    target
        .to_socket_addrs()
        .with_context(|| format!("target {target:?} is not host:port"))?
        .next()
        .with_context(|| format!("target {target:?} resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Opts, clap::Error> {
        Opts::try_parse_from(std::iter::once("ferrokeeper-bench").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_a_ten_second_get_run() {
        let o = parse(&["--targets", "127.0.0.1:2181"]).expect("parse");
        assert_eq!(o.workload, Workload::Get);
        assert_eq!((o.sessions, o.outstanding, o.payload), (32, 8, 100));
        assert_eq!(o.limit(), Limit::Duration(Duration::from_secs(10)));
        assert_eq!(
            o.validate().expect("valid"),
            vec!["127.0.0.1:2181".parse().expect("addr")]
        );
    }

    #[test]
    fn targets_split_on_commas_and_ops_sets_the_limit() {
        let o = parse(&[
            "--targets",
            "127.0.0.1:1,127.0.0.1:2",
            "--workload",
            "create-seq",
            "--ops",
            "500",
        ])
        .expect("parse");
        assert_eq!(o.targets.len(), 2);
        assert_eq!(o.workload, Workload::CreateSeq);
        assert_eq!(o.limit(), Limit::Ops(500));
    }

    #[test]
    fn every_workload_parses_by_its_name() {
        for w in Workload::value_variants() {
            let o = parse(&["--targets", "127.0.0.1:1", "--workload", w.name()]).expect("parse");
            assert_eq!(o.workload, *w);
        }
    }

    #[test]
    fn duration_and_ops_conflict() {
        assert!(parse(&["--targets", "127.0.0.1:1", "--ops", "5", "--duration", "3"]).is_err());
    }

    #[test]
    fn inconsistent_values_are_refused() {
        let bad: &[&[&str]] = &[
            &["--sessions", "0"],
            &["--outstanding", "0"],
            &["--read-ratio", "1.5"],
            &["--root", "bench"],
            &["--root", "/"],
            &["--ops", "0"],
            &["--duration=-1"],
            &["--rate", "0"],
            &["--payload", "2000000"],
            &["--workload", "multi", "--multi-size", "0"],
        ];
        for extra in bad {
            let mut args = vec!["--targets", "127.0.0.1:1"];
            args.extend_from_slice(extra);
            let o = parse(&args).expect("parse");
            assert!(o.validate().is_err(), "{extra:?} was accepted");
        }
        let o = parse(&["--targets", "not-an-address"]).expect("parse");
        assert!(o.validate().is_err());
    }
}
