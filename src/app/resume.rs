//! Resuming an earlier run of the same plan and environment that ended without sign-off (a hang-up, a lost
//! terminal, a crash): its journal is replayed into the new state — ticks, overrides, the verified backup,
//! finished phases and steps, migrations applied, the baseline, monitoring — while the database's state is read
//! again from the database itself (never trusted from the journal). The stage to do next is named (and the
//! `Resumed` entry journaled) once the backup folder and the migration status have been read again. Part of the
//! router: the journal's entries are replayed into every room.

use crate::app::out::Out;
use std::time::Duration;

use super::release::{MonitorRun, Resume, Stage, StageStatus};
use crate::app::health::Stats;
use crate::app::migrations::DbView;
use crate::app::msg::Effect;
use crate::app::state::{PhaseStatus, QuitState, State};
use crate::journal::{self, Blocker, Completed, Event, MonitorResult, PhaseResult, StepResult};
use crate::runner::StepOutcome;

/// Replays `events` (the earlier runs' journal, oldest first) into `state`; returns the journal entry saying so.
pub fn restore(state: &mut State, previous: &str, events: &[Event]) -> Vec<Effect> {
    let mut seen = Replay::default();
    for ev in events {
        if !replay_gates(state, ev) && !replay_phases(state, ev, &mut seen) {
            replay_rest(state, ev, &mut seen);
        }
    }
    settle_phases(state, &mut seen);
    let completed = completed(state, &mut seen);
    let line = format!(
        "resumed run {previous}: done {}; the backup folder and the database are read again",
        done_text(&completed)
    );
    state.release.resumed = Some(Resume {
        previous: previous.to_string(),
        completed,
        next: None,
        backup_file: seen.backup_file,
        listed: false,
    });
    state.note(line.clone());
    state.flash = Some(line);
    state.dirty = true;
    let mut fx = Out::default();
    announce(state, &mut fx);
    fx.into_effects()
}

/// What the replay learned on the way that is not state of its own.
#[derive(Default)]
struct Replay {
    /// The verified backup from before the first apply (the one a rollback restores).
    backup_file: Option<String>,
    apply_started: bool,
    done_phases: Vec<String>,
    monitored: Option<MonitorResult>,
}

/// Checklist ticks and the reasons typed to pass a gate. True when `ev` was one of them.
fn replay_gates(state: &mut State, ev: &Event) -> bool {
    match ev {
        Event::ChecklistTicked {
            index,
            item,
            checked,
        } => {
            let same = state
                .plan
                .checklist
                .get(*index)
                .is_some_and(|c| &c.item == item);
            if same {
                state.checked[*index] = *checked;
            }
        }
        Event::ChecklistOverridden { reason, .. } => {
            state.checklist_override = Some(reason.clone())
        }
        // Applying untried is journaled as a migrate override naming what was missing: it is that, not the
        // whole migrate stage passed over.
        Event::StageOverridden {
            stage: journal::Stage::Migrate,
            reason,
            blockers,
            ..
        } if blockers.contains(&Blocker::Untried) => {
            state.release.no_rehearsal = Some(reason.clone());
        }
        // Applying over statements that will fail names them, one per line: the same ones ask nothing again.
        Event::StageOverridden {
            stage: journal::Stage::Migrate,
            reason,
            blockers,
            detail,
        } if blockers.contains(&Blocker::WillFail) => {
            let lines = detail.lines().map(str::to_string).collect();
            state.db.will_fail_override = Some((reason.clone(), lines));
        }
        Event::StageOverridden {
            stage: journal::Stage::Migrate,
            reason,
            blockers,
            detail,
        } if blockers.contains(&Blocker::Drift) => {
            let lines = detail.lines().map(str::to_string).collect();
            state.db.drift_override = Some((reason.clone(), lines));
        }
        Event::StageOverridden { stage, reason, .. } => {
            state.release.overrides.push((*stage, reason.clone()));
        }
        Event::BackupGateOverridden { reason, .. } => {
            state.backup.gate_override = Some(reason.clone())
        }
        _ => return false,
    }
    true
}

