//! The release report: a Markdown record of a run (or of a chain of resumed runs) rendered from its journal
//! entries alone — who ran which plan, the checklist, stages, preflight, backup, migrations, every command,
//! health against its baseline, alerts, every confirmation and override, rollback, sign-off and notification
//! failures. Rendering is pure; [`write`] puts it beside the journal as `report.md` (0600, atomically).
//! Every text is escaped for where it goes and URL passwords are masked (the journal should hold none).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::markdown::{cell, code, code_cell, code_list, fenced, inline, table, time};
use super::{Entry, Event};
use crate::plan::mask_url_passwords;

/// File name of the report inside a run's folder.
pub const REPORT_FILE: &str = "report.md";

/// `writeln!` into a `String` (which cannot fail).
macro_rules! w {
    ($out:expr) => {{
        let _ = writeln!($out);
    }};
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

mod database;
mod runtime;
mod summary;

use database::{backup, migrations, rollback};
use runtime::{alerts, commands, health};
use summary::{lead, problems, stages};

/// The Markdown report for `entries` (one run, or a resumed chain oldest first).
pub fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    let (project, environment) = entries
        .iter()
        .find_map(|e| match &e.event {
            Event::RunStarted {
                project,
                environment,
                ..
            } => Some((project.as_str(), environment.as_str())),
            _ => None,
        })
        .unwrap_or(("unknown project", "unknown environment"));
    w!(
        out,
        "# Release report: {} ({})",
        inline(project),
        inline(environment)
    );
    w!(out);
    out.push_str(&lead(entries));
    // Restores after a rollback began belong to the rollback.
    let rollback_at = entries
        .iter()
        .position(|e| matches!(e.event, Event::RollbackStarted { .. }))
        .unwrap_or(entries.len());
    let sections: [(&str, String); 14] = [
        ("Run", run(entries)),
        ("Checklist", checklist(entries)),
        ("Stages", stages(entries)),
        ("Preflight", preflight(entries)),
        ("Backup", backup(&entries[..rollback_at])),
        ("Migrations", migrations(entries)),
        ("Commands", commands(entries)),
        ("Health", health(entries)),
        ("Alerts", alerts(entries)),
        ("Confirmations", confirmations(entries)),
        ("Rollback", rollback(&entries[rollback_at..])),
        ("Sign-off", sign_off(entries)),
        ("Notifications", notifications(entries)),
        ("Interruptions and errors", problems(entries)),
    ];
    for (title, body) in sections {
        w!(out);
        w!(out, "## {title}");
        w!(out);
        out.push_str(if body.is_empty() { "None.\n" } else { &body });
    }
    // Defensive: nothing above should have let a password through, but the report may be mailed around. And it
    // is printed (`--stdout`) or viewed in a terminal: no control character of a journaled string stays live.
    let inert: String = out
        .split('\n')
        .map(|line| crate::sanitize::sanitize_str(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    mask_url_passwords(&inert)
}

/// Writes `<run_dir>/report.md` (mode 0600) through a new temporary file and a rename (a symlink planted at
/// `report.md` is replaced, never written through); returns its path.
pub fn write(run_dir: &Path, entries: &[Entry]) -> io::Result<PathBuf> {
    let path = run_dir.join(REPORT_FILE);
    crate::safe_fs::replace(&path, render(entries).as_bytes())?;
    Ok(path)
}

fn run(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        if let Event::RunStarted {
            user,
            host,
            ssh_client,
            plan,
            plan_checksum,
            version,
            pid,
            ..
        } = &e.event
        {
            let ssh = ssh_client
                .as_deref()
                .map(|c| format!(", over SSH from {}", inline(c)))
                .unwrap_or_default();
            w!(
                out,
                "- Run {} started {} by **{}** on {}{ssh} (deckhand {}, pid {pid})",
                code(&e.run),
                time(&e.ts),
                inline(user),
                inline(host),
                inline(version)
            );
            w!(
                out,
                "  - Plan: {} (sha256 {})",
                code(plan),
                code(plan_checksum)
            );
        }
        if let Event::Resumed {
            previous,
            completed,
            next,
        } = &e.event
        {
            w!(
                out,
                "  - Resumed run {}: already done {}; went on with {}",
                code(previous),
                code_list(&completed.iter().map(|c| c.to_string()).collect::<Vec<_>>()),
                code(next.name())
            );
        }
        if let Event::Quit {
            exit_code,
            reason,
            outcome,
        } = &e.event
        {
            let how = outcome
                .map(|o| format!("**{}**, ", o.name()))
                .unwrap_or_default();
            w!(
                out,
                "- Run {} ended {}: {how}exit {exit_code} ({})",
                code(&e.run),
                time(&e.ts),
                inline(reason)
            );
        }
    }
    out
}

fn checklist(entries: &[Entry]) -> String {
    let mut items: BTreeMap<usize, (&str, bool)> = BTreeMap::new();
    let mut out = String::new();
    for e in entries {
        match &e.event {
            Event::ChecklistTicked {
                index,
                item,
                checked,
            } => {
                items.insert(*index, (item, *checked));
            }
            Event::ChecklistOverridden { reason, unticked } => w!(
                out,
                "- Overridden {} with unticked {}: {}",
                time(&e.ts),
                code_list(unticked),
                inline(reason)
            ),
            _ => {}
        }
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|(i, (item, checked))| {
            let state = if *checked { "ticked" } else { "not ticked" };
            vec![(i + 1).to_string(), cell(item), state.into()]
        })
        .collect();
    if rows.is_empty() {
        return out;
    }
    table(&["#", "Item", "Final state"], &rows) + &prefix_newline(out)
}

/// Blockers by their journal names (an old journal's sentences as written).
pub(super) fn names(blockers: &[super::Blocker]) -> Vec<String> {
    blockers.iter().map(|b| b.name().to_string()).collect()
}

fn preflight(entries: &[Entry]) -> String {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .filter_map(|e| match &e.event {
            Event::PreflightChecked { check, ok, detail } => Some(vec![
                cell(check),
                if *ok { "ok" } else { "FAILED" }.into(),
                cell(detail),
            ]),
            _ => None,
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    table(&["Check", "Result", "Detail"], &rows)
}

fn confirmations(entries: &[Entry]) -> String {
    let mut rows = Vec::new();
    for e in entries {
        let (what, typed, result) = match &e.event {
            Event::ConfirmationGiven { what, typed } => (cell(what), typed, "confirmed".into()),
            Event::ConfirmationDeclined { what, typed, why } => {
                (cell(what), typed, format!("declined: {}", cell(why)))
            }
            Event::BackupGateOverridden { what, reason } => (
                format!("backup gate: {}", cell(what)),
                reason,
                "overridden".into(),
            ),
            Event::ChecklistOverridden { reason, unticked } => (
                format!("checklist, unticked: {}", cell(&unticked.join(", "))),
                reason,
                "overridden".into(),
            ),
            Event::StageOverridden {
                stage,
                reason,
                blockers,
                detail,
            } => (
                format!(
                    "stage {} past: {}",
                    cell(stage.name()),
                    cell(
                        if detail.is_empty() {
                            names(blockers).join(", ")
                        } else {
                            detail.clone()
                        }
                        .as_str()
                    )
                ),
                reason,
                "overridden".into(),
            ),
            _ => continue,
        };
        rows.push(vec![time(&e.ts), what, code_cell(typed), result]);
    }
    if rows.is_empty() {
        return String::new();
    }
    table(&["Time", "What", "Typed", "Result"], &rows)
}

fn sign_off(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        if let Event::SignedOff { by, notes } = &e.event {
            w!(out, "Signed off by **{}** {}.", inline(by), time(&e.ts));
            w!(out);
            if notes.trim().is_empty() {
                w!(out, "No notes.");
            } else {
                w!(out, "Notes:");
                w!(out);
                out.push_str(&fenced(notes));
            }
        }
    }
    if out.is_empty() {
        "Not signed off.\n".into()
    } else {
        out
    }
}

fn notifications(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        if let Event::NotificationFailed { what, error } = &e.event {
            w!(
                out,
                "- {} could not notify {}: {}",
                time(&e.ts),
                inline(what),
                inline(error)
            );
        }
    }
    if out.is_empty() {
        "No notification failures.\n".into()
    } else {
        out
    }
}

/// `text` preceded by a blank line (to follow a table), or nothing.
fn prefix_newline(text: String) -> String {
    if text.is_empty() {
        text
    } else {
        format!("\n{text}")
    }
}

/// `text` followed by a blank line (to precede a table), or nothing.
fn then_blank_line(text: String) -> String {
    if text.is_empty() {
        text
    } else {
        format!("{text}\n")
    }
}
