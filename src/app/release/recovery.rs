//! After a rollback, the verify stage waits — bounded, and counted down on the verify row — for the health checks
//! to recover before it judges: a restore or a redeploy takes effect over seconds, and an alert clears only after
//! a calm window, so verifying at once would fail a rollback that worked. Imports the kernel and the release
//! room's own parts.

use std::time::Duration;

use super::RollbackStep;
use crate::app::out::Out;
use crate::app::state::State;
use crate::app::text::format_clock;

/// How long verify after a rollback waits for health: a minute for the service to come back, then twice the
/// longest health window (the bad answers must leave the window, then an alert clears only after a whole calm
/// window), at most fifteen minutes.
pub fn recovery_wait(plan: &crate::plan::Plan) -> Duration {
    let window = plan
        .health
        .iter()
        .map(|h| h.window)
        .max()
        .unwrap_or_default();
    (window * 2 + Duration::from_secs(60)).min(Duration::from_secs(900))
}

/// Every health check answers and no health alert is up: what verify will judge.
fn recovered(state: &State) -> bool {
    state
        .health
        .checks
        .iter()
        .all(|run| !run.state.failing() && run.alert.is_none())
}

/// Time left to wait for health after a rollback, while waiting.
pub fn recovery_left(state: &State) -> Option<Duration> {
    match state.release.rollback.as_ref()?.step {
        RollbackStep::Recovering { until } => Some(until.saturating_duration_since(state.now)),
        _ => None,
    }
}

/// The rollback's code and database parts are done: verify now if health is fine, else wait for it.
pub(super) fn wait_or_verify(state: &mut State, fx: &mut Out) {
    if recovered(state) {
        verify_now(state, fx);
        return;
    }
    let wait = recovery_wait(&state.plan);
    if let Some(run) = state.release.rollback.as_mut() {
        run.step = RollbackStep::Recovering {
            until: state.now + wait,
        };
    }
    state.note(format!(
        "verify after rollback: waiting up to {} for the health checks to recover",
        format_clock(wait)
    ));
}

/// A health answer came or the clock moved: verify once health recovered or the wait ran out.
pub(in crate::app) fn poll_recovery(state: &mut State, fx: &mut Out) {
    let Some(left) = recovery_left(state) else {
        return;
    };
    if recovered(state) {
        state.note("health recovered after the rollback: verifying".into());
        verify_now(state, fx);
    } else if left.is_zero() {
        state.note(
            "health did not recover in time after the rollback: verifying as it stands".into(),
        );
        verify_now(state, fx);
    }
}

fn verify_now(state: &mut State, fx: &mut Out) {
    super::checks::start_verify(state, fx);
}

/// Verify starts (by itself, or the operator's `V` during the wait): the wait is over.
pub(super) fn end_wait(state: &mut State) {
    if let Some(run) = state.release.rollback.as_mut()
        && matches!(run.step, RollbackStep::Recovering { .. })
    {
        run.step = RollbackStep::Verify;
    }
}
