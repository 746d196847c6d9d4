//! Resolving the ledger by hand, for one migration or a batch: mark applied without running it (baselining: its
//! changes already exist), mark a failed one rolled back, forget a row whose file is gone, accept an edited file.
//! Each writes what the tool itself writes (Prisma: what `prisma migrate resolve` writes, SQL for SQL). A batch
//! runs under the tool's lock, after checking every entry is still in the state the operator confirmed, in one
//! transaction: all of it, or none.

use sqlx::{AnyConnection, Row};

use super::apply::one_transaction;
use super::db::{Backend, Db};
use super::error::{MigrateError, describe_db_error};
use super::ledger::{self, LedgerKey, key_of};
use super::record::{bytes, hex, plain_row, sqlx_row};
use super::status::{self, State};
use super::{Format, Key, Migration, lock, source};

/// A resolve action (Prisma's `migrate resolve --applied` / `--rolled-back`).
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

    /// Whether the action applies to an entry in `state`. Mark applied: a pending or out-of-order migration
    /// (baselining), a failed one (applied by hand since), an edited one (the file is accepted as it is now). Mark
    /// rolled back: a failed migration, or a ledger row whose file is gone.
    pub fn applies_to(self, state: State) -> bool {
        match self {
            Resolve::MarkApplied => matches!(
                state,
                State::Pending | State::OutOfOrder | State::Failed | State::Edited
            ),
            Resolve::MarkRolledBack => matches!(state, State::Failed | State::MissingLocally),
        }
    }
}

/// One ledger entry to resolve, and the state the operator saw it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub key: LedgerKey,
    pub name: String,
    pub seen: State,
}

fn db_err(context: &str, e: sqlx::Error) -> MigrateError {
    MigrateError::Database {
        context: context.into(),
        message: describe_db_error(&e).0,
    }
}

fn refused(name: &str, message: String) -> MigrateError {
    MigrateError::Database {
        context: name.into(),
        message,
    }
}

async fn count(
    conn: &mut AnyConnection,
    sql: &'static str,
    name: &str,
) -> Result<i64, MigrateError> {
    sqlx::query(sql)
        .bind(name.to_string())
        .fetch_one(conn)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| db_err("reading the ledger", e))
}

/// `prisma migrate resolve --rolled-back`: each row of the migration that is neither finished nor rolled back gets
/// `rolled_back_at` (Prisma: `UPDATE … SET rolled_back_at = $now WHERE id = $id` for each such row). A finished
/// row is never touched: Prisma refuses (P3012) a migration whose rows are all finished. The other ledgers have no
/// rolled-back state: the row is deleted (sqlx's own advice for a failed row: "remove row from `_sqlx_migrations`").
/// Returns the rows changed.
pub async fn mark_rolled_back(
    conn: &mut AnyConnection,
    format: Format,
    key: &LedgerKey,
) -> Result<u64, MigrateError> {
    let q = match (format, key) {
        (Format::Prisma, LedgerKey::Name(n)) => sqlx::query(
            "UPDATE \"_prisma_migrations\" SET rolled_back_at = clock_timestamp() \
             WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL",
        )
        .bind(n.clone()),
        _ => return delete_row(conn, format, key).await,
    };
    q.execute(conn)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| db_err("marking the migration rolled back", e))
}

/// Removes a migration's row from a ledger without a rolled-back state (sqlx, Drizzle, plain).
async fn delete_row(
    conn: &mut AnyConnection,
    format: Format,
    key: &LedgerKey,
) -> Result<u64, MigrateError> {
    let q = match (format, key) {
        (Format::Sqlx, LedgerKey::Version(v)) => {
            sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1").bind(*v)
        }
        (Format::Drizzle, LedgerKey::When(w)) => {
            sqlx::query("DELETE FROM \"drizzle\".\"__drizzle_migrations\" WHERE created_at = $1")
                .bind(*w)
        }
        (Format::Plain, LedgerKey::Name(n)) => {
            sqlx::query("DELETE FROM deckhand_migrations WHERE version = $1").bind(n.clone())
        }
        _ => {
            return Err(MigrateError::Database {
                context: "marking rolled back".into(),
                message: format!("{key:?} is not a {format} ledger key"),
            });
        }
    };
    q.execute(conn)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| db_err("removing the ledger row", e))
}

