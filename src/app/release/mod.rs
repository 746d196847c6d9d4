//! The release as a sequence of stages — preflight, backup, migrate, deploy, verify, monitor, sign-off — inside
//! `update`. Most stages' states are read off the rest of the state (checklist, backup, migrations, phases); verify,
//! monitor and sign-off keep their own. Every change of a stage's state is journaled (and sent to the webhook) by
//! [`sync`], which runs after each action. A stage starts only once the stages before it passed, were skipped, or
//! the operator typed a reason to go on.

pub mod approval;
mod checks;
mod downs;
mod names;
mod outcome;
mod preflight;
mod recovery;
mod rollback;
mod signoff;
pub mod team;

pub use crate::app::stage::{Stage, StageStatus, row_action};

pub use checks::{MonitorRun, VerifyRun, monitor_left};
pub use outcome::{badge, failure, outcome, outcome_line};
pub use preflight::preflight_line;
pub use recovery::{recovery_left, recovery_wait};
pub use rollback::{DbRollback, RollbackPlan, RollbackRun, RollbackStep, rollback_plan};
pub use signoff::{SignField, SignOffForm};

pub(super) use checks::{
    count_alert, end_monitor, finish_verify_if_done, monitor_stopped, on_smoke, request_monitor,
    request_stage_verify, start_monitor, start_verify, tick_monitor,
};
pub(super) use preflight::{on_preflight, request_preflight};
pub(super) use recovery::poll_recovery;
pub(super) use rollback::{
    before_restore_done, on_counters, on_reverted, request_rollback, restore_done,
    rollback_confirmed, rollback_step_done,
};
pub(super) use signoff::{on_signoff_key, on_signoff_paste, open_form, request_signoff};

use super::msg::Effect;
use super::prompt::{Expect, Gated, Modal, ModalKind};
use super::state::{PhaseStatus, State};
use crate::app::out::Out;
use crate::journal::{Completed, Event, StageResult};
use crate::runner::PreflightResult;

/// The release as the console knows it.
/// The earlier run this one continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    pub previous: String,
    pub completed: Vec<Completed>,
    /// The stage to do next, named once the backup folder and the migration status were read again (or the run
    /// ended first); `None` until then.
    pub next: Option<Stage>,
    /// The verified backup file the earlier run took: adopted once the backup folder's listing confirms it.
    pub backup_file: Option<String>,
    /// The backup folder has been listed since the resume.
    pub listed: bool,
}

#[derive(Debug, Clone, Default)]
pub struct ReleasePane {
    /// Preflight results as they came back (the newest per check).
    pub preflight: Vec<PreflightResult>,
    /// The verified backup this run's first apply went ahead with: what a rollback restores (a backup taken after
    /// the apply holds the migrated schema).
    pub rollback_backup: Option<crate::backup::Archive>,
    /// An apply started since the last dry-run or rehearsal: what was tried has been used up.
    pub tried_spent: bool,
    /// Checks the preflight under way asked for.
    pub preflight_expected: usize,
    /// Stages the operator went past with a typed reason.
    pub overrides: Vec<(Stage, String)>,
    /// The states last journaled, to journal only changes.
    pub journaled: Vec<StageStatus>,
    pub verify: VerifyRun,
    pub monitor: Option<MonitorRun>,
    pub signoff: Option<SignOffForm>,
    /// The form closed with Esc, kept for when it opens again.
    pub form_kept: Option<SignOffForm>,
    /// Who signed the release off.
    pub signed: Option<String>,
    /// Migrations applied by this run (and the runs it resumed), oldest first: what a rollback reverts.
    pub applied: Vec<String>,
    pub rollback: Option<RollbackRun>,
    /// The reason of a rollback asked for whose prompt waits for the write counters.
    pub rollback_asked: Option<String>,
    /// What the restore of the rollback prompt open now loses (journaled when it is confirmed).
    pub loss: Option<crate::backup::counters::Loss>,
    /// The down files the rollback prompt open now shows: what its revert may run.
    pub downs_shown: Vec<crate::migrate::revert::ShownDown>,
    /// The reason typed to apply migrations without a dry-run or rehearsal in this run.
    pub no_rehearsal: Option<String>,
    /// Who runs the console (prefills the sign-off).
    pub operator: String,
    /// The earlier run this one continues.
    pub resumed: Option<Resume>,
    /// With `[team]`: the release lock's state when it is not plainly held (`None`: held, or no team).
    pub team_lock: Option<crate::team::lock::LockState>,
    /// Why the operator goes on with destructive actions while the team lock is not held.
    pub team_override: Option<String>,
    /// A confirmed destructive action waiting for a second operator's approval.
    pub approval: Option<approval::ApprovalWait>,
}

