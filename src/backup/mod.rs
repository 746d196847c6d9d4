//! Backups of the plan's database: `pg_dump` with progress (PostgreSQL) or `VACUUM INTO` (SQLite), full-read
//! verification, restore, and rehearsal of the pending migrations on a restored copy. Each archive has a sidecar
//! record (`<archive>.json`) with its size, sha256 and verification. May import `plan` and `migrate`.

pub mod counters;
pub mod pg;
pub mod rehearse;
pub mod sqlite;
pub mod store;
mod types;

pub use types::*;

use std::path::Path;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::migrate::db::Backend;
use crate::plan::Database;

fn is_sqlite(db: &Database) -> bool {
    Backend::of(&db.url.value) == Some(Backend::Sqlite)
}

/// A SQLite database file starts with this header.
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// Whether the archive at `path` is a SQLite file (its sidecar says so, or its first bytes do).
fn is_sqlite_file(path: &Path) -> bool {
    if let Some(a) = store::read_sidecar(path) {
        return a.kind == ArchiveKind::Sqlite;
    }
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok_and(|()| head == SQLITE_MAGIC)
}

/// Takes a backup of the source's database (`pg_dump`, or `VACUUM INTO` for SQLite) and records it in its
/// sidecar. Does not verify it and deletes nothing: the caller verifies, then applies retention.
pub async fn take(
    src: &Source<'_>,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Archive, BackupError> {
    if is_sqlite(src.database) {
        sqlite::take(src, progress, cancel).await
    } else {
        pg::take(src, progress, cancel).await
    }
}

/// Reads the whole archive back (and checks its sha256 against its sidecar, and its tables against `live` when
/// given); a passed verification is recorded in the sidecar.
pub async fn verify(
    path: &Path,
    live: Option<&Database>,
    bin_dir: Option<&Path>,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Verification, BackupError> {
    if is_sqlite_file(path) {
        sqlite::verify(path, live, progress, cancel).await
    } else {
        pg::verify(path, live, bin_dir, progress, cancel).await
    }
}

/// Restores `archive` over the plan's database (or into a new PostgreSQL database), then checks the result
/// against the archive's table list.
pub async fn restore(
    db: &Database,
    bin_dir: Option<&Path>,
    archive: &Archive,
    mode: &RestoreMode,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<RestoreReport, BackupError> {
    if is_sqlite(db) {
        sqlite::restore(db, archive, mode, progress, cancel).await
    } else {
        pg::restore(db, bin_dir, archive, mode, progress, cancel).await
    }
}

/// Restores `archive` into a scratch copy, applies the pending migrations there, removes the copy.
pub async fn rehearse(
    db: &Database,
    bin_dir: Option<&Path>,
    archive: &Archive,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<RehearsalReport, BackupError> {
    if is_sqlite(db) {
        sqlite::rehearse(db, archive, progress, cancel).await
    } else {
        pg::rehearse(db, bin_dir, archive, progress, cancel).await
    }
}
