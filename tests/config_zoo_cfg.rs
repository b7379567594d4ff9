//! zoo.cfg as Apache ZooKeeper 3.8/3.9 reads it: every key with its default, every key set, the errors for bad
//! values (naming the key and the value), and zoo.cfg files in the styles real deployments use (Debian's
//! example, a Kafka/Solr ensemble member's) parsed, and started with `ferrokeeper start`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use ferrokeeper::config::ensemble::{Ensemble, Role};
use ferrokeeper::config::{
    ops::PROMETHEUS_PROVIDER, ConfigError, FourLetterWhitelist, JvmFlags, ServerConfig, ACCEPTED_IGNORED,
};

use common::properties as entries;

fn cfg(text: &str) -> Result<ServerConfig, ConfigError> {
    ServerConfig::from_properties(&entries(text), &JvmFlags::default())
}

const MINIMAL: &str = "dataDir=/var/lib/zookeeper\nclientPort=2181\n";

#[test]
fn every_key_has_zookeepers_default() {
    let c = cfg(MINIMAL).expect("minimal zoo.cfg");
    assert_eq!(
        c.tick_time_ms, 3000,
        "tickTime (ZooKeeperServer.DEFAULT_TICK_TIME)"
    );
    assert_eq!(c.data_log_dir, c.data_dir, "dataLogDir defaults to dataDir");
    assert_eq!(
        c.client_address.to_string(),
        "0.0.0.0:2181",
        "clientPortAddress: every interface"
    );
    assert_eq!(c.max_client_cnxns, 60);
    assert_eq!(c.min_session_timeout_ms, 6000, "2 x tickTime");
    assert_eq!(c.max_session_timeout_ms, 60000, "20 x tickTime");
    assert_eq!(c.global_outstanding_limit, 1000);
    assert_eq!(c.four_letter_whitelist, FourLetterWhitelist::default());
    assert!(c.four_letter_whitelist.allows("srvr") && !c.four_letter_whitelist.allows("mntr"));
    assert!(!c.skip_acl);
    assert_eq!(c.super_digest, None);
    assert!(!c.extended_types);
    assert!(!c.enforce_quota);
    assert_eq!(c.jute_max_buffer, 0xfffff, "jute.maxbuffer");
    assert_eq!(c.sessionless_cnxn_timeout_ms, 10_000);
    let s = &c.storage;
    assert_eq!(s.snap_count, 100_000);
    assert_eq!(s.snap_size_limit_bytes, 4_194_304 * 1024);
    assert_eq!(s.pre_alloc_bytes, 65_536 * 1024);
    assert!(s.force_sync);
    assert_eq!(s.txn_log_size_limit_bytes, 0, "txnLogSizeLimitInKb -1: off");
    assert_eq!(s.fsync_warning_ms, 1000);
    assert_eq!(s.snap_retain_count, 3);
    assert_eq!(s.purge_interval_hours, 0);
    assert!(!s.trust_empty_snapshot);
    let ops = &c.ops;
    assert!(ops.admin.enabled);
    assert_eq!(ops.admin.address.to_string(), "0.0.0.0:8080");
    assert_eq!(ops.admin.command_url, "/commands");
    assert_eq!(ops.prometheus, None, "DefaultMetricsProvider serves no /metrics");
}

