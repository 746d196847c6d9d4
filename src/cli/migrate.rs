//! `deckhand migrate [PLAN]`: applies the pending migrations without the console, for scripts and CI, behind the
//! console's gates stated as flags — `--confirm <environment>` in production, `--accept-loss <object>` for each
//! object whose data a Dangerous finding destroys, a verified backup taken now (or `--no-backup <reason>`), a
//! passing dry-run first where one can run (or `--no-dry-run <reason>`), and the live data's gates
//! ([`super::migrate_data`]: `--will-fail <reason>`, `--drift <reason>`). Progress on stderr, `--format json` on
//! stdout, journaled and reported like a console run, under the plan's run lock. Exit 0 applied (or nothing to
//! apply), 1 failed, 2 bad usage, 3 refused by a gate, 4 another console holds the plan.

use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use deckhand::journal::{self, Event, Journal};
use deckhand::lint::Class;
use deckhand::migrate::apply::{Confirmed, Progress, Rehearsal};
use deckhand::plan::{Database, Plan};
use deckhand::runner::migrate::ApplyOutcome;
use deckhand::runner::migrate::Snapshot;
use tokio_util::sync::CancellationToken;

/// `deckhand migrate`'s command line.
#[derive(Debug, clap::Args)]
pub struct Flags {
    /// The plan file (needs [database])
    #[arg(default_value = "deckhand.toml")]
    pub plan: std::path::PathBuf,
    /// The environment to target (one of the plan's [environments.NAME]; default: [project] environment)
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// The environment's name, required to apply in production
    #[arg(long, value_name = "ENVIRONMENT")]
    confirm: Option<String>,
    /// An object whose data a pending migration destroys (one flag each; the refusal names them)
    #[arg(long = "accept-loss", value_name = "OBJECT")]
    accept_loss: Vec<String>,
    /// Apply without taking a verified backup first, for this reason (journaled)
    #[arg(long = "no-backup", value_name = "REASON")]
    no_backup: Option<String>,
    /// Apply without a dry-run first, for this reason (journaled)
    #[arg(long = "no-dry-run", value_name = "REASON")]
    no_dry_run: Option<String>,
    /// Apply although statements will fail on the live data, for this reason (journaled)
    #[arg(long = "will-fail", value_name = "REASON")]
    will_fail: Option<String>,
    /// Apply although the live schema drifted from its applied history, for this reason (journaled)
    #[arg(long = "drift", value_name = "REASON")]
    drift: Option<String>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "human")]
    format: super::lint::OutputFormat,
}

impl Flags {
    /// The flags as the command uses them (an empty reason is no reason).
    pub fn args(&self) -> Args {
        let reason = |r: &Option<String>| r.clone().filter(|r| !r.trim().is_empty());
        Args {
            confirm: self.confirm.clone(),
            accept_loss: self.accept_loss.clone(),
            no_backup: reason(&self.no_backup),
            no_dry_run: reason(&self.no_dry_run),
            will_fail: reason(&self.will_fail),
            drift: reason(&self.drift),
            json: self.format == super::lint::OutputFormat::Json,
        }
    }
}

/// What the flags say.
#[derive(Debug, Clone, Default)]
pub struct Args {
    pub confirm: Option<String>,
    pub accept_loss: Vec<String>,
    pub no_backup: Option<String>,
    pub no_dry_run: Option<String>,
    pub will_fail: Option<String>,
    pub drift: Option<String>,
    pub json: bool,
}

/// How the command ended: its exit code, one line for people, and what was applied.
#[derive(Debug, Default, serde::Serialize)]
struct Outcome {
    exit_code: u8,
    result: String,
    applied: Vec<Applied>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    refused: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Debug, serde::Serialize)]
struct Applied {
    name: String,
    duration_ms: u64,
}

impl Outcome {
    fn refused(why: Vec<String>) -> Outcome {
        Outcome {
            exit_code: 3,
            result: "refused".into(),
            refused: why,
            ..Outcome::default()
        }
    }

    fn failed(error: String) -> Outcome {
        Outcome {
            exit_code: 1,
            result: "failed".into(),
            error: Some(error),
            ..Outcome::default()
        }
    }
}

