//! Who votes and how many make a quorum: `QuorumMaj`, the majority verifier ZooKeeper uses unless the
//! configuration has `group.`/`weight.` lines. Observers are members that never vote.

use std::collections::BTreeSet;

use crate::types::ServerId;

/// Whether a member votes (`LearnerType.PARTICIPANT`) or only observes (`LearnerType.OBSERVER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnerType {
    Participant,
    Observer,
}

/// The members of one configuration, split into voters and observers, and its version (`version=` in the
/// configuration text, hexadecimal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumMaj {
    voters: BTreeSet<ServerId>,
    observers: BTreeSet<ServerId>,
    version: i64,
}

/// Why a membership cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    #[error("server {0} is listed both as a participant and as an observer")]
    BothRoles(i64),
    #[error("a configuration needs at least one participant")]
    NoVoters,
}

impl QuorumMaj {
    pub fn new(
        voters: impl IntoIterator<Item = ServerId>,
        observers: impl IntoIterator<Item = ServerId>,
        version: i64,
    ) -> Result<QuorumMaj, QuorumError> {
        let voters: BTreeSet<ServerId> = voters.into_iter().collect();
        let observers: BTreeSet<ServerId> = observers.into_iter().collect();
        if let Some(both) = voters.intersection(&observers).next() {
            return Err(QuorumError::BothRoles(both.0));
        }
        if voters.is_empty() {
            return Err(QuorumError::NoVoters);
        }
        Ok(QuorumMaj {
            voters,
            observers,
            version,
        })
    }

    pub fn voters(&self) -> &BTreeSet<ServerId> {
        &self.voters
    }

    pub fn observers(&self) -> &BTreeSet<ServerId> {
        &self.observers
    }

    pub fn version(&self) -> i64 {
        self.version
    }

    pub fn is_voter(&self, sid: ServerId) -> bool {
        self.voters.contains(&sid)
    }

    pub fn learner_type(&self, sid: ServerId) -> Option<LearnerType> {
        if self.voters.contains(&sid) {
            Some(LearnerType::Participant)
        } else if self.observers.contains(&sid) {
            Some(LearnerType::Observer)
        } else {
            None
        }
    }

    /// `containsQuorum` over `SyncedLearnerTracker.addAck`: only voters count, and more than half of them
    /// make a quorum.
    pub fn contains_quorum<'a>(&self, acks: impl IntoIterator<Item = &'a ServerId>) -> bool {
        let counted = acks.into_iter().filter(|sid| self.voters.contains(sid)).count();
        counted > self.voters.len() / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[i64]) -> Vec<ServerId> {
        v.iter().copied().map(ServerId).collect()
    }

    #[test]
    fn more_than_half_of_the_voters_is_a_quorum_and_observers_never_count() {
        let q = QuorumMaj::new(ids(&[1, 2, 3, 4]), ids(&[5, 6, 7]), 0).expect("valid");
        assert!(!q.contains_quorum(&ids(&[1, 2])));
        assert!(!q.contains_quorum(&ids(&[1, 2, 5, 6, 7])));
        assert!(q.contains_quorum(&ids(&[1, 2, 3])));
        let three = QuorumMaj::new(ids(&[1, 2, 3]), [], 0).expect("valid");
        assert!(three.contains_quorum(&ids(&[2, 3])));
        assert!(!three.contains_quorum(&ids(&[3, 9])));
    }

    #[test]
    fn a_member_in_both_roles_or_no_voters_is_refused() {
        assert_eq!(
            QuorumMaj::new(ids(&[1, 2]), ids(&[2]), 0),
            Err(QuorumError::BothRoles(2))
        );
        assert_eq!(QuorumMaj::new([], ids(&[2]), 0), Err(QuorumError::NoVoters));
    }
}
