//! The run flow inside `update`: prompts, starting and following steps, routing runner messages, and cancelling
//! (the gates before an action are in `gate`, ending the run is in `quit`).

use std::sync::Arc;

use super::busy::{Operation, RollbackWork};
use super::logs::buffer::LogLine;
use super::msg::Effect;
use super::prompt::{Expect, Gated, Modal, ModalKind};
use super::state::{Pane, PhaseStatus, QuitState, State};
use crate::journal::{Event, PhaseResult, StepResult};
use crate::runner::command::TERM_GRACE;
use crate::runner::{RunnerEvent, StepId, StepOutcome};

pub(super) fn open(state: &mut State, modal: Modal, fx: &mut Vec<Effect>) {
    fx.push(Effect::Journal(Event::ConfirmationAsked {
        what: modal.title.clone(),
        expected: modal.expected_label(),
    }));
    state.modal = Some(modal);
}

pub(super) fn confirmed(state: &mut State, typed: String, fx: &mut Vec<Effect>) {
    let Some(modal) = state.modal.take() else {
        return;
    };
    fx.push(Effect::Journal(Event::ConfirmationGiven {
        what: modal.title.clone(),
        typed: typed.clone(),
    }));
    match modal.kind {
        ModalKind::RunPhase(p) => start_phase(state, p, fx),
        ModalKind::ChecklistOverride(gated) => {
            fx.push(Effect::Journal(Event::ChecklistOverridden {
                reason: typed.clone(),
                unticked: state.unticked(),
            }));
            state.checklist_override = Some(typed);
            gate(state, gated, fx);
        }
        ModalKind::BackupOverride(gated) => {
            super::backup::overridden(state, gated, typed, fx);
            gate(state, gated, fx);
        }
        ModalKind::RestoreBackup(list) => {
            super::backup::start_restore(state, list, modal.picker, fx)
        }
        ModalKind::RehearseBackup(archive) => super::backup::start_rehearse(state, *archive, fx),
        ModalKind::CancelBackup if state.backup_work().is_some() => fx.push(Effect::CancelBackup),
        ModalKind::CancelBackup => {
            state.flash = Some("Nothing to cancel: the backup operation already ended.".into())
        }
        ModalKind::ApplyMigrations => {
            let objects = super::migrations::risk::objects_to_confirm(state);
            super::migrations::risk::confirm_destroyed_then_apply(state, objects, fx)
        }
        // The first object was just typed: on to the rest.
        ModalKind::ConfirmDestroy(objects) => {
            let rest = objects.into_iter().skip(1).collect();
            super::migrations::risk::confirm_destroyed_then_apply(state, rest, fx)
        }
        ModalKind::DryRunMigrations => super::migrations::start_dry_run(state, fx),
        ModalKind::ResolveMigration(req) => super::migrations::start_resolve(state, req, fx),
        // The prompt names a step, but act on what runs now: the step may have ended while the prompt was open.
        ModalKind::CancelStep(_) => match (state.running(), state.held.take()) {
            (Some(id), _) => cancel(state, id, fx),
            (None, Some(next)) => end_phase(state, next.phase, PhaseStatus::Cancelled, fx),
            (None, None) => state.flash = Some("Nothing to cancel: the step already ended.".into()),
        },
        ModalKind::Quit if state.running().is_none() && state.backup_work().is_some() => {
            state.aborted = true;
            super::backup::stop_for_quit(state, fx);
        }
        ModalKind::Quit if state.running().is_none() && applying(state) => {
            state.aborted = true;
            state.quit = QuitState::AfterStep;
            fx.push(Effect::StopMigrations);
        }
        ModalKind::StageOverride(gated, stage) => {
            super::release::stage_overridden(state, stage, typed, fx);
            gate(state, gated, fx);
        }
        ModalKind::NoRehearsal => {
            fx.push(Effect::Journal(Event::StageOverridden {
                stage: crate::journal::Stage::Migrate,
                reason: typed.clone(),
                blockers: vec![crate::journal::Blocker::Untried],
                detail: super::migrations::UNTRIED.into(),
            }));
            state.release.no_rehearsal = Some(typed);
            gate(state, Gated::ApplyMigrations, fx);
        }
        ModalKind::Rollback(reason) => super::release::rollback_confirmed(state, reason, fx),
        ModalKind::StopMonitor => super::release::monitor_stopped(state, typed, fx),
        ModalKind::Quit => match (state.running(), state.held.take()) {
            (Some(id), _) => {
                state.aborted = true;
                state.quit = QuitState::AfterStep;
                cancel(state, id, fx);
            }
            (None, Some(next)) => {
                state.aborted = true;
                end_phase(state, next.phase, PhaseStatus::Cancelled, fx);
                finish(state, "operator quit between two steps", fx);
            }
            (None, None) => finish(state, "operator quit", fx),
        },
    }
}

