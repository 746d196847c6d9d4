//! `update()` tests for backups: taking one and following its progress and verification, the gate in front of
//! migrations and `needs_backup` phases (and its typed override), restore with its picker and typed database
//! name, rehearsal on a restored copy, and cancelling or quitting while a backup operation runs.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, BackupWork, Effect, ModalKind, QuitState, Row, Signal};
use deckhand::backup::{
    Progress, RehearsalReport, RehearsalStep, RestoreMode, RestoreReport, Stage,
};
use deckhand::journal::Event;
use deckhand::migrate::ledger::LedgerKey;
use deckhand::migrate::status::{Entry, State as MState, Status};
use deckhand::migrate::{Format, Key, Migration};
use deckhand::runner::RunnerEvent;
use deckhand::runner::backup::{BackupEvent, BackupOp};
use deckhand::runner::migrate::Snapshot;

/// `U`, and the runner's answer to the counters it reads first (here: they could not be read).
fn restore_prompt(h: &mut Harness) -> Vec<Effect> {
    let mut fx = h.key(KeyCode::Char('U'));
    fx.extend(h.act(counters_read(
        deckhand::runner::CountersFor::Restore,
        Err("connection refused".into()),
    )));
    fx
}

const PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[database]
url = "postgres://app:hunter2@db.internal:5432/shop"
migrations = "migrations"

[backup]
dir = "/var/backups/shop"
keep = 3

[[phase]]
name = "Seed search index"
needs_backup = true
steps = [{ run = "./reindex.sh" }]

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]
"#;

fn pending_snapshot() -> Snapshot {
    let m = Migration {
        format: Format::Sqlx,
        key: Key::Sqlx {
            version: 2,
            description: "add index".into(),
        },
        name: "2_add_index".into(),
        path: PathBuf::from("migrations/2_add_index.sql"),
        sql: "CREATE INDEX i ON orders (id);\n".into(),
        statements: Vec::new(),
        down: None,
        no_transaction: None,
    };
    Snapshot {
        format: Format::Sqlx,
        migrations: vec![m],
        status: Status {
            format: "sqlx".into(),
            target: "db.internal:5432/shop".into(),
            entries: vec![Entry {
                name: "2_add_index".into(),
                state: MState::Pending,
                local: Some(0),
                key: LedgerKey::Version(2),
                applied_at: None,
                detail: None,
            }],
            invalid_indexes: Vec::new(),
        },
        reports: vec![None],
        downs: Vec::new(),
        notes: Vec::new(),
    }
}

fn harness() -> Harness {
    let mut h = Harness::new(plan_from(PLAN));
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(
        pending_snapshot(),
    ))));
    h
}

/// A difference between an archive's definitions and the live database, as verify words it.
const CHANGE: &str =
    "column public.orders.added (integer) of the live database is not in the archive";

fn backup_ev(ev: BackupEvent) -> Action {
    Action::Runner(RunnerEvent::Backup(Box::new(ev)))
}

fn body(h: &Harness) -> Vec<String> {
    h.state
        .modal
        .as_ref()
        .expect("a prompt is open")
        .body
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect()
}

fn modal_kind(h: &Harness) -> Option<&ModalKind> {
    h.state.modal.as_ref().map(|m| &m.kind)
}

/// The archive the demo database's backups are recorded as (target as `database_line` shows it).
fn shop_archive(path: &str, verified: bool, created: u64) -> deckhand::backup::Archive {
    let mut a = archive(path, "shop", verified);
    a.database = deckhand::app::database_target(&h_state_plan());
    a.environment = "staging".into();
    a.created_unix = created;
    a
}

fn h_state_plan() -> deckhand::app::State {
    deckhand::app::State::new(plan_from(PLAN), std::time::Instant::now(), 80, 24)
}

#[test]
fn the_gate_refuses_apply_without_a_verified_backup_and_a_typed_reason_opens_it() {
    let mut h = harness();
    h.dried();
    let fx = h.char('a');
    assert!(!fx.iter().any(|e| matches!(e, Effect::ApplyMigrations(_))));
    assert!(matches!(modal_kind(&h), Some(ModalKind::BackupOverride(_))));
    let b = body(&h);
    assert!(
        b.iter()
            .any(|l| l.contains("no backup was taken in this run")),
        "{b:?}"
    );
    h.settle();
    // Enter with no reason is not an answer.
    h.key(KeyCode::Enter);
    assert!(matches!(modal_kind(&h), Some(ModalKind::BackupOverride(_))));
    h.type_text("hotfix, backup taken by the DBA at 14:00");
    let fx = h.key(KeyCode::Enter);
    assert!(journal_events(&fx).contains(&Event::BackupGateOverridden {
        what: "Applying migrations".into(),
        reason: "hotfix, backup taken by the DBA at 14:00".into(),
    }));
    // On to the apply confirmation, which names the override as the backup to fall back on.
    assert_eq!(modal_kind(&h), Some(&ModalKind::ApplyMigrations));
    let b = body(&h);
    assert!(
        b.contains(&"Backup: NONE verified in this run — overridden: hotfix, backup taken by the DBA at 14:00".to_string()),
        "{b:?}"
    );
    h.settle();
    let fx = h.char('y');
    assert!(fx.iter().any(|e| matches!(e, Effect::ApplyMigrations(_))));
}

