//! The simulated network: every message gets a delay drawn from the seed (so messages overtake each other),
//! may be lost, and is dropped on a link that a partition cuts. Partitions are directed, so one-way partitions
//! are just some of the pairs. A message for a member that crashed and restarted since it was sent is dropped
//! on arrival, as the TCP connection it travelled on would have broken.

use std::collections::{BTreeMap, BTreeSet};

use crate::rng::Rng;

/// A member of the simulated ensemble, by server id.
pub type Member = i64;

/// One message on its way.
#[derive(Debug, Clone)]
pub struct Envelope<M> {
    pub from: Member,
    pub to: Member,
    /// The incarnation of `to` when the message was sent.
    pub to_incarnation: u32,
    pub msg: M,
}

/// What happened to a message handed to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Queued { arrives_at: u64 },
    Lost,
    Cut,
}

#[derive(Debug)]
pub struct Network<M> {
    seq: u64,
    in_flight: BTreeMap<(u64, u64), Envelope<M>>,
    /// Directed links that do not deliver: (from, to).
    cut: BTreeSet<(Member, Member)>,
    pub loss_percent: u64,
    pub delay_ticks_max: u64,
}

impl<M> Network<M> {
    pub fn new(loss_percent: u64, delay_ticks_max: u64) -> Network<M> {
        Network {
            seq: 0,
            in_flight: BTreeMap::new(),
            cut: BTreeSet::new(),
            loss_percent,
            delay_ticks_max,
        }
    }

    pub fn send(&mut self, rng: &mut Rng, now: u64, envelope: Envelope<M>) -> Fate {
        if self.cut.contains(&(envelope.from, envelope.to)) {
            return Fate::Cut;
        }
        if rng.chance(self.loss_percent) {
            return Fate::Lost;
        }
        let arrives_at = now + rng.between(1, self.delay_ticks_max.max(1));
        self.seq += 1;
        self.in_flight.insert((arrives_at, self.seq), envelope);
        Fate::Queued { arrives_at }
    }

    /// Every message due at or before `now`, in arrival order. A link cut while a message was on it drops it.
    pub fn due(&mut self, now: u64) -> Vec<Envelope<M>> {
        let later = self.in_flight.split_off(&(now + 1, 0));
        let due = std::mem::replace(&mut self.in_flight, later);
        due.into_values()
            .filter(|e| !self.cut.contains(&(e.from, e.to)))
            .collect()
    }

    pub fn cut_link(&mut self, from: Member, to: Member) {
        self.cut.insert((from, to));
    }

    /// Both directions deliver.
    pub fn connected(&self, a: Member, b: Member) -> bool {
        !self.cut.contains(&(a, b)) && !self.cut.contains(&(b, a))
    }

    pub fn heal(&mut self) {
        self.cut.clear();
    }

    pub fn cut_links(&self) -> usize {
        self.cut.len()
    }
}
