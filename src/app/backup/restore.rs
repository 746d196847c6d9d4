//! Restoring a chosen backup (picker, typed database name, in place or into a new database) and rehearsing the
//! pending migrations on a restored copy: the requests, their confirmations, and starting them.

use super::{Pending, refusal};
use crate::app::busy::{BackupWork, Operation, PhaseStatus};
use crate::app::msg::{Effect, Notice};
use crate::app::out::Out;
use crate::app::prompt::{Expect, Modal, ModalKind, Picker};
use crate::app::state::State;
use crate::app::text::{self, Created, file_name, human_bytes, utc_time};
use crate::backup::counters::{Counters, Loss, loss};
use crate::backup::{Archive, ArchiveKind, RestoreMode};
use crate::journal::{Event, RestoreKind};
use crate::runner::CountersFor;

/// Tables with writes the restore prompt names (it also holds the backup picker) before it says how many more.
const RESTORE_LOSS_TABLES: usize = 3;

/// Backups a restore may choose from: those of this plan's database, newest first, verified ones first.
fn candidates(state: &State) -> Vec<Archive> {
    let target = crate::app::text::database_line(state);
    let project = &state.plan.project;
    // The same host:port/db may be another environment's database (a tunnel, a shared backup folder).
    let mut list: Vec<Archive> = state
        .backup
        .known
        .iter()
        .filter(|a| {
            a.database == target
                && a.project == project.name
                && a.environment == project.environment
        })
        .cloned()
        .collect();
    // Stable: newest first within each group.
    list.sort_by_key(|a| a.verified.is_none());
    list
}

fn picker_item(a: &Archive) -> String {
    let verified = if a.verified.is_some() {
        "verified"
    } else {
        "NOT VERIFIED"
    };
    format!(
        "{}  {}  {}  {verified}",
        utc_time(a.created_unix, true),
        human_bytes(a.size),
        a.environment
    )
}

/// `U`: a restore first reads the database's write counters, so its prompt can say what each backup's restore
/// loses ([`on_counters`] opens it).
pub(in crate::app) fn request_restore(state: &mut State, fx: &mut Out) {
    if let Some(why) = refusal(state) {
        state.flash = Some(why);
        return;
    }
    if state.backup.restore_asked {
        state.flash = Some("Restore: still reading what it would lose…".into());
        return;
    }
    if candidates(state).is_empty() {
        state.flash = Some(no_backup(state));
        return;
    }
    state.backup.restore_asked = true;
    state.flash = Some("Restore: reading what it would lose…".into());
    fx.push(Effect::ReadCounters(CountersFor::Restore));
}

fn no_backup(state: &State) -> String {
    let dir = state
        .plan
        .backup
        .as_ref()
        .map(|b| b.dir.display().to_string());
    format!(
        "No backup of this database in {}: take one with B.",
        dir.unwrap_or_default()
    )
}

/// The write counters came back (or why not): the restore prompt opens, unless something else started meanwhile.
pub(in crate::app) fn on_counters(
    state: &mut State,
    at_unix: u64,
    result: Result<Counters, String>,
    fx: &mut Out,
) {
    if !std::mem::take(&mut state.backup.restore_asked) {
        return;
    }
    let busy = refusal(state).or_else(|| {
        state
            .modal
            .is_some()
            .then(|| "another prompt is open".to_string())
    });
    if let Some(why) = busy {
        state.flash = Some(format!("Restore not shown: {why}; press U again."));
        return;
    }
    let list = candidates(state);
    if list.is_empty() {
        state.flash = Some(no_backup(state));
        return;
    }
    let now = result.as_ref().map_err(String::as_str);
    let losses: Vec<Loss> = list.iter().map(|a| loss(a, now, at_unix)).collect();
    state.flash = None;
    show_restore(state, list, losses, fx);
}

