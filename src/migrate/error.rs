//! What can go wrong while reading status or migrating, each with the facts an operator needs to act: the
//! database error with the statement and its position, who holds a lock, which migrations block an apply.

use std::fmt;
use std::time::Duration;

/// Characters of a lock holder's query kept (the rest is cut, with `…`).
pub const QUERY_CHARS: usize = 160;

/// A session holding a lock deckhand waits (or waited) for, as pg_stat_activity shows it: every text made inert
/// (control characters, escape sequences) and on one line, the query cut to [`QUERY_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LockHolder {
    /// 0 for a prepared transaction (pg_blocking_pids names those so).
    pub pid: i64,
    /// application_name, or the backend type (`autovacuum worker`) when it has none.
    pub application_name: String,
    pub user: String,
    /// Client address, or `local socket`.
    pub client: String,
    /// `idle in transaction`, `active`, …
    pub state: String,
    /// When it entered that state, `12:03:04 UTC` (empty when unknown).
    pub since: String,
    /// How long it has been in that state.
    pub in_state: Option<Duration>,
    /// When its current or last query started, `12:03:04 UTC` (empty when unknown).
    pub query_start: String,
    /// Its current or last query.
    pub query: String,
}

impl LockHolder {
    /// A prepared transaction (`PREPARE TRANSACTION`), which has no session.
    pub fn is_prepared(&self) -> bool {
        self.pid == 0
    }
}

/// `pid 123 psql (ops@10.0.0.7) idle in transaction since 12:03:04 UTC (42 s), query started 12:03:04 UTC:
/// SELECT count(*) FROM t`.
impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_prepared() {
            return f.write_str(
                "a prepared transaction (see pg_prepared_xacts; COMMIT PREPARED or ROLLBACK PREPARED ends it)",
            );
        }
        let app = if self.application_name.is_empty() {
            "(no application_name)"
        } else {
            &self.application_name
        };
        write!(f, "pid {} {app} ({}@{})", self.pid, self.user, self.client)?;
        if !self.state.is_empty() {
            write!(f, " {}", self.state)?;
        }
        if !self.since.is_empty() {
            write!(f, " since {}", self.since)?;
            if let Some(d) = self.in_state {
                write!(f, " ({})", crate::plan::human_duration(d))?;
            }
        }
        if !self.query_start.is_empty() {
            write!(f, ", query started {}", self.query_start)?;
        }
        if !self.query.is_empty() {
            write!(f, ": {}", self.query)?;
        }
        Ok(())
    }
}

/// `text` on one line (whitespace runs become one space), cut to `max` characters (`…` then), made inert.
pub fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = joined.chars().take(max).collect();
    let mut out = crate::sanitize::sanitize_str(&cut).into_owned();
    if joined.chars().count() > max {
        out.push('…');
    }
    out
}

/// What the operator can do about sessions holding a lock deckhand needs. deckhand never ends one itself.
pub fn lock_advice(holders: &[LockHolder]) -> String {
    let pids: Vec<String> = holders
        .iter()
        .filter(|h| !h.is_prepared())
        .map(|h| format!("SELECT pg_terminate_backend({})", h.pid))
        .collect();
    if holders.is_empty() {
        "who holds it could not be seen (it may have ended, or this role may not read other sessions in \
         pg_stat_activity): look in pg_locks and pg_stat_activity, then apply again — deckhand never ends a session"
            .into()
    } else if pids.is_empty() {
        "what to do: finish the prepared transaction (COMMIT PREPARED or ROLLBACK PREPARED), then apply again — \
         deckhand never ends a session"
            .into()
    } else {
        format!(
            "what to do: wait for it to finish, then apply again; or end it yourself with {} if you are sure — \
             deckhand never ends a session",
            pids.join("; ")
        )
    }
}

/// A failed migration statement: which file, where in it, and what the database said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementFailure {
    pub migration: String,
    /// 1-based position in the migration file of the statement (or of the exact error, when the server gave one).
    pub line: usize,
    pub column: usize,
    /// 1-based index of the statement in the file.
    pub statement_index: usize,
    pub statement: String,
    /// The database's message with its SQLSTATE, detail and hint.
    pub message: String,
    /// The SQLSTATE code, when the database gave one (e.g. 55P03 lock_not_available).
    pub code: Option<String>,
    /// After a lock timeout (55P03): what the statement waited for and who held it, when that could be found
    /// out.
    pub blocked: Option<Blocked>,
}

/// What a statement that ran out of `lock_timeout` waited for, and who held it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blocked {
    /// `a lock on t` (empty when unknown).
    pub what: String,
    /// Empty when they could not be seen.
    pub holders: Vec<LockHolder>,
}

/// SQLSTATE lock_not_available: a statement ran out of `lock_timeout`.
pub const LOCK_NOT_AVAILABLE: &str = "55P03";

