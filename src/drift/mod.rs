//! Drift: how the live database's schema differs from the schema its applied migration history produces. The
//! history is replayed on a scratch database (PostgreSQL: `deckhand_drift_<8 hex>` next to the live one, which needs
//! CREATEDB; SQLite: a temporary file) with deckhand's own apply, both catalogs are read ([`pg`], [`sqlite`]) and
//! compared ([`compare`]): tables, columns (type, nullability, default), indexes (definition, validity),
//! constraints, enums and their values, views, functions, triggers, sequences, extensions and schemas. What the
//! migration tools and deckhand own (their ledgers) is never drift. [`check`] is the entry point (the `deckhand
//! drift` command and the console's migrations pane). May import `plan`, `migrate`, `backup` (its scratch
//! databases and SQLite file URLs), `safe_fs` and `sanitize`; never `app`, `views` or `runner`.

pub mod catalog;
pub mod compare;
pub mod history;
pub mod pg;
pub mod replay;
pub mod sqlite;

use std::time::Instant;

use serde::Serialize;
use sqlx::Connection;
use tokio_util::sync::CancellationToken;

use crate::migrate::db::{self, Backend};
use crate::migrate::{self, MigrateError, ledger};
use crate::plan::Database;

pub use catalog::{Catalog, Kind};
pub use compare::{Change, Difference};
pub use replay::SCRATCH_PREFIX;

/// Where a drift check is, for a progress line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "stage")]
pub enum Stage {
    /// Reading the ledger and the live database's catalog.
    ReadingLive,
    /// Creating the scratch database (or temporary file).
    Creating,
    /// The scratch database (or temporary file) the history is replayed on, once made.
    Created { scratch: String },
    /// Replaying migration `done` of `of`.
    Replaying {
        name: String,
        done: usize,
        of: usize,
    },
    /// Reading the replayed history's catalog.
    ReadingHistory,
    /// Dropping the scratch database (or removing the file).
    Cleaning,
}

/// What a drift check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DriftReport {
    /// The live database as confirmations show it (`host:port/db`, `sqlite /path`): never a password.
    pub target: String,
    /// The migration format (`prisma`, `sqlx`, `drizzle`, `plain`).
    pub format: String,
    /// The migrations replayed to build the expected schema, in the order they were applied.
    pub replayed: Vec<String>,
    /// Where the history was replayed (the scratch database's name, or the temporary file).
    pub scratch: String,
    /// Objects in the live database's catalog (tool-owned ones left out).
    pub live_objects: usize,
    /// Objects in the replayed history's catalog.
    pub history_objects: usize,
    /// The differences, in a stable order (by kind, then name). Empty: no drift.
    pub differences: Vec<Difference>,
    /// What the comparison cannot vouch for (an edited or failed migration, one missing on disk, pending ones),
    /// and a scratch database that could not be dropped.
    pub notes: Vec<String>,
    pub took_ms: u64,
}

impl DriftReport {
    pub fn has_drift(&self) -> bool {
        !self.differences.is_empty()
    }
}

/// Why a drift check could not tell whether there is drift. Never a password in any of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriftError {
    /// The plan's database, its migrations folder or its ledger could not be read.
    #[error("{0}")]
    Migrate(MigrateError),
    #[error(
        "role {role} may not create databases: the drift check replays the migration history in a scratch database \
         and needs CREATEDB (ALTER ROLE {role} CREATEDB), or run it as a role that has it"
    )]
    NoCreateDb { role: String },
    /// The scratch database could not be created.
    #[error("cannot create the scratch database: {0}")]
    Scratch(String),
    /// The temporary SQLite file could not be created.
    #[error("cannot create the temporary database file: {0}")]
    Io(String),
    /// A migration of the applied history failed on the scratch database: the expected schema is unknown.
    #[error("{}", replay_text(.migration.as_deref(), .message, .hint.as_deref()))]
    Replay {
        migration: Option<String>,
        message: String,
        hint: Option<String>,
    },
    #[error("cancelled")]
    Cancelled,
    /// The check failed and the scratch database could not be dropped either.
    #[error("{error}; and {cleanup}")]
    LeftBehind {
        error: Box<DriftError>,
        cleanup: String,
    },
}