/// Phases and their steps. True when `ev` was about one.
fn replay_phases(state: &mut State, ev: &Event, seen: &mut Replay) -> bool {
    match ev {
        Event::StepFinished {
            phase,
            step,
            outcome,
            exit_code,
            signal,
            detail,
            ..
        } => {
            if let Some(p) = phase_index(state, phase)
                && let Some(run) = state.phases[p].steps.get_mut(step.saturating_sub(1))
            {
                run.outcome = Some(step_outcome(*outcome, *exit_code, *signal, detail));
            }
        }
        Event::PhaseStarted { phase, .. } => {
            if let Some(p) = phase_index(state, phase) {
                state.phases[p]
                    .steps
                    .iter_mut()
                    .for_each(|s| *s = Default::default());
                state.phases[p].status = PhaseStatus::Interrupted;
            }
        }
        Event::PhaseFinished {
            phase,
            result,
            duration_ms,
            ..
        } => {
            if let Some(p) = phase_index(state, phase) {
                state.phases[p].duration = Some(Duration::from_millis(*duration_ms));
                state.phases[p].status = match result {
                    PhaseResult::Succeeded => PhaseStatus::Succeeded,
                    PhaseResult::Failed => PhaseStatus::Failed,
                    PhaseResult::Cancelled => PhaseStatus::Cancelled,
                    PhaseResult::Interrupted => PhaseStatus::Interrupted,
                };
                if *result == PhaseResult::Succeeded {
                    seen.done_phases.push(phase.clone());
                }
            }
        }
        _ => return false,
    }
    true
}

/// The backup, the migrations, the baselines and the monitor window.
fn replay_rest(state: &mut State, ev: &Event, seen: &mut Replay) {
    match ev {
        // The backup from before the first apply is the one a rollback restores.
        Event::BackupVerified { file, ok: true, .. }
            if !seen.apply_started || seen.backup_file.is_none() =>
        {
            seen.backup_file = Some(file.clone())
        }
        Event::MigrationsApplyStarted { .. } => seen.apply_started = true,
        Event::MigrationApplied { name, .. } => state.release.applied.push(name.clone()),
        Event::MigrationReverted { name, .. } => state.release.applied.retain(|a| a != name),
        Event::HealthBaseline {
            check,
            median_ms,
            p95_ms,
            median_value,
            p95_value,
            samples,
            errors,
            no_answer,
            ..
        } => restore_baseline(
            state,
            check,
            (*median_ms, *p95_ms),
            (median_value.as_deref(), p95_value.as_deref()),
            (*samples, *errors, *no_answer),
        ),
        Event::MonitorFinished { result, alerts, .. } => {
            seen.monitored = Some(*result);
            state.release.monitor = Some(MonitorRun {
                started: state.now,
                ends: state.now,
                alerts: *alerts,
                result: Some(result.name().to_string()),
            })
        }
        _ => {}
    }
}

/// A phase that started but never finished was interrupted; one whose steps all succeeded counts as done.
fn settle_phases(state: &mut State, seen: &mut Replay) {
    for p in 0..state.phases.len() {
        let run = &mut state.phases[p];
        if run.status == PhaseStatus::Interrupted
            && run
                .steps
                .iter()
                .all(|s| s.outcome.as_ref().is_some_and(StepOutcome::is_success))
        {
            run.status = PhaseStatus::Succeeded;
            seen.done_phases.push(state.plan.phases[p].name.clone());
        }
    }
}

/// What the earlier runs completed, as the journal names it.
fn completed(state: &State, seen: &mut Replay) -> Vec<Completed> {
    let mut completed = Vec::new();
    let ticked = state.checked.iter().filter(|c| **c).count();
    if !state.checked.is_empty() {
        completed.push(Completed::Checklist {
            ticked,
            of: state.checked.len(),
        });
    }
    if let Some(file) = &seen.backup_file {
        completed.push(Completed::Backup { file: file.clone() });
    }
    if !state.release.applied.is_empty() {
        completed.push(Completed::Migrations {
            applied: state.release.applied.clone(),
        });
    }
    completed.extend(
        std::mem::take(&mut seen.done_phases)
            .into_iter()
            .map(|name| Completed::Phase { name }),
    );
    if let Some(result) = seen.monitored {
        completed.push(Completed::Monitoring { result });
    }
    completed
}

fn done_text(completed: &[Completed]) -> String {
    if completed.is_empty() {
        "nothing yet".to_string()
    } else {
        let done: Vec<String> = completed.iter().map(Completed::to_string).collect();
        done.join(", ")
    }
}

