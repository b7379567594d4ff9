//! Who votes and how many make a quorum: ZooKeeper's two verifiers, `QuorumMaj` (more than half of the voters)
//! and, when the configuration has `group.`/`weight.` lines, `QuorumHierarchical` (more than half of the
//! groups, each by more than half of its weight). Observers are members that never vote.

use std::collections::{BTreeMap, BTreeSet};

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
pub struct QuorumVerifier {
    voters: BTreeSet<ServerId>,
    observers: BTreeSet<ServerId>,
    version: i64,
    hierarchy: Option<Hierarchy>,
}

/// `QuorumHierarchical`: each voter's group and weight.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hierarchy {
    group_of: BTreeMap<ServerId, i64>,
    weight: BTreeMap<ServerId, u64>,
    group_weight: BTreeMap<i64, u64>,
    /// Groups whose weight is not zero: the others never count.
    groups: usize,
}

/// Why a membership cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuorumError {
    #[error("server {0} is listed both as a participant and as an observer")]
    BothRoles(i64),
    #[error("a configuration needs at least one participant")]
    NoVoters,
    #[error("server {0} is in multiple groups")]
    InTwoGroups(i64),
    #[error("server {0} is not in a group")]
    NotInAGroup(i64),
}

impl QuorumVerifier {
    pub fn new(
        voters: impl IntoIterator<Item = ServerId>,
        observers: impl IntoIterator<Item = ServerId>,
        version: i64,
    ) -> Result<QuorumVerifier, QuorumError> {
        let voters: BTreeSet<ServerId> = voters.into_iter().collect();
        let observers: BTreeSet<ServerId> = observers.into_iter().collect();
        if let Some(both) = voters.intersection(&observers).next() {
            return Err(QuorumError::BothRoles(both.0));
        }
        if voters.is_empty() {
            return Err(QuorumError::NoVoters);
        }
        Ok(QuorumVerifier {
            voters,
            observers,
            version,
            hierarchy: None,
        })
    }

    /// `QuorumHierarchical`: `groups` (`group.N=a:b:c`) and `weights` (`weight.N=w`; 1 for a voter without
    /// one). Every voter must be in exactly one group.
    pub fn hierarchical(
        voters: impl IntoIterator<Item = ServerId>,
        observers: impl IntoIterator<Item = ServerId>,
        version: i64,
        groups: &[(i64, Vec<ServerId>)],
        weights: &[(ServerId, u64)],
    ) -> Result<QuorumVerifier, QuorumError> {
        let mut q = QuorumVerifier::new(voters, observers, version)?;
        let mut group_of = BTreeMap::new();
        for (gid, members) in groups {
            for &sid in members {
                if group_of.insert(sid, *gid).is_some() {
                    return Err(QuorumError::InTwoGroups(sid.0));
                }
            }
        }
        let mut weight: BTreeMap<ServerId, u64> = weights.iter().copied().collect();
        for &sid in &q.voters {
            if !group_of.contains_key(&sid) {
                return Err(QuorumError::NotInAGroup(sid.0));
            }
            weight.entry(sid).or_insert(1);
        }
        let mut group_weight: BTreeMap<i64, u64> = groups.iter().map(|(g, _)| (*g, 0)).collect();
        for (sid, gid) in &group_of {
            *group_weight.entry(*gid).or_default() += weight.get(sid).copied().unwrap_or(0);
        }
        let groups = group_weight.values().filter(|w| **w > 0).count();
        q.hierarchy = Some(Hierarchy {
            group_of,
            weight,
            group_weight,
            groups,
        });
        Ok(q)
    }

    /// `getWeight`: 1 for every member under a majority, its `weight.N` under groups (0 for one without).
    pub fn weight(&self, sid: ServerId) -> u64 {
        match &self.hierarchy {
            None => 1,
            Some(h) => h.weight.get(&sid).copied().unwrap_or(0),
        }
    }