/// A ledger row whose file is gone is forgotten. Prisma: `rolled_back_at` on each of its rows not yet rolled
/// back, finished ones included — deckhand's own step, which Prisma's CLI refuses for a finished row (P3012):
/// `prisma migrate deploy` ignores rows missing locally, deckhand refuses to apply past them, and a rolled-back
/// row is what Prisma itself ignores everywhere (its status stops listing it). The others: the row is deleted.
pub async fn forget_missing(
    conn: &mut AnyConnection,
    format: Format,
    key: &LedgerKey,
) -> Result<u64, MigrateError> {
    let q = match (format, key) {
        (Format::Prisma, LedgerKey::Name(n)) => sqlx::query(
            "UPDATE \"_prisma_migrations\" SET rolled_back_at = clock_timestamp() \
             WHERE migration_name = $1 AND rolled_back_at IS NULL",
        )
        .bind(n.clone()),
        _ => return delete_row(conn, format, key).await,
    };
    q.execute(conn)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| db_err("forgetting the ledger row", e))
}

/// Records `m` as applied without running it, with the row the tool writes.
///
/// Prisma, as `prisma migrate resolve --applied` (schema-engine `mark_migration_applied`): refused when any row of
/// the migration is finished (P3008, rolled back or not); each unfinished row not rolled back is marked rolled back;
/// then one row with `logs = ''`, `started_at = finished_at` (one timestamp) and `applied_steps_count` 0. (Prisma
/// takes the time on the client; deckhand takes `clock_timestamp()`, once per row.)
/// sqlx: its success row, `success = TRUE`, the file's SHA-384, `execution_time = -1` — the value sqlx writes before
/// it measures; nothing ran, so nothing is measured (a failed row is removed first).
/// Drizzle: `hash` = the file's sha256, `created_at` = the journal's `when`, as its migrator inserts.
/// plain: deckhand's success row (duration 0, who marked it), a failed row removed first.
pub async fn mark_applied(
    conn: &mut AnyConnection,
    backend: Backend,
    m: &Migration,
    applied_by: &str,
) -> Result<(), MigrateError> {
    let checksum = source::checksum(m);
    let q = match &m.key {
        Key::Prisma { name } => {
            let finished = count(
                conn,
                "SELECT COUNT(*) FROM \"_prisma_migrations\" WHERE migration_name = $1 AND finished_at IS NOT NULL",
                name,
            )
            .await?;
            if finished > 0 {
                return Err(refused(
                    name,
                    "already recorded as applied in the database: it has a finished row (rolled back or not), \
                     and Prisma refuses this too (P3008); nothing was done"
                        .into(),
                ));
            }
            mark_rolled_back(conn, Format::Prisma, &key_of(m)).await?;
            sqlx::query(
                "INSERT INTO \"_prisma_migrations\" (id, checksum, logs, started_at, finished_at, migration_name) \
                 SELECT $1, $2, '', now.t, now.t, $3 FROM (SELECT clock_timestamp() AS t) AS now",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(hex(&checksum))
            .bind(name.clone())
        }
        Key::Sqlx {
            version,
            description,
        } => {
            delete_row(conn, Format::Sqlx, &key_of(m)).await?;
            sqlx_row(*version, description, &checksum, true)
        }
        Key::Drizzle { when, .. } => sqlx::query(
            "INSERT INTO \"drizzle\".\"__drizzle_migrations\" (hash, created_at) VALUES ($1, $2)",
        )
        .bind(hex(&checksum))
        .bind(*when),
        Key::Plain { stem } => {
            delete_row(conn, Format::Plain, &key_of(m)).await?;
            plain_row(backend, stem, m, &checksum, applied_by, 0, true, None)
        }
    };
    q.execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| db_err("recording the migration as applied", e))
}

/// An edited file is accepted as it is now: the applied row's checksum becomes the file's (Prisma: its finished
/// rows not rolled back; none of the tools has a command for it). Nothing else in the row changes.
pub async fn accept_checksum(conn: &mut AnyConnection, m: &Migration) -> Result<u64, MigrateError> {
    let checksum = source::checksum(m);
    let q = match &m.key {
        Key::Prisma { name } => sqlx::query(
            "UPDATE \"_prisma_migrations\" SET checksum = $1 \
             WHERE migration_name = $2 AND finished_at IS NOT NULL AND rolled_back_at IS NULL",
        )
        .bind(hex(&checksum))
        .bind(name.clone()),
        Key::Sqlx { version, .. } => {
            sqlx::query("UPDATE _sqlx_migrations SET checksum = $1 WHERE version = $2")
                .bind(bytes(&checksum))
                .bind(*version)
        }
        Key::Drizzle { when, .. } => sqlx::query(
            "UPDATE \"drizzle\".\"__drizzle_migrations\" SET hash = $1 WHERE created_at = $2",
        )
        .bind(hex(&checksum))
        .bind(*when),
        Key::Plain { stem } => {
            sqlx::query("UPDATE deckhand_migrations SET checksum = $1 WHERE version = $2")
                .bind(hex(&checksum))
                .bind(stem.clone())
        }
    };
    q.execute(conn)
        .await
        .map(|r| r.rows_affected())
        .map_err(|e| db_err("recording the file's checksum", e))
}

