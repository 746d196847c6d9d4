//! The atomicity preview of a migration file: one transaction (a failure leaves nothing behind), statement by
//! statement (a failure leaves the earlier statements committed, and a failed CONCURRENTLY build an INVALID index),
//! or — for a file with its own `BEGIN`/`COMMIT` run the way its tool runs it — exactly which statements stay
//! applied when statement N fails (the groups of [`crate::migrate::execution`]).

use squawk_syntax::SourceFile;
use squawk_syntax::ast::{self, AstNode};

use super::Atomicity;
use super::syntax::name;
use crate::migrate::execution::{self, End, Group, Mode};
use crate::migrate::{Migration, Statement};

/// The atomicity of `m` as its tool runs it.
pub fn of_migration(m: &Migration) -> Atomicity {
    let mode = execution::mode(m);
    let groups = execution::groups_of(mode, &m.statements);
    let how = match mode {
        Mode::OneQuery => "sent as one query, as Prisma sends it",
        Mode::ToolTransaction => "in sqlx's transaction",
        Mode::OneQueryNoTransaction => {
            "sent as one query without a transaction (-- no-transaction)"
        }
        Mode::Batch => {
            return Atomicity {
                transactional: true,
                on_failure: Vec::new(),
                summary: "one transaction with every other pending migration, as Drizzle runs them: if any \
                          statement fails, none of them stays applied"
                    .into(),
            };
        }
        Mode::OwnTransaction | Mode::ByStatement => {
            return atomicity(&m.statements, m.no_transaction.as_deref());
        }
    };
    let mut a = grouped(&m.statements, &groups, how);
    // PostgreSQL refuses these in any transaction block, the implicit one of a multi-statement query included.
    if let Some(why) = &m.no_transaction
        && (mode == Mode::ToolTransaction || m.statements.len() > 1)
    {
        a.on_failure.insert(
            0,
            format!(
                "will FAIL: {why} cannot run inside a transaction block ({how}){}",
                if m.format == crate::migrate::Format::Sqlx {
                    "; sqlx runs it only as the sole statement of a file starting with -- no-transaction"
                } else {
                    ""
                }
            ),
        );
    }
    a
}

/// The preview of a file whose statements commit in `groups`.
fn grouped(statements: &[Statement], groups: &[Group], how: &str) -> Atomicity {
    let range = |g: &Group| {
        if g.first == g.last {
            format!("statement {}", g.first + 1)
        } else {
            format!("statements {}–{}", g.first + 1, g.last + 1)
        }
    };
    if let [only] = groups
        && only.end == End::Commit
    {
        return Atomicity {
            transactional: true,
            on_failure: Vec::new(),
            summary: format!(
                "one transaction ({how}): if any statement fails, nothing stays applied"
            ),
        };
    }
    let mut on_failure = Vec::new();
    let mut kept: Option<usize> = None;
    for g in groups {
        let stays = match kept {
            None => "nothing stays applied".to_string(),
            Some(0) => "statement 1 stays applied".to_string(),
            Some(last) => format!("statements 1–{} stay applied", last + 1),
        };
        on_failure.push(format!("if one of {} fails, {stays}", range(g)));
        match g.end {
            End::Commit => kept = Some(g.last),
            End::Rollback => on_failure.push(format!(
                "{} are rolled back by the file's own ROLLBACK (line {})",
                range(g),
                statements[g.last].line
            )),
            End::Open => on_failure.push(format!(
                "{}: the file's BEGIN is never committed — deckhand rolls it back and fails the migration",
                range(g)
            )),
        }
    }
    let commits: Vec<String> = groups
        .iter()
        .filter(|g| g.end == End::Commit)
        .map(range)
        .collect();
    Atomicity {
        transactional: false,
        on_failure,
        summary: format!(
            "its own transactions ({how}): {} commit separately",
            commits.join(", then ")
        ),
    }
}

/// What a file leaves behind if one of its statements fails. `no_transaction` is `Some(reason)` when the file runs
/// outside a transaction.
pub fn atomicity(statements: &[Statement], no_transaction: Option<&str>) -> Atomicity {
    let Some(reason) = no_transaction else {
        return Atomicity {
            transactional: true,
            on_failure: Vec::new(),
            summary: "one transaction: if any statement fails, nothing stays applied".into(),
        };
    };
    let mut on_failure = Vec::new();
    for (i, statement) in statements.iter().enumerate() {
        let n = i + 1;
        match n {
            1 => {}
            2 => on_failure.push("if statement 2 fails, statement 1 stays committed".to_owned()),
            _ => on_failure.push(format!(
                "if statement {n} fails, statements 1–{} stay committed",
                n - 1
            )),
        }
        if let Some(left) = invalid_index(&statement.sql) {
            on_failure.push(format!("if statement {n} fails, {left}"));
        }
    }
    Atomicity {
        transactional: false,
        on_failure,
        summary: format!("runs statement by statement outside a transaction ({reason})"),
    }
}

