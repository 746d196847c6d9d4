//! The way back in `update()` and on screen: the rollback's prompt lists the down SQL it will run (newest first,
//! each statement on one row, cut to stay readable, Dangerous statements marked; the prompt scrolls at 80x24);
//! a pending migration whose down file destroys data is flagged in the migrations pane; a rehearsal's way back
//! (apply → down → apply) is shown, noted and journaled, and a failing down file named.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, ModalKind};
use deckhand::backup::{RehearsalReport, RehearsalStep, WayBack};
use deckhand::journal::{Event, WayBackResult};
use deckhand::migrate::db::Backend;
use deckhand::migrate::ledger::LedgerKey;
use deckhand::migrate::revert::ShownDown;
use deckhand::migrate::status::{Entry, State as MState, Status};
use deckhand::migrate::{Format, Key, Migration};
use deckhand::runner::RunnerEvent;
use deckhand::runner::backup::BackupEvent;
use deckhand::runner::migrate::Snapshot;

const PLAN: &str = r#"
[project]
name = "shop"
environment = "production"

[database]
url = "postgres://app:hunter2@db.internal:5432/shop"
migrations = "m"
format = "sqlx"

[backup]
dir = "/var/backups/shop"

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]

[rollback]
steps = [{ run = "git checkout v1.41 && ./deploy.sh" }]
"#;

/// Three sqlx migrations with down files in `dir`: `1_users` (applied before this run), `2_orders` and
/// `3_audit`, whose down file holds many statements, one of them very long.
fn folder(dir: &Path) -> Vec<Migration> {
    let files: [(&str, &str, String); 3] = [
        (
            "1_users",
            "CREATE TABLE users (id bigint PRIMARY KEY);\n",
            "DROP TABLE users;\n".to_string(),
        ),
        (
            "2_orders",
            "CREATE TABLE orders (id bigint PRIMARY KEY, total int);\n",
            "DROP INDEX IF EXISTS orders_total_idx;\nDROP TABLE orders;\n".to_string(),
        ),
        ("3_audit", "ALTER TABLE users ADD COLUMN note text;\n", {
            let mut down = format!(
                "UPDATE users\n   SET note = NULL\n WHERE note IN ({});\n",
                (0..60)
                    .map(|i| format!("'reason number {i}'"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for i in 0..10 {
                down.push_str(&format!("COMMENT ON TABLE users IS 'step {i}';\n"));
            }
            down.push_str("ALTER TABLE users DROP COLUMN note;\n");
            down
        }),
    ];
    files
        .iter()
        .enumerate()
        .map(|(i, (name, up, down))| {
            let down_path = dir.join(format!("{name}.down.sql"));
            std::fs::write(&down_path, down).unwrap();
            let version = i as i64 + 1;
            Migration {
                format: Format::Sqlx,
                key: Key::Sqlx {
                    version,
                    description: name[2..].to_string(),
                },
                name: name.to_string(),
                path: PathBuf::from(format!("m/{name}.up.sql")),
                sql: up.to_string(),
                statements: deckhand::migrate::split::split(up),
                down: Some(down_path),
                no_transaction: None,
            }
        })
        .collect()
}

/// The snapshot the runner reads of `folder`: its down files read and linted by the runner's own code.
fn snapshot(dir: &Path, states: [MState; 3]) -> Snapshot {
    let migrations = folder(dir);
    let entries = migrations
        .iter()
        .zip(states)
        .enumerate()
        .map(|(i, (m, state))| Entry {
            name: m.name.clone(),
            state,
            local: Some(i),
            key: LedgerKey::Version(i as i64 + 1),
            applied_at: None,
            detail: None,
        })
        .collect();
    Snapshot {
        format: Format::Sqlx,
        downs: deckhand::runner::downs::read(&migrations, Backend::Postgres),
        migrations,
        status: Status {
            format: "sqlx".into(),
            target: "db.internal:5432/shop".into(),
            entries,
            invalid_indexes: Vec::new(),
        },
        reports: vec![None; 3],
        notes: Vec::new(),
    }
}

/// Draws the console at 80x24 after feeding the prompt's fit back, as the event loop does after each frame.
fn draw(h: &mut Harness) -> String {
    let area = ratatui::layout::Rect::new(0, 0, 80, 24);
    if let Some(fit) = deckhand::views::modal_fit(&h.state, area) {
        h.act(Action::ModalFit(fit));
    }
    h.screen().0
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

/// 2_orders and 3_audit applied in this run: `R` offers their down migrations.
fn applied_in_this_run(dir: &Path) -> Harness {
    let mut h = Harness::new(plan_from(PLAN));
    let snap = snapshot(dir, [MState::Applied; 3]);
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snap))));
    h.state.release.applied = vec!["2_orders".into(), "3_audit".into()];
    h
}

