//! `deckhand migrate`'s gates on the live data, as the console's (issue 18): statements that will fail on the
//! live data (`--will-fail REASON`) and a live schema that drifted from its applied history (`--drift REASON`).
//! A drift check that could not be made is said on stderr and does not gate, as in the console.

use deckhand::drift::DriftReport;
use deckhand::journal::{Blocker, Event, Journal, Stage};
use deckhand::plan::Database;

/// The drift check (its differences; none when it could not be made, which is said on stderr).
pub async fn drift(db: &Database) -> Option<DriftReport> {
    match deckhand::drift::check(db, &tokio_util::sync::CancellationToken::new()).await {
        Ok(r) => Some(r),
        Err(e) => {
            tell!("deckhand: drift not checked (does not gate the apply): {e}");
            None
        }
    }
}

/// What the two gates refuse, given the flags' reasons.
pub fn refusals(
    failing: &[String],
    drift: Option<&DriftReport>,
    will_fail: Option<&str>,
    drift_reason: Option<&str>,
) -> Vec<String> {
    let mut out = Vec::new();
    if !failing.is_empty() && will_fail.is_none() {
        out.extend(
            failing
                .iter()
                .map(|l| format!("will fail on the live data: {l}")),
        );
        out.push("to apply anyway, pass --will-fail REASON".into());
    }
    if let Some(r) = drift.filter(|r| r.has_drift())
        && drift_reason.is_none()
    {
        out.extend(
            r.differences
                .iter()
                .map(|d| format!("drift: {}", d.message)),
        );
        out.push("to apply anyway, pass --drift REASON".into());
    }
    out
}

/// Journals the reasons the operator gave to go past the gates, as the console does.
pub fn record_overrides(
    journal: &mut Journal,
    failing: &[String],
    drift: Option<&DriftReport>,
    will_fail: Option<&str>,
    drift_reason: Option<&str>,
) {
    if let (false, Some(reason)) = (failing.is_empty(), will_fail) {
        super::backup::record(
            journal,
            Event::StageOverridden {
                stage: Stage::Migrate,
                reason: reason.to_string(),
                blockers: vec![Blocker::WillFail],
                detail: failing.join("\n"),
            },
        );
    }
    if let (Some(r), Some(reason)) = (drift.filter(|r| r.has_drift()), drift_reason) {
        let lines: Vec<String> = r.differences.iter().map(|d| d.message.clone()).collect();
        super::backup::record(
            journal,
            Event::StageOverridden {
                stage: Stage::Migrate,
                reason: reason.to_string(),
                blockers: vec![Blocker::Drift],
                detail: lines.join("\n"),
            },
        );
    }
}
