//! Health checks and verify assertions inside `update`: each probe moves a check's consecutive counters and its
//! sliding window; the baseline (median and p95 latency, errors) is frozen when the first destructive action
//! starts; after that, latency over a factor of the baseline or an error ratio over the threshold raises an alert
//! (journaled once per episode, shown in the header and the health pane at once), which clears only after a
//! whole window of calm (see [`alerts`]). An alert is a notification,
//! never a prompt: while the release is live it waits in a queue until the operator acknowledges it (`A`), and
//! it never takes a key typed for anything else. No data is inconclusive, never healthy. Timestamps come from
//! the router's `now`, so tests drive the clock. The room owns its [`HealthPane`] and reads the rest only through a
//! read-only [`Ctx`]; it writes the logs and the status line through notices.

use crate::app::out::Out;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

mod alerts;
pub(super) mod log_alerts;

use alerts::set_alert;
pub use alerts::{CLEAR_SHARE, LATENCY_NOISE, alert_name, alert_reason};

use super::msg::{Effect, Notice};
use super::state::State;
use crate::journal::Event;
use crate::plan::{CmpOp, HealthCheck, Plan};
use crate::runner::{Num, Probe};

/// Samples kept per check, whatever the window (a short interval and a long window stay bounded).
pub const MAX_SAMPLES: usize = 1024;
/// Latencies kept per check for the sparkline.
pub const SPARK_POINTS: usize = 60;
/// Answered probes a window needs before it can raise an alert (one slow answer is not a trend).
pub const MIN_ALERT_SAMPLES: usize = 3;

/// What the console believes about a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HealthState {
    /// Not enough consecutive answers yet to say.
    #[default]
    Starting,
    Healthy,
    Unhealthy,
    /// No data: nothing answered in the window, or `fail_after` probes in a row got no answer.
    Inconclusive,
}

impl HealthState {
    /// Unhealthy, or no answer to judge by: not a state to call a release good in.
    pub fn failing(self) -> bool {
        matches!(self, HealthState::Unhealthy | HealthState::Inconclusive)
    }

    pub fn label(self) -> &'static str {
        match self {
            HealthState::Starting => "starting",
            HealthState::Healthy => "healthy",
            HealthState::Unhealthy => "UNHEALTHY",
            HealthState::Inconclusive => "no data",
        }
    }
}

/// One probe as received, at the console's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub at: Instant,
    pub probe: Probe,
}

/// Latency and errors over a set of probes. Latencies are of answered probes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub samples: usize,
    /// Answered (up or down).
    pub answered: usize,
    /// Answered, but wrong.
    pub errors: usize,
    pub no_answer: usize,
    pub median: Option<Duration>,
    pub p95: Option<Duration>,
    /// A command check's numbers, as latency is for a URL: median and p95 of the runs that printed one.
    pub value_median: Option<Num>,
    pub value_p95: Option<Num>,
}

impl Stats {
    pub fn of<'a>(probes: impl Iterator<Item = &'a Probe>) -> Stats {
        let mut s = Stats::default();
        let mut lat = Vec::new();
        let mut values = Vec::new();
        for p in probes {
            s.samples += 1;
            match p {
                Probe::Up { latency, .. } => lat.push(*latency),
                Probe::Down { latency, .. } => {
                    s.errors += 1;
                    lat.push(*latency);
                }
                Probe::NoAnswer { .. } => s.no_answer += 1,
                // A command that ran answered, whatever it said: failing is an error, its number a sample.
                Probe::Ran { value, why, .. } => {
                    s.answered += 1;
                    s.errors += usize::from(why.is_some());
                    values.extend(*value);
                }
            }
        }
        s.answered += lat.len();
        lat.sort();
        s.median = percentile(&lat, 50);
        s.p95 = percentile(&lat, 95);
        values.sort_by(|a, b| a.get().total_cmp(&b.get()));
        s.value_median = percentile(&values, 50);
        s.value_p95 = percentile(&values, 95);
        s
    }

    /// Errors among answered probes; `None` without answers (no data is not 0%).
    pub fn error_ratio(&self) -> Option<f64> {
        (self.answered > 0).then(|| self.errors as f64 / self.answered as f64)
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile<T: Copy>(sorted: &[T], pct: usize) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * pct).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// One check's record in this run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckRun {
    pub state: HealthState,
    /// Probes within the check's window (bounded by [`MAX_SAMPLES`]).
    pub samples: VecDeque<Sample>,
    /// Consecutive answered-as-expected, answered-wrong, and unanswered probes.
    pub ups: u32,
    pub downs: u32,
    pub silent: u32,
    pub last: Option<Probe>,
    /// Recent latencies in ms for the sparkline (0: no answer).
    pub spark: VecDeque<u64>,
    /// The first `baseline_samples` probes, until the baseline is frozen.
    pub collected: Vec<Probe>,
    /// Frozen when the first destructive action started.
    pub baseline: Option<Stats>,
    /// The alert of the current episode.
    pub alert: Option<String>,
}

