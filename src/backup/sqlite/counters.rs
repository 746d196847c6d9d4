//! What SQLite can tell about writes: it keeps no statistics, so each table's rows are counted (in the backup
//! copy when it is taken, in the live database before a restore), and the live file's modification time says
//! whether anything was written since at all (an update changes no count).

use std::path::Path;
use std::time::UNIX_EPOCH;

use sqlx::AssertSqlSafe;
use sqlx::sqlite::SqliteConnection;

use super::conn::{self, db_err};
use crate::backup::counters::{CounterSource, Counters, TableCounter};
use crate::backup::{BackupError, store};
use crate::plan::Database;

/// `"name"` with its quotes doubled.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Every user table's rows, counted.
pub async fn read(conn: &mut SqliteConnection) -> Result<Counters, BackupError> {
    let at_unix = store::unix_now();
    let names = conn::tables(conn)
        .await
        .map_err(|e| db_err("listing the tables", &e))?;
    let mut tables = Vec::with_capacity(names.len());
    for table in names {
        let sql = format!("SELECT count(*) FROM {}", quoted(&table));
        let rows: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await
            .map_err(|e| db_err(format!("counting the rows of {table}"), &e))?;
        tables.push(TableCounter {
            table,
            oid: None,
            writes: None,
            rows: u64::try_from(rows).unwrap_or(0),
        });
    }
    Ok(Counters {
        at_unix,
        source: CounterSource::RowCounts,
        stats_reset_unix: None,
        modified_unix: None,
        tables,
    })
}

/// The rows of each table of a backup copy (opened read-only).
pub async fn read_copy(path: &Path) -> Result<Counters, BackupError> {
    let mut c = conn::connect(&conn::archive_options(path), path).await?;
    let counters = read(&mut c).await;
    conn::close(c).await;
    counters
}

/// When `path` was last modified, in seconds since the Unix epoch.
fn modified(path: &Path) -> Option<u64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(t.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

/// The live database's rows per table, and when its file or its `-wal` was last written.
pub async fn read_live(db: &Database) -> Result<Counters, BackupError> {
    let path = super::db_path(&db.url.value)?;
    let opts = conn::live_options(db)?.read_only(true);
    let mut c = conn::connect(&opts, &path).await?;
    let counters = read(&mut c).await;
    conn::close(c).await;
    let mut counters = counters?;
    counters.modified_unix = [modified(&path), modified(&super::beside(&path, "-wal"))]
        .into_iter()
        .flatten()
        .max();
    Ok(counters)
}
