//! Carrying out `update`'s effects: spawning and cancelling step runners, writing the journal. The only place
//! where the app's requests meet I/O; failures come back as actions so the screen shows them.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{Action, Effect, State};
use crate::journal::{Event, Journal};
use crate::runner::command::{CommandSpec, TERM_GRACE, run_command};
use crate::runner::{RunnerEvent, StepId};

/// How long shutdown waits for a runner beyond its TERM grace before giving up on it.
const SHUTDOWN_SLACK: Duration = Duration::from_secs(2);

pub struct Executor {
    journal: Journal,
    tx: mpsc::Sender<RunnerEvent>,
    steps: HashMap<StepId, (CancellationToken, JoinHandle<()>)>,
    pub quit: bool,
}

impl Executor {
    pub fn new(journal: Journal, tx: mpsc::Sender<RunnerEvent>) -> Self {
        Executor {
            journal,
            tx,
            steps: HashMap::new(),
            quit: false,
        }
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Writes one journal event now.
    pub fn record(&mut self, event: Event) -> std::io::Result<()> {
        self.journal.append(event, SystemTime::now())
    }

    /// Carries out effects in order; returns actions reporting what failed.
    pub fn apply(&mut self, effects: Vec<Effect>, state: &State) -> Vec<Action> {
        let mut feedback = Vec::new();
        for effect in effects {
            match effect {
                Effect::StartStep(id) => self.start(id, state),
                Effect::CancelStep(id) => {
                    if let Some((token, _)) = self.steps.get(&id) {
                        token.cancel();
                    }
                }
                Effect::Journal(event) => {
                    if let Err(e) = self.record(event) {
                        tracing::error!("journal write failed: {e}");
                        feedback.push(Action::EffectFailed(format!(
                            "JOURNAL WRITE FAILED ({}): {e}",
                            self.journal.path().display()
                        )));
                    }
                }
                Effect::Quit => self.quit = true,
            }
        }
        feedback
    }

    fn start(&mut self, id: StepId, state: &State) {
        self.steps.retain(|_, (_, handle)| !handle.is_finished());
        let step = &state.plan.phases[id.phase].steps[id.step];
        let spec = CommandSpec {
            id,
            command: step.run.value.clone(),
            cwd: step.cwd.clone(),
            env: step
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.value.clone()))
                .collect(),
            timeout: step.timeout,
            log_path: self.journal.step_log_path(id.phase, id.step),
            grace: TERM_GRACE,
        };
        let token = CancellationToken::new();
        let handle = tokio::spawn(run_command(spec, self.tx.clone(), token.clone()));
        self.steps.insert(id, (token, handle));
    }

    /// Cancels whatever still runs and waits for it (each runner kills its process group).
    pub async fn shutdown(&mut self) {
        for (_, (token, handle)) in self.steps.drain() {
            token.cancel();
            let abort = handle.abort_handle();
            if tokio::time::timeout(TERM_GRACE + SHUTDOWN_SLACK, handle)
                .await
                .is_err()
            {
                // Dropping the runner's future kills its process group (its drop guard).
                tracing::error!("a step runner did not stop in time; aborting it");
                abort.abort();
            }
        }
    }
}
