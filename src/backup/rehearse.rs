//! The part of a rehearsal both backends share: applying the pending migrations to a restored copy, one result
//! per migration (duration, or the error as the database gave it), with progress.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::types::{BackupError, Progress, RehearsalStep, Stage};
use crate::migrate::apply::{self, Options, Progress as ApplyProgress};
use crate::migrate::{self, db};
use crate::plan::Database;

/// Who a rehearsal's ledger rows name as having applied them (the copy is dropped afterwards).
pub const REHEARSAL_APPLIED_BY: &str = "deckhand rehearsal";

/// Applies every pending migration of `copy` (the plan's `[database]` with its URL pointing at the restored copy)
/// and reports each one. Stops starting new migrations once `cancel` fires. `started` is when the whole rehearsal
/// began (progress shows time since then).
pub async fn apply_pending(
    copy: &Database,
    started: Instant,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Vec<RehearsalStep>, BackupError> {
    let db_err = |e: migrate::MigrateError| BackupError::Database {
        context: "rehearsing the migrations".into(),
        message: e.to_string(),
    };
    let target = migrate::load(copy).map_err(db_err)?;
    let mut conn = db::connect(&copy.url.value, &migrate::settings(copy))
        .await
        .map_err(db_err)?;
    let status = migrate::status::read(&mut conn, target.format, &target.migrations)
        .await
        .map_err(db_err)?;
    let pending: Vec<String> = status
        .pending()
        .into_iter()
        .map(|i| target.migrations[i].name.clone())
        .collect();
    let opts = Options {
        lock_wait: copy.lock_wait,
        applied_by: REHEARSAL_APPLIED_BY.into(),
    };
    let mut current: Option<(String, Instant)> = None;
    let mut on_progress = |p: ApplyProgress| {
        if let ApplyProgress::Started { name, .. } = &p {
            current = Some((name.clone(), Instant::now()));
            progress.send_modify(|pr| {
                *pr = Progress::new(Stage::Migrating, started.elapsed());
                pr.detail = Some(name.clone());
            });
        }
    };
    let stop = || cancel.is_cancelled();
    let report = apply::apply_until(
        &mut conn,
        target.format,
        &target.migrations,
        &opts,
        None,
        &mut on_progress,
        &stop,
    )
    .await
    .map_err(db_err);
    // Close the session before the copy is dropped (PostgreSQL refuses to drop a database in use).
    if let Err(e) = sqlx::Connection::close(conn.conn).await {
        tracing::warn!("closing the rehearsal connection: {e}");
    }
    let report = report?;
    let mut steps: Vec<RehearsalStep> = report
        .applied
        .iter()
        .map(|(name, took)| RehearsalStep::Applied {
            name: name.clone(),
            took: *took,
        })
        .collect();
    if let Some(failure) = &report.failure {
        let (name, took) = match &current {
            Some((name, at)) => (name.clone(), at.elapsed()),
            None => (String::from("(before the first migration)"), Duration::ZERO),
        };
        steps.push(RehearsalStep::Failed {
            name,
            took,
            error: failure.to_string(),
        });
    }
    let done = steps.len();
    steps.extend(
        pending
            .into_iter()
            .skip(done)
            .map(|name| RehearsalStep::NotReached { name }),
    );
    if report.stopped || cancel.is_cancelled() {
        return Err(BackupError::Cancelled);
    }
    Ok(steps)
}
