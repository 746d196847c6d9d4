//! The report's sections about what ran and how the service took it: commands, health and alerts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::super::markdown::{cell, code, code_cell, inline, ms, table, time, yes};
use super::super::{Entry, Event};
use super::prefix_newline;

pub(super) fn commands(entries: &[Entry]) -> String {
    let mut started: BTreeMap<(&str, &str, usize), &str> = BTreeMap::new();
    let mut rows = Vec::new();
    let mut notes = String::new();
    for e in entries {
        match &e.event {
            Event::StepStarted {
                phase,
                step,
                command,
                ..
            } => {
                started.insert((&e.run, phase, *step), command);
            }
            Event::StepFinished {
                phase,
                step,
                outcome,
                exit_code,
                signal,
                detail,
                duration_ms,
                destructive,
            } => {
                let command = started
                    .get(&(e.run.as_str(), phase.as_str(), *step))
                    .copied()
                    .unwrap_or("");
                let phase = if *destructive {
                    format!("{} (destructive)", phase)
                } else {
                    phase.clone()
                };
                rows.push(vec![
                    cell(&phase),
                    step.to_string(),
                    code_cell(command),
                    cell(&outcome.describe(*exit_code, *signal, detail)),
                    exit_code.map_or("–".into(), |c| c.to_string()),
                    ms(*duration_ms),
                ]);
            }
            Event::CancelRequested { phase, step } => w!(
                notes,
                "- Cancel requested {} during {} step {}",
                time(&e.ts),
                inline(phase),
                step
            ),
            Event::PhaseFinished {
                phase,
                result,
                duration_ms,
                ..
            } => w!(
                notes,
                "- Phase {}: {} in {}",
                inline(phase),
                inline(result.name()),
                ms(*duration_ms)
            ),
            _ => {}
        }
    }
    if rows.is_empty() {
        return notes;
    }
    let header = ["Phase", "Step", "Command", "Outcome", "Exit", "Duration"];
    table(&header, &rows) + &prefix_newline(notes)
}

pub(super) fn health(entries: &[Entry]) -> String {
    let mut numbers: Vec<Vec<String>> = Vec::new();
    let mut smoke = Vec::new();
    let mut verify = Vec::new();
    let mut monitor = String::new();
    let opt = |v: &Option<u64>| v.map_or("–".into(), |v| format!("{v} ms"));
    for e in entries {
        match &e.event {
            Event::HealthBaseline {
                check,
                median_ms,
                p95_ms,
                samples,
                errors,
                no_answer,
                wanted,
            } => numbers.push(vec![
                cell(check),
                "baseline".into(),
                opt(median_ms),
                opt(p95_ms),
                format!("{samples} of {wanted}"),
                errors.to_string(),
                no_answer.to_string(),
            ]),
            Event::HealthSummary {
                check,
                when,
                median_ms,
                p95_ms,
                samples,
                errors,
                no_answer,
            } => numbers.push(vec![
                cell(check),
                cell(when),
                opt(median_ms),
                opt(p95_ms),
                samples.to_string(),
                errors.to_string(),
                no_answer.to_string(),
            ]),
            Event::SmokeChecked {
                name,
                ok,
                status,
                latency_ms,
                detail,
            } => smoke.push(vec![
                cell(name),
                if *ok { "ok" } else { "FAILED" }.into(),
                status.map_or("–".into(), |s| s.to_string()),
                opt(latency_ms),
                cell(detail),
            ]),
            Event::VerifyChecked {
                name,
                value,
                passed,
                error,
            } => verify.push(vec![
                cell(name),
                if *passed { "passed" } else { "FAILED" }.into(),
                code_cell(value.as_deref().unwrap_or("")),
                cell(error.as_deref().unwrap_or("")),
            ]),
            Event::MonitorStarted { duration_ms } => w!(
                monitor,
                "- Monitoring for {} started {}",
                ms(*duration_ms),
                time(&e.ts)
            ),
            Event::MonitorFinished {
                result,
                alerts,
                elapsed_ms,
            } => w!(
                monitor,
                "- Monitoring ended after {}: {} ({alerts} alert(s))",
                ms(*elapsed_ms),
                inline(result.name())
            ),
            _ => {}
        }
    }
    // Each check's baseline first, then its later numbers in the order taken.
    numbers.sort_by(|a, b| a[0].cmp(&b[0]));
    let mut parts = Vec::new();
    if !numbers.is_empty() {
        let header = [
            "Check",
            "When",
            "Median",
            "p95",
            "Samples",
            "Errors",
            "No answer",
        ];
        parts.push(table(&header, &numbers));
    }
    if !smoke.is_empty() {
        let header = ["Smoke check", "Result", "Status", "Latency", "Detail"];
        parts.push(table(&header, &smoke));
    }
    if !verify.is_empty() {
        parts.push(table(&["Verify", "Result", "Value", "Error"], &verify));
    }
    if !monitor.is_empty() {
        parts.push(monitor);
    }
    parts.join("\n")
}

pub(super) fn alerts(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        match &e.event {
            Event::HealthAlert { check, why } => w!(
                out,
                "- {} alert on {}: {}",
                time(&e.ts),
                code(check),
                inline(why)
            ),
            Event::HealthAlertCleared { check } => {
                w!(out, "- {} cleared on {}", time(&e.ts), code(check))
            }
            Event::HealthAlertAnswered {
                check,
                rollback,
                note,
            } => w!(
                out,
                "- {} answered on {}: rollback {}; {}",
                time(&e.ts),
                code(check),
                yes(*rollback),
                inline(note)
            ),
            _ => {}
        }
    }
    out
}
