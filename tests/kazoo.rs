//! kazoo (the Python ZooKeeper client) against an in-process server: create, get, set, delete, children and
//! watches. Skipped, with a message, where python3 or kazoo is not installed.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use ferrokeeper::config::FourLetterWhitelist;

fn kazoo_available() -> bool {
    Command::new("python3")
        .args(["-c", "import kazoo"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_basic_operations_and_watches() {
    if !kazoo_available() {
        eprintln!("skipped: python3 with kazoo is not installed (pip install kazoo)");
        return;
    }
    let mut config = test_config();
    // kazoo's server_version() asks `envi`.
    config.four_letter_whitelist = FourLetterWhitelist::All;
    let server = start(config).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kazoo/smoke.py");
    let port = server.addr.port().to_string();
    let output = tokio::task::spawn_blocking(move || Command::new("python3").arg(script).arg(port).output())
        .await
        .expect("join")
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kazoo smoke test failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("kazoo smoke test passed"), "{stdout}");
}
