//! Ensembles on 127.0.0.1 for the tests: members that are ferrokeeper processes (this build's binary) or
//! Apache ZooKeeper JVMs (3.9.5 and 3.8.6 from compat-tests/.maven, which compat-tests/install.sh fills, and
//! Debian's 3.8.0 from /usr/share/java; a missing one fails the test naming what to install), each with its own
//! data directory, zoo.cfg and log file. Members are killed with SIGKILL when dropped or when a test kills them.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What runs a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ferrokeeper,
    /// Apache ZooKeeper of this version, from compat-tests/.maven.
    ZooKeeper(&'static str),
    /// Apache ZooKeeper 3.8.0 as Debian packages it (`zookeeper`, `libzookeeper-java`: the jars in
    /// /usr/share/java).
    DebianZooKeeper,
}

#[path = "debian_zookeeper.rs"]
mod debian_zookeeper;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn free_port() -> u16 {
    // Below the ephemeral range (32768-60999): a port the OS picked and released can be taken by an outgoing
    // connection before a slow member binds it. Each test process walks its own stretch of 10000-19999 (a
    // counter from an offset of its pid), keeping the first port that binds.
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = std::process::id() % 9000;
    for _ in 0..9000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 10_000 + ((offset + n * 7) % 9_000) as u16;
        if StdListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in 10000-18999")
}

/// The class path of Apache ZooKeeper `version` from compat-tests/.maven.
pub fn maven_classpath(version: &str) -> String {
    let dir = root().join(format!("compat-tests/.maven/zookeeper-{version}"));
    let jars: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; this test needs Apache ZooKeeper {version}: run compat-tests/install.sh",
                dir.display()
            )
        })
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jar"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        !jars.is_empty(),
        "no jars in {}: run compat-tests/install.sh",
        dir.display()
    );
    jars.join(":")
}

/// The ports of every member.
#[derive(Debug, Clone)]
pub struct Ports {
    pub client: BTreeMap<u64, u16>,
    pub quorum: BTreeMap<u64, u16>,
    pub election: BTreeMap<u64, u16>,
    /// The members whose server lines end in `:observer`.
    pub observers: Vec<u64>,
    /// A second address (127.0.0.2, quorum and election ports) on members' server lines
    /// (`multiAddress.enabled`).
    pub second: BTreeMap<u64, (u16, u16)>,
}

impl Ports {
    pub fn new(ids: &[u64]) -> Ports {
        let pick = || ids.iter().map(|&s| (s, free_port())).collect();
        Ports {
            client: pick(),
            quorum: pick(),
            election: pick(),
            observers: Vec::new(),
            second: BTreeMap::new(),
        }
    }

    /// The same ports with a second address for every member, on 127.0.0.2.
    pub fn with_second_addresses(mut self) -> Ports {
        self.second = self
            .client
            .keys()
            .map(|&id| (id, (free_port(), free_port())))
            .collect();
        self
    }

    /// The same ports with `ids` observers.
    pub fn with_observers(mut self, ids: &[u64]) -> Ports {
        self.observers = ids.to_vec();
        self
    }
}

pub const TICK_TIME_MS: u64 = 300;

/// logback's configuration for Apache ZooKeeper members: INFO and above, to the member's log.
const LOGBACK_INFO: &str = r#"<configuration>
  <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{HH:mm:ss.SSS} [%thread] %level %logger{0} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="out"/></root>
</configuration>
"#;

/// One member.
pub struct Member {
    pub id: u64,
    pub kind: Kind,
    pub dir: PathBuf,
    child: Option<Child>,
    pub client_port: u16,
    /// The heap of an Apache ZooKeeper member's JVM (`-Xmx`), in MiB.
    pub heap_mb: u32,
    /// `-D` system properties: on the java command line, or in `SERVER_JVMFLAGS` for ferrokeeper (as
    /// zkServer.sh hands them over).
    pub jvm_flags: String,
}

impl Member {
    /// Writes the member's zoo.cfg and myid under `base/m<id>` and starts it.
    pub fn start(base: &Path, id: u64, kind: Kind, ports: &Ports) -> Member {
        Member::start_seeing(base, id, kind, ports, ports, "admin.enableServer=false\n")
    }

    /// `start` with `extra` lines in zoo.cfg in place of the line that turns the AdminServer off.
    pub fn start_with(base: &Path, id: u64, kind: Kind, ports: &Ports, extra: &str) -> Member {
        Member::start_seeing(base, id, kind, ports, ports, extra)
    }

    /// As `start_with`, with the other members' quorum and election ports as `view` has them (a proxy's, say).
    pub fn start_seeing(
        base: &Path,
        id: u64,
        kind: Kind,
        ports: &Ports,
        view: &Ports,
        extra: &str,
    ) -> Member {
        let mut m = Member::configure(base, id, kind, ports, view, extra);
        m.restart();
        m
    }

