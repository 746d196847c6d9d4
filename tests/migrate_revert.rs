//! Down migrations for a rollback, on a real PostgreSQL and on SQLite: sqlx and plain folders revert newest first,
//! tables and ledger entries go and the status shows the migrations pending again; a failing down statement rolls
//! that migration's revert back and is reported with its statement; a migration without a down file, or not
//! applied, is refused before anything runs; a table lock held elsewhere fails the revert within `lock_timeout`;
//! Prisma folders are never revertible; the runner reports the outcome.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::migrations::{self as m, apply_all, connect, status_of};
use common::pg::fresh_db;
use deckhand::migrate::db::Backend;
use deckhand::migrate::revert::{
    RevertOutcome, ShownDown, load_down, missing_downs, revert, revert_shown,
};
use deckhand::migrate::status::State;
use deckhand::plan::Database;
use deckhand::runner::RunnerEvent;
use sqlx::{AssertSqlSafe, Row};

const USERS: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n";
const USERS_DOWN: &str = "DROP TABLE users;\n";
const ORDERS: &str = "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL);\n\
                      INSERT INTO orders (id, total) VALUES (1, 10);\n";
const ORDERS_DOWN: &str = "DROP TABLE orders;\n";

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("app.db").display())
}

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// sqlx folder: `1_users` and `2_orders`, each `.up.sql` with a `.down.sql` (unless `downs` says otherwise).
fn sqlx_folder(dir: &Path, users_down: Option<&str>, orders_down: Option<&str>) {
    m::write(&dir.join("1_users.up.sql"), USERS);
    m::write(&dir.join("2_orders.up.sql"), ORDERS);
    if let Some(d) = users_down {
        m::write(&dir.join("1_users.down.sql"), d);
    }
    if let Some(d) = orders_down {
        m::write(&dir.join("2_orders.down.sql"), d);
    }
}

/// Plain folder: `001_users` and `002_orders`, with `<stem>.down.sql`.
fn plain_folder(dir: &Path) {
    m::plain(dir, &[("001_users", USERS), ("002_orders", ORDERS)]);
    m::write(&dir.join("001_users.down.sql"), USERS_DOWN);
    m::write(&dir.join("002_orders.down.sql"), ORDERS_DOWN);
}

async fn has_table(spec: &Database, table: &str) -> bool {
    let mut db = connect(spec).await;
    let sql = match db.backend {
        Backend::Postgres => {
            format!("SELECT CAST(count(*) AS BIGINT) FROM pg_tables WHERE tablename = '{table}'")
        }
        Backend::Sqlite => {
            format!("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
        }
    };
    let n: i64 = sqlx::query(AssertSqlSafe(sql))
        .fetch_one(&mut db.conn)
        .await
        .expect("count tables")
        .get(0);
    n > 0
}

async fn ledger_rows(spec: &Database, table: &str) -> i64 {
    let mut db = connect(spec).await;
    let sql = format!("SELECT CAST(count(*) AS BIGINT) FROM {table}");
    sqlx::query(AssertSqlSafe(sql))
        .fetch_one(&mut db.conn)
        .await
        .expect("count ledger rows")
        .get(0)
}

fn reverted_names(o: &RevertOutcome) -> Vec<String> {
    o.reverted.iter().map(|(n, _)| n.clone()).collect()
}

/// Applies both, reverts both newest first, and checks everything is gone and pending again.
async fn round_trip(spec: &Database, ledger: &str, newest_first: &[&str]) {
    let report = apply_all(spec).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(has_table(spec, "users").await && has_table(spec, "orders").await);
    let outcome = revert(spec, &names(newest_first)).await;
    assert_eq!(outcome.error, None);
    assert_eq!(reverted_names(&outcome), names(newest_first));
    assert!(!has_table(spec, "users").await, "users dropped");
    assert!(!has_table(spec, "orders").await, "orders dropped");
    assert_eq!(ledger_rows(spec, ledger).await, 0, "ledger empty");
    let states: Vec<State> = status_of(spec).await.into_iter().map(|(_, s)| s).collect();
    assert_eq!(states, vec![State::Pending, State::Pending]);
    // And the tool can apply them again.
    assert!(apply_all(spec).await.failure.is_none());
    assert!(has_table(spec, "orders").await);
}

#[tokio::test]
async fn sqlx_reverts_newest_first_on_postgres() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    sqlx_folder(dir.path(), Some(USERS_DOWN), Some(ORDERS_DOWN));
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    round_trip(&spec, "_sqlx_migrations", &["2_orders", "1_users"]).await;
}

