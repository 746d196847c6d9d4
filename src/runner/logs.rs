//! The `[[logs]]` runners: one task per source, sending [`RunnerEvent::LogLines`] batches (one per read) and
//! [`RunnerEvent::LogSource`] state changes on the bounded runner channel. Backpressure, never silent loss: when
//! the channel is full the task waits, so a command blocks on its pipe and a file is simply read later.
//! Commands run as `sh -c` in their own process group, restarted with backoff; the group is terminated
//! (TERM, grace, KILL) on cancel, and killed if the task is dropped.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::mpsc::Sender;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::command::TERM_GRACE;
use super::command::group::ProcessGroup;
use super::{RunnerEvent, SourceState, Stream};
use crate::logs::backoff::Backoff;
use crate::logs::batch::LineBatch;
use crate::logs::follow::{FollowEvent, Follower};
use crate::logs::pack::{Finish, Packer};
use crate::logs::pattern::LineRegex;
use crate::logs::split::Splitter;
use crate::logs::{MAX_LINE_BYTES, READ_CHUNK_BYTES};
use crate::plan::{LogInput, LogSource};

/// How often a followed file is checked for new bytes, rotation and truncation.
pub const FOLLOW_POLL: Duration = Duration::from_millis(250);
/// Most bytes of a file turned into one batch.
const FILE_BATCH_BYTES: usize = 1024 * 1024;
/// Size asked for the pipes from a command (the default is 64 KiB).
const PIPE_BYTES: i32 = 1024 * 1024;
/// How long the pipes are still read after a command's shell exited (its leftovers are terminated).
const PIPE_DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// Runs source number `index` until `cancel` fires or the receiver is gone.
pub async fn run_source(
    index: usize,
    source: LogSource,
    tx: Sender<RunnerEvent>,
    cancel: CancellationToken,
    masker: crate::secrets::Masker,
) {
    let error = source.error.as_deref().and_then(LineRegex::new);
    let out = Out {
        index,
        tx,
        error,
        masker,
    };
    match &source.input {
        LogInput::File(path) => follow_file(&out, path, &cancel).await,
        LogInput::Command(cmd) => {
            let env = &source.command_env.0;
            run_commands(&out, &cmd.value, env, source.restart, &cancel).await
        }
    }
}

/// Where a source's messages go.
struct Out {
    index: usize,
    tx: Sender<RunnerEvent>,
    error: Option<LineRegex>,
    /// The plan's secret values, masked in every line.
    masker: crate::secrets::Masker,
}

impl Out {
    /// Sends (waiting while the channel is full); false once the receiver is gone.
    async fn state(&self, state: SourceState) -> bool {
        let ev = RunnerEvent::LogSource {
            source: self.index,
            state,
        };
        self.tx.send(ev).await.is_ok()
    }

    /// How each line of this source is finished, for lines of `stream`.
    fn finish(&self, stream: Stream) -> Finish<'_> {
        Finish {
            error: self.error.as_ref(),
            masker: &self.masker,
            stream,
        }
    }

    async fn lines(&self, lines: LineBatch) -> bool {
        if lines.is_empty() {
            return true;
        }
        let ev = RunnerEvent::LogLines {
            source: self.index,
            lines,
        };
        self.tx.send(ev).await.is_ok()
    }
}

async fn follow_file(out: &Out, path: &std::path::Path, cancel: &CancellationToken) {
    let mut follower = Follower::new(path, true);
    let mut events = Vec::new();
    while !cancel.is_cancelled() {
        let mut packer = Packer::default();
        let more = follower.poll(FILE_BATCH_BYTES, &mut packer, &mut events);
        let lines = packer.finish(&out.finish(Stream::Stdout));
        // Opening and failing come before the lines read; rotation and truncation notes after them.
        let (first, after): (Vec<_>, Vec<_>) = events
            .drain(..)
            .partition(|e| !matches!(e, FollowEvent::Note(_)));
        for ev in first {
            let state = match ev {
                FollowEvent::Failed(why) => SourceState::Failed(why),
                FollowEvent::Waiting(why) => SourceState::Waiting(why),
                _ => SourceState::Running { pid: None },
            };
            if !out.state(state).await {
                return;
            }
        }
        if !out.lines(lines).await {
            return;
        }
        for ev in after {
            if let FollowEvent::Note(note) = ev
                && !out.state(SourceState::Note(note)).await
            {
                return;
            }
        }
        if !more {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(FOLLOW_POLL) => {}
            }
        }
    }
}

