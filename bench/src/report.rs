//! The result of a run as one JSON line and as a short summary for people.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::snapshot::SnapshotSplit;
use crate::stats::{human_us, Summary};

/// Everything a run reports. Times are seconds, latencies microseconds, memory KiB; a CPU share of 1.0 is
/// one core busy for the whole load phase.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub label: String,
    pub workload: String,
    pub targets: Vec<String>,
    pub sessions: usize,
    pub outstanding: usize,
    pub payload: usize,
    pub threads: usize,
    pub ops: u64,
    pub elapsed_s: f64,
    pub ops_per_s: f64,
    pub latency_us: Summary,
    pub errors: BTreeMap<i32, u64>,
    pub error_count: u64,
    pub failures: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_failure: Option<String>,
    /// The wall time of the load phase (warm-up, measuring and draining) over which CPU is counted.
    pub load_s: f64,
    pub generator_cpu_s: f64,
    pub generator_cpu_share: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_cpu_share: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_rss_kib: Option<u64>,
    /// watch-fanout: writes made (each notifies every watcher).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<SnapshotSplit>,
}

impl Report {
    /// The JSON line.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The summary for people, several lines.
    pub fn human(&self) -> String {
        let mut s = String::new();
        let label = if self.label.is_empty() {
            String::new()
        } else {
            format!("[{}] ", self.label)
        };
        let _ = writeln!(
            s,
            "{label}{} against {}: {} sessions x {} outstanding, {}-byte payload",
            self.workload,
            self.targets.join(","),
            self.sessions,
            self.outstanding,
            self.payload
        );
        let _ = writeln!(
            s,
            "  throughput {:.0} ops/s ({} ops in {:.2} s), errors {}, failures {}",
            self.ops_per_s, self.ops, self.elapsed_s, self.error_count, self.failures
        );
        let l = &self.latency_us;
        let _ = writeln!(
            s,
            "  latency    p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {})",
            human_us(l.p50),
            human_us(l.p90),
            human_us(l.p99),
            human_us(l.p99_9),
            human_us(l.max),
            human_us(l.mean as u64)
        );
        let _ = writeln!(
            s,
            "  generator  CPU {:.2} s = {:.0}% of one core over {:.2} s ({} thread{})",
            self.generator_cpu_s,
            self.generator_cpu_share * 100.0,
            self.load_s,
            self.threads,
            if self.threads == 1 { "" } else { "s" }
        );
        if let (Some(cpu), Some(share)) = (self.server_cpu_s, self.server_cpu_share) {
            let rss = self
                .server_rss_kib
                .map(|k| format!(", resident {:.1} MiB", k as f64 / 1024.0))
                .unwrap_or_default();
            let _ = writeln!(
                s,
                "  server     CPU {cpu:.2} s = {:.0}% of one core{rss}",
                share * 100.0
            );
        }
        if let Some(r) = self.rounds {
            let _ = writeln!(s, "  writes     {r} (each notifies every watcher)");
        }
        if let Some(snap) = &self.snapshot {
            let _ = writeln!(
                s,
                "  snapshots  {} written; p99.9 during {} ({} ops) vs steady {} ({} ops)",
                snap.windows.len(),
                human_us(snap.during_us.p99_9),
                snap.during_us.count,
                human_us(snap.steady_us.p99_9),
                snap.steady_us.count
            );
        }
        if let Some(why) = &self.first_failure {
            let _ = writeln!(s, "  first failure: {why}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        Report {
            label: "zk".into(),
            workload: "get".into(),
            targets: vec!["127.0.0.1:1".into()],
            sessions: 2,
            outstanding: 3,
            payload: 100,
            threads: 1,
            ops: 1000,
            elapsed_s: 2.0,
            ops_per_s: 500.0,
            latency_us: Summary {
                count: 1000,
                mean: 900.0,
                p50: 800,
                p90: 1_500,
                p99: 2_000,
                p99_9: 3_000,
                max: 4_000,
            },
            errors: BTreeMap::from([(-110, 2)]),
            error_count: 2,
            failures: 0,
            first_failure: None,
            load_s: 2.1,
            generator_cpu_s: 0.5,
            generator_cpu_share: 0.238,
            server_cpu_s: Some(1.0),
            server_cpu_share: Some(0.476),
            server_rss_kib: Some(2048),
            rounds: None,
            snapshot: None,
        }
    }

    #[test]
    fn json_line_is_one_line_with_the_figures() {
        let line = sample().json();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).expect("json");
        assert_eq!(v["ops_per_s"], 500.0);
        assert_eq!(v["latency_us"]["p99_9"], 3000);
        assert_eq!(v["errors"]["-110"], 2);
        assert_eq!(v["server_rss_kib"], 2048);
        assert!(v.get("rounds").is_none() && v.get("snapshot").is_none());
    }

    #[test]
    fn human_summary_names_the_percentiles_and_cpu() {
        let text = sample().human();
        assert!(text.contains("[zk] get against 127.0.0.1:1"));
        assert!(text.contains("500 ops/s"));
        assert!(text.contains("p99.9 3.00ms"));
        assert!(text.contains("24% of one core"));
        assert!(text.contains("resident 2.0 MiB"));
    }
}
