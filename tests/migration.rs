//! A rolling migration from Apache ZooKeeper to ferrokeeper and back, under load (docs/MIGRATION.md is the
//! runbook it follows): a 3-member Apache ZooKeeper ensemble (3.9.5, and 3.8.6, from compat-tests/.maven)
//! gets a tree of a few thousand znodes (persistent, sequential, with a digest ACL, a container, ephemerals)
//! and continuous load from kazoo (`support/migration_load.py`: a writer on each member recording every
//! acknowledged write, two contenders for kazoo's Lock recipe, an owner session of the ephemerals). Each
//! member in turn is killed with SIGKILL and started as ferrokeeper on the same data directory and zoo.cfg, the
//! leader last, waiting for the quorum and some acknowledged writes after each; then the same back to Apache
//! ZooKeeper.
//!
//! Checked at the end, on each member alone after a sync: the same tree everywhere, every acknowledged write
//! there with its data, the owner's ephemerals there and its session never lost, the lock never held by two
//! contenders at once. Each step's unavailability window (the longest time writes went unacknowledged) is
//! printed, never asserted on. Waits have generous deadlines and fail with the members' logs.

#[path = "support/ensemble.rs"]
mod ensemble;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ensemble::{wait_for_quorum, Kind, Member, Ports};

/// How long an ensemble may take to elect a leader and sync after a member is replaced.
const QUORUM_WITHIN: Duration = Duration::from_secs(90);
/// How long the writers may take to get writes through after a step.
const PROGRESS_WITHIN: Duration = Duration::from_secs(90);
/// Acknowledged writes waited for after each step (over every writer).
const WRITES_PER_STEP: u64 = 30;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn logs(members: &[Member]) -> String {
    members
        .iter()
        .map(|m| format!("--- member {} ({:?}) ---\n{}", m.id, m.kind, m.log_tail()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// `migration_load.py run` in the background; killed when dropped.
struct Load {
    out: PathBuf,
    child: Option<Child>,
}

impl Load {
    fn start(out: &Path, ports: &[u16]) -> Load {
        let python = root().join("compat-tests/.venv/bin/python");
        let sdist = root().join("compat-tests/.cache/kazoo-2.11.0");
        assert!(
            python.is_file() && sdist.is_dir(),
            "kazoo is needed for this test: run compat-tests/install.sh"
        );
        std::fs::create_dir_all(out).expect("load dir");
        let log = std::fs::File::create(out.join("load.log")).expect("load log");
        let child = Command::new(python)
            .arg(root().join("tests/support/migration_load.py"))
            .arg("run")
            .arg(sdist)
            .arg(out)
            .args(ports.iter().map(u16::to_string))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the load");
        Load {
            out: out.to_owned(),
            child: Some(child),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.out.join("load.log")).unwrap_or_default()
    }

    /// Fails the test if the load ended before it was asked to.
    fn still_running(&mut self, members: &[Member]) {
        if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
            panic!("the load ended ({status}):\n{}\n{}", self.log(), logs(members));
        }
    }

    /// Waits until the tree is built and the load runs.
    fn wait_ready(&mut self, members: &[Member]) {
        let deadline = Instant::now() + PROGRESS_WITHIN;
        while !self.out.join("ready").exists() {
            self.still_running(members);
            assert!(
                Instant::now() < deadline,
                "the tree was not built in time:\n{}\n{}",
                self.log(),
                logs(members)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn acked(&self) -> u64 {
        std::fs::read_to_string(self.out.join("progress"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits until `more` further writes are acknowledged.
    fn wait_progress(&mut self, more: u64, members: &[Member]) {
        let goal = self.acked() + more;
        let deadline = Instant::now() + PROGRESS_WITHIN;
        while self.acked() < goal {
            self.still_running(members);
            assert!(
                Instant::now() < deadline,
                "writers stuck at {} acknowledged writes (wanted {goal}):\n{}\n{}",
                self.acked(),
                self.log(),
                logs(members)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Records a step for the unavailability windows the load prints.
    fn step(&self, name: &str, start: f64, end: f64) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.out.join("steps"))
            .expect("steps file");
        writeln!(f, "{name} {start:.3} {end:.3}").expect("steps file");
    }

    /// Stops the load, which then runs its checks; returns its output, failing the test if a check failed.
    fn finish(&mut self, members: &[Member]) -> String {
        std::fs::write(self.out.join("stop"), b"").expect("stop file");
        let mut child = self.child.take().expect("load running");
        let deadline = Instant::now() + Duration::from_secs(180);
        let status = loop {
            if let Some(status) = child.try_wait().expect("load") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the load did not end:\n{}\n{}", self.log(), logs(members));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            status.success(),
            "the migration checks failed:\n{}\n{}",
            self.log(),
            logs(members)
        );
        self.log()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Replaces every member of a kind other than `to` with a `to` member on the same directory, the followers
/// first and the leader last, waiting for the quorum and for writes after each.
fn roll(members: &mut [Member], to: Kind, load: &mut Load, label: &str) {
    loop {
        let leader = wait_for_quorum(members, QUORUM_WITHIN);
        let Some(at) = members
            .iter()
            .position(|m| m.kind != to && m.id != leader)
            .or_else(|| members.iter().position(|m| m.kind != to))
        else {
            return;
        };
        let role = if members[at].id == leader {
            "leader"
        } else {
            "follower"
        };
        let name = format!("{label}:member{}({role})", members[at].id);
        let start = now();
        members[at].kill();
        members[at].kind = to;
        members[at].restart();
        wait_for_quorum(members, QUORUM_WITHIN);
        load.wait_progress(WRITES_PER_STEP, members);
        load.step(&name, start, now());
    }
}

fn migrate_and_roll_back(version: &'static str) {
    let base = tempfile::tempdir().expect("tempdir");
    let ids = [1, 2, 3];
    let ports = Ports::new(&ids);
    let mut members: Vec<Member> = ids
        .iter()
        .map(|&id| Member::start(base.path(), id, Kind::ZooKeeper(version), &ports))
        .collect();
    wait_for_quorum(&members, QUORUM_WITHIN);
    let client_ports: Vec<u16> = ids.iter().map(|id| ports.client[id]).collect();
    let mut load = Load::start(&base.path().join("load"), &client_ports);
    load.wait_ready(&members);
    load.wait_progress(WRITES_PER_STEP, &members);

    roll(&mut members, Kind::Ferrokeeper, &mut load, "to-ferrokeeper");
    assert!(members.iter().all(|m| m.kind == Kind::Ferrokeeper));
    roll(&mut members, Kind::ZooKeeper(version), &mut load, "back");
    assert!(members.iter().all(|m| m.kind == Kind::ZooKeeper(version)));

    let out = load.finish(&members);
    println!("Apache ZooKeeper {version} -> ferrokeeper -> back:\n{out}");
}

#[test]
fn rolling_migration_from_apache_zookeeper_3_9_and_back() {
    migrate_and_roll_back("3.9.5");
}

/// When rolling back, a 3.8 member synced by SNAP from the ferrokeeper leader can stop on a COMMIT that follows
/// NEWLEADER (3.8's Learner has already cleared its pending proposals); it goes back to election and rejoins,
/// since every member's election answer carries the established epoch (`updateElectionVote`).
#[test]
fn rolling_migration_from_apache_zookeeper_3_8_and_back() {
    migrate_and_roll_back("3.8.6");
}
