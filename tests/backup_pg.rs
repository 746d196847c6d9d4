//! PostgreSQL backups against a real server: take, verify, restore in place and into a new database, both archive
//! formats; damaged archives that `pg_restore --list` still accepts; a live table missing from an archive;
//! rehearsals on a scratch copy (a migration that fails only on real data, one that applies, a role without
//! CREATEDB); no password on any command line or in any record; a too-old pg_dump refused up front; cancel.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::migrations::{self as m, apply_all, status_of};
use common::pg::{TestDb, admin_connect, fresh_db, pg_bin};
use deckhand::backup::{
    Archive, BackupError, Progress, RehearsalStep, RestoreMode, Source, Stage, Verification, pg,
    store,
};
use deckhand::migrate::apply::{self, Rehearsal};
use deckhand::migrate::status::State;
use deckhand::plan::{Backup, BackupFormat, Database};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Bound on waiting for something that must happen (a hang guard, not a timing assertion).
const WAIT_LIMIT: Duration = Duration::from_secs(30);

fn progress() -> watch::Sender<Progress> {
    watch::channel(Progress::new(Stage::Preparing, Duration::ZERO)).0
}

fn backup_in(dir: &Path, format: BackupFormat) -> Backup {
    Backup {
        dir: dir.to_path_buf(),
        format,
        keep: None,
        bin_dir: None,
    }
}

async fn take(db: &Database, backup: &Backup) -> Result<Archive, BackupError> {
    let src = Source {
        project: "shop",
        environment: "staging",
        database: db,
        backup,
    };
    pg::take(&src, &progress(), &CancellationToken::new()).await
}

async fn verify(path: &Path, live: Option<&Database>) -> Verification {
    pg::verify(path, live, None, &progress(), &CancellationToken::new())
        .await
        .expect("verification runs")
}

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A plan `[database]` for `url` with an empty sqlx migrations folder (kept alive by the returned guard).
fn plain_db(url: &str) -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (m::database(url, dir.path(), "sqlx"), dir)
}

/// `orders(id, note)` with `rows` rows whose note is md5 of the id.
async fn orders(tdb: &TestDb, rows: u32) {
    let mut c = tdb.connect().await;
    exec(
        &mut c,
        &format!(
            "CREATE TABLE orders (id int PRIMARY KEY, note text NOT NULL);\n\
             INSERT INTO orders SELECT i, md5(i::text) FROM generate_series(1, {rows}) i;"
        ),
    )
    .await;
}

/// Every process command line (NULs shown as spaces), by pid.
fn command_lines() -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            Some((pid, String::from_utf8_lossy(&raw).replace('\0', " ")))
        })
        .collect()
}

fn pg_dump_running_for(dbname: &str) -> bool {
    command_lines()
        .iter()
        .any(|(_, cmd)| cmd.contains("pg_dump") && cmd.contains(dbname))
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT_LIMIT;
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

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
    let archive = take(&db, &backup_in(dir.path(), BackupFormat::Custom))
        .await
        .expect("backup");
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
    let archive = take(&db, &backup_in(dir.path(), BackupFormat::Custom))
        .await
        .expect("backup");
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

async fn scratch_exists(name: &str) -> bool {
    let mut admin = admin_connect().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    n > 0
}

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
            "CREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email);\n",
        )],
    );
    let backups = tempfile::tempdir().unwrap();
    let archive = take(&spec, &backup_in(backups.path(), BackupFormat::Custom))
        .await
        .expect("backup");

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
    assert!(!scratch_exists(&report.scratch).await);
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
    let archive = take(&spec, &backup_in(backups.path(), BackupFormat::Custom))
        .await
        .expect("backup");
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
    assert!(!scratch_exists(&report.scratch).await);
    let states: Vec<State> = status_of(&spec).await.into_iter().map(|(_, s)| s).collect();
    assert_eq!(states, [State::Applied, State::Pending, State::Pending]);
}

/// A LOGIN role with a password, dropped (with its privileges) by [`drop_role`].
async fn create_role(tdb: &TestDb, prefix: &str, password: &str) -> String {
    let role = format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut c = tdb.connect().await;
    exec(
        &mut c,
        &format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"),
    )
    .await;
    role
}

