//! Who holds a lock, read from pg_stat_activity: the holders of an advisory lock (pg_locks), the sessions a
//! backend waits for (`pg_blocking_pids`), what it waits for, and sessions named by pid. One column list for all,
//! so every holder reads the same: pid, application, user, client, state and since when, query start and query.

use std::time::Duration;

use sqlx::Row;
use sqlx::any::AnyRow;

use super::super::db::Db;
use super::super::error::{LockHolder, MigrateError, QUERY_CHARS, one_line};
use super::db_err;

/// Characters kept of the other texts a holder row carries (application_name, user, what is waited for).
const NAME_CHARS: usize = 64;

/// The holder columns, from `pg_stat_activity a` (and the holder's pid as `p.pid`, which may have no row in
/// pg_stat_activity: a prepared transaction is pid 0). Times are UTC, wall-clock.
const HOLDER_COLUMNS: &str = "CAST(p.pid AS BIGINT), \
     COALESCE(NULLIF(a.application_name, ''), CAST(a.backend_type AS TEXT), ''), \
     COALESCE(CAST(a.usename AS TEXT), ''), \
     COALESCE(CAST(host(a.client_addr) AS TEXT), 'local socket'), \
     COALESCE(a.state, ''), \
     COALESCE(to_char(a.state_change AT TIME ZONE 'UTC', 'HH24:MI:SS') || ' UTC', ''), \
     COALESCE(CAST(EXTRACT(EPOCH FROM clock_timestamp() - a.state_change) * 1000 AS BIGINT), -1), \
     COALESCE(to_char(a.query_start AT TIME ZONE 'UTC', 'HH24:MI:SS') || ' UTC', ''), \
     COALESCE(a.query, '')";

fn holder(r: &AnyRow) -> Result<LockHolder, sqlx::Error> {
    let name = |i: usize| -> Result<String, sqlx::Error> {
        Ok(one_line(&r.try_get::<String, _>(i)?, NAME_CHARS))
    };
    let in_state_ms: i64 = r.try_get(6)?;
    Ok(LockHolder {
        pid: r.try_get(0)?,
        application_name: name(1)?,
        user: name(2)?,
        client: name(3)?,
        state: name(4)?,
        since: name(5)?,
        in_state: u64::try_from(in_state_ms).ok().map(Duration::from_millis),
        query_start: name(7)?,
        query: one_line(&r.try_get::<String, _>(8)?, QUERY_CHARS),
    })
}

async fn fetch(
    db: &mut Db,
    sql: String,
    bind: i64,
    context: &str,
) -> Result<Vec<LockHolder>, MigrateError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(bind)
        .fetch_all(&mut db.conn)
        .await
        .map_err(|e| db_err(context, e))?;
    rows.iter()
        .map(holder)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| db_err(context, e))
}

/// Sessions holding advisory lock `key` in this database (advisory locks are per database; a bigint key shows in
/// pg_locks as classid = high, objid = low 32 bits).
pub async fn of_advisory(db: &mut Db, key: i64) -> Result<Vec<LockHolder>, MigrateError> {
    let high = ((key as u64) >> 32) as i64;
    let low = ((key as u64) & 0xffff_ffff) as i64;
    let sql = format!(
        "SELECT {HOLDER_COLUMNS} FROM pg_locks p JOIN pg_stat_activity a ON a.pid = p.pid \
         WHERE p.locktype = 'advisory' AND p.granted AND p.objsubid = 1 \
         AND p.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
         AND CAST(p.classid AS BIGINT) = {high} AND CAST(p.objid AS BIGINT) = $1 \
         AND p.pid <> pg_backend_pid() ORDER BY p.pid"
    );
    fetch(db, sql, low, "looking up the lock holder").await
}

/// The sessions backend `pid` waits for (`pg_blocking_pids`: holders of a lock it needs, or sessions queued
/// ahead of it), each once.
pub async fn blocking(db: &mut Db, pid: i64) -> Result<Vec<LockHolder>, MigrateError> {
    let sql = format!(
        "SELECT {HOLDER_COLUMNS} FROM \
         (SELECT DISTINCT b AS pid FROM unnest(pg_blocking_pids(CAST($1 AS INTEGER))) AS b) p \
         LEFT JOIN pg_stat_activity a ON a.pid = p.pid ORDER BY p.pid"
    );
    fetch(db, sql, pid, "looking up the sessions blocking deckhand").await
}

/// The sessions with these pids, in this order (those that ended since are left out).
pub async fn by_pid(db: &mut Db, pids: &[i64]) -> Result<Vec<LockHolder>, MigrateError> {
    let mut out = Vec::new();
    for &pid in pids {
        let sql = format!(
            "SELECT {HOLDER_COLUMNS} FROM (SELECT CAST($1 AS INTEGER) AS pid) p \
             JOIN pg_stat_activity a ON a.pid = p.pid"
        );
        out.extend(fetch(db, sql, pid, "looking up a session").await?);
    }
    Ok(out)
}

/// What backend `pid` waits for, in words: `a lock on public.t`, `a row another transaction changed`, `older
/// transactions to end`. `None` when it waits for nothing.
pub async fn waited_for(db: &mut Db, pid: i64) -> Result<Option<String>, MigrateError> {
    let context = "looking up what deckhand waits for";
    let row = sqlx::query(
        "SELECT COALESCE(CAST(CAST(l.relation AS regclass) AS TEXT), ''), l.locktype \
         FROM pg_locks l WHERE l.pid = CAST($1 AS INTEGER) AND NOT l.granted LIMIT 1",
    )
    .bind(pid)
    .fetch_optional(&mut db.conn)
    .await
    .map_err(|e| db_err(context, e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (relation, kind): (String, String) = (|| Ok((row.try_get(0)?, row.try_get(1)?)))()
        .map_err(|e: sqlx::Error| db_err(context, e))?;
    Ok(Some(match kind.as_str() {
        _ if !relation.is_empty() => format!("a lock on {}", one_line(&relation, NAME_CHARS)),
        "transactionid" | "tuple" => "a row another transaction changed".into(),
        "virtualxid" => "older transactions to end".into(),
        other => format!("a {} lock", one_line(other, NAME_CHARS)),
    }))
}
