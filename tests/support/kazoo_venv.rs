//! kazoo as the tests that drive a server from Python run it: compat-tests/.venv's interpreter with kazoo's
//! sdist on PYTHONPATH (compat-tests/install.sh installs both). A missing piece fails the test with what to
//! install; it never passes as skipped.

use std::path::PathBuf;
use std::process::Command;

/// The interpreter and the directory to put on PYTHONPATH; panics naming what to install when they are not
/// there.
pub fn interpreter() -> (PathBuf, PathBuf) {
    let compat = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("compat-tests");
    let python = compat.join(".venv/bin/python");
    let sdist = compat.join(".cache/kazoo-2.11.0");
    assert!(
        python.is_file() && sdist.is_dir(),
        "kazoo is needed for this test: run compat-tests/install.sh"
    );
    (python, sdist)
}

/// `python -c SCRIPT` with kazoo importable.
#[allow(dead_code)]
pub fn python(script: &str) -> Command {
    let (python, sdist) = interpreter();
    let mut command = Command::new(python);
    command.args(["-c", script]).env("PYTHONPATH", sdist);
    command
}
