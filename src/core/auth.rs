//! ACL checks and identities (`ZooKeeperServer.checkACL`, `PrepRequestProcessor.fixupACL`, the ip and digest
//! `AuthenticationProvider`s). Pure functions of an ACL list and a connection's ids.

use std::net::IpAddr;

use base64::Engine;
use jute::codes::{perms, ErrorCode};
use jute::records::data::{Acl, Id};
use sha1::{Digest, Sha1};

/// What ACL checks need to know about the server's configuration.
#[derive(Debug, Clone, Default)]
pub struct AclPolicy {
    /// `zookeeper.skipACL=yes`: every check passes.
    pub skip_acl: bool,
    /// `zookeeper.DigestAuthenticationProvider.superDigest` (`super:<base64 sha1>`).
    pub super_digest: Option<String>,
    /// `SASLAuthenticationProvider` is registered (an `authProvider.N` names it): `sasl` ACL entries are valid,
    /// match, and an `auth` entry expands to the connection's `sasl` ids.
    pub sasl_provider: bool,
    /// `zookeeper.letAnySaslUserDoX`: a `sasl` entry with this id matches every `sasl` id.
    pub let_any_sasl_user: Option<String>,
}

/// The digest id for `user:password` credentials: `user:BASE64(SHA1("user:password"))`.
pub fn digest_id(credentials: &str) -> String {
    let user = credentials.split(':').next().unwrap_or("");
    let hash = Sha1::digest(credentials.as_bytes());
    format!(
        "{user}:{}",
        base64::engine::general_purpose::STANDARD.encode(hash)
    )
}

/// The ids a digest auth packet adds to a connection (digest auth never fails; a super match adds `super`).
pub fn digest_auth(credentials: &str, policy: &AclPolicy) -> Vec<Id> {
    let id = digest_id(credentials);
    let mut ids = Vec::with_capacity(2);
    if policy.super_digest.as_deref() == Some(id.as_str()) {
        ids.push(Id::new("super", ""));
    }
    ids.push(Id::new("digest", id));
    ids
}

/// Java's `String.split(":")`: trailing empty strings are dropped.
fn java_split_colon(s: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = s.split(':').collect();
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts
}

fn parse_ip_acl(id: &str) -> Option<(IpAddr, u32)> {
    let (addr, bits) = match id.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (id, None),
    };
    let ip: IpAddr = addr.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) => b.parse::<u32>().ok().filter(|b| *b <= max)?,
        None => max,
    };
    Some((ip, bits))
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// `IPAuthenticationProvider.matches`: the connection's address equals the ACL's after masking to its bits.
fn ip_matches(conn_ip: &str, acl_id: &str) -> bool {
    let (Some((acl_ip, bits)), Ok(conn)) = (parse_ip_acl(acl_id), conn_ip.parse::<IpAddr>()) else {
        return false;
    };
    let (a, c) = (ip_bytes(acl_ip), ip_bytes(conn));
    if a.len() != c.len() {
        return false;
    }
    let mut left = bits;
    for (x, y) in a.iter().zip(c.iter()) {
        if left == 0 {
            break;
        }
        let take = left.min(8);
        let mask = (0xffu16 << (8 - take)) as u8;
        if x & mask != y & mask {
            return false;
        }
        left -= take;
    }
    true
}

/// True if a provider for `scheme` is registered and considers `id` valid (`isValid`).
fn valid_id(scheme: &str, id: &str, policy: &AclPolicy) -> bool {
    match scheme {
        "ip" => parse_ip_acl(id).is_some(),
        "digest" => java_split_colon(id).len() == 2,
        "sasl" => policy.sasl_provider && valid_principal(id),
        _ => false,
    }
}

/// `new KerberosName(id)` succeeds (`SASLAuthenticationProvider.isValid`): a name without `@`, or one of the form
/// `service[/host]@realm` with no other `/` or `@`.
fn valid_principal(id: &str) -> bool {
    let Some((principal, realm)) = id.split_once('@') else {
        return true;
    };
    let host_slashes = principal
        .split_once('/')
        .map_or(0, |(_, host)| host.matches('/').count());
    !realm.contains(['@', '/']) && host_slashes == 0
}

/// `SASLAuthenticationProvider.matches`: the same id, or the connection's id is `super`, or the entry names the
/// `letAnySaslUserDoX` id.
fn sasl_matches(own: &str, acl_id: &str, policy: &AclPolicy) -> bool {
    own == "super" || own == acl_id || policy.let_any_sasl_user.as_deref() == Some(acl_id)
}

