//! The access-control settings of zoo.cfg (and of the `-Dzookeeper.<key>` flags that stand for them): those
//! ferrokeeper implements, and those it refuses to start with.
//!
//! A setting that would restrict who may do what (an authentication provider, SASL, audit, turning digest auth
//! off, another digest algorithm) or open a port (TLS) and that ferrokeeper does not implement stops the start
//! with an error naming the key: serving without it would hand the operator's data to clients the operator
//! meant to keep out. The settings ferrokeeper does implement are read as ZooKeeper reads them: `enforce.auth.enabled` and
//! `enforce.auth.schemes` (`AuthenticationHelper`), checked against the schemes a standalone server has
//! (`ProviderRegistry`: ip and digest).

use super::{invalid, ConfigError};

/// The authentication provider classes ferrokeeper has built in (`ProviderRegistry.initialize`): naming them in
/// `authProvider.N` changes nothing.
const BUILT_IN_PROVIDERS: &[&str] = &[
    "org.apache.zookeeper.server.auth.IPAuthenticationProvider",
    "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
];

/// The schemes every connection can authenticate with: `ip` (added to each connection's ids when it connects)
/// and `digest`.
const SCHEMES: &[&str] = &["ip", "digest"];

/// Which values of a refused setting change nothing, and so are accepted.
enum Harmless {
    /// None: any value asks for what is not implemented.
    Never,
    /// Anything `Boolean.parseBoolean` reads as false (anything but "true", in any case).
    NotTrue,
    /// These values, in any case.
    Values(&'static [&'static str]),
}

/// Why each unimplemented setting is refused, by key or key prefix, and the values that are harmless.
struct Refused {
    key: &'static str,
    prefix: bool,
    harmless: Harmless,
    reason: &'static str,
}

const REFUSED: &[Refused] = &[
    Refused {
        key: "secureClientPort",
        prefix: false,
        harmless: Harmless::Never,
        reason: "TLS client connections are not implemented (the port would not be opened)",
    },
    Refused {
        key: "secureClientPortAddress",
        prefix: false,
        harmless: Harmless::Never,
        reason: "TLS client connections are not implemented (the port would not be opened)",
    },
    Refused {
        key: "client.portUnification",
        prefix: false,
        harmless: Harmless::NotTrue,
        reason: "TLS on the client port is not implemented",
    },
    Refused {
        key: "ssl.",
        prefix: true,
        harmless: Harmless::Never,
        reason: "TLS is not implemented",
    },
    Refused {
        key: "sessionRequireClientSASLAuth",
        prefix: false,
        harmless: Harmless::NotTrue,
        reason: "SASL authentication is not implemented",
    },
    Refused {
        key: "audit.enable",
        prefix: false,
        harmless: Harmless::NotTrue,
        reason: "the audit log is not implemented",
    },
    Refused {
        key: "DigestAuthenticationProvider.enabled",
        prefix: false,
        harmless: Harmless::Values(&["true"]),
        reason: "turning digest authentication off is not implemented",
    },
    Refused {
        key: "DigestAuthenticationProvider.digestAlg",
        prefix: false,
        // MessageDigest names for SHA-1, ZooKeeper's default.
        harmless: Harmless::Values(&["SHA1", "SHA-1", "SHA"]),
        reason: "digest ids are computed with SHA-1 only",
    },
    Refused {
        key: "dynamicConfigFile",
        prefix: false,
        harmless: Harmless::Never,
        reason: "a separate dynamic configuration file is not read; ensembles are not served yet",
    },
];

/// Keys this module reads (exactly, or by prefix with a trailing dot).
pub(super) fn handles(key: &str) -> bool {
    key.starts_with("authProvider.")
        || key == "enforce.auth.enabled"
        || key == "enforce.auth.schemes"
        || REFUSED.iter().any(|r| matches(r, key))
}

fn matches(r: &Refused, key: &str) -> bool {
    if r.prefix {
        key.starts_with(r.key)
    } else {
        key == r.key
    }
}

/// `enforce.auth.*` as read so far.
#[derive(Debug, Default)]
pub(super) struct RawSecurity {
    enforce_auth_enabled: bool,
    enforce_auth_schemes: Option<String>,
}

