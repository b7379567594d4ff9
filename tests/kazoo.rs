//! kazoo (the Python ZooKeeper client) against an in-process server: create, get, set, delete, children and
//! watches. kazoo comes from compat-tests (its .venv's python with the kazoo sdist that
//! `compat-tests/install.sh` unpacks), or from a python3 that has it installed; without either the test fails,
//! saying how to install it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use ferrokeeper::config::FourLetterWhitelist;

/// A python command that can `import kazoo`: compat-tests' interpreter and sdist first, then python3.
fn kazoo_python() -> Option<Command> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat-tests");
    let venv: PathBuf = root.join(".venv/bin/python");
    let sdist = root.join(".cache/kazoo-2.11.0");
    let candidates = [
        (venv.clone(), Some(sdist.clone())),
        (PathBuf::from("python3"), Some(sdist)),
        (PathBuf::from("python3"), None),
    ];
    candidates.into_iter().find_map(|(python, path)| {
        let command = || {
            let mut c = Command::new(&python);
            if let Some(p) = path.as_ref().filter(|p| p.is_dir()) {
                c.env("PYTHONPATH", p);
            }
            c
        };
        command()
            .args(["-c", "import kazoo.client"])
            .output()
            .is_ok_and(|o| o.status.success())
            .then(command)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kazoo_basic_operations_and_watches() {
    let Some(mut python) = kazoo_python() else {
        panic!("kazoo is needed: run compat-tests/install.sh (or pip install kazoo for python3)");
    };
    let mut config = test_config();
    // kazoo's server_version() asks `envi`.
    config.four_letter_whitelist = FourLetterWhitelist::All;
    let server = start(config).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kazoo/smoke.py");
    let port = server.addr.port().to_string();
    let output = tokio::task::spawn_blocking(move || python.arg(script).arg(port).output())
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
