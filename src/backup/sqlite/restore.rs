//! Restoring a SQLite archive in place (swap files, keep the replaced ones) and rehearsing the pending migrations
//! on a scratch copy beside the live file.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::progress::Reporter;
use super::{Leftovers, beside, conn, db_path, file_url, files, verify};
use crate::backup::rehearse::apply_pending;
use crate::backup::store;
use crate::backup::types::{
    Archive, ArchiveKind, BackupError, Progress, RehearsalReport, RestoreMode, RestoreReport, Stage,
};
use crate::migrate::db::target;
use crate::plan::{Database, Resolved};

/// Restores `archive` over the plan's database file. For an application the operator has stopped: the archive is
/// verified first (a bad one is refused), copied beside the database as `<db>.restoring` and fsynced, the live
/// database is checkpointed, then the live file and its `-wal`/`-shm`/`-journal` are moved aside to
/// `<db>.before-restore-<UTC time>` (`kept`) and the copy renamed into place, keeping the replaced file's
/// permissions and WAL mode. Cancel is honoured until the swap starts.
pub async fn restore(
    db: &Database,
    archive: &Archive,
    mode: &RestoreMode,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<RestoreReport, BackupError> {
    refuse_unfit(archive, mode)?;
    let started = Instant::now();
    let url = &db.url.value;
    let live = db_path(url)?;
    let check = verify(&archive.path, None, progress, cancel).await?;
    if !check.ok {
        return Err(BackupError::Refused(format!(
            "{} did not pass verification, so nothing was restored: {}",
            archive.path.display(),
            check.problems.join("; ")
        )));
    }

    let mut report = Reporter::new(progress, started);
    let size = store::size_of(&archive.path);
    report.stage(
        Stage::Restoring,
        Some(size),
        Some(live.display().to_string()),
    );
    let restoring = beside(&live, ".restoring");
    let mut leftovers = Leftovers {
        paths: vec![restoring.clone()],
    };
    // The replaced file's permissions carry over (the app's user must still be able to write it).
    let mode_bits = std::fs::metadata(&live).map_or(0o600, |m| m.permissions().mode() & 0o7777);
    let (from, to) = (archive.path.clone(), restoring.clone());
    files::blocking(&report, cancel, move |work| {
        files::copy_file(&from, &to, mode_bits, work)
    })
    .await?;
    if files::is_wal(&live) {
        set_wal(db, &restoring).await?;
    }
    if cancel.is_cancelled() {
        return Err(BackupError::Cancelled);
    }

    // From here on the restore runs to the end: stopping halfway would leave the database neither old nor new.
    checkpoint(db, &live).await;
    let stamp: String = store::format_utc(store::unix_now())
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let kept = files::swap_in(&live, &restoring, &stamp)?;
    leftovers.disarm();

    report.stage(Stage::Checking, None, Some(live.display().to_string()));
    let restored = read_tables(db, &live).await.map_err(|e| {
        let where_kept = kept
            .as_ref()
            .map(|k| format!("; the replaced database is at {}", k.display()))
            .unwrap_or_default();
        BackupError::Database {
            context: format!("restored {}, but reading it back failed", live.display()),
            message: format!("{e}{where_kept}"),
        }
    })?;
    let missing: Vec<String> = check
        .tables
        .iter()
        .filter(|t| !restored.contains(t))
        .cloned()
        .collect();
    let extra: Vec<String> = restored
        .iter()
        .filter(|t| !check.tables.contains(t))
        .cloned()
        .collect();
    Ok(RestoreReport {
        target: target(url),
        tables: check.tables.len() - missing.len(),
        missing,
        extra,
        dropped: Vec::new(),
        kept,
        unchecked: None,
        took: started.elapsed(),
    })
}

/// What a SQLite restore refuses before it starts: a new database (that is PostgreSQL's), a PostgreSQL archive.
fn refuse_unfit(archive: &Archive, mode: &RestoreMode) -> Result<(), BackupError> {
    if let RestoreMode::NewDatabase(_) = mode {
        return Err(BackupError::Refused(
            "restoring into a new database is for PostgreSQL; for SQLite, copy the backup file"
                .into(),
        ));
    }
    if archive.kind != ArchiveKind::Sqlite {
        return Err(BackupError::Refused(format!(
            "{} is a PostgreSQL backup, and the plan's database is SQLite",
            archive.path.display()
        )));
    }
    Ok(())
}

/// Puts the restored copy in WAL mode, as the database it replaces was: `VACUUM INTO` always writes a
/// rollback-journal file, and an application that does not set `journal_mode` itself would otherwise come back in
/// a mode where readers and writers block each other.
async fn set_wal(db: &Database, restoring: &Path) -> Result<(), BackupError> {
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(restoring)
        .create_if_missing(false)
        .busy_timeout(db.lock_timeout);
    let mut c = conn::connect(&opts, restoring).await?;
    let mode = sqlx::query_scalar::<_, String>("PRAGMA journal_mode = WAL")
        .fetch_one(&mut c)
        .await;
    conn::close(c).await;
    for suffix in ["-wal", "-shm"] {
        let side = beside(restoring, suffix);
        files::remove_if_present(&side).map_err(|e| store::io_err(&side, &e))?;
    }
    match mode {
        Ok(m) if m.eq_ignore_ascii_case("wal") => Ok(()),
        Ok(m) => Err(BackupError::Database {
            context: format!("putting {} in WAL mode", restoring.display()),
            message: format!("SQLite left it in {m} mode"),
        }),
        Err(e) => Err(conn::db_err(
            format!("putting {} in WAL mode", restoring.display()),
            &e,
        )),
    }
}

/// Folds a WAL database's log into the main file before it is moved aside, so the kept file is whole on its own
/// (its `-wal` is moved with it anyway). Not WAL, not there, or unreadable: nothing to do.
async fn checkpoint(db: &Database, live: &Path) {
    if !live.exists() {
        return;
    }
    let Ok(opts) = conn::live_options(db) else {
        return;
    };
    let mut c = match conn::connect(&opts, live).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("no checkpoint before the restore: {e}");
            return;
        }
    };
    if let Err(e) = sqlx::raw_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut c)
        .await
    {
        tracing::warn!("checkpoint before the restore: {}", conn::describe(&e));
    }
    conn::close(c).await;
}

