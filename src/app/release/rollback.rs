//! The rollback (`R`, at any time nothing else runs): the plan's `[rollback] before_restore` steps when the
//! database is restored or reverted (stop the app), its code steps, then the database — down migrations for what
//! this run applied when every one has one, otherwise a restore of this run's verified backup, whose prompt says
//! what the restore loses — confirmed like any destructive action, journaled, and followed by the verify stage.

use crate::app::busy::{Operation, RollbackWork};
use crate::app::msg::{Effect, Notice};
use crate::app::out::Out;
use crate::app::prompt::{Modal, ModalKind};
use crate::app::state::{PhaseStatus, QuitState, State};
use crate::app::text::{self, Created};
use crate::backup::counters::{Counters, Loss};
use crate::backup::{Archive, RestoreMode};
use crate::journal::Event;
use crate::migrate::revert::RevertOutcome;
use crate::plan::RollbackDatabase;
use crate::runner::CountersFor;

/// Tables with writes the rollback's prompt names before it says how many more there are.
const LOSS_TABLES: usize = 5;

/// What the rollback does to the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbRollback {
    /// Nothing: the plan says so, or nothing was applied in this run.
    Leave(String),
    /// These down migrations, newest first.
    Down(Vec<String>),
    /// Restore this backup over the database.
    Restore(Box<Archive>),
    /// The database would need restoring, but this run has no verified backup.
    NoBackup(String),
}

/// The rollback as it would run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackPlan {
    /// The `[rollback] before_restore` steps, as shown: run first, and only when the database is restored or
    /// reverted (empty otherwise).
    pub first: Vec<String>,
    /// The `[rollback]` steps, as shown.
    pub code: Vec<String>,
    pub database: DbRollback,
}

impl RollbackPlan {
    pub fn database_text(&self) -> String {
        match &self.database {
            DbRollback::Leave(why) => format!("left as it is ({why})"),
            DbRollback::Down(names) => format!("down migrations: {}", names.join(", ")),
            DbRollback::Restore(a) => format!(
                "restore {} (tables created since it are dropped)",
                a.path.display()
            ),
            DbRollback::NoBackup(why) => format!("NOT rolled back: {why}"),
        }
    }
}

/// Where a rollback under way stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackStep {
    /// The `before_restore` steps.
    First,
    Code,
    Database,
    /// Waiting, until then at the latest, for the health checks to recover before verify judges.
    Recovering {
        until: std::time::Instant,
    },
    Verify,
    Done,
}

/// The rollback of this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackRun {
    pub plan: RollbackPlan,
    pub step: RollbackStep,
    pub ok: bool,
    pub detail: Vec<String>,
    /// How the verify after the rollback went, once it ran.
    pub verified: Option<bool>,
    /// The stages this rollback undid: the deploy (its code steps succeeded), the migrations (the database was
    /// reverted or restored).
    pub undone: Vec<super::Stage>,
    /// The down files its prompt showed: the only ones its revert runs.
    pub downs_shown: Vec<crate::migrate::revert::ShownDown>,
}

/// The rollback the plan and this run call for now.
pub fn rollback_plan(state: &State) -> RollbackPlan {
    let code = state
        .plan
        .rollback
        .as_ref()
        .map(|r| r.steps.iter().map(|s| s.run.display.clone()).collect())
        .unwrap_or_default();
    let mode = state
        .plan
        .rollback
        .as_ref()
        .map_or(RollbackDatabase::Auto, |r| r.database);
    let applied: Vec<String> = state.release.applied.iter().rev().cloned().collect();
    let backup = state
        .release
        .rollback_backup
        .as_ref()
        .or(state.backup.verified.as_ref());
    let restore = || match backup {
        Some(a) => DbRollback::Restore(Box::new(a.clone())),
        None => DbRollback::NoBackup("this run has no verified backup to restore".into()),
    };
    let database = if state.plan.database.is_none() {
        DbRollback::Leave("the plan has no [database]".into())
    } else {
        match mode {
            RollbackDatabase::Leave => DbRollback::Leave("[rollback] database = \"none\"".into()),
            RollbackDatabase::Restore => restore(),
            RollbackDatabase::Auto if applied.is_empty() => {
                DbRollback::Leave("no migration was applied in this run".into())
            }
            // Down migrations when every migration this run applied has one; otherwise the backup.
            RollbackDatabase::Auto if missing_downs(state, &applied).is_empty() => {
                DbRollback::Down(applied)
            }
            RollbackDatabase::Auto => restore(),
        }
    };
    let touched = matches!(database, DbRollback::Down(_) | DbRollback::Restore(_));
    let first = match state.plan.rollback.as_ref() {
        Some(r) if touched => r
            .before_restore
            .iter()
            .map(|s| s.run.display.clone())
            .collect(),
        _ => Vec::new(),
    };
    RollbackPlan {
        first,
        code,
        database,
    }
}

