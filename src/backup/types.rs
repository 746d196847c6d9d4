//! The backup model shared by the PostgreSQL and SQLite sides, the runner and the console: an archive and its
//! sidecar record, progress, verification, restore and rehearsal results, and the errors. Plain data.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What is backed up: the plan's project and environment (they name the archive) and its database and `[backup]`
/// settings.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub project: &'a str,
    pub environment: &'a str,
    pub database: &'a crate::plan::Database,
    pub backup: &'a crate::plan::Backup,
}

/// What kind of archive a backup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArchiveKind {
    /// `pg_dump -Fc`: one file.
    PgCustom,
    /// `pg_dump -Fd`: a folder.
    PgDirectory,
    /// A SQLite database file written by `VACUUM INTO`.
    Sqlite,
}

/// A backup on disk, as recorded in its sidecar (`<archive>.json`, mode 0600, next to the archive). Holds no
/// password: `database` is the display form of the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Archive {
    /// The archive file (or folder, for [`ArchiveKind::PgDirectory`]).
    pub path: PathBuf,
    pub kind: ArchiveKind,
    pub project: String,
    pub environment: String,
    /// `host:port/db` or `sqlite /path/to/file.db` (as `migrate::db::target` shows it), never a password.
    pub database: String,
    /// The database's name (PostgreSQL) or file name (SQLite): what a restore asks the operator to type.
    pub dbname: String,
    /// When the dump started, seconds since the Unix epoch.
    pub created_unix: u64,
    /// Bytes on disk (all files, for a folder).
    pub size: u64,
    /// Lowercase hex sha256 of the file; for a folder, of its files' names and contents in name order.
    pub sha256: String,
    /// The server's version (`15.18`), or SQLite's.
    pub server_version: String,
    /// The tool that wrote it (`pg_dump (PostgreSQL) 15.18`, `sqlite VACUUM INTO`).
    pub tool: String,
    /// How long the dump took, in milliseconds.
    pub took_ms: u64,
    /// Set once a full-read verification passed.
    pub verified: Option<Verified>,
    /// Each table's write counters when the backup was taken (none from older versions of deckhand, or when they
    /// could not be read): what a restore would lose is told against them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counters: Option<super::counters::Counters>,
}

/// A passed verification, as recorded in the sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub at_unix: u64,
    /// Tables in the archive (`schema.table`; SQLite: the table name).
    pub tables: Vec<String>,
    pub took_ms: u64,
    /// Whether the table list was compared with the live database.
    pub compared_with_live: bool,
}

/// What a long backup operation is doing now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Checking versions, sizes, permissions.
    Preparing,
    Dumping,
    /// Computing the archive's sha256.
    Hashing,
    /// Reading the whole archive back.
    Verifying,
    Restoring,
    /// Comparing a restored database with the archive's table list.
    Checking,
    /// Applying migrations to a rehearsal copy.
    Migrating,
    /// Dropping a scratch database, deleting old backups.
    Cleaning,
}

impl Stage {
    pub fn label(self) -> &'static str {
        match self {
            Stage::Preparing => "preparing",
            Stage::Dumping => "dumping",
            Stage::Hashing => "hashing",
            Stage::Verifying => "verifying",
            Stage::Restoring => "restoring",
            Stage::Checking => "checking",
            Stage::Migrating => "migrating",
            Stage::Cleaning => "cleaning up",
        }
    }
}

/// Progress of a backup, verification, restore or rehearsal (sent on a `tokio::sync::watch` channel: only the
/// newest value matters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub stage: Stage,
    /// Bytes written (dump) or read (verify, restore) so far in this stage.
    pub bytes: u64,
    /// Estimated share done, in thousandths (0..=1000), when it can be estimated (the dump: tables done weighted
    /// by their size on the server).
    pub permille: Option<u16>,
    /// Since the operation started.
    pub elapsed: Duration,
    /// What is being worked on (`public.orders`, a migration's name).
    pub detail: Option<String>,
}

impl Progress {
    pub fn new(stage: Stage, elapsed: Duration) -> Progress {
        Progress {
            stage,
            bytes: 0,
            permille: None,
            elapsed,
            detail: None,
        }
    }

    /// Bytes per second so far.
    pub fn rate(&self) -> Option<u64> {
        let secs = self.elapsed.as_secs_f64();
        (secs >= 0.5).then(|| (self.bytes as f64 / secs) as u64)
    }

    /// Time left, from the estimated share done.
    pub fn eta(&self) -> Option<Duration> {
        let done = f64::from(self.permille?) / 1000.0;
        if done <= 0.01 || done >= 1.0 {
            return None;
        }
        Some(self.elapsed.mul_f64((1.0 - done) / done))
    }
}

/// The result of reading a whole archive back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// True when nothing in `problems`.
    pub ok: bool,
    /// Tables in the archive's table of contents (`schema.table`).
    pub tables: Vec<String>,
    /// Tables of the live database that the archive lacks (only when compared).
    pub missing: Vec<String>,
    /// Whether the table list was compared with the live database.
    pub compared_with_live: bool,
    /// Whether the archive's bytes matched the size and sha256 of its record: only then is its table of contents
    /// (object definitions, which no data block's checksum covers) proven unchanged. Without a record a
    /// verification may pass (`ok`) but is not proven, and never opens the migrate gate on its own.
    pub proven: bool,
    /// Each reason the archive is not good, one line each (a tool's error, a checksum mismatch, a missing table;
    /// without a matching record, each difference between its object definitions and the live database's).
    pub problems: Vec<String>,
    /// How the archive's object definitions (tables, columns, indexes, constraints, …) differ from the live
    /// database's, one line each naming the object, when the archive matched its record: the schema changed since
    /// the backup (a migration applied after it), told as notes, not problems. Without a matching record the
    /// differences are in `problems` instead.
    pub schema_changes: Vec<String>,
    pub took: Duration,
}

