//! A real Prometheus (Debian's `prometheus` package) scraping ferrokeeper and Apache ZooKeeper 3.9.5, each
//! started with ZooKeeper's Prometheus metrics provider (`metricsProvider.className`) on loopback ports. The
//! same kazoo requests go to both; then Prometheus's query API must show the same gauges and counters with the
//! same values on both (znode_count, num_alive_connections, the read and write latency summaries' counts...),
//! and the same metric names, but for the JVM's own collectors that only the Java server has. Every query of
//! the Grafana dashboard in docker/grafana/ must answer for both servers.
//!
//! Needs the `prometheus` binary, a JDK, the 3.9.5 jars with the provider in compat-tests/.maven and kazoo
//! (compat-tests/install.sh installs them); the test fails, saying what is missing, when one is not there.
//! The dashboard's metric names are also checked against ferrokeeper's own /metrics, with nothing installed.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/kazoo_venv.rs"]
mod kazoo_venv;

const PROMETHEUS_PROVIDER: &str = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider";
const DASHBOARD: &str = "docker/grafana/zookeeper.json";
/// How long the servers and Prometheus get to start, and Prometheus to see the requests' effect.
const WAIT: Duration = Duration::from_secs(90);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A loopback port nobody listens on now (the listener is closed again before the port is handed out).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// The processes the test started, stopped when it ends, however it ends.
#[derive(Default)]
struct Processes(Vec<(String, Child)>);

impl Processes {
    fn spawn(&mut self, name: &str, command: &mut Command, log: &Path) {
        let out = std::fs::File::create(log).expect("log file");
        let child = command
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
        self.0.push((name.to_owned(), child));
    }

