//! Applying migrations against a real PostgreSQL when things go wrong: concurrent applies, table locks held
//! elsewhere (also with startup options lost to a pooler), failing statements and their positions, CONCURRENTLY
//! files, problems that block an apply until resolved, dry-run, and stale resolve requests.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::migrations::{self as m, apply_all, connect, opts, status_of, try_apply};
use common::pg::fresh_db;
use deckhand::migrate::apply::{self, Options, Rehearsal};
use deckhand::migrate::status::State;
use deckhand::migrate::{self, MigrateError, ledger, resolve};
use sqlx::Connection;

const USERS: &str = "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);\n";
const ADD_NAME: &str = "ALTER TABLE users ADD COLUMN name text;\n";
const INDEX: &str = "CREATE INDEX users_email_idx ON users (email);\n";

#[tokio::test]
async fn two_concurrent_applies_one_wins_the_other_names_the_holder() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::plain(
        dir.path(),
        &[(
            "001_slow",
            "CREATE TABLE t (id int);\nSELECT pg_sleep(3);\n",
        )],
    );
    let spec = m::database(&tdb.url, dir.path(), "plain");
    let first = tokio::spawn({
        let spec = spec.clone();
        async move { apply_all(&spec).await }
    });
    let mut watcher = tdb.connect().await;
    common::wait_until("the first apply to hold the migration lock", async || {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        n > 0
    })
    .await;
    let quick = Options {
        lock_wait: Duration::from_millis(300),
        applied_by: "second".into(),
    };
    let second = try_apply(&spec, &quick).await;
    assert!(
        !first.is_finished(),
        "the second apply must give up while the first still runs"
    );
    match second {
        Err(MigrateError::LockTimeout { holders, .. }) => {
            assert_eq!(holders.len(), 1, "{holders:?}");
            assert_eq!(holders[0].application_name, "deckhand");
            assert_eq!(holders[0].client, "127.0.0.1");
            assert!(holders[0].pid > 0);
            let text = MigrateError::LockTimeout {
                key: 0,
                waited: Duration::ZERO,
                holders,
            }
            .to_string();
            assert!(text.contains("held by pid"), "{text}");
        }
        other => panic!("expected a lock timeout naming the holder, got {other:?}"),
    }
    let report = first.await.unwrap();
    assert_eq!(report.applied.len(), 1, "exactly one apply applied it");
}

#[tokio::test]
async fn a_table_lock_held_elsewhere_fails_within_lock_timeout_and_records_nothing() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::plain(dir.path(), &[("001_users", USERS)]);
    let spec = m::database(&tdb.url, dir.path(), "plain");
    assert!(apply_all(&spec).await.failure.is_none());
    m::plain(dir.path(), &[("002_name", ADD_NAME)]);
    let mut other = tdb.connect().await;
    let mut tx = other.begin().await.unwrap();
    sqlx::query("SELECT * FROM users")
        .execute(&mut *tx)
        .await
        .unwrap();
    let mut fast = spec.clone();
    fast.lock_timeout = Duration::from_millis(300);
    let report = apply_all(&fast).await;
    match &report.failure {
        Some(MigrateError::Statement(f)) => {
            assert_eq!(
                f.code.as_deref(),
                Some("55P03"),
                "lock_not_available: {}",
                f.message
            );
            assert_eq!(f.migration, "002_name");
            assert_eq!((f.line, f.statement_index), (1, 1));
        }
        other => panic!("expected a lock timeout failure, got {other:?}"),
    }
    tx.rollback().await.unwrap();
    assert_eq!(
        status_of(&spec).await[1],
        ("002_name".into(), State::Pending),
        "nothing recorded"
    );
}

#[tokio::test]
async fn a_failing_statement_is_reported_with_its_position_and_nothing_half_applied() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let bad =
        "CREATE TABLE a (id int);\n\nINSERT INTO a VALUES (1);\nSELECT nosuchcolumn FROM a;\n";
    m::prisma(dir.path(), &[("20240101000000_bad", bad)]);
    let spec = m::database(&tdb.url, dir.path(), "prisma");
    let report = apply_all(&spec).await;
    let Some(MigrateError::Statement(f)) = &report.failure else {
        panic!("expected a statement failure, got {:?}", report.failure);
    };
    assert_eq!((f.line, f.column, f.statement_index), (4, 8, 3), "{f:?}");
    assert_eq!(f.code.as_deref(), Some("42703"));
    let mut conn = tdb.connect().await;
    let tables: i64 =
        sqlx::query_scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'a'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(tables, 0, "the whole migration rolled back");
    // Prisma's own failed row (what `prisma migrate` reports as P3009): written before the file ran, never
    // finished, the error in `logs`.
    let (finished, logs): (bool, String) =
        sqlx::query_as("SELECT finished_at IS NOT NULL, logs FROM _prisma_migrations")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(!finished);
    assert!(logs.contains("nosuchcolumn"), "{logs}");
}

