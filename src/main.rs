//! The `deckhand` command line: parses arguments, loads the plan, picks the mode and hands over.
//! Exit codes: 0 success; 1 a step failed or the run was aborted; 2 bad usage or an invalid plan.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[macro_use]
mod cli;

use clap::{Parser, Subcommand};
use deckhand::journal;
use deckhand::plan::{self, Plan};

/// The bundled demo plan (no external services needed).
const DEMO_PLAN: &str = include_str!("../config/demo.toml");
const DEMO_PLAN_NAME: &str = "config/demo.toml";

#[derive(Parser)]
#[command(
    name = "deckhand",
    version,
    about = "A terminal console for guided, recorded production deployments"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a plan in the console (checklist, phases, confirmations, journal)
    Run {
        /// The plan file
        #[arg(default_value = "deckhand.toml")]
        plan: PathBuf,
        /// The environment to target (one of the plan's [environments.NAME]; default: [project] environment)
        #[arg(long = "env", value_name = "NAME")]
        env: Option<String>,
        /// With [team]: wait this long (e.g. 30m) for another operator's release to end instead of exiting 4
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        wait: Option<std::time::Duration>,
    },
    /// Validate a plan and print what it would do; exit 0 if valid, 2 if not
    Check {
        /// The plan file
        plan: PathBuf,
        /// The environment to target (one of the plan's [environments.NAME]; default: [project] environment)
        #[arg(long = "env", value_name = "NAME")]
        env: Option<String>,
    },
    /// Turn a Markdown runbook into a plan (stdout, or a new file with -o); the summary on stderr; exit 0
    /// written, 2 bad usage or an unreadable runbook
    Import(cli::import::Flags),
    /// Write a starter plan (./deckhand.toml, or -o PLAN) from this project's files: migrations, the database
    /// URL's variable, fly.toml, compose, package.json scripts, the git branch; never over an existing plan;
    /// exit 0 written, 2 the plan is already there
    Init(cli::init::Flags),
    /// Run the bundled demo plan (environment "demo", no external services)
    Demo,
    /// Tail log files and commands live in the console's logs pane, without a plan; exit 0 on q, 1 ended by a
    /// signal or a lost terminal, 2 bad usage
    Tail(cli::tail::Flags),
    /// List past runs from the journal (with a plan that has [team]: the team's runs of its project)
    History {
        /// A plan whose [team] database holds the runs to list
        plan: Option<PathBuf>,
    },
    /// Team mode: `team init` creates the team schema, `team status` shows who is releasing what
    Team(cli::team::Flags),
    /// With [team]: approve (or refuse) a destructive action another operator's console waits on
    Approve(cli::team::ApproveFlags),
    /// With [team]: follow a run from anywhere, read-only, until it ends (the one releasing now, the newest, or RUN)
    Watch(cli::team::TargetFlags),
    /// Write a run's release report (Markdown) beside its journal and print its path
    Report {
        /// A run id, a unique prefix of one, or a run folder (default: the newest run)
        run: Option<String>,
        /// Print the report instead of writing report.md
        #[arg(long)]
        stdout: bool,
        /// Read the run from this plan's [team] database (printed, as with --stdout)
        #[arg(long)]
        plan: Option<PathBuf>,
    },
    /// Lint migrations for risk (a migrations folder or .sql files); exit 0 clean, 1 findings at or above --fail-on
    Lint(cli::lint::Flags),
    /// Back up the plan's database, verify the backup by reading it all back, then apply retention; exit 0 verified
    Backup {
        /// The plan file (needs [database] and [backup])
        #[arg(default_value = "deckhand.toml")]
        plan: PathBuf,
        /// The environment to target (one of the plan's [environments.NAME]; default: [project] environment)
        #[arg(long = "env", value_name = "NAME")]
        env: Option<String>,
    },
    /// Read a backup archive back in full; exit 0 good, 1 bad
    Verify {
        /// The archive (.dump file, .dir folder or SQLite copy)
        file: PathBuf,
        /// Also compare the archive's tables with this plan's live database
        #[arg(long)]
        plan: Option<PathBuf>,
    },
    /// The demo's stand-in web service (health endpoint and log file); started by `deckhand demo`
    #[command(hide = true)]
    DemoService {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long)]
        port: u16,
        #[arg(long, default_value = "1")]
        version: String,
        #[arg(long, default_value_t = 1)]
        error_percent: u32,
        /// Milliseconds added to every answer (a slow build)
        #[arg(long, default_value_t = 0)]
        slow_ms: u64,
        /// Replace the running instance and return once the new one answers
        #[arg(long)]
        detach: bool,
        /// Exit when this process (the console) is gone
        #[arg(long)]
        owner: Option<i32>,
    },
    /// Apply the pending migrations without the console (scripts, CI), behind the console's gates as flags;
    /// exit 0 applied, 1 failed, 2 usage, 3 refused by a gate, 4 the plan is in use
    Migrate(cli::migrate::Flags),
    /// Compare the live schema with what the applied migrations make (replayed on a scratch database);
    /// exit 0 no drift, 1 drift (or the check could not be made: stderr says why), 2 usage
    Drift(cli::drift::Flags),
    /// Show the status of the plan's migrations; exit 0 all applied, 3 pending, 1 problems
    Status {
        /// The plan file
        #[arg(default_value = "deckhand.toml")]
        plan: PathBuf,
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
        /// The environment to target (one of the plan's [environments.NAME]; default: [project] environment)
        #[arg(long = "env", value_name = "NAME")]
        env: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if reads_only(&cli.command) {
        die_quietly_on_a_closed_pipe();
    }
    let code = match cli.command {
        Command::Check { plan, env } => check(&plan, env.as_deref()),
        Command::Run { plan, env, wait } => match plan::load_env(&plan, env.as_deref()) {
            Ok(p) => console(p, wait),
            Err(e) => invalid(e),
        },
        Command::Demo => demo(),
        Command::Import(flags) => cli::import::run(&flags),
        Command::Init(flags) => cli::init::run(&flags),
        Command::Tail(flags) => cli::tail::run(&flags),
        Command::History { plan } => match plan.as_deref().map(plan::load).transpose() {
            Ok(p) => history(p.as_ref()),
            Err(e) => invalid(e),
        },
        Command::Team(flags) => cli::team::run(&flags),
        Command::Approve(flags) => cli::team::approve(&flags),
        Command::Watch(flags) => cli::team::watch(&flags),
        Command::Report { run, stdout, plan } => report(run.as_deref(), stdout, plan.as_deref()),
        Command::Lint(flags) => match flags
            .plan
            .as_deref()
            .map(|p| plan::load_env(p, flags.env.as_deref()))
        {
            Some(Err(e)) => invalid(e),
            Some(Ok(p)) => cli::lint::run(&flags, Some(p)),
            None => cli::lint::run(&flags, None),
        },
        Command::Backup { plan, env } => match plan::load_env(&plan, env.as_deref()) {
            Ok(p) => cli::backup::take(&p),
            Err(e) => invalid(e),
        },
        Command::Verify { file, plan } => match plan.as_deref().map(plan::load).transpose() {
            Ok(p) => cli::backup::verify(&file, p.as_ref()),
            Err(e) => invalid(e),
        },
        Command::DemoService {
            dir,
            port,
            version,
            error_percent,
            slow_ms,
            detach,
            owner,
        } => {
            let opts = cli::demo_service::Options {
                dir,
                port,
                version,
                error_percent,
                slow_ms,
                owner,
            };
            if detach {
                cli::demo_service::detach(&opts)
            } else {
                cli::demo_service::serve(opts)
            }
        }
        Command::Migrate(f) => match plan::load_env(&f.plan, f.env.as_deref()) {
            Ok(p) => cli::migrate::run(&p, &f.args()),
            Err(e) => invalid(e),
        },
        Command::Drift(f) => match plan::load_env(&f.plan, f.env.as_deref()) {
            Ok(p) => cli::drift::run(&p, &f),
            Err(e) => invalid(e),
        },
        Command::Status { plan, json, env } => match plan::load_env(&plan, env.as_deref()) {
            Ok(p) => cli::status::run(&p, json),
            Err(e) => invalid(e),
        },
    };
    ExitCode::from(code)
}

