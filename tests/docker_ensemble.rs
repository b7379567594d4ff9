//! The compose files of docker/ as ensembles, run for real from the image's root filesystem.
//!
//! Each member of docker/compose.yaml runs as the image runs it (tests/support/image.rs): its own exported
//! root filesystem, chrooted as the image's user inside a network namespace of its own, with the image's
//! environment and the service's `environment:` from the compose file, read from the file itself. The
//! namespaces are joined by a bridge in a client namespace (10.212.0.0/24, private to them), and each
//! member's /etc/hosts names the others by service name as Compose's network does, so `ZOO_SERVERS` is the
//! compose file's own. The ensemble must form (`srvr` from the client namespace: one leader, two followers,
//! and the image's health check passes on every member), serve kazoo (a write through one member is read
//! after `sync` on another), and after the leader's process is killed with SIGKILL the other two elect a new
//! leader and keep serving, with the earlier write. Before the kill, a real Prometheus (Debian's) runs in
//! the client namespace with docker/prometheus.yml as it is and must see every member's target up and its
//! `znode_count`. Then docker/compose-migration.yaml, the first step of a migration, the same way: its
//! `zookeeper:3.9` members are Apache ZooKeeper 3.9.5 (compat-tests/.maven) run by the host's java inside
//! their namespaces, with the zoo.cfg and myid the official image's entrypoint writes for their environment.
//!
//! A second test checks, without root, that both compose files and docker/prometheus.yml give every service
//! what the ensemble needs (it is all that can be checked of them here: no image can be pulled).
//!
//! Needs root, podman, iproute2, python3 with PyYAML, Debian's prometheus (promtool), a JDK, the 3.9.5 jars
//! and kazoo (compat-tests/install.sh installs them); a missing one fails the test naming it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/commands.rs"]
mod commands;
#[path = "support/ensemble.rs"]
mod ensemble;
#[path = "support/image.rs"]
mod image;
#[path = "support/kazoo_venv.rs"]
mod kazoo_venv;

use commands::{require, run};
use image::{chroot_command, ip, root, Cleanup};
use serde_json::Value;

const COMPOSE: &str = "docker/compose.yaml";
const MIGRATION: &str = "docker/compose-migration.yaml";
const PROMETHEUS: &str = "docker/prometheus.yml";
const FERROKEEPER_IMAGE: &str = "ferrokeeper:latest";
const OFFICIAL_IMAGE: &str = "zookeeper:3.9";
/// The Apache ZooKeeper that stands in for the official `zookeeper:3.9` image.
const OFFICIAL_VERSION: &str = "3.9.5";
const MEMBERS: [u64; 3] = [1, 2, 3];
const CLIENT_NS: &str = "fkens-cli";
const CLIENT_ADDRESS: &str = "10.212.0.100";
/// How long an ensemble gets to form, or to elect again.
const WAIT: Duration = Duration::from_secs(90);

fn member_ns(id: u64) -> String {
    format!("fkens-{id}")
}

fn address(id: u64) -> String {
    format!("10.212.0.{id}")
}

/// /etc/hosts as a member sees it: every service by name, as Compose's network resolves them.
fn hosts_file() -> String {
    let mut text = String::from("127.0.0.1 localhost\n::1 localhost\n");
    for id in MEMBERS {
        text.push_str(&format!("{} zoo{id}\n", address(id)));
    }
    text
}

/// A YAML file as JSON, parsed by PyYAML (which resolves anchors and `<<` merge keys as Compose does).
fn yaml(file: &str) -> Value {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)",
        ])
        .arg(root().join(file))
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for this test: {e}"));
    assert!(
        out.status.success(),
        "{file} does not parse (PyYAML is needed: apt-get install python3-yaml):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from python")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    let s = &compose["services"][name];
    assert!(s.is_object(), "no service {name}");
    s
}

