//! The migrations pane's state and flow inside `update`: status loading, the apply confirmation (checklist gate,
//! environment, database host without password, timeouts, every pending migration), progress, dry-run, resolve,
//! and journaling every result.

use crate::app::out::Out;
use std::time::Duration;

pub mod drift;
pub(super) mod impact;
pub(super) mod indexes;
pub(super) mod resolve;
pub(super) mod risk;
pub(super) mod tunnel;

pub(super) use risk::apply_confirmation;

use super::busy::{DbWork, Operation};
use super::msg::{Effect, Notice};
use super::prompt::{Expect, Gated, Modal, ModalKind};
use super::state::{Pane, State};
use crate::journal::Event;
use crate::migrate::apply::Confirmed;
use crate::migrate::apply::{Progress, Rehearsal};
use crate::migrate::index::InvalidIndex;
use crate::migrate::lock::LockWait;
use crate::migrate::status::State as MState;
use crate::runner::migrate::{ApplyOutcome, ResolveRequest, Snapshot};

/// What the migrations pane shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbView {
    /// The plan has no `[database]`.
    NotConfigured,
    Loading,
    Failed(String),
    Ready(Snapshot),
}

/// The migrations pane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbPane {
    pub view: DbView,
    /// The migration status is being read (beside any operation; not one itself).
    pub loading: bool,
    /// Selected status entry.
    pub selected: usize,
    /// First SQL line shown of the selected migration.
    pub sql_scroll: usize,
    /// The migration being applied: (name, statements done, of).
    pub current: Option<(String, usize, usize)>,
    /// Applied so far by the apply under way.
    pub applied_now: Vec<(String, Duration)>,
    /// The apply under way waits for a lock another session holds: which, for how long, and who holds it.
    pub waiting: Option<LockWait>,
    /// The last result, one line.
    pub last: Option<String>,
    pub rehearsal: Option<Vec<Rehearsal>>,
    /// The latest dry-run was refused before it ran anything (a failed try, not a passing empty one).
    pub dry_run_refused: bool,
    /// An apply failed in this run (the run's exit code is then 1).
    pub failed: bool,
    /// The other end of a range selected in the list (J/K, Shift+Up/Down), `selected` being this end.
    pub anchor: Option<usize>,
    /// The resolve under way: the action and every migration it is for.
    pub resolving: Option<ResolveRequest>,
    /// The invalid index being dropped.
    pub dropping: Option<InvalidIndex>,
    /// The data-loss confirmations of the current apply request were started (so the chain is built once).
    pub destroy_confirmed: bool,
    /// When the status shown was read (what the live database said then may have changed since).
    pub read_at: Option<std::time::Instant>,
    /// An apply was asked for while the status was too old to judge which tables are empty: it goes on once the
    /// status has been read again.
    pub apply_after_read: bool,
    /// Why the operator applies although statements will fail on the live data, and the lines it was typed for.
    pub will_fail_override: Option<(String, Vec<String>)>,
    /// The live schema compared with what the applied history produces.
    pub drift: drift::DriftView,
    /// Why the operator applies although the schema drifted, and the differences it was typed for.
    pub drift_override: Option<(String, Vec<String>)>,
    /// An apply was asked for while the comparison ran: it goes on when it answers.
    pub apply_after_drift: bool,
    /// Where the database tunnel stands (`None` without one, or before it reported).
    pub tunnel: Option<crate::runner::tunnel::TunnelState>,
}

impl DbPane {
    pub fn new(configured: bool) -> Self {
        DbPane {
            view: if configured {
                DbView::Loading
            } else {
                DbView::NotConfigured
            },
            loading: configured,
            selected: 0,
            sql_scroll: 0,
            current: None,
            applied_now: Vec::new(),
            waiting: None,
            last: None,
            rehearsal: None,
            failed: false,
            dry_run_refused: false,
            anchor: None,
            resolving: None,
            dropping: None,
            destroy_confirmed: false,
            read_at: None,
            apply_after_read: false,
            will_fail_override: None,
            drift: drift::DriftView::Unknown,
            drift_override: None,
            apply_after_drift: false,
            tunnel: None,
        }
    }

    /// The entries selected in the list, first to last: the range from the anchor to the cursor, or the cursor's.
    pub fn selection(&self) -> std::ops::RangeInclusive<usize> {
        match self.anchor {
            Some(a) => a.min(self.selected)..=a.max(self.selected),
            None => self.selected..=self.selected,
        }
    }

    pub fn snapshot(&self) -> Option<&Snapshot> {
        match &self.view {
            DbView::Ready(s) => Some(s),
            _ => None,
        }
    }
}

