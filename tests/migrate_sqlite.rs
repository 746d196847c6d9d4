//! Migrations on SQLite (the demo's target): sqlx and plain formats round trip, sqlx's own migrator agrees with
//! the ledger deckhand writes, dry-run leaves nothing behind, and formats SQLite cannot hold are refused.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::migrations::{self as m, apply_all, connect, opts};
use deckhand::migrate::apply::{self, Rehearsal};
use deckhand::migrate::status::State;
use deckhand::migrate::{self, MigrateError};
use sha2::{Digest, Sha384};
use sqlx::{Connection, Row, SqliteConnection};

const ORDERS: &str = "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL);\n\
                      INSERT INTO orders (total) VALUES (10), (20);\n";
const STATUS: &str = "ALTER TABLE orders ADD COLUMN status TEXT NOT NULL DEFAULT 'paid';\n";
const TRIGGER: &str = "CREATE TABLE audit (msg TEXT);\n\
                       CREATE TRIGGER orders_audit AFTER INSERT ON orders BEGIN\n\
                         INSERT INTO audit VALUES ('new order');\n\
                         INSERT INTO audit VALUES ('twice');\n\
                       END;\n";

fn url(dir: &std::path::Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("app.db").display())
}

async fn states(spec: &deckhand::plan::Database) -> Vec<State> {
    let (_, st) = migrate::read_status(spec).await.expect("status");
    st.entries.iter().map(|e| e.state).collect()
}

#[tokio::test]
async fn sqlx_on_sqlite_round_trip_and_sqlx_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    m::sqlx(
        &migs,
        &[
            ("1_orders", ORDERS),
            ("2_status", STATUS),
            ("3_trigger", TRIGGER),
        ],
    );
    let spec = m::database(&url(dir.path()), &migs, "sqlx");
    assert_eq!(states(&spec).await, vec![State::Pending; 3]);
    let report = apply_all(&spec).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(states(&spec).await, vec![State::Applied; 3]);

    let mut conn = SqliteConnection::connect(&url(dir.path())).await.unwrap();
    let rows = sqlx::query(
        "SELECT version, description, success, checksum FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1].get::<String, _>(1), "status");
    assert!(rows.iter().all(|r| r.get::<bool, _>(2)));
    assert_eq!(
        rows[0].get::<Vec<u8>, _>(3),
        Sha384::digest(ORDERS.as_bytes()).to_vec()
    );
    sqlx::migrate::Migrator::new(migs.as_path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .expect("sqlx agrees");
    // The trigger body with its inner semicolons was one statement, and it works.
    sqlx::query("INSERT INTO orders (total) VALUES (5)")
        .execute(&mut conn)
        .await
        .unwrap();
    let audit: i64 = sqlx::query_scalar("SELECT count(*) FROM audit")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(audit, 2);
}

#[tokio::test]
async fn plain_on_sqlite_with_a_failure_keeps_earlier_migrations_and_records_nothing_for_the_failed_one()
 {
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    m::plain(
        &migs,
        &[
            ("001_orders", ORDERS),
            ("002_bad", "ALTER TABLE nosuch ADD COLUMN x INTEGER;\n"),
        ],
    );
    let spec = m::database(&url(dir.path()), &migs, "plain");
    let report = apply_all(&spec).await;
    assert_eq!(report.applied.len(), 1);
    assert!(
        matches!(&report.failure, Some(MigrateError::Statement(f)) if f.migration == "002_bad" && f.message.contains("nosuch"))
    );
    assert_eq!(states(&spec).await, vec![State::Applied, State::Pending]);
    let mut conn = SqliteConnection::connect(&url(dir.path())).await.unwrap();
    let by: String = sqlx::query_scalar("SELECT applied_by FROM deckhand_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(by, "tester");
}

#[tokio::test]
async fn dry_run_on_sqlite_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    m::sqlx(&migs, &[("1_orders", ORDERS), ("2_status", STATUS)]);
    let spec = m::database(&url(dir.path()), &migs, "sqlx");
    let target = migrate::load(&spec).unwrap();
    let mut d = connect(&spec).await;
    let results = apply::dry_run(&mut d, target.format, &target.migrations, &opts())
        .await
        .unwrap();
    assert!(
        results.iter().all(|r| matches!(r, Rehearsal::Ok { .. })),
        "{results:?}"
    );
    assert_eq!(states(&spec).await, vec![State::Pending; 2]);
    let mut conn = SqliteConnection::connect(&url(dir.path())).await.unwrap();
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE name = 'orders'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(tables, 0);
}

#[tokio::test]
async fn prisma_and_drizzle_ledgers_are_refused_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    m::prisma(&migs, &[("20240101000000_init", ORDERS)]);
    let spec = m::database(&url(dir.path()), &migs, "prisma");
    let err = migrate::read_status(&spec).await.expect_err("unsupported");
    assert_eq!(
        err.to_string(),
        "prisma migrations are not supported on SQLite"
    );
}
