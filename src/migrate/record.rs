//! Writing ledger rows the way each tool writes them: when a migration starts, progresses (Prisma counts applied
//! steps), succeeds or fails. (Resolving by hand — mark applied, mark rolled back — is `resolve`.)

use std::time::Duration;

use sqlx::{AnyConnection, AssertSqlSafe};

use super::db::Backend;
use super::error::{MigrateError, describe_db_error};
use super::{Checksum, Format, Key, Migration, source};

fn db_err(context: &str, e: sqlx::Error) -> MigrateError {
    MigrateError::Database {
        context: context.to_string(),
        message: describe_db_error(&e).0,
    }
}

pub(super) fn hex(c: &Checksum) -> String {
    match c {
        Checksum::Hex(h) => h.clone(),
        Checksum::Bytes(b) => hex::encode(b),
    }
}

pub(super) fn bytes(c: &Checksum) -> Vec<u8> {
    match c {
        Checksum::Bytes(b) => b.clone(),
        Checksum::Hex(h) => h.as_bytes().to_vec(),
    }
}

/// sqlx's row for a migration, written as sqlx writes it (`execution_time` -1 until updated after the commit).
pub(super) fn sqlx_row(
    version: i64,
    description: &str,
    checksum: &Checksum,
    success: bool,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    let sql = if success {
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, TRUE, $3, -1)"
    } else {
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, FALSE, $3, -1)"
    };
    sqlx::query(sql)
        .bind(version)
        .bind(description.to_string())
        .bind(bytes(checksum))
}

/// deckhand's plain-format row for a migration.
#[allow(clippy::too_many_arguments)]
pub(super) fn plain_row(
    backend: Backend,
    stem: &str,
    m: &Migration,
    checksum: &Checksum,
    applied_by: &str,
    duration_ms: i64,
    success: bool,
    error: Option<&str>,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    let sql = format!(
        "INSERT INTO deckhand_migrations (version, name, checksum, applied_at, applied_by, duration_ms, \
         success, error) VALUES ($1, $2, $3, {}, $4, $5, {}, $6)",
        backend.now(),
        if success { "TRUE" } else { "FALSE" }
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(stem.to_string())
        .bind(m.name.clone())
        .bind(hex(checksum))
        .bind(applied_by.to_string())
        .bind(duration_ms)
        .bind(error.map(str::to_string))
}

/// The ledger row's handle while a migration runs.
#[derive(Debug, Clone, Default)]
pub struct Started {
    /// Prisma's row id.
    pub prisma_id: Option<String>,
    /// A sqlx or plain row was written before the migration ran (non-transactional files): finish it with an
    /// UPDATE, not an INSERT.
    pub in_progress_row: bool,
}

/// Prisma writes its row before running the script (`started_at`, `applied_steps_count = 0`); the others write
/// nothing until the migration succeeded.
pub async fn started(conn: &mut AnyConnection, m: &Migration) -> Result<Started, MigrateError> {
    if m.format != Format::Prisma {
        return Ok(Started::default());
    }
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO \"_prisma_migrations\" (id, checksum, migration_name, started_at, applied_steps_count) \
         VALUES ($1, $2, $3, now(), 0)",
    )
    .bind(&id)
    .bind(hex(&source::checksum(m)))
    .bind(&m.name)
    .execute(conn)
    .await
    .map_err(|e| db_err("recording the migration start", e))?;
    Ok(Started {
        prisma_id: Some(id),
        in_progress_row: false,
    })
}

/// Before a non-transactional file runs, its row is written as not (yet) successful, so that a crash half-way
/// leaves a record the tools understand: sqlx reports the version as dirty, deckhand shows it failed, Prisma's row
/// is unfinished. (Drizzle's ledger has no such state; the journal and the invalid-index check cover it.)
pub async fn started_outside_transaction(
    conn: &mut AnyConnection,
    backend: Backend,
    m: &Migration,
    applied_by: &str,
) -> Result<Started, MigrateError> {
    let checksum = source::checksum(m);
    let q = match &m.key {
        Key::Prisma { .. } => return started(conn, m).await,
        Key::Drizzle { .. } => return Ok(Started::default()),
        Key::Sqlx {
            version,
            description,
        } => sqlx_row(*version, description, &checksum, false),
        Key::Plain { stem } => plain_row(
            backend,
            stem,
            m,
            &checksum,
            applied_by,
            0,
            false,
            Some("in progress"),
        ),
    };
    q.execute(conn)
        .await
        .map_err(|e| db_err("recording the migration start", e))?;
    Ok(Started {
        prisma_id: None,
        in_progress_row: true,
    })
}

