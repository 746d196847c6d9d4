//! The verify stage (the `[[verify]]` SQL assertions, the `[[smoke]]` endpoints probed once, and the health
//! checks as they stand) and the monitor stage (a countdown over which the health and log thresholds are watched).

use crate::app::out::Out;
use std::time::{Duration, Instant};

use super::{Stage, StageStatus};
use crate::app::msg::Effect;
use crate::app::msg::Notice;
use crate::app::prompt::{Expect, Gated, Modal, ModalKind};
use crate::app::state::State;
use crate::journal::{Event, MonitorResult};
use crate::runner::Probe;

/// The verify stage's latest run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyRun {
    pub running: bool,
    /// One per `[[smoke]]`, `None` until it answered.
    pub smoke: Vec<Option<Probe>>,
    /// `Some(passed)` once the latest run ended.
    pub result: Option<bool>,
    /// Why it failed, one line.
    pub problems: Vec<String>,
}

/// The monitor window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRun {
    pub started: Instant,
    pub ends: Instant,
    /// Alerts raised while it ran.
    pub alerts: usize,
    /// `passed`, `alerted` or `stopped`, once it ended.
    pub result: Option<String>,
}

/// Time left in the monitor window at `now`.
pub fn monitor_left(m: &MonitorRun, now: Instant) -> Duration {
    m.ends.saturating_duration_since(now)
}

pub(super) fn verify_status(state: &State) -> StageStatus {
    let p = &state.plan;
    if p.verify.is_empty() && p.smoke.is_empty() && p.health.is_empty() {
        return StageStatus::Skipped;
    }
    if super::recovery_left(state).is_some() {
        return StageStatus::Running;
    }
    let v = &state.release.verify;
    match (v.running, v.result) {
        (true, _) => StageStatus::Running,
        (false, Some(true)) => StageStatus::Passed,
        (false, Some(false)) => StageStatus::Failed,
        (false, None) => StageStatus::Pending,
    }
}

pub(super) fn verify_blockers(state: &State) -> String {
    let v = &state.release.verify;
    match v.result {
        None if v.running => "verify is still running".into(),
        None => "verify has not run".into(),
        Some(_) => v.problems.join("; "),
    }
}

pub(super) fn monitor_status(state: &State) -> StageStatus {
    match &state.release.monitor {
        None => StageStatus::Pending,
        Some(m) => match m.result.as_deref() {
            None => StageStatus::Running,
            Some("passed") => StageStatus::Passed,
            Some(_) => StageStatus::Failed,
        },
    }
}

/// Enter on the verify row (or `V`): through the gates, then run.
pub(in crate::app) fn request_stage_verify(state: &mut State, fx: &mut Out) {
    if state.release.verify.running {
        state.flash = Some("Verify is already running.".into());
        return;
    }
    fx.notice(Notice::PassGates(Gated::Verify));
}

/// Runs the verify stage: assertions and smoke endpoints now; the health checks are read when all answered.
pub(in crate::app) fn start_verify(state: &mut State, fx: &mut Out) {
    super::recovery::end_wait(state);
    let p = &state.plan;
    let sql = !p.verify.is_empty() && p.database.is_some() && state.health.verify_pending == 0;
    let v = &mut state.release.verify;
    v.running = true;
    v.result = None;
    v.problems.clear();
    v.smoke = vec![None; p.smoke.len()];
    if !p.smoke.is_empty() {
        fx.push(Effect::RunSmoke);
    }
    state.note("verify started".into());
    if sql {
        state.health.verify = vec![None; state.plan.verify.len()];
        state.health.verify_pending = state.plan.verify.len();
        fx.push(Effect::RunVerify);
    }
    finish_verify_if_done(state, fx);
}

/// A smoke endpoint answered.
pub(in crate::app) fn on_smoke(state: &mut State, check: usize, probe: Probe, fx: &mut Out) {
    let Some(cfg) = state.plan.smoke.get(check) else {
        return;
    };
    let (ok, status, latency, detail) = match &probe {
        Probe::Up { status, latency } => (true, Some(*status), Some(*latency), String::new()),
        Probe::Down {
            status,
            latency,
            why,
        } => (false, *status, Some(*latency), why.clone()),
        Probe::NoAnswer { why, .. } => (false, None, None, why.clone()),
        Probe::Ran { why, value, .. } => (
            why.is_none(),
            None,
            None,
            why.clone()
                .or_else(|| value.map(|v| v.to_string()))
                .unwrap_or_default(),
        ),
    };
    fx.push(Effect::Journal(Event::SmokeChecked {
        name: cfg.name.clone(),
        ok,
        status,
        latency_ms: latency.map(|l| l.as_millis() as u64),
        detail,
    }));
    if let Some(slot) = state.release.verify.smoke.get_mut(check) {
        *slot = Some(probe);
    }
    finish_verify_if_done(state, fx);
}

