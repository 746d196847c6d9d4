//! The database runner: reads migration status, applies, rehearses (dry-run), resolves and reverts, each as a
//! task that reports only through [`RunnerEvent`] messages. Each task opens its own connection and closes it when done.

use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use super::RunnerEvent;
use crate::lint::{self, FileReport};
use crate::migrate::apply::{self, Options};
use crate::migrate::ledger::LedgerKey;
use crate::migrate::status::Status;
use crate::migrate::{self, Format, MigrateError, Migration, db, error::StatementFailure, record};
use crate::plan::Database;

/// What the migrations pane shows: the files, their status, and the risk of each pending one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub format: Format,
    pub migrations: Vec<Migration>,
    pub status: Status,
    /// The risk report of each migration that would run (index-aligned with `migrations`; `None` for the others).
    pub reports: Vec<Option<FileReport>>,
    /// Notes about the connection or the live context (a pooling proxy, context unavailable).
    pub notes: Vec<String>,
}

/// How an apply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyOutcome {
    pub applied: Vec<(String, Duration)>,
    /// The error that stopped it (a refusal, a lock timeout, a failed statement).
    pub error: Option<String>,
    /// The failed statement, when a statement failed.
    pub failure: Option<StatementFailure>,
    /// An apply stopped on request after the migration in flight.
    pub stopped: bool,
}

/// A resolve action (Prisma's `migrate resolve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    MarkApplied,
    MarkRolledBack,
}

impl Resolve {
    pub fn label(self) -> &'static str {
        match self {
            Resolve::MarkApplied => "mark applied",
            Resolve::MarkRolledBack => "mark rolled back",
        }
    }
}

async fn send(tx: &Sender<RunnerEvent>, ev: RunnerEvent) {
    if tx.send(ev).await.is_err() {
        tracing::debug!("migration runner: the console is gone");
    }
}

async fn snapshot(spec: &Database) -> Result<Snapshot, MigrateError> {
    let target = migrate::load(spec)?;
    let mut conn = db::connect(&spec.url.value, &migrate::settings(spec)).await?;
    let status = migrate::status::read(&mut conn, target.format, &target.migrations).await?;
    // deckhand sets lock_timeout itself, so a missing one in the SQL is not a finding here.
    let opts = lint::Options {
        executor_sets_lock_timeout: true,
    };
    let pending = status.pending();
    let mut reports: Vec<Option<FileReport>> = vec![None; target.migrations.len()];
    let mut analyzed: Vec<FileReport> = pending
        .iter()
        .map(|&i| lint::analyze_migration(&target.migrations[i], &opts))
        .collect();
    let mut notes = match lint::run::add_live_context(&mut conn, &mut analyzed).await {
        Ok(notes) => notes,
        Err(e) => vec![format!("live context unavailable: {e}")],
    };
    if conn.backend == db::Backend::Sqlite {
        // squawk's rules are PostgreSQL's: lock advice (CONCURRENTLY, NOT VALID, …) does not apply. What destroys
        // data or breaks the running app still does — and SQL that could not be parsed stays a finding.
        for r in &mut analyzed {
            r.findings
                .retain(|f| matches!(f.class, lint::Class::Dangerous | lint::Class::Breaking));
        }
        notes.push("SQLite target: only Dangerous and Breaking findings apply (lock advice is PostgreSQL's)".into());
    }
    // What an earlier pending migration creates, or a table the live database shows empty, loses no data that
    // exists now: no typed name for it.
    let order: Vec<&Migration> = pending.iter().map(|&i| &target.migrations[i]).collect();
    if let Err(e) = lint::run::spare_batch(&mut conn, &order, &mut analyzed).await {
        notes.push(format!("could not read which tables are empty: {e}"));
    }
    for (i, report) in pending.into_iter().zip(analyzed) {
        reports[i] = Some(report);
    }
    Ok(Snapshot {
        format: target.format,
        migrations: target.migrations,
        status,
        reports,
        notes,
    })
}

/// Reads the status and reports it.
pub async fn load(spec: Database, tx: Sender<RunnerEvent>) {
    let result = snapshot(&spec).await.map_err(|e| e.to_string());
    send(&tx, RunnerEvent::Migrations(result)).await;
}

/// Applies exactly the `confirmed` migrations (refusing if what is pending differs), then reports the outcome and
/// the fresh status. `stop` ends the apply after the migration in flight (which is never cut off half-way).
pub async fn apply(
    spec: Database,
    applied_by: String,
    confirmed: Vec<apply::Confirmed>,
    tx: Sender<RunnerEvent>,
    stop: CancellationToken,
) {
    let outcome = match apply_inner(&spec, applied_by, confirmed, &tx, &stop).await {
        Ok(o) => o,
        Err(e) => ApplyOutcome {
            applied: Vec::new(),
            failure: statement_failure(&e),
            error: Some(e.to_string()),
            stopped: false,
        },
    };
    send(&tx, RunnerEvent::MigrationsApplied(outcome)).await;
    load(spec, tx).await;
}

fn statement_failure(e: &MigrateError) -> Option<StatementFailure> {
    match e {
        MigrateError::Statement(f) => Some(f.clone()),
        _ => None,
    }
}