pub(super) fn declined(state: &mut State, typed: String, why: String, fx: &mut Vec<Effect>) {
    let Some(modal) = state.modal.take() else {
        return;
    };
    state.flash = Some(format!("Cancelled: {} ({why}).", modal.title));
    fx.push(Effect::Journal(Event::ConfirmationDeclined {
        what: modal.title,
        typed,
        why,
    }));
    // A step that finished while the operator was deciding to stop: they did not stop, so go on.
    if let Some(next) = state.held.take() {
        start_step(state, next, fx);
    }
}

/// Starts phase `p`; an interrupted phase continues from its first step that did not succeed.
pub(super) fn start_phase(state: &mut State, p: usize, fx: &mut Vec<Effect>) {
    let from = match state.phases[p].status {
        PhaseStatus::Interrupted => state.phases[p]
            .steps
            .iter()
            .position(|s| !s.outcome.as_ref().is_some_and(StepOutcome::is_success))
            .unwrap_or(0),
        _ => 0,
    };
    start_phase_from(state, p, from, fx);
}

/// Starts phase `p` at step `from` (the steps before it already succeeded).
pub(super) fn start_phase_from(state: &mut State, p: usize, from: usize, fx: &mut Vec<Effect>) {
    let phase = &state.plan.phases[p];
    let destructive = phase.destructive;
    fx.push(Effect::Journal(Event::PhaseStarted {
        phase: phase.name.clone(),
        destructive,
    }));
    if destructive {
        super::health::freeze_baseline(state, fx);
    }
    let phase = &state.plan.phases[p];
    let note = format!("phase '{}' started", phase.name);
    state.held = None;
    let run = &mut state.phases[p];
    run.status = PhaseStatus::Running;
    run.started = Some(state.now);
    run.duration = None;
    run.steps
        .iter_mut()
        .skip(from)
        .for_each(|s| *s = Default::default());
    state.side = Pane::Logs;
    state.log_offset = 0;
    note_line(state, note);
    start_step(
        state,
        StepId {
            phase: p,
            step: from,
        },
        fx,
    );
}

fn start_step(state: &mut State, id: StepId, fx: &mut Vec<Effect>) {
    state.op = Some(if super::release::rollback_phase(state) == Some(id.phase) {
        Operation::Rollback {
            work: RollbackWork::Step(id),
            cancelling: false,
        }
    } else {
        Operation::Step {
            id,
            cancelling: false,
        }
    });
    state.phases[id.phase].steps[id.step].started = Some(state.now);
    fx.push(Effect::StartStep(id));
}

