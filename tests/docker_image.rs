//! The container image, run for real: `docker/build.sh` builds it with podman from the release binary
//! (`cargo build --release` first), `podman create` + `podman export` give its root filesystem, and that
//! filesystem runs under chroot as the image's user, inside a network namespace this test creates, with the
//! image's environment plus the official `zookeeper` image's variables. kazoo, in a second namespace joined to
//! the first by a veth pair with a private /30, creates and reads nodes through it. The zoo.cfg and myid the
//! entrypoint generates are compared with what the official image's docker-entrypoint.sh writes for the same
//! environment (written out here by its rules), and an existing zoo.cfg and myid are left alone.
//!
//! Needs root (namespaces, chroot), podman, iproute2 and kazoo (compat-tests/install.sh installs them); the
//! test fails, saying what is missing, when one is not there.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

#[path = "support/commands.rs"]
mod commands;
#[path = "support/image.rs"]
mod image;
#[path = "support/kazoo_venv.rs"]
mod kazoo_venv;

use commands::run;
use image::{chroot_command, export, inspect, ip, Cleanup};

const SERVER_ADDRESS: &str = "10.211.0.1";
const CLIENT_ADDRESS: &str = "10.211.0.2";

/// Starts the entrypoint and waits until the image's health check (`ferrokeeper status`) passes; returns the
/// child and how long that took.
fn start_server(
    cleanup: &mut Cleanup,
    rootfs: &Path,
    user: &str,
    env: &[String],
    extra: &[(&str, &str)],
) -> Duration {
    let log = std::fs::File::create(rootfs.with_extension("log")).expect("log file");
    let started = Instant::now();
    let child = chroot_command("fkimg-srv", rootfs, user, env, extra)
        .arg("docker-entrypoint")
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start the entrypoint");
    cleanup.servers.push(child);
    let give_up = started + Duration::from_secs(60);
    loop {
        let status = chroot_command("fkimg-srv", rootfs, user, env, extra)
            .arg("status")
            .output()
            .expect("run status");
        if status.status.success() {
            let text = String::from_utf8_lossy(&status.stdout).into_owned();
            assert!(text.contains("Mode: standalone"), "{text}");
            return started.elapsed();
        }
        let exited = cleanup
            .servers
            .last_mut()
            .and_then(|c| c.try_wait().ok().flatten());
        let log = std::fs::read_to_string(rootfs.with_extension("log")).unwrap_or_default();
        assert!(exited.is_none(), "the server exited ({exited:?}):\n{log}");
        assert!(Instant::now() < give_up, "the server did not answer srvr:\n{log}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kazoo(port: u16, path: &str) -> String {
    let (python, sdist) = kazoo_venv::interpreter();
    let script = "import sys\n\
        from kazoo.client import KazooClient\n\
        zk = KazooClient(hosts=sys.argv[1], timeout=10)\n\
        zk.start(timeout=30)\n\
        zk.create(sys.argv[2], b'from the image', makepath=True)\n\
        data, stat = zk.get(sys.argv[2])\n\
        print(data.decode(), stat.version, zk.get_children('/docker'))\n\
        zk.stop()\n";
    let out = run(Command::new("ip")
        .args(["netns", "exec", "fkimg-cli"])
        .arg(&python)
        .args(["-c", script, &format!("{SERVER_ADDRESS}:{port}"), path])
        .env("PYTHONPATH", &sdist));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

fn vm_rss_kib(child: &Child) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn image_serves_kazoo_and_writes_what_the_official_entrypoint_writes() {
    let mut cleanup = Cleanup::default();
    let image = image::build(&mut cleanup);

    // The official image's interface.
    let user = inspect(&image, "{{.Config.User}}");
    assert_eq!(user, "1000:1000");
    let volumes = inspect(&image, "{{range $k, $v := .Config.Volumes}}{{$k}} {{end}}");
    assert_eq!(volumes, "/data /datalog /logs");
    let ports = inspect(&image, "{{range $k, $v := .Config.ExposedPorts}}{{$k}} {{end}}");
    assert_eq!(ports, "2181/tcp 2888/tcp 3888/tcp 7000/tcp 8080/tcp");
    // The health check, `zkServer.sh status` as the image runs it (the server's answer is checked below).
    let health = inspect(&image, "{{range .Config.Healthcheck.Test}}{{.}} {{end}}");
    assert_eq!(health, "CMD /usr/bin/ferrokeeper status");
    let env = image::environment(&image);
    for default in [
        "ZOO_CONF_DIR=/conf",
        "ZOO_DATA_DIR=/data",
        "ZOO_DATA_LOG_DIR=/datalog",
        "ZOO_LOG_DIR=/logs",
        "ZOO_TICK_TIME=2000",
        "ZOO_INIT_LIMIT=5",
        "ZOO_SYNC_LIMIT=2",
        "ZOO_AUTOPURGE_PURGEINTERVAL=0",
        "ZOO_AUTOPURGE_SNAPRETAINCOUNT=3",
        "ZOO_MAX_CLIENT_CNXNS=60",
        "ZOO_STANDALONE_ENABLED=true",
        "ZOO_ADMINSERVER_ENABLED=true",
    ] {
        assert!(env.iter().any(|e| e == default), "{default} missing from {env:?}");
    }
    println!("image size: {} bytes", inspect(&image, "{{.Size}}"));

    let dir = tempfile::tempdir().expect("tempdir");
    let generated = dir.path().join("generated");
    let kept = dir.path().join("kept");
    export(&image, &generated);
    export(&image, &kept);

    // Two namespaces of the test's own, joined by a veth pair with a private /30.
    for ns in ["fkimg-srv", "fkimg-cli"] {
        image::add_namespace(&mut cleanup, ns);
    }
    ip(
        "fkimg-srv",
        &[
            "link",
            "add",
            "fkimg0",
            "type",
            "veth",
            "peer",
            "name",
            "fkimg1",
            "netns",
            "fkimg-cli",
        ],
    );
    for (ns, link, address) in [
        ("fkimg-srv", "fkimg0", SERVER_ADDRESS),
        ("fkimg-cli", "fkimg1", CLIENT_ADDRESS),
    ] {
        ip(ns, &["addr", "add", &format!("{address}/30"), "dev", link]);
        ip(ns, &["link", "set", link, "up"]);
    }

    // No zoo.cfg and no myid: both generated from the environment.
    let extra = [
        ("ZOO_MY_ID", "3"),
        ("ZOO_SERVERS", "server.3=0.0.0.0:2888:3888;2181"),
        ("ZOO_TICK_TIME", "1500"),
        ("ZOO_MAX_CLIENT_CNXNS", "50"),
        ("ZOO_ADMINSERVER_ENABLED", "false"),
        ("ZOO_4LW_COMMANDS_WHITELIST", "srvr, ruok,mntr"),
        ("ZOO_CFG_EXTRA", "minSessionTimeout=3000  maxSessionTimeout=30000"),
    ];
    let took = start_server(&mut cleanup, &generated, &user, &env, &extra);
    assert_eq!(kazoo(2181, "/docker/generated"), "from the image 0 ['generated']");
    let rss = cleanup.servers.last().and_then(vm_rss_kib);
    println!("start-up until srvr answers: {took:?}; RSS after one client: {rss:?} KiB");
    let official = "dataDir=/data\ndataLogDir=/datalog\ntickTime=1500\ninitLimit=5\nsyncLimit=2\n\
        autopurge.snapRetainCount=3\nautopurge.purgeInterval=0\nmaxClientCnxns=50\nstandaloneEnabled=true\n\
        admin.enableServer=false\nserver.3=0.0.0.0:2888:3888;2181\n4lw.commands.whitelist=srvr, ruok,mntr\n\
        minSessionTimeout=3000\nmaxSessionTimeout=30000\n";
    let read = |p: PathBuf| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(read(generated.join("conf/zoo.cfg")), official);
    assert_eq!(read(generated.join("data/myid")), "3\n");
    // The server wrote as the image's user: its snapshot is in /data, its log in /datalog.
    use std::os::unix::fs::MetadataExt as _;
    for sub in ["data/version-2", "datalog/version-2"] {
        let meta = std::fs::metadata(generated.join(sub)).expect(sub);
        assert_eq!((meta.uid(), meta.gid()), (1000, 1000), "{sub}");
    }
    cleanup.kill_servers();

    // An existing zoo.cfg and myid are used as they are, whatever the environment says.
    let own_cfg = "dataDir=/data\nclientPort=2182\nadmin.enableServer=false\n";
    std::fs::write(kept.join("conf/zoo.cfg"), own_cfg).expect("zoo.cfg");
    std::fs::write(kept.join("data/myid"), "9\n").expect("myid");
    let took = start_server(&mut cleanup, &kept, &user, &env, &extra);
    println!("start-up with an existing zoo.cfg: {took:?}");
    assert_eq!(kazoo(2182, "/docker/kept"), "from the image 0 ['kept']");
    assert_eq!(read(kept.join("conf/zoo.cfg")), own_cfg);
    assert_eq!(read(kept.join("data/myid")), "9\n");
    assert!(kept.join("data/version-2").is_dir());
}
