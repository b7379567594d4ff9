//! zoo.cfg -> one validated `ServerConfig`.
//!
//! zoo.cfg is a Java properties file, read as `QuorumPeerConfig.parseProperties` reads it: values are trimmed,
//! numbers are Java ints, and a key that names no setting is not an error (Apache ZooKeeper turns it into the
//! system property `zookeeper.<key>`; we warn and go on). A value that does not parse is an error naming the key
//! and the value. Settings Apache ZooKeeper reads only as JVM system properties (`jute.maxbuffer`,
//! `znode.container.*`) cannot be set from zoo.cfg: like the JVM, we read them from the `-D` flags in
//! `SERVER_JVMFLAGS` and `JVMFLAGS`, the variables `zkServer.sh` passes to java.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use jute::frame::FOUR_LETTER_WORDS;

use crate::core::containers::ContainerConfig;

pub mod ensemble;
mod jaas;
mod jvm;
pub mod ops;
mod security;
pub use security::{is_secret_key, MASKED};

pub use ensemble::Ensemble;
pub use jvm::JvmFlags;
use jvm::JVM_ONLY;
pub use ops::OpsSettings;

use crate::storage::settings::StorageSettings;

/// tickTime when zoo.cfg does not set it (`ZooKeeperServer.DEFAULT_TICK_TIME`).
pub const DEFAULT_TICK_TIME_MS: u32 = 3000;
/// maxClientCnxns when zoo.cfg does not set it (`QuorumPeerConfig.maxClientCnxns`).
pub const DEFAULT_MAX_CLIENT_CNXNS: i32 = 60;
/// globalOutstandingLimit when zoo.cfg does not set it (`ZooKeeperServer.getGlobalOutstandingLimit`).
pub const DEFAULT_GLOBAL_OUTSTANDING_LIMIT: u32 = 1000;
/// `zookeeper.nio.sessionlessCnxnTimeout`: a connection that has not finished its handshake by then is dropped.
pub const DEFAULT_SESSIONLESS_CNXN_TIMEOUT_MS: u32 = 10_000;
/// Bytes of replies queued for one connection before it is judged not to be reading and closed, and the
/// largest reply a read may build (`ferrokeeper.maxQueuedReplyBytes`). Apache ZooKeeper has no such bound (its
/// queue grows until the session expires, and a reply is built whole whatever its size); ferrokeeper keeps
/// one so that a client which never reads, or asks for a reply of gigabytes, cannot hold unbounded memory.
pub const DEFAULT_OUTBOUND_QUEUE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// `ferrokeeper.maxInFlightTxns` when zoo.cfg does not set it: txns prepared and not yet durable, past which the
/// server takes no more requests until the log catches up (the scale of globalOutstandingLimit's default).
pub const DEFAULT_IN_FLIGHT_TXNS_MAX: usize = 1000;
/// `ferrokeeper.maxInFlightTxnBytes` when zoo.cfg does not set it: the same bound on their bytes.
pub const DEFAULT_IN_FLIGHT_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Which four-letter words may run (`4lw.commands.whitelist`, `FourLetterCommands.isEnabled`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FourLetterWhitelist {
    /// `*`: every command.
    All,
    /// The listed commands; `srvr` is always among them.
    Only(BTreeSet<&'static str>),
}

impl FourLetterWhitelist {
    /// Parses the comma-separated list; `srvr` is always added, as ZooKeeper does. Names that are not
    /// four-letter words are warned about and dropped.
    pub fn parse(value: &str) -> FourLetterWhitelist {
        let mut words = BTreeSet::from(["srvr"]);
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                return FourLetterWhitelist::All;
            }
            match FOUR_LETTER_WORDS.iter().find(|w| **w == item) {
                Some(word) => {
                    words.insert(word);
                }
                None => tracing::warn!(command = item, "4lw.commands.whitelist names an unknown command"),
            }
        }
        FourLetterWhitelist::Only(words)
    }

    /// Lets `word` run too.
    fn allow(&mut self, word: &'static str) {
        if let FourLetterWhitelist::Only(words) = self {
            words.insert(word);
        }
    }

    /// True if `word` may run.
    pub fn allows(&self, word: &str) -> bool {
        match self {
            FourLetterWhitelist::All => true,
            FourLetterWhitelist::Only(words) => words.contains(word),
        }
    }
}

impl Default for FourLetterWhitelist {
    fn default() -> Self {
        FourLetterWhitelist::Only(BTreeSet::from(["srvr"]))
    }
}

