//! Files with their own transaction control, applied as the tool that owns the format applies them (issue 15,
//! defects 1–3), against a real PostgreSQL: Prisma's AlterEnum pattern mid-file, a file that starts with `SET
//! TRANSACTION`, and a failure before, inside and after the file's own transaction — each compared with what
//! PostgreSQL itself leaves when the file is sent as one query (how Prisma's engine sends it), with the ledger row
//! Prisma leaves (P3009: `finished_at` NULL, `logs` set).
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::migrations::{self as m, apply_all, status_of};
use common::pg::{TestDb, fresh_db};
use deckhand::migrate::status::State;

const ENUM_TABLE: &str = "CREATE TYPE \"Role\" AS ENUM ('ADMIN', 'USER', 'GUEST');\n\
CREATE TABLE \"User\" (id serial PRIMARY KEY, role \"Role\" NOT NULL DEFAULT 'USER');\n\
INSERT INTO \"User\" (role) VALUES ('ADMIN'), ('USER');\n";

/// Prisma's AlterEnum pattern (removing `GUEST`), with a statement before it and `tail` after it.
fn alter_enum(tail: &str) -> String {
    format!(
        "-- AlterTable\nALTER TABLE \"User\" ADD COLUMN \"a\" integer;\n\n\
-- AlterEnum\nBEGIN;\n\
CREATE TYPE \"Role_new\" AS ENUM ('ADMIN', 'USER');\n\
ALTER TABLE \"User\" ALTER COLUMN \"role\" DROP DEFAULT;\n\
ALTER TABLE \"User\" ALTER COLUMN \"role\" TYPE \"Role_new\" USING (\"role\"::text::\"Role_new\");\n\
ALTER TYPE \"Role\" RENAME TO \"Role_old\";\n\
ALTER TYPE \"Role_new\" RENAME TO \"Role\";\n\
DROP TYPE \"Role_old\";\n\
ALTER TABLE \"User\" ALTER COLUMN \"role\" SET DEFAULT 'USER';\n\
COMMIT;\n\n{tail}"
    )
}

/// The schema as a comparable text: columns with types, and enum labels.
async fn schema(db: &TestDb) -> Vec<String> {
    let mut conn = db.connect().await;
    let mut rows: Vec<String> = sqlx::query_scalar(
        "SELECT table_name || '.' || column_name || ' ' || udt_name FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_prisma%' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let labels: Vec<String> = sqlx::query_scalar(
        "SELECT t.typname || ':' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_type t \
         JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    rows.extend(labels);
    rows
}

/// What PostgreSQL leaves when `file` is sent as one simple query after `before` (how Prisma sends a migration).
async fn reference(before: &str, file: &str) -> Vec<String> {
    let db = fresh_db().await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(before.to_string()))
        .execute(&mut conn)
        .await
        .unwrap();
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(file.to_string()))
        .execute(&mut conn)
        .await;
    drop(conn);
    schema(&db).await
}

/// Prisma's row for `name`: (finished, logs set, rolled back, applied_steps_count).
async fn prisma_row(db: &TestDb, name: &str) -> (bool, bool, bool, i32) {
    let mut conn = db.connect().await;
    sqlx::query_as(
        "SELECT finished_at IS NOT NULL, logs IS NOT NULL AND logs <> '', rolled_back_at IS NOT NULL, \
         applied_steps_count FROM _prisma_migrations WHERE migration_name = $1",
    )
    .bind(name)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

/// Applies `[init, second]` as a Prisma history; returns the database.
async fn apply_prisma(second: &str) -> (TestDb, deckhand::migrate::apply::Report) {
    let (db, report, _) = apply_prisma_status(second).await;
    (db, report)
}

/// Like [`apply_prisma`], with the status read afterwards.
async fn apply_prisma_status(
    second: &str,
) -> (
    TestDb,
    deckhand::migrate::apply::Report,
    Vec<(String, State)>,
) {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::prisma(
        dir.path(),
        &[
            ("20240101000000_init", ENUM_TABLE),
            ("20240102000000_enum", second),
        ],
    );
    let spec = m::database(&db.url, dir.path(), "prisma");
    let report = apply_all(&spec).await;
    let status = status_of(&spec).await;
    (db, report, status)
}

#[tokio::test]
async fn prismas_alter_enum_mid_file_applies_as_prisma_applies_it() {
    let file = alter_enum("-- AlterTable\nALTER TABLE \"User\" ADD COLUMN \"b\" text;\n");
    let (db, report) = apply_prisma(&file).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.applied.len(), 2);
    assert_eq!(schema(&db).await, reference(ENUM_TABLE, &file).await);
    assert!(
        schema(&db).await.contains(&"Role:ADMIN,USER".to_string()),
        "{:?}",
        schema(&db).await
    );
    assert_eq!(
        prisma_row(&db, "20240102000000_enum").await,
        (true, false, false, 1)
    );
    let dir = tempfile::tempdir().unwrap();
    m::prisma(
        dir.path(),
        &[
            ("20240101000000_init", ENUM_TABLE),
            ("20240102000000_enum", &file),
        ],
    );
    let spec = m::database(&db.url, dir.path(), "prisma");
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Applied)
    );
}