/// `deckhand migrate`: the exit code.
pub fn run(plan: &Plan, args: &Args) -> u8 {
    let Some(db) = plan.database.clone() else {
        tell!(
            "deckhand: {} has no [database] section: nothing to migrate",
            plan.path.display()
        );
        return 2;
    };
    let data_dir = match journal::prepare_data_dir(plan.project.shared_data) {
        Ok(d) => d,
        Err(e) => {
            tell!("deckhand: {e}");
            return 1;
        }
    };
    let Some(rt) = super::backup::runtime() else {
        return 1;
    };
    let (_lock, team) = match rt.block_on(deckhand::console::startup::prepare(
        plan,
        &data_dir,
        &deckhand::console::operator(),
        None,
    )) {
        Ok(startup) => (startup.lock, startup.team),
        Err(deckhand::console::startup::Refused::Held(why)) => {
            tell!("deckhand: {why}");
            return 4;
        }
        Err(deckhand::console::startup::Refused::Failed(why)) => {
            tell!("deckhand: {why}");
            return 1;
        }
    };
    let mut journal = match Journal::create(&data_dir, SystemTime::now()) {
        Ok(j) => j,
        Err(e) => {
            tell!("deckhand: cannot create the run journal: {e}");
            return 1;
        }
    };
    journal.set_masker(plan.secrets.masker());
    super::backup::record(&mut journal, deckhand::console::run_started(plan));
    if let Some(t) = &team {
        t.set_run(journal.run_id());
        t.set_stage("migrate");
    }
    let work = flow(plan, &db, args, &mut journal);
    let outcome = rt
        .block_on(super::through_tunnel(&db, plan.secrets.masker(), work))
        .unwrap_or_else(Outcome::failed);
    let code = finish(&mut journal, &outcome, args.json);
    rt.block_on(super::team::after_run(plan, team, &journal));
    code
}

/// Journals the end, writes the report, prints the outcome; the exit code.
fn finish(journal: &mut Journal, outcome: &Outcome, json: bool) -> u8 {
    let reason = match (&outcome.error, outcome.refused.is_empty()) {
        (Some(e), _) => format!("migrate failed: {e}"),
        (None, false) => format!("migrate refused: {}", outcome.refused.join("; ")),
        (None, true) => outcome.result.clone(),
    };
    super::backup::record(
        journal,
        Event::Quit {
            exit_code: i32::from(outcome.exit_code),
            reason,
            outcome: None,
        },
    );
    if let Ok(entries) = journal::read_entries(journal.path())
        && let Some(dir) = journal.path().parent()
        && let Err(e) = journal::write_report(dir, &entries)
    {
        tell!("deckhand: cannot write the report: {e}");
    }
    for why in &outcome.refused {
        tell!(
            "deckhand: refused: {}",
            deckhand::sanitize::sanitize_str(why)
        );
    }
    if let Some(e) = &outcome.error {
        for line in e.lines() {
            tell!("deckhand: {}", deckhand::sanitize::sanitize_str(line));
        }
    }
    tell!(
        "deckhand: {}",
        deckhand::sanitize::sanitize_str(&outcome.result)
    );
    tell!("deckhand: journal {}", journal.path().display());
    if json {
        let text = serde_json::to_string_pretty(outcome).unwrap_or_default();
        say!("{text}");
    }
    outcome.exit_code
}

/// Status, gates, backup, dry-run, apply.
async fn flow(plan: &Plan, db: &Database, args: &Args, journal: &mut Journal) -> Outcome {
    let snap = match deckhand::runner::migrate::snapshot(db).await {
        Ok(s) => s,
        Err(e) => return Outcome::failed(format!("cannot read the migration status: {e}")),
    };
    let pending = snap.status.pending();
    let mut refused: Vec<String> = snap
        .status
        .blocking()
        .iter()
        .map(|e| format!("{} is {} (resolve it first)", e.name, e.state.label()))
        .collect();
    refused.extend(
        snap.status.invalid_indexes.iter().map(|i| {
            format!("an INVALID index {i} blocks the apply (drop it in the console with X)")
        }),
    );
    if refused.is_empty() && pending.is_empty() {
        return Outcome {
            result: "nothing to apply: every migration is applied".into(),
            ..Outcome::default()
        };
    }
    refused.extend(gates(plan, &snap, args));
    // The live data and schema, as the console's gates judge them.
    let failing = snap.failing_lines();
    let drift = super::migrate_data::drift(db).await;
    let (will_fail, drift_reason) = (args.will_fail.as_deref(), args.drift.as_deref());
    refused.extend(super::migrate_data::refusals(
        &failing,
        drift.as_ref(),
        will_fail,
        drift_reason,
    ));
    if !refused.is_empty() {
        return Outcome::refused(refused);
    }
    super::migrate_data::record_overrides(
        journal,
        &failing,
        drift.as_ref(),
        will_fail,
        drift_reason,
    );
    if let Some(stop) = backup_gate(plan, args, journal).await {
        return stop;
    }
    if let Some(stop) = dry_run_gate(db, args, journal).await {
        return stop;
    }
    // A backup or a dry-run may have taken a while: what is pending and which tables are empty are read again.
    let snap = if args.no_backup.is_none() || args.no_dry_run.is_none() {
        let snap = match deckhand::runner::migrate::snapshot(db).await {
            Ok(s) => s,
            Err(e) => return Outcome::failed(format!("cannot read the migration status: {e}")),
        };
        let refused = gates(plan, &snap, args);
        if !refused.is_empty() {
            return Outcome::refused(refused);
        }
        snap
    } else {
        snap
    };
    let pending = snap.status.pending();
    apply_pending(db, &snap, &pending, journal).await
}

