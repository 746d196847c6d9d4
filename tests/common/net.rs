//! Ports and a real port forwarder for the tunnel and team tests: a free local port, whether something listens on
//! one, and `socat` forwarding a port to the test PostgreSQL in its own process group, killed whole when dropped
//! (also when a test panics, so no forwarder outlives its test).
#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// True when something accepts connections on `127.0.0.1:port`.
pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// `socat` listening on `127.0.0.1:port`, forwarding each connection to `host:target`.
pub struct Forwarder {
    child: Option<Child>,
}

impl Forwarder {
    /// Starts it and waits until it listens (a hang guard, not a timing bound).
    pub fn start(port: u16, host: &str, target: u16) -> Forwarder {
        let child = Command::new("socat")
            .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"))
            .arg(format!("TCP:{host}:{target}"))
            .process_group(0)
            .spawn()
            .expect("socat (installed by .ci/run)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !port_open(port) {
            assert!(Instant::now() < deadline, "socat did not listen");
            std::thread::sleep(Duration::from_millis(10));
        }
        Forwarder { child: Some(child) }
    }

    /// Kills it and every connection it serves (its whole process group), as a lost link or a dead proxy would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.kill();
    }
}
