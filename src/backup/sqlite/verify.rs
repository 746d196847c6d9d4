//! Verifying a SQLite archive: the sha256 and size its sidecar recorded, the header against the file's size,
//! `PRAGMA integrity_check` on a read-only open, and its tables against the live database's.

use std::path::Path;
use std::time::Instant;

use sqlx::Connection;
use sqlx::sqlite::SqliteConnection;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::conn;
use super::files;
use super::progress::{Reporter, ticking};
use crate::backup::store::{self, io_err};
use crate::backup::types::{Archive, BackupError, Progress, Stage, Verification};
use crate::plan::Database;

/// Reads the whole archive at `path` back. Every reason it is not good is a line in `problems` (a damaged or
/// unreadable file is a problem, not an error); `Err` only when the file cannot be looked at, or on cancel. With
/// `live`, the live database's tables that the archive lacks are problems too. A passed verification is recorded
/// in the archive's sidecar, and a failed one clears an earlier pass.
pub async fn verify(
    path: &Path,
    live: Option<&Database>,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Verification, BackupError> {
    let started = Instant::now();
    let mut report = Reporter::new(progress, started);
    report.stage(Stage::Preparing, None, None);
    let cancelled = || {
        if cancel.is_cancelled() {
            Err(BackupError::Cancelled)
        } else {
            Ok(())
        }
    };
    cancelled()?;
    let meta = std::fs::metadata(path).map_err(|e| io_err(path, &e))?;
    let mut problems = Vec::new();
    if !meta.is_file() {
        problems.push("not a file: a SQLite backup is one database file".to_string());
    }
    let size = meta.len();
    let record = store::read_sidecar(path);

    if let Some(rec) = record.as_ref().filter(|_| meta.is_file()) {
        problems.extend(against_record(path, rec, size, &mut report, cancel).await?);
    }

    let header = if meta.is_file() {
        files::check_header(path, size)?
    } else {
        files::Header {
            sqlite: false,
            problems: Vec::new(),
        }
    };
    problems.extend(header.problems);
    let mut tables = Vec::new();
    if header.sqlite {
        report.stage(Stage::Verifying, None, Some("integrity_check".into()));
        match read_archive(path, cancel, &report).await {
            Ok((rows, t)) => {
                problems.extend(
                    rows.into_iter()
                        .filter(|r| r != "ok")
                        .map(|r| format!("integrity_check: {r}")),
                );
                tables = t;
            }
            Err(e) => {
                cancelled()?;
                problems.push(e);
            }
        }
    }

    let mut missing = Vec::new();
    let mut compared_with_live = false;
    if let Some(db) = live {
        cancelled()?;
        report.stage(
            Stage::Checking,
            None,
            Some("tables of the live database".into()),
        );
        (missing, compared_with_live) = compare_with_live(db, &tables, &mut problems).await;
    }
    cancelled()?;

    let took = started.elapsed();
    let ok = problems.is_empty();
    // Without a record nothing proves the schema (no checksum covers it) is the one that was backed up.
    let proven = ok && record.is_some();
    let outcome = Verification {
        ok,
        tables,
        missing,
        compared_with_live,
        proven,
        problems,
        schema_changes: Vec::new(),
        took,
    };
    store::record_verification(record, path, &outcome)?;
    Ok(outcome)
}

/// The archive's size and sha256 against its sidecar record `rec` ([`Stage::Hashing`]): the problems found.
async fn against_record(
    path: &Path,
    rec: &Archive,
    size: u64,
    report: &mut Reporter<'_>,
    cancel: &CancellationToken,
) -> Result<Vec<String>, BackupError> {
    let mut problems = Vec::new();
    if rec.size != size {
        problems.push(format!(
            "the file has {size} bytes, the backup recorded {} when it was taken",
            rec.size
        ));
    }
    report.stage(Stage::Hashing, Some(size), None);
    let hashed = path.to_path_buf();
    let sha = files::blocking(report, cancel, move |work| {
        store::sha256_path(&hashed, |n| work.set_bytes(n))
    })
    .await?;
    if sha != rec.sha256 {
        problems.push(
            "sha256 differs from the one recorded when the backup was taken: the file changed or is damaged"
                .into(),
        );
    }
    Ok(problems)
}

/// The live database's tables that the archive's `tables` lack, each also a problem, and whether the comparison
/// could be made (a failure to read the live database is a problem too).
async fn compare_with_live(
    db: &Database,
    tables: &[String],
    problems: &mut Vec<String>,
) -> (Vec<String>, bool) {
    match live_tables(db).await {
        Ok(live_tables) => {
            let missing: Vec<String> = live_tables
                .into_iter()
                .filter(|t| !tables.contains(t))
                .collect();
            problems.extend(
                missing
                    .iter()
                    .map(|t| format!("table {t} of the live database is not in the backup")),
            );
            (missing, true)
        }
        Err(e) => {
            problems.push(format!("could not compare with the live database: {e}"));
            (Vec::new(), false)
        }
    }
}

/// `PRAGMA integrity_check`'s rows and the tables of the archive, opened read-only; any failure as one line.
async fn read_archive(
    path: &Path,
    cancel: &CancellationToken,
    report: &Reporter<'_>,
) -> Result<(Vec<String>, Vec<String>), String> {
    let mut c = SqliteConnection::connect_with(&conn::archive_options(path))
        .await
        .map_err(|e| {
            format!(
                "cannot open it as a SQLite database: {}",
                conn::describe(&e)
            )
        })?;
    let read = async {
        conn::interrupt_on(&mut c, cancel, path)
            .await
            .map_err(|e| e.to_string())?;
        let rows = ticking(conn::integrity_check(&mut c), || report.tick())
            .await
            .map_err(|e| format!("integrity_check could not run: {}", conn::describe(&e)))?;
        let tables = conn::tables(&mut c)
            .await
            .map_err(|e| format!("cannot list its tables: {}", conn::describe(&e)))?;
        Ok((rows, tables))
    }
    .await;
    conn::close(c).await;
    read
}

async fn live_tables(db: &Database) -> Result<Vec<String>, BackupError> {
    let path = super::db_path(&db.url.value)?;
    let mut c = conn::connect(&conn::live_options(db)?, &path).await?;
    let tables = conn::tables(&mut c).await;
    conn::close(c).await;
    tables.map_err(|e| conn::db_err(format!("listing the tables of {}", path.display()), &e))
}
