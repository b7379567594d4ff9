//! What an operator sees of an ensemble, compared with Apache ZooKeeper 3.9.5: a ferrokeeper ensemble and a 3.9.5
//! ensemble of three voting members and an observer, each with its AdminServer on, answer `mntr`, `srvr`, `stat`,
//! `conf`, `isro` and the AdminServer's commands on the leader, on a follower and on the observer. The keys of `mntr` and
//! `monitor`, the lines of `srvr`, `stat` and `conf`, and the field names and JSON types of every command must be
//! the same on both kinds of member; the values that describe the ensemble (state, peer state, learners, synced
//! followers, quorum size, leader id, ZAB state, membership, `/zookeeper/config` as a client reads it) must agree,
//! and both must have counted the election, the proposals and the commits of a session's writes.

#[path = "support/ensemble.rs"]
mod ensemble;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ensemble::{four_letter, free_port, kazoo, wait_for_quorum, Kind, Member, Ports};
use serde_json::Value;

const IDS: [u64; 4] = [1, 2, 3, 4];
/// The member whose server line ends in `:observer`.
const OBSERVER: u64 = 4;

/// AdminServer commands compared field by field on both members.
const COMMANDS: [&str; 10] = [
    "leader",
    "voting_view",
    "zabstate",
    "observers",
    "observer_connection_stat_reset",
    "is_read_only",
    "server_stats",
    "stats",
    "configuration",
    "monitor",
];

/// What one member answered.
struct Seen {
    mntr: BTreeMap<String, String>,
    srvr: String,
    stat: String,
    conf: String,
    isro: String,
    admin: BTreeMap<&'static str, Value>,
    /// /metrics, with ZooKeeper's Prometheus provider.
    metrics: Option<String>,
}

/// One ensemble, started, with a session's writes done so that the leader has proposals to report.
struct Ensemble {
    _dir: tempfile::TempDir,
    members: Vec<Member>,
    admin: BTreeMap<u64, u16>,
    /// The Prometheus endpoints, with ZooKeeper's Prometheus provider.
    metrics: Option<BTreeMap<u64, u16>>,
    leader: u64,
    /// `/zookeeper/config` as a client reads it: its version and mzxid, then its data.
    config_node: String,
}

impl Ensemble {
    /// Starts three members of `kind`, with ZooKeeper's Prometheus provider if `prometheus`.
    fn start(kind: Kind, prometheus: bool) -> Ensemble {
        let dir = tempfile::tempdir().expect("temp dir");
        let ports = Ports::new(&IDS).with_observers(&[OBSERVER]);
        let pick = || -> BTreeMap<u64, u16> { IDS.iter().map(|&id| (id, free_port())).collect() };
        let admin = pick();
        let metrics = prometheus.then(pick);
        let members: Vec<Member> = IDS
            .iter()
            .map(|&id| {
                let mut extra = format!(
                    "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={}\n",
                    admin[&id]
                );
                if let Some(m) = &metrics {
                    extra.push_str(&format!(
                        "metricsProvider.className=\
                         org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
                         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={}\n",
                        m[&id]
                    ));
                }
                Member::start_with(dir.path(), id, kind, &ports, &extra)
            })
            .collect();
        let leader = wait_for_quorum(&members, Duration::from_secs(90));
        let hosts: Vec<u16> = members.iter().map(|m| m.client_port).collect();
        let out = kazoo(
            &hosts,
            "c = KazooClient(hosts=hosts[0], timeout=10); c.start(timeout=20)\n\
             c.create('/ops', b'x' * 10); c.set('/ops', b'y' * 20)\n\
             data, stat = c.get('/zookeeper/config')\n\
             print('version=%d mzxid=%d' % (stat.version, stat.mzxid))\n\
             print(data.decode())\nc.stop(); c.close()\n",
        );
        Ensemble {
            _dir: dir,
            members,
            admin,
            metrics,
            leader,
            config_node: out,
        }
    }

    fn follower(&self) -> u64 {
        *IDS.iter()
            .find(|&&id| id != self.leader && id != OBSERVER)
            .expect("a follower")
    }

    fn member(&self, id: u64) -> &Member {
        self.members.iter().find(|m| m.id == id).expect("member")
    }

    fn seen(&self, id: u64) -> Seen {
        let port = self.member(id).client_port;
        let word = |w: &str| four_letter(port, w).unwrap_or_else(|| panic!("{w} on member {id}"));
        let mntr = word("mntr")
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let admin = COMMANDS
            .iter()
            .map(|&c| (c, admin_command(self.admin[&id], c)))
            .collect();
        let metrics = self.metrics.as_ref().map(|m| http_get(m[&id], "/metrics"));
        Seen {
            mntr,
            srvr: word("srvr"),
            stat: word("stat"),
            conf: word("conf"),
            isro: word("isro"),
            admin,
            metrics,
        }
    }
}