#[tokio::test]
async fn concurrently_files_run_outside_a_transaction_and_a_failure_is_reported_next_status() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let dup = "CREATE TABLE t (x int);\nINSERT INTO t VALUES (1), (1);\n";
    // sqlx runs a file in its transaction unless it starts with `-- no-transaction`.
    let idx = "-- no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY t_x_key ON t (x);\n";
    m::sqlx(dir.path(), &[("1_table", dup), ("2_index", idx)]);
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    let target = migrate::load(&spec).unwrap();
    assert!(target.migrations[1].no_transaction.is_some());
    let report = apply_all(&spec).await;
    assert_eq!(report.applied.len(), 1);
    assert!(
        matches!(report.failure, Some(MigrateError::Statement(ref f)) if f.code.as_deref() == Some("23505"))
    );
    let (_, st) = migrate::read_status(&spec).await.unwrap();
    // sqlx writes no row for a failed migration on PostgreSQL: it is pending again, with its INVALID index left.
    assert_eq!(st.entries[1].state, State::Pending);
    assert_eq!(st.invalid_indexes.len(), 1, "{:?}", st.invalid_indexes);
    assert_eq!(st.invalid_indexes[0].name, "t_x_key");
    assert_eq!(st.exit_code(), 1);
    // The invalid index blocks the apply until it is dropped.
    let again = try_apply(&spec, &opts()).await;
    assert!(
        matches!(again, Err(MigrateError::Blocked { ref problems }) if problems[0].contains("t_x_key")),
        "{again:?}"
    );
    // Fix the data, drop the invalid index, apply: it goes through.
    let mut conn = tdb.connect().await;
    sqlx::raw_sql("DELETE FROM t WHERE ctid <> (SELECT min(ctid) FROM t); DROP INDEX t_x_key;")
        .execute(&mut conn)
        .await
        .unwrap();
    let report = apply_all(&spec).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let (_, st) = migrate::read_status(&spec).await.unwrap();
    assert_eq!(st.exit_code(), 0);
    assert!(st.invalid_indexes.is_empty());
}

#[tokio::test]
async fn edited_and_missing_migrations_block_apply_until_resolved() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::prisma(
        dir.path(),
        &[
            ("20240101000000_init", USERS),
            ("20240201000000_name", ADD_NAME),
        ],
    );
    let spec = m::database(&tdb.url, dir.path(), "prisma");
    assert!(apply_all(&spec).await.failure.is_none());
    // Someone edits an applied migration and deletes another; a new one arrives.
    m::write(
        &dir.path().join("20240101000000_init/migration.sql"),
        "-- tidied\n",
    );
    std::fs::remove_dir_all(dir.path().join("20240201000000_name")).unwrap();
    m::prisma(dir.path(), &[("20240301000000_index", INDEX)]);
    let st = status_of(&spec).await;
    assert_eq!(
        st,
        vec![
            ("20240101000000_init".into(), State::Edited),
            ("20240301000000_index".into(), State::Pending),
            ("20240201000000_name".into(), State::MissingLocally),
        ]
    );
    let blocked = try_apply(&spec, &opts()).await;
    assert!(matches!(blocked, Err(MigrateError::Blocked { ref problems }) if problems.len() == 2));
    let target = migrate::load(&spec).unwrap();
    let mut d = connect(&spec).await;
    assert_eq!(
        resolve::accept_checksum(&mut d.conn, &target.migrations[0])
            .await
            .unwrap(),
        1
    );
    resolve::forget_missing(
        &mut d.conn,
        target.format,
        &ledger::LedgerKey::Name("20240201000000_name".into()),
    )
    .await
    .unwrap();
    let report = apply_all(&spec).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Applied)
    );
    let mut conn = tdb.connect().await;
    let rolled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM _prisma_migrations WHERE rolled_back_at IS NOT NULL",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        rolled, 1,
        "the missing one is kept as rolled back; the edited row only took the file's checksum"
    );
}

#[tokio::test]
async fn dry_run_rolls_everything_back_and_reports_the_first_error() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(
        dir.path(),
        &[
            ("1_users", USERS),
            (
                "2_bad",
                "ALTER TABLE users ADD COLUMN age int;\nALTER TABLE nosuch ADD COLUMN x int;\n",
            ),
            ("3_index", INDEX),
        ],
    );
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    let target = migrate::load(&spec).unwrap();
    let mut d = connect(&spec).await;
    let results = apply::dry_run(&mut d, target.format, &target.migrations, &opts())
        .await
        .unwrap();
    assert!(matches!(&results[0], Rehearsal::Ok { name, .. } if name == "1_users"));
    assert!(
        matches!(&results[1], Rehearsal::Failed { failure, .. } if failure.line == 2 && failure.code.as_deref() == Some("42P01"))
    );
    assert!(matches!(&results[2], Rehearsal::NotReached { .. }));
    let mut conn = tdb.connect().await;
    let users: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'users'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(users, 0, "nothing stays applied after a dry-run");
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Pending)
    );
}

