//! What an operator sees of the ensemble a member belongs to, in the words of ZooKeeper's quorum classes: the
//! `conf` lines of `QuorumZooKeeperServer.dumpConf`, `zk_peer_state` (`QuorumPeer.getDetailedPeerState`), the
//! gauges `QuorumZooKeeperServer`, `LeaderZooKeeperServer` and `FollowerZooKeeperServer` register, and the
//! leader's "Proposal sizes" line of `srvr` and `stat`. The server task fills a [`QuorumView`] from its link to
//! the ensemble; the four-letter words, the AdminServer and /metrics print it. A standalone server has none.

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::four_letter::ResponseSizes;
use crate::metrics::MonitorValue;

/// `QuorumPeer.ZabState` as `zabstate` and `zk_peer_state` print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ZabState {
    #[default]
    Discovery,
    Synchronization,
    Broadcast,
}

impl ZabState {
    pub fn name(self) -> &'static str {
        match self {
            ZabState::Discovery => "discovery",
            ZabState::Synchronization => "synchronization",
            ZabState::Broadcast => "broadcast",
        }
    }

    /// The name the leader core gives its phase (`Leader::zab_state`).
    pub fn from_name(name: &str) -> ZabState {
        match name {
            "broadcast" => ZabState::Broadcast,
            "synchronization" => ZabState::Synchronization,
            _ => ZabState::Discovery,
        }
    }
}

/// One voting member as `voting_view` lists it (`QuorumServerView`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoterView {
    pub id: u64,
    /// `host:port` of its quorum and election ports.
    pub quorum: String,
    pub election: String,
    /// `host:port` of its client port when its server line (or, for this member, clientPort) gives one; empty
    /// otherwise, as ZooKeeper prints a member whose client address it does not know.
    pub client: String,
}

/// One learner connection as the AdminServer's `observers` lists it (`LearnerHandler.getLearnerHandlerInfo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnerInfoView {
    /// `/host:port`, as Java prints the learner's socket address.
    pub remote: String,
    pub sid: i64,
    /// When it connected, in ms since the epoch.
    pub established_ms: i64,
    pub queued_packets: u64,
    pub queued_bytes: i64,
    pub packets_received: u64,
    pub packets_sent: u64,
    pub requests: u64,
    pub last_zxid: i64,
}

/// What the leader reports of its learners (`LeaderZooKeeperServer.registerMetrics`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaderFacts {
    /// The observers that receive INFORMs (`Leader.getObservingLearners`).
    pub observers: Vec<LearnerInfoView>,
    /// Connections on the quorum port (`Leader.getLearners`).
    pub learners: u64,
    /// Followers that receive proposals (`Leader.getForwardingFollowers`).
    pub synced_followers: u64,
    /// `Leader.getNumPendingSyncs`.
    pub pending_syncs: u64,
    /// Since a quorum acknowledged NEWLEADER (`Leader.getUptime`), 0 before.
    pub uptime_ms: u64,
    /// Sizes of the proposals' payloads (`Leader.getProposalStats`).
    pub proposal_sizes: ResponseSizes,
}

/// The member's role in the ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoleView {
    Leading(LeaderFacts),
    Following,
    Observing,
}

/// The ensemble as one member sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumView {
    pub my_id: u64,
    pub init_limit: u32,
    pub sync_limit: u32,
    pub quorum_address: SocketAddr,
    pub election_address: SocketAddr,
    pub client_address: SocketAddr,
    /// `QuorumVerifier.toString`: the `server.N=` lines and `version=`.
    pub membership: String,
    pub voters: Vec<VoterView>,
    /// The elected leader's id and the host of its quorum address.
    pub leader_id: u64,
    pub leader_host: String,
    pub zab_state: ZabState,
    pub role: RoleView,
}

/// `electionAlg`: only FastLeaderElection (3) exists since ZooKeeper 3.6.
const ELECTION_ALG: u32 = 3;

impl QuorumView {
    pub fn is_leader(&self) -> bool {
        matches!(self.role, RoleView::Leading(_))
    }

    pub fn leader_facts(&self) -> Option<&LeaderFacts> {
        match &self.role {
            RoleView::Leading(l) => Some(l),
            RoleView::Following | RoleView::Observing => None,
        }
    }

    /// `zk_peer_state`: `leading - broadcast`, `following - synchronization`, ... (the sync mode part that
    /// ZooKeeper adds while a follower installs what its leader sends is never seen here: the member serves no
    /// four-letter words until that is done).
    pub fn peer_state(&self) -> String {
        let role = match self.role {
            RoleView::Leading(_) => "leading",
            RoleView::Following => "following",
            RoleView::Observing => "observing",
        };
        format!("{role} - {}", self.zab_state.name())
    }

    /// The lines `QuorumZooKeeperServer.dumpConf` adds to `conf`; the membership ends without a newline.
    pub fn conf_lines(&self, out: &mut String) {
        let _ = writeln!(out, "initLimit={}", self.init_limit);
        let _ = writeln!(out, "syncLimit={}", self.sync_limit);
        let _ = writeln!(out, "electionAlg={ELECTION_ALG}");
        let _ = writeln!(out, "electionPort={}", self.election_address.port());
        let _ = writeln!(out, "quorumPort={}", self.quorum_address.port());
        // `LearnerType.ordinal()`: 0 for a participant, 1 for an observer.
        let peer_type = u8::from(self.role == RoleView::Observing);
        let _ = writeln!(out, "peerType={peer_type}");
        let _ = writeln!(out, "membership: ");
        out.push_str(&self.membership);
    }

