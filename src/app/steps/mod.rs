//! The run flow inside `update`: prompts, starting and following steps, routing runner messages, and cancelling
//! (the gates before an action are in `gate`, ending the run is in `quit`).

use crate::app::out::Out;

use super::busy::{Operation, RollbackWork};
use super::msg::{Effect, Notice};
use super::prompt::{Expect, Modal, ModalKind};
use super::state::{Pane, PhaseStatus, QuitState, State};
use crate::journal::{Event, PhaseResult, StepResult};
use crate::runner::command::TERM_GRACE;
use crate::runner::{StepId, StepOutcome};

/// Starts phase `p`; an interrupted phase continues from its first step that did not succeed.
pub(super) fn start_phase(state: &mut State, p: usize, fx: &mut Out) {
    let Some(run) = state.phase_run(p) else {
        return;
    };
    let from = match run.status {
        PhaseStatus::Interrupted => run
            .steps
            .iter()
            .position(|s| !s.outcome.as_ref().is_some_and(StepOutcome::is_success))
            .unwrap_or(0),
        _ => 0,
    };
    start_phase_from(state, p, from, fx);
}

/// Starts phase `p` at step `from` (the steps before it already succeeded).
pub(super) fn start_phase_from(state: &mut State, p: usize, from: usize, fx: &mut Out) {
    let Some(phase) = state.phase_def(p) else {
        return;
    };
    let (name, destructive) = (phase.name.clone(), phase.destructive);
    fx.push(Effect::Journal(Event::PhaseStarted {
        phase: name.clone(),
        destructive,
    }));
    if destructive {
        fx.notice(Notice::DestructiveStarted);
    }
    let note = format!("phase '{name}' started");
    state.held = None;
    let now = state.now;
    let Some(run) = state.phase_run_mut(p) else {
        return;
    };
    run.status = PhaseStatus::Running;
    run.started = Some(now);
    run.duration = None;
    run.steps
        .iter_mut()
        .skip(from)
        .for_each(|s| *s = Default::default());
    state.side = Pane::Logs;
    state.log_offset = 0;
    state.note(note);
    start_step(
        state,
        StepId {
            phase: p,
            step: from,
        },
        fx,
    );
}

pub(super) fn start_step(state: &mut State, id: StepId, fx: &mut Out) {
    state.op = Some(if state.rollback_phase() == Some(id.phase) {
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
    let now = state.now;
    if let Some(step) = state
        .phase_run_mut(id.phase)
        .and_then(|r| r.steps.get_mut(id.step))
    {
        step.started = Some(now);
    }
    fx.push(Effect::StartStep(id));
}

/// A step's process started: journaled with its pid and log file.
pub(super) fn on_started(
    state: &mut State,
    id: StepId,
    pid: u32,
    log_path: &std::path::Path,
    fx: &mut Out,
) {
    let Some(phase) = state.phase_def(id.phase) else {
        return;
    };
    let Some(step) = phase.steps.get(id.step) else {
        return;
    };
    fx.push(Effect::Journal(Event::StepStarted {
        phase: phase.name.clone(),
        step: id.step + 1,
        command: step.run.display.clone(),
        destructive: phase.destructive,
        pid,
        log: log_path.display().to_string(),
    }));
    if let Some(run) = state
        .phase_run_mut(id.phase)
        .and_then(|r| r.steps.get_mut(id.step))
    {
        run.pid = Some(pid);
    }
}

pub(super) fn step_finished(
    state: &mut State,
    id: StepId,
    outcome: StepOutcome,
    duration: std::time::Duration,
    fx: &mut Out,
) {
    let Some(phase) = state.phase_def(id.phase) else {
        return;
    };
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
    state.note(format!(
        "step {} of '{name}': {}",
        id.step + 1,
        crate::app::text::outcome_text(&outcome)
    ));
    let ok = outcome.is_success();
    let cancelled = matches!(outcome, StepOutcome::Cancelled);
    if let Some(record) = state
        .phase_run_mut(id.phase)
        .and_then(|r| r.steps.get_mut(id.step))
    {
        record.outcome = Some(outcome);
        record.duration = Some(duration);
    }
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
            state.note(format!("step {} waits for your answer", next.step + 1));
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
pub(super) fn end_phase(state: &mut State, p: usize, status: PhaseStatus, fx: &mut Out) {
    let Some(phase) = state.phase_def(p) else {
        return;
    };
    let (name, destructive) = (phase.name.clone(), phase.destructive);
    let now = state.now;
    let Some(run) = state.phase_run_mut(p) else {
        return;
    };
    run.status = status;
    let elapsed = run
        .started
        .map(|t| now.saturating_duration_since(t))
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
    fx.notify("phase", format!("phase {name}: {result}"));
    state.flash = Some(format!("Phase '{name}' {result}."));
    if state.running().is_some() {
        state.op = None;
    }
    state.held = None;
    if state.rollback_phase() == Some(p) && state.quit == QuitState::No {
        fx.notice(Notice::RollbackStepsEnded(status));
    }
    if state.before_restore_phase() == Some(p) && state.quit == QuitState::No {
        fx.notice(Notice::BeforeRestoreEnded(status));
    }
    if state.quit == QuitState::AfterStep {
        let how = if state.terminal_lost {
            "hung up: the step in flight finished"
        } else {
            "quit after cancelling the running step"
        };
        fx.notice(Notice::EndedWhileQuitting { how: how.into() });
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

pub(super) fn request_cancel(state: &mut State, fx: &mut Out) {
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
    let Some(phase) = state.phase_def(id.phase) else {
        return;
    };
    let mut m = Modal::new(
        ModalKind::CancelStep(id),
        format!("Cancel step {} of {}", id.step + 1, phase.name),
        Expect::Yes,
    );
    if let Some(step) = phase.steps.get(id.step) {
        m.body.push(("Command".into(), step.run.display.clone()));
    }
    m.body.push(("How".into(), grace_text()));
    state.ask(m, fx);
}

pub(super) fn grace_text() -> String {
    format!(
        "TERM to its whole process group, KILL after {}",
        humantime::format_duration(TERM_GRACE)
    )
}

pub(super) fn cancel(state: &mut State, id: StepId, fx: &mut Out) {
    if let Some(Operation::Step { cancelling, .. } | Operation::Rollback { cancelling, .. }) =
        state.op.as_mut()
    {
        *cancelling = true;
    }
    let phase = state.phase_def(id.phase).map(|p| p.name.clone());
    fx.push(Effect::Journal(Event::CancelRequested {
        phase: phase.unwrap_or_default(),
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
