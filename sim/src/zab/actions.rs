//! Carrying out what the cores ask for: packets onto the simulated connections, writes onto the disks,
//! commits into the databases, with the checks made at each commit and at establishment.

use std::collections::VecDeque;

use ferrokeeper::core::zab::{leader, learner};
use ferrokeeper::types::Zxid;
use jute::quorum::Payload;

use super::{zxids, Wire, World};
use crate::network::Member;

impl World {
    pub(super) fn leader_actions(&mut self, actions: Vec<leader::Action>) -> Result<(), String> {
        use leader::Action as A;
        let mut queue: VecDeque<A> = actions.into();
        while let Some(action) = queue.pop_front() {
            let Some((me, _)) = self.leader.as_ref() else {
                return Ok(());
            };
            let me = *me;
            let durable = match action {
                A::Send { to, zxid, payload } => {
                    let last = self
                        .conns
                        .get(&to.0)
                        .and_then(|c| c.to_learner.back().map(|(t, _)| *t));
                    let at = self.arrival(last);
                    if let Some(conn) = self.conns.get_mut(&to.0) {
                        conn.to_learner.push_back((at, Wire::Packet(zxid, payload)));
                    }
                    None
                }
                A::SendSnapshot { to } => {
                    let db = self.nodes[&me].db.clone();
                    if let Some(conn) = self.conns.get_mut(&to.0) {
                        let at = conn.to_learner.back().map_or(self.now + 1, |(t, _)| *t);
                        conn.to_learner.push_back((at, Wire::Snapshot(db)));
                    }
                    None
                }
                A::WriteAcceptedEpoch(e) => {
                    self.nodes.get_mut(&me).expect("node").disk.accepted_epoch = e;
                    Some(leader::Durable::AcceptedEpoch)
                }
                A::WriteCurrentEpoch(e) => {
                    self.nodes.get_mut(&me).expect("node").disk.current_epoch = e;
                    Some(leader::Durable::CurrentEpoch)
                }
                A::Log(t) => {
                    self.nodes.get_mut(&me).expect("node").disk.pending.push(t);
                    None
                }
                A::Commit(zxid) => {
                    self.leader_commit(me, zxid)?;
                    None
                }
                A::Established { epoch } => {
                    self.established(me, epoch)?;
                    None
                }
                A::Drop { conn, reason } => {
                    self.break_conn(conn.0, &format!("leader drops it: {reason}"));
                    None
                }
                A::ReadLog { to, from, up_to } => {
                    // The leader's durable log, as a reader of its log files sees it: it serves only if it
                    // reaches back to `from` (`getProposalsFromTxnLog`).
                    let log = &self.nodes[&me].disk.durable;
                    let tail = log
                        .first()
                        .filter(|t| t.header.zxid <= from.0)
                        .map(|_| leader::LogTail {
                            before: log
                                .iter()
                                .map(|t| Zxid(t.header.zxid))
                                .filter(|z| *z < from)
                                .last(),
                            start_logged: log.iter().any(|t| t.header.zxid == from.0),
                            txns: log
                                .iter()
                                .filter(|t| t.header.zxid > from.0 && t.header.zxid <= up_to.0)
                                .cloned()
                                .collect(),
                        });
                    let (_, core) = self.leader.as_mut().expect("leader");
                    queue.extend(core.log_read(to, tail));
                    None
                }
                A::Forwarded { .. } | A::Touch(_) | A::Revalidate { .. } => None,
            };
            if let Some(what) = durable {
                let (_, core) = self.leader.as_mut().expect("leader");
                queue.extend(core.persisted(what).map_err(|e| e.to_string())?);
            }
        }
        Ok(())
    }

    pub(super) fn leader_commit(&mut self, me: Member, zxid: Zxid) -> Result<(), String> {
        if self.committed.last().is_some_and(|last| *last >= zxid.0) {
            return Err(format!(
                "leader {me} commits {zxid} after {:x?}",
                self.committed.last()
            ));
        }
        let node = self.nodes.get_mut(&me).expect("node");
        let t = node
            .disk
            .find(zxid)
            .ok_or(format!("leader {me} commits {zxid} it never logged"))?;
        node.db.push(t.clone());
        self.committed.push(zxid.0);
        self.report.commits += 1;
        Ok(())
    }

