//! Verifying an archive. `pg_restore --list` alone proves little: the table of contents sits at the start of a
//! custom archive, so a truncated or corrupted file still lists fine. So: (a) size and sha256 against the sidecar
//! record, when there is one; (b) the table of contents; (c) a full read, `pg_restore --file=/dev/null`, which
//! reads and decompresses every data block (zlib's checksum catches a flipped byte, a short read a truncation);
//! (d) with a live database, its tables that the archive lacks, and (e) the object definitions of the table of
//! contents against the live database's (no checksum covers them; see [`definitions`]). A pass is recorded in the
//! sidecar.

use std::path::Path;
use std::time::Instant;

use sqlx::Connection;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::conn::Conn;
use super::process::{self, Event, Invocation};
use super::{catalog, definitions, read_toc, send, share, toc, tools};
use crate::backup::{Archive, BackupError, Progress, Stage, Verification, store};
use crate::plan::Database;

/// Reads the archive at `path` back in full and reports every problem found (see the module doc); `ok` when
/// there are none. With `live`, also lists the live database's tables the archive lacks and compares the
/// archive's object definitions with the live database's (see [`definitions`]). Progress: [`Stage::Hashing`]
/// (with a sidecar), then [`Stage::Verifying`] with the bytes `pg_restore` has read. When the archive passes and
/// has a sidecar, the sidecar records the verification (a failure clears an earlier one). `Err` only when
/// verification could not be done (no usable `pg_restore`, no database, cancelled).
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
    let live = read_live(live, cancel).await?;
    let tool = tools::find("pg_restore", bin_dir, live.as_ref().map(|l| &l.server)).await?;
    if let Some(r) = &record {
        tools::check_archive(&tool, &r.tool)?;
    }

    let mut problems = match &record {
        Some(r) => against_record(path, r, started, progress, cancel).await?,
        None => Vec::new(),
    };
    // Only an archive that matched its record has a table of contents known to be as pg_dump wrote it.
    let matched = record.is_some() && problems.is_empty();

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

    let mut compared = Compared::default();
    if let Some(live) = &live
        && listed.success
    {
        compared = against_live(&tool, path, &toc, live, cancel).await?;
        compared.tell(matched, record.is_some(), &mut problems);
    }
    let tables: Vec<String> = toc.tables.iter().map(toc::TocTable::qualified).collect();
    let ok = problems.is_empty();
    let outcome = Verification {
        ok,
        tables,
        missing: compared.missing,
        compared_with_live: live.is_some() && listed.success,
        proven: ok && record.is_some(),
        problems,
        schema_changes: compared.schema_changes,
        took: started.elapsed(),
    };
    store::record_verification(record, path, &outcome)?;
    Ok(outcome)
}

/// What the live database told: its server (to pick a matching `pg_restore`), its tables and its definitions.
struct Live {
    server: tools::Server,
    tables: Vec<catalog::LiveTable>,
    definitions: definitions::Definitions,
}

/// Reads [`Live`] when there is a live database to compare with.
async fn read_live(
    live: Option<&Database>,
    cancel: &CancellationToken,
) -> Result<Option<Live>, BackupError> {
    let Some(spec) = live else {
        return Ok(None);
    };
    let conn = Conn::parse(&spec.url.value)?;
    let mut db = catalog::connect(spec, &spec.url.value, &conn, cancel).await?;
    let server = catalog::server(&mut db).await?;
    let tables = catalog::live_tables(&mut db).await?;
    let definitions = definitions::read_live(&mut db, server.num).await?;
    let _ = db.conn.close().await;
    Ok(Some(Live {
        server,
        tables,
        definitions,
    }))
}

/// What comparing with the live database found.
#[derive(Default)]
struct Compared {
    /// Live tables the archive's table of contents does not list.
    missing: Vec<String>,
    /// How the archive's object definitions differ from the live database's, one line each.
    differences: Vec<String>,
    /// `pg_restore --schema-only` could not print the definitions: why.
    unread: Option<String>,
    /// The differences told as the schema having changed since the backup (filled by [`Compared::tell`]).
    schema_changes: Vec<String>,
}

impl Compared {
    /// Puts what was found in `problems` or in `schema_changes`. A live table the archive lacks is a problem (a
    /// restore would not bring its rows back). The definitions' differences are the schema having changed since
    /// the backup when the archive `matched` its record; otherwise nothing tells a damaged table of contents from
    /// a changed schema, and they are problems.
    fn tell(&mut self, matched: bool, has_record: bool, problems: &mut Vec<String>) {
        problems.extend(
            self.missing
                .iter()
                .map(|t| format!("table {t} of the live database is not in the archive")),
        );
        problems.extend(self.unread.take());
        if self.differences.is_empty() {
            return;
        }
        if matched {
            self.schema_changes = std::mem::take(&mut self.differences);
            return;
        }
        let why = if has_record {
            "the archive does not match its sha256 record"
        } else {
            "there is no sha256 record beside the archive"
        };
        problems.push(format!(
            "the object definitions in the table of contents differ from the live database's, and {why}: \
             deckhand cannot tell a damaged table of contents from a schema changed since the backup"
        ));
        problems.append(&mut self.differences);
    }
}

/// (d) With a live database: its tables the archive lacks, and (e) the archive's object definitions
/// (`pg_restore --schema-only`) against the live ones.
async fn against_live(
    tool: &tools::Tool,
    path: &Path,
    toc: &toc::Toc,
    live: &Live,
    cancel: &CancellationToken,
) -> Result<Compared, BackupError> {
    let missing = toc::missing_from(toc, &live.tables);
    let inv = Invocation {
        tool,
        args: vec![
            "--schema-only".into(),
            "--file=-".into(),
            path.as_os_str().to_owned(),
        ],
        conn: None,
        capture_stdout: true,
    };
    let printed = process::run(inv, cancel, &mut |_| {}).await?;
    if !printed.success || printed.errors > 0 {
        return Ok(Compared {
            missing,
            unread: Some(format!(
                "pg_restore --schema-only cannot print the object definitions ({}): {}",
                printed.status, printed.tail
            )),
            ..Compared::default()
        });
    }
    let archive = definitions::parse(&printed.stdout);
    let differences = definitions::compare(&archive, &live.definitions, &missing);
    Ok(Compared {
        missing,
        differences,
        ..Compared::default()
    })
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
