//! PostgreSQL backups with the server's own tools: [`take`] runs `pg_dump` (custom or directory format) with
//! progress, [`verify`] reads a whole archive back and compares its tables and object definitions with the live
//! database, [`restore`] loads one in place (one transaction) or into a new database, and [`rehearse`] restores
//! into a scratch database and applies the pending migrations there ([`scratch`] makes and drops such databases,
//! for the rehearsal and for the drift check). The tools get a connection URI without the password (it travels in
//! their environment only), are checked against the server's version before anything starts, run in their own
//! process group and never outlive a cancel.

mod catalog;
mod conn;
pub mod counters;
mod definitions;
mod group;
mod process;
mod rehearsal;
mod restore;
pub mod scratch;
mod take;
mod toc;
mod tools;
mod verify;

use std::path::Path;
use std::time::Instant;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use self::process::{Finished, Invocation};
use self::toc::Toc;
use self::tools::Tool;
use super::{BackupError, Progress, Stage};

pub use self::conn::APP_NAME;
pub use self::rehearsal::{SCRATCH_PREFIX, rehearse};
pub use self::restore::restore;
pub use self::take::take;
pub use self::verify::verify;

/// Replaces the progress with a new value (kept even when nobody listens yet).
fn send(
    progress: &watch::Sender<Progress>,
    stage: Stage,
    started: Instant,
    bytes: u64,
    permille: Option<u16>,
    detail: Option<String>,
) {
    progress.send_replace(Progress {
        stage,
        bytes,
        permille,
        elapsed: started.elapsed(),
        detail,
    });
}

/// `done` of `total` in thousandths, at most 999 while still working; `None` when there is nothing to weigh.
fn share(done: u64, total: u64) -> Option<u16> {
    if total == 0 {
        return None;
    }
    let permille = (u128::from(done) * 1000 / u128::from(total)).min(999);
    u16::try_from(permille).ok()
}

/// The display form of a PostgreSQL URL's target, `host:port/db`: the same text confirmations show, and what
/// restore and retention match backups of one database by.
fn display_target(url: &str) -> String {
    crate::migrate::db::target(url)
}

/// Runs `pg_restore --list <archive>`: its table of contents, and how the tool ended.
async fn read_toc(
    tool: &Tool,
    archive: &Path,
    cancel: &CancellationToken,
) -> Result<(Toc, Finished), BackupError> {
    let inv = Invocation {
        tool,
        args: vec!["--list".into(), archive.as_os_str().to_owned()],
        conn: None,
        capture_stdout: true,
    };
    let finished = process::run(inv, cancel, &mut |_| {}).await?;
    Ok((toc::parse(&finished.stdout), finished))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::{Archive, RestoreMode, Source};
    use crate::plan::Database;

    fn is_send<T: Send>(_: T) {}

    /// The console runs these on spawned tasks: they must stay `Send`. Compiled, never called.
    #[allow(dead_code)]
    fn futures_are_send(
        src: &Source<'_>,
        db: &Database,
        archive: &Archive,
        p: &watch::Sender<Progress>,
        c: &CancellationToken,
    ) {
        is_send(take(src, p, c));
        is_send(verify(&archive.path, Some(db), None, p, c));
        is_send(restore(db, None, archive, &RestoreMode::InPlace, p, c));
        is_send(rehearse(db, None, archive, p, c));
    }
}