impl CheckRun {
    /// The window's statistics at `now`.
    pub fn window(&self, now: Instant, window: Duration) -> Stats {
        Stats::of(
            self.samples
                .iter()
                .filter(|s| now.saturating_duration_since(s.at) <= window)
                .map(|s| &s.probe),
        )
    }
}

/// A `[[verify]]` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyRow {
    pub result: Result<String, String>,
    pub passed: bool,
}

/// An alert waiting for the operator to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedAlert {
    /// Alert index: a check, or past the checks a `[[logs]]` source.
    pub index: usize,
    pub name: String,
    pub why: String,
    pub at: Instant,
    /// It cleared since (the episode still happened).
    pub cleared: bool,
}

/// Health and verify as the console knows them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthPane {
    pub checks: Vec<CheckRun>,
    /// The baselines were frozen (the first destructive action started); alerts are on.
    pub frozen: bool,
    /// One per `[[verify]]`, `None` until it ran in the latest verify.
    pub verify: Vec<Option<VerifyRow>>,
    /// Results still awaited from the verify under way.
    pub verify_pending: usize,
    /// Alerts raised while the release was live, until the operator acknowledges them.
    queue: Vec<QueuedAlert>,
    /// Per `[[logs]]` source, its error-rate alert. Alert indexes past the checks are log sources.
    pub log_alerts: Vec<Option<String>>,
    /// Per alert index, while its alert is up: since when every reading has been calm (at or under
    /// [`CLEAR_SHARE`] of its threshold); it clears once that lasted a whole window.
    calm_since: Vec<Option<Instant>>,
}

impl HealthPane {
    pub fn new(plan: &Plan) -> Self {
        HealthPane {
            checks: vec![CheckRun::default(); plan.health.len()],
            verify: vec![None; plan.verify.len()],
            log_alerts: vec![None; plan.logs.len()],
            calm_since: vec![None; plan.health.len() + plan.logs.len()],
            ..Default::default()
        }
    }

    /// Every alert: (alert index, why). Indexes past the checks are `[[logs]]` sources.
    pub fn alerts(&self) -> impl Iterator<Item = (usize, &str)> {
        let checks = self.checks.iter().map(|c| c.alert.as_deref());
        checks
            .chain(self.log_alerts.iter().map(Option::as_deref))
            .enumerate()
            .filter_map(|(i, a)| a.map(|a| (i, a)))
    }

    /// The alerts waiting to be acknowledged, oldest first.
    pub fn queue(&self) -> &[QueuedAlert] {
        &self.queue
    }
}

/// The operator acknowledged the queued alerts (the alerts overlay's Enter): journaled as their own act.
pub(super) fn acknowledge(h: &mut HealthPane, fx: &mut Out) {
    if h.queue.is_empty() {
        fx.notice(Notice::Flash("No alert waits to be acknowledged.".into()));
        return;
    }
    let alerts: Vec<String> = (h.queue.drain(..))
        .map(|a| format!("{}: {}", a.name, a.why))
        .collect();
    fx.notice(Notice::Flash(format!(
        "{} alert(s) acknowledged (journaled). R rolls back.",
        alerts.len()
    )));
    fx.push(Effect::Journal(Event::AlertsAcknowledged { alerts }));
}

