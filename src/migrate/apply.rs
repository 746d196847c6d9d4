//! Applying pending migrations: under the tool's advisory lock, refusing while any migration is failed, edited,
//! missing or out of order; each migration in its own transaction together with its ledger row, except files that
//! cannot run in a transaction, which run statement by statement with the ledger recording progress. Also the
//! dry-run: every pending transactional migration in one transaction that is always rolled back.

use std::time::{Duration, Instant};

use sqlx::{AnyConnection, AssertSqlSafe};

use super::db::{Backend, Db};
use super::error::{MigrateError, StatementFailure, describe_db_error};
use super::execution::{self, Mode};
use super::status;
use super::{Format, Migration, Statement, ledger, lock, record};

mod batch;
mod tool;

/// Prisma counts a whole migration script as one step: a finished migration has `applied_steps_count = 1`.
const PRISMA_STEPS_WHEN_DONE: usize = 1;

/// How to apply.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to wait for the tool's advisory lock.
    pub lock_wait: Duration,
    /// Who applies (plain ledger's `applied_by`).
    pub applied_by: String,
}

/// A migration as the operator confirmed it: its name and the checksum of the file that was shown and linted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub name: String,
    pub checksum: super::Checksum,
}

impl Confirmed {
    pub fn of(m: &Migration) -> Confirmed {
        Confirmed {
            name: m.name.clone(),
            checksum: super::source::checksum(m),
        }
    }
}

/// Progress, reported as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    Locked {
        key: i64,
    },
    Started {
        name: String,
        transactional: bool,
        statements: usize,
    },
    Statement {
        name: String,
        done: usize,
        of: usize,
    },
    Applied {
        name: String,
        took: Duration,
    },
    /// Waiting for a lock another session holds (the migration lock, or one a statement needs), with who holds
    /// it: reported at once, then about every second while the wait lasts.
    Waiting(lock::LockWait),
    /// The wait for a statement's lock is over.
    Unblocked,
}

/// What an apply did: the migrations applied, in order, and the failure that stopped it, if any.
#[derive(Debug, Clone)]
pub struct Report {
    pub applied: Vec<(String, Duration)>,
    pub failure: Option<MigrateError>,
    /// Stopped on request before every pending migration ran (never inside one).
    pub stopped: bool,
}

/// One dry-run result per pending migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rehearsal {
    Ok {
        name: String,
        took: Duration,
    },
    Failed {
        name: String,
        failure: StatementFailure,
    },
    NotRehearsable {
        name: String,
        why: String,
    },
    /// Not run because an earlier migration failed.
    NotReached {
        name: String,
    },
}

pub(super) async fn exec(conn: &mut AnyConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sql).execute(conn).await.map(|_| ())
}

pub(super) fn db_err(context: &str, e: sqlx::Error) -> MigrateError {
    MigrateError::Database {
        context: context.into(),
        message: describe_db_error(&e).0,
    }
}

/// Statements to run: a file's own `BEGIN … COMMIT` wrapper is dropped (deckhand opens the transaction); any
/// other transaction control inside a file is refused, since it would commit deckhand's transaction half-way.
pub(super) fn body(m: &Migration) -> Result<&[Statement], MigrateError> {
    let is = |s: &Statement, words: &[&str]| {
        let first = s
            .sql
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        let first = first.trim_end_matches(';');
        words.contains(&first)
    };
    let mut stmts = &m.statements[..];
    if let (Some(first), Some(last)) = (stmts.first(), stmts.last())
        && stmts.len() >= 2
        && is(first, &["BEGIN", "START"])
        && is(last, &["COMMIT", "END"])
    {
        stmts = &stmts[1..stmts.len() - 1];
    }
    if let Some((i, s)) = stmts
        .iter()
        .enumerate()
        .find(|(_, s)| is(s, &["BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT"]))
    {
        return Err(MigrateError::from(StatementFailure {
            migration: m.name.clone(),
            line: s.line,
            column: s.column,
            statement_index: i + 1,
            statement: s.sql.clone(),
            message:
                "transaction control inside a migration: deckhand runs each migration in its own \
                      transaction; remove it (or wrap the whole file in BEGIN … COMMIT)"
                    .into(),
            code: None,
            blocked: None,
        }));
    }
    Ok(stmts)
}

