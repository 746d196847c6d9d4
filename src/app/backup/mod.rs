//! Backups inside `update`: taking one (then its verification and retention), the gate that holds back
//! migrations and `needs_backup` phases until this run has a verified backup or a typed reason, restoring a chosen
//! backup (confirmed by typing the database's name) and rehearsing the pending migrations on a restored copy.

mod restore;

use crate::app::out::Out;
use crate::app::text::file_name;
pub use restore::restore_choice;
pub(in crate::app) use restore::{
    request_rehearse, request_restore, start_rehearse, start_restore,
};

use super::busy::{BackupWork, Operation};
use super::msg::{Effect, Notice};
use super::prompt::{Expect, Gated, Modal, ModalKind};
use super::state::{QuitState, State};
use crate::backup::{Archive, Progress, RehearsalReport, RehearsalStep};
use crate::journal::Event;
use crate::runner::backup::{BackupEvent, BackupOp};

/// Backups as the console knows them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BackupPane {
    pub progress: Option<Progress>,
    /// The newest backup taken in this run (verified or not).
    pub taken: Option<Archive>,
    /// The newest backup taken in this run that passed verification: what the gate asks for.
    pub verified: Option<Archive>,
    /// Why the newest backup of this run failed verification.
    pub problems: Vec<String>,
    /// The last result, one line.
    pub last: Option<String>,
    /// Every backup in the plan's folder, newest first (for restore).
    pub known: Vec<Archive>,
    /// The reason typed to go on without a verified backup.
    pub gate_override: Option<String>,
    /// The last rehearsal on a restored copy.
    pub rehearsal: Option<RehearsalReport>,
}

/// Effects to issue when the console starts.
pub fn init(state: &State) -> Vec<Effect> {
    if state.plan.backup.is_some() {
        vec![Effect::ListBackups]
    } else {
        Vec::new()
    }
}

/// Why a backup operation cannot start now, if it cannot.
fn refusal(state: &State) -> Option<String> {
    if state.plan.backup.is_none() {
        return Some("No [backup] in this plan: add one with dir = \"…\".".into());
    }
    state.busy_refusal()
}

pub(super) fn request_take(state: &mut State, fx: &mut Out) {
    if let Some(why) = refusal(state) {
        state.flash = Some(why);
        return;
    }
    let dir = state
        .plan
        .backup
        .as_ref()
        .map(|b| b.dir.display().to_string())
        .unwrap_or_default();
    fx.push(Effect::Journal(Event::BackupStarted {
        target: crate::app::text::database_line(state),
        dir,
    }));
    state.op = Some(Operation::Backup(BackupWork::Taking));
    state.backup.problems.clear();
    state.backup.progress = None;
    state.backup.last = None;
    state.note("backup started".into());
    fx.push(Effect::TakeBackup);
}

/// The prompt for a reason to go on without a verified backup, when `gated` needs one and there is none.
pub(super) fn gate_modal(state: &State, gated: Gated) -> Option<Modal> {
    let b = &state.backup;
    if !crate::app::prompt::needs_backup(&state.plan, gated)
        || b.verified.is_some()
        || b.gate_override.is_some()
    {
        return None;
    }
    let mut m = Modal::new(
        ModalKind::BackupOverride(gated),
        "No verified backup",
        Expect::Reason,
    );
    m.danger = true;
    m.body.push((
        "Action".into(),
        crate::app::prompt::gated_label(&state.plan, gated),
    ));
    m.body
        .push(("Database".into(), crate::app::text::database_line(state)));
    let why = match (&state.plan.backup, &b.taken, state.backup_work()) {
        (None, _, _) => "the plan has no [backup]: nothing to fall back on".to_string(),
        (Some(_), _, Some(busy)) => format!("a backup is under way ({})", busy.label()),
        (Some(_), Some(_), None) => format!(
            "this run's backup FAILED verification: {}",
            b.problems.first().cloned().unwrap_or_default()
        ),
        (Some(_), None, None) => "no backup was taken in this run (press B to take one)".into(),
    };
    m.body.push(("Backup".into(), why));
    m.body.push((
        "Override".into(),
        "type why it is safe to go on without one; it is journaled and named in every confirmation after".into(),
    ));
    Some(m)
}

/// `c` while a backup operation runs: ask, then stop it.
pub(super) fn request_cancel(state: &mut State, fx: &mut Out) -> bool {
    let Some(busy) = state.backup_work() else {
        return false;
    };
    let mut m = Modal::new(
        ModalKind::CancelBackup,
        format!("Cancel: {}", busy.label()),
        Expect::Yes,
    );
    let how = match busy {
        BackupWork::Taking => "pg_dump is stopped and the partial file deleted",
        BackupWork::Verifying => "the check stops; the backup stays unverified",
        BackupWork::Restoring => {
            "the restore's transaction rolls back; the database stays as it was"
        }
        BackupWork::Rehearsing => "no further migration starts; the scratch copy is dropped",
    };
    m.body.push(("How".into(), how.into()));
    state.ask(m, fx);
    true
}

