//! The systemd unit and the .deb in packaging/: `systemd-analyze verify` and its offline security review pass
//! on the unit, and the package built by `cargo deb --no-build --strip` from the release binary installs into
//! this machine with dpkg. The installed unit's ExecStart then runs as systemd would run it (systemd itself may
//! not run here): as its User and Group with its limits and environment, in a network namespace the test
//! creates, and kazoo creates a node through it. The package is purged at the end, however the test ends.
//!
//! Needs root (dpkg, namespaces), cargo-deb, systemd-analyze (package `systemd`), iproute2, util-linux
//! (setpriv, prlimit) and kazoo; compat-tests/install.sh installs them. The test fails, saying what is missing,
//! when one is not there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

#[path = "support/commands.rs"]
mod commands;
#[path = "support/kazoo_venv.rs"]
mod kazoo_venv;

use commands::{require, run};

const UNIT: &str = "packaging/ferrokeeper.service";
const PACKAGE: &str = "ferrokeeper";
const NAMESPACE: &str = "fkdeb";
/// Where the package puts its default configuration, and what it registers it as.
const DEFAULT_CONF_DIR: &str = "/etc/zookeeper/conf_ferrokeeper";
const DEBIAN_CONF_DIR: &str = "/etc/zookeeper/conf_example";
/// The `exposure` `systemd-analyze security` may give the unit, in its tenths (2.0 of 10 is "OK").
const EXPOSURE_TENTHS_MAX: u32 = 20;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stdout(command: &mut Command) -> String {
    String::from_utf8_lossy(&run(command).stdout).trim().to_owned()
}

/// The `[Service]` settings of a unit file (the last value of a key that is given twice).
fn service_settings(unit: &str) -> BTreeMap<String, String> {
    let mut settings = BTreeMap::new();
    let mut in_service = false;
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
        } else if in_service && !line.starts_with('#') {
            if let Some((key, value)) = line.split_once('=') {
                settings.insert(key.trim().to_owned(), value.trim().to_owned());
            }
        }
    }
    settings
}

/// `systemd-analyze verify` of the unit (its ExecStart pointed at `binary`, which must exist), then the
/// offline security review with the exposure bound.
fn analyze(unit_path: &Path) {
    let dir = unit_path.parent().expect("the unit's directory");
    let verify = run(Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(unit_path)
        .current_dir(dir));
    let warnings = String::from_utf8_lossy(&verify.stderr);
    assert!(
        warnings.trim().is_empty(),
        "systemd-analyze verify warns:\n{warnings}"
    );
    let review = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(format!("--threshold={EXPOSURE_TENTHS_MAX}"))
        .arg(unit_path)
        .current_dir(dir)
        .output()
        .expect("systemd-analyze security");
    let text = String::from_utf8_lossy(&review.stdout);
    let overall = text
        .lines()
        .find(|l| l.contains("Overall exposure"))
        .unwrap_or_default();
    println!("{}", overall.trim());
    assert!(
        review.status.success(),
        "exposure above {EXPOSURE_TENTHS_MAX}/100:\n{text}{}",
        String::from_utf8_lossy(&review.stderr)
    );
}

#[test]
fn systemd_unit_passes_systemd_analyze() {
    require("systemd-analyze", &["--version"], "apt-get install systemd");
    let unit = std::fs::read_to_string(root().join(UNIT)).expect("the unit");
    let settings = service_settings(&unit);
    assert_eq!(
        settings.get("ExecStart").map(String::as_str),
        Some("/usr/bin/ferrokeeper start /etc/zookeeper/conf/zoo.cfg")
    );
    assert_eq!(settings.get("User").map(String::as_str), Some("zookeeper"));
    // verify checks that ExecStart's program exists: the one this build made stands in for /usr/bin's.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("ferrokeeper.service");
    let here = unit.replace("/usr/bin/ferrokeeper", env!("CARGO_BIN_EXE_ferrokeeper"));
    std::fs::write(&path, here).expect("unit copy");
    analyze(&path);
}

