//! ZooKeeper's numbers as enums: opcodes, error codes, watch event types and states, permission bits, create
//! modes, watcher types and addWatch modes (`ZooDefs`, `KeeperException.Code`, `Watcher.Event`, `CreateMode`).
//!
//! Records keep these as the raw `i32` of the wire so that an unknown number can still be decoded and answered
//! the way ZooKeeper answers it; code converts with `from_code` where it needs the meaning.

macro_rules! int_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:expr,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant = $value,)+ }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The number ZooKeeper uses on the wire.
            pub const fn code(self) -> i32 {
                self as i32
            }

            /// The variant for a wire number, if there is one.
            pub const fn from_code(code: i32) -> Option<Self> {
                match code {
                    $($value => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl From<$name> for i32 {
            fn from(value: $name) -> i32 {
                value.code()
            }
        }

        impl TryFrom<i32> for $name {
            type Error = i32;
            fn try_from(code: i32) -> Result<Self, i32> {
                $name::from_code(code).ok_or(code)
            }
        }
    };
}

int_enum! {
    /// Request types (`ZooDefs.OpCode`). Also the `type` of a `TxnHeader`.
    pub enum OpCode {
        Notification = 0,
        Create = 1,
        Delete = 2,
        Exists = 3,
        GetData = 4,
        SetData = 5,
        GetAcl = 6,
        SetAcl = 7,
        GetChildren = 8,
        Sync = 9,
        Ping = 11,
        GetChildren2 = 12,
        Check = 13,
        Multi = 14,
        Create2 = 15,
        Reconfig = 16,
        CheckWatches = 17,
        RemoveWatches = 18,
        CreateContainer = 19,
        DeleteContainer = 20,
        CreateTtl = 21,
        MultiRead = 22,
        Auth = 100,
        SetWatches = 101,
        Sasl = 102,
        GetEphemerals = 103,
        GetAllChildrenNumber = 104,
        SetWatches2 = 105,
        AddWatch = 106,
        WhoAmI = 107,
        CreateSession = -10,
        CloseSession = -11,
        Error = -1,
    }
}

impl OpCode {
    /// The name Apache ZooKeeper's logs and tools give this type (`Request.op2String`): the variant's name with
    /// a lower-case first letter, and ACL and TTL in capitals.
    pub fn name(self) -> String {
        match self {
            OpCode::GetAcl => "getACL".into(),
            OpCode::SetAcl => "setACL".into(),
            OpCode::CreateTtl => "createTTL".into(),
            other => {
                let debug = format!("{other:?}");
                let mut chars = debug.chars();
                chars
                    .next()
                    .map(|c| c.to_lowercase().chain(chars).collect())
                    .unwrap_or(debug)
            }
        }
    }
}

int_enum! {
    /// Result codes (`KeeperException.Code`).
    pub enum ErrorCode {
        Ok = 0,
        SystemError = -1,
        RuntimeInconsistency = -2,
        DataInconsistency = -3,
        ConnectionLoss = -4,
        MarshallingError = -5,
        Unimplemented = -6,
        OperationTimeout = -7,
        BadArguments = -8,
        UnknownSession = -12,
        NewConfigNoQuorum = -13,
        ReconfigInProgress = -14,
        ApiError = -100,
        NoNode = -101,
        NoAuth = -102,
        BadVersion = -103,
        NoChildrenForEphemerals = -108,
        NodeExists = -110,
        NotEmpty = -111,
        SessionExpired = -112,
        InvalidCallback = -113,
        InvalidAcl = -114,
        AuthFailed = -115,
        SessionMoved = -118,
        NotReadOnly = -119,
        EphemeralOnLocalSession = -120,
        NoWatcher = -121,
        RequestTimeout = -122,
        ReconfigDisabled = -123,
        SessionClosedRequireSaslAuth = -124,
        QuotaExceeded = -125,
        ThrottledOp = -127,
    }
}

int_enum! {
    /// Watch event types (`Watcher.Event.EventType`). The server only sends 1 to 4.
    pub enum EventType {
        None = -1,
        NodeCreated = 1,
        NodeDeleted = 2,
        NodeDataChanged = 3,
        NodeChildrenChanged = 4,
        DataWatchRemoved = 5,
        ChildWatchRemoved = 6,
        PersistentWatchRemoved = 7,
    }
}

int_enum! {
    /// Connection states (`Watcher.Event.KeeperState`). Node events always carry SyncConnected.
    pub enum KeeperState {
        Unknown = -1,
        Disconnected = 0,
        NoSyncConnected = 1,
        SyncConnected = 3,
        AuthFailed = 4,
        ConnectedReadOnly = 5,
        SaslAuthenticated = 6,
        Expired = -112,
        Closed = 7,
    }
}

int_enum! {
    /// The `flags` of a create request (`CreateMode`).
    pub enum CreateMode {
        Persistent = 0,
        Ephemeral = 1,
        PersistentSequential = 2,
        EphemeralSequential = 3,
        Container = 4,
        PersistentWithTtl = 5,
        PersistentSequentialWithTtl = 6,
    }
}

impl CreateMode {
    /// True for the modes whose node is owned by a session.
    pub const fn is_ephemeral(self) -> bool {
        matches!(self, CreateMode::Ephemeral | CreateMode::EphemeralSequential)
    }

    /// True for the modes that append a `%010d` suffix.
    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    /// True for the TTL modes (opcode 21 only).
    pub const fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }
}

