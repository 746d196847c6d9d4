//! Runs one plan step as `sh -c <command>` in its own process group: streams its output to the
//! runner channel in sanitized batches, records it raw in the step's log file, and makes sure no
//! process of the group outlives the step (timeout, cancel, background leftovers, dropped future).

pub(crate) mod group;
mod lines;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::fs::File;
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::process::{Child, Command};
use tokio::sync::mpsc::Sender;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use self::group::ProcessGroup;
use self::lines::Pipe;
use super::{OutputLine, RunnerEvent, StepId, StepOutcome, Stream};

/// Time between `SIGTERM` and `SIGKILL` when deckhand stops a step's process group.
pub const TERM_GRACE: Duration = Duration::from_secs(3);
/// Longest line kept; the rest of a longer line is dropped and the line marked truncated.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// How often a group that is being stopped is checked for remaining members.
const GROUP_POLL_INTERVAL_MS: u64 = 50;
/// How long the pipes are still read once the whole group is gone. Only processes that escaped
/// the group (`setsid`) can keep them open that long; after this they are closed on them.
const PIPE_DRAIN_LIMIT_MS: u64 = 2_000;
/// How long the shell may take to disappear after `SIGKILL` before deckhand stops waiting for it
/// (it may not be ours to signal, e.g. a setuid program exec'ed by the shell).
const KILLED_REAP_LIMIT_MS: u64 = 5_000;
impl std::fmt::Debug for CommandSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env_keys: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("CommandSpec")
            .field("id", &self.id)
            .field(
                "command",
                &format_args!("<{} bytes, hidden>", self.command.len()),
            )
            .field("cwd", &self.cwd)
            .field("env_keys", &env_keys)
            .field("timeout", &self.timeout)
            .field("log_path", &self.log_path)
            .field("grace", &self.grace)
            .finish()
    }
}

/// Stand-in for "never" where a caller-supplied duration would overflow the clock.
const FAR_FUTURE_SECS: u64 = 30 * 365 * 24 * 60 * 60;
/// Write buffer of the step's log file.
const LOG_BUFFER_BYTES: usize = 64 * 1024;

/// One step: a shell command and where and how to run it. `Debug` leaves out the command and the environment
/// values: they are interpolated and may hold secrets.
#[derive(Clone)]
pub struct CommandSpec {
    pub id: StepId,
    /// Run via `sh -c <command>`.
    pub command: String,
    pub cwd: Option<PathBuf>,
    /// Added to the inherited environment.
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    /// The step's output file (parent directories created, mode 0600, appended to).
    pub log_path: PathBuf,
    /// `SIGTERM` → `SIGKILL` grace; callers use [`TERM_GRACE`].
    pub grace: Duration,
    /// The plan's secret values, masked in the output (screen and log).
    pub masker: crate::secrets::Masker,
}

/// Runs `spec` to completion, reporting `StepStarted`, `Output` batches and exactly one
/// `StepFinished` on `tx` (or only `StepFinished(SpawnFailed)` if it cannot start). A gone
/// receiver does not stop the step. Dropping the future kills the step's process group.
pub async fn run_command(spec: CommandSpec, tx: Sender<RunnerEvent>, cancel: CancellationToken) {
    let mut sink = Sink {
        id: spec.id,
        tx,
        receiver_alive: true,
        log: None,
    };
    let (outcome, duration) = match start(&spec).await {
        Err(reason) => {
            tracing::debug!(id = ?spec.id, %reason, "step could not start");
            (StepOutcome::SpawnFailed(reason), Duration::ZERO)
        }
        Ok((mut child, leader, log)) => {
            let spawned = Instant::now();
            let mut group = ProcessGroup::new(leader);
            sink.log = Some(log);
            let started = RunnerEvent::StepStarted {
                id: spec.id,
                pid: leader.as_raw().unsigned_abs(),
                log_path: spec.log_path.clone(),
            };
            sink.send(started).await;
            let outcome = supervise(&mut child, &mut group, &spec, &cancel, &mut sink).await;
            (outcome, spawned.elapsed())
        }
    };
    sink.close_log().await;
    let id = spec.id;
    sink.send(RunnerEvent::StepFinished {
        id,
        outcome,
        duration,
    })
    .await;
}

