//! How the run stands and ends: one [`Outcome`] — signed off, rolled back, failed, aborted or unfinished — read
//! off the state, for the header, the quit's journal entry, the exit code and (through the journal) `history`
//! and the report. Imports the kernel and the release room's own parts.

use super::{RollbackStep, StageStatus, status, why_not_done};
use crate::app::state::{PhaseStatus, State};
use crate::journal::Outcome;

/// How the run would end if it ended now.
pub fn outcome(state: &State) -> Outcome {
    if let Some(run) = &state.release.rollback {
        return match run.step {
            // The code and database parts are done: the release is rolled back, unless the rollback or the verify
            // after it failed.
            RollbackStep::Done | RollbackStep::Recovering { .. } | RollbackStep::Verify
                if run.ok && run.verified != Some(false) =>
            {
                Outcome::RolledBack
            }
            RollbackStep::Done | RollbackStep::Recovering { .. } | RollbackStep::Verify => {
                Outcome::Failed
            }
            // Ended mid-rollback.
            RollbackStep::First | RollbackStep::Code | RollbackStep::Database if state.aborted => {
                Outcome::Aborted
            }
            RollbackStep::First | RollbackStep::Code | RollbackStep::Database => Outcome::Failed,
        };
    }
    if state.release.signed.is_some() {
        Outcome::SignedOff
    } else if state.aborted {
        Outcome::Aborted
    } else if failure(state).is_some() {
        Outcome::Failed
    } else {
        Outcome::Unfinished
    }
}

/// What failed and was not gone past: the first failed stage with why, or a failed seeding phase (an optional
/// phase is outside the release: its failure is not the release's).
pub fn failure(state: &State) -> Option<String> {
    for stage in super::order(state) {
        if status(state, stage) == StageStatus::Failed {
            return Some(format!("{}: {}", stage.name(), why_not_done(state, stage)));
        }
    }
    let plan = &state.plan.phases;
    (0..plan.len())
        .find(|i| !plan[*i].optional && state.phases[*i].status == PhaseStatus::Failed)
        .map(|i| format!("phase {} failed", plan[i].name))
}

/// One line saying how the run stands: the outcome and its reason (for the header's badge and the report).
pub fn outcome_line(state: &State) -> String {
    let o = outcome(state);
    let why = match o {
        Outcome::SignedOff => state
            .release
            .signed
            .as_ref()
            .map(|by| format!("by {by}"))
            .unwrap_or_default(),
        Outcome::RolledBack | Outcome::Failed if state.release.rollback.is_some() => state
            .release
            .rollback
            .as_ref()
            .map(|r| r.detail.join("; "))
            .unwrap_or_default(),
        Outcome::Failed => failure(state).unwrap_or_default(),
        Outcome::RolledBack | Outcome::Aborted | Outcome::Unfinished => String::new(),
    };
    if why.is_empty() {
        o.name().to_string()
    } else {
        format!("{}: {why}", o.name())
    }
}

/// The header's badge: the outcome once there is one to show (nothing while the release simply goes on).
pub fn badge(state: &State) -> Option<(&'static str, bool)> {
    let rolling = state.release.rollback.as_ref().is_some_and(|r| {
        matches!(
            r.step,
            RollbackStep::First | RollbackStep::Code | RollbackStep::Database
        )
    });
    if rolling {
        return Some(("ROLLING BACK", true));
    }
    match outcome(state) {
        Outcome::SignedOff => Some(("SIGNED OFF", false)),
        Outcome::RolledBack => Some(("ROLLED BACK", true)),
        Outcome::Failed => Some(("FAILED", true)),
        Outcome::Aborted => Some(("ABORTED", true)),
        Outcome::Unfinished => None,
    }
}
