//! The connection limits checked at accept (`NIOServerCnxnFactory.doAccept`): `maxCnxns`, connections in all
//! (`ServerCnxnFactory.limitTotalNumberOfCnxns`), then `maxClientCnxns`, connections from one source IP
//! (`getClientCnxnCount`). A connection past either is closed as soon as it is accepted; 0 means unlimited.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// Counts live connections, in all and per source IP.
#[derive(Debug)]
pub struct IpLimiter {
    max_per_ip: u32,
    max_total: u32,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    per_ip: HashMap<IpAddr, u32>,
    total: u32,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `maxCnxns` connections are open.
    Total { open: u32, max: u32 },
    /// `maxClientCnxns` connections are open from this IP.
    PerIp { max: u32 },
}

/// One counted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct IpPermit {
    limiter: Arc<IpLimiter>,
    ip: IpAddr,
}

impl IpLimiter {
    /// A limiter allowing `max_total` connections in all and `max_per_ip` per IP (0 = unlimited).
    pub fn new(max_total: u32, max_per_ip: u32) -> Arc<IpLimiter> {
        Arc::new(IpLimiter {
            max_per_ip,
            max_total,
            counts: Mutex::new(Counts::default()),
        })
    }

    /// Takes a slot for `ip`, or says which limit is reached, the total first as ZooKeeper checks it.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<IpPermit, Refused> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if self.max_total != 0 && counts.total >= self.max_total {
            return Err(Refused::Total {
                open: counts.total,
                max: self.max_total,
            });
        }
        let count = counts.per_ip.entry(ip).or_insert(0);
        if self.max_per_ip != 0 && *count >= self.max_per_ip {
            return Err(Refused::PerIp { max: self.max_per_ip });
        }
        *count += 1;
        counts.total += 1;
        Ok(IpPermit {
            limiter: Arc::clone(self),
            ip,
        })
    }

    /// Live connections from `ip`.
    pub fn count(&self, ip: IpAddr) -> u32 {
        let counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.per_ip.get(&ip).copied().unwrap_or(0)
    }

    /// Live connections in all.
    pub fn total(&self) -> u32 {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).total
    }
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        let mut counts = self.limiter.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total -= 1;
        if let Some(count) = counts.per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_applies_per_ip_and_frees_on_drop() {
        let limiter = IpLimiter::new(0, 2);
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        let b: IpAddr = "127.0.0.2".parse().expect("ip");
        let p1 = limiter.try_acquire(a).expect("first");
        let _p2 = limiter.try_acquire(a).expect("second");
        assert_eq!(limiter.try_acquire(a).err(), Some(Refused::PerIp { max: 2 }));
        let _p3 = limiter.try_acquire(b).expect("other ip has its own count");
        drop(p1);
        assert_eq!(limiter.count(a), 1);
        assert!(limiter.try_acquire(a).is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let limiter = IpLimiter::new(0, 0);
        let ip: IpAddr = "127.0.0.1".parse().expect("ip");
        let permits: Vec<_> = (0..1000).filter_map(|_| limiter.try_acquire(ip).ok()).collect();
        assert_eq!(permits.len(), 1000);
        drop(permits);
        assert_eq!(limiter.count(ip), 0);
        assert_eq!(limiter.total(), 0);
    }

    #[test]
    fn the_total_limit_counts_every_ip_and_is_checked_first() {
        let limiter = IpLimiter::new(2, 1);
        let a: IpAddr = "127.0.0.1".parse().expect("ip");
        let b: IpAddr = "127.0.0.2".parse().expect("ip");
        let c: IpAddr = "127.0.0.3".parse().expect("ip");
        let pa = limiter.try_acquire(a).expect("a");
        let _pb = limiter.try_acquire(b).expect("b");
        assert_eq!(
            limiter.try_acquire(a).err(),
            Some(Refused::Total { open: 2, max: 2 })
        );
        assert_eq!(
            limiter.try_acquire(c).err(),
            Some(Refused::Total { open: 2, max: 2 })
        );
        drop(pa);
        assert_eq!(limiter.total(), 1);
        assert!(limiter.try_acquire(c).is_ok());
    }
}
