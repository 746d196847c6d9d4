//! Before the console takes the terminal: the lock that keeps one console per plan and environment, waiting out a
//! console that lost its terminal and is still finishing, and the earlier unfinished run this one resumes.
//!
//! Everything here prints on stderr in plain lines (the terminal is still the operator's shell).

use std::path::{Path, PathBuf};

use crate::journal::{self, Entry, Event, LockError, LockInfo, RunLock};
use crate::plan::Plan;

/// How many times a console that hung up is waited for before giving up (each wait ends when it exits).
const FOLLOW_ROUNDS: usize = 3;

/// What the console starts from.
pub struct Startup {
    /// Held until the console exits.
    pub lock: RunLock,
    /// With `[team]`: the release lock on the team database, held until the console exits.
    pub team: Option<crate::team::lock::TeamLock>,
    /// The earlier run this one continues (its id) and its journal with the runs it resumed, oldest first.
    pub previous: Option<(String, Vec<Event>)>,
}

/// Why the console does not start.
#[derive(Debug)]
pub enum Refused {
    /// Another console runs this plan and environment (and has its terminal).
    Held(String),
    /// The lock or the journals could not be read.
    Failed(String),
}

/// Takes the plan's lock (following a hung-up holder's journal until it exits), with `[team]` the team's release
/// lock (waiting up to `wait` for it), and finds the run to resume.
pub async fn prepare(
    plan: &Plan,
    data_dir: &Path,
    operator: &str,
    wait: Option<std::time::Duration>,
) -> Result<Startup, Refused> {
    let plan_path = plan_path(plan);
    let environment = plan.project.environment.clone();
    let mut rounds = 0;
    let lock = loop {
        let holder = LockInfo {
            pid: std::process::id(),
            run: String::new(),
            journal: PathBuf::new(),
            user: operator.to_string(),
            host: super::host(),
            plan: plan_path.display().to_string(),
            environment: environment.clone(),
            started: jiff::Timestamp::now().to_string(),
        };
        match journal::acquire(data_dir, &plan_path, &environment, holder) {
            Ok(lock) => break lock,
            Err(LockError::Held(info)) if rounds < FOLLOW_ROUNDS && hung_up(&info.journal) => {
                rounds += 1;
                eprintln!(
                    "deckhand: the console of run {} (pid {}) lost its terminal and is finishing what was in \
                     flight; following its journal until it exits",
                    info.run, info.pid
                );
                let followed =
                    journal::follow(&info.journal, info.pid, |e| eprintln!("  {}", line(e))).await;
                if let Err(e) = followed {
                    return Err(Refused::Failed(format!(
                        "cannot follow {}: {e}",
                        info.journal.display()
                    )));
                }
                // Its lock goes when its process does.
                wait_gone(&info).await;
            }
            Err(e @ LockError::Held(_)) => {
                return Err(Refused::Held(format!(
                    "{e}\nOnly one console may run a plan in an environment. Use that console, or wait for it \
                     to quit."
                )));
            }
            Err(e) => return Err(Refused::Failed(e.to_string())),
        }
    };
    let team = match &plan.team {
        Some(team) => Some(team_lock(plan, team, operator, wait).await?),
        None => None,
    };
    let previous = match journal::latest_unfinished(data_dir, &plan_path, &environment) {
        Ok(Some(p)) => match journal::chain(data_dir, &p.run) {
            Ok(entries) => Some((p.run, entries.into_iter().map(|e| e.event).collect())),
            Err(e) => return Err(Refused::Failed(format!("cannot read run {}: {e}", p.run))),
        },
        Ok(None) => None,
        Err(e) => {
            return Err(Refused::Failed(format!(
                "cannot read the earlier runs: {e}"
            )));
        }
    };
    Ok(Startup {
        lock,
        team,
        previous,
    })
}

/// Takes the team's release lock for the plan's project and environment.
async fn team_lock(
    plan: &Plan,
    team: &crate::plan::Team,
    operator: &str,
    wait: Option<std::time::Duration>,
) -> Result<crate::team::lock::TeamLock, Refused> {
    use crate::team::lock::{Claim, Refusal, acquire};
    let claim = Claim {
        team: team.clone(),
        project: plan.project.name.clone(),
        environment: plan.project.environment.clone(),
        who: crate::team::Identity::current(operator.to_string(), super::host()),
        why: None,
    };
    let waiting = |h: &crate::team::lock::Holder| {
        eprintln!(
            "deckhand: {} {} is being released by {}; waiting for it to end",
            plan.project.name,
            plan.project.environment,
            crate::sanitize::sanitize_str(&h.describe())
        );
    };
    match acquire(claim, wait, waiting).await {
        Ok(lock) => Ok(lock),
        Err(Refusal::Held(h)) => Err(Refused::Held(format!(
            "{} {} is being released by {} (team database {}).\nOne release per project and environment at a \
             time, on every host. Wait for it (--wait 30m) or talk to them.",
            plan.project.name,
            plan.project.environment,
            crate::sanitize::sanitize_str(&h.describe()),
            crate::team::target(team)
        ))),
        Err(Refusal::Failed(e)) => Err(Refused::Failed(format!(
            "{e}\nWith [team], a release starts only once the team database says nobody else is releasing."
        ))),
    }
}

/// The plan's path as the journal and the lock name it: canonical (symlinks and `..` resolved), so two spellings
/// of the same file are one plan.
pub fn plan_path(plan: &Plan) -> PathBuf {
    std::fs::canonicalize(&plan.path)
        .or_else(|_| std::path::absolute(&plan.path))
        .unwrap_or_else(|_| plan.path.clone())
}

/// Whether the journal shows its console lost the terminal (SIGHUP, or the terminal failed) and has not quit.
fn hung_up(path: &Path) -> bool {
    journal::read_entries(path)
        .is_ok_and(|entries| journal::lost_terminal(&entries) == (true, false))
}

/// Waits (up to ten seconds) until the holder has exited, so its lock is free.
async fn wait_gone(holder: &LockInfo) {
    for _ in 0..100 {
        if !holder.pid_alive() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// One journal entry as a plain line: time, event and its fields, control characters shown inert.
pub fn line(entry: &Entry) -> String {
    let fields = serde_json::to_value(&entry.event)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default();
    let kind = fields
        .get("event")
        .and_then(|v| v.as_str())
        .unwrap_or("event")
        .to_string();
    let rest: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k.as_str() != "event")
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    let text = format!("{} {kind} {}", entry.ts, rest.join(" "));
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
