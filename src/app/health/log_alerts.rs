//! A `[[logs]]` source's error rate feeds the same alerting as the health checks: once the baselines are frozen
//! (the first destructive action started), a share of error lines over the source's `window` above its
//! `error_rate` raises an alert — journaled, in the header, offering the rollback — and it clears when it falls.

use super::{Ctx, HealthPane};
use crate::app::out::Out;

/// Fewer lines than this in the window say too little for a rate.
pub const MIN_ALERT_LINES: u64 = 20;

/// New lines of `source` arrived; `counted` is its share of error lines over its `window` and how many lines
/// that was (the logs room counts them): raise or clear its alert.
pub(in crate::app) fn on_lines(
    h: &mut HealthPane,
    cx: &Ctx,
    source: usize,
    counted: Option<(f64, u64)>,
    fx: &mut Out,
) {
    if !h.frozen {
        return;
    }
    let Some(cfg) = cx.plan.logs.get(source) else {
        return;
    };
    let (rate, lines) = counted.unwrap_or((0.0, 0));
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
    let index = cx.plan.health.len() + source;
    super::set_alert(h, cx, index, why, fx);
}
