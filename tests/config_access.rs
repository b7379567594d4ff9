//! The settings that decide who may reach the data, read as Apache ZooKeeper 3.8/3.9 reads them: an ensemble
//! ferrokeeper cannot serve is refused (serving it standalone would split the data between members),
//! security settings ferrokeeper does not implement stop the start naming the key, `enforce.auth.*` is enforced,
//! and the `-Dzookeeper.<key>` JVM flags stand for their zoo.cfg keys with zoo.cfg winning, as ZooKeeper's
//! `System.setProperty("zookeeper." + key)` makes it. Checked on the parsed configuration, then on a server
//! over real sockets.

mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use bytes::Bytes;
use ferrokeeper::config::{ConfigError, JvmFlags, ServerConfig};
use jute::codes::{ErrorCode, OpCode};
use jute::records::data::Acl;
use jute::records::proto::*;
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use common::properties as entries;

const MINIMAL: &str = "dataDir=/var/lib/zookeeper\nclientPort=2181\n";

fn cfg_with(extra: &str, flags: &str) -> Result<ServerConfig, ConfigError> {
    ServerConfig::from_properties(&entries(&format!("{MINIMAL}{extra}")), &JvmFlags::parse(flags))
}

fn cfg(extra: &str) -> Result<ServerConfig, ConfigError> {
    cfg_with(extra, "")
}

const THREE_MEMBERS: &str = "initLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:24201:24202\n\
                             server.2=127.0.0.1:24203:24204\nserver.3=127.0.0.1:24205:24206\n";

#[test]
fn ensembles_ferrokeeper_cannot_serve_are_refused_naming_the_reason() {
    for (extra, reason) in [
        (
            "server.1=127.0.0.1:24201:24202\nstandaloneEnabled=false\n",
            "standaloneEnabled=false with the one voting member server.1; an ensemble of one voting member",
        ),
        (
            "server.1=127.0.0.1:24201:24202\nserver.2=127.0.0.1:24203:24204:observer\nstandaloneEnabled=false\n",
            "standaloneEnabled=false with the one voting member server.1; an ensemble of one voting member",
        ),
    ] {
        let err = cfg(extra).expect_err(extra);
        assert!(
            matches!(&err, ConfigError::Ensemble { reason: r } if r.starts_with(reason)),
            "{extra}: {err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("cannot serve") && message.contains(reason),
            "{message}"
        );
    }
    // An ensemble ferrokeeper serves still needs its limits and this member's id, as ZooKeeper requires them.
    let err = cfg("server.1=127.0.0.1:1:2\nserver.2=127.0.0.1:3:4\n").expect_err("no initLimit");
    assert!(err.to_string().contains("initLimit is not set"), "{err}");
    let err = cfg(THREE_MEMBERS).expect_err("no myid");
    assert!(err.to_string().contains("myid"), "{err}");
}

#[test]
fn configs_zookeeper_runs_standalone_are_served_and_bad_member_lists_refused() {
    // One participant with standaloneEnabled (the default): ZooKeeper's QuorumPeerMain runs ZooKeeperServerMain.
    for extra in [
        "server.1=127.0.0.1:24201:24202\n",
        "server.7=127.0.0.1:24201:24202\nstandaloneEnabled=true\n",
    ] {
        let c = cfg(extra).unwrap_or_else(|e| panic!("{extra}: {e}"));
        assert_eq!(c.ensemble.servers.len(), 1);
    }
    for (extra, key) in [
        ("server.1=a:1:2:observer\n", "server.N"),
        ("server.1=a:1:2\nserver.2=b:1:2:observer\n", "server.N"),
        ("server.1=a:1:2\nstandaloneEnabled=maybe\n", "standaloneEnabled"),
    ] {
        let err = cfg(extra).expect_err(extra);
        assert!(
            matches!(&err, ConfigError::Invalid { key: k, .. } if k == key),
            "{extra}: {err:?}"
        );
    }
}

