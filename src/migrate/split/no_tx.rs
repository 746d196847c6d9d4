//! Statements PostgreSQL refuses inside a transaction block (`CREATE INDEX CONCURRENTLY`, `VACUUM`, ...),
//! recognised on their leading keywords with comments and case ignored, and sqlx's `-- no-transaction`
//! opt-out marker at the very start of a file.

use super::lexer::{Kind, Lexer};
use crate::migrate::Statement;

const MARKER: &str = "-- no-transaction";

/// Keyword prefixes that are refused in a transaction block, and how they are reported.
const PREFIXES: &[(&[&str], &str)] = &[
    (
        &["CREATE", "INDEX", "CONCURRENTLY"],
        "CREATE INDEX CONCURRENTLY",
    ),
    (
        &["CREATE", "UNIQUE", "INDEX", "CONCURRENTLY"],
        "CREATE UNIQUE INDEX CONCURRENTLY",
    ),
    (
        &["DROP", "INDEX", "CONCURRENTLY"],
        "DROP INDEX CONCURRENTLY",
    ),
    (&["VACUUM"], "VACUUM"),
    (&["CREATE", "DATABASE"], "CREATE DATABASE"),
    (&["DROP", "DATABASE"], "DROP DATABASE"),
    (&["CREATE", "TABLESPACE"], "CREATE TABLESPACE"),
    (&["DROP", "TABLESPACE"], "DROP TABLESPACE"),
    (&["ALTER", "SYSTEM"], "ALTER SYSTEM"),
    (&["CREATE", "SUBSCRIPTION"], "CREATE SUBSCRIPTION"),
    (&["DROP", "SUBSCRIPTION"], "DROP SUBSCRIPTION"),
];

/// Whether the file opts out of the transaction the way sqlx reads it: it starts with `-- no-transaction`.
pub fn has_no_transaction_marker(sql: &str) -> bool {
    sql.starts_with(MARKER)
}

/// The marker first (`"-- no-transaction marker"`), else [`no_transaction_reason`] of the statements.
pub fn file_no_transaction_reason(sql: &str, statements: &[Statement]) -> Option<String> {
    if has_no_transaction_marker(sql) {
        return Some(format!("{MARKER} marker"));
    }
    no_transaction_reason(statements)
}

/// The first statement PostgreSQL refuses inside a transaction block, e.g. `"CREATE INDEX CONCURRENTLY at
/// line 3"`. `ALTER TYPE ... ADD VALUE` is allowed in a transaction since PostgreSQL 12 and not reported.
pub fn no_transaction_reason(statements: &[Statement]) -> Option<String> {
    statements
        .iter()
        .find_map(|s| refused(&s.sql).map(|what| format!("{what} at line {}", s.line)))
}

#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    kind: Kind,
    text: &'a str,
}

impl Tok<'_> {
    fn is(&self, word: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(word)
    }
}

fn refused(sql: &str) -> Option<&'static str> {
    let toks: Vec<Tok<'_>> = Lexer::new(sql)
        .take(32)
        .map(|t| Tok {
            kind: t.kind,
            text: &sql[t.start..t.end],
        })
        .collect();
    let is = |i: usize, word: &str| toks.get(i).is_some_and(|t| t.is(word));
    for (words, what) in PREFIXES {
        if words.iter().enumerate().all(|(i, w)| is(i, w)) {
            return Some(what);
        }
    }
    if is(0, "ALTER") && is(1, "DATABASE") && is(3, "SET") && is(4, "TABLESPACE") {
        return Some("ALTER DATABASE SET TABLESPACE");
    }
    if is(0, "REINDEX") {
        return reindex(&toks[1..]);
    }
    // ALTER TABLE … DETACH PARTITION name CONCURRENTLY (PostgreSQL 14+).
    if is(0, "ALTER") && is(1, "TABLE") {
        let detach = toks
            .windows(2)
            .position(|w| w[0].is("DETACH") && w[1].is("PARTITION"));
        if detach.is_some_and(|at| toks[at + 2..].iter().any(|t| t.is("CONCURRENTLY"))) {
            return Some("DETACH PARTITION CONCURRENTLY");
        }
    }
    if is(0, "CLUSTER") {
        return cluster(&toks[1..]);
    }
    None
}

