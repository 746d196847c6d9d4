//! Resolving by hand against a real PostgreSQL, in batches: baselining (mark applied without running) writes the
//! row each tool writes — Prisma's exactly as `prisma migrate resolve --applied` (`logs = ''`, `started_at =
//! finished_at`, 0 steps, refused with P3008 over a finished row); mark rolled back touches only Prisma's
//! unfinished rows; a squash's rows missing locally go in one batch; a batch is all or nothing. And an index left
//! INVALID by a killed `CREATE INDEX CONCURRENTLY` blocks the apply until `DROP INDEX CONCURRENTLY` removes it.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::migrations::{self as m, apply_all, connect, opts, sha256_hex, status_of, try_apply};
use common::pg::fresh_db;
use deckhand::migrate::ledger::LedgerKey;
use deckhand::migrate::resolve::{Item, Resolve, resolve};
use deckhand::migrate::status::State;
use deckhand::migrate::{self, MigrateError};
use deckhand::plan::Database;
use deckhand::runner::RunnerEvent;
use sqlx::{AssertSqlSafe, Connection, Row};

const USERS: &str = "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);\n";
const ADD_NAME: &str = "ALTER TABLE users ADD COLUMN name text;\n";
const ORDERS: &str = "CREATE TABLE orders (id serial PRIMARY KEY, user_id int REFERENCES users);\n";

/// Resolves `names` (as the status names them, in the state it shows now) with `action`.
async fn resolve_names(
    spec: &Database,
    action: Resolve,
    names: &[&str],
) -> Result<Vec<String>, MigrateError> {
    let (target, st) = migrate::read_status(spec).await.unwrap();
    let items: Vec<Item> = names
        .iter()
        .map(|n| {
            let e = st.entries.iter().find(|e| e.name == *n).unwrap();
            Item {
                key: e.key.clone(),
                name: e.name.clone(),
                seen: e.state,
            }
        })
        .collect();
    let mut db = connect(spec).await;
    let wait = std::time::Duration::from_secs(5);
    resolve(
        &mut db,
        target.format,
        &target.migrations,
        action,
        &items,
        "tester",
        wait,
    )
    .await
}

#[tokio::test]
async fn baselining_prisma_writes_the_row_prisma_resolve_applied_writes() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let migrations = [
        ("20240101000000_init", USERS),
        ("20240201000000_name", ADD_NAME),
        ("20240301000000_orders", ORDERS),
    ];
    m::prisma(dir.path(), &migrations);
    let spec = m::database(&tdb.url, dir.path(), "prisma");
    // The schema exists already (made by hand, before Prisma Migrate was adopted): no ledger table at all.
    let mut conn = tdb.connect().await;
    sqlx::raw_sql(AssertSqlSafe(format!("{USERS}{ADD_NAME}{ORDERS}")))
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Pending)
    );
    let names: Vec<&str> = migrations.iter().map(|(n, _)| *n).collect();
    let done = resolve_names(&spec, Resolve::MarkApplied, &names)
        .await
        .unwrap();
    assert_eq!(done.len(), 3, "{done:?}");
    assert!(
        done[0].starts_with("20240101000000_init: marked applied"),
        "{done:?}"
    );
    let rows = sqlx::query(
        "SELECT migration_name, checksum, logs, started_at = finished_at, applied_steps_count, \
         rolled_back_at IS NULL, length(id) FROM _prisma_migrations ORDER BY started_at",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 3);
    for (row, (name, sql)) in rows.iter().zip(&migrations) {
        assert_eq!(row.get::<String, _>(0), *name);
        assert_eq!(
            row.get::<String, _>(1),
            sha256_hex(sql),
            "sha256 of the file"
        );
        assert_eq!(
            row.get::<Option<String>, _>(2).as_deref(),
            Some(""),
            "logs = '' as Prisma"
        );
        assert!(
            row.get::<bool, _>(3),
            "started_at = finished_at, one timestamp"
        );
        assert_eq!(row.get::<i32, _>(4), 0, "applied_steps_count stays 0");
        assert!(row.get::<bool, _>(5));
        assert_eq!(row.get::<i32, _>(6), 36, "a UUID as id");
    }
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Applied)
    );
    let report = apply_all(&spec).await;
    assert!(
        report.applied.is_empty() && report.failure.is_none(),
        "nothing left to run"
    );
    // Marking it applied again: the entry is no longer what the operator saw; nothing is done.
    let stale = resolve(
        &mut connect(&spec).await,
        migrate::Format::Prisma,
        &migrate::load(&spec).unwrap().migrations,
        Resolve::MarkApplied,
        &[Item {
            key: LedgerKey::Name("20240101000000_init".into()),
            name: "20240101000000_init".into(),
            seen: State::Pending,
        }],
        "tester",
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        stale.contains("it is now applied") && stale.contains("nothing was done"),
        "{stale}"
    );
}

