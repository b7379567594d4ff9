//! Running the outside programs a test needs: a missing program fails the test naming what to install, and a
//! command that fails fails the test with its output.

use std::process::{Command, Output};

/// Runs the command, failing the test with its output when it does not succeed.
pub fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Fails the test with `hint` unless `program args` runs and succeeds.
pub fn require(program: &str, args: &[&str], hint: &str) {
    let found = Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{program} is needed for this test: {hint}");
}
