//! The access-control settings of zoo.cfg (and of the `-Dzookeeper.<key>` flags that stand for them): those
//! ferrokeeper implements, and those it refuses to start with.
//!
//! A setting that would restrict who may do what (an authentication provider, SASL, audit, turning digest auth
//! off, another digest algorithm) or open a port (TLS) and that ferrokeeper does not implement stops the start
//! with an error naming the key: serving without it would hand the operator's data to clients the operator
//! meant to keep out. The settings ferrokeeper does implement are read as ZooKeeper reads them: `enforce.auth.enabled`,
//! `enforce.auth.schemes` and `sessionRequireClientSASLAuth` (`AuthenticationHelper`), checked against the schemes
//! the server has (`ProviderRegistry`: ip, digest, and sasl when an `authProvider.N` names
//! `SASLAuthenticationProvider`); client SASL with DIGEST-MD5 from the JAAS file's server section
//! (`ServerCnxnFactory.configureSaslLogin`, see `jaas`) and the `zookeeper.*` properties its classes read.

use std::collections::BTreeMap;
use std::path::Path;

use super::{invalid, jaas, ConfigError, JvmFlags};
use crate::core::sasl::{SaslConfig, Secret};

/// The authentication provider classes ferrokeeper has built in (`ProviderRegistry.initialize`): naming them in
/// `authProvider.N` changes nothing.
const BUILT_IN_PROVIDERS: &[&str] = &[
    "org.apache.zookeeper.server.auth.IPAuthenticationProvider",
    "org.apache.zookeeper.server.auth.DigestAuthenticationProvider",
];

/// The provider of the `sasl` scheme.
const SASL_PROVIDER: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";

/// The login module whose `user_<name>` options are the DIGEST-MD5 users.
const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";

/// The JVM property naming the JAAS file.
pub(super) const JAAS_PROPERTY: &str = "java.security.auth.login.config";

/// The schemes every connection can authenticate with: `ip` (added to each connection's ids when it connects)
/// and `digest`; `sasl` joins them when its provider is configured.
const SCHEMES: &[&str] = &["ip", "digest"];

/// The `zookeeper.<key>` properties of SASL that are read as given (`ZooKeeperSaslServer`,
/// `SaslServerCallbackHandler`, `SASLAuthenticationProvider`, `ZooKeeperServer`).
const SASL_KEYS: &[&str] = &[
    "sasl.serverconfig",
    "SASLAuthenticationProvider.superPassword",
    "allowSaslFailedClients",
    "letAnySaslUserDoX",
    "kerberos.removeHostFromPrincipal",
    "kerberos.removeRealmFromPrincipal",
];

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
        || key == "sessionRequireClientSASLAuth"
        || is_super_user_key(key)
        || SASL_KEYS.contains(&key)
        || REFUSED.iter().any(|r| matches(r, key))
}

fn matches(r: &Refused, key: &str) -> bool {
    if r.prefix {
        key.starts_with(r.key)
    } else {
        key == r.key
    }
}

/// `zookeeper.superUser` and `zookeeper.superUser.<anything>` (`ZooKeeperServer.isSaslSuperUser`).
fn is_super_user_key(key: &str) -> bool {
    key.strip_prefix("superUser")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The access-control settings as read so far.
#[derive(Debug, Default)]
pub(super) struct RawSecurity {
    enforce_auth_enabled: bool,
    enforce_auth_schemes: Option<String>,
    session_require_sasl: bool,
    sasl_provider: bool,
    /// The SASL_KEYS and superUser keys but the password, by key (a later setting wins).
    sasl: BTreeMap<String, String>,
    super_password: Option<Secret>,
}

/// The access-control settings, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    /// The schemes one of which a connection must have before anything but auth and sasl is served.
    pub enforce_auth_schemes: Option<Vec<String>>,
    /// The SASL server, when the JAAS file has the server section.
    pub sasl: Option<SaslConfig>,
    /// `SASLAuthenticationProvider` is configured: the `sasl` scheme serves ACLs.
    pub sasl_provider: bool,
    /// `letAnySaslUserDoX`.
    pub let_any_sasl_user: Option<String>,
}