#[tokio::test]
async fn a_batch_is_all_or_nothing_and_p3008_refuses_over_a_finished_row() {
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
    let mut d = connect(&spec).await;
    migrate::ledger::ensure(&mut d.conn, d.backend, migrate::Format::Prisma)
        .await
        .unwrap();
    // init once finished and was later marked rolled back (by hand, or by an older deckhand): pending for Prisma's
    // deploy, yet `prisma migrate resolve --applied` refuses it (P3008). deckhand refuses it the same way.
    let mut conn = tdb.connect().await;
    sqlx::query(
        "INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, finished_at, rolled_back_at, \
         applied_steps_count) VALUES ('00000000-0000-4000-8000-000000000000', $1, '20240101000000_init', now(), \
         now(), now(), 1)",
    )
    .bind(sha256_hex(USERS))
    .execute(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        status_of(&spec).await,
        vec![
            ("20240101000000_init".into(), State::Pending),
            ("20240201000000_name".into(), State::Pending),
        ]
    );
    let refused = resolve_names(
        &spec,
        Resolve::MarkApplied,
        &["20240101000000_init", "20240201000000_name"],
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(refused.contains("P3008"), "{refused}");
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM _prisma_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        n, 1,
        "the other migration of the batch was not marked either"
    );
    // The second alone goes through.
    resolve_names(&spec, Resolve::MarkApplied, &["20240201000000_name"])
        .await
        .unwrap();
    assert_eq!(status_of(&spec).await[1].1, State::Applied);
}