/// Resolves every item with `action`, under the tool's lock (waiting up to `lock_wait`), in one transaction, after
/// checking each is still in the state the operator saw (someone may have fixed it meanwhile): nothing is done
/// unless all are. Returns one line per item, in order, saying what was done.
pub async fn resolve(
    db: &mut Db,
    format: Format,
    migrations: &[Migration],
    action: Resolve,
    items: &[Item],
    applied_by: &str,
    lock_wait: std::time::Duration,
) -> Result<Vec<String>, MigrateError> {
    ledger::check_supported(format, db.backend)?;
    let lock_key = match db.backend {
        Backend::Postgres => {
            let k = lock::key_for(db, format).await?;
            lock::acquire(db, k, lock_wait).await?;
            Some(k)
        }
        Backend::Sqlite => None,
    };
    let result = resolve_locked(db, format, migrations, action, items, applied_by).await;
    if let Some(k) = lock_key
        && let Err(e) = lock::release(db, k).await
    {
        tracing::warn!("releasing the migration lock: {e}");
    }
    result
}

async fn resolve_locked(
    db: &mut Db,
    format: Format,
    migrations: &[Migration],
    action: Resolve,
    items: &[Item],
    applied_by: &str,
) -> Result<Vec<String>, MigrateError> {
    let wrong: Vec<String> = items
        .iter()
        .filter(|i| !action.applies_to(i.seen))
        .map(|i| format!("{} is {}", i.name, i.seen.label().to_lowercase()))
        .collect();
    if !wrong.is_empty() {
        return Err(MigrateError::Database {
            context: format!("cannot {}", action.label()),
            message: format!("{}; nothing was done", wrong.join("; ")),
        });
    }
    let status = status::read(db, format, migrations).await?;
    let changed: Vec<String> = items
        .iter()
        .filter_map(|item| {
            let now = status
                .entries
                .iter()
                .find(|e| e.key == item.key)
                .map(|e| e.state);
            (now != Some(item.seen)).then(|| {
                let now = now.map_or("gone from the status", State::label);
                format!("{} was {}, it is now {now}", item.name, item.seen.label())
            })
        })
        .collect();
    if !changed.is_empty() {
        return Err(MigrateError::Database {
            context: "changed since you confirmed".into(),
            message: format!("{}; nothing was done", changed.join("; ")),
        });
    }
    let backend = db.backend;
    one_transaction(db, async |conn: &mut AnyConnection| {
        if action == Resolve::MarkApplied {
            // Prisma's baselining creates its table when the database has none yet; so does every tool's first run.
            ledger::ensure(conn, backend, format).await?;
        }
        let mut done = Vec::with_capacity(items.len());
        for item in items {
            done.push(
                resolve_one(conn, backend, format, migrations, action, item, applied_by).await?,
            );
        }
        Ok(done)
    })
    .await
}

async fn resolve_one(
    conn: &mut AnyConnection,
    backend: Backend,
    format: Format,
    migrations: &[Migration],
    action: Resolve,
    item: &Item,
    applied_by: &str,
) -> Result<String, MigrateError> {
    let name = &item.name;
    let on_disk = || {
        migrations
            .iter()
            .find(|m| key_of(m) == item.key)
            .ok_or_else(|| {
                refused(
                    name,
                    "not on disk: only a migration on disk can be marked applied".into(),
                )
            })
    };
    match (action, item.seen) {
        (Resolve::MarkRolledBack, State::MissingLocally) => {
            let n = forget_missing(conn, format, &item.key).await?;
            Ok(format!(
                "{name}: forgotten by the ledger ({n} row(s)); its file is gone"
            ))
        }
        (Resolve::MarkRolledBack, _) => match mark_rolled_back(conn, format, &item.key).await? {
            0 => Err(refused(
                name,
                "no failed row to mark rolled back (Prisma: P3012, not in a failed state)".into(),
            )),
            n => Ok(format!("{name}: marked rolled back ({n} ledger row(s))")),
        },
        (Resolve::MarkApplied, State::Edited) => match accept_checksum(conn, on_disk()?).await? {
            0 => Err(refused(name, "no applied row to update".into())),
            _ => Ok(format!(
                "{name}: the ledger now holds the checksum of the file on disk"
            )),
        },
        (Resolve::MarkApplied, _) => {
            mark_applied(conn, backend, on_disk()?, applied_by).await?;
            Ok(format!(
                "{name}: marked applied (not run) with the checksum of the file on disk"
            ))
        }
    }
}
