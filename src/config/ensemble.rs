//! The ensemble lines of zoo.cfg: `server.N`, `group.N` and `weight.N`, read and checked as Apache ZooKeeper
//! reads them (`QuorumPeer.QuorumServer`, `QuorumPeerConfig.parseDynamicConfig`, `QuorumHierarchical`), so that
//! an ensemble member's zoo.cfg is accepted or refused as ZooKeeper would accept or refuse it, with the same
//! facts kept for the ensemble work. Until replication serves them, a configuration ZooKeeper would run as an
//! ensemble is refused ([`Ensemble::check_standalone`]); one ZooKeeper runs standalone is served standalone.
//!
//! `server.<id>=<host>:<quorum port>:<election port>[:participant|:observer][|<more addresses>][;[<client
//! host>:]<client port>]`; an IPv6 host is written in brackets. More than one address needs the JVM flag
//! `-Dzookeeper.multiAddress.enabled=true`: ZooKeeper reads server lines with the system property only.
//!
//! Without `clientPort`, the client address is the one on the server line of this server, found by the id in
//! `<dataDir>/myid` (`QuorumPeerConfig.setupMyId`, `setupClientPort`): the official Docker image's generated
//! zoo.cfg relies on it (`server.1=localhost:2888:3888;2181` and no `clientPort`). With `clientPort` set, myid
//! is not read: ZooKeeper would also refuse a server line whose client address differs from it, or a myid
//! that is not a number.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use super::{invalid, resolve, ConfigError};
use crate::core::zab::leader::Groups;
use crate::core::zab::quorum::{QuorumError, QuorumVerifier};
use crate::types::ServerId;

/// A member's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Participant,
    Observer,
}

/// One of a member's addresses: where it listens to followers and to leader election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAddress {
    pub host: String,
    pub quorum_port: u16,
    pub election_port: u16,
}

/// A `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    pub id: u64,
    pub addresses: Vec<PeerAddress>,
    pub role: Role,
    /// The `;[host:]port` part: the member's client address (host `0.0.0.0` when only a port is given).
    pub client: Option<(String, u16)>,
}

/// The ensemble as zoo.cfg describes it; empty for a standalone configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ensemble {
    pub servers: Vec<QuorumServer>,
    /// `group.N=id:id:...` (hierarchical quorums).
    pub groups: Vec<(u64, Vec<u64>)>,
    /// `weight.N=w`.
    pub weights: Vec<(u64, u64)>,
}

/// Keys this module reads, by prefix.
pub(super) const PREFIXES: &[&str] = &["server.", "group.", "weight."];

/// A Java `long` (`Long.parseLong`) that must not be negative.
fn id(key: &str, text: &str, value: &str) -> Result<u64, ConfigError> {
    let n: i64 = text.parse().map_err(|e| invalid(key, value, e))?;
    u64::try_from(n).map_err(|e| invalid(key, value, e))
}

/// A port as `Integer.parseInt` and `InetSocketAddress` take it.
fn port(key: &str, value: &str, host: &str, text: &str) -> Result<u16, ConfigError> {
    let n: i32 = text
        .parse()
        .map_err(|_| invalid(key, value, format_args!("address unresolved: {host}:{text}")))?;
    u16::try_from(n).map_err(|_| invalid(key, value, format_args!("port out of range: {n}")))
}

/// `ConfigUtils.getHostAndPort`: `host:a:b...`, or `[v6 host]:a:b...`.
fn host_and_ports<'a>(key: &str, value: &str, text: &'a str) -> Result<Vec<&'a str>, ConfigError> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid(key, value, "an IPv6 address must end with ']'"))?;
        let mut parts = vec![host];
        if !after.is_empty() {
            let ports = after
                .strip_prefix(':')
                .ok_or_else(|| invalid(key, value, "':' must follow the IPv6 address"))?;
            parts.extend(ports.split(':'));
        }
        return Ok(parts);
    }
    Ok(text.split(':').collect())
}

fn role(key: &str, value: &str, text: &str) -> Result<Role, ConfigError> {
    match text.to_ascii_lowercase().as_str() {
        "participant" => Ok(Role::Participant),
        "observer" => Ok(Role::Observer),
        _ => Err(invalid(
            key,
            value,
            format_args!("unrecognised peer type {text:?}"),
        )),
    }
}

const WRONG_FORMAT: &str = "must have the form host:port:port[:type][;[client host:]client port]";