/// The flags each gate needs: the environment's name in production, each object whose data is lost.
fn gates(plan: &Plan, snap: &Snapshot, args: &Args) -> Vec<String> {
    let mut refused = Vec::new();
    let env = &plan.project.environment;
    if plan.project.is_production() && args.confirm.as_deref() != Some(env.as_str()) {
        refused.push(format!(
            "{env} is production: pass --confirm {env} to apply there"
        ));
    }
    for object in at_stake(snap) {
        if !args.accept_loss.contains(&object) {
            refused.push(format!(
                "a pending migration destroys data of {object}: pass --accept-loss {object}"
            ));
        }
    }
    refused
}

/// The objects whose existing data a Dangerous finding of a pending migration destroys, each once (the console asks
/// for each name typed). An object created earlier in the batch, or a table the status read found empty, holds no
/// data to lose (the status is read again just before the apply).
fn at_stake(snap: &Snapshot) -> Vec<String> {
    let mut objects = Vec::new();
    for (name, report) in snap.pending_reports() {
        for f in report
            .findings
            .iter()
            .filter(|f| f.class == Class::Dangerous && f.spared.is_none())
        {
            let object = f.object.clone().unwrap_or_else(|| name.to_string());
            if !objects.contains(&object) {
                objects.push(object);
            }
        }
    }
    objects
}

/// A verified backup taken now, or the reason to go without; `Some` ends the command.
async fn backup_gate(plan: &Plan, args: &Args, journal: &mut Journal) -> Option<Outcome> {
    if let Some(reason) = &args.no_backup {
        super::backup::record(
            journal,
            Event::BackupGateOverridden {
                what: "apply migrations (deckhand migrate)".into(),
                reason: reason.clone(),
            },
        );
        return None;
    }
    let Some(job) = deckhand::runner::backup::Job::of(plan) else {
        return Some(Outcome::refused(vec![
            "the plan has no [backup] to take a verified backup with: add one, or pass --no-backup REASON".into(),
        ]));
    };
    super::backup::record(
        journal,
        Event::BackupStarted {
            target: deckhand::migrate::db::target(&job.database.url.value),
            dir: job.backup.dir.display().to_string(),
        },
    );
    match super::backup::run_take(job, journal).await {
        0 => None,
        _ => Some(Outcome::failed(
            "the backup failed or did not verify: nothing was applied".into(),
        )),
    }
}

/// A passing dry-run of what can be rehearsed, or the reason to go without; `Some` ends the command.
async fn dry_run_gate(db: &Database, args: &Args, journal: &mut Journal) -> Option<Outcome> {
    if let Some(reason) = &args.no_dry_run {
        super::backup::record(
            journal,
            Event::ConfirmationGiven {
                what: "apply migrations without a dry-run (deckhand migrate)".into(),
                typed: reason.clone(),
            },
        );
        return None;
    }
    tell!("dry-run: every pending migration in one transaction, then rolled back");
    let result = deckhand::runner::migrate::rehearse(db).await;
    let results = match result {
        Ok(r) => r,
        Err(e) => return Some(Outcome::failed(format!("the dry-run could not run: {e}"))),
    };
    let lines: Vec<String> = results.iter().map(deckhand::app::rehearsal_line).collect();
    for line in &lines {
        tell!("  {}", deckhand::sanitize::sanitize_str(line));
    }
    super::backup::record(
        journal,
        Event::MigrationsDryRun {
            results: lines.clone(),
        },
    );
    let failed: Vec<String> = results
        .iter()
        .zip(&lines)
        .filter(|(r, _)| matches!(r, Rehearsal::Failed { .. }))
        .map(|(_, l)| format!("the dry-run failed: {l}"))
        .collect();
    (!failed.is_empty()).then(|| Outcome::refused(failed))
}

