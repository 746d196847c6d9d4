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
    /// The secret values the plan resolved: masked in everything deckhand writes and shows.
    pub secrets: Secrets,
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
    /// `[[smoke]]`: endpoints probed once by the verify phase (same keys as `[[health]]`).
    pub smoke: Vec<HealthCheck>,
    /// `[environments.NAME]` names in file order; empty when the plan defines none.
    pub environments: Vec<String>,
    /// `[rollback]`: what `R` runs.
    pub rollback: Option<Rollback>,
    /// `[window]`: when a release may start (overridable with a typed reason).
    pub window: Option<DeployWindow>,
    /// `[monitor]`: how long the monitor phase watches.
    pub monitor: Monitor,
    /// `[notify]`: a Slack-compatible webhook told about the run.
    pub notify: Option<Notify>,
    /// `[team]`: the PostgreSQL database the team coordinates through (release lock, shared journal, approvals).
    pub team: Option<Team>,
    /// `[release] order`: the release's stages in the order they gate one another (names of [`STAGES`]; by
    /// default that order). A runbook that deploys code before migrating says `deploy` before `migrate`.
    pub stage_order: Vec<String>,
}

/// `[team]`: where operators coordinate (one release at a time per project and environment, the shared journal,
/// four-eyes approval). Nothing secret is ever written there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// A `postgres://` URL, interpolated; `display` has the password masked.
    pub database: Resolved,
    /// The schema deckhand's tables live in (default `deckhand`).
    pub schema: String,
    /// A role to `SET ROLE` to after connecting, when the team gives deckhand its own.
    pub role: Option<String>,
    /// Environments where every destructive action waits for a second operator's approval.
    pub approve: Vec<String>,
    /// How long an approval request waits before it times out.
    pub approval_timeout: Duration,
}

impl Team {
    /// Whether destructive actions in `environment` need a second operator's approval.
    pub fn approval_required(&self, environment: &str) -> bool {
        self.approve.iter().any(|e| e == environment)
    }
}

/// The release's stages by their journal names, in deckhand's default order.
pub const STAGES: [&str; 7] = [
    "preflight",
    "backup",
    "migrate",
    "deploy",
    "verify",
    "monitor",
    "sign-off",
];

#[derive(Debug, Clone)]
pub struct Project {
    pub name: String,
    /// The environment this run targets (`--env`, else `[project] environment`); the word a production
    /// confirmation asks the operator to type.
    pub environment: String,
    /// Named `production`/`prod`, or `production = true` in its `[environments.NAME]` table (else in `[project]`,
    /// the default for every environment).
    pub production: bool,
    /// Seed phases may run here (`allow_seed = true` in its `[environments.NAME]` table, else in `[project]`;
    /// default false); in production they still need the typed confirmation.
    pub allow_seed: bool,
    /// `shared_data = true` in `[project]`: the data folder is shared by a group of operators on purpose, so
    /// its group may reach it (never other users) and what deckhand writes there is group-readable and -writable.
    pub shared_data: bool,
}

impl Project {
    /// Production gets red, and typed confirmations.
    pub fn is_production(&self) -> bool {
        self.production
    }
}

/// Whether an environment name alone marks production.
pub fn is_production_name(env: &str) -> bool {
    let env = env.to_ascii_lowercase();
    env == "production" || env == "prod"
}

/// What the rollback does to the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackDatabase {
    /// Down migrations for what this run applied when every one has one; otherwise restore this run's backup.
    Auto,
    /// Always restore this run's backup.
    Restore,
    /// Leave the database alone (code steps only).
    Leave,
}

/// `[rollback]`: code steps (run in order), steps run before the database is restored or reverted (stop the
/// app), and what happens to the database.
#[derive(Debug, Clone)]
pub struct Rollback {
    pub steps: Vec<Step>,
    /// Run first, before the code steps and the database part, when the rollback restores or reverts the database
    /// (and before an in-place restore with `U`).
    pub before_restore: Vec<Step>,
    pub database: RollbackDatabase,
}

/// `[window]`: the days and hours a release may start in, in `timezone` (IANA name; the host's when absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployWindow {
    /// Allowed weekdays, 0 = Monday … 6 = Sunday; empty = every day.
    pub days: Vec<u8>,
    /// Allowed minutes since midnight, `[start, end)`; `None` = all day.
    pub hours: Option<(u16, u16)>,
    pub timezone: Option<String>,
}

/// `[monitor]`: the watch after the deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Monitor {
    /// Default 15 minutes.
    pub duration: Duration,
}

impl Default for Monitor {
    fn default() -> Self {
        Monitor {
            duration: Duration::from_secs(15 * 60),
        }
    }
}

