//! `update()` tests for resolving in the console: `m` baselines a pending migration; J/K (Shift+Up/Down) select a
//! range, and one confirmation (production: the environment name, once) resolves all of it, with a journal entry
//! for every migration named; an invalid index blocks the apply and `X` drops it, confirmed and journaled.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::ledger::snapshot;
use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use deckhand::app::{Action, DbWork, Effect, ModalKind, Operation};
use deckhand::journal::Event;
use deckhand::migrate::index::InvalidIndex;
use deckhand::migrate::status::State as MState;
use deckhand::runner::RunnerEvent;
use deckhand::runner::migrate::{Resolve, ResolveRequest, Snapshot};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "production"

[database]
url = "postgres://app:hunter2@db.internal:5432/shop"
migrations = "prisma/migrations"
"#;

fn loaded_with(snap: Snapshot, plan: &str) -> Harness {
    let mut h = Harness::new(plan_from(plan));
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snap))));
    h.char('2');
    h
}

fn loaded(states: &[(&str, MState)]) -> Harness {
    loaded_with(snapshot(states), PLAN)
}

fn shift(h: &mut Harness, code: KeyCode) -> Vec<Effect> {
    h.wait(KEY_GAP);
    h.act(Action::Key(KeyEvent::new(code, KeyModifiers::SHIFT).into()))
}

fn body(h: &Harness) -> Vec<String> {
    let m = h.state.modal.as_ref().expect("a prompt");
    m.body.iter().map(|(k, v)| format!("{k}: {v}")).collect()
}

fn requests(fx: &[Effect]) -> Vec<ResolveRequest> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::ResolveMigration(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn index(name: &str) -> InvalidIndex {
    InvalidIndex {
        schema: "public".into(),
        name: name.into(),
        table: "users".into(),
        partitioned: false,
    }
}

#[test]
fn m_on_a_pending_migration_offers_to_baseline_it() {
    let mut h = loaded(&[("m1", MState::Pending), ("m2", MState::Pending)]);
    h.char('m');
    let modal = h
        .state
        .modal
        .as_ref()
        .expect("mark applied asks, not 'nothing to mark applied'");
    assert_eq!(modal.title, "Resolve m1: mark applied");
    let body = body(&h);
    assert!(
        body.iter().any(|l| l.contains("its SQL is NOT run")),
        "{body:?}"
    );
    assert!(
        body.contains(&"Migration: m1 (now pending)".to_string()),
        "{body:?}"
    );
    h.settle();
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    let reqs = requests(&fx);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].action, Resolve::MarkApplied);
    assert_eq!(reqs[0].items.len(), 1);
    assert_eq!(reqs[0].items[0].name, "m1");
    assert_eq!(reqs[0].items[0].seen, MState::Pending);
    assert_eq!(h.state.op, Some(Operation::Db(DbWork::Resolving)));
    // An applied migration has nothing to mark applied.
    h.act(Action::Runner(RunnerEvent::Resolved(Ok(vec![
        "m1: marked applied".into(),
    ]))));
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snapshot(&[
        ("m1", MState::Applied),
        ("m2", MState::Pending),
    ])))));
    h.state.db.selected = 0;
    h.char('m');
    assert!(h.state.modal.is_none());
    assert_eq!(
        h.state.flash.as_deref(),
        Some("m1 is applied: nothing to mark applied.")
    );
}