async fn apply_inner(
    spec: &Database,
    applied_by: String,
    confirmed: Vec<apply::Confirmed>,
    tx: &Sender<RunnerEvent>,
    stop: &CancellationToken,
) -> Result<ApplyOutcome, MigrateError> {
    let target = migrate::load(spec)?;
    let mut conn = db::connect(&spec.url.value, &migrate::settings(spec)).await?;
    let opts = Options {
        lock_wait: spec.lock_wait,
        applied_by,
    };
    let progress_tx = tx.clone();
    let stop_flag = stop.clone();
    let mut progress = move |p: apply::Progress| {
        // Progress is advisory: if the console is slow, a progress line may be skipped, never the result.
        let _ = progress_tx.try_send(RunnerEvent::MigrationProgress(p));
    };
    let report = apply::apply_until(
        &mut conn,
        target.format,
        &target.migrations,
        &opts,
        Some(&confirmed),
        &mut progress,
        &|| stop_flag.is_cancelled(),
    )
    .await?;
    Ok(ApplyOutcome {
        failure: report.failure.as_ref().and_then(statement_failure),
        error: report.failure.map(|e| e.to_string()),
        stopped: report.stopped,
        applied: report.applied,
    })
}

/// Rehearses the pending migrations in a rolled-back transaction.
pub async fn dry_run(spec: Database, tx: Sender<RunnerEvent>) {
    let result = async {
        let target = migrate::load(&spec)?;
        let mut conn = db::connect(&spec.url.value, &migrate::settings(&spec)).await?;
        let opts = Options {
            lock_wait: spec.lock_wait,
            applied_by: String::new(),
        };
        apply::dry_run(&mut conn, target.format, &target.migrations, &opts).await
    }
    .await
    .map_err(|e| e.to_string());
    send(&tx, RunnerEvent::Rehearsed(result)).await;
}

/// Reverts the named migrations (newest first) with their down files, then reports the outcome and the fresh
/// status, as an apply does.
pub async fn revert(spec: Database, names: Vec<String>, tx: Sender<RunnerEvent>) {
    let outcome = migrate::revert::revert(&spec, &names).await;
    send(&tx, RunnerEvent::Reverted(outcome)).await;
    load(spec, tx).await;
}

/// A confirmed resolve: what to do to which ledger entry, and the state the operator saw it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveRequest {
    pub action: Resolve,
    pub key: LedgerKey,
    pub name: String,
    pub seen: crate::migrate::status::State,
}

/// Carries out a resolve under the tool's lock, after checking the entry is still in the state the operator
/// confirmed (someone may have fixed it meanwhile), then reports and reloads the status.
pub async fn resolve(
    spec: Database,
    req: ResolveRequest,
    applied_by: String,
    tx: Sender<RunnerEvent>,
) {
    let result = resolve_locked(&spec, &req, &applied_by)
        .await
        .map_err(|e| e.to_string());
    send(&tx, RunnerEvent::Resolved(result)).await;
    load(spec, tx).await;
}

async fn resolve_locked(
    spec: &Database,
    req: &ResolveRequest,
    applied_by: &str,
) -> Result<String, MigrateError> {
    let target = migrate::load(spec)?;
    let mut conn = db::connect(&spec.url.value, &migrate::settings(spec)).await?;
    migrate::ledger::check_supported(target.format, conn.backend)?;
    let lock_key = match conn.backend {
        db::Backend::Postgres => {
            let k = migrate::lock::key_for(&mut conn, target.format).await?;
            migrate::lock::acquire(&mut conn, k, spec.lock_wait).await?;
            Some(k)
        }
        db::Backend::Sqlite => None,
    };
    let result = async {
        let status = migrate::status::read(&mut conn, target.format, &target.migrations).await?;
        let now = status
            .entries
            .iter()
            .find(|e| e.key == req.key)
            .map(|e| e.state);
        if now != Some(req.seen) {
            let now = now.map_or("gone from the status", |s| s.label());
            return Err(MigrateError::Blocked {
                problems: vec![format!(
                    "{} changed since you confirmed: it was {}, it is now {now}; nothing was done",
                    req.name,
                    req.seen.label()
                )],
            });
        }
        transaction(&mut conn, &target, req, applied_by).await
    }
    .await;
    if let Some(k) = lock_key {
        let _ = migrate::lock::release(&mut conn, k).await;
    }
    result
}

async fn transaction(
    conn: &mut db::Db,
    target: &migrate::Target,
    req: &ResolveRequest,
    applied_by: &str,
) -> Result<String, MigrateError> {
    let begin = match conn.backend {
        db::Backend::Sqlite => "BEGIN IMMEDIATE",
        db::Backend::Postgres => "BEGIN",
    };
    let sql_err = |context: &str, e: sqlx::Error| MigrateError::Database {
        context: context.into(),
        message: e.to_string(),
    };
    sqlx::raw_sql(begin)
        .execute(&mut conn.conn)
        .await
        .map_err(|e| sql_err("starting the transaction", e))?;
    let done = resolve_in(conn, target, req.action, &req.key, &req.name, applied_by).await;
    let end = if done.is_ok() { "COMMIT" } else { "ROLLBACK" };
    sqlx::raw_sql(end)
        .execute(&mut conn.conn)
        .await
        .map_err(|e| sql_err("ending the transaction", e))?;
    done
}

async fn resolve_in(
    conn: &mut db::Db,
    target: &migrate::Target,
    action: Resolve,
    key: &LedgerKey,
    name: &str,
    applied_by: &str,
) -> Result<String, MigrateError> {
    match action {
        Resolve::MarkRolledBack => {
            let n = record::mark_rolled_back(&mut conn.conn, target.format, key).await?;
            Ok(format!("{name}: marked rolled back ({n} ledger row(s))"))
        }
        Resolve::MarkApplied => {
            let m = target
                .migrations
                .iter()
                .find(|m| &migrate::ledger::key_of(m) == key)
                .ok_or_else(|| MigrateError::Database {
                    context: "mark applied".into(),
                    message: format!(
                        "{name} is not on disk: only a migration on disk can be marked applied"
                    ),
                })?;
            record::mark_applied(&mut conn.conn, conn.backend, m, applied_by).await?;
            Ok(format!(
                "{name}: marked applied with the checksum of the file on disk"
            ))
        }
    }
}
