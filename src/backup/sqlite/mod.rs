//! SQLite backups. A backup is `VACUUM INTO` a new file over a connection to the live database: a consistent copy
//! taken while the application runs (in WAL mode it reads a snapshot and never blocks writers; in rollback-journal
//! mode it holds a read lock, which makes writers wait, for as long as the copy takes). Verification checks the
//! recorded sha256, the header against the file's size, `PRAGMA integrity_check` on a read-only open, and the
//! table list. An in-place restore swaps files and keeps the replaced one beside the database; a rehearsal applies
//! the pending migrations to a scratch copy next to the live file and always deletes it.

mod conn;
pub mod counters;
mod files;
mod progress;
mod restore;
mod verify;

use std::path::{Path, PathBuf};
use std::time::Instant;

use sqlx::AssertSqlSafe;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use self::progress::{Reporter, ticking};
use super::counters::Counters;
use super::store::{self, io_err};
use super::types::{Archive, ArchiveKind, BackupError, Progress, Source, Stage};
use crate::migrate::db::target;

pub use self::restore::{rehearse, restore};
pub use self::verify::verify;

/// What [`Archive::tool`] says for a SQLite backup.
pub const TOOL: &str = "sqlite VACUUM INTO";

/// The database file a `sqlite:` URL names (`sqlite://shop.db?mode=rwc`, `sqlite:shop.db`, `sqlite:///abs/x.db`).
pub fn db_path(url: &str) -> Result<PathBuf, BackupError> {
    if !url.starts_with("sqlite:") {
        return Err(BackupError::Refused(format!(
            "not a SQLite database URL: {}",
            target(url)
        )));
    }
    // As sqlx reads it: scheme off, query off, the rest percent-decoded.
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
    let in_memory =
        url::form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == "mode" && v == "memory");
    if file.is_empty() || file == ":memory:" || in_memory {
        return Err(BackupError::Refused(
            "an in-memory SQLite database has no file to back up".into(),
        ));
    }
    percent_decode(file).map(PathBuf::from).ok_or_else(|| {
        BackupError::Refused(format!(
            "the file name in {} is not valid UTF-8 once decoded",
            target(url)
        ))
    })
}

/// `%XY` escapes decoded (a `%` not followed by two hex digits stays as it is).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A `sqlite://` URL for a file (read-write, never created), escaped so sqlx reads the same path back.
pub fn file_url(path: &Path) -> String {
    let mut s = String::from("sqlite://");
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => s.push_str("%25"),
            '?' => s.push_str("%3F"),
            '#' => s.push_str("%23"),
            c => s.push(c),
        }
    }
    s.push_str("?mode=rw");
    s
}

/// `<path><suffix>`: a file beside the database.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    files::with_suffix(path, suffix)
}

/// The database file's name: what a restore asks the operator to type, and part of the archive's name.
fn file_name(path: &Path) -> Result<String, BackupError> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| BackupError::Refused(format!("{} names no file", path.display())))
}

/// Removes the files at `paths` when dropped, unless disarmed: an interrupted backup or restore leaves no partial
/// file behind.
struct Leftovers {
    paths: Vec<PathBuf>,
}

impl Leftovers {
    fn disarm(&mut self) {
        self.paths.clear();
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        for p in &self.paths {
            if let Err(e) = files::remove_db_files(p) {
                tracing::warn!("could not remove {}: {e}", p.display());
            }
        }
    }
}

/// Takes a backup of `src.database` into `src.backup.dir` with `VACUUM INTO`, written as `<name>.partial` and
/// renamed once private (0600), fsynced and hashed; writes its sidecar. Does not verify it or apply retention.
pub async fn take(
    src: &Source<'_>,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Archive, BackupError> {
    let started = Instant::now();
    let created_unix = store::unix_now();
    let mut report = Reporter::new(progress, started);
    report.stage(Stage::Preparing, None, None);
    if cancel.is_cancelled() {
        return Err(BackupError::Cancelled);
    }
    let url = &src.database.url.value;
    let (live, dbname) = live_file(url)?;
    store::ensure_dir(&src.backup.dir)?;
    let archive = new_archive_path(src, &dbname, created_unix)?;
    let partial = store::partial_path(&archive);
    let sql = vacuum_into(&partial)?;

    let mut conn = conn::connect(&conn::live_options(src.database)?, &live).await?;
    let facts = version_and_size(&mut conn).await;
    let (server_version, source_bytes) = match facts {
        Ok(f) => f,
        Err(e) => {
            conn::close(conn).await;
            return Err(conn::db_err(format!("reading {}", live.display()), &e));
        }
    };
    // A child token, cancelled when `take` is dropped mid-copy, so an abandoned VACUUM stops too.
    let stop = cancel.child_token();
    let abandon = stop.clone().drop_guard();
    let mut leftovers = Leftovers {
        paths: vec![partial.clone()],
    };
    files::create_private_empty(&partial)?;
    conn::interrupt_on(&mut conn, &stop, &live).await?;

    report.stage(
        Stage::Dumping,
        u64::try_from(source_bytes).ok(),
        Some(dbname.clone()),
    );
    let vacuum = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn);
    let result = ticking(vacuum, || report.bytes(store::size_of(&partial))).await;
    conn::close(conn).await;
    if cancel.is_cancelled() {
        return Err(BackupError::Cancelled);
    }
    result.map_err(|e| conn::db_err(format!("VACUUM INTO {}", partial.display()), &e))?;
    let counters = copy_counters(&partial, created_unix).await;

    let size = store::size_of(&partial);
    report.stage(Stage::Hashing, Some(size), Some(dbname.clone()));
    let sealed = partial.clone();
    let sha256 = files::blocking(&report, cancel, move |work| {
        files::seal_and_hash(&sealed, work)
    })
    .await?;
    if cancel.is_cancelled() {
        return Err(BackupError::Cancelled);
    }
    std::fs::rename(&partial, &archive).map_err(|e| io_err(&archive, &e))?;
    leftovers.paths = vec![archive.clone()];
    store::sync_parent(&archive).map_err(|e| io_err(&archive, &e))?;
    let record = Archive {
        path: archive,
        kind: ArchiveKind::Sqlite,
        project: src.project.to_string(),
        environment: src.environment.to_string(),
        database: target(url),
        dbname,
        created_unix,
        size,
        sha256,
        server_version,
        tool: TOOL.to_string(),
        took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        verified: None,
        counters,
    };
    store::write_sidecar(&record)?;
    leftovers.disarm();
    abandon.disarm();
    Ok(record)
}