    /// Nothing committed before is lost: the new leader's database extends the committed sequence, and
    /// everything in it is committed from now on.
    pub(super) fn established(&mut self, me: Member, epoch: i64) -> Result<(), String> {
        let db = zxids(&self.nodes[&me].db);
        if !db.starts_with(&self.committed) {
            return Err(format!(
                "leader {me} of epoch {epoch} lacks committed txns: has {db:x?}, committed {:x?}",
                self.committed
            ));
        }
        self.log(format!("{me} established epoch {epoch} with {} txns", db.len()));
        self.committed = db;
        Ok(())
    }

    pub(super) fn learner_actions(&mut self, m: Member, actions: Vec<learner::Action>) -> Result<(), String> {
        use learner::Action as A;
        let mut queue: VecDeque<A> = actions.into();
        while let Some(action) = queue.pop_front() {
            let Some(id) = self.nodes[&m].learner.as_ref().map(|(_, c)| *c) else {
                return Ok(());
            };
            let node = self.nodes.get_mut(&m).expect("node");
            let durable = match action {
                A::Send { zxid, payload } => {
                    let last = self
                        .conns
                        .get(&id)
                        .and_then(|c| c.to_leader.back().map(|(t, _, _)| *t));
                    let at = self.arrival(last);
                    if let Some(conn) = self.conns.get_mut(&id) {
                        conn.to_leader.push_back((at, zxid, payload));
                    }
                    None
                }
                A::WriteAcceptedEpoch(e) => {
                    node.disk.accepted_epoch = e;
                    Some(learner::Durable::AcceptedEpoch)
                }
                A::WriteCurrentEpoch(e) => {
                    node.disk.current_epoch = e;
                    Some(learner::Durable::CurrentEpoch)
                }
                A::TruncateLog(z) => {
                    node.disk.durable.retain(|t| t.header.zxid <= z.0);
                    node.disk.pending.retain(|t| t.header.zxid <= z.0);
                    node.db.retain(|t| t.header.zxid <= z.0);
                    None
                }
                A::InstallSnapshot(z) => {
                    let Some((_, Wire::Snapshot(db))) =
                        self.conns.get_mut(&id).and_then(|c| c.to_learner.pop_front())
                    else {
                        return Err(format!("#{id}: no database after SNAP {z}"));
                    };
                    self.nodes.get_mut(&m).expect("node").db = db;
                    None
                }
                A::Apply(t) => {
                    node.db.push(t);
                    None
                }
                A::Log(t) => {
                    node.disk.pending.push(t);
                    None
                }
                A::Commit(z) => {
                    let t = node
                        .disk
                        .find(z)
                        .ok_or(format!("{m} commits {z} it never logged"))?
                        .clone();
                    node.db.push(t);
                    self.check_learner(m)?;
                    None
                }
                A::SyncLog(z) => {
                    node.disk.flush();
                    Some(learner::Durable::LogUpTo(z))
                }
                A::TakeSnapshot { .. } => {
                    node.disk.durable = node.db.clone();
                    node.disk.pending.clear();
                    Some(learner::Durable::Snapshot)
                }
                A::AnswerPing(zxid) => {
                    queue.push_front(A::Send {
                        zxid,
                        payload: Payload::LearnerPing(vec![]),
                    });
                    None
                }
                A::StartServing => {
                    self.check_learner(m)?;
                    None
                }
                A::Deliver { .. } => None,
            };
            if let Some(what) = durable {
                let node = self.nodes.get_mut(&m).expect("node");
                let Some((core, _)) = node.learner.as_mut() else {
                    return Ok(());
                };
                match core.persisted(what) {
                    Ok(more) => queue.extend(more),
                    Err(e) => return Err(format!("learner {m}: {e}")),
                }
            }
        }
        Ok(())
    }

    /// A serving learner has applied a prefix of the committed sequence.
    pub(super) fn check_learner(&self, m: Member) -> Result<(), String> {
        let node = &self.nodes[&m];
        if !node.learner.as_ref().is_some_and(|(core, _)| core.is_serving()) {
            return Ok(());
        }
        let db = zxids(&node.db);
        if !self.committed.starts_with(&db) {
            return Err(format!(
                "learner {m} applied {db:x?}, not a prefix of the committed {:x?}",
                self.committed
            ));
        }
        Ok(())
    }
}
