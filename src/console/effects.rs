//! Carrying out `update`'s effects: spawning and cancelling step runners, writing the journal (a tail session has
//! none). The only place where the app's requests meet I/O; failures come back as actions so the screen shows
//! them.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{Action, Effect, State};
use crate::journal::{Event, Journal};
use crate::runner::backup::{self as backup_runner, BackupEvent, BackupOp, Job as BackupJob};
use crate::runner::command::{CommandSpec, TERM_GRACE, run_command};
use crate::runner::health as health_runner;
use crate::runner::migrate as migrate_runner;
use crate::runner::{RunnerEvent, StepId, StepOutcome};

use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;

/// How long shutdown waits for a runner beyond its TERM grace before giving up on it.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(2);

pub struct Executor {
    /// The run's journal; `None` in a tail session, which journals nothing and runs no step.
    journal: Option<Journal>,
    tx: mpsc::Sender<RunnerEvent>,
    steps: HashMap<StepId, (CancellationToken, JoinHandle<()>)>,
    /// Stops an apply after the migration in flight.
    migration_stop: Option<CancellationToken>,
    /// The backup task under way (at most one) and its cancellation.
    backup_task: Option<(CancellationToken, JoinHandle<()>)>,
    /// The health check tasks (one per `[[health]]`) and what stops them.
    health: Option<(CancellationToken, Vec<JoinHandle<()>>)>,
    /// The `[[logs]]` source tasks (all stopped by one token).
    log_sources: Option<(CancellationToken, Vec<JoinHandle<()>>)>,
    /// Who runs deckhand (recorded as `applied_by`).
    operator: String,
    /// The database tunnel, when the plan has one: database and backup work waits for it to be up.
    tunnel: Option<crate::runner::tunnel::TunnelGate>,
    /// With `[team]`: the release lock and the journal's copy on the team database.
    team: super::team::TeamRun,
    pub quit: bool,
}

impl Executor {
    pub fn new(journal: Option<Journal>, tx: mpsc::Sender<RunnerEvent>, operator: String) -> Self {
        Executor {
            journal,
            tx,
            steps: HashMap::new(),
            migration_stop: None,
            backup_task: None,
            health: None,
            log_sources: None,
            operator,
            tunnel: None,
            team: super::team::TeamRun::none(),
            quit: false,
        }
    }

    pub fn set_team(&mut self, team: super::team::TeamRun) {
        self.team = team;
    }

    /// The four-eyes approval effects: ask for a second operator's approval, or withdraw the request.
    fn approval(&mut self, effect: Effect) {
        match effect {
            Effect::RequestApproval { action, detail } => {
                self.team.request_approval(action, detail, self.tx.clone());
            }
            Effect::WithdrawApproval => self.team.withdraw_approval(),
            other => tracing::error!("not an approval effect: {other:?}"),
        }
    }

    /// Finishes the journal's copy and releases the team lock.
    pub async fn finish_team(&mut self) {
        self.team.finish().await;
    }

    /// Database and backup work waits for `gate` (the tunnel being up) before it connects.
    pub fn set_tunnel(&mut self, gate: crate::runner::tunnel::TunnelGate) {
        self.tunnel = Some(gate);
    }

