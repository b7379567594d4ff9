//! The `-Dname=value` system properties of a JVM command line. Apache ZooKeeper reads some settings only as
//! system properties (`jute.maxbuffer` in `BinaryInputArchive`, `znode.container.*` in `ContainerManager`),
//! so an operator sets them in `SERVER_JVMFLAGS` or `JVMFLAGS`, in the environment or in the scripts
//! `zkEnv.sh` sources from the configuration directory (`zookeeper-env.sh`, then `java.env`); ferrokeeper
//! reads the same variables from the same places, in the same order.

use std::collections::HashMap;
use std::path::Path;

use super::{invalid, ConfigError};
use crate::core::containers::ContainerConfig;

/// JVM system properties that zoo.cfg cannot set.
pub(super) const JVM_ONLY: &[&str] = &[
    "jute.maxbuffer",
    "znode.container.checkIntervalMs",
    "znode.container.maxPerMinute",
    "znode.container.maxNeverUsedIntervalMs",
];

/// zoo.cfg keys `QuorumPeerConfig.parseProperties` reads itself (exactly, or by prefix when ending in a dot):
/// ZooKeeper never looks at a `-Dzookeeper.<key>` flag for them.
const PARSED_BY_QUORUM_PEER_CONFIG: &[&str] = &[
    "dataDir",
    "dataLogDir",
    "clientPort",
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "clientPortAddress",
    "secureClientPort",
    "secureClientPortAddress",
    "observerMasterPort",
    "clientPortListenBacklog",
    "tickTime",
    "maxClientCnxns",
    "minSessionTimeout",
    "maxSessionTimeout",
    "initLimit",
    "syncLimit",
    "connectToLearnerMasterLimit",
    "electionAlg",
    "quorumListenOnAllIPs",
    "peerType",
    "syncEnabled",
    "dynamicConfigFile",
    "autopurge.snapRetainCount",
    "autopurge.purgeInterval",
    "standaloneEnabled",
    "reconfigEnabled",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "server.",
    "group",
    "weight",
    "quorum.auth.",
    "quorum.cnxn.threads.size",
    "metricsProvider.",
    "multiAddress.",
    "oraclePath",
];

/// The `-Dname=value` system properties of a JVM command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JvmFlags {
    properties: Vec<(String, String)>,
}

impl JvmFlags {
    /// The flags of `SERVER_JVMFLAGS` then `JVMFLAGS`, in the order `zkServer.sh` puts them on the java
    /// command line.
    pub fn from_env() -> JvmFlags {
        let server = std::env::var("SERVER_JVMFLAGS").unwrap_or_default();
        let common = std::env::var("JVMFLAGS").unwrap_or_default();
        JvmFlags::parse(&format!("{server} {common}"))
    }

    /// The flags `zkServer.sh` would give the JVM for the zoo.cfg in `config_dir`: the environment's
    /// `SERVER_JVMFLAGS` and `JVMFLAGS`, as `zookeeper-env.sh` and then `java.env` in that directory set them
    /// (zkEnv.sh sources both; a later assignment wins, and `$VAR`/`${VAR}` expand to the value so far).
    pub fn for_config_dir(config_dir: &Path) -> JvmFlags {
        let mut vars: HashMap<String, String> = HashMap::new();
        for name in ["SERVER_JVMFLAGS", "JVMFLAGS"] {
            vars.insert(name.to_owned(), std::env::var(name).unwrap_or_default());
        }
        for script in ["zookeeper-env.sh", "java.env"] {
            if let Ok(text) = std::fs::read_to_string(config_dir.join(script)) {
                apply_env_script(&text, &mut vars);
            }
        }
        JvmFlags::parse(&format!("{} {}", vars["SERVER_JVMFLAGS"], vars["JVMFLAGS"]))
    }

    /// Collects the `-D` flags of a whitespace-separated command line.
    pub fn parse(flags: &str) -> JvmFlags {
        let properties = flags
            .split_whitespace()
            .filter_map(|flag| flag.strip_prefix("-D"))
            .map(|p| match p.split_once('=') {
                Some((name, value)) => (name.to_owned(), value.to_owned()),
                None => (p.to_owned(), String::new()),
            })
            .collect();
        JvmFlags { properties }
    }

