//! `update()` tests for resuming a run that hung up: the stage it names next is the one the backup folder and the
//! database say, read again by the new console (never the journal's word alone).
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, Signal};
use deckhand::journal::Event;
use deckhand::migrate::ledger::LedgerKey;
use deckhand::migrate::status::{Entry, State as MState, Status};
use deckhand::migrate::{Format, Key, Migration};
use deckhand::runner::backup::BackupEvent;
use deckhand::runner::migrate::Snapshot;
use deckhand::runner::{PreflightResult, RunnerEvent};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[checklist]]
item = "Staging verified"

[database]
url = "postgres://app@db.internal:5432/shop"
migrations = "migrations"
format = "sqlx"

[backup]
dir = "/var/backups/shop"

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]
"#;

const FILE: &str = "/var/backups/shop/shop.dump";

fn snapshot(applied: bool) -> Action {
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
    let state = if applied {
        MState::Applied
    } else {
        MState::Pending
    };
    Action::Runner(RunnerEvent::Migrations(Ok(Snapshot {
        format: Format::Sqlx,
        migrations: vec![m],
        status: Status {
            format: "sqlx".into(),
            target: "db.internal:5432/shop".into(),
            entries: vec![Entry {
                name: "2_add_index".into(),
                state,
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
    })))
}

fn listed(with_backup: bool) -> Action {
    let list = if with_backup {
        vec![archive(FILE, "shop", true)]
    } else {
        Vec::new()
    };
    Action::Runner(RunnerEvent::Backup(Box::new(BackupEvent::Listed(list))))
}

/// The first console: checklist ticked, a verified backup, optionally the migration applied; then a hang-up.
/// Returns what it journaled.
fn first_run(apply: bool) -> Vec<Event> {
    let mut h = Harness::new(plan_from(PLAN));
    let mut fx = deckhand::app::start(&mut h.state);
    fx.extend(h.act(snapshot(false)));
    fx.extend(h.act(listed(false)));
    h.tick_all();
    fx.extend(h.key(KeyCode::Char('B')));
    fx.extend(h.act(Action::Runner(RunnerEvent::Backup(Box::new(
        BackupEvent::Taken(archive(FILE, "shop", false)),
    )))));
    fx.extend(h.act(verified_event(&archive(FILE, "shop", true), true)));
    if apply {
        h.dried();
        fx.extend(h.char('a'));
        h.settle();
        fx.extend(h.char('y'));
        fx.extend(h.act(Action::Runner(RunnerEvent::MigrationsApplied(
            deckhand::runner::migrate::ApplyOutcome {
                applied: vec![("2_add_index".into(), Duration::from_millis(40))],
                error: None,
                failure: None,
                stopped: false,
            },
        ))));
        assert_eq!(h.state.release.applied, vec!["2_add_index".to_string()]);
    }
    fx.extend(h.act(Action::Signal(Signal::Hangup)));
    assert!(fx.contains(&Effect::Quit));
    let mut events = journal_events(&fx);
    // The console journals the ticks it sees as keys; this test ticked them directly.
    events.insert(
        0,
        Event::ChecklistTicked {
            index: 0,
            item: "Staging verified".into(),
            checked: true,
        },
    );
    events
}

/// A new console resumes `events`; the backup folder and the database answer as given. Returns every journal
/// entry it made and the flash line.
fn resume(events: &[Event], backup_there: bool, db_applied: bool) -> (Vec<Event>, String) {
    let mut h = Harness::new(plan_from(PLAN));
    let mut fx = deckhand::app::restore(&mut h.state, "run-1", events);
    fx.extend(deckhand::app::start(&mut h.state));
    for check in ["migrations", "database", "terminal"] {
        fx.extend(
            h.act(Action::Runner(RunnerEvent::Preflight(PreflightResult {
                check: check.into(),
                ok: true,
                detail: String::new(),
                policy: false,
            }))),
        );
    }
    fx.extend(h.act(listed(backup_there)));
    fx.extend(h.act(snapshot(db_applied)));
    (
        journal_events(&fx),
        h.state.flash.clone().unwrap_or_default(),
    )
}

fn resumed_next(events: &[Event]) -> String {
    let resumed: Vec<&Event> = events
        .iter()
        .filter(|e| matches!(e, Event::Resumed { .. }))
        .collect();
    match resumed.as_slice() {
        [Event::Resumed { next, .. }] => next.to_string(),
        other => panic!("one resumed entry wanted: {other:?}"),
    }
}

#[test]
fn after_a_backup_the_next_stage_is_migrate() {
    let (events, _) = resume(&first_run(false), true, false);
    assert_eq!(resumed_next(&events), "migrate");
}

#[test]
fn after_a_backup_and_the_migrations_the_next_stage_is_deploy() {
    let (events, flash) = resume(&first_run(true), true, true);
    assert_eq!(resumed_next(&events), "deploy");
    assert!(flash.contains("next: deploy"), "{flash}");
}

#[test]
fn a_backup_gone_from_the_folder_is_the_next_stage_again() {
    // The journal says it was verified; the folder no longer has it.
    let (events, _) = resume(&first_run(true), false, true);
    assert_eq!(resumed_next(&events), "backup");
}

#[test]
fn migrations_the_database_says_are_pending_are_next_whatever_the_journal_says() {
    let (events, _) = resume(&first_run(true), true, false);
    assert_eq!(resumed_next(&events), "migrate");
}

#[test]
fn a_hang_up_before_the_folder_and_the_database_answered_still_journals_the_resume_first() {
    let mut h = Harness::new(plan_from(PLAN));
    let mut fx = deckhand::app::restore(&mut h.state, "run-1", &first_run(true));
    fx.extend(deckhand::app::start(&mut h.state));
    assert!(journal_events(&fx).is_empty(), "nothing is read yet");
    let events = journal_events(&h.act(Action::Signal(Signal::Hangup)));
    let at = |f: fn(&Event) -> bool| events.iter().position(f);
    let resumed = at(|e| matches!(e, Event::Resumed { .. })).expect("the resume is journaled");
    let quit = at(|e| matches!(e, Event::Quit { .. })).expect("the quit");
    assert!(resumed < quit, "{events:?}");
}