fn replay_text(migration: Option<&str>, message: &str, hint: Option<&str>) -> String {
    let which = migration.map_or_else(String::new, |m| format!(" ({m} failed)"));
    let mut text = format!(
        "the applied history could not be replayed on a scratch database{which}, so drift could not be checked: \
         {message}"
    );
    if let Some(h) = hint {
        text.push_str(&format!("\n  {h}"));
    }
    text
}

/// Compares the live schema of the plan's database with the schema its applied migrations produce (see the module
/// doc). Reads only on the live database; the scratch database (or file) is always removed. Errors when it cannot
/// tell: the database unreachable, the ledger unreadable, a migration that fails to replay, no CREATEDB, `cancel`.
pub async fn check(spec: &Database, cancel: &CancellationToken) -> Result<DriftReport, DriftError> {
    check_reporting(spec, cancel, &mut |_| {}).await
}

/// [`check`], telling each [`Stage`] as it starts.
pub async fn check_reporting(
    spec: &Database,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(Stage) + Send),
) -> Result<DriftReport, DriftError> {
    let started = Instant::now();
    let target = migrate::load(spec).map_err(DriftError::Migrate)?;
    progress(Stage::ReadingLive);
    let (rows, live) = tokio::select! {
        r = read_live(spec, target.format) => r?,
        () = cancel.cancelled() => return Err(DriftError::Cancelled),
    };
    let history = history::applied(&target.migrations, &rows);
    let live_extensions = live.extensions();
    let replay = replay::Replay {
        spec,
        format: target.format,
        history: &history.migrations,
        live_extensions: &live_extensions,
    };
    let expected = replay::expected(&replay, cancel, progress).await?;
    let mut notes = history.notes;
    notes.extend(expected.cleanup_error.clone());
    Ok(DriftReport {
        target: db::target(&spec.url.value),
        format: target.format.name().to_string(),
        replayed: history.migrations.iter().map(|m| m.name.clone()).collect(),
        scratch: expected.scratch,
        live_objects: live.len(),
        history_objects: expected.catalog.len(),
        differences: compare::compare(&expected.catalog, &live),
        notes,
        took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// The ledger's rows and the live catalog, on one connection closed afterwards.
async fn read_live(
    spec: &Database,
    format: migrate::Format,
) -> Result<(Vec<ledger::LedgerRow>, Catalog), DriftError> {
    let mut conn = db::connect(&spec.url.value, &migrate::settings(spec))
        .await
        .map_err(DriftError::Migrate)?;
    let read = async {
        ledger::check_supported(format, conn.backend)?;
        let rows = ledger::read(&mut conn, format).await?;
        let live = match conn.backend {
            Backend::Postgres => pg::read(&mut conn).await?,
            Backend::Sqlite => sqlite::read(&mut conn).await?,
        };
        Ok::<_, MigrateError>((rows, live))
    }
    .await;
    let _ = conn.conn.close().await;
    read.map_err(DriftError::Migrate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_send<T: Send>(_: T) {}

    /// The console runs the check on a spawned task: it must stay `Send`. Compiled, never called.
    #[allow(dead_code)]
    fn futures_are_send(spec: &Database, cancel: &CancellationToken) {
        is_send(check(spec, cancel));
        is_send(check_reporting(spec, cancel, &mut |_| {}));
    }

    #[test]
    fn a_replay_failure_names_the_migration_and_never_claims_no_drift() {
        let e = DriftError::Replay {
            migration: Some("0002_tags".into()),
            message: "0002_tags failed at line 1, column 28 (statement 1): type \"citext\" does not exist".into(),
            hint: Some("the live database has extension(s) citext …".into()),
        };
        let text = e.to_string();
        assert!(text.contains("(0002_tags failed)"), "{text}");
        assert!(text.contains("drift could not be checked"), "{text}");
        assert!(
            text.ends_with("\n  the live database has extension(s) citext …"),
            "{text}"
        );
    }
}
