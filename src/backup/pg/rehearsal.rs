//! Rehearsing the pending migrations on real data: restore the archive into a scratch database
//! (`deckhand_rehearsal_<8 hex>`) on the same server, apply the pending migrations there one by one, then drop the
//! scratch database whatever happened (failure, cancel; a future dropped half-way leaves the drop to a background
//! task). Catches what a dry-run cannot: a migration that fails only on the data (a unique index over duplicates),
//! or one that cannot run in a transaction at all.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::Connection;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::conn::{self, Conn};
use super::restore::{Load, check_archive, load};
use super::toc::Toc;
use super::tools::{self, Server, Tool};
use super::{catalog, read_toc, send};
use crate::backup::rehearse::apply_pending;
use crate::backup::{Archive, BackupError, Progress, RehearsalReport, RehearsalStep, Stage};
use crate::plan::{Database, Resolved};

/// Prefix of scratch databases (`deckhand_rehearsal_%` finds any left behind).
pub const SCRATCH_PREFIX: &str = "deckhand_rehearsal_";
/// Longest the final drop of the scratch database may take.
const CLEANUP_LIMIT: Duration = Duration::from_secs(60);

/// Restores `archive` into a scratch database next to `db` and applies `db`'s pending migrations to it, one result
/// each. Needs CREATEDB: without it, [`BackupError::NoCreateDb`] before anything is done. Progress:
/// [`Stage::Restoring`], [`Stage::Migrating`] (the migration's name), [`Stage::Cleaning`]. The report says whether
/// the scratch database was dropped; if not, `cleanup_error` names it for dropping by hand.
pub async fn rehearse(
    db: &Database,
    bin_dir: Option<&Path>,
    archive: &Archive,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<RehearsalReport, BackupError> {
    let started = Instant::now();
    send(progress, Stage::Preparing, started, 0, None, None);
    let url = &db.url.value;
    let conn = Conn::parse(url)?;
    let mut admin = catalog::connect(db, url, &conn, cancel).await?;
    let (role, may) = catalog::may_create_databases(&mut admin).await?;
    if !may {
        return Err(BackupError::NoCreateDb { role });
    }
    check_archive(archive, started, progress).await?;
    let server = catalog::server(&mut admin).await?;
    let tool = tools::find("pg_restore", bin_dir, Some(&server)).await?;
    tools::check_archive(&tool, &archive.tool)?;
    let (toc, listed) = read_toc(&tool, &archive.path, cancel).await?;
    if !listed.success {
        return Err(listed.failure(&tool, "nothing was restored"));
    }

    let scratch = format!(
        "{SCRATCH_PREFIX}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    catalog::create_database(&mut admin, &scratch, &server).await?;
    let mut guard = Scratch {
        spec: db.clone(),
        name: scratch.clone(),
        server: server.clone(),
        armed: true,
    };
    let copy = scratch_copy(db, &scratch);
    let outcome = rehearse_on(&tool, &copy, archive, &toc, started, progress, cancel).await;

    send(
        progress,
        Stage::Cleaning,
        started,
        0,
        None,
        Some(scratch.clone()),
    );
    let cleanup = drop_scratch(&mut admin, db, &conn, &scratch, &server).await;
    guard.armed = false;
    let _ = admin.conn.close().await;
    let cleanup_error = cleanup.err().map(|e| {
        format!("the scratch database {scratch} could not be dropped ({e}): drop it by hand with DROP DATABASE \"{scratch}\"")
    });
    match outcome {
        Ok((restore_took, steps)) => Ok(RehearsalReport {
            scratch,
            restore_took,
            steps,
            dropped: cleanup_error.is_none(),
            cleanup_error,
            took: started.elapsed(),
        }),
        Err(e) => match cleanup_error {
            None => Err(e),
            Some(cleanup) => Err(BackupError::Database {
                context: format!("rehearsal stopped ({e})"),
                message: cleanup,
            }),
        },
    }
}

/// `db` with its URL (and the URL shown) pointed at the scratch database `scratch`.
fn scratch_copy(db: &Database, scratch: &str) -> Database {
    Database {
        url: Resolved {
            value: conn::with_database(&db.url.value, scratch),
            display: conn::with_database(&db.url.display, scratch),
        },
        ..db.clone()
    }
}

/// Restores `archive` into the scratch database `copy`, then applies the pending migrations to it: how long the
/// restore took and each migration's result. A cancel also abandons a migration in the middle.
async fn rehearse_on(
    tool: &Tool,
    copy: &Database,
    archive: &Archive,
    toc: &Toc,
    started: Instant,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<(Duration, Vec<RehearsalStep>), BackupError> {
    let target = Conn::parse(&copy.url.value)?;
    let restore_started = Instant::now();
    let how = Load {
        clean: false,
        single_transaction: false,
    };
    load(
        tool,
        &target,
        &archive.path,
        toc,
        how,
        started,
        progress,
        cancel,
    )
    .await?;
    let restore_took = restore_started.elapsed();
    // The copy is dropped anyway after a cancel.
    let steps = tokio::select! {
        steps = apply_pending(copy, started, progress, cancel) => steps?,
        () = cancel.cancelled() => return Err(BackupError::Cancelled),
    };
    Ok((restore_took, steps))
}

/// Drops the scratch database through the open connection, or a new one if that one broke; bounded in time and
/// deaf to the cancel (it must happen).
async fn drop_scratch(
    admin: &mut crate::migrate::db::Db,
    db: &Database,
    conn: &Conn,
    name: &str,
    server: &Server,
) -> Result<(), BackupError> {
    let attempt = async {
        if catalog::drop_database(admin, name, server).await.is_ok() {
            return Ok(());
        }
        let never = CancellationToken::new();
        let mut fresh = catalog::connect(db, &db.url.value, conn, &never).await?;
        let dropped = catalog::drop_database(&mut fresh, name, server).await;
        let _ = fresh.conn.close().await;
        dropped
    };
    tokio::time::timeout(CLEANUP_LIMIT, attempt)
        .await
        .unwrap_or_else(|_| {
            Err(BackupError::Database {
                context: format!("dropping database {name}"),
                message: format!("no answer within {CLEANUP_LIMIT:?}"),
            })
        })
}

/// The scratch database while it exists: if the rehearsal future is dropped before its own cleanup, a background
/// task on the current runtime drops the database.
struct Scratch {
    spec: Database,
    name: String,
    server: Server,
    armed: bool,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(database = %self.name, "rehearsal abandoned: scratch database left behind");
            return;
        };
        let (spec, name, server) = (self.spec.clone(), self.name.clone(), self.server.clone());
        runtime.spawn(async move {
            let Ok(conn) = Conn::parse(&spec.url.value) else {
                return;
            };
            let never = CancellationToken::new();
            let dropped = match catalog::connect(&spec, &spec.url.value, &conn, &never).await {
                Ok(mut admin) => catalog::drop_database(&mut admin, &name, &server).await,
                Err(e) => Err(e),
            };
            if let Err(e) = dropped {
                tracing::warn!(database = %name, error = %e, "scratch database of an abandoned rehearsal not dropped");
            }
        });
    }
}
