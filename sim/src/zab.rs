//! ZAB discovery, sync and broadcast under faults: the real leader core (`core::zab::leader`) and learner
//! cores (`core::zab::learner`) of 3 or 5 voters and, in half the seeds, an observer, connected by simulated TCP
//! connections (in order, delayed, never reordered), with disks that lose what was not synced when the process
//! dies. The faults: crashes (the OS may have written some of the unsynced entries, in order; the rest is lost
//! or torn and cut at recovery), fsync failures (the process exits), broken connections, one-way stalls of a
//! connection (TCP holds what is sent until the connection breaks), members partitioned from all the others
//! for a while, and clock jumps (a member ticks several times at once).
//!
//! What stands in for the rest of ZooKeeper: instead of Fast Leader Election, once a quorum of members is up (and
//! not partitioned) and no one leads, the member highest in (currentEpoch, last logged zxid, sid) leads, as FLE would elect,
//! and every other member that is up follows it. Everyone reloads its database from its disk at that point.
//! A learner whose connection breaks (a fault, a timeout, or a drop by the leader) reconnects a few ticks
//! later; a leader that steps down or crashes ends the era. The front end is a client that proposes txns
//! whenever the leader is established.
//!
//! Checks: every txn a leader commits follows the last one committed (by any leader) in zxid order, and a new
//! leader, once established, holds everything committed before (no committed txn is lost); a serving
//! learner's applied txns are always a prefix of the committed sequence; after the faults stop, within
//! `CONVERGE_TICKS` a quorum of voters and every observer serve the same leader with the committed sequence applied.

use std::collections::{BTreeMap, VecDeque};

use ferrokeeper::core::zab::leader::{self, Leader, LeaderConfig, LeaderPersisted, LearnerConn};
use ferrokeeper::core::zab::learner::{self, Learner, LearnerConfig};
use ferrokeeper::types::{ServerId, Zxid};
use jute::quorum::Payload;
use jute::records::txn::{DeleteTxn, TxnHeader};
use jute::txn_entry::{TxnBody, TxnEntry};

pub use crate::election::Failure;
use crate::network::Member;
use crate::rng::Rng;

mod actions;

const INIT_LIMIT_TICKS: u64 = 30;
const SYNC_LIMIT_TICKS: u64 = 20;
const COMMITTED_LOG_MAX: usize = 20;
const RECONNECT_TICKS: u64 = 3;
const CONVERGE_TICKS: u64 = 400;
const TRACE_LINES: usize = 200;
/// Clients keep writing this long after the faults stop, then let the ensemble go quiet.
const CLIENT_TICKS_AFTER_FAULTS: u64 = 50;

/// What a member has on disk: epochs, the txns that are durable and those written but not yet synced.
#[derive(Debug, Clone, Default)]
struct Disk {
    accepted_epoch: i64,
    current_epoch: i64,
    durable: Vec<TxnEntry>,
    pending: Vec<TxnEntry>,
}

impl Disk {
    fn last_zxid(&self) -> Zxid {
        Zxid(self.durable.last().map_or(0, |t| t.header.zxid))
    }

    fn flush(&mut self) -> Option<Zxid> {
        let last = self.pending.last().map(|t| Zxid(t.header.zxid));
        self.durable.append(&mut self.pending);
        last
    }

    fn find(&self, zxid: Zxid) -> Option<&TxnEntry> {
        self.durable
            .iter()
            .chain(&self.pending)
            .rev()
            .find(|t| t.header.zxid == zxid.0)
    }
}

#[derive(Debug)]
struct Node {
    up_at: Option<u64>,
    disk: Disk,
    /// The database: txns applied, in order.
    db: Vec<TxnEntry>,
    learner: Option<(Learner, u64)>,
    /// Tick at which a learner without a connection reconnects.
    reconnect_at: Option<u64>,
    /// Cut off from every other member (both ways) until this tick: no connection to it is made.
    partitioned_until: u64,
}

