//! How the leader brings one learner up to date: the choice between DIFF, TRUNC, TRUNC followed by proposals,
//! and SNAP that `LearnerHandler.syncFollower` and `queueCommittedProposals` make in ZooKeeper 3.9, as a pure
//! function of the leader's in-memory committed log, its last processed zxid and the learner's last zxid.
//!
//! A learner behind the oldest txn of the in-memory log may still be brought up to date by DIFF from the
//! leader's on-disk txn log (`txnLogSyncEnabled`, `ZKDatabase.getProposalsFromTxnLog`): the plan says
//! [`SyncPlan::FromLog`], the caller reads the log ([`LogTail`]) and [`plan_sync_from_log`] decides with it,
//! as `syncFollower` does with the log iterator and then the committed log.

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
    /// The learner is behind the in-memory log: its txns up to `up_to` (the oldest of the in-memory log) must
    /// come from the on-disk log, if it holds them ([`plan_sync_from_log`]); otherwise SNAP.
    FromLog { up_to: Zxid },
}

/// The leader's on-disk log from a learner's last zxid on, as `getProposalsFromTxnLog` reads it for a DIFF.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogTail {
    /// The last logged zxid before the learner's (what a TRUNC would cut back to), if the log has one.
    pub before: Option<Zxid>,
    /// The learner's last zxid is in the log.
    pub start_logged: bool,
    /// The logged txns after the learner's last zxid up to the zxid asked for, in order.
    pub txns: Vec<TxnEntry>,
}

/// The first and last zxid of the committed log; an empty log stands for the database alone.
fn bounds(log: &VecDeque<TxnEntry>, last_processed: Zxid) -> (Zxid, Zxid) {
    match (log.front(), log.back()) {
        (Some(first), Some(last)) => (Zxid(first.header.zxid), Zxid(last.header.zxid)),
        _ => (last_processed, last_processed),
    }
}

/// `syncFollower`: `log` is the committed log (oldest first), `last_processed` the zxid of the database.
pub(crate) fn plan_sync(log: &VecDeque<TxnEntry>, last_processed: Zxid, peer_last: Zxid) -> SyncPlan {
    // A learner whose last zxid opens an epoch (counter 0) has no txn with that zxid: it is never truncated
    // and gets a DIFF whenever the history reaches back far enough.
    let peer_new_epoch = peer_last.counter() == 0;
    let (min, max) = bounds(log, last_processed);
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
        let mut q = Queue::new(peer_last, max);
        q.feed(log, peer_last, None, Zxid(-1));
        // A TRUNC that would cross an epoch: a snapshot.
        return q.finish();
    }
    SyncPlan::FromLog { up_to: min }
}

/// The rest of `syncFollower` for a learner behind the in-memory log, with what the on-disk log holds from
/// its last zxid up to the oldest txn of the in-memory log (`None`: the log could not serve, SNAP): the
/// learner gets DIFF or TRUNC, the logged txns, then those of the in-memory log after them; a log that ends
/// before the in-memory log begins leaves a gap, and a SNAP.
pub(crate) fn plan_sync_from_log(
    tail: Option<&LogTail>,
    log: &VecDeque<TxnEntry>,
    last_processed: Zxid,
    peer_last: Zxid,
) -> SyncPlan {
    let Some(tail) = tail else {
        return SyncPlan::Snap;
    };
    let (min, max) = bounds(log, last_processed);
    let mut q = Queue::new(peer_last, max);
    if tail.start_logged {
        // The learner's zxid is in the leader's history: DIFF.
        q.packets.push((max.0, Payload::Diff));
        q.need_op = false;
    }
    q.feed(&tail.txns, peer_last, Some(min), tail.before.unwrap_or(Zxid(-1)));
    if q.queued < min {
        // "Detected gap between end of txnlog and start of committedLog"
        return SyncPlan::Snap;
    }
    let from = q.queued;
    q.feed(log, from, None, Zxid(-1));
    q.finish()
}

/// `queueCommittedProposals`, over one or more runs of committed txns.
struct Queue {
    packets: Vec<(i64, Payload)>,
    /// `needOpPacket`: neither DIFF nor TRUNC chosen yet.
    need_op: bool,
    /// The last zxid queued (the learner's last zxid before any).
    queued: Zxid,
    /// The leader's last committed zxid, which DIFF carries.
    last_committed: Zxid,
}

impl Queue {
    fn new(peer_last: Zxid, last_committed: Zxid) -> Queue {
        Queue {
            packets: Vec::new(),
            need_op: true,
            queued: peer_last,
            last_committed,
        }
    }

    /// One `queueCommittedProposals` call: the op packet (DIFF, or TRUNC to the txn before the first one the
    /// learner lacks) if not chosen yet, then each txn after `peer_last` (up to `max`) as PROPOSAL and COMMIT.
    /// `previous` is the last zxid before the txns given.
    fn feed<'a>(
        &mut self,
        txns: impl IntoIterator<Item = &'a TxnEntry>,
        peer_last: Zxid,
        max: Option<Zxid>,
        mut previous: Zxid,
    ) {
        let peer_new_epoch = peer_last.counter() == 0;
        self.queued = self.queued.max(peer_last);
        for txn in txns {
            let zxid = Zxid(txn.header.zxid);
            if max.is_some_and(|m| zxid > m) {
                break;
            }
            if zxid < peer_last {
                previous = zxid;
                continue;
            }
            if self.need_op {
                if zxid == peer_last {
                    self.packets.push((self.last_committed.0, Payload::Diff));
                    self.need_op = false;
                    continue;
                }
                if peer_new_epoch {
                    self.packets.push((self.last_committed.0, Payload::Diff));
                    self.need_op = false;
                } else if zxid > peer_last {
                    // A TRUNC may not cross an epoch boundary: the learner could not apply it.
                    if zxid.epoch() != peer_last.epoch() {
                        return;
                    }
                    self.packets.push((previous.0, Payload::Trunc));
                    self.need_op = false;
                }
            }
            if zxid <= self.queued {
                continue;
            }
            self.packets.push((zxid.0, Payload::Proposal(txn.clone())));
            self.packets.push((zxid.0, Payload::Commit));
            self.queued = zxid;
        }
        if self.need_op && peer_new_epoch {
            self.packets.push((self.last_committed.0, Payload::Diff));
            self.need_op = false;
        }
    }

    /// The packets, or SNAP when no op packet could be chosen.
    fn finish(self) -> SyncPlan {
        if self.need_op {
            SyncPlan::Snap
        } else {
            SyncPlan::Packets {
                packets: self.packets,
                up_to: self.queued,
            }
        }
    }
}