/// Whether the rollback would choose between down migrations and a restore without knowing the down files.
fn down_files_unknown(state: &State) -> bool {
    let auto = state
        .plan
        .rollback
        .as_ref()
        .is_none_or(|r| r.database == RollbackDatabase::Auto);
    state.plan.database.is_some()
        && auto
        && !state.release.applied.is_empty()
        && state.db.snapshot().is_none()
}

/// The migrations among `names` that cannot be reverted (no down file, not on disk, or a format without downs).
fn missing_downs(state: &State, names: &[String]) -> Vec<String> {
    match state.db.snapshot() {
        Some(snap) => crate::migrate::revert::missing_downs(&snap.migrations, names),
        None => names.to_vec(),
    }
}

/// Why the rollback cannot be asked for now, if it cannot.
fn rollback_refusal(state: &State) -> Option<String> {
    if let Some(op) = state.op {
        Some(format!("{} is under way", op.label()))
    } else if down_files_unknown(state) {
        // The plan shown must be the plan that runs: it depends on which migrations have down files.
        Some("the migration status has not been read: press r to read it, then R".to_string())
    } else if state
        .release
        .rollback
        .as_ref()
        .is_some_and(|r| r.step != RollbackStep::Done)
    {
        Some("a rollback is already under way".into())
    } else if state.release.rollback_asked.is_some() {
        Some("what the restore would lose is being read".into())
    } else {
        None
    }
}

/// `R`: show the rollback and ask. A rollback that restores a backup first reads the database's write counters,
/// so its prompt can say what the restore loses ([`on_counters`] opens it).
pub(in crate::app) fn request_rollback(state: &mut State, reason: &str, fx: &mut Out) {
    if let Some(why) = rollback_refusal(state) {
        state.flash = Some(format!("Rollback not started: {why}."));
        return;
    }
    let plan = rollback_plan(state);
    let db_nothing = matches!(
        plan.database,
        DbRollback::Leave(_) | DbRollback::NoBackup(_)
    );
    if plan.code.is_empty() && db_nothing {
        state.flash = Some(format!(
            "Nothing to roll back with: no [rollback] steps, and the database is {}.",
            plan.database_text()
        ));
        return;
    }
    if matches!(plan.database, DbRollback::Restore(_)) {
        state.release.rollback_asked = Some(reason.to_string());
        state.flash = Some("Rollback: reading what the restore would lose…".into());
        fx.push(Effect::ReadCounters(CountersFor::Rollback));
        return;
    }
    show_rollback(state, reason, plan, None, fx);
}

/// The write counters came back (or why not) for the rollback asked for: its prompt opens, saying what the
/// restore loses, unless something else started meanwhile.
pub(in crate::app) fn on_counters(
    state: &mut State,
    at_unix: u64,
    result: Result<Counters, String>,
    fx: &mut Out,
) {
    let Some(reason) = state.release.rollback_asked.take() else {
        return;
    };
    let busy = rollback_refusal(state).or_else(|| {
        state
            .modal
            .is_some()
            .then(|| "another prompt is open".to_string())
    });
    if let Some(why) = busy {
        state.flash = Some(format!("Rollback not shown: {why}; press R again."));
        return;
    }
    let plan = rollback_plan(state);
    let loss = match &plan.database {
        DbRollback::Restore(archive) => Some(crate::backup::counters::loss(
            archive,
            result.as_ref().map_err(String::as_str),
            at_unix,
        )),
        _ => None,
    };
    state.flash = None;
    show_rollback(state, &reason, plan, loss, fx);
}