/// Ends the verify run once every assertion and smoke endpoint answered.
pub(in crate::app) fn finish_verify_if_done(state: &mut State, fx: &mut Out) {
    let v = &state.release.verify;
    if !v.running || state.health.verify_pending > 0 || v.smoke.iter().any(Option::is_none) {
        return;
    }
    let mut problems = Vec::new();
    for (cfg, row) in state.plan.verify.iter().zip(&state.health.verify) {
        match row {
            Some(r) if r.passed => {}
            Some(r) => problems.push(format!(
                "{}: {}",
                cfg.name,
                match &r.result {
                    Ok(v) => format!("got {v}, expected {} {}", cfg.op.symbol(), cfg.value),
                    Err(e) => e.clone(),
                }
            )),
            None => problems.push(format!("{}: did not run", cfg.name)),
        }
    }
    for (cfg, probe) in state.plan.smoke.iter().zip(&v.smoke) {
        if let Some(why) = probe.as_ref().and_then(Probe::why) {
            problems.push(format!("smoke {}: {why}", cfg.name));
        }
    }
    for (cfg, run) in state.plan.health.iter().zip(&state.health.checks) {
        if run.state.failing() {
            problems.push(format!("health {}: {}", cfg.name, run.state.label()));
        }
        if let Some(a) = &run.alert {
            problems.push(format!("health {}: alert: {a}", cfg.name));
        }
    }
    let after_rollback =
        (state.release.rollback.as_ref()).is_some_and(|r| r.step == super::RollbackStep::Verify);
    let when = if after_rollback {
        "verify after rollback"
    } else {
        "verify"
    };
    summaries(state, when, fx);
    let passed = problems.is_empty();
    let line = if passed {
        "verify passed".to_string()
    } else {
        format!("verify FAILED: {}", problems.join("; "))
    };
    state.note(line.clone());
    state.flash = Some(line);
    let v = &mut state.release.verify;
    v.running = false;
    v.result = Some(passed);
    v.problems = problems;
    super::rollback::verify_done(state, passed);
}

/// Journals every health check's numbers over its window now, to set against the baseline in the report.
fn summaries(state: &State, when: &str, fx: &mut Out) {
    for (cfg, run) in state.plan.health.iter().zip(&state.health.checks) {
        let s = run.window(state.now, cfg.window);
        fx.push(Effect::Journal(Event::HealthSummary {
            check: cfg.name.clone(),
            when: when.into(),
            median_ms: s.median.map(|d| d.as_millis() as u64),
            p95_ms: s.p95.map(|d| d.as_millis() as u64),
            samples: s.samples,
            errors: s.errors,
            no_answer: s.no_answer,
        }));
    }
}

/// Enter on the monitor row (or `M`): start the window, or offer to stop it early.
pub(in crate::app) fn request_monitor(state: &mut State, fx: &mut Out) {
    if let Some(m) = &state.release.monitor
        && m.result.is_none()
    {
        let left = crate::app::text::format_clock(monitor_left(m, state.now));
        let mut modal = Modal::new(
            ModalKind::StopMonitor,
            "Stop monitoring early",
            Expect::Reason,
        );
        modal.body.push(("Left".into(), left));
        modal.body.push((
            "Stopping".into(),
            "ends the watch now; the reason is journaled and in the report".into(),
        ));
        state.ask(modal, fx);
        return;
    }
    fx.notice(Notice::PassGates(Gated::Monitor));
}

pub(in crate::app) fn start_monitor(state: &mut State, fx: &mut Out) {
    let d = state.plan.monitor.duration;
    state.release.monitor = Some(MonitorRun {
        started: state.now,
        ends: state.now + d,
        alerts: state.health.alerts().count(),
        result: None,
    });
    fx.push(Effect::Journal(Event::MonitorStarted {
        duration_ms: d.as_millis() as u64,
    }));
    state.note(format!("monitoring for {}", humantime::format_duration(d)));
}

/// An alert was raised: counted against the monitor window under way.
pub(in crate::app) fn count_alert(state: &mut State) {
    if let Some(m) = state.release.monitor.as_mut()
        && m.result.is_none()
    {
        m.alerts += 1;
    }
}

/// The clock moved: end the monitor window when its time is up.
pub(in crate::app) fn tick_monitor(state: &mut State, fx: &mut Out) {
    let due = state
        .release
        .monitor
        .as_ref()
        .is_some_and(|m| m.result.is_none() && state.now >= m.ends);
    if !due {
        return;
    }
    let alerting = state.health.alerts().count() > 0;
    let alerts = state.release.monitor.as_ref().map_or(0, |m| m.alerts);
    let result = if alerts > 0 || alerting {
        MonitorResult::Alerted
    } else {
        MonitorResult::Passed
    };
    end_monitor(state, result, fx);
}

/// Ends the monitor window with `result`.
pub(in crate::app) fn end_monitor(state: &mut State, result: MonitorResult, fx: &mut Out) {
    let Some(m) = state.release.monitor.as_mut() else {
        return;
    };
    if m.result.is_some() {
        return;
    }
    m.result = Some(result.name().to_string());
    let (alerts, elapsed) = (m.alerts, state.now.saturating_duration_since(m.started));
    summaries(state, "end of monitoring", fx);
    fx.push(Effect::Journal(Event::MonitorFinished {
        result,
        alerts,
        elapsed_ms: elapsed.as_millis() as u64,
    }));
    let line = format!("monitoring ended: {result} ({alerts} alert(s))");
    state.note(line.clone());
    state.flash = Some(line);
}

/// The operator stopped the monitor window early with a reason.
pub(in crate::app) fn monitor_stopped(state: &mut State, reason: String, fx: &mut Out) {
    end_monitor(state, MonitorResult::Stopped, fx);
    super::stage_overridden(state, Stage::Monitor, reason, fx);
}
