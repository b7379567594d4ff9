//! The operator's view of a member's role in its ensemble: the [`QuorumView`] that `srvr`, `stat`, `conf`,
//! `mntr`, the AdminServer and /metrics print, gathered from the runtime's link (`link.rs`); the figures a
//! role keeps for it ([`RoleOps`]: who leads, since when, the proposals' sizes); and the log lines an operator
//! follows through an election and a sync, saying what ZooKeeper's `QuorumPeer`, `Leader`, `LearnerHandler`
//! and `Learner` say at INFO for the same steps.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jute::election::ServerState;
use jute::quorum::Payload;

use super::link::Link;
use super::runtime::Runtime;
use crate::config::ServerConfig;
use crate::core::zab::leader::{Leader, LearnerConn};
use crate::metrics::{summary_set, Metrics};
use crate::net::four_letter::ResponseSizes;
use crate::net::quorum_view::{
    address, host_port, LeaderFacts, LearnerInfoView, QuorumView, RoleView, VoterView, ZabState,
};
use crate::quorum::link::QueueSamples;
use crate::quorum::Decision;

/// `ServerMetrics.ELECTION_TIME`: from entering LOOKING to leading or following, in ms.
const ELECTION_TIME: &str = "election_time";
/// `ServerMetrics.FOLLOWER_SYNC_TIME`: how long a follower took to synchronise with its leader, in ms.
const FOLLOWER_SYNC_TIME: &str = "follower_sync_time";
/// `ServerMetrics.OBSERVER_SYNC_TIME`: the same for an observer.
const OBSERVER_SYNC_TIME: &str = "observer_sync_time";
/// `ServerMetrics.LOOKING_COUNT`: times the member entered LOOKING.
const LOOKING_COUNT: &str = "looking_count";
/// `ServerMetrics.PROPOSAL_COUNT`: proposals the leader made.
const PROPOSAL_COUNT: &str = "proposal_count";
/// `ServerMetrics.COMMIT_COUNT`: proposals the leader committed.
const COMMIT_COUNT: &str = "commit_count";
/// `ServerMetrics.LEARNER_PROPOSAL_RECEIVED_COUNT` and `LEARNER_COMMIT_RECEIVED_COUNT`: PROPOSAL and COMMIT
/// packets a follower received from its leader.
const LEARNER_PROPOSAL_RECEIVED_COUNT: &str = "learner_proposal_received_count";
const LEARNER_COMMIT_RECEIVED_COUNT: &str = "learner_commit_received_count";

/// `ZooDefs.CONFIG_NODE`.
const CONFIG_NODE: &str = "/zookeeper/config";

/// What a role keeps for the operator, beside its link.
#[derive(Debug, Clone)]
pub(crate) struct RoleOps {
    /// The elected leader and its quorum address.
    pub(crate) leader_id: u64,
    pub(crate) leader_address: SocketAddr,
    /// When a quorum acknowledged NEWLEADER (a leader's `leaderStartTime`).
    pub(crate) established_at: Option<Instant>,
    /// A leader's `proposalStats`: the sizes of the txns it proposed.
    pub(crate) proposal_sizes: ResponseSizes,
    /// When the role began: a follower's connection to its leader.
    pub(crate) began: Instant,
}

impl RoleOps {
    pub(crate) fn new(leader_id: u64, leader_address: SocketAddr) -> RoleOps {
        RoleOps {
            leader_id,
            leader_address,
            established_at: None,
            proposal_sizes: ResponseSizes::default(),
            began: Instant::now(),
        }
    }

    /// The role began at `began` (a follower's connection to its leader, before it registered).
    pub(crate) fn since(mut self, began: Instant) -> RoleOps {
        self.began = began;
        self
    }

    /// A follower is synchronised and serves (`Follower.followLeader`'s `follower_sync_time`; ZooKeeper starts
    /// its clock after the epoch exchange, this one when the follower connects, a few packets earlier).
    pub(crate) fn synced(&self, metrics: &mut Metrics, observer: bool) {
        let name = if observer {
            OBSERVER_SYNC_TIME
        } else {
            FOLLOWER_SYNC_TIME
        };
        metrics.observe(name, self.began.elapsed().as_millis() as u64);
    }