#[tokio::test]
async fn mark_rolled_back_touches_only_prisma_unfinished_rows_and_a_squash_resolves_in_one_batch() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    // Fifteen migrations applied, then squashed into one whose changes already exist.
    let old: Vec<(String, String)> = (1..=15)
        .map(|i| {
            (
                format!("202401{i:02}000000_step{i}"),
                format!("CREATE TABLE t{i} (id int);\n"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = old.iter().map(|(n, s)| (n.as_str(), s.as_str())).collect();
    m::prisma(dir.path(), &refs);
    let spec = m::database(&tdb.url, dir.path(), "prisma");
    assert_eq!(apply_all(&spec).await.applied.len(), 15);
    for (name, _) in &old {
        std::fs::remove_dir_all(dir.path().join(name)).unwrap();
    }
    let squashed: String = old.iter().map(|(_, s)| s.as_str()).collect();
    m::prisma(
        dir.path(),
        &[
            ("000000000000_squashed", &squashed),
            ("20250101000000_failed", ADD_NAME),
        ],
    );
    // And a failed run of a later migration: Prisma's P3009 row (unfinished, logs set).
    let mut conn = tdb.connect().await;
    sqlx::raw_sql(
        "CREATE TABLE users (id int); \
         INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at, logs) VALUES \
         ('00000000-0000-4000-8000-000000000001', 'x', '20250101000000_failed', now(), 'ERROR: boom');",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let st = status_of(&spec).await;
    // Prisma's squash guide names it 000000000000_…: older than the newest applied, so out of order.
    assert_eq!(st[0], ("000000000000_squashed".into(), State::OutOfOrder));
    assert_eq!(st[1], ("20250101000000_failed".into(), State::Failed));
    let missing: Vec<&str> = st
        .iter()
        .filter(|(_, s)| *s == State::MissingLocally)
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(missing.len(), 15);
    // One batch for the fifteen rows and the failed run; one for the squashed migration.
    let mut batch = missing.clone();
    batch.push("20250101000000_failed");
    let done = resolve_names(&spec, Resolve::MarkRolledBack, &batch)
        .await
        .unwrap();
    assert_eq!(done.len(), 16);
    assert!(
        done[15].contains("marked rolled back (1 ledger row(s))"),
        "{done:?}"
    );
    resolve_names(&spec, Resolve::MarkApplied, &["000000000000_squashed"])
        .await
        .unwrap();
    assert_eq!(
        status_of(&spec).await,
        vec![
            ("000000000000_squashed".into(), State::Applied),
            ("20250101000000_failed".into(), State::Pending),
        ]
    );
    // What Prisma reads: no failed migration (P3009 would list `finished_at IS NULL AND rolled_back_at IS NULL`).
    let failed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NULL AND rolled_back_at IS NULL",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(failed, 0);
    // A finished row of a migration on disk is never marked rolled back (Prisma: P3012): marking the squashed
    // migration rolled back is refused before anything is written.
    let refused = resolve_names(&spec, Resolve::MarkRolledBack, &["000000000000_squashed"])
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("applied"), "{refused}");
    let finished_rolled_back: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM _prisma_migrations WHERE migration_name = '000000000000_squashed' \
         AND rolled_back_at IS NOT NULL",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(finished_rolled_back, 0);
    // The failed migration is pending again: it applies.
    let report = apply_all(&spec).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.applied.len(), 1);
}

#[tokio::test]
async fn sqlx_drizzle_and_plain_baseline_with_the_row_their_tool_writes() {
    let tdb = fresh_db().await;
    let mut conn = tdb.connect().await;
    sqlx::raw_sql(AssertSqlSafe(format!("{USERS}{ADD_NAME}")))
        .execute(&mut conn)
        .await
        .unwrap();
    // sqlx: success, SHA-384 of the file, execution_time -1 (nothing ran, nothing measured).
    let sqlx_dir = tempfile::tempdir().unwrap();
    m::sqlx(
        sqlx_dir.path(),
        &[("1_users", USERS), ("2_add_name", ADD_NAME)],
    );
    let spec = m::database(&tdb.url, sqlx_dir.path(), "sqlx");
    resolve_names(&spec, Resolve::MarkApplied, &["1_users", "2_add_name"])
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT version, description, success, checksum, execution_time FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].get::<i64, _>(0), 2);
    assert_eq!(rows[1].get::<String, _>(1), "add name");
    assert!(rows[1].get::<bool, _>(2));
    use sha2::Digest;
    assert_eq!(
        rows[1].get::<Vec<u8>, _>(3),
        sha2::Sha384::digest(ADD_NAME).to_vec()
    );
    assert_eq!(rows[1].get::<i64, _>(4), -1);
    assert!(try_apply(&spec, &opts()).await.unwrap().applied.is_empty());
    // Drizzle: the migrator's insert, hash and created_at = the journal's `when`; its schema made if missing.
    let drizzle_dir = tempfile::tempdir().unwrap();
    m::drizzle(
        drizzle_dir.path(),
        &[
            ("0000_users", 1_700_000_000_000, USERS),
            ("0001_name", 1_700_000_100_000, ADD_NAME),
        ],
    );
    let spec = m::database(&tdb.url, drizzle_dir.path(), "drizzle");
    resolve_names(&spec, Resolve::MarkApplied, &["0000_users", "0001_name"])
        .await
        .unwrap();
    let rows = sqlx::query("SELECT hash, created_at FROM drizzle.__drizzle_migrations ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows[0].get::<String, _>(0), sha256_hex(USERS));
    assert_eq!(rows[1].get::<i64, _>(1), 1_700_000_100_000);
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Applied)
    );
    // plain: deckhand's success row, who marked it, no duration.
    let plain_dir = tempfile::tempdir().unwrap();
    m::plain(plain_dir.path(), &[("001_users", USERS)]);
    let spec = m::database(&tdb.url, plain_dir.path(), "plain");
    resolve_names(&spec, Resolve::MarkApplied, &["001_users"])
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT success, applied_by, duration_ms, checksum, error FROM deckhand_migrations",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(row.get::<bool, _>(0));
    assert_eq!(row.get::<String, _>(1), "tester");
    assert_eq!(row.get::<i64, _>(2), 0);
    assert_eq!(row.get::<String, _>(3), sha256_hex(USERS));
    assert_eq!(row.get::<Option<String>, _>(4), None);
}

