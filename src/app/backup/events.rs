//! The backup room's runner messages: the folder listed, progress, a backup taken then verified (with retention),
//! an operation failed or cancelled, a restore or a rehearsal on a restored copy finished. Each is journaled, shown
//! and noted; what matters to other rooms (the folder listed, a restore done, quitting after it) leaves as a notice.

use super::{ended, file_name, refresh_migrations, step_line};
use crate::app::busy::{BackupWork, Operation};
use crate::app::msg::{Effect, Notice};
use crate::app::out::Out;
use crate::app::state::{Pane, State};
use crate::backup::{Archive, RehearsalReport, RehearsalStep, RestoreReport, Verification};
use crate::journal::Event;
use crate::runner::backup::{BackupEvent, BackupOp};

pub(in crate::app) fn on_event(state: &mut State, ev: BackupEvent, fx: &mut Out) {
    match ev {
        BackupEvent::Listed(list) => on_listed(state, list, fx),
        // Progress that arrives after the operation ended is stale.
        BackupEvent::Progress(p) => {
            if state.backup_work().is_some() {
                state.backup.progress = Some(p);
            }
        }
        BackupEvent::Taken(a) => on_taken(state, a, fx),
        BackupEvent::Verified {
            archive,
            verification,
            deleted,
        } => {
            let passed = on_verified(state, archive, &verification, fx);
            retention(state, deleted, fx);
            let how = if passed {
                "the backup finished"
            } else {
                "the backup finished (it FAILED verification)"
            };
            ended(state, how, fx);
        }
        BackupEvent::Failed {
            op,
            error,
            cancelled,
        } => on_failed(state, op, error, cancelled, fx),
        BackupEvent::Restored { archive, report } => on_restored(state, &archive, &report, fx),
        BackupEvent::Rehearsed { archive, report } => on_rehearsed(state, &archive, report, fx),
    }
}

/// The folder's backups. This run's verified backup must still be there, and still verified (a later check may
/// have found it damaged, or retention elsewhere deleted it): otherwise it no longer opens the gate.
fn on_listed(state: &mut State, list: Vec<Archive>, fx: &mut Out) {
    let idle = state.backup_work().is_none();
    let b = &mut state.backup;
    if let Some(v) = &b.verified {
        let still = list
            .iter()
            .any(|a| a.path == v.path && a.sha256 == v.sha256 && a.verified.is_some());
        if !still && idle {
            let line = format!(
                "this run's verified backup {} is gone or no longer verified: take a new one",
                v.path.display()
            );
            b.verified = None;
            state.flash = Some(line.clone());
            state.note(line);
        }
    }
    state.backup.known = list;
    fx.notice(Notice::BackupsListed);
}

fn on_taken(state: &mut State, a: Archive, fx: &mut Out) {
    let counters = a.counters.as_ref().map(crate::app::text::counters_line);
    fx.push(Effect::Journal(Event::BackupTaken {
        file: a.path.display().to_string(),
        size: a.size,
        sha256: a.sha256.clone(),
        duration_ms: a.took_ms,
        counters,
    }));
    state.op = Some(Operation::Backup(BackupWork::Verifying));
    let b = &mut state.backup;
    b.progress = None;
    b.problems.clear();
    let line = format!(
        "backup written: {} ({}, sha256 {})",
        a.path.display(),
        crate::app::text::human_bytes(a.size),
        a.sha256
    );
    b.taken = Some(a);
    state.note(line);
}

/// The verification came back: journaled; the backup opens the gate only when it passed and was recorded beside
/// the archive (what retention also requires). Returns whether it passed.
fn on_verified(state: &mut State, archive: Archive, v: &Verification, fx: &mut Out) -> bool {
    fx.push(Effect::Journal(Event::BackupVerified {
        file: archive.path.display().to_string(),
        ok: v.ok,
        tables: v.tables.len(),
        compared_with_live: v.compared_with_live,
        problems: v.problems.clone(),
        schema_changes: v.schema_changes.clone(),
        duration_ms: v.took.as_millis() as u64,
    }));
    // Not proven (no record: its table of contents unchecked) never opens the gate on its own.
    let passed = v.ok && v.proven && archive.verified.is_some();
    let b = &mut state.backup;
    let line = if passed {
        b.problems.clear();
        b.verified = Some(archive.clone());
        format!(
            "backup verified: {} tables read back{}",
            v.tables.len(),
            if v.compared_with_live {
                ", none missing from the live database"
            } else {
                ""
            }
        )
    } else {
        b.problems = v.problems.clone();
        if b.problems.is_empty() {
            b.problems
                .push("the verification was not recorded beside the archive".into());
        }
        format!("backup FAILED verification: {}", b.problems.join("; "))
    };
    if b.taken.as_ref().is_some_and(|t| t.path == archive.path) {
        b.taken = Some(archive);
    }
    b.last = Some(line.clone());
    state.flash = Some(line.clone());
    state.note(line);
    // The archive matched its record: these are the schema moving on since the backup, not damage.
    for change in &v.schema_changes {
        state.note(format!("the schema changed since the backup: {change}"));
    }
    passed
}

