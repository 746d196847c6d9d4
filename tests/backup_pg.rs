//! PostgreSQL backups against a real server: take, verify, restore in place and into a new database, both archive
//! formats; damaged archives that `pg_restore --list` still accepts; a live table missing from an archive;
//! rehearsals on a scratch copy (a migration that fails only on real data, one that applies).
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::PathBuf;

use common::migrations::{self as m, apply_all, status_of};
use common::pg::{database_exists, fresh_db, pg_bin};
use common::pgbackup::*;
use deckhand::backup::{Archive, RehearsalStep, RestoreMode, pg, store};
use deckhand::migrate::apply::{self, Rehearsal};
use deckhand::migrate::status::State;
use deckhand::plan::BackupFormat;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn backup_verify_drop_and_restore_in_place_brings_the_rows_back() {
    let tdb = fresh_db().await;
    orders(&tdb, 1000).await;
    let (db, _migrations) = plain_db(&tdb.url);
    let dir = tempfile::tempdir().unwrap();
    let backup = backup_in(&dir.path().join("backups"), BackupFormat::Custom);
    let archive = take(&db, &backup).await.expect("backup");

    let name = archive.path.file_name().unwrap().to_string_lossy();
    assert!(
        name.starts_with(&format!("shop-staging-{}-", tdb.name)) && name.ends_with(".dump"),
        "{name}"
    );
    assert_eq!(mode_of(&archive.path), 0o600);
    assert_eq!(archive.dbname, tdb.name);
    assert_eq!(
        archive.database,
        format!("{}:{}/{}", tdb.host, tdb.port, tdb.name)
    );
    assert!(archive.tool.starts_with("pg_dump (PostgreSQL) "));
    assert_eq!(archive.size, store::size_of(&archive.path));
    assert!(
        store::read_sidecar(&archive.path)
            .unwrap()
            .verified
            .is_none()
    );
    assert!(!store::partial_path(&archive.path).exists());

    let v = verify(&archive.path, Some(&db)).await;
    assert!(v.ok, "{:?}", v.problems);
    assert_eq!(v.tables, ["public.orders"]);
    assert!(v.compared_with_live && v.missing.is_empty());
    let record = store::read_sidecar(&archive.path).unwrap();
    let verified = record
        .verified
        .expect("the sidecar records the verification");
    assert_eq!(verified.tables, ["public.orders"]);
    assert!(verified.compared_with_live);

    let mut c = tdb.connect().await;
    exec(&mut c, "DROP TABLE orders; CREATE TABLE later (id int)").await;
    let report = pg::restore(
        &db,
        None,
        &archive,
        &RestoreMode::InPlace,
        &progress(),
        &CancellationToken::new(),
    )
    .await
    .expect("restore");
    assert_eq!(report.tables, 1);
    assert!(report.missing.is_empty());
    assert_eq!(
        report.extra,
        ["public.later"],
        "a table made after the backup stays"
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM orders").await, 1000);
    let note: String = sqlx::query_scalar("SELECT note FROM orders WHERE id = 7")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(note, "8f14e45fceea167a5a36dedd4bea2543"); // md5('7')
}

#[tokio::test]
async fn directory_format_with_two_jobs_round_trips() {
    let tdb = fresh_db().await;
    orders(&tdb, 2000).await;
    let mut c = tdb.connect().await;
    exec(
        &mut c,
        "CREATE TABLE items (id int, order_id int); INSERT INTO items SELECT i, i % 50 FROM generate_series(1, 500) i;",
    )
    .await;
    let (db, _migrations) = plain_db(&tdb.url);
    let dir = tempfile::tempdir().unwrap();
    let backup = backup_in(dir.path(), BackupFormat::Directory { jobs: 2 });
    let archive = take(&db, &backup).await.expect("backup");
    assert!(archive.path.is_dir() && archive.path.to_string_lossy().ends_with(".dir"));
    assert_eq!(mode_of(&archive.path), 0o700);
    let files = files_in(&archive.path);
    assert!(files.iter().any(|f| f.ends_with("toc.dat")), "{files:?}");
    assert!(files.iter().all(|f| mode_of(f) == 0o600), "{files:?}");

    let v = verify(&archive.path, Some(&db)).await;
    assert!(v.ok, "{:?}", v.problems);
    assert_eq!(v.tables, ["public.items", "public.orders"]);

    exec(&mut c, "DROP TABLE orders; DROP TABLE items").await;
    let report = pg::restore(
        &db,
        None,
        &archive,
        &RestoreMode::InPlace,
        &progress(),
        &CancellationToken::new(),
    )
    .await
    .expect("restore");
    assert_eq!(report.tables, 2);
    assert_eq!(count(&mut c, "SELECT count(*) FROM orders").await, 2000);
    assert_eq!(
        count(&mut c, "SELECT sum(order_id) FROM items").await,
        12250
    );
}

/// Copies the archive to `name` (with its sidecar when `sidecar`), damaged by `damage`.
fn damaged_copy(archive: &Archive, name: &str, sidecar: bool, damage: fn(&mut Vec<u8>)) -> PathBuf {
    let dir = archive.path.parent().unwrap();
    let path = dir.join(name);
    let mut bytes = std::fs::read(&archive.path).unwrap();
    damage(&mut bytes);
    std::fs::write(&path, bytes).unwrap();
    if sidecar {
        std::fs::copy(
            store::sidecar_path(&archive.path),
            store::sidecar_path(&path),
        )
        .unwrap();
    }
    path
}

fn truncate(bytes: &mut Vec<u8>) {
    let half = bytes.len() / 2;
    bytes.truncate(half);
}

#[allow(clippy::ptr_arg)] // same signature as `truncate`
fn flip(bytes: &mut Vec<u8>) {
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
}

#[tokio::test]
async fn truncated_and_flipped_archives_fail_verification_though_they_still_list() {
    let tdb = fresh_db().await;
    // Enough rows that the middle of the file is compressed table data.
    orders(&tdb, 30_000).await;
    let (db, _migrations) = plain_db(&tdb.url);
    let dir = tempfile::tempdir().unwrap();
    let archive = backed_up(&db, dir.path()).await;
    assert!(
        verify(&archive.path, None).await.ok,
        "the intact archive passes"
    );
    let pg_restore = pg_bin("pg_restore").expect("pg_restore");
    for (damage, how) in [
        (truncate as fn(&mut Vec<u8>), "truncated"),
        (flip, "flipped"),
    ] {
        for sidecar in [true, false] {
            let name = format!("{how}-{sidecar}.dump");
            let path = damaged_copy(&archive, &name, sidecar, damage);
            let listed = std::process::Command::new(&pg_restore)
                .arg("--list")
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                listed.status.success(),
                "{name}: pg_restore --list accepts it, which is why verify reads everything"
            );
            let v = verify(&path, None).await;
            assert!(!v.ok, "{name} must fail verification");
            assert_eq!(v.tables, ["public.orders"], "{name}: its table of contents");
            let full_read = v
                .problems
                .iter()
                .find(|p| p.starts_with("reading the whole archive failed"));
            assert!(full_read.is_some(), "{name}: {:?}", v.problems);
            let checksum = v.problems.iter().any(|p| p.starts_with("sha256 differs"));
            assert_eq!(checksum, sidecar, "{name}: {:?}", v.problems);
            if sidecar {
                let record = store::read_sidecar(&path).unwrap();
                assert!(
                    record.verified.is_some(),
                    "a copied sidecar is not rewritten"
                );
            }
        }
    }
}