/// The jute-generated `Id.hashCode`.
fn java_id_hash(id: &Id) -> i32 {
    let h = 37i32
        .wrapping_mul(17)
        .wrapping_add(jute::string_hash_code(&id.scheme));
    37i32
        .wrapping_mul(h)
        .wrapping_add(jute::string_hash_code(id.id_str()))
}

/// A connection's ids in the order Apache ZooKeeper iterates them: its `authInfo` is a set backed by a
/// `ConcurrentHashMap`, so the order is by hash bin, then insertion. The order is visible wherever the ids are
/// listed, e.g. in the ACL an `auth` entry expands to.
pub fn java_set_order(ids: &[Id]) -> Vec<&Id> {
    let mut table = 16usize;
    while ids.len() >= table * 3 / 4 {
        table *= 2;
    }
    let bin = |id: &Id| {
        let h = java_id_hash(id);
        let spread = (h ^ ((h as u32) >> 16) as i32) & 0x7fff_ffff;
        spread as usize & (table - 1)
    };
    let mut ordered: Vec<(usize, usize, &Id)> =
        ids.iter().enumerate().map(|(i, id)| (bin(id), i, id)).collect();
    ordered.sort_by_key(|(b, i, _)| (*b, *i));
    ordered.into_iter().map(|(_, _, id)| id).collect()
}

/// Whether a connection id of `scheme` is an authenticated identity that an `auth` ACL expands to (its provider
/// is registered and `isAuthenticated`).
fn is_authenticated(scheme: &str, policy: &AclPolicy) -> bool {
    scheme == "digest" || scheme == "sasl" && policy.sasl_provider
}

/// Checks that `ids` grant `perm` on a node with `acl` (`checkACL`).
pub fn check(acl: &[Acl], perm: i32, ids: &[Id], policy: &AclPolicy) -> Result<(), ErrorCode> {
    if policy.skip_acl || acl.is_empty() || ids.iter().any(|i| i.scheme == "super") {
        return Ok(());
    }
    for entry in acl.iter().filter(|a| a.perms & perm != 0) {
        let (scheme, id) = (entry.id.scheme.as_str(), entry.id.id_str());
        if scheme == "world" && id == "anyone" {
            return Ok(());
        }
        for own in ids.iter().filter(|i| i.scheme == scheme) {
            let matched = match scheme {
                "ip" => ip_matches(own.id_str(), id),
                "digest" => own.id_str() == id,
                "sasl" => policy.sasl_provider && sasl_matches(own.id_str(), id, policy),
                _ => false,
            };
            if matched {
                return Ok(());
            }
        }
    }
    Err(ErrorCode::NoAuth)
}

/// Validates and expands an ACL list for create and setACL (`fixupACL`): duplicates removed, `auth` entries
/// replaced by the connection's authenticated ids, every id checked by its provider. A list without `auth`
/// entries, the usual case, comes back as it was given, without a copy.
pub fn fixup(mut acl: Vec<Acl>, ids: &[Id], policy: &AclPolicy) -> Result<Vec<Acl>, ErrorCode> {
    remove_duplicates(&mut acl);
    if acl.is_empty() {
        return Err(ErrorCode::InvalidAcl);
    }
    if !acl.iter().any(is_auth) {
        acl.iter().try_for_each(|a| check_id(a, policy))?;
        return Ok(acl);
    }
    let mut out = Vec::with_capacity(acl.len());
    for a in acl {
        if !is_auth(&a) {
            check_id(&a, policy)?;
            out.push(a);
            continue;
        }
        let mut any = false;
        for own in java_set_order(ids)
            .into_iter()
            .filter(|i| is_authenticated(&i.scheme, policy))
        {
            any = true;
            out.push(Acl {
                perms: a.perms,
                id: own.clone(),
            });
        }
        if !any {
            return Err(ErrorCode::InvalidAcl);
        }
    }
    Ok(out)
}

fn is_auth(a: &Acl) -> bool {
    a.id.scheme == "auth"
}

/// Checks the id of an entry other than `auth` with its scheme's provider.
fn check_id(a: &Acl, policy: &AclPolicy) -> Result<(), ErrorCode> {
    match (a.id.scheme.as_str(), a.id.id.as_deref()) {
        ("world", Some("anyone")) => Ok(()),
        // ZooKeeper dereferences the id of world, digest and ip entries unchecked: a null one fails the request
        // as malformed (MARSHALLINGERROR), not as an invalid ACL.
        ("world" | "digest" | "ip", None) => Err(ErrorCode::MarshallingError),
        (scheme, Some(id)) if valid_id(scheme, id, policy) => Ok(()),
        _ => Err(ErrorCode::InvalidAcl),
    }
}