enum Wire {
    Packet(i64, Payload),
    Snapshot(Vec<TxnEntry>),
}

/// One TCP connection: two FIFO queues of (arrival tick, message).
struct Conn {
    learner: Member,
    to_leader: VecDeque<(u64, i64, Payload)>,
    to_learner: VecDeque<(u64, Wire)>,
    /// A one-way partition: nothing more arrives in that direction (TCP holds it) until the connection breaks.
    stalled_to_leader: bool,
    stalled_to_learner: bool,
}

/// What one seed did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Report {
    pub eras: u64,
    pub commits: u64,
    pub crashes: u64,
    pub broken_connections: u64,
    pub converged_at_tick: u64,
}

pub struct World {
    seed: u64,
    rng: Rng,
    voters: Vec<Member>,
    /// Members that learn every commit (INFORM) and never vote nor lead.
    observers: Vec<Member>,
    nodes: BTreeMap<Member, Node>,
    leader: Option<(Member, Leader)>,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    now: u64,
    faults_until: u64,
    delay_ticks_max: u64,
    fault_per_mille: u64,
    /// Every txn committed by any leader, in commit order.
    committed: Vec<i64>,
    era_wait_until: u64,
    trace: VecDeque<String>,
    pub report: Report,
}

/// Runs one seed to convergence or failure.
pub fn run(seed: u64) -> Result<Report, Failure> {
    let mut world = World::new(seed);
    world.run()?;
    Ok(world.report)
}

/// A client's write: a delete named after its zxid, so that txns of different leaders differ.
fn txn(zxid: i64, now: u64) -> TxnEntry {
    let header = TxnHeader {
        client_id: 0x5eed,
        cxid: zxid as i32,
        zxid,
        time: now as i64,
        txn_type: 2,
    };
    let body = TxnBody::Delete(DeleteTxn {
        path: format!("/n{zxid:x}"),
    });
    TxnEntry {
        header,
        body,
        digest: None,
    }
}

fn zxids(txns: &[TxnEntry]) -> Vec<i64> {
    txns.iter().map(|t| t.header.zxid).collect()
}

impl World {
    pub fn new(seed: u64) -> World {
        let mut rng = Rng::new(seed);
        let n: Member = if rng.chance(50) { 3 } else { 5 };
        let voters: Vec<Member> = (1..=n).collect();
        let observers: Vec<Member> = if rng.chance(50) { vec![n + 1] } else { vec![] };
        let nodes = voters
            .iter()
            .chain(&observers)
            .map(|&m| {
                let node = Node {
                    up_at: None,
                    disk: Disk::default(),
                    db: Vec::new(),
                    learner: None,
                    reconnect_at: Some(rng.below(5)),
                    partitioned_until: 0,
                };
                (m, node)
            })
            .collect();
        World {
            seed,
            faults_until: rng.between(100, 1500),
            delay_ticks_max: rng.between(1, 3),
            fault_per_mille: rng.between(2, 30),
            rng,
            voters,
            observers,
            nodes,
            leader: None,
            conns: BTreeMap::new(),
            next_conn: 0,
            now: 0,
            committed: Vec::new(),
            era_wait_until: 0,
            trace: VecDeque::new(),
            report: Report::default(),
        }
    }

    pub fn run(&mut self) -> Result<(), Failure> {
        loop {
            self.now += 1;
            self.step().map_err(|what| self.fail(what))?;
            if self.now > self.faults_until && self.converged() {
                self.report.converged_at_tick = self.now;
                return Ok(());
            }
            if self.now > self.faults_until + CONVERGE_TICKS {
                return Err(self.fail("the ensemble did not converge after the faults stopped".into()));
            }
        }
    }

    fn fail(&self, what: String) -> Failure {
        Failure::new("--zab-seed", self.seed, self.now, what, &self.trace)
    }

    fn log(&mut self, line: String) {
        if self.trace.len() >= TRACE_LINES {
            self.trace.pop_front();
        }
        self.trace.push_back(format!("t{} {line}", self.now));
    }

