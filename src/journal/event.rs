//! The journal's vocabulary: every event deckhand records, as plain serde data.
//! `app::update` produces these as effects; the console writes them; `history` and reports read them back.

use serde::{Deserialize, Serialize};

use super::kinds::{
    Blocker, Completed, MonitorResult, Outcome, PhaseResult, RestoreKind, Stage, StageResult,
    StepResult,
};

/// One thing that happened during a run. Serialized flat into a JSONL line beside `seq`, `ts` and `run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        user: String,
        host: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ssh_client: Option<String>,
        plan: String,
        plan_checksum: String,
        project: String,
        environment: String,
        version: String,
        pid: u32,
    },
    ChecklistTicked {
        index: usize,
        item: String,
        checked: bool,
    },
    ChecklistOverridden {
        reason: String,
        unticked: Vec<String>,
    },
    ConfirmationAsked {
        what: String,
        expected: String,
    },
    ConfirmationGiven {
        what: String,
        typed: String,
    },
    ConfirmationDeclined {
        what: String,
        typed: String,
        why: String,
    },
    PhaseStarted {
        phase: String,
        destructive: bool,
    },
    StepStarted {
        phase: String,
        step: usize,
        command: String,
        destructive: bool,
        pid: u32,
        log: String,
    },
    StepFinished {
        phase: String,
        step: usize,
        destructive: bool,
        outcome: StepResult,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// The signal that killed it (`signalled`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        /// Why it could not start (`spawn_failed`), for people.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        detail: String,
        duration_ms: u64,
    },
    PhaseFinished {
        phase: String,
        destructive: bool,
        result: PhaseResult,
        duration_ms: u64,
    },
    CancelRequested {
        phase: String,
        step: usize,
    },
    MigrationsApplyStarted {
        target: String,
        format: String,
        migrations: Vec<String>,
    },
    /// The risks an apply was confirmed with: findings by class and every exemption with its reason.
    MigrationRisks {
        migration: String,
        findings: Vec<String>,
        exemptions: Vec<String>,
        /// What each statement does to the live data, counted before the apply, with how (issue 18).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        data: Vec<String>,
    },
    MigrationApplied {
        name: String,
        duration_ms: u64,
    },
    MigrationFailed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        error: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        column: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        statement: Option<String>,
    },
    MigrationsDryRun {
        results: Vec<String>,
    },
    MigrationResolved {
        action: String,
        name: String,
        result: String,
    },
    /// An invalid index (left by a failed `CREATE INDEX CONCURRENTLY`) was dropped, or the drop failed.
    IndexDropped {
        /// `schema.name`.
        index: String,
        table: String,
        /// The statement run (`DROP INDEX CONCURRENTLY IF EXISTS "schema"."name"`).
        statement: String,
        /// `dropped`, or `failed: <why>`.
        result: String,
    },
    BackupStarted {
        target: String,
        dir: String,
    },
    /// A dump finished (not yet verified).
    BackupTaken {
        file: String,
        size: u64,
        sha256: String,
        duration_ms: u64,
        /// What was recorded with it to tell a later restore's loss: each table's write counters (PostgreSQL) or
        /// rows (SQLite), with the statistics' last reset; none when they could not be read.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        counters: Option<String>,
    },
    BackupVerified {
        file: String,
        ok: bool,
        tables: usize,
        compared_with_live: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        problems: Vec<String>,
        /// How the archive's object definitions differ from the live database's when the archive matched its
        /// record: the schema changed since the backup (notes, not problems). None from older versions.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        schema_changes: Vec<String>,
        duration_ms: u64,
    },
    /// A backup, verification, restore or rehearsal could not be done (or was cancelled).
    BackupFailed {
        what: String,
        error: String,
    },
    /// Retention deleted these older backups after a newer one was verified.
    BackupsDeleted {
        files: Vec<String>,
    },
    /// A gated action went ahead without a verified backup from this run.
    BackupGateOverridden {
        what: String,
        reason: String,
    },
    RestoreStarted {
        file: String,
        target: String,
        mode: RestoreKind,
        /// The database restored into (`new_database`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        new_database: Option<String>,
        /// What the restore loses: the writes since the backup, as far as the counters tell.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        loss: Option<String>,
    },
    RestoreFinished {
        file: String,
        target: String,
        tables: usize,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        missing: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        extra: Vec<String>,
        /// Tables created since the backup, dropped by a rollback's restore.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dropped: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kept: Option<String>,
        duration_ms: u64,
    },
    /// A rehearsal on a restored copy: one line per pending migration.
    Rehearsal {
        file: String,
        scratch: String,
        results: Vec<String>,
        /// The way back rehearsed after the apply (apply → down → apply), or why it was not. Absent when the
        /// apply itself did not get through, and from versions before it was rehearsed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        way_back: Option<WayBackRecord>,
        dropped: bool,
        duration_ms: u64,
    },
    /// A health check's baseline, frozen when the first destructive action started (from fewer samples than
    /// wanted when it came early). Latencies are of answered probes; none answered: no latency baseline.
    HealthBaseline {
        check: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        median_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p95_ms: Option<u64>,
        /// A command check's numbers (its sample, as latency is a URL's), as printed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        median_value: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p95_value: Option<String>,
        samples: usize,
        /// Answered, but wrong.
        errors: usize,
        /// Not answered at all (no data).
        no_answer: usize,
        wanted: u32,
    },
    /// A health check crossed its latency or error-rate threshold (once per episode).
    HealthAlert {
        check: String,
        why: String,
    },
    /// The alert's condition no longer holds.
    HealthAlertCleared {
        check: String,
    },
    /// The operator acknowledged the alerts waiting in the queue (`name: why` each): their own act, never a key
    /// typed for something else.
    AlertsAcknowledged {
        alerts: Vec<String>,
    },
    /// What the operator answered to an alert's rollback prompt (written by versions before alerts became
    /// notifications; kept so their journals still read).
    HealthAlertAnswered {
        check: String,
        rollback: bool,
        note: String,
    },
    /// A `[[verify]]` assertion ran: the value it returned and whether it passed, or why it could not run.
    VerifyChecked {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
        passed: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A release stage (preflight, backup, migrate, deploy, verify, monitor, sign-off) began.
    StageStarted {
        stage: Stage,
    },
    /// A release stage ended: `passed`, `failed`, `skipped` (nothing to do) or `interrupted`.
    StageFinished {
        stage: Stage,
        result: StageResult,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        detail: String,
    },
    /// The operator went on past a stage that had not passed, with a typed reason.
    StageOverridden {
        stage: Stage,
        reason: String,
        blockers: Vec<Blocker>,
        /// What was missing, for people.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        detail: String,
    },
    /// One preflight check: reachability of the database, a health endpoint or a log source; the deploy
    /// window; the terminal (SSH outside tmux or screen).
    PreflightChecked {
        check: String,
        ok: bool,
        detail: String,
    },
    /// A `[[smoke]]` endpoint was probed once by the verify stage.
    SmokeChecked {
        name: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        detail: String,
    },
    /// A health check's numbers at a point of the release (`after` the deploy, at the end of monitoring), to set
    /// against its baseline.
    HealthSummary {
        check: String,
        when: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        median_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        p95_ms: Option<u64>,
        samples: usize,
        errors: usize,
        no_answer: usize,
    },
    MonitorStarted {
        duration_ms: u64,
    },
    /// The monitor window ended (`passed`, `alerted`, `stopped`).
    MonitorFinished {
        result: MonitorResult,
        alerts: usize,
        elapsed_ms: u64,
    },
    /// A rollback was confirmed: why, the steps run first, the code steps, what happens to the database, and what
    /// its restore loses (the writes since the backup, as far as the counters tell).
    RollbackStarted {
        reason: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        before_restore: Vec<String>,
        code_steps: Vec<String>,
        database: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        loss: Option<String>,
    },
    /// A down migration ran and its ledger entry was removed.
    MigrationReverted {
        name: String,
        duration_ms: u64,
    },
    RollbackFinished {
        ok: bool,
        detail: String,
    },
    SignedOff {
        by: String,
        notes: String,
    },
    ReportWritten {
        path: String,
    },
    /// A webhook notification could not be delivered (the run went on).
    NotificationFailed {
        what: String,
        error: String,
    },
    /// The database tunnel came up, or went down (`detail` says why and when it restarts).
    Tunnel {
        state: String,
        detail: String,
    },
    /// The team's release lock was lost (the team database unreachable), taken by another console, or held again.
    TeamLock {
        state: String,
        detail: String,
    },
    /// A destructive action went ahead while the team's release lock was not held: why, and what.
    TeamLockOverridden {
        what: String,
        reason: String,
    },
    /// Four-eyes approval of a destructive action: `requested` (by the operator, `detail` what the prompt showed),
    /// then `approved` or `refused` (by the second operator), `withdrawn`, `timed_out` or `failed` (`detail` why).
    Approval {
        what: String,
        result: String,
        by: String,
        detail: String,
    },
    /// This run continues an earlier one of the same plan and environment that ended without sign-off.
    Resumed {
        previous: String,
        completed: Vec<Completed>,
        /// The stage to do next, once the backup folder and the database were read again.
        next: Stage,
    },
    Signal {
        name: String,
    },
    Error {
        context: String,
        message: String,
    },
    Quit {
        exit_code: i32,
        reason: String,
        /// How the run ended (absent in journals written before outcomes were recorded, and for `deckhand
        /// backup` runs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        outcome: Option<Outcome>,
    },
}

