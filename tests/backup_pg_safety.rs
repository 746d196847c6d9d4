//! PostgreSQL backups, the safety side: a rehearsal by a role without CREATEDB, no password on any command line
//! or in any record, a too-old pg_dump refused up front, cancel and dropped futures leaving nothing behind, and
//! a restore refusing an archive changed since it was taken.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::pg::{TestDb, admin_connect, fresh_db};
use common::pgbackup::*;
use deckhand::backup::{BackupError, Progress, RestoreMode, Source, Stage, pg, store};
use deckhand::plan::BackupFormat;
use sqlx::{Connection, PgConnection};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

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

/// A LOGIN role with a fresh password that owns the test database and its `orders`: `(role, password)`.
async fn owner_with_password(tdb: &TestDb, prefix: &str) -> (String, String) {
    let password = format!("Pw{}x", uuid::Uuid::new_v4().simple());
    let role = create_role(tdb, prefix, &password).await;
    let mut c = tdb.connect().await;
    exec(
        &mut c,
        &format!(
            "ALTER DATABASE {} OWNER TO {role}; ALTER TABLE orders OWNER TO {role}",
            tdb.name
        ),
    )
    .await;
    (role, password)
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

/// Scans every process's command line until the returned flag is set: whether `tool` was seen working on
/// database `name`, and every command line that held `password`.
fn scan_command_lines(
    tool: &'static str,
    name: &str,
    password: &str,
) -> (
    Arc<AtomicBool>,
    std::thread::JoinHandle<(bool, Vec<String>)>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let (flag, password, name) = (Arc::clone(&stop), password.to_string(), name.to_string());
    let scanner = std::thread::spawn(move || {
        let (mut seen, mut leaked) = (false, Vec::new());
        while !flag.load(Ordering::SeqCst) {
            for (_, cmd) in command_lines() {
                seen |= cmd.contains(tool) && cmd.contains(&name);
                if cmd.contains(&password) {
                    leaked.push(cmd);
                }
            }
        }
        (seen, leaked)
    });
    (stop, scanner)
}

#[tokio::test]
async fn rehearsal_needs_createdb() {
    let tdb = fresh_db().await;
    orders(&tdb, 10).await;
    let (db, _migrations) = plain_db(&tdb.url);
    let backups = tempfile::tempdir().unwrap();
    let archive = backed_up(&db, backups.path()).await;
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
    let (role, password) = owner_with_password(&tdb, "deckhand_pw").await;
    let mut c = tdb.connect().await;
    // Prisma's parameters must not reach pg_dump either: libpq refuses parameters it does not know.
    let url = format!(
        "{}?schema=public&connection_limit=3&sslmode=disable",
        url_as(&tdb, &role, &password, &tdb.name)
    );
    let (db, _migrations) = plain_db(&url);
    let dir = tempfile::tempdir().unwrap();
    let backup = backup_in(&dir.path().join("ok"), BackupFormat::Custom);

    // pg_dump waits at its first lock until this transaction ends: it is surely seen running.
    let mut locker = lock_orders(&tdb).await;
    let (stop, scanner) = scan_command_lines("pg_dump", &tdb.name, &password);
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
    let mut locker = lock_orders(&tdb).await;
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
    let mut locker = lock_orders(&tdb).await;
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
    let archive = backed_up(&db, dir.path()).await;
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

/// Issue 16, must-work 2, for restores: `pg_restore` gets the password by its environment, as `pg_dump` does;
/// `/proc/*/cmdline` is scanned while it runs (it waits behind a lock on `orders`, so it is surely seen).
#[tokio::test]
async fn a_restore_carries_no_password_on_any_command_line() {
    let tdb = fresh_db().await;
    orders(&tdb, 100).await;
    let (role, password) = owner_with_password(&tdb, "deckhand_restorer").await;
    let (db, _migrations) = plain_db(&url_as(&tdb, &role, &password, &tdb.name));
    let backups = tempfile::tempdir().unwrap();
    let archive = backed_up(&db, backups.path()).await;

    let mut locker = lock_orders(&tdb).await;
    let (stop, scanner) = scan_command_lines("pg_restore", &tdb.name, &password);
    let restore = tokio::spawn({
        let (db, archive) = (db.clone(), archive.clone());
        async move {
            let tx = progress();
            let cancel = CancellationToken::new();
            pg::restore(&db, None, &archive, &RestoreMode::InPlace, &tx, &cancel).await
        }
    });
    let restoring = |name: &str| {
        command_lines()
            .iter()
            .any(|(_, cmd)| cmd.contains("pg_restore") && cmd.contains(name))
    };
    wait_for("pg_restore to start", || restoring(&tdb.name)).await;
    exec(&mut locker, "ROLLBACK").await;
    let report = restore.await.unwrap();
    stop.store(true, Ordering::SeqCst);
    let (seen, leaked) = scanner.join().unwrap();
    drop_role(&tdb, &role).await;
    let report = report.expect("restore as the role");
    assert!(seen, "pg_restore was never seen: the scan proves nothing");
    assert!(leaked.is_empty(), "password on a command line: {leaked:?}");
    assert!(!format!("{report:?}").contains(&password));
}
