//! The migration tools' own ledgers, read and written exactly as each tool does, so the tool agrees with deckhand
//! afterwards: Prisma's `_prisma_migrations`, sqlx's `_sqlx_migrations`, Drizzle's `drizzle.__drizzle_migrations`
//! and deckhand's `deckhand_migrations` for plain SQL folders.

use sqlx::{AnyConnection, AssertSqlSafe, Row};

use super::db::{Backend, Db};
use super::error::{MigrateError, describe_db_error};
use super::{Checksum, Format, Key, Migration};

/// How a ledger row names its migration.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LedgerKey {
    /// Prisma's `migration_name`, plain's `version` (the file stem).
    Name(String),
    /// sqlx's `version`.
    Version(i64),
    /// Drizzle's `created_at` (the journal's `when`).
    When(i64),
}

/// What a ledger row says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    Applied,
    /// Started and not finished, or recorded as unsuccessful.
    Failed,
    /// Prisma: marked rolled back (`migrate resolve --rolled-back`); the migration counts as not applied.
    RolledBack,
}

/// One row of a ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub key: LedgerKey,
    /// The name to show (Prisma/plain name, sqlx `version_description`, Drizzle `created_at`).
    pub name: String,
    pub checksum: Checksum,
    pub state: RowState,
    pub applied_at: Option<String>,
    /// Prisma `logs`, plain `error`.
    pub detail: Option<String>,
}

/// The ledger key of a migration on disk.
pub fn key_of(m: &Migration) -> LedgerKey {
    match &m.key {
        Key::Prisma { name } => LedgerKey::Name(name.clone()),
        Key::Sqlx { version, .. } => LedgerKey::Version(*version),
        Key::Drizzle { when, .. } => LedgerKey::When(*when),
        Key::Plain { stem } => LedgerKey::Name(stem.clone()),
    }
}

/// The ledger table, as SQL names it.
pub fn table(format: Format) -> &'static str {
    match format {
        Format::Prisma => "\"_prisma_migrations\"",
        Format::Sqlx => "_sqlx_migrations",
        Format::Drizzle => "\"drizzle\".\"__drizzle_migrations\"",
        Format::Plain => "deckhand_migrations",
    }
}

/// Refuses format/engine pairs the tool itself does not support here (Prisma and Drizzle ledgers are
/// PostgreSQL-only in deckhand).
pub fn check_supported(format: Format, backend: Backend) -> Result<(), MigrateError> {
    match (format, backend) {
        (Format::Prisma | Format::Drizzle, Backend::Sqlite) => Err(MigrateError::Unsupported {
            format: format.name().into(),
            backend: backend.name().into(),
        }),
        _ => Ok(()),
    }
}

fn db_err(context: &str, e: sqlx::Error) -> MigrateError {
    MigrateError::Database {
        context: context.to_string(),
        message: describe_db_error(&e).0,
    }
}

async fn exec(conn: &mut AnyConnection, sql: String, context: &str) -> Result<(), MigrateError> {
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| db_err(context, e))
}

/// Whether the ledger table exists yet (a database never migrated by the tool has none).
pub async fn exists(db: &mut Db, format: Format) -> Result<bool, MigrateError> {
    let query = match db.backend {
        Backend::Postgres => {
            let name = table(format).replace('"', "");
            sqlx::query("SELECT CAST(to_regclass($1) AS TEXT)").bind(name)
        }
        Backend::Sqlite => {
            sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = $1")
                .bind(table(format).replace('"', ""))
        }
    };
    let row = query
        .fetch_optional(&mut db.conn)
        .await
        .map_err(|e| db_err("looking for the ledger", e))?;
    Ok(match row {
        Some(r) => r.try_get::<Option<String>, _>(0).ok().flatten().is_some(),
        None => false,
    })
}

/// Creates the ledger table as the tool would (idempotent).
pub async fn ensure(
    conn: &mut AnyConnection,
    backend: Backend,
    format: Format,
) -> Result<(), MigrateError> {
    let (ts, ts_default, bytes) = match backend {
        Backend::Postgres => ("TIMESTAMPTZ", "now()", "BYTEA"),
        Backend::Sqlite => ("TIMESTAMP", "CURRENT_TIMESTAMP", "BLOB"),
    };
    let ddl = match format {
        Format::Prisma => format!(
            "CREATE TABLE IF NOT EXISTS \"_prisma_migrations\" (\n\
             \"id\" VARCHAR(36) NOT NULL,\n\
             \"checksum\" VARCHAR(64) NOT NULL,\n\
             \"finished_at\" {ts},\n\
             \"migration_name\" VARCHAR(255) NOT NULL,\n\
             \"logs\" TEXT,\n\
             \"rolled_back_at\" {ts},\n\
             \"started_at\" {ts} NOT NULL DEFAULT {ts_default},\n\
             \"applied_steps_count\" INTEGER NOT NULL DEFAULT 0,\n\
             CONSTRAINT \"_prisma_migrations_pkey\" PRIMARY KEY (\"id\"))"
        ),
        Format::Sqlx => format!(
            "CREATE TABLE IF NOT EXISTS _sqlx_migrations (\n\
             version BIGINT PRIMARY KEY,\n\
             description TEXT NOT NULL,\n\
             installed_on {ts} NOT NULL DEFAULT {ts_default},\n\
             success BOOLEAN NOT NULL,\n\
             checksum {bytes} NOT NULL,\n\
             execution_time BIGINT NOT NULL)"
        ),
        Format::Drizzle => "CREATE SCHEMA IF NOT EXISTS \"drizzle\";\n\
             CREATE TABLE IF NOT EXISTS \"drizzle\".\"__drizzle_migrations\" (\n\
             id SERIAL PRIMARY KEY,\n\
             hash text NOT NULL,\n\
             created_at bigint)"
            .to_string(),
        Format::Plain => format!(
            "CREATE TABLE IF NOT EXISTS deckhand_migrations (\n\
             version TEXT PRIMARY KEY,\n\
             name TEXT NOT NULL,\n\
             checksum TEXT NOT NULL,\n\
             applied_at {ts} NOT NULL DEFAULT {ts_default},\n\
             applied_by TEXT NOT NULL,\n\
             duration_ms BIGINT NOT NULL,\n\
             success BOOLEAN NOT NULL,\n\
             error TEXT)"
        ),
    };
    exec(conn, ddl, "creating the ledger table").await
}

