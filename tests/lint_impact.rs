//! Data impact on a real PostgreSQL and SQLite (issue 18, must-work 1): what each pending statement loses or trips
//! on, counted on the live data by the migrations runner before anything runs — exact counts on small tables, an
//! estimate when the table is too big for the time allowed (a tiny `impact_timeout`) or locked by another session,
//! statements that depend on an earlier one of the batch marked so, secret-looking keys never shown.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::migrations as m;
use common::pg::fresh_db;
use deckhand::lint::impact::{Basis, Impact, Kind, Outcome};
use deckhand::runner::migrate::{Snapshot, snapshot};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Every impact of the pending migrations, with the migration's name.
fn impacts(snap: &Snapshot) -> Vec<(String, Impact)> {
    let mut out = Vec::new();
    for (i, r) in snap.reports.iter().enumerate() {
        if let Some(r) = r {
            out.extend(
                r.impacts
                    .iter()
                    .map(|x| (snap.migrations[i].name.clone(), x.clone())),
            );
        }
    }
    out
}

fn find<'a>(all: &'a [(String, Impact)], kind: Kind, object: &str) -> &'a Impact {
    all.iter()
        .map(|(_, i)| i)
        .find(|i| i.kind == kind && i.object == object)
        .unwrap_or_else(|| panic!("no {kind:?} impact on {object} in {all:#?}"))
}

const SETUP: &str = "
CREATE TABLE customers (id int PRIMARY KEY, api_token text);
INSERT INTO customers SELECT g, 'tok' || (g % 3) FROM generate_series(1, 10) g;
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, note text, email text, amount bigint,
                     price numeric(10,2), legacy text, flag boolean);
INSERT INTO orders SELECT g, CASE WHEN g <= 8 THEN g ELSE 90 + g END, CASE WHEN g % 4 = 0 THEN NULL ELSE 'n' END,
       CASE WHEN g <= 3 THEN 'a@x.io' WHEN g <= 5 THEN 'b@x.io' ELSE 'u' || g || '@x.io' END,
       CASE WHEN g = 1 THEN 5000000000 ELSE g - 3 END, g + 0.25, CASE WHEN g <= 6 THEN 'old' END, false
FROM generate_series(1, 12) g;
CREATE TABLE audit (id int);
INSERT INTO audit SELECT generate_series(1, 7);
CREATE TABLE sessions (id int);
INSERT INTO sessions SELECT generate_series(1, 4);
CREATE TABLE visits (id int);
INSERT INTO visits SELECT generate_series(1, 5);
ALTER TABLE visits ADD CONSTRAINT visits_after_first CHECK (id > 1) NOT VALID;
";