/// `[notify]`: where run events are posted (Slack-compatible `{"text": …}` JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    /// The URL usually carries a token: `display` never shows it resolved.
    pub webhook: Resolved,
    pub timeout: Duration,
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
    /// How long each data-impact query may run before deckhand estimates instead (`lint::impact`).
    pub impact_timeout: Duration,
    /// The command that opens the way to the database (a port forward), when it is only reachable through one.
    pub tunnel: Option<Tunnel>,
}

/// `[database] tunnel`: a port forward deckhand runs for as long as it needs the database (`flyctl proxy`, `ssh -N
/// -L`, `kubectl port-forward`, `cloud-sql-proxy`), in its own process group, restarted when it exits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tunnel {
    /// Run as `sh -c`; a secret in it is passed through `env`, never on the command line.
    pub command: Resolved,
    /// The secrets `command` reads from its environment.
    pub env: SecretEnv,
    /// Where the tunnel listens: the database URL's host (a loopback name or address) and port (`tunnel_port`).
    pub host: String,
    pub port: u16,
    /// How long one start may take to open the port before deckhand stops it and starts it again.
    pub ready_timeout: Duration,
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
    /// Loads seed or test data: destructive, refused in production unless the environment allows seeding, and
    /// then confirmed by typing `seed <environment>`.
    pub seed: bool,
    /// Outside the release: the deploy stage neither waits for it nor counts its result (a side task such as a
    /// cache warm-up or a report). It still goes through the same gates when it is destructive.
    pub optional: bool,
    pub steps: Vec<Step>,
}

impl Phase {
    /// Part of the deploy stage: the stage waits for it to succeed (seeding and optional phases are not).
    pub fn in_deploy(&self) -> bool {
        !self.seed && !self.optional
    }
}

#[derive(Debug, Clone)]
pub struct Step {
    pub run: Resolved,
    pub timeout: Option<Duration>,
    /// Absolute, or relative to the plan file's folder (already joined).
    pub cwd: Option<PathBuf>,
    pub env: Vec<(String, Resolved)>,
}

/// The secret values of a plan (variables whose names look secret, passwords in URLs). `Debug` shows only how
/// many.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secrets(pub Vec<String>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} value(s))", self.0.len())
    }
}

impl Secrets {
    /// A masker over these values.
    pub fn masker(&self) -> crate::secrets::Masker {
        crate::secrets::Masker::new(&self.0)
    }
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

/// What a `[[health]]` check probes: a URL, or a command.
#[derive(Debug, Clone, PartialEq)]
pub enum HealthTarget {
    /// An HTTP(S) endpoint.
    Url(Resolved),
    /// A shell command: exit 0 is healthy; a number it prints is the sample.
    Command(HealthCommand),
}

/// `[[health]] command = "…"`: run with `sh -c` in its own process group every `interval`, killed at `timeout`.
/// The last non-empty line of its output, when it reads as a number, is the check's sample (it plays the role
/// latency plays for a URL: baseline, `latency_factor` alerts); `max`/`min` bound it.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCommand {
    /// The command; a secret appears in it as `"$NAME"` (see `env`).
    pub run: Resolved,
    /// The secrets the command uses, passed in its environment, never in its argv.
    pub env: SecretEnv,
    /// A sample over this is a failure.
    pub max: Option<f64>,
    /// A sample under this is a failure.
    pub min: Option<f64>,
}

impl HealthCommand {
    /// The bounds in words (`max 80`, `min 1 max 80`), empty without any.
    pub fn bounds(&self) -> String {
        let mut parts = Vec::new();
        if let Some(min) = self.min {
            parts.push(format!("min {min}"));
        }
        if let Some(max) = self.max {
            parts.push(format!("max {max}"));
        }
        parts.join(" ")
    }
}

/// `[[health]]`: one check, of a URL or a command.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    pub name: String,
    pub target: HealthTarget,
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
    /// Alert when latency (a command's sample) exceeds this factor of the baseline.
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
    /// The secrets a `command` uses, passed in its environment (its text says `"$NAME"`). `Debug` shows names only.
    pub command_env: SecretEnv,
}

/// Environment variables holding secrets: `Debug` prints their names, never their values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretEnv(pub Vec<(String, String)>);

impl fmt::Debug for SecretEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        write!(f, "SecretEnv({names:?})")
    }
}

impl HealthCheck {
    /// The URL, for a URL check.
    pub fn url(&self) -> Option<&Resolved> {
        match &self.target {
            HealthTarget::Url(u) => Some(u),
            HealthTarget::Command(_) => None,
        }
    }

    /// The command, for a command check.
    pub fn command(&self) -> Option<&HealthCommand> {
        match &self.target {
            HealthTarget::Command(c) => Some(c),
            HealthTarget::Url(_) => None,
        }
    }
}
