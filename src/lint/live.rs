//! Live context from the target database: rows and size of each table the findings touch, sessions holding locks
//! on those tables or running long transactions, and whether the connection goes through a transaction-pooling
//! proxy; then severity and context lines on each finding ([`apply`]). Reads only. PostgreSQL is queried with the
//! simple protocol and values inlined (dollar-quoted), never prepared statements: behind a transaction-pooling
//! proxy, a statement prepared on one server session is missing on the next.

mod annotate;
pub(crate) mod names;
mod probe;
pub mod rules;

use std::time::Duration;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::lint::Finding;
use crate::migrate::MigrateError;
use crate::migrate::db::{Backend, Db};
use crate::migrate::error::describe_db_error;
use names::{dollar_quote, names_json, quote_ident, split_name};

pub use probe::probe;

pub use annotate::{
    HIGH_FROM_BYTES, HIGH_FROM_ROWS, INDEX_BUILD_BYTES_PER_SEC, MEDIUM_FROM_BYTES,
    MEDIUM_FROM_ROWS, REWRITE_BYTES_PER_SEC, ROW_CHANGE_BYTES_PER_SEC, SCAN_BYTES_PER_SEC, apply,
};

/// How long a transaction may have been open before it is reported, when the caller has no opinion.
pub const DEFAULT_LONG_TX: Duration = Duration::from_secs(60);

/// A longer `long_tx` is taken as this (beyond it, the interval arithmetic would overflow, and nothing is that old).
const LONG_TX_MAX: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Characters of a blocker's last query kept.
const QUERY_CHARS: usize = 120;

/// Times `pg_backend_pid()` is asked, each in a transaction of its own, to notice a pooling proxy.
const POOL_PROBES: usize = 3;

/// What the explanation says when the connection is pooled per transaction (the server session changed between two
/// statements).
pub const POOLED: &str = "connection goes through a transaction-pooling proxy (PgBouncer?): session advisory \
                          locks are not reliable here — run migrations on a direct connection";

/// What the explanation says when deckhand's startup options (`lock_timeout`) did not reach the server.
pub const OPTIONS_DROPPED: &str = "deckhand's startup options did not reach the server, so lock_timeout is not in \
                                   force: a proxy (PgBouncer?) sits in between; if it pools per transaction, \
                                   session advisory locks are not reliable either — run migrations on a direct \
                                   connection";

/// What the database says about one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableFacts {
    /// The name as the finding wrote it.
    pub table: String,
    /// Estimated rows (pg_class.reltuples; partitions summed); -1 when unknown (never analyzed). Exact on SQLite.
    pub rows: i64,
    /// pg_total_relation_size (table, indexes, TOAST; partitions summed); -1 when unknown (SQLite).
    pub bytes: i64,
    /// False when the name does not resolve (a table created earlier in the same migration, or a typo).
    pub exists: bool,
}

/// A session that would block or be blocked: holding a lock on a touched table, or in a long transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocker {
    pub pid: i64,
    /// application_name, or the backend type (`autovacuum worker`) when it has none.
    pub application_name: String,
    /// Client address, or `local socket`.
    pub client: String,
    /// pg_stat_activity.state (`idle in transaction`, `active`).
    pub state: String,
    /// The lock modes it holds on the table (`AccessShareLock, RowExclusiveLock`; a lock it is still waiting for
    /// ends in ` (waiting)`), or `long transaction`.
    pub mode: String,
    /// The touched table (as the finding wrote it) it has a lock on; `None` for a long transaction.
    pub table: Option<String>,
    /// Seconds since its transaction started (0 when not in a transaction).
    pub xact_age_secs: i64,
    /// Its current or last query: first 120 characters, whitespace collapsed, control characters made inert.
    pub query: String,
}

/// Everything read from the database for one lint run.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LiveContext {
    pub tables: Vec<TableFacts>,
    pub blockers: Vec<Blocker>,
    /// An explanation when the connection goes through PgBouncer in transaction pooling.
    pub pgbouncer: Option<String>,
}

impl LiveContext {
    /// The facts about `table`, named as the finding wrote it.
    pub fn facts(&self, table: &str) -> Option<&TableFacts> {
        self.tables.iter().find(|t| t.table == table)
    }
}

