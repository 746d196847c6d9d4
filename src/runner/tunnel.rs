//! The managed database tunnel (`[database] tunnel`): a port forward such as `flyctl proxy 15432:5432 -a db`, run as
//! `sh -c` in its own process group for as long as deckhand needs the database. A supervisor task starts it, waits
//! for its port to accept connections, restarts it with backoff when it exits (or does not open its port in time),
//! and stops it (TERM, grace, KILL) on [`Tunnel::stop`]; a dropped task kills its group. Its state is published on a
//! watch channel: the console shows it and journals it, database work waits on a [`TunnelGate`] before connecting,
//! and the command line's subcommands [`Tunnel::open`] it and stop it when done.
//!
//! A port that already accepts connections before the tunnel starts is never used: something deckhand does not run
//! listens there (a proxy opened by hand, maybe to another environment), and the database connection would go
//! wherever that leads. The tunnel's output is read (so it never blocks on a full pipe) and its last lines, masked
//! and made inert, say why it exited. May import `plan`, `logs` (backoff, line splitting) and the runner's
//! process group.

use std::collections::VecDeque;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::command::TERM_GRACE;
use super::command::group::ProcessGroup;
use crate::logs::backoff::Backoff;
use crate::logs::split::Splitter;
use crate::plan::Tunnel as Spec;
use crate::secrets::Masker;

/// The first wait before the port is tried while the tunnel starts; each next wait doubles, up to [`PORT_POLL_MAX`]
/// (a local forwarder listens within milliseconds, `flyctl proxy` within seconds).
const PORT_POLL_FIRST: Duration = Duration::from_millis(5);
const PORT_POLL_MAX: Duration = Duration::from_millis(250);
/// How long one try to connect to the port may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How many of the tunnel's last output lines are kept to say why it exited.
const TAIL_LINES: usize = 3;
/// Longest output line kept (the rest is cut).
const TAIL_LINE_BYTES: usize = 300;
/// How often a group being stopped is checked for members left.
const GROUP_POLL: Duration = Duration::from_millis(50);
/// How long the pipes are read once the group is gone (only a process that left the group keeps them open).
const PIPE_DRAIN: Duration = Duration::from_secs(1);

/// Where the tunnel stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TunnelState {
    /// Started (the `attempt`th time, from 1); waiting for its port to open.
    Starting { attempt: u32 },
    /// Its port accepts connections; `pid` leads its process group.
    Up { pid: u32 },
    /// It exited, did not open its port in time, or its port was taken (`why`); started again after `retry_in`.
    Down { why: String, retry_in: Duration },
    /// Stopped by deckhand.
    Stopped,
}

impl TunnelState {
    pub fn is_up(&self) -> bool {
        matches!(self, TunnelState::Up { .. })
    }

    /// One line for the screen and the journal: `up (pid 4242)`, `DOWN: exited with status 1: … (restarting in
    /// 2s)`, `starting (attempt 2)`, `stopped`.
    pub fn describe(&self) -> String {
        match self {
            TunnelState::Starting { attempt: 1 } => "starting".into(),
            TunnelState::Starting { attempt } => format!("starting (attempt {attempt})"),
            TunnelState::Up { pid } => format!("up (pid {pid})"),
            TunnelState::Down { why, retry_in } => format!(
                "DOWN: {why} (restarting in {})",
                crate::plan::human_duration(*retry_in)
            ),
            TunnelState::Stopped => "stopped".into(),
        }
    }
}

/// A running tunnel and its supervisor.
pub struct Tunnel {
    state: watch::Receiver<TunnelState>,
    cancel: CancellationToken,
    task: Option<JoinHandle<()>>,
    wait: Duration,
}

/// What database work waits on before connecting: the tunnel being up. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TunnelGate {
    state: watch::Receiver<TunnelState>,
    wait: Duration,
}

impl TunnelGate {
    /// Waits until the tunnel is up, at most as long as one start may take. `Err` says where it stands instead;
    /// the caller goes on either way (its connection then fails and says so) or stops, as it needs.
    pub async fn ready(&self) -> Result<(), String> {
        let mut state = self.state.clone();
        let waited = tokio::time::timeout(self.wait, state.wait_for(TunnelState::is_up))
            .await
            .map(|r| r.is_ok());
        match waited {
            Ok(true) => Ok(()),
            Ok(false) => Err("the tunnel was stopped".into()),
            Err(_) => Err(format!("tunnel {}", state.borrow().describe())),
        }
    }

    /// The state now.
    pub fn state(&self) -> TunnelState {
        self.state.borrow().clone()
    }
}