    /// Fails the test with the log of a process that has exited.
    fn assert_running(&mut self, logs: &Path) {
        for (name, child) in &mut self.0 {
            if let Ok(Some(status)) = child.try_wait() {
                let log = std::fs::read_to_string(logs.join(format!("{name}.log"))).unwrap_or_default();
                panic!("{name} exited ({status}):\n{log}");
            }
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A plain HTTP/1.0 GET on loopback: the status code and the body, or None when nothing answers.
fn http_get(port: u16, target: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(stream, "GET {target} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split(' ').nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Asks Prometheus's HTTP API; the `data` of a successful answer, else the test fails with the answer.
fn prometheus_api(port: u16, path: &str, params: &[(&str, &str)]) -> serde_json::Value {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    let target = format!("{path}?{}", query.join("&"));
    let (status, body) =
        http_get(port, &target).unwrap_or_else(|| panic!("Prometheus does not answer {target}"));
    let answer: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{target}: {status} {e}: {body}"));
    assert_eq!(answer["status"], "success", "{target}: {status} {body}");
    answer["data"].clone()
}

/// An instant query: (job, value) of each series in the answer.
fn query(port: u16, expr: &str) -> Vec<(String, String)> {
    let data = prometheus_api(port, "/api/v1/query", &[("query", expr)]);
    let result = data["result"].as_array().cloned().unwrap_or_default();
    result
        .iter()
        .map(|s| {
            let job = s["metric"]["job"].as_str().unwrap_or_default().to_owned();
            let value = s["value"][1].as_str().unwrap_or_default().to_owned();
            (job, value)
        })
        .collect()
}

/// Every metric name Prometheus holds series of for that job.
fn names_of_job(port: u16, job: &str) -> BTreeSet<String> {
    let matcher = format!("{{job=\"{job}\"}}");
    let data = prometheus_api(port, "/api/v1/label/__name__/values", &[("match[]", &matcher)]);
    data.as_array()
        .expect("a list of names")
        .iter()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect()
}

/// The series names a PromQL expression selects: identifiers that are neither functions, aggregations,
/// keywords, label names (inside `{}` or the label list of `by`/`without`/`on`/`ignoring`/`group_*`) nor
/// durations (inside `[]`).
fn promql_metric_names(expr: &str) -> BTreeSet<String> {
    const KEYWORDS: &[&str] = &[
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
    ];
    // Set operators, and aggregations (whose `by (...)` may come before their parentheses).
    const OPERATORS: &[&str] = &[
        "and",
        "or",
        "unless",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
            }
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                while i < chars.len() && chars[i] != close {
                    if matches!(chars[i], '"' | '\'' | '`') {
                        let quote = chars[i];
                        i += 1;
                        while i < chars.len() && chars[i] != quote {
                            i += if chars[i] == '\\' { 2 } else { 1 };
                        }
                    }
                    i += 1;
                }
                i += 1;
            }
            c if c.is_ascii_digit() || c == '.' => {
                // A number, with its exponent or a duration's unit.
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let next = chars[i..].iter().find(|c| !c.is_whitespace());
                if KEYWORDS.contains(&word.as_str()) {
                    // A parenthesised list right after the keyword holds label names.
                    if next == Some(&'(') {
                        while i < chars.len() && chars[i] != ')' {
                            i += 1;
                        }
                    }
                } else if !OPERATORS.contains(&word.as_str()) && next != Some(&'(') {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// The dashboard's queries, with Grafana's variables given values Prometheus accepts.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = root().join(DASHBOARD);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("a PromQL expr");
            let expr = expr.replace("$__rate_interval", "1m").replace("$instance", ".+");
            queries.push((title.to_owned(), expr));
        }
    }
    assert!(!queries.is_empty(), "the dashboard has no queries");
    queries
}

/// ferrokeeper's zoo.cfg with the Prometheus provider on `metrics_port`.
fn zoo_cfg(dir: &Path, client_port: u16, metrics_port: u16) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let path = dir.join("zoo.cfg");
    let text = format!(
        "tickTime=2000\ndataDir={}\nclientPort={client_port}\nclientPortAddress=127.0.0.1\n\
         admin.enableServer=false\n4lw.commands.whitelist=*\nmetricsProvider.className={PROMETHEUS_PROVIDER}\n\
         metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={metrics_port}\n",
        data.display()
    );
    std::fs::write(&path, text).expect("zoo.cfg");
    path
}

fn srvr(port: u16) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.write_all(b"srvr");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// Polls `check` until it passes; fails the test with its last complaint after [`WAIT`], or with the log of a
/// process that exited.
fn wait_until(
    what: &str,
    processes: &mut Processes,
    logs: &Path,
    mut check: impl FnMut() -> Result<(), String>,
) {
    let give_up = Instant::now() + WAIT;
    loop {
        let Err(complaint) = check() else {
            return;
        };
        processes.assert_running(logs);
        assert!(
            Instant::now() < give_up,
            "{what} did not happen within {WAIT:?}: {complaint}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The jars of Apache ZooKeeper 3.9.5 with its Prometheus provider, as compat-tests/install.sh copies them.
fn zookeeper_classpath() -> String {
    let dir = root().join("compat-tests/.maven/zookeeper-3.9.5");
    let mut jars: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    jars.retain(|p| p.extension().is_some_and(|e| e == "jar"));
    jars.sort();
    let has = |prefix: &str| {
        jars.iter().any(|j| {
            j.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
    };
    assert!(
        has("zookeeper-3.9.5") && has("zookeeper-prometheus-metrics-"),
        "Apache ZooKeeper 3.9.5 with its Prometheus provider is needed in {}: run compat-tests/install.sh",
        dir.display()
    );
    // The directory with logback.xml first, as the compat harness runs it.
    let mut parts = vec![root().join("compat-tests/reference/conf")];
    parts.extend(jars);
    let parts: Vec<String> = parts.iter().map(|p| p.display().to_string()).collect();
    parts.join(":")
}

/// The same requests to both servers; the sessions stay open until the returned stdin is dropped.
fn kazoo_requests(ports: [u16; 2], processes: &mut Processes, logs: &Path) -> ChildStdin {
    let script = "import sys\n\
        from kazoo.client import KazooClient\n\
        clients = []\n\
        for hosts in sys.argv[1:]:\n\
        \x20   zk = KazooClient(hosts=hosts, timeout=10)\n\
        \x20   zk.start(timeout=30)\n\
        \x20   for i in range(10):\n\
        \x20       zk.create('/scraped/n%d' % i, b'value', makepath=True)\n\
        \x20   for i in range(10):\n\
        \x20       zk.get('/scraped/n%d' % i)\n\
        \x20   zk.set('/scraped/n1', b'changed')\n\
        \x20   zk.delete('/scraped/n2')\n\
        \x20   zk.create('/scraped/e', b'', ephemeral=True)\n\
        \x20   zk.exists('/scraped/n3', watch=lambda event: None)\n\
        \x20   zk.get_children('/scraped', watch=lambda event: None)\n\
        \x20   clients.append(zk)\n\
        print('ready', flush=True)\n\
        sys.stdin.read()\n";
    let mut child = kazoo_venv::python(script)
        .args(ports.map(|p| format!("127.0.0.1:{p}")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(logs.join("kazoo.log")).expect("log file"))
        .spawn()
        .expect("start kazoo");
    let stdin = child.stdin.take().expect("kazoo's stdin");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("kazoo's stdout");
    let _ = BufReader::new(stdout).read_line(&mut line);
    let log = std::fs::read_to_string(logs.join("kazoo.log")).unwrap_or_default();
    assert_eq!(line.trim(), "ready", "kazoo's requests failed:\n{log}");
    processes.0.push(("kazoo".to_owned(), child));
    stdin
}

/// Values both servers must report alike after the same requests.
const SAME_VALUES: &[&str] = &[
    "znode_count",
    "num_alive_connections",
    "global_sessions",
    "ephemerals_count",
    "watch_count",
    "approximate_data_size",
    "outstanding_requests",
    "readlatency_count",
    "updatelatency_count",
];

/// The client ports of ferrokeeper and Apache ZooKeeper 3.9.5, and Prometheus's port.
struct Ports {
    ferrokeeper: u16,
    zookeeper: u16,
    prometheus: u16,
}

/// Starts both servers with the provider on ports of their own, and Prometheus scraping both every second.
fn start_servers_and_prometheus(dir: &Path, processes: &mut Processes) -> Ports {
    let java = "/usr/bin/java";
    assert!(
        Path::new(java).exists(),
        "a JDK is needed for this test: run compat-tests/install.sh"
    );
    let classpath = zookeeper_classpath();
    let [fk_client, fk_metrics, zk_client, zk_metrics, prometheus] = std::array::from_fn(|_| free_port());
    let fk_cfg = zoo_cfg(&dir.join("ferrokeeper"), fk_client, fk_metrics);
    processes.spawn(
        "ferrokeeper",
        Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
            .arg("start")
            .arg(&fk_cfg),
        &dir.join("ferrokeeper.log"),
    );
    let zk_dir = dir.join("zookeeper");
    let zk_cfg = zoo_cfg(&zk_dir, zk_client, zk_metrics);
    processes.spawn(
        "zookeeper",
        Command::new(java)
            .args(["-Xmx512m", "-cp", &classpath])
            .arg(format!("-Dzookeeper.log.dir={}", zk_dir.display()))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&zk_cfg),
        &dir.join("zookeeper.log"),
    );
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n\
             \x20 - job_name: ferrokeeper\n    static_configs: [{{targets: ['127.0.0.1:{fk_metrics}']}}]\n\
             \x20 - job_name: zookeeper\n    static_configs: [{{targets: ['127.0.0.1:{zk_metrics}']}}]\n"
        ),
    )
    .expect("prometheus.yml");
    processes.spawn(
        "prometheus",
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus}")),
        &dir.join("prometheus.log"),
    );
    Ports {
        ferrokeeper: fk_client,
        zookeeper: zk_client,
        prometheus,
    }
}

/// `Ok` with what both report once every one of [`SAME_VALUES`] is alike on both servers, the latency
/// summaries have counted the requests and the one session is connected to each.
fn same_values(prometheus: u16) -> Result<String, String> {
    if http_get(prometheus, "/-/ready").is_none_or(|(status, _)| status != 200) {
        return Err("Prometheus is not ready".to_owned());
    }
    let mut seen = Vec::new();
    for name in SAME_VALUES {
        let mut series = query(prometheus, name);
        series.sort();
        seen.push(format!("{name} {series:?}"));
        let alike = series.len() == 2 && series[0].1 == series[1].1;
        let counted = !name.ends_with("latency_count") || series.first().is_some_and(|s| s.1 != "0");
        let connected = *name != "num_alive_connections" || series.first().is_some_and(|s| s.1 == "1");
        if !(alike && counted && connected) {
            return Err(format!("{seen:#?}"));
        }
    }
    Ok(seen.join(", "))
}

/// The same names, but for the JVM's collectors (`exportJvmInfo`: jvm_*, process_*) of the Java server.
fn assert_same_names(prometheus: u16) {
    let ferrokeeper = names_of_job(prometheus, "ferrokeeper");
    let zookeeper = names_of_job(prometheus, "zookeeper");
    let only_ferrokeeper: Vec<_> = ferrokeeper.difference(&zookeeper).collect();
    let only_zookeeper: Vec<_> = zookeeper.difference(&ferrokeeper).collect();
    println!(
        "metric names: ferrokeeper {}, Apache ZooKeeper 3.9.5 {}; only in 3.9.5: {only_zookeeper:?}",
        ferrokeeper.len(),
        zookeeper.len()
    );
    assert!(
        only_ferrokeeper.is_empty(),
        "names Apache ZooKeeper does not have: {only_ferrokeeper:?}"
    );
    let lacking: Vec<_> = only_zookeeper
        .iter()
        .filter(|n| !n.starts_with("jvm_") && !n.starts_with("process_"))
        .collect();
    assert!(
        lacking.is_empty(),
        "ZooKeeper names ferrokeeper lacks: {lacking:?}"
    );
    assert!(ferrokeeper.contains("readlatency") && ferrokeeper.contains("readlatency_sum"));
}

/// `Ok` once every dashboard query answers for both servers (a rate once two scrapes hold the series).
fn dashboard_answers(prometheus: u16, queries: &[(String, String)]) -> Result<(), String> {
    let mut unanswered = Vec::new();
    for (title, expr) in queries {
        let mut jobs: Vec<String> = query(prometheus, expr).into_iter().map(|(job, _)| job).collect();
        jobs.sort();
        jobs.dedup();
        if jobs != ["ferrokeeper", "zookeeper"] {
            unanswered.push(format!("panel {title:?}: {expr} answers for {jobs:?}"));
        }
    }
    if unanswered.is_empty() {
        Ok(())
    } else {
        Err(format!("{unanswered:#?}"))
    }
}

#[test]
fn prometheus_sees_the_same_metrics_on_ferrokeeper_and_apache_zookeeper() {
    let found = Command::new("prometheus")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "Debian's prometheus is needed for this test: apt-get install prometheus (compat-tests/install.sh)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let logs = dir.path();
    let mut processes = Processes::default();
    let ports = start_servers_and_prometheus(logs, &mut processes);
    for port in [ports.ferrokeeper, ports.zookeeper] {
        wait_until(&format!("srvr on port {port}"), &mut processes, logs, || {
            let answer = srvr(port);
            answer.contains("Mode: standalone").then_some(()).ok_or(answer)
        });
    }
    let _sessions = kazoo_requests([ports.ferrokeeper, ports.zookeeper], &mut processes, logs);

    // Both scraped after the requests: every value alike, and sensible.
    let mut values = String::new();
    wait_until("the same values on both servers", &mut processes, logs, || {
        values = same_values(ports.prometheus)?;
        Ok(())
    });
    println!("values on both servers: {values}");
    let znodes: u64 = query(ports.prometheus, "znode_count")[0]
        .1
        .parse()
        .expect("a count");
    assert!(
        znodes >= 13,
        "znode_count {znodes}: the root, /zookeeper's three and /scraped's ten at least"
    );

    assert_same_names(ports.prometheus);
    let queries = dashboard_queries();
    wait_until("every dashboard query answering", &mut processes, logs, || {
        dashboard_answers(ports.prometheus, &queries)
    });
}

/// The metric names ferrokeeper's /metrics lists (`# TYPE` lines), from a server started with the provider.
fn ferrokeeper_metric_names() -> BTreeSet<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (client, metrics) = (free_port(), free_port());
    let cfg = zoo_cfg(dir.path(), client, metrics);
    let mut processes = Processes::default();
    processes.spawn(
        "ferrokeeper",
        Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
            .arg("start")
            .arg(&cfg),
        &dir.path().join("ferrokeeper.log"),
    );
    let mut body = String::new();
    wait_until(
        "/metrics answering",
        &mut processes,
        dir.path(),
        || match http_get(metrics, "/metrics") {
            Some((200, text)) => {
                body = text;
                Ok(())
            }
            other => Err(format!("{other:?}")),
        },
    );
    let mut names = BTreeSet::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (Some(name), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            names.insert(name.to_owned());
            if kind == "summary" || kind == "histogram" {
                names.insert(format!("{name}_count"));
                names.insert(format!("{name}_sum"));
            }
        }
    }
    names
}

#[test]
fn every_metric_the_grafana_dashboard_queries_is_one_ferrokeeper_exports() {
    let exported = ferrokeeper_metric_names();
    assert!(exported.contains("znode_count"), "{exported:?}");
    let mut queried = BTreeSet::new();
    for (title, expr) in dashboard_queries() {
        let names = promql_metric_names(&expr);
        assert!(!names.is_empty(), "panel {title:?} queries no metric: {expr}");
        for name in names {
            assert!(
                exported.contains(&name),
                "panel {title:?} queries {name}, which ferrokeeper does not export"
            );
            queried.insert(name);
        }
    }
    println!("the dashboard queries {} metrics: {queried:?}", queried.len());
}

#[test]
fn promql_metric_names_skips_functions_labels_durations_and_keywords() {
    let names = promql_metric_names(
        r#"sum by (instance) (rate(readlatency_count{instance=~"a|b", q="x{y}"}[5m])) / on(job) group_left
           max_latency offset 1m + 1e3 * (znode_count or ephemerals_count) > bool 0.5"#,
    );
    let want: BTreeSet<String> = [
        "readlatency_count",
        "max_latency",
        "znode_count",
        "ephemerals_count",
    ]
    .map(String::from)
    .into();
    assert_eq!(names, want);
}
