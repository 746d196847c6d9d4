//! The Markdown record of a run, rendered from its journal (and the journals of the runs it resumed): who, when,
//! environment, checklist, backup, migrations, commands, health before and after, alerts, every confirmation with
//! what was typed, rollback and sign-off. Written at sign-off and by `deckhand report`. The journal holds only
//! display strings; passwords in URLs are masked again on the way out.

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::{Entry, Event, JOURNAL_FILE, read_entries};

/// File name of the report inside a run's folder.
pub const REPORT_FILE: &str = "report.md";

/// The entries of `run` preceded by those of the runs it resumed, oldest first.
pub fn chain(data_dir: &Path, run: &str) -> io::Result<Vec<Entry>> {
    let mut runs = vec![run.to_string()];
    let mut all: Vec<Vec<Entry>> = Vec::new();
    while let Some(r) = runs.pop() {
        let entries = read_entries(&data_dir.join("runs").join(&r).join(JOURNAL_FILE))?;
        let previous = entries.iter().find_map(|e| match &e.event {
            Event::Resumed { previous, .. } => Some(previous.clone()),
            _ => None,
        });
        all.push(entries);
        if let Some(p) = previous
            && all.len() < 64
            && !all.iter().any(|es| es.first().is_some_and(|e| e.run == p))
        {
            runs.push(p);
        }
    }
    Ok(all.into_iter().rev().flatten().collect())
}

