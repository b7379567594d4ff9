//! What a run counts and reports, sums over many seeds, and a failure with the command that replays it.

/// What a run counted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counters {
    pub ticks: u64,
    pub messages_sent: u64,
    pub messages_lost: u64,
    pub decisions: u64,
    pub crashes: u64,
    pub partitions: u64,
    /// Rounds in which two different members declared LEADING (FLE allows it under loss; ZAB's epochs settle
    /// it).
    pub split_rounds: u64,
    /// The same, among LEADING decisions made after the heal.
    pub connected_split_rounds: u64,
}

impl Counters {
    fn add(&mut self, o: &Counters) {
        self.ticks += o.ticks;
        self.messages_sent += o.messages_sent;
        self.messages_lost += o.messages_lost;
        self.decisions += o.decisions;
        self.crashes += o.crashes;
        self.partitions += o.partitions;
        self.split_rounds += o.split_rounds;
        self.connected_split_rounds += o.connected_split_rounds;
    }
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub counters: Counters,
    pub converged_at_tick: Option<u64>,
    pub heal_at_tick: u64,
    pub faultless: bool,
}

/// Sums over many seeds.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub seeds: u64,
    pub faultless_seeds: u64,
    pub sum: Counters,
    pub converge_ticks_after_heal_max: u64,
}

impl Totals {
    pub fn add(&mut self, r: &Report) {
        self.seeds += 1;
        self.faultless_seeds += u64::from(r.faultless);
        self.sum.add(&r.counters);
        let after_heal = r.converged_at_tick.unwrap_or(0).saturating_sub(r.heal_at_tick);
        self.converge_ticks_after_heal_max = self.converge_ticks_after_heal_max.max(after_heal);
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} seeds ({} without faults), {} ticks, {} messages ({} lost or cut), {} decisions, {} crashes, \
             {} partitions, {} rounds with two leaders ({} of them after the heal), convergence at most {} ticks after the heal",
            self.seeds,
            self.faultless_seeds,
            self.sum.ticks,
            self.sum.messages_sent,
            self.sum.messages_lost,
            self.sum.decisions,
            self.sum.crashes,
            self.sum.partitions,
            self.sum.split_rounds,
            self.sum.connected_split_rounds,
            self.converge_ticks_after_heal_max
        )
    }
}

/// A broken check, with the seed's trace.
#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    pub tick: u64,
    pub what: String,
    pub trace: Vec<String>,
    /// The `ferrokeeper-sim` option that replays one seed of this simulation.
    pub replay_option: &'static str,
}

impl Failure {
    pub fn new<'a>(
        replay_option: &'static str,
        seed: u64,
        tick: u64,
        what: String,
        trace: impl IntoIterator<Item = &'a String>,
    ) -> Failure {
        Failure {
            seed,
            tick,
            what,
            trace: trace.into_iter().cloned().collect(),
            replay_option,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "seed {} failed at tick {}: {}",
            self.seed, self.tick, self.what
        )?;
        writeln!(f, "last {} events:", self.trace.len())?;
        for line in &self.trace {
            writeln!(f, "  {line}")?;
        }
        write!(
            f,
            "replay: cargo run -p ferrokeeper-sim -- {1} {0}   (or SIM_SEED={0} cargo test -p ferrokeeper-sim)",
            self.seed, self.replay_option
        )
    }
}
