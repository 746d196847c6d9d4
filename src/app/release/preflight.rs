//! The preflight stage: the checklist, and checks run when the console starts (reachability of the database,
//! health endpoints and log sources; the deploy window; the terminal). A failed check blocks the stages after it
//! until the operator types a reason; the terminal check only warns.

use super::StageStatus;
use crate::app::msg::Effect;
use crate::app::out::Out;
use crate::app::state::State;
use crate::journal::Event;
use crate::runner::PreflightResult;

/// The check that only warns (SSH outside tmux or screen).
const TERMINAL: &str = "terminal";

/// Starts (or repeats) the preflight checks.
pub(in crate::app) fn request_preflight(state: &mut State, fx: &mut Out) {
    state.release.preflight.clear();
    state.release.preflight_expected = crate::runner::preflight::expected(&state.plan);
    fx.push(Effect::Preflight);
}

/// One preflight result arrived.
pub(in crate::app) fn on_preflight(state: &mut State, r: PreflightResult, fx: &mut Out) {
    fx.push(Effect::Journal(Event::PreflightChecked {
        check: r.check.clone(),
        ok: r.ok,
        detail: r.detail.clone(),
    }));
    if !r.ok {
        let what = if r.check == TERMINAL {
            "warning"
        } else {
            "FAILED"
        };
        state.note(format!("preflight {what}: {}: {}", r.check, r.detail));
    }
    let list = &mut state.release.preflight;
    match list.iter_mut().find(|x| x.check == r.check) {
        Some(slot) => *slot = r,
        None => list.push(r),
    }
}

/// The preflight stage's state: failed checks first, then checks still out, then the checklist.
pub(super) fn status(state: &State) -> StageStatus {
    let r = &state.release;
    if r.preflight.iter().any(|c| !c.ok && c.check != TERMINAL) {
        return StageStatus::Failed;
    }
    if r.preflight.len() < r.preflight_expected {
        return StageStatus::Running;
    }
    if !state.unticked().is_empty() && state.checklist_override.is_none() {
        return StageStatus::Pending;
    }
    StageStatus::Passed
}

/// What keeps the preflight from passing, besides the checklist (which has its own gate).
pub(super) fn blockers(state: &State) -> Vec<String> {
    let r = &state.release;
    if r.overrides
        .iter()
        .any(|(s, _)| *s == super::Stage::Preflight)
    {
        return Vec::new();
    }
    let mut out: Vec<String> = r
        .preflight
        .iter()
        .filter(|c| !c.ok && c.check != TERMINAL)
        .map(|c| format!("{}: {}", c.check, c.detail))
        .collect();
    let missing = r.preflight_expected.saturating_sub(r.preflight.len());
    if missing > 0 {
        out.push(format!("{missing} check(s) still running"));
    }
    out
}

/// One line for the checklist pane: how the checks went, and any warning.
pub fn preflight_line(state: &State) -> Option<(String, bool)> {
    let r = &state.release;
    if r.preflight_expected == 0 {
        return None;
    }
    let ok = r.preflight.iter().filter(|c| c.ok).count();
    let mut text = format!("checks {ok}/{} ok", r.preflight_expected);
    if r.preflight.len() < r.preflight_expected {
        text.push_str(" (checking…)");
    }
    let mut bad = false;
    for c in r.preflight.iter().filter(|c| !c.ok) {
        bad |= c.check != TERMINAL;
        text.push_str(&format!(" · {}: {}", c.check, c.detail));
    }
    Some((text, bad))
}