/// Parses `server.N=...`.
pub fn parse_server(key: &str, value: &str, multi_address: bool) -> Result<QuorumServer, ConfigError> {
    let sid = id(key, key.trim_start_matches("server."), value)?;
    let parts: Vec<&str> = value.split(';').collect();
    if parts.len() > 2 {
        return Err(invalid(key, value, WRONG_FORMAT));
    }
    let client = match parts.get(1) {
        None => None,
        Some(text) => {
            let client_parts = host_and_ports(key, value, text)?;
            let (host, port_text) = match client_parts.as_slice() {
                [p] => ("0.0.0.0", *p),
                [h, p] => (*h, *p),
                _ => return Err(invalid(key, value, WRONG_FORMAT)),
            };
            Some((host.to_owned(), port(key, value, host, port_text)?))
        }
    };
    let addresses_text: Vec<&str> = parts[0].split('|').collect();
    if addresses_text.len() > 1 && !multi_address {
        return Err(invalid(
            key,
            value,
            "multiple addresses need the JVM flag -Dzookeeper.multiAddress.enabled=true (ZooKeeper reads the \
             server lines with the flag, not with zoo.cfg's multiAddress.enabled)",
        ));
    }
    let mut addresses = Vec::new();
    let mut kind = None;
    for text in addresses_text {
        let p = host_and_ports(key, value, text)?;
        if !(3..=4).contains(&p.len()) {
            return Err(invalid(key, value, WRONG_FORMAT));
        }
        let quorum_port = port(key, value, p[0], p[1])?;
        let election_port = port(key, value, p[0], p[2])?;
        if quorum_port == election_port {
            return Err(invalid(key, value, "the quorum and election ports must differ"));
        }
        if let Some(t) = p.get(3) {
            let r = role(key, value, t)?;
            if kind.is_some_and(|k| k != r) {
                return Err(invalid(key, value, "all addresses must have the same role"));
            }
            kind = Some(r);
        }
        addresses.push(PeerAddress {
            host: p[0].to_owned(),
            quorum_port,
            election_port,
        });
    }
    Ok(QuorumServer {
        id: sid,
        addresses,
        role: kind.unwrap_or_default(),
        client,
    })
}

/// Parses `group.N=id:id:...`.
pub fn parse_group(key: &str, value: &str) -> Result<(u64, Vec<u64>), ConfigError> {
    let gid = id(key, key.trim_start_matches("group."), value)?;
    let members = value
        .split(':')
        .map(|s| id(key, s, value))
        .collect::<Result<Vec<u64>, _>>()?;
    Ok((gid, members))
}

/// Parses `weight.N=w`.
pub fn parse_weight(key: &str, value: &str) -> Result<(u64, u64), ConfigError> {
    Ok((
        id(key, key.trim_start_matches("weight."), value)?,
        id(key, value, value)?,
    ))
}

impl Ensemble {
    /// Builds the ensemble from its lines in file order; a later line for the same id wins, as in Java's
    /// properties. Every server of a group must have a `server.N` line, as `QuorumHierarchical` requires.
    pub fn parse(lines: &[(String, String)], multi_address: bool) -> Result<Ensemble, ConfigError> {
        let mut e = Ensemble::default();
        for (key, value) in lines {
            if key.starts_with("server.") {
                let s = parse_server(key, value, multi_address)?;
                e.servers.retain(|old| old.id != s.id);
                e.servers.push(s);
            } else if key.starts_with("group.") {
                let g = parse_group(key, value)?;
                e.groups.retain(|old| old.0 != g.0);
                e.groups.push(g);
            } else if key.starts_with("weight.") {
                let w = parse_weight(key, value)?;
                e.weights.retain(|old| old.0 != w.0);
                e.weights.push(w);
            }
        }
        for (gid, members) in &e.groups {
            if let Some(m) = members.iter().find(|m| !e.servers.iter().any(|s| s.id == **m)) {
                return Err(invalid(
                    &format!("group.{gid}"),
                    &m.to_string(),
                    "names a server without a server line",
                ));
            }
        }
        e.servers.sort_by_key(|s| s.id);
        Ok(e)
    }