async fn read_tables(db: &Database, live: &Path) -> Result<Vec<String>, String> {
    let mut c = conn::connect(&conn::live_options(db).map_err(|e| e.to_string())?, live)
        .await
        .map_err(|e| e.to_string())?;
    let tables = conn::tables(&mut c).await;
    conn::close(c).await;
    tables.map_err(|e| conn::describe(&e))
}

/// Copies `archive` to `<db>.rehearsal-<8 hex>` beside the live database (same folder, so relative paths in the
/// plan behave), applies the plan's pending migrations to the copy, and always deletes it (with its side files)
/// afterwards. The live database is not opened.
pub async fn rehearse(
    db: &Database,
    archive: &Archive,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<RehearsalReport, BackupError> {
    let started = Instant::now();
    if cancel.is_cancelled() {
        return Err(BackupError::Cancelled);
    }
    let live = db_path(&db.url.value)?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let scratch = beside(&live, &format!(".rehearsal-{}", &id[..8]));
    let mut report = Reporter::new(progress, started);
    report.stage(
        Stage::Restoring,
        Some(store::size_of(&archive.path)),
        Some(scratch.display().to_string()),
    );
    let (from, to) = (archive.path.clone(), scratch.clone());
    let copied = files::blocking(&report, cancel, move |work| {
        files::copy_file(&from, &to, crate::safe_fs::file_mode(), work)
    })
    .await;
    let restore_took = started.elapsed();
    let steps = match copied {
        Ok(_) => {
            let mut copy = db.clone();
            copy.url = Resolved::literal(&file_url(&scratch));
            apply_pending(&copy, started, progress, cancel).await
        }
        Err(e) => Err(e),
    };

    report.stage(Stage::Cleaning, None, Some(scratch.display().to_string()));
    let cleanup_error = files::remove_db_files(&scratch)
        .err()
        .map(|e| e.to_string());
    match steps {
        Ok(rehearsed) => Ok(RehearsalReport {
            scratch: scratch.display().to_string(),
            restore_took,
            steps: rehearsed.steps,
            way_back: rehearsed.way_back,
            dropped: cleanup_error.is_none(),
            cleanup_error,
            took: started.elapsed(),
        }),
        Err(e) => match (e, cleanup_error) {
            (e, None) => Err(e),
            (BackupError::Database { context, message }, Some(c)) => Err(BackupError::Database {
                context,
                message: format!("{message} (and the scratch copy was not removed: {c})"),
            }),
            (e, Some(c)) => {
                tracing::error!("rehearsal scratch copy not removed: {c}");
                Err(e)
            }
        },
    }
}