/// Opens the log, then spawns the shell (nothing runs unless it can be recorded).
async fn start(spec: &CommandSpec) -> Result<(Child, Pid, BufWriter<File>), String> {
    let log = open_log(&spec.log_path).await?;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(&spec.command)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .envs(spec.env.iter().map(|(key, value)| (key, value)));
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let child = command.spawn().map_err(|err| match &spec.cwd {
        Some(cwd) if !cwd.is_dir() => {
            format!("working directory {} is not usable: {err}", cwd.display())
        }
        Some(cwd) => format!("cannot start `sh -c` in {}: {err}", cwd.display()),
        None => format!("cannot start `sh -c`: {err}"),
    })?;
    // A freshly spawned, not yet awaited child always has a pid.
    match child.id().and_then(|pid| i32::try_from(pid).ok()) {
        Some(pid) => Ok((child, Pid::from_raw(pid), log)),
        None => Err("the shell started but reported no process id".to_owned()),
    }
}

/// Creates the log file (and its directories) readable by the owner only, appending if it exists.
async fn open_log(path: &Path) -> Result<BufWriter<File>, String> {
    let failed =
        |what: &str, err: std::io::Error| format!("cannot {what} {}: {err}", path.display());
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        crate::safe_fs::create_private_dir(dir)
            .map_err(|err| failed("create the directory of log file", err))?;
    }
    // Never through a symlink or a hard link planted at the path; an existing file of ours is tightened to 0600.
    let file = crate::safe_fs::open_append(path).map_err(|err| failed("open log file", err))?;
    Ok(BufWriter::with_capacity(
        LOG_BUFFER_BYTES,
        File::from_std(file),
    ))
}

/// Where a step's output goes: the event channel and the log file. Neither failing stops the step.
struct Sink {
    id: StepId,
    tx: Sender<RunnerEvent>,
    receiver_alive: bool,
    log: Option<BufWriter<File>>,
}

impl Sink {
    async fn send(&mut self, event: RunnerEvent) {
        if self.receiver_alive && self.tx.send(event).await.is_err() {
            tracing::debug!(id = ?self.id, "event receiver gone; the step keeps running");
            self.receiver_alive = false;
        }
    }

    /// Logs the raw bytes of a chunk's lines, then sends the sanitized lines as one batch.
    async fn record(&mut self, lines: Vec<OutputLine>, raw: &[u8]) {
        if let Some(log) = self.log.as_mut()
            && let Err(err) = log.write_all(raw).await
        {
            tracing::warn!(id = ?self.id, %err, "writing the step log failed; logging stops");
            self.log = None;
        }
        if !lines.is_empty() {
            let id = self.id;
            self.send(RunnerEvent::Output { id, lines }).await;
        }
    }

    async fn close_log(&mut self) {
        if let Some(mut log) = self.log.take()
            && let Err(err) = log.flush().await
        {
            tracing::warn!(id = ?self.id, %err, "flushing the step log failed");
        }
    }
}

/// Where the supervision of a started step stands.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The shell runs and nothing has been asked of it.
    Running,
    /// `SIGTERM` went to the group; `SIGKILL` follows at `kill_at` unless the group is gone first.
    Terminating { kill_at: Instant },
    /// `SIGKILL` went to the group; waiting for the shell to be reaped, until `give_up_at`.
    Killed { give_up_at: Instant },
    /// Shell reaped and group gone: reading what is left in the pipes, until `until` at most.
    Draining { until: Instant },
}

/// What is known about the step so far.
struct State {
    phase: Phase,
    /// The shell's exit, once reaped (`Err` if waiting for it failed).
    exit: Option<std::io::Result<ExitStatus>>,
    /// Why deckhand stopped the step, if it did (`TimedOut` or `Cancelled`).
    stopped: Option<StepOutcome>,
    grace: Duration,
}

impl State {
    /// Asks the group to terminate because of a timeout or cancellation.
    fn stop(&mut self, why: StepOutcome, group: &ProcessGroup) {
        tracing::debug!(?why, "stopping step");
        self.stopped = Some(why);
        group.signal(Signal::SIGTERM);
        self.phase = Phase::Terminating {
            kill_at: deadline_after(self.grace),
        };
    }

    /// The shell exited; whatever it left behind in its group is terminated too.
    fn leader_exited(&mut self, exit: std::io::Result<ExitStatus>, group: &mut ProcessGroup) {
        tracing::debug!(?exit, "shell exited");
        self.exit = Some(exit);
        match self.phase {
            Phase::Running if group.has_live_members() => {
                tracing::debug!("shell left processes behind; terminating them");
                group.signal(Signal::SIGTERM);
                self.phase = Phase::Terminating {
                    kill_at: deadline_after(self.grace),
                };
            }
            Phase::Terminating { .. } if group.has_live_members() => {}
            _ => self.drain(group),
        }
    }