#[test]
fn the_rollback_prompt_lists_the_down_sql_it_will_run_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = applied_in_this_run(dir.path());
    h.char('R');
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::Rollback(_))
    ));
    let b = body(&h);
    let at = |prefix: &str| {
        b.iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {b:#?}"))
    };
    let audit = at("Down: 1/2 3_audit — 3_audit.down.sql, 12 statement(s)");
    let orders = at("Down: 2/2 2_orders — 2_orders.down.sql, 2 statement(s)");
    assert!(audit < orders, "newest first, as it runs: {b:#?}");
    // Each statement on one row, its whitespace folded, a long one cut.
    let update = &b[audit + 1];
    assert!(
        update.starts_with(":  1 UPDATE users SET note = NULL WHERE note IN ('reason number 0',"),
        "{b:#?}"
    );
    assert!(
        update.ends_with('…') && update.chars().count() < 170,
        "{update}"
    );
    // Past the first eight, only what destroys data is listed; the rest is counted.
    let drop_note =
        at(": 12 ALTER TABLE users DROP COLUMN note  ← DANGEROUS ban-drop-column users.note");
    assert_eq!(drop_note, audit + 9, "{b:#?}");
    assert_eq!(
        b[audit + 10],
        ": … and 3 more statement(s) in 3_audit.down.sql: read it in the migrations pane"
    );
    // The analyzer's Dangerous findings, on the statement that has them.
    assert_eq!(
        b[orders + 2],
        ": 2 DROP TABLE orders  ← DANGEROUS ban-drop-table orders",
        "{b:#?}"
    );
    assert!(b[orders + 1].starts_with(": 1 DROP INDEX IF EXISTS orders_total_idx"));
    assert!(b.iter().any(|l| l.starts_with("Data:")), "{b:#?}");
    // The prompt is taller than 80x24: the context scrolls, the answer stays.
    h.settle();
    let screen = draw(&mut h);
    assert!(screen.contains("more line(s) below"), "{screen}");
    assert!(screen.contains("Type production"), "{screen}");
    insta::assert_snapshot!("rollback_prompt_down_sql_80x24", screen);
    assert!(!screen.contains("DROP TABLE orders"), "{screen}");
    h.key(KeyCode::PageDown);
    let screen = draw(&mut h);
    assert!(screen.contains("DROP TABLE orders"), "{screen}");
    assert!(screen.contains("more line(s) above"), "{screen}");
    assert!(
        screen.contains("Type production"),
        "the answer stays: {screen}"
    );
}

#[test]
fn the_confirmed_rollback_runs_only_the_down_files_its_prompt_showed() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = applied_in_this_run(dir.path());
    h.char('R');
    h.settle();
    h.type_text("production");
    let mut fx = h.key(KeyCode::Enter);
    // No before_restore steps here: the code steps first, then the database.
    let code = h.state.rollback_phase().expect("the rollback's steps");
    fx.extend(h.act(Action::Runner(RunnerEvent::StepFinished {
        id: deckhand::runner::StepId {
            phase: code,
            step: 0,
        },
        outcome: deckhand::runner::StepOutcome::Exited(0),
        duration: Duration::from_secs(1),
    })));
    let (names, shown) = fx
        .iter()
        .find_map(|e| match e {
            deckhand::app::Effect::RevertMigrations { names, shown } => Some((names, shown)),
            _ => None,
        })
        .expect("the revert asked for");
    assert_eq!(*names, ["3_audit", "2_orders"]);
    let snap = h.state.db.snapshot().unwrap();
    let expected: Vec<ShownDown> = ["3_audit", "2_orders"]
        .iter()
        .map(|n| {
            let i = snap.migrations.iter().position(|m| m.name == *n).unwrap();
            let down = snap.downs[i].as_ref().unwrap().file.as_ref().unwrap();
            ShownDown::of(n, down)
        })
        .collect();
    assert_eq!(*shown, expected);
}

