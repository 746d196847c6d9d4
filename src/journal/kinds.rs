//! The closed sets the journal records — release stages and their results, step and phase results, what kept a
//! stage from passing, how a restore ran, what a resumed run found done — as enums with stable serde names.
//! Resume and reports match on these, never on sentences. Journals written before they were typed still parse:
//! the old strings map to the same values (aliases, or a legacy parse where the old text carried a number).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A release stage, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Preflight,
    Backup,
    Migrate,
    Deploy,
    Verify,
    Monitor,
    #[serde(rename = "sign-off", alias = "sign_off")]
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

    pub fn index(self) -> usize {
        Stage::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    pub fn from_name(name: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.name() == name)
    }

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
}

/// How a stage ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageResult {
    Passed,
    Failed,
    /// Nothing to do in this plan.
    Skipped,
    Interrupted,
    /// Done, then undone by the run's rollback.
    RolledBack,
}

impl StageResult {
    pub fn name(self) -> &'static str {
        match self {
            StageResult::Passed => "passed",
            StageResult::Failed => "failed",
            StageResult::Skipped => "skipped",
            StageResult::Interrupted => "interrupted",
            StageResult::RolledBack => "rolled back",
        }
    }
}

/// How a run ended: the one answer the screen, the exit code, `deckhand history` and the report all give.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Somebody signed the release off.
    SignedOff,
    /// The release was rolled back, and the verify after it did not fail.
    RolledBack,
    /// Something failed and was not gone past: a step, a stage, an apply, the rollback or the verify after it.
    Failed,
    /// Ended without the operator's say while something ran: a quit mid-step, a signal, a lost terminal.
    Aborted,
    /// Quit before sign-off with nothing failed.
    Unfinished,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::SignedOff => "signed off",
            Outcome::RolledBack => "rolled back",
            Outcome::Failed => "failed",
            Outcome::Aborted => "aborted",
            Outcome::Unfinished => "unfinished",
        }
    }

    /// 0 signed off, 5 rolled back, 1 otherwise.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::SignedOff => 0,
            Outcome::RolledBack => 5,
            Outcome::Failed | Outcome::Aborted | Outcome::Unfinished => 1,
        }
    }
}

/// How a phase ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseResult {
    Succeeded,
    Failed,
    Cancelled,
    /// The console went away between or during its steps; the next console continues it.
    Interrupted,
}

impl PhaseResult {
    pub fn name(self) -> &'static str {
        match self {
            PhaseResult::Succeeded => "succeeded",
            PhaseResult::Failed => "failed",
            PhaseResult::Cancelled => "cancelled",
            PhaseResult::Interrupted => "interrupted",
        }
    }
}

/// How a step ended (its exit code, signal or failure text are fields beside it).
/// Before it was typed the journal held a sentence ("exit 0", "killed by signal 9", "failed to start: …"), which
/// still parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum StepResult {
    Exited,
    /// Killed by a signal deckhand did not send.
    Signalled,
    TimedOut,
    Cancelled,
    SpawnFailed,
}

impl StepResult {
    pub const ALL: [StepResult; 5] = [
        StepResult::Exited,
        StepResult::Signalled,
        StepResult::TimedOut,
        StepResult::Cancelled,
        StepResult::SpawnFailed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StepResult::Exited => "exited",
            StepResult::Signalled => "signalled",
            StepResult::TimedOut => "timed_out",
            StepResult::Cancelled => "cancelled",
            StepResult::SpawnFailed => "spawn_failed",
        }
    }

    /// The outcome as a person reads it, with the fields journaled beside it.
    pub fn describe(self, exit_code: Option<i32>, signal: Option<i32>, detail: &str) -> String {
        let with = |what: &str, n: Option<i32>| match n {
            Some(n) => format!("{what} {n}"),
            None => what.to_string(),
        };
        match self {
            StepResult::Exited => with("exit", exit_code),
            StepResult::Signalled => with("killed by signal", signal),
            StepResult::TimedOut => "timed out (process group terminated)".into(),
            StepResult::Cancelled => "cancelled (process group terminated)".into(),
            StepResult::SpawnFailed if detail.is_empty() => "failed to start".into(),
            StepResult::SpawnFailed => format!("failed to start: {detail}"),
        }
    }
}

impl TryFrom<String> for StepResult {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        if let Some(r) = StepResult::ALL.into_iter().find(|r| r.name() == s) {
            return Ok(r);
        }
        // The sentences written before the result was typed.
        let legacy = [
            ("exit ", StepResult::Exited),
            ("killed by signal", StepResult::Signalled),
            ("timed out", StepResult::TimedOut),
            ("cancelled", StepResult::Cancelled),
            ("failed to start", StepResult::SpawnFailed),
        ];
        legacy
            .into_iter()
            .find(|(prefix, _)| s.starts_with(prefix))
            .map(|(_, r)| r)
            .ok_or_else(|| format!("unknown step outcome {s:?}"))
    }
}

