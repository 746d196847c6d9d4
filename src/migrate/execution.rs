//! How a migration file is sent and what commits together, format by format, exactly as the tool that owns the
//! format runs it: Prisma sends the whole file as one simple query (PostgreSQL's implicit transaction block, with
//! the file's own `BEGIN`/`COMMIT` deciding what commits together), sqlx runs the file as one query inside its own
//! transaction with the ledger row (or alone, with `-- no-transaction`), Drizzle runs every pending migration in one
//! transaction chunk by chunk, and deckhand's plain format runs each file in a transaction of its own. Files that
//! PostgreSQL refuses inside a transaction block run statement by statement (Prisma's and deckhand's way for
//! `CREATE INDEX CONCURRENTLY`). Pure: the apply follows [`mode`], the preview reads [`groups`].

use super::{Format, Migration, Statement};

/// How the statements of a migration reach the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// deckhand's plain format: the file (its own `BEGIN … COMMIT` wrapper dropped) in a transaction of its own with
    /// the ledger row; other transaction control inside is refused.
    OwnTransaction,
    /// Statement by statement, each committed on its own, the ledger row kept up to date: files PostgreSQL refuses in
    /// a transaction block, for Prisma and plain.
    ByStatement,
    /// The file as one simple query (Prisma): the ledger row written before, finished or given the error after.
    OneQuery,
    /// `BEGIN`, the file as one query, the ledger row, `COMMIT` (sqlx).
    ToolTransaction,
    /// The file as one query, the ledger row only after it succeeded (sqlx's `-- no-transaction`).
    OneQueryNoTransaction,
    /// Every pending migration in one transaction, each `--> statement-breakpoint` chunk a query (Drizzle).
    Batch,
}

/// How `m` runs when applied.
pub fn mode(m: &Migration) -> Mode {
    match m.format {
        Format::Prisma if m.no_transaction.is_some() => Mode::ByStatement,
        Format::Prisma => Mode::OneQuery,
        Format::Sqlx if super::split::has_no_transaction_marker(&m.sql) => {
            Mode::OneQueryNoTransaction
        }
        Format::Sqlx => Mode::ToolTransaction,
        Format::Drizzle => Mode::Batch,
        Format::Plain if m.no_transaction.is_some() => Mode::ByStatement,
        Format::Plain => Mode::OwnTransaction,
    }
}

/// What a transaction-control statement does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Begin,
    Commit,
    Rollback,
    /// `SET TRANSACTION …`: must be the first statement of its transaction.
    SetTransaction,
}

/// The transaction control `sql` is, if any (`BEGIN`, `START TRANSACTION`, `COMMIT`, `END`, `ROLLBACK`, `ABORT`,
/// `SET TRANSACTION`). `ROLLBACK TO SAVEPOINT` and `COMMIT PREPARED` are not.
pub fn control(sql: &str) -> Option<Control> {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(3)
        .map(|w| w.trim_end_matches(';').to_ascii_uppercase())
        .collect();
    let word = |i: usize| words.get(i).map(String::as_str);
    match (word(0)?, word(1)) {
        ("BEGIN", _) | ("START", Some("TRANSACTION")) => Some(Control::Begin),
        ("COMMIT" | "END", next) if next != Some("PREPARED") => Some(Control::Commit),
        ("ROLLBACK" | "ABORT", next) if next != Some("TO") && next != Some("PREPARED") => {
            Some(Control::Rollback)
        }
        ("SET", Some("TRANSACTION")) => Some(Control::SetTransaction),
        _ => None,
    }
}

/// Whether the file has transaction control of its own anywhere.
pub fn controls_transactions(statements: &[Statement]) -> bool {
    statements.iter().any(|s| control(&s.sql).is_some())
}

/// How a group of statements ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Committed (by the file's `COMMIT`, the tool's, or the end of the query).
    Commit,
    /// Rolled back by the file's own `ROLLBACK`.
    Rollback,
    /// Still open when the file ends (a `BEGIN` without `COMMIT`): the tool leaves it to the connection's end.
    Open,
}

/// Statements `first..=last` (0-based) commit or roll back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Group {
    pub first: usize,
    pub last: usize,
    pub end: End,
}

