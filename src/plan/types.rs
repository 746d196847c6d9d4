//! The validated plan model handed to the rest of deckhand. Built by [`super::load`] / [`super::parse`];
//! plain data, no I/O.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A loaded, interpolated and validated plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The plan file as given on the command line (used in messages and the journal).
    pub path: PathBuf,
    /// sha256 of the plan file's bytes, lowercase hex.
    pub checksum: String,
    pub project: Project,
    /// The database and its migrations, when the plan has a `[database]` section.
    pub database: Option<Database>,
    /// `[backup]`: where and how backups of the database are taken.
    pub backup: Option<Backup>,
    pub checklist: Vec<ChecklistItem>,
    pub phases: Vec<Phase>,
    /// `[[health]]`: HTTP checks sampled for a baseline and watched during the release.
    pub health: Vec<HealthCheck>,
    /// `[[verify]]`: SQL assertions run by the verify step.
    pub verify: Vec<VerifyCheck>,
    /// `[[logs]]`: log sources merged into the logs pane.
    pub logs: Vec<LogSource>,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    /// The word a production confirmation asks the operator to type.
    pub environment: String,
}

impl Project {
    /// Production gets red, and typed confirmations.
    pub fn is_production(&self) -> bool {
        let env = self.environment.to_ascii_lowercase();
        env == "production" || env == "prod"
    }
}

/// The migration folder formats a plan may name.
pub const MIGRATION_FORMATS: [&str; 4] = ["prisma", "sqlx", "drizzle", "plain"];

/// `[database]`: the target and its migrations.
#[derive(Debug, Clone)]
pub struct Database {
    /// Interpolated; `display` has the password masked.
    pub url: Resolved,
    /// The migrations folder (relative paths joined onto the plan's folder).
    pub migrations: PathBuf,
    /// One of [`MIGRATION_FORMATS`], or detected from the folder when absent.
    pub format: Option<String>,
    /// Startup `lock_timeout` of deckhand's connection: how long a statement waits for a lock.
    pub lock_timeout: Duration,
    /// Startup `statement_timeout`, if set.
    pub statement_timeout: Option<Duration>,
    /// How long deckhand waits for the migration tool's advisory lock before naming who holds it.
    pub lock_wait: Duration,
}

/// How `pg_dump` writes a PostgreSQL backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupFormat {
    /// One compressed file (`pg_dump -Fc`), the default.
    Custom,
    /// A folder, one file per table, dumped by `jobs` parallel workers (`pg_dump -Fd -j N`).
    Directory { jobs: u32 },
}

/// `[backup]`: where backups go, in which format, and how many are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// Absolute, `~` expanded, relative paths joined onto the plan's folder.
    pub dir: PathBuf,
    pub format: BackupFormat,
    /// Verified backups of the same environment and database to keep; older ones are deleted only after a new
    /// one is verified. `None` keeps every backup.
    pub keep: Option<usize>,
    /// Where `pg_dump`/`pg_restore` live, when not the ones matching the server (or on `PATH`).
    pub bin_dir: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct ChecklistItem {
    pub item: String,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub destructive: bool,
    /// Refused until a backup taken in this run has been verified (or the operator types a reason).
    pub needs_backup: bool,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub run: Resolved,
    pub timeout: Option<Duration>,
    /// Absolute, or relative to the plan file's folder (already joined).
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, Resolved)>,
}

/// An interpolated string: `value` is what runs, `display` is what may be shown (screen, journal, report).
/// In `display`, variables whose names look secret (PASSWORD, SECRET, TOKEN, KEY, CREDENTIAL, PASS, AUTH)
/// stay as `${NAME}`; other variables are shown resolved. `Debug` prints only `display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Resolved {
    pub value: String,
    pub display: String,
}

impl Resolved {
    /// A string with no interpolation in it.
    pub fn literal(s: &str) -> Self {
        Resolved {
            value: s.to_string(),
            display: s.to_string(),
        }
    }
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.display, f)
    }
}

/// Which HTTP statuses count as up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusMatch {
    List(Vec<u16>),
    /// Inclusive.
    Range(u16, u16),
}

impl StatusMatch {
    pub fn matches(&self, status: u16) -> bool {
        match self {
            StatusMatch::List(l) => l.contains(&status),
            StatusMatch::Range(lo, hi) => (*lo..=*hi).contains(&status),
        }
    }
}

impl fmt::Display for StatusMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusMatch::List(l) => {
                let codes: Vec<String> = l.iter().map(u16::to_string).collect();
                write!(f, "{}", codes.join(", "))
            }
            StatusMatch::Range(lo, hi) => write!(f, "{lo}-{hi}"),
        }
    }
}

/// `[[health]]`: one HTTP check.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub name: String,
    pub url: Resolved,
    /// Upper case (`GET`, `HEAD`, `POST`…).
    pub method: String,
    /// Header values may come from the environment (`display` masks secrets).
    pub headers: Vec<(String, Resolved)>,
    pub expect_status: StatusMatch,
    pub body_contains: Option<String>,
    /// A JSON pointer (`/status`) and the value it must equal.
    pub json: Option<(String, serde_json::Value)>,
    /// Slower answers count as failures.
    pub max_latency: Option<Duration>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Extra CA certificate (PEM) to trust.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate: shown as a red warning.
    pub insecure: bool,
    /// Consecutive failures before the check turns unhealthy.
    pub fail_after: u32,
    /// Consecutive successes before it turns healthy again.
    pub recover_after: u32,
    /// Alert when latency exceeds this factor of the baseline.
    pub latency_factor: f64,
    /// Alert when the error ratio over `window` exceeds this (0.05 = 5%).
    pub error_rate: f64,
    /// The sliding window alerts are computed over.
    pub window: Duration,
    /// Samples taken for the baseline before the first destructive phase.
    pub baseline_samples: u32,
}

/// A comparison operator of a `[[verify]]` expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// `[[verify]]`: a query whose single value must satisfy `op value` (numbers compared as numbers, else as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyCheck {
    pub name: String,
    pub sql: String,
    pub op: CmpOp,
    pub value: String,
}

/// Where a `[[logs]]` source reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogInput {
    /// A command's output (`flyctl logs -f`), restarted with backoff when it exits.
    Command(Resolved),
    /// A file followed across rotation and truncation (`tail -F`).
    File(PathBuf),
}

/// `[[logs]]`: one log source.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSource {
    pub name: String,
    pub input: LogInput,
    /// Lines matching this regex are errors (besides level detection).
    pub error: Option<String>,
    /// Silent longer than this: shown as quiet (not broken).
    pub quiet_after: Duration,
    /// Restart a command that exits (default true).
    pub restart: bool,
    /// Alert when the share of error lines over `window` exceeds this (0.05 = 5%), as health checks do.
    pub error_rate: f64,
    pub window: Duration,
}