/// Applies exactly the pending migrations the gates judged, printing progress on stderr.
async fn apply_pending(
    db: &Database,
    snap: &Snapshot,
    pending: &[usize],
    journal: &mut Journal,
) -> Outcome {
    let names: Vec<String> = pending
        .iter()
        .map(|&i| snap.migrations[i].name.clone())
        .collect();
    super::backup::record(
        journal,
        Event::MigrationsApplyStarted {
            target: deckhand::migrate::db::target(&db.url.value),
            format: snap.format.name().into(),
            migrations: names,
        },
    );
    let confirmed: Vec<Confirmed> = pending
        .iter()
        .map(|&i| Confirmed::of(&snap.migrations[i]))
        .collect();
    let stop = CancellationToken::new();
    if let Err(e) = super::backup::cancel_on_signals(stop.clone()) {
        return Outcome::failed(format!("cannot install signal handlers: {e}"));
    }
    let report = match apply_until(db, &confirmed, pending.len(), &stop).await {
        Ok(r) => r,
        Err(e) => return Outcome::failed(e.to_string()),
    };
    let mut outcome = Outcome::default();
    for (name, took) in &report.applied {
        let duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        outcome.applied.push(Applied {
            name: name.clone(),
            duration_ms,
        });
    }
    // One write and one fsync for the whole batch.
    let events = outcome.applied.iter().map(|a| Event::MigrationApplied {
        name: a.name.clone(),
        duration_ms: a.duration_ms,
    });
    if let Err(e) = journal.append_all(events, SystemTime::now()) {
        tell!(
            "deckhand: JOURNAL WRITE FAILED ({}): {e}",
            journal.path().display()
        );
    }
    let total: Duration = report.applied.iter().map(|(_, t)| *t).sum();
    let done = format!(
        "applied {} of {} migration(s) in {}",
        report.applied.len(),
        pending.len(),
        deckhand::plan::human_duration(total)
    );
    match report.error {
        Some(e) => {
            record_failure(journal, &e, report.failure.as_ref());
            outcome.exit_code = 1;
            outcome.error = Some(e);
            outcome.result = format!("{done}; then FAILED");
        }
        None if report.stopped => {
            outcome.exit_code = 1;
            outcome.result = format!("{done}; stopped by a signal before the rest");
        }
        None => outcome.result = done,
    }
    outcome
}

fn record_failure(
    journal: &mut Journal,
    error: &str,
    f: Option<&deckhand::migrate::error::StatementFailure>,
) {
    super::backup::record(
        journal,
        Event::MigrationFailed {
            name: f.map(|f| f.migration.clone()),
            error: error.to_string(),
            line: f.map(|f| f.line),
            column: f.map(|f| f.column),
            statement: f.map(|f| f.statement.clone()),
        },
    );
}

/// The apply with its lock watch, printing progress and lock waits on stderr.
async fn apply_until(
    db: &Database,
    confirmed: &[Confirmed],
    total: usize,
    stop: &CancellationToken,
) -> Result<ApplyOutcome, deckhand::migrate::MigrateError> {
    let tty = std::io::stderr().is_terminal();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let progress = move |p: Progress| {
        let line = match p {
            // On a terminal, what runs now; in a log, one line per migration once applied (as sqlx-cli prints).
            Progress::Started { name, .. } if tty => {
                let n = done.load(std::sync::atomic::Ordering::Relaxed) + 1;
                let line = format!("applying {n}/{total} {name}");
                err!("\r{}\x1b[K", deckhand::sanitize::sanitize_str(&line));
                return;
            }
            Progress::Applied { name, took } => {
                let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                let took = deckhand::plan::human_duration(took);
                if tty {
                    err!("\r\x1b[2K");
                }
                format!("applied {n}/{total} {name} in {took}")
            }
            Progress::Waiting(w) => format!("  {}", deckhand::app::text::lock_wait_line(&w)),
            Progress::Unblocked => "  the lock is free: going on".into(),
            _ => return,
        };
        tell!("{}", deckhand::sanitize::sanitize_str(&line));
    };
    let operator = deckhand::console::operator();
    let stopping = || stop.is_cancelled();
    deckhand::runner::migrate::apply_watched(db, operator, confirmed, progress, &stopping).await
}
