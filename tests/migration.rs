//! A rolling migration from Apache ZooKeeper to ferrokeeper and back, under load (docs/MIGRATION.md is the
//! runbook it follows): a 3-member Apache ZooKeeper ensemble (3.9.5 and 3.8.6 from compat-tests/.maven, and
//! Debian's 3.8.0; also five members of which one is an observer, 3.9.5), with `extendedTypesEnabled`, gets two
//! trees and two loads:
//!
//! - from Curator (`support/MigrationCurator.java`): a tree under /big of 5,000 znodes, or 100,000 for the test
//!   at scale, built with multi batches (persistent, sequential, with a digest ACL, containers with a child,
//!   TTL nodes, ephemerals of an owner session that also sets data, child and exists watches); two clients
//!   taking an InterProcessMutex in turn and in a LeaderLatch; a CuratorCache of /big; a writer recording
//!   every acknowledged write;
//! - from kazoo (`support/migration_load.py`): a tree of a few thousand znodes under /mig, a writer on each
//!   member recording every acknowledged write, two contenders for kazoo's Lock recipe, an owner session of
//!   ephemerals.
//!
//! Each member in turn is killed with SIGKILL and started as ferrokeeper on the same data directory and
//! zoo.cfg, the leader last, waiting for the quorum and some acknowledged writes after each; then the same back
//! to Apache ZooKeeper. Some runs also kill the leader of the mixed ensemble after the first step and start it
//! again as what it was.
//!
//! Checked at the end, on each member alone after a sync: the same trees everywhere (data, ephemeral owners,
//! ACLs), every acknowledged write there, the owners' ephemerals there and their sessions never lost, the
//! watches set before the migration firing for changes made after it, the cache holding what the tree holds,
//! neither lock held by two at once, never two latch leaders and one at the end. Each step's unavailability
//! window (the longest time writes went unacknowledged) is printed, never asserted on. Waits have generous
//! deadlines and fail with the members' and loads' logs.

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

/// `MigrationCurator.java` (compiled with javac against compat-tests/.maven's Curator) in the background, in the
/// kazoo load's directory (the same stop file ends both); killed when dropped.
struct CuratorLoad {
    out: PathBuf,
    child: Option<Child>,
    _classes: tempfile::TempDir,
}