pub(super) fn on_runner(state: &mut State, ev: RunnerEvent, fx: &mut Vec<Effect>) {
    state.dirty = true;
    match ev {
        RunnerEvent::StepStarted { id, pid, log_path } => {
            let (phase, step) = (&state.plan.phases[id.phase], id.step);
            fx.push(Effect::Journal(Event::StepStarted {
                phase: phase.name.clone(),
                step: step + 1,
                command: phase.steps[step].run.display.clone(),
                destructive: phase.destructive,
                pid,
                log: log_path.display().to_string(),
            }));
            state.phases[id.phase].steps[step].pid = Some(pid);
        }
        RunnerEvent::Output { id, lines } => {
            let tag = state.phases[id.phase].tags[id.step].clone();
            let lines = lines.into_iter().map(|l| LogLine {
                source: tag.clone(),
                stream: Some(l.stream),
                level: crate::logs::line::detect_level(l.text.as_bytes()),
                text: l.text,
                truncated: l.truncated,
                origin: None,
            });
            push_lines(state, lines);
        }
        RunnerEvent::LogLines { source, lines } => {
            let Some(tag) = state.logview.sources.get(source).map(|s| s.tag.clone()) else {
                return;
            };
            let now = state.now;
            let errors = lines
                .iter()
                .filter(|l| l.level == crate::runner::Level::Error)
                .count();
            state.logview.count(source, lines.len(), errors, now);
            let lines = lines.into_iter().map(|l| LogLine {
                source: tag.clone(),
                stream: Some(crate::runner::Stream::Stdout),
                text: l.text,
                truncated: l.truncated,
                level: l.level,
                origin: Some(source),
            });
            push_lines(state, lines);
            super::health::log_alerts::on_lines(state, source, fx);
        }
        RunnerEvent::LogSource { source, state: s } => source_state(state, source, s),
        RunnerEvent::StepFinished {
            id,
            outcome,
            duration,
        } => step_finished(state, id, outcome, duration, fx),
        RunnerEvent::Migrations(result) => super::migrations::on_snapshot(state, result),
        RunnerEvent::MigrationProgress(p) => super::migrations::on_progress(state, p),
        RunnerEvent::MigrationsApplied(outcome) => {
            super::migrations::on_applied(state, outcome, fx)
        }
        RunnerEvent::Rehearsed(result) => super::migrations::on_rehearsed(state, result, fx),
        RunnerEvent::Resolved(result) => super::migrations::on_resolved(state, result, fx),
        RunnerEvent::Backup(ev) => super::backup::on_event(state, *ev, fx),
        RunnerEvent::HealthProbe { check, probe } => {
            super::health::on_probe(state, check, probe, fx)
        }
        RunnerEvent::VerifyResult { check, result } => {
            super::health::on_verify(state, check, result, fx)
        }
        RunnerEvent::Preflight(r) => super::release::on_preflight(state, r, fx),
        RunnerEvent::Smoke { check, probe } => super::release::on_smoke(state, check, probe, fx),
        RunnerEvent::Reverted(outcome) => super::release::on_reverted(state, outcome, fx),
        RunnerEvent::NotifyFailed { what, error } => {
            let line = format!("notification ({what}) failed: {error}");
            fx.push(Effect::Journal(Event::NotificationFailed { what, error }));
            note_line(state, line.clone());
            state.flash = Some(line);
        }
    }
}

