//! The way back rehearsed (apply → down → apply), on a real PostgreSQL and on SQLite: reversible sqlx migrations
//! apply, revert newest first and apply again, leaving the ledger and the schema a plain apply leaves; a failing
//! down file is reported at its migration with the database's error, the migrations are not applied again, and the
//! scratch copy is dropped; a pending migration without a down file is named and nothing is reverted.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Instant;

use common::migrations::{self as m, apply_all, status_of};
use common::pg::{admin_connect, fresh_db};
use common::pgbackup::{backed_up, count, exec, progress};
use deckhand::backup::rehearse::apply_pending;
use deckhand::backup::{Direction, RehearsalStep, WayBack, pg, sqlite};
use deckhand::migrate::status::State;
use deckhand::plan::{Backup, BackupFormat, Database};
use sqlx::{AssertSqlSafe, PgConnection};
use tokio_util::sync::CancellationToken;

const USERS: &str = "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);\n";
const USERS_DOWN: &str = "DROP TABLE users;\n";
const NAME: &str = "ALTER TABLE users ADD COLUMN name text;\nUPDATE users SET name = 'n-' || id;\n";
const NAME_DOWN: &str = "ALTER TABLE users DROP COLUMN name;\n";
const INDEX: &str = "CREATE INDEX users_name_idx ON users (name);\n";
const INDEX_DOWN: &str = "DROP INDEX users_name_idx;\n";
/// Drops a column the up file never made: fails on every database.
const BAD_NAME_DOWN: &str = "ALTER TABLE users DROP COLUMN nickname;\n";

fn names(steps: &[RehearsalStep]) -> Vec<(&str, &str)> {
    steps
        .iter()
        .map(|s| match s {
            RehearsalStep::Applied { name, .. } => (name.as_str(), "ok"),
            RehearsalStep::Failed { name, .. } => (name.as_str(), "failed"),
            RehearsalStep::NotReached { name } => (name.as_str(), "not reached"),
        })
        .collect()
}

/// A folder with `1_users` applied and `2_name`, `3_index` pending, each with a down file (`name_down` for 2).
async fn reversible(url: &str, dir: &std::path::Path, name_down: &str) -> Database {
    m::sqlx_reversible(dir, &[("1_users", USERS, USERS_DOWN)]);
    let spec = m::database(url, dir, "sqlx");
    assert!(apply_all(&spec).await.failure.is_none());
    m::sqlx_reversible(
        dir,
        &[("2_name", NAME, name_down), ("3_index", INDEX, INDEX_DOWN)],
    );
    spec
}

/// What the schema and the ledger say, with nothing that differs between two equal applies (times, durations).
async fn fingerprint(c: &mut PgConnection) -> Vec<String> {
    let queries = [
        "SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable \
         FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1",
        "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1",
        "SELECT version || ' ' || description || ' ' || success || ' ' || encode(checksum, 'hex') \
         FROM _sqlx_migrations ORDER BY version",
    ];
    let mut out = Vec::new();
    for q in queries {
        let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(q.to_string()))
            .fetch_all(&mut *c)
            .await
            .unwrap_or_else(|e| panic!("{q}: {e}"));
        out.extend(rows);
    }
    out
}

#[tokio::test]
async fn apply_down_apply_leaves_the_ledger_and_schema_of_a_plain_apply() {
    // The rehearsal's steps run straight on a database here, so what they leave can be read afterwards.
    let rehearsed = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = reversible(&rehearsed.url, dir.path(), NAME_DOWN).await;
    let mut c = rehearsed.connect().await;
    exec(
        &mut c,
        "INSERT INTO users (email) VALUES ('a@x.io'), ('b@x.io')",
    )
    .await;
    let done = apply_pending(
        &spec,
        Instant::now(),
        &progress(),
        &CancellationToken::new(),
    )
    .await
    .expect("rehearsal runs");
    assert_eq!(names(&done.steps), [("2_name", "ok"), ("3_index", "ok")]);
    let WayBack::Rehearsed { down, again } = &done.way_back else {
        panic!("expected the way back rehearsed, got {:?}", done.way_back);
    };
    assert_eq!(
        names(down),
        [("3_index", "ok"), ("2_name", "ok")],
        "newest first"
    );
    assert_eq!(names(again), [("2_name", "ok"), ("3_index", "ok")]);
    assert!(done.way_back.passed() && done.way_back.failure().is_none());

    let plain = fresh_db().await;
    let spec_plain = m::database(&plain.url, dir.path(), "sqlx");
    assert!(apply_all(&spec_plain).await.failure.is_none());
    let mut p = plain.connect().await;
    let expected = fingerprint(&mut p).await;
    assert!(
        expected.iter().any(|l| l.contains("users_name_idx"))
            && expected.iter().filter(|l| l.starts_with("3 ")).count() == 1,
        "{expected:?}"
    );
    assert_eq!(fingerprint(&mut c).await, expected);
    let states: Vec<State> = status_of(&spec).await.into_iter().map(|(_, s)| s).collect();
    assert_eq!(states, [State::Applied; 3]);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM users WHERE name = 'n-' || id").await,
        2,
        "the re-apply ran the data step again"
    );
}

