//! Verifying an archive. `pg_restore --list` alone proves little: the table of contents sits at the start of a
//! custom archive, so a truncated or corrupted file still lists fine. So: (a) size and sha256 against the sidecar
//! record, when there is one; (b) the table of contents; (c) a full read, `pg_restore --file=/dev/null`, which
//! reads and decompresses every data block (zlib's checksum catches a flipped byte, a short read a truncation);
//! (d) with a live database, its tables that the archive lacks. A pass is recorded in the sidecar.

use std::path::Path;
use std::time::Instant;

use sqlx::Connection;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::conn::Conn;
use super::process::{self, Event, Invocation};
use super::{catalog, read_toc, send, share, toc, tools};
use crate::backup::{Archive, BackupError, Progress, Stage, Verification, store};
use crate::plan::Database;

/// Reads the archive at `path` back in full and reports every problem found (see the module doc); `ok` when
/// there are none. With `live`, also lists the live database's tables the archive lacks. Progress:
/// [`Stage::Hashing`] (with a sidecar), then [`Stage::Verifying`] with the bytes `pg_restore` has read. When the
/// archive passes and has a sidecar, the sidecar records the verification (a failure clears an earlier one).
/// `Err` only when verification could not be done (no usable `pg_restore`, no database, cancelled).
pub async fn verify(
    path: &Path,
    live: Option<&Database>,
    bin_dir: Option<&Path>,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Verification, BackupError> {
    let started = Instant::now();
    send(progress, Stage::Preparing, started, 0, None, None);
    if std::fs::symlink_metadata(path).is_err() {
        return Err(BackupError::Io {
            path: path.display().to_string(),
            message: "no such archive".into(),
        });
    }
    let record = store::read_sidecar(path);
    let (server, live_tables) = live_server_and_tables(live, cancel).await?;
    let tool = tools::find("pg_restore", bin_dir, server.as_ref()).await?;
    if let Some(r) = &record {
        tools::check_archive(&tool, &r.tool)?;
    }

    let mut problems = match &record {
        Some(r) => against_record(path, r, started, progress, cancel).await?,
        None => Vec::new(),
    };

    send(progress, Stage::Verifying, started, 0, None, None);
    let (toc, listed) = read_toc(&tool, path, cancel).await?;
    if listed.success {
        if let Some(problem) = read_all(&tool, path, started, progress, cancel).await? {
            problems.push(problem);
        }
    } else {
        problems.push(format!(
            "pg_restore --list cannot read the table of contents ({}): {}",
            listed.status, listed.tail
        ));
    }

    let mut missing = Vec::new();
    let mut compared_with_live = false;
    if let Some(live_tables) = &live_tables
        && listed.success
    {
        missing = toc::missing_from(&toc, live_tables);
        compared_with_live = true;
        problems.extend(
            missing
                .iter()
                .map(|t| format!("table {t} of the live database is not in the archive")),
        );
    }
    let tables: Vec<String> = toc.tables.iter().map(toc::TocTable::qualified).collect();
    let ok = problems.is_empty();
    let proven = ok && record.is_some();
    let took = started.elapsed();
    let outcome = Verification {
        ok,
        tables,
        missing,
        compared_with_live,
        proven,
        problems,
        took,
    };
    store::record_verification(record, path, &outcome)?;
    Ok(outcome)
}

/// With a live database: its server (to pick a matching `pg_restore`) and its tables.
async fn live_server_and_tables(
    live: Option<&Database>,
    cancel: &CancellationToken,
) -> Result<(Option<tools::Server>, Option<Vec<catalog::LiveTable>>), BackupError> {
    let Some(spec) = live else {
        return Ok((None, None));
    };
    let conn = Conn::parse(&spec.url.value)?;
    let mut db = catalog::connect(spec, &spec.url.value, &conn, cancel).await?;
    let server = catalog::server(&mut db).await?;
    let tables = catalog::live_tables(&mut db).await?;
    let _ = db.conn.close().await;
    Ok((Some(server), Some(tables)))
}

/// (a) The archive's size and sha256 against its sidecar record `r` ([`Stage::Hashing`]): the problems found.
async fn against_record(
    path: &Path,
    r: &Archive,
    started: Instant,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Vec<String>, BackupError> {
    let mut problems = Vec::new();
    send(progress, Stage::Hashing, started, 0, None, None);
    let size = store::size_of(path);
    if size != r.size {
        problems.push(format!(
            "size is {size} bytes, but {} were recorded when the backup was taken: the file changed or is \
             damaged",
            r.size
        ));
    }
    let sha256 = process::hash(path, Stage::Hashing, started, progress, cancel).await?;
    if sha256 != r.sha256 {
        problems.push(
            "sha256 differs from the one recorded when the backup was taken: the file changed or is damaged"
                .to_string(),
        );
    }
    Ok(problems)
}

/// (c) The full read, `pg_restore --file=/dev/null`, with [`Stage::Verifying`] progress (bytes read): the problem,
/// if the read failed.
async fn read_all(
    tool: &tools::Tool,
    path: &Path,
    started: Instant,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Option<String>, BackupError> {
    let total = store::size_of(path);
    let inv = Invocation {
        tool,
        args: vec!["--file=/dev/null".into(), path.as_os_str().to_owned()],
        conn: None,
        capture_stdout: false,
    };
    let read = process::run(inv, cancel, &mut |event| {
        if let Event::Tick { pid } = event
            && let Some(bytes) = process::rchar(pid)
        {
            let permille = share(bytes, total);
            send(progress, Stage::Verifying, started, bytes, permille, None);
        }
    })
    .await?;
    Ok((!read.success || read.errors > 0).then(|| {
        format!(
            "reading the whole archive failed (pg_restore {}): {}",
            read.status, read.tail
        )
    }))
}