/// Effects to issue when the console starts.
pub fn init(state: &State) -> Vec<Effect> {
    if state.plan.database.is_some() {
        vec![Effect::LoadMigrations]
    } else {
        Vec::new()
    }
}

/// Why a database operation cannot start now, if it cannot.
fn refusal(state: &State) -> Option<String> {
    if state.plan.database.is_none() {
        return Some("No [database] in this plan.".into());
    }
    if let Some(why) = state.busy_refusal() {
        return Some(why);
    }
    state
        .db
        .loading
        .then(|| "Still reading the migration status.".into())
}

pub(super) fn request_apply(state: &mut State, fx: &mut Out) {
    if let Some(why) = refusal(state) {
        state.flash = Some(why);
        return;
    }
    let Some(snap) = state.db.snapshot() else {
        state.flash = Some("No migration status yet: press r to read it.".into());
        return;
    };
    let (entries, indexes) = (snap.status.blocking(), &snap.status.invalid_indexes);
    if !entries.is_empty() || !indexes.is_empty() {
        let mut what: Vec<String> = entries
            .iter()
            .map(|e| format!("{} ({})", e.name, e.state.label()))
            .collect();
        what.extend(
            indexes
                .iter()
                .map(|i| format!("index {} on {} is INVALID", i.display_name(), i.table)),
        );
        let mut how = Vec::new();
        if !entries.is_empty() {
            how.push("select it and resolve: m marks applied, b marks rolled back");
        }
        if !indexes.is_empty() {
            how.push("X drops an invalid index (DROP INDEX CONCURRENTLY, asks first)");
        }
        state.flash = Some(format!(
            "Refusing to apply: {}. To go on, {}.",
            what.join(", "),
            how.join("; ")
        ));
        return;
    }
    if snap.status.pending().is_empty() {
        state.flash = Some("Nothing to apply: every migration is applied.".into());
        return;
    }
    if risk::needs_fresh_read(state) {
        // Tables found empty a while ago may have rows now: read them again, then go on.
        state.db.apply_after_read = true;
        state.db.loading = true;
        state.flash = Some("Reading the migration status again before the apply…".into());
        fx.push(Effect::LoadMigrations);
        return;
    }
    if let Some(why) = drift::refusal(state) {
        // The comparison follows each status read: the apply goes on once it has answered.
        state.db.apply_after_drift = true;
        state.flash = Some(format!("{why} The apply goes on once it has answered."));
        return;
    }
    fx.notice(Notice::PassGates(Gated::ApplyMigrations));
}

pub(super) fn start_apply(state: &mut State, fx: &mut Out) {
    let confirmed = pending_confirmed(state);
    let names: Vec<String> = confirmed.iter().map(|c| c.name.clone()).collect();
    fx.push(Effect::Journal(Event::MigrationsApplyStarted {
        target: crate::app::text::database_line(state),
        format: state
            .db
            .snapshot()
            .map(|s| s.format.to_string())
            .unwrap_or_default(),
        migrations: names.clone(),
    }));
    let mut data = impact::journal_lines(state);
    let mut risks = super::migrations::risk::risks_by_migration(state);
    for name in data.keys() {
        if !risks.iter().any(|(m, _, _)| m == name) {
            risks.push((name.clone(), Vec::new(), Vec::new()));
        }
    }
    // In apply order.
    risks.sort_by_key(|(m, _, _)| names.iter().position(|n| n == m));
    for (migration, findings, exemptions) in risks {
        fx.push(Effect::Journal(Event::MigrationRisks {
            data: data.remove(&migration).unwrap_or_default(),
            migration,
            findings,
            exemptions,
        }));
    }
    state.op = Some(Operation::Db(DbWork::Applying));
    state.db.applied_now.clear();
    state.db.current = None;
    state.db.waiting = None;
    state.db.last = None;
    state.db.rehearsal = None;
    state.release.tried_spent = true;
    if state.release.rollback_backup.is_none() {
        state.release.rollback_backup = state.backup.verified.clone();
    }
    state.side = Pane::Migrations;
    fx.notice(Notice::DestructiveStarted);
    fx.push(Effect::ApplyMigrations(confirmed));
}