/// The body of a `GET` over HTTP/1.0 (no chunking), which must answer 200.
fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("HTTP endpoint");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").expect("request");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("response");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{path}: {text}"));
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{path}: {head}"
    );
    body.to_owned()
}

/// `GET /commands/<name>`, parsed.
fn admin_command(port: u16, name: &str) -> Value {
    let body = http_get(port, &format!("/commands/{name}"));
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{name}: {e}: {body}"))
}

/// A metric key with the learners' sids made alike (`avg_2_learner_handler_qp_size`,
/// `learner_handler_qp_size{key="2",...}`): which members follow depends on which one leads.
fn alike(key: &str) -> String {
    if !key.contains("learner_handler") {
        return key.to_owned();
    }
    if let Some((head, rest)) = key.split_once("key=\"") {
        let tail = rest.split_once('"').map_or("", |(_, t)| t);
        return format!("{head}key=\"SID\"{tail}");
    }
    key.split('_')
        .map(|t| {
            if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
                "SID"
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join("_")
}

/// Families of ZooKeeper's Prometheus provider that describe the JVM and the process (`exportJvmInfo`'s
/// collectors): ferrokeeper has no JVM and leaves them out (see `metrics.rs`).
fn jvm_family(name: &str) -> bool {
    let name = name.strip_prefix("zk_").unwrap_or(name);
    name.starts_with("jvm_") || name.starts_with("process_")
}

/// Every path of a JSON value with the type there: `server_stats.packets_sent: number`.
fn shape(value: &Value) -> BTreeSet<String> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
        let kind = match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        out.insert(format!("{prefix}: {kind}"));
        match v {
            Value::Object(map) => {
                for (k, x) in map {
                    walk(&format!("{prefix}.{k}"), x, out);
                }
            }
            Value::Array(items) => {
                for x in items {
                    walk(&format!("{prefix}[]"), x, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk("", value, &mut out);
    out
}

/// The part of each line before its first `:` or `=`, in order (the label a script greps for).
fn labels(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| {
            let end = l.find([':', '=']).unwrap_or(l.len());
            l[..end].to_owned()
        })
        .collect()
}

fn assert_same<T: Ord + std::fmt::Debug + Clone>(what: &str, zk: &BTreeSet<T>, fk: &BTreeSet<T>) {
    let only_zk: Vec<&T> = zk.difference(fk).collect();
    let only_fk: Vec<&T> = fk.difference(zk).collect();
    assert!(
        only_zk.is_empty() && only_fk.is_empty(),
        "{what}: only Apache ZooKeeper 3.9.5 has {only_zk:?}; only ferrokeeper has {only_fk:?}"
    );
}

/// Compares what a member of each kind in the same role answered.
fn compare(role: &str, zk: &Seen, fk: &Seen) {
    let keys = |s: &Seen| -> BTreeSet<String> {
        s.mntr
            .keys()
            .filter(|k| !jvm_family(k))
            .map(|k| alike(k))
            .collect()
    };
    assert_same(&format!("mntr keys on the {role}"), &keys(zk), &keys(fk));
    for key in [
        "zk_server_state",
        "zk_peer_state",
        "zk_quorum_size",
        "zk_synced_observers",
        "zk_learners",
        "zk_synced_followers",
        "zk_synced_non_voting_followers",
        "zk_pending_syncs",
        "zk_observer_master_id",
    ] {
        assert_eq!(zk.mntr.get(key), fk.mntr.get(key), "{key} on the {role}");
    }
    let set = |v: Vec<String>| v.into_iter().collect::<BTreeSet<_>>();
    assert_eq!(labels(&zk.srvr), labels(&fk.srvr), "srvr on the {role}");
    assert_eq!(
        labels(&zk.stat)
            .into_iter()
            .filter(|l| !l.starts_with(' '))
            .collect::<Vec<_>>(),
        labels(&fk.stat)
            .into_iter()
            .filter(|l| !l.starts_with(' '))
            .collect::<Vec<_>>(),
        "stat on the {role}"
    );
    let mode = |t: &str| t.lines().find(|l| l.starts_with("Mode: ")).map(str::to_owned);
    assert_eq!(mode(&zk.srvr), mode(&fk.srvr), "srvr on the {role}");
    assert_same(
        &format!("conf on the {role}"),
        &set(labels(&zk.conf)),
        &set(labels(&fk.conf)),
    );
    for setting in [
        "initLimit=",
        "syncLimit=",
        "electionAlg=",
        "peerType=",
        "tickTime=",
    ] {
        let line = |t: &str| t.lines().find(|l| l.starts_with(setting)).map(str::to_owned);
        assert_eq!(line(&zk.conf), line(&fk.conf), "conf {setting} on the {role}");
    }
    let membership = |t: &str| {
        t.split_once("membership: \n")
            .map(|(_, m)| labels(m))
            .unwrap_or_default()
    };
    assert_eq!(
        membership(&zk.conf),
        membership(&fk.conf),
        "conf membership on the {role}"
    );
    assert_eq!(zk.isro, fk.isro, "isro on the {role}");
    if let (Some(z), Some(f)) = (&zk.metrics, &fk.metrics) {
        // The families of /metrics with their types, as dashboards look them up.
        let families = |t: &str| -> BTreeSet<String> {
            t.lines()
                .filter_map(|l| l.strip_prefix("# TYPE "))
                .filter(|l| !jvm_family(l))
                .map(str::to_owned)
                .collect()
        };
        assert_same(
            &format!("/metrics families on the {role}"),
            &families(z),
            &families(f),
        );
        let samples = |t: &str| -> BTreeSet<String> {
            t.lines()
                .filter(|l| !l.starts_with('#') && !jvm_family(l))
                .filter_map(|l| l.rsplit_once(' ').map(|(k, _)| alike(k)))
                .collect()
        };
        assert_same(
            &format!("/metrics samples on the {role}"),
            &samples(z),
            &samples(f),
        );
    }
    for c in COMMANDS {
        let (z, f) = (&zk.admin[c], &fk.admin[c]);
        if c == "monitor" {
            let keys = |v: &Value| -> BTreeSet<String> {
                v.as_object()
                    .map(|m| m.keys().filter(|k| !jvm_family(k)).map(|k| alike(k)).collect())
                    .unwrap_or_default()
            };
            assert_same(&format!("monitor fields on the {role}"), &keys(z), &keys(f));
        } else {
            assert_same(&format!("{c} on the {role}"), &shape(z), &shape(f));
        }
    }
    for (c, field) in [
        ("leader", "is_leader"),
        ("zabstate", "is_leader"),
        ("zabstate", "voting"),
        ("zabstate", "zabstate"),
        ("observers", "synced_observers"),
        ("is_read_only", "read_only"),
    ] {
        assert_eq!(
            zk.admin[c][field], fk.admin[c][field],
            "{c} {field} on the {role}"
        );
    }
    let voters = |v: &Value| -> Vec<(String, Value)> {
        v["current_config"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(id, s)| (id.clone(), s["learner_type"].clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        voters(&zk.admin["voting_view"]),
        voters(&fk.admin["voting_view"]),
        "voting_view on the {role}"
    );
}

/// The ensemble-specific values a member must report about itself and its leader.
fn check_member(kind: &str, e: &Ensemble, id: u64, seen: &Seen) {
    let leading = id == e.leader;
    let admin = &seen.admin;
    assert_eq!(
        admin["leader"]["leader_id"],
        Value::from(e.leader),
        "{kind} member {id}"
    );
    assert_eq!(
        admin["leader"]["is_leader"],
        Value::from(leading),
        "{kind} member {id}"
    );
    assert_eq!(admin["zabstate"]["myid"], Value::from(id), "{kind} member {id}");
    assert_eq!(
        admin["configuration"]["server_id"],
        Value::from(id),
        "{kind} member {id}"
    );
    assert!(
        seen.conf.contains(&format!("\nserverId={id}\n")),
        "{kind} member {id}: {}",
        seen.conf
    );
    let observing = id == OBSERVER;
    let state = if leading {
        "leading"
    } else if observing {
        "observing"
    } else {
        "following"
    };
    assert_eq!(
        seen.mntr.get("zk_peer_state").map(String::as_str),
        Some(format!("{state} - broadcast").as_str()),
        "{kind} member {id}"
    );
    assert_eq!(
        seen.srvr.contains("Proposal sizes last/min/max: "),
        leading,
        "{kind} member {id}: {}",
        seen.srvr
    );
    assert_eq!(
        admin["server_stats"].get("proposal_stats").is_some(),
        leading,
        "{kind} member {id}"
    );
    let count = |key: &str| -> f64 {
        seen.mntr
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{kind} member {id}: {key} in {:?}", seen.mntr.get(key)))
    };
    let counted: &[&str] = if leading {
        &["zk_proposal_count", "zk_commit_count"]
    } else if observing {
        &[]
    } else {
        &[
            "zk_learner_proposal_received_count",
            "zk_learner_commit_received_count",
        ]
    };
    let summary_count = |name: &str| {
        if seen.metrics.is_some() {
            format!("zk_{name}_count")
        } else {
            format!("zk_cnt_{name}")
        }
    };
    let mut counted: Vec<String> = counted.iter().map(|k| k.to_string()).collect();
    counted.push("zk_looking_count".into());
    // An observer does not record how long its election took (ZooKeeper's Observer never does).
    if !observing {
        counted.push(summary_count("election_time"));
    }
    if observing {
        counted.push(summary_count("observer_sync_time"));
    } else if !leading {
        counted.push(summary_count("follower_sync_time"));
    }
    for key in &counted {
        assert!(
            count(key) >= 1.0,
            "{kind} member {id}: {key} after an election and writes"
        );
    }
    if leading {
        let sizes = admin["server_stats"]["proposal_stats"]["max_buffer_size"]
            .as_i64()
            .unwrap_or(-1);
        assert!(sizes > 0, "{kind} leader {id} made proposals: {}", seen.srvr);
    }
}

/// The steps an operator follows in a member's log at INFO, as ZooKeeper logs them in its own words: the
/// election and its result, how the leader synchronises each learner, the quorum that makes it lead, and how a
/// follower is synchronised.
fn check_logs(e: &Ensemble) {
    let log = |id: u64| std::fs::read_to_string(e.member(id).dir.join("server.log")).unwrap_or_default();
    let (leader, follower) = (log(e.leader), log(e.follower()));
    for (what, text, needle) in [
        ("leader", &leader, "LOOKING: electing a leader"),
        ("leader", &leader, "LEADING - leader election took "),
        ("leader", &leader, "synchronising learner sid "),
        (
            "leader",
            &leader,
            "a quorum of supporters follows; leading and serving clients",
        ),
        ("follower", &follower, "FOLLOWING - leader election took "),
        ("follower", &follower, "from the leader up to zxid 0x"),
        (
            "follower",
            &follower,
            "synchronised with the leader; serving clients",
        ),
    ] {
        assert!(
            text.contains(needle),
            "the {what}'s log lacks {needle:?}:\n{text}"
        );
    }
}

/// One comparison at a time: each runs six JVM and ferrokeeper processes on ports picked free beforehand.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Starts a 3.9.5 ensemble, then a ferrokeeper one, and compares what their leaders and followers show.
fn compare_ensembles(prometheus: bool) {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let zk = Ensemble::start(Kind::ZooKeeper("3.9.5"), prometheus);
    let zk_leader = zk.seen(zk.leader);
    let zk_follower = zk.seen(zk.follower());
    let zk_observer = zk.seen(OBSERVER);
    check_member("ZooKeeper", &zk, zk.leader, &zk_leader);
    check_member("ZooKeeper", &zk, zk.follower(), &zk_follower);
    check_member("ZooKeeper", &zk, OBSERVER, &zk_observer);
    let zk_config_node = zk.config_node.clone();
    drop(zk);

    let fk = Ensemble::start(Kind::Ferrokeeper, prometheus);
    let fk_leader = fk.seen(fk.leader);
    let fk_follower = fk.seen(fk.follower());
    let fk_observer = fk.seen(OBSERVER);
    check_member("ferrokeeper", &fk, fk.leader, &fk_leader);
    check_member("ferrokeeper", &fk, fk.follower(), &fk_follower);
    check_member("ferrokeeper", &fk, OBSERVER, &fk_observer);
    check_logs(&fk);

    // The membership a member writes into /zookeeper/config, as clients (zkCli's `config`) read it.
    let first = |t: &str| t.lines().next().map(str::to_owned);
    assert_eq!(
        first(&zk_config_node),
        first(&fk.config_node),
        "{}",
        fk.config_node
    );
    assert_eq!(
        labels(&zk_config_node),
        labels(&fk.config_node),
        "{}",
        fk.config_node
    );
    compare("leader", &zk_leader, &fk_leader);
    compare("follower", &zk_follower, &fk_follower);
    compare("observer", &zk_observer, &fk_observer);
    // The leader lists its observer as ZooKeeper's `observers` command does.
    for (kind, leader) in [("ZooKeeper", &zk_leader), ("ferrokeeper", &fk_leader)] {
        let listed = &leader.admin["observers"]["observers"];
        assert_eq!(listed[0]["sid"], Value::from(OBSERVER), "{kind}: {listed}");
        assert!(
            listed[0]["packets_sent"].as_i64().unwrap_or(0) > 0,
            "{kind}: {listed}"
        );
    }
}

#[test]
fn members_show_operators_what_apache_zookeeper_3_9_members_show() {
    compare_ensembles(false);
}

/// With ZooKeeper's Prometheus provider, `mntr` lists the provider's samples and /metrics serves them: the quorum
/// families (election_time, learner_handler_qp_*, quorum_size, learners, ...) under the same names and types.
#[test]
fn members_report_quorum_metrics_under_zookeepers_prometheus_names() {
    compare_ensembles(true);
}