#[test]
fn a_range_resolves_with_one_typed_confirmation_and_journals_every_name() {
    let states: Vec<(String, MState)> = std::iter::once(("new".to_string(), MState::Pending))
        .chain((1..=15).map(|i| (format!("old{i:02}"), MState::MissingLocally)))
        .collect();
    let refs: Vec<(&str, MState)> = states.iter().map(|(n, s)| (n.as_str(), *s)).collect();
    let mut h = loaded(&refs);
    // The cursor starts on the first entry needing attention; go to the first missing row.
    h.state.db.selected = 0;
    h.char('j');
    assert_eq!(h.state.db.selected, 1);
    // J extends the range down; Shift+Down too.
    for _ in 0..7 {
        h.char('J');
    }
    for _ in 0..20 {
        shift(&mut h, KeyCode::Down);
    }
    assert_eq!(h.state.db.selection(), 1..=15);
    let (screen, _) = h.screen();
    assert!(screen.contains("15 selected"), "{screen}");
    let fx = h.char('b');
    assert!(requests(&fx).is_empty(), "asks first");
    let modal = h.state.modal.as_ref().expect("one prompt for the range");
    assert_eq!(modal.title, "Resolve 15 migrations: mark rolled back");
    let body = body(&h);
    for i in 1..=15 {
        assert!(
            body.contains(&format!("Migration: old{i:02} (now MISSING LOCALLY)")),
            "every name listed: {body:?}"
        );
    }
    assert!(
        body.iter().any(|l| l.contains("one transaction")),
        "{body:?}"
    );
    assert!(body.iter().any(|l| l.contains("no SQL is run")), "{body:?}");
    assert!(!body.iter().any(|l| l.contains("hunter2")));
    h.settle();
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    let reqs = requests(&fx);
    assert_eq!(reqs.len(), 1, "one confirmation, one request");
    let names: Vec<&str> = reqs[0].items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names.len(), 15);
    assert_eq!(names[0], "old01");
    assert!(
        reqs[0]
            .items
            .iter()
            .all(|i| i.seen == MState::MissingLocally)
    );
    assert_eq!(
        h.state.db.anchor, None,
        "the range ends when it is resolved"
    );
    let lines: Vec<String> = names
        .iter()
        .map(|n| format!("{n}: forgotten by the ledger (1 row(s))"))
        .collect();
    let fx = h.act(Action::Runner(RunnerEvent::Resolved(Ok(lines))));
    let resolved: Vec<(String, String)> = journal_events(&fx)
        .into_iter()
        .filter_map(|e| match e {
            Event::MigrationResolved {
                action,
                name,
                result,
            } => {
                assert_eq!(action, "mark rolled back");
                Some((name, result))
            }
            _ => None,
        })
        .collect();
    assert_eq!(resolved.len(), 15, "journaled with every name");
    assert_eq!(
        resolved[14],
        (
            "old15".into(),
            "old15: forgotten by the ledger (1 row(s))".into()
        )
    );
    assert_eq!(h.state.op, None);
    assert!(h.state.db.loading, "the runner reads the status again");
}

#[test]
fn a_range_with_an_entry_the_action_does_not_fit_is_refused_naming_it() {
    let mut h = loaded(&[
        ("m1", MState::Applied),
        ("m2", MState::Pending),
        ("m3", MState::Pending),
    ]);
    h.state.db.selected = 0;
    h.char('J');
    h.char('J');
    h.char('m');
    assert!(h.state.modal.is_none());
    let flash = h.state.flash.clone().unwrap_or_default();
    assert!(
        flash.contains("Cannot mark applied 1 of the 3 selected: m1 (applied)"),
        "{flash}"
    );
    // Esc ends the range; so does a plain move.
    h.key(KeyCode::Esc);
    assert_eq!(h.state.db.anchor, None);
    h.char('K');
    assert!(h.state.db.anchor.is_some());
    h.char('k');
    assert_eq!(h.state.db.anchor, None);
    // Two pending ones go together, on a staging plan with y.
    let mut h = loaded_with(
        snapshot(&[
            ("m1", MState::Applied),
            ("m2", MState::Pending),
            ("m3", MState::Pending),
        ]),
        &PLAN.replace("\"production\"", "\"staging\""),
    );
    h.state.db.selected = 2;
    shift(&mut h, KeyCode::Up);
    h.char('m');
    assert!(body(&h).iter().any(|l| l.contains("baselining")));
    h.settle();
    let reqs = requests(&h.char('y'));
    let names: Vec<&str> = reqs[0].items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["m2", "m3"]);
    // Nothing was done: every name is journaled with why.
    let fx = h.act(Action::Runner(RunnerEvent::Resolved(Err(
        "changed since you confirmed: m3 was pending, it is now applied; nothing was done".into(),
    ))));
    let failed = journal_events(&fx)
        .into_iter()
        .filter(|e| matches!(e, Event::MigrationResolved { result, .. } if result.starts_with("failed, nothing was done")))
        .count();
    assert_eq!(failed, 2);
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or_default()
            .contains("nothing was done")
    );
}