/// Everything the standalone server needs, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub tick_time_ms: u32,
    /// Snapshots go under `data_dir/version-2`.
    pub data_dir: PathBuf,
    /// Transaction logs go under `data_log_dir/version-2`; equal to `data_dir` unless set.
    pub data_log_dir: PathBuf,
    /// Where the client port listens (clientPortAddress, clientPort). Port 0 picks a free port.
    pub client_address: SocketAddr,
    /// Connections allowed from one source IP; 0 or less means unlimited (`NIOServerCnxnFactory` limits only
    /// above 0), and `conf` shows the value as set.
    pub max_client_cnxns: i32,
    /// Session timeout bounds, Java ints as in ZooKeeper: the defaults (2 and 20 ticks) wrap around as
    /// ZooKeeper's `int` arithmetic does, so a long tickTime can make them negative.
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// `maxCnxns` (`zookeeper.maxCnxns`): connections allowed in all; 0 means unlimited.
    pub max_cnxns: u32,
    /// Requests in process on the whole server past which a connection waiting for a reply is not read from
    /// (`ZooKeeperServer.shouldThrottle`); also the replies one connection may have unwritten before it is
    /// not read from.
    pub global_outstanding_limit: u32,
    pub four_letter_whitelist: FourLetterWhitelist,
    pub skip_acl: bool,
    /// `DigestAuthenticationProvider.superDigest`: `super:<base64 sha1>`.
    pub super_digest: Option<String>,
    /// `extendedTypesEnabled`: TTL nodes.
    pub extended_types: bool,
    /// `enforceQuota`: hard quota limits.
    pub enforce_quota: bool,
    /// `digest.enabled` (`zookeeper.digest.enabled`, on by default): txns carry the tree digest and applying
    /// one checks it.
    pub digest_enabled: bool,
    /// `-Djute.maxbuffer`: the largest frame and the largest field accepted.
    pub jute_max_buffer: usize,
    /// `-Dznode.container.checkIntervalMs`, `maxPerMinute`, `maxNeverUsedIntervalMs`.
    pub containers: ContainerConfig,
    pub sessionless_cnxn_timeout_ms: u32,
    /// The cap on bytes queued for one connection (no ZooKeeper equivalent, see the constant).
    pub outbound_queue_bytes_max: usize,
    /// `ferrokeeper.maxInFlightTxns` (no ZooKeeper equivalent, see the constant).
    pub in_flight_txns_max: usize,
    /// `ferrokeeper.maxInFlightTxnBytes` (no ZooKeeper equivalent, see the constant).
    pub in_flight_bytes_max: usize,
    /// snapCount, preAllocSize, forceSync, autopurge.*, snapshot.compression.method, ...
    pub storage: StorageSettings,
    /// The AdminServer, the metrics provider and the zoo.cfg text.
    pub ops: OpsSettings,
    /// The `server.N`, `group.N` and `weight.N` lines, checked; not acted on by a standalone server yet.
    pub ensemble: Ensemble,
    /// This member's part in the ensemble, when zoo.cfg describes one it serves.
    pub quorum: Option<ensemble::QuorumSettings>,
    /// The JVM flags the settings were read with (the AdminServer's `system_properties` lists them).
    pub jvm: JvmFlags,
    /// `enforce.auth.enabled` with `enforce.auth.schemes`: a session must have authenticated with one of these
    /// schemes before any request but auth and sasl is served. `None` when not enforced.
    pub enforce_auth_schemes: Option<Vec<String>>,
    /// Client SASL (DIGEST-MD5), when the JAAS file (`-Djava.security.auth.login.config`) has the server
    /// section (`sasl.serverconfig`, default `Server`).
    pub sasl: Option<crate::core::sasl::SaslConfig>,
    /// An `authProvider.N` names `SASLAuthenticationProvider`: `sasl` ACLs are served.
    pub sasl_provider: bool,
    /// `letAnySaslUserDoX`.
    pub let_any_sasl_user: Option<String>,
    /// `-Dreadonlymode.enabled=true`: an ensemble member cut off from its quorum serves reads to the clients
    /// that allow it while it looks for a leader (`QuorumPeer.run`, `ReadOnlyZooKeeperServer`).
    pub read_only_mode: bool,
    /// `localSessionsEnabled` on an ensemble member: its new sessions are local (`LocalSessionTracker`).
    pub local_sessions: bool,
    /// `localSessionsUpgradingEnabled`: an ephemeral create makes a local session global.
    pub local_sessions_upgrading: bool,
}

