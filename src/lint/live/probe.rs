//! Whether tables exist and hold any row, read on the live database just before an apply is confirmed (see
//! `lint::batch`): existence and the statistics' row estimate in one catalog query that takes no lock; where the
//! estimate is not conclusive (fewer than [`CONCLUSIVE_ROWS`] — stale statistics may count rows deleted since, or
//! none of those inserted since — never analyzed, a partitioned table), an exact `EXISTS (SELECT 1 … LIMIT 1)` in
//! a read-only transaction under short lock and statement timeouts: it only ever waits behind an ACCESS EXCLUSIVE
//! lock, never blocks a writer, and gives up quickly.

use std::time::{Duration, Instant};

use sqlx::Row;

use super::names::{dollar_quote, quote_ident, split_name};
use super::{Backend, Db, MigrateError, db_err};
use crate::lint::batch::{Probe, Probes};

/// From this many rows by the statistics, a table is taken as not empty without reading it.
const CONCLUSIVE_ROWS: i64 = 1_000;
/// How long the exact read of one table may wait for its lock.
const PROBE_LOCK_TIMEOUT: Duration = Duration::from_millis(500);
/// How long the exact read of one table may run.
const PROBE_STATEMENT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long all exact reads together may take; tables not read by then are unknown (their names are asked).
const PROBE_BUDGET: Duration = Duration::from_secs(10);

/// What the live database says about each table in `tables` (canonical SQL names, `"public"."users"`). A table
/// that cannot be read is [`Probe::Unknown`] (so its data counts as at stake); only a failure of the catalog
/// query itself is an error.
pub async fn probe(db: &mut Db, tables: &[String]) -> Result<Probes, MigrateError> {
    let mut out = Probes::default();
    // A three-part name reaches into another database: PostgreSQL refuses it, and so does this.
    let names: Vec<&String> = tables
        .iter()
        .filter(|t| t.matches("\".\"").count() <= 1)
        .collect();
    if names.is_empty() {
        return Ok(out);
    }
    let estimates = match db.backend {
        Backend::Postgres => pg_estimates(db, &names).await?,
        Backend::Sqlite => sqlite_exists(db, &names).await,
    };
    let started = Instant::now();
    for (name, estimate) in estimates {
        let probe = match estimate {
            Estimate::Absent => Probe::Absent,
            Estimate::Rows => Probe::HasRows,
            Estimate::NotATable => Probe::Unknown,
            Estimate::Unsure if started.elapsed() > PROBE_BUDGET => Probe::Unknown,
            Estimate::Unsure => exact(db, &name).await,
        };
        out.insert(name, probe);
    }
    Ok(out)
}

/// What the catalog says without reading the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Estimate {
    Absent,
    /// The statistics count many rows: taken as not empty (stale, that errs on the side of asking).
    Rows,
    /// A view, sequence or anything else: not judged.
    NotATable,
    /// Few or no rows by the statistics, never analyzed, or partitioned: read it.
    Unsure,
}

async fn pg_estimates(
    db: &mut Db,
    names: &[&String],
) -> Result<Vec<(String, Estimate)>, MigrateError> {
    let json = serde_json::Value::from(names.iter().map(|n| n.as_str()).collect::<Vec<_>>());
    let sql = format!(
        "SELECT n, COALESCE(CAST(c.relkind AS TEXT), ''), CAST(COALESCE(c.reltuples, -1) AS BIGINT) \
         FROM jsonb_array_elements_text(CAST({} AS jsonb)) AS n \
         LEFT JOIN pg_class c ON c.oid = to_regclass(n)",
        dollar_quote(&json.to_string())
    );
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut db.conn)
        .await
        .map_err(|e| db_err("reading which tables exist", e))?;
    rows.iter()
        .map(|r| {
            let kind: String = r.try_get(1)?;
            let tuples: i64 = r.try_get(2)?;
            let estimate = match kind.as_str() {
                "" => Estimate::Absent,
                "r" | "p" if tuples >= CONCLUSIVE_ROWS => Estimate::Rows,
                "r" | "p" => Estimate::Unsure,
                _ => Estimate::NotATable,
            };
            Ok((r.try_get(0)?, estimate))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| db_err("reading which tables exist", e))
}

/// SQLite: whether each table exists (names compare without case, as SQLite does); its rows are read exactly.
async fn sqlite_exists(db: &mut Db, names: &[&String]) -> Vec<(String, Estimate)> {
    let mut out = Vec::new();
    for name in names {
        let Some((schema, table)) = sqlite_parts(name) else {
            out.push((name.to_string(), Estimate::NotATable));
            continue;
        };
        let sql = format!(
            "SELECT count(*) FROM {schema}.sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE"
        );
        // An error here means the schema is not attached: the table is not there either.
        let found: i64 = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(table)
            .fetch_one(&mut db.conn)
            .await
            .and_then(|r| r.try_get(0))
            .unwrap_or(0);
        let estimate = if found == 0 {
            Estimate::Absent
        } else {
            Estimate::Unsure
        };
        out.push((name.to_string(), estimate));
    }
    out
}

/// (quoted schema, bare table name) of a canonical name on SQLite; the schema defaults to `main`.
fn sqlite_parts(name: &str) -> Option<(String, String)> {
    let mut parts = split_name(name)?;
    let (table, _) = parts.pop()?;
    let schema = parts.pop().map_or_else(|| "main".to_string(), |(s, _)| s);
    Some((quote_ident(&schema), table))
}

/// Reads whether `name` holds a row: read-only, bounded by short timeouts; any failure is [`Probe::Unknown`].
async fn exact(db: &mut Db, name: &str) -> Probe {
    let from = match db.backend {
        Backend::Postgres => name.to_string(),
        Backend::Sqlite => match sqlite_parts(name) {
            Some((schema, table)) => format!("{schema}.{}", quote_ident(&table)),
            None => return Probe::Unknown,
        },
    };
    let select = format!(
        "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM {from} LIMIT 1) THEN 1 ELSE 0 END AS BIGINT)"
    );
    let sql = match db.backend {
        Backend::Postgres => format!(
            "BEGIN READ ONLY; SET LOCAL lock_timeout = '{}ms'; SET LOCAL statement_timeout = '{}ms'; {select}; COMMIT",
            PROBE_LOCK_TIMEOUT.as_millis(),
            PROBE_STATEMENT_TIMEOUT.as_millis()
        ),
        Backend::Sqlite => select,
    };
    let read = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut db.conn)
        .await
        .and_then(|rows| match rows.first() {
            Some(r) => r.try_get::<i64, _>(0),
            None => Ok(-1),
        });
    match read {
        Ok(0) => Probe::Empty,
        Ok(1) => Probe::HasRows,
        Ok(_) => Probe::Unknown,
        Err(e) => {
            tracing::debug!(table = name, error = %e, "could not read whether the table is empty");
            if db.backend == Backend::Postgres {
                // The transaction failed part-way: end it, so the connection is usable again.
                let _ = sqlx::raw_sql("ROLLBACK").execute(&mut db.conn).await;
            }
            Probe::Unknown
        }
    }
}