async fn drop_role(tdb: &TestDb, role: &str) {
    let mut c = tdb.connect().await;
    exec(
        &mut c,
        &format!(
            "ALTER DATABASE {} OWNER TO postgres; REASSIGN OWNED BY {role} TO postgres; DROP OWNED BY {role}; DROP ROLE {role}",
            tdb.name
        ),
    )
    .await;
}

fn url_as(tdb: &TestDb, role: &str, password: &str, dbname: &str) -> String {
    format!(
        "postgres://{role}:{password}@{}:{}/{dbname}",
        tdb.host, tdb.port
    )
}

#[tokio::test]
async fn rehearsal_needs_createdb() {
    let tdb = fresh_db().await;
    orders(&tdb, 10).await;
    let (db, _migrations) = plain_db(&tdb.url);
    let backups = tempfile::tempdir().unwrap();
    let archive = take(&db, &backup_in(backups.path(), BackupFormat::Custom))
        .await
        .expect("backup");
    let role = create_role(&tdb, "deckhand_nocreate", "pw-nocreate").await;
    let mut c = tdb.connect().await;
    exec(
        &mut c,
        &format!(
            "GRANT CONNECT ON DATABASE {} TO {role}; GRANT USAGE ON SCHEMA public TO {role}",
            tdb.name
        ),
    )
    .await;
    let (as_role, _m) = plain_db(&url_as(&tdb, &role, "pw-nocreate", &tdb.name));
    let result = pg::rehearse(
        &as_role,
        None,
        &archive,
        &progress(),
        &CancellationToken::new(),
    )
    .await;
    drop_role(&tdb, &role).await;
    match result {
        Err(BackupError::NoCreateDb { role: named }) => assert_eq!(named, role),
        other => panic!("expected NoCreateDb, got {other:?}"),
    }
}

#[tokio::test]
async fn no_command_line_record_or_error_holds_the_password() {
    let tdb = fresh_db().await;
    orders(&tdb, 20_000).await;
    let password = format!("Pw{}x", uuid::Uuid::new_v4().simple());
    let role = create_role(&tdb, "deckhand_pw", &password).await;
    let mut c = tdb.connect().await;
    exec(
        &mut c,
        &format!(
            "ALTER DATABASE {} OWNER TO {role}; ALTER TABLE orders OWNER TO {role}",
            tdb.name
        ),
    )
    .await;
    // Prisma's parameters must not reach pg_dump either: libpq refuses parameters it does not know.
    let url = format!(
        "{}?schema=public&connection_limit=3&sslmode=disable",
        url_as(&tdb, &role, &password, &tdb.name)
    );
    let (db, _migrations) = plain_db(&url);
    let dir = tempfile::tempdir().unwrap();
    let backup = backup_in(&dir.path().join("ok"), BackupFormat::Custom);

    // pg_dump waits at its first lock until this transaction ends: it is surely seen running.
    let mut locker = tdb.connect().await;
    exec(
        &mut locker,
        "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE",
    )
    .await;
    let stop = Arc::new(AtomicBool::new(false));
    let scanner = std::thread::spawn({
        let (stop, password, name) = (Arc::clone(&stop), password.clone(), tdb.name.clone());
        move || {
            let (mut seen, mut leaked) = (false, Vec::new());
            while !stop.load(Ordering::SeqCst) {
                for (_, cmd) in command_lines() {
                    seen |= cmd.contains("pg_dump") && cmd.contains(&name);
                    if cmd.contains(&password) {
                        leaked.push(cmd);
                    }
                }
            }
            (seen, leaked)
        }
    });
    let dump = tokio::spawn({
        let (db, backup) = (db.clone(), backup.clone());
        async move {
            let tx = progress();
            let src = Source {
                project: "shop",
                environment: "staging",
                database: &db,
                backup: &backup,
            };
            let result = pg::take(&src, &tx, &CancellationToken::new()).await;
            (result, format!("{:?}", *tx.borrow()))
        }
    });
    wait_for("pg_dump to start", || pg_dump_running_for(&tdb.name)).await;
    let sessions = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = '{}' AND usename = '{role}'",
        tdb.name,
        pg::APP_NAME
    );
    let deadline = Instant::now() + WAIT_LIMIT;
    while count(&mut c, &sessions).await == 0 {
        assert!(
            Instant::now() < deadline,
            "pg_dump's session never showed up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    exec(&mut locker, "ROLLBACK").await;
    let (result, last_progress) = dump.await.unwrap();
    stop.store(true, Ordering::SeqCst);
    let (seen, leaked) = scanner.join().unwrap();
    let archive = result.expect("backup as the role");
    assert!(
        seen,
        "the pg_dump child was never seen: the scan proves nothing"
    );
    assert!(leaked.is_empty(), "password on a command line: {leaked:?}");
    assert!(!serde_json::to_string(&archive).unwrap().contains(&password));
    assert!(!format!("{archive:?}").contains(&password));
    let sidecar = std::fs::read(store::sidecar_path(&archive.path)).unwrap();
    assert!(!String::from_utf8_lossy(&sidecar).contains(&password));
    assert!(!last_progress.contains(&password), "{last_progress}");

    // pg_dump itself fails: a table the role may not read.
    exec(&mut c, "CREATE TABLE secret (x int)").await;
    let failing = backup_in(&dir.path().join("failing"), BackupFormat::Custom);
    let err = take(&db, &failing).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BackupError::Tool { .. }), "{err:?}");
    assert!(text.contains("permission denied"), "{text}");
    assert!(!text.contains(&password), "{text}");
    assert!(
        files_in(&failing.dir).is_empty(),
        "the partial archive is removed"
    );
    // The connection fails: a database that does not exist.
    let (wrong, _m) = plain_db(&url_as(&tdb, &role, &password, "deckhand_no_such_db"));
    let err = take(&wrong, &failing).await.unwrap_err();
    assert!(!err.to_string().contains(&password), "{err}");
    assert!(!format!("{err:?}").contains(&password), "{err:?}");
    drop_role(&tdb, &role).await;
}