/// The failure of statement `i` (0-based) of `m`, positioned in the file.
pub(super) fn failure(m: &Migration, i: usize, s: &Statement, e: &sqlx::Error) -> StatementFailure {
    let (message, code, position) = describe_db_error(e);
    let (mut line, mut column) = (s.line, s.column);
    if let Some(pos) = position {
        // PostgreSQL's position counts characters from 1 within the statement we sent.
        let before: String = s.sql.chars().take(pos.saturating_sub(1)).collect();
        let newlines = before.matches('\n').count();
        line += newlines;
        column = match before.rfind('\n') {
            Some(nl) => before[nl + 1..].chars().count() + 1,
            None => column + before.chars().count(),
        };
    }
    StatementFailure {
        migration: m.name.clone(),
        line,
        column,
        statement_index: i + 1,
        statement: s.sql.clone(),
        message,
        code,
        blocked: None,
    }
}

pub(super) async fn run_statements(
    conn: &mut AnyConnection,
    m: &Migration,
    stmts: &[Statement],
    mut after_each: impl FnMut(usize),
) -> Result<(), StatementFailure> {
    for (i, s) in stmts.iter().enumerate() {
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(s.sql.clone()))
            .execute(&mut *conn)
            .await
        {
            return Err(failure(m, i, s, &e));
        }
        after_each(i + 1);
    }
    Ok(())
}

/// What `prepare` should check beyond the blocking states.
struct Expectations<'a> {
    /// Create the ledger table if missing (an apply does; a dry-run must leave the database untouched).
    create_ledger: bool,
    /// The migrations the operator confirmed, with the checksums of the files they read: refuse if what is
    /// pending now differs in any way (another migration, or an edited file).
    confirmed: Option<&'a [Confirmed]>,
}

/// Takes the lock (PostgreSQL), makes sure the ledger exists, and refuses when migrations must be resolved first
/// or what is pending is not what the operator confirmed. Returns the lock key to release and the indexes of the
/// migrations to run.
async fn prepare(
    db: &mut Db,
    format: Format,
    migrations: &[Migration],
    opts: &Options,
    expect: Expectations<'_>,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(Option<i64>, Vec<usize>), MigrateError> {
    ledger::check_supported(format, db.backend)?;
    let key = match db.backend {
        Backend::Postgres => {
            let key = lock::key_for(db, format).await?;
            let mut waiting = |w| progress(Progress::Waiting(w));
            lock::acquire_reporting(db, key, opts.lock_wait, &mut waiting).await?;
            Some(key)
        }
        Backend::Sqlite => None,
    };
    let checked = async {
        if expect.create_ledger {
            ledger::ensure(&mut db.conn, db.backend, format).await?;
        }
        let st = status::read(db, format, migrations).await?;
        let problems = st.apply_blockers();
        if !problems.is_empty() {
            return Err(MigrateError::Blocked { problems });
        }
        let pending = st.pending();
        if let Some(confirmed) = expect.confirmed {
            let now: Vec<Confirmed> = pending.iter().map(|&i| Confirmed::of(&migrations[i])).collect();
            if now != confirmed {
                let names = |c: &[Confirmed]| c.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(", ");
                let what = if names(&now) == names(confirmed) {
                    format!("{} changed on disk since the confirmation", names(confirmed))
                } else {
                    format!(
                        "the pending migrations changed since the confirmation (confirmed: {}; now: {})",
                        names(confirmed),
                        names(&now)
                    )
                };
                return Err(MigrateError::Blocked { problems: vec![what] });
            }
        }
        Ok(pending)
    }
    .await;
    match checked {
        Ok(pending) => Ok((key, pending)),
        Err(e) => {
            release(db, key).await;
            Err(e)
        }
    }
}

/// Releases the advisory lock. A failure is logged, never allowed to hide what was applied: the lock is
/// session-level and goes with the connection anyway.
async fn release(db: &mut Db, key: Option<i64>) {
    if let Some(k) = key
        && let Err(e) = lock::release(db, k).await
    {
        tracing::warn!("releasing the migration lock: {e}");
    }
}