/// `REINDEX [ ( option [, ...] ) ] { INDEX | TABLE | SCHEMA | DATABASE | SYSTEM } [ CONCURRENTLY ] name`:
/// refused with `CONCURRENTLY` (keyword or true option), and always for SCHEMA, DATABASE and SYSTEM.
fn reindex(rest: &[Tok<'_>]) -> Option<&'static str> {
    let (options, rest) = paren_group(rest);
    let mut concurrently = options
        .split(|t| t.kind == Kind::Other && t.text == ",")
        .filter(|option| option.first().is_some_and(|t| t.is("CONCURRENTLY")))
        .any(|option| option.get(1).is_none_or(truthy));
    let target = rest.first()?;
    concurrently |= rest.get(1).is_some_and(|t| t.is("CONCURRENTLY"));
    if concurrently {
        return Some("REINDEX CONCURRENTLY");
    }
    [
        ("SCHEMA", "REINDEX SCHEMA"),
        ("DATABASE", "REINDEX DATABASE"),
        ("SYSTEM", "REINDEX SYSTEM"),
    ]
    .into_iter()
    .find(|(word, _)| target.is(word))
    .map(|(_, what)| what)
}

/// `CLUSTER [ ( option [, ...] ) ] [ VERBOSE ]` with no table re-clusters every table: refused.
fn cluster(rest: &[Tok<'_>]) -> Option<&'static str> {
    let (_, rest) = paren_group(rest);
    let rest = match rest.first() {
        Some(t) if t.is("VERBOSE") => &rest[1..],
        _ => rest,
    };
    rest.is_empty().then_some("CLUSTER without a table")
}

/// Splits a leading `( ... )` off `toks`: (the tokens inside, the tokens after). No group: (empty, toks).
fn paren_group<'t, 'a>(toks: &'t [Tok<'a>]) -> (&'t [Tok<'a>], &'t [Tok<'a>]) {
    if toks.first().is_none_or(|t| t.kind != Kind::Open) {
        return (&[], toks);
    }
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Kind::Open => depth += 1,
            Kind::Close => {
                depth -= 1;
                if depth == 0 {
                    return (&toks[1..i], &toks[i + 1..]);
                }
            }
            _ => {}
        }
    }
    (&toks[1..], &[])
}

