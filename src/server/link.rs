//! The runtime's link to the rest of its ensemble: nothing for a standalone server; for a follower, the
//! connection to its leader and the learner core (`core::zab::learner`) that runs it once synchronised.
//!
//! A follower's txns come from the leader: each PROPOSAL is logged (through the same log thread as a
//! standalone server's txns), ACKed once durable, and applied by the core when the COMMIT comes
//! (`Core::apply_committed`); what its own clients write goes to the leader (`Effect::Forward`). The leader
//! pings; the answer carries the sessions this member's clients touched.

use std::collections::BTreeMap;
use std::io;

use jute::codes::PacketType;
use jute::quorum::{Payload, Sender};
use jute::records::quorum::QuorumPacket;
use jute::txn_entry::TxnEntry;

use super::runtime::Runtime;
use crate::core::tree::snapshot::snapshot_of;
use crate::core::zab::leader::{Action as LeaderAction, Durable as LeaderDurable, Leader, LearnerConn};
use crate::core::zab::learner::{Action, Durable, Learner};
use crate::quorum::link::{Outgoing, PacketWriter};
use crate::storage::epoch::{write_epoch, ACCEPTED_EPOCH, CURRENT_EPOCH};
use crate::storage::fs::Fs;
use crate::storage::recovery::DataDirs;
use crate::storage::snapfile::write_snapshot;
use crate::types::Zxid;

/// What happened on a quorum connection (numbered by the member: the leader numbers its learners, a
/// follower's one connection is 0), for the server task.
#[derive(Debug)]
pub(crate) enum QuorumEvent {
    /// A learner connected to the leader's quorum port.
    Accepted {
        conn: u64,
        /// The learner's address.
        peer: std::net::SocketAddr,
        writer: PacketWriter,
        reader: tokio::task::AbortHandle,
    },
    Packet {
        conn: u64,
        packet: QuorumPacket,
    },
    /// The connection ended, and why.
    Closed {
        conn: u64,
        why: String,
    },
}

/// How the runtime reaches its ensemble.
pub(crate) enum Link {
    Standalone,
    Follower(Box<FollowerLink>),
    Leader(Box<LeaderLink>),
    /// A member cut off from its quorum, serving reads while it looks for a leader (`server::read_only`).
    ReadOnly,
}

/// A leader's learners and its ZAB core.
pub(crate) struct LeaderLink {
    pub(crate) leader: Leader,
    /// Each learner's writer and the task reading its packets.
    pub(crate) learners: BTreeMap<u64, (PacketWriter, tokio::task::AbortHandle)>,
    /// What each learner's connection carried, for the operator (`LearnerHandler.getLearnerHandlerInfo`).
    pub(crate) stats: BTreeMap<u64, LearnerStats>,
    pub(crate) fs: std::sync::Arc<dyn Fs>,
    pub(crate) dirs: DataDirs,
    pub(crate) established: bool,
    pub(crate) max_len: usize,
    pub(crate) ops: super::quorum_ops::RoleOps,
}

/// The figures the AdminServer's `observers` command lists for one learner connection.
#[derive(Debug, Clone)]
pub(crate) struct LearnerStats {
    pub(crate) peer: std::net::SocketAddr,
    /// When it connected, in ms since the epoch.
    pub(crate) established_ms: i64,
    pub(crate) packets_received: u64,
    pub(crate) packets_sent: u64,
    /// REQUEST packets: its clients' writes, syncs and new sessions.
    pub(crate) requests: u64,
    /// The zxid of the last packet sent with one, -1 before.
    pub(crate) last_zxid: i64,
}

/// A follower's side of its connection to the leader.
pub(crate) struct FollowerLink {
    pub(crate) learner: Learner,
    pub(crate) writer: PacketWriter,
    pub(crate) fs: std::sync::Arc<dyn Fs>,
    pub(crate) dirs: DataDirs,
    /// Proposals logged and not yet committed, by zxid.
    pub(crate) logged: BTreeMap<i64, TxnEntry>,
    /// The last zxid the log thread reported durable.
    pub(crate) durable: Zxid,
    pub(crate) serving: bool,
    /// An observer: it gets INFORMs, never votes and never ACKs a proposal.
    pub(crate) observer: bool,
    /// jute.maxbuffer for packets from the leader.
    pub(crate) max_len: usize,
    pub(crate) ops: super::quorum_ops::RoleOps,
}

