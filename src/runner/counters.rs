//! The counters runner: reads the plan's database's write counters (PostgreSQL's statistics, SQLite's row counts)
//! for a prompt that says what a restore would lose, and reports them — or why not, within [`READ_LIMIT`], so the
//! prompt always opens.

use std::time::Duration;

use tokio::sync::mpsc::Sender;

use super::{CountersFor, RunnerEvent};
use crate::backup::{counters, store};
use crate::plan::Database;

/// How long reading the counters may take before the prompt opens saying they could not be read.
pub const READ_LIMIT: Duration = Duration::from_secs(10);

pub async fn read(db: Database, purpose: CountersFor, tx: Sender<RunnerEvent>) {
    let result = match tokio::time::timeout(READ_LIMIT, counters::read_live(&db)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "no answer within {}",
            humantime::format_duration(READ_LIMIT)
        )),
    };
    let ev = RunnerEvent::Counters {
        purpose,
        at_unix: store::unix_now(),
        result,
    };
    if tx.send(ev).await.is_err() {
        tracing::debug!("counters runner: the console is gone");
    }
}
