//! Running `pg_dump`/`pg_restore` under supervision: in a process group of their own, stderr read line by line
//! (progress comes from `--verbose` lines), a tick every 200 ms for progress, and no process left behind: a cancel
//! sends `SIGTERM` to the whole group, then `SIGKILL` after a grace; a dropped future kills the group through
//! [`Group`]'s `Drop` (and `kill_on_drop` for the leader). Also sha256 of an archive off the async threads.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::conn::Conn;
use super::group::Group;
use super::tools::Tool;
use super::{send, share};
use crate::backup::{BackupError, Progress, Stage, store};

/// How often progress is reported while a tool runs.
pub const TICK: Duration = Duration::from_millis(200);
/// `SIGTERM` → `SIGKILL` grace on cancel.
const TERM_GRACE: Duration = Duration::from_secs(2);
/// How long to wait for killed processes to disappear, and for pipes to close once the tool exited.
const REAP_LIMIT: Duration = Duration::from_secs(5);
/// stderr lines kept for an error message.
const TAIL_LINES: usize = 5;
const TAIL_LINE_CHARS: usize = 500;

/// What a running tool reports to its caller.
pub enum Event<'a> {
    /// One stderr line, without its line end.
    Line(&'a str),
    /// Every [`TICK`], with the tool's pid (for `/proc/<pid>/io`).
    Tick { pid: u32 },
}

/// A tool run: the program, its arguments (never a password), and the database whose password goes in its
/// environment (and is scrubbed from what it prints).
pub struct Invocation<'a> {
    pub tool: &'a Tool,
    pub args: Vec<OsString>,
    pub conn: Option<&'a Conn>,
    /// Keep stdout (`pg_restore --list`); otherwise it is discarded.
    pub capture_stdout: bool,
}

/// How a tool ended.
#[derive(Debug)]
pub struct Finished {
    pub success: bool,
    /// `exit status: 1`.
    pub status: String,
    /// The last lines of stderr that are not `--verbose` progress (errors, warnings, their details), scrubbed.
    pub tail: String,
    /// stderr lines reporting an error.
    pub errors: usize,
    pub stdout: String,
}

impl Finished {
    /// The error for a failed run; `note` is added to the status (`rolled back: nothing changed`).
    pub fn failure(&self, tool: &Tool, note: &str) -> BackupError {
        let status = if note.is_empty() {
            self.status.clone()
        } else {
            format!("{}; {note}", self.status)
        };
        BackupError::Tool {
            tool: tool.name.to_string(),
            status,
            stderr: self.tail.clone(),
        }
    }
}

/// The tool's command: its own process group, stdin closed, stderr read (in English), stdout read only when
/// `inv` captures it, and the connection's environment.
fn command(inv: &Invocation<'_>) -> Command {
    let mut cmd = Command::new(&inv.tool.path);
    cmd.args(&inv.args)
        .stdin(Stdio::null())
        .stdout(if inv.capture_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        // Progress and errors are read in English.
        .env("LC_ALL", "C")
        .process_group(0)
        .kill_on_drop(true);
    if let Some(conn) = inv.conn {
        conn.apply_env(&mut cmd);
    }
    cmd
}

/// Runs `inv` to the end, calling `on` with each stderr line and every tick. A cancel stops the whole process
/// group and returns `Err(Cancelled)` once it is gone.
pub async fn run(
    inv: Invocation<'_>,
    cancel: &CancellationToken,
    on: &mut (dyn FnMut(Event<'_>) + Send),
) -> Result<Finished, BackupError> {
    let scrub = |s: &str| inv.conn.map_or_else(|| s.to_string(), |c| c.scrub(s));
    let mut cmd = command(&inv);
    if cancel.is_cancelled() {
        return Err(BackupError::Cancelled);
    }
    let mut child = cmd.spawn().map_err(|e| BackupError::Io {
        path: inv.tool.path.display().to_string(),
        message: format!("cannot start {}: {e}", inv.tool.name),
    })?;
    let pid = child.id().unwrap_or(0);
    let mut group = Group::new(pid);
    let mut err = child.stderr.take().map(BufReader::new);
    let mut out = child.stdout.take();
    let mut line = Vec::new();
    let mut stdout = Vec::new();
    let mut tail = Tail::new(inv.tool.name);
    let mut exit: Option<std::io::Result<ExitStatus>> = None;
    let mut drain_until: Option<tokio::time::Instant> = None;
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        if exit.is_some() && err.is_none() && out.is_none() {
            break;
        }
        // Unbiased: a burst of `--verbose` lines must not starve the progress ticks.
        tokio::select! {
            // Once the tool has exited its work is done (a restore committed): a cancel no longer undoes it.
            () = cancel.cancelled(), if exit.is_none() => {
                stop(&mut child, &mut group).await;
                return Err(BackupError::Cancelled);
            }
            read = next_line(&mut err, &mut line), if err.is_some() => match read {
                Ok(0) | Err(_) => err = None,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end_matches(['\n', '\r']);
                    tail.push(text);
                    on(Event::Line(text));
                    line.clear();
                }
            },
            read = read_some(&mut out, &mut stdout), if out.is_some() => {
                if !matches!(read, Ok(n) if n > 0) {
                    out = None;
                }
            }
            status = child.wait(), if exit.is_none() => {
                exit = Some(status);
                drain_until = Some(tokio::time::Instant::now() + REAP_LIMIT);
                // Whatever the tool left in its group (parallel workers) goes with it.
                finish_group(&mut group).await;
            }
            _ = ticker.tick(), if exit.is_none() => on(Event::Tick { pid }),
            // Only something that escaped the group could hold the pipes open this long.
            () = deadline(drain_until), if drain_until.is_some() => break,
        }
    }
    let (success, status) = match exit {
        Some(Ok(s)) => (s.success(), s.to_string()),
        Some(Err(e)) => (false, format!("could not be waited for: {e}")),
        None => (false, "did not exit".to_string()),
    };
    Ok(Finished {
        success,
        status,
        tail: scrub(&tail.text()),
        errors: tail.errors,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
    })
}

/// Bytes the process has read so far (`rchar` of `/proc/<pid>/io`): files, pipes and sockets alike.
pub fn rchar(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("rchar:"))
        .and_then(|v| v.trim().parse().ok())
}

