//! The release's stages and their states: the shared vocabulary of the release room, the prompts (a stage override
//! names its stage), the key hints and the journal (each stage's stable journal name). Kernel: imports no room.

/// The stages of a release, in order: the journal's own type, so the journal names exactly what the console
/// tracks.
pub use crate::journal::Stage;

/// Where a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageStatus {
    Pending,
    Running,
    Passed,
    Failed,
    /// Nothing to do in this plan.
    Skipped,
    /// Not passed, but the operator went on with a typed reason.
    Overridden,
    /// Done, then undone by this run's rollback.
    RolledBack,
}

impl StageStatus {
    pub fn label(self) -> &'static str {
        match self {
            StageStatus::Pending => "pending",
            StageStatus::Running => "running",
            StageStatus::Passed => "passed",
            StageStatus::Failed => "failed",
            StageStatus::Skipped => "skipped",
            StageStatus::Overridden => "overridden",
            StageStatus::RolledBack => "rolled back",
        }
    }

    /// Lets the next stage start.
    pub fn done(self) -> bool {
        matches!(
            self,
            StageStatus::Passed | StageStatus::Skipped | StageStatus::Overridden
        )
    }
}

/// What Enter does on a stage's row (status bar hint).
pub fn row_action(stage: Stage) -> &'static str {
    match stage {
        Stage::Preflight => "check again",
        Stage::Backup => "back up",
        Stage::Migrate => "migrations",
        Stage::Deploy => "run phase",
        Stage::Verify => "verify",
        Stage::Monitor => "monitor",
        Stage::SignOff => "sign off",
    }
}