#[test]
fn an_invalid_index_blocks_the_apply_and_x_drops_it_confirmed_and_journaled() {
    let mut snap = snapshot(&[("m1", MState::Applied), ("m2", MState::Pending)]);
    snap.status.invalid_indexes = vec![index("users_email_key"), index("users_name_idx")];
    let mut h = loaded_with(snap, PLAN);
    h.dried();
    let fx = h.char('a');
    assert!(!fx.iter().any(|e| matches!(e, Effect::ApplyMigrations(_))));
    assert!(h.state.modal.is_none(), "refused, not asked");
    let flash = h.state.flash.clone().unwrap_or_default();
    assert!(
        flash.contains("index public.users_email_key on users is INVALID")
            && flash.contains("X drops"),
        "{flash}"
    );
    let fx = h.char('X');
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::DropInvalidIndex(_))),
        "asks first"
    );
    let modal = h.state.modal.as_ref().expect("drop asks");
    assert!(modal.danger);
    assert_eq!(modal.kind, ModalKind::DropIndex(index("users_email_key")));
    let body = body(&h);
    assert!(
        body.contains(
            &"Runs: DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"users_email_key\"".to_string()
        ),
        "{body:?}"
    );
    assert!(
        body.iter().any(|l| l.contains("1 of 2 invalid indexes")),
        "{body:?}"
    );
    assert!(
        body.iter()
            .any(|l| l.starts_with("Database: db.internal:5432/shop")),
        "{body:?}"
    );
    h.settle();
    // A `y` does not confirm in production: the environment name does.
    h.char('y');
    h.key(KeyCode::Backspace);
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    assert!(fx.contains(&Effect::DropInvalidIndex(index("users_email_key"))));
    assert_eq!(h.state.op, Some(Operation::Db(DbWork::DroppingIndex)));
    // Nothing else starts meanwhile.
    h.char('a');
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or_default()
            .contains("dropping an invalid index")
    );
    let fx = h.act(Action::Runner(RunnerEvent::IndexDropped {
        index: index("users_email_key"),
        result: Ok(()),
    }));
    assert!(journal_events(&fx).contains(&Event::IndexDropped {
        index: "public.users_email_key".into(),
        table: "users".into(),
        statement: "DROP INDEX CONCURRENTLY IF EXISTS \"public\".\"users_email_key\"".into(),
        result: "dropped".into(),
    }));
    assert_eq!(h.state.op, None);
    assert!(h.state.db.loading, "the status is read again");
    // A failed drop is journaled as failed.
    h.act(Action::Runner(RunnerEvent::Migrations(Ok({
        let mut s = snapshot(&[("m1", MState::Applied), ("m2", MState::Pending)]);
        s.status.invalid_indexes = vec![index("users_name_idx")];
        s
    }))));
    h.char('X');
    h.settle();
    h.type_text("production");
    h.key(KeyCode::Enter);
    let fx = h.act(Action::Runner(RunnerEvent::IndexDropped {
        index: index("users_name_idx"),
        result: Err(
            "dropping public.users_name_idx: canceling statement due to lock timeout".into(),
        ),
    }));
    assert!(journal_events(&fx).iter().any(
        |e| matches!(e, Event::IndexDropped { result, .. } if result.starts_with("failed: dropping public.users_name_idx"))
    ));
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or_default()
            .starts_with("FAILED to drop")
    );
}

#[test]
fn x_says_why_when_there_is_nothing_it_can_drop() {
    let mut h = loaded(&[("m1", MState::Applied)]);
    h.char('X');
    assert!(h.state.modal.is_none());
    assert_eq!(h.state.flash.as_deref(), Some("No invalid index to drop."));
    let mut snap = snapshot(&[("m1", MState::Applied)]);
    let mut parted = index("events_at_idx");
    parted.partitioned = true;
    snap.status.invalid_indexes = vec![parted];
    let mut h = loaded_with(snap, PLAN);
    h.char('X');
    assert!(h.state.modal.is_none());
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or_default()
            .contains("cannot drop it CONCURRENTLY"),
        "{:?}",
        h.state.flash
    );
}