/// Where a restore goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreMode {
    /// Over the plan's database: `pg_restore --clean --if-exists --single-transaction` (SQLite: swap the file,
    /// keeping the replaced one beside it).
    InPlace,
    /// Into a new database of this name on the same server, which must not exist yet (PostgreSQL only).
    NewDatabase(String),
    /// A rollback: in place, then the tables created since the backup (in the database, not in the archive) are
    /// dropped, so the database is as it was when the backup was taken (SQLite: the file swap already is).
    Rollback,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The database restored into (display form, no password).
    pub target: String,
    /// Tables of the archive found in the restored database.
    pub tables: usize,
    /// Tables of the archive that the restored database lacks (a good restore has none).
    pub missing: Vec<String>,
    /// Tables of the restored database that the archive does not have (created after the backup; an in-place
    /// `--clean` restore leaves them as they are).
    pub extra: Vec<String>,
    /// Tables created since the backup that a rollback restore dropped.
    pub dropped: Vec<String>,
    /// SQLite: where the replaced database file was kept.
    pub kept: Option<PathBuf>,
    /// The restore completed but its result could not be checked (why).
    pub unchecked: Option<String>,
    pub took: Duration,
}

/// One pending migration's result in a rehearsal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RehearsalStep {
    Applied {
        name: String,
        took: Duration,
    },
    /// Failed: the error as the database gave it (statement, line, SQLSTATE).
    Failed {
        name: String,
        took: Duration,
        error: String,
    },
    /// Not run because an earlier migration failed.
    NotReached {
        name: String,
    },
}

/// What a rehearsal on a restored copy found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RehearsalReport {
    /// The scratch database (or file) the rehearsal ran in.
    pub scratch: String,
    pub restore_took: Duration,
    pub steps: Vec<RehearsalStep>,
    /// The way back, rehearsed after the pending migrations applied on the copy.
    pub way_back: WayBack,
    /// The scratch copy was removed afterwards (false: `cleanup_error` says why, and the name to drop by hand).
    pub dropped: bool,
    pub cleanup_error: Option<String>,
    pub took: Duration,
}

impl RehearsalReport {
    pub fn failed(&self) -> bool {
        self.steps
            .iter()
            .any(|s| matches!(s, RehearsalStep::Failed { .. }))
    }
}

/// The way back rehearsed on the copy once every pending migration applied there (apply → down → apply, as
/// Liquibase's update-testing-rollback does): each down file newest first, reverted with deckhand's own revert (the
/// ledger entry goes with it), then the pending migrations applied again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WayBack {
    /// Not tried: a migration failed or was not reached, so there is nothing to go back from.
    NotTried,
    /// Not rehearsed: these pending migrations have no down file (a format without down files: all of them).
    NoDownFile { missing: Vec<String> },
    /// The down steps, newest first (`Applied`: the down file ran; a failed one ends them, the rest are not
    /// reached), then the pending migrations applied again — not attempted, so empty, after a failed down step.
    Rehearsed {
        down: Vec<RehearsalStep>,
        again: Vec<RehearsalStep>,
    },
}

impl WayBack {
    /// The step where the way back failed: a down file, or applying a migration again.
    pub fn failure(&self) -> Option<(Direction, &RehearsalStep)> {
        let WayBack::Rehearsed { down, again } = self else {
            return None;
        };
        let failed = |s: &&RehearsalStep| matches!(s, RehearsalStep::Failed { .. });
        down.iter()
            .find(failed)
            .map(|s| (Direction::Down, s))
            .or_else(|| again.iter().find(failed).map(|s| (Direction::Again, s)))
    }

    /// Every down file ran and every migration applied again.
    pub fn passed(&self) -> bool {
        match self {
            WayBack::Rehearsed { down, again } => {
                !down.is_empty()
                    && down.len() == again.len()
                    && down
                        .iter()
                        .chain(again)
                        .all(|s| matches!(s, RehearsalStep::Applied { .. }))
            }
            _ => false,
        }
    }
}

/// Which way a step of the way back went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// A down file, reverting its migration.
    Down,
    /// The migration applied again after the down files.
    Again,
}

/// Why a backup operation could not be done. Messages never carry a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackupError {
    /// `pg_dump`/`pg_restore` are older than the server, or missing.
    #[error("{0}")]
    Client(String),
    /// A tool exited non-zero: its name, exit status and the last lines of its stderr.
    #[error("{tool} failed ({status}): {stderr}")]
    Tool {
        tool: String,
        status: String,
        stderr: String,
    },
    #[error("{context}: {message}")]
    Database { context: String, message: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    /// The role may not create databases (rehearsal, restore into a new database).
    #[error(
        "role {role} may not create databases: a rehearsal needs CREATEDB (ALTER ROLE {role} CREATEDB), or run it as a role that has it"
    )]
    NoCreateDb { role: String },
    #[error("{0}")]
    Refused(String),
    #[error("cancelled")]
    Cancelled,
}