#[test]
fn every_modelled_key_is_read() {
    let c = cfg(
        "tickTime=500\ndataDir=/d\ndataLogDir=/l\nclientPort=2999\nclientPortAddress=127.0.0.1\n\
         maxClientCnxns=0\nminSessionTimeout=1200\nmaxSessionTimeout=90000\nglobalOutstandingLimit=7\n\
         4lw.commands.whitelist=stat, ruok ,conf\nskipACL=yes\n\
         DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n\
         extendedTypesEnabled=TRUE\nenforceQuota=true\nnio.sessionlessCnxnTimeout=3000\n\
         snapCount=5000\nsnapSizeLimitInKb=1024\npreAllocSize=128\nforceSync=no\ntxnLogSizeLimitInKb=2048\n\
         fsync.warningthresholdms=50\nautopurge.snapRetainCount=5\nautopurge.purgeInterval=24\n\
         snapshot.trust.empty=true\nadmin.enableServer=false\nadmin.serverAddress=127.0.0.1\n\
         admin.serverPort=9090\nadmin.commandURL=/zk\nmetricsProvider.className=org.apache.zookeeper.\
         metrics.prometheus.PrometheusMetricsProvider\nmetricsProvider.httpHost=127.0.0.1\n\
         metricsProvider.httpPort=7777\nmetricsProvider.exportJvmInfo=false\n",
    )
    .expect("every key");
    assert_eq!(c.tick_time_ms, 500);
    assert_eq!(c.data_dir, Path::new("/d"));
    assert_eq!(c.data_log_dir, Path::new("/l"));
    assert_eq!(c.client_address.to_string(), "127.0.0.1:2999");
    assert_eq!(c.max_client_cnxns, 0);
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (1200, 90000)
    );
    assert_eq!(c.global_outstanding_limit, 7);
    for word in ["srvr", "stat", "ruok", "conf"] {
        assert!(c.four_letter_whitelist.allows(word), "{word}");
    }
    assert!(!c.four_letter_whitelist.allows("dump"));
    assert!(c.skip_acl);
    assert_eq!(
        c.super_digest.as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    assert!(c.extended_types && c.enforce_quota);
    assert_eq!(c.sessionless_cnxn_timeout_ms, 3000);
    let s = &c.storage;
    assert_eq!(s.snap_count, 5000);
    assert_eq!(s.snap_size_limit_bytes, 1024 * 1024);
    assert_eq!(s.pre_alloc_bytes, 128 * 1024);
    assert!(!s.force_sync);
    assert_eq!(s.txn_log_size_limit_bytes, 2048 * 1024);
    assert_eq!(s.fsync_warning_ms, 50);
    assert_eq!((s.snap_retain_count, s.purge_interval_hours), (5, 24));
    assert!(s.trust_empty_snapshot);
    assert!(!c.ops.admin.enabled);
    assert_eq!(c.ops.admin.address.to_string(), "127.0.0.1:9090");
    assert_eq!(c.ops.admin.command_url, "/zk");
    assert_eq!(
        c.ops.prometheus.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:7777")
    );
}

#[test]
fn prometheus_defaults_to_every_interface_port_7000() {
    let c = cfg(&format!(
        "{MINIMAL}metricsProvider.className={PROMETHEUS_PROVIDER}\n"
    ))
    .expect("cfg");
    assert_eq!(
        c.ops.prometheus.map(|a| a.to_string()).as_deref(),
        Some("0.0.0.0:7000")
    );
}

