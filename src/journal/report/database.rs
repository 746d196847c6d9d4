//! The report's database sections: backup (and restores outside a rollback), migrations, and the rollback.

use super::super::markdown::{
    bytes, cell, code, code_cell, code_list, fenced, inline, ms, table, time, yes,
};
use super::super::{Entry, Event};
use super::then_blank_line;
use std::fmt::Write as _;

pub(super) fn backup(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        match &e.event {
            Event::BackupStarted { target, dir } => w!(
                out,
                "- Backup of {} into {} started {}",
                inline(target),
                code(dir),
                time(&e.ts)
            ),
            Event::BackupTaken {
                file,
                size,
                sha256,
                duration_ms,
                counters,
            } => {
                w!(
                    out,
                    "- Taken: {}, {}, sha256 {}, in {}",
                    code(file),
                    bytes(*size),
                    code(sha256),
                    ms(*duration_ms)
                );
                if let Some(c) = counters {
                    w!(out, "  - Recorded with it: {}", inline(c));
                }
            }
            Event::BackupVerified {
                file,
                ok,
                tables,
                compared_with_live,
                problems,
                schema_changes,
                duration_ms,
            } => {
                let verdict = if *ok {
                    "Verified"
                } else {
                    "Verification FAILED"
                };
                w!(
                    out,
                    "- {verdict}: {} ({tables} tables read back; compared with the live database: {}) in {}",
                    code(file),
                    yes(*compared_with_live),
                    ms(*duration_ms)
                );
                for p in problems {
                    w!(out, "  - {}", inline(p));
                }
                for c in schema_changes {
                    w!(
                        out,
                        "  - The schema changed since the backup: {}",
                        inline(c)
                    );
                }
            }
            Event::BackupFailed { what, error } => {
                w!(out, "- FAILED: {}: {}", inline(what), inline(error))
            }
            Event::BackupsDeleted { files } => {
                w!(out, "- Retention deleted {}", code_list(files))
            }
            _ => restore(&mut out, e),
        }
    }
    out
}

/// Restore events, in the backup section or the rollback's.
pub(super) fn restore(out: &mut String, e: &Entry) {
    match &e.event {
        Event::RestoreStarted {
            file,
            target,
            mode,
            new_database,
            loss,
        } => {
            w!(
                out,
                "- Restore of {} into {} ({}) started {}",
                code(file),
                inline(target),
                inline(&mode.describe(new_database.as_deref())),
                time(&e.ts)
            );
            if let Some(loss) = loss {
                w!(out, "  - Lost: {}", inline(loss));
            }
        }
        Event::RestoreFinished {
            file,
            target,
            tables,
            missing,
            extra,
            dropped,
            kept,
            duration_ms,
        } => {
            w!(
                out,
                "- Restored {} into {}: {tables} tables in {}; missing {}; extra {}",
                code(file),
                inline(target),
                ms(*duration_ms),
                code_list(missing),
                code_list(extra)
            );
            if !dropped.is_empty() {
                w!(
                    out,
                    "  - Dropped, created since the backup: {}",
                    code_list(dropped)
                );
            }
            if let Some(kept) = kept {
                w!(out, "  - The previous database was kept as {}", code(kept));
            }
        }
        _ => {}
    }
}

