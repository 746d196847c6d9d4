//! `deckhand demo-service` (hidden): the demo's stand-in for a web service — an HTTP health endpoint on
//! 127.0.0.1 and a log file with steady traffic and occasional errors — so the demo shows live health and logs
//! with no external service. `--detach` starts it in its own process group (so it outlives the deploy step that
//! starts it) after stopping the instance named in the folder's pid file.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The service's pid file and log file, in the demo folder.
pub const PID_FILE: &str = "service.pid";
pub const LOG_FILE: &str = "service.log";
/// Time between two log lines.
const LOG_INTERVAL: Duration = Duration::from_millis(400);
/// How long `--detach` waits for the new instance to answer, and for the old one to stop.
const START_WAIT: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(50);
/// How often an instance checks that its console still runs.
const OWNER_POLL: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub port: u16,
    pub version: String,
    /// Share of logged requests that fail, in percent: spread evenly (every `100 / error_percent`-th line), so a
    /// healthy version never happens to log a burst of errors that reads as an alert.
    pub error_percent: u32,
    /// Added to every answer's delay: a slow build.
    pub slow_ms: u64,
    /// The deckhand console this instance belongs to: it exits when that process is gone (even after a crash).
    pub owner: Option<i32>,
}

/// A small xorshift generator: the demo needs variety, not cryptography.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            | 1;
        Rng(seed ^ u64::from(std::process::id()))
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Stops the instance in `dir`'s pid file (if any), starts a new one in its own process group, and waits until it
/// answers. Returns the exit code.
pub fn detach(opts: &Options) -> u8 {
    stop(&opts.dir);
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("deckhand demo-service: cannot find my own binary: {e}");
            return 1;
        }
    };
    let child = std::process::Command::new(exe)
        .args(["demo-service", "--dir"])
        .arg(&opts.dir)
        .args(["--port", &opts.port.to_string(), "--version", &opts.version])
        .args(["--error-percent", &opts.error_percent.to_string()])
        .args(["--slow-ms", &opts.slow_ms.to_string()])
        .args(opts.owner.map(|o| format!("--owner={o}")))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    let pid = match child {
        Ok(c) => c.id(),
        Err(e) => {
            eprintln!("deckhand demo-service: cannot start: {e}");
            return 1;
        }
    };
    let deadline = std::time::Instant::now() + START_WAIT;
    while std::time::Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", opts.port)).is_ok() {
            println!(
                "demo service version {} listening on 127.0.0.1:{} (pid {pid})",
                opts.version, opts.port
            );
            return 0;
        }
        std::thread::sleep(POLL);
    }
    eprintln!(
        "deckhand demo-service: version {} did not start answering on port {}",
        opts.version, opts.port
    );
    1
}

/// Stops the instance named in `dir`'s pid file, waiting briefly for it to go.
pub fn stop(dir: &Path) {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let Some(pid) = std::fs::read_to_string(dir.join(PID_FILE))
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok())
        .filter(|p| *p > 1)
    else {
        return;
    };
    let pid = Pid::from_raw(pid);
    if kill(pid, Signal::SIGTERM).is_err() {
        return;
    }
    let deadline = std::time::Instant::now() + START_WAIT;
    while std::time::Instant::now() < deadline && !gone(pid) {
        std::thread::sleep(POLL);
    }
    let _ = std::fs::remove_file(dir.join(PID_FILE));
}

/// Whether the process has ended. When it is this process's own child (the instance `deckhand demo` started) it is
/// reaped here: an ended child nobody waits for stays a zombie, which still answers `kill(pid, 0)`. Any other
/// ended instance is a zombie until its parent (init, for a detached one; or the console that started version 1,
/// when a deploy step replaces it) reaps it, which may take a while: a zombie has ended.
fn gone(pid: nix::unistd::Pid) -> bool {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => false,
        Ok(_) => true,
        // Not our child: ask the kernel whether it still exists, and whether it is only a zombie.
        Err(_) => nix::sys::signal::kill(pid, None).is_err() || zombie(pid),
    }
}

/// The process is a zombie (it has ended; its parent has not reaped it yet), as `/proc/<pid>/stat` says.
fn zombie(pid: nix::unistd::Pid) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with(['Z', 'X']))
    })
}

/// Serves until killed.
pub fn serve(opts: Options) -> u8 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("deckhand demo-service: {e}");
            return 1;
        }
    };
    match runtime.block_on(run(opts)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("deckhand demo-service: {e}");
            1
        }
    }
}

async fn run(opts: Options) -> std::io::Result<()> {
    // The pid file is in place before the port answers: whoever waits for the port (detach) finds it.
    let pid_file = opts.dir.join(PID_FILE);
    deckhand::safe_fs::replace(&pid_file, std::process::id().to_string().as_bytes())?;
    let listener = match TcpListener::bind(("127.0.0.1", opts.port)).await {
        Ok(l) => l,
        Err(e) => {
            let _ = std::fs::remove_file(&pid_file);
            return Err(e);
        }
    };
    let log = opts.dir.join(LOG_FILE);
    tokio::spawn(write_logs(
        log,
        opts.version.clone(),
        opts.error_percent,
        opts.slow_ms,
    ));
    let slow = Duration::from_millis(opts.slow_ms);
    if let Some(owner) = opts.owner {
        tokio::spawn(exit_with(owner));
    }
    loop {
        let (mut socket, _) = listener.accept().await?;
        let version = opts.version.clone();
        tokio::spawn(async move {
            // Read the whole request head: closing with unread bytes would reset the connection.
            let mut buf = [0u8; 4096];
            let mut n = 0;
            while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf[n..]).await {
                    Ok(0) | Err(_) => break,
                    Ok(got) => n += got,
                }
            }
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let delay = Duration::from_millis(3 + Rng::new().below(12)) + slow;
            tokio::time::sleep(delay).await;
            let (status, body) = match path {
                "/health" => (
                    "200 OK",
                    format!("{{\"status\":\"ok\",\"version\":\"{version}\"}}"),
                ),
                _ => ("404 Not Found", "{\"error\":\"not found\"}".to_string()),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        });
    }
}

