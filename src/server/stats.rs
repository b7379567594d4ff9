//! Server-wide counters for the four-letter words: packets in and out and request latency, as
//! `ServerStats` keeps them in Apache ZooKeeper (`srst` resets them).

use crate::net::four_letter::Latency;

/// Request latency in whole ms (`AvgMinMaxCounter`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencyCounter {
    count: u64,
    total_ms: u64,
    min_ms: u64,
    max_ms: u64,
}

impl LatencyCounter {
    /// Adds one request's latency.
    pub fn record(&mut self, ms: u64) {
        if self.count == 0 || ms < self.min_ms {
            self.min_ms = ms;
        }
        self.max_ms = self.max_ms.max(ms);
        self.count += 1;
        self.total_ms += ms;
    }

    /// Min, mean (rounded half-up to 4 decimals, as `AvgMinMaxCounter.getAvg`) and max; all 0 when empty.
    pub fn latency(&self) -> Latency {
        if self.count == 0 {
            return Latency::default();
        }
        let avg = self.total_ms as f64 / self.count as f64;
        Latency {
            min_ms: self.min_ms,
            avg_ms: (avg * 10_000.0).round() / 10_000.0,
            max_ms: self.max_ms,
        }
    }
}

/// Packet counts and latency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub packets_received: u64,
    pub packets_sent: u64,
    pub latency: LatencyCounter,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_has_min_mean_max() {
        let mut l = LatencyCounter::default();
        assert_eq!(l.latency(), Latency::default());
        for ms in [2, 23, 0, 13] {
            l.record(ms);
        }
        assert_eq!(
            l.latency(),
            Latency {
                min_ms: 0,
                avg_ms: 9.5,
                max_ms: 23
            }
        );
        let mut thirds = LatencyCounter::default();
        for ms in [1, 0, 0] {
            thirds.record(ms);
        }
        assert_eq!(thirds.latency().avg_ms, 0.3333);
    }
}
