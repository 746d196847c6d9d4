//! The router's half for notices: what one room's news means for the others. Only the router (this module,
//! `update`, `gate`, `quit`) knows every room; rooms never import each other.

use super::msg::{Effect, Notice};
use super::out::Out;
use super::state::{QuitState, State};
use crate::runner::{CountersFor, RunnerEvent};

/// Routes one notice to the rooms it concerns.
pub(super) fn notice(state: &mut State, notice: Notice, fx: &mut Out) {
    match notice {
        Notice::DestructiveStarted => {
            super::health::freeze_baseline(&mut state.health, &state.plan, fx)
        }
        Notice::AlertRaised { name, why } => {
            super::release::count_alert(state);
            fx.notice(Notice::Notify {
                what: "alert".into(),
                text: format!("health alert: {name}: {why}"),
            });
        }
        Notice::VerifyResult => super::release::finish_verify_if_done(state, fx),
        Notice::SourceLines { source } => {
            let window = state.plan.logs.get(source).map(|l| l.window);
            let counted =
                window.and_then(|w| state.logview.error_rate_counted(source, state.now, w));
            let (health, cx) = health_room(state);
            super::health::log_alerts::on_lines(health, &cx, source, counted, fx);
        }
        Notice::Note(text) => state.note(text),
        Notice::Flash(text) => state.flash = Some(text),
        Notice::BackupsListed => super::resume::adopt_backup(state),
        Notice::RestoreDone { ok, detail } => super::release::restore_done(state, ok, detail, fx),
        Notice::EndedWhileQuitting { how } => {
            if state.quit == QuitState::AfterStep && state.op.is_none() {
                super::quit::finish(state, &how, fx);
            }
        }
        Notice::PassGates(gated) => super::gate::gate(state, gated, fx),
        Notice::StartRollbackSteps => match state.rollback_phase() {
            Some(p) => super::steps::start_phase_from(state, p, 0, fx),
            None => fx.notice(Notice::RollbackStepsEnded(
                super::state::PhaseStatus::Succeeded,
            )),
        },
        Notice::RollbackStepsEnded(status) => super::release::rollback_step_done(state, status, fx),
        Notice::StartBeforeRestore => match state.before_restore_phase() {
            Some(p) => super::steps::start_phase_from(state, p, 0, fx),
            None => fx.notice(Notice::BeforeRestoreEnded(
                super::state::PhaseStatus::Succeeded,
            )),
        },
        // The steps ran for the rollback under way, or else for the restore confirmed with U.
        Notice::BeforeRestoreEnded(status) => {
            let rollback = (state.release.rollback.as_ref())
                .is_some_and(|r| r.step == super::release::RollbackStep::First);
            if rollback {
                super::release::before_restore_done(state, status, fx)
            } else {
                super::backup::before_restore_done(state, status, fx)
            }
        }
        Notice::Notify { what, text } => {
            if state.plan.notify.is_some() {
                let p = &state.plan.project;
                fx.push(Effect::Notify {
                    what,
                    text: format!("[{} {}] {text}", p.name, p.environment),
                });
            }
        }
    }
}

/// Routes a runner's message to the room it is for.
pub(super) fn runner(state: &mut State, ev: RunnerEvent, fx: &mut Out) {
    state.dirty = true;
    match ev {
        RunnerEvent::StepStarted { id, pid, log_path } => {
            super::steps::on_started(state, id, pid, &log_path, fx)
        }
        RunnerEvent::Output { id, lines } => {
            if let Some(tag) = state.phase_run(id.phase).and_then(|p| p.tags.get(id.step)) {
                let tag = tag.clone();
                super::logs::on_step_output(state, tag, lines);
            }
        }
        RunnerEvent::StepFinished {
            id,
            outcome,
            duration,
        } => super::steps::step_finished(state, id, outcome, duration, fx),
        RunnerEvent::LogLines { source, lines } => super::logs::on_lines(state, source, lines, fx),
        RunnerEvent::LogSource { source, state: s } => {
            super::logs::on_source_state(state, source, s)
        }
        RunnerEvent::Migrations(result) => super::migrations::on_snapshot(state, result, fx),
        RunnerEvent::Drift(result) => super::migrations::drift::on_drift(state, result, fx),
        RunnerEvent::MigrationProgress(p) => super::migrations::on_progress(state, p),
        RunnerEvent::MigrationsApplied(outcome) => {
            super::migrations::on_applied(state, outcome, fx)
        }
        RunnerEvent::Rehearsed(result) => super::migrations::on_rehearsed(state, result, fx),
        RunnerEvent::Resolved(result) => super::migrations::resolve::on_resolved(state, result, fx),
        RunnerEvent::IndexDropped { index, result } => {
            super::migrations::indexes::on_dropped(state, index, result, fx)
        }
        RunnerEvent::Backup(ev) => super::backup::on_event(state, *ev, fx),
        RunnerEvent::HealthProbe { check, probe } => {
            let (health, cx) = health_room(state);
            super::health::on_probe(health, &cx, check, probe, fx)
        }
        RunnerEvent::VerifyResult { check, result } => {
            super::health::on_verify(&mut state.health, &state.plan, check, result, fx)
        }
        RunnerEvent::Preflight(r) => super::release::on_preflight(state, r, fx),
        RunnerEvent::Smoke { check, probe } => super::release::on_smoke(state, check, probe, fx),
        RunnerEvent::Reverted(outcome) => super::release::on_reverted(state, outcome, fx),
        RunnerEvent::Counters {
            purpose,
            at_unix,
            result,
        } => match purpose {
            CountersFor::Rollback => super::release::on_counters(state, at_unix, result, fx),
            CountersFor::Restore => super::backup::on_counters(state, at_unix, result, fx),
        },
        RunnerEvent::Tunnel(s) => super::migrations::tunnel::on_state(state, s, fx),
        RunnerEvent::TeamLock(s) => super::release::team::on_lock(state, s, fx),
        RunnerEvent::Approval(ev) => {
            if let Some((modal, typed)) = super::release::approval::on_event(state, ev, fx) {
                super::confirm::dispatch(state, modal, typed, fx);
            }
        }
        RunnerEvent::NotifyFailed { what, error } => {
            let line = format!("notification ({what}) failed: {error}");
            fx.push(Effect::Journal(crate::journal::Event::NotificationFailed {
                what,
                error,
            }));
            state.note(line.clone());
            state.flash = Some(line);
        }
    }
}

/// The health room's own state, and what it may read of the rest: the plan, the time, and whether the release is live (not signed
/// off, the monitor window not over), when a new alert waits for the operator.
fn health_room(state: &mut State) -> (&mut super::health::HealthPane, super::health::Ctx<'_>) {
    let live = state.release.signed.is_none()
        && (state.release.monitor.as_ref()).is_none_or(|m| m.result.is_none());
    let cx = super::health::Ctx {
        plan: &state.plan,
        now: state.now,
        live,
    };
    (&mut state.health, cx)
}
