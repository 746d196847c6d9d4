//! Taking a backup: check the server's version against `pg_dump`'s, dump into `<archive>.partial` (mode 0600, a
//! 0700 folder for the directory format) with progress weighted by table size, fsync, hash, rename into place and
//! write the sidecar. Anything short of that (failure, cancel, a dropped future) removes what was written.

use std::collections::HashMap;
use std::fs::{self, File};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

use sqlx::Connection;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::conn::Conn;
use super::process::{self, Event, Invocation};
use super::{catalog, display_target, send, share, toc, tools};
use crate::backup::counters::Counters;
use crate::backup::{Archive, ArchiveKind, BackupError, Progress, Source, Stage, store};
use crate::plan::BackupFormat;

/// What `pg_dump --verbose` prints as it starts on a table's rows.
const DUMPING: &str = "dumping contents of table";

/// Dumps `src.database` into a new archive in `src.backup.dir` and records it in a sidecar. Progress:
/// [`Stage::Preparing`], [`Stage::Dumping`] (bytes written, share of the tables' size done, current table),
/// [`Stage::Hashing`]. Fails before writing anything when `pg_dump` is older than the server. Does not verify the
/// archive and does not apply retention: the caller verifies, then calls [`store::retain`].
pub async fn take(
    src: &Source<'_>,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Archive, BackupError> {
    let started = Instant::now();
    let created_unix = store::unix_now();
    send(progress, Stage::Preparing, started, 0, None, None);
    let url = &src.database.url.value;
    let conn = Conn::parse(url)?;
    let (server, sizes, counters) = server_and_sizes(src, url, &conn, cancel).await?;
    let tool = tools::find("pg_dump", src.backup.bin_dir.as_deref(), Some(&server)).await?;
    tools::check_server(&tool, &server)?;

    let kind = match src.backup.format {
        BackupFormat::Custom => ArchiveKind::PgCustom,
        BackupFormat::Directory { .. } => ArchiveKind::PgDirectory,
    };
    let path = store::archive_path(
        &src.backup.dir,
        src.project,
        src.environment,
        &conn.dbname,
        created_unix,
        kind,
    );
    let Some(path) = store::free_archive_path(&path) else {
        return Err(BackupError::Refused(format!(
            "{} and 98 names after it are taken (backups of this database this very second): try again",
            path.display()
        )));
    };
    store::ensure_dir(&src.backup.dir)?;
    let partial = store::partial_path(&path);
    let mut written = Written::create(&partial, kind)?;

    let inv = Invocation {
        tool: &tool,
        args: dump_args(src.backup.format, &partial, &conn),
        conn: Some(&conn),
        capture_stdout: false,
    };
    let finished = dump(inv, &sizes, &partial, started, progress, cancel).await?;
    if !finished.success {
        return Err(finished.failure(&tool, "the partial archive was removed"));
    }
    let size = store::size_of(&partial);
    send(progress, Stage::Dumping, started, size, Some(1000), None);
    seal(&partial, kind).map_err(|e| store::io_err(&partial, &e))?;
    let sha256 = process::hash(&partial, Stage::Hashing, started, progress, cancel).await?;
    if cancel.is_cancelled() {
        return Err(BackupError::Cancelled);
    }
    fs::rename(&partial, &path).map_err(|e| store::io_err(&path, &e))?;
    written.path = path.clone();
    store::sync_parent(&path).map_err(|e| store::io_err(&path, &e))?;
    let archive = Archive {
        path,
        kind,
        project: src.project.to_string(),
        environment: src.environment.to_string(),
        database: display_target(url),
        dbname: conn.dbname.clone(),
        created_unix,
        size,
        sha256,
        server_version: server.version.clone(),
        tool: tool.version_line.clone(),
        took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        verified: None,
        counters,
    };
    store::write_sidecar(&archive)?;
    written.keep();
    Ok(archive)
}

