//! Progress reports for the SQLite side: the current stage, bytes against a known or estimated total, and a
//! steady tick while something opaque (a statement, a blocking job) runs.

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::super::types::{Progress, Stage};

/// How often progress is sent while something runs.
pub const POLL: Duration = Duration::from_millis(200);

/// Sends [`Progress`] for one operation: the stage it is in, its expected total, what it works on.
#[derive(Debug)]
pub struct Reporter<'a> {
    progress: &'a watch::Sender<Progress>,
    started: Instant,
    stage: Stage,
    total: Option<u64>,
    detail: Option<String>,
}

impl<'a> Reporter<'a> {
    pub fn new(progress: &'a watch::Sender<Progress>, started: Instant) -> Reporter<'a> {
        Reporter {
            progress,
            started,
            stage: Stage::Preparing,
            total: None,
            detail: None,
        }
    }

    /// Enters `stage` (bytes start again from 0); `total` is the expected byte count, if known.
    pub fn stage(&mut self, stage: Stage, total: Option<u64>, detail: Option<String>) {
        self.stage = stage;
        self.total = total.filter(|t| *t > 0);
        self.detail = detail;
        self.bytes(0);
    }

    /// `bytes` done so far in the current stage.
    pub fn bytes(&self, bytes: u64) {
        let permille = self.total.map(|t| {
            u16::try_from((u128::from(bytes) * 1000 / u128::from(t)).min(1000)).unwrap_or(1000)
        });
        let now = Progress {
            stage: self.stage,
            bytes,
            permille,
            elapsed: self.started.elapsed(),
            detail: self.detail.clone(),
        };
        self.progress.send_replace(now);
    }

    /// Only the elapsed time moved on.
    pub fn tick(&self) {
        let elapsed = self.started.elapsed();
        self.progress.send_modify(|p| p.elapsed = elapsed);
    }
}

/// Awaits `fut`, calling `on_tick` every [`POLL`] (and once at the start) until it finishes.
pub async fn ticking<F: Future>(fut: F, mut on_tick: impl FnMut()) -> F::Output {
    tokio::pin!(fut);
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            out = &mut fut => return out,
            _ = tick.tick() => on_tick(),
        }
    }
}