#[tokio::test]
async fn each_kind_is_counted_exactly_on_small_tables() {
    let tdb = fresh_db().await;
    let mut conn = tdb.connect().await;
    exec(&mut conn, SETUP).await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(
        dir.path(),
        &[
            (
                "1_fail",
                "ALTER TABLE orders ALTER COLUMN note SET NOT NULL;\n\
                 CREATE UNIQUE INDEX orders_email_idx ON orders (email);\n\
                 ALTER TABLE orders ADD CONSTRAINT amount_positive CHECK (amount > 0);\n\
                 ALTER TABLE orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES customers;\n\
                 ALTER TABLE orders ALTER COLUMN amount TYPE integer;\n\
                 ALTER TABLE orders ADD COLUMN required int NOT NULL;\n\
                 CREATE UNIQUE INDEX customers_token_idx ON customers (api_token);\n\
                 ALTER TABLE orders ALTER COLUMN email TYPE varchar(6);\n\
                 ALTER TABLE visits VALIDATE CONSTRAINT visits_after_first;\n",
            ),
            (
                "2_lose",
                "ALTER TABLE orders ALTER COLUMN price TYPE numeric(10,0);\n\
                 ALTER TABLE orders DROP COLUMN legacy;\n\
                 DROP TABLE audit;\n\
                 DELETE FROM sessions;\n\
                 TRUNCATE visits;\n\
                 UPDATE customers SET api_token = NULL;\n\
                 ALTER TABLE orders ADD COLUMN code text;\n\
                 UPDATE orders SET code = 'x' WHERE code IS NULL;\n\
                 ALTER TABLE orders ALTER COLUMN code SET NOT NULL;\n\
                 ALTER TABLE orders ALTER COLUMN flag SET NOT NULL;\n",
            ),
        ],
    );
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    let snap = snapshot(&spec).await.expect("status and impact");
    let all = impacts(&snap);

    let nulls = find(&all, Kind::NullRows, "orders.note");
    assert_eq!((nulls.count, &nulls.basis), (Some(3), &Basis::Exact));
    assert!(nulls.fails(), "{nulls:?}");
    assert_eq!(
        nulls.text,
        "will fail: 3 NULLs in orders.note (exact count)"
    );
    assert_eq!(nulls.line, 1);

    let dup = find(&all, Kind::DuplicateKeys, "orders_email_idx");
    assert_eq!(dup.count, Some(2), "{dup:?}");
    assert_eq!(dup.example.as_deref(), Some("(a@x.io) ×3"));
    let check = find(&all, Kind::CheckViolations, "amount_positive");
    assert_eq!(check.count, Some(2), "amounts -1 and 0: {check:?}");
    let orphans = find(&all, Kind::OrphanRows, "orders_customer_fk");
    assert_eq!(
        orphans.count,
        Some(4),
        "customers 99..102 do not exist: {orphans:?}"
    );
    // The conversion raises: the values out of the new range are counted instead.
    let cast = find(&all, Kind::CastValues, "orders.amount");
    assert!(
        cast.fails(),
        "5,000,000,000 does not fit an integer: {cast:?}"
    );
    assert_eq!((cast.count, &cast.basis), (Some(1), &Basis::Exact));
    assert_eq!(
        cast.text,
        "will fail: 1 value of orders.amount cannot be converted (exact count)"
    );
    // A shorter varchar fails on longer values (an explicit cast would cut them silently; ALTER TYPE does not).
    let short = find(&all, Kind::CastValues, "orders.email");
    assert_eq!(
        (short.outcome, short.count),
        (Outcome::WillFail, Some(7)),
        "{short:?}"
    );
    let required = find(&all, Kind::RowsWithoutValue, "orders.required");
    assert_eq!(required.count, Some(12));
    // A key that looks secret is never shown, but still counted.
    let token = find(&all, Kind::DuplicateKeys, "customers_token_idx");
    assert_eq!(token.count, Some(3));
    let shown = token.example.as_deref().unwrap();
    assert!(!shown.contains("tok"), "{shown}");

    let price = find(&all, Kind::CastValues, "orders.price");
    assert_eq!(
        (price.outcome, price.count),
        (Outcome::Lost, Some(12)),
        "{price:?}"
    );
    assert!(price.loses());
    let legacy = find(&all, Kind::ColumnValues, "orders.legacy");
    assert_eq!(legacy.count, Some(6));
    assert_eq!(legacy.text, "drops 6 values of orders.legacy (exact count)");
    assert_eq!(find(&all, Kind::TableRows, "audit").count, Some(7));
    assert_eq!(find(&all, Kind::DeletedRows, "sessions").count, Some(4));
    assert_eq!(find(&all, Kind::TruncatedRows, "visits").count, Some(5));
    // VALIDATE: the constraint's definition read from the catalog, counted as if it were added.
    let validate = find(&all, Kind::Validation, "visits_after_first");
    assert_eq!(
        (validate.count, validate.fails()),
        (Some(1), true),
        "{validate:?}"
    );
    assert_eq!(
        validate.text,
        "will fail: 1 row violates visits_after_first (exact count)"
    );
    assert_eq!(
        find(&all, Kind::OverwrittenRows, "customers").count,
        Some(10)
    );
    // Judged after what the batch does before it: the column is added on line 7 (then filled).
    let code = find(&all, Kind::NullRows, "orders.code");
    assert_eq!(code.count, None);
    assert_eq!(
        code.basis,
        Basis::DependsOn {
            migration: "2_lose".into(),
            line: 7
        }
    );
    assert!(!code.fails());
    // A column nothing earlier touches is still counted, and passes.
    let flag = find(&all, Kind::NullRows, "orders.flag");
    assert_eq!((flag.count, flag.fails()), (Some(0), false));
    assert_eq!(flag.text, "passes: no NULL in orders.flag (exact count)");

    // Nothing was changed by asking.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE note IS NULL")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 3);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_table_too_big_for_the_time_allowed_is_estimated_and_a_locked_one_never_waited_for() {
    let tdb = fresh_db().await;
    let mut conn = tdb.connect().await;
    exec(
        &mut conn,
        "CREATE TABLE big (id int, note text, email text, amount int);
         INSERT INTO big SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'n' END, 'e' || (g % 150000), g % 100
         FROM generate_series(1, 300000) g;
         ANALYZE big;
         CREATE TABLE small (id int, note text);
         INSERT INTO small VALUES (1, NULL), (2, 'x');
         ANALYZE small;",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(
        dir.path(),
        &[(
            "1_big",
            "ALTER TABLE big ALTER COLUMN note SET NOT NULL;\n\
             ALTER TABLE big ADD CONSTRAINT positive CHECK (amount > 0);\n\
             CREATE UNIQUE INDEX big_email ON big (email);\n\
             ALTER TABLE small ALTER COLUMN note SET NOT NULL;\n",
        )],
    );
    let mut spec = m::database(&tdb.url, dir.path(), "sqlx");
    spec.impact_timeout = Duration::from_millis(1);
    // Another session holds an ACCESS EXCLUSIVE lock on `small`: its count must not wait for it.
    let mut holder = tdb.connect().await;
    exec(
        &mut holder,
        "BEGIN; LOCK TABLE small IN ACCESS EXCLUSIVE MODE",
    )
    .await;
    let snap = snapshot(&spec).await.expect("status and impact");
    let all = impacts(&snap);

    let nulls = find(&all, Kind::NullRows, "big.note");
    assert_eq!(nulls.basis, Basis::Statistics, "{nulls:?}");
    let n = nulls.count.unwrap();
    assert!(
        (25_000..=35_000).contains(&n),
        "about 30,000 NULLs: {nulls:?}"
    );
    assert!(nulls.fails());
    assert!(
        nulls
            .text
            .contains("estimate from the planner's statistics"),
        "{}",
        nulls.text
    );
    // Not in the statistics: a sample, scaled up (or, if even the sample is too slow, said so).
    let check = find(&all, Kind::CheckViolations, "positive");
    match &check.basis {
        Basis::Sample { lower_bound, .. } => {
            assert!(!lower_bound);
            assert!(check.count.unwrap() > 0, "{check:?}");
        }
        Basis::NotJudged { why } => assert!(why.contains("too big"), "{why}"),
        other => panic!("expected a sample estimate: {other:?}"),
    }
    let dup = find(&all, Kind::DuplicateKeys, "big_email");
    assert!(
        matches!(
            dup.basis,
            Basis::Sample {
                lower_bound: true,
                ..
            } | Basis::NotJudged { .. }
        ),
        "{dup:?}"
    );
    let locked = find(&all, Kind::NullRows, "small.note");
    assert_eq!(locked.basis, Basis::Statistics, "{locked:?}");
    assert_eq!(locked.count, Some(1));

    // The counts took no lock the holder's session would see beyond its own; and they are gone.
    let waiting: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE NOT granted")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(waiting, 0);
    exec(&mut holder, "ROLLBACK").await;
}