/// A journaled step's outcome as the runner reported it.
fn step_outcome(
    result: StepResult,
    exit_code: Option<i32>,
    signal: Option<i32>,
    detail: &str,
) -> StepOutcome {
    match (result, exit_code) {
        (_, Some(c)) => StepOutcome::Exited(c),
        (StepResult::Signalled, None) => StepOutcome::Signalled(signal.unwrap_or_default()),
        (StepResult::TimedOut, None) => StepOutcome::TimedOut,
        (StepResult::Cancelled, None) => StepOutcome::Cancelled,
        (StepResult::Exited | StepResult::SpawnFailed, None) => {
            StepOutcome::SpawnFailed(result.describe(None, None, detail))
        }
    }
}

/// Names the stage to do next and journals the resume, once what the journal claims has been checked against
/// the backup folder (the earlier run's verified backup adopted, or not) and the database (its migration status
/// read, or failing to be), or once the run ends before that (the resume is journaled with what is known then).
/// Called after every action; does nothing once it has named the stage.
pub(in crate::app) fn announce(state: &mut State, fx: &mut Out) {
    let Some(r) = &state.release.resumed else {
        return;
    };
    if r.next.is_some() {
        return;
    }
    let listed = state.plan.backup.is_none() || r.listed;
    let read = !matches!(state.db.view, DbView::Loading);
    if !(listed && read) && state.quit != QuitState::Done {
        return;
    }
    let next = next_stage(state);
    let Some(r) = state.release.resumed.as_mut() else {
        return;
    };
    r.next = Some(next);
    let (previous, completed) = (r.previous.clone(), r.completed.clone());
    let line = format!(
        "resumed run {previous}: done {}; next: {} (the backup folder and the database were read again)",
        done_text(&completed),
        next.name()
    );
    state.note(line.clone());
    state.flash = Some(line);
    state.dirty = true;
    fx.push(Effect::Journal(Event::Resumed {
        previous,
        completed,
        next,
    }));
}

/// The first stage not done. The preflight's checks are this console's own (run again at every start), so
/// checks still out do not make it the resumed run's next stage.
fn next_stage(state: &State) -> Stage {
    super::release::order(state)
        .into_iter()
        .find(|s| {
            let st = super::release::status(state, *s);
            !(st.done() || (*s == Stage::Preflight && st == StageStatus::Running))
        })
        .unwrap_or(Stage::SignOff)
}

fn phase_index(state: &State, name: &str) -> Option<usize> {
    state.plan.phases.iter().position(|p| p.name == name)
}

fn restore_baseline(
    state: &mut State,
    check: &str,
    (median, p95): (Option<u64>, Option<u64>),
    (median_value, p95_value): (Option<&str>, Option<&str>),
    (samples, errors, no_answer): (usize, usize, usize),
) {
    let Some(i) = state.plan.health.iter().position(|c| c.name == check) else {
        return;
    };
    state.health.frozen = true;
    state.health.checks[i].baseline = Some(Stats {
        samples,
        answered: samples.saturating_sub(no_answer),
        errors,
        no_answer,
        median: median.map(Duration::from_millis),
        p95: p95.map(Duration::from_millis),
        value_median: median_value.and_then(num),
        value_p95: p95_value.and_then(num),
    });
}

/// A journaled number of a command check's baseline.
fn num(text: &str) -> Option<crate::runner::Num> {
    text.parse().ok().and_then(crate::runner::Num::new)
}

/// The backup folder was listed: adopt the earlier run's verified backup when it is there and still verified.
pub(super) fn adopt_backup(state: &mut State) {
    if let Some(r) = state.release.resumed.as_mut() {
        r.listed = true;
    }
    if state.backup.verified.is_some() {
        return;
    }
    let Some(file) = state
        .release
        .resumed
        .as_ref()
        .and_then(|r| r.backup_file.clone())
    else {
        return;
    };
    let found = state
        .backup
        .known
        .iter()
        .find(|a| a.path.display().to_string() == file && a.verified.is_some())
        .cloned();
    if let Some(a) = found {
        if !state.release.applied.is_empty() {
            state.release.rollback_backup = Some(a.clone());
        }
        state.backup.taken = Some(a.clone());
        state.backup.verified = Some(a);
    }
}
