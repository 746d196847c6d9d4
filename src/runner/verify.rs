//! The verify runner: runs each `[[verify]]` query on the plan's database, in a read-only session, and reports the
//! first column of the first row as text (numbers, booleans, text; `NULL`), or why the query could not run.

use sqlx::{AssertSqlSafe, Row, ValueRef};
use tokio::sync::mpsc::Sender;

use super::RunnerEvent;
use crate::migrate::db::{self, Backend, Settings};
use crate::plan::{Database, VerifyCheck};

/// Runs every check in order on one connection; one failing query does not stop the others.
pub async fn run(spec: Database, checks: Vec<VerifyCheck>, tx: Sender<RunnerEvent>) {
    let settings = Settings {
        lock_timeout: spec.lock_timeout,
        statement_timeout: spec.statement_timeout,
    };
    let mut conn = match db::connect(&spec.url.value, &settings).await {
        Ok(c) => c,
        Err(e) => {
            let why = e.to_string();
            for check in 0..checks.len() {
                let result = Err(why.clone());
                if tx
                    .send(RunnerEvent::VerifyResult { check, result })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            return;
        }
    };
    if conn.backend == Backend::Postgres {
        // An assertion reads; it must never change the database it checks.
        let ro = "SET default_transaction_read_only = on";
        if let Err(e) = sqlx::raw_sql(ro).execute(&mut conn.conn).await {
            tracing::info!("verify: read-only session not set: {e}");
        }
    }
    for (check, c) in checks.iter().enumerate() {
        let result = value(&mut conn.conn, &c.sql).await;
        if tx
            .send(RunnerEvent::VerifyResult { check, result })
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The first column of the first row, as text.
pub async fn value(conn: &mut sqlx::AnyConnection, sql: &str) -> Result<String, String> {
    let row = sqlx::query(AssertSqlSafe(sql.to_string()))
        .fetch_optional(&mut *conn)
        .await
        .map_err(|e| crate::migrate::error::describe_db_error(&e).0)?
        .ok_or_else(|| "the query returned no row".to_string())?;
    if row.columns().is_empty() {
        return Err("the query returned no column".into());
    }
    let raw = row.try_get_raw(0).map_err(|e| e.to_string())?;
    if raw.is_null() {
        return Ok("NULL".into());
    }
    if let Ok(v) = row.try_get::<i64, _>(0) {
        return Ok(v.to_string());
    }
    if let Ok(v) = row.try_get::<i32, _>(0) {
        return Ok(v.to_string());
    }
    if let Ok(v) = row.try_get::<f64, _>(0) {
        return Ok(v.to_string());
    }
    if let Ok(v) = row.try_get::<bool, _>(0) {
        return Ok(v.to_string());
    }
    row.try_get::<String, _>(0).map_err(|e| {
        format!("cannot read the value as a number, boolean or text ({e}); cast it, e.g. ::text or ::bigint")
    })
}
