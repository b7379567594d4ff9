//! Shared data records (`org.apache.zookeeper.data` in `zookeeper.jute`): Id, ACL, Stat, StatPersisted,
//! ClientInfo. Note Stat's field order: `pzxid` is last, after `num_children`.

use serde::{Deserialize, Serialize};

use crate::codes::perms;

/// An identity: a scheme and an id within it (`world:anyone`, `digest:bob:...`, `ip:127.0.0.1`).
///
/// The id may be null on the wire (kazoo sends `auth` ids that way), and ZooKeeper treats a null id differently
/// from an empty one when it validates an ACL, so the distinction is kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Id {
    pub scheme: String,
    pub id: Option<String>,
}

impl Id {
    /// A new id.
    pub fn new(scheme: impl Into<String>, id: impl Into<String>) -> Self {
        Id {
            scheme: scheme.into(),
            id: Some(id.into()),
        }
    }

    /// The id text; a null id reads as empty.
    pub fn id_str(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    /// `world:anyone`.
    pub fn anyone() -> Self {
        Id::new("world", "anyone")
    }
}

/// One entry of an access control list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Acl {
    pub perms: i32,
    pub id: Id,
}

impl Acl {
    /// `OPEN_ACL_UNSAFE`: everything for everyone.
    pub fn open_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::anyone(),
        }]
    }

    /// `READ_ACL_UNSAFE`: read for everyone.
    pub fn read_unsafe() -> Vec<Acl> {
        vec![Acl {
            perms: perms::READ,
            id: Id::anyone(),
        }]
    }

    /// `CREATOR_ALL_ACL`: everything for the authenticated creator.
    pub fn creator_all() -> Vec<Acl> {
        vec![Acl {
            perms: perms::ALL,
            id: Id::new("auth", ""),
        }]
    }
}

/// A znode's metadata as clients see it (68 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Stat {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub data_length: i32,
    pub num_children: i32,
    pub pzxid: i64,
}

/// A znode's metadata as snapshots store it (60 bytes): no data length or child count, and the persisted
/// cversion (child creations only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct StatPersisted {
    pub czxid: i64,
    pub mzxid: i64,
    pub ctime: i64,
    pub mtime: i64,
    pub version: i32,
    pub cversion: i32,
    pub aversion: i32,
    pub ephemeral_owner: i64,
    pub pzxid: i64,
}

/// One identity of a connection, as whoAmI reports it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct ClientInfo {
    pub auth_scheme: String,
    pub user: String,
}
