//! sqlx connections for the SQLite side: to the live database (never creating it), read-only to an archive,
//! interruptible when the operation is cancelled, and the table list both are compared by.

use std::path::Path;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};
use tokio_util::sync::CancellationToken;

use super::super::types::BackupError;
use crate::migrate::db::target;
use crate::migrate::error::describe_db_error;
use crate::plan::Database;

/// SQLite virtual-machine steps between two looks at the cancel token while a statement runs.
const CANCEL_CHECK_STEPS: i32 = 10_000;

/// sqlx's message for an error, with SQLite's error code.
pub fn describe(e: &sqlx::Error) -> String {
    describe_db_error(e).0
}

/// A `Database` error with sqlx's message.
pub fn db_err(context: impl Into<String>, e: &sqlx::Error) -> BackupError {
    BackupError::Database {
        context: context.into(),
        message: describe(e),
    }
}

/// Options for the plan's database as its URL gives them, except that it is never created (a backup or restore of
/// a database file that is not there must not leave an empty one behind) and busy waits last `lock_timeout`.
pub fn live_options(db: &Database) -> Result<SqliteConnectOptions, BackupError> {
    let opts: SqliteConnectOptions = db.url.value.parse().map_err(|e: sqlx::Error| {
        db_err(format!("reading the URL of {}", target(&db.url.value)), &e)
    })?;
    Ok(opts.create_if_missing(false).busy_timeout(db.lock_timeout))
}

/// Options that read an archive file and nothing else: read-only and immutable (no locks, no `-wal`/`-shm`
/// beside the archive, never a change to it).
pub fn archive_options(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .immutable(true)
        .create_if_missing(false)
}

pub async fn connect(
    opts: &SqliteConnectOptions,
    what: &Path,
) -> Result<SqliteConnection, BackupError> {
    SqliteConnection::connect_with(opts)
        .await
        .map_err(|e| db_err(format!("opening {}", what.display()), &e))
}

/// Makes statements on `conn` stop with an interrupt once `cancel` fires (checked every few thousand steps; a
/// statement waiting for a lock notices at the end of its busy wait).
pub async fn interrupt_on(
    conn: &mut SqliteConnection,
    cancel: &CancellationToken,
    what: &Path,
) -> Result<(), BackupError> {
    let token = cancel.clone();
    conn.lock_handle()
        .await
        .map_err(|e| db_err(format!("preparing {}", what.display()), &e))?
        .set_progress_handler(CANCEL_CHECK_STEPS, move || !token.is_cancelled());
    Ok(())
}

/// The user tables (`sqlite_%` internals left out), by name.
pub async fn tables(conn: &mut SqliteConnection) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         ORDER BY name",
    )
    .fetch_all(conn)
    .await
}

/// Every row `PRAGMA integrity_check` returns (`["ok"]` for a sound database).
pub async fn integrity_check(conn: &mut SqliteConnection) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("PRAGMA integrity_check")
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| r.try_get::<String, _>(0)).collect()
}

/// Closes a connection, waiting for SQLite to let go of the file; a failure to close cleanly is only logged.
pub async fn close(conn: SqliteConnection) {
    if let Err(e) = conn.close().await {
        tracing::warn!("closing a SQLite connection: {e}");
    }
}