/// Drops every entry equal to an earlier one (`removeDuplicates`), in place: lists are short.
fn remove_duplicates(acl: &mut Vec<Acl>) {
    let mut i = 1;
    while i < acl.len() {
        if acl[..i].contains(&acl[i]) {
            acl.remove(i);
        } else {
            i += 1;
        }
    }
}

/// getACL's masking for callers without ADMIN: every digest id keeps its user part only (`user:x`).
pub fn mask_digests(acl: &[Acl]) -> Vec<Acl> {
    acl.iter()
        .map(|a| {
            if a.id.scheme == "digest" {
                let user = a.id.id_str().split(':').next().unwrap_or("");
                Acl {
                    perms: a.perms,
                    id: Id::new("digest", format!("{user}:x")),
                }
            } else {
                a.clone()
            }
        })
        .collect()
}

/// True if `ids` hold ADMIN on `acl` (for getACL's masking rule).
pub fn has_admin(acl: &[Acl], ids: &[Id], policy: &AclPolicy) -> bool {
    check(acl, perms::ADMIN, ids, policy).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
        Acl {
            perms,
            id: Id::new(scheme, id),
        }
    }

    #[test]
    fn digest_is_user_and_base64_sha1_of_the_credentials() {
        // SHA1("super:test") base64, as used in ZooKeeper's documentation of superDigest.
        assert_eq!(digest_id("super:test"), "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    }

    #[test]
    fn checks_follow_world_ip_digest_and_super() {
        let policy = AclPolicy::default();
        let ip = vec![Id::new("ip", "10.1.2.3")];
        assert!(check(&Acl::open_unsafe(), perms::WRITE, &[], &policy).is_ok());
        assert_eq!(
            check(&Acl::read_unsafe(), perms::WRITE, &ip, &policy),
            Err(ErrorCode::NoAuth)
        );
        assert!(check(&[acl(31, "ip", "10.1.0.0/16")], perms::READ, &ip, &policy).is_ok());
        assert!(check(&[acl(31, "ip", "10.2.0.0/16")], perms::READ, &ip, &policy).is_err());
        let bob = digest_auth("bob:pw", &policy);
        assert!(check(
            &[acl(1, "digest", &digest_id("bob:pw"))],
            perms::READ,
            &bob,
            &policy
        )
        .is_ok());
        assert!(check(
            &[acl(2, "digest", &digest_id("bob:pw"))],
            perms::READ,
            &bob,
            &policy
        )
        .is_err());
        assert!(check(&[], perms::ADMIN, &[], &policy).is_ok());
        let su = AclPolicy {
            super_digest: Some(digest_id("super:pw")),
            ..Default::default()
        };
        assert!(check(
            &Acl::read_unsafe(),
            perms::ADMIN,
            &digest_auth("super:pw", &su),
            &su
        )
        .is_ok());
    }

    #[test]
    fn fixup_expands_auth_and_refuses_invalid_ids() {
        let ids = vec![Id::new("ip", "127.0.0.1"), Id::new("digest", "bob:h")];
        let fixed = fixup(Acl::creator_all(), &ids, &AclPolicy::default()).expect("auth expands");
        assert_eq!(fixed, vec![acl(31, "digest", "bob:h")]);
        assert_eq!(
            fixup(Acl::creator_all(), &ids[..1], &AclPolicy::default()),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(vec![], &ids, &AclPolicy::default()),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(vec![acl(1, "world", "someone")], &ids, &AclPolicy::default()),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(vec![acl(1, "digest", "bob:")], &ids, &AclPolicy::default()),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(vec![acl(1, "ip", "1.2.3.4/33")], &ids, &AclPolicy::default()),
            Err(ErrorCode::InvalidAcl)
        );
        assert_eq!(
            fixup(vec![acl(1, "super", "x")], &ids, &AclPolicy::default()),
            Err(ErrorCode::InvalidAcl)
        );
        let null_world = Acl {
            perms: 31,
            id: Id {
                scheme: "world".into(),
                id: None,
            },
        };
        assert_eq!(
            fixup(vec![null_world], &ids, &AclPolicy::default()),
            Err(ErrorCode::MarshallingError)
        );
        let null_auth = Acl {
            perms: 31,
            id: Id {
                scheme: "auth".into(),
                id: None,
            },
        };
        assert_eq!(
            fixup(vec![null_auth], &ids, &AclPolicy::default()).map(|v| v.len()),
            Ok(1)
        );
        let null_other = Acl {
            perms: 31,
            id: Id {
                scheme: "sasl".into(),
                id: None,
            },
        };
        assert_eq!(
            fixup(vec![null_other], &ids, &AclPolicy::default()),
            Err(ErrorCode::InvalidAcl)
        );
        let dup = [acl(1, "ip", "1.2.3.4"), acl(1, "ip", "1.2.3.4")];
        assert_eq!(
            fixup(dup.to_vec(), &ids, &AclPolicy::default()).map(|v| v.len()),
            Ok(1)
        );
        let plain = vec![acl(1, "ip", "1.2.3.4"), acl(31, "world", "anyone")];
        assert_eq!(fixup(plain.clone(), &ids, &AclPolicy::default()), Ok(plain));
        let mixed = vec![
            acl(1, "ip", "1.2.3.4"),
            acl(31, "auth", ""),
            acl(1, "ip", "1.2.3.4"),
        ];
        assert_eq!(
            fixup(mixed, &ids, &AclPolicy::default()),
            Ok(vec![acl(1, "ip", "1.2.3.4"), acl(31, "digest", "bob:h")])
        );
    }

    #[test]
    fn auth_acls_expand_in_java_hash_set_order() {
        // Observed on Apache ZooKeeper 3.8: a connection authenticated as carol, bob, nocolon and alice (in that
        // order) expands `auth` to bob, nocolon, alice, carol.
        let ids: Vec<Id> = ["carol:", "bob:pw2", "nocolon", "alice:wrong"]
            .iter()
            .map(|c| Id::new("digest", digest_id(c)))
            .chain(std::iter::once(Id::new("ip", "127.0.0.1")))
            .collect();
        let fixed = fixup(Acl::creator_all(), &ids, &AclPolicy::default()).expect("expands");
        let users: Vec<&str> = fixed
            .iter()
            .map(|a| a.id.id_str().split(':').next().unwrap_or(""))
            .collect();
        assert_eq!(users, ["bob", "nocolon", "alice", "carol"]);
    }

    #[test]
    fn digests_are_masked_without_admin() {
        let masked = mask_digests(&[acl(1, "digest", "bob:abc"), acl(1, "ip", "1.2.3.4")]);
        assert_eq!(masked[0].id.id_str(), "bob:x");
        assert_eq!(masked[1].id.id_str(), "1.2.3.4");
    }

    #[test]
    fn sasl_ids_count_only_with_the_sasl_provider() {
        let ids = vec![Id::new("ip", "127.0.0.1"), Id::new("sasl", "jaasuser")];
        let none = AclPolicy::default();
        let sasl = AclPolicy {
            sasl_provider: true,
            ..Default::default()
        };
        let entry = [acl(31, "sasl", "jaasuser")];
        assert_eq!(fixup(entry.to_vec(), &ids, &none), Err(ErrorCode::InvalidAcl));
        assert_eq!(fixup(entry.to_vec(), &ids, &sasl), Ok(entry.to_vec()));
        assert_eq!(check(&entry, perms::READ, &ids, &none), Err(ErrorCode::NoAuth));
        assert!(check(&entry, perms::READ, &ids, &sasl).is_ok());
        assert!(check(&[acl(31, "sasl", "other")], perms::READ, &ids, &sasl).is_err());
        // A SASL user named super passes every sasl entry; letAnySaslUserDoX names an entry every user passes.
        let su = [Id::new("sasl", "super")];
        assert!(check(&[acl(31, "sasl", "other")], perms::READ, &su, &sasl).is_ok());
        let any = AclPolicy {
            let_any_sasl_user: Some("anyone".into()),
            ..sasl.clone()
        };
        assert!(check(&[acl(31, "sasl", "anyone")], perms::READ, &ids, &any).is_ok());
        // `auth` expands to sasl ids when the provider is registered.
        assert_eq!(
            fixup(Acl::creator_all(), &ids, &sasl),
            Ok(vec![acl(31, "sasl", "jaasuser")])
        );
        assert_eq!(fixup(Acl::creator_all(), &ids, &none), Err(ErrorCode::InvalidAcl));
        for (id, valid) in [
            ("bob", true),
            ("a/b", true),
            ("zk/host@R", true),
            ("a@b@c", false),
            ("a/b/c@R", false),
        ] {
            assert_eq!(valid_id("sasl", id, &sasl), valid, "{id}");
        }
    }
}
