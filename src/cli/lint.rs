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

/// What `deckhand lint` was asked.
pub struct Request {
    pub paths: Vec<PathBuf>,
    pub format: OutputFormat,
    pub fail_on: FailOn,
    pub database_url: Option<String>,
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
}

/// Runs the lint; returns the exit code.
pub fn run(req: &Request) -> u8 {
    let migrations = match collect(&req.paths) {
        Ok(m) => m,
        Err(e) => {
            tell!("deckhand: {e}");
            return 2;
        }
    };
    let opts = lint::Options {
        executor_sets_lock_timeout: req.executor == Executor::Deckhand,
    };
    let mut reports = lint::run::analyze_all(&migrations, &opts);
    let mut notes = Vec::new();
    if let Some(url) = &req.database_url {
        // No database is not a reason to withhold the lint: report without live context, and say so.
        match live_context(url, &mut reports) {
            Ok(n) => notes = n,
            Err(e) => notes.push(format!("live context unavailable: {e}")),
        }
    }
    let summary = summarize(&reports);
    let threshold = match req.fail_on {
        FailOn::Dangerous => Some(Class::Dangerous),
        FailOn::Breaking => Some(Class::Breaking),
        FailOn::Locking => Some(Class::Locking),
        FailOn::Never => None,
    };
    let failed = threshold.is_some_and(|t| reports.iter().any(|r| r.worst() >= t));
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

/// Every migration named by the paths: folders are read in their tool's format, files as single migrations.
fn collect(paths: &[PathBuf]) -> Result<Vec<Migration>, String> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let format = migrate::source::detect(path).map_err(|e| e.to_string())?;
            out.extend(migrate::source::read(path, format).map_err(|e| e.to_string())?);
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(lint::run::migration_from_file(path).map_err(|e| e.to_string())?);
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

fn live_context(url: &str, reports: &mut [FileReport]) -> Result<Vec<String>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let settings = db::Settings {
            lock_timeout: std::time::Duration::from_secs(2),
            statement_timeout: Some(std::time::Duration::from_secs(30)),
        };
        let mut conn = db::connect(url, &settings)
            .await
            .map_err(|e| e.to_string())?;
        lint::run::add_live_context(&mut conn, reports)
            .await
            .map_err(|e| e.to_string())
    })
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
        for f in &r.findings {
            print_finding(f, &m.sql);
        }
        for line in &r.atomicity.on_failure {
            say!("    atomicity: {line}");
        }
    }
    say!(
        "{} dangerous, {} breaking, {} locking, {} ignored{}",
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
