//! Applying a migration the way the tool that owns its format does (see [`crate::migrate::execution`]): Prisma's
//! file as one simple query with its ledger row written before and finished or given the error after; sqlx's file
//! inside sqlx's transaction with its row (or alone, row after, with `-- no-transaction`); Drizzle's pending
//! migrations in one transaction. A file sent as one query is run statement by statement under PostgreSQL's own
//! rules for such a query — an implicit transaction block that the file's `BEGIN` makes explicit (taking the
//! statements before it along), that its `COMMIT` or `ROLLBACK` ends, and that the end of the file commits — so
//! the database ends exactly where the tool would leave it, while deckhand still knows which statement failed and
//! reports progress. The lock and statement timeouts are set for the session before the file, never inside its
//! transaction (a file may start with `SET TRANSACTION`).

use std::time::Instant;

use sqlx::{AnyConnection, AssertSqlSafe};

use super::super::db::{Backend, Db};
use super::super::error::{MigrateError, StatementFailure};
use super::super::execution::{Control, control};
use super::super::{Migration, Statement, record};
use super::{Options, Progress, db_err, exec, failure};

/// The session-wide timeouts, sent once before an apply (files that manage their own transactions run under them;
/// deckhand's own transactions also set them locally).
pub(super) async fn session_limits(db: &mut Db) -> Result<(), MigrateError> {
    if db.backend != Backend::Postgres {
        return Ok(());
    }
    let sql = db.settings.set_local().replace("SET LOCAL ", "SET ");
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut db.conn)
        .await
        .map(|_| ())
        .map_err(|e| db_err("setting lock_timeout", e))
}

pub(super) fn begin_for(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    }
}

/// Where the transaction stands while a file runs as one query would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// No transaction: the next statement starts an implicit block (or runs alone, in a one-statement file).
    None,
    /// The implicit block of the query: committed at its end.
    Implicit,
    /// A regular block (the file's `BEGIN`, or the tool's own): ended only by `COMMIT` or `ROLLBACK`.
    Explicit,
}

/// How a file run as one query ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// Nothing left open (or the tool's own transaction, still open for its ledger row).
    Closed,
    /// The file's own `BEGIN` was never committed.
    LeftOpen,
}

