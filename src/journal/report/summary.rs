//! The report's judgement of a run: the outcome it leads with (the same one the console, the exit code and
//! `deckhand history` give), one row per stage with its final state, and every failure, error and interruption
//! in one list. Reads journal entries only.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::super::kinds::{Outcome, Stage, StageResult};
use super::super::markdown::{cell, code, code_list, inline, table, time};
use super::super::{Entry, Event};
use super::prefix_newline;

/// The lead paragraph: the outcome with its exit code, and what decided it.
pub(super) fn lead(entries: &[Entry]) -> String {
    let quit = entries.iter().rev().find_map(|e| match &e.event {
        Event::Quit {
            exit_code,
            outcome,
            reason,
        } => Some((*exit_code, *outcome, reason.as_str())),
        _ => None,
    });
    let mut out = match quit {
        None => "**Outcome: no end recorded** (crashed, or still running).\n".to_string(),
        Some((code, Some(o), reason)) => {
            format!(
                "**Outcome: {}** (exit {code}; {}).\n",
                o.name(),
                inline(reason)
            )
        }
        Some((code, None, reason)) => format!(
            "**Outcome: {}** (exit {code}; {}).\n",
            legacy_result(entries, code),
            inline(reason)
        ),
    };
    for line in why(entries) {
        w!(out, "- {line}");
    }
    let problems = problem_lines(entries).len();
    if problems > 0 {
        w!(
            out,
            "- {problems} problem(s) listed under *Interruptions and errors*."
        );
    }
    out
}

/// What decided the outcome: the sign-off, the rollback and the verify after it, the failed stages left.
fn why(entries: &[Entry]) -> Vec<String> {
    let mut lines = Vec::new();
    let rollback_at = entries
        .iter()
        .rposition(|e| matches!(e.event, Event::RollbackStarted { .. }));
    for e in entries {
        match &e.event {
            Event::RollbackStarted { reason, .. } => lines.push(format!(
                "Rollback started {}: {}",
                time(&e.ts),
                inline(reason)
            )),
            Event::RollbackFinished { ok, detail } => lines.push(format!(
                "Rollback {} {}: {}",
                if *ok { "done" } else { "FAILED" },
                time(&e.ts),
                inline(detail)
            )),
            Event::SignedOff { by, .. } => {
                lines.push(format!("Signed off by **{}** {}", inline(by), time(&e.ts)))
            }
            _ => {}
        }
    }
    if let Some(at) = rollback_at {
        let verify = entries[at..].iter().rev().find_map(|e| match &e.event {
            Event::StageFinished {
                stage: Stage::Verify,
                result,
                detail,
            } => Some((e, *result, detail)),
            _ => None,
        });
        lines.push(match verify {
            Some((e, result, detail)) if detail.is_empty() => {
                format!(
                    "Verify after the rollback {}: {}",
                    time(&e.ts),
                    result.name()
                )
            }
            Some((e, result, detail)) => format!(
                "Verify after the rollback {}: {} ({})",
                time(&e.ts),
                result.name(),
                inline(detail)
            ),
            None => "Verify after the rollback: not run".to_string(),
        });
    }
    for (stage, row) in finals(entries) {
        if row.state == StageResult::Failed.name() {
            lines.push(format!(
                "Stage {} ended failed: {}",
                code(stage.name()),
                inline(&row.detail)
            ));
        }
    }
    lines
}

/// How a journal written before outcomes were recorded ended, from its sign-off, rollback and exit code.
fn legacy_result(entries: &[Entry], code: i32) -> String {
    let signed = entries
        .iter()
        .any(|e| matches!(e.event, Event::SignedOff { .. }));
    let rolled_back = entries.iter().rev().find_map(|e| match &e.event {
        Event::RollbackFinished { ok, .. } => Some(*ok),
        _ => None,
    });
    match (rolled_back, signed, code) {
        (Some(false), _, _) => Outcome::Failed.name().into(),
        (Some(true), _, _) => Outcome::RolledBack.name().into(),
        (None, true, _) => Outcome::SignedOff.name().into(),
        (None, false, 0) => "ended without sign-off".into(),
        (None, false, _) => Outcome::Failed.name().into(),
    }
}

/// A stage's final state, its detail, and the states it was in before (`failed at 14:00:26: why`).
#[derive(Default)]
struct StageRow {
    state: String,
    detail: String,
    since: String,
    before: Vec<String>,
}

/// Each stage's last state, its detail, and the states it went through before, in stage order.
fn finals(entries: &[Entry]) -> BTreeMap<Stage, StageRow> {
    let mut stages: BTreeMap<Stage, StageRow> = BTreeMap::new();
    for e in entries {
        let (stage, state, detail) = match &e.event {
            Event::StageStarted { stage } => {
                (*stage, "started, not finished".to_string(), String::new())
            }
            Event::StageFinished {
                stage,
                result,
                detail,
            } => (*stage, result.name().to_string(), detail.clone()),
            Event::StageOverridden { stage, reason, .. } => (
                *stage,
                "gone past with a reason".to_string(),
                reason.clone(),
            ),
            _ => continue,
        };
        let row = stages.entry(stage).or_default();
        if row.state == state && row.detail == detail {
            continue;
        }
        if !row.state.is_empty() && row.state != "started, not finished" {
            let mut was = format!("{} at {}", row.state, short_time(&row.since));
            if !row.detail.is_empty() {
                was.push_str(&format!(": {}", row.detail));
            }
            row.before.push(was);
        }
        *row = StageRow {
            state,
            detail,
            since: e.ts.clone(),
            before: std::mem::take(&mut row.before),
        };
    }
    stages
}