/// The commands that only read and print: a closed stdout (`deckhand check plan | head -1`) ends them.
fn reads_only(command: &Command) -> bool {
    matches!(
        command,
        Command::Check { .. }
            | Command::History { .. }
            | Command::Watch { .. }
            | Command::Report { .. }
            | Command::Lint { .. }
            | Command::Verify { .. }
            | Command::Status { .. }
            | Command::Import(_)
    )
}

/// Writing to a closed pipe ends the process the conventional way, as `cat` and `grep` end: killed by SIGPIPE
/// (the shell reports 141), quietly, never a panic. Rust ignores SIGPIPE by default (then `println!` panics on
/// the write's EPIPE); the commands that do work (`run`, `demo`, `migrate`, `backup`) keep it ignored, so a
/// reader going away never stops a migration or a backup half-way: they drop their output and finish.
fn die_quietly_on_a_closed_pipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: restoring the default disposition installs no handler (no code runs in signal context), and it
    // happens at startup before any thread is spawned.
    #[allow(unsafe_code)]
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// The demo: a fresh SQLite shop database in the data folder, then the console on the bundled plan.
fn demo() -> u8 {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        tell!(
            "deckhand: the console needs an interactive terminal (stdin and stdout must be a tty)"
        );
        return 2;
    }
    let dir = match journal::prepare_data_dir(false).and_then(|d| cli::demo::prepare(&d)) {
        Ok(dir) => dir,
        Err(e) => {
            tell!("deckhand: cannot set up the demo: {e}");
            return 1;
        }
    };
    // The demo's web service: a health endpoint and a log file, version 1 until the deploy phase replaces it.
    let port = match std::net::TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()) {
        Ok(addr) => addr.port(),
        Err(e) => {
            tell!("deckhand: cannot find a free port for the demo service: {e}");
            return 1;
        }
    };
    let service = cli::demo_service::Options {
        dir: dir.clone(),
        port,
        version: "1".into(),
        error_percent: 1,
        slow_ms: 0,
        owner: i32::try_from(std::process::id()).ok(),
    };
    if cli::demo_service::detach(&service) != 0 {
        return 1;
    }
    let demo_dir = dir.display().to_string();
    let bin = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "deckhand".into());
    let env = move |name: &str| match name {
        "DECKHAND_DEMO_DIR" => Some(demo_dir.clone()),
        "DECKHAND_DEMO_PORT" => Some(port.to_string()),
        "DECKHAND_BIN" => Some(bin.clone()),
        other => std::env::var(other).ok(),
    };
    let code = match plan::parse(DEMO_PLAN, Path::new(DEMO_PLAN_NAME), &env) {
        Ok(p) => console(p, None),
        Err(e) => invalid(e),
    };
    cli::demo_service::stop(&dir);
    code
}