#[test]
fn keys_zookeeper_reads_but_ferrokeeper_does_not_use_are_accepted() {
    // One value ZooKeeper itself accepts for each; none is an error.
    let value = |key: &str| match key {
        "electionAlg" => "3",
        "peerType" => "observer",
        "snapshotSizeFactor" => "0.33",
        "clientPortListenBacklog" => "-1",
        "quorum.cnxn.threads.size" => "20",
        "dynamicConfigFile" | "oraclePath" => "/etc/zookeeper/x",
        "secureClientPortAddress" => "127.0.0.1",
        "enforce.auth.schemes" | "serverCnxnFactory" | "watchManagerName" => "x",
        _ if key.ends_with("Enabled")
            || key.ends_with("enabled")
            || key.ends_with(".enable")
            || key.starts_with("sslQuorum")
            || key.contains("Sasl")
            || key.contains("Async")
            || key.ends_with("IPs")
            || key == "portUnification"
            || key == "client.portUnification"
            || key == "syncEnabled"
            || key == "emulate353TTLNodes"
            || key == "request_throttle_drop_stale"
            || key == "connection_throttle_weight_enabled" =>
        {
            "true"
        }
        _ if key.contains("saslLoginContext") || key.contains("Principal") => "zk/_HOST@EXAMPLE",
        "leaderServes" => "yes",
        _ => "10",
    };
    let mut text = String::from(MINIMAL);
    for key in ACCEPTED_IGNORED {
        text.push_str(&format!("{key}={}\n", value(key)));
    }
    text.push_str("authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\n");
    let c = cfg(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(c.client_address.port(), 2181);
}

/// The error message of `text` (added to a minimal zoo.cfg).
fn error(extra: &str) -> String {
    match cfg(&format!("{MINIMAL}{extra}\n")) {
        Ok(_) => panic!("{extra:?} was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_values_are_refused_naming_key_and_value() {
    for (line, key, value) in [
        ("tickTime=abc", "tickTime", "abc"),
        ("tickTime=0", "tickTime", "0"),
        ("clientPort=70000", "clientPort", "70000"),
        ("clientPort=-5", "clientPort", "-5"),
        ("maxClientCnxns=many", "maxClientCnxns", "many"),
        ("minSessionTimeout=1.5", "minSessionTimeout", "1.5"),
        ("maxSessionTimeout=x", "maxSessionTimeout", "x"),
        ("globalOutstandingLimit=0", "globalOutstandingLimit", "0"),
        (
            "nio.sessionlessCnxnTimeout=soon",
            "nio.sessionlessCnxnTimeout",
            "soon",
        ),
        ("snapCount=lots", "snapCount", "lots"),
        ("preAllocSize=64M", "preAllocSize", "64M"),
        (
            "autopurge.purgeInterval=daily",
            "autopurge.purgeInterval",
            "daily",
        ),
        ("admin.serverPort=http", "admin.serverPort", "http"),
        ("initLimit=ten", "initLimit", "ten"),
        ("syncLimit=5s", "syncLimit", "5s"),
        ("electionAlg=1", "electionAlg", "1"),
        ("peerType=witness", "peerType", "witness"),
        ("secureClientPort=tls", "secureClientPort", "tls"),
        ("snapshotSizeFactor=third", "snapshotSizeFactor", "third"),
        ("quorum.cnxn.threads.size=0", "quorum.cnxn.threads.size", "0"),
    ] {
        let message = error(line);
        assert!(
            message.contains(key) && message.contains(value),
            "{line}: {message:?} does not name the key and the value"
        );
    }
    let provider = format!("metricsProvider.className={PROMETHEUS_PROVIDER}\nmetricsProvider.httpPort=x");
    assert!(error(&provider).contains("metricsProvider.httpPort"));
}

#[test]
fn session_bounds_and_required_keys() {
    let message = error("minSessionTimeout=50000\nmaxSessionTimeout=40000");
    assert!(
        message.contains("minSessionTimeout") && message.contains("50000"),
        "{message}"
    );
    let missing = cfg("clientPort=2181\n").expect_err("no dataDir");
    assert!(missing.to_string().contains("dataDir"), "{missing}");
    let c = cfg("dataDir=/d\nclientPort=1\ntickTime=1000\nminSessionTimeout=-1\nmaxSessionTimeout=-1\n")
        .expect("-1 derives from tickTime");
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (2000, 20000)
    );
}

#[test]
fn a_later_duplicate_wins_and_values_are_trimmed_as_in_java() {
    let c = cfg("dataDir=/d\nclientPort = 2181 \ntickTime=1000\ntickTime=2000\n").expect("cfg");
    assert_eq!((c.client_address.port(), c.tick_time_ms), (2181, 2000));
}

#[test]
fn jvm_only_settings_come_from_jvm_flags() {
    let jvm = JvmFlags::parse("-Xmx1g -Djute.maxbuffer=4194304 -Dzookeeper.admin.serverPort=8181");
    let c =
        ServerConfig::from_properties(&entries(&format!("{MINIMAL}jute.maxbuffer=1\n")), &jvm).expect("cfg");
    assert_eq!(
        c.jute_max_buffer, 4_194_304,
        "jute.maxbuffer in zoo.cfg has no effect, -D has"
    );
    assert_eq!(c.ops.admin.address.port(), 8181);
}

/// Debian's /etc/zookeeper/conf_example/zoo.cfg (as the `zookeeper` package ships it, comments and all).
const DEBIAN_EXAMPLE: &str = "\
# http://hadoop.apache.org/zookeeper/docs/current/zookeeperAdmin.html

# The number of milliseconds of each tick
tickTime=2000
# The number of ticks that the initial
# synchronization phase can take
initLimit=10
# The number of ticks that can pass between
# sending a request and getting an acknowledgement
syncLimit=5
# the directory where the snapshot is stored.
dataDir=/var/lib/zookeeper
# Place the dataLogDir to a separate physical disc for better performance
# dataLogDir=/disk2/zookeeper

# the port at which the clients will connect
clientPort=2181

# specify all zookeeper servers
# The fist port is used by followers to connect to the leader
# The second one is used for leader election
#server.1=zookeeper1:2888:3888
#server.2=zookeeper2:2888:3888
#server.3=zookeeper3:2888:3888

# To avoid seeks ZooKeeper allocates space in the transaction log file in
# blocks of PreAllocSize kilobytes. The default block size is 64M. One reason
# for changing the size of the blocks is to reduce the block size if snapshots
# are taken more often. (Also, see SnapCount).
#preAllocSize=65536

# Clients can submit requests faster than ZooKeeper can process them,
# especially if there are a lot of clients. To prevent ZooKeeper from running
# out of memory due to queued requests, ZooKeeper will throttle clients so that
# there is no more than globalOutstandingLimit outstanding requests in the
# system. The default limit is 1,000.ZooKeeper logs transactions to a
# transaction log. After snapCount transactions are written to a log file a
# snapshot is started and a new transaction log file is started. The default
# snapCount is 10,000.
#snapCount=1000

# If this option is defined, requests will be will logged to a trace file named
# traceFile.year.month.day.
#traceFile=

# Leader accepts client connections. Default value is \"yes\". The leader machine
# coordinates updates. For higher update throughput at thes slight expense of
# read throughput the leader can be configured to not accept clients and focus
# on coordination.
#leaderServes=yes
";

#[test]
fn debians_example_zoo_cfg_is_read() {
    let c = cfg(DEBIAN_EXAMPLE).expect("Debian's example");
    assert_eq!(c.tick_time_ms, 2000);
    assert_eq!(c.data_dir, Path::new("/var/lib/zookeeper"));
    assert_eq!(c.client_address.port(), 2181);
    assert_eq!(
        (c.min_session_timeout_ms, c.max_session_timeout_ms),
        (4000, 40000)
    );
    // The machine's own copy, when the package is installed, reads the same way.
    let installed = Path::new("/etc/zookeeper/conf_example/zoo.cfg");
    if installed.exists() {
        let from_file = ServerConfig::from_file(installed).expect("the installed example");
        assert_eq!(from_file.client_address.port(), 2181);
    }
}

/// The member lines of a three-member ensemble, as Kafka's and Solr's guides give them.
const THREE_MEMBERS: &str = "server.1=zk1.example.com:2888:3888;{client}
server.2=zk2.example.com:2888:3888
server.3=zk3.example.com:2888:3888:observer
standaloneEnabled=false
";

/// A zoo.cfg in the style Kafka's and Solr's guides give for an ensemble member, with this member's ports moved
/// into the test's range, its data in `dir` and `members` (with `{client}` for its client port) as its server
/// lines.
fn ensemble_member_cfg(dir: &Path, members: &str, client: u16, admin: u16, metrics: u16) -> String {
    format!(
        "# ZooKeeper for Kafka/Solr, member 1 of 3
tickTime=2000
initLimit=10
syncLimit=5
dataDir={data}
dataLogDir={log}
clientPort={client}
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=true
admin.serverAddress=127.0.0.1
admin.serverPort={admin}
4lw.commands.whitelist=mntr,conf,ruok,stat,srvr
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
metricsProvider.httpHost=127.0.0.1
metricsProvider.httpPort={metrics}
metricsProvider.exportJvmInfo=true
{members}quorumListenOnAllIPs=true
reconfigEnabled=false
",
        data = dir.join("data").display(),
        log = dir.join("datalog").display(),
        members = members.replace("{client}", &client.to_string()),
    )
}

/// ZooKeeper runs this member as part of an ensemble with an observer; so does ferrokeeper, which reads its lines
/// as ZooKeeper reads them and, as ZooKeeper, needs the member's id in myid first (never serving it standalone,
/// which would split the data between members).
#[test]
fn kafka_style_ensemble_member_cfg_is_read_and_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = ensemble_member_cfg(dir.path(), THREE_MEMBERS, 24110, 24111, 24112);
    let err = cfg(&text).expect_err("an ensemble member without myid");
    assert!(err.to_string().contains("myid"), "{err:?}");
    let lines: Vec<(String, String)> = entries(&text)
        .into_iter()
        .filter(|(k, _)| k.starts_with("server."))
        .collect();
    let ensemble = Ensemble::parse(&lines, false).expect("the server lines");
    let servers = &ensemble.servers;
    assert_eq!(servers.iter().map(|s| s.id).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(servers[0].client, Some(("0.0.0.0".to_owned(), 24110)));
    assert_eq!(servers[1].addresses[0].host, "zk2.example.com");
    let a = &servers[1].addresses[0];
    assert_eq!((a.quorum_port, a.election_port), (2888, 3888));
    assert_eq!(servers[2].role, Role::Observer);
}

/// The same member file with only its own server line (HBase's style) runs standalone in ZooKeeper, and here.
#[test]
fn kafka_style_member_cfg_with_one_server_line_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let one = "server.1=zk1.example.com:2888:3888;{client}\n";
    let c = cfg(&ensemble_member_cfg(dir.path(), one, 24110, 24111, 24112)).expect("member cfg");
    assert_eq!(c.client_address.to_string(), "127.0.0.1:24110");
    assert_eq!(c.max_client_cnxns, 0);
    assert!(c.four_letter_whitelist.allows("mntr") && !c.four_letter_whitelist.allows("dump"));
    assert_eq!(c.storage.purge_interval_hours, 1);
    assert_eq!(c.ops.admin.address.to_string(), "127.0.0.1:24111");
    assert_eq!(
        c.ops.prometheus.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:24112")
    );
    assert_eq!(c.ensemble.servers.len(), 1);
}

#[test]
fn ensemble_lines_are_checked_as_zookeeper_checks_them() {
    assert!(cfg(MINIMAL).expect("standalone").ensemble.is_empty());
    for (line, key, value) in [
        ("server.1=zk1:2888", "server.1", "zk1:2888"),
        ("server.one=zk1:2888:3888", "server.one", "zk1:2888:3888"),
        (
            "server.2=zk2:2888:3888:leader",
            "server.2",
            "zk2:2888:3888:leader",
        ),
        ("server.3=a:1:2|b:3:4", "server.3", "a:1:2|b:3:4"),
        ("server.1=a:1:2\ngroup.1=1:2", "group.1", "2"),
        ("weight.1=heavy", "weight.1", "heavy"),
    ] {
        let message = error(line);
        assert!(
            message.contains(key) && message.contains(value),
            "{line}: {message}"
        );
    }
    let multi = cfg(&format!(
        "{MINIMAL}multiAddress.enabled=true\nserver.3=a:1:2|b:3:4\n"
    ))
    .expect("multi address");
    assert_eq!(multi.ensemble.servers[0].addresses.len(), 2);
}

fn four_letter(port: u16, word: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(word.as_bytes()).expect("send");
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}

fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}