#[tokio::test]
async fn a_pg_dump_older_than_the_server_is_refused_before_anything_is_written() {
    let tdb = fresh_db().await;
    let (db, _migrations) = plain_db(&tdb.url);
    let bin = tempfile::tempdir().unwrap();
    for tool in ["pg_dump", "pg_restore"] {
        let path = bin.path().join(tool);
        std::fs::write(
            &path,
            format!("#!/bin/sh\necho '{tool} (PostgreSQL) 9.6.24'\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mut backup = backup_in(&dir.path().join("backups"), BackupFormat::Custom);
    backup.bin_dir = Some(bin.path().to_path_buf());
    let mut c = tdb.connect().await;
    let num: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&mut c)
        .await
        .unwrap();
    let major = num.parse::<u32>().unwrap() / 10_000;
    match take(&db, &backup).await {
        Err(BackupError::Client(msg)) => {
            assert!(msg.contains("pg_dump 9.6.24"), "{msg}");
            assert!(msg.contains(&format!("PostgreSQL {major}.")), "{msg}");
            assert!(msg.contains(&format!("postgresql-client-{major}")), "{msg}");
        }
        other => panic!("expected a client version error, got {other:?}"),
    }
    assert!(!backup.dir.exists(), "nothing was written");
}

#[tokio::test]
async fn cancel_during_a_dump_kills_pg_dump_and_removes_the_partial() {
    let tdb = fresh_db().await;
    orders(&tdb, 1000).await;
    let (db, _migrations) = plain_db(&tdb.url);
    let dir = tempfile::tempdir().unwrap();
    let backup = backup_in(dir.path(), BackupFormat::Custom);
    let mut locker = tdb.connect().await;
    exec(
        &mut locker,
        "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE",
    )
    .await;
    let cancel = CancellationToken::new();
    let (tx, rx) = watch::channel(Progress::new(Stage::Preparing, Duration::ZERO));
    let dump = tokio::spawn({
        let (db, backup, cancel) = (db.clone(), backup.clone(), cancel.clone());
        async move {
            let src = Source {
                project: "shop",
                environment: "staging",
                database: &db,
                backup: &backup,
            };
            pg::take(&src, &tx, &cancel).await
        }
    });
    wait_for("pg_dump to start", || pg_dump_running_for(&tdb.name)).await;
    wait_for("progress to say dumping", || {
        rx.borrow().stage == Stage::Dumping
    })
    .await;
    let partial = files_in(dir.path());
    assert!(
        partial
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".partial")),
        "{partial:?}"
    );
    cancel.cancel();
    let result = dump.await.unwrap();
    assert!(matches!(result, Err(BackupError::Cancelled)), "{result:?}");
    assert!(!pg_dump_running_for(&tdb.name), "pg_dump left behind");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
    exec(&mut locker, "ROLLBACK").await;
}

