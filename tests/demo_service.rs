//! The demo's stand-in web service: `deckhand demo-service --detach` answers `/health` with its version, writes a
//! log with traffic, replaces the running instance when started again, and exits when its owner is gone.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(s, "GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn start(dir: &Path, port: u16, version: &str, owner: u32) {
    let status = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["demo-service", "--detach", "--dir"])
        .arg(dir)
        .args(["--port", &port.to_string(), "--version", version])
        .arg(format!("--owner={owner}"))
        .status()
        .expect("run demo-service");
    assert!(status.success());
}

fn pid_of(dir: &Path) -> i32 {
    std::fs::read_to_string(dir.join("service.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Running: it exists and has not ended (an ended process waits as a zombie until its parent, here init for a
/// detached instance, reaps it).
fn alive(pid: i32) -> bool {
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with(['Z', 'X']))
    });
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok() && !zombie
}

fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn serves_health_logs_traffic_is_replaced_and_follows_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // The owner: a process this test controls.
    let mut owner = Command::new("sleep").arg("60").spawn().unwrap();
    start(dir.path(), port, "1", owner.id());
    let first = pid_of(dir.path());
    let answer = get(port, "/health");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(
        answer.ends_with(r#"{"status":"ok","version":"1"}"#),
        "{answer}"
    );
    assert!(get(port, "/nope").starts_with("HTTP/1.1 404"));
    let log = dir.path().join("service.log");
    assert!(eventually(
        || std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() >= 3)
    ));
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains(" INFO  GET ")
            || std::fs::read_to_string(&log)
                .unwrap()
                .contains(" INFO  POST ")
    );

    start(dir.path(), port, "2", owner.id());
    let second = pid_of(dir.path());
    assert_ne!(first, second);
    assert!(!alive(first), "the old version was stopped");
    assert!(get(port, "/health").ends_with(r#""version":"2"}"#));

    owner.kill().unwrap();
    owner.wait().unwrap();
    assert!(
        eventually(|| !alive(second)),
        "the service outlived its owner"
    );
}
