//! Backups inside `update`: taking one (then its verification and retention), the gate that holds back
//! migrations and `needs_backup` phases until this run has a verified backup or a typed reason, restoring a chosen
//! backup (confirmed by typing the database's name) and rehearsing the pending migrations on a restored copy.

mod events;
mod restore;
mod way_back;

use crate::app::out::Out;
use crate::app::text::file_name;
pub(super) use events::on_event;
pub(in crate::app) use restore::{
    before_restore_done, on_counters, request_rehearse, request_restore, start_rehearse,
    start_restore,
};
pub use restore::{restore_choice, restore_loss};
pub use way_back::{way_back_lines, way_back_step_line, way_back_summary};

use super::busy::{BackupWork, Operation};
use super::msg::{Effect, Notice};
use super::prompt::{Expect, Gated, Modal, ModalKind};
use super::state::{QuitState, State};
use crate::backup::{Archive, Progress, RehearsalReport, RehearsalStep};
use crate::journal::Event;

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
    /// The restore prompt waits for the database's write counters.
    pub restore_asked: bool,
    /// What restoring each backup of the open restore prompt loses, one line each (journaled with the restore).
    pub losses: Vec<String>,
    /// An in-place restore confirmed, waiting for the `before_restore` steps.
    pub after_first: Option<Pending>,
}

/// A restore that starts once the `before_restore` steps succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub archive: Archive,
    pub mode: crate::backup::RestoreMode,
    /// What it loses, as journaled.
    pub loss: Option<String>,
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

/// One rehearsal result as a line.
pub fn step_line(s: &RehearsalStep) -> String {
    match s {
        RehearsalStep::Applied { name, took } => {
            format!("{name}: ok in {}", crate::plan::human_duration(*took))
        }
        RehearsalStep::Failed { name, took, error } => format!(
            "{name}: FAILED after {}: {error}",
            crate::plan::human_duration(*took)
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
