//! Data impact (issue 18): for each pending statement whose outcome the data decides, what it will lose (rows of a
//! dropped table, values of a dropped column, values a type change alters) or why it will fail (NULLs under a new
//! NOT NULL, duplicate keys under a new UNIQUE, rows violating a CHECK, orphans under a FOREIGN KEY, values a cast
//! rejects), counted on the live database before anything runs. Each figure says how it was obtained: an exact
//! count, an estimate from the planner's statistics or from a sample when the table is too big for the time
//! allowed, or why it was not judged (it depends on an earlier statement of the batch, the object does not exist
//! yet). Reads only: every query runs in a READ ONLY transaction under a statement timeout and a lock timeout, and
//! takes no lock stronger than ACCESS SHARE. May import `migrate` (connections, migrations) and `lint` itself.

mod asks;
mod cast;
mod exec;
mod order;
mod text;

use std::time::Duration;

use serde::Serialize;

pub use asks::{Ask, Question, looks_secret, of_statement};
pub use order::judge;

/// How long one counting query may run, when the plan does not say (`[database] impact_timeout`).
pub const DEFAULT_QUERY_TIME: Duration = Duration::from_secs(3);

/// What the data-impact queries may cost the live server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// statement_timeout of each query; a count that takes longer falls back to an estimate.
    pub per_query: Duration,
    /// lock_timeout of each query: a table locked by someone else is estimated, never waited for.
    pub lock_wait: Duration,
    /// All the questions of one batch together: once spent, the rest are listed as not counted (a status read must
    /// not wait minutes on a history of big tables).
    pub total: Duration,
}

impl Limits {
    /// Limits for counts of at most `per_query` each: a lock wait of 500 ms, and ten such counts (at least 30 s)
    /// in all.
    pub fn per_query(per_query: Duration) -> Limits {
        Limits {
            per_query,
            lock_wait: Duration::from_millis(500),
            total: (per_query * 10).max(Duration::from_secs(30)),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::per_query(DEFAULT_QUERY_TIME)
    }
}

/// What a statement does to the data it meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// DROP TABLE: its rows.
    TableRows,
    /// TRUNCATE: its rows.
    TruncatedRows,
    /// DELETE without WHERE: every row.
    DeletedRows,
    /// UPDATE without WHERE: every row rewritten.
    OverwrittenRows,
    /// DROP COLUMN: its values (not NULL).
    ColumnValues,
    /// ALTER COLUMN … TYPE: values the change rejects or alters.
    CastValues,
    /// SET NOT NULL, a new PRIMARY KEY: rows with NULL.
    NullRows,
    /// ADD COLUMN … NOT NULL without a default: the rows that exist get no value.
    RowsWithoutValue,
    /// A new UNIQUE or PRIMARY KEY constraint or unique index: groups of rows sharing a key.
    DuplicateKeys,
    /// A new CHECK constraint: rows it rejects.
    CheckViolations,
    /// A new FOREIGN KEY: rows referencing nothing.
    OrphanRows,
    /// VALIDATE CONSTRAINT: rows the constraint rejects.
    Validation,
}

/// Whether the figure is data lost or a reason the statement fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The statement succeeds and the data counted is gone or changed.
    Lost,
    /// The statement fails when anything is counted (the migration stops there).
    WillFail,
}

/// How a figure was obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "how")]
pub enum Basis {
    /// Counted on the live database.
    Exact,
    /// From the planner's statistics (pg_class.reltuples, pg_stats.null_frac): the count took too long.
    Statistics,
    /// Counted in a sample of the table (`TABLESAMPLE SYSTEM`) and scaled up; `lower_bound` when the sample can
    /// only show that at least this many exist (duplicate keys).
    Sample { percent: String, lower_bound: bool },
    /// The database rejected the check itself: the statement would raise this (a cast that fails).
    Raised { error: String },
    /// An earlier statement of the batch changes what this one meets: judged when it runs (or on a rehearsal).
    DependsOn { migration: String, line: usize },
    /// What it meets (the table, or the columns an UPDATE sets) is created earlier in the batch and holds only what
    /// the batch writes: no data that exists now is met.
    CreatedInBatch { migration: String, line: usize },
    /// Not judged, and why.
    NotJudged { why: String },
}

/// What one statement does to the live data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Impact {
    /// 1-based index of the statement in the file, and its line.
    pub statement_index: usize,
    pub line: usize,
    pub kind: Kind,
    pub outcome: Outcome,
    /// What it is about: `orders`, `orders.note`, a constraint or index name.
    pub object: String,
    /// Rows (or values, or key groups) counted; `None` when not judged.
    pub count: Option<i64>,
    pub basis: Basis,
    /// A key that is duplicated, with how many rows share it (`'a@x.io' ×3`); masked when it looks secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
    /// One line for people: what it loses or why it fails, and how that was obtained.
    pub text: String,
}

impl Impact {
    /// Whether the statement is expected to fail on the live data: something was counted (or the check raised).
    pub fn fails(&self) -> bool {
        self.outcome == Outcome::WillFail
            && (self.count.is_some_and(|n| n > 0) || matches!(self.basis, Basis::Raised { .. }))
    }

    /// Whether data that exists now is lost.
    pub fn loses(&self) -> bool {
        self.outcome == Outcome::Lost && self.count.is_some_and(|n| n > 0)
    }

    /// `migration line N: text`, as gates and confirmations list it.
    pub fn labelled(&self, migration: &str) -> String {
        format!("{migration} line {}: {}", self.line, self.text)
    }

    /// Worth a line in a confirmation: it fails, it loses data, or nobody could tell.
    pub fn matters(&self) -> bool {
        self.fails()
            || self.loses()
            || matches!(
                self.basis,
                Basis::DependsOn { .. } | Basis::NotJudged { .. }
            )
    }
}
