//! The backup runner: takes a backup then verifies it and applies retention, verifies, restores and rehearses,
//! each as a task that reports progress and results only through [`RunnerEvent::Backup`] messages.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc::Sender;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::RunnerEvent;
use crate::backup::{
    self, Archive, BackupError, Progress, RehearsalReport, RestoreMode, RestoreReport, Source,
    Stage, Verification, store,
};
use crate::plan::{Backup, Database};

/// How often progress reaches the console (the screen redraws for each).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);
/// How long a cancelled operation may take to end by itself before it is abandoned.
const CANCEL_GRACE: Duration = Duration::from_secs(15);

/// Which backup operation an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupOp {
    Take,
    Verify,
    Restore,
    Rehearse,
}

impl BackupOp {
    pub fn label(self) -> &'static str {
        match self {
            BackupOp::Take => "backup",
            BackupOp::Verify => "verification",
            BackupOp::Restore => "restore",
            BackupOp::Rehearse => "rehearsal",
        }
    }
}

/// What the backup runner reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupEvent {
    /// The backups in the plan's folder, newest first.
    Listed(Vec<Archive>),
    Progress(Progress),
    /// A dump finished and was recorded; its verification starts now.
    Taken(Archive),
    /// A verification ended (`archive.verified` is set when it passed), with what retention then deleted (or
    /// why it could not): `None` when retention did not run (the backup is not verified, or nothing to delete).
    Verified {
        archive: Archive,
        verification: Verification,
        deleted: Option<Result<Vec<PathBuf>, String>>,
    },
    /// The operation failed, or was cancelled (`cancelled`), and nothing more of it follows.
    Failed {
        op: BackupOp,
        error: String,
        cancelled: bool,
    },
    Restored {
        archive: Archive,
        report: RestoreReport,
    },
    Rehearsed {
        archive: Archive,
        report: RehearsalReport,
    },
}

/// What a backup task works on: the plan's identity, database and `[backup]`.
#[derive(Debug, Clone)]
pub struct Job {
    pub project: String,
    pub environment: String,
    pub database: Database,
    pub backup: Backup,
}

impl Job {
    /// The job of a plan with `[database]` and `[backup]`.
    pub fn of(plan: &crate::plan::Plan) -> Option<Job> {
        Some(Job {
            project: plan.project.name.clone(),
            environment: plan.project.environment.clone(),
            database: plan.database.clone()?,
            backup: plan.backup.clone()?,
        })
    }

    fn source(&self) -> Source<'_> {
        Source {
            project: &self.project,
            environment: &self.environment,
            database: &self.database,
            backup: &self.backup,
        }
    }
}

async fn send(tx: &Sender<RunnerEvent>, ev: BackupEvent) {
    if tx.send(RunnerEvent::Backup(Box::new(ev))).await.is_err() {
        tracing::debug!("backup runner: the console is gone");
    }
}

/// Runs `op` while forwarding its progress to the console at most every [`PROGRESS_INTERVAL`]. Once `cancel`
/// fires, `op` has [`CANCEL_GRACE`] to end by itself (a killed tool, a rolled-back transaction); one stuck on an
/// unanswering server is then abandoned (dropping it kills its processes) and `abandoned` is returned.
async fn with_progress<T>(
    op: impl Future<Output = Result<T, BackupError>>,
    progress: &mut watch::Receiver<Progress>,
    tx: &Sender<RunnerEvent>,
    cancel: &CancellationToken,
    abandoned: BackupError,
) -> Result<T, BackupError> {
    tokio::pin!(op);
    let mut tick = tokio::time::interval(PROGRESS_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        let give_up = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            out = &mut op => return out,
            () = cancel.cancelled(), if deadline.is_none() => {
                deadline = Some(tokio::time::Instant::now() + CANCEL_GRACE);
            }
            () = give_up => return Err(abandoned),
            _ = tick.tick() => {
                if progress.has_changed().unwrap_or(false) {
                    let p = progress.borrow_and_update().clone();
                    send(tx, BackupEvent::Progress(p)).await;
                }
            }
        }
    }
}