/// A service's `environment:` as Compose passes it to the container: every value as a string.
fn service_env(compose: &Value, name: &str) -> BTreeMap<String, String> {
    let env = service(compose, name)["environment"]
        .as_object()
        .unwrap_or_else(|| panic!("service {name} has no environment mapping"));
    env.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// What every member of either compose file needs: its id, the same `ZOO_SERVERS` naming all three by
/// service name, the metrics port Prometheus scrapes, and volumes for /data and /datalog that are declared.
fn check_members(file: &str, compose: &Value) {
    let servers: Vec<String> = MEMBERS
        .iter()
        .map(|id| format!("server.{id}=zoo{id}:2888:3888;2181"))
        .collect();
    for id in MEMBERS {
        let name = format!("zoo{id}");
        let env = service_env(compose, &name);
        assert_eq!(env["ZOO_MY_ID"], id.to_string(), "{file} {name}");
        let words: Vec<&str> = env["ZOO_SERVERS"].split_whitespace().collect();
        assert_eq!(words, servers, "{file} {name}");
        let extra: Vec<&str> = env["ZOO_CFG_EXTRA"].split_whitespace().collect();
        assert!(
            extra.contains(
                &"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
            ) && extra.contains(&"metricsProvider.httpPort=7000"),
            "{file} {name}: {extra:?}"
        );
        assert!(
            env["ZOO_4LW_COMMANDS_WHITELIST"].contains("srvr"),
            "{file} {name}: the health check asks srvr"
        );
        let s = service(compose, &name);
        assert_eq!(s["hostname"], name.as_str(), "{file}");
        let volumes = strings(&s["volumes"]);
        for mount in [format!("zoo{id}-data:/data"), format!("zoo{id}-datalog:/datalog")] {
            assert!(
                volumes.contains(&mount),
                "{file} {name}: {mount} missing from {volumes:?}"
            );
        }
    }
}

/// Every named volume a service mounts is declared, and every file or directory mounted exists in docker/.
fn check_mounts(file: &str, compose: &Value) {
    let declared = compose["volumes"].as_object().cloned().unwrap_or_default();
    for (name, s) in compose["services"].as_object().expect("services") {
        for mount in strings(&s["volumes"]) {
            let source = mount.split(':').next().expect("a mount source");
            if let Some(relative) = source.strip_prefix("./") {
                let path = root().join("docker").join(relative);
                assert!(path.exists(), "{file} {name}: {} does not exist", path.display());
            } else {
                assert!(
                    declared.contains_key(source),
                    "{file} {name}: volume {source} is not declared"
                );
            }
        }
    }
}

#[test]
fn compose_files_give_every_member_and_prometheus_what_the_ensemble_needs() {
    let compose = yaml(COMPOSE);
    check_members(COMPOSE, &compose);
    check_mounts(COMPOSE, &compose);
    for id in MEMBERS {
        let s = service(&compose, &format!("zoo{id}"));
        assert_eq!(s["image"], FERROKEEPER_IMAGE);
        assert_eq!(s["ulimits"]["nice"], 20, "the snapshot thread's RLIMIT_NICE");
    }
    assert!(strings(&service(&compose, "prometheus")["volumes"])
        .contains(&"./prometheus.yml:/etc/prometheus/prometheus.yml:ro".to_owned()));
    let grafana = strings(&service(&compose, "grafana")["volumes"]);
    for mount in [
        "./grafana/provisioning:/etc/grafana/provisioning:ro",
        "./grafana/zookeeper.json:/var/lib/grafana/dashboards/zookeeper.json:ro",
    ] {
        assert!(grafana.contains(&mount.to_owned()), "{grafana:?}");
    }
    let datasources = yaml("docker/grafana/provisioning/datasources/prometheus.yaml");
    assert_eq!(datasources["datasources"][0]["url"], "http://prometheus:9090");
    let dashboards = yaml("docker/grafana/provisioning/dashboards/zookeeper.yaml");
    assert_eq!(
        dashboards["providers"][0]["options"]["path"],
        "/var/lib/grafana/dashboards"
    );

    let migration = yaml(MIGRATION);
    check_members(MIGRATION, &migration);
    check_mounts(MIGRATION, &migration);
    let images: Vec<&Value> = MEMBERS
        .iter()
        .map(|id| &service(&migration, &format!("zoo{id}"))["image"])
        .collect();
    assert_eq!(images, [OFFICIAL_IMAGE, OFFICIAL_IMAGE, FERROKEEPER_IMAGE]);
    // Only the image changes from the official member's service to ferrokeeper's.
    assert_eq!(
        service_env(&migration, "zoo2")["ZOO_SERVERS"],
        service_env(&migration, "zoo3")["ZOO_SERVERS"]
    );

    let prometheus = yaml(PROMETHEUS);
    let targets = strings(&prometheus["scrape_configs"][0]["static_configs"][0]["targets"]);
    assert_eq!(targets, ["zoo1:7000", "zoo2:7000", "zoo3:7000"]);
    require(
        "promtool",
        &["--version"],
        "apt-get install prometheus (compat-tests/install.sh)",
    );
    run(Command::new("promtool")
        .args(["check", "config"])
        .arg(root().join(PROMETHEUS))
        .stdout(Stdio::null()));
}

/// One member: a process in its namespace, and where its log goes.
struct Member {
    id: u64,
    image: String,
    child: Option<Child>,
    log: PathBuf,
    /// The image's root filesystem the member runs from (ferrokeeper members only).
    rootfs: Option<PathBuf>,
}

impl Member {
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The namespaces: one per member and the client's, with the bridge that joins them.
fn network(cleanup: &mut Cleanup) {
    image::add_namespace(cleanup, CLIENT_NS);
    netns_hosts(cleanup, CLIENT_NS);
    ip(CLIENT_NS, &["link", "add", "fkensbr", "type", "bridge"]);
    ip(
        CLIENT_NS,
        &["addr", "add", &format!("{CLIENT_ADDRESS}/24"), "dev", "fkensbr"],
    );
    ip(CLIENT_NS, &["link", "set", "fkensbr", "up"]);
    for id in MEMBERS {
        let ns = member_ns(id);
        image::add_namespace(cleanup, &ns);
        let port = format!("fkens{id}");
        ip(
            CLIENT_NS,
            &[
                "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ],
        );
        ip(CLIENT_NS, &["link", "set", &port, "master", "fkensbr", "up"]);
        ip(
            &ns,
            &["addr", "add", &format!("{}/24", address(id)), "dev", "eth0"],
        );
        ip(&ns, &["link", "set", "eth0", "up"]);
        netns_hosts(cleanup, &ns);
    }
}

/// The /etc/hosts `ip netns exec` shows in namespace `ns` (the Java members and Prometheus resolve the
/// members' names with it; the image's members have their own).
fn netns_hosts(cleanup: &mut Cleanup, ns: &str) {
    let etc = PathBuf::from("/etc/netns").join(ns);
    std::fs::create_dir_all(&etc).expect("/etc/netns/<namespace>");
    cleanup.dirs.push(etc.clone());
    std::fs::write(etc.join("hosts"), hosts_file()).expect("hosts");
}

/// Starts member `id` of `compose` as its image runs it, with its environment from the file.
fn start_member(compose: &Value, id: u64, dir: &Path, image: &str, image_env: &[String]) -> Member {
    let name = format!("zoo{id}");
    let env = service_env(compose, &name);
    let kind = service(compose, &name)["image"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let log_path = dir.join(format!("{name}.log"));
    let log = std::fs::File::create(&log_path).expect("log file");
    let (mut command, rootfs) = if kind == FERROKEEPER_IMAGE {
        let rootfs = dir.join(&name);
        image::export(image, &rootfs);
        std::fs::write(rootfs.join("etc/hosts"), hosts_file()).expect("hosts");
        let user = image::inspect(image, "{{.Config.User}}");
        let mut c = chroot_command(&member_ns(id), &rootfs, &user, image_env, &Vec::from_iter(env));
        c.arg("docker-entrypoint");
        (c, Some(rootfs))
    } else {
        assert_eq!(kind, OFFICIAL_IMAGE, "{name}'s image");
        (official_member(id, &env, &dir.join(&name)), None)
    };
    let child = command
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start a member");
    Member {
        id,
        image: kind,
        child: Some(child),
        log: log_path,
        rootfs,
    }
}

/// Apache ZooKeeper in member `id`'s namespace, as the official image starts it: the zoo.cfg and myid its
/// entrypoint writes for `env` (docker/ and tests/docker_image.rs hold that ferrokeeper's entrypoint writes
/// the same bytes), with the data directories under `dir` in place of /data and /datalog.
fn official_member(id: u64, env: &BTreeMap<String, String>, dir: &Path) -> Command {
    let mut env = env.clone();
    for (var, sub) in [
        ("ZOO_CONF_DIR", "conf"),
        ("ZOO_DATA_DIR", "data"),
        ("ZOO_DATA_LOG_DIR", "datalog"),
    ] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).expect("member dir");
        env.insert(var.to_owned(), path.display().to_string());
    }
    let generated = ferrokeeper::docker::ImageEnv::new(|name: &str| env.get(name).cloned());
    let cfg = generated.prepare().expect("zoo.cfg and myid");
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &member_ns(id), "java", "-cp"])
        .arg(ensemble::maven_classpath(OFFICIAL_VERSION))
        .args(["-Xmx256m", "-Djava.awt.headless=true"])
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(cfg);
    c
}