/// What the health room reads of the rest of the console, read-only: the plan, the time, and whether the release
/// is live (not signed off, the monitor window not over), when a new alert waits for the operator; otherwise it is
/// shown and journaled only. The router builds it; the room owns only its [`HealthPane`].
pub struct Ctx<'a> {
    pub plan: &'a Plan,
    pub now: Instant,
    pub live: bool,
}

/// Effects to issue when the console starts.
pub fn init(state: &State) -> Vec<Effect> {
    if state.plan.health.is_empty() {
        Vec::new()
    } else {
        vec![Effect::StartHealthChecks]
    }
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

/// A probe's sparkline point: latency in ms, a command's number (at least 1 when it printed one, so 0 still reads
/// as nothing), 0 without either.
fn spark_point(probe: &Probe) -> u64 {
    match probe {
        Probe::Ran { value, .. } => value.map_or(0, |v| (v.get().max(0.0).round() as u64).max(1)),
        p => p.latency().map(ms).unwrap_or(0),
    }
}

/// Moves a check's counters, window and state by one probe.
fn record(run: &mut CheckRun, cfg: &HealthCheck, probe: Probe, now: Instant, frozen: bool) {
    match &probe {
        Probe::Up { .. } | Probe::Ran { why: None, .. } => {
            run.ups += 1;
            run.downs = 0;
            run.silent = 0;
        }
        Probe::Down { .. } | Probe::Ran { why: Some(_), .. } => {
            run.downs += 1;
            run.ups = 0;
            run.silent = 0;
        }
        // No answer is no data: it breaks a run of successes, but is not counted as an answered failure.
        Probe::NoAnswer { .. } => {
            run.silent += 1;
            run.ups = 0;
        }
    }
    run.spark.push_back(spark_point(&probe));
    if run.spark.len() > SPARK_POINTS {
        run.spark.pop_front();
    }
    if !frozen && run.collected.len() < cfg.baseline_samples as usize {
        run.collected.push(probe.clone());
    }
    run.last = Some(probe.clone());
    run.samples.push_back(Sample { at: now, probe });
    while run
        .samples
        .front()
        .is_some_and(|s| now.saturating_duration_since(s.at) > cfg.window)
        || run.samples.len() > MAX_SAMPLES
    {
        run.samples.pop_front();
    }
    let answered = run
        .samples
        .iter()
        .any(|s| !matches!(s.probe, Probe::NoAnswer { .. }));
    run.state = if !answered || run.silent >= cfg.fail_after {
        HealthState::Inconclusive
    } else if run.downs >= cfg.fail_after {
        HealthState::Unhealthy
    } else if run.ups >= cfg.recover_after {
        HealthState::Healthy
    } else if run.state == HealthState::Inconclusive {
        HealthState::Starting
    } else {
        run.state
    };
}

/// A probe arrived: it moves the check's record, then (once the baselines are frozen) its alert.
pub(super) fn on_probe(h: &mut HealthPane, cx: &Ctx, check: usize, probe: Probe, fx: &mut Out) {
    let Some(cfg) = cx.plan.health.get(check) else {
        return;
    };
    let frozen = h.frozen;
    let Some(run) = h.checks.get_mut(check) else {
        return;
    };
    record(run, cfg, probe, cx.now, frozen);
    let Some(baseline) = run.baseline.as_ref().filter(|_| frozen) else {
        return;
    };
    let reading = alerts::check_reading(cfg, baseline, &run.window(cx.now, cfg.window));
    set_alert(h, cx, check, reading, cfg.window, fx);
}

/// What a rollback answer does when the plan has nothing to roll back with.
pub const ROLLBACK_NOTE: &str = "nothing to roll back with (no [rollback] steps, no database change of this run): roll back by hand from your runbook";

/// The baseline in one line (a command check's numbers have no unit).
pub fn baseline_text(run: &CheckRun) -> String {
    match &run.baseline {
        None => format!("collecting ({} so far)", run.collected.len()),
        Some(b) => match (b.median, b.p95, b.value_median, b.value_p95) {
            (_, _, Some(m), Some(p)) => {
                format!("p50 {m} p95 {p}, {} of {} wrong", b.errors, b.answered)
            }
            (Some(m), Some(p), _, _) => format!(
                "p50 {}ms p95 {}ms, {} of {} wrong",
                ms(m),
                ms(p),
                b.errors,
                b.answered
            ),
            _ if b.answered > 0 => format!("no number, {} of {} wrong", b.errors, b.answered),
            _ => format!("inconclusive: none of {} probes answered", b.samples),
        },
    }
}

/// The first destructive action starts: freeze every check's baseline from the probes collected so far.
pub(super) fn freeze_baseline(h: &mut HealthPane, plan: &Plan, fx: &mut Out) {
    if h.frozen {
        return;
    }
    h.frozen = true;
    let mut notes = Vec::new();
    for (cfg, run) in plan.health.iter().zip(h.checks.iter_mut()) {
        let b = Stats::of(run.collected.iter());
        run.collected.clear();
        fx.push(Effect::Journal(Event::HealthBaseline {
            check: cfg.name.clone(),
            median_ms: b.median.map(ms),
            p95_ms: b.p95.map(ms),
            median_value: b.value_median.map(|v| v.to_string()),
            p95_value: b.value_p95.map(|v| v.to_string()),
            samples: b.samples,
            errors: b.errors,
            no_answer: b.no_answer,
            wanted: cfg.baseline_samples,
        }));
        if b.samples < cfg.baseline_samples as usize {
            notes.push(format!(
                "baseline of {} from {} of {} samples (incomplete)",
                cfg.name, b.samples, cfg.baseline_samples
            ));
        }
        if b.answered == 0 {
            notes.push(format!(
                "baseline of {} is inconclusive: nothing answered",
                cfg.name
            ));
        }
        run.baseline = Some(b);
    }
    for n in notes {
        fx.notice(Notice::Note(n));
    }
}

/// `v`: run every `[[verify]]` assertion.
pub(super) fn request_verify(h: &mut HealthPane, plan: &Plan, fx: &mut Out) {
    let n = plan.verify.len();
    let flash = if n == 0 {
        "No [[verify]] assertions in this plan.".to_string()
    } else if plan.database.is_none() {
        "[[verify]] needs the plan's [database].".to_string()
    } else if h.verify_pending > 0 {
        "Verify is already running.".to_string()
    } else {
        h.verify = vec![None; n];
        h.verify_pending = n;
        fx.push(Effect::RunVerify);
        format!("Verifying: {n} assertion(s)…")
    };
    fx.notice(Notice::Flash(flash));
}

/// One assertion's result arrived.
pub(super) fn on_verify(
    h: &mut HealthPane,
    plan: &Plan,
    check: usize,
    result: Result<String, String>,
    fx: &mut Out,
) {
    let Some(cfg) = plan.verify.get(check) else {
        return;
    };
    let passed = match &result {
        Ok(v) => verify_passes(v, cfg.op, &cfg.value),
        Err(_) => false,
    };
    fx.push(Effect::Journal(Event::VerifyChecked {
        name: cfg.name.clone(),
        value: result.as_ref().ok().cloned(),
        passed,
        error: result.as_ref().err().cloned(),
    }));
    if let Some(slot) = h.verify.get_mut(check) {
        *slot = Some(VerifyRow { result, passed });
    }
    h.verify_pending = h.verify_pending.saturating_sub(1);
    if h.verify_pending == 0 {
        let rows = h.verify.iter().flatten();
        let (ok, all) = rows.fold((0, 0), |(ok, all), r| (ok + usize::from(r.passed), all + 1));
        fx.notice(Notice::Flash(format!("Verify: {ok} of {all} passed.")));
        fx.notice(Notice::VerifyResult);
    }
}

/// Whether `value op expected` holds: as numbers when both read as numbers, else as text.
pub fn verify_passes(value: &str, op: CmpOp, expected: &str) -> bool {
    let ord = match (value.trim().parse::<f64>(), expected.trim().parse::<f64>()) {
        (Ok(a), Ok(b)) if a.is_finite() && b.is_finite() => a.partial_cmp(&b),
        _ => Some(value.cmp(expected)),
    };
    let Some(ord) = ord else {
        return false;
    };
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => ord == Equal,
        CmpOp::Ne => ord != Equal,
        CmpOp::Lt => ord == Less,
        CmpOp::Le => ord != Greater,
        CmpOp::Gt => ord == Greater,
        CmpOp::Ge => ord != Less,
    }
}
