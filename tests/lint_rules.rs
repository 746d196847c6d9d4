//! Migration risk analysis (`deckhand::lint`): the exact findings for SQL of each class, safe migrations that must
//! stay clean, unparseable SQL, `-- deckhand:ignore` comments, the lock_timeout option and the atomicity preview.
//! Statements are split by deckhand's own splitter, as deckhand does before it applies a file.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use deckhand::lint::{Class, FileReport, Finding, Options, analyze, analyze_migration};
use deckhand::migrate::split::split;
use deckhand::migrate::{Format, source};

use Class::{Breaking, Dangerous, Locking};

/// (class, rule, statement index, line, object)
type Expected<'a> = (Class, &'a str, usize, usize, Option<&'a str>);

const DECKHAND: Options = Options {
    executor_sets_lock_timeout: true,
};

fn lint_with(sql: &str, no_transaction: Option<&str>, opts: &Options) -> FileReport {
    analyze("m", "m.sql", sql, &split(sql), no_transaction, opts)
}

fn lint(sql: &str) -> FileReport {
    lint_with(sql, None, &DECKHAND)
}

fn shape(findings: &[Finding]) -> Vec<(Class, &str, usize, usize, Option<&str>)> {
    findings
        .iter()
        .map(|f| {
            (
                f.class,
                f.rule.as_str(),
                f.statement_index,
                f.line,
                f.object.as_deref(),
            )
        })
        .collect()
}

