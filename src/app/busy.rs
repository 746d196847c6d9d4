//! One operation at a time, as a type: what is under way (a step, database work, backup work, or a part of the
//! rollback), and the one refusal that names it; and where a phase stands. Reading the migration status is not an operation: it runs
//! beside them. Imports only runner ids.

use crate::runner::StepId;

/// Database work that excludes every other operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbWork {
    Applying,
    Rehearsing,
    Resolving,
    /// `DROP INDEX CONCURRENTLY` of an invalid index.
    DroppingIndex,
}

/// Backup work that excludes every other operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupWork {
    Taking,
    Verifying,
    Restoring,
    Rehearsing,
}

impl BackupWork {
    pub fn label(self) -> &'static str {
        match self {
            BackupWork::Taking => "backing up",
            BackupWork::Verifying => "verifying",
            BackupWork::Restoring => "restoring",
            BackupWork::Rehearsing => "rehearsing",
        }
    }
}

/// The part of a rollback under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackWork {
    /// One of the `[rollback]` code steps.
    Step(StepId),
    /// The down migrations.
    Reverting,
    /// The restore of this run's backup.
    Restoring,
}

/// What is under way. Nothing else starts until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Step {
        id: StepId,
        cancelling: bool,
    },
    Db(DbWork),
    Backup(BackupWork),
    Rollback {
        work: RollbackWork,
        cancelling: bool,
    },
}

impl Operation {
    /// The step that runs, a deploy phase's or the rollback's.
    pub fn step(self) -> Option<StepId> {
        match self {
            Operation::Step { id, .. }
            | Operation::Rollback {
                work: RollbackWork::Step(id),
                ..
            } => Some(id),
            _ => None,
        }
    }

    /// A cancel of the running step was asked for.
    pub fn cancelling(self) -> bool {
        matches!(
            self,
            Operation::Step {
                cancelling: true,
                ..
            } | Operation::Rollback {
                cancelling: true,
                ..
            }
        )
    }

    /// The backup work under way (the rollback's restore is one).
    pub fn backup(self) -> Option<BackupWork> {
        match self {
            Operation::Backup(b) => Some(b),
            Operation::Rollback {
                work: RollbackWork::Restoring,
                ..
            } => Some(BackupWork::Restoring),
            _ => None,
        }
    }

    /// Migrations are being applied (the one in flight commits or rolls back before anything else).
    pub fn applying(self) -> bool {
        self == Operation::Db(DbWork::Applying)
    }

    /// The database is being changed or rehearsed on (a rollback's down migrations included).
    pub fn db(self) -> bool {
        matches!(
            self,
            Operation::Db(_)
                | Operation::Rollback {
                    work: RollbackWork::Reverting,
                    ..
                }
        )
    }

    /// What is under way, for a sentence: "a step", "backing up", "the rollback's restore".
    pub fn label(self) -> String {
        match self {
            Operation::Step { .. } => "a step".into(),
            Operation::Db(DbWork::Applying) => "applying migrations".into(),
            Operation::Db(DbWork::Rehearsing) => "a dry-run of the migrations".into(),
            Operation::Db(DbWork::Resolving) => "a ledger change".into(),
            Operation::Db(DbWork::DroppingIndex) => "dropping an invalid index".into(),
            Operation::Backup(b) => b.label().into(),
            Operation::Rollback { work, .. } => match work {
                RollbackWork::Step(_) => "a rollback step".into(),
                RollbackWork::Reverting => "the rollback's down migrations".into(),
                RollbackWork::Restoring => "the rollback's restore".into(),
            },
        }
    }

    /// The one refusal of anything else while this runs.
    pub fn refusal(self) -> String {
        let how = if self.step().is_some() || self.backup().is_some() {
            "wait for it, or cancel it with c"
        } else {
            "wait for it"
        };
        format!("Not now: {} is under way ({how}).", self.label())
    }
}

/// Where a phase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// Stopped between two steps by a hang-up: Enter continues from the first step that did not run.
    Interrupted,
}