#[test]
fn a_backup_that_failed_verification_keeps_the_gate_closed() {
    let mut h = harness();
    h.key(KeyCode::Char('B'));
    let a = shop_archive(
        "/var/backups/shop/shop-staging-shop-1.dump",
        false,
        1_795_269_785,
    );
    h.act(backup_ev(BackupEvent::Taken(a.clone())));
    assert_eq!(h.state.backup_work(), Some(BackupWork::Verifying));
    let fx = h.act(verified_event(&a, false));
    assert!(journal_events(&fx).iter().any(|e| matches!(e, Event::BackupVerified { ok: false, problems, .. } if problems[0].contains("end of file"))));
    assert_eq!(h.state.backup_work(), None);
    assert!(h.state.backup.verified.is_none());
    h.dried();
    h.char('a');
    assert!(matches!(modal_kind(&h), Some(ModalKind::BackupOverride(_))));
    let b = body(&h);
    assert!(
        b.iter()
            .any(|l| l.contains("FAILED verification") && l.contains("end of file")),
        "{b:?}"
    );
    let (row, problem) = deckhand::app::backup_row(&h.state);
    assert!(problem && row.contains("FAILED verification"), "{row}");
}

#[test]
fn taking_a_backup_follows_progress_then_verification_then_retention() {
    let mut h = harness();
    // The backup row sits between the checklist and the phases; Enter on it takes a backup.
    assert_eq!(h.state.rows()[0], Row::Backup);
    h.state.selected = 0;
    let fx = h.key(KeyCode::Enter);
    assert!(fx.contains(&Effect::TakeBackup), "{fx:?}");
    assert!(journal_events(&fx).contains(&Event::BackupStarted {
        target: "db.internal:5432/shop".into(),
        dir: "/var/backups/shop".into(),
    }));
    assert_eq!(h.state.backup_work(), Some(BackupWork::Taking));
    // A second request while one runs is refused.
    assert!(h.key(KeyCode::Char('B')).is_empty());
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("Not now: backing up is under way")
    );
    // So is applying or running a phase.
    h.dried();
    assert!(h.char('a').is_empty());
    assert!(h.state.modal.is_none());

    let mut p = Progress::new(Stage::Dumping, Duration::from_secs(10));
    p.bytes = 400_000_000;
    p.permille = Some(250);
    p.detail = Some("public.orders".into());
    h.act(backup_ev(BackupEvent::Progress(p)));
    let (row, _) = deckhand::app::backup_row(&h.state);
    assert_eq!(
        row,
        "dumping 25% · 400.0 MB · 40.0 MB/s · 0:10 · ETA 0:30 · public.orders"
    );

    let a = shop_archive(
        "/var/backups/shop/shop-staging-shop-2.dump",
        false,
        1_795_269_785,
    );
    let fx = h.act(backup_ev(BackupEvent::Taken(a.clone())));
    assert!(journal_events(&fx).contains(&Event::BackupTaken {
        file: "/var/backups/shop/shop-staging-shop-2.dump".into(),
        size: 12_345_678,
        sha256: "ab".repeat(32),
        duration_ms: 1_500,
        counters: None,
    }));
    let mut verified = a.clone();
    verified.verified = archive("x", "shop", true).verified;
    let old = PathBuf::from("/var/backups/shop/old.dump");
    let fx = h.act(backup_ev(BackupEvent::Verified {
        archive: verified.clone(),
        verification: deckhand::backup::Verification {
            ok: true,
            tables: vec!["public.orders".into(), "public.users".into()],
            missing: Vec::new(),
            compared_with_live: true,
            proven: true,
            problems: Vec::new(),
            // A migration applied between the dump and its verification: a note, the gate still opens.
            schema_changes: vec![CHANGE.into()],
            took: Duration::from_millis(900),
        },
        deleted: Some(Ok(vec![old])),
    }));
    assert!(fx.contains(&Effect::ListBackups));
    assert!(journal_events(&fx).contains(&Event::BackupsDeleted {
        files: vec!["/var/backups/shop/old.dump".into()]
    }));
    assert!(journal_events(&fx).iter().any(|e| matches!(
        e,
        Event::BackupVerified {
            ok: true,
            tables: 2,
            schema_changes,
            ..
        } if *schema_changes == [CHANGE]
    )));
    let noted = (0..h.state.logs.len())
        .filter_map(|i| h.state.logs.get(i))
        .any(|l| l.text == format!("the schema changed since the backup: {CHANGE}"));
    assert!(noted, "the logs pane tells the schema change");
    let (row, problem) = deckhand::app::backup_row(&h.state);
    assert!(!problem);
    assert_eq!(
        row,
        "verified 12.3 MB at 14:03 UTC (shop-staging-shop-2.dump)"
    );
    // Now the gate is open: `a` goes straight to the confirmation, which names the backup.
    h.dried();
    h.char('a');
    assert_eq!(modal_kind(&h), Some(&ModalKind::ApplyMigrations));
    let b = body(&h);
    assert!(
        b.iter().any(|l| l.starts_with("Backup: verified shop-staging-shop-2.dump (12.3 MB, taken 14:03 UTC, sha256 abababababab…)")),
        "{b:?}"
    );
}