pub(super) fn on_event(state: &mut State, ev: BackupEvent, fx: &mut Out) {
    let b = &mut state.backup;
    match ev {
        BackupEvent::Listed(list) => {
            // This run's verified backup must still be there, and still verified (a later check may have found it
            // damaged, or retention elsewhere deleted it): otherwise it no longer opens the gate.
            if let Some(v) = &b.verified {
                let still = list
                    .iter()
                    .any(|a| a.path == v.path && a.sha256 == v.sha256 && a.verified.is_some());
                if !still && state.op.and_then(|o| o.backup()).is_none() {
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
        // Progress that arrives after the operation ended is stale.
        BackupEvent::Progress(p) if state.op.and_then(|o| o.backup()).is_some() => {
            b.progress = Some(p)
        }
        BackupEvent::Progress(_) => {}
        BackupEvent::Taken(a) => {
            fx.push(Effect::Journal(Event::BackupTaken {
                file: a.path.display().to_string(),
                size: a.size,
                sha256: a.sha256.clone(),
                duration_ms: a.took_ms,
            }));
            state.op = Some(Operation::Backup(BackupWork::Verifying));
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
        BackupEvent::Verified {
            archive,
            verification: v,
            deleted,
        } => {
            fx.push(Effect::Journal(Event::BackupVerified {
                file: archive.path.display().to_string(),
                ok: v.ok,
                tables: v.tables.len(),
                compared_with_live: v.compared_with_live,
                problems: v.problems.clone(),
                duration_ms: v.took.as_millis() as u64,
            }));
            // Verified means the check passed and was recorded beside the archive (what retention also requires).
            let passed = v.ok && archive.verified.is_some();
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
            match deleted {
                Some(Ok(files)) => {
                    let names: Vec<String> =
                        files.iter().map(|f| f.display().to_string()).collect();
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
        } => {
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
                b.problems = vec![error.clone()];
            }
            b.last = Some(line.clone());
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
        BackupEvent::Restored { archive, report } => {
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
            let mut line = format!(
                "restored {} into {}: {} tables",
                file_name(&archive),
                report.target,
                report.tables
            );
            if !report.missing.is_empty() {
                line.push_str(&format!(
                    "; MISSING after restore: {}",
                    report.missing.join(", ")
                ));
            }
            if !report.extra.is_empty() {
                line.push_str(&format!(
                    "; not in the backup (left as they are): {}",
                    report.extra.join(", ")
                ));
            }
            if !report.dropped.is_empty() {
                line.push_str(&format!(
                    "; dropped (created since the backup): {}",
                    report.dropped.join(", ")
                ));
            }
            if let Some(why) = &report.unchecked {
                line.push_str(&format!("; the result could NOT be checked: {why}"));
            }
            if let Some(k) = &report.kept {
                line.push_str(&format!("; the replaced file is kept at {}", k.display()));
            }
            state.backup.last = Some(line.clone());
            state.flash = Some(line.clone());
            state.note(line.clone());
            refresh_migrations(state, fx);
            let ok = report.missing.is_empty();
            fx.notice(Notice::RestoreDone { ok, detail: line });
            ended(state, "the restore finished", fx);
        }
        BackupEvent::Rehearsed { archive, report } => {
            let results: Vec<String> = report.steps.iter().map(step_line).collect();
            fx.push(Effect::Journal(Event::Rehearsal {
                file: archive.path.display().to_string(),
                scratch: report.scratch.clone(),
                results: results.clone(),
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
            if let Some(e) = &report.cleanup_error {
                line.push_str(&format!(
                    "; SCRATCH COPY NOT REMOVED ({}): {e}",
                    report.scratch
                ));
            }
            for r in &results {
                state.note(format!("rehearsal: {r}"));
            }
            state.backup.rehearsal = Some(report);
            state.release.tried_spent = false;
            state.backup.last = Some(line.clone());
            state.flash = Some(line);
            state.side = super::state::Pane::Migrations;
            ended(state, "the rehearsal finished", fx);
        }
    }
}

/// One rehearsal result as a line.
pub fn step_line(s: &RehearsalStep) -> String {
    match s {
        RehearsalStep::Applied { name, took } => {
            format!("{name}: ok in {}", crate::app::text::format_clock(*took))
        }
        RehearsalStep::Failed { name, took, error } => format!(
            "{name}: FAILED after {}: {error}",
            crate::app::text::format_clock(*took)
        ),
        RehearsalStep::NotReached { name } => format!("{name}: not reached"),
    }
}

fn refresh_migrations(state: &mut State, fx: &mut Out) {
    if state.plan.database.is_some() && !state.db.loading {
        state.db.loading = true;
        fx.push(Effect::LoadMigrations);
    }
}

/// A backup operation ended (`how`: "the backup finished", "stopping the restore", …): list the folder again;
/// finish quitting if the operator was, saying how it ended (a hang-up lets it finish, a signal stops it, and
/// either may end otherwise than asked).
fn ended(state: &mut State, how: &str, fx: &mut Out) {
    if state.backup_work().is_some() {
        state.op = None;
    }
    state.backup.progress = None;
    fx.push(Effect::ListBackups);
    fx.notice(Notice::EndedWhileQuitting {
        how: format!("quit after {how}"),
    });
}

/// Stops the operation under way because the run is ending; true when there was one.
pub(super) fn stop_for_quit(state: &mut State, fx: &mut Out) -> bool {
    if state.backup_work().is_none() {
        return false;
    }
    state.quit = QuitState::AfterStep;
    fx.push(Effect::CancelBackup);
    true
}