/// `deckhand report`: from this host's journal, or with `--plan` from the plan's team database.
fn report(run: Option<&str>, stdout: bool, plan: Option<&Path>) -> u8 {
    if let Some(plan) = plan {
        return match plan::load(plan) {
            Ok(p) => cli::team::report(&p, run),
            Err(e) => invalid(e),
        };
    }
    match journal::prepare_data_dir(false) {
        Ok(dir) => cli::report::run(&dir, run, stdout),
        Err(e) => {
            tell!("deckhand: {e}");
            1
        }
    }
}

fn invalid(e: plan::PlanError) -> u8 {
    tell!("deckhand: invalid plan: {e}");
    2
}

fn check(path: &Path, env: Option<&str>) -> u8 {
    let plan = match plan::load_env(path, env) {
        Ok(p) => p,
        Err(e) => return invalid(e),
    };
    let destructive = plan.phases.iter().filter(|p| p.destructive).count();
    say!(
        "{}: ok. Project {:?}, environment {:?}{}; {} checklist item(s), {} phase(s), {} destructive.",
        path.display(),
        plan.project.name,
        plan.project.environment,
        if plan.project.is_production() {
            " (production: typed confirmations)"
        } else {
            ""
        },
        plan.checklist.len(),
        plan.phases.len(),
        destructive
    );
    for line in check_sections(&plan) {
        say!("  {line}");
    }
    for (i, phase) in plan.phases.iter().enumerate() {
        let mut kind = match (phase.seed, phase.destructive) {
            (true, _) => "destructive, seed",
            (false, true) => "destructive",
            (false, false) => "safe",
        }
        .to_string();
        if phase.optional {
            kind.push_str(", optional");
        }
        say!("  phase {} [{kind}] {}", i + 1, phase.name);
        for step in &phase.steps {
            say!("    $ {}", step.run.display);
        }
    }
    if let Some(r) = plan
        .rollback
        .as_ref()
        .filter(|r| !r.before_restore.is_empty())
    {
        say!(
            "  rollback before_restore (run first when the database is restored or reverted, and before U restores \
             in place)"
        );
        for step in &r.before_restore {
            say!("    $ {}", step.run.display);
        }
    }
    0
}

