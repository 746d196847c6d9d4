//! Restoring an archive: in place over the plan's database (`--clean --if-exists` in one transaction, so a failure
//! or a cancel changes nothing), or into a new database on the same server (refused if it exists, needs
//! CREATEDB, dropped again if the restore fails). Then the restored database's tables are compared with the
//! archive's.

use std::path::Path;
use std::time::Instant;

use sqlx::Connection;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::conn::{self, Conn};
use super::process::{self, Event, Invocation};
use super::toc::{self, Toc};
use super::tools::{self, Tool};
use super::{catalog, display_target, read_toc, send, share};
use crate::backup::{
    Archive, ArchiveKind, BackupError, Progress, RestoreMode, RestoreReport, Stage,
};
use crate::plan::Database;

/// What `pg_restore --verbose` prints as it starts loading a table's rows.
const PROCESSING: &str = "processing data for table";
/// PostgreSQL truncates longer identifiers (NAMEDATALEN - 1).
const MAX_NAME_BYTES: usize = 63;

/// Restores `archive` into the plan's database `db` (`RestoreMode::InPlace`) or into a new database on the same
/// server, then checks the result: the archive's tables missing from the restored database, and tables there that
/// the archive does not have. Progress: [`Stage::Restoring`] (share of the tables' data loaded, bytes read,
/// current table), then [`Stage::Checking`]. A failed restore is `BackupError::Tool` with `pg_restore`'s last
/// error lines.
pub async fn restore(
    db: &Database,
    bin_dir: Option<&Path>,
    archive: &Archive,
    mode: &RestoreMode,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<RestoreReport, BackupError> {
    let started = Instant::now();
    send(progress, Stage::Preparing, started, 0, None, None);
    check_archive(archive, started, progress).await?;
    let url = &db.url.value;
    let conn = Conn::parse(url)?;
    let mut admin = catalog::connect(db, url, &conn, cancel).await?;
    let server = catalog::server(&mut admin).await?;
    let tool = tools::find("pg_restore", bin_dir, Some(&server)).await?;
    tools::check_archive(&tool, &archive.tool)?;
    let (toc, listed) = read_toc(&tool, &archive.path, cancel).await?;
    if !listed.success {
        return Err(listed.failure(&tool, "nothing was restored"));
    }

    let (target_url, created) = prepare_target(&mut admin, url, mode, &server).await?;
    let target = Conn::parse(&target_url)?;
    let how = Load {
        clean: created.is_none(),
        single_transaction: true,
    };
    let loaded = load(
        &tool,
        &target,
        &archive.path,
        &toc,
        how,
        started,
        progress,
        cancel,
    )
    .await;
    if let Err(e) = loaded {
        if let Some(name) = &created {
            // Ours, and empty (the single transaction rolled back): it goes again.
            if let Err(drop_err) = catalog::drop_database(&mut admin, name, &server).await {
                return Err(BackupError::Database {
                    context: format!("{e}; the new database {name} could not be dropped again"),
                    message: drop_err.to_string(),
                });
            }
        }
        return Err(e);
    }
    let _ = admin.conn.close().await;

    // The restore has committed: from here nothing cancels, and a failed check is reported, not an error.
    send(progress, Stage::Checking, started, 0, None, None);
    let (live, dropped) = check_restored(db, &target_url, &target, mode, &toc).await?;
    let (missing, extra, unchecked) = match live {
        Ok(live) => (
            toc::absent_from(&toc, &live),
            toc::missing_from(&toc, &live),
            None,
        ),
        Err(e) => (Vec::new(), Vec::new(), Some(e.to_string())),
    };
    Ok(RestoreReport {
        target: display_target(&target_url),
        tables: toc.tables.len().saturating_sub(missing.len()),
        missing,
        extra,
        dropped,
        kept: None,
        unchecked,
        took: started.elapsed(),
    })
}

/// Where the archive goes: the plan's database itself, or a new database of that name, created here after
/// checking the name is free and the role may create it. The target URL, and the database created, if any.
async fn prepare_target(
    admin: &mut crate::migrate::db::Db,
    url: &str,
    mode: &RestoreMode,
    server: &tools::Server,
) -> Result<(String, Option<String>), BackupError> {
    match mode {
        RestoreMode::InPlace | RestoreMode::Rollback => Ok((url.to_string(), None)),
        RestoreMode::NewDatabase(name) => {
            check_new_name(name)?;
            if catalog::database_exists(admin, name).await? {
                return Err(BackupError::Refused(format!(
                    "database {name} already exists on {}: restoring into a new database needs a name not in \
                     use",
                    display_target(url)
                )));
            }
            let (role, may) = catalog::may_create_databases(admin).await?;
            if !may {
                return Err(BackupError::NoCreateDb { role });
            }
            catalog::create_database(admin, name, server).await?;
            Ok((conn::with_database(url, name), Some(name.clone())))
        }
    }
}

/// After the restore committed (nothing cancels any more): a rollback drops the tables created since the backup;
/// then the restored database's tables are listed for the check. The listing (a failure to list is reported by
/// the check, not an error) and the tables dropped. A rollback that cannot drop them, or cannot connect to say
/// so, is an error.
async fn check_restored(
    db: &Database,
    target_url: &str,
    target: &Conn,
    mode: &RestoreMode,
    toc: &Toc,
) -> Result<(Result<Vec<catalog::LiveTable>, BackupError>, Vec<String>), BackupError> {
    let never = CancellationToken::new();
    let mut dropped = Vec::new();
    let live = match catalog::connect(db, target_url, target, &never).await {
        Ok(mut restored) => {
            let mut live = catalog::live_tables(&mut restored).await;
            if *mode == RestoreMode::Rollback {
                let tables = match &live {
                    Ok(t) => t,
                    Err(e) => {
                        return Err(BackupError::Database {
                            context: "the restore committed, but the tables created since the backup could \
                                      not be listed (so not dropped)"
                                .into(),
                            message: e.to_string(),
                        });
                    }
                };
                match drop_newer_tables(&mut restored, toc, tables).await {
                    Ok(names) => dropped = names,
                    Err(e) => {
                        return Err(BackupError::Database {
                            context: "the restore committed, but the tables created since the backup could not \
                                      be dropped"
                                .into(),
                            message: e.to_string(),
                        });
                    }
                }
                live = catalog::live_tables(&mut restored).await;
            }
            let _ = restored.conn.close().await;
            live
        }
        // A rollback must know the newer tables went: without a connection it cannot say so.
        Err(e) if *mode == RestoreMode::Rollback => return Err(e),
        Err(e) => Err(e),
    };
    Ok((live, dropped))
}

/// Drops, in one statement (all or none), the live tables the archive does not have; returns them as
/// `schema.table`.
async fn drop_newer_tables(
    db: &mut crate::migrate::db::Db,
    toc: &toc::Toc,
    live: &[catalog::LiveTable],
) -> Result<Vec<String>, sqlx::Error> {
    let newer: Vec<&catalog::LiveTable> = live
        .iter()
        .filter(|l| toc::missing_from(toc, std::slice::from_ref(*l)).len() == 1)
        .collect();
    if newer.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<String> = newer
        .iter()
        .map(|t| {
            format!(
                "{}.{}",
                catalog::quote_ident(&t.schema),
                catalog::quote_ident(&t.name)
            )
        })
        .collect();
    let sql = format!("DROP TABLE IF EXISTS {} CASCADE", names.join(", "));
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut db.conn)
        .await?;
    Ok(newer.iter().map(|t| t.qualified()).collect())
}

