#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]
//! The write counters a backup records and a restore's prompt compares with, on real databases: PostgreSQL's
//! statistics recorded in the backup's sidecar (so a later console adopting the backup from the folder has them),
//! rows inserted, updated and deleted since, a table dropped and created again, a reset of the statistics; SQLite's
//! row counts of the copy against the live file, and the file written since.

mod common;

use common::migrations as m;
use common::pg::{TestDb, fresh_db};
use common::pgbackup::{backed_up, exec, orders, plain_db};
use deckhand::backup::counters::{Change, CounterSource, Counters, Writes, loss, read_live};
use deckhand::backup::{Archive, Progress, Source, Stage, sqlite, store};
use deckhand::plan::{Backup, BackupFormat, Database};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Rows `orders` has had inserted, updated and deleted, as the statistics count them now.
async fn counted(db: &TestDb) -> (i64, i64, i64) {
    let mut c = db.connect().await;
    let row: (i64, i64, i64) = sqlx::query_as(
        "SELECT n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables WHERE relname = 'orders'",
    )
    .fetch_optional(&mut c)
    .await
    .unwrap()
    .unwrap_or((-1, -1, -1));
    c.close().await.unwrap();
    row
}

/// Runs `sql` on a connection of its own, closed at once (its statistics are flushed as its server process ends).
async fn run(db: &TestDb, sql: &str) {
    let mut c = db.connect().await;
    exec(&mut c, sql).await;
    c.close().await.unwrap();
}

fn writes(l: &deckhand::backup::counters::Loss, table: &str) -> Option<Change> {
    l.changed
        .iter()
        .find(|(t, _)| t == table)
        .map(|(_, c)| c.clone())
}

#[tokio::test]
async fn a_pg_backup_records_the_statistics_and_a_restore_is_told_the_writes_since() {
    let db = fresh_db().await;
    orders(&db, 10).await;
    common::wait_until("the seed counted", async || counted(&db).await.0 == 10).await;
    let (spec, _migs) = plain_db(&db.url);
    let dir = tempfile::tempdir().unwrap();
    let archive = backed_up(&spec, dir.path()).await;
    let recorded = archive.counters.clone().expect("counters recorded");
    assert_eq!(recorded.source, CounterSource::PgStatistics);
    let orders_then = recorded
        .tables
        .iter()
        .find(|t| t.table == "public.orders")
        .expect("orders counted");
    assert_eq!(orders_then.writes.unwrap().inserted, 10);
    // In the sidecar: a later console adopting the backup from the folder has them too.
    let listed = store::list(dir.path());
    assert_eq!(listed[0].counters, archive.counters);

    run(
        &db,
        "INSERT INTO orders VALUES (11, 'new'), (12, 'new'); \
         UPDATE orders SET note = 'changed' WHERE id <= 3; DELETE FROM orders WHERE id = 10; \
         CREATE TABLE audit (id int); INSERT INTO audit VALUES (1);",
    )
    .await;
    common::wait_until("the writes counted", async || {
        counted(&db).await == (12, 3, 1)
    })
    .await;
    let now = read_live(&spec).await.expect("counters read");
    let l = loss(&listed[0], Ok(&now), now.at_unix);
    assert_eq!(
        writes(&l, "public.orders"),
        Some(Change::Writes(Writes {
            inserted: 2,
            updated: 3,
            deleted: 1
        }))
    );
    assert_eq!(
        l.created
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>(),
        vec!["public.audit"]
    );
    assert_eq!(l.reset_since, None);

    // A reset of the statistics after the backup: said, and counted from the reset.
    run(&db, "SELECT pg_stat_reset();").await;
    run(&db, "INSERT INTO orders VALUES (13, 'after the reset');").await;
    common::wait_until("the reset seen", async || counted(&db).await.0 == 1).await;
    let now = read_live(&spec).await.unwrap();
    assert!(now.stats_reset_unix.is_some());
    let l = loss(&archive, Ok(&now), now.at_unix);
    assert!(l.reset_since.is_some(), "{l:?}");
    assert_eq!(
        writes(&l, "public.orders"),
        Some(Change::Writes(Writes {
            inserted: 1,
            updated: 0,
            deleted: 0
        }))
    );
    // A table dropped and created again under the same name: its writes cannot be counted.
    run(
        &db,
        "DROP TABLE orders; CREATE TABLE orders (id int PRIMARY KEY, note text);",
    )
    .await;
    let now = read_live(&spec).await.unwrap();
    let l = loss(&archive, Ok(&now), now.at_unix);
    assert_eq!(l.uncounted, vec!["public.orders".to_string()]);
}

#[tokio::test]
async fn reading_the_counters_of_an_unreachable_database_is_an_error_without_the_password() {
    let db = fresh_db().await;
    let url = format!("postgres://app:s3cr3t@127.0.0.1:{}/nowhere", db.port);
    let (spec, _migs) = plain_db(&url);
    let e = read_live(&spec).await.unwrap_err().to_string();
    assert!(!e.contains("s3cr3t"), "{e}");
}

/// A SQLite database with `orders`, and a backup folder.
fn sqlite_setup(dir: &std::path::Path) -> (Database, Backup) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("app.db").display());
    let migs = dir.join("migrations");
    std::fs::create_dir_all(&migs).unwrap();
    let db = m::database(&url, &migs, "sqlx");
    let backup = Backup {
        dir: dir.join("backups"),
        format: BackupFormat::Custom,
        keep: None,
        bin_dir: None,
    };
    (db, backup)
}

async fn sqlite_exec(db: &Database, sql: &str) {
    let mut c = SqliteConnection::connect(&db.url.value).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
}

async fn sqlite_backup(db: &Database, backup: &Backup) -> Archive {
    let src = Source {
        project: "shop",
        environment: "production",
        database: db,
        backup,
    };
    let progress: watch::Sender<Progress> =
        watch::channel(Progress::new(Stage::Preparing, std::time::Duration::ZERO)).0;
    sqlite::take(&src, &progress, &CancellationToken::new())
        .await
        .expect("backup taken")
}

#[tokio::test]
async fn a_sqlite_backup_counts_its_rows_and_a_restore_is_told_the_rows_and_the_write_since() {
    let dir = tempfile::tempdir().unwrap();
    let (db, backup) = sqlite_setup(dir.path());
    sqlite_exec(
        &db,
        "CREATE TABLE orders (id INTEGER PRIMARY KEY); INSERT INTO orders VALUES (1), (2), (3);",
    )
    .await;
    let archive = sqlite_backup(&db, &backup).await;
    let recorded: &Counters = archive.counters.as_ref().expect("rows counted");
    assert_eq!(recorded.source, CounterSource::RowCounts);
    assert_eq!(recorded.tables[0].rows, 3);

    sqlite_exec(&db, "INSERT INTO orders VALUES (4);").await;
    let now = read_live(&db).await.expect("rows counted now");
    let l = loss(&archive, Ok(&now), now.at_unix);
    assert_eq!(writes(&l, "orders"), Some(Change::Rows { then: 3, now: 4 }));
    assert!(l.written_since.is_some(), "{l:?}");
}
