//! Ending the run inside `update`: the quit prompt (while a step, an apply or a backup operation runs), signals and
//! a lost terminal (stop what runs, start nothing new, then quit), and the final journal entry.

use super::msg::{Effect, Signal};
use super::prompt::{Expect, Modal, ModalKind};
use super::state::{PhaseStatus, QuitState, State};
use super::steps::{applying, cancel, end_phase, grace_text};
use crate::app::out::Out;
use crate::journal::Event;

pub(super) fn request_quit(state: &mut State, fx: &mut Out) {
    // A tail session runs nothing that a quit could leave half done, and releases nothing: it ends at once.
    if state.tail {
        finish(state, "operator quit", fx);
        return;
    }
    if let (None, Some(busy)) = (state.running(), state.backup_work()) {
        let mut m = Modal::new(
            ModalKind::Quit,
            format!("Quit while {}", busy.label()),
            Expect::Yes,
        );
        m.body.push((
            "Quitting".into(),
            "stops it first (a restore rolls back, a partial backup is deleted)".into(),
        ));
        m.danger = true;
        state.ask(m, fx);
        return;
    }
    if state.running().is_none() && applying(state) {
        let mut m = Modal::new(
            ModalKind::Quit,
            "Quit while migrations are applied",
            Expect::Yes,
        );
        m.body
            .push(("Applying".into(), crate::app::text::database_line(state)));
        m.body.push((
            "Quitting".into(),
            "no further migration starts; deckhand quits once the one in flight has committed or rolled back"
                .into(),
        ));
        m.danger = true;
        state.ask(m, fx);
        return;
    }
    match state.running() {
        None if unsigned_production(state) => ask_before_sign_off(state, fx),
        None => finish(state, "operator quit", fx),
        Some(id) => {
            let mut m = Modal::new(ModalKind::Quit, "Quit while a step runs", Expect::Yes);
            let phase = state.phase_def(id.phase).map(|p| p.name.as_str());
            m.body.push((
                "Running".into(),
                format!("step {} of {}", id.step + 1, phase.unwrap_or("?")),
            ));
            m.body
                .push(("Quitting".into(), format!("cancels it: {}", grace_text())));
            m.body
                .push(("Result".into(), "the run ends as aborted (exit 1)".into()));
            m.danger = true;
            state.ask(m, fx);
        }
    }
}

/// In production, once the release has changed something (the first destructive action started) and before it
/// is signed off — the monitor window included — quitting asks first.
fn unsigned_production(state: &State) -> bool {
    state.plan.project.is_production() && state.health.frozen && state.release.signed.is_none()
}

fn ask_before_sign_off(state: &mut State, fx: &mut Out) {
    let monitoring = (state.release.monitor.as_ref()).is_some_and(|m| m.result.is_none());
    let title = if monitoring {
        "Quit while the monitor window runs (before sign-off)"
    } else {
        "Quit before sign-off"
    };
    let mut m = Modal::new(ModalKind::Quit, title, Expect::Yes);
    m.body.push((
        "Release".into(),
        "changed production and is not signed off: nobody has said it is good".into(),
    ));
    m.body.push((
        "Quitting".into(),
        "ends this console; starting it again on this plan resumes the run from its journal".into(),
    ));
    let outcome = super::release::outcome(state);
    m.body.push((
        "Result".into(),
        format!(
            "the run ends as {} (exit {})",
            outcome.name(),
            outcome.exit_code()
        ),
    ));
    m.danger = true;
    state.ask(m, fx);
}

/// SIGTERM and SIGINT end the run: the running step is cancelled first, then deckhand quits. SIGHUP is a hang-up.
pub(super) fn on_signal(state: &mut State, sig: Signal, fx: &mut Out) {
    fx.push(Effect::Journal(Event::Signal {
        name: sig.name().into(),
    }));
    if sig == Signal::Hangup {
        hang_up(state, "SIGHUP received", fx);
    } else {
        end_abruptly(state, &format!("{} received", sig.name()), fx);
    }
}

pub(super) fn on_terminal_lost(state: &mut State, why: String, fx: &mut Out) {
    if state.terminal_lost && state.quit != QuitState::No {
        return;
    }
    fx.push(Effect::Journal(Event::Error {
        context: "terminal".into(),
        message: why,
    }));
    hang_up(state, "terminal lost", fx);
}

/// The operator's connection is gone: stop drawing, let what is in flight finish (a step, the migration being
/// applied, a backup with its verification, a restore) and journal it, start nothing new, then exit. The next
/// console resumes from the journal.
fn hang_up(state: &mut State, reason: &str, fx: &mut Out) {
    state.terminal_lost = true;
    if state.quit == QuitState::Done {
        return;
    }
    abort(state, reason, PhaseStatus::Interrupted, fx);
    state.release.signoff = None;
    super::release::end_monitor(state, crate::journal::MonitorResult::Stopped, fx);
    let in_flight = state.running().is_some() || state.backup_work().is_some() || applying(state);
    if in_flight {
        state.quit = QuitState::AfterStep;
        if applying(state) {
            fx.push(Effect::StopMigrations);
        }
        state.note(format!(
            "{reason}: finishing what is in flight, then exiting"
        ));
    } else {
        finish(state, &format!("hung up ({reason})"), fx);
    }
    state.dirty = true;
}

/// The run is ending without the operator's say: an open prompt is declined (with `reason`), and a phase held
/// between two steps ends as `held_ends`.
fn abort(state: &mut State, reason: &str, held_ends: PhaseStatus, fx: &mut Out) {
    state.aborted = true;
    if let Some(modal) = state.modal.take() {
        fx.push(Effect::Journal(Event::ConfirmationDeclined {
            what: modal.title,
            typed: modal.input,
            why: reason.to_string(),
        }));
    }
    if let Some(next) = state.held.take() {
        end_phase(state, next.phase, held_ends, fx);
    }
}

fn end_abruptly(state: &mut State, reason: &str, fx: &mut Out) {
    if state.quit == QuitState::Done {
        return;
    }
    abort(state, reason, PhaseStatus::Cancelled, fx);
    match state.running() {
        Some(id) => {
            state.quit = QuitState::AfterStep;
            // Cancelling twice is harmless; not cancelling would leave deckhand waiting on the step forever.
            cancel(state, id, fx);
        }
        None if state.backup_work().is_some() => {
            super::backup::stop_for_quit(state, fx);
        }
        // A migration in flight is never cut off: no further one starts, and deckhand quits when it is done.
        None if applying(state) => {
            state.quit = QuitState::AfterStep;
            fx.push(Effect::StopMigrations);
        }
        None => finish(state, reason, fx),
    }
    state.dirty = true;
}

pub(super) fn finish(state: &mut State, reason: &str, fx: &mut Out) {
    state.quit = QuitState::Done;
    // After a hang-up, whatever finished last, the run ended because the operator's terminal went away.
    let reason = if state.terminal_lost && !reason.starts_with("hung up") {
        format!("hung up: {reason}")
    } else {
        reason.to_string()
    };
    let outcome = super::release::outcome(state);
    fx.push(Effect::Journal(Event::Quit {
        exit_code: outcome.exit_code(),
        reason,
        outcome: Some(outcome),
    }));
    fx.push(Effect::Quit);
}
