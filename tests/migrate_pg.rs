//! Migrations against a real PostgreSQL (the shared harness), per format: status → apply → status with the ledger
//! rows compared to what the tool itself writes (sqlx: its own Migrator agrees, and blocks on deckhand's lock),
//! Drizzle's out-of-order migrations, and Prisma's timestamps.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::migrations::{self as m, apply_all, sha256_hex, status_of};
use common::pg::fresh_db;
use deckhand::migrate::status::State;
use deckhand::migrate::{self, db};
use sha2::{Digest, Sha384};
use sqlx::Row;

const USERS: &str = "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);\n";
const ADD_NAME: &str = "ALTER TABLE users ADD COLUMN name text;\n";
const INDEX: &str = "CREATE INDEX users_email_idx ON users (email);\n";

#[tokio::test]
async fn prisma_round_trip_writes_rows_as_prisma_does() {
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
    assert_eq!(
        status_of(&spec).await,
        vec![
            ("20240101000000_init".into(), State::Pending),
            ("20240201000000_name".into(), State::Pending)
        ]
    );
    let report = apply_all(&spec).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.applied.len(), 2);
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Applied)
    );

    let mut conn = tdb.connect().await;
    let rows = sqlx::query(
        "SELECT migration_name, checksum, finished_at IS NOT NULL, rolled_back_at IS NULL, logs IS NULL, \
         applied_steps_count, length(id), started_at <= finished_at FROM _prisma_migrations ORDER BY migration_name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    for (row, sql) in rows.iter().zip([USERS, ADD_NAME]) {
        assert_eq!(
            row.get::<String, _>(1),
            sha256_hex(sql),
            "checksum = sha256 hex of migration.sql"
        );
        assert!(
            row.get::<bool, _>(2)
                && row.get::<bool, _>(3)
                && row.get::<bool, _>(4)
                && row.get::<bool, _>(7)
        );
        assert_eq!(
            row.get::<i32, _>(5),
            1,
            "Prisma records one applied step for a finished migration"
        );
        assert_eq!(row.get::<i32, _>(6), 36, "a UUID id");
    }
    let name_col: Option<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'name'",
    )
    .fetch_optional(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        name_col.as_deref(),
        Some("name"),
        "the migration really ran"
    );
}

#[tokio::test]
async fn sqlx_round_trip_and_sqlx_itself_agrees() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(
        dir.path(),
        &[
            ("1_create_users", USERS),
            ("2_add_name", ADD_NAME),
            ("3_email_index", INDEX),
        ],
    );
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Pending),
        "pending before apply"
    );
    let report = apply_all(&spec).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let mut conn = tdb.connect().await;
    let rows = sqlx::query(
        "SELECT version, description, success, checksum, execution_time FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let expected = [
        (1_i64, "create users", USERS),
        (2, "add name", ADD_NAME),
        (3, "email index", INDEX),
    ];
    assert_eq!(rows.len(), 3);
    for (row, (version, description, sql)) in rows.iter().zip(expected) {
        assert_eq!(row.get::<i64, _>(0), version);
        assert_eq!(row.get::<String, _>(1), description);
        assert!(row.get::<bool, _>(2));
        assert_eq!(
            row.get::<Vec<u8>, _>(3),
            Sha384::digest(sql.as_bytes()).to_vec()
        );
        assert!(
            row.get::<i64, _>(4) > 0,
            "execution_time in nanoseconds, updated after commit"
        );
    }
    // sqlx's own migrator sees everything applied with matching checksums: it runs nothing and reports no error.
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    migrator
        .run(&mut conn)
        .await
        .expect("sqlx agrees with deckhand's ledger");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 3);
}

#[tokio::test]
async fn deckhand_reads_what_sqlx_applied() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(
        dir.path(),
        &[("1_create_users", USERS), ("2_add_name", ADD_NAME)],
    );
    let mut conn = tdb.connect().await;
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    m::sqlx(dir.path(), &[("3_email_index", INDEX)]);
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    assert_eq!(
        status_of(&spec).await,
        vec![
            ("1_create_users".into(), State::Applied),
            ("2_add_name".into(), State::Applied),
            ("3_email_index".into(), State::Pending),
        ]
    );
}