#[test]
fn a_down_file_that_cannot_be_read_says_the_rollback_will_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(plan_from(PLAN));
    let mut snap = snapshot(dir.path(), [MState::Applied; 3]);
    std::fs::remove_file(dir.path().join("2_orders.down.sql")).unwrap();
    snap.downs = deckhand::runner::downs::read(&snap.migrations, Backend::Postgres);
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snap))));
    h.state.release.applied = vec!["2_orders".into()];
    h.char('R');
    let b = body(&h);
    assert!(
        b.iter().any(
            |l| l.starts_with("Down: 1/1 2_orders: its down file cannot be read (")
                && l.ends_with("the rollback will refuse to run")
        ),
        "{b:#?}"
    );
}

#[test]
fn a_pending_migration_whose_down_file_destroys_data_is_flagged_in_the_pane() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::new(plan_from(PLAN));
    let snap = snapshot(
        dir.path(),
        [MState::Applied, MState::Pending, MState::Pending],
    );
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snap))));
    h.key(KeyCode::Char('2'));
    h.state.db.selected = 1;
    let (screen, buf) = h.screen();
    assert!(
        screen.contains("2_orders  pending  down: 1 dangerous"),
        "{screen}"
    );
    assert!(
        !screen.contains("1_users  applied  down"),
        "an applied migration this run did not apply is not flagged: {screen}"
    );
    assert!(
        screen.contains("down file: DANGEROUS ban-drop-table orders"),
        "{screen}"
    );
    let row = (0..24)
        .find(|y| {
            (0..80)
                .map(|x| buf[(x, *y)].symbol().to_string())
                .collect::<String>()
                .contains("down file: DANGEROUS")
        })
        .expect("the down file's row");
    let x = (0..80)
        .find(|x| buf[(*x, row)].symbol() == "D")
        .expect("its first letter");
    assert_eq!(buf[(x, row)].fg, ratatui::style::Color::Red);
    insta::assert_snapshot!("migrations_pane_dangerous_down_file_80x24", screen);
}

#[test]
fn the_apply_confirmation_names_a_way_back_that_destroys_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = pending_harness(dir.path());
    h.dried();
    h.key(KeyCode::Char('a'));
    assert_eq!(
        h.state.modal.as_ref().map(|m| m.kind.clone()),
        Some(deckhand::app::ModalKind::ApplyMigrations)
    );
    let lines = body(&h);
    assert!(
        lines.iter().any(|l| l.starts_with("WAY BACK")
            && l.contains("2_orders down file line")
            && l.contains("DANGEROUS ban-drop-table orders")),
        "{lines:#?}"
    );
}

fn rehearsed(way_back: WayBack) -> Action {
    let report = RehearsalReport {
        scratch: "deckhand_rehearsal_0a1b2c3d".into(),
        restore_took: Duration::from_secs(2),
        steps: vec![
            RehearsalStep::Applied {
                name: "2_orders".into(),
                took: Duration::from_millis(40),
            },
            RehearsalStep::Applied {
                name: "3_audit".into(),
                took: Duration::from_millis(30),
            },
        ],
        way_back,
        dropped: true,
        cleanup_error: None,
        took: Duration::from_secs(3),
    };
    Action::Runner(RunnerEvent::Backup(Box::new(BackupEvent::Rehearsed {
        archive: archive("/var/backups/shop/x.dump", "shop", true),
        report,
    })))
}

fn pending_harness(dir: &Path) -> Harness {
    let mut h = Harness::new(plan_from(PLAN));
    let snap = snapshot(dir, [MState::Applied, MState::Pending, MState::Pending]);
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snap))));
    let a = archive("/var/backups/shop/x.dump", "shop", true);
    h.act(verified_event(&a, true));
    h
}

