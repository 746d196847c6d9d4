//! The smoke runner: probes each `[[smoke]]` endpoint once, all at the same time, with the health runner's probe,
//! and reports each answer as [`RunnerEvent::Smoke`] with the endpoint's index.

use futures_util::future::join_all;
use tokio::sync::mpsc::Sender;

use super::health::{client, probe};
use super::{Probe, RunnerEvent};
use crate::plan::{HealthCheck, HealthTarget};

/// One probe of `check`: its URL (a client that cannot be built is no answer, saying why), or one run of its
/// command.
pub(crate) async fn probe_once(check: &HealthCheck) -> Probe {
    if let HealthTarget::Command(cmd) = &check.target {
        return super::health_command::probe(cmd, check.timeout).await;
    }
    match client(check) {
        Ok(c) => probe(&c, check).await,
        Err(why) => Probe::NoAnswer { why },
    }
}

/// Probes every check once, concurrently; one `Smoke { check, probe }` per check, in the order they answer.
pub async fn run(checks: Vec<HealthCheck>, tx: Sender<RunnerEvent>) {
    let probes = checks.iter().enumerate().map(|(i, check)| {
        let tx = tx.clone();
        async move {
            let probe = probe_once(check).await;
            if tx
                .send(RunnerEvent::Smoke { check: i, probe })
                .await
                .is_err()
            {
                tracing::debug!("smoke runner: the console is gone");
            }
        }
    });
    join_all(probes).await;
}
