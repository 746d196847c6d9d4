//! The console's part in team mode: the release lock's state forwarded to the screen, the journal copied to the
//! team database as it is written, the stage named in the lock's row, and at the end the copy finished and the lock
//! released. Without `[team]` all of it is absent.

use std::time::Duration;

use tokio::sync::mpsc;

use crate::journal::{Event, Journal};
use crate::plan::Plan;
use crate::runner::RunnerEvent;
use crate::team::approve::{self, ApprovalEvent, Request};
use crate::team::lock::TeamLock;
use crate::team::sync::JournalSync;
use tokio_util::sync::CancellationToken;

/// How long the journal copy may take to catch up when the console ends.
const FINISH_LIMIT: Duration = Duration::from_secs(5);

/// The lock and the journal copy of one run, and what its approval requests are made of.
pub struct TeamRun {
    lock: Option<TeamLock>,
    sync: Option<JournalSync>,
    /// A request of this run, all but the action: its team, run, project, environment, operator and timeout.
    asks: Option<(crate::plan::Team, Request)>,
    /// Withdraws the approval request under way.
    withdraw: Option<CancellationToken>,
}

impl TeamRun {
    /// Starts the journal copy of `journal`'s run and names the run in the lock's row; forwards the lock's state
    /// on `tx`.
    pub fn start(
        plan: &Plan,
        lock: Option<TeamLock>,
        journal: &Journal,
        tx: &mpsc::Sender<RunnerEvent>,
        who: crate::team::Identity,
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
        let asks = plan.team.clone().map(|team| {
            let request = Request {
                run_id: journal.run_id().to_string(),
                project: plan.project.name.clone(),
                environment: plan.project.environment.clone(),
                action: String::new(),
                detail: Vec::new(),
                by: who,
                timeout: team.approval_timeout,
            };
            (team, request)
        });
        TeamRun {
            lock,
            sync,
            asks,
            withdraw: None,
        }
    }

    /// Files a request for approval of `action` and waits for its decision, reporting both on `tx`. Without a team
    /// (never asked then) it fails at once.
    pub fn request_approval(
        &mut self,
        action: String,
        detail: Vec<String>,
        tx: mpsc::Sender<RunnerEvent>,
    ) {
        let Some((team, base)) = self.asks.clone() else {
            let failed = ApprovalEvent::Failed("this plan has no [team]".into());
            tokio::spawn(async move { tx.send(RunnerEvent::Approval(failed)).await });
            return;
        };
        let request = Request {
            action,
            detail,
            ..base
        };
        let withdraw = CancellationToken::new();
        self.withdraw = Some(withdraw.clone());
        tokio::spawn(async move {
            let ev = match approve::request(&team, &request).await {
                Err(e) => ApprovalEvent::Failed(e.to_string()),
                Ok(id) => {
                    let _ = tx
                        .send(RunnerEvent::Approval(ApprovalEvent::Asked { id }))
                        .await;
                    match approve::decision(&team, id, &withdraw).await {
                        Ok(d) => ApprovalEvent::Decided(d),
                        Err(e) => ApprovalEvent::Failed(e.to_string()),
                    }
                }
            };
            let _ = tx.send(RunnerEvent::Approval(ev)).await;
        });
    }

    /// Withdraws the request under way, if any.
    pub fn withdraw_approval(&mut self) {
        if let Some(w) = self.withdraw.take() {
            w.cancel();
        }
    }

    /// No team.
    pub fn none() -> TeamRun {
        TeamRun {
            lock: None,
            sync: None,
            asks: None,
            withdraw: None,
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
