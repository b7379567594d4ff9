//! How the leader brings one learner up to date: the choice between DIFF, TRUNC, TRUNC followed by proposals,
//! and SNAP that `LearnerHandler.syncFollower` and `queueCommittedProposals` make in ZooKeeper 3.9, as a pure
//! function of the leader's in-memory committed log, its last processed zxid and the learner's last zxid.
//!
//! ZooKeeper can also read older txns from the on-disk log when the learner is behind the in-memory log
//! (`txnLogSyncEnabled`, `zookeeper.snapshotSizeFactor`); this core only has the in-memory log, so such a
//! learner gets SNAP, as ZooKeeper answers with `zookeeper.snapshotSizeFactor` at or below 0.

use std::collections::VecDeque;

use jute::quorum::Payload;
use jute::txn_entry::TxnEntry;

use crate::types::Zxid;

/// What the leader sends a learner before NEWLEADER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SyncPlan {
    /// DIFF or TRUNC, possibly followed by PROPOSAL and COMMIT pairs; the learner then has everything up to
    /// `up_to` (ZooKeeper's `currentZxid`, from where forwarding starts).
    Packets {
        packets: Vec<(i64, Payload)>,
        up_to: Zxid,
    },
    /// SNAP: the whole database, as of the leader's last processed zxid.
    Snap,
}

/// `syncFollower`: `log` is the committed log (oldest first), `last_processed` the zxid of the database.
pub(crate) fn plan_sync(log: &VecDeque<TxnEntry>, last_processed: Zxid, peer_last: Zxid) -> SyncPlan {
    // A learner whose last zxid opens an epoch (counter 0) has no txn with that zxid: it is never truncated
    // and gets a DIFF whenever the history reaches back far enough.
    let peer_new_epoch = peer_last.counter() == 0;
    let (min, max) = match (log.front(), log.back()) {
        (Some(first), Some(last)) => (Zxid(first.header.zxid), Zxid(last.header.zxid)),
        // An empty log stands for the database alone.
        _ => (last_processed, last_processed),
    };
    if last_processed == peer_last {
        // Already in sync: an empty DIFF.
        return SyncPlan::Packets {
            packets: vec![(peer_last.0, Payload::Diff)],
            up_to: peer_last,
        };
    }
    if peer_last > max && !peer_new_epoch {
        // The learner has txns the leader never committed (it may have led before): cut them off.
        return SyncPlan::Packets {
            packets: vec![(max.0, Payload::Trunc)],
            up_to: max,
        };
    }
    if min <= peer_last && peer_last <= max {
        if let Some((packets, up_to)) = queue_committed(log, peer_last, max) {
            return SyncPlan::Packets { packets, up_to };
        }
    }
    // Older than the log, or a TRUNC that would cross an epoch: a snapshot.
    SyncPlan::Snap
}

/// `queueCommittedProposals` over the whole log: the op packet (DIFF, or TRUNC to the txn before the first
/// one the learner lacks), then each committed txn after the learner's last zxid as PROPOSAL and COMMIT.
/// `None` when no op packet could be chosen (ZooKeeper falls back to SNAP).
fn queue_committed(
    log: &VecDeque<TxnEntry>,
    peer_last: Zxid,
    last_committed: Zxid,
) -> Option<(Vec<(i64, Payload)>, Zxid)> {
    let peer_new_epoch = peer_last.counter() == 0;
    let mut packets = Vec::new();
    let mut need_op = true;
    let mut queued = peer_last;
    let mut previous = Zxid(-1);
    for txn in log {
        let zxid = Zxid(txn.header.zxid);
        if zxid < peer_last {
            previous = zxid;
            continue;
        }
        if need_op {
            if zxid == peer_last {
                packets.push((last_committed.0, Payload::Diff));
                need_op = false;
                continue;
            }
            if peer_new_epoch {
                packets.push((last_committed.0, Payload::Diff));
                need_op = false;
            } else if zxid > peer_last {
                // A TRUNC may not cross an epoch boundary: the learner could not apply it.
                if zxid.epoch() != peer_last.epoch() {
                    return None;
                }
                packets.push((previous.0, Payload::Trunc));
                need_op = false;
            }
        }
        if zxid <= queued {
            continue;
        }
        packets.push((zxid.0, Payload::Proposal(txn.clone())));
        packets.push((zxid.0, Payload::Commit));
        queued = zxid;
    }
    if need_op && peer_new_epoch {
        packets.push((last_committed.0, Payload::Diff));
        need_op = false;
    }
    (!need_op).then_some((packets, queued))
}
