//! Everything the screen shows and every decision depends on, as plain data.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::plan::Plan;
use crate::runner::{StepId, StepOutcome};

pub use super::busy::PhaseStatus;
use super::logs::buffer::{LogBuffer, LogLine};
use super::prompt::Modal;

/// The four panes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Checklist,
    Migrations,
    Logs,
    Health,
}

impl Pane {
    pub const ALL: [Pane; 4] = [Pane::Checklist, Pane::Migrations, Pane::Logs, Pane::Health];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Checklist => "Checklist",
            Pane::Migrations => "Migrations",
            Pane::Logs => "Logs",
            Pane::Health => "Health",
        }
    }

    fn index(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    pub fn next(self) -> Pane {
        Pane::ALL[(self.index() + 1) % Pane::ALL.len()]
    }

    pub fn prev(self) -> Pane {
        Pane::ALL[(self.index() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

/// One step's record in this run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepRun {
    pub pid: Option<u32>,
    pub started: Option<Instant>,
    pub outcome: Option<StepOutcome>,
    pub duration: Option<Duration>,
}

/// One phase's record in this run (the latest attempt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseRun {
    pub status: PhaseStatus,
    pub started: Option<Instant>,
    pub duration: Option<Duration>,
    pub steps: Vec<StepRun>,
    /// Log tag per step (`deploy#1`), shared by all its lines.
    pub tags: Vec<Arc<str>>,
}

impl PhaseRun {
    /// A phase at index `i` with `steps` steps, not started; its steps' log tags are `p{i+1}.{step}`.
    fn new(i: usize, steps: usize) -> PhaseRun {
        PhaseRun {
            status: PhaseStatus::Pending,
            started: None,
            duration: None,
            steps: vec![StepRun::default(); steps],
            tags: (0..steps)
                .map(|s| Arc::from(format!("p{}.{}", i + 1, s + 1)))
                .collect(),
        }
    }
}

/// The rollback's `[rollback]` code steps: their own list beside the plan's phases, and their record in this run.
#[derive(Debug, Clone)]
pub struct RollbackSteps {
    pub phase: crate::plan::Phase,
    pub run: PhaseRun,
}

/// A selectable row of the checklist pane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Row {
    Check(usize),
    /// The backup of this run (when the plan has `[backup]`).
    Backup,
    Phase(usize),
    /// A release stage with a row of its own (migrate, verify, monitor, sign-off).
    Stage(super::stage::Stage),
}

/// An overlay over the panes: it takes the keys until it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    /// Every key of the panes; scrolled down this many lines.
    Help { scroll: usize },
    /// The health and log alerts: acknowledge them, or go to the rollback.
    Alerts,
    /// One log line whole (Enter in the logs pane): the line with this sequence number, scrolled down `scroll`
    /// rows.
    Line { seq: u64, scroll: usize },
}

/// Whether the console is on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuitState {
    No,
    /// Quit once the running step has been cancelled and has ended.
    AfterStep,
    Done,
}

/// The console's state.
#[derive(Debug, Clone)]
pub struct State {
    pub plan: Plan,
    pub started: Instant,
    pub now: Instant,
    pub width: u16,
    pub height: u16,
    pub focus: Pane,
    /// The pane shown beside the checklist when the screen is too small for all four.
    pub side: Pane,
    pub selected: usize,
    pub checked: Vec<bool>,
    pub checklist_override: Option<String>,
    /// One per deploy phase of the plan.
    pub phases: Vec<PhaseRun>,
    /// The `[rollback]` code steps, when the plan has some.
    pub rollback_steps: Option<RollbackSteps>,
    /// The `[rollback] before_restore` steps, when the plan has some: run before a rollback restores or reverts
    /// the database, and before an in-place restore.
    pub before_restore: Option<RollbackSteps>,
    /// What is under way; nothing else starts until it ends.
    pub op: Option<super::busy::Operation>,
    /// The next step of a phase, held back because it became due while a quit or cancel prompt was open.
    pub held: Option<StepId>,
    /// When keys were read (a burst of keys is a paste, not typing; keys read after a stall are not a burst).
    pub typing: super::typing::Typing,
    pub logs: LogBuffer,
    /// The migrations pane.
    pub db: super::migrations::DbPane,
    /// Backups: this run's, the folder's, and what is under way.
    pub backup: super::backup::BackupPane,
    /// The release stages: preflight results, overrides, verify, monitor, sign-off, rollback, resume.
    pub release: super::release::ReleasePane,
    /// Health checks, their baselines and alerts, and the verify results.
    pub health: super::health::HealthPane,
    /// The logs pane's sources, toggles, filter and search.
    pub logview: super::logs::view::LogView,
    /// Lines scrolled up from the newest; 0 means following.
    pub log_offset: usize,
    pub modal: Option<Modal>,
    /// The overlay over the panes (help, alerts), if one is open.
    pub overlay: Option<Overlay>,
    /// Lines the health pane is scrolled down.
    pub health_scroll: usize,
    /// One line for the status bar (a result, a refusal, an error).
    pub flash: Option<String>,
    pub quit: QuitState,
    /// A `deckhand tail` session: the logs pane alone, nothing released — no stages, nothing journaled, the
    /// release's keys off, and `q` quits at once.
    pub tail: bool,
    pub aborted: bool,
    pub terminal_lost: bool,
    /// Something visible changed since the last draw.
    pub dirty: bool,
}