#[tokio::test]
async fn verify_against_live_names_a_table_created_after_the_backup() {
    let tdb = fresh_db().await;
    orders(&tdb, 10).await;
    let (db, _migrations) = plain_db(&tdb.url);
    let dir = tempfile::tempdir().unwrap();
    let archive = backed_up(&db, dir.path()).await;
    let mut c = tdb.connect().await;
    exec(&mut c, "CREATE TABLE late (id int)").await;
    let v = verify(&archive.path, Some(&db)).await;
    assert!(!v.ok);
    assert!(v.compared_with_live);
    assert_eq!(v.missing, ["public.late"]);
    assert!(
        v.problems.iter().any(|p| p.contains("public.late")),
        "{:?}",
        v.problems
    );
    assert!(
        store::read_sidecar(&archive.path)
            .unwrap()
            .verified
            .is_none()
    );
    let without_live = verify(&archive.path, None).await;
    assert!(without_live.ok && !without_live.compared_with_live);
}

const USERS: &str = "CREATE TABLE users (id serial PRIMARY KEY, email text);\n";

#[tokio::test]
async fn rehearsal_catches_a_unique_index_over_duplicates_that_the_dry_run_cannot() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(dir.path(), &[("1_users", USERS)]);
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    assert!(apply_all(&spec).await.failure.is_none());
    let mut c = tdb.connect().await;
    exec(
        &mut c,
        "INSERT INTO users (email) VALUES ('a@example.com'), ('a@example.com'), ('b@example.com')",
    )
    .await;
    m::sqlx(
        dir.path(),
        &[(
            "2_unique_email",
            // sqlx runs such a file only with its `-- no-transaction` marker.
            "-- no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email);\n",
        )],
    );
    let backups = tempfile::tempdir().unwrap();
    let archive = backed_up(&spec, backups.path()).await;

    let target = deckhand::migrate::load(&spec).unwrap();
    let mut conn = m::connect(&spec).await;
    let dry = apply::dry_run(&mut conn, target.format, &target.migrations, &m::opts())
        .await
        .unwrap();
    assert!(
        !dry.iter().any(|r| matches!(r, Rehearsal::Failed { .. })),
        "{dry:?}"
    );
    assert!(
        matches!(dry.as_slice(), [Rehearsal::NotRehearsable { name, .. }] if name == "2_unique_email"),
        "{dry:?}"
    );

    let report = pg::rehearse(
        &spec,
        None,
        &archive,
        &progress(),
        &CancellationToken::new(),
    )
    .await
    .expect("rehearsal runs");
    assert!(report.failed());
    match report.steps.as_slice() {
        [RehearsalStep::Failed { name, error, .. }] => {
            assert_eq!(name, "2_unique_email");
            assert!(
                error.contains("23505") || error.contains("could not create unique index"),
                "{error}"
            );
        }
        other => panic!("expected the unique index to fail, got {other:?}"),
    }
    assert!(report.scratch.starts_with("deckhand_rehearsal_"));
    assert!(report.dropped && report.cleanup_error.is_none());
    assert!(!database_exists(&report.scratch).await);
    let states: Vec<State> = status_of(&spec).await.into_iter().map(|(_, s)| s).collect();
    assert_eq!(
        states,
        [State::Applied, State::Pending],
        "the real database is untouched"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'users_email'"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn rehearsal_applies_clean_migrations_and_times_each() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(dir.path(), &[("1_users", USERS)]);
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    assert!(apply_all(&spec).await.failure.is_none());
    m::sqlx(
        dir.path(),
        &[
            ("2_name", "ALTER TABLE users ADD COLUMN name text;\n"),
            ("3_index", "CREATE INDEX users_name_idx ON users (name);\n"),
        ],
    );
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
    let applied: Vec<&str> = report
        .steps
        .iter()
        .map(|s| match s {
            RehearsalStep::Applied { name, took } if *took > Duration::ZERO => name.as_str(),
            other => panic!("expected applied steps with durations, got {other:?}"),
        })
        .collect();
    assert_eq!(applied, ["2_name", "3_index"]);
    assert!(!report.failed() && report.dropped);
    assert!(!database_exists(&report.scratch).await);
    let states: Vec<State> = status_of(&spec).await.into_iter().map(|(_, s)| s).collect();
    assert_eq!(states, [State::Applied, State::Pending, State::Pending]);
}
