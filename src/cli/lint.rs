//! `deckhand lint PATH...`: the risk of each statement of a migrations folder (any supported format) or of loose
//! `.sql` files, for CI and for reading before a release. Human output with the source snippet, or JSON; exit 0
//! when nothing is at or above `--fail-on`, 1 when something is, 2 on bad usage. An unreachable database only
//! costs the live context (a note says so).

use std::path::PathBuf;

use clap::ValueEnum;
use deckhand::lint::{self, Class, FileReport, Finding};
use deckhand::migrate::{self, Migration, db};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Dangerous,
    Breaking,
    Locking,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// deckhand runs the migrations: it sets lock_timeout itself
    Deckhand,
    /// another tool runs them: a missing lock_timeout is a finding
    Other,
}

/// What `deckhand lint` is asked.
#[derive(clap::Args, Debug)]
pub struct Flags {
    /// Migration folders (any supported format) or .sql files (default with --plan: the plan's migrations)
    #[arg(required_unless_present = "plan")]
    pub paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    pub format: OutputFormat,
    /// Exit 1 when a finding of this class or worse is present
    #[arg(long, value_enum, default_value = "dangerous")]
    pub fail_on: FailOn,
    /// Add live context (table sizes, lock holders, data impact) from this database
    #[arg(long, conflicts_with = "plan")]
    pub database_url: Option<String>,
    /// Add live context from this plan's database (through its tunnel, when it has one)
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// The plan's environment (one of its [environments.NAME]; default: [project] environment)
    #[arg(long = "env", value_name = "NAME", requires = "plan")]
    pub env: Option<String>,
    /// Who will run the migrations (decides whether a missing lock_timeout is a finding)
    #[arg(long, value_enum, default_value = "deckhand")]
    pub executor: Executor,
}

#[derive(Serialize)]
struct JsonOutput<'a> {
    files: &'a [FileReport],
    notes: &'a [String],
    summary: Summary,
    fail_on: &'static str,
    failed: bool,
}

#[derive(Serialize, Default)]
struct Summary {
    dangerous: usize,
    breaking: usize,
    locking: usize,
    ignored: usize,
    /// Statements that will fail on the live data (`--database-url`): they fail the lint at any `--fail-on` but
    /// `never`.
    will_fail: usize,
}

/// Runs the lint (`plan`: the one `--plan` named, loaded); returns the exit code.
pub fn run(req: &Flags, plan: Option<deckhand::plan::Plan>) -> u8 {
    let database = plan.as_ref().and_then(|p| p.database.as_ref());
    if let (Some(plan), None) = (&plan, database) {
        tell!(
            "deckhand: {} has no [database] section: no live database to judge against",
            plan.path.display()
        );
        return 2;
    }
    let paths = match database {
        Some(db) if req.paths.is_empty() => vec![db.migrations.clone()],
        _ => req.paths.clone(),
    };
    let sources = match collect(&paths) {
        Ok(m) => m,
        Err(e) => {
            tell!("deckhand: {e}");
            return 2;
        }
    };
    let migrations: Vec<Migration> = sources.iter().flat_map(|s| s.migrations.clone()).collect();
    let opts = lint::Options {
        executor_sets_lock_timeout: req.executor == Executor::Deckhand,
    };
    let mut reports = lint::run::analyze_all(&migrations, &opts);
    let mut notes = Vec::new();
    let live = match (&req.database_url, database) {
        (Some(url), _) => Some((url.clone(), None)),
        (None, Some(db)) => Some((db.url.value.clone(), Some(db))),
        (None, None) => None,
    };
    if let Some((url, db)) = live {
        // No database is not a reason to withhold the lint: report without live context, and say so.
        let masker = plan.as_ref().map(|p| p.secrets.masker());
        match live_context(&url, db, masker.clone(), &sources, &mut reports) {
            Ok(n) => notes = n,
            Err(e) => notes.push(format!("live context unavailable: {e}")),
        }
        if let Some(m) = masker {
            notes = notes.into_iter().map(|n| m.mask(&n).into_owned()).collect();
        }
    }
    let summary = summarize(&reports);
    let threshold = match req.fail_on {
        FailOn::Dangerous => Some(Class::Dangerous),
        FailOn::Breaking => Some(Class::Breaking),
        FailOn::Locking => Some(Class::Locking),
        FailOn::Never => None,
    };
    let failed = threshold.is_some_and(|t| reports.iter().any(|r| r.worst() >= t))
        || (threshold.is_some() && summary.will_fail > 0);
    match req.format {
        OutputFormat::Json => {
            let out = JsonOutput {
                files: &reports,
                notes: &notes,
                summary,
                fail_on: threshold.map_or("never", Class::label),
                failed,
            };
            match serde_json::to_string_pretty(&out) {
                Ok(text) => say!("{text}"),
                Err(e) => {
                    tell!("deckhand: {e}");
                    return 2;
                }
            }
        }
        OutputFormat::Human => print_human(&reports, &migrations, &notes, &summary, failed),
    }
    u8::from(failed)
}

/// The migrations of one path: a folder in its tool's format (whose ledger says which are pending), or a file.
struct Source {
    format: Option<migrate::Format>,
    migrations: Vec<Migration>,
}