fn failed(op: BackupOp, e: &BackupError) -> BackupEvent {
    BackupEvent::Failed {
        op,
        error: e.to_string(),
        cancelled: matches!(e, BackupError::Cancelled),
    }
}

fn channel() -> (watch::Sender<Progress>, watch::Receiver<Progress>) {
    watch::channel(Progress::new(Stage::Preparing, Duration::ZERO))
}

/// Takes a backup, verifies it against the live database, then applies retention; reports each stage.
pub async fn take(job: Job, tx: Sender<RunnerEvent>, cancel: CancellationToken) {
    let (ptx, mut prx) = channel();
    let src = job.source();
    let archive = match with_progress(
        backup::take(&src, &ptx, &cancel),
        &mut prx,
        &tx,
        &cancel,
        BackupError::Cancelled,
    )
    .await
    {
        Ok(a) => a,
        Err(e) => return send(&tx, failed(BackupOp::Take, &e)).await,
    };
    send(&tx, BackupEvent::Taken(archive.clone())).await;
    let bin_dir = job.backup.bin_dir.as_deref();
    let check = backup::verify(&archive.path, Some(&job.database), bin_dir, &ptx, &cancel);
    let verification =
        match with_progress(check, &mut prx, &tx, &cancel, BackupError::Cancelled).await {
            Ok(v) => v,
            Err(e) => return send(&tx, failed(BackupOp::Verify, &e)).await,
        };
    // The verification recorded itself in the sidecar: report the archive as it is now on disk.
    let archive = store::read_sidecar(&archive.path).unwrap_or(archive);
    let ok = verification.ok && archive.verified.is_some();
    // Retention runs before the result is reported, so the console journals what it deleted before it moves on.
    let deleted = if ok {
        let keep = job.backup.keep;
        let newest = archive.clone();
        let deleted = tokio::task::spawn_blocking(move || store::retain(&newest, keep))
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        (!matches!(&deleted, Ok(d) if d.is_empty())).then_some(deleted)
    } else {
        None
    };
    send(
        &tx,
        BackupEvent::Verified {
            archive,
            verification,
            deleted,
        },
    )
    .await;
}

/// Lists the backup folder.
pub async fn list(dir: PathBuf, tx: Sender<RunnerEvent>) {
    match tokio::task::spawn_blocking(move || store::list(&dir)).await {
        Ok(list) => send(&tx, BackupEvent::Listed(list)).await,
        Err(e) => tracing::error!("listing backups: {e}"),
    }
}

/// Restores `archive` as confirmed.
pub async fn restore(
    job: Job,
    archive: Archive,
    mode: RestoreMode,
    tx: Sender<RunnerEvent>,
    cancel: CancellationToken,
) {
    let (ptx, mut prx) = channel();
    let bin_dir = job.backup.bin_dir.as_deref();
    let op = backup::restore(&job.database, bin_dir, &archive, &mode, &ptx, &cancel);
    let unknown = BackupError::Refused(format!(
        "the restore did not end within {} of the cancel and was abandoned: its outcome is UNKNOWN, check the \
         database",
        humantime::format_duration(CANCEL_GRACE)
    ));
    let ev = match with_progress(op, &mut prx, &tx, &cancel, unknown).await {
        Ok(report) => BackupEvent::Restored { archive, report },
        Err(e) => failed(BackupOp::Restore, &e),
    };
    send(&tx, ev).await;
}

/// Rehearses the pending migrations on a restored copy of `archive`.
pub async fn rehearse(
    job: Job,
    archive: Archive,
    tx: Sender<RunnerEvent>,
    cancel: CancellationToken,
) {
    let (ptx, mut prx) = channel();
    let bin_dir = job.backup.bin_dir.as_deref();
    let op = backup::rehearse(&job.database, bin_dir, &archive, &ptx, &cancel);
    let ev = match with_progress(op, &mut prx, &tx, &cancel, BackupError::Cancelled).await {
        Ok(report) => BackupEvent::Rehearsed { archive, report },
        Err(e) => failed(BackupOp::Rehearse, &e),
    };
    send(&tx, ev).await;
}