    /// The leader has a quorum (`Leader.startZkServer`).
    pub(crate) fn established(&mut self, leader: &Leader, epoch: i64) {
        self.established_at = Some(Instant::now());
        let mut sids: Vec<u64> = leader.synced_followers().iter().map(|s| s.0 as u64).collect();
        sids.push(self.leader_id);
        sids.sort_unstable();
        tracing::info!(
            epoch,
            supporters = ?sids,
            zxid = %format!("{:#x}", (epoch << 32)),
            "a quorum of supporters follows; leading and serving clients"
        );
    }

    /// The leader proposes a txn of `bytes` (`Leader.propose`).
    pub(crate) fn proposed(&mut self, metrics: &mut Metrics, bytes: usize) {
        self.proposal_sizes.record(bytes as i64);
        metrics.count(PROPOSAL_COUNT, 1);
    }
}

/// The leader committed a proposal (`Leader.commit`).
pub(super) fn count_commit(metrics: &mut Metrics) {
    metrics.count(COMMIT_COUNT, 1);
}

/// A follower counts the PROPOSAL and COMMIT packets its leader sends (`Follower.processPacket`).
pub(super) fn count_from_leader(metrics: &mut Metrics, payload: &Payload) {
    match payload {
        Payload::Proposal(_) => metrics.count(LEARNER_PROPOSAL_RECEIVED_COUNT, 1),
        Payload::Commit => metrics.count(LEARNER_COMMIT_RECEIVED_COUNT, 1),
        _ => {}
    }
}

/// The member enters LOOKING.
pub(super) fn election_began(metrics: Option<&mut Metrics>, my_id: u64) {
    tracing::info!(myid = my_id, "LOOKING: electing a leader");
    if let Some(m) = metrics {
        m.count(LOOKING_COUNT, 1);
    }
}

/// The election ended with `decision` after `took`: how long it took and the vote that won
/// (`Leader.lead`'s and `Follower.followLeader`'s "LEADER ELECTION TOOK").
pub(super) fn election_ended(metrics: Option<&mut Metrics>, decision: &Decision, took: Duration) {
    let ms = took.as_millis() as u64;
    let c = &decision.vote.candidate;
    let state = match decision.state {
        ServerState::Looking => "LOOKING",
        ServerState::Following => "FOLLOWING",
        ServerState::Leading => "LEADING",
        ServerState::Observing => "OBSERVING",
    };
    tracing::info!(
        leader = c.leader.0,
        zxid = %format!("{:#x}", c.zxid.0),
        peer_epoch = %format!("{:#x}", c.peer_epoch),
        "{state} - leader election took {ms} ms"
    );
    // A leader and a follower record it (`Leader.lead`, `Follower.followLeader`); an observer does not.
    if let Some(m) = metrics.filter(|_| decision.state != ServerState::Observing) {
        m.observe(ELECTION_TIME, ms);
    }
}

/// The leader tells a learner how it will be synchronised (`LearnerHandler.syncFollower`): DIFF, TRUNC or
/// SNAP, and up to which zxid.
pub(super) fn log_sync_mode(leader: &Leader, to: LearnerConn, zxid: i64, payload: &Payload) {
    let mode = match payload {
        Payload::Diff => "DIFF",
        Payload::Trunc => "TRUNC",
        Payload::Snap => "SNAP",
        _ => return,
    };
    let sid = leader.learner_sid(to).map_or(-1, |s| s.0);
    tracing::info!(
        learner = to.0,
        "synchronising learner sid {sid} by {mode} up to zxid {zxid:#x}"
    );
}

/// A follower learned how its leader synchronises it (`Learner.syncWithLeader`).
pub(super) fn log_learner_sync(packet_type: Option<jute::codes::PacketType>, zxid: i64) {
    use jute::codes::PacketType;
    let how = match packet_type {
        Some(PacketType::Diff) => "a diff",
        Some(PacketType::Trunc) => "a truncation",
        Some(PacketType::Snap) => "a snapshot",
        _ => return,
    };
    tracing::info!("getting {how} from the leader up to zxid {zxid:#x}");
}

impl Runtime {
    /// Writes the membership into `/zookeeper/config` as a member does when it loads its database, counted as a
    /// write under `/zookeeper` (`write_per_namespace`, path and data bytes).
    pub(super) fn load_config_node(&mut self) {
        let text = super::peer::config_text(&self.config);
        let now = self.now();
        self.core.set_config(text.as_bytes(), now.wall_ms);
        let bytes = (CONFIG_NODE.len() + text.len()) as u64;
        self.metrics
            .observe_in_set(summary_set::WRITE_PER_NAMESPACE, "zookeeper", bytes);
    }