/// python3 running `script` with `args` in the client namespace; its output.
fn client_python(script: &str, args: &[String]) -> String {
    let out = run(Command::new("ip")
        .args(["netns", "exec", CLIENT_NS, "python3", "-c", script])
        .args(args));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// A process killed (SIGKILL) when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Prometheus with docker/prometheus.yml as it is, in the client namespace, where the members' service names
/// resolve as on the compose file's network.
fn start_prometheus(dir: &Path) -> Process {
    require(
        "prometheus",
        &["--version"],
        "apt-get install prometheus (compat-tests/install.sh)",
    );
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
    let child = Command::new("ip")
        .args(["netns", "exec", CLIENT_NS, "prometheus"])
        .arg(format!("--config.file={}", root().join(PROMETHEUS).display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
        .arg("--web.listen-address=127.0.0.1:9090")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    Process(child)
}

/// Waits until Prometheus has every member's target up and a `znode_count` series from each.
fn wait_for_scrapes(prometheus: &mut Process, dir: &Path) {
    let script = "import json, sys, urllib.parse, urllib.request\n\
        for q in sys.argv[1:]:\n\
        \x20   try:\n\
        \x20       url = 'http://127.0.0.1:9090/api/v1/query?query=' + urllib.parse.quote(q)\n\
        \x20       r = json.load(urllib.request.urlopen(url, timeout=3))['data']['result']\n\
        \x20       print(json.dumps(sorted(s['metric']['instance'] for s in r)))\n\
        \x20   except OSError:\n\
        \x20       print('-')\n";
    let queries = ["up == 1".to_owned(), "znode_count".to_owned()];
    let every = format!("{:?}", MEMBERS.map(|id| format!("zoo{id}:7000")));
    let deadline = Instant::now() + WAIT;
    loop {
        let answers = client_python(script, &queries);
        if answers.lines().filter(|l| *l == every).count() == queries.len() {
            return;
        }
        if Instant::now() > deadline || prometheus.0.try_wait().ok().flatten().is_some() {
            let log = std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
            panic!("Prometheus does not see every member: {answers}\n{log}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Resident memory (VmRSS) of each running member's process.
fn memory(members: &[Member]) -> Vec<String> {
    members
        .iter()
        .filter_map(|m| {
            let pid = m.child.as_ref()?.id();
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_owned())
            };
            Some(format!("zoo{} {} {}", m.id, field("Name:")?, field("VmRSS:")?))
        })
        .collect()
}

/// `Mode:` of `srvr` on every member, asked from the client namespace; None where a member does not answer.
fn modes() -> BTreeMap<u64, Option<String>> {
    let script = "import socket, sys\n\
        for host in sys.argv[1:]:\n\
        \x20   try:\n\
        \x20       s = socket.create_connection((host, 2181), timeout=3)\n\
        \x20       s.sendall(b'srvr')\n\
        \x20       out = b''\n\
        \x20       while True:\n\
        \x20           chunk = s.recv(4096)\n\
        \x20           if not chunk: break\n\
        \x20           out += chunk\n\
        \x20       mode = [l[6:] for l in out.decode().splitlines() if l.startswith('Mode: ')]\n\
        \x20       print(mode[0] if mode else '-')\n\
        \x20   except OSError:\n\
        \x20       print('-')\n";
    let text = client_python(script, &MEMBERS.map(address));
    MEMBERS
        .iter()
        .zip(text.lines())
        .map(|(id, m)| (*id, (m != "-").then(|| m.to_owned())))
        .collect()
}

/// Waits until the running members are one leader and followers; returns the leader's id.
fn wait_for_quorum(members: &[Member]) -> u64 {
    let deadline = Instant::now() + WAIT;
    loop {
        let modes = modes();
        let running: Vec<&Member> = members.iter().filter(|m| m.child.is_some()).collect();
        let leaders: Vec<u64> = running
            .iter()
            .filter(|m| modes[&m.id].as_deref() == Some("leader"))
            .map(|m| m.id)
            .collect();
        let whole = running
            .iter()
            .all(|m| matches!(modes[&m.id].as_deref(), Some("leader" | "follower")));
        if whole && leaders.len() == 1 {
            return leaders[0];
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = members
                .iter()
                .map(|m| {
                    let text = std::fs::read_to_string(&m.log).unwrap_or_default();
                    let lines: Vec<&str> = text.lines().collect();
                    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
                    format!("--- zoo{} ({}) ---\n{tail}", m.id, m.image)
                })
                .collect();
            panic!("no quorum within {WAIT:?}: modes {modes:?}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The image's health check (`ferrokeeper status`) on every running ferrokeeper member: it passes and shows
/// the mode `srvr` showed.
fn check_health(members: &[Member], image_env: &[String], user: &str) {
    let modes = modes();
    for m in members.iter().filter(|m| m.child.is_some()) {
        let Some(rootfs) = &m.rootfs else { continue };
        let none: [(&str, &str); 0] = [];
        let out = run(chroot_command(&member_ns(m.id), rootfs, user, image_env, &none).arg("status"));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mode = modes[&m.id].clone().expect("a mode");
        assert!(text.contains(&format!("Mode: {mode}")), "zoo{}: {text}", m.id);
    }
}

/// kazoo from the client namespace: writes `path` = `value` through member `write`, then on member `read`
/// syncs and reads every path of `paths`; returns `path=value` for each, one a line.
fn write_then_read(write: u64, read: u64, path: &str, value: &str, paths: &[&str]) -> String {
    let script = "import sys\n\
        from kazoo.client import KazooClient\n\
        def client(host):\n\
        \x20   zk = KazooClient(hosts=host + ':2181', timeout=10)\n\
        \x20   zk.start(timeout=30)\n\
        \x20   return zk\n\
        a, b = client(sys.argv[1]), client(sys.argv[2])\n\
        a.create(sys.argv[3], sys.argv[4].encode(), makepath=True)\n\
        for p in sys.argv[5:]:\n\
        \x20   b.sync(p)\n\
        \x20   print(p + '=' + b.get(p)[0].decode())\n\
        a.stop()\n\
        b.stop()\n";
    let (python, sdist) = kazoo_venv::interpreter();
    let out = run(Command::new("ip")
        .args(["netns", "exec", CLIENT_NS])
        .arg(python)
        .args(["-c", script, &address(write), &address(read), path, value])
        .args(paths)
        .env("PYTHONPATH", sdist));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// Runs `file`'s three members, checks that they form an ensemble and serve, kills the leader and checks that
/// the other two elect a leader and keep serving.
fn run_ensemble(file: &str, dir: &Path, image: &str, image_env: &[String], user: &str) {
    let compose = yaml(file);
    let started = Instant::now();
    let mut prometheus = compose["services"]["prometheus"]
        .is_object()
        .then(|| start_prometheus(dir));
    let mut members: Vec<Member> = MEMBERS
        .iter()
        .map(|&id| start_member(&compose, id, dir, image, image_env))
        .collect();
    let leader = wait_for_quorum(&members);
    println!("{file}: quorum after {:?}, zoo{leader} leads", started.elapsed());
    check_health(&members, image_env, user);
    if let Some(prometheus) = &mut prometheus {
        wait_for_scrapes(prometheus, dir);
        println!(
            "{file}: Prometheus scrapes every member {:?} after the start",
            started.elapsed()
        );
    }
    drop(prometheus);

    let followers: Vec<u64> = MEMBERS.into_iter().filter(|&id| id != leader).collect();
    assert_eq!(
        write_then_read(
            followers[0],
            followers[1],
            "/compose/before",
            "v1",
            &["/compose/before"]
        ),
        "/compose/before=v1"
    );
    println!("{file}: resident memory after the writes: {:?}", memory(&members));

    let killed = Instant::now();
    members[(leader - 1) as usize].kill();
    let new_leader = wait_for_quorum(&members);
    println!(
        "{file}: zoo{leader} killed; zoo{new_leader} leads after {:?}",
        killed.elapsed()
    );
    assert_ne!(new_leader, leader);
    check_health(&members, image_env, user);
    let other = followers
        .into_iter()
        .find(|&id| id != new_leader)
        .expect("a follower");
    assert_eq!(
        write_then_read(
            new_leader,
            other,
            "/compose/after",
            "v2",
            &["/compose/before", "/compose/after"]
        ),
        "/compose/before=v1\n/compose/after=v2"
    );
    assert_eq!(
        write_then_read(
            other,
            new_leader,
            "/compose/follower",
            "v3",
            &["/compose/follower"]
        ),
        "/compose/follower=v3"
    );
}

#[test]
fn compose_ensembles_run_from_the_image_form_serve_and_reelect_when_the_leader_is_killed() {
    let mut cleanup = Cleanup::default();
    let image = image::build(&mut cleanup);
    let image_env = image::environment(&image);
    let user = image::inspect(&image, "{{.Config.User}}");
    network(&mut cleanup);
    let dir = tempfile::tempdir().expect("tempdir");
    for (n, file) in [COMPOSE, MIGRATION].into_iter().enumerate() {
        let phase = dir.path().join(format!("phase{n}"));
        std::fs::create_dir_all(&phase).expect("phase dir");
        run_ensemble(file, &phase, &image, &image_env, &user);
    }
}
