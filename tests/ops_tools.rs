//! Operators' tools against ferrokeeper: `zkServer.sh status` (which runs Java's `FourLetterWordMain srvr`
//! and greps `Mode:`) and Debian's zktop (which parses `stat`). A test whose tool is not installed fails, saying
//! how to install it (`compat-tests/install.sh` installs both).

mod ops_support;

use std::path::Path;
use std::process::Command;

use ops_support::{start, Client};

const ZK_SERVER_SH: &str = "/usr/share/zookeeper/bin/zkServer.sh";
const ZKTOP: &str = "/usr/bin/zktop";

#[tokio::test]
async fn zkserver_sh_status_reads_the_mode() {
    assert!(
        Path::new(ZK_SERVER_SH).exists() && Command::new("java").arg("-version").output().is_ok(),
        "{ZK_SERVER_SH} and java are needed: run compat-tests/install.sh (or apt-get install zookeeper)"
    );
    let server = start("").await;
    let cfg = server.dir.path().join("status.cfg");
    std::fs::write(
        &cfg,
        format!(
            "dataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n",
            server.dir.path().display(),
            server.client.port()
        ),
    )
    .expect("write cfg");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(ZK_SERVER_SH)
            .arg("status")
            .arg(&cfg)
            .output()
    })
    .await
    .expect("join")
    .expect("run zkServer.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Mode: standalone"), "{stdout}");
    server.stop().await;
}

#[tokio::test]
async fn zktop_parses_stat() {
    assert!(
        Path::new(ZKTOP).exists(),
        "zktop is needed: run compat-tests/install.sh (or apt-get install zktop)"
    );
    let server = start("").await;
    let _client = Client::connect(server.client).await;
    let addr = server.client.to_string();
    // zktop is a curses program; its parser is driven directly, as its poller thread does.
    let script = format!(
        "import sys\nsys.argv = ['zktop', '--servers', '{addr}']\nimport zktop\n\
         (zktop.options, _) = zktop.parser.parse_args()\ns = zktop.ZKServer('{addr}', 0)\n\
         assert not s.unavailable\n\
         print(s.mode, s.version, len(s.sessions), s.node_count, s.zxid, s.min_latency, s.avg_latency, s.max_latency)\n\
         print(sorted((x.interest_ops, x.recved) for x in s.sessions))\n"
    );
    let output =
        tokio::task::spawn_blocking(move || Command::new("/usr/bin/python3").arg("-c").arg(script).output())
            .await
            .expect("join")
            .expect("run zktop");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut lines = stdout.lines();
    let summary: Vec<&str> = lines.next().expect("summary").split(' ').collect();
    assert_eq!(&summary[..3], ["standalone", "3.9.3", "2"], "{stdout}");
    assert_eq!(summary[4], "0x1", "{stdout}");
    // The session's connection is being read; zktop's own connection is not.
    assert_eq!(lines.next(), Some("[('0', '1'), ('1', '1')]"), "{stdout}");
    server.stop().await;
}
