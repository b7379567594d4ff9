//! Settings of the operator interfaces: the AdminServer (`admin.*` in zoo.cfg, `-Dzookeeper.admin.*` on the
//! JVM command line; zoo.cfg wins, because `QuorumPeerConfig` copies unknown zoo.cfg keys into system
//! properties after the JVM set its own) and the metrics provider (`metricsProvider.*`, zoo.cfg only). Defaults
//! are `JettyAdminServer`'s and `PrometheusMetricsProvider`'s.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};

use super::{invalid, parse_java_bool, parse_u32, ConfigError, JvmFlags};

/// `metricsProvider.className` that turns on the Prometheus endpoint.
pub const PROMETHEUS_PROVIDER: &str = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
/// The provider ZooKeeper uses when none is named: it only feeds `mntr`.
pub const DEFAULT_PROVIDER: &str = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider";

/// The AdminServer (`JettyAdminServer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSettings {
    /// `admin.enableServer` (true).
    pub enabled: bool,
    /// `admin.serverAddress` (0.0.0.0) and `admin.serverPort` (8080); port 0 picks a free one.
    pub address: SocketAddr,
    /// `admin.commandURL` (`/commands`).
    pub command_url: String,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            enabled: true,
            address: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080),
            command_url: "/commands".to_owned(),
        }
    }
}

/// Everything the operator interfaces need.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpsSettings {
    pub admin: AdminSettings,
    /// Where /metrics is served (`metricsProvider.httpHost`:`httpPort`, 0.0.0.0:7000), when
    /// `metricsProvider.className` names the Prometheus provider.
    pub prometheus: Option<SocketAddr>,
    /// The text of zoo.cfg as read (`initial_configuration`).
    pub initial_config: Option<String>,
}

/// zoo.cfg keys read here.
pub(super) const KEYS: &[&str] = &[
    "admin.enableServer",
    "admin.serverAddress",
    "admin.serverPort",
    "admin.commandURL",
    "admin.idleTimeout",
    "metricsProvider.className",
    "metricsProvider.httpHost",
    "metricsProvider.httpPort",
    "metricsProvider.exportJvmInfo",
];

/// The ops keys of zoo.cfg and the JVM flags, before validation.
#[derive(Debug, Default)]
pub(super) struct RawOps {
    admin: Vec<(String, String)>,
    provider: Option<String>,
    http_host: Option<String>,
    http_port: Option<String>,
}

impl RawOps {
    pub(super) fn set(&mut self, key: &str, value: &str) {
        match key {
            "metricsProvider.className" => self.provider = Some(value.to_owned()),
            "metricsProvider.httpHost" => self.http_host = Some(value.to_owned()),
            "metricsProvider.httpPort" => self.http_port = Some(value.to_owned()),
            // The JVM's collectors have no counterpart in a process without a JVM.
            "metricsProvider.exportJvmInfo" => {}
            _ => self.admin.push((key.to_owned(), value.to_owned())),
        }
    }

    pub(super) fn validate(self, jvm: &JvmFlags) -> Result<OpsSettings, ConfigError> {
        let mut admin = Vec::new();
        for key in [
            "enableServer",
            "serverAddress",
            "serverPort",
            "commandURL",
            "idleTimeout",
        ] {
            if let Some(v) = jvm.get(&format!("zookeeper.admin.{key}")) {
                admin.push((format!("admin.{key}"), v.to_owned()));
            }
        }
        admin.extend(self.admin);
        let admin = admin_settings(&admin)?;
        let prometheus = match self.provider.as_deref() {
            Some(PROMETHEUS_PROVIDER) => {
                let host = self.http_host.as_deref().unwrap_or("0.0.0.0");
                let port = match self.http_port.as_deref() {
                    Some(p) => port("metricsProvider.httpPort", p)?,
                    None => 7000,
                };
                Some(SocketAddr::new(resolve("metricsProvider.httpHost", host)?, port))
            }
            None | Some(DEFAULT_PROVIDER) => None,
            Some(other) => {
                tracing::warn!(
                    class = other,
                    "metricsProvider.className names a provider ferrokeeper does not have; metrics are only in mntr"
                );
                None
            }
        };
        Ok(OpsSettings {
            admin,
            prometheus,
            initial_config: None,
        })
    }
}

