//! Rehearsing the pending migrations on real data: restore the archive into a scratch database
//! (`deckhand_rehearsal_<8 hex>`) on the same server, apply the pending migrations there one by one (then the way
//! back: each down file, newest first, and the migrations again, when every one has a down file), then drop the
//! scratch database whatever happened (failure, cancel; a future dropped half-way leaves the drop to a background
//! task). Catches what a dry-run cannot: a migration that fails only on the data (a unique index over duplicates),
//! or one that cannot run in a transaction at all.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::Connection;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::conn::Conn;
use super::restore::{Load, check_archive, load};
use super::scratch::Scratch;
use super::toc::Toc;
use super::tools::{self, Tool};
use super::{catalog, read_toc, send};
use crate::backup::rehearse::{Rehearsed, apply_pending};
use crate::backup::{Archive, BackupError, Progress, RehearsalReport, Stage};
use crate::plan::Database;

/// Prefix of scratch databases (`deckhand_rehearsal_%` finds any left behind).
pub const SCRATCH_PREFIX: &str = "deckhand_rehearsal_";

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

    let guard = Scratch::create(&mut admin, db, SCRATCH_PREFIX, &server).await?;
    let scratch = guard.name().to_string();
    let copy = guard.database();
    let outcome = rehearse_on(&tool, &copy, archive, &toc, started, progress, cancel).await;

    send(
        progress,
        Stage::Cleaning,
        started,
        0,
        None,
        Some(scratch.clone()),
    );
    let cleanup_error = guard.drop_now(&mut admin).await.err();
    let _ = admin.conn.close().await;
    match outcome {
        Ok((restore_took, Rehearsed { steps, way_back })) => Ok(RehearsalReport {
            scratch,
            restore_took,
            steps,
            way_back,
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

/// Restores `archive` into the scratch database `copy`, then applies the pending migrations to it (and rehearses
/// the way back): how long the restore took and each migration's result. A cancel also abandons a migration in the
/// middle.
async fn rehearse_on(
    tool: &Tool,
    copy: &Database,
    archive: &Archive,
    toc: &Toc,
    started: Instant,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<(Duration, Rehearsed), BackupError> {
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
    let rehearsed = tokio::select! {
        rehearsed = apply_pending(copy, started, progress, cancel) => rehearsed?,
        () = cancel.cancelled() => return Err(BackupError::Cancelled),
    };
    Ok((restore_took, rehearsed))
}