impl RawSecurity {
    /// Applies one key that [`handles`] accepts; refuses what is not implemented.
    pub(super) fn set(&mut self, key: &str, value: &str) -> Result<(), ConfigError> {
        if key.starts_with("authProvider.") {
            if value == SASL_PROVIDER {
                self.sasl_provider = true;
                return Ok(());
            }
            if BUILT_IN_PROVIDERS.contains(&value) {
                return Ok(());
            }
            return Err(unimplemented(
                key,
                value,
                "only the ip, digest and SASL authentication providers are implemented",
            ));
        }
        if key == "SASLAuthenticationProvider.superPassword" {
            self.super_password = Some(Secret::new(value));
            return Ok(());
        }
        if SASL_KEYS.contains(&key) || is_super_user_key(key) {
            self.sasl.insert(key.to_owned(), value.to_owned());
            return Ok(());
        }
        match key {
            "sessionRequireClientSASLAuth" => self.session_require_sasl = value.eq_ignore_ascii_case("true"),
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

    /// Validates the settings: the enforced schemes must be ones a provider serves (`AuthenticationHelper`),
    /// and the JAAS file, when one is named, must read and parse.
    pub(super) fn validate(self, jvm: &JvmFlags) -> Result<Security, ConfigError> {
        let enforce_auth_schemes = self.enforced_schemes()?;
        let sasl = self.sasl_config(jvm)?;
        Ok(Security {
            enforce_auth_schemes,
            sasl,
            sasl_provider: self.sasl_provider,
            let_any_sasl_user: self.sasl.get("letAnySaslUserDoX").cloned(),
        })
    }

    /// The schemes a session must have authenticated with before its first request: `sasl` alone when
    /// `sessionRequireClientSASLAuth` is true (over `enforce.auth.*`), else `enforce.auth.schemes` when
    /// `enforce.auth.enabled` is true. Refused as ZooKeeper refuses it (no schemes, or a scheme no provider
    /// serves).
    fn enforced_schemes(&self) -> Result<Option<Vec<String>>, ConfigError> {
        let available = |s: &str| SCHEMES.contains(&s) || s == "sasl" && self.sasl_provider;
        if self.session_require_sasl {
            if !available("sasl") {
                return Err(invalid(
                    "sessionRequireClientSASLAuth",
                    "true",
                    format_args!("authentication scheme \"sasl\" is not available: no authProvider.N names {SASL_PROVIDER}"),
                ));
            }
            return Ok(Some(vec!["sasl".to_owned()]));
        }
        if !self.enforce_auth_enabled {
            return Ok(None);
        }
        let text = self.enforce_auth_schemes.clone().unwrap_or_default();
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
        if let Some(bad) = schemes.iter().find(|s| !available(s)) {
            let have = if self.sasl_provider {
                "ip, digest, sasl"
            } else {
                "ip, digest"
            };
            return Err(invalid(
                "enforce.auth.schemes",
                &text,
                format_args!("authentication scheme {bad:?} is not available ({have})"),
            ));
        }
        Ok(Some(schemes))
    }

    /// The SASL server of `ServerCnxnFactory.configureSaslLogin`: none without a JAAS file or without its server
    /// section (ZooKeeper then serves without SASL); a file that cannot be read or parsed stops the start, and so
    /// does a server section with a login module other than DigestLoginModule (Kerberos is not implemented).
    fn sasl_config(&self, jvm: &JvmFlags) -> Result<Option<SaslConfig>, ConfigError> {
        let Some(raw_path) = jvm.get(JAAS_PROPERTY) else {
            return Ok(None);
        };
        // `-D...config==path` replaces the JDK's other login configurations; `file:` URLs name a path.
        let path = raw_path.trim_start_matches('=');
        let path = path
            .strip_prefix("file://")
            .or_else(|| path.strip_prefix("file:"))
            .unwrap_or(path);
        let bad = |reason: String| invalid(JAAS_PROPERTY, raw_path, reason);
        let text = std::fs::read_to_string(Path::new(path))
            .map_err(|e| bad(format!("cannot read the JAAS file: {e}")))?;
        let sections =
            jaas::parse(&text, jvm).map_err(|e| bad(format!("the JAAS file does not parse: {e}")))?;
        let section = self
            .sasl
            .get("sasl.serverconfig")
            .map_or("Server", String::as_str);
        let Some(entries) = sections.get(section) else {
            tracing::info!(
                section,
                file = path,
                "the JAAS file has no section for the server: clients are served without SASL, as ZooKeeper serves them"
            );
            return Ok(None);
        };
        let mut credentials = BTreeMap::new();
        for entry in entries {
            if entry.module != DIGEST_LOGIN_MODULE {
                return Err(unimplemented(
                    JAAS_PROPERTY,
                    raw_path,
                    &format!(
                        "section {section} logs in with {}: only {DIGEST_LOGIN_MODULE} (DIGEST-MD5) is implemented, \
                         not Kerberos or other login modules",
                        entry.module
                    ),
                ));
            }
            for (key, value) in &entry.options {
                if let Some(user) = key.strip_prefix("user_") {
                    credentials.insert(user.to_owned(), Secret::new(value.clone()));
                }
            }
        }
        let is_true = |key: &str| self.sasl.get(key).is_some_and(|v| v == "true");
        tracing::info!(
            section,
            users = credentials.len(),
            "SASL (DIGEST-MD5) is served to clients"
        );
        Ok(Some(SaslConfig {
            credentials,
            super_password: self.super_password.clone(),
            super_users: self
                .sasl
                .iter()
                .filter(|(k, _)| is_super_user_key(k))
                .map(|(_, v)| v.clone())
                .collect(),
            allow_failed_clients: self
                .sasl
                .get("allowSaslFailedClients")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            remove_host: is_true("kerberos.removeHostFromPrincipal"),
            remove_realm: is_true("kerberos.removeRealmFromPrincipal"),
        }))
    }
}

/// What operator pages show instead of a secret's value.
pub const MASKED: &str = "********";

/// A setting whose value is a password (`SASLAuthenticationProvider.superPassword`, the `ssl.*` and
/// `javax.net.ssl.*` store passwords): operator pages show [`MASKED`] for it. Apache ZooKeeper lists them as set
/// (`system_properties`, `initial_configuration`); ferrokeeper does not let a page reveal a password.
pub fn is_secret_key(key: &str) -> bool {
    key.to_ascii_lowercase().contains("password")
}

/// zoo.cfg's text with the value of every [`is_secret_key`] line masked, lines otherwise as written.
pub fn mask_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_start();
        let key_end = body.find(['=', ':', ' ', '\t']).unwrap_or(body.len());
        if !body.starts_with(['#', '!']) && key_end < body.len() && is_secret_key(&body[..key_end]) {
            let indent = &line[..line.len() - body.len()];
            let newline = if line.ends_with('\n') { "\n" } else { "" };
            out.push_str(&format!("{indent}{}={MASKED}{newline}", &body[..key_end]));
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The error of a setting that is not implemented; a password's value is masked.
fn unimplemented(key: &str, value: &str, reason: &str) -> ConfigError {
    let value = if is_secret_key(key) { MASKED } else { value };
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
            ("audit.enable", "true"),
            ("DigestAuthenticationProvider.enabled", "false"),
            ("DigestAuthenticationProvider.digestAlg", "SHA3-256"),
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
            ("authProvider.1", SASL_PROVIDER),
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
            raw.validate(&JvmFlags::default()).map(|s| s.enforce_auth_schemes)
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

    fn validated(settings: &[(&str, &str)], jvm: &str) -> Result<Security, ConfigError> {
        let mut raw = RawSecurity::default();
        for (k, v) in settings {
            raw.set(k, v)?;
        }
        raw.validate(&JvmFlags::parse(jvm))
    }

    #[test]
    fn sasl_requirement_needs_the_sasl_provider_and_wins_over_enforce_auth() {
        let err = validated(&[("sessionRequireClientSASLAuth", "true")], "").expect_err("no provider");
        assert!(err.to_string().contains("sessionRequireClientSASLAuth"), "{err}");
        let ok = validated(
            &[
                ("authProvider.1", SASL_PROVIDER),
                ("enforce.auth.enabled", "true"),
                ("enforce.auth.schemes", "digest"),
                ("sessionRequireClientSASLAuth", "True"),
            ],
            "",
        )
        .expect("valid");
        assert_eq!(ok.enforce_auth_schemes, Some(vec!["sasl".to_owned()]));
        assert!(ok.sasl_provider);
        let schemes = validated(
            &[
                ("authProvider.sasl", SASL_PROVIDER),
                ("enforce.auth.enabled", "true"),
                ("enforce.auth.schemes", "digest,sasl"),
            ],
            "",
        );
        assert_eq!(
            schemes.map(|s| s.enforce_auth_schemes),
            Ok(Some(vec!["digest".to_owned(), "sasl".to_owned()]))
        );
    }

    #[test]
    fn the_jaas_server_section_gives_the_digest_users() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("jaas.conf");
        std::fs::write(
            &path,
            "Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_bob=\"pw\"; };\n\
             Other { org.apache.zookeeper.server.auth.DigestLoginModule required user_eve=\"x\"; };",
        )
        .expect("write");
        let flag = format!("-D{JAAS_PROPERTY}={}", path.display());
        let settings = [
            ("superUser", "bob"),
            ("superUser.2", "carol"),
            ("SASLAuthenticationProvider.superPassword", "topsecret"),
            ("allowSaslFailedClients", "TRUE"),
        ];
        let sasl = validated(&settings, &flag).expect("valid").sasl.expect("sasl");
        assert_eq!(sasl.credentials.keys().collect::<Vec<_>>(), ["bob"]);
        assert_eq!(sasl.super_users, ["bob", "carol"]);
        assert!(sasl.allow_failed_clients);
        assert!(!format!("{sasl:?}").contains("topsecret"));
        // Another section by sasl.serverconfig; a missing section means no SASL, as in ZooKeeper.
        let other = validated(&[("sasl.serverconfig", "Other")], &flag)
            .expect("valid")
            .sasl
            .expect("sasl");
        assert_eq!(other.credentials.keys().collect::<Vec<_>>(), ["eve"]);
        assert_eq!(
            validated(&[("sasl.serverconfig", "None")], &flag).map(|s| s.sasl),
            Ok(None)
        );
        assert_eq!(validated(&[], "").map(|s| s.sasl), Ok(None));
    }

    #[test]
    fn a_jaas_file_that_cannot_serve_stops_the_start_naming_the_property() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("missing.conf");
        let broken = dir.path().join("broken.conf");
        std::fs::write(&broken, "Server { m required user_a=\"secret\" };").expect("write");
        let kerberos = dir.path().join("krb.conf");
        std::fs::write(
            &kerberos,
            "Server { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true; };",
        )
        .expect("write");
        for path in [&missing, &broken, &kerberos] {
            let err = validated(&[], &format!("-D{JAAS_PROPERTY}={}", path.display())).expect_err("refused");
            assert!(err.to_string().contains(JAAS_PROPERTY), "{err}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    #[test]
    fn a_refused_password_setting_does_not_show_its_value() {
        let err = set("ssl.keyStore.password", "hunter2").expect_err("TLS is refused");
        assert!(err.to_string().contains("ssl.keyStore.password"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn passwords_are_masked_in_the_zoo_cfg_text() {
        let text = "dataDir=/d\n# a password=comment\nSASLAuthenticationProvider.superPassword=s3cret\n  \
                    ssl.keyStore.password : pw\nclientPort=2181";
        assert_eq!(
            mask_secrets(text),
            "dataDir=/d\n# a password=comment\nSASLAuthenticationProvider.superPassword=********\n  \
             ssl.keyStore.password=********\nclientPort=2181"
        );
    }
}