#[tokio::test]
async fn sqlx_reverts_newest_first_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    sqlx_folder(&migs, Some(USERS_DOWN), Some(ORDERS_DOWN));
    let spec = m::database(&sqlite_url(dir.path()), &migs, "sqlx");
    round_trip(&spec, "_sqlx_migrations", &["2_orders", "1_users"]).await;
}

#[tokio::test]
async fn plain_reverts_newest_first_on_postgres() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    plain_folder(dir.path());
    let spec = m::database(&tdb.url, dir.path(), "plain");
    round_trip(&spec, "deckhand_migrations", &["002_orders", "001_users"]).await;
}

#[tokio::test]
async fn plain_reverts_newest_first_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    plain_folder(&migs);
    let spec = m::database(&sqlite_url(dir.path()), &migs, "plain");
    round_trip(&spec, "deckhand_migrations", &["002_orders", "001_users"]).await;
}

/// The older migration's down drops its table, then fails: that revert rolls back whole.
async fn failing_down(spec: &Database) {
    assert!(apply_all(spec).await.failure.is_none());
    let outcome = revert(spec, &names(&["2_orders", "1_users"])).await;
    assert_eq!(reverted_names(&outcome), names(&["2_orders"]));
    let error = outcome.error.expect("the failure is reported");
    assert!(error.contains("1_users.down.sql"), "{error}");
    assert!(error.contains("DROP TABLE no_such_table"), "{error}");
    assert!(
        !has_table(spec, "orders").await,
        "the newer revert stays done"
    );
    assert!(
        has_table(spec, "users").await,
        "the failed revert rolled back"
    );
    assert_eq!(ledger_rows(spec, "_sqlx_migrations").await, 1);
    assert_eq!(
        status_of(spec).await,
        vec![
            ("1_users".to_string(), State::Applied),
            ("2_orders".to_string(), State::Pending)
        ]
    );
}

const FAILING_DOWN: &str = "DROP TABLE users;\nDROP TABLE no_such_table;\n";

#[tokio::test]
async fn a_failing_down_statement_rolls_back_its_revert_on_postgres() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    sqlx_folder(dir.path(), Some(FAILING_DOWN), Some(ORDERS_DOWN));
    failing_down(&m::database(&tdb.url, dir.path(), "sqlx")).await;
}

#[tokio::test]
async fn a_failing_down_statement_rolls_back_its_revert_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    sqlx_folder(&migs, Some(FAILING_DOWN), Some(ORDERS_DOWN));
    failing_down(&m::database(&sqlite_url(dir.path()), &migs, "sqlx")).await;
}

#[tokio::test]
async fn a_migration_without_a_down_file_is_refused_before_anything_runs() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    sqlx_folder(dir.path(), None, Some(ORDERS_DOWN));
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    assert!(apply_all(&spec).await.failure.is_none());
    let target = deckhand::migrate::load(&spec).unwrap();
    assert_eq!(
        missing_downs(&target.migrations, &names(&["2_orders", "1_users"])),
        names(&["1_users"])
    );
    let outcome = revert(&spec, &names(&["2_orders", "1_users"])).await;
    assert!(outcome.reverted.is_empty());
    let error = outcome.error.expect("refused");
    assert!(error.contains("1_users has no down migration"), "{error}");
    assert!(has_table(&spec, "orders").await, "nothing ran");
    assert_eq!(ledger_rows(&spec, "_sqlx_migrations").await, 2);
}

#[tokio::test]
async fn a_pending_migration_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    plain_folder(&migs);
    let spec = m::database(&sqlite_url(dir.path()), &migs, "plain");
    let outcome = revert(&spec, &names(&["002_orders", "001_users"])).await;
    assert!(outcome.reverted.is_empty());
    let error = outcome.error.expect("refused");
    assert!(
        error.contains("002_orders is pending, not applied"),
        "{error}"
    );
}

#[tokio::test]
async fn prisma_migrations_are_never_revertible() {
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    m::prisma(&migs, &[("20240101000000_users", USERS)]);
    m::write(&migs.join("20240101000000_users/down.sql"), USERS_DOWN);
    let spec = m::database(&sqlite_url(dir.path()), &migs, "prisma");
    let outcome = revert(&spec, &names(&["20240101000000_users"])).await;
    let error = outcome.error.expect("refused");
    assert!(
        error.contains("prisma migrations have no down files"),
        "{error}"
    );
}