#[test]
fn the_rehearsal_prompt_says_whether_the_way_back_is_rehearsed() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = pending_harness(dir.path());
    h.char('E');
    let b = body(&h);
    assert!(
        b.iter().any(|l| l
            == "Way back: then runs each down file, newest first, and applies the migrations again (apply → down → apply)"),
        "{b:#?}"
    );
    h.settle();
    h.key(KeyCode::Esc);
    let mut snap = snapshot(
        dir.path(),
        [MState::Applied, MState::Pending, MState::Pending],
    );
    snap.migrations[2].down = None;
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snap))));
    h.char('E');
    assert!(
        body(&h)
            .iter()
            .any(|l| l == "Way back: not rehearsed: 3_audit has no down file"),
        "{:#?}",
        body(&h)
    );
}

#[test]
fn a_failing_down_file_in_the_rehearsal_is_shown_noted_and_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = pending_harness(dir.path());
    let way_back = WayBack::Rehearsed {
        down: vec![
            RehearsalStep::Applied {
                name: "3_audit".into(),
                took: Duration::from_millis(5),
            },
            RehearsalStep::Failed {
                name: "2_orders".into(),
                took: Duration::from_millis(3),
                error: "table \"orders\" does not exist (42P01)\n  at statement 2".into(),
            },
        ],
        again: Vec::new(),
    };
    let fx = h.act(rehearsed(way_back));
    let flash = h.state.flash.clone().unwrap_or_default();
    assert!(
        flash.contains("all 2 pending migration(s) applied")
            && flash.contains(
                "the way back FAILS at 2_orders (its down file): table \"orders\" does not exist (42P01)"
            ),
        "{flash}"
    );
    let record = journal_events(&fx)
        .into_iter()
        .find_map(|e| match e {
            Event::Rehearsal { way_back, .. } => way_back,
            _ => None,
        })
        .expect("the way back journaled");
    assert_eq!(record.result, WayBackResult::Failed);
    assert_eq!(record.steps[0], "3_audit: down ok in 5 ms");
    assert!(
        record.steps[1].starts_with("2_orders: down FAILED after 3 ms: table \"orders\""),
        "{:?}",
        record.steps
    );
    assert_eq!(
        record.steps[2],
        "applying the migrations again: not attempted after the failed down file"
    );
    // Back in the migrations pane: the list names where the way back fails, the preview says how.
    h.state.db.selected = 1;
    let (screen, _) = h.screen();
    assert!(screen.contains("way back FAILS"), "{screen}");
    assert!(
        screen.contains("way back on a copy: down FAILED after 3 ms:")
            && screen.contains("table \"orders\" does not exist (42P01)"),
        "{screen}"
    );
    // The way back is not the apply: the rehearsal still counts as tried.
    assert!(h.state.tried_ok());
}

#[test]
fn a_way_back_that_passes_or_is_not_rehearsed_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = pending_harness(dir.path());
    let step = |name: &str| RehearsalStep::Applied {
        name: name.into(),
        took: Duration::from_millis(4),
    };
    let fx = h.act(rehearsed(WayBack::Rehearsed {
        down: vec![step("3_audit"), step("2_orders")],
        again: vec![step("2_orders"), step("3_audit")],
    }));
    let flash = h.state.flash.clone().unwrap_or_default();
    assert!(
        flash.contains(
            "way back ok: 2 down file(s) ran newest first, then the migrations applied again"
        ),
        "{flash}"
    );
    assert!(journal_events(&fx).iter().any(|e| matches!(
        e,
        Event::Rehearsal { way_back: Some(w), .. }
            if w.result == WayBackResult::Passed && w.steps.len() == 4 && w.steps[2] == "2_orders: applied again in 4 ms"
    )));
    h.state.db.selected = 2;
    let (screen, _) = h.screen();
    assert!(
        screen.contains("way back on a copy: down ok in 4 ms"),
        "{screen}"
    );

    let fx = h.act(rehearsed(WayBack::NoDownFile {
        missing: vec!["3_audit".into()],
    }));
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("way back not rehearsed: 3_audit has no down file")
    );
    assert!(journal_events(&fx).iter().any(|e| matches!(
        e,
        Event::Rehearsal { way_back: Some(w), .. } if w.result == WayBackResult::NotRehearsed
    )));
    // Not tried (the apply failed): nothing about the way back in the journal.
    let fx = h.act(rehearsed(WayBack::NotTried));
    assert!(
        journal_events(&fx)
            .iter()
            .any(|e| matches!(e, Event::Rehearsal { way_back: None, .. }))
    );
}