/// The copy's own rows, exactly what a restore of it brings back; none when they cannot be counted (the restore
/// prompt then says what it loses is unknown).
async fn copy_counters(copy: &Path, created_unix: u64) -> Option<Counters> {
    match counters::read_copy(copy).await {
        Ok(c) => Some(Counters {
            at_unix: created_unix,
            ..c
        }),
        Err(e) => {
            tracing::warn!(error = %e, "the backup records no row counts");
            None
        }
    }
}

/// The live database's file (it must be one) and its name.
fn live_file(url: &str) -> Result<(PathBuf, String), BackupError> {
    let live = db_path(url)?;
    let meta = std::fs::metadata(&live).map_err(|e| io_err(&live, &e))?;
    if !meta.is_file() {
        return Err(BackupError::Refused(format!(
            "{} is not a database file",
            live.display()
        )));
    }
    let dbname = file_name(&live)?;
    Ok((live, dbname))
}

/// The new archive's absolute path in the backup folder: a free name (see [`store::free_archive_path`]).
fn new_archive_path(
    src: &Source<'_>,
    dbname: &str,
    created_unix: u64,
) -> Result<PathBuf, BackupError> {
    let named = store::archive_path(
        &src.backup.dir,
        src.project,
        src.environment,
        dbname,
        created_unix,
        ArchiveKind::Sqlite,
    );
    let archive = std::path::absolute(&named).map_err(|e| io_err(&named, &e))?;
    store::free_archive_path(&archive).ok_or_else(|| {
        BackupError::Refused(format!(
            "{} and 98 names after it are taken (backups of this database this very second): try again",
            archive.display()
        ))
    })
}

/// The `VACUUM INTO` statement writing to `partial`, which must be UTF-8.
fn vacuum_into(partial: &Path) -> Result<String, BackupError> {
    let Some(partial_str) = partial.to_str() else {
        return Err(BackupError::Refused(format!(
            "{} is not valid UTF-8, which VACUUM INTO needs",
            partial.display()
        )));
    };
    Ok(format!("VACUUM INTO '{}'", partial_str.replace('\'', "''")))
}

/// SQLite's version and the database's size in bytes (pages times page size).
async fn version_and_size(conn: &mut SqliteConnection) -> Result<(String, i64), sqlx::Error> {
    let version: String = sqlx::query_scalar("SELECT sqlite_version()")
        .fetch_one(&mut *conn)
        .await?;
    let page_count: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&mut *conn)
        .await?;
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut *conn)
        .await?;
    Ok((version, page_count.max(0) * page_size.max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_path_reads_urls_as_sqlx_does() {
        let p = |u: &str| db_path(u).unwrap();
        assert_eq!(p("sqlite://shop.db?mode=rwc"), Path::new("shop.db"));
        assert_eq!(p("sqlite:shop.db"), Path::new("shop.db"));
        assert_eq!(p("sqlite:///abs/x.db"), Path::new("/abs/x.db"));
        assert_eq!(p("sqlite://data/a%3Fb.db"), Path::new("data/a?b.db"));
        assert!(matches!(
            db_path("sqlite::memory:"),
            Err(BackupError::Refused(_))
        ));
        assert!(matches!(
            db_path("sqlite://x.db?mode=memory"),
            Err(BackupError::Refused(_))
        ));
        assert!(matches!(
            db_path("postgres://h/db"),
            Err(BackupError::Refused(_))
        ));
    }

    #[test]
    fn file_urls_round_trip_through_db_path() {
        for p in ["/tmp/a b/x.db", "rel/x%y?.db", "/t/#1.db"] {
            assert_eq!(db_path(&file_url(Path::new(p))).unwrap(), Path::new(p));
        }
    }
}