/// The server (for its version), each table's size in bytes, exact where the role may read them, else the
/// catalog's estimate (the weights of the dump's progress), and the write counters before the dump starts (a
/// write between the two counts as after the backup: a restore's loss is over-, never under-stated). Counters that
/// cannot be read cost the backup nothing: the restore prompt then says they are unknown.
async fn server_and_sizes(
    src: &Source<'_>,
    url: &str,
    conn: &Conn,
    cancel: &CancellationToken,
) -> Result<(tools::Server, HashMap<String, u64>, Option<Counters>), BackupError> {
    let mut db = catalog::connect(src.database, url, conn, cancel).await?;
    let server = catalog::server(&mut db).await?;
    let tables = catalog::live_tables(&mut db).await?;
    let mut sizes: HashMap<String, u64> = tables.iter().map(|t| (t.qualified(), t.bytes)).collect();
    match catalog::exact_sizes(&mut db).await {
        Ok(exact) => sizes.extend(exact),
        Err(e) => tracing::info!(error = %e, "progress weighs tables by estimated sizes"),
    }
    let counters = match super::counters::read(&mut db.conn).await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "the backup records no write counters");
            None
        }
    };
    let _ = db.conn.close().await;
    Ok((server, sizes, counters))
}

/// `pg_dump`'s arguments: verbose (progress is read from it), never a password prompt, the format, into `partial`.
fn dump_args(format: BackupFormat, partial: &Path, conn: &Conn) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec!["--verbose".into(), "--no-password".into()];
    match format {
        BackupFormat::Custom => args.push("--format=custom".into()),
        BackupFormat::Directory { jobs } => {
            args.push("--format=directory".into());
            args.push(format!("--jobs={}", jobs.max(1)).into());
        }
    }
    let mut file_arg = std::ffi::OsString::from("--file=");
    file_arg.push(partial);
    args.push(file_arg);
    args.push(conn.dbname_arg().into());
    args
}

/// Runs `pg_dump` to the end with [`Stage::Dumping`] progress: bytes written to `partial`, and the share of the
/// tables' size done (a table counts as done once the next one starts).
async fn dump(
    inv: Invocation<'_>,
    sizes: &HashMap<String, u64>,
    partial: &Path,
    started: Instant,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<process::Finished, BackupError> {
    let total: u64 = sizes.values().sum();
    let mut done = 0u64;
    let mut current: Option<String> = None;
    process::run(inv, cancel, &mut |event| match event {
        Event::Line(line) => {
            if let Some(table) = toc::table_in(line, DUMPING) {
                // Tables started before this one count as done.
                if let Some(previous) = current.replace(table) {
                    done += sizes.get(&previous).copied().unwrap_or(0);
                }
            }
        }
        Event::Tick { .. } => {
            let bytes = store::size_of(partial);
            let permille = share(done, total);
            send(
                progress,
                Stage::Dumping,
                started,
                bytes,
                permille,
                current.clone(),
            );
        }
    })
    .await
}

/// The archive being written: removed when dropped unless kept (failure, cancel, dropped future).
struct Written {
    path: PathBuf,
    kept: bool,
}

impl Written {
    /// Creates the partial archive owner-only before `pg_dump` opens it: a 0600 file, or a 0700 folder (pg_dump
    /// fills an existing empty one). A leftover partial of the same name (a crash) is replaced.
    fn create(partial: &Path, kind: ArchiveKind) -> Result<Written, BackupError> {
        let written = Written {
            path: partial.to_path_buf(),
            kept: false,
        };
        remove(partial);
        let created = match kind {
            ArchiveKind::PgDirectory => fs::DirBuilder::new()
                .mode(crate::safe_fs::dir_mode())
                .create(partial)
                .and_then(|()| {
                    let mode = fs::Permissions::from_mode(crate::safe_fs::dir_mode());
                    fs::set_permissions(partial, mode)
                }),
            _ => crate::safe_fs::create_new(partial).map(drop),
        };
        created.map_err(|e| store::io_err(partial, &e))?;
        Ok(written)
    }

    fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for Written {
    fn drop(&mut self) {
        if !self.kept {
            remove(&self.path);
        }
    }
}

fn remove(path: &Path) {
    let _ = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    };
}

/// Owner-only modes (0600 files, 0700 folder; 0660 and 0770 in a data folder shared on purpose) and everything
/// flushed to disk.
fn seal(path: &Path, kind: ArchiveKind) -> std::io::Result<()> {
    let private = |p: &Path, mode: u32| fs::set_permissions(p, fs::Permissions::from_mode(mode));
    let file_mode = crate::safe_fs::file_mode();
    if kind == ArchiveKind::PgDirectory {
        for entry in fs::read_dir(path)? {
            let file = entry?.path();
            private(&file, file_mode)?;
            File::open(&file)?.sync_all()?;
        }
        private(path, crate::safe_fs::dir_mode())?;
    } else {
        private(path, file_mode)?;
    }
    File::open(path)?.sync_all()
}