/// Every row of the ledger, in the tool's order. No table yet means no rows.
pub async fn read(db: &mut Db, format: Format) -> Result<Vec<LedgerRow>, MigrateError> {
    if !exists(db, format).await? {
        return Ok(Vec::new());
    }
    let sql = match format {
        Format::Prisma => {
            "SELECT migration_name, checksum, CAST(finished_at AS TEXT), CAST(rolled_back_at AS TEXT), logs, \
             CAST(started_at AS TEXT) FROM \"_prisma_migrations\" ORDER BY started_at, migration_name"
        }
        Format::Sqlx => {
            "SELECT version, description, checksum, CAST(success AS INTEGER), CAST(installed_on AS TEXT) \
             FROM _sqlx_migrations ORDER BY version"
        }
        Format::Drizzle => {
            "SELECT created_at, hash, CAST(id AS BIGINT) FROM \"drizzle\".\"__drizzle_migrations\" \
             ORDER BY created_at, id"
        }
        Format::Plain => {
            "SELECT version, name, checksum, CAST(success AS INTEGER), CAST(applied_at AS TEXT), error \
             FROM deckhand_migrations ORDER BY version"
        }
    };
    let rows = sqlx::query(sql)
        .fetch_all(&mut db.conn)
        .await
        .map_err(|e| db_err("reading the ledger", e))?;
    rows.iter()
        .map(|r| decode(format, r))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| db_err("reading the ledger", e))
}

/// `success` read as an integer (the `Any` driver cannot decode SQLite's BOOLEAN).
fn success(flag: i64) -> RowState {
    if flag != 0 {
        RowState::Applied
    } else {
        RowState::Failed
    }
}

fn decode(format: Format, r: &sqlx::any::AnyRow) -> Result<LedgerRow, sqlx::Error> {
    Ok(match format {
        Format::Prisma => {
            let name: String = r.try_get(0)?;
            let finished: Option<String> = r.try_get(2)?;
            let rolled_back: Option<String> = r.try_get(3)?;
            let state = match (&rolled_back, &finished) {
                (Some(_), _) => RowState::RolledBack,
                (None, Some(_)) => RowState::Applied,
                (None, None) => RowState::Failed,
            };
            LedgerRow {
                key: LedgerKey::Name(name.clone()),
                name,
                checksum: Checksum::Hex(r.try_get(1)?),
                state,
                applied_at: finished.or(r.try_get(5)?),
                detail: r.try_get(4)?,
            }
        }
        Format::Sqlx => {
            let version: i64 = r.try_get(0)?;
            let description: String = r.try_get(1)?;
            LedgerRow {
                key: LedgerKey::Version(version),
                name: format!("{version}_{}", description.replace(' ', "_")),
                checksum: Checksum::Bytes(r.try_get(2)?),
                state: success(r.try_get(3)?),
                applied_at: r.try_get(4)?,
                detail: None,
            }
        }
        Format::Drizzle => {
            let when: Option<i64> = r.try_get(0)?;
            let id: i64 = r.try_get(2)?;
            LedgerRow {
                key: LedgerKey::When(when.unwrap_or(i64::MIN)),
                name: when.map_or_else(
                    || format!("row id {id} (no created_at)"),
                    |w| format!("created_at {w}"),
                ),
                checksum: Checksum::Hex(r.try_get(1)?),
                state: RowState::Applied,
                applied_at: None,
                detail: None,
            }
        }
        Format::Plain => {
            let version: String = r.try_get(0)?;
            LedgerRow {
                key: LedgerKey::Name(version),
                name: r.try_get(1)?,
                checksum: Checksum::Hex(r.try_get(2)?),
                state: success(r.try_get(3)?),
                applied_at: r.try_get(4)?,
                detail: r.try_get(5)?,
            }
        }
    })
}