    /// Every property, in command-line order.
    pub fn properties(&self) -> impl Iterator<Item = (&str, &str)> {
        self.properties.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of property `name`; the last flag wins, as in the JVM.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `-Dzookeeper.<key>=value` flags that stand for a zoo.cfg key (ZooKeeper sets each zoo.cfg key it
    /// does not parse itself as `zookeeper.<key>`, and reads that property), as `(key, value)` in command-line
    /// order. The AdminServer's `zookeeper.admin.*` are left to `ops`, and the JVM-only names (`jute.maxbuffer`)
    /// mean nothing with the prefix.
    pub(super) fn zookeeper_settings(&self) -> impl Iterator<Item = (&str, &str)> {
        self.properties().filter_map(|(name, value)| {
            let key = name.strip_prefix("zookeeper.")?;
            let parsed = PARSED_BY_QUORUM_PEER_CONFIG.iter().any(|k| {
                if k.ends_with('.') || *k == "group" || *k == "weight" {
                    key.starts_with(k)
                } else {
                    key == *k
                }
            });
            let skip = parsed || key.starts_with("admin.") || JVM_ONLY.contains(&key);
            (!skip).then_some((key, value))
        })
    }

    /// A positive integer property, decimal or `0x` hex as `Integer.decode` reads it.
    fn positive(&self, name: &str) -> Result<Option<u64>, ConfigError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let parsed = match value.strip_prefix("0x").or_else(|| value.strip_prefix("0X")) {
            Some(hex) => i64::from_str_radix(hex, 16),
            None => value.parse::<i64>(),
        };
        match parsed {
            Ok(n) if n > 0 && n <= i64::from(i32::MAX) => Ok(Some(n as u64)),
            Ok(_) => Err(invalid(name, value, "must be a positive int")),
            Err(e) => Err(invalid(name, value, e)),
        }
    }

    /// `jute.maxbuffer` (default 0xfffff).
    pub fn jute_max_buffer(&self) -> Result<usize, ConfigError> {
        Ok(self
            .positive("jute.maxbuffer")?
            .map_or(jute::DEFAULT_MAX_BUFFER, |n| n as usize))
    }

    /// `znode.container.*` (`ContainerManager` settings).
    pub fn containers(&self) -> Result<ContainerConfig, ConfigError> {
        let defaults = ContainerConfig::default();
        let max_per_minute = match self.positive("znode.container.maxPerMinute")? {
            Some(n) => {
                u32::try_from(n).map_err(|e| invalid("znode.container.maxPerMinute", &n.to_string(), e))?
            }
            None => defaults.max_per_minute,
        };
        let never_used = match self.get("znode.container.maxNeverUsedIntervalMs") {
            None => defaults.max_never_used_interval_ms,
            Some(v) => v
                .parse::<u64>()
                .map_err(|e| invalid("znode.container.maxNeverUsedIntervalMs", v, e))?,
        };
        Ok(ContainerConfig {
            check_interval_ms: self
                .positive("znode.container.checkIntervalMs")?
                .unwrap_or(defaults.check_interval_ms),
            max_per_minute,
            max_never_used_interval_ms: never_used,
        })
    }
}

/// Applies the `[export ]SERVER_JVMFLAGS=...` and `[export ]JVMFLAGS=...` assignments of a sourced shell script
/// (values bare, in double quotes with `$VAR`/`${VAR}` expanded, or in single quotes taken as written). Other
/// lines (comments, other variables, shell logic) do not change the JVM's flags and are skipped.
fn apply_env_script(text: &str, vars: &mut HashMap<String, String>) {
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((name, raw)) = line.split_once('=') else {
            continue;
        };
        if !vars.contains_key(name) {
            continue;
        }
        let value = if let Some(quoted) = raw.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            quoted.to_owned()
        } else {
            let unquoted = raw
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or(raw);
            expand(unquoted, vars)
        };
        vars.insert(name.to_owned(), value);
    }
}

