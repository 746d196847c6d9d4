//! When an alert rises and when it clears, for a check and a `[[logs]]` source alike: a reading over its threshold
//! raises it (journaled once per episode); it clears only once every reading has stayed at or under
//! [`CLEAR_SHARE`] of its threshold for a whole `window` (hysteresis: a reading hovering at the threshold does not
//! flap). One comparison throughout: a reading alarms when it is strictly over (`>`) its level, and the reason
//! prints both sides with enough decimals that its `>` reads true.

use std::time::Duration;

use super::{Ctx, HealthPane, MIN_ALERT_SAMPLES, QueuedAlert, Stats};
use crate::app::msg::{Effect, Notice};
use crate::app::out::Out;
use crate::app::state::State;
use crate::journal::Event;
use crate::plan::{HealthCheck, Plan};

/// A latency rise smaller than this is noise, whatever the factor (an answer on loopback going from 1 ms to 3 ms
/// has not slowed down the service).
pub const LATENCY_NOISE: Duration = Duration::from_millis(20);

/// An alert clears once every reading has stayed at or under this share of its threshold for a whole window.
pub const CLEAR_SHARE: f64 = 0.8;

/// How a window reads against an alert's threshold.
#[derive(Debug, Clone, PartialEq)]
pub(in crate::app) enum Reading {
    /// Over the threshold: the alert rises (once per episode), for this reason.
    Over(String),
    /// Not over the threshold, but over its clear level: an alert that is up stays up, and the calm restarts.
    Near,
    /// At or under the clear level on every count.
    Calm,
    /// Too little to judge by: nothing rises or clears, and the calm restarts (no data is not calm).
    Unknown,
}

/// The latency over which a check alerts: `factor` × the baseline, and at least [`LATENCY_NOISE`] above it.
fn latency_limit(factor: f64, base: Duration) -> Duration {
    base.mul_f64(factor).max(base.saturating_add(LATENCY_NOISE))
}

/// `value` and `limit` with the fewest decimals (0 to 6) that print them apart, and that number of decimals: so
/// "5.2% > 5.0%", never "5% > 5%".
pub(super) fn apart(value: f64, limit: f64) -> (String, String, usize) {
    let mut d = 0;
    while d < 6 && format!("{value:.d$}") == format!("{limit:.d$}") {
        d += 1;
    }
    (format!("{value:.d$}"), format!("{limit:.d$}"), d)
}