/// The state of `stage` now.
pub fn status(state: &State, stage: Stage) -> StageStatus {
    let undone = (state.release.rollback.as_ref()).is_some_and(|r| r.undone.contains(&stage));
    if undone {
        return StageStatus::RolledBack;
    }
    let base = base_status(state, stage);
    let overridden = state.release.overrides.iter().any(|(s, _)| *s == stage);
    if overridden && !matches!(base, StageStatus::Passed | StageStatus::Skipped) {
        StageStatus::Overridden
    } else {
        base
    }
}

fn base_status(state: &State, stage: Stage) -> StageStatus {
    let r = &state.release;
    match stage {
        Stage::Preflight => preflight::status(state),
        Stage::Backup => {
            let b = &state.backup;
            if state.plan.backup.is_none() {
                StageStatus::Skipped
            } else if b.verified.is_some() {
                StageStatus::Passed
            } else if matches!(
                state.backup_work(),
                Some(super::busy::BackupWork::Taking | super::busy::BackupWork::Verifying)
            ) {
                StageStatus::Running
            } else if b.gate_override.is_some() {
                StageStatus::Overridden
            } else if b.taken.is_some() {
                StageStatus::Failed
            } else {
                StageStatus::Pending
            }
        }
        Stage::Migrate => {
            if state.plan.database.is_none() {
                return StageStatus::Skipped;
            }
            if state.op.is_some_and(super::busy::Operation::applying) {
                return StageStatus::Running;
            }
            if state.db.failed {
                return StageStatus::Failed;
            }
            match state.db.snapshot() {
                Some(s) if s.status.pending().is_empty() && s.status.blocking().is_empty() => {
                    StageStatus::Passed
                }
                _ => StageStatus::Pending,
            }
        }
        Stage::Deploy => {
            // Seeding and optional phases are outside the stage: one running, failed or never run changes nothing.
            let required: Vec<_> = (state.phases.iter().zip(&state.plan.phases))
                .filter(|(_, def)| def.in_deploy())
                .map(|(run, _)| run.status)
                .collect();
            if required.contains(&PhaseStatus::Running) {
                StageStatus::Running
            } else if required.is_empty() {
                StageStatus::Skipped
            } else if required.iter().any(|s| {
                matches!(
                    s,
                    PhaseStatus::Failed | PhaseStatus::Cancelled | PhaseStatus::Interrupted
                )
            }) {
                StageStatus::Failed
            } else if required.iter().all(|s| *s == PhaseStatus::Succeeded) {
                StageStatus::Passed
            } else {
                StageStatus::Pending
            }
        }
        Stage::Verify => checks::verify_status(state),
        Stage::Monitor => checks::monitor_status(state),
        Stage::SignOff => match (&r.signed, &r.signoff) {
            (Some(_), _) => StageStatus::Passed,
            (None, Some(_)) => StageStatus::Running,
            (None, None) => StageStatus::Pending,
        },
    }
}

/// One line per stage that is not done, for prompts: `migrate: 2 pending migrations`.
pub fn why_not_done(state: &State, stage: Stage) -> String {
    match stage {
        Stage::Preflight => preflight::blockers(state).join("; "),
        Stage::Backup => "no verified backup in this run".into(),
        Stage::Migrate => match state.db.snapshot() {
            None => "the migration status has not been read".into(),
            Some(s) => {
                let pending = s.status.pending().len();
                let blocking = s.status.blocking().len();
                match (pending, blocking, state.db.failed) {
                    (_, _, true) => "an apply failed in this run".into(),
                    (_, b, _) if b > 0 => format!("{b} migration(s) need resolving"),
                    (p, _, _) => format!("{p} migration(s) pending"),
                }
            }
        },
        Stage::Deploy => {
            let plan = &state.plan.phases;
            let open: Vec<String> = (0..plan.len())
                .filter(|i| {
                    plan[*i].in_deploy() && state.phases[*i].status != PhaseStatus::Succeeded
                })
                .map(|i| {
                    let s = format!("{:?}", state.phases[i].status).to_lowercase();
                    format!("{} ({s})", plan[i].name)
                })
                .collect();
            format!("not succeeded: {}", open.join(", "))
        }
        Stage::Verify => checks::verify_blockers(state),
        Stage::Monitor => match &state.release.monitor {
            None => "monitoring has not run".into(),
            Some(m) if m.result.is_none() => "monitoring is still running".into(),
            Some(m) => format!("monitoring ended with {} alert(s)", m.alerts),
        },
        Stage::SignOff => "not signed off".into(),
    }
}