impl RawSecurity {
    /// Applies one key that [`handles`] accepts; refuses what is not implemented.
    pub(super) fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        if key.starts_with("authProvider.") {
            if BUILT_IN_PROVIDERS.contains(&value) {
                return Ok(());
            }
            return Err(unimplemented(
                key,
                value,
                "only the built-in ip and digest authentication providers are implemented",
            ));
        }
        match key {
            "enforce.auth.enabled" => self.enforce_auth_enabled = value.eq_ignore_ascii_case("true"),
            "enforce.auth.schemes" => self.enforce_auth_schemes = Some(value.to_owned()),
            _ => {
                if let Some(r) = REFUSED.iter().find(|r| matches(r, key)) {
                    let harmless = match r.harmless {
                        Harmless::Never => false,
                        Harmless::NotTrue => !value.eq_ignore_ascii_case("true"),
                        Harmless::Values(values) => values.iter().any(|v| value.eq_ignore_ascii_case(v)),
                    };
                    if !harmless {
                        return Err(unimplemented(key, value, r.reason));
                    }
                }
            }
        }
        Ok(())
    }

    /// The schemes a session must have authenticated with before its first request, when
    /// `enforce.auth.enabled` is true; refused as ZooKeeper refuses it (no schemes, or a scheme no provider
    /// serves).
    pub(super) fn validate(self) -> Result<Option<Vec<String>>, ConfigError> {
        if !self.enforce_auth_enabled {
            return Ok(None);
        }
        let text = self.enforce_auth_schemes.unwrap_or_default();
        // String.split(","), which drops trailing empty parts, then each part trimmed.
        let mut parts: Vec<&str> = text.split(',').collect();
        while parts.last().is_some_and(|s| s.is_empty()) {
            parts.pop();
        }
        let schemes: Vec<String> = parts.iter().map(|s| s.trim().to_owned()).collect();
        if schemes.is_empty() {
            return Err(invalid(
                "enforce.auth.schemes",
                "",
                "must be set when enforce.auth.enabled is true",
            ));
        }
        if let Some(bad) = schemes.iter().find(|s| !SCHEMES.contains(&s.as_str())) {
            return Err(invalid(
                "enforce.auth.schemes",
                &text,
                format_args!("authentication scheme {bad:?} is not available (ip, digest)"),
            ));
        }
        Ok(Some(schemes))
    }
}

fn unimplemented(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Unimplemented {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, value: &str) -> Result<(), ConfigError> {
        RawSecurity::default().set(key, value)
    }

    #[test]
    fn unimplemented_security_settings_are_refused_naming_the_key() {
        for (key, value) in [
            ("secureClientPort", "2281"),
            ("secureClientPortAddress", "0.0.0.0"),
            ("client.portUnification", "true"),
            ("ssl.keyStore.location", "/etc/zk/keystore.jks"),
            ("ssl.quorum.trustStore.location", "/etc/zk/trust.jks"),
            ("sessionRequireClientSASLAuth", "TRUE"),
            ("audit.enable", "true"),
            ("DigestAuthenticationProvider.enabled", "false"),
            ("DigestAuthenticationProvider.digestAlg", "SHA3-256"),
            (
                "authProvider.1",
                "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
            ),
            (
                "authProvider.x509",
                "org.apache.zookeeper.server.auth.X509AuthenticationProvider",
            ),
            ("dynamicConfigFile", "/etc/zk/zoo.cfg.dynamic"),
        ] {
            let err = set(key, value).expect_err(key);
            assert!(
                matches!(&err, ConfigError::Unimplemented { key: k, value: v, .. } if k == key && v == value),
                "{key}: {err:?}"
            );
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn harmless_values_and_built_in_providers_are_accepted() {
        for (key, value) in [
            ("client.portUnification", "false"),
            ("sessionRequireClientSASLAuth", "no"),
            ("audit.enable", "false"),
            ("DigestAuthenticationProvider.enabled", "TRUE"),
            ("DigestAuthenticationProvider.digestAlg", "sha-1"),
            (
                "authProvider.1",
                "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
            ),
            (
                "authProvider.ip",
                "org.apache.zookeeper.server.auth.IPAuthenticationProvider",
            ),
        ] {
            assert_eq!(set(key, value), Ok(()), "{key}={value}");
        }
    }

    #[test]
    fn enforce_auth_needs_available_schemes() {
        let validate = |enabled: &str, schemes: Option<&str>| {
            let mut raw = RawSecurity::default();
            raw.set("enforce.auth.enabled", enabled).expect("enabled");
            if let Some(s) = schemes {
                raw.set("enforce.auth.schemes", s).expect("schemes");
            }
            raw.validate()
        };
        assert_eq!(validate("false", Some("sasl")), Ok(None));
        assert_eq!(
            validate("true", Some(" digest , ip")),
            Ok(Some(vec!["digest".to_owned(), "ip".to_owned()]))
        );
        assert!(validate("true", None).is_err());
        for bad in ["sasl", "digest,super", "x509", "digest,,ip"] {
            let err = validate("true", Some(bad)).expect_err(bad);
            assert!(err.to_string().contains("enforce.auth.schemes"), "{err}");
        }
    }
}