/// Runs `ferrokeeper start` on `zoo_cfg` (written to a temp dir, `DATA` replaced by a data dir there) and returns
/// its exit status and stderr; the server must stop by itself.
fn start_refused(zoo_cfg: &str, jvm_flags: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zoo.cfg");
    let text = zoo_cfg.replace("DATA", &dir.path().join("data").display().to_string());
    std::fs::write(&path, text).expect("zoo.cfg");
    let out = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .arg("start")
        .arg(&path)
        .env("SERVER_JVMFLAGS", jvm_flags)
        .env_remove("JVMFLAGS")
        .stdin(Stdio::null())
        .output()
        .expect("run ferrokeeper");
    assert!(!out.status.success(), "the start must fail");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening on"),
        "nothing is served"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn start_stops_on_an_ensemble_cfg_without_a_usable_myid() {
    let base = format!("dataDir=DATA\nclientPort=24210\nclientPortAddress=127.0.0.1\n{THREE_MEMBERS}");
    let stderr = start_refused(&base, "");
    assert!(stderr.contains("myid"), "{stderr}");
    let single = "dataDir=DATA\nclientPort=24211\nclientPortAddress=127.0.0.1\n\
                  server.1=127.0.0.1:24212:24213\nstandaloneEnabled=false\n";
    let stderr = start_refused(single, "");
    assert!(stderr.contains("standaloneEnabled=false"), "{stderr}");
}

/// Settings that would restrict access or open a port, none implemented, each with a value ZooKeeper accepts.
const UNIMPLEMENTED: &[(&str, &str)] = &[
    ("secureClientPort", "24220"),
    ("secureClientPortAddress", "127.0.0.1"),
    ("client.portUnification", "true"),
    ("ssl.keyStore.location", "/etc/zookeeper/keystore.jks"),
    ("ssl.clientAuth", "need"),
    (
        "authProvider.x509",
        "org.apache.zookeeper.server.auth.X509AuthenticationProvider",
    ),
    ("audit.enable", "true"),
    ("DigestAuthenticationProvider.enabled", "false"),
    ("DigestAuthenticationProvider.digestAlg", "SHA3-256"),
    ("dynamicConfigFile", "/etc/zookeeper/zoo.cfg.dynamic"),
];

#[test]
fn unimplemented_security_settings_stop_the_start_naming_the_key() {
    for (key, value) in UNIMPLEMENTED {
        let err = cfg(&format!("{key}={value}\n")).expect_err(key);
        assert!(
            matches!(&err, ConfigError::Unimplemented { key: k, value: v, .. } if k == key && v == value),
            "{key}: {err:?}"
        );
        // The same setting as ZooKeeper's system property, unless ZooKeeper only reads it from zoo.cfg.
        if !key.starts_with("secureClientPort") && *key != "dynamicConfigFile" {
            let err = cfg_with("", &format!("-Dzookeeper.{key}={value}")).expect_err(key);
            let flag = format!("-Dzookeeper.{key}");
            assert!(
                matches!(&err, ConfigError::Unimplemented { key: k, .. } if *k == flag),
                "{flag}: {err:?}"
            );
        }
    }
    let stderr = start_refused(
        "dataDir=DATA\nclientPort=24221\nclientPortAddress=127.0.0.1\nsecureClientPort=24222\n",
        "",
    );
    assert!(stderr.contains("secureClientPort=24222"), "{stderr}");
    let stderr = start_refused(
        "dataDir=DATA\nclientPort=24223\nclientPortAddress=127.0.0.1\n",
        "-Dzookeeper.authProvider.1=org.apache.zookeeper.server.auth.X509AuthenticationProvider",
    );
    assert!(stderr.contains("-Dzookeeper.authProvider.1"), "{stderr}");
}

#[test]
fn the_sasl_provider_and_requirement_come_from_zoo_cfg_or_their_jvm_flags() {
    const SASL: &str = "org.apache.zookeeper.server.auth.SASLAuthenticationProvider";
    for (extra, flags) in [
        (
            format!("authProvider.1={SASL}\nsessionRequireClientSASLAuth=true\n"),
            String::new(),
        ),
        (
            String::new(),
            format!("-Dzookeeper.authProvider.sasl={SASL} -Dzookeeper.sessionRequireClientSASLAuth=true"),
        ),
    ] {
        let c = cfg_with(&extra, &flags).expect("SASL settings");
        assert!(c.sasl_provider, "{extra}{flags}");
        assert_eq!(c.enforce_auth_schemes, Some(vec!["sasl".to_owned()]));
        assert_eq!(c.sasl, None, "no JAAS file: no SASL server, as in ZooKeeper");
    }
    let err = cfg("sessionRequireClientSASLAuth=true\n").expect_err("no provider");
    assert!(err.to_string().contains("sessionRequireClientSASLAuth"), "{err}");
    let err = cfg_with("", "-Djava.security.auth.login.config=/nonexistent/jaas.conf").expect_err("no file");
    assert!(
        err.to_string().contains("java.security.auth.login.config"),
        "{err}"
    );
    let stderr = start_refused(
        "dataDir=DATA\nclientPort=24224\nclientPortAddress=127.0.0.1\n",
        "-Djava.security.auth.login.config=/nonexistent/jaas.conf",
    );
    assert!(stderr.contains("java.security.auth.login.config"), "{stderr}");
}

#[test]
fn harmless_security_values_are_accepted() {
    let c = cfg(
        "client.portUnification=false\naudit.enable=false\nsessionRequireClientSASLAuth=false\n\
                 DigestAuthenticationProvider.enabled=true\n\
                 authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\n\
                 enforce.auth.enabled=false\nenforce.auth.schemes=sasl\n",
    )
    .expect("harmless values");
    assert_eq!(c.enforce_auth_schemes, None);
    // Read-only mode is for an ensemble member that lost its quorum; a standalone ZooKeeper ignores it.
    cfg_with("", "-Dreadonlymode.enabled=true").expect("readonlymode.enabled");
}

#[test]
fn enforce_auth_is_read_as_zookeeper_reads_it() {
    let c = cfg("enforce.auth.enabled=true\nenforce.auth.schemes=digest, ip\n").expect("enforce.auth");
    assert_eq!(
        c.enforce_auth_schemes,
        Some(vec!["digest".to_owned(), "ip".to_owned()])
    );
    let c = cfg_with(
        "",
        "-Dzookeeper.enforce.auth.enabled=true -Dzookeeper.enforce.auth.schemes=digest",
    )
    .expect("as flags");
    assert_eq!(c.enforce_auth_schemes, Some(vec!["digest".to_owned()]));
    for extra in [
        "enforce.auth.enabled=true\n",
        "enforce.auth.enabled=true\nenforce.auth.schemes=sasl\n",
        "enforce.auth.enabled=true\nenforce.auth.schemes=digest,super\n",
    ] {
        let err = cfg(extra).expect_err(extra);
        assert!(err.to_string().contains("enforce.auth.schemes"), "{err}");
    }
}

const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU="; // super:test

#[test]
fn jvm_flags_stand_for_their_zoo_cfg_keys_and_zoo_cfg_wins() {
    let flags = format!(
        "-Xmx1g -Dzookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST} \
         -Dzookeeper.extendedTypesEnabled=true -Dzookeeper.skipACL=yes -Dzookeeper.enforceQuota=true \
         -Dzookeeper.4lw.commands.whitelist=ruok,stat -Dzookeeper.snapCount=5000 \
         -Dzookeeper.clientPort=9999 -Dzookeeper.log.dir=/var/log/zookeeper"
    );
    let c = cfg_with("", &flags).expect("flags");
    assert_eq!(c.super_digest.as_deref(), Some(SUPER_DIGEST));
    assert!(c.extended_types && c.skip_acl && c.enforce_quota);
    assert!(c.four_letter_whitelist.allows("ruok") && !c.four_letter_whitelist.allows("mntr"));
    assert_eq!(c.storage.snap_count, 5000);
    assert_eq!(
        c.client_address.port(),
        2181,
        "clientPort is parsed by QuorumPeerConfig: no flag sets it"
    );
    let c = cfg_with("skipACL=no\nextendedTypesEnabled=false\n", &flags).expect("zoo.cfg over flags");
    assert!(!c.skip_acl && !c.extended_types, "zoo.cfg wins");
    let err = cfg_with("", "-Dzookeeper.snapCount=many").expect_err("bad flag");
    assert!(
        matches!(&err, ConfigError::Invalid { key, .. } if key == "-Dzookeeper.snapCount"),
        "{err:?}"
    );
}

/// `zkEnv.sh` sources `java.env` beside zoo.cfg: the break-glass super user an operator puts there is honoured,
/// and a TLS flag there stops the start as it would in zoo.cfg.
#[test]
fn java_env_beside_zoo_cfg_sets_the_super_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zoo.cfg");
    std::fs::write(&path, MINIMAL).expect("zoo.cfg");
    let java_env = dir.path().join("java.env");
    std::fs::write(
        &java_env,
        format!("export SERVER_JVMFLAGS=\"-Dzookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST}\"\n"),
    )
    .expect("java.env");
    let c = ServerConfig::from_file(&path).expect("zoo.cfg with java.env");
    assert_eq!(c.super_digest.as_deref(), Some(SUPER_DIGEST));
    std::fs::write(
        &java_env,
        "SERVER_JVMFLAGS=\"-Dzookeeper.ssl.keyStore.location=/k.jks\"\n",
    )
    .expect("java.env");
    let err = ServerConfig::from_file(&path).expect_err("TLS asked for in java.env");
    assert!(
        err.to_string().contains("-Dzookeeper.ssl.keyStore.location"),
        "{err}"
    );
}