    /// True when zoo.cfg describes no ensemble.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    /// The client address on this server's line, the server named by the first line of `<data_dir>/myid`;
    /// `None` when there is no myid file (a standalone server needs none) or no such line or client part.
    pub fn own_client_address(&self, data_dir: &Path) -> Result<Option<SocketAddr>, ConfigError> {
        let path = data_dir.join("myid");
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let first = text.lines().next().unwrap_or("");
        let id: i64 = first.parse().map_err(|_| ConfigError::Read {
            path: path.clone(),
            message: format!("serverid {first} is not a number"),
        })?;
        let Some((host, port)) = self
            .servers
            .iter()
            .find(|s| i64::try_from(s.id).is_ok_and(|sid| sid == id))
            .and_then(|s| s.client.clone())
        else {
            return Ok(None);
        };
        let ip = match host.parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => resolve(&host, port)?,
        };
        Ok(Some(SocketAddr::new(ip, port)))
    }

    /// Refuses a configuration ZooKeeper would run as an ensemble (`QuorumPeerConfig.isDistributed`: server
    /// lines, and either more than one voting member or `standaloneEnabled=false`), and the member lists
    /// `parseDynamicConfig` refuses. One participant with `standaloneEnabled` (the default) runs standalone, the
    /// server line ignored, as in ZooKeeper.
    pub fn check_standalone(&self, standalone_enabled: bool) -> Result<(), ConfigError> {
        if self.servers.is_empty() {
            return Ok(());
        }
        let voting: Vec<String> = self
            .servers
            .iter()
            .filter(|s| s.role == Role::Participant)
            .map(|s| format!("server.{}", s.id))
            .collect();
        let observers = self.servers.len() - voting.len();
        let refuse = |reason: &str| {
            Err(invalid(
                "server.N",
                &format!("{} participants, {observers} observers", voting.len()),
                reason,
            ))
        };
        match voting.len() {
            0 if !standalone_enabled => {
                refuse("standaloneEnabled = false then number of participants should be >0")
            }
            0 => refuse("observers without participants is an invalid configuration"),
            1 if standalone_enabled && observers > 0 => {
                refuse("observers without a quorum is an invalid configuration")
            }
            1 if standalone_enabled => {
                tracing::info!(
                    server = %voting[0],
                    "one server line and standaloneEnabled: running standalone, the server line ignored, as ZooKeeper does"
                );
                Ok(())
            }
            1 => Err(ConfigError::Ensemble {
                reason: format!("standaloneEnabled=false with the one voting member {}", voting[0]),
            }),
            n => Err(ConfigError::Ensemble {
                reason: format!("{n} voting members: {}", voting.join(", ")),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_zookeeper_documents() {
        let s = parse_server("server.1", "zk1.example.com:2888:3888", false).expect("plain");
        assert_eq!(s.id, 1);
        assert_eq!(
            s.addresses,
            [PeerAddress {
                host: "zk1.example.com".into(),
                quorum_port: 2888,
                election_port: 3888
            }]
        );
        assert_eq!((s.role, s.client), (Role::Participant, None));
        let s = parse_server("server.3", "10.0.0.3:2888:3888:observer;2181", false).expect("observer");
        assert_eq!(s.role, Role::Observer);
        assert_eq!(s.client, Some(("0.0.0.0".into(), 2181)));
        let s = parse_server("server.2", "[::1]:2888:3888:participant;[::1]:2181", false).expect("v6");
        assert_eq!(s.addresses[0].host, "::1");
        assert_eq!(s.client, Some(("::1".into(), 2181)));
        let s = parse_server("server.4", "a:1:2|b:3:4", true).expect("multi address");
        assert_eq!(s.addresses.len(), 2);
    }

    #[test]
    fn malformed_lines_name_the_key_and_value() {
        for (key, value, multi) in [
            ("server.x", "h:1:2", false),
            ("server.1", "h:1", false),
            ("server.1", "h:1:2:3:4", false),
            ("server.1", "h:one:2", false),
            ("server.1", "h:1:70000", false),
            ("server.1", "h:5:5", false),
            ("server.1", "h:1:2:witness", false),
            ("server.1", "h:1:2;h:c", false),
            ("server.1", "h:1:2;a;b", false),
            ("server.1", "a:1:2|b:3:4", false),
            ("server.1", "a:1:2:observer|b:3:4:participant", true),
        ] {
            let e = parse_server(key, value, multi).expect_err(value).to_string();
            assert!(e.contains(key) && e.contains(value), "{key}={value}: {e}");
        }
    }

    #[test]
    fn groups_and_weights() {
        let lines: Vec<(String, String)> = [
            ("server.1", "a:1:2"),
            ("server.2", "b:1:2"),
            ("server.3", "c:1:2"),
            ("group.1", "1:2"),
            ("group.2", "3"),
            ("weight.1", "1"),
            ("weight.3", "0"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let e = Ensemble::parse(&lines, false).expect("hierarchy");
        assert_eq!(e.groups, [(1, vec![1, 2]), (2, vec![3])]);
        assert_eq!(e.weights, [(1, 1), (3, 0)]);
        let bad = vec![
            ("server.1".to_owned(), "a:1:2".to_owned()),
            ("group.1".to_owned(), "1:9".to_owned()),
        ];
        let err = Ensemble::parse(&bad, false)
            .expect_err("unknown member")
            .to_string();
        assert!(err.contains("group.1") && err.contains('9'), "{err}");
    }

    #[test]
    fn client_address_from_this_servers_line() {
        let lines = vec![("server.1".to_owned(), "localhost:2888:3888;2181".to_owned())];
        let e = Ensemble::parse(&lines, false).expect("one line");
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(e.own_client_address(dir.path()).expect("no myid"), None);
        std::fs::write(dir.path().join("myid"), "1\n").expect("myid");
        let own = e.own_client_address(dir.path()).expect("myid 1");
        let wildcard: SocketAddr = "0.0.0.0:2181".parse().expect("addr");
        assert_eq!(own, Some(wildcard));
        std::fs::write(dir.path().join("myid"), "2\n").expect("myid");
        assert_eq!(e.own_client_address(dir.path()).expect("myid 2"), None);
        std::fs::write(dir.path().join("myid"), "one\n").expect("myid");
        let err = e.own_client_address(dir.path()).expect_err("not a number");
        assert!(err.to_string().contains("one"), "{err}");
    }
}

/// One member as this member reaches it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: u64,
    /// Where it listens to learners (its quorum port): the first of `quorum_all`.
    pub quorum: SocketAddr,
    /// Where it listens to leader election: the first of `election_all`.
    pub election: SocketAddr,
    /// Every address of its server line (`a:1:2|b:3:4` with `multiAddress.enabled`), in the line's order.
    pub quorum_all: Vec<SocketAddr>,
    pub election_all: Vec<SocketAddr>,
    /// An observer (`:observer` on its server line): it learns every commit but never votes.
    pub observer: bool,
}

/// What an ensemble member needs to take part: who it is and who the others are, checked as
/// `QuorumPeerConfig.parseProperties` checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumSettings {
    /// The id in `<dataDir>/myid`.
    pub my_id: u64,
    /// `initLimit`, in ticks: how long a learner may take to connect and sync.
    pub init_limit: u32,
    /// `syncLimit`, in ticks: how long a learner may stay silent once synced.
    pub sync_limit: u32,
    /// Every member, voters and observers, this one included, in server-line order.
    pub members: Vec<Member>,
    /// `quorumListenOnAllIPs`: the quorum and election ports listen on every address, not only the one on the
    /// member's server line.
    pub listen_on_all_ips: bool,
    /// `multiAddress.enabled`: members may have several addresses, and the election handshake lists them all
    /// (protocol version -65535).
    pub multi_address: bool,
    /// `group.N` and `weight.N`: with either, the quorum is hierarchical (`QuorumHierarchical`).
    pub groups: Vec<(u64, Vec<u64>)>,
    pub weights: Vec<(u64, u64)>,
}

impl QuorumSettings {
    /// The settings of an ensemble `check_standalone` refused to run standalone (`why`).
    pub fn check(
        ensemble: &Ensemble,
        data_dir: &Path,
        why: &str,
        init_limit: Option<u32>,
        sync_limit: Option<u32>,
        multi_address: bool,
    ) -> Result<QuorumSettings, ConfigError> {
        let refuse = |what: &str| ConfigError::Ensemble {
            reason: format!("{why}; {what}"),
        };
        if ensemble
            .servers
            .iter()
            .filter(|s| s.role == Role::Participant)
            .count()
            < 2
        {
            return Err(refuse(
                "an ensemble of one voting member (standaloneEnabled=false) is not served yet",
            ));
        }
        // `QuorumPeerConfig.parseProperties`: a distributed configuration needs both limits.
        let init_limit = init_limit
            .filter(|&n| n > 0)
            .ok_or_else(|| invalid("initLimit", "", "initLimit is not set"))?;
        let sync_limit = sync_limit
            .filter(|&n| n > 0)
            .ok_or_else(|| invalid("syncLimit", "", "syncLimit is not set"))?;
        let path = data_dir.join("myid");
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::Read {
            path: path.clone(),
            message: format!("an ensemble member needs its id in myid: {e}"),
        })?;
        let first = text.lines().next().unwrap_or("").trim();
        let my_id: u64 = first.parse().map_err(|_| ConfigError::Read {
            path: path.clone(),
            message: format!("serverid {first} is not a number"),
        })?;
        if !ensemble.servers.iter().any(|s| s.id == my_id) {
            return Err(ConfigError::Read {
                path,
                message: format!("myid {my_id} is not in the server list (server.N lines)"),
            });
        }
        let mut members = Vec::new();
        for s in &ensemble.servers {
            let key = format!("server.{}", s.id);
            let mut quorum_all = Vec::new();
            let mut election_all = Vec::new();
            for a in &s.addresses {
                let ip = match a.host.parse::<IpAddr>() {
                    Ok(ip) => ip,
                    Err(_) => resolve(&a.host, a.quorum_port)
                        .map_err(|_| invalid(&key, &a.host, "address unresolved"))?,
                };
                quorum_all.push(SocketAddr::new(ip, a.quorum_port));
                election_all.push(SocketAddr::new(ip, a.election_port));
            }
            members.push(Member {
                id: s.id,
                quorum: quorum_all[0],
                election: election_all[0],
                quorum_all,
                election_all,
                observer: s.role == Role::Observer,
            });
        }
        let settings = QuorumSettings {
            my_id,
            init_limit,
            sync_limit,
            members,
            listen_on_all_ips: false,
            multi_address,
            groups: ensemble.groups.clone(),
            weights: ensemble.weights.clone(),
        };
        // `QuorumHierarchical`: every voter in exactly one group, as the verifier the member runs with checks.
        if let Err(e) = settings.verifier() {
            let key = match e {
                QuorumError::InTwoGroups(id) | QuorumError::NotInAGroup(id) | QuorumError::BothRoles(id) => {
                    format!("server.{id}")
                }
                QuorumError::NoVoters => "server.N".to_owned(),
            };
            return Err(invalid(&key, "", e));
        }
        Ok(settings)
    }

    /// The quorum of zoo.cfg: `QuorumHierarchical` with `group.N`/`weight.N` lines, `QuorumMaj` without.
    pub fn verifier(&self) -> Result<QuorumVerifier, QuorumError> {
        let voters = self.voters().map(|m| ServerId(m.id as i64));
        let observers = self.observers().map(|m| ServerId(m.id as i64));
        match self.hierarchy() {
            None => QuorumVerifier::new(voters, observers, 0),
            Some((groups, weights)) => QuorumVerifier::hierarchical(voters, observers, 0, &groups, &weights),
        }
    }

    /// The groups and weights of a hierarchical quorum, if zoo.cfg has any.
    pub fn hierarchy(&self) -> Option<Groups> {
        if self.groups.is_empty() && self.weights.is_empty() {
            return None;
        }
        let groups = self
            .groups
            .iter()
            .map(|(gid, ids)| (*gid as i64, ids.iter().map(|id| ServerId(*id as i64)).collect()))
            .collect();
        let weights = self
            .weights
            .iter()
            .map(|(id, w)| (ServerId(*id as i64), *w))
            .collect();
        Some((groups, weights))
    }

    /// The voting members.
    pub fn voters(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| !m.observer)
    }

    /// The observers.
    pub fn observers(&self) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(|m| m.observer)
    }

    /// Where this member listens for `port` of its server line: that address, or with `quorumListenOnAllIPs`
    /// every address of its family (as ZooKeeper binds `new InetSocketAddress(port)`).
    pub fn listen_address(&self, on_server_line: SocketAddr) -> SocketAddr {
        if !self.listen_on_all_ips {
            return on_server_line;
        }
        let any = match on_server_line.ip() {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
        };
        SocketAddr::new(any, on_server_line.port())
    }

    /// This member.
    pub fn me(&self) -> &Member {
        self.members
            .iter()
            .find(|m| m.id == self.my_id)
            .unwrap_or(&self.members[0])
    }
}