impl State {
    pub fn new(plan: Plan, now: Instant, width: u16, height: u16) -> State {
        let deploy_phases = plan.phases.len();
        let phases = (plan.phases.iter().enumerate())
            .map(|(i, p)| PhaseRun::new(i, p.steps.len()))
            .collect();
        // The rollback's code steps are their own list, run as one more phase after the deploy phases (never a
        // deploy row); the plan's phases stay as the plan has them.
        let rollback_steps = plan
            .rollback
            .as_ref()
            .filter(|r| !r.steps.is_empty())
            .map(|r| RollbackSteps {
                phase: crate::plan::Phase {
                    name: "Rollback".into(),
                    destructive: true,
                    needs_backup: false,
                    seed: false,
                    optional: false,
                    steps: r.steps.clone(),
                },
                run: PhaseRun::new(deploy_phases, r.steps.len()),
            });
        // And the steps before a restore, one more phase after that.
        let before_restore = plan
            .rollback
            .as_ref()
            .filter(|r| !r.before_restore.is_empty())
            .map(|r| RollbackSteps {
                phase: crate::plan::Phase {
                    name: "Before restore".into(),
                    destructive: true,
                    needs_backup: false,
                    seed: false,
                    optional: false,
                    steps: r.before_restore.clone(),
                },
                run: PhaseRun::new(deploy_phases + 1, r.before_restore.len()),
            });
        let db = super::migrations::DbPane::new(plan.database.is_some());
        let health = super::health::HealthPane::new(&plan);
        let logview = super::logs::view::LogView::new(&plan, now);
        let side = if plan.database.is_some() {
            Pane::Migrations
        } else {
            Pane::Logs
        };
        State {
            checked: vec![false; plan.checklist.len()],
            plan,
            started: now,
            now,
            width,
            height,
            focus: Pane::Checklist,
            // With a database, the migration preview is what the operator wants to see first.
            side,
            selected: 0,
            checklist_override: None,
            phases,
            rollback_steps,
            before_restore,
            op: None,
            held: None,
            typing: Default::default(),
            db,
            backup: Default::default(),
            release: super::release::ReleasePane {
                operator: "operator".into(),
                ..Default::default()
            },
            health,
            logs: LogBuffer::default(),
            logview,
            log_offset: 0,
            modal: None,
            overlay: None,
            health_scroll: 0,
            flash: None,
            quit: QuitState::No,
            tail: false,
            aborted: false,
            terminal_lost: false,
            dirty: true,
        }
    }

    /// Checklist items, the backup, the migrations, the deploy phases, then verify, monitor and sign-off, then the
    /// optional phases.
    pub fn rows(&self) -> Vec<Row> {
        use super::stage::Stage;
        // Backup, migrate and the deploy phases in the plan's stage order (`[release] order`).
        let mut middle: Vec<Row> = Vec::new();
        for stage in self
            .plan
            .stage_order
            .iter()
            .filter_map(|n| Stage::from_name(n))
        {
            match stage {
                Stage::Backup => middle.extend(self.plan.backup.is_some().then_some(Row::Backup)),
                Stage::Migrate => middle.extend(
                    self.plan
                        .database
                        .is_some()
                        .then_some(Row::Stage(Stage::Migrate)),
                ),
                Stage::Deploy => middle.extend(self.phase_rows(false)),
                _ => {}
            }
        }
        (0..self.plan.checklist.len())
            .map(Row::Check)
            .chain(middle)
            .chain([
                Row::Stage(Stage::Verify),
                Row::Stage(Stage::Monitor),
                Row::Stage(Stage::SignOff),
            ])
            // Optional phases are outside the release: listed after it, out of the way of the walk through it.
            .chain(self.phase_rows(true))
            .collect()
    }