/// How a monitor window ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorResult {
    Passed,
    Alerted,
    Stopped,
}

impl MonitorResult {
    pub fn name(self) -> &'static str {
        match self {
            MonitorResult::Passed => "passed",
            MonitorResult::Alerted => "alerted",
            MonitorResult::Stopped => "stopped",
        }
    }
}

/// What kept a stage from passing when the operator went on past it.
/// Journals from before it was typed hold sentences: the fixed ones map to their value, the others (which carried
/// counts or names) are kept as they were written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocker {
    /// A preflight check failed (database, health endpoint, log source, deploy window).
    PreflightFailed,
    /// Preflight checks had not all answered.
    PreflightRunning,
    ChecklistUnticked,
    #[serde(alias = "no verified backup in this run")]
    NoVerifiedBackup,
    #[serde(alias = "the migration status has not been read")]
    MigrationStatusUnknown,
    #[serde(alias = "an apply failed in this run")]
    ApplyFailed,
    MigrationsUnresolved,
    MigrationsPending,
    /// Migrations applied without a passing dry-run or rehearsal in this run.
    #[serde(alias = "no dry-run or rehearsal in this run")]
    Untried,
    /// Migrations applied although a statement will fail on the live data (counted before the apply).
    WillFail,
    /// Migrations applied although the live schema differs from what its applied history produces.
    Drift,
    PhasesNotSucceeded,
    #[serde(alias = "verify has not run")]
    VerifyNotRun,
    #[serde(alias = "verify is still running")]
    VerifyRunning,
    VerifyFailed,
    #[serde(alias = "monitoring has not run")]
    MonitorNotRun,
    #[serde(alias = "monitoring is still running")]
    MonitorRunning,
    MonitorAlerted,
    #[serde(alias = "not signed off")]
    NotSignedOff,
    /// A sentence from a journal written before blockers were typed.
    #[serde(untagged)]
    Legacy(String),
}

impl Blocker {
    /// The stable name (the serde one); a legacy blocker's sentence as written.
    pub fn name(&self) -> &str {
        match self {
            Blocker::PreflightFailed => "preflight_failed",
            Blocker::PreflightRunning => "preflight_running",
            Blocker::ChecklistUnticked => "checklist_unticked",
            Blocker::NoVerifiedBackup => "no_verified_backup",
            Blocker::MigrationStatusUnknown => "migration_status_unknown",
            Blocker::ApplyFailed => "apply_failed",
            Blocker::MigrationsUnresolved => "migrations_unresolved",
            Blocker::MigrationsPending => "migrations_pending",
            Blocker::Untried => "untried",
            Blocker::WillFail => "will_fail",
            Blocker::Drift => "drift",
            Blocker::PhasesNotSucceeded => "phases_not_succeeded",
            Blocker::VerifyNotRun => "verify_not_run",
            Blocker::VerifyRunning => "verify_running",
            Blocker::VerifyFailed => "verify_failed",
            Blocker::MonitorNotRun => "monitor_not_run",
            Blocker::MonitorRunning => "monitor_running",
            Blocker::MonitorAlerted => "monitor_alerted",
            Blocker::NotSignedOff => "not_signed_off",
            Blocker::Legacy(text) => text,
        }
    }
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a restore ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum RestoreKind {
    InPlace,
    /// Into a new database (named beside it).
    NewDatabase,
    /// In place by a rollback: tables created since the backup are dropped.
    Rollback,
}

impl RestoreKind {
    pub fn name(self) -> &'static str {
        match self {
            RestoreKind::InPlace => "in_place",
            RestoreKind::NewDatabase => "new_database",
            RestoreKind::Rollback => "rollback",
        }
    }

    /// As a person reads it.
    pub fn describe(self, new_database: Option<&str>) -> String {
        match self {
            RestoreKind::InPlace => "in place".into(),
            RestoreKind::NewDatabase => match new_database {
                Some(n) => format!("into new database {n}"),
                None => "into a new database".into(),
            },
            RestoreKind::Rollback => "in place, tables created since the backup dropped".into(),
        }
    }
}

impl TryFrom<String> for RestoreKind {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        let all = [
            RestoreKind::InPlace,
            RestoreKind::NewDatabase,
            RestoreKind::Rollback,
        ];
        if let Some(k) = all.into_iter().find(|k| k.name() == s) {
            return Ok(k);
        }
        // The sentences written before the mode was typed.
        match s.as_str() {
            "in place" => Ok(RestoreKind::InPlace),
            _ if s.starts_with("into new database") => Ok(RestoreKind::NewDatabase),
            _ if s.starts_with("in place,") || s.starts_with("in place (rollback)") => {
                Ok(RestoreKind::Rollback)
            }
            _ => Err(format!("unknown restore mode {s:?}")),
        }
    }
}