fn ms_f64(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A command check's number over `latency_factor` × its baseline (median, then p95), as latency alerts for a URL.
/// A baseline at or under zero has nothing to multiply: only `max`/`min` and the error rate judge it then.
fn value_exceeded(f: f64, baseline: &Stats, window: &Stats, share: f64) -> Option<String> {
    for (label, now, base) in [
        ("median", window.value_median, baseline.value_median),
        ("p95", window.value_p95, baseline.value_p95),
    ] {
        let (Some(now), Some(base)) = (now, base) else {
            continue;
        };
        let limit = base.get() * f;
        if base.get() > 0.0 && now.get() > limit * share {
            let (n, l, _) = apart(now.get(), limit);
            return Some(format!("{label} {n} > {l} ({f}x baseline {base})"));
        }
    }
    None
}

/// The first of the window's readings over `share` × its threshold, with why (against the threshold itself).
fn exceeded(cfg: &HealthCheck, baseline: &Stats, window: &Stats, share: f64) -> Option<String> {
    let f = cfg.latency_factor;
    if let Some(why) = value_exceeded(f, baseline, window, share) {
        return Some(why);
    }
    for (label, now, base) in [
        ("median", window.median, baseline.median),
        ("p95", window.p95, baseline.p95),
    ] {
        let (Some(now), Some(base)) = (now, base) else {
            continue;
        };
        let limit = latency_limit(f, base);
        if now > limit.mul_f64(share) {
            let (n, l, d) = apart(ms_f64(now), ms_f64(limit));
            let b = format!("{:.d$}", ms_f64(base));
            let how = if base.mul_f64(f) >= base.saturating_add(LATENCY_NOISE) {
                format!("{f}x baseline {b}ms")
            } else {
                format!("baseline {b}ms + {}ms noise", LATENCY_NOISE.as_millis())
            };
            return Some(format!("{label} latency {n}ms > {l}ms ({how})"));
        }
    }
    let r = window.error_ratio()?;
    (r > cfg.error_rate * share).then(|| {
        let (r, t, _) = apart(r * 100.0, cfg.error_rate * 100.0);
        let over = humantime::format_duration(cfg.window);
        format!("errors {r}% over {over} > {t}%")
    })
}

/// Why the window is alarming compared with the baseline, if it is: latency above `latency_factor` × the baseline
/// (and at least [`LATENCY_NOISE`] above it) — a command check's number above `latency_factor` × its baseline —
/// or errors above `error_rate`.
pub fn alert_reason(cfg: &HealthCheck, baseline: &Stats, window: &Stats) -> Option<String> {
    if window.answered < MIN_ALERT_SAMPLES {
        return None;
    }
    exceeded(cfg, baseline, window, 1.0)
}

/// A check's window against its thresholds. Too few answers (the service stopped answering, say) is no reading:
/// an alert stays up, never "cleared".
pub(super) fn check_reading(cfg: &HealthCheck, baseline: &Stats, window: &Stats) -> Reading {
    if window.answered < MIN_ALERT_SAMPLES {
        Reading::Unknown
    } else if let Some(why) = alert_reason(cfg, baseline, window) {
        Reading::Over(why)
    } else if exceeded(cfg, baseline, window, CLEAR_SHARE).is_some() {
        Reading::Near
    } else {
        Reading::Calm
    }
}

/// What alert `i` is about: a check's name, or `logs <source>`.
pub fn alert_name(state: &State, i: usize) -> String {
    alert_name_of(&state.plan, i)
}

fn alert_name_of(plan: &Plan, i: usize) -> String {
    match plan.health.get(i) {
        Some(c) => c.name.clone(),
        None => plan
            .logs
            .get(i - plan.health.len())
            .map_or_else(|| "?".into(), |l| format!("logs {}", l.name)),
    }
}

/// Alert `i`'s slot: a check's, or past the checks a `[[logs]]` source's.
fn slot(h: &mut HealthPane, i: usize) -> Option<&mut Option<String>> {
    let checks = h.checks.len();
    match h.checks.get_mut(i) {
        Some(run) => Some(&mut run.alert),
        None => h.log_alerts.get_mut(i - checks),
    }
}

/// Moves alert `i` by one `reading` of its `window`: raises it (journaled, shown, queued while the release is
/// live) when over; clears it once calm has lasted a whole `window`; nothing else changes it.
pub(in crate::app) fn set_alert(
    h: &mut HealthPane,
    cx: &Ctx,
    i: usize,
    reading: Reading,
    window: Duration,
    fx: &mut Out,
) {
    let Some(up) = slot(h, i).map(|s| s.is_some()) else {
        return;
    };
    let Some(calm) = h.calm_since.get_mut(i) else {
        return;
    };
    match reading {
        Reading::Over(why) => {
            *calm = None;
            if !up {
                raise(h, cx, i, why, fx);
            }
        }
        Reading::Near | Reading::Unknown => *calm = None,
        Reading::Calm if up => {
            let since = *calm.get_or_insert(cx.now);
            if cx.now.saturating_duration_since(since) >= window {
                *calm = None;
                clear(h, cx, i, fx);
            }
        }
        Reading::Calm => {}
    }
}

fn raise(h: &mut HealthPane, cx: &Ctx, i: usize, why: String, fx: &mut Out) {
    if let Some(s) = slot(h, i) {
        *s = Some(why.clone());
    }
    let name = alert_name_of(cx.plan, i);
    fx.push(Effect::Journal(Event::HealthAlert {
        check: name.clone(),
        why: why.clone(),
    }));
    fx.notice(Notice::Note(format!("health alert: {name}: {why}")));
    fx.notice(Notice::AlertRaised {
        name: name.clone(),
        why: why.clone(),
    });
    if cx.live {
        h.queue.push(QueuedAlert {
            index: i,
            name,
            why,
            at: cx.now,
            cleared: false,
        });
    }
}

fn clear(h: &mut HealthPane, cx: &Ctx, i: usize, fx: &mut Out) {
    if let Some(s) = slot(h, i) {
        *s = None;
    }
    let name = alert_name_of(cx.plan, i);
    fx.push(Effect::Journal(Event::HealthAlertCleared {
        check: name.clone(),
    }));
    fx.notice(Notice::Note(format!("health alert cleared: {name}")));
    for queued in h.queue.iter_mut().filter(|a| a.index == i) {
        queued.cleared = true;
    }
}
