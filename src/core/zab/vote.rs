//! A vote and how votes compare: `Vote` (its equality is not plain field equality) and
//! `FastLeaderElection.totalOrderPredicate`.

use jute::election::ServerState;

use crate::types::{ServerId, Zxid};

/// A candidate as FastLeaderElection orders candidates: its epoch, then its last zxid, then its sid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub leader: ServerId,
    pub zxid: Zxid,
    pub peer_epoch: i64,
}

impl Candidate {
    /// What a member that does not vote proposes (`Long.MIN_VALUE` three times): it loses to every voter.
    pub const NONE: Candidate = Candidate {
        leader: ServerId(i64::MIN),
        zxid: Zxid(i64::MIN),
        peer_epoch: i64::MIN,
    };

    /// `totalOrderPredicate(new = self, cur = other)`: a higher epoch wins, then a higher zxid, then a higher
    /// sid. (The method's weight test is the election's: it knows the quorum.)
    pub fn beats(&self, other: &Candidate) -> bool {
        (self.peer_epoch, self.zxid.0, self.leader.0) > (other.peer_epoch, other.zxid.0, other.leader.0)
    }
}

/// `Vote`: a candidate, the election round it was cast in, the state of the member that cast it and the
/// notification format version it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vote {
    pub candidate: Candidate,
    pub election_epoch: i64,
    pub state: ServerState,
    pub version: i32,
}

impl Vote {
    pub fn looking(candidate: Candidate, election_epoch: i64) -> Vote {
        Vote {
            candidate,
            election_epoch,
            state: ServerState::Looking,
            version: 0,
        }
    }

    /// `Vote.equals`: when either side is LOOKING, leader, zxid, election epoch and peer epoch must match. Between
    /// two votes of members that are FOLLOWING or LEADING (ZOOKEEPER-1732: their zxid and round go stale after
    /// the election), the leader must match, and the peer epoch too unless exactly one of them came in a
    /// message without a format version.
    pub fn same_as(&self, other: &Vote) -> bool {
        let (a, b) = (&self.candidate, &other.candidate);
        if self.state == ServerState::Looking || other.state == ServerState::Looking {
            a == b && self.election_epoch == other.election_epoch
        } else if (self.version > 0) != (other.version > 0) {
            a.leader == b.leader
        } else {
            a.leader == b.leader && a.peer_epoch == b.peer_epoch
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(leader: i64, zxid: i64, peer_epoch: i64) -> Candidate {
        Candidate {
            leader: ServerId(leader),
            zxid: Zxid(zxid),
            peer_epoch,
        }
    }

    #[test]
    fn higher_epoch_wins_before_zxid_and_zxid_before_sid() {
        assert!(c(1, 0, 2).beats(&c(3, 100, 1)));
        assert!(c(1, 101, 1).beats(&c(3, 100, 1)));
        assert!(c(3, 100, 1).beats(&c(2, 100, 1)));
        assert!(!c(3, 100, 1).beats(&c(3, 100, 1)));
        assert!(c(1, 0, 0).beats(&Candidate::NONE));
        assert!(!Candidate::NONE.beats(&c(1, 0, 0)));
    }

    #[test]
    fn out_of_election_votes_match_on_leader_and_peer_epoch_only() {
        let following = |zxid, round, version| Vote {
            candidate: c(2, zxid, 5),
            election_epoch: round,
            state: ServerState::Following,
            version,
        };
        assert!(following(7, 1, 2).same_as(&following(9, 3, 2)));
        let mut other_epoch = following(7, 1, 2);
        other_epoch.candidate.peer_epoch = 4;
        assert!(!following(7, 1, 2).same_as(&other_epoch));
        other_epoch.version = 0;
        assert!(following(7, 1, 2).same_as(&other_epoch));
        let looking = Vote::looking(c(2, 7, 5), 1);
        assert!(!looking.same_as(&following(7, 3, 2)));
        assert!(looking.same_as(&following(7, 1, 2)));
    }
}