/// The restore prompt: where, how, the steps run first, and for the backup chosen what its restore loses.
fn show_restore(state: &mut State, list: Vec<Archive>, losses: Vec<Loss>, fx: &mut Out) {
    let Some(first) = list.first() else {
        return;
    };
    let sqlite = first.kind == ArchiveKind::Sqlite;
    let dbname = first.dbname.clone();
    let mut m = Modal::new(
        ModalKind::RestoreBackup(list.clone()),
        format!("Restore {dbname} from a backup"),
        Expect::Word(dbname),
    );
    m.danger = true;
    m.body
        .push(("Environment".into(), state.plan.project.environment.clone()));
    m.body
        .push(("Database".into(), crate::app::text::database_line(state)));
    let first_steps = before_restore_steps(state);
    if sqlite {
        m.body.push((
            "How".into(),
            "the database file is swapped for the backup; the current file is kept beside it"
                .into(),
        ));
        if first_steps.is_empty() {
            m.body.push((
                "WARNING".into(),
                "STOP THE APP FIRST: nothing may write to the database while its file is swapped"
                    .into(),
            ));
        }
    } else {
        m.body.push((
            "How".into(),
            "pg_restore --clean --if-exists --single-transaction: all or nothing".into(),
        ));
    }
    for (i, c) in first_steps.iter().enumerate() {
        m.body
            .push((format!("First {}", i + 1), format!("{c} (in place only)")));
    }
    if list.len() > 1 {
        m.body.push((
            "Choose".into(),
            "Up/Down picks the backup (verified ones first)".into(),
        ));
    }
    let created = if sqlite {
        Created::Dropped
    } else {
        Created::Kept
    };
    m.picker = Some(Picker {
        items: list.iter().map(picker_item).collect(),
        selected: 0,
        option: (!sqlite).then(|| ("into a new database instead (Tab)".to_string(), false)),
        details: losses
            .iter()
            .map(|l| text::loss_lines(l, RESTORE_LOSS_TABLES, created))
            .collect(),
    });
    state.backup.losses = losses
        .iter()
        .map(|l| text::loss_summary(l, created))
        .collect();
    state.ask(m, fx);
}