fn check(cases: &[(&str, &[Expected<'_>])]) {
    for (sql, expected) in cases {
        let report = lint(sql);
        assert_eq!(shape(&report.findings), expected.to_vec(), "\n{sql}");
        for f in &report.findings {
            assert!(!f.why.is_empty() && !f.safer.is_empty(), "{f:?}");
            assert_eq!(f.ignored, None);
        }
    }
}

#[test]
fn dangerous_findings() {
    #[rustfmt::skip]
    let cases: &[(&str, &[Expected<'_>])] = &[
        ("DROP TABLE users;", &[(Dangerous, "ban-drop-table", 1, 1, Some("users"))]),
        ("CREATE TABLE keep (id int);\nDROP TABLE IF EXISTS old_a, app.\"Old_B\" CASCADE;", &[
            (Dangerous, "ban-drop-table", 2, 2, Some("old_a")),
            (Dangerous, "ban-drop-table", 2, 2, Some("app.Old_B")),
        ]),
        ("ALTER TABLE users\n  DROP COLUMN legacy;", &[
            (Dangerous, "ban-drop-column", 1, 2, Some("users.legacy")),
            (Breaking, "dropped-column-still-read", 1, 2, None),
        ]),
        ("DROP SCHEMA legacy CASCADE;", &[(Dangerous, "ban-drop-schema", 1, 1, Some("legacy"))]),
        ("DROP DATABASE shop;", &[(Dangerous, "ban-drop-database", 1, 1, Some("shop"))]),
        ("TRUNCATE audit_log;", &[(Dangerous, "truncate", 1, 1, Some("audit_log"))]),
        ("TRUNCATE orders, items\n  CASCADE;", &[
            (Dangerous, "truncate", 1, 1, Some("orders")),
            (Dangerous, "truncate", 1, 1, Some("items")),
            (Dangerous, "ban-truncate-cascade", 1, 2, Some("orders, items")),
        ]),
        ("DELETE FROM sessions;\nDELETE FROM sessions WHERE expires_at < now();",
            &[(Dangerous, "delete-without-where", 1, 1, Some("sessions"))]),
        ("UPDATE users SET plan = 'free' WHERE id = 1;\nUPDATE public.users SET plan = 'free';",
            &[(Dangerous, "update-without-where", 2, 2, Some("public.users"))]),
        ("WITH moved AS (DELETE FROM queue RETURNING *)\nINSERT INTO archive SELECT * FROM moved;",
            &[(Dangerous, "delete-without-where", 1, 1, Some("queue"))]),
        ("ALTER TABLE users ALTER COLUMN name TYPE varchar(50);", &[
            (Dangerous, "narrowing-type-change", 1, 1, Some("users.name")),
            (Locking, "changing-column-type", 1, 1, None),
        ]),
        ("DO $$ BEGIN DROP TABLE users; END $$;", &[(Dangerous, "do-block", 1, 1, None)]),
        ("DROP OWNED BY app CASCADE;", &[(Dangerous, "drop-owned", 1, 1, Some("app"))]),
        ("DROP TYPE IF EXISTS mood CASCADE;\nDROP TYPE color;", &[
            (Dangerous, "drop-cascade", 1, 1, Some("mood")),
            (Breaking, "ban-drop-type", 1, 1, None),
            (Breaking, "ban-drop-type", 2, 2, None),
        ]),
        ("ALTER TABLE prices\n  ALTER COLUMN amount TYPE numeric(10, 2),\n  ALTER COLUMN id TYPE bigint;", &[
            (Dangerous, "narrowing-type-change", 1, 2, Some("prices.amount")),
            (Locking, "changing-column-type", 1, 2, None),
            (Locking, "changing-column-type", 1, 3, None),
        ]),
    ];
    check(cases);
}

#[test]
fn dangerous_findings_name_what_they_destroy_and_why() {
    let report = lint("ALTER TABLE t ALTER COLUMN flag TYPE boolean USING flag <> 0;");
    let f = &report.findings[0];
    assert_eq!(f.rule, "narrowing-type-change");
    assert!(f.why.contains("TYPE boolean"), "{}", f.why);
    assert!(
        f.why.contains("current type is not in the migration"),
        "{}",
        f.why
    );
    assert_eq!(f.tables, vec!["t"]);
    assert_eq!(report.worst(), Dangerous);

    let report = lint("DROP TABLE \"Users\"");
    assert_eq!(report.findings[0].statement, "DROP TABLE \"Users\"");
    assert!(report.findings[0].why.contains("every row"));
    assert_eq!(report.findings[0].object.as_deref(), Some("Users"));
}

#[test]
fn locking_findings() {
    #[rustfmt::skip]
    let cases: &[(&str, &[Expected<'_>])] = &[
        ("CREATE INDEX users_email_idx ON users (email);",
            &[(Locking, "require-concurrent-index-creation", 1, 1, None)]),
        ("DROP INDEX users_email_idx;", &[(Locking, "require-concurrent-index-deletion", 1, 1, None)]),
        ("ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
            &[(Locking, "adding-not-nullable-field", 1, 1, None)]),
        ("ALTER TABLE orders\n  ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);",
            &[(Locking, "adding-foreign-key-constraint", 1, 2, None)]),
        ("ALTER TABLE orders ADD CONSTRAINT positive CHECK (amount > 0);",
            &[(Locking, "constraint-missing-not-valid", 1, 1, None)]),
        ("ALTER TABLE orders ADD CONSTRAINT positive CHECK (amount > 0) NOT VALID;\n\
          ALTER TABLE orders VALIDATE CONSTRAINT positive;",
            &[(Locking, "constraint-missing-not-valid", 2, 2, None)]),
        ("ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
            &[(Locking, "adding-field-with-default", 1, 1, None)]),
        ("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email);",
            &[(Locking, "disallowed-unique-constraint", 1, 1, None)]),
        ("ALTER TABLE users ADD PRIMARY KEY (id);", &[(Locking, "adding-serial-primary-key-field", 1, 1, None)]),
        ("ALTER TABLE users ALTER COLUMN id TYPE bigint;", &[(Locking, "changing-column-type", 1, 1, None)]),
        ("SELECT 1;\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);",
            &[(Locking, "ban-concurrent-index-creation-in-transaction", 2, 2, None)]),
        ("REINDEX TABLE users;\nALTER TABLE events DETACH PARTITION events_2020;", &[
            (Locking, "require-concurrent-reindex", 1, 1, None),
            (Locking, "require-concurrent-partition-detach", 2, 2, None),
        ]),
    ];
    check(cases);
    let report = lint("CREATE INDEX i ON users (email)");
    assert_eq!(
        report.findings[0].why,
        "CREATE INDEX takes a SHARE lock: writes to the table wait until the index is built"
    );
    assert_eq!(
        report.findings[0].safer,
        "CREATE INDEX CONCURRENTLY in its own migration (outside a transaction)"
    );
    assert_eq!(report.findings[0].tables, vec!["users"]);
}

#[test]
fn breaking_findings() {
    #[rustfmt::skip]
    let cases: &[(&str, &[Expected<'_>])] = &[
        ("ALTER TABLE users RENAME COLUMN name TO full_name;", &[(Breaking, "renaming-column", 1, 1, None)]),
        ("ALTER TABLE users RENAME TO accounts;", &[(Breaking, "renaming-table", 1, 1, None)]),
        ("ALTER VIEW active_users RENAME TO current_users;", &[(Breaking, "renaming-object", 1, 1, None)]),
        ("ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;",
            &[(Breaking, "adding-required-field", 1, 1, None)]),
        ("ALTER TABLE users DROP COLUMN nickname, DROP COLUMN bio;", &[
            (Dangerous, "ban-drop-column", 1, 1, Some("users.nickname")),
            (Breaking, "dropped-column-still-read", 1, 1, None),
            (Dangerous, "ban-drop-column", 1, 1, Some("users.bio")),
            (Breaking, "dropped-column-still-read", 1, 1, None),
        ]),
        ("DROP VIEW active_users;", &[(Breaking, "ban-drop-view", 1, 1, None)]),
        ("ALTER TABLE users ALTER COLUMN role DROP DEFAULT;", &[(Breaking, "ban-drop-default", 1, 1, None)]),
    ];
    check(cases);
    let report = lint("ALTER TABLE users DROP COLUMN nickname");
    assert_eq!(
        report.findings[1].why,
        "dropping a column the running app version may still read: its queries naming the column fail"
    );
}

#[test]
fn safe_migrations_stay_clean() {
    let clean = |sql: &str, no_transaction: Option<&str>| {
        let report = lint_with(sql, no_transaction, &DECKHAND);
        assert_eq!(shape(&report.findings), vec![], "\n{sql}");
        assert_eq!(report.worst(), Class::Safe);
    };
    clean(
        "CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL);",
        None,
    );
    clean("ALTER TABLE users ADD COLUMN nickname text;", None);
    clean(
        "ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;",
        None,
    );
    clean(
        "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);",
        Some("CREATE INDEX CONCURRENTLY at line 1"),
    );
    // FOREIGN KEY NOT VALID, then VALIDATE CONSTRAINT in a later migration: each file is clean.
    clean(
        "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;",
        None,
    );
    clean(
        "ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk;",
        None,
    );
    clean(
        "CREATE TABLE events (id bigint, at timestamptz);\nCREATE INDEX events_at_idx ON events (at);\n\
         ALTER TABLE events ADD CONSTRAINT events_id_key UNIQUE (id);",
        None,
    );
    clean(
        "CREATE TYPE \"Role\" AS ENUM ('USER', 'ADMIN');\n\
         ALTER TABLE \"User\" ADD COLUMN \"role\" \"Role\" NOT NULL DEFAULT 'USER';",
        None,
    );
    clean(
        "CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);",
        Some("CREATE UNIQUE INDEX CONCURRENTLY at line 1"),
    );
    clean(
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key;",
        None,
    );
    clean(
        "UPDATE users SET plan = 'free' WHERE plan IS NULL;\nDELETE FROM sessions WHERE expires_at < now();",
        None,
    );
}

#[test]
fn unparseable_sql_is_never_silently_safe() {
    let report = lint("CREATE TABLE ok (id int);\nCREATE TABLE (;\n");
    let f = &report.findings[0];
    assert_eq!(
        (f.class, f.rule.as_str(), f.statement_index, f.line),
        (Dangerous, "could-not-parse", 2, 2)
    );
    assert!(
        f.why.starts_with("could not parse — review by hand: "),
        "{}",
        f.why
    );
    // The unclosed parenthesis keeps the splitter from ending the statement at `;`.
    assert_eq!(f.statement, "CREATE TABLE (;");
    assert!(report.findings.iter().all(|f| f.rule == "could-not-parse"));
    assert_eq!(report.worst(), Dangerous);

    // The rest of the file is still analysed.
    let report = lint("ALTER TABLE;\nDROP TABLE users;");
    assert_eq!(
        shape(&report.findings),
        vec![
            (Dangerous, "could-not-parse", 1, 1, None),
            (Dangerous, "ban-drop-table", 2, 2, Some("users")),
        ]
    );
    // A function body in LANGUAGE sql is parsed too.
    let report = lint("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELEC 1 $$;");
    assert!(!report.findings.is_empty());
    assert!(report.findings.iter().all(|f| f.rule == "could-not-parse"));
}

#[test]
fn ignore_comments_need_a_reason_and_a_finding() {
    let sql = "-- deckhand:ignore ban-drop-table replaced by accounts in v41, backup 2024-05-01\n\
               DROP TABLE users;\n\
               -- deckhand:ignore ban-drop-table\n\
               DROP TABLE carts;\n\
               -- deckhand:ignore truncate nothing to truncate here\n\
               DROP TABLE wishlists;\n\
               DELETE FROM queue; -- deckhand:ignore all drained by the worker first\n\
               -- deckhand:ignore no-such-rule because\n\
               SELECT 1;\n";
    let report = lint(sql);
    let got: Vec<_> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.class,
                f.rule.as_str(),
                f.statement_index,
                f.line,
                f.ignored.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                Dangerous,
                "ban-drop-table",
                1,
                2,
                Some("replaced by accounts in v41, backup 2024-05-01")
            ),
            (Locking, "ignore-without-reason", 2, 3, None),
            (Dangerous, "ban-drop-table", 2, 4, None),
            (Locking, "unused-ignore", 3, 5, None),
            (Dangerous, "ban-drop-table", 3, 6, None),
            (
                Dangerous,
                "delete-without-where",
                4,
                7,
                Some("drained by the worker first")
            ),
            (Locking, "unused-ignore", 5, 8, None),
        ]
    );
    assert!(
        report.findings[3]
            .why
            .contains("matches no finding of statement 3")
    );
    assert!(report.findings[6].why.contains("names no rule"));

    // Exempted findings are kept but do not count.
    let report =
        lint("-- deckhand:ignore all table is empty, checked 2024-05-01\nTRUNCATE t CASCADE;");
    assert_eq!(report.findings.len(), 2);
    assert!(report.findings.iter().all(|f| f.ignored.is_some()));
    assert_eq!(report.worst(), Class::Safe);

    // Only the line right above (no blank line) or the end of the first line.
    let report = lint("-- deckhand:ignore ban-drop-table too far\n\nDROP TABLE t;");
    assert_eq!(
        shape(&report.findings),
        vec![
            (Locking, "unused-ignore", 1, 1, None),
            (Dangerous, "ban-drop-table", 1, 3, Some("t")),
        ]
    );

    // squawk's own ignore comments carry no reason and exempt nothing.
    let report = lint("-- squawk-ignore ban-drop-table\nDROP TABLE t;");
    assert_eq!(
        shape(&report.findings),
        vec![(Dangerous, "ban-drop-table", 1, 2, Some("t"))]
    );
}

#[test]
fn lock_timeout_finding_only_when_the_executor_does_not_set_one() {
    let sql = "ALTER TABLE users ADD COLUMN nickname text;";
    let own = Options {
        executor_sets_lock_timeout: false,
    };
    let report = lint_with(sql, None, &own);
    assert_eq!(
        shape(&report.findings),
        vec![(Locking, "require-lock-timeout", 1, 1, None)]
    );
    assert!(report.findings[0].why.starts_with("missing lock_timeout"));
    assert!(lint_with(sql, None, &DECKHAND).findings.is_empty());
    let with_setting = "SET lock_timeout = '2s';\nALTER TABLE users ADD COLUMN nickname text;";
    assert!(lint_with(with_setting, None, &own).findings.is_empty());
}

#[test]
fn findings_land_on_their_statement_and_line() {
    let sql = "-- add email uniqueness\r\n\
               ALTER TABLE users\r\n  ADD COLUMN email text,\r\n  ADD CONSTRAINT users_email_key UNIQUE (email);\r\n\
               \r\n\
               /* then the lookups */ CREATE INDEX users_name_idx ON users (name); DROP TABLE users_old;\r\n\
               --> statement-breakpoint\r\n\
               UPDATE users\r\n   SET email = lower(email);\r\n";
    let report = lint(sql);
    let got: Vec<_> = report
        .findings
        .iter()
        .map(|f| (f.rule.as_str(), f.statement_index, f.line, f.column))
        .collect();
    assert_eq!(
        got,
        vec![
            ("disallowed-unique-constraint", 1, 4, 7),
            ("require-concurrent-index-creation", 2, 6, 24),
            ("ban-drop-table", 3, 6, 69),
            ("update-without-where", 4, 8, 1),
        ]
    );
    assert_eq!(report.findings[0].statement.lines().count(), 3);
    assert_eq!(report.findings[2].statement, "DROP TABLE users_old");
}

#[test]
fn atomicity_preview() {
    let report = lint("CREATE TABLE a (id int);\nCREATE INDEX a_id ON a (id);");
    assert!(report.atomicity.transactional);
    assert!(report.atomicity.on_failure.is_empty());
    assert_eq!(
        report.atomicity.summary,
        "one transaction: if any statement fails, nothing stays applied"
    );

    let sql = "SET lock_timeout = '2s';\nCREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n\
               DROP INDEX CONCURRENTLY users_old_idx;";
    let report = lint_with(sql, Some("CREATE INDEX CONCURRENTLY at line 2"), &DECKHAND);
    assert!(!report.atomicity.transactional);
    assert_eq!(
        report.atomicity.summary,
        "runs statement by statement outside a transaction (CREATE INDEX CONCURRENTLY at line 2)"
    );
    assert_eq!(
        report.atomicity.on_failure,
        vec![
            "if statement 2 fails, statement 1 stays committed",
            "if statement 2 fails, an INVALID index users_email_idx remains: drop it before retrying",
            "if statement 3 fails, statements 1–2 stay committed",
        ]
    );
    assert!(report.findings.is_empty());
}

#[test]
fn analyze_migration_reads_what_deckhand_reads() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.path().join("0001_index.sql"),
        "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\nDROP TABLE users_old;\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let migrations = source::read(dir.path(), Format::Plain).unwrap_or_else(|e| panic!("{e}"));
    let report = analyze_migration(&migrations[0], &DECKHAND);
    assert_eq!(report.name, "0001_index");
    assert!(report.path.ends_with("0001_index.sql"));
    assert!(!report.atomicity.transactional);
    assert_eq!(
        shape(&report.findings),
        vec![(Dangerous, "ban-drop-table", 2, 2, Some("users_old"))]
    );
}

#[test]
fn empty_and_comment_only_files() {
    assert!(lint("").findings.is_empty());
    assert!(lint("-- nothing yet\n/* at all */\n").findings.is_empty());
    let report = lint("-- deckhand:ignore all nothing to exempt\n");
    assert_eq!(
        shape(&report.findings),
        vec![(Locking, "unused-ignore", 0, 1, None)]
    );
}