impl StatementFailure {
    /// The statement waited for a lock until `lock_timeout` ended it.
    pub fn lock_timed_out(&self) -> bool {
        self.code.as_deref() == Some(LOCK_NOT_AVAILABLE)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("{0}")]
    Source(#[from] super::source::SourceError),
    #[error("{format} migrations are not supported on {backend}")]
    Unsupported { format: String, backend: String },
    #[error("{}", lock_text(.key, .waited, .holders))]
    LockTimeout {
        key: i64,
        waited: Duration,
        holders: Vec<LockHolder>,
    },
    #[error("refusing to apply: {}", .problems.join("; "))]
    Blocked { problems: Vec<String> },
    #[error("{}", failure_text(.0))]
    /// Boxed: the largest variant by far, and errors travel in every `Result`.
    Statement(Box<StatementFailure>),
    #[error("{context}: {message}")]
    Database { context: String, message: String },
}

impl From<StatementFailure> for MigrateError {
    fn from(f: StatementFailure) -> Self {
        MigrateError::Statement(Box::new(f))
    }
}

fn lock_text(key: &i64, waited: &Duration, holders: &[LockHolder]) -> String {
    let who = if holders.is_empty() {
        "its holder could not be seen".to_string()
    } else {
        holders
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!(
        "another migration holds the advisory lock {key}: waited {}; held by {who}\n  {}",
        // A measured wait, told for people (`10.07 s`, not `10s 72ms 42us 554ns`).
        crate::plan::human_duration(*waited),
        lock_advice(holders)
    )
}

fn failure_text(f: &StatementFailure) -> String {
    let mut text = format!(
        "{} failed at line {}, column {} (statement {}): {}\n  {}",
        f.migration,
        f.line,
        f.column,
        f.statement_index,
        f.message,
        first_lines(&f.statement, 3)
    );
    if f.lock_timed_out() {
        let blocked = f.blocked.clone().unwrap_or_default();
        let what = if blocked.what.is_empty() {
            "a lock"
        } else {
            &blocked.what
        };
        for (i, h) in blocked.holders.iter().enumerate() {
            match i {
                0 => text.push_str(&format!("\n  it waited for {what}, held by {h}")),
                _ => text.push_str(&format!("\n  and by {h}")),
            }
        }
        text.push_str(&format!("\n  {}", lock_advice(&blocked.holders)));
    }
    text
}

fn first_lines(text: &str, n: usize) -> String {
    let mut lines: Vec<&str> = text.lines().take(n + 1).collect();
    if lines.len() > n {
        lines.truncate(n);
        lines.push("…");
    }
    lines.join("\n  ")
}

/// The database's error as one line: message, SQLSTATE, detail and hint.
pub fn describe_db_error(e: &sqlx::Error) -> (String, Option<String>, Option<usize>) {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.to_string());
            let mut text = db.message().to_string();
            let mut position = None;
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                if let Some(detail) = pg.detail() {
                    text.push_str(&format!(" (detail: {detail})"));
                }
                if let Some(hint) = pg.hint() {
                    text.push_str(&format!(" (hint: {hint})"));
                }
                if let Some(sqlx::postgres::PgErrorPosition::Original(p)) = pg.position() {
                    position = Some(p);
                }
            }
            if let Some(c) = &code {
                text.push_str(&format!(" [SQLSTATE {c}]"));
            }
            (text, code, position)
        }
        other => (other.to_string(), None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn psql() -> LockHolder {
        LockHolder {
            pid: 123,
            application_name: "psql".into(),
            user: "ops".into(),
            client: "10.0.0.7".into(),
            state: "idle in transaction".into(),
            since: "12:03:04 UTC".into(),
            in_state: Some(Duration::from_millis(42_300)),
            query_start: "12:03:04 UTC".into(),
            query: "SELECT count(*) FROM t".into(),
        }
    }

    #[test]
    fn a_holder_reads_as_one_line() {
        assert_eq!(
            psql().to_string(),
            "pid 123 psql (ops@10.0.0.7) idle in transaction since 12:03:04 UTC (42.3 s), query started \
             12:03:04 UTC: SELECT count(*) FROM t"
        );
        let prepared = LockHolder::default();
        assert!(prepared.to_string().starts_with("a prepared transaction"));
    }

    #[test]
    fn the_advice_names_each_session_and_never_ends_one() {
        let two = [psql(), LockHolder { pid: 456, ..psql() }];
        let advice = lock_advice(&two);
        assert!(
            advice.contains("SELECT pg_terminate_backend(123); SELECT pg_terminate_backend(456)"),
            "{advice}"
        );
        for a in [
            advice,
            lock_advice(&[]),
            lock_advice(&[LockHolder::default()]),
        ] {
            assert!(a.ends_with("deckhand never ends a session"), "{a}");
        }
    }

    #[test]
    fn a_lock_timeout_failure_names_the_holders_and_what_to_do() {
        let mut f = StatementFailure {
            migration: "002_x".into(),
            line: 1,
            column: 1,
            statement_index: 1,
            statement: "ALTER TABLE t ADD COLUMN x int".into(),
            message: "canceling statement due to lock timeout [SQLSTATE 55P03]".into(),
            code: Some(LOCK_NOT_AVAILABLE.into()),
            blocked: Some(Blocked {
                what: "a lock on t".into(),
                holders: vec![psql()],
            }),
        };
        let text = MigrateError::from(f.clone()).to_string();
        assert!(
            text.contains("\n  it waited for a lock on t, held by pid 123 psql (ops@10.0.0.7)"),
            "{text}"
        );
        assert!(text.contains("pg_terminate_backend(123)"), "{text}");
        f.blocked = None;
        let text = MigrateError::from(f.clone()).to_string();
        assert!(text.contains("who holds it could not be seen"), "{text}");
        f.code = Some("42601".into());
        let text = MigrateError::from(f).to_string();
        assert!(
            !text.contains("deckhand never ends"),
            "only after a lock timeout: {text}"
        );
    }

    #[test]
    fn one_line_collapses_cuts_and_makes_inert() {
        assert_eq!(
            one_line("SELECT *\n  FROM t\tWHERE x", 100),
            "SELECT * FROM t WHERE x"
        );
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("a \u{1b}]0;x\u{7} b", 100), "a ^[]0;x^G b");
    }

    #[test]
    fn a_lock_wait_reads_for_people() {
        let e = MigrateError::LockTimeout {
            key: 72707369,
            waited: Duration::new(10, 72_042_554),
            holders: Vec::new(),
        };
        let text = e.to_string();
        assert!(text.contains("waited 10.07 s;"), "{text}");
    }
}
