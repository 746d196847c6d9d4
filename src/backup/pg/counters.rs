//! PostgreSQL's write counters: per table `pg_stat_user_tables` (oid, rows inserted, updated, deleted, live rows)
//! and `pg_stat_database.stats_reset`, read when a backup is taken and again before a restore.

use sqlx::{AnyConnection, Row};

use super::conn::Conn;
use crate::backup::counters::{CounterSource, Counters, TableCounter, Writes};
use crate::backup::{BackupError, store};
use crate::migrate::{self, error::describe_db_error};
use crate::plan::Database;

fn err(context: &'static str) -> impl Fn(sqlx::Error) -> BackupError {
    move |e| BackupError::Database {
        context: context.to_string(),
        message: describe_db_error(&e).0,
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The counters of the database `conn` is connected to, now. A fresh statistics snapshot is read (not one cached
/// earlier in a transaction of this session).
pub async fn read(conn: &mut AnyConnection) -> Result<Counters, BackupError> {
    let context = "reading the write statistics";
    let at_unix = store::unix_now();
    let reset: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(EXTRACT(EPOCH FROM stats_reset) AS BIGINT) FROM pg_stat_database \
         WHERE datname = current_database()",
    )
    .fetch_optional(&mut *conn)
    .await
    .map_err(err(context))?
    .flatten();
    let rows = sqlx::query(
        "SELECT CAST(schemaname AS TEXT), CAST(relname AS TEXT), CAST(relid AS BIGINT), \
         CAST(n_tup_ins AS BIGINT), CAST(n_tup_upd AS BIGINT), CAST(n_tup_del AS BIGINT), \
         CAST(n_live_tup AS BIGINT) FROM pg_stat_user_tables \
         WHERE schemaname NOT LIKE 'pg\\_temp\\_%' ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(err(context))?;
    let tables = rows
        .iter()
        .map(|r| {
            let schema: String = r.try_get(0)?;
            let name: String = r.try_get(1)?;
            Ok(TableCounter {
                table: format!("{schema}.{name}"),
                oid: Some(count(r.try_get(2)?)),
                writes: Some(Writes {
                    inserted: count(r.try_get(3)?),
                    updated: count(r.try_get(4)?),
                    deleted: count(r.try_get(5)?),
                }),
                rows: count(r.try_get(6)?),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(err(context))?;
    Ok(Counters {
        at_unix,
        source: CounterSource::PgStatistics,
        stats_reset_unix: reset.map(count),
        modified_unix: None,
        tables,
    })
}

/// Connects to the plan's database and reads its counters. Errors never carry the password.
pub async fn read_live(db: &Database) -> Result<Counters, BackupError> {
    let url = &db.url.value;
    let conn = Conn::parse(url)?;
    let mut live = migrate::db::connect(url, &migrate::settings(db))
        .await
        .map_err(|e| BackupError::Database {
            context: "connecting to the database".into(),
            message: conn.scrub(&e.to_string()),
        })?;
    let counters = read(&mut live.conn).await;
    let _ = sqlx::Connection::close(live.conn).await;
    counters
}
