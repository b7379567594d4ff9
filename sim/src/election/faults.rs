//! The nemesis (crashes, restarts, partitions, one-way partitions, the heal), the stand-in for what follows an
//! election (giving up on an unreachable leader, a leader giving up without a quorum), and the convergence check.

use jute::election::ServerState;

use super::{Failure, World, GIVE_UP_TICKS, STABLE_TICKS};
use crate::network::Member;

impl World {
    pub(super) fn nemesis(&mut self) -> Result<(), Failure> {
        let Some(f) = self.scenario.faults else {
            return Ok(());
        };
        if self.now == f.heal_at_tick {
            self.net.heal();
            self.net.loss_percent = 0;
            self.net.delay_ticks_max = 1;
            self.log("heal: no cuts, no loss, every crashed member restarts".into());
            let crashed: Vec<Member> = self.crashed().collect();
            for m in crashed {
                self.start(m)?;
            }
            self.resend_last_messages();
            return Ok(());
        }
        if self.now > f.heal_at_tick || self.rng.below(1000) >= f.nemesis_per_mille {
            return Ok(());
        }
        let members: Vec<Member> = self.nodes.keys().copied().collect();
        match self.rng.below(5) {
            0 => {
                let alive: Vec<Member> = self.alive().collect();
                if let Some(&m) = alive.get(self.rng.below(alive.len() as u64) as usize) {
                    let node = self.nodes.get_mut(&m).expect("member");
                    node.election = None;
                    self.report.counters.crashes += 1;
                    self.log(format!("crash {m}"));
                }
            }
            1 => {
                let crashed: Vec<Member> = self.crashed().collect();
                if let Some(&m) = crashed.get(self.rng.below(crashed.len() as u64) as usize) {
                    self.start(m)?;
                }
            }
            2 | 3 => {
                let one_way = self.rng.chance(30);
                let side: Vec<(Member, bool)> = members.iter().map(|&m| (m, self.rng.chance(50))).collect();
                for &(a, a_side) in &side {
                    for &(b, b_side) in &side {
                        if a_side && !b_side {
                            self.net.cut_link(a, b);
                            if !one_way {
                                self.net.cut_link(b, a);
                            }
                        }
                    }
                }
                self.report.counters.partitions += 1;
                let left: Vec<Member> = side.iter().filter(|s| s.1).map(|s| s.0).collect();
                let how = if one_way { "one-way from" } else { "around" };
                self.log(format!(
                    "partition {how} {left:?} ({} links cut)",
                    self.net.cut_links()
                ));
            }
            _ => {
                self.net.heal();
                self.log("links restored".into());
                self.resend_last_messages();
            }
        }
        Ok(())
    }

    fn crashed(&self) -> impl Iterator<Item = Member> + '_ {
        self.nodes
            .iter()
            .filter(|(_, n)| n.started && n.election.is_none())
            .map(|(m, _)| *m)
    }

    fn state_and_leader(&self, m: Member) -> Option<(ServerState, Member)> {
        let e = self.nodes.get(&m)?.election.as_ref()?;
        Some((e.state(), e.current_vote().candidate.leader.0))
    }

    /// Whether a member that is not looking still has what its role needs.
    fn role_holds(&self, m: Member, state: ServerState, leader: Member) -> bool {
        match state {
            ServerState::Looking => true,
            ServerState::Leading => {
                let followers = self.scenario.voters.iter().copied().filter(|&v| {
                    v != m
                        && self.state_and_leader(v) == Some((ServerState::Following, m))
                        && self.net.connected(m, v)
                });
                self.majority(followers.chain([m]))
            }
            ServerState::Following | ServerState::Observing => {
                self.state_and_leader(leader) == Some((ServerState::Leading, leader))
                    && self.net.connected(m, leader)
            }
        }
    }

    pub(super) fn stand_in_for_zab(&mut self) -> Result<(), Failure> {
        let alive: Vec<Member> = self.alive().collect();
        for m in alive {
            let Some((state, leader)) = self.state_and_leader(m) else {
                continue;
            };
            let holds = self.role_holds(m, state, leader);
            let node = self.nodes.get_mut(&m).expect("member");
            node.unhealthy_ticks = if holds { 0 } else { node.unhealthy_ticks + 1 };
            if node.unhealthy_ticks >= GIVE_UP_TICKS {
                self.log(format!("{m} gives up {} behind {leader}", state.name()));
                self.look(m)?;
            }
        }
        Ok(())
    }

    pub(super) fn check_converged(&mut self) {
        let all_started = self.nodes.values().all(|n| n.started);
        let leader = self
            .alive()
            .find(|&m| self.state_and_leader(m) == Some((ServerState::Leading, m)));
        let settled = self.now >= self.heal_at()
            && all_started
            && leader.is_some_and(|l| {
                self.nodes
                    .keys()
                    .all(|&m| self.state_and_leader(m) == Some((self.expected_state(m, l), l)))
            });
        if !settled {
            self.stable_since = None;
            return;
        }
        let since = *self.stable_since.get_or_insert(self.now);
        if self.now - since >= STABLE_TICKS {
            self.report.converged_at_tick = Some(since);
            self.log(format!("converged on {leader:?} since tick {since}"));
        }
    }
}
