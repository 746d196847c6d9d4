//! Drift in the apply flow (issue 18): after each status read the runner compares the live schema with what the
//! applied history produces (`crate::drift`). The migrations pane shows the differences; an apply waits for the
//! comparison, and differences gate it like a missing backup — the operator types why to go on (journaled, and the
//! same differences do not ask again). A comparison that could not be made is shown and named in the confirmation,
//! never taken for "no drift".

use crate::app::out::Out;
use crate::app::prompt::{Gated, Modal, ModalKind};
use crate::app::state::State;
use crate::drift::DriftReport;

/// What the pane knows about drift.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DriftView {
    /// No status read yet (or no `[database]`).
    #[default]
    Unknown,
    /// The comparison runs (it follows each status read).
    Checking,
    Ready(DriftReport),
    /// Why it could not be told.
    Failed(String),
}

/// A status was read: the comparison follows.
pub(in crate::app) fn on_status(state: &mut State) {
    state.db.drift = DriftView::Checking;
}

/// The comparison ended; an apply asked for meanwhile goes on (through every gate, this one included).
pub(in crate::app) fn on_drift(
    state: &mut State,
    result: Result<DriftReport, String>,
    fx: &mut Out,
) {
    state.db.drift = match result {
        Ok(r) => DriftView::Ready(r),
        Err(e) => DriftView::Failed(e),
    };
    if std::mem::take(&mut state.db.apply_after_drift) {
        super::request_apply(state, fx);
    }
}

/// The differences, one line each (`column orders.note: not in the history (added by hand?)`).
pub(in crate::app) fn lines(state: &State) -> Vec<String> {
    match &state.db.drift {
        DriftView::Ready(r) => r.differences.iter().map(|d| d.message.clone()).collect(),
        _ => Vec::new(),
    }
}

/// Why an apply cannot be asked for yet: the comparison still runs.
pub(in crate::app) fn refusal(state: &State) -> Option<String> {
    (state.db.drift == DriftView::Checking).then(|| {
        "Still comparing the live schema with the applied history (drift); a moment.".to_string()
    })
}

/// The prompt before an apply on a database that drifted from its history, unless the operator already typed why
/// for exactly these differences.
pub(in crate::app) fn drift_modal(state: &State, gated: Gated) -> Option<Modal> {
    if gated != Gated::ApplyMigrations {
        return None;
    }
    let differences = lines(state);
    if !super::impact::asks(&differences, state.db.drift_override.as_ref()) {
        return None;
    }
    let found = (
        "Found".to_string(),
        format!(
            "{} difference(s) between the live database and what its applied migrations produce",
            differences.len()
        ),
    );
    let risk = (
        "Risk".to_string(),
        "the pending migrations were written against the history, not this schema".to_string(),
    );
    Some(super::impact::reason_prompt(
        state,
        ModalKind::Drift(differences.clone()),
        "The live schema drifted from its history",
        vec![found],
        ("DRIFT", differences),
        risk,
    ))
}

/// For the apply confirmation: what the comparison said.
pub(in crate::app) fn confirmation_line(state: &State) -> Option<(String, String)> {
    let text = match &state.db.drift {
        DriftView::Unknown => return None,
        DriftView::Checking => "still being compared".to_string(),
        DriftView::Failed(why) => format!("NOT CHECKED: {why}"),
        DriftView::Ready(r) if !r.has_drift() => format!(
            "none: the live schema is what the {} applied migration(s) produce",
            r.replayed.len()
        ),
        DriftView::Ready(r) => {
            let reason = state
                .db
                .drift_override
                .as_ref()
                .map_or(String::new(), |(why, _)| {
                    format!(", applying anyway: {why}")
                });
            format!("{} difference(s){reason}", r.differences.len())
        }
    };
    Some(("Drift".into(), text))
}
