//! The atomicity preview of a migration file: one transaction (a failure leaves nothing behind), or statement by
//! statement (a failure leaves the earlier statements committed, and a failed CONCURRENTLY build an INVALID index).

use squawk_syntax::SourceFile;
use squawk_syntax::ast::{self, AstNode};

use super::Atomicity;
use super::syntax::name;
use crate::migrate::Statement;

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
}