/// What a failed `CREATE [UNIQUE] INDEX CONCURRENTLY` or `REINDEX … CONCURRENTLY` leaves behind.
fn invalid_index(sql: &str) -> Option<String> {
    let stmt = SourceFile::parse(sql).tree().stmts().next()?;
    match stmt {
        ast::Stmt::CreateIndex(create) => {
            create.concurrently_token()?;
            let table = create
                .table_relation_name()
                .and_then(|r| r.table_name_ref())
                .map(|t| name(t.syntax()));
            let index = create
                .index()
                .and_then(|i| i.path())
                .map(|p| name(p.syntax()));
            Some(match (index, table) {
                (Some(index), table) => format!(
                    "an INVALID index {} remains: drop it before retrying",
                    qualified(&index, table.as_deref())
                ),
                (None, Some(table)) => format!(
                    "an INVALID index (named by PostgreSQL) on {table} remains: drop it before retrying"
                ),
                (None, None) => "an INVALID index remains: drop it before retrying".to_owned(),
            })
        }
        ast::Stmt::Reindex(reindex) if reindex.is_concurrently() => {
            Some(match reindex.reindex_target()? {
                ast::ReindexTarget::ReindexTargetIndex(t) => {
                    let index = t.index_ref().map(|i| name(i.syntax()))?;
                    format!("an INVALID index {index}_ccnew remains: drop it before retrying")
                }
                ast::ReindexTarget::ReindexTargetTable(t) => {
                    let table = t.table_name_ref().map(|i| name(i.syntax()))?;
                    format!(
                        "INVALID indexes named *_ccnew on {table} may remain: drop them before retrying"
                    )
                }
                _ => {
                    "INVALID indexes named *_ccnew may remain: drop them before retrying".to_owned()
                }
            })
        }
        _ => None,
    }
}

/// An index lives in its table's schema: `idx` on `app.users` is `app.idx`.
fn qualified(index: &str, table: Option<&str>) -> String {
    match table.and_then(|t| t.rsplit_once('.')) {
        Some((schema, _)) if !index.contains('.') => format!("{schema}.{index}"),
        _ => index.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::split::split;

    #[test]
    fn transactional_files_leave_nothing_behind() {
        let a = atomicity(
            &split("CREATE TABLE a (id int); CREATE INDEX i ON a (id);"),
            None,
        );
        assert!(a.transactional);
        assert!(a.on_failure.is_empty());
        assert_eq!(
            a.summary,
            "one transaction: if any statement fails, nothing stays applied"
        );
    }

    #[test]
    fn concurrent_builds_leave_invalid_indexes() {
        let sql = "SET lock_timeout = '2s';\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS u_email ON app.users (email);\n\
                   CREATE INDEX CONCURRENTLY ON t (c);\nREINDEX INDEX CONCURRENTLY i;\nREINDEX (CONCURRENTLY) TABLE t";
        let a = atomicity(&split(sql), Some("CREATE INDEX CONCURRENTLY at line 2"));
        assert!(!a.transactional);
        assert_eq!(
            a.summary,
            "runs statement by statement outside a transaction (CREATE INDEX CONCURRENTLY at line 2)"
        );
        assert_eq!(
            a.on_failure,
            vec![
                "if statement 2 fails, statement 1 stays committed",
                "if statement 2 fails, an INVALID index app.u_email remains: drop it before retrying",
                "if statement 3 fails, statements 1–2 stay committed",
                "if statement 3 fails, an INVALID index (named by PostgreSQL) on t remains: drop it before retrying",
                "if statement 4 fails, statements 1–3 stay committed",
                "if statement 4 fails, an INVALID index i_ccnew remains: drop it before retrying",
                "if statement 5 fails, statements 1–4 stay committed",
                "if statement 5 fails, INVALID indexes named *_ccnew on t may remain: drop them before retrying",
            ]
        );
    }

    fn prisma(sql: &str) -> Migration {
        let statements = split(sql);
        Migration {
            format: crate::migrate::Format::Prisma,
            key: crate::migrate::Key::Prisma {
                name: "20240102000000_enum".into(),
            },
            name: "20240102000000_enum".into(),
            path: "migration.sql".into(),
            sql: sql.into(),
            no_transaction: crate::migrate::split::no_transaction_reason(&statements),
            statements,
            down: None,
        }
    }

    #[test]
    fn a_prisma_file_with_its_own_commit_says_what_stays_applied() {
        let a = of_migration(&prisma(
            "ALTER TABLE t ADD COLUMN a int;\nBEGIN;\nCREATE TYPE e AS ENUM ('x');\nCOMMIT;\n\
             ALTER TABLE t ADD COLUMN b int;\nALTER TABLE t ADD COLUMN c int;",
        ));
        assert!(!a.transactional);
        assert_eq!(
            a.summary,
            "its own transactions (sent as one query, as Prisma sends it): statements 1–4, then \
             statements 5–6 commit separately"
        );
        assert_eq!(
            a.on_failure,
            vec![
                "if one of statements 1–4 fails, nothing stays applied",
                "if one of statements 5–6 fails, statements 1–4 stay applied",
            ]
        );
        let plain = of_migration(&prisma(
            "CREATE TABLE a (id int);\nCREATE TABLE b (id int);",
        ));
        assert!(plain.transactional);
        assert_eq!(
            plain.summary,
            "one transaction (sent as one query, as Prisma sends it): if any statement fails, nothing \
             stays applied"
        );
    }
}
