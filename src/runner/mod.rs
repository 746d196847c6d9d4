//! Async runner tasks. Each task kind lives in its own file and talks to the rest of deckhand only by sending
//! [`RunnerEvent`] messages on a bounded channel; it never touches `app::State`. May import `plan` and `journal`.

pub mod backup;
pub mod command;
pub mod counters;
pub mod downs;
pub mod health;
pub mod health_command;
pub mod logs;
pub mod migrate;
pub mod notify;
pub mod preflight;
pub mod smoke;
pub mod tunnel;
pub mod verify;

use std::path::PathBuf;
use std::time::Duration;

/// Identifies one step of one phase of the loaded plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StepId {
    pub phase: usize,
    pub step: usize,
}

/// Which prompt asked for the database's write counters (it opens once they are read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountersFor {
    /// The rollback's, when it restores a backup.
    Rollback,
    /// The restore prompt's (`U`).
    Restore,
}

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of a step's output, already made safe for the screen (see [`crate::sanitize`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: Stream,
    pub text: String,
    /// The line was longer than the cap and was cut.
    pub truncated: bool,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The shell exited with this code.
    Exited(i32),
    /// The shell was killed by this signal (not by deckhand).
    Signalled(i32),
    /// The step ran past its timeout and deckhand terminated its process group.
    TimedOut,
    /// The operator cancelled the step and deckhand terminated its process group.
    Cancelled,
    /// The process could not be started (the text says why).
    SpawnFailed(String),
}

impl StepOutcome {
    /// True only for a clean exit with status 0.
    pub fn is_success(&self) -> bool {
        matches!(self, StepOutcome::Exited(0))
    }
}

/// Everything a runner reports. Output arrives in batches, never one message per line.
#[derive(Debug, Clone, PartialEq)]
pub enum RunnerEvent {
    StepStarted {
        id: StepId,
        pid: u32,
        log_path: PathBuf,
    },
    Output {
        id: StepId,
        lines: Vec<OutputLine>,
    },
    StepFinished {
        id: StepId,
        outcome: StepOutcome,
        duration: Duration,
    },
    /// The migrations on disk and their status (or why they could not be read).
    Migrations(Result<migrate::Snapshot, String>),
    /// How the live schema differs from what the applied history produces (after each status read), or why that
    /// could not be told.
    Drift(Result<crate::drift::DriftReport, String>),
    /// An apply moved on.
    MigrationProgress(crate::migrate::apply::Progress),
    /// An apply ended: what was applied, and what stopped it.
    MigrationsApplied(migrate::ApplyOutcome),
    /// A dry-run ended.
    Rehearsed(Result<Vec<crate::migrate::apply::Rehearsal>, String>),
    /// A resolve ended: one line per migration saying what was done, or why nothing was.
    Resolved(Result<Vec<String>, String>),
    /// A `DROP INDEX CONCURRENTLY` of an invalid index ended.
    IndexDropped {
        index: crate::migrate::index::InvalidIndex,
        result: Result<(), String>,
    },
    /// A backup, verification, restore or rehearsal moved on or ended.
    Backup(Box<backup::BackupEvent>),
    /// One probe of the `[[health]]` check with this index.
    HealthProbe {
        check: usize,
        probe: Probe,
    },
    /// The `[[verify]]` assertion with this index ran: the value the query returned, or why it could not run.
    VerifyResult {
        check: usize,
        result: Result<String, String>,
    },
    /// Lines from the `[[logs]]` source with this index (a batch, never one message per line).
    LogLines {
        source: usize,
        lines: crate::logs::batch::LineBatch,
    },
    /// The `[[logs]]` source with this index changed state (started, exited and restarting, rotated, failed).
    LogSource {
        source: usize,
        state: SourceState,
    },
    /// One preflight check came back (reachability, deploy window, terminal).
    Preflight(PreflightResult),
    /// The `[[smoke]]` endpoint with this index was probed once.
    Smoke {
        check: usize,
        probe: Probe,
    },
    /// Down migrations of a rollback ended.
    Reverted(crate::migrate::revert::RevertOutcome),
    /// The database's write counters were read for `purpose` (at `at_unix`, this host's clock), or why they could
    /// not be.
    Counters {
        purpose: CountersFor,
        at_unix: u64,
        result: Result<crate::backup::counters::Counters, String>,
    },
    /// The database tunnel changed state (starting, up, down and restarting, stopped).
    Tunnel(tunnel::TunnelState),
    /// The team's release lock was lost (the team database unreachable), taken by another console, or held again.
    TeamLock(crate::team::lock::LockState),
    /// The approval request under way was filed, decided, withdrawn, timed out, or could not be made.
    Approval(crate::team::approve::ApprovalEvent),
    /// A webhook notification failed (successes are not reported).
    NotifyFailed {
        what: String,
        error: String,
    },
}