#[tokio::test]
async fn sqlite_counts_what_applies_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let status = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, nick TEXT);
             INSERT INTO users (email, nick) VALUES ('a', 'x'), ('a', NULL), ('b', 'y');
             CREATE TABLE logs (id INTEGER);
             INSERT INTO logs VALUES (1), (2);",
        )
        .status()
        .unwrap();
    assert!(status.success());
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    m::sqlx(
        &migrations,
        &[(
            "1_sqlite",
            "CREATE UNIQUE INDEX users_email ON users (email);\n\
             ALTER TABLE users DROP COLUMN nick;\n\
             DELETE FROM logs;\n\
             DROP TABLE logs;\n\
             ALTER TABLE users ADD COLUMN status TEXT;\n\
             UPDATE users SET status = 'x';\n",
        )],
    );
    let url = format!("sqlite:{}", db.display());
    let spec = m::database(&url, &migrations, "sqlx");
    let snap = snapshot(&spec).await.expect("status and impact");
    let all = impacts(&snap);
    let dup = find(&all, Kind::DuplicateKeys, "users_email");
    assert_eq!(
        (dup.count, dup.example.as_deref()),
        (Some(1), Some("(a) ×2"))
    );
    assert_eq!(find(&all, Kind::ColumnValues, "users.nick").count, Some(2));
    assert_eq!(find(&all, Kind::DeletedRows, "logs").count, Some(2));
    // Emptied by the DELETE before it: not what the live table shows.
    assert!(matches!(
        find(&all, Kind::TableRows, "logs").basis,
        Basis::DependsOn { line: 3, .. }
    ));
    // An UPDATE without WHERE that sets only a column the batch added overwrites nothing that exists now.
    let backfill = find(&all, Kind::OverwrittenRows, "users");
    assert_eq!(
        backfill.basis,
        Basis::CreatedInBatch {
            migration: "1_sqlite".into(),
            line: 5
        }
    );
    assert!(!backfill.matters() && !backfill.loses());
}

#[tokio::test]
async fn once_the_time_allowed_in_all_is_spent_the_rest_is_listed_as_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("app.db");
    let status = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg("CREATE TABLE logs (id INTEGER); INSERT INTO logs VALUES (1);")
        .status()
        .unwrap();
    assert!(status.success());
    let migrations = dir.path().join("migrations");
    std::fs::create_dir(&migrations).unwrap();
    m::sqlx(&migrations, &[("1_drop", "DROP TABLE logs;\n")]);
    let spec = m::database(&format!("sqlite:{}", db.display()), &migrations, "sqlx");
    let target = deckhand::migrate::load(&spec).unwrap();
    let mut reports: Vec<_> = target
        .migrations
        .iter()
        .map(|m| deckhand::lint::analyze_migration(m, &deckhand::lint::Options::default()))
        .collect();
    let order: Vec<_> = target.migrations.iter().collect();
    let mut conn = m::connect(&spec).await;
    let limits = deckhand::lint::impact::Limits {
        total: Duration::ZERO,
        ..deckhand::lint::impact::Limits::default()
    };
    deckhand::lint::impact::judge(&mut conn, &order, &mut reports, &limits).await;
    let i = &reports[0].impacts[0];
    assert_eq!(i.count, None);
    assert_eq!(
        i.text,
        "drops logs (not counted: the time allowed for counting (0 ms in all) was spent)"
    );
    assert!(i.matters(), "listed in the confirmation as not counted");
}
