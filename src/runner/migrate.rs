//! The database runner: reads migration status, applies, rehearses (dry-run), resolves and reverts, each as a
//! task that reports only through [`RunnerEvent`] messages. Each task opens its own connection and closes it when done.

use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tokio_util::sync::CancellationToken;

use super::RunnerEvent;
use crate::lint::{self, FileReport};
use crate::migrate::apply::{self, Options};
use crate::migrate::error::{self, Blocked, StatementFailure};
use crate::migrate::index::InvalidIndex;
use crate::migrate::lock::{self, LockWait, Watch};
pub use crate::migrate::resolve::{Item as ResolveItem, Resolve};
use crate::migrate::status::Status;
use crate::migrate::{self, Format, MigrateError, Migration, db};
use crate::plan::Database;

/// What the migrations pane shows: the files, their status, and the risk of each pending one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub format: Format,
    pub migrations: Vec<Migration>,
    pub status: Status,
    /// The risk report of each migration that would run (index-aligned with `migrations`; `None` for the others).
    pub reports: Vec<Option<FileReport>>,
    /// The down file of each migration that has one (index-aligned with `migrations`): what a rollback runs, and
    /// its risk (see [`super::downs`]).
    pub downs: Vec<Option<super::downs::DownFile>>,
    /// Notes about the connection or the live context (a pooling proxy, context unavailable).
    pub notes: Vec<String>,
}

impl Snapshot {
    /// Each migration an apply would run that has a risk report, in order, with its name.
    pub fn pending_reports(&self) -> impl Iterator<Item = (&str, &FileReport)> {
        self.status.pending().into_iter().filter_map(|i| {
            let report = self.reports.get(i)?.as_ref()?;
            Some((self.migrations[i].name.as_str(), report))
        })
    }

