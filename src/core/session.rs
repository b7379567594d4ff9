//! Sessions and their expiry (`SessionTrackerImpl`, `ExpiryQueue`): ids laid out with the server id in the top
//! byte, passwords derived from the id exactly as Apache ZooKeeper derives them, and expiry in tick-sized
//! buckets. Time comes in as monotonic milliseconds; nothing here reads a clock.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet};

use crate::types::{ConnId, SessionId};

/// ZooKeeper's `superSecret`, mixed into every password seed.
const SUPER_SECRET: i64 = 0xB341_5C00;

/// The 16-byte password of a session: `new java.util.Random(id ^ superSecret).nextBytes(16)`
/// (`ZooKeeperServer.generatePasswd`), so a session created by an Apache ZooKeeper server can resume here.
pub fn password(id: SessionId) -> [u8; 16] {
    const MULTIPLIER: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;
    let mut seed = ((id.0 ^ SUPER_SECRET) ^ MULTIPLIER) & MASK;
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(4) {
        seed = (seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        let next = (seed >> 16) as i32;
        chunk.copy_from_slice(&next.to_le_bytes());
    }
    out
}

/// The first session id of a server (`SessionTrackerImpl.initializeNextSessionId`).
pub fn initial_session_id(server_id: i64, millis: i64) -> i64 {
    let base = ((millis << 24) as u64 >> 8) as i64 | (server_id << 56);
    if base == i64::MIN {
        base + 1
    } else {
        base
    }
}

/// One session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    /// On a leader, where the session's requests must come from (`SessionImpl.owner`): set when a member
    /// creates or revalidates it, or by the first request checked while it has none.
    pub owner: Option<Owner>,
    pub timeout_ms: i32,
    pub expires_at_ms: u64,
    /// Set once expiry or closeSession has begun: further requests get SESSIONEXPIRED.
    pub closing: bool,
    /// The connection currently attached, if any.
    pub conn: Option<ConnId>,
}

/// Who a session belongs to on a leader: its own clients (`ServerCnxn.me`) or one learner's connection (its
/// `LearnerHandler`), numbered as the leader numbers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Me,
    Learner(u64),
}

/// All sessions of the server.
#[derive(Debug)]
pub struct SessionTracker {
    sessions: HashMap<SessionId, Session>,
    buckets: BTreeMap<u64, HashSet<SessionId>>,
    next_id: i64,
    tick_ms: u64,
}

impl SessionTracker {
    pub fn new(server_id: i64, tick_ms: u32, wall_ms: i64) -> SessionTracker {
        SessionTracker {
            sessions: HashMap::default(),
            buckets: BTreeMap::new(),
            next_id: initial_session_id(server_id, wall_ms),
            tick_ms: u64::from(tick_ms.max(1)),
        }
    }

    /// Allocates the next session id (the session itself is added when its createSession txn applies).
    pub fn next_session_id(&mut self) -> SessionId {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        SessionId(id)
    }

    fn round_up(&self, t: u64) -> u64 {
        (t / self.tick_ms + 1) * self.tick_ms
    }

    /// Adds (or re-adds) a session with `timeout_ms`, touched now. A re-added session keeps its connection.
    pub fn add(&mut self, id: SessionId, timeout_ms: i32, now_ms: u64) {
        let (mut conn, mut owner) = (None, None);
        if let Some(old) = self.sessions.remove(&id) {
            self.unbucket(id, old.expires_at_ms);
            conn = old.conn;
            owner = old.owner;
        }
        let expires = self.round_up(now_ms.saturating_add_signed(i64::from(timeout_ms)));
        self.sessions.insert(
            id,
            Session {
                id,
                timeout_ms,
                expires_at_ms: expires,
                closing: false,
                conn,
                owner,
            },
        );
        self.buckets.entry(expires).or_default().insert(id);
    }

    fn unbucket(&mut self, id: SessionId, at: u64) {
        if let Some(set) = self.buckets.get_mut(&at) {
            set.remove(&id);
            if set.is_empty() {
                self.buckets.remove(&at);
            }
        }
    }

    /// Pushes a live session's expiry to `now + timeout`; false if it is unknown or closing.
    pub fn touch(&mut self, id: SessionId, now_ms: u64) -> bool {
        let Some(s) = self.sessions.get(&id) else {
            return false;
        };
        if s.closing {
            return false;
        }
        let (old, timeout) = (s.expires_at_ms, s.timeout_ms);
        let new = self.round_up(now_ms.saturating_add_signed(i64::from(timeout)));
        if new != old {
            self.unbucket(id, old);
            self.buckets.entry(new).or_default().insert(id);
            if let Some(s) = self.sessions.get_mut(&id) {
                s.expires_at_ms = new;
            }
        }
        true
    }