    fn step(&mut self) -> Result<(), String> {
        if self.now <= self.faults_until {
            self.nemesis()?;
        }
        self.restart_members()?;
        self.start_era()?;
        self.deliver()?;
        self.flush()?;
        self.tick()?;
        self.clients()?;
        Ok(())
    }

    fn nemesis(&mut self) -> Result<(), String> {
        if self.rng.below(1000) >= self.fault_per_mille {
            return Ok(());
        }
        let up: Vec<Member> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.up_at.is_some())
            .map(|(m, _)| *m)
            .collect();
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        let roll = self.rng.below(100);
        if roll < 25 {
            if let Some(&m) = up.get(self.rng.below(up.len() as u64) as usize) {
                self.crash(m);
            }
        } else if roll < 45 && !ids.is_empty() {
            let id = ids[self.rng.below(ids.len() as u64) as usize];
            self.break_conn(id, "nemesis");
        } else if roll < 65 && !ids.is_empty() {
            // A one-way partition of one connection, either way.
            let id = ids[self.rng.below(ids.len() as u64) as usize];
            let to_leader = self.rng.chance(50);
            self.log(format!(
                "#{id} stalls towards the {}",
                if to_leader { "leader" } else { "learner" }
            ));
            if let Some(c) = self.conns.get_mut(&id) {
                if to_leader {
                    c.stalled_to_leader = true;
                } else {
                    c.stalled_to_learner = true;
                }
            }
        } else if roll < 80 {
            // A member cut off from all the others for a while, both ways.
            if let Some(&m) = up.get(self.rng.below(up.len() as u64) as usize) {
                self.partition(m);
            }
        } else if let Some(&m) = up.get(self.rng.below(up.len() as u64) as usize) {
            // A clock jump on one member: several ticks at once.
            let ticks = self.rng.between(2, SYNC_LIMIT_TICKS);
            self.log(format!("{m}'s clock jumps {ticks} ticks"));
            for _ in 0..ticks {
                self.tick_member(m)?;
            }
        }
        Ok(())
    }

    /// Cuts `m` off from every other member until a later tick: its connections break and none is made.
    fn partition(&mut self, m: Member) {
        let until = self.now + self.rng.between(5, 60);
        self.log(format!("{m} partitioned until t{until}"));
        self.nodes.get_mut(&m).expect("node").partitioned_until = until;
        let cut: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.learner == m || self.leader.as_ref().is_some_and(|(l, _)| *l == m))
            .map(|(id, _)| *id)
            .collect();
        for id in cut {
            self.break_conn(id, "partition");
        }
    }

    /// True while `a` and `b` cannot reach each other.
    fn apart(&self, a: Member, b: Member) -> bool {
        self.nodes[&a].partitioned_until > self.now || self.nodes[&b].partitioned_until > self.now
    }

    /// The process dies: what it had not synced is lost; it comes back some ticks later.
    fn crash(&mut self, m: Member) {
        self.report.crashes += 1;
        let back = self.now + self.rng.between(5, 40);
        self.log(format!("crash {m}, back at t{back}"));
        if self.leader.as_ref().is_some_and(|(l, _)| *l == m) {
            self.end_era();
        }
        if let Some((_, conn)) = self.nodes[&m].learner {
            self.break_conn(conn, "crash");
        }
        // The OS may have written some of what was not synced, in order; a torn entry after them is cut at
        // recovery, so the rest is lost.
        let pending = self.nodes[&m].disk.pending.len() as u64;
        let survive = self.rng.below(pending + 1) as usize;
        let node = self.nodes.get_mut(&m).expect("node");
        let survived: Vec<TxnEntry> = node.disk.pending.drain(..survive).collect();
        node.disk.durable.extend(survived);
        node.disk.pending.clear();
        node.up_at = None;
        node.reconnect_at = Some(back);
        node.learner = None;
    }

    fn restart_members(&mut self) -> Result<(), String> {
        let due: Vec<Member> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.learner.is_none() && n.reconnect_at.is_some_and(|t| t <= self.now))
            .map(|(m, _)| *m)
            .collect();
        for m in due {
            let node = self.nodes.get_mut(&m).expect("node");
            node.reconnect_at = None;
            if node.up_at.is_none() {
                node.up_at = Some(self.now);
                node.db = node.disk.durable.clone();
                self.log(format!("restart {m}"));
            }
            if let Some(l) = self.leader.as_ref().map(|(l, _)| *l).filter(|l| *l != m) {
                if self.apart(l, m) {
                    let until = self.nodes[&m]
                        .partitioned_until
                        .max(self.nodes[&l].partitioned_until);
                    self.nodes.get_mut(&m).expect("node").reconnect_at = Some(until);
                } else {
                    self.connect(m)?;
                }
            }
        }
        Ok(())
    }

    /// The stand-in for leader election.
    fn start_era(&mut self) -> Result<(), String> {
        if self.leader.is_some() || self.now < self.era_wait_until {
            return Ok(());
        }
        let up: Vec<Member> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.up_at.is_some_and(|t| t <= self.now) && n.partitioned_until <= self.now)
            .map(|(m, _)| *m)
            .collect();
        let voters_up = up.iter().filter(|m| self.voters.contains(m)).count();
        if voters_up * 2 <= self.voters.len() {
            return Ok(());
        }
        for &m in &up {
            let node = self.nodes.get_mut(&m).expect("node");
            node.disk.flush();
            node.db = node.disk.durable.clone();
            node.learner = None;
        }
        let chosen = *up
            .iter()
            .filter(|m| self.voters.contains(m))
            .max_by_key(|m| {
                (
                    self.nodes[m].disk.current_epoch,
                    self.nodes[m].disk.last_zxid(),
                    **m,
                )
            })
            .expect("a quorum is up");
        self.report.eras += 1;
        let disk = &self.nodes[&chosen].disk;
        let persisted = LeaderPersisted {
            accepted_epoch: disk.accepted_epoch,
            current_epoch: disk.current_epoch,
            last_zxid: disk.last_zxid(),
        };
        let skip = disk.durable.len().saturating_sub(COMMITTED_LOG_MAX);
        let recent = disk.durable[skip..].to_vec();
        self.log(format!(
            "era {}: {chosen} leads from {persisted:?}",
            self.report.eras
        ));
        let cfg = LeaderConfig {
            my_id: ServerId(chosen),
            voters: self.voters.iter().copied().map(ServerId).collect(),
            observers: self.observers.iter().copied().map(ServerId).collect(),
            groups: None,
            init_limit_ticks: INIT_LIMIT_TICKS,
            sync_limit_ticks: SYNC_LIMIT_TICKS,
            committed_log_max: COMMITTED_LOG_MAX,
            config_text: None,
        };
        let (core, actions) = Leader::start(cfg, persisted, recent);
        self.leader = Some((chosen, core));
        self.leader_actions(actions)?;
        for m in up.into_iter().filter(|m| *m != chosen) {
            self.connect(m)?;
        }
        // Members cut off now join once their partition ends.
        for node in self.nodes.values_mut() {
            if node.up_at.is_some() && node.partitioned_until > self.now && node.learner.is_none() {
                node.reconnect_at = Some(node.partitioned_until);
            }
        }
        Ok(())
    }

    fn end_era(&mut self) {
        if let Some((m, _)) = self.leader.take() {
            self.log(format!("{m} stops leading"));
        }
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            self.break_conn(id, "leader gone");
        }
        for node in self.nodes.values_mut() {
            node.reconnect_at = node.reconnect_at.filter(|_| node.up_at.is_none());
        }
        self.era_wait_until = self.now + RECONNECT_TICKS;
    }

    /// A learner (re)connects to the leader, from what its disk holds.
    fn connect(&mut self, m: Member) -> Result<(), String> {
        let node = self.nodes.get_mut(&m).expect("node");
        node.disk.flush();
        node.db = node.disk.durable.clone();
        let cfg = LearnerConfig {
            my_id: ServerId(m),
            observer: self.observers.contains(&m),
            config_version: 0,
            init_limit_ticks: INIT_LIMIT_TICKS,
            sync_limit_ticks: SYNC_LIMIT_TICKS,
        };
        let persisted = learner::Persisted {
            accepted_epoch: node.disk.accepted_epoch,
            current_epoch: node.disk.current_epoch,
            last_logged_zxid: node.disk.last_zxid(),
            needs_initial_snapshot: false,
        };
        let (core, actions) = Learner::start(cfg, persisted);
        self.next_conn += 1;
        let id = self.next_conn;
        node.learner = Some((core, id));
        self.conns.insert(
            id,
            Conn {
                learner: m,
                to_leader: VecDeque::new(),
                to_learner: VecDeque::new(),
                stalled_to_leader: false,
                stalled_to_learner: false,
            },
        );
        if let Some((_, core)) = self.leader.as_mut() {
            core.connected(LearnerConn(id));
        }
        self.log(format!("{m} connects as #{id}"));
        self.learner_actions(m, actions)
    }

    /// Both ends see the connection close; the learner tries again later.
    fn break_conn(&mut self, id: u64, why: &str) {
        let Some(conn) = self.conns.remove(&id) else {
            return;
        };
        self.report.broken_connections += 1;
        self.log(format!("#{id} to {} breaks: {why}", conn.learner));
        if let Some((_, core)) = self.leader.as_mut() {
            core.disconnected(LearnerConn(id));
        }
        let now = self.now;
        let node = self.nodes.get_mut(&conn.learner).expect("node");
        if node.learner.as_ref().is_some_and(|(_, c)| *c == id) {
            node.learner = None;
            if node.up_at.is_some() {
                node.reconnect_at = Some(now + RECONNECT_TICKS);
            }
        }
    }

    fn arrival(&mut self, last: Option<u64>) -> u64 {
        let at = self.now + self.rng.between(1, self.delay_ticks_max);
        at.max(last.unwrap_or(0))
    }

    fn deliver(&mut self) -> Result<(), String> {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            while let Some(conn) = self.conns.get_mut(&id) {
                let m = conn.learner;
                let to_learner =
                    !conn.stalled_to_learner && conn.to_learner.front().is_some_and(|(t, _)| *t <= self.now);
                let to_leader =
                    !conn.stalled_to_leader && conn.to_leader.front().is_some_and(|(t, _, _)| *t <= self.now);
                if to_learner {
                    let (_, wire) = conn.to_learner.pop_front().expect("front");
                    let Wire::Packet(zxid, payload) = wire else {
                        return Err(format!("#{id}: a database nobody asked for"));
                    };
                    let node = self.nodes.get_mut(&m).expect("node");
                    let Some((core, _)) = node.learner.as_mut() else {
                        break;
                    };
                    match core.receive(zxid, payload) {
                        Ok(actions) => self.learner_actions(m, actions)?,
                        Err(e) => self.break_conn(id, &format!("learner {m}: {e}")),
                    }
                } else if to_leader {
                    let (_, zxid, payload) = conn.to_leader.pop_front().expect("front");
                    let Some((_, core)) = self.leader.as_mut() else {
                        break;
                    };
                    let actions = core.receive(LearnerConn(id), zxid, payload);
                    self.leader_actions(actions)?;
                } else {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Group commit: some members sync their log this tick and report it.
    fn flush(&mut self) -> Result<(), String> {
        let members: Vec<Member> = self.nodes.keys().copied().collect();
        for m in members {
            if !self.rng.chance(50) || self.nodes[&m].up_at.is_none() {
                continue;
            }
            if self.now <= self.faults_until && self.rng.below(1000) < 3 {
                // fsync fails: the process exits (as ZooKeeper's SyncRequestProcessor does) and comes back.
                self.log(format!("{m}'s fsync fails"));
                self.crash(m);
                continue;
            }
            let Some(last) = self.nodes.get_mut(&m).expect("node").disk.flush() else {
                continue;
            };
            if self.leader.as_ref().is_some_and(|(l, _)| *l == m) {
                let (_, core) = self.leader.as_mut().expect("leader");
                let actions = core
                    .persisted(leader::Durable::LogUpTo(last))
                    .map_err(|e| e.to_string())?;
                self.leader_actions(actions)?;
            } else if let Some((core, _)) = self.nodes.get_mut(&m).expect("node").learner.as_mut() {
                if core.is_serving() {
                    let actions = core
                        .persisted(learner::Durable::LogUpTo(last))
                        .map_err(|e| e.to_string())?;
                    self.learner_actions(m, actions)?;
                }
            }
        }
        Ok(())
    }

    fn tick(&mut self) -> Result<(), String> {
        let members: Vec<Member> = self.nodes.keys().copied().collect();
        for m in members {
            self.tick_member(m)?;
        }
        Ok(())
    }

    /// One tick of `m`'s clock: its leader core or its learner core.
    fn tick_member(&mut self, m: Member) -> Result<(), String> {
        if let Some((l, core)) = self.leader.as_mut() {
            if *l == m {
                match core.tick() {
                    Ok(actions) => self.leader_actions(actions)?,
                    Err(e) => {
                        self.log(format!("{m} steps down: {e}"));
                        self.nodes.get_mut(&m).expect("node").disk.flush();
                        self.end_era();
                    }
                }
                return Ok(());
            }
        }
        let node = self.nodes.get_mut(&m).expect("node");
        let Some(id) = node.learner.as_ref().map(|(_, c)| *c) else {
            return Ok(());
        };
        if let Some(Err(e)) = node.learner.as_mut().map(|(core, _)| core.tick()) {
            self.break_conn(id, &format!("learner {m}: {e}"));
        }
        Ok(())
    }

    fn clients(&mut self) -> Result<(), String> {
        let Some((_, core)) = self.leader.as_mut() else {
            return Ok(());
        };
        if !core.is_established()
            || self.now > self.faults_until + CLIENT_TICKS_AFTER_FAULTS
            || !self.rng.chance(40)
        {
            return Ok(());
        }
        for _ in 0..self.rng.between(1, 3) {
            let (_, core) = self.leader.as_mut().expect("leader");
            let zxid = core.last_proposed().0 + 1;
            let actions = core.propose(txn(zxid, self.now));
            self.leader_actions(actions)?;
        }
        Ok(())
    }

    /// Clients done, every member up, a quorum serving the leader with the committed sequence applied, and every
    /// observer serving with it applied too.
    /// (Pings never stop, so packets are always in flight. Not every member: a learner that accepted a higher epoch than this leader's
    /// cannot follow it, in ZooKeeper too, until the next election.)
    fn converged(&self) -> bool {
        let Some((leader_id, core)) = self.leader.as_ref() else {
            return false;
        };
        if self.now <= self.faults_until + CLIENT_TICKS_AFTER_FAULTS
            || !core.is_established()
            || core.last_committed() != core.last_proposed()
            || self.nodes.values().any(|n| n.up_at.is_none())
        {
            return false;
        }
        let serving = self
            .nodes
            .iter()
            .filter(|(m, _)| self.voters.contains(m))
            .filter(|(m, n)| {
                zxids(&n.db) == self.committed
                    && (*m == leader_id || n.learner.as_ref().is_some_and(|(core, _)| core.is_serving()))
            })
            .count();
        // Observers never count towards the quorum, but once it serves, each must have caught up too.
        let observers_caught_up = self.observers.iter().all(|m| {
            let n = &self.nodes[m];
            zxids(&n.db) == self.committed && n.learner.as_ref().is_some_and(|(core, _)| core.is_serving())
        });
        serving * 2 > self.voters.len() && observers_caught_up
    }
}
