//! A `[[logs]]` source's error rate feeds the same alerting as the health checks: once the baselines are frozen
//! (the first destructive action started), a share of error lines over the source's `window` above its
//! `error_rate` raises an alert — journaled, in the header, offering the rollback — and it clears once the share
//! has stayed at or under [`CLEAR_SHARE`](super::CLEAR_SHARE) of `error_rate` for a whole `window` (a window with
//! no error line at all counts as calm, so a source that goes quiet clears too).

use super::alerts::{CLEAR_SHARE, Reading, apart};
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
    // No error line in the window is calm however few lines there were: a source gone quiet clears its alert
    // after a whole quiet window (the clock re-reads sources whose alert is up).
    let reading = if rate == 0.0 {
        Reading::Calm
    } else if lines < MIN_ALERT_LINES {
        Reading::Unknown
    } else if rate > cfg.error_rate {
        let (r, t, _) = apart(rate * 100.0, cfg.error_rate * 100.0);
        let over = humantime::format_duration(cfg.window);
        Reading::Over(format!("errors {r}% of {lines} lines over {over} > {t}%"))
    } else if rate > cfg.error_rate * CLEAR_SHARE {
        Reading::Near
    } else {
        Reading::Calm
    };
    let index = cx.plan.health.len() + source;
    super::set_alert(h, cx, index, reading, cfg.window, fx);
}