impl Tunnel {
    /// Starts the supervisor (on the current runtime); the tunnel's command starts at once.
    pub fn start(spec: Spec, masker: Masker) -> Tunnel {
        let (tx, rx) = watch::channel(TunnelState::Starting { attempt: 1 });
        let cancel = CancellationToken::new();
        let wait = spec.ready_timeout + CONNECT_TIMEOUT;
        let task = tokio::spawn(supervise(spec, masker, tx, cancel.clone()));
        Tunnel {
            state: rx,
            cancel,
            task: Some(task),
            wait,
        }
    }

    /// Starts the tunnel and waits for it to come up, for a command that needs the database once: the first time
    /// it goes down (exits, does not open its port, finds the port taken) it is stopped and `Err` says why.
    pub async fn open(spec: Spec, masker: Masker) -> Result<Tunnel, String> {
        let tunnel = Tunnel::start(spec, masker);
        let mut state = tunnel.state.clone();
        let settled = state
            .wait_for(|s| matches!(s, TunnelState::Up { .. } | TunnelState::Down { .. }))
            .await
            .map(|s| s.clone());
        match settled {
            Ok(TunnelState::Up { .. }) => Ok(tunnel),
            Ok(TunnelState::Down { why, .. }) => {
                tunnel.stop().await;
                Err(why)
            }
            _ => {
                tunnel.stop().await;
                Err("the tunnel stopped".into())
            }
        }
    }

    pub fn gate(&self) -> TunnelGate {
        TunnelGate {
            state: self.state.clone(),
            wait: self.wait,
        }
    }

    /// Every change of state, for the console.
    pub fn states(&self) -> watch::Receiver<TunnelState> {
        self.state.clone()
    }

    /// Stops the tunnel: its process group is terminated (TERM, grace, KILL) and the supervisor waited for.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        if let Some(task) = self.task.take() {
            let abort = task.abort_handle();
            let limit = TERM_GRACE + Duration::from_secs(2);
            if tokio::time::timeout(limit, task).await.is_err() {
                // Dropping the supervisor's future kills the group.
                tracing::error!("the tunnel did not stop in time; killing it");
                abort.abort();
            }
        }
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        // Not stopped with `stop`: the supervisor terminates the group when it next runs, or kills it when the
        // runtime drops it.
        self.cancel.cancel();
    }
}

/// How one start of the tunnel ended.
enum Ended {
    Cancelled,
    Down(String),
}

/// Starts the tunnel again and again (with backoff) until cancelled.
async fn supervise(
    spec: Spec,
    masker: Masker,
    tx: watch::Sender<TunnelState>,
    cancel: CancellationToken,
) {
    let mut backoff = Backoff::default();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let started = Instant::now();
        let why = match run_once(&spec, &masker, &tx, &cancel, attempt).await {
            Ended::Cancelled => break,
            Ended::Down(why) => why,
        };
        let retry_in = backoff.after_run(started.elapsed());
        tracing::info!(%why, ?retry_in, "database tunnel down");
        tx.send_replace(TunnelState::Down { why, retry_in });
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(retry_in) => {}
        }
    }
    tx.send_replace(TunnelState::Stopped);
}

/// One start: refuses a port already taken, spawns the command, waits for the port, then for the command to exit.
async fn run_once(
    spec: &Spec,
    masker: &Masker,
    tx: &watch::Sender<TunnelState>,
    cancel: &CancellationToken,
    attempt: u32,
) -> Ended {
    let endpoint = format!("{}:{}", spec.host, spec.port);
    if port_open(&spec.host, spec.port).await {
        return Ended::Down(format!(
            "{endpoint} already accepts connections before the tunnel started: something else listens there (a \
             proxy opened by hand?) and deckhand does not send the database connection through a tunnel it does \
             not run; stop it, or choose another tunnel_port"
        ));
    }
    tx.send_replace(TunnelState::Starting { attempt });
    let (mut child, leader) = match spawn(spec) {
        Ok(started) => started,
        Err(why) => return Ended::Down(why),
    };
    let mut group = ProcessGroup::new(leader);
    let tail = Tail::default();
    let readers = [
        child
            .stdout
            .take()
            .map(|p| tokio::spawn(tail.clone().read(p, masker.clone()))),
        child
            .stderr
            .take()
            .map(|p| tokio::spawn(tail.clone().read(p, masker.clone()))),
    ];
    let outcome = watch_run(spec, &mut child, leader, tx, cancel, &endpoint).await;
    stop_group(&mut child, &mut group).await;
    // The group is gone, so the pipes are closed: the readers finish with the command's last words.
    for reader in readers.into_iter().flatten() {
        let abort = reader.abort_handle();
        if tokio::time::timeout(PIPE_DRAIN, reader).await.is_err() {
            abort.abort();
        }
    }
    let last = tail.last();
    let said = |text: String| match &last {
        Some(line) => format!("{text}: {line}"),
        None => text,
    };
    match outcome {
        Outcome::Cancelled => Ended::Cancelled,
        Outcome::Exited(status, was_up) => Ended::Down(said(exited(status, was_up))),
        Outcome::NoPort => Ended::Down(said(format!(
            "{endpoint} did not open within {}",
            crate::plan::human_duration(spec.ready_timeout)
        ))),
    }
}