pub(super) fn migrations(entries: &[Entry]) -> String {
    let mut out = String::new();
    let mut applied = Vec::new();
    for e in entries {
        match &e.event {
            Event::MigrationsApplyStarted {
                target,
                format,
                migrations,
            } => w!(
                out,
                "- Apply to {} ({}) started {}: {}",
                inline(target),
                inline(format),
                time(&e.ts),
                code_list(migrations)
            ),
            Event::MigrationRisks {
                migration,
                findings,
                exemptions,
                data,
            } => {
                w!(out, "- Risks confirmed for {}:", code(migration));
                for d in data {
                    w!(out, "  - data: {}", inline(d));
                }
                for f in findings {
                    w!(out, "  - finding: {}", inline(f));
                }
                for x in exemptions {
                    w!(out, "  - exempted: {}", inline(x));
                }
            }
            Event::MigrationApplied { name, duration_ms } => {
                applied.push(vec![code_cell(name), cell(&ms(*duration_ms))]);
            }
            Event::MigrationFailed {
                name,
                error,
                line,
                column,
                statement,
            } => {
                let at = match (line, column) {
                    (Some(l), Some(c)) => format!(" at line {l}, column {c}"),
                    (Some(l), None) => format!(" at line {l}"),
                    _ => String::new(),
                };
                let name = name.as_deref().map(code).unwrap_or("(none)".into());
                w!(out, "- FAILED {name}{at}: {}", inline(error));
                if let Some(sql) = statement {
                    out.push('\n');
                    out.push_str(&fenced(sql));
                    out.push('\n');
                }
            }
            _ => trials_and_resolutions(&mut out, e),
        }
    }
    if applied.is_empty() {
        return out;
    }
    then_blank_line(out) + &table(&["Applied migration", "Duration"], &applied)
}

/// Migrations tried without applying them (dry run, rehearsal on a restored copy) and resolved by hand.
fn trials_and_resolutions(out: &mut String, e: &Entry) {
    match &e.event {
        Event::MigrationsDryRun { results } => {
            w!(out, "- Dry run {}:", time(&e.ts));
            for r in results {
                w!(out, "  - {}", inline(r));
            }
        }
        Event::Rehearsal {
            file,
            scratch,
            results,
            way_back,
            dropped,
            duration_ms,
        } => {
            w!(
                out,
                "- Rehearsal on a restored copy of {} (scratch {}, dropped afterwards: {}) in {}:",
                code(file),
                inline(scratch),
                yes(*dropped),
                ms(*duration_ms)
            );
            for r in results {
                w!(out, "  - {}", inline(r));
            }
            if let Some(back) = way_back {
                way_back_lines(out, back);
            }
        }
        Event::MigrationResolved {
            action,
            name,
            result,
        } => w!(
            out,
            "- Resolved {} ({}): {}",
            code(name),
            inline(action),
            inline(result)
        ),
        Event::IndexDropped {
            index,
            table,
            statement,
            result,
        } => w!(
            out,
            "- Invalid index {} on {}: {} ({})",
            code(index),
            inline(table),
            code(statement),
            inline(result)
        ),
        _ => {}
    }
}

/// The way back a rehearsal found (apply → down → apply), under the rehearsal's results.
fn way_back_lines(out: &mut String, back: &crate::journal::WayBackRecord) {
    use crate::journal::WayBackResult;
    let head = match back.result {
        WayBackResult::Passed => "passed: every down file ran, then the migrations applied again",
        WayBackResult::Failed => "FAILED",
        WayBackResult::NotRehearsed => "not rehearsed",
    };
    w!(out, "  - Way back (apply → down → apply): {head}");
    for step in &back.steps {
        w!(out, "    - {}", inline(step));
    }
}

pub(super) fn rollback(entries: &[Entry]) -> String {
    let mut out = String::new();
    for e in entries {
        match &e.event {
            Event::RollbackStarted {
                reason,
                before_restore,
                code_steps,
                database,
                loss,
            } => {
                w!(out, "- Started {}: {}", time(&e.ts), inline(reason));
                if !before_restore.is_empty() {
                    w!(
                        out,
                        "  - First (before_restore): {}",
                        code_list(before_restore)
                    );
                }
                w!(out, "  - Code steps: {}", code_list(code_steps));
                w!(out, "  - Database: {}", inline(database));
                if let Some(loss) = loss {
                    w!(out, "  - Lost: {}", inline(loss));
                }
            }
            Event::MigrationReverted { name, duration_ms } => {
                w!(out, "- Reverted {} in {}", code(name), ms(*duration_ms))
            }
            Event::RollbackFinished { ok, detail } => w!(
                out,
                "- Finished {}: {}: {}",
                time(&e.ts),
                if *ok { "ok" } else { "FAILED" },
                inline(detail)
            ),
            _ => restore(&mut out, e),
        }
    }
    if out.is_empty() {
        "No rollback.\n".into()
    } else {
        out
    }
}