    /// The statements an apply would run that will fail on the live data, one line each (`migration line N: …`):
    /// what the will-fail gate lists and its override journals, in the console and in `deckhand migrate` alike.
    pub fn failing_lines(&self) -> Vec<String> {
        self.pending_reports()
            .flat_map(|(name, r)| {
                r.impacts
                    .iter()
                    .filter(|i| i.fails())
                    .map(move |i| i.labelled(name))
            })
            .collect()
    }
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

async fn send(tx: &Sender<RunnerEvent>, ev: RunnerEvent) {
    if tx.send(ev).await.is_err() {
        tracing::debug!("migration runner: the console is gone");
    }
}

/// The migrations, their status, and the risk report (with live context) of each that would run.
pub async fn snapshot(spec: &Database) -> Result<Snapshot, MigrateError> {
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
    // What each statement will lose or trip on, counted on the live data (read-only, bounded per query).
    let limits = lint::impact::Limits::per_query(spec.impact_timeout);
    lint::impact::judge(&mut conn, &order, &mut analyzed, &limits).await;
    for (i, report) in pending.into_iter().zip(analyzed) {
        reports[i] = Some(report);
    }
    let downs = super::downs::read(&target.migrations, conn.backend);
    Ok(Snapshot {
        format: target.format,
        migrations: target.migrations,
        status,
        reports,
        downs,
        notes,
    })
}

/// Reads the status and reports it; then compares the live schema with what the applied history produces
/// (drift) and reports that too.
pub async fn load(spec: Database, tx: Sender<RunnerEvent>) {
    let result = snapshot(&spec).await.map_err(|e| e.to_string());
    let read = result.is_ok();
    send(&tx, RunnerEvent::Migrations(result)).await;
    if read {
        let drift = crate::drift::check(&spec, &CancellationToken::new())
            .await
            .map_err(|e| e.to_string());
        send(&tx, RunnerEvent::Drift(drift)).await;
    }
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

/// The watch over the locks the apply's session waits for (PostgreSQL). Without it the apply still runs; waits
/// are then only named when they end in a lock timeout.
async fn open_watch(spec: &Database, conn: &mut db::Db) -> Option<Watch> {
    if conn.backend != db::Backend::Postgres {
        return None;
    }
    let opened = async {
        let pid = lock::backend_pid(conn).await?;
        Watch::open(&spec.url.value, &migrate::settings(spec), pid).await
    };
    match opened.await {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("no lock watch for this apply: {e}");
            None
        }
    }
}

/// What a statement waited for until its lock_timeout, and who held it: the wait the watch saw last, or else the
/// sessions holding a lock on a table the statement touches (a wait shorter than the watch's interval goes unseen).
async fn blocked(conn: &mut db::Db, seen: Option<LockWait>, sql: &str) -> Blocked {
    if let Some(w) = seen {
        return Blocked {
            what: w.lock.to_string(),
            holders: w.holders,
        };
    }
    let found = async {
        let (tables, pids) = lint::live::holders_for(conn, sql).await?;
        let holders = lock::by_pid(conn, &pids).await?;
        let what = match tables.is_empty() {
            true => String::new(),
            false => format!("a lock on {}", error::one_line(&tables.join(", "), 200)),
        };
        Ok::<_, MigrateError>(Blocked { what, holders })
    };
    found.await.unwrap_or_else(|e| {
        tracing::warn!("looking up who held the lock: {e}");
        Blocked::default()
    })
}

fn statement_failure(e: &MigrateError) -> Option<StatementFailure> {
    match e {
        MigrateError::Statement(f) => Some(StatementFailure::clone(f)),
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
    let progress_tx = tx.clone();
    // Progress is advisory: if the console is slow, a progress line may be skipped, never the result.
    let progress = move |p: apply::Progress| {
        let _ = progress_tx.try_send(RunnerEvent::MigrationProgress(p));
    };
    apply_watched(spec, applied_by, &confirmed, progress, &|| {
        stop.is_cancelled()
    })
    .await
}

/// Applies exactly the `confirmed` migrations while a second connection watches the locks the apply waits for
/// (PostgreSQL), reporting each wait and who holds it through `progress`; a lock timeout's failure names what the
/// statement waited for and who held it. `stop` ends the apply after the migration in flight. For the console's
/// runner and `deckhand migrate`.
pub async fn apply_watched<P>(
    spec: &Database,
    applied_by: String,
    confirmed: &[apply::Confirmed],
    progress: P,
    stop: &(dyn Fn() -> bool + Send + Sync),
) -> Result<ApplyOutcome, MigrateError>
where
    P: FnMut(apply::Progress) + Send + Clone,
{
    let target = migrate::load(spec)?;
    let mut conn = db::connect(&spec.url.value, &migrate::settings(spec)).await?;
    let opts = Options {
        lock_wait: spec.lock_wait,
        applied_by,
    };
    let mut watch = open_watch(spec, &mut conn).await;
    let mut on_progress = progress.clone();
    let applying = apply::apply_until(
        &mut conn,
        target.format,
        &target.migrations,
        &opts,
        Some(confirmed),
        &mut on_progress,
        stop,
    );
    let mut report = match watch.as_mut() {
        Some(w) => {
            let mut on_wait = progress.clone();
            let mut report_wait = move |w: Option<LockWait>| {
                on_wait(w.map_or(apply::Progress::Unblocked, apply::Progress::Waiting));
            };
            tokio::select! {
                biased;
                report = applying => report?,
                never = w.run(&mut report_wait) => match never {},
            }
        }
        None => applying.await?,
    };
    if let Some(MigrateError::Statement(f)) = &mut report.failure
        && f.lock_timed_out()
    {
        let seen = watch.as_ref().and_then(|w| w.last_seen().cloned());
        f.blocked = Some(blocked(&mut conn, seen, &f.statement).await);
    }
    Ok(ApplyOutcome {
        failure: report.failure.as_ref().and_then(statement_failure),
        error: report.failure.map(|e| e.to_string()),
        stopped: report.stopped,
        applied: report.applied,
    })
}

/// Rehearses the pending migrations in a rolled-back transaction and reports the result.
pub async fn dry_run(spec: Database, tx: Sender<RunnerEvent>) {
    let result = rehearse(&spec).await.map_err(|e| e.to_string());
    send(&tx, RunnerEvent::Rehearsed(result)).await;
}

/// Every pending migration in one transaction that is rolled back: the console's `d` and `deckhand migrate`.
pub async fn rehearse(spec: &Database) -> Result<Vec<apply::Rehearsal>, MigrateError> {
    let target = migrate::load(spec)?;
    let mut conn = db::connect(&spec.url.value, &migrate::settings(spec)).await?;
    let opts = Options {
        lock_wait: spec.lock_wait,
        applied_by: String::new(),
    };
    apply::dry_run(&mut conn, target.format, &target.migrations, &opts).await
}

/// Reverts the named migrations (newest first) with their down files — each the one the prompt showed — then
/// reports the outcome and the fresh status, as an apply does.
pub async fn revert(
    spec: Database,
    names: Vec<String>,
    shown: Vec<migrate::revert::ShownDown>,
    tx: Sender<RunnerEvent>,
) {
    let outcome = migrate::revert::revert_shown(&spec, &names, Some(&shown)).await;
    send(&tx, RunnerEvent::Reverted(outcome)).await;
    load(spec, tx).await;
}

/// A confirmed resolve: what to do to which ledger entries (one, or a range selected in the list), each with the
/// state the operator saw it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveRequest {
    pub action: Resolve,
    pub items: Vec<ResolveItem>,
}

/// Carries out a resolve under the tool's lock, in one transaction, after checking every entry is still in the
/// state the operator confirmed (someone may have fixed one meanwhile: then nothing is done), then reports and
/// reloads the status.
pub async fn resolve(
    spec: Database,
    req: ResolveRequest,
    applied_by: String,
    tx: Sender<RunnerEvent>,
) {
    let result = async {
        let target = migrate::load(&spec)?;
        let mut conn = db::connect(&spec.url.value, &migrate::settings(&spec)).await?;
        let (format, migrations) = (target.format, &target.migrations);
        let (action, items) = (req.action, &req.items);
        migrate::resolve::resolve(
            &mut conn,
            format,
            migrations,
            action,
            items,
            &applied_by,
            spec.lock_wait,
        )
        .await
    }
    .await
    .map_err(|e| e.to_string());
    send(&tx, RunnerEvent::Resolved(result)).await;
    load(spec, tx).await;
}

/// Drops an invalid index with `DROP INDEX CONCURRENTLY`, under the tool's lock (no apply runs meanwhile), then
/// reports and reloads the status.
pub async fn drop_index(spec: Database, index: InvalidIndex, tx: Sender<RunnerEvent>) {
    let result = async {
        let target = migrate::load(&spec)?;
        let mut conn = db::connect(&spec.url.value, &migrate::settings(&spec)).await?;
        let key = migrate::lock::key_for(&mut conn, target.format).await?;
        migrate::lock::acquire(&mut conn, key, spec.lock_wait).await?;
        let dropped = migrate::index::drop_invalid(&mut conn, &index).await;
        if let Err(e) = migrate::lock::release(&mut conn, key).await {
            tracing::warn!("releasing the migration lock: {e}");
        }
        dropped
    }
    .await
    .map_err(|e| e.to_string());
    send(&tx, RunnerEvent::IndexDropped { index, result }).await;
    load(spec, tx).await;
}
