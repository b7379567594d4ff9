//! Faults in ferrokeeper ensembles (processes on 127.0.0.1): members killed with SIGKILL and restarted while
//! kazoo clients write through every member, a majority lost and regained, and network partitions made by a
//! proxy between the members' quorum and election ports (`support/partition.rs`).
//!
//! What must hold, as in ZooKeeper: every write a client got a reply for is on every member with its data once
//! the ensemble is whole again; the members end with the same tree and the same last zxid; a client's writes
//! are applied in the order it made them; without a quorum nothing is acknowledged and no member shows a write
//! that was not committed. Waits have generous deadlines and fail with the members' logs; nothing is timed.

#[path = "support/ensemble.rs"]
mod ensemble;
#[path = "support/partition.rs"]
mod partition;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ensemble::{four_letter, kazoo, wait_for_leader_among, wait_for_quorum, Kind, Member, Ports};
use partition::Net;

/// How long an ensemble may take to elect a leader and sync after a fault.
const QUORUM_WITHIN: Duration = Duration::from_secs(60);
/// How long writers may take to get some writes through after a fault.
const PROGRESS_WITHIN: Duration = Duration::from_secs(60);
/// Acknowledged writes waited for between faults.
const WRITES_PER_STEP: u64 = 20;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> (PathBuf, PathBuf, PathBuf) {
    let python = root().join("compat-tests/.venv/bin/python");
    let sdist = root().join("compat-tests/.cache/kazoo-2.11.0");
    assert!(
        python.is_file() && sdist.is_dir(),
        "kazoo is needed for this test: run compat-tests/install.sh"
    );
    (python, sdist, root().join("tests/support/fault_load.py"))
}