int_enum! {
    /// The `type` of checkWatches and removeWatches (`Watcher.WatcherType`).
    pub enum WatcherType {
        Children = 1,
        Data = 2,
        Any = 3,
        Persistent = 4,
        PersistentRecursive = 5,
    }
}

int_enum! {
    /// The `mode` of addWatch (`ZooDefs.AddWatchModes`).
    pub enum AddWatchMode {
        Persistent = 0,
        PersistentRecursive = 1,
    }
}

int_enum! {
    /// The `type` of a QuorumPacket (`Leader` constants).
    pub enum PacketType {
        Request = 1,
        Proposal = 2,
        Ack = 3,
        Commit = 4,
        Ping = 5,
        Revalidate = 6,
        Sync = 7,
        Inform = 8,
        CommitAndActivate = 9,
        NewLeader = 10,
        FollowerInfo = 11,
        UpToDate = 12,
        Diff = 13,
        Trunc = 14,
        Snap = 15,
        ObserverInfo = 16,
        LeaderInfo = 17,
        AckEpoch = 18,
        InformAndActivate = 19,
    }
}

/// Permission bits of an ACL entry (`ZooDefs.Perms`).
pub mod perms {
    pub const READ: i32 = 1;
    pub const WRITE: i32 = 1 << 1;
    pub const CREATE: i32 = 1 << 2;
    pub const DELETE: i32 = 1 << 3;
    pub const ADMIN: i32 = 1 << 4;
    pub const ALL: i32 = READ | WRITE | CREATE | DELETE | ADMIN;
}

/// Fixed xids with a meaning of their own (`ClientCnxn`).
pub mod xid {
    /// A watch notification (server to client).
    pub const NOTIFICATION: i32 = -1;
    /// A ping.
    pub const PING: i32 = -2;
    /// An auth packet.
    pub const AUTH: i32 = -4;
    /// SetWatches as sent by the C client.
    pub const SET_WATCHES: i32 = -8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_back_to_its_variant() {
        for op in OpCode::ALL {
            assert_eq!(OpCode::from_code(op.code()), Some(*op));
        }
        for err in ErrorCode::ALL {
            assert_eq!(ErrorCode::try_from(i32::from(*err)), Ok(*err));
        }
        assert_eq!(OpCode::from_code(10), None);
        assert_eq!(OpCode::GetAllChildrenNumber.name(), "getAllChildrenNumber");
        assert_eq!(OpCode::CreateTtl.name(), "createTTL");
        assert_eq!(OpCode::WhoAmI.name(), "whoAmI");
        assert_eq!(ErrorCode::from_code(-126), None);
    }

    #[test]
    fn create_mode_properties_follow_zookeeper() {
        assert!(CreateMode::EphemeralSequential.is_ephemeral());
        assert!(CreateMode::EphemeralSequential.is_sequential());
        assert!(!CreateMode::Container.is_sequential());
        assert!(CreateMode::PersistentSequentialWithTtl.is_ttl());
        assert_eq!(perms::ALL, 31);
    }
}