#[tokio::test]
async fn a_non_transactional_failure_leaves_an_honest_row_and_the_committed_part() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let two = "CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n\
               CREATE INDEX CONCURRENTLY nosuch_idx ON nosuch (x);\n";
    m::plain(dir.path(), &[("001_users", USERS), ("002_indexes", two)]);
    let spec = m::database(&tdb.url, dir.path(), "plain");
    let report = apply_all(&spec).await;
    assert!(
        matches!(&report.failure, Some(MigrateError::Statement(f)) if f.statement_index == 2 && f.line == 2)
    );
    let mut conn = tdb.connect().await;
    let (success, error): (bool, String) = sqlx::query_as(
        "SELECT success, error FROM deckhand_migrations WHERE version = '002_indexes'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(!success);
    assert!(error.starts_with("statement 2 failed"), "{error}");
    let first_index: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_indexes WHERE indexname = 'users_email_idx'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        first_index, 1,
        "statement 1 ran outside a transaction and stays"
    );
    assert_eq!(
        status_of(&spec).await[1],
        ("002_indexes".into(), State::Failed)
    );
}

#[tokio::test]
async fn resolve_refuses_when_the_migration_changed_since_the_confirmation() {
    use deckhand::runner::RunnerEvent;
    use deckhand::runner::migrate::{Resolve, ResolveItem, ResolveRequest, resolve};
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(dir.path(), &[("1_users", USERS)]);
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    assert!(apply_all(&spec).await.failure.is_none());
    // The operator saw it failed; meanwhile someone fixed it: it is applied now.
    let stale = ResolveRequest {
        action: Resolve::MarkRolledBack,
        items: vec![ResolveItem {
            key: ledger::LedgerKey::Version(1),
            name: "1_users".into(),
            seen: State::Failed,
        }],
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    resolve(spec.clone(), stale, "tester".into(), tx).await;
    match rx.recv().await {
        Some(RunnerEvent::Resolved(Err(e))) => {
            assert!(e.contains("changed since you confirmed"), "{e}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        status_of(&spec).await[0].1,
        State::Applied,
        "nothing was done"
    );
}

#[tokio::test]
async fn lock_timeout_holds_even_if_a_pooler_dropped_the_startup_options() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::plain(dir.path(), &[("001_users", USERS)]);
    let mut spec = m::database(&tdb.url, dir.path(), "plain");
    assert!(apply_all(&spec).await.failure.is_none());
    m::plain(dir.path(), &[("002_name", ADD_NAME)]);
    let mut other = tdb.connect().await;
    let mut tx = other.begin().await.unwrap();
    sqlx::query("SELECT * FROM users")
        .execute(&mut *tx)
        .await
        .unwrap();
    spec.lock_timeout = Duration::from_millis(300);
    let target = migrate::load(&spec).unwrap();
    let mut d = connect(&spec).await;
    // What a transaction-pooling proxy does to startup options: they never reach the server.
    sqlx::raw_sql("SET lock_timeout = 0")
        .execute(&mut d.conn)
        .await
        .unwrap();
    let mut ignore_progress = |_| {};
    let opts = opts();
    let run = apply::apply(
        &mut d,
        target.format,
        &target.migrations,
        &opts,
        &mut ignore_progress,
    );
    let report = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the ALTER waited forever: lock_timeout was not in force")
        .unwrap();
    assert!(
        matches!(&report.failure, Some(MigrateError::Statement(f)) if f.code.as_deref() == Some("55P03")),
        "{:?}",
        report.failure
    );
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_file_edited_after_the_confirmation_is_not_applied() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(dir.path(), &[("1_users", USERS)]);
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    let shown = migrate::load(&spec).unwrap();
    let confirmed: Vec<apply::Confirmed> =
        shown.migrations.iter().map(apply::Confirmed::of).collect();
    // Someone pulls a new version of the file between the confirmation and the apply.
    m::sqlx(dir.path(), &[("1_users", "DROP TABLE IF EXISTS users;\n")]);
    let now = migrate::load(&spec).unwrap();
    let mut d = connect(&spec).await;
    let refused = apply::apply_until(
        &mut d,
        now.format,
        &now.migrations,
        &opts(),
        Some(&confirmed),
        &mut |_| {},
        &|| false,
    )
    .await;
    match refused {
        Err(MigrateError::Blocked { problems }) => {
            assert_eq!(
                problems,
                vec!["1_users changed on disk since the confirmation"]
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(status_of(&spec).await[0].1, State::Pending, "nothing ran");
}
