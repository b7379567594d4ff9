//! The system-call filter of packaging/ferrokeeper.service allows every call the server makes. systemd may
//! not run here, so the filter is not applied: the server runs under strace instead, starting, serving kazoo's
//! creates, reads and watches, writing snapshots (`snapCount=20`), answering /metrics, the AdminServer and a
//! four-letter word, and stopping on SIGTERM; every system call in the trace must be in the sets the unit's
//! `SystemCallFilter=` names, as `systemd-analyze syscall-filter` expands them.
//!
//! Needs strace and systemd-analyze (compat-tests/install.sh installs them) and kazoo; the test fails, saying
//! what is missing, when one is not there.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "support/commands.rs"]
mod commands;
#[path = "support/kazoo_venv.rs"]
mod kazoo_venv;

use commands::{require, run};

const UNIT: &str = "packaging/ferrokeeper.service";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The system calls of a filter entry (`@group` or a name), groups expanded recursively.
fn expand(entry: &str, into: &mut BTreeSet<String>) {
    if !entry.starts_with('@') {
        into.insert(entry.to_owned());
        return;
    }
    let listing = run(Command::new("systemd-analyze").args(["syscall-filter", entry]));
    let text = String::from_utf8_lossy(&listing.stdout).into_owned();
    // The first line names the group; then its members, with `#` comments.
    for line in text.lines().skip(1) {
        let member = line.split('#').next().unwrap_or_default().trim();
        if !member.is_empty() {
            expand(member, into);
        }
    }
}

/// What the unit's `SystemCallFilter=` lines allow (allow lists only: the unit has no `~` deny list).
fn allowed_by_the_unit() -> BTreeSet<String> {
    let unit = std::fs::read_to_string(root().join(UNIT)).expect("the unit");
    let mut allowed = BTreeSet::new();
    for value in unit
        .lines()
        .filter_map(|l| l.trim().strip_prefix("SystemCallFilter="))
    {
        assert!(!value.starts_with('~'), "a deny list is not read here: {value}");
        for entry in value.split_whitespace() {
            expand(entry, &mut allowed);
        }
    }
    assert!(allowed.len() > 100, "the unit allows only {allowed:?}");
    allowed
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// Sends `request` and reads the answer until the server closes.
fn ask(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request).expect("send");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer
}

/// The distinct system calls of an `strace -f` output.
fn traced_calls(trace: &str) -> BTreeSet<String> {
    trace
        .lines()
        .filter_map(|line| {
            let call = line.split_once(' ')?.1.trim_start();
            let name = call.split_once('(')?.0;
            let plain = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            plain.then(|| name.to_owned())
        })
        .collect()
}

#[test]
fn the_units_system_call_filter_allows_every_call_the_server_makes() {
    require(
        "strace",
        &["-V"],
        "apt-get install strace (compat-tests/install.sh)",
    );
    require("systemd-analyze", &["--version"], "apt-get install systemd");
    let allowed = allowed_by_the_unit();

    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("data dir");
    let [client, metrics, admin] = std::array::from_fn(|_| free_port());
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={client}\nclientPortAddress=127.0.0.1\nsnapCount=20\n\
             4lw.commands.whitelist=*\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={admin}\n\
             metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
             metricsProvider.httpHost=127.0.0.1\nmetricsProvider.httpPort={metrics}\n",
            data.display()
        ),
    )
    .expect("zoo.cfg");
    let trace = dir.path().join("trace");
    let log = std::fs::File::create(dir.path().join("server.log")).expect("log");
    let mut strace = Command::new("strace")
        .args(["-f", "-qq", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_ferrokeeper"))
        .arg("start")
        .arg(&cfg)
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start strace");

    // The server's own pid, from the pid file `start` writes once it serves.
    let pid_file = data.join("zookeeper_server.pid");
    let give_up = Instant::now() + Duration::from_secs(60);
    while !ask_ok(client) {
        let exited = strace.try_wait().expect("strace status");
        let text = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
        assert!(
            exited.is_none() && Instant::now() < give_up,
            "the server did not start ({exited:?}):\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let script = "import sys\n\
        from kazoo.client import KazooClient\n\
        zk = KazooClient(hosts=sys.argv[1], timeout=10)\n\
        zk.start(timeout=30)\n\
        for i in range(100):\n\
        \x20   zk.create('/traced/n%d' % i, b'x' * 100, ephemeral=(i % 2 == 0), makepath=True)\n\
        for i in range(100):\n\
        \x20   zk.get('/traced/n%d' % i, watch=lambda event: None)\n\
        zk.set('/traced/n1', b'changed')\n\
        zk.stop()\n";
    run(kazoo_venv::python(script).arg(format!("127.0.0.1:{client}")));
    assert!(ask(metrics, b"GET /metrics HTTP/1.0\r\n\r\n").contains("znode_count"));
    assert!(ask(admin, b"GET /commands/mntr HTTP/1.0\r\n\r\n").contains("znode_count"));
    assert!(ask(client, b"mntr").contains("zk_znode_count"));
    let snapshots = std::fs::read_dir(data.join("version-2"))
        .expect("version-2")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("snapshot."))
        })
        .count();
    assert!(
        snapshots >= 2,
        "{snapshots} snapshots: snapCount=20 should have taken some while serving"
    );

    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid");
    let pid = rustix::process::Pid::from_raw(pid).expect("a positive pid");
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
    let status = strace.wait().expect("strace");
    assert!(status.success(), "the server under strace ended with {status}");

    let used = traced_calls(&std::fs::read_to_string(&trace).expect("trace"));
    println!("{} distinct system calls: {used:?}", used.len());
    assert!(used.contains("fdatasync") || used.contains("fsync"), "{used:?}");
    let refused: Vec<_> = used.difference(&allowed).collect();
    assert!(refused.is_empty(), "the unit's filter would refuse {refused:?}");
}

/// Whether the client port answers `ruok` with `imok`.
fn ask_ok(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok() && ask(port, b"ruok") == "imok"
}

#[test]
fn traced_calls_reads_strace_lines() {
    let trace = "12 openat(AT_FDCWD, \"/x\", O_RDONLY) = 3\n\
        13 futex(0x1, FUTEX_WAIT, 0, NULL <unfinished ...>\n\
        13 <... futex resumed>) = 0\n\
        12 --- SIGTERM {si_signo=SIGTERM} ---\n\
        12 +++ exited with 0 +++\n";
    let calls: Vec<String> = traced_calls(trace).into_iter().collect();
    assert_eq!(calls, ["futex", "openat"]);
}