// ---- over real sockets ------------------------------------------------------------------------------------------

async fn serve(extra: &str, flags: &str) -> (common::Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = cfg_with(extra, flags).expect("config");
    config.client_address = "127.0.0.1:0".parse().expect("addr");
    config.data_dir = dir.path().to_owned();
    config.data_log_dir = dir.path().to_owned();
    config.ops.admin.enabled = false;
    config.ops.prometheus = None;
    (common::start(config).await, dir)
}

/// One request on an open session: its reply header, or None when the server closed the connection instead.
async fn call<T: Serialize>(stream: &mut TcpStream, xid: i32, op: OpCode, body: &T) -> Option<ReplyHeader> {
    let mut payload = jute::to_bytes(&RequestHeader { xid, op: op.code() }).expect("header");
    payload.extend_from_slice(&jute::to_bytes(body).expect("body"));
    stream.write_all(&common::frame(&payload)).await.ok()?;
    match common::read_some(stream, std::time::Duration::from_secs(5)).await {
        common::ReadOutcome::Data(bytes) => {
            Some(jute::Decoder::new(&bytes[4..]).read().expect("reply header"))
        }
        common::ReadOutcome::Closed => None,
        common::ReadOutcome::StillOpen => panic!("no reply within 5 s"),
    }
}

fn auth(user_password: &'static str) -> AuthPacket {
    AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: Bytes::from_static(user_password.as_bytes()),
    }
}