/// What the test changed on the machine, put back when it ends, however it ends.
struct Cleanup {
    server: Option<Child>,
    namespace: bool,
    /// Paths the servers created that were not there before.
    created: Vec<PathBuf>,
}

impl Cleanup {
    fn stop_server(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.server.take()?;
        let pid = rustix::process::Pid::from_child(&child);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        child.wait().ok()
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if self.namespace {
            let _ = Command::new("ip").args(["netns", "del", NAMESPACE]).output();
        }
        let _ = Command::new("dpkg").args(["--purge", PACKAGE]).output();
        for path in &self.created {
            let _ = std::fs::remove_dir_all(path).or_else(|_| std::fs::remove_file(path));
        }
    }
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", PACKAGE])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

/// A key of a zoo.cfg (Java properties as the package's and Debian's files write them).
fn zoo_cfg_value(path: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim().to_owned())
}

/// The unit's limit on a resource, or less where this machine cannot raise the hard limit that far (a
/// sandbox without CAP_SYS_RESOURCE): systemd would fail to start the unit there. Said on stdout.
fn limit_here(name: &str, resource: rustix::process::Resource, wanted: u64) -> u64 {
    let hard = rustix::process::getrlimit(resource).maximum.unwrap_or(u64::MAX);
    let raise = Command::new("prlimit")
        .arg(format!("--{name}={wanted}"))
        .args(["--", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if raise {
        wanted
    } else {
        println!(
            "this machine cannot raise RLIMIT_{name} to the unit's {wanted}: run with its hard limit {hard}"
        );
        wanted.min(hard)
    }
}

/// The unit's ExecStart run as systemd runs it: its limits (prlimit), its user and group with no way to gain
/// privileges (setpriv), only its environment, its working directory; inside the test's namespace. Returns
/// the child and the limits it runs with (RLIMIT_NOFILE, RLIMIT_NICE).
fn start_as_the_unit(settings: &BTreeMap<String, String>, config: &Path, log: &Path) -> (Child, [u64; 2]) {
    let setting = |key: &str| {
        settings
            .get(key)
            .unwrap_or_else(|| panic!("the unit sets no {key}"))
            .as_str()
    };
    let nofile: u64 = setting("LimitNOFILE").parse().expect("LimitNOFILE=N");
    // LimitNICE=+N is the nice value N, which is RLIMIT_NICE 20 - N.
    let nice: u64 = setting("LimitNICE")
        .trim_start_matches('+')
        .parse()
        .expect("LimitNICE=+N");
    let limits = [
        limit_here("nofile", rustix::process::Resource::Nofile, nofile),
        limit_here("nice", rustix::process::Resource::Nice, 20 - nice),
    ];
    let mut exec: Vec<String> = setting("ExecStart")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    // The config the unit names, or (for a second run) the package's own.
    *exec.last_mut().expect("ExecStart's config") = config.display().to_string();
    let out = std::fs::File::create(log).expect("log file");
    let mut command = Command::new("ip");
    command
        .args(["netns", "exec", NAMESPACE, "prlimit"])
        .arg(format!("--nofile={}", limits[0]))
        .arg(format!("--nice={}", limits[1]))
        .args(["--", "setpriv"])
        .arg(format!("--reuid={}", setting("User")))
        .arg(format!("--regid={}", setting("Group")))
        .args(["--init-groups", "--no-new-privs", "env", "-i"])
        .arg(setting("Environment"))
        .args(&exec)
        .current_dir(setting("WorkingDirectory"))
        .stdout(out.try_clone().expect("log"))
        .stderr(out);
    (command.spawn().expect("start the unit's command"), limits)
}

fn kazoo_creates(path: &str) -> String {
    let (python, sdist) = kazoo_venv::interpreter();
    let script = "import sys\n\
        from kazoo.client import KazooClient\n\
        zk = KazooClient(hosts='127.0.0.1:2181', timeout=10)\n\
        zk.start(timeout=30)\n\
        zk.create(sys.argv[1], b'from the package', makepath=True)\n\
        print(zk.get(sys.argv[1])[0].decode())\n\
        zk.stop()\n";
    stdout(
        Command::new("ip")
            .args(["netns", "exec", NAMESPACE])
            .arg(python)
            .args(["-c", script, path])
            .env("PYTHONPATH", sdist),
    )
}

/// Waits until the server of `config` in the namespace answers `srvr` (`ferrokeeper status`), failing with its
/// log when it exits first.
fn wait_for_server(cleanup: &mut Cleanup, config: &Path, log: &Path) {
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        let status = Command::new("ip")
            .args(["netns", "exec", NAMESPACE, "/usr/bin/ferrokeeper", "status"])
            .arg(config)
            .output()
            .expect("ferrokeeper status");
        if status.status.success() {
            return;
        }
        let exited = cleanup.server.as_mut().and_then(|c| c.try_wait().ok().flatten());
        let text = std::fs::read_to_string(log).unwrap_or_default();
        assert!(exited.is_none(), "the server exited ({exited:?}):\n{text}");
        assert!(
            Instant::now() < give_up,
            "the server did not answer srvr:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The `Uid:`, `Max open files` and `Max nice priority` of a running process, from /proc.
fn uid_and_limits(pid: u32) -> (String, [String; 2]) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .expect("Uid")
        .to_owned();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("/proc limits");
    let soft = |name: &str| {
        limits
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/limits"))
            .to_owned()
    };
    (uid, [soft("Max open files"), soft("Max nice priority")])
}

/// `cargo deb --no-build --strip` into `dir`: the package's path, after checking it holds what it must.
fn build_deb(dir: &Path) -> PathBuf {
    let deb = dir.join("ferrokeeper.deb");
    run(Command::new("cargo")
        .args(["deb", "--no-build", "--strip", "--output"])
        .arg(&deb)
        .current_dir(root()));
    let contents = stdout(Command::new("dpkg-deb").arg("--contents").arg(&deb));
    for file in [
        "./usr/bin/ferrokeeper",
        "./usr/lib/systemd/system/ferrokeeper.service",
        "./etc/zookeeper/conf_ferrokeeper/zoo.cfg",
    ] {
        assert!(
            contents.contains(file),
            "{file} is not in the package:\n{contents}"
        );
    }
    println!(
        "package size: {} bytes",
        std::fs::metadata(&deb).expect("deb").len()
    );
    deb
}

/// The package's configuration is a choice for /etc/zookeeper/conf below Debian's, so Debian's stays the one
/// in use where that package is installed. Whether it is.
fn debian_configuration_stays_in_use() -> bool {
    let alternatives = stdout(Command::new("update-alternatives").args(["--query", "zookeeper-conf"]));
    assert!(
        alternatives.contains(&format!("Alternative: {DEFAULT_CONF_DIR}")),
        "{alternatives}"
    );
    let in_use = std::fs::canonicalize("/etc/zookeeper/conf").expect("/etc/zookeeper/conf");
    let debian = Path::new(DEBIAN_CONF_DIR).join("zoo.cfg").is_file();
    let expected = if debian { DEBIAN_CONF_DIR } else { DEFAULT_CONF_DIR };
    assert_eq!(in_use, Path::new(expected), "{alternatives}");
    debian
}

/// Runs the unit's command on `config` in the namespace: it runs as the unit's user with the unit's limits,
/// writes its pid file, serves kazoo and ends on SIGTERM with status 0.
fn serve_once(cleanup: &mut Cleanup, settings: &BTreeMap<String, String>, config: &Path, log: &Path) {
    let data_dir = PathBuf::from(zoo_cfg_value(config, "dataDir").expect("dataDir"));
    for created in [data_dir.join("version-2"), data_dir.join("zookeeper_server.pid")] {
        if !created.exists() && !cleanup.created.contains(&created) {
            cleanup.created.push(created);
        }
    }
    if !data_dir.exists() {
        cleanup.created.push(data_dir.clone());
    }
    let (server, limits) = start_as_the_unit(settings, config, log);
    cleanup.server = Some(server);
    wait_for_server(cleanup, config, log);
    let pid = cleanup.server.as_ref().expect("server").id();
    let (uid, running_limits) = uid_and_limits(pid);
    assert_eq!(uid, stdout(Command::new("id").args(["-u", "zookeeper"])));
    assert_eq!(running_limits, limits.map(|l| l.to_string()));
    let node = format!("/deb/{}", log.file_stem().expect("log name").to_string_lossy());
    assert_eq!(kazoo_creates(&node), "from the package");
    let pid_file = std::fs::read_to_string(data_dir.join("zookeeper_server.pid")).expect("pid file");
    assert_eq!(pid_file.trim(), pid.to_string());
    let status = cleanup.stop_server().expect("the server's exit status");
    let text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        status.success(),
        "SIGTERM ended the server with {status}:\n{text}"
    );
    println!(
        "{}: served as user {uid}, data in {}",
        config.display(),
        data_dir.display()
    );
}

#[test]
fn deb_installs_and_serves_as_its_unit_runs_it() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root: it installs a package with dpkg and creates a network namespace"
    );
    require(
        "cargo",
        &["deb", "--version"],
        "cargo install cargo-deb (compat-tests/install.sh)",
    );
    require("systemd-analyze", &["--version"], "apt-get install systemd");
    require("ip", &["-V"], "apt-get install iproute2");
    require("setpriv", &["--version"], "apt-get install util-linux");
    require("prlimit", &["--version"], "apt-get install util-linux");
    let binary = root().join("target/release/ferrokeeper");
    assert!(
        binary.is_file(),
        "the package is built from the release binary: cargo build --release"
    );
    assert!(
        !installed(),
        "{PACKAGE} is installed on this machine already; this test installs and purges it: dpkg --purge {PACKAGE}"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let deb = build_deb(dir.path());

    let mut cleanup = Cleanup {
        server: None,
        namespace: false,
        created: Vec::new(),
    };
    run(Command::new("dpkg").arg("-i").arg(&deb));
    assert!(installed());
    let unit_path = Path::new("/usr/lib/systemd/system/ferrokeeper.service");
    analyze(unit_path);
    let settings = service_settings(&std::fs::read_to_string(unit_path).expect("the installed unit"));
    let debian = debian_configuration_stays_in_use();

    let _ = Command::new("ip").args(["netns", "del", NAMESPACE]).output();
    run(Command::new("ip").args(["netns", "add", NAMESPACE]));
    cleanup.namespace = true;
    run(Command::new("ip").args(["-n", NAMESPACE, "link", "set", "lo", "up"]));
    // The config in use, then (where that is Debian's) the package's own.
    serve_once(
        &mut cleanup,
        &settings,
        Path::new("/etc/zookeeper/conf/zoo.cfg"),
        &dir.path().join("in-use.log"),
    );
    if debian {
        let own = Path::new(DEFAULT_CONF_DIR).join("zoo.cfg");
        serve_once(&mut cleanup, &settings, &own, &dir.path().join("packaged.log"));
    }

    // Purged: the binary, the unit and the package's alternative are gone; Debian's configuration is as it was.
    run(Command::new("dpkg").args(["--purge", PACKAGE]));
    assert!(!installed());
    for gone in [
        "/usr/bin/ferrokeeper",
        "/usr/lib/systemd/system/ferrokeeper.service",
        DEFAULT_CONF_DIR,
    ] {
        assert!(!Path::new(gone).exists(), "{gone} is left after the purge");
    }
    if debian {
        let in_use = std::fs::canonicalize("/etc/zookeeper/conf").expect("/etc/zookeeper/conf");
        assert_eq!(in_use, Path::new(DEBIAN_CONF_DIR));
    }
}