#[test]
fn kafka_style_member_cfg_with_one_server_line_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (client, admin, metrics) = (24120, 24121, 24122);
    let path = dir.path().join("zoo.cfg");
    let one = "server.1=zk1.example.com:2888:3888;{client}\n";
    std::fs::write(
        &path,
        ensemble_member_cfg(dir.path(), one, client, admin, metrics),
    )
    .expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .arg("start")
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("start line");
    assert!(
        line.contains(&format!("listening on 127.0.0.1:{client}")),
        "{line}"
    );
    assert_eq!(four_letter(client, "ruok"), "imok");
    assert!(four_letter(client, "mntr").starts_with("zk_version\t"));
    assert_eq!(
        four_letter(client, "dump"),
        "dump is not executed because it is not in the whitelist.\n"
    );
    assert!(http_get(admin, "/commands/ruok").contains("\"command\" : \"ruok\""));
    assert!(http_get(metrics, "/metrics").contains("# TYPE znode_count gauge"));
    assert!(
        dir.path().join("datalog").join("version-2").is_dir(),
        "dataLogDir is used"
    );
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    assert!(child.wait().expect("wait").success());
}

/// `zkEnv.sh` sources `zookeeper-env.sh` and then `java.env` from the configuration directory; the `-D` flags
/// they put in `SERVER_JVMFLAGS` and `JVMFLAGS` reach the server as they reach ZooKeeper's JVM.
#[test]
fn java_env_beside_zoo_cfg_sets_jvm_properties() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("zoo.cfg");
    std::fs::write(&path, MINIMAL).expect("zoo.cfg");
    std::fs::write(
        dir.path().join("zookeeper-env.sh"),
        "export JVMFLAGS=\"-Xmx1g -Dzookeeper.admin.serverPort=8181\"\n",
    )
    .expect("zookeeper-env.sh");
    std::fs::write(
        dir.path().join("java.env"),
        "# heap and buffer for large znodes\nexport SERVER_JVMFLAGS=\"-Djute.maxbuffer=4194304\"\n\
         JVMFLAGS=\"$JVMFLAGS -Dznode.container.checkIntervalMs=5000\"\n",
    )
    .expect("java.env");
    let c = ServerConfig::from_file(&path).expect("zoo.cfg with java.env");
    assert_eq!(c.jute_max_buffer, 4_194_304);
    assert_eq!(
        c.ops.admin.address.port(),
        8181,
        "set by zookeeper-env.sh, kept by java.env"
    );
    assert_eq!(c.containers.check_interval_ms, 5000);
}