    /// Periodic check while stopping or draining. Returns true when the pipes should be closed.
    fn tick(&mut self, group: &mut ProcessGroup) -> bool {
        match self.phase {
            Phase::Running => false,
            Phase::Killed { give_up_at } => {
                if Instant::now() >= give_up_at {
                    tracing::warn!("shell survived SIGKILL; no longer waiting for it");
                    self.drain(group);
                }
                false
            }
            Phase::Terminating { kill_at } => {
                let reaped = self.exit.is_some();
                if reaped && !group.has_live_members() {
                    self.drain(group);
                } else if Instant::now() >= kill_at {
                    group.signal(Signal::SIGKILL);
                    if reaped {
                        self.drain(group);
                    } else {
                        let limit = Duration::from_millis(KILLED_REAP_LIMIT_MS);
                        self.phase = Phase::Killed {
                            give_up_at: deadline_after(limit),
                        };
                    }
                }
                false
            }
            Phase::Draining { until } => Instant::now() >= until,
        }
    }

    fn drain(&mut self, group: &mut ProcessGroup) {
        group.release();
        self.phase = Phase::Draining {
            until: deadline_after(Duration::from_millis(PIPE_DRAIN_LIMIT_MS)),
        };
    }

    fn outcome(self) -> StepOutcome {
        if let Some(stopped) = self.stopped {
            return stopped;
        }
        match self.exit {
            Some(Ok(status)) => match (status.code(), status.signal()) {
                (Some(code), _) => StepOutcome::Exited(code),
                (None, Some(signal)) => StepOutcome::Signalled(signal),
                (None, None) => StepOutcome::Exited(-1),
            },
            // Only if the shell could not be waited for; reported as an impossible exit code.
            Some(Err(_)) | None => StepOutcome::Exited(-1),
        }
    }
}

/// `now + after`, saturating far in the future instead of overflowing.
fn deadline_after(after: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(after)
        .unwrap_or_else(|| now + Duration::from_secs(FAR_FUTURE_SECS))
}

/// Reads both pipes while watching the shell, the timeout and the cancel token, until the shell is
/// reaped, its group is gone and the pipes are drained.
async fn supervise(
    child: &mut Child,
    group: &mut ProcessGroup,
    spec: &CommandSpec,
    cancel: &CancellationToken,
    sink: &mut Sink,
) -> StepOutcome {
    let mut out = Pipe::new(child.stdout.take(), Stream::Stdout, spec.masker.clone());
    let mut err = Pipe::new(child.stderr.take(), Stream::Stderr, spec.masker.clone());
    let mut state = State {
        phase: Phase::Running,
        exit: None,
        stopped: None,
        grace: spec.grace,
    };
    let timeout = tokio::time::sleep(spec.timeout.unwrap_or(Duration::MAX));
    tokio::pin!(timeout);
    let poll = Duration::from_millis(GROUP_POLL_INTERVAL_MS);
    let mut ticker = tokio::time::interval_at(Instant::now() + poll, poll);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut raw = Vec::new();
    loop {
        let running = matches!(state.phase, Phase::Running);
        if matches!(state.phase, Phase::Draining { .. }) && !out.is_open() && !err.is_open() {
            break;
        }
        tokio::select! {
            read = out.read(), if out.is_open() => {
                let lines = out.lines(read, &mut raw);
                sink.record(lines, &raw).await;
                raw.clear();
            }
            read = err.read(), if err.is_open() => {
                let lines = err.lines(read, &mut raw);
                sink.record(lines, &raw).await;
                raw.clear();
            }
            exit = child.wait(), if state.exit.is_none() => state.leader_exited(exit, group),
            () = &mut timeout, if running && spec.timeout.is_some() => {
                state.stop(StepOutcome::TimedOut, group);
            }
            () = cancel.cancelled(), if running => state.stop(StepOutcome::Cancelled, group),
            _ = ticker.tick(), if !running => {
                if state.tick(group) {
                    tracing::debug!("pipes still open after the group is gone; closing them");
                    out.close();
                    err.close();
                }
            }
        }
    }
    state.outcome()
}