/// The migrations an apply would run now, in order, as shown (name and checksum of the file read).
fn pending_confirmed(state: &State) -> Vec<Confirmed> {
    state
        .db
        .snapshot()
        .map(|s| {
            s.status
                .pending()
                .into_iter()
                .map(|i| Confirmed::of(&s.migrations[i]))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn request_dry_run(state: &mut State, fx: &mut Out) {
    if let Some(why) = refusal(state) {
        state.flash = Some(why);
        return;
    }
    let mut m = Modal::new(
        ModalKind::DryRunMigrations,
        "Dry-run the pending migrations",
        Expect::Yes,
    );
    m.body
        .push(("Database".into(), crate::app::text::database_line(state)));
    m.body.push((
        "How".into(),
        "every pending migration in one transaction, then ROLLBACK; nothing stays applied".into(),
    ));
    m.body.push((
        "Note".into(),
        "it takes the same table locks the migrations take, until the rollback (lock_timeout applies)".into(),
    ));
    state.ask(m, fx);
}

pub(super) fn start_dry_run(state: &mut State, fx: &mut Out) {
    state.op = Some(Operation::Db(DbWork::Rehearsing));
    state.db.rehearsal = None;
    fx.push(Effect::DryRunMigrations);
}

/// The database operation under way ended (a status read may follow; it is not an operation).
fn end_db_work(state: &mut State) {
    if state.op.is_some_and(|op| op.db()) {
        state.op = None;
    }
}

pub(super) fn on_snapshot(state: &mut State, result: Result<Snapshot, String>, fx: &mut Out) {
    state.db.loading = false;
    let go_on = std::mem::take(&mut state.db.apply_after_read) && result.is_ok();
    state.db.view = match result {
        Ok(s) => {
            state.db.read_at = Some(state.now);
            let n = s.status.entries.len();
            if matches!(state.db.view, DbView::Loading) {
                // First look: show the first migration that needs attention.
                state.db.selected = s
                    .status
                    .entries
                    .iter()
                    .position(|e| e.state != MState::Applied)
                    .unwrap_or(0);
            }
            state.db.selected = state.db.selected.min(n.saturating_sub(1));
            // A range reaching past the list as it is now is dropped.
            if state.db.anchor.is_some_and(|a| a >= n) {
                state.db.anchor = None;
            }
            drift::on_status(state);
            DbView::Ready(s)
        }
        Err(e) => DbView::Failed(e),
    };
    if go_on {
        request_apply(state, fx);
    }
}

pub(super) fn on_progress(state: &mut State, p: Progress) {
    state.db.waiting = None;
    match p {
        Progress::Waiting(wait) => state.db.waiting = Some(wait),
        Progress::Locked { .. } | Progress::Unblocked => {}
        Progress::Started {
            name, statements, ..
        } => state.db.current = Some((name, 0, statements)),
        Progress::Statement { name, done, of } => state.db.current = Some((name, done, of)),
        Progress::Applied { name, took } => {
            state.db.current = None;
            state.db.applied_now.push((name, took));
        }
    }
}

pub(super) fn on_applied(state: &mut State, outcome: ApplyOutcome, fx: &mut Out) {
    for (name, took) in &outcome.applied {
        state.release.applied.push(name.clone());
        fx.push(Effect::Journal(Event::MigrationApplied {
            name: name.clone(),
            duration_ms: took.as_millis() as u64,
        }));
    }
    let total: Duration = outcome.applied.iter().map(|(_, t)| *t).sum();
    let done = format!(
        "applied {} migration(s) in {}",
        outcome.applied.len(),
        crate::plan::human_duration(total)
    );
    state.db.last = Some(match &outcome.error {
        Some(e) => {
            state.db.failed = true;
            let f = outcome.failure.as_ref();
            fx.push(Effect::Journal(Event::MigrationFailed {
                name: f.map(|f| f.migration.clone()),
                error: e.clone(),
                line: f.map(|f| f.line),
                column: f.map(|f| f.column),
                statement: f.map(|f| f.statement.clone()),
            }));
            format!("{done}; then FAILED: {e}")
        }
        None if outcome.stopped => format!("{done}; stopped before the rest"),
        None => done,
    });
    state.flash = state
        .db
        .last
        .as_ref()
        .map(|l| l.lines().next().unwrap_or("").to_string());
    state.note(format!(
        "migrations: {}",
        state.db.last.clone().unwrap_or_default()
    ));
    state.db.current = None;
    state.db.waiting = None;
    end_db_work(state);
    // The runner reads the ledger again after an apply and sends the fresh status.
    state.db.loading = true;
    fx.notice(Notice::EndedWhileQuitting {
        how: "quit after the migration in flight".into(),
    });
}

pub(super) fn on_rehearsed(
    state: &mut State,
    result: Result<Vec<Rehearsal>, String>,
    fx: &mut Out,
) {
    end_db_work(state);
    state.release.tried_spent = false;
    let lines: Vec<String> = match &result {
        Ok(results) => results.iter().map(rehearsal_line).collect(),
        // It never ran: that is a failed try, not an empty one.
        Err(e) => vec![format!("dry-run FAILED: {e}")],
    };
    fx.push(Effect::Journal(Event::MigrationsDryRun {
        results: lines.clone(),
    }));
    for line in &lines {
        state.note(format!("dry-run: {line}"));
    }
    let failed = lines.iter().find(|l| l.contains("FAILED")).cloned();
    state.flash = Some(match &failed {
        Some(f) if result.is_err() => f.replacen("dry-run", "Dry-run", 1),
        Some(f) => format!("Dry-run: {f}"),
        None => "Dry-run: every pending migration ran; all rolled back.".into(),
    });
    if failed.is_some() {
        state.db.last = failed;
    }
    // A refused dry-run is a failed try: the migrate row and the apply's gate say so.
    state.db.dry_run_refused = result.is_err();
    state.db.rehearsal = Some(result.unwrap_or_default());
}

pub fn rehearsal_line(r: &Rehearsal) -> String {
    match r {
        Rehearsal::Ok { name, took } => {
            format!(
                "{name}: ok in {} (rolled back)",
                crate::plan::human_duration(*took)
            )
        }
        Rehearsal::Failed { name, failure } => format!(
            "{name}: FAILED at line {} statement {}: {}",
            failure.line, failure.statement_index, failure.message
        ),
        Rehearsal::NotRehearsable { name, why } => format!("{name}: not rehearsable ({why})"),
        Rehearsal::NotReached { name } => format!("{name}: not reached"),
    }
}

pub(super) fn refresh(state: &mut State, fx: &mut Out) {
    if let Some(why) = refusal(state) {
        state.flash = Some(why);
        return;
    }
    state.db.loading = true;
    fx.push(Effect::LoadMigrations);
}

/// j/k move the selection by one; bigger moves (PgUp/PgDn) scroll the SQL of the selected migration.
pub(super) fn scroll(state: &mut State, delta: isize) {
    let entries = state.db.snapshot().map_or(0, |s| s.status.entries.len());
    if delta.abs() == 1 || delta.abs() > 1_000_000 {
        state.db.anchor = None;
        let last = entries.saturating_sub(1) as isize;
        let next = (state.db.selected as isize)
            .saturating_add(delta)
            .clamp(0, last) as usize;
        if next != state.db.selected {
            state.db.selected = next;
            state.db.sql_scroll = 0;
        }
    } else {
        state.db.sql_scroll = (state.db.sql_scroll as isize + delta).max(0) as usize;
    }
}

/// J/K (Shift+Up/Down) move the cursor by `delta`, extending the selected range from where it started.
pub(super) fn extend(state: &mut State, delta: isize) {
    let entries = state.db.snapshot().map_or(0, |s| s.status.entries.len());
    if entries == 0 {
        return;
    }
    state.db.anchor.get_or_insert(state.db.selected);
    let last = entries.saturating_sub(1) as isize;
    let next = (state.db.selected as isize + delta).clamp(0, last) as usize;
    if next != state.db.selected {
        state.db.selected = next;
        state.db.sql_scroll = 0;
    }
}

/// Esc in the migrations pane: the range selection ends (the cursor stays).
pub(super) fn clear_selection(state: &mut State) {
    state.db.anchor = None;
}

/// What an apply without a passing dry-run or rehearsal journals as missing.
pub const UNTRIED: &str = "no dry-run or rehearsal in this run";

/// Before an apply: the pending migrations were neither dry-run nor rehearsed in this run. Going on takes a
/// typed reason (journaled as an override of the migrate stage).
pub(super) fn no_rehearsal_modal(state: &State, gated: Gated) -> Option<Modal> {
    if gated != Gated::ApplyMigrations || state.tried_ok() || state.release.no_rehearsal.is_some() {
        return None;
    }
    let mut m = Modal::new(
        ModalKind::NoRehearsal,
        "Not tried in this run",
        super::prompt::Expect::Reason,
    );
    m.danger = true;
    m.body
        .push(("Database".into(), crate::app::text::database_line(state)));
    m.body.push((
        "Missing".into(),
        "no passing dry-run (d) or rehearsal on a restored copy (E) of the pending migrations"
            .into(),
    ));
    m.body.push((
        "To go on".into(),
        "type why it is safe to apply untried (journaled and in the report); Esc cancels".into(),
    ));
    Some(m)
}