/// `$NAME` and `${NAME}`: the script's value so far for the two flag variables, else the environment's.
fn expand(text: &str, vars: &HashMap<String, String>) -> String {
    let lookup = |name: &str| {
        vars.get(name)
            .cloned()
            .unwrap_or_else(|| std::env::var(name).unwrap_or_default())
    };
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, tail) = if let Some(braced) = after.strip_prefix('{') {
            match braced.split_once('}') {
                Some((name, tail)) => (name, tail),
                None => ("", after),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        if name.is_empty() {
            out.push('$');
        } else {
            out.push_str(&lookup(name));
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_env_and_zookeeper_env_set_the_flags_as_zkenv_sources_them() {
        let mut vars: HashMap<String, String> = [
            ("SERVER_JVMFLAGS".to_owned(), "-Dfrom.env=1".to_owned()),
            ("JVMFLAGS".to_owned(), String::new()),
        ]
        .into_iter()
        .collect();
        apply_env_script(
            "# zookeeper-env.sh\nexport JVMFLAGS=\"-Xmx2g -Djute.maxbuffer=4194304\"\nZOO_LOG_DIR=/var/log/zk\n",
            &mut vars,
        );
        apply_env_script(
            "SERVER_JVMFLAGS=\"$SERVER_JVMFLAGS -Dzookeeper.extendedTypesEnabled=true\"\n\
             if [ -n \"$X\" ]; then\n  :\nfi\n\
             export JVMFLAGS=\"${JVMFLAGS} -Dznode.container.checkIntervalMs=1000\"\n\
             JVMFLAGS_UNUSED='-Dnot.read=1'\n",
            &mut vars,
        );
        let flags = JvmFlags::parse(&format!("{} {}", vars["SERVER_JVMFLAGS"], vars["JVMFLAGS"]));
        assert_eq!(flags.get("from.env"), Some("1"));
        assert_eq!(flags.get("zookeeper.extendedTypesEnabled"), Some("true"));
        assert_eq!(flags.jute_max_buffer(), Ok(4_194_304));
        assert_eq!(flags.containers().map(|c| c.check_interval_ms), Ok(1000));
        assert_eq!(flags.get("not.read"), None);
        apply_env_script("SERVER_JVMFLAGS='-Dliteral=$HOME'\n", &mut vars);
        assert_eq!(vars["SERVER_JVMFLAGS"], "-Dliteral=$HOME");
    }

    #[test]
    fn the_scripts_beside_zoo_cfg_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("java.env"),
            "export SERVER_JVMFLAGS=\"-Djute.maxbuffer=8192\"\n",
        )
        .expect("write java.env");
        let flags = JvmFlags::for_config_dir(dir.path());
        assert_eq!(flags.jute_max_buffer(), Ok(8192));
    }

    #[test]
    fn jute_maxbuffer_comes_from_the_last_jvm_flag() {
        let max = |flags: &str| JvmFlags::parse(flags).jute_max_buffer();
        assert_eq!(max(""), Ok(0xfffff));
        assert_eq!(max("-Xmx1g -Djute.maxbuffer=4096"), Ok(4096));
        assert_eq!(
            max("-Djute.maxbuffer=10 -Dother=1 -Djute.maxbuffer=0x200000"),
            Ok(0x200000)
        );
        assert!(matches!(
            max("-Djute.maxbuffer=lots"),
            Err(ConfigError::Invalid { key, value, .. }) if key == "jute.maxbuffer" && value == "lots"
        ));
        assert!(max("-Djute.maxbuffer=-1").is_err());
        assert!(max("-Djute.maxbuffer=4294967296").is_err());
        assert_eq!(max("-Djute.maxbuffer.extra=5"), Ok(0xfffff));
    }

    #[test]
    fn container_settings_come_from_jvm_flags() {
        let flags =
            JvmFlags::parse("-Dznode.container.checkIntervalMs=3600000 -Dznode.container.maxPerMinute=5");
        let c = flags.containers().expect("containers");
        assert_eq!((c.check_interval_ms, c.max_per_minute), (3_600_000, 5));
        assert_eq!(c.max_never_used_interval_ms, 0);
        let bad = JvmFlags::parse("-Dznode.container.maxNeverUsedIntervalMs=soon").containers();
        assert!(
            matches!(bad, Err(ConfigError::Invalid { key, .. }) if key == "znode.container.maxNeverUsedIntervalMs")
        );
    }
}
