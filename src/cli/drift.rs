//! `deckhand drift [PLAN]`: how the live database's schema differs from what its applied migrations make (the
//! history replayed on a scratch database, see `deckhand::drift`). One line per difference, or JSON. Exit 0 no
//! drift, 1 drift found, 2 bad usage or an invalid plan; a check that could not be made (database unreachable,
//! ledger unreadable, a migration that does not replay, no CREATEDB, interrupted) is 1 as well, as for `status`,
//! with the reason on stderr (and in the JSON's `error`): never a "no drift". Progress on stderr when it is a
//! terminal. Every line inert, the plan's secrets masked. Imports `deckhand::drift` and the other subcommands'
//! runtime and signal handling (`super::backup`).

use std::io::IsTerminal;

use deckhand::drift::{self, DriftReport, Stage};
use deckhand::plan::Plan;
use deckhand::secrets::Masker;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use super::lint::OutputFormat;

/// `deckhand drift`'s command line.
#[derive(Debug, clap::Args)]
pub struct Flags {
    /// The plan file (needs [database])
    #[arg(default_value = "deckhand.toml")]
    pub plan: std::path::PathBuf,
    /// The environment to target (one of the plan's [environments.NAME]; default: [project] environment)
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
    /// Output format on stdout
    #[arg(long, value_enum, default_value = "human")]
    pub format: OutputFormat,
}

/// Exit code: no drift.
const NO_DRIFT: u8 = 0;
/// Exit code: drift found, or the check could not be made (stderr says which).
const DRIFT_OR_UNCHECKED: u8 = 1;
/// Exit code: bad usage or an invalid plan.
const USAGE: u8 = 2;

/// The JSON printed: the outcome, then the report's fields (or the error).
#[derive(Serialize)]
struct JsonOutput<'a> {
    /// `no_drift`, `drift` or `not_checked`.
    result: &'static str,
    exit_code: u8,
    #[serde(flatten)]
    report: Option<&'a DriftReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Runs the check; returns the exit code.
pub fn run(plan: &Plan, flags: &Flags) -> u8 {
    let Some(db) = &plan.database else {
        tell!(
            "deckhand: {} has no [database] section: no schema to check",
            plan.path.display()
        );
        return USAGE;
    };
    let masker = plan.secrets.masker();
    let Some(rt) = super::backup::runtime() else {
        return DRIFT_OR_UNCHECKED;
    };
    let tty = std::io::stderr().is_terminal();
    let work = async {
        let cancel = CancellationToken::new();
        if let Err(e) = super::backup::cancel_on_signals(cancel.clone()) {
            tell!("deckhand: cannot install signal handlers: {e}");
        }
        let mut progress = |stage: Stage| {
            if tty && worth_a_line(&stage) {
                tell!("{}", masker.mask(&stage_line(&stage)));
            }
        };
        drift::check_reporting(db, &cancel, &mut progress).await
    };
    let outcome = match rt.block_on(super::through_tunnel(db, plan.secrets.masker(), work)) {
        Ok(checked) => checked.map_err(|e| e.to_string()),
        Err(why) => Err(why),
    };
    let json = flags.format == OutputFormat::Json;
    match outcome {
        Ok(report) => {
            let code = if report.has_drift() {
                DRIFT_OR_UNCHECKED
            } else {
                NO_DRIFT
            };
            if json {
                let result = if report.has_drift() {
                    "drift"
                } else {
                    "no_drift"
                };
                print_json(&masker, result, code, Some(&report), None);
            } else {
                print_human(&masker, &report);
            }
            code
        }
        Err(text) => {
            tell!(
                "deckhand: could not check for drift: {}",
                masker.mask(&text)
            );
            if json {
                print_json(&masker, "not_checked", DRIFT_OR_UNCHECKED, None, Some(text));
            }
            DRIFT_OR_UNCHECKED
        }
    }
}

/// Every stage, but only the first, every hundredth and the last migration replayed (a long history would scroll
/// everything else away).
fn worth_a_line(stage: &Stage) -> bool {
    match stage {
        Stage::Replaying { done, of, .. } => {
            *done == 1 || done == of || done % REPLAY_LINE_EVERY == 0
        }
        _ => true,
    }
}

/// A progress line for every this many migrations replayed.
const REPLAY_LINE_EVERY: usize = 100;

fn stage_line(stage: &Stage) -> String {
    match stage {
        Stage::ReadingLive => "deckhand: reading the ledger and the live schema".into(),
        Stage::Creating => "deckhand: creating a scratch database for the history".into(),
        Stage::Created { scratch } => format!("deckhand: replaying the history on {scratch}"),
        Stage::Replaying { name, done, of } => format!("deckhand: replaying {done}/{of} {name}"),
        Stage::ReadingHistory => "deckhand: reading the replayed schema".into(),
        Stage::Cleaning => "deckhand: removing the scratch database".into(),
    }
}

fn print_json(
    masker: &Masker,
    result: &'static str,
    exit_code: u8,
    report: Option<&DriftReport>,
    error: Option<String>,
) {
    let out = JsonOutput {
        result,
        exit_code,
        report,
        error,
    };
    match serde_json::to_string_pretty(&out) {
        Ok(text) => say!("{}", masker.mask(&text)),
        Err(e) => tell!("deckhand: {e}"),
    }
}

fn print_human(masker: &Masker, report: &DriftReport) {
    let replayed = report.replayed.len();
    say!(
        "{}",
        masker.mask(&format!(
            "{} ({} migrations): {replayed} applied migration(s) replayed on {}, {} live object(s) compared",
            report.target, report.format, report.scratch, report.live_objects
        ))
    );
    for d in &report.differences {
        say!("  {}", masker.mask(&d.message));
    }
    for note in &report.notes {
        say!("note: {}", masker.mask(note));
    }
    let n = report.differences.len();
    if n == 0 {
        say!("no drift: the live schema is what the applied migrations make");
    } else {
        say!(
            "drift: {n} difference(s) between the live schema and what the applied migrations make"
        );
    }
}
