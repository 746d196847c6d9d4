//! Unit tests of the annotation: severity tiers, estimates, blocker verdicts and number formats.

use super::*;
use crate::lint::Class;

fn finding(rule: &str, tables: &[&str]) -> Finding {
    Finding {
        class: Class::Locking,
        rule: rule.into(),
        statement_index: 1,
        line: 1,
        column: 1,
        statement: "statement".into(),
        why: "why".into(),
        safer: "safer".into(),
        object: None,
        tables: tables.iter().map(|t| t.to_string()).collect(),
        severity: None,
        context: vec!["stale".into()],
        ignored: None,
        spared: None,
    }
}

fn facts(table: &str, rows: i64, bytes: i64) -> TableFacts {
    TableFacts {
        table: table.into(),
        rows,
        bytes,
        exists: true,
    }
}

fn blocker(table: Option<&str>, mode: &str) -> Blocker {
    Blocker {
        pid: 4242,
        application_name: "psql".into(),
        client: "10.0.0.5".into(),
        state: "idle in transaction".into(),
        mode: mode.into(),
        table: table.map(str::to_string),
        xact_age_secs: 192,
        query: "SELECT 1".into(),
    }
}

fn ctx(tables: Vec<TableFacts>, blockers: Vec<Blocker>) -> LiveContext {
    LiveContext {
        tables,
        blockers,
        pgbouncer: None,
    }
}

fn one(rule: &str, table: &str, c: &LiveContext) -> Finding {
    let mut f = [finding(rule, &[table])];
    apply(&mut f, c);
    let [f] = f;
    f
}

#[test]
fn index_build_severity_follows_size() {
    let c = ctx(
        vec![
            facts("tiny", 10, 16 * 1024),
            facts("mid", 200_000, 12 * MB),
            facts("huge", 50_000_000, 9 * GB),
            facts("fat", -1, 2 * GB),
        ],
        vec![],
    );
    let rule = "require-concurrent-index-creation";
    assert_eq!(one(rule, "tiny", &c).severity, Some(Severity::Low));
    assert_eq!(one(rule, "mid", &c).severity, Some(Severity::Medium));
    let huge = one(rule, "huge", &c);
    assert_eq!(huge.severity, Some(Severity::High));
    assert_eq!(
        huge.context,
        ["huge: ~50,000,000 rows, 9.0 GB; est. lock ~3 min \
          (SHARE lock while the index builds: writes wait, reads continue; assumes 50 MB/s)"]
    );
    // Never analyzed: the bytes still tell.
    assert_eq!(one(rule, "fat", &c).severity, Some(Severity::High));
}

#[test]
fn metadata_changes_are_brief_and_capped_at_medium() {
    let c = ctx(vec![facts("users", 50_000_000, 9 * GB)], vec![]);
    let f = one("renaming-column", "users", &c);
    assert_eq!(f.severity, Some(Severity::Medium));
    assert_eq!(
        f.context,
        [
            "users: ~50,000,000 rows, 9.0 GB; metadata only: lock is brief unless it waits behind another session"
        ]
    );
    let drop = one("ban-drop-table", "users", &c);
    assert_eq!(drop.severity, Some(Severity::High));
    assert!(drop.context[0].ends_with("the data of ~50,000,000 rows is lost"));
}

#[test]
fn required_field_fails_on_a_table_with_rows() {
    let c = ctx(vec![facts("a", 3, 8192), facts("b", 0, 8192)], vec![]);
    let a = one("adding-required-field", "a", &c);
    assert_eq!(a.severity, Some(Severity::High));
    assert!(a.context[0].contains("fails"), "{:?}", a.context);
    assert_eq!(
        one("adding-required-field", "b", &c).severity,
        Some(Severity::Low)
    );
}

#[test]
fn new_tables_are_low_and_unknown_tables_leave_severity_unset() {
    let mut new = facts("orders", -1, -1);
    new.exists = false;
    let c = ctx(vec![new], vec![]);
    let f = one("changing-column-type", "orders", &c);
    assert_eq!(f.severity, Some(Severity::Low));
    assert!(f.context[0].starts_with("orders: new table: no rows yet"));
    let none = one("changing-column-type", "elsewhere", &c);
    assert_eq!(none.severity, None);
    assert!(none.context.is_empty(), "old lines are replaced");
}

#[test]
fn blockers_say_whether_the_statement_waits() {
    let c = ctx(
        vec![facts("users", 10, 8192)],
        vec![
            blocker(Some("users"), "AccessShareLock"),
            blocker(Some("other"), "AccessExclusiveLock"),
        ],
    );
    // A reader does not block CREATE INDEX's SHARE lock.
    let index = one("require-concurrent-index-creation", "users", &c);
    assert_eq!(index.severity, Some(Severity::Low));
    assert_eq!(
        index.context[1],
        "pid 4242 (psql from 10.0.0.5) holds AccessShareLock on users, transaction open 00:03:12 \
         (idle in transaction): no conflict with this statement's SHARE lock (last query: SELECT 1)"
    );
    assert_eq!(index.context.len(), 2, "the lock on `other` is not listed");
    // It does block a rename's ACCESS EXCLUSIVE: the statement would wait, so at least Medium.
    let rename = one("renaming-table", "users", &c);
    assert_eq!(rename.severity, Some(Severity::Medium));
    assert!(rename.context[1].contains(WAITS), "{:?}", rename.context);
}

#[test]
fn waiting_sessions_and_long_transactions() {
    let c = ctx(
        vec![facts("users", 10, 8192)],
        vec![
            blocker(Some("users"), "AccessExclusiveLock (waiting)"),
            blocker(None, "long transaction"),
        ],
    );
    let index = one("require-concurrent-index-creation", "users", &c);
    assert!(index.context[1].contains("is waiting for AccessExclusiveLock on users"));
    assert!(index.context[1].contains(WAITS));
    assert!(index.context[2].contains("has had a transaction open for 00:03:12"));
    // A rename's safer pattern does not wait for old transactions.
    assert_eq!(one("renaming-table", "users", &c).context.len(), 2);
}

#[test]
fn estimates_and_formats() {
    assert_eq!(estimate(10 * MB, 50 * MB), "under 1 s");
    assert_eq!(estimate(100 * MB, 50 * MB), "~2 s");
    assert_eq!(estimate(50 * GB, 50 * MB), "~17 min");
    assert_eq!(estimate(1024 * GB, 50 * MB), "~5.8 h");
    assert_eq!(approx(10), "10");
    assert_eq!(approx(200_000), "200,000");
    assert_eq!(approx(2_387_112), "2,400,000");
    assert_eq!(approx(1234), "1,200");
    assert_eq!(pretty_bytes(512), "512 bytes");
    assert_eq!(pretty_bytes(16 * 1024), "16 kB");
    assert_eq!(pretty_bytes(18 * MB + 1), "18 MB");
    assert_eq!(pretty_bytes(GB + GB / 5), "1.2 GB");
    assert_eq!(clock(3 * 3600 + 61), "03:01:01");
}