    /// The `group.N` and `weight.N` lines `QuorumHierarchical.toString` adds after the server lines, in order
    /// of id; none under a majority.
    pub fn hierarchy_lines(&self) -> Vec<String> {
        let Some(h) = &self.hierarchy else {
            return Vec::new();
        };
        let mut members: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (sid, gid) in &h.group_of {
            members.entry(*gid).or_default().push(sid.0.to_string());
        }
        let mut lines: Vec<String> = members
            .iter()
            .map(|(gid, ids)| format!("group.{gid}={}", ids.join(":")))
            .collect();
        lines.extend(h.weight.iter().map(|(sid, w)| format!("weight.{}={w}", sid.0)));
        lines
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

    /// `containsQuorum` over `SyncedLearnerTracker.addAck`: only voters count. Under a majority, more than half
    /// of them make a quorum; under groups, more than half of the groups of non-zero weight, each by more than
    /// half of its weight.
    pub fn contains_quorum<'a>(&self, acks: impl IntoIterator<Item = &'a ServerId>) -> bool {
        let acks: BTreeSet<ServerId> = acks
            .into_iter()
            .filter(|sid| self.voters.contains(sid))
            .copied()
            .collect();
        let Some(h) = &self.hierarchy else {
            return acks.len() > self.voters.len() / 2;
        };
        if acks.is_empty() {
            return false;
        }
        let mut per_group: BTreeMap<i64, u64> = BTreeMap::new();
        for sid in &acks {
            if let Some(gid) = h.group_of.get(sid) {
                *per_group.entry(*gid).or_default() += h.weight.get(sid).copied().unwrap_or(0);
            }
        }
        let majorities = per_group
            .iter()
            .filter(|(gid, w)| **w > h.group_weight.get(gid).copied().unwrap_or(0) / 2)
            .count();
        majorities > h.groups / 2
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
        let q = QuorumVerifier::new(ids(&[1, 2, 3, 4]), ids(&[5, 6, 7]), 0).expect("valid");
        assert!(!q.contains_quorum(&ids(&[1, 2])));
        assert!(!q.contains_quorum(&ids(&[1, 2, 5, 6, 7])));
        assert!(q.contains_quorum(&ids(&[1, 2, 3])));
        let three = QuorumVerifier::new(ids(&[1, 2, 3]), [], 0).expect("valid");
        assert!(three.contains_quorum(&ids(&[2, 3])));
        assert!(!three.contains_quorum(&ids(&[3, 9])));
    }

    /// Three groups of three with one member of weight 0: a quorum is two groups, each by more than half of
    /// its weight; the weight-0 member adds nothing.
    #[test]
    fn groups_need_a_majority_of_groups_each_by_a_majority_of_weight() {
        let groups = [(1, ids(&[1, 2, 3])), (2, ids(&[4, 5, 6])), (3, ids(&[7, 8, 9]))];
        let weights = [(ServerId(3), 0), (ServerId(4), 2)];
        let q = QuorumVerifier::hierarchical(ids(&[1, 2, 3, 4, 5, 6, 7, 8, 9]), [], 0, &groups, &weights)
            .expect("valid");
        assert_eq!(q.weight(ServerId(3)), 0);
        assert_eq!(q.weight(ServerId(1)), 1);
        // Group 1 (weights 1,1,0): 1 and 2 are needed; 1 and 3 are not enough.
        assert!(q.contains_quorum(&ids(&[1, 2, 7, 8])));
        assert!(!q.contains_quorum(&ids(&[1, 3, 7, 8])));
        // Group 2 (weights 2,1,1): 4 alone is half, not more.
        assert!(!q.contains_quorum(&ids(&[4, 7, 8])));
        assert!(q.contains_quorum(&ids(&[4, 5, 7, 8])));
        // One group, however complete, is not a majority of groups.
        assert!(!q.contains_quorum(&ids(&[1, 2, 3])));
        assert_eq!(
            q.hierarchy_lines(),
            [
                "group.1=1:2:3",
                "group.2=4:5:6",
                "group.3=7:8:9",
                "weight.1=1",
                "weight.2=1",
                "weight.3=0",
                "weight.4=2",
                "weight.5=1",
                "weight.6=1",
                "weight.7=1",
                "weight.8=1",
                "weight.9=1",
            ]
        );
        // A zero-weight group does not count among the groups.
        let q = QuorumVerifier::hierarchical(
            ids(&[1, 2, 3]),
            [],
            0,
            &[(1, ids(&[1, 2])), (2, ids(&[3]))],
            &[(ServerId(3), 0)],
        )
        .expect("valid");
        assert!(q.contains_quorum(&ids(&[1, 2])));
        assert!(!q.contains_quorum(&ids(&[1, 3])));
    }

    #[test]
    fn a_voter_outside_every_group_or_in_two_is_refused() {
        let err = QuorumVerifier::hierarchical(ids(&[1, 2]), [], 0, &[(1, ids(&[1]))], &[]);
        assert_eq!(err, Err(QuorumError::NotInAGroup(2)));
        let err =
            QuorumVerifier::hierarchical(ids(&[1, 2]), [], 0, &[(1, ids(&[1, 2])), (2, ids(&[2]))], &[]);
        assert_eq!(err, Err(QuorumError::InTwoGroups(2)));
    }

    #[test]
    fn a_member_in_both_roles_or_no_voters_is_refused() {
        assert_eq!(
            QuorumVerifier::new(ids(&[1, 2]), ids(&[2]), 0),
            Err(QuorumError::BothRoles(2))
        );
        assert_eq!(QuorumVerifier::new([], ids(&[2]), 0), Err(QuorumError::NoVoters));
    }
}