/// `12:03:04` out of an RFC 3339 timestamp.
fn short_time(ts: &str) -> String {
    ts.split('T').nth(1).unwrap_or(ts).chars().take(8).collect()
}

/// One row per stage the run reached: its final state, why, and what it was before; then each stage gone past
/// with a typed reason, with what blocked it.
pub(super) fn stages(entries: &[Entry]) -> String {
    let rows: Vec<Vec<String>> = finals(entries)
        .into_iter()
        .map(|(stage, row)| {
            vec![
                stage.name().to_string(),
                cell(&row.state),
                cell(&row.detail),
                cell(&row.before.join("; ")),
            ]
        })
        .collect();
    let overrides = overrides(entries);
    if rows.is_empty() {
        return overrides;
    }
    table(&["Stage", "Final state", "Detail", "Before"], &rows) + &prefix_newline(overrides)
}

fn overrides(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        if let Event::StageOverridden {
            stage,
            reason,
            blockers,
            detail,
        } = &e.event
        {
            let blockers = super::names(blockers);
            let detail = if detail.is_empty() {
                String::new()
            } else {
                format!("; {}", inline(detail))
            };
            w!(
                out,
                "- {} overridden {} (blockers: {}{detail}): {}",
                code(stage.name()),
                time(&e.ts),
                code_list(&blockers),
                inline(reason)
            );
        }
    }
    out
}

/// Every failure, error and interruption, in the order they happened.
pub(super) fn problems(entries: &[Entry]) -> String {
    let mut out = String::new();
    for (ts, line) in problem_lines(entries) {
        w!(out, "- {} {line}", time(ts));
    }
    out
}

fn problem_lines(entries: &[Entry]) -> Vec<(&str, String)> {
    entries
        .iter()
        .filter_map(|e| problem(&e.event).map(|line| (e.ts.as_str(), line)))
        .collect()
}

fn problem(event: &Event) -> Option<String> {
    work_problem(event).or_else(|| check_problem(event))
}

/// A step, a migration, a dry-run or rehearsal, a backup that failed.
fn work_problem(event: &Event) -> Option<String> {
    let failed_lines = |what: &str, results: &[String]| {
        let bad: Vec<&String> = results.iter().filter(|l| l.contains("FAILED")).collect();
        (!bad.is_empty()).then(|| {
            let bad: Vec<String> = bad.iter().map(|l| inline(l)).collect();
            format!("{what} failed: {}", bad.join("; "))
        })
    };
    match event {
        Event::StepFinished {
            phase,
            step,
            outcome,
            exit_code,
            signal,
            detail,
            ..
        } if *exit_code != Some(0) => Some(format!(
            "step {step} of {}: {}",
            code(phase),
            inline(&outcome.describe(*exit_code, *signal, detail))
        )),
        Event::MigrationFailed { name, error, .. } => Some(format!(
            "migration {} failed: {}",
            code(name.as_deref().unwrap_or("(before any migration)")),
            inline(error)
        )),
        Event::MigrationsDryRun { results } => failed_lines("dry-run", results),
        Event::IndexDropped { index, result, .. } if result.starts_with("failed") => Some(format!(
            "dropping invalid index {}: {}",
            code(index),
            inline(result)
        )),
        Event::Rehearsal {
            results, way_back, ..
        } => failed_lines("rehearsal", results).or_else(|| {
            let steps = way_back.as_ref().map_or(&[][..], |w| &w.steps[..]);
            failed_lines("the way back rehearsed on a copy", steps)
        }),
        Event::BackupVerified {
            file,
            ok: false,
            problems,
            ..
        } => Some(format!(
            "backup {} failed verification: {}",
            code(file),
            inline(&problems.join("; "))
        )),
        Event::BackupFailed { what, error } => {
            Some(format!("{} failed: {}", inline(what), inline(error)))
        }
        _ => None,
    }
}

/// A check, a stage or the rollback that failed; a signal, an error, an aborted run.
fn check_problem(event: &Event) -> Option<String> {
    match event {
        Event::Tunnel { state, detail } if state == "down" => {
            Some(format!("database tunnel down: {}", inline(detail)))
        }
        Event::PreflightChecked {
            check,
            ok: false,
            detail,
        } => Some(format!(
            "preflight {} failed: {}",
            code(check),
            inline(detail)
        )),
        Event::VerifyChecked {
            name,
            passed: false,
            error,
            value,
        } => Some(format!(
            "verify {} failed: {}",
            code(name),
            inline(error.as_deref().or(value.as_deref()).unwrap_or(""))
        )),
        Event::SmokeChecked {
            name,
            ok: false,
            detail,
            ..
        } => Some(format!("smoke {} failed: {}", code(name), inline(detail))),
        Event::StageFinished {
            stage,
            result: result @ (StageResult::Failed | StageResult::Interrupted),
            detail,
        } => Some(format!(
            "stage {} ended {}: {}",
            code(stage.name()),
            result.name(),
            inline(detail)
        )),
        Event::RollbackFinished { ok: false, detail } => {
            Some(format!("rollback FAILED: {}", inline(detail)))
        }
        Event::Signal { name } => Some(format!("signal {}", inline(name))),
        Event::Error { context, message } => {
            Some(format!("error ({}): {}", inline(context), inline(message)))
        }
        Event::Quit {
            outcome: Some(Outcome::Aborted),
            reason,
            ..
        } => Some(format!("run aborted: {}", inline(reason))),
        _ => None,
    }
}