/// One line per release section `check` reports: environments, rollback, window, monitor, notify, smoke, seeding.
fn check_sections(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    if !plan.environments.is_empty() {
        lines.push(format!(
            "environments: {} (chosen: {}{})",
            plan.environments.join(", "),
            plan.project.environment,
            if plan.project.is_production() {
                ", a production environment"
            } else {
                ""
            }
        ));
    }
    lines.extend(cli::check::reach_lines(plan));
    if let Some(r) = &plan.rollback {
        let database = match r.database {
            plan::RollbackDatabase::Auto => "auto",
            plan::RollbackDatabase::Restore => "restore",
            plan::RollbackDatabase::Leave => "none",
        };
        let first = match r.before_restore.len() {
            0 => String::new(),
            n => format!(", {n} before_restore step(s)"),
        };
        lines.push(format!(
            "rollback: {} step(s), database {database}{first}",
            r.steps.len()
        ));
    }
    if let Some(w) = &plan.window {
        lines.push(format!("window: {}", w.describe()));
    }
    lines.push(format!(
        "monitor: {}",
        humantime::format_duration(plan.monitor.duration)
    ));
    if let Some(n) = &plan.notify {
        lines.push(format!("notify: {}", n.webhook.display));
    }
    if !plan.smoke.is_empty() {
        lines.push(format!("smoke: {} check(s)", plan.smoke.len()));
    }
    if !plan.health.is_empty() || !plan.logs.is_empty() {
        lines.push(format!(
            "watches: {} health check(s), {} log source(s)",
            plan.health.len(),
            plan.logs.len()
        ));
    }
    let seeds: Vec<&str> = plan
        .phases
        .iter()
        .filter(|p| p.seed)
        .map(|p| p.name.as_str())
        .collect();
    if !seeds.is_empty() {
        lines.push(format!(
            "seed phase(s): {} (seeding {})",
            seeds.join(", "),
            if plan.project.allow_seed {
                "allowed here"
            } else {
                "not allowed here"
            }
        ));
    }
    lines
}

fn console(plan: Plan, wait: Option<std::time::Duration>) -> u8 {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        tell!(
            "deckhand: the console needs an interactive terminal (stdin and stdout must be a tty)"
        );
        return 2;
    }
    let data_dir = match journal::prepare_data_dir(plan.project.shared_data) {
        Ok(d) => d,
        Err(e) => {
            tell!("deckhand: {e}");
            return 1;
        }
    };
    let _log = init_tracing(&data_dir);
    let runtime = match deckhand::console::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            tell!("deckhand: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(deckhand::console::run(plan, &data_dir, wait)) {
        Ok(code) => u8::try_from(code).unwrap_or(1),
        Err(e) => {
            tell!("deckhand: {e:#}");
            1
        }
    }
}

/// deckhand's own diagnostics go to `<data dir>/deckhand.log`, never to the screen. Level from `DECKHAND_LOG`.
fn init_tracing(data_dir: &Path) -> Option<()> {
    journal::create_private_dir(data_dir).ok()?;
    // 0600, never through a symlink or a hard link planted at the path (then nothing is logged, and the operator
    // is told why before the screen is taken).
    let file = match deckhand::safe_fs::open_append(&data_dir.join("deckhand.log")) {
        Ok(file) => file,
        Err(e) => {
            tell!("deckhand: not writing diagnostics: {e}");
            return None;
        }
    };
    let level = std::env::var("DECKHAND_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_max_level(level)
        .try_init()
        .ok()
}

fn history(plan: Option<&Plan>) -> u8 {
    let listed = match plan.and_then(cli::team::history) {
        Some(team) => team,
        None => journal::data_dir()
            .and_then(|d| journal::list_runs(&d))
            .map_err(|e| format!("cannot read the journal: {e}")),
    };
    let runs = match listed {
        Ok(runs) if runs.is_empty() => {
            say!("No runs recorded yet.");
            return 0;
        }
        Ok(runs) => runs,
        Err(e) => {
            tell!("deckhand: {e}");
            return 1;
        }
    };
    // Written through a locked stdout: a closed pipe (`| head`) ends the listing instead of panicking.
    let mut out = std::io::stdout().lock();
    if writeln!(
        out,
        "{:<28} {:<20} {:<18} {:<12} {:<14} {:>5}  RESULT",
        "RUN", "STARTED (UTC)", "PROJECT", "ENV", "USER", "STEPS"
    )
    .is_err()
    {
        return 0;
    }
    for r in runs {
        let result = match (r.exit_code, &r.end_reason) {
            (Some(c), Some(why)) if r.outcome.is_some() => {
                let name = r.outcome.map(|o| o.name()).unwrap_or_default();
                match why.as_str() {
                    "operator quit" => format!("{name} (exit {c})"),
                    _ => format!("{name} (exit {c}): {why}"),
                }
            }
            (Some(0), _) => "ok".to_string(),
            (Some(c), Some(why)) => format!("exit {c}: {why}"),
            (Some(c), None) => format!("exit {c}"),
            (None, _) => "no end recorded (crashed or still running)".to_string(),
        };
        let started: String = r.started.replace('T', " ").chars().take(19).collect();
        let steps = if r.failed_steps > 0 {
            format!("{}/{}!", r.steps - r.failed_steps, r.steps)
        } else {
            r.steps.to_string()
        };
        // Names and reasons come from journals, which anyone who can write the data folder could have edited.
        let row = cli::inert(&format!(
            "{:<28} {:<20} {:<18} {:<12} {:<14} {:>5}  {result}",
            r.run, started, r.project, r.environment, r.user, steps
        ));
        if writeln!(out, "{row}").is_err() {
            return 0;
        }
    }
    0
}