#[test]
fn needs_backup_gates_a_phase_that_is_not_destructive_and_only_that() {
    let mut h = harness();
    // The migrations are not this test's subject: their stage is passed over.
    h.state
        .release
        .overrides
        .push((deckhand::app::Stage::Migrate, "not under test".into()));
    h.select_phase(0);
    let fx = h.key(KeyCode::Enter);
    assert!(starts(&fx).is_empty());
    assert!(matches!(modal_kind(&h), Some(ModalKind::BackupOverride(_))));
    h.settle();
    h.type_text("index only, no data change");
    let fx = h.key(KeyCode::Enter);
    // Not destructive: once the gate is passed it starts without a confirmation.
    assert_eq!(starts(&fx).len(), 1, "{fx:?}");
    assert!(h.state.modal.is_none());
}

#[test]
fn a_destructive_phase_without_needs_backup_is_not_backup_gated() {
    let mut h = harness();
    h.select_phase(1);
    h.key(KeyCode::Enter);
    // The stage order still wants the backup stage done before the deploy: a typed reason, not the backup gate.
    assert!(matches!(
        modal_kind(&h),
        Some(ModalKind::StageOverride(_, deckhand::app::Stage::Backup))
    ));
    h.settle();
    h.key(KeyCode::Esc);
    assert!(h.state.modal.is_none());
    for stage in [deckhand::app::Stage::Backup, deckhand::app::Stage::Migrate] {
        h.state
            .release
            .overrides
            .push((stage, "not under test".into()));
    }
    h.key(KeyCode::Enter);
    assert!(matches!(modal_kind(&h), Some(ModalKind::RunPhase(1))));
    let b = body(&h);
    assert!(
        b.contains(&"Backup: NONE verified in this run".to_string()),
        "{b:?}"
    );
}

#[test]
fn restore_picks_the_newest_verified_backup_and_needs_the_database_name_typed() {
    let mut h = harness();
    let newest_unverified = shop_archive("/b/3.dump", false, 1_795_300_000);
    let verified = shop_archive("/b/2.dump", true, 1_795_269_785);
    let older = shop_archive("/b/1.dump", true, 1_795_200_000);
    let other_db = {
        let mut a = shop_archive("/b/other.dump", true, 1_795_300_000);
        a.database = "db.internal:5432/billing".into();
        a
    };
    h.act(backup_ev(BackupEvent::Listed(vec![
        newest_unverified.clone(),
        other_db,
        verified.clone(),
        older.clone(),
    ])));
    restore_prompt(&mut h);
    let m = h.state.modal.as_ref().expect("restore prompt");
    let ModalKind::RestoreBackup(list) = &m.kind else {
        panic!("{:?}", m.kind)
    };
    // Another database's backup is not offered; verified ones come first, newest first.
    assert_eq!(
        list,
        &vec![verified.clone(), older.clone(), newest_unverified.clone()]
    );
    let picker = m.picker.as_ref().unwrap();
    assert_eq!(picker.selected, 0);
    assert!(
        picker.items[2].contains("NOT VERIFIED"),
        "{:?}",
        picker.items
    );
    assert!(m.danger);
    h.settle();
    h.key(KeyCode::Down);
    h.type_text("shop");
    let fx = h.key(KeyCode::Enter);
    assert!(
        fx.contains(&Effect::RestoreBackup {
            archive: older.clone(),
            mode: RestoreMode::InPlace
        }),
        "{fx:?}"
    );
    assert!(journal_events(&fx).contains(&Event::RestoreStarted {
        file: "/b/1.dump".into(),
        target: "db.internal:5432/shop".into(),
        mode: deckhand::journal::RestoreKind::InPlace,
        new_database: None,
        loss: Some(
            "every write since the backup (2026-11-20 18:40:00 UTC, 19 h 26 min ago); how many is UNKNOWN: \
             the write counters could not be read: connection refused"
                .into()
        ),
    }));
    assert_eq!(h.state.backup_work(), Some(BackupWork::Restoring));
    let report = RestoreReport {
        target: "db.internal:5432/shop".into(),
        tables: 2,
        missing: vec![],
        extra: vec!["public.audit".into()],
        dropped: Vec::new(),
        kept: None,
        unchecked: None,
        took: Duration::from_secs(3),
    };
    let fx = h.act(backup_ev(BackupEvent::Restored {
        archive: older,
        report,
    }));
    assert!(
        fx.contains(&Effect::LoadMigrations),
        "the ledger is read again"
    );
    assert!(journal_events(&fx).iter().any(|e| matches!(e, Event::RestoreFinished { tables: 2, extra, .. } if extra == &vec!["public.audit".to_string()])));
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("not in the backup (left as they are): public.audit")
    );
}