impl CuratorLoad {
    fn start(out: &Path, znodes: u32, ports: &[u16]) -> CuratorLoad {
        let jars = root().join("compat-tests/.maven/curator-5.9.0");
        let classpath: Vec<String> = std::fs::read_dir(&jars)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}: Curator is needed: run compat-tests/install.sh",
                    jars.display()
                )
            })
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "jar"))
            .map(|p| p.display().to_string())
            .collect();
        assert!(!classpath.is_empty(), "no Curator jars in {}", jars.display());
        let classes = tempfile::tempdir().expect("tempdir");
        let javac = Command::new("javac")
            .args(["-nowarn", "-d"])
            .arg(classes.path())
            .args(["-cp", &classpath.join(":")])
            .arg(root().join("tests/support/MigrationCurator.java"))
            .output()
            .expect("javac is needed for this test (a JDK): run compat-tests/install.sh");
        assert!(
            javac.status.success(),
            "javac failed:\n{}",
            String::from_utf8_lossy(&javac.stderr)
        );
        std::fs::create_dir_all(out).expect("load dir");
        let log = std::fs::File::create(out.join("curator.log")).expect("curator log");
        let child = Command::new("java")
            .args(["-Xmx1g", "-cp"])
            .arg(format!("{}:{}", classes.path().display(), classpath.join(":")))
            .arg("MigrationCurator")
            .arg(out)
            .arg(znodes.to_string())
            .args(ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the Curator load");
        CuratorLoad {
            out: out.to_owned(),
            child: Some(child),
            _classes: classes,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.out.join("curator.log")).unwrap_or_default()
    }

    /// Waits until the tree is built, the cache loaded and the load runs.
    fn wait_ready(&mut self, members: &[Member]) {
        let deadline = Instant::now() + Duration::from_secs(600);
        while !self.out.join("curator-ready").exists() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "the Curator load ended ({status}):\n{}\n{}",
                    self.log(),
                    logs(members)
                );
            }
            assert!(
                Instant::now() < deadline,
                "the Curator tree was not built in time:\n{}\n{}",
                self.log(),
                logs(members)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// After the stop file: waits for the checks; returns the output, failing the test if a check failed.
    fn finish(&mut self, members: &[Member]) -> String {
        let mut child = self.child.take().expect("Curator load running");
        let deadline = Instant::now() + Duration::from_secs(600);
        let status = loop {
            if let Some(status) = child.try_wait().expect("Curator load") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the Curator load did not end:\n{}\n{}", self.log(), logs(members));
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(
            status.success(),
            "the Curator checks failed:\n{}\n{}",
            self.log(),
            logs(members)
        );
        self.log()
    }
}

impl Drop for CuratorLoad {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Replaces every member of a kind other than `to` with a `to` member on the same directory, the followers
/// first and the leader last, waiting for the quorum and for writes after each.
fn roll(members: &mut [Member], to: Kind, load: &mut Load, label: &str, crash_after: Option<usize>) {
    let mut replaced = 0;
    loop {
        if crash_after == Some(replaced) {
            crash_the_leader(members, load, label);
        }
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
        replaced += 1;
    }
}

/// An unplanned failure in the middle of a migration: the leader of the mixed ensemble is killed with SIGKILL
/// and started again as what it was, on its data directory.
fn crash_the_leader(members: &mut [Member], load: &mut Load, label: &str) {
    let leader = wait_for_quorum(members, QUORUM_WITHIN);
    let at = members.iter().position(|m| m.id == leader).expect("the leader");
    let name = format!("{label}:crash-member{leader}(leader,{:?})", members[at].kind);
    let start = now();
    members[at].kill();
    members[at].restart();
    wait_for_quorum(members, QUORUM_WITHIN);
    load.wait_progress(WRITES_PER_STEP, members);
    load.step(&name, start, now());
}

/// What one migration run does.
struct Plan {
    /// What the ensemble runs at first and at the end.
    from: Kind,
    /// The znodes of the Curator load's tree under /big.
    znodes: u32,
    /// After how many replaced members of the migration the leader is killed and brought back.
    crash_after: Option<usize>,
    /// zoo.cfg's initLimit in ticks, in place of ensemble.rs's 20 (6 s): how long a leader waits for its
    /// followers to sync, which must cover the time a member takes to read its data directory.
    init_limit: Option<u32>,
    /// The members, by id, and those of them that are observers (`:observer` on their server lines).
    ids: &'static [u64],
    observers: &'static [u64],
}

/// One migration at a time: each is a whole ensemble, two JVMs of load and a tree, on a machine of two cores.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn migrate(plan: Plan) {
    // A migration that failed poisons the lock; the next one runs all the same.
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let began = Instant::now();
    let base = tempfile::tempdir().expect("tempdir");
    let ids = plan.ids;
    let ports = Ports::new(ids).with_observers(plan.observers);
    // A later line wins in zoo.cfg, for both kinds.
    let extra = format!(
        "admin.enableServer=false\nextendedTypesEnabled=true\n{}",
        plan.init_limit
            .map(|l| format!("initLimit={l}\n"))
            .unwrap_or_default()
    );
    let mut members: Vec<Member> = ids
        .iter()
        .map(|&id| {
            let mut m = Member::configure(base.path(), id, plan.from, &ports, &ports, &extra);
            m.heap_mb = 768;
            m.restart();
            m
        })
        .collect();
    wait_for_quorum(&members, QUORUM_WITHIN);
    let client_ports: Vec<u16> = ids.iter().map(|id| ports.client[id]).collect();
    let out = base.path().join("load");
    let mut curator = CuratorLoad::start(&out, plan.znodes, &client_ports);
    curator.wait_ready(&members);
    let mut load = Load::start(&out, &client_ports);
    load.wait_ready(&members);
    load.wait_progress(WRITES_PER_STEP, &members);
    let loaded = began.elapsed();

    roll(
        &mut members,
        Kind::Ferrokeeper,
        &mut load,
        "to-ferrokeeper",
        plan.crash_after,
    );
    assert!(members.iter().all(|m| m.kind == Kind::Ferrokeeper));
    roll(&mut members, plan.from, &mut load, "back", None);
    assert!(members.iter().all(|m| m.kind == plan.from));
    let rolled = began.elapsed();

    let kazoo_out = load.finish(&members);
    let curator_out = curator.finish(&members);
    println!(
        "{:?} -> ferrokeeper -> back: tree and load ready after {:.0} s, migration done after {:.0} s, checked after \
         {:.0} s\n{kazoo_out}\n{curator_out}",
        plan.from,
        loaded.as_secs_f64(),
        rolled.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
}

#[test]
fn rolling_migration_from_apache_zookeeper_3_9_and_back() {
    migrate(Plan {
        from: Kind::ZooKeeper("3.9.5"),
        znodes: 5_000,
        crash_after: None,
        init_limit: None,
        ids: &[1, 2, 3],
        observers: &[],
    });
}

/// When rolling back, a 3.8 member synced by SNAP from the ferrokeeper leader can stop on a COMMIT that follows
/// NEWLEADER (3.8's Learner has already cleared its pending proposals); it goes back to election and rejoins,
/// since every member's election answer carries the established epoch (`updateElectionVote`).
#[test]
fn rolling_migration_from_apache_zookeeper_3_8_and_back() {
    migrate(Plan {
        from: Kind::ZooKeeper("3.8.6"),
        znodes: 5_000,
        crash_after: Some(1),
        init_limit: None,
        ids: &[1, 2, 3],
        observers: &[],
    });
}

/// Debian's 3.8.0 (the packages on the machine).
#[test]
fn rolling_migration_from_debian_zookeeper_3_8_0_and_back() {
    migrate(Plan {
        from: Kind::DebianZooKeeper,
        znodes: 5_000,
        crash_after: Some(1),
        init_limit: None,
        ids: &[1, 2, 3],
        observers: &[],
    });
}

/// The tree at scale: 100,000 znodes (`FK_MIGRATION_ZNODES` for another size), to ferrokeeper and back, with
/// the leader of the mixed ensemble killed and brought back after the first follower is replaced.
#[test]
fn rolling_migration_at_scale_from_apache_zookeeper_3_9_and_back() {
    let znodes = std::env::var("FK_MIGRATION_ZNODES")
        .ok()
        .map(|v| v.parse().expect("FK_MIGRATION_ZNODES is a number"))
        .unwrap_or(100_000);
    migrate(Plan {
        from: Kind::ZooKeeper("3.9.5"),
        znodes,
        crash_after: Some(1),
        // A ferrokeeper member reads its data directory again when it leaves a role (and a follower synced by
        // TRUNC or SNAP once more): with 100,000 znodes, the debug build and a busy machine, 4 to 20 s each,
        // near or past the 6 s of initLimit=20, after which a leader gives up on its followers and every member
        // starts over (docs/MIGRATION.md).
        init_limit: Some(150),
        ids: &[1, 2, 3],
        observers: &[],
    });
}

/// Five members, one of them an observer (4 voters), from Apache ZooKeeper 3.9.5 to ferrokeeper and back: the
/// observer is replaced like a follower, and its clients' writes, locks and session go on through it.
#[test]
fn rolling_migration_of_five_members_with_an_observer_from_apache_zookeeper_3_9_and_back() {
    migrate(Plan {
        from: Kind::ZooKeeper("3.9.5"),
        znodes: 5_000,
        crash_after: None,
        init_limit: None,
        ids: &[1, 2, 3, 4, 5],
        observers: &[5],
    });
}