#[tokio::test]
async fn sqlx_lock_key_is_the_one_sqlx_takes() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(dir.path(), &[("1_create_users", USERS)]);
    let mut holder = db::connect(
        &tdb.url,
        &migrate::settings(&m::database(&tdb.url, dir.path(), "sqlx")),
    )
    .await
    .unwrap();
    let key = deckhand::migrate::lock::key_for(&mut holder, migrate::Format::Sqlx)
        .await
        .unwrap();
    deckhand::migrate::lock::acquire(&mut holder, key, Duration::from_secs(1))
        .await
        .unwrap();
    // While deckhand holds it, sqlx's migrator blocks on the same lock: it waits in pg_locks (with another key it
    // would take its own lock and finish).
    let mut conn = tdb.connect().await;
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let run = migrator.run(&mut conn);
    let mut watcher = tdb.connect().await;
    let waiting = common::wait_until("sqlx's migrator to wait on a lock", async || {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&mut watcher)
        .await
        .unwrap();
        waiting > 0
    });
    let finished = tokio::select! {
        ran = run => Some(ran),
        () = waiting => None,
    };
    assert!(
        finished.is_none(),
        "sqlx got past deckhand's lock: the keys differ ({finished:?})"
    );
}

#[tokio::test]
async fn drizzle_round_trip_writes_hash_and_when() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let second = "ALTER TABLE users ADD COLUMN name text;\n--> statement-breakpoint\nCREATE INDEX users_name_idx ON users (name);\n";
    m::drizzle(
        dir.path(),
        &[
            ("0000_init", 1_700_000_000_000, USERS),
            ("0001_name", 1_700_000_100_000, second),
        ],
    );
    let spec = m::database(&tdb.url, dir.path(), "drizzle");
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Pending),
        "pending before apply"
    );
    let report = apply_all(&spec).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let mut conn = tdb.connect().await;
    let rows = sqlx::query("SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let got: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        vec![
            (sha256_hex(USERS), 1_700_000_000_000),
            (sha256_hex(second), 1_700_000_100_000)
        ]
    );
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Applied)
    );
}

#[tokio::test]
async fn drizzle_out_of_order_migration_is_reported_and_applied_not_skipped() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::drizzle(
        dir.path(),
        &[("0000_init", 1_000, USERS), ("0002_index", 3_000, INDEX)],
    );
    let spec = m::database(&tdb.url, dir.path(), "drizzle");
    assert!(apply_all(&spec).await.failure.is_none());
    // A teammate's migration, merged later, dated before the newest applied one.
    m::drizzle(
        dir.path(),
        &[
            ("0000_init", 1_000, USERS),
            ("0001_name", 2_000, ADD_NAME),
            ("0002_index", 3_000, INDEX),
        ],
    );
    let (_, st) = migrate::read_status(&spec).await.unwrap();
    assert_eq!(st.entries[1].state, State::OutOfOrder);
    assert_eq!(st.exit_code(), 1, "status flags it");
    // Drizzle would skip it silently; deckhand applies it, as Prisma and sqlx would.
    let report = apply_all(&spec).await;
    assert_eq!(
        report.applied,
        vec![("0001_name".to_string(), report.applied[0].1)]
    );
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Applied)
    );
    let mut conn = tdb.connect().await;
    let whens: Vec<i64> =
        sqlx::query_scalar("SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(whens, vec![1_000, 3_000, 2_000]);
}

#[tokio::test]
async fn plain_round_trip_records_who_and_how_long() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::plain(dir.path(), &[("001_users", USERS), ("002_name", ADD_NAME)]);
    m::write(
        &dir.path().join("002_name.down.sql"),
        "ALTER TABLE users DROP COLUMN name;\n",
    );
    let spec = m::database(&tdb.url, dir.path(), "plain");
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Pending),
        "pending before apply"
    );
    assert!(apply_all(&spec).await.failure.is_none());
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Applied),
        "applied after"
    );
    let mut conn = tdb.connect().await;
    let rows = sqlx::query(
        "SELECT version, name, checksum, applied_by, success, error IS NULL, duration_ms >= 0, applied_at <= now() \
         FROM deckhand_migrations ORDER BY version",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "the down file is not a migration");
    assert_eq!(rows[0].get::<String, _>(0), "001_users");
    assert_eq!(rows[0].get::<String, _>(2), sha256_hex(USERS));
    assert_eq!(rows[1].get::<String, _>(3), "tester");
    assert!(rows.iter().all(|r| r.get::<bool, _>(4)
        && r.get::<bool, _>(5)
        && r.get::<bool, _>(6)
        && r.get::<bool, _>(7)));
}

#[tokio::test]
async fn prisma_finished_at_is_the_time_the_script_ended() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::prisma(
        dir.path(),
        &[("20240101000000_slow", "SELECT pg_sleep(0.2);\n")],
    );
    let spec = m::database(&tdb.url, dir.path(), "prisma");
    assert!(apply_all(&spec).await.failure.is_none());
    let mut conn = tdb.connect().await;
    let ms: f64 = sqlx::query_scalar(
        "SELECT (EXTRACT(EPOCH FROM finished_at - started_at) * 1000)::float8 FROM _prisma_migrations",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(
        ms >= 200.0,
        "finished_at - started_at = {ms} ms: finished_at must be written after the script"
    );
}
