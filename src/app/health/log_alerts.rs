//! A `[[logs]]` source's error rate feeds the same alerting as the health checks: once the baselines are frozen
//! (the first destructive action started), a share of error lines over the source's `window` above its
//! `error_rate` raises an alert — journaled, in the header, offering the rollback — and it clears when it falls.

use crate::app::out::Out;
use crate::app::state::State;

/// Fewer lines than this in the window say too little for a rate.
pub const MIN_ALERT_LINES: u64 = 20;

/// New lines of `source` arrived: raise or clear its alert.
pub(in crate::app) fn on_lines(state: &mut State, source: usize, fx: &mut Out) {
    if !state.health.frozen {
        return;
    }
    let Some(cfg) = state.plan.logs.get(source) else {
        return;
    };
    let (rate, lines) = state
        .logview
        .error_rate_counted(source, state.now, cfg.window)
        .unwrap_or((0.0, 0));
    if lines < MIN_ALERT_LINES {
        return;
    }
    let why = (rate > cfg.error_rate).then(|| {
        format!(
            "errors {:.0}% of {lines} lines over {} > {:.0}%",
            rate * 100.0,
            humantime::format_duration(cfg.window),
            cfg.error_rate * 100.0
        )
    });
    let index = state.plan.health.len() + source;
    crate::app::health::set_alert(state, index, why, fx);
}