    /// `work`, after waiting for the tunnel to be up (at most one start's time; then it runs anyway and its own
    /// connection says what is wrong).
    fn after_tunnel<F>(&self, work: F) -> impl std::future::Future<Output = ()> + Send + 'static
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let gate = self.tunnel.clone();
        async move {
            if let Some(gate) = gate
                && let Err(why) = gate.ready().await
            {
                tracing::warn!(%why, "database work goes on without the tunnel up");
            }
            work.await;
        }
    }

    pub fn journal(&self) -> Option<&Journal> {
        self.journal.as_ref()
    }

    /// Writes one journal event now (nothing without a journal).
    pub fn record(&mut self, event: Event) -> std::io::Result<()> {
        let Some(journal) = self.journal.as_mut() else {
            return Ok(());
        };
        let stage = matches!(event, Event::StageStarted { .. }).then(|| event.clone());
        journal.append(event, SystemTime::now())?;
        self.team.wrote(stage.as_slice());
        Ok(())
    }

    /// Writes `batch` to the journal with one fsync; a failure is reported. True when a critical entry was lost.
    fn record_all(&mut self, batch: Vec<Event>, feedback: &mut Vec<Action>) -> bool {
        let critical = batch.iter().any(Event::is_critical);
        let Some(journal) = self.journal.as_mut() else {
            return false;
        };
        let stages: Vec<Event> = (batch.iter())
            .filter(|e| matches!(e, Event::StageStarted { .. }))
            .cloned()
            .collect();
        match journal.append_all(batch, SystemTime::now()) {
            Ok(()) => {
                self.team.wrote(&stages);
                false
            }
            Err(e) => {
                tracing::error!("journal write failed: {e}");
                feedback.push(Action::EffectFailed(format!(
                    "JOURNAL WRITE FAILED ({}): {e}",
                    journal.path().display()
                )));
                critical
            }
        }
    }

    /// Carries out effects in order; returns actions reporting what failed. Once a critical journal entry cannot
    /// be written, no step of this batch starts: a destructive action must not happen without its record.
    pub fn apply(&mut self, effects: Vec<Effect>, state: &State) -> Vec<Action> {
        let mut feedback = Vec::new();
        let mut unrecorded = false;
        let mut effects = effects.into_iter().peekable();
        while let Some(effect) = effects.next() {
            match effect {
                Effect::StartStep(id) if unrecorded => {
                    feedback.push(Action::Runner(RunnerEvent::StepFinished {
                        id,
                        outcome: StepOutcome::SpawnFailed(
                            "not started: the journal could not be written".into(),
                        ),
                        duration: Duration::ZERO,
                    }));
                }
                Effect::ApplyMigrations(_)
                | Effect::ResolveMigration(_)
                | Effect::DropInvalidIndex(_)
                | Effect::DryRunMigrations
                | Effect::TakeBackup
                | Effect::RestoreBackup { .. }
                | Effect::RehearseBackup(_)
                    if unrecorded =>
                {
                    feedback.push(unrecorded_refusal(&effect));
                }
                Effect::Journal(event) => {
                    // Consecutive entries are written together with one fsync, before the next effect runs.
                    let mut batch = vec![event];
                    while let Some(Effect::Journal(_)) = effects.peek() {
                        if let Some(Effect::Journal(next)) = effects.next() {
                            batch.push(next);
                        }
                    }
                    unrecorded |= self.record_all(batch, &mut feedback);
                }
                Effect::LoadMigrations
                | Effect::ApplyMigrations(_)
                | Effect::StopMigrations
                | Effect::DryRunMigrations
                | Effect::ResolveMigration(_)
                | Effect::DropInvalidIndex(_)
                | Effect::RunVerify
                | Effect::RevertMigrations { .. }
                | Effect::ReadCounters(_) => self.database_effect(effect, state),
                Effect::ListBackups
                | Effect::TakeBackup
                | Effect::CancelBackup
                | Effect::RestoreBackup { .. }
                | Effect::RehearseBackup(_) => self.backup_effect(effect, state),
                Effect::StartStep(id) => feedback.extend(self.start(id, state)),
                Effect::CancelStep(id) => {
                    if let Some((token, _)) = self.steps.get(&id) {
                        token.cancel();
                    }
                }
                Effect::StartHealthChecks => self.start_health(state),
                Effect::StartLogSources => self.start_log_sources(state),
                Effect::Preflight => {
                    let (plan, tx) = (state.plan.clone(), self.tx.clone());
                    let run = crate::runner::preflight::run(plan, self.tunnel.clone(), tx);
                    tokio::spawn(run);
                }
                Effect::RunSmoke => {
                    let run = crate::runner::smoke::run(state.plan.smoke.clone(), self.tx.clone());
                    tokio::spawn(run);
                }
                Effect::Notify { what, text } => {
                    if let Some(n) = state.plan.notify.clone() {
                        // No secret leaves in a notification either.
                        let text = state.plan.secrets.masker().mask(&text).into_owned();
                        let send = crate::runner::notify::send(n, what, text, self.tx.clone());
                        tokio::spawn(send);
                    }
                }
                Effect::WriteReport => feedback.extend(self.write_report()),
                Effect::RequestApproval { .. } | Effect::WithdrawApproval => self.approval(effect),
                Effect::Quit => self.quit = true,
            }
        }
        feedback
    }

    /// The effects that work on the plan's database: migrations (load, apply, stop, rehearse, resolve, revert)
    /// and the verify queries. `apply` routes only those here.
    fn database_effect(&mut self, effect: Effect, state: &State) {
        match effect {
            Effect::LoadMigrations => self.database(state, migrate_runner::load),
            Effect::ApplyMigrations(confirmed) => {
                let token = CancellationToken::new();
                self.migration_stop = Some(token.clone());
                let by = self.operator.clone();
                self.database(state, move |db, tx| {
                    migrate_runner::apply(db, by, confirmed, tx, token)
                });
            }
            Effect::StopMigrations => {
                if let Some(t) = &self.migration_stop {
                    t.cancel();
                }
            }
            Effect::DryRunMigrations => self.database(state, migrate_runner::dry_run),
            Effect::ResolveMigration(req) => {
                let by = self.operator.clone();
                self.database(state, move |db, tx| {
                    migrate_runner::resolve(db, req, by, tx)
                });
            }
            Effect::DropInvalidIndex(index) => self.database(state, move |db, tx| {
                migrate_runner::drop_index(db, index, tx)
            }),
            Effect::RunVerify => {
                let checks = state.plan.verify.clone();
                self.database(state, move |db, tx| {
                    crate::runner::verify::run(db, checks, tx)
                });
            }
            Effect::RevertMigrations { names, shown } => self.database(state, move |db, tx| {
                crate::runner::migrate::revert(db, names, shown, tx)
            }),
            Effect::ReadCounters(purpose) => self.database(state, move |db, tx| {
                crate::runner::counters::read(db, purpose, tx)
            }),
            other => tracing::error!("not a database effect: {other:?}"),
        }
    }

    /// The effects on backups: list, take, cancel, restore, rehearse. `apply` routes only those here.
    fn backup_effect(&mut self, effect: Effect, state: &State) {
        match effect {
            Effect::ListBackups => {
                if let Some(b) = &state.plan.backup {
                    tokio::spawn(backup_runner::list(b.dir.clone(), self.tx.clone()));
                }
            }
            Effect::TakeBackup => self.backup(state, BackupOp::Take, backup_runner::take),
            Effect::CancelBackup => {
                if let Some((token, _)) = &self.backup_task {
                    token.cancel();
                }
            }
            Effect::RestoreBackup { archive, mode } => {
                self.backup(state, BackupOp::Restore, |job, tx, token| {
                    backup_runner::restore(job, archive, mode, tx, token)
                })
            }
            Effect::RehearseBackup(archive) => {
                self.backup(state, BackupOp::Rehearse, |job, tx, token| {
                    backup_runner::rehearse(job, archive, tx, token)
                })
            }
            other => tracing::error!("not a backup effect: {other:?}"),
        }
    }

    /// Starts the `[[logs]]` sources, once: all stopped by one token.
    fn start_log_sources(&mut self, state: &State) {
        if self.log_sources.is_some() {
            return;
        }
        let token = CancellationToken::new();
        let masker = state.plan.secrets.masker();
        let handles = (state.plan.logs.iter().cloned().enumerate())
            .map(|(i, src)| {
                let (tx, cancel) = (self.tx.clone(), token.child_token());
                let run = crate::runner::logs::run_source(i, src, tx, cancel, masker.clone());
                tokio::spawn(run)
            })
            .collect();
        self.log_sources = Some((token, handles));
    }

    /// Writes the run's Markdown report beside its journal (the runs it resumed included) and journals where.
    fn write_report(&mut self) -> Option<Action> {
        let journal = self.journal.as_ref()?;
        let data_dir = journal.run_dir().parent()?.parent()?.to_path_buf();
        let written = crate::journal::chain(&data_dir, journal.run_id())
            .and_then(|entries| crate::journal::write_report(journal.run_dir(), &entries));
        match written {
            Ok(path) => {
                let event = Event::ReportWritten {
                    path: path.display().to_string(),
                };
                let _ = self.record(event);
                Some(Action::EffectFailed(format!(
                    "Report written: {}",
                    path.display()
                )))
            }
            Err(e) => Some(Action::EffectFailed(format!("REPORT NOT WRITTEN: {e}"))),
        }
    }

    /// Starts a backup task with the plan's backup job, a fresh cancellation token and the runner channel. A bug
    /// in the task ends the operation as failed instead of leaving the console waiting for it forever.
    fn backup<F>(
        &mut self,
        state: &State,
        op: BackupOp,
        make: impl FnOnce(BackupJob, mpsc::Sender<RunnerEvent>, CancellationToken) -> F,
    ) where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let Some(job) = BackupJob::of(&state.plan) else {
            return;
        };
        let token = CancellationToken::new();
        let tx = self.tx.clone();
        let run = self.after_tunnel(make(job, tx.clone(), token.clone()));
        let handle = tokio::spawn(async move {
            if let Err(panic) = AssertUnwindSafe(run).catch_unwind().await {
                let why = panic_text(&panic);
                tracing::error!("backup runner panicked: {why}");
                let failed = BackupEvent::Failed {
                    op,
                    error: format!("runner failed: {why}"),
                    cancelled: false,
                };
                let _ = tx.send(RunnerEvent::Backup(Box::new(failed))).await;
            }
        });
        self.backup_task = Some((token, handle));
    }

    /// One probing task per `[[health]]` check (once; they run until shutdown).
    fn start_health(&mut self, state: &State) {
        if self.health.is_some() {
            return;
        }
        let token = CancellationToken::new();
        let tasks = state
            .plan
            .health
            .iter()
            .enumerate()
            .map(|(i, check)| {
                let run = health_runner::watch(i, check.clone(), self.tx.clone(), token.clone());
                tokio::spawn(run)
            })
            .collect();
        self.health = Some((token, tasks));
    }

    /// Spawns the task `make` builds from the plan's database spec and the runner channel, once the tunnel is up
    /// (no-op without `[database]`).
    fn database<F>(
        &self,
        state: &State,
        make: impl FnOnce(crate::plan::Database, mpsc::Sender<RunnerEvent>) -> F,
    ) where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        if let Some(db) = state.plan.database.clone() {
            tokio::spawn(self.after_tunnel(make(db, self.tx.clone())));
        }
    }

    /// Starts step `id` (of a deploy phase, or of the rollback's own steps); an id that names no step ends at once,
    /// as a step that could not start.
    fn start(&mut self, id: StepId, state: &State) -> Option<Action> {
        self.steps.retain(|_, (_, handle)| !handle.is_finished());
        let not_started = |why: &str| {
            Some(Action::Runner(RunnerEvent::StepFinished {
                id,
                outcome: StepOutcome::SpawnFailed(why.into()),
                duration: Duration::ZERO,
            }))
        };
        let Some(step) = state.phase_def(id.phase).and_then(|p| p.steps.get(id.step)) else {
            return not_started("no such step in the plan");
        };
        // Every step's output is kept in the run's folder; a console without a journal (tail) runs none.
        let Some(journal) = self.journal.as_ref() else {
            return not_started("no run journal to keep its output in");
        };
        let spec = CommandSpec {
            id,
            command: step.run.value.clone(),
            cwd: step.cwd.clone(),
            env: step
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            timeout: step.timeout,
            log_path: journal.step_log_path(id.phase, id.step),
            grace: TERM_GRACE,
            masker: state.plan.secrets.masker(),
        };
        let token = CancellationToken::new();
        let tx = self.tx.clone();
        let run = run_command(spec, tx.clone(), token.clone());
        let handle = tokio::spawn(async move {
            // A bug in a runner must end its step, not leave the console waiting for a result forever.
            if let Err(panic) = AssertUnwindSafe(run).catch_unwind().await {
                let why = panic_text(&panic);
                tracing::error!("step runner panicked: {why}");
                let _ = tx
                    .send(RunnerEvent::StepFinished {
                        id,
                        outcome: StepOutcome::SpawnFailed(format!("runner failed: {why}")),
                        duration: Duration::ZERO,
                    })
                    .await;
            }
        });
        self.steps.insert(id, (token, handle));
        None
    }

    /// Cancels whatever still runs and waits for it (each runner kills its process group).
    pub async fn shutdown(&mut self) {
        if let Some((token, tasks)) = self.health.take() {
            // Probes hold no resource worth waiting for: a probe in flight is dropped.
            token.cancel();
            for t in tasks {
                t.abort();
            }
        }
        if let Some((token, handles)) = self.log_sources.take() {
            // All sources stop at once (each terminates its command's group), then each is waited for.
            token.cancel();
            for handle in handles {
                let abort = handle.abort_handle();
                if tokio::time::timeout(TERM_GRACE + SHUTDOWN_SLACK, handle)
                    .await
                    .is_err()
                {
                    tracing::error!("a log source did not stop in time; aborting it");
                    abort.abort();
                }
            }
        }
        if let Some((token, handle)) = self.backup_task.take() {
            token.cancel();
            let abort = handle.abort_handle();
            if tokio::time::timeout(TERM_GRACE + SHUTDOWN_SLACK, handle)
                .await
                .is_err()
            {
                tracing::error!("the backup task did not stop in time; aborting it");
                abort.abort();
            }
        }
        for (_, (token, handle)) in self.steps.drain() {
            token.cancel();
            let abort = handle.abort_handle();
            if tokio::time::timeout(TERM_GRACE + SHUTDOWN_SLACK, handle)
                .await
                .is_err()
            {
                // Dropping the runner's future kills its process group (its drop guard).
                tracing::error!("a step runner did not stop in time; aborting it");
                abort.abort();
            }
        }
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// What an effect that was refused because the journal failed reports back, so the pane does not wait forever.
fn unrecorded_refusal(effect: &Effect) -> Action {
    const WHY: &str = "not started: the journal could not be written";
    Action::Runner(match effect {
        Effect::ApplyMigrations(_) => {
            RunnerEvent::MigrationsApplied(migrate_runner::ApplyOutcome {
                applied: Vec::new(),
                error: Some(WHY.into()),
                failure: None,
                stopped: false,
            })
        }
        Effect::DryRunMigrations => RunnerEvent::Rehearsed(Err(WHY.into())),
        Effect::DropInvalidIndex(index) => RunnerEvent::IndexDropped {
            index: index.clone(),
            result: Err(WHY.into()),
        },
        Effect::TakeBackup | Effect::RestoreBackup { .. } | Effect::RehearseBackup(_) => {
            let op = match effect {
                Effect::TakeBackup => BackupOp::Take,
                Effect::RestoreBackup { .. } => BackupOp::Restore,
                _ => BackupOp::Rehearse,
            };
            RunnerEvent::Backup(Box::new(BackupEvent::Failed {
                op,
                error: WHY.into(),
                cancelled: false,
            }))
        }
        _ => RunnerEvent::Resolved(Err(WHY.into())),
    })
}