/// The rollback's prompt: environment, why, the steps run first, the code steps, the database and what its restore
/// loses.
fn show_rollback(
    state: &mut State,
    reason: &str,
    plan: RollbackPlan,
    loss: Option<Loss>,
    fx: &mut Out,
) {
    let env = &state.plan.project.environment;
    let mut m = Modal::new(
        ModalKind::Rollback(reason.to_string()),
        format!("Roll back {env}"),
        crate::app::prompt::destructive_expect(&state.plan),
    );
    m.danger = true;
    m.body.push(("Environment".into(), env.clone()));
    m.body.push(("Why".into(), reason.to_string()));
    for (i, c) in plan.first.iter().enumerate() {
        m.body.push((format!("First {}", i + 1), c.clone()));
    }
    for (i, c) in plan.code.iter().enumerate() {
        m.body.push((format!("Code {}", i + 1), c.clone()));
    }
    if plan.code.is_empty() {
        m.body
            .push(("Code".into(), "no [rollback] steps in this plan".into()));
    }
    m.body.push((
        "Database".into(),
        format!(
            "{} — {}",
            crate::app::text::database_line(state),
            plan.database_text()
        ),
    ));
    if let Some(loss) = &loss {
        m.body
            .extend(text::loss_lines(loss, LOSS_TABLES, Created::Dropped));
    }
    if super::team::lock_badge(state).is_some() && state.release.team_override.is_none() {
        m.body.push((
            "Team lock".into(),
            "NOT HELD: the reason above is journaled as why this rollback goes on without it"
                .into(),
        ));
    }
    state.release.downs_shown = Vec::new();
    if let DbRollback::Down(names) = &plan.database {
        m.body.extend(super::downs::down_sql_rows(state, names));
        state.release.downs_shown = super::downs::shown(state, names);
        m.body.push((
            "Data".into(),
            "rows written since stay, except in the columns and tables the down migrations drop"
                .into(),
        ));
    }
    m.body
        .push(("Then".into(), "the verify stage runs again".into()));
    state.release.loss = loss;
    state.ask(m, fx);
}

/// The rollback was confirmed: journal it (with what its restore loses) and start with the `before_restore`
/// steps, else the code steps, else the database.
pub(in crate::app) fn rollback_confirmed(state: &mut State, reason: String, fx: &mut Out) {
    let plan = rollback_plan(state);
    if super::team::lock_badge(state).is_some() && state.release.team_override.is_none() {
        // A rollback is not held back by a lost team lock: its reason is why it goes on without it.
        super::team::overridden(state, "rollback".into(), reason.clone(), fx);
    }
    let loss = state.release.loss.take();
    let loss = loss.filter(|_| matches!(plan.database, DbRollback::Restore(_)));
    fx.push(Effect::Journal(Event::RollbackStarted {
        reason: reason.clone(),
        before_restore: plan.first.clone(),
        code_steps: plan.code.clone(),
        database: plan.database_text(),
        loss: loss.map(|l| text::loss_summary(&l, Created::Dropped)),
    }));
    fx.notify("rollback", format!("rollback started: {reason}"));
    state.note(format!("rollback started: {reason}"));
    let first = !plan.first.is_empty() && state.before_restore_phase().is_some();
    state.release.rollback = Some(RollbackRun {
        plan,
        step: RollbackStep::First,
        ok: true,
        detail: Vec::new(),
        verified: None,
        undone: Vec::new(),
        downs_shown: std::mem::take(&mut state.release.downs_shown),
    });
    if first {
        fx.notice(Notice::StartBeforeRestore);
    } else {
        code_part(state, fx);
    }
}

/// The code steps, when there are; else the database.
fn code_part(state: &mut State, fx: &mut Out) {
    let Some(run) = state.release.rollback.as_mut() else {
        return;
    };
    run.step = RollbackStep::Code;
    if !run.plan.code.is_empty() && state.rollback_phase().is_some() {
        fx.notice(Notice::StartRollbackSteps);
    } else {
        database_part(state, fx);
    }
}

/// The `before_restore` steps ended: on to the code steps, or, when one did not succeed, the rollback stops there
/// with the database untouched.
pub(in crate::app) fn before_restore_done(state: &mut State, status: PhaseStatus, fx: &mut Out) {
    let Some(run) = state.release.rollback.as_mut() else {
        return;
    };
    if status == PhaseStatus::Succeeded {
        run.detail.push("before_restore steps succeeded".into());
        code_part(state, fx);
        return;
    }
    run.ok = false;
    run.detail.push(format!(
        "before_restore steps {}: the rollback stopped there — the code steps did not run and the database was left \
         untouched",
        format!("{status:?}").to_lowercase()
    ));
    journal_finished(state, fx);
    finish(state);
}

/// The rollback's code steps ended.
pub(in crate::app) fn rollback_step_done(state: &mut State, status: PhaseStatus, fx: &mut Out) {
    let Some(run) = state.release.rollback.as_mut() else {
        return;
    };
    if status == PhaseStatus::Succeeded {
        run.detail.push("code steps succeeded".into());
        run.undone.push(super::Stage::Deploy);
        database_part(state, fx);
    } else {
        let what = format!("code steps {}", format!("{status:?}").to_lowercase());
        run.ok = false;
        run.detail.push(what.clone());
        run.detail
            .push("the database was left as it is (roll it back by hand, or press R again)".into());
        journal_finished(state, fx);
        finish(state);
    }
}