#[tokio::test]
async fn a_dropped_backup_future_takes_pg_dump_and_the_partial_with_it() {
    let tdb = fresh_db().await;
    orders(&tdb, 1000).await;
    let (db, _migrations) = plain_db(&tdb.url);
    let dir = tempfile::tempdir().unwrap();
    let backup = backup_in(dir.path(), BackupFormat::Custom);
    let mut locker = tdb.connect().await;
    exec(
        &mut locker,
        "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE",
    )
    .await;
    let dump = tokio::spawn({
        let (db, backup) = (db.clone(), backup.clone());
        async move { take(&db, &backup).await }
    });
    wait_for("pg_dump to start", || pg_dump_running_for(&tdb.name)).await;
    dump.abort();
    assert!(dump.await.unwrap_err().is_cancelled());
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
    // SIGKILL went out when the future was dropped; the kernel needs a moment to end the process.
    wait_for("pg_dump to be gone", || !pg_dump_running_for(&tdb.name)).await;
    exec(&mut locker, "ROLLBACK").await;
}

#[tokio::test]
async fn restore_into_a_new_database_and_never_over_an_existing_one() {
    let tdb = fresh_db().await;
    orders(&tdb, 100).await;
    let (db, _migrations) = plain_db(&tdb.url);
    let dir = tempfile::tempdir().unwrap();
    let archive = take(&db, &backup_in(dir.path(), BackupFormat::Custom))
        .await
        .expect("backup");
    let copy = format!("{}_copy", tdb.name);
    let restore = |name: &str| {
        let mode = RestoreMode::NewDatabase(name.to_string());
        let (db, archive) = (db.clone(), archive.clone());
        async move {
            pg::restore(
                &db,
                None,
                &archive,
                &mode,
                &progress(),
                &CancellationToken::new(),
            )
            .await
        }
    };
    let report = restore(&copy).await.expect("restore into a new database");
    assert_eq!(report.tables, 1);
    assert!(report.missing.is_empty() && report.extra.is_empty());
    assert!(
        report.target.ends_with(&format!("/{copy}")),
        "{}",
        report.target
    );
    let copy_url = tdb
        .url
        .replace(&format!("/{}", tdb.name), &format!("/{copy}"));
    let mut in_copy = PgConnection::connect(&copy_url).await.unwrap();
    assert_eq!(
        count(&mut in_copy, "SELECT count(*) FROM orders").await,
        100
    );
    in_copy.close().await.unwrap();
    for existing in [tdb.name.clone(), copy.clone()] {
        match restore(&existing).await {
            Err(BackupError::Refused(msg)) => assert!(msg.contains(&existing), "{msg}"),
            other => panic!("restoring over {existing} must be refused, got {other:?}"),
        }
    }
    let mut admin = admin_connect().await;
    exec(
        &mut admin,
        &format!("DROP DATABASE \"{copy}\" WITH (FORCE)"),
    )
    .await;
}

#[tokio::test]
async fn restore_refuses_an_archive_changed_since_it_was_taken_and_drops_nothing() {
    let tdb = fresh_db().await;
    orders(&tdb, 200).await;
    let (db, _migrations) = plain_db(&tdb.url);
    let dir = tempfile::tempdir().unwrap();
    let backup = backup_in(&dir.path().join("backups"), BackupFormat::Custom);
    let archive = take(&db, &backup).await.expect("backup");
    // Same size, one byte different: only the recorded sha256 can tell.
    let mut bytes = std::fs::read(&archive.path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&archive.path, &bytes).unwrap();
    let mut conn = tdb.connect().await;
    exec(
        &mut conn,
        "INSERT INTO orders (id, note) VALUES (100000, 'after the backup')",
    )
    .await;
    let result = pg::restore(
        &db,
        None,
        &archive,
        &RestoreMode::InPlace,
        &progress(),
        &CancellationToken::new(),
    )
    .await;
    match result {
        Err(BackupError::Refused(msg)) => assert!(msg.contains("sha256 differs"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(
        count(&mut conn, "SELECT count(*) FROM orders").await,
        201,
        "nothing was dropped"
    );
}
