//! Inputs to [`super::update`] and the effects it asks the event loop to carry out.

use std::time::Instant;

use crossterm::event::KeyEvent;

use crate::backup::{Archive, RestoreMode};
use crate::journal::Event;
use crate::migrate::apply::Confirmed;
use crate::runner::migrate::ResolveRequest;
use crate::runner::{RunnerEvent, StepId};

/// A signal the console was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Hangup,
    Terminate,
    Interrupt,
}

impl Signal {
    pub fn name(self) -> &'static str {
        match self {
            Signal::Hangup => "SIGHUP",
            Signal::Terminate => "SIGTERM",
            Signal::Interrupt => "SIGINT",
        }
    }
}

/// A key as the event loop read it from the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keypress {
    pub event: KeyEvent,
    /// When the event loop read it; `None` means when `update` sees it. A typed answer is judged by this time
    /// (the guard after a prompt appeared, and whether keys came faster than anyone types), never by when
    /// deckhand got round to the key.
    pub read: Option<Instant>,
    /// Read in the wake-up right after deckhand itself did not run (stopped with SIGSTOP, or starved on a loaded
    /// host): typed during the stall and read together, so its timing says nothing about a paste.
    pub after_stall: bool,
}

impl From<KeyEvent> for Keypress {
    fn from(event: KeyEvent) -> Self {
        Keypress {
            event,
            read: None,
            after_stall: false,
        }
    }
}

/// Everything that can happen to the console.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Key(Keypress),
    /// Bracketed paste: never confirms anything.
    Paste(String),
    Resize {
        width: u16,
        height: u16,
    },
    Runner(RunnerEvent),
    /// A frame showing the open modal reached the terminal (its guard starts now).
    ModalShown,
    /// How the open modal's context fitted on the frame just drawn (it scrolls when taller than the screen).
    ModalFit(crate::app::prompt::ModalFit),
    /// A timer fired (only scheduled while something on screen changes with time).
    Tick,
    Signal(Signal),
    /// The terminal went away (read error, end of input, failed draw).
    TerminalLost(String),
    /// An effect could not be carried out (e.g. the journal could not be written).
    EffectFailed(String),
}

/// A request from `update` to the event loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Ask the team database for a second operator's approval of `action` (what its prompt showed in `detail`).
    RequestApproval {
        action: String,
        detail: Vec<String>,
    },
    /// Withdraw the approval request under way.
    WithdrawApproval,
    StartStep(StepId),
    CancelStep(StepId),
    Journal(Event),
    /// Read the migrations and their status.
    LoadMigrations,
    /// Apply the pending migrations: exactly these files, as confirmed.
    ApplyMigrations(Vec<Confirmed>),
    /// Start no further migration after the one in flight.
    StopMigrations,
    /// Rehearse the pending migrations in a rolled-back transaction.
    DryRunMigrations,
    /// Mark ledger entries applied or rolled back (one transaction).
    ResolveMigration(ResolveRequest),
    /// Drop an invalid index with `DROP INDEX CONCURRENTLY`, as confirmed.
    DropInvalidIndex(crate::migrate::index::InvalidIndex),
    /// List the backups in the plan's backup folder.
    ListBackups,
    /// Take a backup of the plan's database, verify it, then apply retention.
    TakeBackup,
    /// Stop the backup operation under way (a dump is killed and its partial file removed; a restore rolls back).
    CancelBackup,
    /// Restore this archive, as confirmed.
    RestoreBackup {
        archive: Archive,
        mode: RestoreMode,
    },
    /// Restore this archive into a scratch copy and apply the pending migrations there.
    RehearseBackup(Archive),
    /// Start probing every `[[health]]` check (until the console ends).
    StartHealthChecks,
    /// Run every `[[verify]]` assertion on the plan's database.
    RunVerify,
    /// Start following every `[[logs]]` source of the plan (stopped on shutdown).
    StartLogSources,
    /// Run the preflight checks (reachability, deploy window, terminal).
    Preflight,
    /// Probe every `[[smoke]]` endpoint once.
    RunSmoke,
    /// Run these down migrations (newest first), each with the removal of its ledger entry — only if each down file
    /// is still the one the prompt showed.
    RevertMigrations {
        names: Vec<String>,
        shown: Vec<crate::migrate::revert::ShownDown>,
    },
    /// Read the database's write counters, for the prompt that says what a restore would lose.
    ReadCounters(crate::runner::CountersFor),
    /// Post to the plan's webhook; never waited for.
    Notify {
        what: String,
        text: String,
    },
    /// Write the run's Markdown report beside its journal.
    WriteReport,
    /// Leave the loop, restore the terminal and exit with `State::exit_code`.
    Quit,
}

/// News from one room that matters to others. A room never calls another room: it leaves a notice in its
/// [`super::out::Out`], and `update` routes it (in `route`) once the room's handler has returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A destructive action starts (a destructive phase, an apply): the health baselines freeze, alerts arm.
    DestructiveStarted,
    /// An alert was raised: the monitor window counts it, the webhook is told.
    AlertRaised { name: String, why: String },
    /// A `[[verify]]` result came in: the verify stage may be complete.
    VerifyResult,
    /// New lines arrived from `[[logs]]` source `source`: its error rate may raise or clear an alert.
    SourceLines { source: usize },
    /// The backup folder was listed again: a resumed run's verified backup may be adopted.
    BackupsListed,
    /// A restore ended (the rollback's, or the operator's): whether it went through, and what happened.
    RestoreDone { ok: bool, detail: String },
    /// The operation under way ended while the console was on its way out: `how`, for the quit entry.
    EndedWhileQuitting { how: String },
    /// The operator asked for an action the release's gates stand before (stage order, checklist, backup, dry-run,
    /// the confirmation itself).
    PassGates(super::prompt::Gated),
    /// The rollback starts its `[rollback]` code steps.
    StartRollbackSteps,
    /// The rollback's code steps ended so.
    RollbackStepsEnded(super::busy::PhaseStatus),
    /// The `[rollback] before_restore` steps start (before a rollback's or an in-place restore's database part).
    StartBeforeRestore,
    /// The `before_restore` steps ended so.
    BeforeRestoreEnded(super::busy::PhaseStatus),
    /// A line of deckhand's own for the logs pane.
    Note(String),
    /// A result, a refusal or an error for the status line.
    Flash(String),
    /// Something for the webhook, when the plan has one.
    Notify { what: String, text: String },
}
