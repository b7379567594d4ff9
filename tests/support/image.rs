//! The container image as the image tests run it: `docker/build.sh` builds it with podman from the release
//! binary, `podman create` + `podman export` give its root filesystem, and that filesystem runs under chroot as
//! the image's user inside a network namespace the test made, with the image's environment and the variables
//! a `docker run -e` (or a compose file) would add. What a test creates outside its temporary directory is
//! listed in a [`Cleanup`] and removed when the test ends, however it ends.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::commands::{require, run};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What the test created outside its temporary directory, removed when it ends, however it ends.
#[derive(Default)]
pub struct Cleanup {
    pub image: String,
    pub namespaces: Vec<String>,
    pub servers: Vec<Child>,
    /// Directories made outside the temporary directory (`/etc/netns/<namespace>`).
    pub dirs: Vec<PathBuf>,
}

impl Cleanup {
    /// kill -9 every server started so far.
    pub fn kill_servers(&mut self) {
        for child in &mut self.servers {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.servers.clear();
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.kill_servers();
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        for dir in &self.dirs {
            let _ = std::fs::remove_dir_all(dir);
        }
        if !self.image.is_empty() {
            let _ = Command::new("podman").args(["rmi", "-f", &self.image]).output();
        }
    }
}

/// Checks what running the image needs (root, podman, iproute2, the release binary) and builds it under a tag
/// of this process's own, which `cleanup` removes.
pub fn build(cleanup: &mut Cleanup) -> String {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root: it creates network namespaces and runs the image's root filesystem with chroot"
    );
    require(
        "podman",
        &["--version"],
        "apt-get install podman (compat-tests/install.sh)",
    );
    require("ip", &["-V"], "apt-get install iproute2");
    let binary = root().join("target/release/ferrokeeper");
    assert!(
        binary.is_file(),
        "the image is built from the release binary: cargo build --release"
    );
    let image = format!("localhost/ferrokeeper-test-{}:latest", std::process::id());
    cleanup.image = image.clone();
    run(Command::new(root().join("docker/build.sh"))
        .arg(&image)
        .env("FERROKEEPER_BIN", &binary)
        .stdout(Stdio::null()));
    image
}

/// The image's root filesystem, exported into `into`, owners kept by number.
pub fn export(image: &str, into: &Path) {
    std::fs::create_dir_all(into).expect("rootfs dir");
    let id =
        String::from_utf8(run(Command::new("podman").args(["create", image])).stdout).expect("container id");
    let id = id.trim();
    let tar = into.with_extension("tar");
    run(Command::new("podman").args(["export", "-o"]).arg(&tar).arg(id));
    run(Command::new("podman").args(["rm", id]));
    run(Command::new("tar")
        .args(["--numeric-owner", "-xf"])
        .arg(&tar)
        .arg("-C")
        .arg(into));
    let _ = std::fs::remove_file(&tar);
}

pub fn inspect(image: &str, format: &str) -> String {
    let out = run(Command::new("podman").args(["image", "inspect", "--format", format, image]));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// The image's `ENV`, one `NAME=value` each.
pub fn environment(image: &str) -> Vec<String> {
    inspect(image, "{{range .Config.Env}}{{.}}\n{{end}}")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A network namespace of the test's own (one left over from a killed run is replaced), loopback up.
pub fn add_namespace(cleanup: &mut Cleanup, ns: &str) {
    let _ = Command::new("ip").args(["netns", "del", ns]).output();
    run(Command::new("ip").args(["netns", "add", ns]));
    cleanup.namespaces.push(ns.to_owned());
    run(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]));
}

/// `ip ARGS` in namespace `ns`.
pub fn ip(ns: &str, args: &[&str]) {
    run(Command::new("ip").args(["-n", ns]).args(args));
}

/// The image's root filesystem run as `user` in namespace `ns`: the image's environment, then `extra` over it
/// (as `docker run -e` sets it), and nothing from this process's environment. The caller adds the
/// entrypoint's arguments (`docker-entrypoint`, `status`).
pub fn chroot_command<K: AsRef<str>, V: AsRef<str>>(
    ns: &str,
    rootfs: &Path,
    user: &str,
    env: &[String],
    extra: &[(K, V)],
) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, "env", "-i"]);
    c.args(env);
    c.args(
        extra
            .iter()
            .map(|(k, v)| format!("{}={}", k.as_ref(), v.as_ref())),
    );
    c.arg("/usr/sbin/chroot")
        .arg(format!("--userspec={user}"))
        .arg(rootfs)
        .arg("/usr/bin/ferrokeeper");
    c
}
