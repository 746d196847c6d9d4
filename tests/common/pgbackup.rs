//! Helpers for the PostgreSQL backup tests: taking and verifying with test defaults, SQL shortcuts, a table of
//! rows, process command lines from /proc, waiting for a condition.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::migrations as m;
use super::pg::TestDb;
use deckhand::backup::{Archive, BackupError, Progress, Source, Stage, Verification, pg};
use deckhand::plan::{Backup, BackupFormat, Database};
use sqlx::{AssertSqlSafe, PgConnection};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Bound on waiting for something that must happen (a hang guard, not a timing assertion).
pub const WAIT_LIMIT: Duration = Duration::from_secs(30);

pub fn progress() -> watch::Sender<Progress> {
    watch::channel(Progress::new(Stage::Preparing, Duration::ZERO)).0
}

pub fn backup_in(dir: &Path, format: BackupFormat) -> Backup {
    Backup {
        dir: dir.to_path_buf(),
        format,
        keep: None,
        bin_dir: None,
    }
}

pub async fn take(db: &Database, backup: &Backup) -> Result<Archive, BackupError> {
    let src = Source {
        project: "shop",
        environment: "staging",
        database: db,
        backup,
    };
    pg::take(&src, &progress(), &CancellationToken::new()).await
}

/// A custom-format backup of `db` into `dir`; the test fails if it cannot be taken.
pub async fn backed_up(db: &Database, dir: &Path) -> Archive {
    take(db, &backup_in(dir, BackupFormat::Custom))
        .await
        .expect("backup")
}

/// A connection holding `orders` in ACCESS EXCLUSIVE mode until it rolls back: pg_dump waits at its first lock
/// behind it, so it is surely seen running.
pub async fn lock_orders(tdb: &TestDb) -> PgConnection {
    let mut locker = tdb.connect().await;
    exec(
        &mut locker,
        "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE",
    )
    .await;
    locker
}

pub async fn verify(path: &Path, live: Option<&Database>) -> Verification {
    pg::verify(path, live, None, &progress(), &CancellationToken::new())
        .await
        .expect("verification runs")
}

pub async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

pub async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(sql.to_string()))
        .fetch_one(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// A plan `[database]` for `url` with an empty sqlx migrations folder (kept alive by the returned guard).
pub fn plain_db(url: &str) -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (m::database(url, dir.path(), "sqlx"), dir)
}

/// `orders(id, note)` with `rows` rows whose note is md5 of the id.
pub async fn orders(tdb: &TestDb, rows: u32) {
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
pub fn command_lines() -> Vec<(u32, String)> {
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

pub fn pg_dump_running_for(dbname: &str) -> bool {
    command_lines()
        .iter()
        .any(|(_, cmd)| cmd.contains("pg_dump") && cmd.contains(dbname))
}

pub async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT_LIMIT;
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}