impl RunnerEvent {
    /// Whether it ends a stream of output (a step finished, a log source stopped or cannot be read): the console
    /// draws it at once rather than in the next frame slot, so the last lines of a flood show with its end. Rare
    /// by nature (a source restarts after a backoff of a second or more), so the frame cap still holds.
    pub fn ends_output(&self) -> bool {
        matches!(
            self,
            RunnerEvent::StepFinished { .. }
                | RunnerEvent::LogSource {
                    state: SourceState::Stopped { .. } | SourceState::Failed(_),
                    ..
                }
        )
    }
}

/// One preflight check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightResult {
    /// `database`, `health shop`, `logs api`, `window`, `terminal`.
    pub check: String,
    pub ok: bool,
    pub detail: String,
    /// Overridable with a typed reason (the deploy window) rather than a hard failure.
    pub policy: bool,
}

/// One probe of a health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Answered as expected (status, body, JSON pointer, latency within `max_latency`).
    Up { status: u16, latency: Duration },
    /// Answered, but wrong (status, body, JSON, too slow): the text says how.
    Down {
        status: Option<u16>,
        latency: Duration,
        why: String,
    },
    /// No answer at all (connection refused, DNS, TLS, timeout): no data, never counted as healthy.
    NoAnswer { why: String },
    /// A command check ran for `took`: `value` is the number its output ended with, if any; `why` says how it
    /// failed (non-zero exit, timeout, a number out of bounds, no number where bounds are set), `None` when
    /// healthy. Its number plays the role latency plays for a URL.
    Ran {
        took: Duration,
        value: Option<Num>,
        why: Option<String>,
    },
}

impl Probe {
    /// How long an HTTP answer took (none without an answer, none for a command: its number is its sample).
    pub fn latency(&self) -> Option<Duration> {
        match self {
            Probe::Up { latency, .. } | Probe::Down { latency, .. } => Some(*latency),
            Probe::NoAnswer { .. } | Probe::Ran { .. } => None,
        }
    }

    /// Why it failed, if it did.
    pub fn why(&self) -> Option<&str> {
        match self {
            Probe::Up { .. } | Probe::Ran { why: None, .. } => None,
            Probe::Down { why, .. }
            | Probe::NoAnswer { why }
            | Probe::Ran { why: Some(why), .. } => Some(why),
        }
    }
}

/// A finite number a command check printed (never NaN, so it compares and orders totally).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Num(f64);

impl Eq for Num {}

impl Num {
    /// `None` for NaN and infinities.
    pub fn new(v: f64) -> Option<Num> {
        v.is_finite().then_some(Num(v))
    }

    pub fn get(self) -> f64 {
        self.0
    }
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A log line's level, detected from its text (or the source's `error` regex).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Other,
    Info,
    Warn,
    Error,
}

/// One line of a `[[logs]]` source, already made safe for the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    pub text: String,
    pub truncated: bool,
    pub level: Level,
    /// The pipe it came from (a file's lines are stdout).
    pub stream: Stream,
}

/// Where a `[[logs]]` source stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceState {
    Running {
        pid: Option<u32>,
    },
    /// The command exited (the text says how); restarted after `restart_in`, or not at all.
    Stopped {
        why: String,
        restart_in: Option<Duration>,
    },
    /// A followed file does not exist yet (the text says which); opened when it appears.
    Waiting(String),
    /// Cannot read (permission denied, a folder, spawn failed); retried while it lasts.
    Failed(String),
    /// Something worth a line in the pane: the file was rotated or truncated.
    Note(String),
}

/// Forwards the state in `states` now, then every change of it, to the console as `wrap(state)`, until either side
/// is gone (a long-lived task's state: the database tunnel, the team's release lock).
pub async fn forward<T: Clone>(
    mut states: tokio::sync::watch::Receiver<T>,
    tx: tokio::sync::mpsc::Sender<RunnerEvent>,
    wrap: fn(T) -> RunnerEvent,
) {
    loop {
        let state = states.borrow_and_update().clone();
        if tx.send(wrap(state)).await.is_err() || states.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A source that stops or cannot be read ends its stream (drawn at once); lines, a start and a note do not
    /// (a flood's lines wait for their frame).
    #[test]
    fn the_end_of_a_source_ends_output_and_its_lines_do_not() {
        let source = |state| RunnerEvent::LogSource { source: 0, state };
        let stopped = SourceState::Stopped {
            why: "exited with code 0".into(),
            restart_in: None,
        };
        assert!(source(stopped).ends_output());
        assert!(source(SourceState::Failed("gone".into())).ends_output());
        assert!(!source(SourceState::Running { pid: Some(1) }).ends_output());
        assert!(!source(SourceState::Note("rotated".into())).ends_output());
        let lines = RunnerEvent::LogLines {
            source: 0,
            lines: crate::logs::batch::LineBatch::default(),
        };
        assert!(!lines.ends_output());
    }
}
