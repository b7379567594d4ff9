//! Apache ZooKeeper 3.8.0 (Debian's, run as a standalone server) starts on the data directories our TRUNC
//! and SNAP install leave, at the zxid they were left at: the golden directory truncated to 0x1b, and the
//! snapshot installed from a SNAP recorded between two 3.8.0 members (see tests/storage_support/README.md).
//!
//! The test fails if Debian's ZooKeeper (or java) is missing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrokeeper::storage::fs::RealFs;
use ferrokeeper::storage::install::install_snapshot;
use ferrokeeper::storage::recovery::DataDirs;
use ferrokeeper::storage::snapfile::Compression;
use ferrokeeper::storage::truncate::truncate_log;
use ferrokeeper::types::Zxid;

#[path = "storage_support/golden.rs"]
mod golden;

#[path = "support/debian_zookeeper.rs"]
mod debian_zookeeper;
use debian_zookeeper::{classpath, JAVA};

/// Client ports (the range 23000-23999 belongs to the storage tests).
const PORTS: [u16; 2] = [23601, 23602];

/// Apache ZooKeeper on `data` (dataDir and dataLogDir); killed when dropped.
struct Zk(Child);

impl Drop for Zk {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_zookeeper(dir: &Path, port: u16) -> Zk {
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n4lw.commands.whitelist=*\nextendedTypesEnabled=true\n",
            dir.join("data").display()
        ),
    )
    .expect("zoo.cfg");
    let log = std::fs::File::create(dir.join("server.log")).expect("log");
    let child = Command::new(JAVA)
        .args([
            "-cp",
            &classpath(),
            "-Djava.awt.headless=true",
            "-Dzookeeper.extendedTypesEnabled=true",
        ])
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(&cfg)
        .stdout(Stdio::from(log.try_clone().expect("log")))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("java");
    Zk(child)
}

/// The `Zxid:` line of `srvr`, once the server answers it (a readiness deadline, not a timing check).
fn srvr_zxid(port: u16, log: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if let Ok(mut s) = TcpStream::connect(addr) {
            let mut out = String::new();
            if s.write_all(b"srvr").is_ok() && s.read_to_string(&mut out).is_ok() {
                if let Some(line) = out.lines().find(|l| l.starts_with("Zxid:")) {
                    assert!(
                        out.contains("Zookeeper version: 3.8.0"),
                        "not Apache ZooKeeper 3.8.0: {out}"
                    );
                    return line.trim_start_matches("Zxid:").trim().to_string();
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "Apache ZooKeeper did not answer srvr; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn apache_zookeeper_starts_on_a_directory_truncated_to_a_zxid_at_that_zxid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let dirs = DataDirs::new(&dir.path().join("data"), &dir.path().join("data"));
    dirs.create(&RealFs).expect("dirs");
    for (name, path) in golden::golden_files() {
        std::fs::copy(&path, dirs.snap_dir.join(&name)).expect("copy");
    }
    truncate_log(&RealFs, &dirs, Zxid(0x1b)).expect("truncate");
    let _zk = start_zookeeper(dir.path(), PORTS[0]);
    assert_eq!(srvr_zxid(PORTS[0], &dir.path().join("server.log")), "0x1b");
}

#[test]
fn apache_zookeeper_starts_on_a_snapshot_installed_from_a_recorded_snap() {
    let stream = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/storage_support/snap-3.8.0-leader-to-follower.bin"),
    )
    .expect("capture");
    // LEADERINFO (type, zxid, 4-byte data, null authinfo) and SNAP (no data) come first: 24 and 20 bytes.
    let zxid = Zxid(i64::from_be_bytes(stream[28..36].try_into().expect("zxid")));
    assert_eq!(zxid, Zxid(0x1_0000_000c));
    let rest = &stream[44..];
    let len = ferrokeeper::core::tree::snapshot::wire::WireScanner::default()
        .scan(rest)
        .expect("scan")
        .expect("whole");
    let dir = tempfile::tempdir().expect("tempdir");
    let dirs = DataDirs::new(&dir.path().join("data"), &dir.path().join("data"));
    install_snapshot(&RealFs, &dirs, zxid, &rest[..len], Compression::None, true).expect("install");
    let _zk = start_zookeeper(dir.path(), PORTS[1]);
    assert_eq!(srvr_zxid(PORTS[1], &dir.path().join("server.log")), "0x10000000c");
}