    /// The rows of the plan's phases that are optional (or not), in plan order.
    fn phase_rows(&self, optional: bool) -> impl Iterator<Item = Row> + '_ {
        (self.plan.phases.iter().enumerate())
            .filter(move |(_, p)| p.optional == optional)
            .map(|(i, _)| Row::Phase(i))
    }

    /// The phase index the rollback's code steps run as (after the deploy phases), when it has steps.
    pub fn rollback_phase(&self) -> Option<usize> {
        self.rollback_steps.as_ref().map(|_| self.plan.phases.len())
    }

    /// The phase index the `before_restore` steps run as (after the rollback's), when the plan has some.
    pub fn before_restore_phase(&self) -> Option<usize> {
        self.before_restore
            .as_ref()
            .map(|_| self.plan.phases.len() + 1)
    }

    /// The rollback's own step list that runs as phase `p` (past the deploy phases), if one does.
    fn own_steps(&self, p: usize) -> Option<&RollbackSteps> {
        if Some(p) == self.rollback_phase() {
            self.rollback_steps.as_ref()
        } else if Some(p) == self.before_restore_phase() {
            self.before_restore.as_ref()
        } else {
            None
        }
    }

    /// Phase `p` as the plan (or, past the deploy phases, the rollback) defines it.
    pub fn phase_def(&self, p: usize) -> Option<&crate::plan::Phase> {
        match self.plan.phases.get(p) {
            Some(phase) => Some(phase),
            None => self.own_steps(p).map(|r| &r.phase),
        }
    }

    /// Phase `p`'s record in this run (a deploy phase's, or past them the rollback's).
    pub fn phase_run(&self, p: usize) -> Option<&PhaseRun> {
        match self.phases.get(p) {
            Some(run) => Some(run),
            None => self.own_steps(p).map(|r| &r.run),
        }
    }

    pub fn phase_run_mut(&mut self, p: usize) -> Option<&mut PhaseRun> {
        let (rollback, before) = (self.rollback_phase(), self.before_restore_phase());
        match self.phases.get_mut(p) {
            Some(run) => Some(run),
            None if Some(p) == rollback => self.rollback_steps.as_mut().map(|r| &mut r.run),
            None if Some(p) == before => self.before_restore.as_mut().map(|r| &mut r.run),
            None => None,
        }
    }

    /// Whether a dry-run (`d`) or a rehearsal on a restored copy (`E`) of the pending migrations went through in
    /// this run, not used up by an apply since: nothing failed and nothing was left unreached. The apply's gate
    /// and the migrate row ask the same question.
    pub fn tried_ok(&self) -> bool {
        use crate::backup::RehearsalStep;
        use crate::migrate::apply::Rehearsal;
        if self.release.tried_spent {
            return false;
        }
        let dry_run = !self.db.dry_run_refused
            && self.db.rehearsal.as_ref().is_some_and(|r| {
                r.iter()
                    .all(|x| !matches!(x, Rehearsal::Failed { .. } | Rehearsal::NotReached { .. }))
            });
        let rehearsed = self.backup.rehearsal.as_ref().is_some_and(|r| {
            r.steps.iter().all(|s| {
                !matches!(
                    s,
                    RehearsalStep::Failed { .. } | RehearsalStep::NotReached { .. }
                )
            })
        });
        dry_run || rehearsed
    }

    /// The step that runs now (a deploy phase's or the rollback's), if one does.
    pub fn running(&self) -> Option<StepId> {
        self.op.and_then(super::busy::Operation::step)
    }

    /// The backup work under way, if any.
    pub fn backup_work(&self) -> Option<super::busy::BackupWork> {
        self.op.and_then(super::busy::Operation::backup)
    }

    /// Why nothing else may start now: the one refusal naming what is under way.
    pub fn busy_refusal(&self) -> Option<String> {
        self.op.map(super::busy::Operation::refusal)
    }

    /// Opens a prompt (journaled as asked); its answer goes back to its owner through the router.
    pub fn ask(&mut self, modal: Modal, fx: &mut super::out::Out) {
        fx.push(super::msg::Effect::Journal(
            crate::journal::Event::ConfirmationAsked {
                what: modal.title.clone(),
                expected: modal.expected_label(),
            },
        ));
        self.modal = Some(modal);
    }

    /// deckhand's own line in the logs pane (made inert: it quotes plan text and error messages).
    pub fn note(&mut self, text: String) {
        self.source_note(Arc::from("--"), None, text);
    }

    /// A line in the logs pane on behalf of a source (`[[logs]]` source `origin`, or deckhand's own).
    pub fn source_note(&mut self, tag: Arc<str>, origin: Option<usize>, text: String) {
        let line = LogLine {
            source: tag,
            stream: None,
            text: crate::sanitize::sanitize_str(&text).into_owned(),
            truncated: false,
            level: crate::runner::Level::Other,
            origin,
        };
        self.push_lines(std::iter::once(line));
    }

    /// Adds lines to the buffer through the filter, noting when they arrived; a paused view (scrolled up, or a
    /// line selected) keeps the same lines in view.
    pub fn push_lines(&mut self, lines: impl Iterator<Item = LogLine>) {
        self.set_log_clock();
        let mut shown = 0;
        for line in lines {
            shown += usize::from(self.logview.push(&mut self.logs, line));
        }
        self.keep_view(shown);
    }

    /// A batch of `[[logs]]` source `source` (tagged `tag`) into the buffer, read in place.
    pub fn push_batch(
        &mut self,
        tag: &Arc<str>,
        source: usize,
        lines: &crate::logs::batch::LineBatch,
    ) {
        self.set_log_clock();
        let tag = self.logs.tag(tag, Some(source));
        let shown = self.logview.push_batch(&mut self.logs, tag, source, lines);
        self.keep_view(shown);
    }

    /// The lines pushed from now on arrived now (seconds since the console started).
    fn set_log_clock(&mut self) {
        let second = self.now.saturating_duration_since(self.started).as_secs();
        self.logs
            .set_clock(u32::try_from(second).unwrap_or(u32::MAX));
    }

    /// A paused view (scrolled up, or a line selected) keeps the same lines in view after `shown` more lines
    /// arrived below it.
    fn keep_view(&mut self, shown: usize) {
        if self.log_offset > 0 || self.logview.current.is_some() {
            let max = self.logview.visible_len(&self.logs);
            self.log_offset = (self.log_offset + shown).min(max);
        }
    }

    pub fn selected_row(&self) -> Option<Row> {
        self.rows().get(self.selected).copied()
    }

    pub fn unticked(&self) -> Vec<String> {
        self.plan
            .checklist
            .iter()
            .zip(&self.checked)
            .filter(|(_, done)| !**done)
            .map(|(c, _)| c.item.clone())
            .collect()
    }

    /// When the screen next changes by itself: every second of a running step's clock, else the next minute of
    /// the run's elapsed time. `None` once the terminal is gone. Nothing else animates, so an idle console sleeps.
    pub fn next_tick(&self) -> Option<Instant> {
        if self.terminal_lost || self.quit == QuitState::Done {
            return None;
        }
        let logs_next = self.logview.next_change(self.now);
        let step_start = self
            .op
            .and_then(|op| op.step())
            .and_then(|id| self.phase_run(id.phase)?.steps.get(id.step)?.started);
        let (origin, period) = match step_start {
            Some(t) => (t, Duration::from_secs(1)),
            None => (self.started, Duration::from_secs(60)),
        };
        let elapsed = self.now.saturating_duration_since(origin);
        let periods = elapsed.as_secs() / period.as_secs() + 1;
        let mut clock = origin + period * periods as u32;
        // The monitor window counts down by the second, and ends on its own.
        if let Some(m) = self.release.monitor.as_ref().filter(|m| m.result.is_none()) {
            let into = self.now.saturating_duration_since(m.started).as_secs() + 1;
            let next = (m.started + Duration::from_secs(into)).min(m.ends.max(self.now));
            clock = clock.min(next);
        }
        // Verify after a rollback counts down its wait for health by the second.
        if let Some(super::release::RollbackStep::Recovering { until }) =
            self.release.rollback.as_ref().map(|r| r.step)
        {
            clock = clock.min((self.now + Duration::from_secs(1)).min(until.max(self.now)));
        }
        // The prompt's instruction appears once keys count.
        if let Some(ready) = self.modal.as_ref().and_then(Modal::ready_at)
            && ready > self.now
        {
            clock = clock.min(ready);
        }
        Some(logs_next.map_or(clock, |t| t.min(clock)))
    }

    /// Run time as the header shows it (minute resolution).
    pub fn elapsed(&self) -> Duration {
        self.now.saturating_duration_since(self.started)
    }

    /// How many log lines fit in the logs pane (used for paging).
    pub fn log_page(&self) -> usize {
        usize::from(self.height.saturating_sub(6)).max(1)
    }

    /// Errors per line of `[[logs]]` source `source` over the `window` ending at `now`; `None` when unknown or
    /// silent in that window. Read by health alerting.
    pub fn error_rate(&self, source: usize, now: Instant, window: Duration) -> Option<f64> {
        self.logview.error_rate(source, now, window)
    }
}