    /// Changes a session's timeout (a reconnect renegotiates it) and touches it.
    pub fn set_timeout(&mut self, id: SessionId, timeout_ms: i32, now_ms: u64) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.timeout_ms = timeout_ms;
        }
        self.touch(id, now_ms);
    }

    /// Marks every session whose bucket has passed as closing and returns them.
    pub fn expire(&mut self, now_ms: u64) -> Vec<SessionId> {
        let mut expired = Vec::new();
        while let Some((&at, _)) = self.buckets.first_key_value() {
            if at > now_ms {
                break;
            }
            if let Some(ids) = self.buckets.remove(&at) {
                for id in ids {
                    if let Some(s) = self.sessions.get_mut(&id) {
                        s.closing = true;
                        expired.push(id);
                    }
                }
            }
        }
        expired.sort();
        expired
    }

    /// Marks a session closing (closeSession received).
    pub fn set_closing(&mut self, id: SessionId) {
        if let Some(s) = self.sessions.get_mut(&id) {
            s.closing = true;
        }
    }

    /// Forgets a session (its closeSession txn applied).
    pub fn remove(&mut self, id: SessionId) -> Option<Session> {
        let s = self.sessions.remove(&id)?;
        self.unbucket(id, s.expires_at_ms);
        Some(s)
    }

    /// Forgets every session; ids go on from where they were.
    pub fn clear(&mut self) {
        self.sessions.clear();
        self.buckets.clear();
    }

    pub fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub fn get_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        self.sessions.get_mut(&id)
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }

    /// Expiry buckets with their sessions, soonest first (for `dump`).
    pub fn buckets(&self) -> impl Iterator<Item = (&u64, &HashSet<SessionId>)> {
        self.buckets.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_matches_java_util_random() {
        // new Random(0 ^ 0xB3415C00) would differ; check the seed scrambling against a known JDK output:
        // new java.util.Random(42).nextInt() == -1170105035.
        const MULTIPLIER: i64 = 0x5_DEEC_E66D;
        let seed = (42 ^ MULTIPLIER) & ((1 << 48) - 1);
        let next = ((seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB) & ((1 << 48) - 1)) >> 16) as i32;
        assert_eq!(next, -1_170_105_035);
        // and the password of 42 ^ superSecret is that first int, low byte first.
        let pw = password(SessionId(42 ^ SUPER_SECRET));
        assert_eq!(&pw[..4], &(-1_170_105_035i32).to_le_bytes());
    }

    #[test]
    fn session_ids_carry_the_server_id_in_the_top_byte() {
        let id = initial_session_id(1, 0x12_3456_789a);
        assert_eq!(id >> 56, 1);
        assert_eq!(id & 0xffff, 0);
        assert_eq!((id >> 16) & 0xff_ffff_ffff, 0x12_3456_789a);
    }

    #[test]
    fn sessions_expire_by_tick_bucket_and_touches_postpone() {
        let mut t = SessionTracker::new(1, 2000, 0);
        let a = t.next_session_id();
        t.add(a, 4000, 100);
        assert_eq!(t.get(a).map(|s| s.expires_at_ms), Some(6000));
        assert!(t.expire(5999).is_empty());
        assert!(t.touch(a, 3000));
        assert!(t.expire(6000).is_empty());
        assert_eq!(t.expire(8000), vec![a]);
        assert!(!t.touch(a, 8000));
    }
}

#[cfg(test)]
mod golden {
    use super::*;

    #[test]
    fn passwords_match_those_a_real_zookeeper_handed_out() {
        // Session ids and passwords from ConnectResponses of Apache ZooKeeper 3.8.0
        // (jute/tests/golden/client/manifest.json: 002-kazoo, 081-java and 200-c connect responses).
        let observed: [(i64, &str); 3] = [
            (72057673984049152, "7d0a7004c6f6f16a23c244c77f639886"),
            (72057673984049155, "6ae9750426ab12262e7fdd9bacda83b9"),
            (72057673984049160, "16134104c653ec91cdd97e221caa3cef"),
        ];
        for (id, hex) in observed {
            let pw: String = password(SessionId(id))
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert_eq!(pw, hex, "session 0x{id:x}");
        }
    }
}