/// The groups of statements that commit together, by PostgreSQL's rules for one simple query holding them all: an
/// implicit transaction block that a `BEGIN` turns into a regular one (the statements before it included), a
/// `COMMIT` or `ROLLBACK` ends, after which the next statements start a new implicit block. `in_block` says the
/// query runs inside a transaction already open (sqlx's, Drizzle's), which the file's first `COMMIT` ends.
pub fn simple_query_groups(statements: &[Statement], in_block: bool) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut first = 0;
    let mut explicit = in_block;
    for (i, s) in statements.iter().enumerate() {
        match control(&s.sql) {
            Some(Control::Begin) => explicit = true,
            Some(c @ (Control::Commit | Control::Rollback)) => {
                let end = if c == Control::Commit {
                    End::Commit
                } else {
                    End::Rollback
                };
                groups.push(Group {
                    first,
                    last: i,
                    end,
                });
                first = i + 1;
                explicit = false;
            }
            _ => {}
        }
    }
    if first < statements.len() {
        let end = if explicit && !in_block {
            End::Open
        } else {
            End::Commit
        };
        groups.push(Group {
            first,
            last: statements.len() - 1,
            end,
        });
    }
    groups
}

/// The groups of `m`'s statements as it runs when applied.
pub fn groups(m: &Migration) -> Vec<Group> {
    groups_of(mode(m), &m.statements)
}

/// The groups of `statements` run in `mode`.
pub fn groups_of(mode: Mode, statements: &[Statement]) -> Vec<Group> {
    let n = statements.len();
    match mode {
        _ if n == 0 => Vec::new(),
        Mode::OwnTransaction | Mode::Batch => vec![Group {
            first: 0,
            last: n - 1,
            end: End::Commit,
        }],
        Mode::ByStatement => (0..n)
            .map(|i| Group {
                first: i,
                last: i,
                end: End::Commit,
            })
            .collect(),
        Mode::OneQuery | Mode::OneQueryNoTransaction => simple_query_groups(statements, false),
        Mode::ToolTransaction => simple_query_groups(statements, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::split::split;

    fn g(first: usize, last: usize, end: End) -> Group {
        Group { first, last, end }
    }

    #[test]
    fn recognises_transaction_control_and_nothing_else() {
        assert_eq!(control("BEGIN"), Some(Control::Begin));
        assert_eq!(control("begin transaction"), Some(Control::Begin));
        assert_eq!(control("START TRANSACTION"), Some(Control::Begin));
        assert_eq!(control("COMMIT"), Some(Control::Commit));
        assert_eq!(control("end"), Some(Control::Commit));
        assert_eq!(control("ROLLBACK"), Some(Control::Rollback));
        assert_eq!(
            control("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
            Some(Control::SetTransaction)
        );
        assert_eq!(control("ROLLBACK TO SAVEPOINT a"), None);
        assert_eq!(control("COMMIT PREPARED 'x'"), None);
        assert_eq!(control("START something"), None);
        assert_eq!(control("CREATE TABLE begin (id int)"), None);
    }

    #[test]
    fn prisma_alter_enum_mid_file_commits_at_its_commit() {
        // Prisma's AlterEnum pattern, with statements before and after it.
        let s = split(
            "ALTER TABLE t ADD COLUMN a int;\nBEGIN;\nCREATE TYPE \"E_new\" AS ENUM ('x');\n\
             ALTER TYPE \"E\" RENAME TO \"E_old\";\nCOMMIT;\nALTER TABLE t ADD COLUMN b int;\n\
             ALTER TABLE t ADD COLUMN c int;",
        );
        assert_eq!(
            simple_query_groups(&s, false),
            vec![g(0, 4, End::Commit), g(5, 6, End::Commit)]
        );
        // Inside sqlx's transaction the file's COMMIT ends sqlx's transaction too.
        assert_eq!(
            simple_query_groups(&s, true),
            vec![g(0, 4, End::Commit), g(5, 6, End::Commit)]
        );
    }

    #[test]
    fn a_begin_without_commit_stays_open_and_a_rollback_discards() {
        let s = split("CREATE TABLE a (id int);\nBEGIN;\nCREATE TABLE b (id int);");
        assert_eq!(simple_query_groups(&s, false), vec![g(0, 2, End::Open)]);
        let s = split("CREATE TABLE a (id int);\nROLLBACK;\nCREATE TABLE b (id int);");
        assert_eq!(
            simple_query_groups(&s, false),
            vec![g(0, 1, End::Rollback), g(2, 2, End::Commit)]
        );
    }
}