/// The stage a gated action belongs to.
fn stage_of(gated: Gated) -> Stage {
    match gated {
        Gated::ApplyMigrations => Stage::Migrate,
        Gated::Phase(_) => Stage::Deploy,
        Gated::Verify => Stage::Verify,
        Gated::Monitor => Stage::Monitor,
        Gated::SignOff => Stage::SignOff,
    }
}

/// The first stage before `gated`'s that is neither done nor handled by its own gate (the checklist and the
/// backup have theirs), with what is missing.
pub(super) fn blocking_stage(state: &State, gated: Gated) -> Option<(Stage, String)> {
    // Read-only phases (not destructive, not seeding) run at any time, and so do the rollback's own steps (the
    // phase after the deploy phases): the stage order gates what changes the system.
    if let Gated::Phase(i) = gated {
        let changes = state
            .plan
            .phases
            .get(i)
            .is_some_and(|p| p.destructive || p.seed);
        if !changes {
            return None;
        }
    }
    let target = stage_of(gated);
    for stage in order(state).into_iter().take_while(|s| *s != target) {
        if status(state, stage).done() {
            continue;
        }
        // Migrations and `needs_backup` phases ask about the backup in their own gate.
        if stage == Stage::Backup && super::prompt::needs_backup(&state.plan, gated) {
            continue;
        }
        if stage == Stage::Preflight {
            // Destructive actions ask about the checklist in their own gate; the later stages find it here.
            let mut blockers = preflight::blockers(state);
            let unticked = state.unticked().len();
            let passed_over = state
                .release
                .overrides
                .iter()
                .any(|(s, _)| *s == Stage::Preflight);
            if unticked > 0
                && state.checklist_override.is_none()
                && !passed_over
                && matches!(gated, Gated::Verify | Gated::Monitor | Gated::SignOff)
            {
                blockers.push(format!("checklist: {unticked} item(s) unticked"));
            }
            if blockers.is_empty() {
                continue;
            }
            return Some((stage, blockers.join("; ")));
        }
        return Some((stage, why_not_done(state, stage)));
    }
    None
}

/// The prompt to go on past a stage that has not passed: a typed reason, journaled.
pub(super) fn stage_modal(state: &State, gated: Gated, stage: Stage, why: String) -> Modal {
    let mut m = Modal::new(
        ModalKind::StageOverride(gated, stage),
        format!("The {} stage has not passed", stage.name()),
        Expect::Reason,
    );
    m.danger = true;
    m.body.push((
        "Next".into(),
        crate::app::prompt::gated_label(&state.plan, gated).to_string(),
    ));
    m.body.push(("Missing".into(), why));
    m.body.push((
        "To go on".into(),
        "type why it is safe to continue (journaled and in the report)".into(),
    ));
    m
}

/// The operator typed a reason to go on past `stage`.
pub(super) fn stage_overridden(state: &mut State, stage: Stage, reason: String, fx: &mut Out) {
    fx.push(Effect::Journal(Event::StageOverridden {
        stage,
        reason: reason.clone(),
        blockers: names::blockers(state, stage),
        detail: why_not_done(state, stage),
    }));
    state.release.overrides.push((stage, reason));
}

/// Journals (and notifies) every stage whose state changed since the last call.
pub(super) fn sync(state: &mut State, fx: &mut Out) {
    sync_into(state, fx);
}