fn database_part(state: &mut State, fx: &mut Out) {
    let Some(run) = state.release.rollback.as_mut() else {
        return;
    };
    run.step = RollbackStep::Database;
    match run.plan.database.clone() {
        DbRollback::Leave(why) => {
            run.detail.push(format!("database left as it is: {why}"));
            after_database(state, fx);
        }
        DbRollback::NoBackup(why) => {
            run.ok = false;
            run.detail.push(format!("database NOT rolled back: {why}"));
            after_database(state, fx);
        }
        DbRollback::Down(names) => {
            let shown = run.downs_shown.clone();
            state.op = Some(Operation::Rollback {
                work: RollbackWork::Reverting,
                cancelling: false,
            });
            state.note(format!("rollback: down migrations {}", names.join(", ")));
            fx.push(Effect::RevertMigrations { names, shown });
        }
        DbRollback::Restore(archive) => {
            fx.push(Effect::Journal(Event::RestoreStarted {
                file: archive.path.display().to_string(),
                target: crate::app::text::database_line(state),
                mode: crate::journal::RestoreKind::Rollback,
                new_database: None,
                // What it loses is journaled with the rollback's start.
                loss: None,
            }));
            state.note(format!("rollback: restoring {}", archive.path.display()));
            state.op = Some(Operation::Rollback {
                work: RollbackWork::Restoring,
                cancelling: false,
            });
            state.backup.progress = None;
            fx.push(Effect::RestoreBackup {
                archive: *archive,
                mode: RestoreMode::Rollback,
            });
        }
    }
}

/// The down migrations ended.
pub(in crate::app) fn on_reverted(state: &mut State, outcome: RevertOutcome, fx: &mut Out) {
    for (name, took) in &outcome.reverted {
        fx.push(Effect::Journal(Event::MigrationReverted {
            name: name.clone(),
            duration_ms: took.as_millis() as u64,
        }));
        state.release.applied.retain(|a| a != name);
    }
    // The runner reads the ledger again after a revert and sends the fresh status.
    if state.op.is_some_and(Operation::db) {
        state.op = None;
    }
    state.db.loading = true;
    if let Some(run) = state.release.rollback.as_mut() {
        run.detail
            .push(format!("reverted {} migration(s)", outcome.reverted.len()));
        match outcome.error {
            Some(e) => {
                run.ok = false;
                run.detail.push(format!("down migrations FAILED: {e}"));
            }
            None => run.undone.push(super::Stage::Migrate),
        }
        after_database(state, fx);
    }
    fx.notice(Notice::EndedWhileQuitting {
        how: "quit after the down migrations in flight".into(),
    });
}

/// A restore ended; when it was the rollback's, go on.
pub(in crate::app) fn restore_done(state: &mut State, ok: bool, detail: String, fx: &mut Out) {
    let Some(run) = state.release.rollback.as_mut() else {
        return;
    };
    if run.step != RollbackStep::Database {
        return;
    }
    run.ok &= ok;
    run.detail.push(detail);
    if ok {
        run.undone.push(super::Stage::Migrate);
    }
    after_database(state, fx);
}

fn after_database(state: &mut State, fx: &mut Out) {
    journal_finished(state, fx);
    if state.quit != QuitState::No {
        // Quitting (or hung up): the database part is journaled; verifying is new work, left to the next console.
        if let Some(run) = state.release.rollback.as_mut() {
            run.detail
                .push("verify not run: the console was ending".into());
            run.step = RollbackStep::Done;
        }
        return;
    }
    if let Some(run) = state.release.rollback.as_mut() {
        run.step = RollbackStep::Verify;
    }
    super::recovery::wait_or_verify(state, fx);
}

/// Journals and announces how the rollback's code and database parts went.
fn journal_finished(state: &mut State, fx: &mut Out) {
    let ok = state.release.rollback.as_ref().is_some_and(|r| r.ok);
    let detail = state
        .release
        .rollback
        .as_ref()
        .map(|r| r.detail.join("; "))
        .unwrap_or_default();
    fx.push(Effect::Journal(Event::RollbackFinished {
        ok,
        detail: detail.clone(),
    }));
    let word = if ok { "done" } else { "FAILED" };
    fx.notify("rollback", format!("rollback {word}: {detail}"));
    state.note(format!("rollback {word}: {detail}"));
}

/// The verify stage ended: after a rollback, that ends the rollback too.
pub(in crate::app) fn verify_done(state: &mut State, passed: bool) {
    let Some(run) = state.release.rollback.as_mut() else {
        return;
    };
    if run.step != RollbackStep::Verify {
        return;
    }
    run.verified = Some(passed);
    run.detail.push(format!(
        "verify after rollback {}",
        if passed { "passed" } else { "FAILED" }
    ));
    finish(state);
}

fn finish(state: &mut State) {
    if let Some(run) = state.release.rollback.as_mut() {
        let last = run.detail.last().cloned().unwrap_or_default();
        run.step = RollbackStep::Done;
        state.flash = Some(format!("Rollback finished: {last}."));
    }
}