/// Statements done so far, for a migration run statement by statement (Prisma: `applied_steps_count`; plain:
/// the row's `error` says how far it got until it succeeds).
pub async fn progress(
    conn: &mut AnyConnection,
    m: &Migration,
    s: &Started,
    done: usize,
    of: usize,
) -> Result<(), MigrateError> {
    let q = match (&m.key, &s.prisma_id) {
        (Key::Prisma { .. }, Some(id)) => {
            sqlx::query("UPDATE \"_prisma_migrations\" SET applied_steps_count = $1 WHERE id = $2")
                .bind(done as i32)
                .bind(id.clone())
        }
        (Key::Plain { stem }, _) if s.in_progress_row => {
            sqlx::query("UPDATE deckhand_migrations SET error = $1 WHERE version = $2")
                .bind(format!("in progress: {done} of {of} statements done"))
                .bind(stem.clone())
        }
        _ => return Ok(()),
    };
    q.execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| db_err("recording progress", e))
}

/// The row that says the migration is applied, exactly as the tool writes it.
pub async fn applied(
    conn: &mut AnyConnection,
    backend: Backend,
    m: &Migration,
    s: &Started,
    steps: usize,
    took: Duration,
    applied_by: &str,
) -> Result<(), MigrateError> {
    let checksum = source::checksum(m);
    let q = match (&m.key, &s.prisma_id) {
        (Key::Prisma { .. }, Some(id)) => sqlx::query(
            "UPDATE \"_prisma_migrations\" SET finished_at = clock_timestamp(), applied_steps_count = $1 \
             WHERE id = $2",
        )
        .bind(steps as i32)
        .bind(id.clone()),
        (Key::Sqlx { version, .. }, _) if s.in_progress_row => {
            sqlx::query("UPDATE _sqlx_migrations SET success = TRUE WHERE version = $1").bind(*version)
        }
        (Key::Plain { stem }, _) if s.in_progress_row => {
            let sql = format!(
                "UPDATE deckhand_migrations SET success = TRUE, error = NULL, duration_ms = $1, applied_at = {} \
                 WHERE version = $2",
                backend.now()
            );
            sqlx::query(AssertSqlSafe(sql))
                .bind(took.as_millis() as i64)
                .bind(stem.clone())
        }
        (Key::Prisma { .. }, None) => {
            return Err(MigrateError::Database {
                context: "recording the migration".into(),
                message: "no Prisma row was started".into(),
            });
        }
        (Key::Sqlx { version, description }, _) => sqlx_row(*version, description, &checksum, true),
        (Key::Drizzle { when, .. }, _) => {
            sqlx::query("INSERT INTO \"drizzle\".\"__drizzle_migrations\" (hash, created_at) VALUES ($1, $2)")
                .bind(hex(&checksum))
                .bind(*when)
        }
        (Key::Plain { stem }, _) => {
            let ms = took.as_millis() as i64;
            plain_row(backend, stem, m, &checksum, applied_by, ms, true, None)
        }
    };
    q.execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| db_err("recording the migration as applied", e))
}

/// sqlx updates `execution_time` (nanoseconds) after the migration's transaction committed.
pub async fn execution_time(
    conn: &mut AnyConnection,
    m: &Migration,
    took: Duration,
) -> Result<(), MigrateError> {
    let Key::Sqlx { version, .. } = &m.key else {
        return Ok(());
    };
    sqlx::query("UPDATE _sqlx_migrations SET execution_time = $1 WHERE version = $2")
        .bind(took.as_nanos() as i64)
        .bind(*version)
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| db_err("recording the execution time", e))
}

/// A migration that ran outside a transaction failed part-way: record it as failed, so neither deckhand nor the
/// tool runs it again blindly. (Drizzle's ledger has no way to say so; the journal and the next status do.)
pub async fn failed(
    conn: &mut AnyConnection,
    backend: Backend,
    m: &Migration,
    s: &Started,
    steps: usize,
    error: &str,
    applied_by: &str,
) -> Result<(), MigrateError> {
    let checksum = source::checksum(m);
    let q = match (&m.key, &s.prisma_id) {
        // The in-progress row already says "not successful" (sqlx has no column for the reason).
        (Key::Sqlx { .. }, _) if s.in_progress_row => return Ok(()),
        (Key::Plain { stem }, _) if s.in_progress_row => {
            sqlx::query("UPDATE deckhand_migrations SET error = $1 WHERE version = $2")
                .bind(error.to_string())
                .bind(stem.clone())
        }
        (Key::Prisma { .. }, Some(id)) => sqlx::query(
            "UPDATE \"_prisma_migrations\" SET logs = $1, applied_steps_count = $2 WHERE id = $3",
        )
        .bind(error.to_string())
        .bind(steps as i32)
        .bind(id.clone()),
        (
            Key::Sqlx {
                version,
                description,
            },
            _,
        ) => sqlx_row(*version, description, &checksum, false),
        (Key::Plain { stem }, _) => plain_row(
            backend,
            stem,
            m,
            &checksum,
            applied_by,
            0,
            false,
            Some(error),
        ),
        _ => return Ok(()),
    };
    q.execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| db_err("recording the failure", e))
}