/// Writes `report.md` into `run_dir` (mode 0600, replaced atomically).
pub fn write(run_dir: &Path, entries: &[Entry]) -> io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = run_dir.join(REPORT_FILE);
    let tmp = run_dir.join(format!(".{REPORT_FILE}.{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    io::Write::write_all(&mut f, render(entries).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Masks `scheme://user:password@` and makes text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    let masked = mask_passwords(text);
    masked
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

fn mask_passwords(text: &str) -> String {
    let re =
        regex::Regex::new(r"(?i)([a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@").expect("valid regex");
    re.replace_all(text, "${1}****@").into_owned()
}

/// The report as Markdown.
pub fn render(entries: &[Entry]) -> String {
    let mut out = String::new();
    let started = entries.iter().find_map(|e| match &e.event {
        Event::RunStarted {
            project,
            environment,
            ..
        } => Some((project.clone(), environment.clone())),
        _ => None,
    });
    let (project, env) = started.unwrap_or_else(|| ("?".into(), "?".into()));
    let _ = writeln!(
        out,
        "# Release report: {} ({})\n",
        cell(&project),
        cell(&env)
    );
    run_section(&mut out, entries);
    section(&mut out, "Checklist", entries, |e| match e {
        Event::ChecklistTicked { item, checked, .. } => Some(format!(
            "{} {}",
            if *checked { "ticked" } else { "unticked" },
            item
        )),
        Event::ChecklistOverridden { reason, unticked } => Some(format!(
            "OVERRIDDEN with unticked [{}]: reason \"{reason}\"",
            unticked.join(", ")
        )),
        _ => None,
    });
    section(&mut out, "Stages", entries, |e| match e {
        Event::StageFinished {
            stage,
            result,
            detail,
        } => Some(format!("{stage}: {result} {detail}")),
        Event::StageOverridden {
            stage,
            reason,
            blockers,
        } => Some(format!(
            "{stage}: OVERRIDDEN ({}) reason \"{reason}\"",
            blockers.join("; ")
        )),
        _ => None,
    });
    section(&mut out, "Preflight", entries, |e| match e {
        Event::PreflightChecked { check, ok, detail } => Some(format!(
            "{check}: {} {detail}",
            if *ok { "ok" } else { "FAILED" }
        )),
        _ => None,
    });
    section(&mut out, "Backup", entries, |e| match e {
        Event::BackupTaken {
            file,
            size,
            sha256,
            duration_ms,
        } => Some(format!(
            "taken {file}, {size} bytes, sha256 {sha256}, {duration_ms} ms"
        )),
        Event::BackupVerified {
            file, ok, tables, ..
        } => Some(format!(
            "verified {file}: {} ({tables} tables)",
            if *ok { "ok" } else { "FAILED" }
        )),
        Event::BackupFailed { what, error } => Some(format!("{what} FAILED: {error}")),
        Event::BackupGateOverridden { what, reason } => {
            Some(format!("gate OVERRIDDEN for {what}: reason \"{reason}\""))
        }
        Event::RestoreFinished {
            file,
            target,
            tables,
            duration_ms,
            ..
        } => Some(format!(
            "restored {file} into {target}: {tables} tables, {duration_ms} ms"
        )),
        _ => None,
    });
    section(&mut out, "Migrations", entries, |e| match e {
        Event::MigrationRisks {
            migration,
            findings,
            exemptions,
        } => Some(format!(
            "{migration}: findings [{}] exemptions [{}]",
            findings.join("; "),
            exemptions.join("; ")
        )),
        Event::MigrationsDryRun { results } => Some(format!("dry-run: {}", results.join("; "))),
        Event::Rehearsal { results, .. } => Some(format!("rehearsal: {}", results.join("; "))),
        Event::MigrationApplied { name, duration_ms } => {
            Some(format!("applied {name} in {duration_ms} ms"))
        }
        Event::MigrationFailed { name, error, .. } => Some(format!(
            "FAILED {}: {error}",
            name.clone().unwrap_or_default()
        )),
        _ => None,
    });
    commands_section(&mut out, entries);
    section(&mut out, "Health", entries, |e| match e {
        Event::HealthBaseline {
            check,
            median_ms,
            p95_ms,
            samples,
            errors,
            ..
        } => Some(format!(
            "{check} baseline: p50 {} p95 {}, {errors} errors of {samples}",
            ms(*median_ms),
            ms(*p95_ms)
        )),
        Event::HealthSummary {
            check,
            when,
            median_ms,
            p95_ms,
            samples,
            errors,
            ..
        } => Some(format!(
            "{check} {when}: p50 {} p95 {}, {errors} errors of {samples}",
            ms(*median_ms),
            ms(*p95_ms)
        )),
        Event::SmokeChecked {
            name,
            ok,
            status,
            detail,
            ..
        } => Some(format!(
            "smoke {name}: {} {} {detail}",
            if *ok { "ok" } else { "FAILED" },
            status.map(|s| s.to_string()).unwrap_or_default()
        )),
        Event::VerifyChecked {
            name,
            value,
            passed,
            error,
        } => Some(format!(
            "verify {name}: {} {}",
            if *passed { "PASS" } else { "FAIL" },
            value.clone().or(error.clone()).unwrap_or_default()
        )),
        Event::MonitorFinished {
            result,
            alerts,
            elapsed_ms,
        } => Some(format!(
            "monitoring {result} after {} s, {alerts} alert(s)",
            elapsed_ms / 1000
        )),
        _ => None,
    });
    section(&mut out, "Alerts", entries, |e| match e {
        Event::HealthAlert { check, why } => Some(format!("ALERT {check}: {why}")),
        Event::HealthAlertCleared { check } => Some(format!("cleared {check}")),
        Event::HealthAlertAnswered {
            check,
            rollback,
            note,
        } => Some(format!(
            "answered {check}: {} ({note})",
            if *rollback { "roll back" } else { "dismissed" }
        )),
        _ => None,
    });
    section(&mut out, "Confirmations", entries, |e| match e {
        Event::ConfirmationGiven { what, typed } => {
            Some(format!("confirmed \"{what}\" by typing \"{typed}\""))
        }
        Event::ConfirmationDeclined { what, typed, why } => {
            Some(format!("declined \"{what}\" (typed \"{typed}\"): {why}"))
        }
        _ => None,
    });
    section(&mut out, "Rollback", entries, |e| match e {
        Event::RollbackStarted {
            reason,
            code_steps,
            database,
        } => Some(format!(
            "started: {reason}; code [{}]; database {database}",
            code_steps.join("; ")
        )),
        Event::MigrationReverted { name, duration_ms } => {
            Some(format!("reverted {name} in {duration_ms} ms"))
        }
        Event::RollbackFinished { ok, detail } => Some(format!(
            "finished {}: {detail}",
            if *ok { "ok" } else { "FAILED" }
        )),
        _ => None,
    });
    signoff_section(&mut out, entries);
    section(&mut out, "Notifications", entries, |e| match e {
        Event::NotificationFailed { what, error } => Some(format!("{what} FAILED: {error}")),
        _ => None,
    });
    out
}

fn ms(v: Option<u64>) -> String {
    v.map_or("-".into(), |v| format!("{v}ms"))
}

/// A section as a two-column table (time, what), or "None." when nothing happened.
fn section(
    out: &mut String,
    title: &str,
    entries: &[Entry],
    pick: impl Fn(&Event) -> Option<String>,
) {
    let _ = writeln!(out, "## {title}\n");
    let rows: Vec<(String, String)> = entries
        .iter()
        .filter_map(|e| pick(&e.event).map(|t| (e.ts.clone(), t)))
        .collect();
    if rows.is_empty() {
        out.push_str("None.\n\n");
        return;
    }
    out.push_str("| time | what |\n|---|---|\n");
    for (ts, what) in rows {
        let _ = writeln!(out, "| {} | {} |", cell(&ts), cell(&what));
    }
    out.push('\n');
}

fn run_section(out: &mut String, entries: &[Entry]) {
    out.push_str("## Run\n\n");
    for e in entries {
        match &e.event {
            Event::RunStarted {
                user,
                host,
                ssh_client,
                plan,
                plan_checksum,
                version,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "- Run {} started {} by **{}** on {}{} (deckhand {})\n- Plan {} (sha256 {})",
                    cell(&e.run),
                    cell(&e.ts),
                    cell(user),
                    cell(host),
                    ssh_client
                        .as_ref()
                        .map(|s| format!(" from {}", cell(s)))
                        .unwrap_or_default(),
                    cell(version),
                    cell(plan),
                    cell(plan_checksum)
                );
            }
            Event::Resumed { previous, .. } => {
                let _ = writeln!(out, "- Resumed run {}", cell(previous));
            }
            Event::Signal { name } => {
                let _ = writeln!(out, "- {} at {}", cell(name), cell(&e.ts));
            }
            Event::Quit { exit_code, reason } => {
                let _ = writeln!(
                    out,
                    "- Ended {} ({}, exit {exit_code})",
                    cell(&e.ts),
                    cell(reason)
                );
            }
            _ => {}
        }
    }
    out.push('\n');
}

fn commands_section(out: &mut String, entries: &[Entry]) {
    out.push_str("## Commands\n\n");
    let mut rows = Vec::new();
    for e in entries {
        if let Event::StepFinished {
            phase,
            step,
            outcome,
            exit_code,
            duration_ms,
            ..
        } = &e.event
        {
            let command = entries.iter().rev().find_map(|s| match &s.event {
                Event::StepStarted {
                    phase: p,
                    step: n,
                    command,
                    ..
                } if p == phase && n == step && s.seq < e.seq => Some(command.clone()),
                _ => None,
            });
            rows.push(format!(
                "| {} | {} | {} | `{}` | {} | {} | {} ms |",
                cell(&e.ts),
                cell(phase),
                step,
                cell(&command.unwrap_or_default()).replace('`', "'"),
                cell(outcome),
                exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                duration_ms
            ));
        }
    }
    if rows.is_empty() {
        out.push_str("None.\n\n");
        return;
    }
    out.push_str("| time | phase | step | command | outcome | exit | duration |\n|---|---|---|---|---|---|---|\n");
    for r in rows {
        out.push_str(&r);
        out.push('\n');
    }
    out.push('\n');
}

fn signoff_section(out: &mut String, entries: &[Entry]) {
    out.push_str("## Sign-off\n\n");
    let signed = entries.iter().rev().find_map(|e| match &e.event {
        Event::SignedOff { by, notes } => Some((e.ts.clone(), by.clone(), notes.clone())),
        _ => None,
    });
    match signed {
        None => out.push_str("Not signed off.\n\n"),
        Some((ts, by, notes)) => {
            let _ = writeln!(out, "Signed off by **{}** at {}.\n", cell(&by), cell(&ts));
            // Indented: the notes show verbatim and cannot open or close Markdown structure.
            for line in mask_passwords(&notes).lines() {
                let _ = writeln!(out, "    {line}");
            }
            out.push('\n');
        }
    }
}
