//! The console's part in team mode: the release lock's state forwarded to the screen, the journal copied to the
//! team database as it is written, the stage named in the lock's row, and at the end the copy finished and the lock
//! released. Without `[team]` all of it is absent.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::journal::{Event, Journal};
use crate::plan::Plan;
use crate::runner::RunnerEvent;
use crate::team::lock::TeamLock;
use crate::team::sync::JournalSync;

/// How long the journal copy may take to catch up when the console ends.
const FINISH_LIMIT: Duration = Duration::from_secs(5);

/// The lock and the journal copy of one run.
pub struct TeamRun {
    lock: Option<TeamLock>,
    sync: Option<JournalSync>,
}

impl TeamRun {
    /// Starts the journal copy of `journal`'s run and names the run in the lock's row; forwards the lock's state
    /// on `tx`.
    pub fn start(
        plan: &Plan,
        lock: Option<TeamLock>,
        journal: &Journal,
        tx: &mpsc::Sender<RunnerEvent>,
    ) -> TeamRun {
        if let Some(l) = &lock {
            l.set_run(journal.run_id());
            // The first state (held) is the one the console starts from: the app says nothing about it.
            tokio::spawn(crate::runner::forward(
                l.states(),
                tx.clone(),
                RunnerEvent::TeamLock,
            ));
        }
        let sync = plan.team.clone().map(|team| {
            tokio::spawn(catch_up_earlier(
                team.clone(),
                plan.project.clone(),
                journal.run_dir().to_path_buf(),
            ));
            JournalSync::start(
                team,
                journal.run_id().to_string(),
                journal.path().to_path_buf(),
            )
        });
        TeamRun { lock, sync }
    }

    /// No team.
    pub fn none() -> TeamRun {
        TeamRun {
            lock: None,
            sync: None,
        }
    }

    /// The journal has new entries (`events`, just written).
    pub fn wrote(&self, events: &[Event]) {
        if let Some(s) = &self.sync {
            s.wrote();
        }
        if let Some(l) = &self.lock {
            for e in events {
                if let Event::StageStarted { stage } = e {
                    l.set_stage(stage.name());
                }
            }
        }
    }

    /// Copies what is left of the journal (for a few seconds at most: what stays behind is caught up by the next
    /// console) and releases the lock.
    pub async fn finish(&mut self) {
        if let Some(s) = self.sync.take() {
            let state = s.finish(FINISH_LIMIT).await;
            if state.synced < state.local {
                tracing::warn!(
                    ?state,
                    "the team journal is behind; the next console catches it up"
                );
            }
        }
        if let Some(l) = self.lock.take() {
            l.release().await;
        }
    }
}

/// How many of this host's earlier runs of the plan's project and environment are checked for entries the team
/// database lacks (a console that ended while it was unreachable).
const CATCH_UP_RUNS: usize = 20;

/// Copies what the team database lacks of this host's earlier runs of the same project and environment.
async fn catch_up_earlier(
    team: crate::plan::Team,
    project: crate::plan::Project,
    run_dir: std::path::PathBuf,
) {
    let Some(data_dir) = run_dir.parent().and_then(|runs| runs.parent()) else {
        return;
    };
    let Ok(runs) = crate::journal::list_runs(data_dir) else {
        return;
    };
    let earlier: Vec<(String, std::path::PathBuf)> = runs
        .into_iter()
        .filter(|r| r.project == project.name && r.environment == project.environment)
        .filter(|r| r.journal.parent() != Some(run_dir.as_path()))
        .rev()
        .take(CATCH_UP_RUNS)
        .map(|r| (r.run, r.journal))
        .collect();
    match crate::team::sync::catch_up(&team, &earlier).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(entries = n, "caught up earlier runs on the team database"),
        Err(e) => tracing::warn!(%e, "could not catch up earlier runs on the team database"),
    }
}