impl ServerConfig {
    /// The configuration of `ferrokeeper start` without a zoo.cfg: 127.0.0.1:2181, `./data`, tickTime 2000.
    pub fn standalone_default() -> ServerConfig {
        let tick_time_ms = 2000;
        ServerConfig {
            tick_time_ms,
            data_dir: PathBuf::from("data"),
            data_log_dir: PathBuf::from("data"),
            client_address: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 2181),
            max_client_cnxns: DEFAULT_MAX_CLIENT_CNXNS,
            max_cnxns: 0,
            min_session_timeout_ms: 2 * tick_time_ms as i32,
            max_session_timeout_ms: 20 * tick_time_ms as i32,
            global_outstanding_limit: DEFAULT_GLOBAL_OUTSTANDING_LIMIT,
            four_letter_whitelist: FourLetterWhitelist::default(),
            skip_acl: false,
            super_digest: None,
            extended_types: false,
            enforce_quota: false,
            digest_enabled: true,
            jute_max_buffer: jute::DEFAULT_MAX_BUFFER,
            containers: ContainerConfig::default(),
            sessionless_cnxn_timeout_ms: DEFAULT_SESSIONLESS_CNXN_TIMEOUT_MS,
            outbound_queue_bytes_max: DEFAULT_OUTBOUND_QUEUE_BYTES_MAX,
            in_flight_txns_max: DEFAULT_IN_FLIGHT_TXNS_MAX,
            in_flight_bytes_max: DEFAULT_IN_FLIGHT_BYTES_MAX,
            storage: StorageSettings::default(),
            // Without a zoo.cfg the server is a local one: no HTTP ports are opened unless asked for.
            ops: OpsSettings {
                admin: ops::AdminSettings {
                    enabled: false,
                    ..ops::AdminSettings::default()
                },
                ..OpsSettings::default()
            },
            ensemble: Ensemble::default(),
            quorum: None,
            jvm: JvmFlags::default(),
            enforce_auth_schemes: None,
            sasl: None,
            sasl_provider: false,
            let_any_sasl_user: None,
            read_only_mode: false,
            local_sessions: false,
            local_sessions_upgrading: false,
        }
    }

    /// Reads zoo.cfg at `path`, with the JVM-only settings from the JVM flags `zkServer.sh` would pass (the
    /// environment's, as `zookeeper-env.sh` and `java.env` beside zoo.cfg set them).
    pub fn from_file(path: &Path) -> Result<ServerConfig, ConfigError> {
        let file = File::open(path).map_err(|e| ConfigError::Read {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let mut entries = Vec::new();
        java_properties::PropertiesIter::new(BufReader::new(file))
            .read_into(|k, v| entries.push((k, v)))
            .map_err(|e| ConfigError::Read {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let jvm = JvmFlags::for_config_dir(dir);
        let mut config = ServerConfig::from_properties(&entries, &jvm)?;
        // Shown by `initial_configuration`: with passwords masked.
        config.ops.initial_config = std::fs::read_to_string(path)
            .ok()
            .map(|t| security::mask_secrets(&t));
        Ok(config)
    }

    /// Builds the configuration from zoo.cfg's entries, in file order (a later duplicate wins, as in Java),
    /// and the JVM flags.
    ///
    /// ZooKeeper turns each zoo.cfg key it does not parse itself into the system property `zookeeper.<key>`,
    /// overwriting a `-Dzookeeper.<key>` flag, and its modules read the property: so such a setting comes from
    /// zoo.cfg when zoo.cfg has it, else from the flag. The flags are applied first, then zoo.cfg over them.
    pub fn from_properties(
        entries: &[(String, String)],
        jvm: &JvmFlags,
    ) -> Result<ServerConfig, ConfigError> {
        let mut raw = RawConfig::default();
        for (key, value) in jvm.zookeeper_settings() {
            if entries.iter().any(|(k, _)| k.trim() == key) {
                continue;
            }
            // A flag for a key ferrokeeper does not know is some other module's business: nothing to warn about.
            raw.set(key, value.trim()).map_err(ConfigError::naming_jvm_flag)?;
        }
        for (key, value) in entries {
            let (key, value) = (key.trim(), value.trim());
            if !raw.set(key, value)? {
                tracing::warn!(key, value, "unknown zoo.cfg key ignored");
            }
        }
        raw.validate(jvm)
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{key} is not set")]
    Missing { key: &'static str },
    #[error("invalid value for {key}: {value:?} ({reason})")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("{key}={value} is not supported: {reason}; refusing to start rather than serve without it")]
    Unimplemented {
        key: String,
        value: String,
        reason: String,
    },
    #[error(
        "zoo.cfg describes an ensemble ferrokeeper cannot serve ({reason}); refusing to start rather than serve \
         it standalone, which would split the data between members"
    )]
    Ensemble { reason: String },
}

impl ConfigError {
    /// The error of a setting that came from the JVM flag `-Dzookeeper.<key>`, naming the flag.
    fn naming_jvm_flag(self) -> ConfigError {
        let flag = |key: String| format!("-Dzookeeper.{key}");
        match self {
            ConfigError::Invalid { key, value, reason } => ConfigError::Invalid {
                key: flag(key),
                value,
                reason,
            },
            ConfigError::Unimplemented { key, value, reason } => ConfigError::Unimplemented {
                key: flag(key),
                value,
                reason,
            },
            other => other,
        }
    }
}

/// The error of a refused value; a password's value is masked, so the error can be shown and logged.
fn invalid(key: &str, value: &str, reason: impl fmt::Display) -> ConfigError {
    let value = if is_secret_key(key) { MASKED } else { value };
    ConfigError::Invalid {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.to_string(),
    }
}

/// Parses a Java `int` (what `Integer.parseInt` accepts) that must be in `min..`.
fn parse_int(key: &str, value: &str, min: i64) -> Result<i64, ConfigError> {
    let n: i32 = value.parse().map_err(|e| invalid(key, value, e))?;
    if i64::from(n) < min {
        return Err(invalid(key, value, format_args!("must be at least {min}")));
    }
    Ok(i64::from(n))
}

/// Any Java `int` (`Integer.parseInt`).
fn parse_i32(key: &str, value: &str) -> Result<i32, ConfigError> {
    value.parse().map_err(|e| invalid(key, value, e))
}

/// A directory. Apache ZooKeeper exits on an empty one (a StringIndexOutOfBoundsException while checking the
/// path); taking it as the working directory would write the database wherever the server was started.
fn parse_dir(key: &str, value: &str) -> Result<PathBuf, ConfigError> {
    if value.trim().is_empty() {
        return Err(invalid(key, value, "empty: it must name a directory"));
    }
    Ok(PathBuf::from(value))
}

fn parse_u32(key: &str, value: &str, min: u32) -> Result<u32, ConfigError> {
    let n = parse_int(key, value, i64::from(min))?;
    u32::try_from(n).map_err(|e| invalid(key, value, e))
}

/// Keys Apache ZooKeeper 3.8/3.9 reads (`QuorumPeerConfig.parseProperties` and the `zookeeper.<key>` system
/// properties its modules read) that a standalone ferrokeeper does not act on yet: the ensemble's, TLS's, SASL's
/// and tuning knobs of ZooKeeper's own threads, none of which restricts access or opens a port on a standalone
/// server (those are refused, see `security`). They are noted, not warned about as unknown; those ZooKeeper
/// parses as numbers are still checked as it checks them, so a zoo.cfg ZooKeeper refuses is refused here too.
pub const ACCEPTED_IGNORED: &[&str] = &[
    "initLimit",
    "syncLimit",
    "connectToLearnerMasterLimit",
    "electionAlg",
    "electionPortBindRetry",
    "peerType",
    "reconfigEnabled",
    "syncEnabled",
    "observerMasterPort",
    "clientPortListenBacklog",
    "multiAddress.reachabilityCheckEnabled",
    "multiAddress.reachabilityCheckTimeoutMs",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "quorum.auth.enableSasl",
    "quorum.auth.learnerRequireSasl",
    "quorum.auth.serverRequireSasl",
    "quorum.auth.learner.saslLoginContext",
    "quorum.auth.server.saslLoginContext",
    "quorum.auth.kerberos.servicePrincipal",
    "quorum.cnxn.threads.size",
    "oraclePath",
    "commitLogCount",
    "closeSessionTxn.enabled",
    "serializeLastProcessedZxid.enabled",
    "emulate353TTLNodes",
    "leaderServes",
    "serverCnxnFactory",
    "metricsProvider.numWorkerThreads",
    "metricsProvider.maxQueueSize",
    "metricsProvider.workerShutdownTimeoutMs",
    "learner.asyncSending",
    "learner.closeSocketAsync",
    "leader.closeSocketAsync",
    "nio.numSelectorThreads",
    "nio.numWorkerThreads",
    "nio.directBufferBytes",
    "nio.shutdownTimeout",
    "netty.server.outstandingHandshake.limit",
    "connection_throttle_tokens",
    "connection_throttle_fill_time",
    "connection_throttle_fill_count",
    "connection_throttle_freeze_time",
    "connection_throttle_drop_increase",
    "connection_throttle_drop_decrease",
    "connection_throttle_decrease_ratio",
    "connection_throttle_weight_enabled",
    "request_throttle_max_requests",
    "request_throttle_stall_time",
    "request_throttle_drop_stale",
    "requestThrottleLimit",
    "largeRequestMaxBytes",
    "largeRequestThreshold",
    "maxBatchSize",
    "maxWriteQueuePollTime",
    "flushDelay",
    "watchManagerName",
];

/// The keys of [`ACCEPTED_IGNORED`] ZooKeeper parses as Java ints (`Integer.parseInt` in `parseProperties`, or
/// `Integer.getInteger` for the system properties), with the least value it takes.
const IGNORED_INTS: &[(&str, i64)] = &[
    ("initLimit", 0),
    ("syncLimit", 0),
    ("connectToLearnerMasterLimit", 0),
    ("electionAlg", 0),
    ("observerMasterPort", 0),
    ("clientPortListenBacklog", -1),
    ("multiAddress.reachabilityCheckTimeoutMs", 0),
    ("quorum.cnxn.threads.size", 1),
    ("commitLogCount", 0),
];

/// `maxCnxns` as `ServerCnxnFactory.initMaxCnxns` reads it: `Integer.getInteger`, where a value that is not a
/// Java int means "not set"; not set, and a negative value, mean 0 (no limit).
fn max_cnxns(value: Option<&str>) -> u32 {
    let Some(value) = value else { return 0 };
    match java_decode_int(value) {
        Some(n) if n >= 0 => n as u32,
        Some(n) => {
            tracing::warn!(
                max_cnxns = n,
                "maxCnxns should be greater than or equal to 0, using 0 (no limit)"
            );
            0
        }
        None => {
            tracing::warn!(value, "maxCnxns is not a number, using 0 (no limit)");
            0
        }
    }
}

/// `Integer.decode`: decimal, `0x`, `0X` or `#` hexadecimal, or octal after a leading 0, with an optional sign.
fn java_decode_int(value: &str) -> Option<i32> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value.strip_prefix('+').unwrap_or(value)),
    };
    let (radix, digits) = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
        .or_else(|| digits.strip_prefix('#'))
    {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    if digits.is_empty() || digits.starts_with(['-', '+']) {
        return None;
    }
    let magnitude = i64::from_str_radix(digits, radix).ok()?;
    i32::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// True for an ensemble setting whose value asks for what a ferrokeeper member does not do yet: quorum TLS and
/// SASL (which protect the quorum ports), observer masters and a leader that serves no clients. A member refuses to start with any of them.
fn quorum_unserved(key: &str, value: &str) -> bool {
    let on = value.trim().eq_ignore_ascii_case("true");
    match key {
        "sslQuorum"
        | "portUnification"
        | "quorum.auth.enableSasl"
        | "quorum.auth.learnerRequireSasl"
        | "quorum.auth.serverRequireSasl" => on,
        "observerMasterPort" => value.trim().parse::<i64>().is_ok_and(|p| p > 0),
        "leaderServes" => value.trim().eq_ignore_ascii_case("no"),
        _ => false,
    }
}

/// Checks a key ZooKeeper reads but ferrokeeper does not act on, as strictly as ZooKeeper does.
fn check_ignored(key: &str, value: &str) -> Result<(), ConfigError> {
    if let Some((_, min)) = IGNORED_INTS.iter().find(|(k, _)| *k == key) {
        parse_int(key, value, *min)?;
    }
    match key {
        // FastLeaderElection (3) is the only election ZooKeeper still has.
        "electionAlg" if value != "3" => Err(invalid(key, value, "only electionAlg=3 is supported")),
        "peerType"
            if !value.eq_ignore_ascii_case("observer") && !value.eq_ignore_ascii_case("participant") =>
        {
            Err(invalid(key, value, "must be \"observer\" or \"participant\""))
        }
        _ => Ok(()),
    }
}

/// zoo.cfg as read, before defaults that depend on other keys are filled in.
#[derive(Default)]
struct RawConfig {
    tick_time_ms: Option<u32>,
    data_dir: Option<PathBuf>,
    data_log_dir: Option<PathBuf>,
    client_port: Option<u16>,
    client_port_address: Option<(String, Option<IpAddr>)>,
    max_client_cnxns: Option<i32>,
    max_cnxns: Option<String>,
    min_session_timeout_ms: Option<i64>,
    max_session_timeout_ms: Option<i64>,
    global_outstanding_limit: Option<u32>,
    four_letter_whitelist: Option<FourLetterWhitelist>,
    skip_acl: bool,
    super_digest: Option<String>,
    extended_types: bool,
    enforce_quota: bool,
    digest_enabled: Option<String>,
    sessionless_cnxn_timeout_ms: Option<u32>,
    in_flight_txns_max: Option<u32>,
    in_flight_bytes_max: Option<u32>,
    outbound_queue_bytes_max: Option<u32>,
    storage: StorageSettings,
    ops: ops::RawOps,
    /// `server.N`, `group.N`, `weight.N` in file order, parsed once every key is known.
    ensemble_lines: Vec<(String, String)>,
    multi_address: Option<bool>,
    listen_on_all_ips: bool,
    standalone_enabled: Option<bool>,
    init_limit: Option<u32>,
    sync_limit: Option<u32>,
    local_sessions: bool,
    local_sessions_upgrading: bool,
    /// Ensemble settings that are set to something ferrokeeper does not serve yet, as (key, value).
    quorum_unserved: Vec<(String, String)>,
    security: security::RawSecurity,
}

impl RawConfig {
    /// Applies one setting; false when the key is not one ZooKeeper reads.
    fn set(&mut self, key: &str, value: &str) -> Result<bool, ConfigError> {
        match key {
            "tickTime" => self.tick_time_ms = Some(parse_u32(key, value, 1)?),
            "dataDir" => self.data_dir = Some(parse_dir(key, value)?),
            "dataLogDir" => self.data_log_dir = Some(parse_dir(key, value)?),
            "clientPort" => {
                let port = parse_u32(key, value, 0)?;
                self.client_port = Some(u16::try_from(port).map_err(|e| invalid(key, value, e))?);
            }
            "clientPortAddress" => self.client_port_address = Some((value.to_owned(), value.parse().ok())),
            "maxClientCnxns" => self.max_client_cnxns = Some(parse_i32(key, value)?),
            // ZooKeeper sets it as the system property `zookeeper.maxCnxns`, over the JVM flag.
            "maxCnxns" => self.max_cnxns = Some(value.to_owned()),
            // -1 means "derive from tickTime", as in QuorumPeerConfig.
            "minSessionTimeout" => self.min_session_timeout_ms = Some(parse_int(key, value, -1)?),
            "maxSessionTimeout" => self.max_session_timeout_ms = Some(parse_int(key, value, -1)?),
            "globalOutstandingLimit" => self.global_outstanding_limit = Some(parse_u32(key, value, 1)?),
            "4lw.commands.whitelist" => self.four_letter_whitelist = Some(FourLetterWhitelist::parse(value)),
            "skipACL" => self.skip_acl = parse_yes_no(key, value),
            "DigestAuthenticationProvider.superDigest" => self.super_digest = Some(value.to_owned()),
            "extendedTypesEnabled" => self.extended_types = parse_java_bool(key, value),
            "enforceQuota" => self.enforce_quota = parse_java_bool(key, value),
            // ZooKeeper sets it as the system property `zookeeper.digest.enabled`, over the JVM flag.
            "digest.enabled" => self.digest_enabled = Some(value.to_owned()),
            "nio.sessionlessCnxnTimeout" => {
                self.sessionless_cnxn_timeout_ms = Some(parse_u32(key, value, 1)?)
            }
            // ferrokeeper's own bounds on the txns in flight (Apache ZooKeeper has none).
            "ferrokeeper.maxInFlightTxns" => self.in_flight_txns_max = Some(parse_u32(key, value, 1)?),
            "ferrokeeper.maxInFlightTxnBytes" => self.in_flight_bytes_max = Some(parse_u32(key, value, 1)?),
            "ferrokeeper.maxQueuedReplyBytes" => {
                self.outbound_queue_bytes_max = Some(parse_u32(key, value, 1)?)
            }
            _ if ops::KEYS.contains(&key) => self.ops.set(key, value),
            _ if StorageSettings::KEYS.contains(&key) => {
                self.storage.set(key, value).map_err(|reason| invalid(key, value, reason))?
            }
            _ if JVM_ONLY.contains(&key) => tracing::warn!(
                key,
                "this setting has no effect in zoo.cfg (as in ZooKeeper); set it as -D{key}=... in SERVER_JVMFLAGS"
            ),
            _ if ensemble::PREFIXES.iter().any(|p| key.starts_with(p)) => {
                self.ensemble_lines.push((key.to_owned(), value.to_owned()));
            }
            "multiAddress.enabled" => self.multi_address = Some(parse_java_bool(key, value)),
            "quorumListenOnAllIPs" => self.listen_on_all_ips = parse_java_bool(key, value),
            "standaloneEnabled" => self.standalone_enabled = Some(parse_strict_bool(key, value)?),
            _ if security::handles(key) => self.security.set(key, value)?,
            "initLimit" => self.init_limit = Some(parse_u32(key, value, 0)?),
            "syncLimit" => self.sync_limit = Some(parse_u32(key, value, 0)?),
            "localSessionsEnabled" | "localSessionsUpgradingEnabled" => {
                let on = parse_strict_bool(key, value)?;
                if key == "localSessionsEnabled" {
                    self.local_sessions = on;
                } else {
                    self.local_sessions_upgrading = on;
                }
            }
            _ if ACCEPTED_IGNORED.contains(&key) => {
                check_ignored(key, value)?;
                if quorum_unserved(key, value) {
                    self.quorum_unserved.push((key.to_owned(), value.to_owned()));
                }
                tracing::info!(key, value, "setting not used by ferrokeeper")
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn validate(self, jvm: &JvmFlags) -> Result<ServerConfig, ConfigError> {
        let tick_time_ms = self.tick_time_ms.unwrap_or(DEFAULT_TICK_TIME_MS);
        let data_dir = self.data_dir.ok_or(ConfigError::Missing { key: "dataDir" })?;
        let data_log_dir = self.data_log_dir.unwrap_or_else(|| data_dir.clone());
        // `QuorumServer` reads server lines with the system property only, whatever zoo.cfg says; zoo.cfg's
        // `multiAddress.enabled` still decides the election handshake (`QuorumPeerConfig`).
        let several_addresses = jvm
            .get("zookeeper.multiAddress.enabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let multi_address = self.multi_address.unwrap_or(several_addresses);
        let ensemble = Ensemble::parse(&self.ensemble_lines, several_addresses)?;
        let static_address = match (self.client_port, self.client_port_address) {
            (None, _) => None,
            (Some(port), None) => Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)),
            (Some(port), Some((_, Some(ip)))) => Some(SocketAddr::new(ip, port)),
            (Some(port), Some((host, None))) => Some(SocketAddr::new(resolve(&host, port)?, port)),
        };
        let client_address = match static_address {
            Some(address) => address,
            None => ensemble
                .own_client_address(&data_dir)?
                .ok_or(ConfigError::Missing { key: "clientPort" })?,
        };
        let min = session_timeout(self.min_session_timeout_ms, 2, tick_time_ms);
        let max = session_timeout(self.max_session_timeout_ms, 20, tick_time_ms);
        if min > max {
            return Err(invalid(
                "minSessionTimeout",
                &min.to_string(),
                format_args!("must not be larger than maxSessionTimeout ({max})"),
            ));
        }
        let quorum = match ensemble.check_standalone(self.standalone_enabled.unwrap_or(true)) {
            Ok(()) => None,
            Err(ConfigError::Ensemble { reason }) => Some(ensemble::QuorumSettings::check(
                &ensemble,
                &data_dir,
                &reason,
                self.init_limit,
                self.sync_limit,
                multi_address,
            )?),
            Err(e) => return Err(e),
        };
        let quorum = quorum.map(|mut q| {
            q.listen_on_all_ips = self.listen_on_all_ips;
            q
        });
        if quorum.is_some() {
            if let Some((key, value)) = self.quorum_unserved.first() {
                return Err(ConfigError::Unimplemented {
                    key: key.clone(),
                    value: value.clone(),
                    reason: "an ensemble member does not serve it yet".into(),
                });
            }
        }
        // `Boolean.getBoolean`: "true" in any case. Only a member has a quorum to lose: a standalone server
        // ignores it, as ZooKeeper's does.
        let read_only_mode = jvm
            .get("readonlymode.enabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if read_only_mode {
            if quorum.is_some() {
                tracing::info!("readonlymode.enabled: serving reads while cut off from the quorum");
            } else {
                tracing::info!(
                    "readonlymode.enabled only lets an ensemble member that lost its quorum serve reads; a \
                     standalone server has no quorum to lose and ignores it, as ZooKeeper's does"
                );
            }
        }
        let read_only_mode = read_only_mode && quorum.is_some();
        // A standalone server ignores the setting, as ZooKeeper's does.
        let local_sessions = self.local_sessions && quorum.is_some();
        let mut four_letter_whitelist = self.four_letter_whitelist.unwrap_or_default();
        // `FourLetterCommands.isEnabled`: `isro` is always allowed when the property is exactly "true".
        if jvm.get("readonlymode.enabled") == Some("true") {
            four_letter_whitelist.allow("isro");
        }
        let security = self.security.validate(jvm)?;
        Ok(ServerConfig {
            tick_time_ms,
            data_dir,
            data_log_dir,
            client_address,
            max_client_cnxns: self.max_client_cnxns.unwrap_or(DEFAULT_MAX_CLIENT_CNXNS),
            max_cnxns: max_cnxns(self.max_cnxns.as_deref().or(jvm.get("zookeeper.maxCnxns"))),
            min_session_timeout_ms: min,
            max_session_timeout_ms: max,
            global_outstanding_limit: self
                .global_outstanding_limit
                .unwrap_or(DEFAULT_GLOBAL_OUTSTANDING_LIMIT),
            four_letter_whitelist,
            skip_acl: self.skip_acl,
            super_digest: self.super_digest,
            extended_types: self.extended_types,
            enforce_quota: self.enforce_quota,
            digest_enabled: self
                .digest_enabled
                .as_deref()
                .or(jvm.get("zookeeper.digest.enabled"))
                .is_none_or(|v| parse_java_bool("digest.enabled", v)),
            jute_max_buffer: jvm.jute_max_buffer()?,
            containers: jvm.containers()?,
            sessionless_cnxn_timeout_ms: self
                .sessionless_cnxn_timeout_ms
                .unwrap_or(DEFAULT_SESSIONLESS_CNXN_TIMEOUT_MS),
            outbound_queue_bytes_max: self
                .outbound_queue_bytes_max
                .map_or(DEFAULT_OUTBOUND_QUEUE_BYTES_MAX, |n| n as usize),
            in_flight_txns_max: self
                .in_flight_txns_max
                .map_or(DEFAULT_IN_FLIGHT_TXNS_MAX, |n| n as usize),
            in_flight_bytes_max: self
                .in_flight_bytes_max
                .map_or(DEFAULT_IN_FLIGHT_BYTES_MAX, |n| n as usize),
            storage: StorageSettings {
                // ZooKeeper sets it as the system property `zookeeper.snapshotSizeFactor`, over the JVM flag.
                snapshot_size_factor: self.storage.snapshot_size_factor.or_else(|| {
                    jvm.get("zookeeper.snapshotSizeFactor")
                        .map(crate::storage::diff::SnapshotSizeFactor::parse)
                }),
                ..self.storage
            },
            ops: self.ops.validate(jvm)?,
            ensemble,
            quorum,
            jvm: jvm.clone(),
            enforce_auth_schemes: security.enforce_auth_schemes,
            sasl: security.sasl,
            sasl_provider: security.sasl_provider,
            let_any_sasl_user: security.let_any_sasl_user,
            read_only_mode,
            local_sessions,
            local_sessions_upgrading: self.local_sessions_upgrading,
        })
    }
}

/// ZooKeeper reads `zookeeper.skipACL` as "yes" or anything else (no).
fn parse_yes_no(key: &str, value: &str) -> bool {
    match value {
        "yes" => true,
        "no" => false,
        _ => {
            tracing::warn!(key, value, "ZooKeeper reads any value but \"yes\" as \"no\"");
            false
        }
    }
}

/// `QuorumPeerConfig.parseBoolean`: "true" or "false" in any case, anything else an error.
fn parse_strict_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(invalid(key, value, "choose 'true' or 'false'"))
    }
}

/// `Boolean.parseBoolean`: "true" in any case is true, anything else false.
fn parse_java_bool(key: &str, value: &str) -> bool {
    if value.eq_ignore_ascii_case("true") {
        return true;
    }
    if !value.eq_ignore_ascii_case("false") {
        tracing::warn!(key, value, "ZooKeeper reads any value but \"true\" as false");
    }
    false
}

/// A session timeout bound: as set, or `ticks` × tickTime when absent or -1, computed as ZooKeeper computes it
/// (`QuorumPeerConfig.parseProperties`, in Java `int`s, which wrap around: tickTime=2000000000 gives
/// minSessionTimeout=-294967296 and maxSessionTimeout=1345294336 there, and here).
fn session_timeout(value: Option<i64>, ticks: i32, tick_time_ms: u32) -> i32 {
    match value {
        None | Some(-1) => (tick_time_ms as i32).wrapping_mul(ticks),
        Some(ms) => ms as i32,
    }
}

fn resolve(host: &str, port: u16) -> Result<IpAddr, ConfigError> {
    let mut addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| invalid("clientPortAddress", host, e))?;
    addrs
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| invalid("clientPortAddress", host, "resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Result<ServerConfig, ConfigError> {
        let mut entries = Vec::new();
        java_properties::PropertiesIter::new(text.as_bytes())
            .read_into(|k, v| entries.push((k, v)))
            .expect("properties");
        ServerConfig::from_properties(&entries, &JvmFlags::default())
    }

    #[test]
    fn minimal_zoo_cfg_gets_zookeeper_defaults() {
        let c = cfg("dataDir=/var/zk\nclientPort=2181\n").expect("config");
        assert_eq!(c.tick_time_ms, 3000);
        assert_eq!(c.data_log_dir, PathBuf::from("/var/zk"));
        assert_eq!(c.client_address, "0.0.0.0:2181".parse().expect("addr"));
        assert_eq!(c.max_client_cnxns, 60);
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (6000, 60000)
        );
        assert_eq!(c.global_outstanding_limit, 1000);
        assert_eq!(c.jute_max_buffer, 0xfffff);
        assert!(c.four_letter_whitelist.allows("srvr"));
        assert!(!c.four_letter_whitelist.allows("ruok"));
        assert!(!c.skip_acl);
    }

    #[test]
    fn sample_zoo_cfg_is_read_with_its_values() {
        let text = "# The number of milliseconds of each tick\ntickTime = 2000\ninitLimit=10\nsyncLimit=5\n\
                    dataDir=/tmp/zookeeper\ndataLogDir=/tmp/zklog\nclientPort=2182\nclientPortAddress=127.0.0.1\n\
                    maxClientCnxns=0\nminSessionTimeout=1000\nglobalOutstandingLimit=5\n\
                    4lw.commands.whitelist=ruok, mntr ,bogus\nskipACL=yes\nsomething.unknown=1\n";
        let c = cfg(text).expect("config");
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!(c.data_log_dir, PathBuf::from("/tmp/zklog"));
        assert_eq!(c.client_address, "127.0.0.1:2182".parse().expect("addr"));
        assert_eq!(c.max_client_cnxns, 0);
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (1000, 40000)
        );
        assert_eq!(c.global_outstanding_limit, 5);
        for w in ["ruok", "mntr", "srvr"] {
            assert!(c.four_letter_whitelist.allows(w), "{w}");
        }
        assert!(!c.four_letter_whitelist.allows("conf"));
        assert!(c.skip_acl);
    }

    #[test]
    fn star_whitelists_every_command() {
        let c = cfg("dataDir=d\nclientPort=1\n4lw.commands.whitelist=*\n").expect("config");
        assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::All);
    }

    #[test]
    fn bad_values_name_the_key_and_value() {
        let err = cfg("dataDir=d\nclientPort=abc\n").expect_err("bad port");
        assert!(
            matches!(&err, ConfigError::Invalid { key, value, .. } if key == "clientPort" && value == "abc")
        );
        assert!(err.to_string().contains("clientPort") && err.to_string().contains("abc"));
        let err = cfg("dataDir=d\nclientPort=70000\n").expect_err("port range");
        assert!(matches!(err, ConfigError::Invalid { key, .. } if key == "clientPort"));
        let err = cfg("dataDir=d\nclientPort=1\ntickTime=0\n").expect_err("tick");
        assert!(matches!(err, ConfigError::Invalid { key, .. } if key == "tickTime"));
        let err = cfg("dataDir=d\nclientPort=1\nmaxClientCnxns=x\n").expect_err("cnxns");
        assert!(matches!(err, ConfigError::Invalid { key, .. } if key == "maxClientCnxns"));
    }

    #[test]
    fn values_zookeeper_accepts_are_taken_as_it_takes_them() {
        // Checked against Apache ZooKeeper 3.8.0's `conf`.
        let c = cfg("dataDir=d\nclientPort=1\ntickTime=2000000000\n").expect("long tick");
        assert_eq!(c.tick_time_ms, 2_000_000_000);
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (-294_967_296, 1_345_294_336)
        );
        let c = cfg("dataDir=d\nclientPort=1\nmaxClientCnxns=-5\n").expect("negative cnxns");
        assert_eq!(c.max_client_cnxns, -5);
        let c = cfg("dataDir=d\nclientPort=1\nmaxClientCnxns=0\n").expect("no limit");
        assert_eq!(c.max_client_cnxns, 0);
    }

    #[test]
    fn an_empty_data_dir_is_refused_by_name() {
        // Apache ZooKeeper exits on these; taking "" as the working directory would scatter the database.
        for text in [
            "dataDir=\nclientPort=1\n",
            "dataDir= \nclientPort=1\n",
            "dataDir=d\ndataLogDir=\nclientPort=1\n",
        ] {
            let err = cfg(text).expect_err(text);
            assert!(
                matches!(&err, ConfigError::Invalid { key, .. } if key.starts_with("data")),
                "{text}: {err}"
            );
            assert!(err.to_string().contains("empty"), "{err}");
        }
    }

    #[test]
    fn missing_required_keys_are_errors() {
        assert_eq!(
            cfg("clientPort=1\n"),
            Err(ConfigError::Missing { key: "dataDir" })
        );
        assert_eq!(
            cfg("dataDir=d\n"),
            Err(ConfigError::Missing { key: "clientPort" })
        );
    }

    #[test]
    fn min_session_timeout_above_max_is_refused() {
        let err = cfg("dataDir=d\nclientPort=1\nminSessionTimeout=5000\nmaxSessionTimeout=4000\n")
            .expect_err("min > max");
        assert!(matches!(err, ConfigError::Invalid { key, .. } if key == "minSessionTimeout"));
        let derived =
            cfg("dataDir=d\nclientPort=1\nminSessionTimeout=-1\nmaxSessionTimeout=8000\n").expect("ok");
        assert_eq!(
            (derived.min_session_timeout_ms, derived.max_session_timeout_ms),
            (6000, 8000)
        );
        let err = cfg("dataDir=d\nclientPort=1\nmaxSessionTimeout=4000\n").expect_err("derived min > max");
        assert!(matches!(err, ConfigError::Invalid { key, .. } if key == "minSessionTimeout"));
    }

    #[test]
    fn java_booleans_for_extended_types_and_quota() {
        let c =
            cfg("dataDir=d\nclientPort=1\nextendedTypesEnabled=TRUE\nenforceQuota=yes\n").expect("config");
        assert!(c.extended_types);
        assert!(!c.enforce_quota, "Boolean.parseBoolean reads \"yes\" as false");
    }

    #[test]
    fn digests_and_the_snapshot_size_factor_come_from_zoo_cfg_over_the_jvm_flags() {
        let with = |line: &str, flags: &str| {
            let mut entries = vec![("dataDir".to_string(), "d".to_string())];
            entries.push(("clientPort".into(), "1".into()));
            if let Some((k, v)) = line.split_once('=') {
                entries.push((k.into(), v.into()));
            }
            ServerConfig::from_properties(&entries, &JvmFlags::parse(flags)).expect("config")
        };
        assert!(with("", "").digest_enabled, "on by default");
        assert!(!with("digest.enabled=false", "").digest_enabled);
        assert!(!with("", "-Dzookeeper.digest.enabled=false").digest_enabled);
        assert!(with("digest.enabled=true", "-Dzookeeper.digest.enabled=false").digest_enabled);
        let factor = |c: ServerConfig| c.storage.snapshot_size_factor.unwrap_or_default().value();
        assert_eq!(factor(with("", "")), 0.33);
        assert_eq!(factor(with("snapshotSizeFactor=-1", "")), -1.0);
        assert_eq!(factor(with("", "-Dzookeeper.snapshotSizeFactor=0.5")), 0.5);
        assert_eq!(
            factor(with("snapshotSizeFactor=2", "")),
            0.33,
            "above 1: the default"
        );
    }

    #[test]
    fn max_cnxns_is_read_as_integer_get_integer_reads_it_and_zoo_cfg_wins() {
        let with = |line: &str, flags: &str| {
            let mut entries = vec![("dataDir".to_string(), "d".to_string())];
            entries.push(("clientPort".into(), "1".into()));
            if let Some((k, v)) = line.split_once('=') {
                entries.push((k.into(), v.into()));
            }
            ServerConfig::from_properties(&entries, &JvmFlags::parse(flags))
                .expect("config")
                .max_cnxns
        };
        assert_eq!(with("", ""), 0);
        assert_eq!(with("maxCnxns=5", ""), 5);
        assert_eq!(with("maxCnxns=0x10", ""), 16);
        assert_eq!(with("maxCnxns=010", ""), 8);
        assert_eq!(with("maxCnxns=-3", ""), 0);
        assert_eq!(with("maxCnxns=many", ""), 0);
        assert_eq!(with("maxCnxns=99999999999", ""), 0);
        assert_eq!(with("", "-Dzookeeper.maxCnxns=7"), 7);
        assert_eq!(with("maxCnxns=2", "-Dzookeeper.maxCnxns=7"), 2);
    }

    #[test]
    fn ferrokeeper_bounds_have_defaults_and_keys() {
        let c = cfg("dataDir=d\nclientPort=1\n").expect("config");
        assert_eq!(
            (
                c.outbound_queue_bytes_max,
                c.in_flight_txns_max,
                c.in_flight_bytes_max
            ),
            (16 << 20, 1000, 64 << 20)
        );
        let c = cfg("dataDir=d\nclientPort=1\nferrokeeper.maxQueuedReplyBytes=1000\n\
                     ferrokeeper.maxInFlightTxns=7\nferrokeeper.maxInFlightTxnBytes=4096\n")
        .expect("config");
        assert_eq!(
            (
                c.outbound_queue_bytes_max,
                c.in_flight_txns_max,
                c.in_flight_bytes_max
            ),
            (1000, 7, 4096)
        );
        assert!(cfg("dataDir=d\nclientPort=1\nferrokeeper.maxInFlightTxns=0\n").is_err());
    }

    #[test]
    fn jute_maxbuffer_in_zoo_cfg_has_no_effect() {
        let c = cfg("dataDir=d\nclientPort=1\njute.maxbuffer=10\n").expect("config");
        assert_eq!(c.jute_max_buffer, 0xfffff);
    }

    #[test]
    fn default_start_listens_on_loopback_2181() {
        let c = ServerConfig::standalone_default();
        assert_eq!(c.client_address, "127.0.0.1:2181".parse().expect("addr"));
        assert_eq!(c.tick_time_ms, 2000);
        assert_eq!(
            (c.min_session_timeout_ms, c.max_session_timeout_ms),
            (4000, 40000)
        );
        assert_eq!(c.data_dir, PathBuf::from("data"));
    }

    #[test]
    fn read_only_mode_comes_only_from_the_jvm_flag_and_only_for_a_member() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("myid"), "1\n").expect("myid");
        let with = |extra: &str, flags: &str| {
            let text = format!(
                "dataDir={}\nclientPort=2181\ninitLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.2:2888:3888\n\
                 server.3=127.0.0.3:2888:3888\n{extra}",
                dir.path().display()
            );
            let mut entries = Vec::new();
            java_properties::PropertiesIter::new(text.as_bytes())
                .read_into(|k, v| entries.push((k, v)))
                .expect("properties");
            ServerConfig::from_properties(&entries, &JvmFlags::parse(flags)).expect("config")
        };
        let on = with("", "-Dreadonlymode.enabled=true");
        assert!(on.read_only_mode);
        assert!(on.four_letter_whitelist.allows("isro"));
        // `Boolean.getBoolean` reads any case; the whitelist only adds `isro` for "true" as written.
        let upper = with("", "-Dreadonlymode.enabled=TRUE");
        assert!(upper.read_only_mode);
        assert!(!upper.four_letter_whitelist.allows("isro"));
        assert!(!with("", "").read_only_mode);
        assert!(!with("", "-Dreadonlymode.enabled=yes").read_only_mode);
        // zoo.cfg's key becomes the property `zookeeper.readonlymode.enabled`, which ZooKeeper never reads.
        assert!(!with("readonlymode.enabled=true\n", "").read_only_mode);
        assert!(!with("", "-Dzookeeper.readonlymode.enabled=true").read_only_mode);
        let standalone = cfg("dataDir=d\nclientPort=1\n");
        assert!(!standalone.expect("config").read_only_mode);
        let mut entries = vec![("dataDir".to_string(), "d".to_string())];
        entries.push(("clientPort".into(), "1".into()));
        let flagged =
            ServerConfig::from_properties(&entries, &JvmFlags::parse("-Dreadonlymode.enabled=true"))
                .expect("config");
        assert!(!flagged.read_only_mode);
        assert!(flagged.four_letter_whitelist.allows("isro"));
    }

    #[test]
    fn local_sessions_are_a_member_setting() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("myid"), "1\n").expect("myid");
        let with = |extra: &str, flags: &str| {
            let text = format!(
                "dataDir={}\nclientPort=2181\ninitLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:2888:3888\n\
                 server.2=127.0.0.2:2888:3888\nserver.3=127.0.0.3:2888:3888\n{extra}",
                dir.path().display()
            );
            let mut entries = Vec::new();
            java_properties::PropertiesIter::new(text.as_bytes())
                .read_into(|k, v| entries.push((k, v)))
                .expect("properties");
            ServerConfig::from_properties(&entries, &JvmFlags::parse(flags))
        };
        let c = with(
            "localSessionsEnabled=true\nlocalSessionsUpgradingEnabled=TRUE\n",
            "",
        )
        .expect("config");
        assert!(c.local_sessions && c.local_sessions_upgrading);
        let c = with("localSessionsEnabled=true\n", "").expect("config");
        assert!(c.local_sessions && !c.local_sessions_upgrading);
        // `QuorumPeerConfig.parseBoolean`: only true or false.
        assert!(with("localSessionsEnabled=yes\n", "").is_err());
        let c = with("localSessionsEnabled=true\n", "-Dreadonlymode.enabled=true").expect("config");
        assert!(c.local_sessions && c.read_only_mode);
        // A standalone server ignores it.
        let standalone = cfg("dataDir=d\nclientPort=1\nlocalSessionsEnabled=true\n").expect("config");
        assert!(!standalone.local_sessions);
    }
}