#[tokio::test]
async fn a_failing_down_file_is_reported_at_its_migration_and_nothing_is_applied_again() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = reversible(&tdb.url, dir.path(), BAD_NAME_DOWN).await;
    let backups = tempfile::tempdir().unwrap();
    let archive = backed_up(&spec, backups.path()).await;
    let report = pg::rehearse(
        &spec,
        None,
        &archive,
        &progress(),
        &CancellationToken::new(),
    )
    .await
    .expect("rehearsal runs");
    assert!(!report.failed(), "the apply itself went through");
    assert_eq!(names(&report.steps), [("2_name", "ok"), ("3_index", "ok")]);
    let WayBack::Rehearsed { down, again } = &report.way_back else {
        panic!("expected the way back rehearsed, got {:?}", report.way_back);
    };
    assert_eq!(names(down), [("3_index", "ok"), ("2_name", "failed")]);
    assert!(
        again.is_empty(),
        "not applied again after a failed down file"
    );
    match report.way_back.failure() {
        Some((Direction::Down, RehearsalStep::Failed { name, error, .. })) => {
            assert_eq!(name, "2_name");
            assert!(
                error.contains("nickname") && error.contains("42703"),
                "{error}"
            );
        }
        other => panic!("expected the down file of 2_name to fail, got {other:?}"),
    }
    assert!(report.dropped && report.cleanup_error.is_none());
    let mut admin = admin_connect().await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&report.scratch)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(left, 0, "scratch database dropped");
    let states: Vec<State> = status_of(&spec).await.into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        states,
        [State::Applied, State::Pending, State::Pending],
        "the real database is untouched"
    );
}

#[tokio::test]
async fn a_pending_migration_without_a_down_file_is_named_and_nothing_is_reverted() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let spec = reversible(&tdb.url, dir.path(), NAME_DOWN).await;
    std::fs::remove_file(dir.path().join("3_index.down.sql")).unwrap();
    let done = apply_pending(
        &spec,
        Instant::now(),
        &progress(),
        &CancellationToken::new(),
    )
    .await
    .expect("rehearsal runs");
    assert_eq!(names(&done.steps), [("2_name", "ok"), ("3_index", "ok")]);
    assert_eq!(
        done.way_back,
        WayBack::NoDownFile {
            missing: vec!["3_index".into()]
        }
    );
    let states: Vec<State> = status_of(&spec).await.into_iter().map(|(_, s)| s).collect();
    assert_eq!(states, [State::Applied; 3], "nothing reverted");
}

/// A SQLite database with `1_users` applied, a backup of it, and `2_name` (down file `name_down`) and `3_index`
/// pending.
async fn sqlite_setup(
    dir: &std::path::Path,
    name_down: &str,
) -> (Database, deckhand::backup::Archive) {
    let migrations = dir.join("migrations");
    let url = format!("sqlite://{}?mode=rwc", dir.join("app.db").display());
    m::sqlx_reversible(
        &migrations,
        &[(
            "1_users",
            "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n",
            USERS_DOWN,
        )],
    );
    let spec = m::database(&url, &migrations, "sqlx");
    assert!(apply_all(&spec).await.failure.is_none());
    m::sqlx_reversible(
        &migrations,
        &[
            (
                "2_name",
                "ALTER TABLE users ADD COLUMN name TEXT;\n",
                name_down,
            ),
            ("3_index", INDEX, INDEX_DOWN),
        ],
    );
    let backup = Backup {
        dir: dir.join("backups"),
        format: BackupFormat::Custom,
        keep: None,
        bin_dir: None,
    };
    let src = deckhand::backup::Source {
        project: "shop",
        environment: "staging",
        database: &spec,
        backup: &backup,
    };
    let archive = sqlite::take(&src, &progress(), &CancellationToken::new())
        .await
        .expect("backup");
    (spec, archive)
}

#[tokio::test]
async fn on_sqlite_the_way_back_is_rehearsed_on_the_copy_and_a_failing_down_file_named() {
    for (name_down, passes) in [(NAME_DOWN, true), (BAD_NAME_DOWN, false)] {
        let dir = tempfile::tempdir().unwrap();
        let (spec, archive) = sqlite_setup(dir.path(), name_down).await;
        let report = sqlite::rehearse(&spec, &archive, &progress(), &CancellationToken::new())
            .await
            .expect("rehearsal runs");
        assert_eq!(names(&report.steps), [("2_name", "ok"), ("3_index", "ok")]);
        assert_eq!(report.way_back.passed(), passes, "{:?}", report.way_back);
        if !passes {
            match report.way_back.failure() {
                Some((Direction::Down, RehearsalStep::Failed { name, error, .. })) => {
                    assert_eq!(name, "2_name");
                    assert!(error.contains("nickname"), "{error}");
                }
                other => panic!("expected the down file of 2_name to fail, got {other:?}"),
            }
            assert!(
                matches!(&report.way_back, WayBack::Rehearsed { again, .. } if again.is_empty())
            );
        }
        assert!(report.dropped && !std::path::Path::new(&report.scratch).exists());
        let states: Vec<State> = status_of(&spec).await.into_iter().map(|(_, s)| s).collect();
        assert_eq!(states, [State::Applied, State::Pending, State::Pending]);
    }
}
