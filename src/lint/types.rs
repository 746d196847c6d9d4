//! The vocabulary of migration risk: classes, findings, exemptions, live table context and the atomicity preview.
//! Plain serde data, shared by the analyzer, the live-context reader, the console and `deckhand lint`.

use serde::Serialize;

/// What a statement risks. Ordered by how bad it is for a release: `Dangerous` > `Breaking` > `Locking` > `Safe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Safe,
    /// Blocks reads or writes on a table while it runs.
    Locking,
    /// The app version still serving during the deploy breaks.
    Breaking,
    /// Data can be lost.
    Dangerous,
}

impl Class {
    pub fn label(self) -> &'static str {
        match self {
            Class::Safe => "safe",
            Class::Locking => "locking",
            Class::Breaking => "breaking",
            Class::Dangerous => "dangerous",
        }
    }

    /// `--fail-on` names.
    pub fn from_name(name: &str) -> Option<Class> {
        [Class::Locking, Class::Breaking, Class::Dangerous]
            .into_iter()
            .find(|c| c.label() == name)
    }
}

/// How much a finding matters given the live table (a lock on 10 rows is not one on 50 million).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
}

/// One risk found in one statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub class: Class,
    /// The rule: a squawk rule name (`require-concurrent-index-creation`) or deckhand's own
    /// (`delete-without-where`, `truncate`, `narrowing-type-change`, `could-not-parse`).
    pub rule: String,
    /// 1-based index of the statement in the file.
    pub statement_index: usize,
    /// 1-based line and column in the file where the finding starts.
    pub line: usize,
    pub column: usize,
    /// The statement's text (first line used in summaries).
    pub statement: String,
    /// Why it is a risk, in words an operator reads at 3 a.m.
    pub why: String,
    /// The safer pattern.
    pub safer: String,
    /// The object a Dangerous finding destroys (table, column as `table.column`, schema): what the operator must
    /// type to confirm it.
    pub object: Option<String>,
    /// Tables the statement touches (for live context).
    pub tables: Vec<String>,
    /// Set from live context; `None` without a database.
    pub severity: Option<Severity>,
    /// Live context lines (`users: ~2,400,000 rows, 1.2 GB; est. lock 40 s`, `pid 4242 holds RowExclusiveLock`).
    pub context: Vec<String>,
    /// `Some(reason)` when exempted by `-- deckhand:ignore <rule> <reason>`.
    pub ignored: Option<String>,
    /// Set on a Dangerous finding that puts no existing data at stake in the batch being applied (see
    /// `lint::batch`): it is still listed, but no typed name is asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spared: Option<Spared>,
}

/// Why a Dangerous finding loses no data that exists now, so the apply asks no typed name for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "why")]
pub enum Spared {
    /// The object is created by an earlier statement of the same apply (this migration or an earlier pending one):
    /// the migration and line of that statement.
    CreatedInBatch { migration: String, line: usize },
    /// The table was empty on the live database when the status was read, and nothing earlier in the batch brings
    /// rows from elsewhere into it.
    EmptyTable,
}

/// What a file leaves behind if statement N fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Atomicity {
    /// The whole file runs in one transaction.
    pub transactional: bool,
    /// One line per statement that would leave something behind on failure, e.g. "if statement 3 fails,
    /// statements 1-2 stay committed" or "if statement 2 fails, an INVALID index users_email_idx remains".
    pub on_failure: Vec<String>,
    /// One sentence summary.
    pub summary: String,
}

/// The analysis of one migration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    pub name: String,
    pub path: String,
    pub findings: Vec<Finding>,
    pub atomicity: Atomicity,
    /// What each statement does to the live data (`lint::impact`): empty without a database, or before it is read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub impacts: Vec<super::impact::Impact>,
}

impl FileReport {
    /// The worst class among findings that are not exempted.
    pub fn worst(&self) -> Class {
        self.findings
            .iter()
            .filter(|f| f.ignored.is_none())
            .map(|f| f.class)
            .max()
            .unwrap_or(Class::Safe)
    }
}