#[tokio::test]
async fn the_runner_reports_the_revert_then_the_fresh_status() {
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    sqlx_folder(&migs, Some(USERS_DOWN), Some(ORDERS_DOWN));
    let spec = m::database(&sqlite_url(dir.path()), &migs, "sqlx");
    assert!(apply_all(&spec).await.failure.is_none());
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let shown = shown_downs(&spec, &["2_orders"]);
    deckhand::runner::migrate::revert(spec, names(&["2_orders"]), shown, tx).await;
    match rx.recv().await {
        Some(RunnerEvent::Reverted(o)) => {
            assert_eq!(o.error, None);
            assert_eq!(reverted_names(&o), names(&["2_orders"]));
            assert!(o.reverted[0].1 < Duration::from_secs(60));
        }
        other => panic!("expected Reverted, got {other:?}"),
    }
    match rx.recv().await {
        Some(RunnerEvent::Migrations(Ok(snap))) => {
            let states: Vec<State> = snap.status.entries.iter().map(|e| e.state).collect();
            assert_eq!(states, vec![State::Applied, State::Pending]);
        }
        other => panic!("expected the fresh status, got {other:?}"),
    }
}

/// The down files of `of` as a prompt shows them (read from disk now).
fn shown_downs(spec: &Database, of: &[&str]) -> Vec<ShownDown> {
    let target = deckhand::migrate::load(spec).unwrap();
    target
        .migrations
        .iter()
        .filter(|m| of.contains(&m.name.as_str()))
        .map(|m| ShownDown::of(&m.name, &load_down(m).unwrap().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_down_file_changed_since_the_prompt_showed_it_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    sqlx_folder(&migs, Some(USERS_DOWN), Some(ORDERS_DOWN));
    let spec = m::database(&sqlite_url(dir.path()), &migs, "sqlx");
    assert!(apply_all(&spec).await.failure.is_none());
    let shown = shown_downs(&spec, &["2_orders", "1_users"]);
    m::write(
        &migs.join("1_users.down.sql"),
        "DROP TABLE users; DROP TABLE orders;\n",
    );
    let both = names(&["2_orders", "1_users"]);
    let outcome = revert_shown(&spec, &both, Some(&shown)).await;
    assert!(outcome.reverted.is_empty(), "nothing ran: {outcome:?}");
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains("1_users.down.sql: not the down file the prompt showed"),
        "{error}"
    );
    // Nor one the prompt did not show at all.
    let only_orders = shown_downs(&spec, &["2_orders"]);
    let outcome = revert_shown(&spec, &both, Some(&only_orders)).await;
    assert!(
        outcome.reverted.is_empty() && outcome.error.is_some(),
        "{outcome:?}"
    );
    assert!(has_table(&spec, "orders").await && has_table(&spec, "users").await);
    // What is shown now runs.
    m::write(&migs.join("1_users.down.sql"), USERS_DOWN);
    let shown = shown_downs(&spec, &["2_orders", "1_users"]);
    let outcome = revert_shown(&spec, &both, Some(&shown)).await;
    assert_eq!(outcome.error, None);
    assert_eq!(reverted_names(&outcome), both);
}

#[tokio::test]
async fn a_revert_waits_for_a_table_lock_no_longer_than_lock_timeout() {
    use sqlx::Connection;
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    sqlx_folder(dir.path(), Some(USERS_DOWN), Some(ORDERS_DOWN));
    let mut spec = m::database(&tdb.url, dir.path(), "sqlx");
    assert!(apply_all(&spec).await.failure.is_none());
    let mut other = tdb.connect().await;
    let mut tx = other.begin().await.unwrap();
    sqlx::query("SELECT * FROM orders")
        .execute(&mut *tx)
        .await
        .unwrap();
    spec.lock_timeout = Duration::from_millis(300);
    // lock_timeout ends the wait with 55P03 (without it the revert would wait for the other transaction).
    let outcome = revert(&spec, &names(&["2_orders"])).await;
    assert!(outcome.reverted.is_empty());
    let error = outcome.error.expect("the lock wait fails");
    assert!(error.contains("55P03"), "{error}");
    tx.rollback().await.unwrap();
    assert!(has_table(&spec, "orders").await);
    assert_eq!(ledger_rows(&spec, "_sqlx_migrations").await, 2);
}
