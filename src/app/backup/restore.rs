//! Restoring a chosen backup (picker, typed database name, in place or into a new database) and rehearsing the
//! pending migrations on a restored copy: the requests, their confirmations, and starting them.

use super::refusal;
use crate::app::busy::{BackupWork, Operation};
use crate::app::msg::Effect;
use crate::app::out::Out;
use crate::app::prompt::{Expect, Modal, ModalKind, Picker};
use crate::app::state::State;
use crate::app::text::{file_name, human_bytes, utc_time};
use crate::backup::{Archive, ArchiveKind, RestoreMode};
use crate::journal::{Event, RestoreKind};

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

pub(in crate::app) fn request_restore(state: &mut State, fx: &mut Out) {
    if let Some(why) = refusal(state) {
        state.flash = Some(why);
        return;
    }
    let list = candidates(state);
    let Some(first) = list.first() else {
        let dir = state
            .plan
            .backup
            .as_ref()
            .map(|b| b.dir.display().to_string());
        state.flash = Some(format!(
            "No backup of this database in {}: take one with B.",
            dir.unwrap_or_default()
        ));
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
    if sqlite {
        m.body.push((
            "How".into(),
            "the database file is swapped for the backup; the current file is kept beside it"
                .into(),
        ));
        m.body.push((
            "WARNING".into(),
            "STOP THE APP FIRST: nothing may write to the database while its file is swapped"
                .into(),
        ));
    } else {
        m.body.push((
            "How".into(),
            "pg_restore --clean --if-exists --single-transaction: what the backup holds is dropped and \
             recreated in one transaction (all or nothing); tables created since the backup stay"
                .into(),
        ));
    }
    m.body.push((
        "Choose".into(),
        "Up/Down picks the backup (verified ones first)".into(),
    ));
    m.picker = Some(Picker {
        items: list.iter().map(picker_item).collect(),
        selected: 0,
        option: (!sqlite).then(|| ("into a new database instead (Tab)".to_string(), false)),
    });
    state.ask(m, fx);
}

/// The restore was confirmed: the chosen backup, in place or into a new database.
pub(in crate::app) fn start_restore(
    state: &mut State,
    list: Vec<Archive>,
    picker: Option<Picker>,
    fx: &mut Out,
) {
    let (selected, new_db) = picker.map_or((0, false), |p| {
        (p.selected, p.option.is_some_and(|(_, on)| on))
    });
    let Some(archive) = list.into_iter().nth(selected) else {
        return;
    };
    let mode = if new_db {
        RestoreMode::NewDatabase(new_database_name(&archive))
    } else {
        RestoreMode::InPlace
    };
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
    }));
    state.note(format!(
        "restore of {} started ({mode_text})",
        file_name(&archive)
    ));
    state.op = Some(Operation::Backup(BackupWork::Restoring));
    state.backup.progress = None;
    fx.push(Effect::RestoreBackup { archive, mode });
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
    state.ask(m, fx);
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
