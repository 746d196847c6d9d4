//! The migration tools' advisory locks on PostgreSQL, taken with a bounded wait that reports who holds the lock
//! while it lasts; and a watch, on a connection of its own, over the locks an apply's statements wait for
//! (`pg_blocking_pids`), reporting who holds them. Who a holder is comes from pg_stat_activity (`holders`).

mod holders;

use std::convert::Infallible;
use std::fmt;
use std::time::{Duration, Instant};

use sqlx::Row;

use super::Format;
use super::db::{self, Db, Settings};
use super::error::{LockHolder, MigrateError, describe_db_error};

pub use holders::{blocking, by_pid};

/// Prisma's advisory lock key (`prisma migrate deploy` takes it).
pub const PRISMA_LOCK_KEY: i64 = 72707369;
/// deckhand's own key for plain SQL folders and Drizzle (which takes no lock of its own): "deck".
pub const DECKHAND_LOCK_KEY: i64 = 0x6465_636b;
/// Pause between two attempts at the lock.
const LOCK_RETRY_INTERVAL: Duration = Duration::from_millis(100);
/// How often a wait for a lock is reported (who holds it, how long it has lasted), and how often the watch looks.
pub const WAIT_REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// The application_name of the watch's connection, as other sessions see it in pg_stat_activity.
pub const WATCH_APPLICATION_NAME: &str = "deckhand lock watch";

/// The lock a wait is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    /// The migration tool's advisory lock: another migration (deckhand, or the tool itself) holds it.
    Migration { key: i64 },
    /// What a statement waits for, in words: `a lock on public.t`, `a row another transaction changed`.
    Object { what: String },
}

impl fmt::Display for Waited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Waited::Migration { key } => write!(f, "the migration lock (advisory lock {key})"),
            Waited::Object { what } => f.write_str(what),
        }
    }
}

/// A wait for a lock under way: what for, for how long so far, and who holds it (empty when it cannot be seen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockWait {
    pub lock: Waited,
    pub waited: Duration,
    pub holders: Vec<LockHolder>,
}

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
    acquire_reporting(db, key, wait, &mut |_| {}).await
}

/// Like [`acquire`], reporting the wait as soon as the lock is found taken and then every
/// [`WAIT_REPORT_INTERVAL`], with who holds it.
pub async fn acquire_reporting(
    db: &mut Db,
    key: i64,
    wait: Duration,
    report: &mut (dyn FnMut(LockWait) + Send),
) -> Result<(), MigrateError> {
    let start = Instant::now();
    let mut reported: Option<Instant> = None;
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
        if reported.is_none_or(|at| at.elapsed() >= WAIT_REPORT_INTERVAL) {
            reported = Some(Instant::now());
            report(LockWait {
                lock: Waited::Migration { key },
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

/// Sessions holding advisory lock `key`.
pub async fn holders(db: &mut Db, key: i64) -> Result<Vec<LockHolder>, MigrateError> {
    holders::of_advisory(db, key).await
}

/// The server process of `db`'s session (what pg_locks and pg_blocking_pids call it).
pub async fn backend_pid(db: &mut Db) -> Result<i64, MigrateError> {
    sqlx::query("SELECT CAST(pg_backend_pid() AS BIGINT)")
        .fetch_one(&mut db.conn)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| db_err("reading deckhand's backend pid", e))
}

/// A watch over the locks one session (an apply's) waits for, on a connection of its own: a statement waiting
/// for a lock cannot say who holds it, another session can.
pub struct Watch {
    db: Db,
    pid: i64,
    /// When the current wait was first seen.
    since: Option<Instant>,
    /// The current wait, as last seen (`None` when the session waits for nothing).
    last: Option<LockWait>,
}

impl Watch {
    /// Opens the watch's connection (PostgreSQL only) for the session `pid`.
    pub async fn open(url: &str, settings: &Settings, pid: i64) -> Result<Watch, MigrateError> {
        let mut db = db::connect(url, settings).await?;
        sqlx::query("SELECT set_config('application_name', $1, false)")
            .bind(WATCH_APPLICATION_NAME)
            .execute(&mut db.conn)
            .await
            .map_err(|e| db_err("naming the lock watch's connection", e))?;
        Ok(Watch {
            db,
            pid,
            since: None,
            last: None,
        })
    }

    /// Looks every [`WAIT_REPORT_INTERVAL`]: while the session waits, reports the wait (`Some`) with who holds the
    /// lock; once it is over, reports `None`. Runs until dropped.
    pub async fn run(&mut self, report: &mut (dyn FnMut(Option<LockWait>) + Send)) -> Infallible {
        loop {
            tokio::time::sleep(WAIT_REPORT_INTERVAL).await;
            match self.look().await {
                Ok(Some(wait)) => report(Some(wait)),
                Ok(None) if self.since.take().is_some() => report(None),
                Ok(None) => {}
                Err(e) => tracing::debug!("lock watch: {e}"),
            }
        }
    }

    async fn look(&mut self) -> Result<Option<LockWait>, MigrateError> {
        let holders = blocking(&mut self.db, self.pid).await?;
        if holders.is_empty() {
            self.last = None;
            return Ok(None);
        }
        let since = *self.since.get_or_insert_with(Instant::now);
        let what = holders::waited_for(&mut self.db, self.pid)
            .await?
            .unwrap_or_else(|| "a lock".into());
        let wait = LockWait {
            lock: Waited::Object { what },
            waited: since.elapsed(),
            holders,
        };
        self.last = Some(wait.clone());
        Ok(Some(wait))
    }

    /// The wait under way when the watch last looked, if there was one.
    pub fn last_seen(&self) -> Option<&LockWait> {
        self.last.as_ref()
    }

    /// The watch's connection, for other questions once the apply is over.
    pub fn db(&mut self) -> &mut Db {
        &mut self.db
    }
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