/// Runs `stmts` as PostgreSQL runs them sent as one simple query; `tool_block` says the tool's own transaction is
/// open around it (sqlx, Drizzle). A failure rolls back the open block, as PostgreSQL does with the query's.
pub(super) async fn as_one_query(
    conn: &mut AnyConnection,
    backend: Backend,
    m: &Migration,
    stmts: &[Statement],
    tool_block: bool,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Ended, StatementFailure> {
    let mut block = if tool_block {
        Block::Explicit
    } else {
        Block::None
    };
    // A query of one statement runs outside any block (so a lone CREATE INDEX CONCURRENTLY works).
    let alone = stmts.len() == 1 && !tool_block;
    for (i, s) in stmts.iter().enumerate() {
        let ran = match control(&s.sql) {
            // Inside a block the file's BEGIN only makes it regular (PostgreSQL warns, nothing else).
            Some(Control::Begin) if block != Block::None => {
                block = Block::Explicit;
                Ok(())
            }
            Some(Control::Begin) => {
                block = Block::Explicit;
                exec_text(conn, begin_for(backend)).await
            }
            Some(Control::Commit | Control::Rollback) => {
                block = Block::None;
                exec_text(conn, &s.sql).await
            }
            _ if savepoint(&s.sql) && block != Block::Explicit => {
                Err(sqlx::Error::Protocol(format!(
                    "{} can only be used in transaction blocks (as PostgreSQL says of a \
                     statement sent in a multi-statement query outside BEGIN)",
                    first_word(&s.sql)
                )))
            }
            _ => {
                if block == Block::None && !alone {
                    exec_text(conn, begin_for(backend))
                        .await
                        .map_err(|e| failure(m, i, s, &e))?;
                    block = Block::Implicit;
                }
                exec_text(conn, &s.sql).await
            }
        };
        if let Err(e) = ran {
            if block != Block::None {
                let _ = exec(conn, "ROLLBACK").await;
            }
            return Err(failure(m, i, s, &e));
        }
        progress(Progress::Statement {
            name: m.name.clone(),
            done: i + 1,
            of: stmts.len(),
        });
    }
    match block {
        Block::Implicit => exec(conn, "COMMIT")
            .await
            .map(|()| Ended::Closed)
            .map_err(|e| {
                let last = stmts.len().saturating_sub(1);
                failure(m, last, &stmts[last], &e)
            }),
        Block::Explicit if !tool_block => Ok(Ended::LeftOpen),
        _ => Ok(Ended::Closed),
    }
}

async fn exec_text(conn: &mut AnyConnection, sql: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(conn)
        .await
        .map(|_| ())
}

fn first_word(sql: &str) -> String {
    sql.split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// `SAVEPOINT`, `RELEASE [SAVEPOINT]`, `ROLLBACK TO [SAVEPOINT]`: refused by PostgreSQL in an implicit block.
fn savepoint(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(2)
        .map(str::to_ascii_uppercase)
        .collect();
    matches!(
        words.iter().map(String::as_str).collect::<Vec<_>>()[..],
        ["SAVEPOINT", ..] | ["RELEASE", ..] | ["ROLLBACK", "TO", ..]
    )
}

/// The failure of a file that left its own `BEGIN` open: rolled back (the tool would leave it to the connection's
/// end, which rolls it back too), reported at the `BEGIN`.
fn left_open(m: &Migration, stmts: &[Statement]) -> StatementFailure {
    let (i, s) = stmts
        .iter()
        .enumerate()
        .rev()
        .find(|(_, s)| control(&s.sql) == Some(Control::Begin))
        .unwrap_or((0, &stmts[0]));
    StatementFailure {
        migration: m.name.clone(),
        line: s.line,
        column: s.column,
        statement_index: i + 1,
        statement: s.sql.clone(),
        message: "the file opens a transaction it never commits: it was rolled back".into(),
        code: None,
        blocked: None,
    }
}

/// Prisma: the row first (on its own), the file as one query, then the row finished — or given the error, as
/// `prisma migrate deploy` leaves a failed migration (`finished_at` NULL, `logs` set: Prisma's P3009).
pub(super) async fn prisma(
    db: &mut Db,
    m: &Migration,
    opts: &Options,
    start: Instant,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(), MigrateError> {
    let backend = db.backend;
    let conn = &mut db.conn;
    let s = record::started(conn, m).await?;
    let result = match as_one_query(conn, backend, m, &m.statements, false, progress).await {
        Ok(Ended::Closed) => Ok(()),
        Ok(Ended::LeftOpen) => {
            let _ = exec(conn, "ROLLBACK").await;
            Err(left_open(m, &m.statements))
        }
        Err(f) => Err(f),
    };
    match result {
        Ok(()) => {
            let by = &opts.applied_by;
            record::applied(conn, backend, m, &s, 1, start.elapsed(), by).await
        }
        Err(f) => {
            let logs = prisma_logs(m, &f);
            record::failed(conn, backend, m, &s, 0, &logs, &opts.applied_by).await?;
            Err(f.into())
        }
    }
}

/// The `logs` Prisma writes for a failed migration (its P3018 message; without its trace and terminal colours).
fn prisma_logs(m: &Migration, f: &StatementFailure) -> String {
    format!(
        "A migration failed to apply. New migrations cannot be applied before the error is recovered from. \
         Read more about how to resolve migration issues in a production database: \
         https://pris.ly/d/migrate-resolve\n\nMigration name: {}\n\nDatabase error code: {}\n\n\
         Database error:\n{} (line {}, column {}, statement {}; applied by deckhand)\n",
        m.name,
        f.code.as_deref().unwrap_or("none"),
        f.message,
        f.line,
        f.column,
        f.statement_index
    )
}

/// sqlx: `BEGIN`, the file as one query, the row (`success` TRUE), `COMMIT`; with `-- no-transaction`, the file
/// alone and the row after it succeeded. A failure leaves no row, as sqlx leaves none on PostgreSQL.
pub(super) async fn sqlx(
    db: &mut Db,
    m: &Migration,
    opts: &Options,
    start: Instant,
    in_transaction: bool,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(), MigrateError> {
    let backend = db.backend;
    let conn = &mut db.conn;
    if in_transaction {
        exec(conn, begin_for(backend))
            .await
            .map_err(|e| db_err("starting the transaction", e))?;
    }
    let ran = as_one_query(conn, backend, m, &m.statements, in_transaction, progress).await;
    let ran = match ran {
        Ok(Ended::LeftOpen) => {
            let _ = exec(conn, "ROLLBACK").await;
            Err(left_open(m, &m.statements))
        }
        other => other.map(|_| ()),
    };
    if let Err(f) = ran {
        if in_transaction {
            let _ = exec(conn, "ROLLBACK").await;
        }
        return Err(f.into());
    }
    let s = record::Started::default();
    let by = &opts.applied_by;
    let recorded = record::applied(conn, backend, m, &s, 1, start.elapsed(), by).await;
    if in_transaction {
        if recorded.is_err() {
            let _ = exec(conn, "ROLLBACK").await;
            return recorded;
        }
        // After the file's own COMMIT there is nothing left to commit: PostgreSQL only warns, as under sqlx.
        exec(conn, "COMMIT")
            .await
            .map_err(|e| db_err("committing", e))?;
    }
    recorded
}
