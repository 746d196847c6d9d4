//! The release's stages and their states: the shared vocabulary of the release room, the prompts (a stage override
//! names its stage), the key hints and the journal (each stage's stable journal name). Kernel: imports no room.

use crate::journal;

/// The stages of a release, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    Preflight,
    Backup,
    Migrate,
    Deploy,
    Verify,
    Monitor,
    SignOff,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Preflight,
        Stage::Backup,
        Stage::Migrate,
        Stage::Deploy,
        Stage::Verify,
        Stage::Monitor,
        Stage::SignOff,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Preflight => "preflight",
            Stage::Backup => "backup",
            Stage::Migrate => "migrate",
            Stage::Deploy => "deploy",
            Stage::Verify => "verify",
            Stage::Monitor => "monitor",
            Stage::SignOff => "sign-off",
        }
    }

    pub fn index(self) -> usize {
        Stage::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }
}

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

impl Stage {
    /// The journal's name for this stage.
    pub fn journal(self) -> journal::Stage {
        match self {
            Stage::Preflight => journal::Stage::Preflight,
            Stage::Backup => journal::Stage::Backup,
            Stage::Migrate => journal::Stage::Migrate,
            Stage::Deploy => journal::Stage::Deploy,
            Stage::Verify => journal::Stage::Verify,
            Stage::Monitor => journal::Stage::Monitor,
            Stage::SignOff => journal::Stage::SignOff,
        }
    }
}

impl From<journal::Stage> for Stage {
    fn from(s: journal::Stage) -> Stage {
        match s {
            journal::Stage::Preflight => Stage::Preflight,
            journal::Stage::Backup => Stage::Backup,
            journal::Stage::Migrate => Stage::Migrate,
            journal::Stage::Deploy => Stage::Deploy,
            journal::Stage::Verify => Stage::Verify,
            journal::Stage::Monitor => Stage::Monitor,
            journal::Stage::SignOff => Stage::SignOff,
        }
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
