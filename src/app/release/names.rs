//! The release's stages and what kept them from passing, as the journal names them (`journal::Stage`,
//! `journal::Blocker`): the one place the app's stage state is turned into the journal's typed vocabulary.

use super::{Stage, StageStatus, preflight};
use crate::app::state::State;
use crate::journal::Blocker;

/// What keeps `stage` from passing, as the journal names it (`why_not_done` says it for people).
pub(super) fn blockers(state: &State, stage: Stage) -> Vec<Blocker> {
    let r = &state.release;
    let one = match stage {
        Stage::Preflight => {
            let mut out = Vec::new();
            if preflight::status(state) == StageStatus::Failed {
                out.push(Blocker::PreflightFailed);
            }
            if r.preflight.len() < r.preflight_expected {
                out.push(Blocker::PreflightRunning);
            }
            if !state.unticked().is_empty() && state.checklist_override.is_none() {
                out.push(Blocker::ChecklistUnticked);
            }
            return out;
        }
        Stage::Backup => Blocker::NoVerifiedBackup,
        Stage::Migrate => match state.db.snapshot() {
            None => Blocker::MigrationStatusUnknown,
            Some(_) if state.db.failed => Blocker::ApplyFailed,
            Some(s) if !s.status.blocking().is_empty() => Blocker::MigrationsUnresolved,
            Some(_) => Blocker::MigrationsPending,
        },
        Stage::Deploy => Blocker::PhasesNotSucceeded,
        Stage::Verify => match r.verify.result {
            None if r.verify.running => Blocker::VerifyRunning,
            None => Blocker::VerifyNotRun,
            Some(_) => Blocker::VerifyFailed,
        },
        Stage::Monitor => match &r.monitor {
            None => Blocker::MonitorNotRun,
            Some(m) if m.result.is_none() => Blocker::MonitorRunning,
            Some(_) => Blocker::MonitorAlerted,
        },
        Stage::SignOff => Blocker::NotSignedOff,
    };
    vec![one]
}