fn logs(members: &[Member]) -> String {
    members
        .iter()
        .map(|m| format!("--- member {} ---\n{}", m.id, m.log_tail()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `fault_load.py COMMAND` running in the background, its output in `out/COMMAND.log`; killed when dropped.
struct Script {
    out: PathBuf,
    command: &'static str,
    child: Option<Child>,
}

impl Script {
    fn start(out: &Path, command: &'static str, args: &[String]) -> Script {
        std::fs::create_dir_all(out).expect("script dir");
        let (python, sdist, script) = python();
        let log = std::fs::File::create(out.join(format!("{command}.log"))).expect("script log");
        let child = Command::new(python)
            .arg(script)
            .arg(command)
            .arg(sdist)
            .arg(out)
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start the script");
        Script {
            out: out.to_owned(),
            command,
            child: Some(child),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.out.join(format!("{}.log", self.command))).unwrap_or_default()
    }

    /// Fails the test if the script ended before it was asked to.
    fn still_running(&mut self, members: &[Member]) {
        if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
            panic!(
                "{} ended ({status}):\n{}\n{}",
                self.command,
                self.log(),
                logs(members)
            );
        }
    }

    /// Waits for the script to end and succeed; returns its output.
    fn finish(&mut self, members: &[Member]) -> String {
        let mut child = self.child.take().expect("script running");
        let deadline = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = child.try_wait().expect("script") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{} did not end:\n{}\n{}", self.command, self.log(), logs(members));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(
            status.success(),
            "{} failed:\n{}\n{}",
            self.command,
            self.log(),
            logs(members)
        );
        self.log()
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Writers (`fault_load.py write`) running in the background.
struct Load {
    script: Script,
}

impl Load {
    /// One writer per (name, ports), each preferring the first of its ports.
    fn start(out: &Path, root_path: &str, writers: &[(String, Vec<u16>)]) -> Load {
        let mut args = vec![root_path.to_owned()];
        for (name, ports) in writers {
            let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
            args.push(format!("{name}={}", ports.join(",")));
        }
        Load {
            script: Script::start(out, "write", &args),
        }
    }

    /// Acknowledged writes so far, over every writer.
    fn acked(&self) -> u64 {
        std::fs::read_dir(&self.script.out)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".progress"))
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .filter_map(|t| t.trim().parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Each writer's result as it recorded it (attempts, acknowledged, failed).
    fn summary(&self) -> String {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.script.out)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        names.sort();
        names
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                // {"acked": [...], "failed": F, "attempts": N}: the counts are at the end.
                let tail = text.rsplit(']').next().unwrap_or_default();
                format!(
                    "{} {}",
                    p.file_stem().unwrap_or_default().to_string_lossy(),
                    tail.trim_end_matches('}')
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Waits until `more` further writes are acknowledged.
    fn wait_progress(&mut self, more: u64, members: &[Member]) {
        let goal = self.acked() + more;
        let deadline = Instant::now() + PROGRESS_WITHIN;
        while self.acked() < goal {
            self.script.still_running(members);
            assert!(
                Instant::now() < deadline,
                "writers stuck at {} acknowledged writes (wanted {goal}):\n{}\n{}",
                self.acked(),
                self.script.log(),
                logs(members)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the writers and waits for their results.
    fn stop(&mut self, members: &[Member]) {
        std::fs::write(self.script.out.join("stop"), b"").expect("stop file");
        self.script.finish(members);
    }
}

/// `fault_load.py check` on the members of `ports`: the same tree under `root_path` everywhere, and with
/// `out`, the writers' acknowledged writes in their order.
fn check_converged(ports: &[u16], root_path: &str, out: Option<&Path>, members: &[Member]) -> String {
    let (python, sdist, script) = python();
    let mut cmd = Command::new(python);
    cmd.arg(script).arg("check").arg(sdist).arg(root_path);
    match out {
        Some(dir) => cmd.arg(dir),
        None => cmd.arg("-"),
    };
    for p in ports {
        cmd.arg(p.to_string());
    }
    let result = cmd.output().expect("run the check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    assert!(
        result.status.success(),
        "check failed:\n{text}\n{}",
        logs(members)
    );
    text
}

/// `Zxid:` of `srvr`.
fn zxid(m: &Member) -> Option<String> {
    let text = four_letter(m.client_port, "srvr")?;
    text.lines()
        .find_map(|l| l.strip_prefix("Zxid: "))
        .map(|z| z.trim().to_owned())
}

/// Waits until every running member names the same last zxid in `srvr`; returns it.
fn zxids_agree(members: &[Member]) -> String {
    let deadline = Instant::now() + QUORUM_WITHIN;
    loop {
        let zxids: Vec<(u64, Option<String>)> = members
            .iter()
            .filter(|m| m.is_running())
            .map(|m| (m.id, zxid(m)))
            .collect();
        if let Some((_, Some(first))) = zxids.first() {
            if zxids.iter().all(|(_, z)| z.as_ref() == Some(first)) {
                return first.clone();
            }
        }
        assert!(
            Instant::now() < deadline,
            "the members' zxids differ: {zxids:?}\n{}",
            logs(members)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn member(members: &mut [Member], id: u64) -> &mut Member {
    members.iter_mut().find(|m| m.id == id).expect("a member")
}

/// A writer `w<id>` for each member, preferring it: its client port first, then the others'.
fn writers(ports: &Ports) -> Vec<(String, Vec<u16>)> {
    ports
        .client
        .keys()
        .map(|&id| {
            let mut out = vec![ports.client[&id]];
            out.extend(ports.client.iter().filter(|(&s, _)| s != id).map(|(_, &p)| p));
            (format!("w{id}"), out)
        })
        .collect()
}

/// Stops the writers once the ensemble is whole, and checks that every member has every acknowledged write
/// in order, the same tree under /c and the same last zxid.
fn stop_and_check(mut load: Load, out: &Path, ports: &Ports, members: &[Member]) {
    load.stop(members);
    let client_ports: Vec<u16> = ports.client.values().copied().collect();
    let text = check_converged(&client_ports, "/c", Some(out), members);
    assert!(text.contains("converged"), "{text}");
    let zxid = zxids_agree(members);
    println!("{text}zxid {zxid} on every member; writers: {}", load.summary());
}

#[test]
fn acknowledged_writes_survive_killed_leaders_and_followers() {
    killed_leaders_and_followers(Kind::Ferrokeeper);
}

/// The same faults on Apache ZooKeeper, which the checks hold for as well.
#[test]
fn acknowledged_writes_survive_killed_apache_zookeeper_3_9_members() {
    killed_leaders_and_followers(Kind::ZooKeeper("3.9.5"));
}

/// Both kinds in one ensemble: leaders of either kind die, followers of either kind sync with them.
#[test]
fn acknowledged_writes_survive_killed_members_of_a_mixed_ensemble() {
    killed_leaders_and_followers_of(&[Kind::Ferrokeeper, Kind::ZooKeeper("3.9.5"), Kind::Ferrokeeper]);
}

fn killed_leaders_and_followers(kind: Kind) {
    killed_leaders_and_followers_of(&[kind; 3]);
}

/// Members 1, 2, 3 of the kinds given.
fn killed_leaders_and_followers_of(kinds: &[Kind; 3]) {
    let base = tempfile::tempdir().expect("tempdir");
    let ids = [1, 2, 3];
    let ports = Ports::new(&ids);
    let mut members: Vec<Member> = ids
        .iter()
        .zip(kinds)
        .map(|(&id, &kind)| Member::start(base.path(), id, kind, &ports))
        .collect();
    wait_for_quorum(&members, QUORUM_WITHIN);
    let out = base.path().join("load");
    let mut load = Load::start(&out, "/c", &writers(&ports));
    load.wait_progress(WRITES_PER_STEP, &members);
    for round in 0..3 {
        // The leader dies; the other two elect one of themselves and go on; the old leader comes back.
        let leader = wait_for_quorum(&members, QUORUM_WITHIN);
        member(&mut members, leader).kill();
        let killed = Instant::now();
        let new_leader = wait_for_quorum(&members, QUORUM_WITHIN);
        println!(
            "round {round}: leader {leader} killed, {new_leader} leads {:?} later",
            killed.elapsed()
        );
        assert_ne!(new_leader, leader);
        load.wait_progress(WRITES_PER_STEP, &members);
        member(&mut members, leader).restart();
        wait_for_quorum(&members, QUORUM_WITHIN);
        load.wait_progress(WRITES_PER_STEP, &members);
        // A follower dies and comes back.
        let follower = *ids.iter().find(|&&id| id != new_leader).expect("a follower");
        member(&mut members, follower).kill();
        assert_eq!(wait_for_quorum(&members, QUORUM_WITHIN), new_leader);
        load.wait_progress(WRITES_PER_STEP, &members);
        member(&mut members, follower).restart();
        wait_for_quorum(&members, QUORUM_WITHIN);
        load.wait_progress(WRITES_PER_STEP, &members);
    }
    // The leader dies and comes back at once, before the others have moved on.
    let leader = wait_for_quorum(&members, QUORUM_WITHIN);
    member(&mut members, leader).kill();
    member(&mut members, leader).restart();
    wait_for_quorum(&members, QUORUM_WITHIN);
    load.wait_progress(WRITES_PER_STEP, &members);
    // Every member dies at once in the middle of writes: what was acknowledged is on disk at a quorum.
    for m in members.iter_mut() {
        m.kill();
    }
    for m in members.iter_mut() {
        m.restart();
    }
    wait_for_quorum(&members, QUORUM_WITHIN);
    load.wait_progress(WRITES_PER_STEP, &members);
    stop_and_check(load, &out, &ports, &members);
}

/// Clients on members about to lose their quorum (`fault_load.py probe`): each creates a node once told to
/// and watches for it; nothing may be acknowledged or seen.
struct Probe {
    script: Script,
}

impl Probe {
    /// Starts the clients and waits until they are connected.
    fn start(out: &Path, path: &str, ports: &[u16], members: &[Member]) -> Probe {
        let mut args = vec![path.to_owned()];
        args.extend(ports.iter().map(u16::to_string));
        let mut script = Script::start(out, "probe", &args);
        let deadline = Instant::now() + QUORUM_WITHIN;
        while !out.join("ready").exists() {
            script.still_running(members);
            assert!(
                Instant::now() < deadline,
                "the probe's clients did not connect:\n{}\n{}",
                script.log(),
                logs(members)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Probe { script }
    }

    /// The clients write now.
    fn go(&self) {
        std::fs::write(self.script.out.join("go"), b"").expect("go file");
    }

    /// Waits for the probe's verdict: it passes once its clients are disconnected with nothing acknowledged.
    fn finish(&mut self, members: &[Member]) -> String {
        self.script.finish(members)
    }
}

#[test]
fn five_members_serve_with_three_and_acknowledge_nothing_with_two() {
    majority_lost_and_regained(Kind::Ferrokeeper);
}

#[test]
fn five_apache_zookeeper_3_9_members_serve_with_three_and_acknowledge_nothing_with_two() {
    majority_lost_and_regained(Kind::ZooKeeper("3.9.5"));
}

fn majority_lost_and_regained(kind: Kind) {
    let base = tempfile::tempdir().expect("tempdir");
    let ids = [1, 2, 3, 4, 5];
    let ports = Ports::new(&ids);
    let mut members: Vec<Member> = ids
        .iter()
        .map(|&id| Member::start(base.path(), id, kind, &ports))
        .collect();
    let leader = wait_for_quorum(&members, QUORUM_WITHIN);
    let all: Vec<u16> = ids.iter().map(|id| ports.client[id]).collect();
    kazoo(
        &all,
        r#"
c = KazooClient(hosts=",".join(hosts), timeout=10); c.start(timeout=30)
c.create("/p2", b"")
for i in range(20):
    c.create("/p2/before-%d" % i, b"%d" % i)
c.stop(); c.close()
"#,
    );
    // The leader and a follower die: three of five are a quorum and go on.
    let first_follower = *ids.iter().find(|&&id| id != leader).expect("a follower");
    member(&mut members, leader).kill();
    member(&mut members, first_follower).kill();
    let new_leader = wait_for_quorum(&members, QUORUM_WITHIN);
    assert_ne!(new_leader, leader);
    let survivors: Vec<u64> = members.iter().filter(|m| m.is_running()).map(|m| m.id).collect();
    let survivor_ports: Vec<u16> = survivors.iter().map(|id| ports.client[id]).collect();
    let out = kazoo(
        &survivor_ports,
        r#"
cs = [KazooClient(hosts=h, timeout=10) for h in hosts]
for c in cs: c.start(timeout=30)
for i, c in enumerate(cs):
    for j in range(20):
        c.create("/p2/three-%d-%d" % (i, j), b"%d" % j)
for c in cs:
    c.sync("/p2")
    names = c.get_children("/p2")
    assert len([n for n in names if n.startswith("three-")]) == 20 * len(cs), names
    assert len([n for n in names if n.startswith("before-")]) == 20, names
for c in cs: c.stop(); c.close()
print("three serve")
"#,
    );
    assert!(out.contains("three serve"), "{out}");
    // A third dies while clients on the last two write: no quorum, nothing acknowledged, nothing seen.
    let third = *survivors
        .iter()
        .find(|&&id| id != new_leader)
        .expect("a follower");
    let cut_off: Vec<u16> = survivors
        .iter()
        .filter(|&&id| id != third)
        .map(|id| ports.client[id])
        .collect();
    let mut probe = Probe::start(&base.path().join("probe"), "/p2/pending", &cut_off, &members);
    member(&mut members, third).kill();
    probe.go();
    let verdict = probe.finish(&members);
    assert!(
        verdict.contains("no acknowledgement without a quorum"),
        "{verdict}"
    );
    print!("{verdict}");
    // Everyone comes back: the ensemble recovers with every acknowledged write on every member.
    for id in [leader, first_follower, third] {
        member(&mut members, id).restart();
    }
    wait_for_quorum(&members, QUORUM_WITHIN);
    let out = kazoo(
        &all,
        r#"
for h in hosts:
    c = KazooClient(hosts=h, timeout=10); c.start(timeout=30)
    c.sync("/p2")
    names = c.get_children("/p2")
    assert len([n for n in names if n.startswith("three-")]) == 60, (h, names)
    assert len([n for n in names if n.startswith("before-")]) == 20, (h, names)
    c.create("/p2/after-" + h.split(":")[1], b"")
    c.stop(); c.close()
print("recovered")
"#,
    );
    assert!(out.contains("recovered"), "{out}");
    let text = check_converged(&all, "/p2", None, &members);
    assert!(text.contains("converged"), "{text}");
    zxids_agree(&members);
}

/// Starts every member of `ports` seeing the others through `net`.
fn start_behind(base: &Path, kind: Kind, ids: &[u64], ports: &Ports, net: &Net) -> Vec<Member> {
    ids.iter()
        .map(|&id| Member::start_seeing(base, id, kind, ports, net.view(id), "admin.enableServer=false\n"))
        .collect()
}

/// Which of the leader's links a partition cuts.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// The leader hears nobody and nobody hears it.
    Both,
    /// The others hear nothing from the leader, which still hears them.
    FromLeader,
    /// The leader hears nothing from the others, which still hear it.
    ToLeader,
}

/// Cuts the current leader off as `cut` says while the writers run: the others elect a new leader and go on,
/// a client of the old leader gets nothing acknowledged and sees nothing it wrote; then heals and waits for
/// the whole ensemble.
fn partition_leader(net: &Net, cut: Cut, members: &[Member], load: &mut Load, probe_dir: &Path) {
    let leader = wait_for_quorum(members, QUORUM_WITHIN);
    let client_port = members
        .iter()
        .find(|m| m.id == leader)
        .expect("leader")
        .client_port;
    let mut probe = Probe::start(probe_dir, &format!("/c/pending-{cut:?}"), &[client_port], members);
    let others: Vec<u64> = members.iter().map(|m| m.id).filter(|&id| id != leader).collect();
    for &other in &others {
        match cut {
            Cut::Both => {
                net.cut(leader, other);
                net.cut(other, leader);
            }
            Cut::FromLeader => net.cut(leader, other),
            Cut::ToLeader => net.cut(other, leader),
        }
    }
    probe.go();
    let new_leader = wait_for_leader_among(members, &others, QUORUM_WITHIN);
    assert_ne!(new_leader, leader);
    load.wait_progress(WRITES_PER_STEP, members);
    let verdict = probe.finish(members);
    assert!(
        verdict.contains("no acknowledgement without a quorum"),
        "{verdict}"
    );
    print!("{cut:?}: {verdict}");
    net.heal();
    wait_for_quorum(members, QUORUM_WITHIN);
    load.wait_progress(WRITES_PER_STEP, members);
}

#[test]
fn a_partitioned_leader_is_replaced_and_acknowledges_nothing() {
    partitioned_leaders(Kind::Ferrokeeper);
}

#[test]
fn a_partitioned_apache_zookeeper_3_9_leader_is_replaced_and_acknowledges_nothing() {
    partitioned_leaders(Kind::ZooKeeper("3.9.5"));
}

fn partitioned_leaders(kind: Kind) {
    let base = tempfile::tempdir().expect("tempdir");
    let ids = [1, 2, 3];
    let ports = Ports::new(&ids);
    let net = Net::new(&ports);
    let members = start_behind(base.path(), kind, &ids, &ports, &net);
    wait_for_quorum(&members, QUORUM_WITHIN);
    let out = base.path().join("load");
    let mut load = Load::start(&out, "/c", &writers(&ports));
    load.wait_progress(WRITES_PER_STEP, &members);
    for cut in [Cut::Both, Cut::FromLeader, Cut::ToLeader] {
        let dir = base.path().join(format!("probe-{cut:?}"));
        partition_leader(&net, cut, &members, &mut load, &dir);
    }
    stop_and_check(load, &out, &ports, &members);
}

/// A small deterministic generator (xorshift64*), so a failing run of the flapping test can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// True with probability `percent`%.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Links between any two members are cut and healed at random, one way or both, for random spans on either
/// side of the sync limit, while the writers run; once every cut heals the ensemble is whole again and every
/// acknowledged write is everywhere.
#[test]
fn flapping_partitions_between_any_members_converge() {
    const FLAPS: usize = 8;
    /// Spans from a quarter of the sync limit (10 ticks) to twice it.
    const SPAN_MIN_MS: u64 = 750;
    const SPAN_MAX_MS: u64 = 6000;
    let seed = 0x5eed_f1a9_u64;
    let mut rng = Rng(seed);
    let base = tempfile::tempdir().expect("tempdir");
    let ids = [1, 2, 3];
    let ports = Ports::new(&ids);
    let net = Net::new(&ports);
    let members = start_behind(base.path(), Kind::Ferrokeeper, &ids, &ports, &net);
    wait_for_quorum(&members, QUORUM_WITHIN);
    let out = base.path().join("load");
    let mut load = Load::start(&out, "/c", &writers(&ports));
    load.wait_progress(WRITES_PER_STEP, &members);
    let mut history = Vec::new();
    for _ in 0..FLAPS {
        net.heal();
        let mut cuts = Vec::new();
        for &a in &ids {
            for &b in ids.iter().filter(|&&b| b != a) {
                if rng.chance(40) {
                    net.cut(a, b);
                    cuts.push((a, b));
                }
            }
        }
        let span = SPAN_MIN_MS + rng.next() % (SPAN_MAX_MS - SPAN_MIN_MS);
        history.push((cuts, span));
        std::thread::sleep(Duration::from_millis(span));
    }
    net.heal();
    println!("seed {seed:#x}: cuts (from, to) and their spans in ms {history:?}");
    wait_for_quorum(&members, QUORUM_WITHIN);
    load.wait_progress(WRITES_PER_STEP, &members);
    stop_and_check(load, &out, &ports, &members);
}

/// TRUNC between kinds: member 3 leads a mixed ensemble, is cut off from the others while its client writes
/// (it logs the proposal and can never commit it), and the others elect a new leader of the other kind. The
/// cut heals before the new leader commits anything, so the deposed leader, syncing from it, is ahead within
/// the old epoch and must be truncated (TRUNC): its log says so, the write is nowhere, and every member ends
/// with the same tree and zxid after more writes.
fn a_deposed_leader_truncates_what_it_logged_alone(kinds: [Kind; 3]) {
    let base = tempfile::tempdir().expect("tempdir");
    let ids = [1, 2, 3];
    let ports = Ports::new(&ids);
    let net = Net::new(&ports);
    let start = |id: u64| {
        let kind = kinds[(id - 1) as usize];
        Member::start_seeing(
            base.path(),
            id,
            kind,
            &ports,
            net.view(id),
            "admin.enableServer=false\n",
        )
    };
    // Members 1 and 3 first: of two members with the same history, the higher id leads.
    let pair = [start(1), start(3)];
    assert_eq!(wait_for_quorum(&pair, QUORUM_WITHIN), 3);
    let [one, three] = pair;
    let members = vec![one, start(2), three];
    let leader = wait_for_quorum(&members, QUORUM_WITHIN);
    assert_eq!(leader, 3);
    let all: Vec<u16> = members.iter().map(|m| m.client_port).collect();
    kazoo(
        &all,
        "c = KazooClient(hosts=','.join(hosts), timeout=10); c.start(timeout=30)\n\
         for i in range(20): c.create('/t/before-%d' % i, b'x', makepath=True)\nc.stop(); c.close()\n",
    );
    let mut probe = Probe::start(
        &base.path().join("probe"),
        "/t/alone",
        &[members[2].client_port],
        &members,
    );
    for other in [1, 2] {
        net.cut(3, other);
        net.cut(other, 3);
    }
    probe.go();
    let new_leader = wait_for_leader_among(&members, &[1, 2], QUORUM_WITHIN);
    // Healed before the new epoch commits anything: the deposed leader is then ahead of the new leader's
    // history within one epoch, the case for TRUNC (across epochs ZooKeeper sends a snapshot instead).
    net.heal();
    let verdict = probe.finish(&members);
    assert!(
        verdict.contains("no acknowledgement without a quorum"),
        "{verdict}"
    );
    wait_for_quorum(&members, QUORUM_WITHIN);
    kazoo(
        &all,
        "c = KazooClient(hosts=','.join(hosts), timeout=10); c.start(timeout=30)\n\
         for i in range(20): c.create('/t/after-%d' % i, b'y')\nc.stop(); c.close()\n",
    );
    let text = check_converged(&all, "/t", None, &members);
    assert!(text.contains("converged"), "{text}");
    zxids_agree(&members);
    let log = std::fs::read_to_string(members[2].dir.join("server.log")).unwrap_or_default();
    let truncated = match members[2].kind {
        Kind::Ferrokeeper => "truncating the log as the leader asks (TRUNC)",
        _ => "Truncating log to get in sync with the leader",
    };
    assert!(
        log.contains(truncated),
        "member 3 ({:?}) was not truncated by leader {new_leader} ({:?}); its sync lines:\n{}",
        members[2].kind,
        members[(new_leader - 1) as usize].kind,
        log.lines()
            .filter(|l| l.contains("from the leader") || l.contains("sync") || l.contains("TRUNC"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// An Apache ZooKeeper 3.9.5 leader truncates a deposed ferrokeeper leader.
#[test]
fn an_apache_zookeeper_leader_truncates_a_deposed_ferrokeeper_leader() {
    a_deposed_leader_truncates_what_it_logged_alone([
        Kind::ZooKeeper("3.9.5"),
        Kind::ZooKeeper("3.9.5"),
        Kind::Ferrokeeper,
    ]);
}

/// A ferrokeeper leader truncates a deposed Apache ZooKeeper 3.9.5 leader.
#[test]
fn a_ferrokeeper_leader_truncates_a_deposed_apache_zookeeper_leader() {
    a_deposed_leader_truncates_what_it_logged_alone([
        Kind::Ferrokeeper,
        Kind::Ferrokeeper,
        Kind::ZooKeeper("3.9.5"),
    ]);
}

/// A member that restarts into an established mixed ensemble finds its leader, whichever kind leads and
/// whichever kind restarts.
#[test]
fn a_restarted_member_rejoins_a_mixed_ensemble() {
    let base = tempfile::tempdir().expect("tempdir");
    let ids = [1, 2, 3];
    let ports = Ports::new(&ids);
    let kinds = [Kind::Ferrokeeper, Kind::ZooKeeper("3.9.5"), Kind::Ferrokeeper];
    let mut members: Vec<Member> = ids
        .iter()
        .zip(kinds)
        .map(|(&id, kind)| Member::start(base.path(), id, kind, &ports))
        .collect();
    for _ in 0..3 {
        let leader = wait_for_quorum(&members, QUORUM_WITHIN);
        for id in ids.into_iter().filter(|&id| id != leader) {
            member(&mut members, id).kill();
            member(&mut members, id).restart();
            assert_eq!(wait_for_quorum(&members, QUORUM_WITHIN), leader);
        }
        member(&mut members, leader).kill();
        wait_for_quorum(&members, QUORUM_WITHIN);
        member(&mut members, leader).restart();
    }
}

/// The vote a member gives a looking peer (sid 9, not a voter: members answer it all the same) on its
/// election port, as (state, leader, peer epoch).
fn vote_of(election_port: u16) -> Result<(i32, i64, i64), String> {
    use jute::election::{check_message, Handshake, HandshakeVersion, Notification, ServerState};
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", election_port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let hello = Handshake::Versioned {
        version: HandshakeVersion::V1,
        sid: 9,
        address: "127.0.0.1:1".into(),
    };
    let looking = Notification::current(ServerState::Looking, 9, 0, 1, 0, bytes::Bytes::new());
    s.write_all(&hello.encode()).map_err(|e| e.to_string())?;
    s.write_all(&looking.encode_frame()).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(len) = check_message(&buf).map_err(|e| e.to_string())? {
            let payload = bytes::Bytes::copy_from_slice(&buf[4..4 + len]);
            let n = Notification::decode(&payload).map_err(|e| e.to_string())?;
            return Ok((n.state as i32, n.leader, n.peer_epoch));
        }
        let got = s.read(&mut chunk).map_err(|e| e.to_string())?;
        if got == 0 {
            return Err("closed".into());
        }
        buf.extend_from_slice(&chunk[..got]);
    }
}

/// Once a leader and its followers serve in a new epoch, each of them gives looking members a vote for that
/// leader with that epoch, as Apache ZooKeeper 3.9.5 members do (`QuorumPeer.updateElectionVote`,
/// ZOOKEEPER-1732): otherwise the votes of ferrokeeper and ZooKeeper members for the same leader differ and a
/// member that restarts into a mixed ensemble finds no quorum for any leader.
#[test]
fn members_vote_with_the_established_epoch() {
    let base = tempfile::tempdir().expect("tempdir");
    let ids = [1, 2, 3];
    let ports = Ports::new(&ids);
    let mut members: Vec<Member> = ids
        .iter()
        .map(|&id| Member::start(base.path(), id, Kind::Ferrokeeper, &ports))
        .collect();
    for epoch in 1..=2 {
        let leader = wait_for_quorum(&members, QUORUM_WITHIN);
        let want: Vec<(u64, i64, i64)> = members
            .iter()
            .filter(|m| m.is_running())
            .map(|m| (m.id, leader as i64, epoch))
            .collect();
        let deadline = Instant::now() + QUORUM_WITHIN;
        loop {
            let votes: Vec<Result<(i32, i64, i64), String>> = want
                .iter()
                .map(|(id, _, _)| vote_of(ports.election[id]))
                .collect();
            let got: Vec<(u64, i64, i64)> = want
                .iter()
                .zip(&votes)
                .filter_map(|((id, _, _), v)| v.as_ref().ok().map(|(_, l, e)| (*id, *l, *e)))
                .collect();
            if got == want {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "votes {votes:?}, wanted (id, leader, peer epoch) {want:?}\n{}",
                logs(&members)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        member(&mut members, leader).kill();
    }
}