/// How one start of the command went.
enum Outcome {
    Cancelled,
    /// The shell exited (was the port up before?).
    Exited(std::io::Result<ExitStatus>, bool),
    /// The port did not open in time.
    NoPort,
}

/// Waits for the port (reporting `Up`) and then for the command to exit.
async fn watch_run(
    spec: &Spec,
    child: &mut Child,
    leader: Pid,
    tx: &watch::Sender<TunnelState>,
    cancel: &CancellationToken,
    endpoint: &str,
) -> Outcome {
    let deadline = Instant::now() + spec.ready_timeout;
    let mut up = false;
    let mut poll = PORT_POLL_FIRST;
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Outcome::Cancelled,
            status = child.wait() => return Outcome::Exited(status, up),
            () = tokio::time::sleep(poll), if !up => {
                poll = (poll * 2).min(PORT_POLL_MAX);
                if port_open(&spec.host, spec.port).await {
                    up = true;
                    let pid = leader.as_raw().unsigned_abs();
                    tracing::info!(pid, endpoint, "database tunnel up");
                    tx.send_replace(TunnelState::Up { pid });
                } else if Instant::now() >= deadline {
                    return Outcome::NoPort;
                }
            }
        }
    }
}

/// `sh -c <tunnel>` in a new process group, its secrets in its environment, its output piped.
fn spawn(spec: &Spec) -> Result<(Child, Pid), String> {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(&spec.command.value)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .envs(spec.env.0.iter().map(|(k, v)| (k, v)));
    let child = command
        .spawn()
        .map_err(|e| format!("cannot start `sh -c`: {e}"))?;
    match child.id().and_then(|pid| i32::try_from(pid).ok()) {
        Some(pid) => Ok((child, Pid::from_raw(pid))),
        None => Err("the tunnel started but reported no process id".into()),
    }
}

/// Terminates what is left of the group: TERM, up to [`TERM_GRACE`] for the shell and every member to go, KILL.
async fn stop_group(child: &mut Child, group: &mut ProcessGroup) {
    group.signal(Signal::SIGTERM);
    let deadline = Instant::now() + TERM_GRACE;
    // The leader's exit wakes this at once; members it leaves behind (a forwarder's per-connection children) are
    // looked for after it.
    let reaped = tokio::time::timeout_at(deadline, child.wait())
        .await
        .is_ok();
    while reaped && group.has_live_members() && Instant::now() < deadline {
        tokio::time::sleep(GROUP_POLL).await;
    }
    if !reaped || group.has_live_members() {
        group.signal(Signal::SIGKILL);
        let _ = tokio::time::timeout(TERM_GRACE, child.wait()).await;
    }
    group.release();
}

/// How the command's exit took the tunnel down.
fn exited(status: std::io::Result<ExitStatus>, was_up: bool) -> String {
    use std::os::unix::process::ExitStatusExt;
    let how = match status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            _ => "exited".into(),
        },
        Err(e) => format!("could not be waited for: {e}"),
    };
    let when = if was_up {
        ""
    } else {
        " before its port opened"
    };
    format!("the tunnel {how}{when}")
}

/// True when something accepts a TCP connection at `host:port` within [`CONNECT_TIMEOUT`].
async fn port_open(host: &str, port: u16) -> bool {
    let connect = tokio::net::TcpStream::connect((host, port));
    matches!(
        tokio::time::timeout(CONNECT_TIMEOUT, connect).await,
        Ok(Ok(_))
    )
}

/// The tunnel's last output lines (both pipes), masked and inert.
#[derive(Clone, Default)]
struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    /// Reads `pipe` to its end, keeping its last lines.
    async fn read(self, mut pipe: impl AsyncRead + Unpin, masker: Masker) {
        let mut splitter = Splitter::new(TAIL_LINE_BYTES);
        let mut buf = vec![0u8; 8192];
        loop {
            let n = match pipe.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            splitter.push(&buf[..n], &mut |line: &[u8], _| self.keep(line, &masker));
        }
    }

    fn keep(&self, line: &[u8], masker: &Masker) {
        let text = String::from_utf8_lossy(line);
        let text = crate::sanitize::sanitize_str(&masker.mask(text.trim())).into_owned();
        if text.is_empty() {
            return;
        }
        if let Ok(mut lines) = self.0.lock() {
            if lines.len() == TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(text);
        }
    }

    /// The last line, if any.
    fn last(&self) -> Option<String> {
        self.0.lock().ok()?.back().cloned()
    }
}
