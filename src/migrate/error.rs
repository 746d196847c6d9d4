//! What can go wrong while reading status or migrating, each with the facts an operator needs to act: the
//! database error with the statement and its position, who holds a lock, which migrations block an apply.

use std::fmt;
use std::time::Duration;

/// A session holding the advisory lock deckhand waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: i64,
    pub application_name: String,
    pub client: String,
    /// When the holder's session started, as the server prints it.
    pub since: String,
    pub state: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let app = if self.application_name.is_empty() {
            "(no application_name)"
        } else {
            &self.application_name
        };
        write!(
            f,
            "pid {} {app} from {} (session since {}, {})",
            self.pid, self.client, self.since, self.state
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
    Statement(StatementFailure),
    #[error("{context}: {message}")]
    Database { context: String, message: String },
}

fn lock_text(key: &i64, waited: &Duration, holders: &[LockHolder]) -> String {
    let who = if holders.is_empty() {
        "its holder could not be seen (no permission on pg_stat_activity, or it just ended)"
            .to_string()
    } else {
        holders
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!(
        "another migration holds the advisory lock {key}: waited {}; held by {who}",
        // A measured wait, told for people (`10.07 s`, not `10s 72ms 42us 554ns`).
        crate::plan::human_duration(*waited)
    )
}

fn failure_text(f: &StatementFailure) -> String {
    format!(
        "{} failed at line {}, column {} (statement {}): {}\n  {}",
        f.migration,
        f.line,
        f.column,
        f.statement_index,
        f.message,
        first_lines(&f.statement, 3)
    )
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