/// What a resumed run found done in the runs it continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Completed {
    Checklist {
        ticked: usize,
        of: usize,
    },
    /// The verified backup the earlier run took (adopted once the backup folder confirms it).
    Backup {
        file: String,
    },
    Migrations {
        applied: Vec<String>,
    },
    Phase {
        name: String,
    },
    Monitoring {
        result: MonitorResult,
    },
    /// A sentence from a journal written before this was typed ("checklist 2/2", "phase Deploy").
    #[serde(untagged)]
    Legacy(String),
}

impl fmt::Display for Completed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Completed::Checklist { ticked, of } => write!(f, "checklist {ticked}/{of}"),
            Completed::Backup { file } => write!(f, "backup {file}"),
            Completed::Migrations { applied } => {
                write!(f, "migrations applied: {}", applied.join(", "))
            }
            Completed::Phase { name } => write!(f, "phase {name}"),
            Completed::Monitoring { result } => write!(f, "monitoring {}", result.name()),
            Completed::Legacy(text) => f.write_str(text),
        }
    }
}

macro_rules! display_by_name {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    )*};
}
display_by_name!(
    Stage,
    StageResult,
    PhaseResult,
    StepResult,
    MonitorResult,
    RestoreKind
);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{from_str, to_string};

    #[test]
    fn names_are_the_serde_names() {
        for s in [Stage::Preflight, Stage::Migrate, Stage::SignOff] {
            assert_eq!(to_string(&s).unwrap(), format!("\"{}\"", s.name()));
        }
        for r in StepResult::ALL {
            assert_eq!(to_string(&r).unwrap(), format!("\"{}\"", r.name()));
            assert_eq!(from_str::<StepResult>(&to_string(&r).unwrap()).unwrap(), r);
        }
        for k in [
            RestoreKind::InPlace,
            RestoreKind::NewDatabase,
            RestoreKind::Rollback,
        ] {
            assert_eq!(from_str::<RestoreKind>(&to_string(&k).unwrap()).unwrap(), k);
        }
        let typed = [
            Blocker::PreflightFailed,
            Blocker::PreflightRunning,
            Blocker::ChecklistUnticked,
            Blocker::NoVerifiedBackup,
            Blocker::MigrationStatusUnknown,
            Blocker::ApplyFailed,
            Blocker::MigrationsUnresolved,
            Blocker::MigrationsPending,
            Blocker::Untried,
            Blocker::WillFail,
            Blocker::Drift,
            Blocker::PhasesNotSucceeded,
            Blocker::VerifyNotRun,
            Blocker::VerifyRunning,
            Blocker::VerifyFailed,
            Blocker::MonitorNotRun,
            Blocker::MonitorRunning,
            Blocker::MonitorAlerted,
            Blocker::NotSignedOff,
        ];
        for b in typed {
            assert_eq!(to_string(&b).unwrap(), format!("\"{}\"", b.name()));
            assert_eq!(from_str::<Blocker>(&to_string(&b).unwrap()).unwrap(), b);
        }
    }

    #[test]
    fn old_sentences_parse_to_the_same_values() {
        let step = |s: &str| from_str::<StepResult>(&format!("\"{s}\"")).unwrap();
        assert_eq!(step("exit 0"), StepResult::Exited);
        assert_eq!(step("exit 127"), StepResult::Exited);
        assert_eq!(step("killed by signal 9"), StepResult::Signalled);
        assert_eq!(
            step("timed out (process group terminated)"),
            StepResult::TimedOut
        );
        assert_eq!(
            step("cancelled (process group terminated)"),
            StepResult::Cancelled
        );
        assert_eq!(step("failed to start: no sh"), StepResult::SpawnFailed);
        assert!(from_str::<StepResult>("\"exploded\"").is_err());
        let blocker = |s: &str| from_str::<Blocker>(&format!("\"{s}\"")).unwrap();
        assert_eq!(
            blocker("no dry-run or rehearsal in this run"),
            Blocker::Untried
        );
        assert_eq!(
            blocker("no verified backup in this run"),
            Blocker::NoVerifiedBackup
        );
        assert_eq!(
            blocker("2 migration(s) pending"),
            Blocker::Legacy("2 migration(s) pending".into())
        );
        let mode = |s: &str| from_str::<RestoreKind>(&format!("\"{s}\"")).unwrap();
        assert_eq!(mode("in place"), RestoreKind::InPlace);
        assert_eq!(mode("into new database shop_2"), RestoreKind::NewDatabase);
        assert_eq!(
            mode("in place, tables created since the backup dropped"),
            RestoreKind::Rollback
        );
        assert_eq!(mode("in place (rollback)"), RestoreKind::Rollback);
        assert_eq!(from_str::<Stage>("\"sign-off\"").unwrap(), Stage::SignOff);
        let done: Vec<Completed> =
            from_str(r#"["checklist 2/2", {"phase": {"name": "Deploy"}}]"#).unwrap();
        assert_eq!(
            done,
            vec![
                Completed::Legacy("checklist 2/2".into()),
                Completed::Phase {
                    name: "Deploy".into()
                }
            ]
        );
    }
}
