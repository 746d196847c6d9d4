//! Reverting migrations for a rollback: each down migration runs in its own transaction together with the removal
//! of its ledger entry, newest first, so the tools agree with the database afterwards.

use std::time::Duration;

/// What a revert did: the migrations reverted (newest first) with their durations, and what stopped it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevertOutcome {
    pub reverted: Vec<(String, Duration)>,
    pub error: Option<String>,
}