/// How [`load`] runs `pg_restore`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Load {
    /// `--clean --if-exists`: drop the archive's objects first (restoring over an existing database).
    pub clean: bool,
    /// `--single-transaction`: all or nothing.
    pub single_transaction: bool,
}

/// Runs `pg_restore --exit-on-error` of `archive` into `target` with [`Stage::Restoring`] progress.
#[allow(clippy::too_many_arguments)]
pub(super) async fn load(
    tool: &Tool,
    target: &Conn,
    archive: &Path,
    toc: &Toc,
    how: Load,
    started: Instant,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<(), BackupError> {
    let mut args: Vec<std::ffi::OsString> = vec![
        "--verbose".into(),
        "--no-password".into(),
        "--exit-on-error".into(),
    ];
    if how.clean {
        args.push("--clean".into());
        args.push("--if-exists".into());
    }
    if how.single_transaction {
        args.push("--single-transaction".into());
    }
    args.push(target.dbname_arg().into());
    args.push(archive.as_os_str().to_owned());
    let total = toc.data_entries as u64;
    let mut started_tables = 0u64;
    let mut current: Option<String> = None;
    let inv = Invocation {
        tool,
        args,
        conn: Some(target),
        capture_stdout: false,
    };
    send(
        progress,
        Stage::Restoring,
        started,
        0,
        share(0, total),
        None,
    );
    let finished = process::run(inv, cancel, &mut |event| match event {
        Event::Line(line) => {
            if let Some(table) = toc::table_in(line, PROCESSING) {
                started_tables += 1;
                current = Some(table);
            }
        }
        Event::Tick { pid } => {
            let bytes = process::rchar(pid).unwrap_or(0);
            // Tables started before the current one count as done.
            let permille = share(started_tables.saturating_sub(1), total);
            send(
                progress,
                Stage::Restoring,
                started,
                bytes,
                permille,
                current.clone(),
            );
        }
    })
    .await?;
    if finished.success {
        return Ok(());
    }
    let note = if how.single_transaction {
        "rolled back: nothing was changed"
    } else {
        ""
    };
    Err(finished.failure(tool, note))
}

/// The archive must be a PostgreSQL one, still there and still the size it was written.
/// [`check_archive_file`], then the archive's sha256 against the one recorded when it was taken (a damaged
/// archive is refused before anything is dropped).
pub(super) async fn check_archive(
    archive: &Archive,
    started: Instant,
    progress: &watch::Sender<Progress>,
) -> Result<(), BackupError> {
    check_archive_file(archive)?;
    send(progress, Stage::Hashing, started, 0, None, None);
    let path = archive.path.clone();
    let sha = tokio::task::spawn_blocking(move || crate::backup::store::sha256_path(&path, |_| {}))
        .await
        .map_err(|e| BackupError::Io {
            path: archive.path.display().to_string(),
            message: e.to_string(),
        })??;
    if sha != archive.sha256 {
        return Err(BackupError::Refused(format!(
            "{}: sha256 differs from the one recorded when the backup was taken: it changed or is damaged",
            archive.path.display()
        )));
    }
    Ok(())
}

pub(super) fn check_archive_file(archive: &Archive) -> Result<(), BackupError> {
    if archive.kind == ArchiveKind::Sqlite {
        return Err(BackupError::Refused(format!(
            "{} is a SQLite backup, not a PostgreSQL archive",
            archive.path.display()
        )));
    }
    if std::fs::symlink_metadata(&archive.path).is_err() {
        return Err(BackupError::Io {
            path: archive.path.display().to_string(),
            message: "the archive is gone".into(),
        });
    }
    let size = crate::backup::store::size_of(&archive.path);
    if size != archive.size {
        return Err(BackupError::Refused(format!(
            "{} is {size} bytes but was {} when it was taken: it changed or is damaged (verify it)",
            archive.path.display(),
            archive.size
        )));
    }
    Ok(())
}

fn check_new_name(name: &str) -> Result<(), BackupError> {
    if name.is_empty() || name.len() > MAX_NAME_BYTES || name.contains('\0') {
        return Err(BackupError::Refused(format!(
            "{name:?} cannot be a database name: 1 to {MAX_NAME_BYTES} bytes"
        )));
    }
    Ok(())
}
