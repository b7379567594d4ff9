//! `ferrokeeper status|stop|print-cmd [zoo.cfg]`, answering as `zkServer.sh` does: the pid file
//! `zookeeper_server.pid` that `start` writes in the data directory, the mode asked with `srvr`, SIGTERM by
//! the pid file, and the messages and exit statuses of a server that is not running.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::write_zoo_cfg;

fn ferrokeeper(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .args(args)
        .arg(config)
        .output()
        .expect("run ferrokeeper")
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port()
}

#[test]
fn status_stop_and_print_cmd_answer_as_zkserver_sh() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let config = write_zoo_cfg(dir.path(), port);
    let pid_file = dir.path().join("data/zookeeper_server.pid");

    // Nothing running yet.
    let down = ferrokeeper(&["status"], &config);
    assert_eq!(down.status.code(), Some(1));
    assert!(
        text(&down).contains("Error contacting service. It is probably not running."),
        "{}",
        text(&down)
    );
    let nothing = ferrokeeper(&["stop"], &config);
    assert!(nothing.status.success());
    assert_eq!(
        text(&nothing).trim(),
        format!(
            "no zookeeper to stop (could not find file {})",
            pid_file.display()
        )
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrokeeper"))
        .arg("start")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start");
    let give_up = Instant::now() + Duration::from_secs(60);
    let up = loop {
        let o = ferrokeeper(&["status"], &config);
        if o.status.success() {
            break o;
        }
        assert!(child.try_wait().expect("wait").is_none(), "the server exited");
        assert!(
            Instant::now() < give_up,
            "the server did not answer: {}",
            text(&o)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        text(&up),
        format!(
            "Client port found: {port}. Client address: 127.0.0.1. Client SSL: false.\nMode: standalone\n"
        )
    );
    // The pid file holds the server's pid, without a newline, as zkServer.sh writes it.
    assert_eq!(
        std::fs::read_to_string(&pid_file).expect("pid file"),
        child.id().to_string()
    );

    let cmd = ferrokeeper(&["print-cmd"], &config);
    assert!(cmd.status.success());
    assert!(
        text(&cmd)
            .trim()
            .ends_with(&format!("\" start \"{}\"", config.display())),
        "{}",
        text(&cmd)
    );

    let stopped = ferrokeeper(&["stop"], &config);
    assert!(stopped.status.success(), "{}", text(&stopped));
    assert_eq!(text(&stopped).trim(), "STOPPED");
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "the server exits cleanly on SIGTERM: {exit}");
    assert!(!pid_file.exists());
    assert_eq!(ferrokeeper(&["status"], &config).status.code(), Some(1));
}