/// A boolean option value as PostgreSQL reads it; anything not clearly false counts as true.
fn truthy(t: &Tok<'_>) -> bool {
    let value = t.text.trim_matches('\'');
    !["false", "off", "no", "0"]
        .iter()
        .any(|f| value.eq_ignore_ascii_case(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::split::split;

    fn reason(sql: &str) -> Option<String> {
        no_transaction_reason(&split(sql))
    }

    #[test]
    fn reports_each_refused_statement_with_its_line() {
        let cases = [
            (
                "CREATE INDEX CONCURRENTLY i ON t (x)",
                "CREATE INDEX CONCURRENTLY",
            ),
            (
                "create unique index concurrently if not exists i on t(x)",
                "CREATE UNIQUE INDEX CONCURRENTLY",
            ),
            (
                "DROP INDEX CONCURRENTLY IF EXISTS i",
                "DROP INDEX CONCURRENTLY",
            ),
            ("REINDEX INDEX CONCURRENTLY i", "REINDEX CONCURRENTLY"),
            (
                "REINDEX (VERBOSE) INDEX CONCURRENTLY i",
                "REINDEX CONCURRENTLY",
            ),
            ("REINDEX (CONCURRENTLY) TABLE t", "REINDEX CONCURRENTLY"),
            (
                "REINDEX (VERBOSE, CONCURRENTLY true) TABLE t",
                "REINDEX CONCURRENTLY",
            ),
            ("REINDEX SCHEMA public", "REINDEX SCHEMA"),
            ("REINDEX DATABASE app", "REINDEX DATABASE"),
            ("REINDEX SYSTEM", "REINDEX SYSTEM"),
            ("VACUUM", "VACUUM"),
            ("vacuum (analyze) users", "VACUUM"),
            ("CREATE DATABASE app", "CREATE DATABASE"),
            ("DROP DATABASE IF EXISTS app", "DROP DATABASE"),
            (
                "CREATE TABLESPACE fast LOCATION '/ssd'",
                "CREATE TABLESPACE",
            ),
            ("DROP TABLESPACE fast", "DROP TABLESPACE"),
            ("ALTER SYSTEM SET work_mem = '64MB'", "ALTER SYSTEM"),
            (
                "ALTER DATABASE \"app\" SET TABLESPACE fast",
                "ALTER DATABASE SET TABLESPACE",
            ),
            (
                "CREATE SUBSCRIPTION s CONNECTION 'x' PUBLICATION p",
                "CREATE SUBSCRIPTION",
            ),
            ("DROP SUBSCRIPTION s", "DROP SUBSCRIPTION"),
            ("CLUSTER", "CLUSTER without a table"),
            ("CLUSTER VERBOSE", "CLUSTER without a table"),
            ("CLUSTER (VERBOSE)", "CLUSTER without a table"),
        ];
        for (statement, what) in cases {
            let sql = format!("SELECT 1;\n\n{statement};\nVACUUM;");
            assert_eq!(
                reason(&sql),
                Some(format!("{what} at line 3")),
                "{statement}"
            );
        }
    }

    #[test]
    fn ignores_comments_case_and_whitespace_between_keywords() {
        let sql = "-- first\nCREATE /* unique? no */ INDEX\n   -- name follows\n   concurrently idx ON t (x);";
        assert_eq!(
            reason(sql).as_deref(),
            Some("CREATE INDEX CONCURRENTLY at line 2")
        );
    }

    #[test]
    fn detach_partition_concurrently_is_refused_in_a_transaction() {
        assert_eq!(
            reason("ALTER TABLE measurements DETACH PARTITION measurements_2023 CONCURRENTLY;")
                .as_deref(),
            Some("DETACH PARTITION CONCURRENTLY at line 1")
        );
        assert_eq!(reason("ALTER TABLE m DETACH PARTITION m_2023;"), None);
        assert_eq!(
            reason("ALTER TABLE m DETACH PARTITION m_2023 FINALIZE;"),
            None
        );
    }

    #[test]
    fn near_misses_are_allowed_in_a_transaction() {
        let allowed = [
            "CREATE INDEX concurrently_idx ON t (x)",
            "CREATE INDEX \"concurrently\" ON t (x)",
            "CREATE INDEX i ON t (concurrently)",
            "CREATE TABLE vacuum_log (id int)",
            "SELECT 'VACUUM'",
            "INSERT INTO notes VALUES ('CREATE INDEX CONCURRENTLY i ON t (x)')",
            "/* VACUUM */ SELECT 1",
            "DO $$ BEGIN EXECUTE 'VACUUM'; END $$",
            "ALTER TYPE mood ADD VALUE 'meh'",
            "ALTER DATABASE app SET search_path = app",
            "ALTER TABLE system_settings ADD COLUMN x int",
            "REINDEX INDEX i",
            "REINDEX TABLE t",
            "REINDEX (CONCURRENTLY false) TABLE t",
            "REINDEX (CONCURRENTLY off, VERBOSE) TABLE t",
            "CLUSTER users USING users_pkey",
            "CLUSTER VERBOSE users",
            "ANALYZE users",
            "DROP INDEX i",
        ];
        for sql in allowed {
            assert_eq!(reason(sql), None, "{sql}");
        }
    }

    #[test]
    fn marker_must_start_the_file() {
        let statements = split("-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);");
        assert_eq!(
            file_no_transaction_reason(
                "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);",
                &statements
            )
            .as_deref(),
            Some("-- no-transaction marker")
        );
        assert!(has_no_transaction_marker(
            "-- no-transaction: needed for CONCURRENTLY\n"
        ));
        assert!(!has_no_transaction_marker("\n-- no-transaction\nSELECT 1"));
        assert!(!has_no_transaction_marker("SELECT 1 -- no-transaction"));
        let plain = split("SELECT 1;\nVACUUM;");
        assert_eq!(
            file_no_transaction_reason("SELECT 1;\nVACUUM;", &plain).as_deref(),
            Some("VACUUM at line 2")
        );
        assert_eq!(
            file_no_transaction_reason("SELECT 1;", &split("SELECT 1;")),
            None
        );
    }
}