fn sync_into(state: &mut State, fx: &mut Out) {
    let stages = order(state);
    let now: Vec<StageStatus> = stages.iter().map(|s| status(state, *s)).collect();
    if state.release.journaled.len() != now.len() {
        // The first call records where the run starts from without journaling it.
        state.release.journaled = now;
        return;
    }
    for (i, stage) in stages.into_iter().enumerate() {
        let (was, is) = (state.release.journaled[i], now[i]);
        if was == is {
            continue;
        }
        match is {
            StageStatus::Running => fx.push(Effect::Journal(Event::StageStarted { stage })),
            StageStatus::Passed
            | StageStatus::Failed
            | StageStatus::Skipped
            | StageStatus::RolledBack => {
                let detail = if is == StageStatus::Failed {
                    why_not_done(state, stage)
                } else {
                    String::new()
                };
                let result = match is {
                    StageStatus::Passed => StageResult::Passed,
                    StageStatus::Failed => StageResult::Failed,
                    StageStatus::RolledBack => StageResult::RolledBack,
                    _ => StageResult::Skipped,
                };
                fx.push(Effect::Journal(Event::StageFinished {
                    stage,
                    result,
                    detail: detail.clone(),
                }));
                let mut text = format!("stage {}: {}", stage.name(), is.label());
                if !detail.is_empty() {
                    text.push_str(&format!(" ({detail})"));
                }
                fx.notify("stage", text);
            }
            StageStatus::Pending | StageStatus::Overridden => {}
        }
    }
    state.release.journaled = now;
}

/// The release's stages in the order they gate one another: the plan's `[release] order` (deckhand's default
/// order unless the runbook deploys before it migrates, say).
pub fn order(state: &State) -> Vec<Stage> {
    state
        .plan
        .stage_order
        .iter()
        .filter_map(|name| Stage::from_name(name))
        .collect()
}

/// The stage strip at the top of the checklist pane: one mark per stage, in the plan's order.
pub fn strip(state: &State) -> Vec<(Stage, StageStatus)> {
    order(state)
        .into_iter()
        .map(|s| (s, status(state, s)))
        .collect()
}

/// The stage the release is at: the first that is not done.
pub fn current(state: &State) -> Option<Stage> {
    order(state).into_iter().find(|s| !status(state, *s).done())
}

/// The line under a stage's row in the checklist pane.
pub fn detail(state: &State, stage: Stage) -> String {
    let st = status(state, stage);
    match stage {
        Stage::Migrate => match state.db.snapshot() {
            None => "reading the migration status…".into(),
            Some(s) => {
                let pending = s.status.pending().len();
                // The same test as the apply's gate: what counts is a passing try not used up by an apply.
                let tried = if state.tried_ok() {
                    "tried"
                } else if !state.release.tried_spent
                    && (state.db.rehearsal.is_some() || state.backup.rehearsal.is_some())
                {
                    "the try FAILED (d / E)"
                } else {
                    "not tried yet (d / E)"
                };
                match (pending, st) {
                    (_, StageStatus::Running) => match state.db.waiting.as_ref() {
                        // Who it is, in the migrations pane.
                        Some(w) => match w.holders.first() {
                            Some(h) if !h.is_prepared() => {
                                format!("applying: waiting for a lock held by pid {}", h.pid)
                            }
                            _ => "applying: waiting for a lock".into(),
                        },
                        None => "applying…".into(),
                    },
                    (0, _) => "nothing pending".into(),
                    (n, _) => format!("{n} pending · {tried} · a applies"),
                }
            }
        },
        Stage::Verify if st == StageStatus::Skipped => "nothing to verify in this plan".into(),
        Stage::Verify if recovery_left(state).is_some() => format!(
            "after rollback: waiting for health to recover · {} left",
            crate::app::text::format_clock(recovery_left(state).unwrap_or_default())
        ),
        Stage::Verify => {
            let v = &state.release.verify;
            match (v.running, v.result) {
                (true, _) => "running…".into(),
                (false, Some(true)) => "passed".into(),
                (false, Some(false)) => v.problems.join("; "),
                (false, None) => {
                    let p = &state.plan;
                    format!(
                        "{} SQL · {} smoke · {} health",
                        p.verify.len(),
                        p.smoke.len(),
                        p.health.len()
                    )
                }
            }
        }
        Stage::Monitor => match &state.release.monitor {
            None => format!(
                "{} watch",
                crate::app::text::format_clock(state.plan.monitor.duration)
            ),
            Some(m) if m.result.is_none() => format!(
                "{} left · {} alert(s)",
                crate::app::text::format_clock(monitor_left(m, state.now)),
                m.alerts
            ),
            Some(m) => format!(
                "{} · {} alert(s)",
                m.result.clone().unwrap_or_default(),
                m.alerts
            ),
        },
        Stage::SignOff => match &state.release.signed {
            Some(by) => format!("signed off by {by}"),
            None => "notes, then who signs".into(),
        },
        _ => st.label().into(),
    }
}