async fn run_commands(
    out: &Out,
    command: &str,
    env: &[(String, String)],
    restart: bool,
    cancel: &CancellationToken,
) {
    let mut backoff = Backoff::default();
    loop {
        let started = Instant::now();
        let why = match spawn(command, env) {
            Err(why) => {
                if !out.state(SourceState::Failed(why)).await {
                    return;
                }
                None
            }
            Ok((child, leader)) => {
                let pid = leader.as_raw().unsigned_abs();
                // From here on the whole group goes with this guard, even if the console is gone before the
                // first message (dropping the child alone would kill only the shell).
                let group = ProcessGroup::new(leader);
                if !out.state(SourceState::Running { pid: Some(pid) }).await {
                    return;
                }
                match supervise(out, child, group, cancel).await {
                    Some(why) => Some(why),
                    None => return,
                }
            }
        };
        let delay = backoff.after_run(started.elapsed());
        let restart_in = restart.then_some(delay);
        if let Some(why) = why
            && !out.state(SourceState::Stopped { why, restart_in }).await
        {
            return;
        }
        let Some(delay) = restart_in else { return };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

fn spawn(command: &str, env: &[(String, String)]) -> Result<(tokio::process::Child, Pid), String> {
    let child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start `sh -c`: {e}"))?;
    match child.id().and_then(|pid| i32::try_from(pid).ok()) {
        Some(pid) => Ok((child, Pid::from_raw(pid))),
        None => Err("the shell started but reported no process id".into()),
    }
}

/// One output pipe of a command with its splitter.
struct Pipe<R> {
    reader: Option<R>,
    stream: Stream,
    buf: Vec<u8>,
    splitter: Splitter,
    /// The lines of the read in progress.
    packer: Packer,
}

impl<R: AsyncRead + Unpin> Pipe<R> {
    fn new(reader: Option<R>, stream: Stream) -> Self {
        Pipe {
            reader,
            stream,
            buf: Vec::with_capacity(READ_CHUNK_BYTES),
            splitter: Splitter::new(MAX_LINE_BYTES),
            packer: Packer::default(),
        }
    }

    /// One read, topped up with what the pipe already holds (see [`fill`]). When no line is begun, or a short one
    /// was carried over into the batch ([`Packer::carry`]), the bytes go straight into the batch being packed (its
    /// whole lines stay there, see [`Packer::took_read`]); otherwise into the read buffer. Returns how many bytes,
    /// and where the read's first line starts in the batch when they went there. Cancel-safe, as [`fill`] is.
    async fn read(&mut self) -> std::io::Result<(usize, Option<usize>)> {
        let Some(r) = self.reader.as_mut() else {
            return std::future::pending().await;
        };
        if self.splitter.idle() {
            let (raw, from) = self.packer.read_buffer(READ_CHUNK_BYTES);
            return Ok((fill(r, raw).await?, Some(from)));
        }
        self.buf.clear();
        Ok((fill(r, &mut self.buf).await?, None))
    }

    /// The lines completed by one read; EOF or an error closes the pipe and flushes its last line.
    fn lines(&mut self, read: std::io::Result<(usize, Option<usize>)>, out: &Out) -> LineBatch {
        match read {
            Ok((n, Some(from))) if n > 0 => self.packer.took_read(from, &mut self.splitter),
            Ok((n, None)) if n > 0 => self.splitter.push(&self.buf[..n], &mut self.packer),
            _ => {
                self.reader = None;
                self.packer.settle(&mut self.splitter);
                self.splitter.finish(&mut self.packer);
            }
        }
        let batch = self.packer.finish(&out.finish(self.stream));
        self.packer.carry(&mut self.splitter);
        batch
    }
}

/// Appends one read to `buf`, topped up with what the pipe already holds, up to [`READ_CHUNK_BYTES`] (a writer's
/// 4 KiB writes make one batch, not one each: the cost of a batch is then shared by its lines). Returns how many
/// bytes; 0 at the end. Cancel-safe: after the first read nothing awaits, so a dropped call has read nothing.
async fn fill<R: AsyncRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    use futures_util::FutureExt;
    let limit = buf.len() + READ_CHUNK_BYTES;
    buf.reserve(READ_CHUNK_BYTES);
    let mut n = r.read_buf(buf).await?;
    while n > 0 && buf.len() < limit {
        match r.read_buf(buf).now_or_never() {
            Some(Ok(more)) if more > 0 => n += more,
            // Nothing waiting, the end, or an error: the next read finds it.
            _ => break,
        }
    }
    Ok(n)
}

/// Grows a command's stdout pipe to [`PIPE_BYTES`]; true when granted (the system's `pipe-max-size`, or a user
/// over `pipe-user-pages-soft`, may refuse it). Under a flood the writer then blocks, and wakes the reader, far less
/// often. Stdout only: every pipe's size counts against the user's pipe budget (64 MiB by default), and floods come
/// on stdout.
fn widen(pipe: Option<&impl std::os::fd::AsFd>) -> bool {
    pipe.is_some_and(|p| {
        nix::fcntl::fcntl(p, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_BYTES)).is_ok()
    })
}