fn step_finished(
    state: &mut State,
    id: StepId,
    outcome: StepOutcome,
    duration: std::time::Duration,
    fx: &mut Vec<Effect>,
) {
    let phase = &state.plan.phases[id.phase];
    let (name, destructive, step_count) =
        (phase.name.clone(), phase.destructive, phase.steps.len());
    fx.push(Effect::Journal(Event::StepFinished {
        phase: name.clone(),
        step: id.step + 1,
        destructive,
        outcome: step_result(&outcome),
        exit_code: match outcome {
            StepOutcome::Exited(c) => Some(c),
            _ => None,
        },
        signal: match outcome {
            StepOutcome::Signalled(s) => Some(s),
            _ => None,
        },
        detail: match &outcome {
            StepOutcome::SpawnFailed(why) => why.clone(),
            _ => String::new(),
        },
        duration_ms: duration.as_millis() as u64,
    }));
    note_line(
        state,
        format!(
            "step {} of '{name}': {}",
            id.step + 1,
            outcome_text(&outcome)
        ),
    );
    let ok = outcome.is_success();
    let cancelled = matches!(outcome, StepOutcome::Cancelled);
    let record = &mut state.phases[id.phase].steps[id.step];
    record.outcome = Some(outcome);
    record.duration = Some(duration);
    let cancelling = state.op.is_some_and(Operation::cancelling);
    state.op = None;
    let next = StepId {
        phase: id.phase,
        step: id.step + 1,
    };
    let more = ok && next.step < step_count;
    if more && !cancelling && state.quit == QuitState::No {
        let deciding = matches!(
            state.modal.as_ref().map(|m| &m.kind),
            Some(ModalKind::Quit | ModalKind::CancelStep(_))
        );
        if deciding {
            // The operator is deciding whether to stop: start nothing new until they answer.
            state.held = Some(next);
            note_line(
                state,
                format!("step {} waits for your answer", next.step + 1),
            );
        } else {
            start_step(state, next, fx);
        }
        return;
    }
    let status = if ok && !more {
        PhaseStatus::Succeeded
    } else if ok && state.terminal_lost {
        // The console hung up: the step in flight finished; the rest waits for the next console.
        PhaseStatus::Interrupted
    } else if cancelled || cancelling {
        PhaseStatus::Cancelled
    } else {
        PhaseStatus::Failed
    };
    end_phase(state, id.phase, status, fx);
}

/// Records how a phase ended; finishes the run if the operator was quitting.
pub(super) fn end_phase(state: &mut State, p: usize, status: PhaseStatus, fx: &mut Vec<Effect>) {
    let phase = &state.plan.phases[p];
    let (name, destructive) = (phase.name.clone(), phase.destructive);
    let run = &mut state.phases[p];
    run.status = status;
    let elapsed = run
        .started
        .map(|t| state.now.saturating_duration_since(t))
        .unwrap_or_default();
    run.duration = Some(elapsed);
    let result = match status {
        PhaseStatus::Succeeded => PhaseResult::Succeeded,
        PhaseStatus::Failed => PhaseResult::Failed,
        PhaseStatus::Cancelled => PhaseResult::Cancelled,
        PhaseStatus::Interrupted | PhaseStatus::Pending | PhaseStatus::Running => {
            PhaseResult::Interrupted
        }
    };
    fx.push(Effect::Journal(Event::PhaseFinished {
        phase: name.clone(),
        destructive,
        result,
        duration_ms: elapsed.as_millis() as u64,
    }));
    super::release::notify(state, "phase", format!("phase {name}: {result}"), fx);
    state.flash = Some(format!("Phase '{name}' {result}."));
    if state.running().is_some() {
        state.op = None;
    }
    state.held = None;
    if super::release::rollback_phase(state) == Some(p) && state.quit == QuitState::No {
        super::release::rollback_step_done(state, status, fx);
    }
    if state.quit == QuitState::AfterStep {
        let why = if state.terminal_lost {
            "hung up: the step in flight finished"
        } else {
            "quit after cancelling the running step"
        };
        finish(state, why, fx);
    }
}

/// The journal's name for how a step ended.
fn step_result(outcome: &StepOutcome) -> StepResult {
    match outcome {
        StepOutcome::Exited(_) => StepResult::Exited,
        StepOutcome::Signalled(_) => StepResult::Signalled,
        StepOutcome::TimedOut => StepResult::TimedOut,
        StepOutcome::Cancelled => StepResult::Cancelled,
        StepOutcome::SpawnFailed(_) => StepResult::SpawnFailed,
    }
}

pub fn outcome_text(outcome: &StepOutcome) -> String {
    match outcome {
        StepOutcome::Exited(c) => format!("exit {c}"),
        StepOutcome::Signalled(s) => format!("killed by signal {s}"),
        StepOutcome::TimedOut => "timed out (process group terminated)".into(),
        StepOutcome::Cancelled => "cancelled (process group terminated)".into(),
        StepOutcome::SpawnFailed(why) => format!("failed to start: {why}"),
    }
}

