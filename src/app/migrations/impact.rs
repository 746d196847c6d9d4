//! Data impact in the apply flow (issue 18): a pending statement that will fail on the live data (NULLs under a
//! new NOT NULL, duplicate keys under a new UNIQUE, a cast that raises…) gates the apply like a missing backup —
//! the operator types why to go on, and that is journaled; the apply confirmation lists what fails, what is lost
//! and what could not be counted; the apply's journal carries every figure with how it was obtained.

use crate::app::prompt::{Expect, Gated, Modal, ModalKind};
use crate::app::state::State;
use crate::lint::impact::Impact;

/// Every impact of every migration an apply would run, with the migration's name.
pub(in crate::app) fn pending_impacts(state: &State) -> Vec<(String, Impact)> {
    super::risk::pending_each(state, |r| r.impacts.clone())
}

/// The lines of the statements that will fail on the live data, as shown to the operator.
pub(in crate::app) fn failing(state: &State) -> Vec<String> {
    state
        .db
        .snapshot()
        .map(|s| s.failing_lines())
        .unwrap_or_default()
}

/// The prompt before an apply whose statements will fail on the live data, unless the operator already typed why
/// for exactly these.
pub(in crate::app) fn will_fail_modal(state: &State, gated: Gated) -> Option<Modal> {
    if gated != Gated::ApplyMigrations {
        return None;
    }
    let failing = failing(state);
    if !asks(&failing, state.db.will_fail_override.as_ref()) {
        return None;
    }
    let then = (
        "Then".to_string(),
        "the migration stops at that statement (rolled back if it runs in a transaction)"
            .to_string(),
    );
    Some(reason_prompt(
        state,
        ModalKind::WillFail(failing.clone()),
        "Will fail on the live data",
        Vec::new(),
        ("WILL FAIL", failing),
        then,
    ))
}

/// Whether a gate over `lines` asks for a reason: there are some, and the reason given (if any) was typed for
/// other lines than these.
pub(in crate::app) fn asks(lines: &[String], given: Option<&(String, Vec<String>)>) -> bool {
    let covered = given.is_some_and(|(_, seen)| lines.iter().all(|l| seen.contains(l)));
    !lines.is_empty() && !covered
}

/// The prompt of a gate on the live data: the database, `head`, each of `lines` under its label, `after`, then
/// what to type.
pub(in crate::app) fn reason_prompt(
    state: &State,
    kind: ModalKind,
    title: &str,
    head: Vec<(String, String)>,
    (label, lines): (&str, Vec<String>),
    after: (String, String),
) -> Modal {
    let mut m = Modal::new(kind, title, Expect::Reason);
    m.danger = true;
    m.body
        .push(("Database".into(), crate::app::text::database_line(state)));
    m.body.extend(head);
    m.body
        .extend(lines.into_iter().map(|line| (label.to_string(), line)));
    m.body.push(after);
    m.body.push((
        "To go on".into(),
        "type why to apply anyway (journaled and in the report); Esc cancels".into(),
    ));
    m
}

/// For the apply confirmation: `Data` (how many fail, lose data, could not be counted), then one line each.
pub(in crate::app) fn confirmation_lines(state: &State) -> Vec<(String, String)> {
    let impacts = pending_impacts(state);
    if impacts.is_empty() {
        return Vec::new();
    }
    let fails = impacts.iter().filter(|(_, i)| i.fails()).count();
    let loses = impacts.iter().filter(|(_, i)| i.loses()).count();
    let uncounted = impacts
        .iter()
        .filter(|(_, i)| i.matters() && !i.fails() && !i.loses())
        .count();
    let passes = impacts.len() - fails - loses - uncounted;
    let mut summary = Vec::new();
    for (n, what) in [
        (fails, "will fail"),
        (loses, "lose data"),
        (uncounted, "not counted"),
        (passes, "pass"),
    ] {
        if n > 0 {
            summary.push(format!("{n} {what}"));
        }
    }
    let mut out = vec![(
        "Data".to_string(),
        format!("{} (counted on the live database)", summary.join(", ")),
    )];
    let mut ranked: Vec<(u8, &str, String)> = impacts
        .iter()
        .filter(|(_, i)| i.matters())
        .map(|(m, i)| {
            let (rank, label) = if i.fails() {
                (0, "WILL FAIL")
            } else if i.loses() {
                (1, "DATA LOSS")
            } else {
                (2, "UNCOUNTED")
            };
            (rank, label, i.labelled(m))
        })
        .collect();
    ranked.sort_by_key(|(rank, _, _)| *rank);
    out.extend(
        ranked
            .into_iter()
            .map(|(_, label, text)| (label.to_string(), text)),
    );
    out
}

/// For the journal: every impact line of each migration an apply would run that has some (passes included:
/// they show what was checked), by migration.
pub(in crate::app) fn journal_lines(
    state: &State,
) -> std::collections::HashMap<String, Vec<String>> {
    let Some(snap) = state.db.snapshot() else {
        return Default::default();
    };
    snap.pending_reports()
        .filter(|(_, r)| !r.impacts.is_empty())
        .map(|(name, r)| {
            let lines = r
                .impacts
                .iter()
                .map(|i| format!("line {}: {}", i.line, i.text));
            (name.to_string(), lines.collect())
        })
        .collect()
}