/// The `[rollback] before_restore` steps, as shown.
fn before_restore_steps(state: &State) -> Vec<String> {
    state
        .plan
        .rollback
        .as_ref()
        .map(|r| {
            r.before_restore
                .iter()
                .map(|s| s.run.display.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The restore was confirmed: the chosen backup, in place or into a new database. An in-place restore runs the
/// `before_restore` steps first.
pub(in crate::app) fn start_restore(
    state: &mut State,
    list: Vec<Archive>,
    picker: Option<Picker>,
    fx: &mut Out,
) {
    let (selected, new_db) = picker.map_or((0, false), |p| {
        (p.selected, p.option.is_some_and(|(_, on)| on))
    });
    let losses = std::mem::take(&mut state.backup.losses);
    let Some(archive) = list.into_iter().nth(selected) else {
        return;
    };
    let (mode, loss) = if new_db {
        (RestoreMode::NewDatabase(new_database_name(&archive)), None)
    } else {
        (RestoreMode::InPlace, losses.into_iter().nth(selected))
    };
    if mode == RestoreMode::InPlace && state.before_restore_phase().is_some() {
        state.note(format!(
            "restore of {}: the before_restore steps run first",
            file_name(&archive)
        ));
        state.backup.after_first = Some(Pending {
            archive,
            mode,
            loss,
        });
        fx.notice(Notice::StartBeforeRestore);
        return;
    }
    begin_restore(state, archive, mode, loss, fx);
}

/// The `before_restore` steps ended: the restore waiting for them starts, or, when one did not succeed, it does
/// not and the database is left untouched.
pub(in crate::app) fn before_restore_done(state: &mut State, status: PhaseStatus, fx: &mut Out) {
    let Some(p) = state.backup.after_first.take() else {
        return;
    };
    if status == PhaseStatus::Succeeded {
        begin_restore(state, p.archive, p.mode, p.loss, fx);
        return;
    }
    let why = format!(
        "not started: the before_restore steps {}; the database was left untouched",
        format!("{status:?}").to_lowercase()
    );
    fx.push(Effect::Journal(Event::BackupFailed {
        what: "restore".into(),
        error: why.clone(),
    }));
    let line = format!("restore of {} {why}", file_name(&p.archive));
    state.backup.last = Some(line.clone());
    state.flash = Some(line.clone());
    state.note(line);
}

/// Journals the restore's start, with what it loses, and starts it.
fn begin_restore(
    state: &mut State,
    archive: Archive,
    mode: RestoreMode,
    loss: Option<String>,
    fx: &mut Out,
) {
    let (kind, new_database) = match &mode {
        RestoreMode::InPlace => (RestoreKind::InPlace, None),
        RestoreMode::NewDatabase(n) => (RestoreKind::NewDatabase, Some(n.clone())),
        RestoreMode::Rollback => (RestoreKind::Rollback, None),
    };
    let mode_text = kind.describe(new_database.as_deref());
    fx.push(Effect::Journal(Event::RestoreStarted {
        file: archive.path.display().to_string(),
        target: crate::app::text::database_line(state),
        mode: kind,
        new_database,
        loss,
    }));
    state.note(format!(
        "restore of {} started ({mode_text})",
        file_name(&archive)
    ));
    state.op = Some(Operation::Backup(BackupWork::Restoring));
    state.backup.progress = None;
    fx.push(Effect::RestoreBackup { archive, mode });
}

/// What the restore prompt's choice loses: the chosen backup's lines, or nothing when it goes into a new database.
pub fn restore_loss(picker: &Picker) -> Vec<(String, String)> {
    if matches!(picker.option, Some((_, true))) {
        return vec![(
            "Lost".into(),
            "nothing: the database is left as it is".into(),
        )];
    }
    picker
        .details
        .get(picker.selected)
        .cloned()
        .unwrap_or_default()
}

/// What the restore prompt will do with its current choice: which backup, and where to.
pub fn restore_choice(list: &[Archive], picker: &Picker) -> String {
    let Some(a) = list.get(picker.selected) else {
        return String::new();
    };
    let verified = if a.verified.is_some() {
        "verified"
    } else {
        "NOT VERIFIED"
    };
    let target = match picker.option {
        Some((_, true)) => format!("into the NEW database {}", new_database_name(a)),
        _ if a.kind == ArchiveKind::Sqlite => "over the database file (swapped)".to_string(),
        _ => "IN PLACE over the database".to_string(),
    };
    format!("{} ({verified}) {target}", file_name(a))
}

/// `shop_restored_202611211403`: a new database named after the backup's time, within PostgreSQL's 63 bytes.
fn new_database_name(a: &Archive) -> String {
    let stamp: String = crate::backup::store::format_utc(a.created_unix)
        .chars()
        .filter(char::is_ascii_digit)
        .take(12)
        .collect();
    let suffix = format!("_restored_{stamp}");
    let base: String = a.dbname.chars().take(63 - suffix.len()).collect();
    format!("{base}{suffix}")
}

pub(in crate::app) fn request_rehearse(state: &mut State, fx: &mut Out) {
    if let Some(why) = refusal(state) {
        state.flash = Some(why);
        return;
    }
    let Some(archive) = state.backup.verified.clone() else {
        state.flash =
            Some("A rehearsal restores this run's verified backup: take one first with B.".into());
        return;
    };
    let pending = state.db.snapshot().map_or(0, |s| s.status.pending().len());
    if pending == 0 {
        state.flash = Some("Nothing to rehearse: no migration is pending.".into());
        return;
    }
    let mut m = Modal::new(
        ModalKind::RehearseBackup(Box::new(archive.clone())),
        "Rehearse the migrations on a restored copy",
        crate::app::prompt::destructive_expect(&state.plan),
    );
    m.danger = true;
    m.body
        .push(("Server".into(), crate::app::text::database_line(state)));
    m.body.push((
        "Backup".into(),
        format!("{} ({})", file_name(&archive), human_bytes(archive.size)),
    ));
    let how = if archive.kind == ArchiveKind::Sqlite {
        format!(
            "copies the backup beside the database, applies the {pending} pending migration(s) to the copy, deletes it"
        )
    } else {
        format!(
            "creates a scratch database deckhand_rehearsal_…, restores the backup into it, applies the {pending} \
             pending migration(s), drops it; needs CREATEDB, and loads the server like a restore"
        )
    };
    m.body.push(("How".into(), how));
    m.body.push(("Way back".into(), way_back_plan(state)));
    state.ask(m, fx);
}

/// Whether the rehearsal will also rehearse the way back (every pending migration has a down file), or why not.
fn way_back_plan(state: &State) -> String {
    let Some(snap) = state.db.snapshot() else {
        return String::new();
    };
    let pending: Vec<String> = snap
        .status
        .pending()
        .into_iter()
        .map(|i| snap.migrations[i].name.clone())
        .collect();
    match crate::migrate::revert::missing_downs(&snap.migrations, &pending).as_slice() {
        [] => "then runs each down file, newest first, and applies the migrations again (apply → down → apply)"
            .into(),
        [one] => format!("not rehearsed: {one} has no down file"),
        many => format!("not rehearsed: {} pending migrations have no down file", many.len()),
    }
}

pub(in crate::app) fn start_rehearse(state: &mut State, archive: Archive, fx: &mut Out) {
    state.op = Some(Operation::Backup(BackupWork::Rehearsing));
    state.backup.progress = None;
    state.backup.rehearsal = None;
    state.note(format!(
        "rehearsal on a copy of {} started",
        file_name(&archive)
    ));
    fx.push(Effect::RehearseBackup(archive));
}