#[test]
fn restore_into_a_new_database_and_a_wrong_name_declines() {
    let mut h = harness();
    let verified = shop_archive("/b/2.dump", true, 1_795_269_785);
    h.act(backup_ev(BackupEvent::Listed(vec![verified.clone()])));
    restore_prompt(&mut h);
    h.settle();
    h.type_text("shpo");
    let fx = h.key(KeyCode::Enter);
    assert!(!fx.iter().any(|e| matches!(e, Effect::RestoreBackup { .. })));
    assert!(h.state.modal.is_none());
    restore_prompt(&mut h);
    h.settle();
    h.key(KeyCode::Tab);
    h.type_text("shop");
    let fx = h.key(KeyCode::Enter);
    assert!(
        fx.contains(&Effect::RestoreBackup {
            archive: verified,
            mode: RestoreMode::NewDatabase("shop_restored_202611211403".into()),
        }),
        "{fx:?}"
    );
}

#[test]
fn restore_without_backups_says_where_it_looked() {
    let mut h = harness();
    assert!(h.key(KeyCode::Char('U')).is_empty());
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("No backup of this database in /var/backups/shop")
    );
}

#[test]
fn rehearsal_restores_this_runs_verified_backup_and_reports_per_migration() {
    let mut h = harness();
    assert!(h.key(KeyCode::Char('E')).is_empty());
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("take one first with B")
    );
    let a = shop_archive("/b/2.dump", true, 1_795_269_785);
    h.act(verified_event(&a, true));
    h.key(KeyCode::Char('E'));
    assert_eq!(
        modal_kind(&h),
        Some(&ModalKind::RehearseBackup(Box::new(a.clone())))
    );
    assert!(body(&h).iter().any(|l| l.contains("needs CREATEDB")));
    h.settle();
    let fx = h.char('y');
    assert!(fx.contains(&Effect::RehearseBackup(a.clone())));
    assert_eq!(h.state.backup_work(), Some(BackupWork::Rehearsing));
    let report = RehearsalReport {
        scratch: "deckhand_rehearsal_0a1b2c3d".into(),
        restore_took: Duration::from_secs(2),
        steps: vec![RehearsalStep::Failed {
            name: "2_add_index".into(),
            took: Duration::from_millis(300),
            error: "could not create unique index (23505)".into(),
        }],
        way_back: deckhand::backup::WayBack::NotTried,
        dropped: true,
        cleanup_error: None,
        took: Duration::from_secs(3),
    };
    let fx = h.act(backup_ev(BackupEvent::Rehearsed { archive: a, report }));
    assert!(journal_events(&fx).iter().any(|e| matches!(e, Event::Rehearsal { results, dropped: true, .. } if results[0].contains("FAILED") && results[0].contains("23505"))));
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("2_add_index: FAILED")
    );
}

