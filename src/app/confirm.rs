//! The router's half for answers: a confirmed prompt goes back to the room that asked (the prompt's kind says
//! which, and with what), a declined one is journaled and may let a held step go on. Part of the router: it may
//! call every room.

use super::msg::Effect;
use super::out::Out;
use super::prompt::{Gated, ModalKind};
use super::quit::finish;
use super::state::{PhaseStatus, QuitState, State};
use super::steps::{applying, cancel, end_phase, start_phase, start_step};
use crate::app::prompt::TeamAfter;
use crate::journal::Event;

/// The open prompt was confirmed with `typed`.
pub(super) fn confirmed(state: &mut State, typed: String, fx: &mut Out) {
    let Some(modal) = state.modal.take() else {
        return;
    };
    fx.push(Effect::Journal(Event::ConfirmationGiven {
        what: modal.title.clone(),
        typed: typed.clone(),
    }));
    if super::release::approval::needed(state, &modal.kind) {
        super::release::approval::ask(state, modal, typed, fx);
        return;
    }
    dispatch(state, modal, typed, fx);
}

/// A confirmed prompt (approved by a second operator, where that is needed) goes back to the room that asked.
pub(super) fn dispatch(
    state: &mut State,
    modal: super::prompt::Modal,
    typed: String,
    fx: &mut Out,
) {
    match modal.kind {
        // Only another operator's approval answers it (see `release::approval`).
        ModalKind::AwaitingApproval => {}
        ModalKind::RunPhase(p) => start_phase(state, p, fx),
        kind @ (ModalKind::ChecklistOverride(_)
        | ModalKind::BackupOverride(_)
        | ModalKind::StageOverride(..)
        | ModalKind::NoRehearsal
        | ModalKind::WillFail(_)
        | ModalKind::Drift(_)) => gate_passed(state, kind, typed, fx),
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
        ModalKind::ResolveMigration(req) => super::migrations::resolve::start(state, req, fx),
        ModalKind::DropIndex(index) => super::migrations::indexes::start_drop(state, index, fx),
        // The prompt names a step, but act on what runs now: the step may have ended while the prompt was open.
        ModalKind::CancelStep(_) => match (state.running(), state.held.take()) {
            (Some(id), _) => cancel(state, id, fx),
            (None, Some(next)) => end_phase(state, next.phase, PhaseStatus::Cancelled, fx),
            (None, None) => state.flash = Some("Nothing to cancel: the step already ended.".into()),
        },
        ModalKind::Rollback(reason) => super::release::rollback_confirmed(state, reason, fx),
        ModalKind::StopMonitor => super::release::monitor_stopped(state, typed, fx),
        ModalKind::TeamLockLost(after) => {
            let what = match after {
                TeamAfter::Gated(g) => crate::app::prompt::gated_label(&state.plan, g),
                TeamAfter::Restore => "restore".into(),
            };
            super::release::team::overridden(state, what, typed, fx);
            match after {
                TeamAfter::Gated(g) => super::gate::gate(state, g, fx),
                TeamAfter::Restore => super::backup::request_restore(state, fx),
            }
        }
        ModalKind::Quit => quit_confirmed(state, fx),
    }
}

/// A reason was typed to pass one of the gates: journaled, then on through the remaining gates.
fn gate_passed(state: &mut State, kind: ModalKind, typed: String, fx: &mut Out) {
    let gated = match kind {
        ModalKind::ChecklistOverride(gated) => {
            fx.push(Effect::Journal(Event::ChecklistOverridden {
                reason: typed.clone(),
                unticked: state.unticked(),
            }));
            state.checklist_override = Some(typed);
            gated
        }
        ModalKind::BackupOverride(gated) => {
            super::gate::backup_overridden(state, gated, typed, fx);
            gated
        }
        ModalKind::StageOverride(gated, stage) => {
            super::release::stage_overridden(state, stage, typed, fx);
            gated
        }
        ModalKind::NoRehearsal => {
            fx.push(Effect::Journal(Event::StageOverridden {
                stage: crate::journal::Stage::Migrate,
                reason: typed.clone(),
                blockers: vec![crate::journal::Blocker::Untried],
                detail: super::migrations::UNTRIED.into(),
            }));
            state.release.no_rehearsal = Some(typed);
            Gated::ApplyMigrations
        }
        // The live data's gates: the reason covers exactly the lines shown (one per line in the journal).
        ModalKind::WillFail(lines) => {
            data_override(crate::journal::Blocker::WillFail, &typed, &lines, fx);
            state.db.will_fail_override = Some((typed, lines));
            Gated::ApplyMigrations
        }
        ModalKind::Drift(lines) => {
            data_override(crate::journal::Blocker::Drift, &typed, &lines, fx);
            state.db.drift_override = Some((typed, lines));
            Gated::ApplyMigrations
        }
        _ => return,
    };
    super::gate::gate(state, gated, fx);
}

/// Journals a reason typed past one of the live data's gates, as a migrate override naming what it covers.
fn data_override(blocker: crate::journal::Blocker, reason: &str, lines: &[String], fx: &mut Out) {
    fx.push(Effect::Journal(Event::StageOverridden {
        stage: crate::journal::Stage::Migrate,
        reason: reason.to_string(),
        blockers: vec![blocker],
        detail: lines.join("\n"),
    }));
}

/// Quit, confirmed: stop what runs (a backup operation stops, migrations finish the one in flight, a step is
/// cancelled), or quit now.
fn quit_confirmed(state: &mut State, fx: &mut Out) {
    if state.running().is_none() && state.backup_work().is_some() {
        state.aborted = true;
        super::backup::stop_for_quit(state, fx);
        return;
    }
    if state.running().is_none() && applying(state) {
        state.aborted = true;
        state.quit = QuitState::AfterStep;
        fx.push(Effect::StopMigrations);
        return;
    }
    match (state.running(), state.held.take()) {
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
    }
}

/// The open prompt was declined (`why`, with what had been typed).
pub(super) fn declined(state: &mut State, typed: String, why: String, fx: &mut Out) {
    let Some(modal) = state.modal.take() else {
        return;
    };
    state.flash = Some(format!("Cancelled: {} ({why}).", modal.title));
    if modal.kind == ModalKind::AwaitingApproval {
        super::release::approval::withdraw(state, fx);
    }
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