    /// Reports the leader's learner queues (`learner_handler_qp_size`, `learner_handler_qp_time_ms`, keyed by
    /// the learner's sid) as their writers sampled them.
    pub(super) fn collect_learner_queues(&mut self) {
        let Link::Leader(l) = &self.link else {
            return;
        };
        let samples: Vec<(String, QueueSamples)> = l
            .learners
            .iter()
            .filter_map(|(conn, (writer, _))| {
                let sid = l.leader.learner_sid(LearnerConn(*conn))?;
                Some((sid.0.to_string(), writer.take_samples()))
            })
            .collect();
        for (sid, s) in samples {
            for v in s.sizes {
                self.metrics
                    .observe_in_set(summary_set::LEARNER_HANDLER_QP_SIZE, &sid, v);
            }
            for v in s.waits_ms {
                self.metrics
                    .observe_in_set(summary_set::LEARNER_HANDLER_QP_TIME_MS, &sid, v);
            }
        }
    }

    /// The ensemble as this member sees it, or None for a standalone server.
    pub(super) fn quorum_view(&self) -> Option<QuorumView> {
        let quorum = self.config.quorum.as_ref()?;
        let (ops, zab_state, role) = match &self.link {
            // A read-only server is no quorum server: ZooKeeper's shows no peer state and no quorum figures.
            Link::Standalone | Link::ReadOnly => return None,
            Link::Follower(f) => {
                let zab = if f.serving {
                    ZabState::Broadcast
                } else {
                    ZabState::Synchronization
                };
                let role = if f.observer {
                    RoleView::Observing
                } else {
                    RoleView::Following
                };
                (&f.ops, zab, role)
            }
            Link::Leader(l) => {
                let observers = l
                    .leader
                    .synced_observers()
                    .into_iter()
                    .filter_map(|(conn, sid)| {
                        let s = l.stats.get(&conn.0)?;
                        let (queued_packets, queued_bytes) =
                            l.learners.get(&conn.0).map_or((0, 0), |(w, _)| w.queued());
                        Some(LearnerInfoView {
                            remote: format!("/{}", address(&s.peer)),
                            sid: sid.0,
                            established_ms: s.established_ms,
                            queued_packets,
                            queued_bytes,
                            packets_received: s.packets_received,
                            packets_sent: s.packets_sent,
                            requests: s.requests,
                            last_zxid: s.last_zxid,
                        })
                    })
                    .collect();
                let facts = LeaderFacts {
                    observers,
                    learners: l.learners.len() as u64,
                    synced_followers: l.leader.synced_followers().len() as u64,
                    pending_syncs: l.leader.pending_syncs() as u64,
                    uptime_ms: l.ops.established_at.map_or(0, |t| t.elapsed().as_millis() as u64),
                    proposal_sizes: l.ops.proposal_sizes,
                };
                let zab = ZabState::from_name(l.leader.zab_state());
                (&l.ops, zab, RoleView::Leading(facts))
            }
        };
        let me = quorum.me();
        Some(QuorumView {
            my_id: quorum.my_id,
            init_limit: quorum.init_limit,
            sync_limit: quorum.sync_limit,
            quorum_address: me.quorum,
            election_address: me.election,
            client_address: self.config.client_address,
            membership: super::peer::config_text(&self.config),
            voters: voters(&self.config, quorum.my_id),
            leader_id: ops.leader_id,
            leader_host: ops.leader_address.ip().to_string(),
            zab_state,
            role,
        })
    }
}

/// The voting members of zoo.cfg as `voting_view` lists them.
fn voters(config: &ServerConfig, my_id: u64) -> Vec<VoterView> {
    config
        .ensemble
        .servers
        .iter()
        .filter(|s| s.role == crate::config::ensemble::Role::Participant)
        .filter_map(|s| {
            let a = s.addresses.first()?;
            let client = match &s.client {
                Some((host, port)) => host_port(host, *port),
                // A member's own client address comes from clientPort when its server line has none.
                None if s.id == my_id => address(&config.client_address),
                None => String::new(),
            };
            Some(VoterView {
                id: s.id,
                quorum: host_port(&a.host, a.quorum_port),
                election: host_port(&a.host, a.election_port),
                client,
            })
        })
        .collect()
}