fn get(path: &str) -> ExistsRequest {
    ExistsRequest {
        path: path.into(),
        watch: false,
    }
}

async fn session(addr: SocketAddr) -> TcpStream {
    common::connect_session(addr).await.0
}

#[tokio::test]
async fn the_super_digest_of_a_jvm_flag_lets_the_super_user_read_everything() {
    let (server, _dir) = serve(
        "",
        &format!("-Dzookeeper.DigestAuthenticationProvider.superDigest={SUPER_DIGEST}"),
    )
    .await;
    let mut owner = session(server.addr).await;
    assert_eq!(
        call(&mut owner, -4, OpCode::Auth, &auth("alice:secret"))
            .await
            .map(|h| h.err),
        Some(0)
    );
    let create = CreateRequest {
        path: "/locked".into(),
        data: Some(Bytes::from_static(b"x")),
        acl: Acl::creator_all(),
        flags: 0,
    };
    assert_eq!(
        call(&mut owner, 1, OpCode::Create, &create).await.map(|h| h.err),
        Some(0)
    );
    let mut stranger = session(server.addr).await;
    assert_eq!(
        call(&mut stranger, 1, OpCode::GetData, &get("/locked"))
            .await
            .map(|h| h.err),
        Some(ErrorCode::NoAuth.code())
    );
    let mut operator = session(server.addr).await;
    assert_eq!(
        call(&mut operator, -4, OpCode::Auth, &auth("super:test"))
            .await
            .map(|h| h.err),
        Some(0)
    );
    assert_eq!(
        call(&mut operator, 1, OpCode::GetData, &get("/locked"))
            .await
            .map(|h| h.err),
        Some(0)
    );
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn ttl_nodes_and_four_letter_words_follow_their_jvm_flags() {
    let ttl = CreateTtlRequest {
        path: "/ttl".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 5, // PERSISTENT_WITH_TTL
        ttl: 60_000,
    };
    let (server, _dir) = serve("", "").await;
    let mut s = session(server.addr).await;
    assert_eq!(
        call(&mut s, 1, OpCode::CreateTtl, &ttl).await.map(|h| h.err),
        Some(ErrorCode::Unimplemented.code())
    );
    assert!(common::four_letter(server.addr, "ruok")
        .await
        .contains("not in the whitelist"));
    server.stop().await.expect("stop");
    let (server, _dir) = serve(
        "",
        "-Dzookeeper.extendedTypesEnabled=true -Dzookeeper.4lw.commands.whitelist=ruok",
    )
    .await;
    let mut s = session(server.addr).await;
    assert_eq!(
        call(&mut s, 1, OpCode::CreateTtl, &ttl).await.map(|h| h.err),
        Some(0)
    );
    assert_eq!(common::four_letter(server.addr, "ruok").await, "imok");
    server.stop().await.expect("stop");
}

#[tokio::test]
async fn enforce_auth_answers_124_and_closes_until_the_session_authenticates() {
    let (server, _dir) = serve("enforce.auth.enabled=true\nenforce.auth.schemes=digest\n", "").await;
    let mut anonymous = session(server.addr).await;
    let reply = call(&mut anonymous, 1, OpCode::GetData, &get("/"))
        .await
        .expect("a reply");
    assert_eq!(
        (reply.xid, reply.zxid, reply.err),
        (1, 0, ErrorCode::SessionClosedRequireSaslAuth.code())
    );
    assert_eq!(
        common::read_some(&mut anonymous, std::time::Duration::from_secs(5)).await,
        common::ReadOutcome::Closed
    );
    let mut known = session(server.addr).await;
    assert_eq!(
        call(&mut known, -4, OpCode::Auth, &auth("alice:secret"))
            .await
            .map(|h| h.err),
        Some(0)
    );
    assert_eq!(
        call(&mut known, 1, OpCode::GetData, &get("/"))
            .await
            .map(|h| h.err),
        Some(0)
    );
    server.stop().await.expect("stop");
}

/// The zoo.cfg of member 1 of three (its data and myid in `dir`) with `extra` lines.
fn member_one_of_three(dir: &std::path::Path, extra: &str) -> Result<ServerConfig, ConfigError> {
    std::fs::write(dir.join("myid"), "1\n").expect("myid");
    let text = format!(
        "dataDir={}\nclientPort=2181\ninitLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:24201:24202\n\
         server.2=127.0.0.1:24203:24204\nserver.3=127.0.0.1:24205:24206\n{extra}",
        dir.display()
    );
    ServerConfig::from_properties(&entries(&text), &JvmFlags::parse(""))
}

/// An ensemble member refuses the ensemble settings it does not serve yet, naming the key: the quorum's TLS and
/// SASL above all (the quorum ports would be open without them), and observer masters, a leader
/// serving no clients. The same keys off are accepted, and `peerType`, which the server
/// lines overrule in ZooKeeper, is accepted either way.
#[test]
fn ensemble_settings_not_served_yet_stop_a_member() {
    let dir = tempfile::tempdir().expect("tempdir");
    let member = |extra: &str| member_one_of_three(dir.path(), extra);
    let c = member("").expect("a plain ensemble member");
    assert_eq!(c.quorum.as_ref().map(|q| q.my_id), Some(1));
    for (key, value) in [
        ("sslQuorum", "true"),
        ("portUnification", "true"),
        ("quorum.auth.enableSasl", "true"),
        ("quorum.auth.learnerRequireSasl", "true"),
        ("quorum.auth.serverRequireSasl", "true"),
        ("observerMasterPort", "2191"),
        ("leaderServes", "no"),
    ] {
        let err = member(&format!("{key}={value}\n")).expect_err(key);
        assert!(
            matches!(&err, ConfigError::Unimplemented { key: k, .. } if k == key),
            "{key}: {err:?}"
        );
        assert!(err.to_string().contains(key), "{err}");
    }
    for off in [
        "sslQuorum=false",
        "quorum.auth.enableSasl=false",
        "localSessionsEnabled=false",
        "localSessionsEnabled=true",
        "leaderServes=yes",
        "peerType=observer",
        "peerType=Participant",
    ] {
        member(&format!("{off}\n")).unwrap_or_else(|e| panic!("{off}: {e}"));
    }
}

/// An observer's zoo.cfg: its own server line ends in `:observer`; it is a member (never served standalone) that
/// does not vote, and `peerType` does not overrule the server lines, as in ZooKeeper.
#[test]
fn an_observer_member_is_read_as_a_non_voting_member() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("myid"), "3\n").expect("myid");
    let text = format!(
        "dataDir={}\nclientPort=2181\ninitLimit=10\nsyncLimit=5\nserver.1=127.0.0.1:24201:24202\n\
         server.2=127.0.0.1:24203:24204\nserver.3=127.0.0.1:24205:24206:observer\npeerType=participant\n",
        dir.path().display()
    );
    let c = ServerConfig::from_properties(&entries(&text), &JvmFlags::parse("")).expect("an observer");
    let q = c.quorum.expect("an ensemble member");
    assert!(q.me().observer);
    assert_eq!(q.voters().map(|m| m.id).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(q.observers().map(|m| m.id).collect::<Vec<_>>(), [3]);
    // One voter and an observer: ZooKeeper refuses it unless standaloneEnabled=false, which is not served yet.
    let one = text.replace("server.2=127.0.0.1:24203:24204\n", "");
    let err = ServerConfig::from_properties(&entries(&one), &JvmFlags::parse("")).expect_err("no quorum");
    assert!(err.to_string().contains("observers without a quorum"), "{err}");
}

/// Groups and weights (`QuorumHierarchical`) are read as ZooKeeper reads them: every voter in exactly one group.
#[test]
fn hierarchical_quorums_need_every_voter_in_exactly_one_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let member = |extra: &str| member_one_of_three(dir.path(), extra);
    let c = member("group.1=1:2\ngroup.2=3\nweight.3=0\n").expect("groups");
    let q = c.quorum.expect("a member");
    assert_eq!(q.groups, [(1, vec![1, 2]), (2, vec![3])]);
    assert_eq!(q.weights, [(3, 0)]);
    let err = member("group.1=1:2\n").expect_err("3 in no group");
    assert!(err.to_string().contains("server 3 is not in a group"), "{err}");
    let err = member("weight.1=2\n").expect_err("weights without groups");
    assert!(err.to_string().contains("is not in a group"), "{err}");
    let err = member("group.1=1:2:3\ngroup.2=3\n").expect_err("3 in two groups");
    assert!(
        err.to_string().contains("server 3 is in multiple groups"),
        "{err}"
    );
}