/// Applies every pending migration in order; stops at the first failure.
pub async fn apply(
    db: &mut Db,
    format: Format,
    migrations: &[Migration],
    opts: &Options,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Report, MigrateError> {
    apply_until(db, format, migrations, opts, None, progress, &|| false).await
}

/// Like [`apply`]; `confirmed` (when given) must equal the migrations pending now, and `stop` is asked before each
/// migration: when it says so, no further migration starts.
pub async fn apply_until(
    db: &mut Db,
    format: Format,
    migrations: &[Migration],
    opts: &Options,
    confirmed: Option<&[Confirmed]>,
    progress: &mut (dyn FnMut(Progress) + Send),
    stop: &(dyn Fn() -> bool + Send + Sync),
) -> Result<Report, MigrateError> {
    let expect = Expectations {
        create_ledger: true,
        confirmed,
    };
    let (key, pending) = prepare(db, format, migrations, opts, expect, progress).await?;
    if let Some(key) = key {
        progress(Progress::Locked { key });
    }
    // In force even if a connection pooler dropped deckhand's startup options.
    if let Err(e) = tool::session_limits(db).await {
        release(db, key).await;
        return Err(e);
    }
    if format == Format::Drizzle {
        // Drizzle runs every pending migration in one transaction.
        let report = batch::drizzle(db, migrations, &pending, opts, progress, stop).await;
        release(db, key).await;
        return Ok(report);
    }
    let mut report = Report {
        applied: Vec::new(),
        failure: None,
        stopped: false,
    };
    for i in pending {
        if stop() {
            report.stopped = true;
            break;
        }
        let m = &migrations[i];
        match apply_one(db, m, opts, progress).await {
            Ok(took) => {
                progress(Progress::Applied {
                    name: m.name.clone(),
                    took,
                });
                report.applied.push((m.name.clone(), took));
            }
            Err(e) => {
                report.failure = Some(e);
                break;
            }
        }
    }
    release(db, key).await;
    Ok(report)
}

async fn apply_one(
    db: &mut Db,
    m: &Migration,
    opts: &Options,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Duration, MigrateError> {
    let mode = execution::mode(m);
    let stmts = match mode {
        Mode::OwnTransaction | Mode::ByStatement | Mode::Batch => body(m)?,
        Mode::OneQuery | Mode::ToolTransaction | Mode::OneQueryNoTransaction => &m.statements[..],
    };
    let groups = execution::groups_of(mode, stmts);
    progress(Progress::Started {
        name: m.name.clone(),
        transactional: groups.len() <= 1,
        statements: stmts.len(),
    });
    let start = Instant::now();
    match mode {
        Mode::OwnTransaction | Mode::Batch => {
            in_transaction(db, m, stmts, opts, start, progress).await?
        }
        Mode::ByStatement => outside_transaction(db, m, stmts, opts, start, progress).await?,
        Mode::OneQuery => tool::prisma(db, m, opts, start, progress).await?,
        Mode::ToolTransaction => tool::sqlx(db, m, opts, start, true, progress).await?,
        Mode::OneQueryNoTransaction => tool::sqlx(db, m, opts, start, false, progress).await?,
    }
    let took = start.elapsed();
    // sqlx writes execution_time after the commit; losing it must not turn an applied migration into a failure.
    if let Err(e) = record::execution_time(&mut db.conn, m, took).await {
        tracing::warn!("{}: execution_time not recorded: {e}", m.name);
    }
    Ok(took)
}

/// The migration and its ledger row in one transaction: all of it, or none of it.
async fn in_transaction(
    db: &mut Db,
    m: &Migration,
    stmts: &[Statement],
    opts: &Options,
    start: Instant,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(), MigrateError> {
    let backend = db.backend;
    one_transaction(db, async |conn: &mut AnyConnection| {
        let s = record::started(conn, m).await?;
        let report = |done| {
            progress(Progress::Statement {
                name: m.name.clone(),
                done,
                of: stmts.len(),
            })
        };
        run_statements(conn, m, stmts, report)
            .await
            .map_err(MigrateError::from)?;
        let by = &opts.applied_by;
        record::applied(
            conn,
            backend,
            m,
            &s,
            PRISMA_STEPS_WHEN_DONE,
            start.elapsed(),
            by,
        )
        .await
    })
    .await
}

/// Runs `body` in one transaction, with the lock and statement timeouts set for it alone on PostgreSQL (SQLite:
/// `BEGIN IMMEDIATE`, taking the write lock at once): committed when it succeeds, rolled back when anything fails.
pub(super) async fn one_transaction<T>(
    db: &mut Db,
    body: impl AsyncFnOnce(&mut AnyConnection) -> Result<T, MigrateError>,
) -> Result<T, MigrateError> {
    let backend = db.backend;
    let limits = db.settings.set_local();
    let conn = &mut db.conn;
    let begin = if backend == Backend::Sqlite {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    };
    exec(conn, begin)
        .await
        .map_err(|e| db_err("starting the transaction", e))?;
    let result = async {
        if backend == Backend::Postgres {
            // In force even if a connection pooler dropped deckhand's startup options.
            sqlx::raw_sql(AssertSqlSafe(limits))
                .execute(&mut *conn)
                .await
                .map_err(|e| db_err("setting lock_timeout", e))?;
        }
        body(&mut *conn).await
    }
    .await;
    match result {
        Ok(value) => {
            exec(conn, "COMMIT")
                .await
                .map_err(|e| db_err("committing", e))?;
            Ok(value)
        }
        Err(e) => {
            let _ = exec(conn, "ROLLBACK").await;
            Err(e)
        }
    }
}

/// Statement by statement, each committed on its own, the ledger row written first and kept up to date, so a
/// crash at any point leaves a record of how far it got.
async fn outside_transaction(
    db: &mut Db,
    m: &Migration,
    stmts: &[Statement],
    opts: &Options,
    start: Instant,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<(), MigrateError> {
    let backend = db.backend;
    let conn = &mut db.conn;
    let s = record::started_outside_transaction(conn, backend, m, &opts.applied_by).await?;
    for (i, stmt) in stmts.iter().enumerate() {
        if let Err(e) = sqlx::raw_sql(AssertSqlSafe(stmt.sql.clone()))
            .execute(&mut *conn)
            .await
        {
            let f = failure(m, i, stmt, &e);
            let text = format!("statement {} failed: {}", f.statement_index, f.message);
            record::failed(conn, backend, m, &s, i, &text, &opts.applied_by).await?;
            return Err(f.into());
        }
        record::progress(conn, m, &s, i + 1, stmts.len()).await?;
        progress(Progress::Statement {
            name: m.name.clone(),
            done: i + 1,
            of: stmts.len(),
        });
    }
    let by = &opts.applied_by;
    record::applied(
        conn,
        backend,
        m,
        &s,
        PRISMA_STEPS_WHEN_DONE,
        start.elapsed(),
        by,
    )
    .await
}

/// Rehearses every pending migration inside one transaction on the target, then rolls it all back. Creates
/// nothing outside that transaction (not even the ledger table).
pub async fn dry_run(
    db: &mut Db,
    format: Format,
    migrations: &[Migration],
    opts: &Options,
) -> Result<Vec<Rehearsal>, MigrateError> {
    let expect = Expectations {
        create_ledger: false,
        confirmed: None,
    };
    let (key, pending) = prepare(db, format, migrations, opts, expect, &mut |_| {}).await?;
    let result = rehearse(db, migrations, &pending).await;
    release(db, key).await;
    result
}

async fn rehearse(
    db: &mut Db,
    migrations: &[Migration],
    pending: &[usize],
) -> Result<Vec<Rehearsal>, MigrateError> {
    let begin = if db.backend == Backend::Sqlite {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    };
    exec(&mut db.conn, begin)
        .await
        .map_err(|e| db_err("starting the transaction", e))?;
    let mut results = Vec::new();
    let mut stopped = false;
    for &i in pending {
        let m = &migrations[i];
        let name = m.name.clone();
        if stopped {
            results.push(Rehearsal::NotReached { name });
            continue;
        }
        let why = m.no_transaction.clone().or_else(|| {
            (m.format != Format::Plain && execution::controls_transactions(&m.statements)).then(
                || "it controls its own transactions: a dry-run could not roll it back".to_string(),
            )
        });
        if let Some(why) = why {
            results.push(Rehearsal::NotRehearsable { name, why });
            continue;
        }
        let start = Instant::now();
        let outcome = match body(m) {
            Ok(stmts) => run_statements(&mut db.conn, m, stmts, |_| {}).await,
            Err(MigrateError::Statement(f)) => Err(*f),
            Err(other) => {
                let _ = exec(&mut db.conn, "ROLLBACK").await;
                return Err(other);
            }
        };
        match outcome {
            Ok(()) => results.push(Rehearsal::Ok {
                name,
                took: start.elapsed(),
            }),
            Err(failure) => {
                results.push(Rehearsal::Failed { name, failure });
                stopped = true;
            }
        }
    }
    exec(&mut db.conn, "ROLLBACK")
        .await
        .map_err(|e| db_err("rolling the rehearsal back", e))?;
    Ok(results)
}
