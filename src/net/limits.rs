//! maxClientCnxns: connections from one source IP (`NIOServerCnxnFactory.getClientCnxnCount`). Connections
//! past the limit are closed as soon as they are accepted; 0 means unlimited.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Counts live connections per source IP.
#[derive(Debug)]
pub struct IpLimiter {
    max_per_ip: u32,
    counts: Mutex<HashMap<IpAddr, u32>>,
}

/// One counted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct IpPermit {
    limiter: Arc<IpLimiter>,
    ip: IpAddr,
}

impl IpLimiter {
    /// A limiter allowing `max_per_ip` connections per IP (0 = unlimited).
    pub fn new(max_per_ip: u32) -> Arc<IpLimiter> {
        Arc::new(IpLimiter {
            max_per_ip,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// Takes a slot for `ip`, or `None` if the IP already has `max_per_ip` connections.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<IpPermit> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(ip).or_insert(0);
        if self.max_per_ip != 0 && *count >= self.max_per_ip {
            return None;
        }
        *count += 1;
        Some(IpPermit {
            limiter: Arc::clone(self),
            ip,
        })
    }

    /// Live connections from `ip`.
    pub fn count(&self, ip: IpAddr) -> u32 {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.get(&ip).copied().unwrap_or(0)
    }

    /// The configured limit (0 = unlimited).
    pub fn max_per_ip(&self) -> u32 {
        self.max_per_ip
    }
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        let mut counts = self.limiter.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_applies_per_ip_and_frees_on_drop() {
        let limiter = IpLimiter::new(2);
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        let b: IpAddr = "127.0.0.2".parse().expect("ip");
        let p1 = limiter.try_acquire(a).expect("first");
        let _p2 = limiter.try_acquire(a).expect("second");
        assert!(limiter.try_acquire(a).is_none());
        let _p3 = limiter.try_acquire(b).expect("other ip has its own count");
        drop(p1);
        assert_eq!(limiter.count(a), 1);
        assert!(limiter.try_acquire(a).is_some());
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = IpLimiter::new(0);
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        let permits: Vec<_> = (0..1000).filter_map(|_| limiter.try_acquire(ip)).collect();
        assert_eq!(permits.len(), 1000);
        drop(permits);
        assert_eq!(limiter.count(ip), 0);
    }
}
