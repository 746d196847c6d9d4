//! The migration tools' advisory locks on PostgreSQL, taken with a bounded wait; when the wait runs out, who holds
//! the lock (pid, application_name, client address, since when) from pg_locks and pg_stat_activity.

use std::time::{Duration, Instant};

use sqlx::Row;

use super::Format;
use super::db::Db;
use super::error::{LockHolder, MigrateError, describe_db_error};

/// Prisma's advisory lock key (`prisma migrate deploy` takes it).
pub const PRISMA_LOCK_KEY: i64 = 72707369;
/// deckhand's own key for plain SQL folders and Drizzle (which takes no lock of its own): "deck".
pub const DECKHAND_LOCK_KEY: i64 = 0x6465_636b;
/// Pause between two attempts at the lock.
const LOCK_RETRY_INTERVAL: Duration = Duration::from_millis(100);

fn db_err(context: &str, e: sqlx::Error) -> MigrateError {
    MigrateError::Database {
        context: context.into(),
        message: describe_db_error(&e).0,
    }
}

/// sqlx's key: `0x3d32ad9e * crc32(current_database())`, as sqlx-postgres computes it.
pub fn sqlx_lock_key(database: &str) -> i64 {
    0x3d32ad9e * i64::from(crc32fast::hash(database.as_bytes()))
}

/// The key the tool of `format` locks on this database.
pub async fn key_for(db: &mut Db, format: Format) -> Result<i64, MigrateError> {
    Ok(match format {
        Format::Prisma => PRISMA_LOCK_KEY,
        Format::Sqlx => {
            let name: String = sqlx::query("SELECT CAST(current_database() AS TEXT)")
                .fetch_one(&mut db.conn)
                .await
                .and_then(|r| r.try_get(0))
                .map_err(|e| db_err("reading the database name", e))?;
            sqlx_lock_key(&name)
        }
        Format::Drizzle | Format::Plain => DECKHAND_LOCK_KEY,
    })
}

/// Takes the session-level advisory lock `key`, trying until `wait` has passed.
pub async fn acquire(db: &mut Db, key: i64, wait: Duration) -> Result<(), MigrateError> {
    let start = Instant::now();
    loop {
        let got: bool = sqlx::query("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut db.conn)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| db_err("taking the migration lock", e))?;
        if got {
            return Ok(());
        }
        if start.elapsed() >= wait {
            return Err(MigrateError::LockTimeout {
                key,
                waited: start.elapsed(),
                holders: holders(db, key).await.unwrap_or_default(),
            });
        }
        tokio::time::sleep(LOCK_RETRY_INTERVAL).await;
    }
}

pub async fn release(db: &mut Db, key: i64) -> Result<(), MigrateError> {
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut db.conn)
        .await
        .map(|_| ())
        .map_err(|e| db_err("releasing the migration lock", e))
}

/// Sessions holding advisory lock `key` (a bigint key shows in pg_locks as classid = high, objid = low 32 bits).
pub async fn holders(db: &mut Db, key: i64) -> Result<Vec<LockHolder>, MigrateError> {
    let high = ((key as u64) >> 32) as i64;
    let low = ((key as u64) & 0xffff_ffff) as i64;
    let rows = sqlx::query(
        "SELECT CAST(a.pid AS BIGINT), COALESCE(a.application_name, ''), \
         COALESCE(CAST(host(a.client_addr) AS TEXT), 'local socket'), \
         COALESCE(CAST(date_trunc('second', a.backend_start) AS TEXT), ''), COALESCE(a.state, '') \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
         AND CAST(l.classid AS BIGINT) = $1 AND CAST(l.objid AS BIGINT) = $2 AND l.pid <> pg_backend_pid()",
    )
    .bind(high)
    .bind(low)
    .fetch_all(&mut db.conn)
    .await
    .map_err(|e| db_err("looking up the lock holder", e))?;
    rows.iter()
        .map(|r| {
            Ok(LockHolder {
                pid: r.try_get(0)?,
                application_name: r.try_get(1)?,
                client: r.try_get(2)?,
                since: r.try_get(3)?,
                state: r.try_get(4)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| db_err("reading the lock holder", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlx_key_matches_sqlx_formula() {
        // crc32("postgres") = 0x156a8775 (IEEE, as Python zlib computes it); sqlx multiplies by 0x3d32ad9e in i64.
        assert_eq!(crc32fast::hash(b"postgres"), 0x156a_8775);
        assert_eq!(sqlx_lock_key("postgres"), 0x3d32ad9e_i64 * 0x156a_8775_i64);
    }
}