fn admin_settings(entries: &[(String, String)]) -> Result<AdminSettings, ConfigError> {
    let mut s = AdminSettings::default();
    let mut host = None;
    let mut port_value = None;
    for (key, value) in entries {
        match key.as_str() {
            "admin.enableServer" => s.enabled = parse_java_bool(key, value),
            "admin.serverAddress" => host = Some(value.clone()),
            "admin.serverPort" => port_value = Some(port(key, value)?),
            "admin.commandURL" => {
                if !value.starts_with('/') {
                    return Err(invalid(key, value, "must start with /"));
                }
                s.command_url = value.trim_end_matches('/').to_owned();
            }
            "admin.idleTimeout" => {
                parse_u32(key, value, 1)?;
                tracing::info!(
                    key,
                    value,
                    "idle HTTP connections are kept as the HTTP server decides"
                );
            }
            _ => {}
        }
    }
    if let Some(host) = host {
        s.address.set_ip(resolve("admin.serverAddress", &host)?);
    }
    if let Some(p) = port_value {
        s.address.set_port(p);
    }
    Ok(s)
}

fn port(key: &str, value: &str) -> Result<u16, ConfigError> {
    let n = parse_u32(key, value, 0)?;
    u16::try_from(n).map_err(|e| invalid(key, value, e))
}

fn resolve(key: &str, host: &str) -> Result<IpAddr, ConfigError> {
    if let Ok(ip) = host.parse() {
        return Ok(ip);
    }
    (host, 0)
        .to_socket_addrs()
        .map_err(|e| invalid(key, host, e))?
        .next()
        .map(|a| a.ip())
        .ok_or_else(|| invalid(key, host, "resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(entries: &[(&str, &str)], jvm: &str) -> Result<OpsSettings, ConfigError> {
        let mut raw = RawOps::default();
        for (k, v) in entries {
            raw.set(k, v);
        }
        raw.validate(&JvmFlags::parse(jvm))
    }

    #[test]
    fn defaults_are_jettys_and_prometheus_is_off() {
        let s = ops(&[], "").expect("ops");
        assert_eq!(s.admin, AdminSettings::default());
        assert_eq!(s.admin.address, "0.0.0.0:8080".parse().expect("addr"));
        assert_eq!(s.prometheus, None);
    }

    #[test]
    fn zoo_cfg_wins_over_jvm_flags() {
        let s = ops(
            &[("admin.serverPort", "9090"), ("admin.commandURL", "/cmds/")],
            "-Dzookeeper.admin.serverPort=1 -Dzookeeper.admin.serverAddress=127.0.0.1 -Dzookeeper.admin.enableServer=false",
        )
        .expect("ops");
        assert_eq!(s.admin.address, "127.0.0.1:9090".parse().expect("addr"));
        assert!(!s.admin.enabled);
        assert_eq!(s.admin.command_url, "/cmds");
    }

    #[test]
    fn prometheus_provider_opens_port_7000_by_default() {
        let s = ops(&[("metricsProvider.className", PROMETHEUS_PROVIDER)], "").expect("ops");
        assert_eq!(s.prometheus, Some("0.0.0.0:7000".parse().expect("addr")));
        let s = ops(
            &[
                ("metricsProvider.className", PROMETHEUS_PROVIDER),
                ("metricsProvider.httpHost", "127.0.0.1"),
                ("metricsProvider.httpPort", "0"),
            ],
            "",
        )
        .expect("ops");
        assert_eq!(s.prometheus, Some("127.0.0.1:0".parse().expect("addr")));
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = ops(&[("admin.serverPort", "eighty")], "").expect_err("bad port");
        assert!(matches!(err, ConfigError::Invalid { key, .. } if key == "admin.serverPort"));
        let err = ops(
            &[
                ("metricsProvider.className", PROMETHEUS_PROVIDER),
                ("metricsProvider.httpPort", "70000"),
            ],
            "",
        )
        .expect_err("bad port");
        assert!(matches!(err, ConfigError::Invalid { key, .. } if key == "metricsProvider.httpPort"));
    }
}
