//! The gates in front of an action (a phase, an apply, the verify, monitor and sign-off stages), in order: the
//! stage order, the checklist (destructive actions), a verified backup (migrations, `needs_backup` phases), a
//! dry-run before an apply, then the confirmation itself (destructive actions; others just start).

use super::msg::Effect;
use super::prompt::{Expect, Gated, Modal, ModalKind, TeamAfter};
use super::state::State;
use super::steps::start_phase;
use crate::app::out::Out;

/// Enter on a phase: run it, or ask first.
pub(super) fn request_phase(state: &mut State, p: usize, fx: &mut Out) {
    if let Some(why) = state.busy_refusal() {
        state.flash = Some(why);
        return;
    }
    let Some(phase) = state.plan.phases.get(p) else {
        return;
    };
    let project = &state.plan.project;
    if phase.seed && project.is_production() && !project.allow_seed {
        state.flash = Some(format!(
            "Refused: '{}' seeds data, and {} does not allow seeding (allow_seed = true in its environment).",
            phase.name, project.environment
        ));
        return;
    }
    gate(state, Gated::Phase(p), fx);
}

/// What a gated action is, for prompts and the journal.
fn is_destructive(state: &State, gated: Gated) -> bool {
    match gated {
        Gated::Phase(p) => state.plan.phases[p].destructive,
        Gated::ApplyMigrations => true,
        Gated::Verify | Gated::Monitor | Gated::SignOff => false,
    }
}

/// Starts a gated action whose gates are all open and that needs no confirmation.
fn start_gated(state: &mut State, gated: Gated, fx: &mut Out) {
    match gated {
        Gated::Phase(p) => start_phase(state, p, fx),
        Gated::ApplyMigrations => {}
        Gated::Verify => super::release::start_verify(state, fx),
        Gated::Monitor => super::release::start_monitor(state, fx),
        Gated::SignOff => super::release::open_form(state),
    }
}

/// Walks a gated action through its gates, opening the first that is closed: unticked checklist items without a
/// reason (destructive actions), then a missing verified backup without a reason (migrations, `needs_backup`
/// phases), then the confirmation itself (destructive actions; others just start).
pub(super) fn gate(state: &mut State, gated: Gated, fx: &mut Out) {
    if let Some((stage, why)) = super::release::blocking_stage(state, gated) {
        let m = super::release::stage_modal(state, gated, stage, why);
        state.ask(m, fx);
        return;
    }
    let unticked = state.unticked();
    let destructive = is_destructive(state, gated);
    let team = destructive
        .then(|| super::release::team::lock_modal(state, TeamAfter::Gated(gated)))
        .flatten();
    let modal = if let Some(m) = team {
        m
    } else if destructive && !unticked.is_empty() && state.checklist_override.is_none() {
        let mut m = Modal::new(
            ModalKind::ChecklistOverride(gated),
            "Checklist incomplete",
            Expect::Reason,
        );
        m.body.push((
            "Action".into(),
            format!(
                "{} is destructive and the checklist is not done.",
                crate::app::prompt::gated_label(&state.plan, gated)
            ),
        ));
        m.body
            .extend(unticked.into_iter().map(|item| ("Unticked".into(), item)));
        m.danger = true;
        m
    } else if let Some(m) = super::backup::gate_modal(state, gated) {
        m
    } else if let Some(m) = super::migrations::drift::drift_modal(state, gated) {
        m
    } else if let Some(m) = super::migrations::impact::will_fail_modal(state, gated) {
        m
    } else if let Some(m) = super::migrations::no_rehearsal_modal(state, gated) {
        m
    } else if destructive {
        match gated {
            Gated::ApplyMigrations => super::migrations::apply_confirmation(state),
            Gated::Phase(p) => phase_confirmation(state, p),
            _ => return start_gated(state, gated, fx),
        }
    } else {
        return start_gated(state, gated, fx);
    };
    state.ask(modal, fx);
}

/// The confirmation for a destructive phase: environment, phase, every command, what it can fall back on.
fn phase_confirmation(state: &State, p: usize) -> Modal {
    let plan = &state.plan;
    let phase = &plan.phases[p];
    let expect = if phase.seed && plan.project.is_production() {
        Expect::Word(format!("seed {}", plan.project.environment))
    } else {
        crate::app::prompt::destructive_expect(&state.plan)
    };
    let title = if phase.seed {
        format!("Seed data: {}", phase.name)
    } else {
        format!("Run destructive phase: {}", phase.name)
    };
    let mut m = Modal::new(ModalKind::RunPhase(p), title, expect);
    if phase.seed {
        m.body.push((
            "Seeding".into(),
            format!("loads seed data into {}", plan.project.environment),
        ));
    }
    m.danger = true;
    m.body
        .push(("Environment".into(), plan.project.environment.clone()));
    m.body.push(("Project".into(), plan.project.name.clone()));
    for (i, step) in phase.steps.iter().enumerate() {
        let mut what = step.run.display.clone();
        if let Some(t) = step.timeout {
            what.push_str(&format!("  (timeout {})", humantime::format_duration(t)));
        }
        if let Some(cwd) = &step.cwd {
            what.push_str(&format!("  (in {})", cwd.display()));
        }
        m.body.push((format!("Step {}", i + 1), what));
    }
    m.body
        .push(("Database".into(), crate::app::text::database_line(state)));
    m.body
        .push(("Backup".into(), crate::app::text::backup_line(state)));
    if let Some(reason) = &state.checklist_override {
        m.body
            .push(("Checklist".into(), format!("overridden: {reason}")));
    }
    m
}

/// The operator typed a reason to go on without a verified backup.
pub(super) fn backup_overridden(state: &mut State, gated: Gated, reason: String, fx: &mut Out) {
    fx.push(Effect::Journal(
        crate::journal::Event::BackupGateOverridden {
            what: crate::app::prompt::gated_label(&state.plan, gated),
            reason: reason.clone(),
        },
    ));
    state.backup.gate_override = Some(reason);
}