#[tokio::test]
async fn a_killed_create_index_concurrently_blocks_the_apply_until_its_index_is_dropped() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::plain(dir.path(), &[("001_t", "CREATE TABLE t (x int);\n")]);
    let mut spec = m::database(&tdb.url, dir.path(), "plain");
    spec.lock_timeout = std::time::Duration::from_millis(300);
    assert!(apply_all(&spec).await.failure.is_none());
    // A writer's open transaction: the concurrent build waits for it, and lock_timeout kills the build half-way.
    let mut writer = tdb.connect().await;
    let mut open = writer.begin().await.unwrap();
    sqlx::query("INSERT INTO t VALUES (1)")
        .execute(&mut *open)
        .await
        .unwrap();
    let index_sql = "CREATE INDEX CONCURRENTLY \"T \"\"x\"\" idx\" ON t (x);\n";
    m::plain(dir.path(), &[("002_index", index_sql)]);
    let report = apply_all(&spec).await;
    assert!(
        matches!(report.failure, Some(MigrateError::Statement(ref f)) if f.code.as_deref() == Some("55P03")),
        "{:?}",
        report.failure
    );
    open.commit().await.unwrap();
    let (_, st) = migrate::read_status(&spec).await.unwrap();
    assert_eq!(st.invalid_indexes.len(), 1, "{:?}", st.invalid_indexes);
    let index = st.invalid_indexes[0].clone();
    assert_eq!(
        (index.schema.as_str(), index.name.as_str()),
        ("public", "T \"x\" idx")
    );
    // The operator marks the failed run rolled back (b): the apply would now run the file again and fail on
    // "relation … already exists". It is refused instead, naming the index.
    resolve_names(&spec, Resolve::MarkRolledBack, &["002_index"])
        .await
        .unwrap();
    assert_eq!(status_of(&spec).await[1].1, State::Pending);
    match try_apply(&spec, &opts()).await {
        Err(MigrateError::Blocked { problems }) => {
            assert!(
                problems
                    .iter()
                    .any(|p| p.contains("T \"x\" idx") && p.contains("INVALID")),
                "{problems:?}"
            )
        }
        other => panic!("expected the apply to be refused, got {other:?}"),
    }
    // The console's X: DROP INDEX CONCURRENTLY through the runner, which then reads the status again.
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    deckhand::runner::migrate::drop_index(spec.clone(), index.clone(), tx).await;
    match rx.recv().await {
        Some(RunnerEvent::IndexDropped { index: i, result }) => {
            assert_eq!(i, index);
            assert_eq!(result, Ok(()));
        }
        other => panic!("expected the drop's result, got {other:?}"),
    }
    match rx.recv().await {
        Some(RunnerEvent::Migrations(Ok(snap))) => {
            assert!(snap.status.invalid_indexes.is_empty());
            assert_eq!(snap.status.entries[1].state, State::Pending);
        }
        other => panic!("expected the status read again, got {other:?}"),
    }
    // Nothing is dropped that is not (or no longer) an invalid index.
    let mut d = connect(&spec).await;
    let again = migrate::index::drop_invalid(&mut d, &index)
        .await
        .unwrap_err()
        .to_string();
    assert!(again.contains("no longer an invalid index"), "{again}");
    // The migration now runs, and builds a valid index.
    let report = apply_all(&spec).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    let valid: bool = sqlx::query_scalar(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'T \"x\" idx'",
    )
    .fetch_one(&mut writer)
    .await
    .unwrap();
    assert!(valid);
}