/// Exits once the owning console is gone.
async fn exit_with(owner: i32) {
    let pid = nix::unistd::Pid::from_raw(owner);
    loop {
        tokio::time::sleep(OWNER_POLL).await;
        if nix::sys::signal::kill(pid, None).is_err() {
            std::process::exit(0);
        }
    }
}

const PATHS: [&str; 5] = [
    "GET /api/orders",
    "GET /api/products",
    "POST /api/cart",
    "GET /api/customers/me",
    "POST /api/checkout",
];

/// Whether the `n`-th log line (from 1) of an instance failing `error_percent` of its requests is an error.
fn fails(n: u64, error_percent: u32) -> bool {
    error_percent > 0 && n.is_multiple_of(100 / u64::from(error_percent.min(100)))
}

async fn write_logs(path: PathBuf, version: String, error_percent: u32, slow_ms: u64) {
    let mut rng = Rng::new();
    let mut tick = tokio::time::interval(LOG_INTERVAL);
    for n in 1u64.. {
        tick.tick().await;
        let ts = humantime::format_rfc3339_millis(SystemTime::now());
        let what = PATHS[rng.below(PATHS.len() as u64) as usize];
        let ms = 5 + rng.below(60) + slow_ms;
        let line = if fails(n, error_percent) {
            format!(
                "{ts} ERROR {what} 500 {ms}ms version={version}: upstream payment provider timed out"
            )
        } else if rng.below(100) < 3 {
            format!(
                "{ts} WARN  {what} 200 {}ms version={version}: slow query on orders",
                ms * 10
            )
        } else {
            format!("{ts} INFO  {what} 200 {ms}ms version={version}")
        };
        let written = deckhand::safe_fs::open_append(&path).and_then(|mut f| writeln!(f, "{line}"));
        if written.is_err() {
            // The demo folder is gone (the demo was started afresh): nothing left to serve.
            std::process::exit(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A healthy instance's errors are spread out: no stretch of 20 lines or more (the fewest an alert judges by)
    /// holds more than 5% errors (the default alert threshold). A faulty one fails a quarter.
    #[test]
    fn errors_are_spread_evenly() {
        let share = |from: u64, len: u64, pct: u32| {
            (from..from + len).filter(|n| fails(*n, pct)).count() as f64 / len as f64
        };
        for from in 1..300 {
            for len in 20..200 {
                assert!(share(from, len, 1) <= 0.05, "lines {from}+{len}");
            }
        }
        assert!((share(1, 200, 25) - 0.25).abs() < 1e-9);
        assert_eq!(share(1, 200, 0), 0.0);
    }

    /// Defect: a deploy step replacing the demo's version 1 waited 5 s, and quitting after the deploy over a second:
    /// the instance stopped was a zombie of another process (the console, or init, which reaps when it gets to it).
    #[test]
    fn stop_does_not_wait_for_a_zombie_it_cannot_reap() {
        let dir = tempfile::tempdir().unwrap();
        // A shell that starts a child which ends when told to and is never reaped: `exec` keeps the shell's pid
        // as the child's parent, and `sleep` does not wait for children it did not start. The child waits for a
        // line on the shell's stdin, so it cannot end (and be reaped by the shell) before the `exec`.
        let mut parent = std::process::Command::new("sh")
            .args([
                "-c",
                "exec 3<&0; (read x <&3) & echo $!; exec sleep 30 3<&-",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(parent.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let child = nix::unistd::Pid::from_raw(line.trim().parse().unwrap());
        // Let the child end once the shell has become `sleep`.
        let start = std::time::Instant::now();
        let comm = format!("/proc/{}/comm", parent.id());
        while std::fs::read_to_string(&comm).unwrap_or_default().trim() != "sleep" {
            assert!(start.elapsed() < START_WAIT, "the shell never became sleep");
            std::thread::sleep(POLL);
        }
        std::io::Write::write_all(&mut parent.stdin.take().unwrap(), b"go\n").unwrap();
        let start = std::time::Instant::now();
        while !zombie(child) {
            assert!(start.elapsed() < START_WAIT, "the child never ended");
            std::thread::sleep(POLL);
        }
        std::fs::write(dir.path().join(PID_FILE), child.to_string()).unwrap();
        let start = std::time::Instant::now();
        stop(dir.path());
        assert!(
            start.elapsed() < START_WAIT,
            "stop waited out its limit for a process that had ended"
        );
        parent.kill().unwrap();
        parent.wait().unwrap();
    }

    /// Defect: quitting the demo took 5 s: the service it started is its own child, and `stop` waited for a
    /// process that had ended but that nobody reaped (a zombie still answers `kill(pid, 0)`).
    #[test]
    fn stop_reaps_its_own_child_instead_of_waiting_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(dir.path().join(PID_FILE), child.id().to_string()).unwrap();
        stop(dir.path());
        assert!(
            child.try_wait().is_err(),
            "stop reaped the service it stopped (it is no longer there to wait for)"
        );
        assert!(!dir.path().join(PID_FILE).exists());
    }
}