/// deckhand's own line in the logs pane (made inert: it quotes plan text and error messages).
pub(super) fn note_line(state: &mut State, text: String) {
    source_note(state, Arc::from("--"), None, text);
}

fn source_note(state: &mut State, tag: Arc<str>, origin: Option<usize>, text: String) {
    let line = LogLine {
        source: tag,
        stream: None,
        text: crate::sanitize::sanitize_str(&text).into_owned(),
        truncated: false,
        level: crate::runner::Level::Other,
        origin,
    };
    push_lines(state, std::iter::once(line));
}

/// Adds lines to the buffer through the filter; a paused view keeps the same lines in view.
fn push_lines(state: &mut State, lines: impl Iterator<Item = LogLine>) {
    let mut shown = 0;
    for line in lines {
        shown += usize::from(state.logview.push(&mut state.logs, line));
    }
    if state.log_offset > 0 {
        let max = state.logview.visible_len(&state.logs);
        state.log_offset = (state.log_offset + shown).min(max);
    }
}

/// A `[[logs]]` source changed state: recorded, and a line in the pane for what the operator should see.
fn source_state(state: &mut State, source: usize, s: crate::runner::SourceState) {
    use crate::runner::SourceState;
    let Some(tag) = state.logview.sources.get(source).map(|v| v.tag.clone()) else {
        return;
    };
    let note = match &s {
        SourceState::Note(text) => Some(text.clone()),
        SourceState::Stopped { why, restart_in } => Some(match restart_in {
            Some(d) => format!("stopped: {why}, restarting in {} s", d.as_secs().max(1)),
            None => format!("stopped: {why}"),
        }),
        SourceState::Failed(why) => Some(format!("failed: {why}")),
        SourceState::Running { .. } => None,
    };
    if let Some(text) = note {
        source_note(state, tag, Some(source), text);
    }
    if !matches!(s, SourceState::Note(_)) {
        state.logview.set_state(source, s, state.now);
    }
}

pub(super) fn request_cancel(state: &mut State, fx: &mut Vec<Effect>) {
    if state.running().is_none() && super::backup::request_cancel(state, fx) {
        return;
    }
    let Some(id) = state.running() else {
        state.flash = Some(match state.op {
            Some(op) => format!("{} cannot be cancelled: wait for it.", op.label()),
            None => "Nothing is running.".into(),
        });
        return;
    };
    if state.op.is_some_and(Operation::cancelling) {
        state.flash = Some("Already cancelling: waiting for the step's processes to end.".into());
        return;
    }
    let phase = &state.plan.phases[id.phase];
    let mut m = Modal::new(
        ModalKind::CancelStep(id),
        format!("Cancel step {} of {}", id.step + 1, phase.name),
        Expect::Yes,
    );
    m.body
        .push(("Command".into(), phase.steps[id.step].run.display.clone()));
    m.body.push(("How".into(), grace_text()));
    open(state, m, fx);
}

pub(super) fn grace_text() -> String {
    format!(
        "TERM to its whole process group, KILL after {}",
        humantime::format_duration(TERM_GRACE)
    )
}

pub(super) fn cancel(state: &mut State, id: StepId, fx: &mut Vec<Effect>) {
    if let Some(Operation::Step { cancelling, .. } | Operation::Rollback { cancelling, .. }) =
        state.op.as_mut()
    {
        *cancelling = true;
    }
    fx.push(Effect::Journal(Event::CancelRequested {
        phase: state.plan.phases[id.phase].name.clone(),
        step: id.step + 1,
    }));
    fx.push(Effect::CancelStep(id));
}

/// Migrations are being applied or (by a rollback) reverted: work that is let finish, never cut off.
pub(super) fn applying(state: &State) -> bool {
    state.op.is_some_and(|op| {
        op.applying()
            || op
                == Operation::Rollback {
                    work: RollbackWork::Reverting,
                    cancelling: false,
                }
    })
}

pub(super) use super::gate::{destructive_expect, gate, gated_label, request_phase};
pub(super) use super::quit::{finish, on_signal, on_terminal_lost, request_quit};