/// Reads both pipes until the command ends. Returns how it ended, or `None` when cancelled or the receiver is
/// gone (the group is terminated either way).
async fn supervise(
    out: &Out,
    mut child: tokio::process::Child,
    mut group: ProcessGroup,
    cancel: &CancellationToken,
) -> Option<String> {
    let _ = widen(child.stdout.as_ref());
    let mut stdout = Pipe::new(child.stdout.take(), Stream::Stdout);
    let mut stderr = Pipe::new(child.stderr.take(), Stream::Stderr);
    let mut exit: Option<std::io::Result<ExitStatus>> = None;
    let drain_until = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(drain_until);
    loop {
        let open = stdout.reader.is_some() || stderr.reader.is_some();
        if exit.is_some() && !open {
            break;
        }
        let lines = tokio::select! {
            read = stdout.read(), if stdout.reader.is_some() => stdout.lines(read, out),
            read = stderr.read(), if stderr.reader.is_some() => stderr.lines(read, out),
            status = child.wait(), if exit.is_none() => {
                exit = Some(status);
                // Whatever the shell left behind goes with it; its pipes get a moment to drain.
                group.signal(Signal::SIGTERM);
                drain_until.as_mut().reset(Instant::now() + PIPE_DRAIN_LIMIT);
                LineBatch::default()
            }
            () = &mut drain_until => {
                stdout.reader = None;
                stderr.reader = None;
                LineBatch::default()
            }
            () = cancel.cancelled() => {
                stop(&mut child, &mut group).await;
                return None;
            }
        };
        if !out.lines(lines).await {
            stop(&mut child, &mut group).await;
            return None;
        }
    }
    if group.has_live_members() {
        group.signal(Signal::SIGKILL);
    }
    group.release();
    Some(exit_text(exit))
}

/// TERM to the group, KILL after the grace if the shell is still there.
async fn stop(child: &mut tokio::process::Child, group: &mut ProcessGroup) {
    group.signal(Signal::SIGTERM);
    if tokio::time::timeout(TERM_GRACE, child.wait())
        .await
        .is_err()
        || group.has_live_members()
    {
        group.signal(Signal::SIGKILL);
        let _ = child.wait().await;
    }
    group.release();
}

/// `exit 1`, `killed by signal 9`.
fn exit_text(exit: Option<std::io::Result<ExitStatus>>) -> String {
    match exit {
        Some(Ok(status)) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => "exited".into(),
        },
        Some(Err(e)) => format!("cannot wait for it: {e}"),
        None => "exited".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command's pipe is grown to `PIPE_BYTES` when the kernel grants it, and always for root where
    /// `pipe-max-size` allows it.
    #[test]
    fn a_pipe_is_grown_where_the_system_allows() {
        let (reader, _writer) = std::io::pipe().unwrap();
        let size = |r: &std::io::PipeReader| {
            nix::fcntl::fcntl(r, nix::fcntl::FcntlArg::F_GETPIPE_SZ).unwrap()
        };
        let before = size(&reader);
        let granted = widen(Some(&reader));
        assert_eq!(size(&reader), if granted { PIPE_BYTES } else { before });
        let max: i32 = std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .map_or(0, |s| s.trim().parse().unwrap_or(0));
        if max >= PIPE_BYTES && nix::unistd::geteuid().is_root() {
            assert!(granted);
        }
    }
}
