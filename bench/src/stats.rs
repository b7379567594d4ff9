//! What a run measured: an HDR histogram of latencies in microseconds, counts of errors by ZooKeeper error
//! code, and optionally a trace of (send time, latency) per operation for splitting latency by time window.

use std::collections::BTreeMap;

use anyhow::Result;
use hdrhistogram::Histogram;
use serde::Serialize;

/// The longest latency the histogram holds, in microseconds (longer ones are clamped to it).
pub const LATENCY_US_MAX: u64 = 120_000_000;

/// Latencies and errors of one session, or of a whole run once merged.
#[derive(Debug, Clone)]
pub struct Stats {
    pub latency_us: Histogram<u64>,
    /// Replies with a non-zero error code, by code.
    pub errors: BTreeMap<i32, u64>,
    /// Sessions or connections that failed outright.
    pub failures: u64,
    pub first_failure: Option<String>,
    /// (microseconds from the run start to the send, latency in microseconds) per op, when tracing.
    pub trace: Option<Vec<(u64, u64)>>,
}

impl Stats {
    /// Empty stats; `trace` keeps every op's send time and latency.
    pub fn new(trace: bool) -> Result<Stats> {
        Ok(Stats {
            latency_us: Histogram::new_with_bounds(1, LATENCY_US_MAX, 3)?,
            errors: BTreeMap::new(),
            failures: 0,
            first_failure: None,
            trace: trace.then(Vec::new),
        })
    }

    /// Records one completed operation.
    pub fn record(&mut self, sent_us: u64, latency_us: u64, err: i32) {
        self.latency_us
            .saturating_record(latency_us.clamp(1, LATENCY_US_MAX));
        if err != 0 {
            *self.errors.entry(err).or_default() += 1;
        }
        if let Some(trace) = &mut self.trace {
            trace.push((sent_us, latency_us));
        }
    }

    /// Records a session or connection that failed.
    pub fn fail(&mut self, why: String) {
        self.failures += 1;
        self.first_failure.get_or_insert(why);
    }

    /// Adds another session's stats to these.
    pub fn merge(&mut self, other: Stats) -> Result<()> {
        self.latency_us.add(&other.latency_us)?;
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        self.failures += other.failures;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        if let (Some(mine), Some(theirs)) = (&mut self.trace, other.trace) {
            mine.extend(theirs);
        }
        Ok(())
    }

    /// Operations recorded.
    pub fn ops(&self) -> u64 {
        self.latency_us.len()
    }

    /// Replies that carried an error code.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// The percentiles reported for a histogram, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
}

impl Summary {
    /// Summarises a histogram (all zero when it is empty).
    pub fn of(h: &Histogram<u64>) -> Summary {
        if h.is_empty() {
            return Summary {
                count: 0,
                mean: 0.0,
                p50: 0,
                p90: 0,
                p99: 0,
                p99_9: 0,
                max: 0,
            };
        }
        Summary {
            count: h.len(),
            mean: h.mean(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Formats microseconds for people: 850us, 1.25ms, 2.10s.
pub fn human_us(us: u64) -> String {
    match us {
        0..=999 => format!("{us}us"),
        1_000..=999_999 => format!("{:.2}ms", us as f64 / 1e3),
        _ => format!("{:.2}s", us as f64 / 1e6),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_uniform_latencies_has_the_expected_percentiles() {
        let mut s = Stats::new(false).expect("stats");
        for us in 1..=10_000 {
            s.record(0, us, 0);
        }
        let sum = Summary::of(&s.latency_us);
        assert_eq!(sum.count, 10_000);
        // three significant digits: each percentile is within 0.1% of the exact value
        for (got, want) in [
            (sum.p50, 5_000),
            (sum.p90, 9_000),
            (sum.p99, 9_900),
            (sum.p99_9, 9_990),
        ] {
            assert!(got.abs_diff(want) <= want / 1000 + 1, "{got} vs {want}");
        }
        assert!(sum.max.abs_diff(10_000) <= 10);
        assert!((sum.mean - 5_000.5).abs() < 10.0);
    }

    #[test]
    fn empty_summary_is_zero_and_huge_latencies_are_clamped() {
        let s = Stats::new(false).expect("stats");
        assert_eq!(Summary::of(&s.latency_us).count, 0);
        let mut s = Stats::new(false).expect("stats");
        s.record(0, 0, 0);
        s.record(0, u64::MAX, 0);
        let sum = Summary::of(&s.latency_us);
        assert_eq!(sum.count, 2);
        assert_eq!(sum.p50, 1);
        assert!(sum.max >= LATENCY_US_MAX && sum.max <= LATENCY_US_MAX + LATENCY_US_MAX / 1000);
    }

    #[test]
    fn merge_adds_counts_errors_traces_and_keeps_the_first_failure() {
        let mut a = Stats::new(true).expect("stats");
        a.record(1, 100, 0);
        a.record(2, 200, -110);
        let mut b = Stats::new(true).expect("stats");
        b.record(3, 300, -110);
        b.record(4, 400, -101);
        b.fail("reset".into());
        a.merge(b).expect("merge");
        assert_eq!(a.ops(), 4);
        assert_eq!(a.error_count(), 3);
        assert_eq!(a.errors.get(&-110), Some(&2));
        assert_eq!(a.failures, 1);
        assert_eq!(a.first_failure.as_deref(), Some("reset"));
        assert_eq!(a.trace.as_ref().map(Vec::len), Some(4));
        let sum = Summary::of(&a.latency_us);
        assert!(sum.p50.abs_diff(200) <= 1 && sum.max.abs_diff(400) <= 1);
    }

    #[test]
    fn human_units() {
        assert_eq!(human_us(850), "850us");
        assert_eq!(human_us(1_250), "1.25ms");
        assert_eq!(human_us(2_100_000), "2.10s");
    }
}