/// Every migration named by the paths: folders are read in their tool's format, files as single migrations.
fn collect(paths: &[PathBuf]) -> Result<Vec<Source>, String> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let format = migrate::source::detect(path).map_err(|e| e.to_string())?;
            out.push(Source {
                format: Some(format),
                migrations: migrate::source::read(path, format).map_err(|e| e.to_string())?,
            });
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(Source {
                format: None,
                migrations: vec![lint::run::migration_from_file(path).map_err(|e| e.to_string())?],
            });
        } else if path.exists() {
            return Err(format!(
                "{}: expected a migrations folder or a .sql file",
                path.display()
            ));
        } else {
            return Err(format!("{}: no such file or folder", path.display()));
        }
    }
    Ok(out)
}

/// Table sizes and lock holders on every report; then the data impact of what would run, in order: a folder's
/// pending migrations (as its ledger says) and every loose file.
fn live_context(
    url: &str,
    db: Option<&deckhand::plan::Database>,
    masker: Option<deckhand::secrets::Masker>,
    sources: &[Source],
    reports: &mut [FileReport],
) -> Result<Vec<String>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let work = live_work(url, sources, reports);
    match (db, masker) {
        (Some(db), Some(masker)) => runtime.block_on(super::through_tunnel(db, masker, work))?,
        _ => runtime.block_on(work),
    }
}

/// What [`live_context`] does once the database can be reached.
async fn live_work(
    url: &str,
    sources: &[Source],
    reports: &mut [FileReport],
) -> Result<Vec<String>, String> {
    let settings = db::Settings {
        lock_timeout: std::time::Duration::from_secs(2),
        statement_timeout: Some(std::time::Duration::from_secs(30)),
    };
    let mut conn = db::connect(url, &settings)
        .await
        .map_err(|e| e.to_string())?;
    let mut notes = lint::run::add_live_context(&mut conn, reports)
        .await
        .map_err(|e| e.to_string())?;
    let mut batch: Vec<(&Migration, usize)> = Vec::new();
    let mut at = 0;
    for s in sources {
        let pending = match s.format {
            None => (0..s.migrations.len()).collect(),
            Some(f) => match migrate::status::read(&mut conn, f, &s.migrations).await {
                Ok(status) => status.pending(),
                Err(e) => {
                    notes.push(format!(
                        "data impact not judged: the ledger could not be read: {e}"
                    ));
                    Vec::new()
                }
            },
        };
        batch.extend(pending.into_iter().map(|i| (&s.migrations[i], at + i)));
        at += s.migrations.len();
    }
    let order: Vec<&Migration> = batch.iter().map(|(m, _)| *m).collect();
    let mut judged: Vec<FileReport> = batch.iter().map(|(_, i)| reports[*i].clone()).collect();
    lint::impact::judge(
        &mut conn,
        &order,
        &mut judged,
        &lint::impact::Limits::default(),
    )
    .await;
    for ((_, i), r) in batch.iter().zip(judged) {
        reports[*i].impacts = r.impacts;
    }
    Ok(notes)
}

fn summarize(reports: &[FileReport]) -> Summary {
    let mut s = Summary::default();
    for f in reports.iter().flat_map(|r| &r.findings) {
        match (f.ignored.is_some(), f.class) {
            (true, _) => s.ignored += 1,
            (false, Class::Dangerous) => s.dangerous += 1,
            (false, Class::Breaking) => s.breaking += 1,
            (false, Class::Locking) => s.locking += 1,
            (false, Class::Safe) => {}
        }
    }
    s.will_fail = reports
        .iter()
        .flat_map(|r| &r.impacts)
        .filter(|i| i.fails())
        .count();
    s
}

fn print_human(
    reports: &[FileReport],
    migrations: &[Migration],
    notes: &[String],
    s: &Summary,
    failed: bool,
) {
    for note in notes {
        say!("note: {}", safe(note));
    }
    for (r, m) in reports.iter().zip(migrations) {
        let n = r.findings.len();
        say!(
            "{}  {} finding(s), worst: {} · {}",
            r.path,
            n,
            r.worst().label(),
            r.atomicity.summary
        );
        for i in &r.impacts {
            let label = if i.fails() {
                "WILL FAIL"
            } else if i.loses() {
                "DATA LOSS"
            } else if i.matters() {
                "UNCOUNTED"
            } else {
                "DATA"
            };
            say!("  {label}  line {}: {}", i.line, safe(&i.text));
        }
        for f in &r.findings {
            print_finding(f, &m.sql);
        }
        for line in &r.atomicity.on_failure {
            say!("    atomicity: {line}");
        }
    }
    let will_fail = if s.will_fail > 0 {
        format!(", {} will fail on the live data", s.will_fail)
    } else {
        String::new()
    };
    say!(
        "{} dangerous, {} breaking, {} locking, {} ignored{will_fail}{}",
        s.dangerous,
        s.breaking,
        s.locking,
        s.ignored,
        if failed { " — FAILED" } else { "" }
    );
}

fn print_finding(f: &Finding, sql: &str) {
    let label = f.class.label().to_uppercase();
    let ignored = f
        .ignored
        .as_ref()
        .map_or(String::new(), |r| format!(" (ignored: {})", safe(r)));
    say!(
        "  {label} {}  line {}, statement {}{ignored}",
        f.rule,
        f.line,
        f.statement_index
    );
    for (n, text) in sql
        .lines()
        .enumerate()
        .skip(f.line.saturating_sub(1))
        .take(2)
    {
        say!("    {:>4} | {}", n + 1, safe(text));
    }
    say!("      why: {}", f.why);
    say!("      safer: {}", f.safer);
    for c in &f.context {
        say!("      live: {}", safe(c));
    }
}

/// Text from migration files or other sessions, made inert for the terminal or CI log it is printed to.
fn safe(text: &str) -> std::borrow::Cow<'_, str> {
    deckhand::sanitize::sanitize_str(text)
}