    /// The leader's line after `Node count:` in `srvr` and `stat`.
    pub fn stat_lines(&self, out: &mut String) {
        if let Some(l) = self.leader_facts() {
            let p = l.proposal_sizes;
            let _ = writeln!(out, "Proposal sizes last/min/max: {}/{}/{}", p.last, p.min, p.max);
        }
    }

    /// The quorum gauges of `mntr` and /metrics: `quorum_size` on every member, the learner and proposal
    /// figures on the leader.
    pub fn gauges(&self) -> Vec<(&'static str, MonitorValue)> {
        let int = |v: u64| MonitorValue::Int(v as i64);
        let mut out = vec![("quorum_size", int(self.voters.len() as u64))];
        if let Some(l) = self.leader_facts() {
            out.extend([
                ("synced_observers", int(l.observers.len() as u64)),
                ("learners", int(l.learners)),
                ("synced_followers", int(l.synced_followers)),
                // Every follower votes: a non-voting follower exists only during a reconfiguration, which is
                // not served.
                ("synced_non_voting_followers", int(0)),
                ("pending_syncs", int(l.pending_syncs)),
                ("leader_uptime", int(l.uptime_ms)),
                ("last_proposal_size", MonitorValue::Int(l.proposal_sizes.last)),
                ("max_proposal_size", MonitorValue::Int(l.proposal_sizes.max)),
                ("min_proposal_size", MonitorValue::Int(l.proposal_sizes.min)),
            ]);
        }
        out
    }

    /// Gauges a follower registers with no value (`Follower.getSyncedObserverSize` is null without an
    /// observer master port): the default provider leaves them out of `mntr`, ZooKeeper's Prometheus provider
    /// reports them as 0.
    pub fn null_gauges(&self) -> Vec<(&'static str, MonitorValue)> {
        match self.role {
            RoleView::Leading(_) | RoleView::Observing => Vec::new(),
            RoleView::Following => vec![("synced_observers", MonitorValue::Int(0))],
        }
    }
}

/// `host:port` as `QuorumServer.delimitedHostString` writes it (IPv6 hosts in brackets).
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// [`host_port`] of a socket address.
pub fn address(addr: &SocketAddr) -> String {
    host_port(&addr.ip().to_string(), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(leading: bool) -> QuorumView {
        let addr = |p: u16| SocketAddr::from(([127, 0, 0, 1], p));
        QuorumView {
            my_id: 3,
            init_limit: 20,
            sync_limit: 10,
            quorum_address: addr(2883),
            election_address: addr(3883),
            client_address: addr(2183),
            membership: "server.3=127.0.0.1:2883:3883:participant\nversion=0".into(),
            voters: vec![VoterView {
                id: 3,
                quorum: "127.0.0.1:2883".into(),
                election: "127.0.0.1:3883".into(),
                client: "127.0.0.1:2183".into(),
            }],
            leader_id: 3,
            leader_host: "127.0.0.1".into(),
            zab_state: ZabState::Broadcast,
            role: if leading {
                RoleView::Leading(LeaderFacts::default())
            } else {
                RoleView::Following
            },
        }
    }

    #[test]
    fn conf_adds_the_quorum_settings_and_membership_as_zookeeper_does() {
        let mut out = String::new();
        view(true).conf_lines(&mut out);
        assert_eq!(
            out,
            "initLimit=20\nsyncLimit=10\nelectionAlg=3\nelectionPort=3883\nquorumPort=2883\npeerType=0\n\
             membership: \nserver.3=127.0.0.1:2883:3883:participant\nversion=0"
        );
    }

    #[test]
    fn peer_state_names_role_and_zab_state() {
        assert_eq!(view(true).peer_state(), "leading - broadcast");
        let mut v = view(false);
        v.zab_state = ZabState::Synchronization;
        assert_eq!(v.peer_state(), "following - synchronization");
    }

    #[test]
    fn only_the_leader_reports_learners_and_proposal_sizes() {
        let names = |v: &QuorumView| v.gauges().into_iter().map(|(k, _)| k).collect::<Vec<_>>();
        assert_eq!(names(&view(false)), ["quorum_size"]);
        let null = view(false)
            .null_gauges()
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>();
        assert_eq!(null, ["synced_observers"]);
        assert!(view(true).null_gauges().is_empty());
        let leader = names(&view(true));
        for key in [
            "learners",
            "synced_followers",
            "pending_syncs",
            "min_proposal_size",
        ] {
            assert!(leader.contains(&key), "{leader:?}");
        }
        let mut out = String::new();
        view(true).stat_lines(&mut out);
        assert_eq!(out, "Proposal sizes last/min/max: -1/-1/-1\n");
        out.clear();
        view(false).stat_lines(&mut out);
        assert_eq!(out, "");
    }
}