/// sha256 of an archive (file or folder) on the blocking pool, with progress every [`TICK`] as `stage`. On cancel
/// it returns at once; the hashing thread reads on to the end of the file on its own.
pub async fn hash(
    path: &Path,
    stage: Stage,
    started: Instant,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<String, BackupError> {
    let total = store::size_of(path);
    let done = Arc::new(AtomicU64::new(0));
    let task = tokio::task::spawn_blocking({
        let path = path.to_path_buf();
        let done = Arc::clone(&done);
        move || store::sha256_path(&path, |n| done.store(n, Ordering::Relaxed))
    });
    tokio::pin!(task);
    let mut ticker = tokio::time::interval(TICK);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(BackupError::Cancelled),
            joined = &mut task => {
                return joined.map_err(|e| BackupError::Io {
                    path: path.display().to_string(),
                    message: format!("hashing stopped: {e}"),
                })?;
            }
            _ = ticker.tick() => {
                let n = done.load(Ordering::Relaxed);
                send(progress, stage, started, n, share(n, total), None);
            }
        }
    }
}

async fn deadline(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut Option<R>,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    match reader {
        Some(r) => r.read_until(b'\n', buf).await,
        None => std::future::pending().await,
    }
}

async fn read_some<R: AsyncRead + Unpin>(
    reader: &mut Option<R>,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    match reader {
        Some(r) => r.read_buf(buf).await,
        None => std::future::pending().await,
    }
}

/// `SIGTERM` to the group, `SIGKILL` if the tool is still there after the grace, then waits for the group.
async fn stop(child: &mut Child, group: &mut Group) {
    group.signal(Signal::SIGTERM);
    if tokio::time::timeout(TERM_GRACE, child.wait())
        .await
        .is_err()
    {
        group.signal(Signal::SIGKILL);
        let _ = tokio::time::timeout(REAP_LIMIT, child.wait()).await;
    }
    finish_group(group).await;
}

/// Kills what is left of the group (the leader is gone) and waits, bounded, until nothing of it runs.
async fn finish_group(group: &mut Group) {
    let deadline = Instant::now() + REAP_LIMIT;
    while group.has_live_members() && Instant::now() < deadline {
        group.signal(Signal::SIGKILL);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    group.release();
}

/// The end of a tool's stderr: the lines that matter (errors, warnings and what follows them), not `--verbose`
/// progress.
struct Tail {
    prefix: String,
    important: VecDeque<String>,
    all: VecDeque<String>,
    errors: usize,
}

impl Tail {
    fn new(tool: &str) -> Tail {
        Tail {
            prefix: format!("{tool}: "),
            important: VecDeque::new(),
            all: VecDeque::new(),
            errors: 0,
        }
    }

    fn push(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        let short: String = line.chars().take(TAIL_LINE_CHARS).collect();
        let rest = line.strip_prefix(&self.prefix);
        let lower = rest.map(str::to_ascii_lowercase);
        let is_error = lower.as_deref().is_some_and(|r| {
            r.starts_with("error") || r.starts_with("fatal") || r.starts_with('[')
        });
        let important = match lower.as_deref() {
            // Not one of the tool's own lines: the continuation of a message (DETAIL, Command was: ...).
            None => true,
            Some(r) => {
                is_error
                    || [
                        "warning", "detail", "hint", "while ", "from toc", "aborting",
                    ]
                    .iter()
                    .any(|p| r.starts_with(p))
            }
        };
        self.errors += usize::from(is_error);
        push_bounded(&mut self.all, short.clone());
        if important {
            push_bounded(&mut self.important, short);
        }
    }

    fn text(&self) -> String {
        let lines = if self.important.is_empty() {
            &self.all
        } else {
            &self.important
        };
        lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

fn push_bounded(q: &mut VecDeque<String>, line: String) {
    if q.len() == TAIL_LINES {
        q.pop_front();
    }
    q.push_back(line);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_skips_verbose_progress() {
        let mut t = Tail::new("pg_restore");
        for l in [
            "pg_restore: connecting to database for restore",
            "pg_restore: while PROCESSING TOC:",
            "pg_restore: from TOC entry 215; 1259 16386 TABLE orders app",
            "pg_restore: error: could not execute query: ERROR:  relation \"orders\" already exists",
            "Command was: CREATE TABLE public.orders (",
            "pg_restore: creating TABLE \"public.x\"",
        ] {
            t.push(l);
        }
        assert_eq!(t.errors, 1);
        let text = t.text();
        assert!(
            text.starts_with("pg_restore: while PROCESSING TOC:"),
            "{text}"
        );
        assert!(!text.contains("creating TABLE"), "{text}");
        assert!(text.contains("Command was"), "{text}");
    }
}