impl FollowerLink {
    fn send(&self, zxid: i64, payload: &Payload) -> Result<(), String> {
        let packet = payload
            .to_packet(zxid)
            .map_err(|e| format!("a packet for the leader cannot be encoded: {e}"))?;
        if self.writer.send(Outgoing::Packet(packet)) {
            Ok(())
        } else {
            Err("the connection to the leader is gone or not keeping up".into())
        }
    }
}

/// Why a member stops its current role (back to election).
pub(crate) type RoleEnd = String;

impl Runtime {
    /// False for a follower still synchronising with its leader: clients wait until it serves.
    pub(crate) fn link_serving(&self) -> bool {
        match &self.link {
            Link::Standalone => true,
            Link::Follower(f) => f.serving,
            Link::Leader(l) => l.established,
            Link::ReadOnly => true,
        }
    }

    /// The member's state as `srvr` and `mntr` name it.
    pub(crate) fn mode(&self) -> &'static str {
        match &self.link {
            Link::Standalone => "standalone",
            Link::Follower(f) if f.observer => "observer",
            Link::Follower(_) => "follower",
            Link::Leader(_) => "leader",
            // `ReadOnlyZooKeeperServer.getState`.
            Link::ReadOnly => crate::net::four_letter::READ_ONLY_MODE,
        }
    }

    /// The database as it is now, as a snapshot (for SNAP, and a follower's snapshot at NEWLEADER).
    fn snapshot_image(&self) -> crate::core::tree::snapshot::SnapshotImage {
        let tree = self.core.tree();
        let sessions: Vec<(i64, i32)> = self
            .core
            .sessions()
            .iter()
            .map(|s| (s.id.0, s.timeout_ms))
            .collect();
        snapshot_of(&tree, &sessions)
    }

    /// A follower's request for its leader.
    pub(super) fn forward(
        &mut self,
        request: jute::quorum::ForwardedRequest,
        auth: Vec<jute::records::data::Id>,
    ) -> Result<(), RoleEnd> {
        let Link::Follower(f) = &self.link else {
            tracing::error!("a request to forward with no leader; dropped");
            return Ok(());
        };
        let mut packet = Payload::Request(request)
            .to_packet(-1)
            .map_err(|e| format!("a request for the leader cannot be encoded: {e}"))?;
        packet.authinfo = Some(auth);
        if f.writer.send(Outgoing::Packet(packet)) {
            Ok(())
        } else {
            Err("the connection to the leader is gone or not keeping up".into())
        }
    }

    /// A follower asks its leader about a session a client brought back (REVALIDATE, zxid -1 as ZooKeeper's).
    pub(super) fn revalidate(&mut self, session: jute::quorum::SessionTimeout) -> Result<(), RoleEnd> {
        match &self.link {
            Link::Follower(f) => f.send(-1, &Payload::RevalidateRequest(session)),
            _ => {
                tracing::error!("a session to revalidate with no leader; dropped");
                Ok(())
            }
        }
    }

    /// A packet from the leader or a learner, a learner's connection, or the end of a connection.
    pub(crate) fn quorum_event(&mut self, event: QuorumEvent) -> io::Result<Option<RoleEnd>> {
        if matches!(self.link, Link::Leader(_)) {
            return self.leader_event(event);
        }
        let packet = match event {
            QuorumEvent::Packet { packet, .. } => packet,
            QuorumEvent::Closed { why, .. } => return Ok(Some(why)),
            QuorumEvent::Accepted { .. } => return Ok(None),
        };
        let Link::Follower(f) = &mut self.link else {
            return Ok(None);
        };
        let payload = match Payload::decode(&packet, Sender::Leader, f.max_len) {
            Ok(p) => p,
            Err(e) => {
                return Ok(Some(format!(
                    "a {:?} packet from the leader does not decode: {e}",
                    PacketType::from_code(packet.packet_type)
                )))
            }
        };
        super::quorum_ops::count_from_leader(&mut self.metrics, &payload);
        let actions = match f.learner.receive(packet.zxid, payload) {
            Ok(a) => a,
            Err(e) => return Ok(Some(e.to_string())),
        };
        self.learner_actions(actions)
    }

    /// The log thread made entries durable up to `zxid` (a follower ACKs them).
    pub(super) fn follower_durable(&mut self, zxid: Zxid) -> io::Result<Option<RoleEnd>> {
        let Link::Follower(f) = &mut self.link else {
            return Ok(None);
        };
        f.durable = f.durable.max(zxid);
        match f.learner.persisted(Durable::LogUpTo(zxid)) {
            Ok(actions) => self.learner_actions(actions),
            Err(e) => Ok(Some(e.to_string())),
        }
    }

    /// One tick of the quorum's clock (tickTime): a leader silent for too long ends a follower's role; a
    /// leader pings its learners and steps down without a quorum of them.
    pub(crate) fn link_tick(&mut self) -> io::Result<Option<RoleEnd>> {
        self.collect_learner_queues();
        match &mut self.link {
            Link::Standalone | Link::ReadOnly => Ok(None),
            Link::Follower(f) => Ok(f.learner.tick().err().map(|e| e.to_string())),
            Link::Leader(l) => match l.leader.tick() {
                Ok(actions) => self.leader_actions(actions),
                Err(e) => Ok(Some(e.to_string())),
            },
        }
    }

    /// The leader logged up to `zxid` (its own ACK), or a txn to broadcast was prepared.
    pub(super) fn leader_durable(&mut self, zxid: Zxid) -> io::Result<Option<RoleEnd>> {
        let Link::Leader(l) = &mut self.link else {
            return Ok(None);
        };
        match l.leader.persisted(LeaderDurable::LogUpTo(zxid)) {
            Ok(actions) => self.leader_actions(actions),
            Err(e) => Ok(Some(e.to_string())),
        }
    }

    /// A txn the leader's core prepared and the log has been handed: PROPOSAL to the followers.
    pub(super) fn leader_propose(&mut self, entry: &bytes::Bytes) -> io::Result<Option<RoleEnd>> {
        let Link::Leader(l) = &mut self.link else {
            return Ok(None);
        };
        let txn = TxnEntry::decode(entry, usize::MAX).map_err(io::Error::other)?;
        l.ops.proposed(&mut self.metrics, entry.len());
        let actions = l.leader.propose(txn);
        self.leader_actions(actions)
    }

    fn leader_event(&mut self, event: QuorumEvent) -> io::Result<Option<RoleEnd>> {
        let Link::Leader(l) = &mut self.link else {
            return Ok(None);
        };
        let actions = match event {
            QuorumEvent::Accepted {
                conn,
                peer,
                writer,
                reader,
            } => {
                l.learners.insert(conn, (writer, reader));
                let established_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                l.stats.insert(
                    conn,
                    LearnerStats {
                        peer,
                        established_ms,
                        packets_received: 0,
                        packets_sent: 0,
                        requests: 0,
                        last_zxid: -1,
                    },
                );
                l.leader.connected(LearnerConn(conn));
                Vec::new()
            }
            QuorumEvent::Closed { conn, why } => {
                tracing::info!(learner = conn, reason = %why, "a learner's connection ended");
                l.stats.remove(&conn);
                if let Some((_, reader)) = l.learners.remove(&conn) {
                    reader.abort();
                }
                l.leader.disconnected(LearnerConn(conn))
            }
            QuorumEvent::Packet { conn, packet } => {
                if let Some(s) = l.stats.get_mut(&conn) {
                    s.packets_received += 1;
                    if packet.packet_type == jute::codes::PacketType::Request.code() {
                        s.requests += 1;
                    }
                }
                match Payload::decode(&packet, Sender::Learner, l.max_len) {
                    Ok(payload) => {
                        let auth = packet.authinfo.clone().unwrap_or_default();
                        l.leader
                            .receive_with_auth(LearnerConn(conn), packet.zxid, payload, auth)
                    }
                    Err(e) => {
                        tracing::warn!(learner = conn, error = %e, "a learner's packet does not decode; dropping it");
                        if let Some((_, reader)) = l.learners.remove(&conn) {
                            reader.abort();
                        }
                        l.leader.disconnected(LearnerConn(conn))
                    }
                }
            }
        };
        self.leader_actions(actions)
    }

    /// Carries out what the leader core asks, in order.
    pub(super) fn leader_actions(&mut self, actions: Vec<LeaderAction>) -> io::Result<Option<RoleEnd>> {
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            let Link::Leader(l) = &mut self.link else {
                return Ok(None);
            };
            let mut more = Vec::new();
            match action {
                LeaderAction::Send { to, zxid, payload } => {
                    super::quorum_ops::log_sync_mode(&l.leader, to, zxid, &payload);
                    if let Some(s) = l.stats.get_mut(&to.0) {
                        s.packets_sent += 1;
                        if zxid > 0 {
                            s.last_zxid = zxid;
                        }
                    }
                    let sent = match payload.to_packet(zxid) {
                        Ok(packet) => l
                            .learners
                            .get(&to.0)
                            .is_some_and(|(w, _)| w.send(Outgoing::Packet(packet))),
                        Err(e) => {
                            tracing::error!(error = %e, "a packet for a learner cannot be encoded");
                            false
                        }
                    };
                    if !sent {
                        if let Some((_, reader)) = l.learners.remove(&to.0) {
                            reader.abort();
                        }
                        more = l.leader.disconnected(to);
                    }
                }
                LeaderAction::SendSnapshot { to } => {
                    let wire = self.snapshot_image().to_wire();
                    let Link::Leader(l) = &mut self.link else {
                        return Ok(None);
                    };
                    if !l
                        .learners
                        .get(&to.0)
                        .is_some_and(|(w, _)| w.send(Outgoing::Raw(wire.into())))
                    {
                        if let Some((_, reader)) = l.learners.remove(&to.0) {
                            reader.abort();
                        }
                        more = l.leader.disconnected(to);
                    }
                }
                LeaderAction::WriteAcceptedEpoch(e) => {
                    write_epoch(l.fs.as_ref(), &l.dirs.snap_dir, ACCEPTED_EPOCH, e)
                        .map_err(io::Error::other)?;
                    match l.leader.persisted(LeaderDurable::AcceptedEpoch) {
                        Ok(a) => more = a,
                        Err(e) => return Ok(Some(e.to_string())),
                    }
                }
                LeaderAction::WriteCurrentEpoch(e) => {
                    write_epoch(l.fs.as_ref(), &l.dirs.snap_dir, CURRENT_EPOCH, e)
                        .map_err(io::Error::other)?;
                    match l.leader.persisted(LeaderDurable::CurrentEpoch) {
                        Ok(a) => more = a,
                        Err(e) => return Ok(Some(e.to_string())),
                    }
                }
                // The front end handed the entry to the log when it prepared it (`Effect::Persist`).
                LeaderAction::Log(_) => {}
                LeaderAction::Commit(z) => {
                    super::quorum_ops::count_commit(&mut self.metrics);
                    self.apply_up_to(z)?
                }
                LeaderAction::Established { epoch } => {
                    l.ops.established(&l.leader, epoch);
                    l.established = true;
                    self.established_epoch = Some(epoch);
                    let now = self.now();
                    self.core.start_epoch(epoch, now);
                }
                LeaderAction::Forwarded { from, request, auth } => {
                    if request.op == jute::codes::OpCode::Sync.code() {
                        more = l.leader.sync(from);
                    } else {
                        let effects = self.core.forwarded(self.now(), request, &auth);
                        self.execute(effects)?;
                    }
                }
                LeaderAction::Touch(sessions) => {
                    let now = self.now();
                    self.core.touch(now, &sessions);
                }
                LeaderAction::Revalidate { from, session } => {
                    let valid = self.core.revalidate(self.now(), session);
                    let Link::Leader(l) = &mut self.link else {
                        return Ok(None);
                    };
                    more = l.leader.revalidated(from, session.session_id, valid);
                }
                LeaderAction::Drop { conn, reason } => {
                    tracing::warn!(learner = conn.0, %reason, "dropping a learner");
                    if let Some((_, reader)) = l.learners.remove(&conn.0) {
                        reader.abort();
                    }
                }
            }
            for (i, a) in more.into_iter().enumerate() {
                queue.insert(i, a);
            }
        }
        Ok(None)
    }

    /// Carries out what the learner core asks, in order.
    pub(super) fn learner_actions(&mut self, actions: Vec<Action>) -> io::Result<Option<RoleEnd>> {
        let mut queue = std::collections::VecDeque::from(actions);
        while let Some(action) = queue.pop_front() {
            let Link::Follower(f) = &mut self.link else {
                return Ok(None);
            };
            let follow_up = match action {
                Action::Send { zxid, payload } => {
                    if let Err(why) = f.send(zxid, &payload) {
                        return Ok(Some(why));
                    }
                    None
                }
                Action::WriteAcceptedEpoch(e) => {
                    write_epoch(f.fs.as_ref(), &f.dirs.snap_dir, ACCEPTED_EPOCH, e)
                        .map_err(io::Error::other)?;
                    Some(Durable::AcceptedEpoch)
                }
                Action::WriteCurrentEpoch(e) => {
                    write_epoch(f.fs.as_ref(), &f.dirs.snap_dir, CURRENT_EPOCH, e)
                        .map_err(io::Error::other)?;
                    Some(Durable::CurrentEpoch)
                }
                Action::TruncateLog(z) | Action::InstallSnapshot(z) => {
                    return Ok(Some(format!(
                        "the leader asked for a truncation or a snapshot at {z} after synchronisation began"
                    )));
                }
                Action::Apply(entry) => {
                    let effects = self.core.apply_committed(self.now(), entry);
                    self.execute(effects)?;
                    None
                }
                Action::Log(entry) => {
                    let mut bytes = Vec::new();
                    entry.encode_into(&mut bytes).map_err(io::Error::other)?;
                    let zxid = Zxid(entry.header.zxid);
                    f.logged.insert(zxid.0, entry);
                    self.log.push(zxid, bytes.into());
                    None
                }
                Action::Commit(z) => {
                    let Some(entry) = f.logged.remove(&z.0) else {
                        return Ok(Some(format!("COMMIT of {z}, which was never proposed")));
                    };
                    let effects = self.core.apply_committed(self.now(), entry);
                    self.execute(effects)?;
                    None
                }
                Action::SyncLog(z) => {
                    self.log.flush()?;
                    // Durable already: say so now; otherwise the log thread's report will.
                    (f.durable >= z).then_some(Durable::LogUpTo(z))
                }
                Action::TakeSnapshot { .. } => {
                    let (fs, dir) = (f.fs.clone(), f.dirs.snap_dir.clone());
                    let image = self.snapshot_image();
                    write_snapshot(fs.as_ref(), &dir, &image, self.config.storage.compression)
                        .map_err(io::Error::other)?;
                    Some(Durable::Snapshot)
                }
                Action::StartServing => {
                    tracing::info!(zxid = %self.core.last_zxid(), "synchronised with the leader; serving clients");
                    f.ops.synced(&mut self.metrics, f.observer);
                    f.serving = true;
                    self.established_epoch = Some(f.learner.new_epoch());
                    None
                }
                Action::AnswerPing(zxid) => {
                    let touched = self.core.take_touched();
                    if let Err(why) = f.send(zxid, &Payload::LearnerPing(touched)) {
                        return Ok(Some(why));
                    }
                    None
                }
                Action::Deliver {
                    payload: Payload::RevalidateReply(r),
                    ..
                } => {
                    let effects = self.core.revalidated(self.now(), r.session_id, r.valid);
                    self.execute(effects)?;
                    None
                }
                Action::Deliver {
                    payload: Payload::Sync,
                    ..
                } => {
                    let effects = self.core.synced();
                    self.execute(effects)?;
                    None
                }
                Action::Deliver { payload, .. } => {
                    tracing::debug!(packet = ?payload.packet_type(), "packet from the leader not acted on");
                    None
                }
            };
            if let Some(done) = follow_up {
                let Link::Follower(f) = &mut self.link else {
                    return Ok(None);
                };
                match f.learner.persisted(done) {
                    Ok(more) => {
                        for (i, a) in more.into_iter().enumerate() {
                            queue.insert(i, a);
                        }
                    }
                    Err(e) => return Ok(Some(e.to_string())),
                }
            }
        }
        Ok(None)
    }
}