    /// Writes the member's zoo.cfg and myid as `start_seeing` does; it is not started.
    pub fn configure(base: &Path, id: u64, kind: Kind, ports: &Ports, view: &Ports, extra: &str) -> Member {
        let dir = base.join(format!("m{id}"));
        let data = dir.join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        std::fs::write(data.join("myid"), format!("{id}\n")).expect("myid");
        let mut cfg = format!(
            "tickTime={TICK_TIME_MS}\ninitLimit=20\nsyncLimit=10\ndataDir={}\nclientPort={}\n\
             clientPortAddress=127.0.0.1\n{extra}4lw.commands.whitelist=*\n",
            data.display(),
            ports.client[&id]
        );
        for &s in ports.quorum.keys() {
            let seen = if s == id { ports } else { view };
            let role = if ports.observers.contains(&s) {
                ":observer"
            } else {
                ""
            };
            let second = match seen.second.get(&s) {
                Some((q, e)) => format!("|127.0.0.2:{q}:{e}"),
                None => String::new(),
            };
            cfg.push_str(&format!(
                "server.{s}=127.0.0.1:{}:{}{second}{role}\n",
                seen.quorum[&s], seen.election[&s]
            ));
        }
        std::fs::write(dir.join("zoo.cfg"), cfg).expect("zoo.cfg");
        Member {
            id,
            kind,
            dir,
            child: None,
            client_port: ports.client[&id],
            heap_mb: 256,
            jvm_flags: String::new(),
        }
    }

    /// `start_with`, the JVM given the system properties in `jvm_flags` (`-Dname=value ...`).
    pub fn start_with_flags(
        base: &Path,
        id: u64,
        kind: Kind,
        ports: &Ports,
        extra: &str,
        jvm_flags: &str,
    ) -> Member {
        let mut m = Member::configure(base, id, kind, ports, ports, extra);
        m.jvm_flags = jvm_flags.to_owned();
        m.restart();
        m
    }

    /// Starts the member again on its data directory (after `kill`).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "member {} is running", self.id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("log file");
        let mut cmd = match self.kind {
            Kind::Ferrokeeper => {
                let mut c = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"));
                c.arg("start")
                    .arg(self.dir.join("zoo.cfg"))
                    .env("RUST_LOG", "info")
                    .env("SERVER_JVMFLAGS", &self.jvm_flags);
                c
            }
            Kind::ZooKeeper(_) | Kind::DebianZooKeeper => {
                let classpath = match self.kind {
                    Kind::ZooKeeper(version) => maven_classpath(version),
                    _ => debian_zookeeper::classpath(),
                };
                // The Maven releases log through logback, which logs everything (DEBUG) without a configuration:
                // a line per znode touched, enough to slow a member down under load. Debian's logs at INFO.
                let logback = self.dir.join("logback.xml");
                std::fs::write(&logback, LOGBACK_INFO).expect("logback.xml");
                let mut c = Command::new(debian_zookeeper::JAVA);
                c.args([
                    "-cp",
                    &classpath,
                    &format!("-Xmx{}m", self.heap_mb),
                    &format!("-Dlogback.configurationFile={}", logback.display()),
                    "-Djava.awt.headless=true",
                ])
                .args(self.jvm_flags.split_whitespace())
                .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                .arg(self.dir.join("zoo.cfg"));
                c
            }
        };
        let child = cmd
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start a member");
        self.child = Some(child);
    }

    /// kill -9.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `Mode:` of `srvr`, if the member answers.
    pub fn mode(&self) -> Option<String> {
        let text = four_letter(self.client_port, "srvr")?;
        text.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(|m| m.trim().to_owned())
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A four-letter word's answer, or None if the port does not answer.
pub fn four_letter(port: u16, word: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    s.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Waits until every running member answers `srvr` with a mode that is leader, follower or observer and
/// exactly one leads; returns the leader's id. Panics with the members' logs after `within`.
pub fn wait_for_quorum(members: &[Member], within: Duration) -> u64 {
    let running: Vec<u64> = members.iter().filter(|m| m.is_running()).map(|m| m.id).collect();
    wait_for_leader_among(members, &running, within)
}

/// As `wait_for_quorum`, looking only at the members in `ids` (the side of a partition, say).
pub fn wait_for_leader_among(members: &[Member], ids: &[u64], within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let modes: Vec<(u64, Option<String>)> = members
            .iter()
            .filter(|m| ids.contains(&m.id))
            .map(|m| (m.id, m.mode()))
            .collect();
        let leaders: Vec<u64> = modes
            .iter()
            .filter(|(_, m)| m.as_deref() == Some("leader"))
            .map(|(id, _)| *id)
            .collect();
        let all_up = modes
            .iter()
            .all(|(_, m)| matches!(m.as_deref(), Some("leader" | "follower" | "observer")));
        if all_up && leaders.len() == 1 {
            return leaders[0];
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = members
                .iter()
                .map(|m| format!("--- member {} ({:?}) ---\n{}", m.id, m.kind, m.log_tail()))
                .collect();
            panic!(
                "no quorum within {within:?}: modes {modes:?}\n{}",
                logs.join("\n")
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs a kazoo script (the body of a function `check(hosts)` with `hosts` a list of "127.0.0.1:port") and
/// returns its output; panics with it if the script fails.
pub fn kazoo(hosts: &[u16], script: &str) -> String {
    let python = root().join("compat-tests/.venv/bin/python");
    let sdist = root().join("compat-tests/.cache/kazoo-2.11.0");
    assert!(
        python.is_file() && sdist.is_dir(),
        "kazoo is needed for this test: run compat-tests/install.sh"
    );
    let hosts: Vec<String> = hosts.iter().map(|p| format!("'127.0.0.1:{p}'")).collect();
    let program = format!(
        "import sys, time\nsys.path.insert(0, {sdist:?})\nfrom kazoo.client import KazooClient\n\
         from kazoo.exceptions import *\nhosts = [{}]\n{script}\n",
        hosts.join(", "),
        sdist = sdist.display().to_string()
    );
    let out = Command::new(&python)
        .arg("-c")
        .arg(&program)
        .output()
        .expect("run python");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kazoo script failed:\n{text}");
    text
}
