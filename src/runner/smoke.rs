//! The verify stage's `[[smoke]]` endpoints: each probed once, concurrently, judged like a health check.

use tokio::sync::mpsc::Sender;

use super::{Probe, RunnerEvent};
use crate::plan::HealthCheck;

pub async fn run(checks: Vec<HealthCheck>, tx: Sender<RunnerEvent>) {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, check) in checks.into_iter().enumerate() {
        tasks.spawn(async move {
            let probe = match super::health::client(&check) {
                Ok(client) => super::health::probe(&client, &check).await,
                Err(why) => Probe::NoAnswer { why },
            };
            (i, probe)
        });
    }
    while let Some(done) = tasks.join_next().await {
        let Ok((check, probe)) = done else { continue };
        if tx.send(RunnerEvent::Smoke { check, probe }).await.is_err() {
            return;
        }
    }
}