#[tokio::test]
async fn a_failure_after_the_files_commit_keeps_what_it_committed_and_leaves_prismas_failed_row() {
    // Statement after the COMMIT fails: the part up to COMMIT stays, like PostgreSQL leaves it.
    let file = alter_enum(
        "ALTER TABLE \"User\" ADD COLUMN \"b\" text;\nALTER TABLE \"Nope\" ADD COLUMN \"c\" text;\n",
    );
    let (db, report, status) = apply_prisma_status(&file).await;
    let failure = report.failure.expect("it fails");
    assert!(failure.to_string().contains("Nope"), "{failure}");
    assert_eq!(
        status[1],
        ("20240102000000_enum".to_string(), State::Failed)
    );
    assert_eq!(schema(&db).await, reference(ENUM_TABLE, &file).await);
    let now = schema(&db).await;
    assert!(now.contains(&"User.a int4".to_string()), "{now:?}");
    assert!(!now.contains(&"User.b text".to_string()), "{now:?}");
    // Prisma's failed row: not finished, not rolled back, the error in logs (what `prisma migrate` calls P3009).
    assert_eq!(
        prisma_row(&db, "20240102000000_enum").await,
        (false, true, false, 0)
    );
}

#[tokio::test]
async fn a_failure_inside_the_files_transaction_leaves_nothing_of_it_and_the_failed_row() {
    // Fails inside BEGIN … COMMIT: the statement before BEGIN was pulled into that transaction and is gone too.
    let file = alter_enum("").replace("DROP TYPE \"Role_old\";", "DROP TYPE \"Nope\";");
    let (db, report) = apply_prisma(&file).await;
    assert!(report.failure.is_some());
    assert_eq!(schema(&db).await, reference(ENUM_TABLE, &file).await);
    assert!(!schema(&db).await.contains(&"User.a int4".to_string()));
    assert_eq!(
        prisma_row(&db, "20240102000000_enum").await,
        (false, true, false, 0)
    );
}

#[tokio::test]
async fn a_failure_before_the_files_transaction_leaves_nothing() {
    let file = alter_enum("").replace(
        "ALTER TABLE \"User\" ADD COLUMN \"a\" integer;",
        "ALTER TABLE \"User\" ADD COLUMN \"a\" integer;\nALTER TABLE \"Nope\" ADD COLUMN \"x\" int;",
    );
    let (db, report) = apply_prisma(&file).await;
    let failure = report.failure.expect("it fails");
    assert_eq!(schema(&db).await, reference(ENUM_TABLE, &file).await);
    assert!(!schema(&db).await.contains(&"User.a int4".to_string()));
    // The failure names the statement and its line in the file.
    let text = failure.to_string();
    assert!(text.contains("line 3"), "{text}");
}

#[tokio::test]
async fn a_file_that_starts_its_transaction_with_set_transaction_applies() {
    for file in [
        "BEGIN;\nSET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nALTER TABLE \"User\" ADD COLUMN \"s\" text;\nCOMMIT;\n",
        "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;\nALTER TABLE \"User\" ADD COLUMN \"s\" text;\n",
    ] {
        let (db, report) = apply_prisma(file).await;
        assert!(report.failure.is_none(), "{file}: {:?}", report.failure);
        assert!(schema(&db).await.contains(&"User.s text".to_string()));
    }
}

#[tokio::test]
async fn sqlx_runs_a_file_with_its_own_commit_as_sqlx_does() {
    // sqlx: BEGIN, the file as one query, its row, COMMIT. The file's own COMMIT ends sqlx's transaction early.
    let db = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let file = "CREATE TABLE a (id int);\nCOMMIT;\nCREATE TABLE b (id int);\n";
    m::sqlx(dir.path(), &[("1_tables", file)]);
    let spec = m::database(&db.url, dir.path(), "sqlx");
    let report = apply_all(&spec).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let mut conn = db.connect().await;
    let ok: bool = sqlx::query_scalar("SELECT success FROM _sqlx_migrations WHERE version = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(ok);
    // A failing no-transaction file leaves no row, as sqlx leaves none on PostgreSQL.
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(
        dir.path(),
        &[
            ("1_tables", file),
            (
                "2_broken",
                "-- no-transaction\nCREATE TABLE c (id int);\nALTER TABLE nope ADD COLUMN x int;\n",
            ),
        ],
    );
    let spec = m::database(&db.url, dir.path(), "sqlx");
    let report = apply_all(&spec).await;
    assert!(report.failure.is_some());
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE version = 2")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 0, "sqlx writes no row for a failed migration");
    let c: Option<String> = sqlx::query_scalar("SELECT to_regclass('c')::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(c, None, "one query: its implicit transaction rolled back");
}