#[test]
fn cancel_and_quit_while_a_backup_runs_stop_it_first() {
    let mut h = harness();
    h.key(KeyCode::Char('B'));
    h.char('c');
    assert_eq!(modal_kind(&h), Some(&ModalKind::CancelBackup));
    h.settle();
    assert!(h.char('y').contains(&Effect::CancelBackup));
    // The quit prompt stops the backup, and deckhand quits once the runner says it ended.
    h.char('q');
    assert_eq!(modal_kind(&h), Some(&ModalKind::Quit));
    h.settle();
    let fx = h.char('y');
    assert!(fx.contains(&Effect::CancelBackup));
    assert!(!fx.contains(&Effect::Quit));
    assert_eq!(h.state.quit, QuitState::AfterStep);
    let fx = h.act(backup_ev(BackupEvent::Failed {
        op: BackupOp::Take,
        error: "cancelled".into(),
        cancelled: true,
    }));
    assert!(fx.contains(&Effect::Quit));
    assert!(journal_events(&fx).contains(&Event::BackupFailed {
        what: "backup".into(),
        error: "cancelled".into()
    }));
    assert_eq!(deckhand::app::release::outcome(&h.state).exit_code(), 1);
}

#[test]
fn a_signal_during_a_restore_stops_it_and_quits_after() {
    let mut h = harness();
    h.act(backup_ev(BackupEvent::Listed(vec![shop_archive(
        "/b/2.dump",
        true,
        1,
    )])));
    restore_prompt(&mut h);
    h.settle();
    h.type_text("shop");
    h.key(KeyCode::Enter);
    let fx = h.act(Action::Signal(Signal::Terminate));
    assert!(fx.contains(&Effect::CancelBackup));
    assert!(!fx.contains(&Effect::Quit));
    let fx = h.act(backup_ev(BackupEvent::Failed {
        op: BackupOp::Restore,
        error: "cancelled".into(),
        cancelled: true,
    }));
    assert!(fx.contains(&Effect::Quit));
}

#[test]
fn changing_the_choice_after_typing_the_name_asks_for_it_again() {
    let mut h = harness();
    let newest = shop_archive("/b/2.dump", true, 1_795_269_785);
    let older = shop_archive("/b/1.dump", true, 1_795_200_000);
    h.act(backup_ev(BackupEvent::Listed(vec![newest, older])));
    restore_prompt(&mut h);
    h.settle();
    h.type_text("shop");
    // Typed for the first backup, in place; then the choice moves (Tab: into a new database).
    h.key(KeyCode::Tab);
    let m = h.state.modal.as_ref().unwrap();
    assert_eq!(m.input, "");
    assert!(
        m.note
            .as_deref()
            .unwrap_or("")
            .contains("type the answer again")
    );
    let choice = deckhand::app::restore_choice(
        match &m.kind {
            ModalKind::RestoreBackup(l) => l,
            other => panic!("{other:?}"),
        },
        m.picker.as_ref().unwrap(),
    );
    assert!(
        choice.contains("into the NEW database shop_restored_202611211403"),
        "{choice}"
    );
    let fx = h.key(KeyCode::Enter);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::RestoreBackup { .. })),
        "{fx:?}"
    );
}

#[test]
fn restore_offers_only_this_projects_environment() {
    let mut h = harness();
    let mut staging = shop_archive("/b/staging.dump", true, 1_795_300_000);
    staging.environment = "staging".into();
    let mut production = shop_archive("/b/prod.dump", true, 1_795_300_001);
    production.environment = "production".into();
    h.act(backup_ev(BackupEvent::Listed(vec![
        production,
        staging.clone(),
    ])));
    restore_prompt(&mut h);
    match modal_kind(&h) {
        Some(ModalKind::RestoreBackup(list)) => assert_eq!(list, &vec![staging]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_verified_backup_that_disappears_or_fails_a_later_check_closes_the_gate_again() {
    let mut h = harness();
    let a = shop_archive("/b/2.dump", true, 1_795_269_785);
    h.act(verified_event(&a, true));
    assert!(h.state.backup.verified.is_some());
    // Still listed and verified: nothing changes.
    h.act(backup_ev(BackupEvent::Listed(vec![a.clone()])));
    assert!(h.state.backup.verified.is_some());
    // Listed again, but no longer verified (a later check found it damaged).
    let mut damaged = a.clone();
    damaged.verified = None;
    h.act(backup_ev(BackupEvent::Listed(vec![damaged])));
    assert!(h.state.backup.verified.is_none());
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("no longer verified")
    );
    h.dried();
    h.char('a');
    assert!(matches!(modal_kind(&h), Some(ModalKind::BackupOverride(_))));
}

#[test]
fn a_passed_check_that_was_not_recorded_does_not_count_as_verified() {
    let mut h = harness();
    let unrecorded = shop_archive("/b/2.dump", false, 1_795_269_785);
    h.act(verified_event(&unrecorded, true));
    assert!(h.state.backup.verified.is_none());
    let (row, problem) = deckhand::app::backup_row(&h.state);
    assert!(problem, "{row}");
}