/// What retention deleted after a verified backup, or why it could not.
fn retention(
    state: &mut State,
    deleted: Option<Result<Vec<std::path::PathBuf>, String>>,
    fx: &mut Out,
) {
    match deleted {
        Some(Ok(files)) => {
            let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            state.note(format!("retention deleted {}", names.join(", ")));
            fx.push(Effect::Journal(Event::BackupsDeleted { files: names }));
        }
        Some(Err(error)) => {
            state.note(format!("retention could not delete old backups: {error}"));
            fx.push(Effect::Journal(Event::BackupFailed {
                what: "retention".into(),
                error,
            }));
        }
        None => {}
    }
}

fn on_failed(state: &mut State, op: BackupOp, error: String, cancelled: bool, fx: &mut Out) {
    fx.push(Effect::Journal(Event::BackupFailed {
        what: op.label().into(),
        error: error.clone(),
    }));
    let line = if cancelled {
        format!("{} cancelled", op.label())
    } else {
        format!("{} FAILED: {error}", op.label())
    };
    if op == BackupOp::Verify {
        state.backup.problems = vec![error.clone()];
    }
    state.backup.last = Some(line.clone());
    state.flash = Some(line.clone());
    state.note(line);
    if op == BackupOp::Restore {
        refresh_migrations(state, fx);
        fx.notice(Notice::RestoreDone {
            ok: false,
            detail: format!("restore FAILED: {error}"),
        });
    }
    let how = if cancelled {
        format!("stopping the {}", op.label())
    } else {
        format!("the {} failed", op.label())
    };
    ended(state, &how, fx);
}

fn on_restored(state: &mut State, archive: &Archive, report: &RestoreReport, fx: &mut Out) {
    fx.push(Effect::Journal(Event::RestoreFinished {
        file: archive.path.display().to_string(),
        target: report.target.clone(),
        tables: report.tables,
        missing: report.missing.clone(),
        extra: report.extra.clone(),
        dropped: report.dropped.clone(),
        kept: report.kept.as_ref().map(|k| k.display().to_string()),
        duration_ms: report.took.as_millis() as u64,
    }));
    let line = restored_line(archive, report);
    state.backup.last = Some(line.clone());
    state.flash = Some(line.clone());
    state.note(line.clone());
    refresh_migrations(state, fx);
    let ok = report.missing.is_empty();
    fx.notice(Notice::RestoreDone { ok, detail: line });
    ended(state, "the restore finished", fx);
}

/// What a restore did, in one line: tables, and anything missing, extra, dropped, unchecked or kept.
fn restored_line(archive: &Archive, report: &RestoreReport) -> String {
    let mut line = format!(
        "restored {} into {}: {} tables",
        file_name(archive),
        report.target,
        report.tables
    );
    let lists = [
        ("MISSING after restore", &report.missing),
        ("not in the backup (left as they are)", &report.extra),
        ("dropped (created since the backup)", &report.dropped),
    ];
    for (what, names) in lists {
        if !names.is_empty() {
            line.push_str(&format!("; {what}: {}", names.join(", ")));
        }
    }
    if let Some(why) = &report.unchecked {
        line.push_str(&format!("; the result could NOT be checked: {why}"));
    }
    if let Some(k) = &report.kept {
        line.push_str(&format!("; the replaced file is kept at {}", k.display()));
    }
    line
}

fn on_rehearsed(state: &mut State, archive: &Archive, report: RehearsalReport, fx: &mut Out) {
    let results: Vec<String> = report.steps.iter().map(step_line).collect();
    fx.push(Effect::Journal(Event::Rehearsal {
        file: archive.path.display().to_string(),
        scratch: report.scratch.clone(),
        results: results.clone(),
        way_back: super::way_back::way_back_record(&report.way_back),
        dropped: report.dropped,
        duration_ms: report.took.as_millis() as u64,
    }));
    let mut line = match report
        .steps
        .iter()
        .find(|s| matches!(s, RehearsalStep::Failed { .. }))
    {
        Some(failed) => format!("rehearsal on a restored copy: {}", step_line(failed)),
        None => format!(
            "rehearsal on a restored copy: all {} pending migration(s) applied",
            report.steps.len()
        ),
    };
    if let Some(way_back) = super::way_back::way_back_summary(&report.way_back) {
        line.push_str(&format!("; {way_back}"));
    }
    if let Some(e) = &report.cleanup_error {
        line.push_str(&format!(
            "; SCRATCH COPY NOT REMOVED ({}): {e}",
            report.scratch
        ));
    }
    for r in results
        .iter()
        .chain(&super::way_back::way_back_lines(&report.way_back))
    {
        state.note(format!("rehearsal: {r}"));
    }
    state.backup.rehearsal = Some(report);
    state.release.tried_spent = false;
    state.backup.last = Some(line.clone());
    state.flash = Some(line);
    state.side = Pane::Migrations;
    ended(state, "the rehearsal finished", fx);
}