/// Every table the findings touch, each once, in order of first appearance.
pub fn tables_of(findings: &[Finding]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in findings.iter().flat_map(|f| &f.tables) {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

/// Reads the facts for every table in `tables` (one query for all), the sessions holding or awaiting locks on
/// them (pg_locks joined with pg_stat_activity, this session excluded), the transactions open longer than
/// `long_tx` in this database, and whether the connection is pooled per transaction. On SQLite: exact row counts
/// (`count(*)` per table), no blockers, no proxy.
pub async fn read(
    db: &mut Db,
    tables: &[String],
    long_tx: Duration,
) -> Result<LiveContext, MigrateError> {
    let mut unique: Vec<String> = Vec::new();
    for t in tables {
        if !unique.contains(t) {
            unique.push(t.clone());
        }
    }
    match db.backend {
        Backend::Sqlite => Ok(LiveContext {
            tables: sqlite_facts(db, &unique).await?,
            ..LiveContext::default()
        }),
        Backend::Postgres => {
            // First: a pooling proxy may break what follows, and then this is the explanation.
            let pgbouncer = proxy(db).await?;
            let names = names_json(&unique);
            let tables = pg_facts(db, &names).await?;
            let mut blockers = lock_holders(db, &names, false).await?;
            for b in long_transactions(db, long_tx).await? {
                if !blockers.iter().any(|h| h.pid == b.pid) {
                    blockers.push(b);
                }
            }
            Ok(LiveContext {
                tables,
                blockers,
                pgbouncer,
            })
        }
    }
}

fn db_err(context: &str, e: sqlx::Error) -> MigrateError {
    MigrateError::Database {
        context: context.into(),
        message: describe_db_error(&e).0,
    }
}

/// The touched tables resolved (`names` is [`names_json`]): a CTE `touched(name, oid)`, oid NULL when unknown.
fn touched(names: &str) -> String {
    format!(
        "WITH touched AS (SELECT e->>0 AS name, \
         CAST(COALESCE(to_regclass(e->>1), to_regclass(e->>2)) AS oid) AS oid \
         FROM jsonb_array_elements(CAST({} AS jsonb)) AS e) ",
        dollar_quote(names)
    )
}

async fn pg_facts(db: &mut Db, names: &str) -> Result<Vec<TableFacts>, MigrateError> {
    // A partitioned table's own reltuples and size are empty: sum its leaf partitions (pg_partition_tree lists a
    // plain table as its own only leaf).
    let sql = format!(
        "{}SELECT t.name, CAST(CASE WHEN t.oid IS NULL THEN 0 ELSE 1 END AS BIGINT), \
         COALESCE((SELECT CAST(CASE WHEN bool_and(c.reltuples < 0) THEN -1 \
                   ELSE sum(GREATEST(c.reltuples, 0)) END AS BIGINT) \
                   FROM pg_partition_tree(t.oid) p JOIN pg_class c ON c.oid = p.relid WHERE p.isleaf), \
                  CAST(c0.reltuples AS BIGINT), -1), \
         COALESCE((SELECT CAST(sum(pg_total_relation_size(p.relid)) AS BIGINT) \
                   FROM pg_partition_tree(t.oid) p WHERE p.isleaf), \
                  pg_total_relation_size(t.oid), -1) \
         FROM touched t LEFT JOIN pg_class c0 ON c0.oid = t.oid",
        touched(names)
    );
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut db.conn)
        .await
        .map_err(|e| db_err("reading table sizes", e))?;
    rows.iter()
        .map(|r| {
            Ok(TableFacts {
                table: r.try_get(0)?,
                exists: r.try_get::<i64, _>(1)? == 1,
                rows: r.try_get(2)?,
                bytes: r.try_get(3)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| db_err("reading table sizes", e))
}

/// Who a session is, common to both blocker queries: pid, application, client, state, (mode, table), age, query.
const WHO: &str = "CAST(a.pid AS BIGINT), \
     COALESCE(NULLIF(a.application_name, ''), CAST(a.backend_type AS TEXT), ''), \
     COALESCE(CAST(host(a.client_addr) AS TEXT), 'local socket'), COALESCE(a.state, '')";
const AGE_QUERY: &str = "COALESCE(CAST(EXTRACT(EPOCH FROM clock_timestamp() - a.xact_start) AS BIGINT), 0), \
     COALESCE(a.query, '')";

/// Who holds the lock `sql` waited for until its lock_timeout ended it (pg_blocking_pids says nothing once the
/// wait is over): the tables the statement touches, and the sessions holding a lock on one of them, by pid, oldest
/// transaction first. No pids when the statement names no table deckhand can read, or on SQLite.
pub async fn holders_for(db: &mut Db, sql: &str) -> Result<(Vec<String>, Vec<i64>), MigrateError> {
    let tables = super::syntax::tables_in(sql);
    if tables.is_empty() || db.backend != Backend::Postgres {
        return Ok((tables, Vec::new()));
    }
    let mut pids: Vec<i64> = Vec::new();
    for b in lock_holders(db, &names_json(&tables), true).await? {
        if !pids.contains(&b.pid) {
            pids.push(b.pid);
        }
    }
    Ok((tables, pids))
}

/// Sessions holding or awaiting (`granted_only`: holding) locks on the touched tables.
async fn lock_holders(
    db: &mut Db,
    names: &str,
    granted_only: bool,
) -> Result<Vec<Blocker>, MigrateError> {
    // pg_locks shows every database's locks: relation oids only mean something in this one.
    let sql = format!(
        "{}SELECT {WHO}, \
         string_agg(DISTINCT l.mode || CASE WHEN l.granted THEN '' ELSE ' (waiting)' END, ', '), \
         t.name, {AGE_QUERY} \
         FROM pg_locks l \
         JOIN touched t ON l.locktype = 'relation' AND l.relation = t.oid \
         JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND l.pid <> pg_backend_pid() {} \
         GROUP BY a.pid, a.application_name, a.backend_type, a.client_addr, a.state, t.name, a.xact_start, a.query \
         ORDER BY a.xact_start NULLS LAST, a.pid",
        touched(names),
        if granted_only { "AND l.granted" } else { "" }
    );
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut db.conn)
        .await
        .map_err(|e| db_err("reading the sessions holding locks", e))?;
    rows.iter()
        .map(|r| blocker(r, r.try_get(4)?, r.try_get(5)?))
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| db_err("reading the sessions holding locks", e))
}

async fn long_transactions(db: &mut Db, long_tx: Duration) -> Result<Vec<Blocker>, MigrateError> {
    let millis = i64::try_from(long_tx.min(LONG_TX_MAX).as_millis()).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {WHO}, {AGE_QUERY} FROM pg_stat_activity a \
         WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() \
         AND a.xact_start <= clock_timestamp() - {millis} * interval '1 millisecond' \
         ORDER BY a.xact_start, a.pid"
    );
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut db.conn)
        .await
        .map_err(|e| db_err("reading long transactions", e))?;
    // No mode and table columns here: age and query are columns 4 and 5.
    rows.iter()
        .map(|r| {
            Ok(Blocker {
                mode: "long transaction".into(),
                table: None,
                xact_age_secs: r.try_get(4)?,
                query: clean_query(&r.try_get::<String, _>(5)?),
                ..blocker_head(r)?
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| db_err("reading long transactions", e))
}

/// The first four columns ([`WHO`]) of a blocker row.
fn blocker_head(r: &AnyRow) -> Result<Blocker, sqlx::Error> {
    Ok(Blocker {
        pid: r.try_get(0)?,
        application_name: r.try_get(1)?,
        client: r.try_get(2)?,
        state: r.try_get(3)?,
        mode: String::new(),
        table: None,
        xact_age_secs: 0,
        query: String::new(),
    })
}

/// A lock-holder row: [`WHO`], mode, table, [`AGE_QUERY`].
fn blocker(r: &AnyRow, mode: String, table: String) -> Result<Blocker, sqlx::Error> {
    Ok(Blocker {
        mode,
        table: Some(table),
        xact_age_secs: r.try_get(6)?,
        query: clean_query(&r.try_get::<String, _>(7)?),
        ..blocker_head(r)?
    })
}

/// First [`QUERY_CHARS`] characters on one line, control characters made inert.
fn clean_query(q: &str) -> String {
    let one_line = q.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = one_line.chars().take(QUERY_CHARS).collect();
    let mut out = crate::sanitize::sanitize_str(&cut).into_owned();
    if one_line.chars().count() > QUERY_CHARS {
        out.push('…');
    }
    out
}

/// Whether the connection goes through a proxy, and what that means. Two signals:
/// - `pg_backend_pid()`, asked a few times, each in a transaction of its own, changes: the proxy pools per
///   transaction. A quiet pool may hand back the same server session every time, so an unchanged pid is no proof
///   of a direct connection.
/// - `lock_timeout` was not set by the client: deckhand always sends it as a startup option, so a proxy that
///   ignores startup options (PgBouncer's `ignore_startup_parameters = options`) sits in between, and the lock
///   timeout deckhand relies on is not in force.
async fn proxy(db: &mut Db) -> Result<Option<String>, MigrateError> {
    let mut seen: Option<i64> = None;
    for _ in 0..POOL_PROBES {
        let pid: i64 = fetch_one(db, "SELECT CAST(pg_backend_pid() AS BIGINT)").await?;
        if seen.is_some_and(|s| s != pid) {
            return Ok(Some(POOLED.to_string()));
        }
        seen = Some(pid);
    }
    let source: String = fetch_one(
        db,
        "SELECT COALESCE((SELECT CAST(source AS TEXT) FROM pg_settings WHERE name = 'lock_timeout'), '')",
    )
    .await?;
    Ok((source != "client" && source != "session").then(|| OPTIONS_DROPPED.to_string()))
}

async fn fetch_one<T>(db: &mut Db, sql: &'static str) -> Result<T, MigrateError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    sqlx::raw_sql(sql)
        .fetch_one(&mut db.conn)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| db_err("checking for a pooling proxy", e))
}

/// SQLite: whether each table exists (names compare without case, as SQLite does) and its exact row count.
async fn sqlite_facts(db: &mut Db, tables: &[String]) -> Result<Vec<TableFacts>, MigrateError> {
    let mut out = Vec::new();
    for table in tables {
        let Some(mut parts) = split_name(table) else {
            out.push(unknown(table));
            continue;
        };
        let (bare, _) = parts.pop().unwrap_or_default();
        let schema = quote_ident(&parts.pop().map_or_else(|| "main".to_string(), |(s, _)| s));
        let name = quote_ident(&bare);
        let exists = format!(
            "SELECT count(*) FROM {schema}.sqlite_master WHERE type IN ('table', 'view') AND name = ? COLLATE NOCASE"
        );
        // An error here means the schema is not attached: the table is not there either.
        let found: i64 = sqlx::query(sqlx::AssertSqlSafe(exists))
            .bind(bare)
            .fetch_one(&mut db.conn)
            .await
            .and_then(|r| r.try_get(0))
            .unwrap_or(0);
        if found == 0 {
            out.push(unknown(table));
            continue;
        }
        let count = format!("SELECT count(*) FROM {schema}.{name}");
        let rows: i64 = sqlx::query(sqlx::AssertSqlSafe(count))
            .fetch_one(&mut db.conn)
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| db_err(&format!("counting the rows of {table}"), e))?;
        out.push(TableFacts {
            table: table.clone(),
            rows,
            bytes: -1,
            exists: true,
        });
    }
    Ok(out)
}

fn unknown(table: &str) -> TableFacts {
    TableFacts {
        table: table.to_string(),
        rows: -1,
        bytes: -1,
        exists: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_one_line_and_bounded() {
        assert_eq!(
            clean_query("SELECT *\n  FROM big\tLIMIT 1"),
            "SELECT * FROM big LIMIT 1"
        );
        let long = "x".repeat(300);
        assert_eq!(clean_query(&long).chars().count(), QUERY_CHARS + 1);
        assert!(!clean_query("SELECT '\u{1b}[2J'").contains('\u{1b}'));
    }

    #[test]
    fn tables_of_lists_each_once() {
        let f = |tables: &[&str]| Finding {
            class: crate::lint::Class::Locking,
            rule: "r".into(),
            statement_index: 1,
            line: 1,
            column: 1,
            statement: String::new(),
            why: String::new(),
            safer: String::new(),
            object: None,
            tables: tables.iter().map(|t| t.to_string()).collect(),
            severity: None,
            context: vec![],
            ignored: None,
            spared: None,
        };
        assert_eq!(
            tables_of(&[f(&["a", "b"]), f(&["b", "c"])]),
            ["a", "b", "c"]
        );
    }
}
