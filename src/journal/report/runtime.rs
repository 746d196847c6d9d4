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
    let numbers = health_numbers(entries);
    let smoke = smoke_rows(entries);
    let verify = verify_rows(entries);
    let monitor = monitor_lines(entries);
    let mut parts = Vec::new();
    if !numbers.is_empty() {
        let header = [
            "Check",
            "When",
            "At",
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

/// A duration in milliseconds, or a dash when there is none.
fn opt_ms(v: &Option<u64>) -> String {
    v.map_or("–".into(), |v| format!("{v} ms"))
}

/// The health checks' numbers: each check's baseline first, then its later numbers in the order taken, each
/// labelled by what it was taken for (`verify`, `verify after rollback`, `end of monitoring`) and when.
fn health_numbers(entries: &[Entry]) -> Vec<Vec<String>> {
    let mut numbers: Vec<Vec<String>> = entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::HealthBaseline {
                check,
                median_ms,
                p95_ms,
                median_value,
                p95_value,
                samples,
                errors,
                no_answer,
                wanted,
            } => Some(vec![
                cell(check),
                "baseline".into(),
                time(&e.ts),
                // A command check's number has no unit: shown as printed.
                median_value
                    .as_deref()
                    .map_or_else(|| opt_ms(median_ms), cell),
                p95_value.as_deref().map_or_else(|| opt_ms(p95_ms), cell),
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
            } => Some(vec![
                cell(check),
                cell(when),
                time(&e.ts),
                opt_ms(median_ms),
                opt_ms(p95_ms),
                samples.to_string(),
                errors.to_string(),
                no_answer.to_string(),
            ]),
            _ => None,
        })
        .collect();
    numbers.sort_by(|a, b| a[0].cmp(&b[0]));
    numbers
}

fn smoke_rows(entries: &[Entry]) -> Vec<Vec<String>> {
    entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::SmokeChecked {
                name,
                ok,
                status,
                latency_ms,
                detail,
            } => Some(vec![
                cell(name),
                if *ok { "ok" } else { "FAILED" }.into(),
                status.map_or("–".into(), |s| s.to_string()),
                opt_ms(latency_ms),
                cell(detail),
            ]),
            _ => None,
        })
        .collect()
}

fn verify_rows(entries: &[Entry]) -> Vec<Vec<String>> {
    entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::VerifyChecked {
                name,
                value,
                passed,
                error,
            } => Some(vec![
                cell(name),
                if *passed { "passed" } else { "FAILED" }.into(),
                code_cell(value.as_deref().unwrap_or("")),
                cell(error.as_deref().unwrap_or("")),
            ]),
            _ => None,
        })
        .collect()
}

fn monitor_lines(entries: &[Entry]) -> String {
    let mut monitor = String::new();
    for e in entries {
        match &e.event {
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
    monitor
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
            Event::AlertsAcknowledged { alerts } => w!(
                out,
                "- {} acknowledged by the operator: {}",
                time(&e.ts),
                inline(&alerts.join("; "))
            ),
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