/// The way back as a rehearsal on a restored copy found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WayBackRecord {
    pub result: WayBackResult,
    /// One line per step (`2_orders: down ok in 3 ms`, `2_orders: down FAILED after 2 ms: …`, `2_orders: applied
    /// again in 5 ms`), or why it was not rehearsed.
    pub steps: Vec<String>,
}

/// How the rehearsed way back went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WayBackResult {
    /// Every down file ran, newest first, and every migration applied again.
    Passed,
    /// A down file failed (the migrations were not applied again), or applying one again did.
    Failed,
    /// A pending migration has no down file.
    NotRehearsed,
}

impl Event {
    /// Events after which the journal is fsynced: anything touching a destructive action, confirmations,
    /// errors and the end of the run. Routine events (a checklist tick, a harmless step) are only flushed.
    pub fn is_critical(&self) -> bool {
        match self {
            Event::ChecklistTicked { .. }
            | Event::PreflightChecked { .. }
            | Event::SmokeChecked { .. }
            | Event::HealthSummary { .. }
            | Event::NotificationFailed { .. }
            | Event::Tunnel { .. } => false,
            Event::PhaseStarted { destructive, .. }
            | Event::StepStarted { destructive, .. }
            | Event::StepFinished { destructive, .. }
            | Event::PhaseFinished { destructive, .. } => *destructive,
            _ => true,
        }
    }
}
