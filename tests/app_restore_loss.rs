#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]
//! `update()` tests for issue 14, defect 2: before a restore or a database rollback the prompt says what is lost —
//! the backup's time, per table the rows inserted, updated and deleted since (the most written first, then how
//! many more), tables created since, a reset of the statistics, counters that could not be read — and the plan's
//! `[rollback] before_restore` steps are shown and run first; when one fails, the database is left untouched.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, ModalKind};
use deckhand::backup::counters::{CounterSource, Counters, TableCounter, Writes};
use deckhand::backup::{Archive, RestoreMode};
use deckhand::journal::Event;
use deckhand::migrate::ledger::LedgerKey;
use deckhand::migrate::status::{Entry, State as MState, Status};
use deckhand::migrate::{Format, Key, Migration};
use deckhand::runner::migrate::Snapshot;
use deckhand::runner::{CountersFor, RunnerEvent, StepId, StepOutcome};

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
database = "restore"
before_restore = [{ run = "systemctl stop shop" }]
steps = [{ run = "git checkout v1.41 && ./deploy.sh" }]
"#;

/// The backup's time in the tests (`common::archive`): 2026-11-21 14:03:05 UTC.
const TAKEN: &str = "2026-11-21 14:03:05 UTC";

fn table(name: &str, oid: u64, [inserted, updated, deleted]: [u64; 3]) -> TableCounter {
    TableCounter {
        table: name.into(),
        oid: Some(oid),
        writes: Some(Writes {
            inserted,
            updated,
            deleted,
        }),
        rows: inserted - deleted,
    }
}

fn counters(at_unix: u64, reset: Option<u64>, tables: Vec<TableCounter>) -> Counters {
    Counters {
        at_unix,
        source: CounterSource::PgStatistics,
        stats_reset_unix: reset,
        modified_unix: None,
        tables,
    }
}

/// This run's verified backup, with the counters recorded when it was taken.
fn backup() -> Archive {
    let mut a = archive(
        "/var/backups/shop/shop-production-shop-20261121T140305Z.dump",
        "shop",
        true,
    );
    a.counters = Some(counters(
        a.created_unix,
        Some(1_700_000_000),
        vec![
            table("public.accounts", 11, [120, 4, 0]),
            table("public.orders", 12, [900, 30, 2]),
        ],
    ));
    a
}

/// Counters an hour and twelve minutes after the backup: one customer signed up, orders changed, a table is new.
fn after() -> Counters {
    counters(
        backup().created_unix + 72 * 60,
        Some(1_700_000_000),
        vec![
            table("public.accounts", 11, [121, 4, 0]),
            table("public.orders", 12, [900, 33, 3]),
            table("public.audit", 13, [40, 0, 0]),
        ],
    )
}

fn harness() -> Harness {
    let mut h = Harness::new(plan_from(PLAN));
    h.state.backup.verified = Some(backup());
    h.state.backup.known = vec![backup()];
    h
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

/// `R`, then the counters the runner read (or why not).
fn rollback_prompt(h: &mut Harness, now: Result<Counters, String>) -> Vec<Effect> {
    let mut fx = h.char('R');
    assert!(
        fx.contains(&Effect::ReadCounters(CountersFor::Rollback)),
        "{fx:?} {:?}",
        h.state.flash
    );
    assert!(h.state.modal.is_none(), "the prompt waits for the counters");
    fx.extend(h.act(counters_read(CountersFor::Rollback, now)));
    fx
}

fn confirm(h: &mut Harness) -> Vec<Effect> {
    h.settle();
    h.type_text("production");
    h.key(KeyCode::Enter)
}

fn step_done(h: &mut Harness, id: StepId, code: i32) -> Vec<Effect> {
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id,
        outcome: StepOutcome::Exited(code),
        duration: Duration::from_secs(1),
    }))
}

#[test]
fn the_rollback_prompt_says_what_the_restore_loses_and_before_restore_runs_first() {
    let mut h = harness();
    rollback_prompt(&mut h, Ok(after()));
    let b = body(&h);
    let at = |text: &str| {
        b.iter()
            .position(|l| l.contains(text))
            .unwrap_or_else(|| panic!("{text:?} missing: {b:#?}"))
    };
    assert_eq!(b[at("First 1")], "First 1: systemctl stop shop");
    assert!(b[at("Lost")].contains(TAKEN), "{b:#?}");
    assert!(b[at("Lost")].contains("1 h 12 min ago"), "{b:#?}");
    // The most written table first.
    assert!(at("public.orders: 3 updated, 1 deleted") < at("public.accounts: 1 inserted"));
    assert!(b[at("Created")].contains("public.audit"), "{b:#?}");
    assert!(b[at("Created")].contains("DROPPED"), "{b:#?}");
    assert!(b[at("Counts")].contains("lag"), "{b:#?}");
    assert!(at("First 1") < at("Code 1") && at("Code 1") < at("Database"));

    // Readable at 80x24, the answer line included.
    h.settle();
    h.act(Action::Tick);
    let (screen, _) = h.screen();
    for text in [
        "systemctl stop shop",
        TAKEN,
        "public.accounts: 1 inserted",
        "public.audit",
        "Type production",
    ] {
        assert!(screen.contains(text), "{text:?} not on screen:\n{screen}");
    }

    let fx = confirm(&mut h);
    let started = journal_events(&fx)
        .into_iter()
        .find(|e| matches!(e, Event::RollbackStarted { .. }))
        .expect("the rollback's start is journaled");
    let Event::RollbackStarted {
        before_restore,
        loss,
        ..
    } = started
    else {
        unreachable!()
    };
    assert_eq!(before_restore, vec!["systemctl stop shop".to_string()]);
    let loss = loss.expect("what the restore loses");
    assert!(loss.contains("public.accounts: 1 inserted"), "{loss}");
    assert!(loss.contains(TAKEN), "{loss}");

    // before_restore, then the code steps, then the database.
    let first = h.state.before_restore_phase().expect("its own phase");
    let code = h.state.rollback_phase().expect("the code steps");
    assert_eq!(
        starts(&fx),
        vec![StepId {
            phase: first,
            step: 0
        }]
    );
    let fx = step_done(
        &mut h,
        StepId {
            phase: first,
            step: 0,
        },
        0,
    );
    assert_eq!(
        starts(&fx),
        vec![StepId {
            phase: code,
            step: 0
        }]
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::RestoreBackup { .. })));
    let fx = step_done(
        &mut h,
        StepId {
            phase: code,
            step: 0,
        },
        0,
    );
    assert!(fx.iter().any(|e| matches!(
        e,
        Effect::RestoreBackup {
            mode: RestoreMode::Rollback,
            ..
        }
    )));
}

#[test]
fn a_failed_before_restore_step_stops_the_rollback_with_the_database_untouched() {
    let mut h = harness();
    rollback_prompt(&mut h, Ok(after()));
    let fx = confirm(&mut h);
    let first = h.state.before_restore_phase().unwrap();
    assert_eq!(
        starts(&fx),
        vec![StepId {
            phase: first,
            step: 0
        }]
    );
    let fx = step_done(
        &mut h,
        StepId {
            phase: first,
            step: 0,
        },
        1,
    );
    assert!(starts(&fx).is_empty(), "no code step: {fx:?}");
    assert!(
        !fx.iter().any(|e| matches!(
            e,
            Effect::RestoreBackup { .. } | Effect::RevertMigrations { .. }
        )),
        "{fx:?}"
    );
    let finished = journal_events(&fx)
        .into_iter()
        .find_map(|e| match e {
            Event::RollbackFinished { ok, detail } => Some((ok, detail)),
            _ => None,
        })
        .expect("the rollback's end is journaled");
    assert!(!finished.0);
    assert!(
        finished.1.contains("database was left untouched"),
        "{}",
        finished.1
    );
    let flash = h.state.flash.clone().unwrap_or_default();
    assert!(flash.contains("database was left untouched"), "{flash}");
}

#[test]
fn many_tables_are_summarised_and_no_writes_or_unreadable_counters_are_said() {
    let mut h = harness();
    let mut then = backup();
    let tables = |extra: u64| {
        (0..8)
            .map(|i| {
                table(
                    &format!("public.t{i}"),
                    100 + i,
                    [10 + extra * (i + 1), 0, 0],
                )
            })
            .collect::<Vec<_>>()
    };
    then.counters = Some(counters(then.created_unix, None, tables(0)));
    h.state.backup.verified = Some(then.clone());
    rollback_prompt(
        &mut h,
        Ok(counters(then.created_unix + 60, None, tables(1))),
    );
    let b = body(&h);
    assert!(
        b.iter().any(|l| l.contains("public.t7: 8 inserted")),
        "{b:#?}"
    );
    assert!(!b.iter().any(|l| l.contains("public.t2:")), "{b:#?}");
    assert!(
        b.iter()
            .any(|l| l.contains("and 3 more table(s) with changes")),
        "{b:#?}"
    );
    let (screen, _) = h.screen();
    assert!(screen.contains("and 3 more"), "{screen}");
    h.settle();
    h.key(KeyCode::Esc);

    rollback_prompt(
        &mut h,
        Ok(counters(then.created_unix + 60, None, tables(0))),
    );
    let b = body(&h);
    assert!(
        b.iter()
            .any(|l| l.contains("no writes recorded since the backup")),
        "{b:#?}"
    );
    h.settle();
    h.key(KeyCode::Esc);

    // Counters that cannot be read: said, and the prompt still works.
    rollback_prompt(&mut h, Err("connecting to the database: timed out".into()));
    let b = body(&h);
    assert!(
        b.iter()
            .any(|l| l.contains("UNKNOWN") && l.contains("timed out")),
        "{b:#?}"
    );
    let fx = confirm(&mut h);
    assert!(
        journal_events(&fx).iter().any(
            |e| matches!(e, Event::RollbackStarted { loss: Some(l), .. } if l.contains("UNKNOWN"))
        ),
        "{fx:?}"
    );
}

#[test]
fn statistics_reset_after_the_backup_are_said() {
    let mut h = harness();
    let reset = backup().created_unix + 600;
    let now = counters(
        reset + 60,
        Some(reset),
        vec![
            table("public.accounts", 11, [1, 0, 0]),
            table("public.orders", 12, [0, 0, 0]),
        ],
    );
    rollback_prompt(&mut h, Ok(now));
    let b = body(&h);
    assert!(
        b.iter()
            .any(|l| l.contains("statistics reset 2026-11-21 14:13:05 UTC")
                && l.contains("counted since then only")),
        "{b:#?}"
    );
    assert!(
        b.iter().any(|l| l.contains("public.accounts: 1 inserted")),
        "{b:#?}"
    );
}

/// An applied sqlx migration with a down file: the rollback reverts it.
fn reverting() -> Harness {
    let src = PLAN.replace("database = \"restore\"", "database = \"auto\"");
    let mut h = Harness::new(plan_from(&src));
    let m = Migration {
        format: Format::Sqlx,
        key: Key::Sqlx {
            version: 2,
            description: "add index".into(),
        },
        name: "2_add_index".into(),
        path: PathBuf::from("m/2_add_index.up.sql"),
        sql: "CREATE INDEX i ON orders (id);\n".into(),
        statements: Vec::new(),
        down: Some(PathBuf::from("m/2_add_index.down.sql")),
        no_transaction: None,
    };
    let snapshot = Snapshot {
        format: Format::Sqlx,
        migrations: vec![m],
        status: Status {
            format: "sqlx".into(),
            target: "db.internal:5432/shop".into(),
            entries: vec![Entry {
                name: "2_add_index".into(),
                state: MState::Applied,
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
    };
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snapshot))));
    h.state.release.applied = vec!["2_add_index".into()];
    h
}

#[test]
fn down_migrations_show_and_run_before_restore_first_too() {
    let mut h = reverting();
    let fx = h.char('R');
    assert!(!fx.contains(&Effect::ReadCounters(CountersFor::Rollback)));
    let b = body(&h);
    assert!(
        b.contains(&"First 1: systemctl stop shop".to_string()),
        "{b:#?}"
    );
    assert!(
        b.iter()
            .any(|l| l.starts_with("Data:")
                && l.contains("columns and tables the down migrations drop")),
        "{b:#?}"
    );
    let fx = confirm(&mut h);
    let first = h.state.before_restore_phase().unwrap();
    let code = h.state.rollback_phase().unwrap();
    assert_eq!(
        starts(&fx),
        vec![StepId {
            phase: first,
            step: 0
        }]
    );
    step_done(
        &mut h,
        StepId {
            phase: first,
            step: 0,
        },
        0,
    );
    let fx = step_done(
        &mut h,
        StepId {
            phase: code,
            step: 0,
        },
        0,
    );
    assert!(
        fx.iter().any(|e| matches!(
            e,
            Effect::RevertMigrations { names, .. } if *names == ["2_add_index"]
        )),
        "{fx:?}"
    );
}

#[test]
fn a_rollback_that_leaves_the_database_runs_no_before_restore_step() {
    let src = PLAN.replace("database = \"restore\"", "database = \"none\"");
    let mut h = Harness::new(plan_from(&src));
    h.char('R');
    let b = body(&h);
    assert!(!b.iter().any(|l| l.starts_with("First")), "{b:#?}");
    let fx = confirm(&mut h);
    let code = h.state.rollback_phase().unwrap();
    assert_eq!(
        starts(&fx),
        vec![StepId {
            phase: code,
            step: 0
        }]
    );
}

/// `U`, then the counters the runner read.
fn restore_prompt(h: &mut Harness, now: Result<Counters, String>) {
    let fx = h.char('U');
    assert!(
        fx.contains(&Effect::ReadCounters(CountersFor::Restore)),
        "{fx:?}"
    );
    h.act(counters_read(CountersFor::Restore, now));
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::RestoreBackup(_))
    ));
}

#[test]
fn the_restore_prompt_says_what_the_chosen_backup_loses_and_runs_before_restore_first() {
    let mut h = harness();
    let mut older = archive(
        "/var/backups/shop/shop-production-shop-20261120T090000Z.dump",
        "shop",
        true,
    );
    older.created_unix -= 86_400;
    h.state.backup.known = vec![backup(), older];
    restore_prompt(&mut h, Ok(after()));
    let m = h.state.modal.as_ref().unwrap();
    let b = body(&h);
    assert!(
        b.contains(&"First 1: systemctl stop shop (in place only)".to_string()),
        "{b:#?}"
    );
    let lines = |h: &Harness| -> Vec<String> {
        let p = h.state.modal.as_ref().unwrap().picker.as_ref().unwrap();
        deckhand::app::restore_loss(p)
            .into_iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect()
    };
    let chosen = lines(&h);
    assert!(chosen.iter().any(|l| l.contains(TAKEN)), "{chosen:#?}");
    assert!(
        chosen
            .iter()
            .any(|l| l.contains("public.accounts: 1 inserted")),
        "{chosen:#?}"
    );
    assert!(
        chosen
            .iter()
            .any(|l| l.contains("public.audit") && l.contains("left as they are")),
        "{chosen:#?}"
    );
    assert_eq!(m.picker.as_ref().unwrap().details.len(), 2);
    h.settle();
    h.act(Action::Tick);
    let (screen, _) = h.screen();
    for text in [
        "public.accounts: 1 inserted",
        TAKEN,
        "[ ] into a new database",
        "Type shop",
    ] {
        assert!(screen.contains(text), "{text:?} not on screen:\n{screen}");
    }

    // The older backup was taken before counters were recorded: what it loses is unknown.
    h.key(KeyCode::Down);
    assert!(
        lines(&h).iter().any(|l| l.contains("UNKNOWN")),
        "{:#?}",
        lines(&h)
    );
    // Into a new database: nothing is lost.
    h.key(KeyCode::Tab);
    assert!(
        lines(&h).iter().any(|l| l.contains("nothing")),
        "{:#?}",
        lines(&h)
    );
    h.key(KeyCode::Tab);
    h.key(KeyCode::Up);

    // In place: the before_restore step runs first, then the restore, journaled with what it loses.
    h.type_text("shop");
    let fx = h.key(KeyCode::Enter);
    let first = h.state.before_restore_phase().unwrap();
    assert_eq!(
        starts(&fx),
        vec![StepId {
            phase: first,
            step: 0
        }]
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::RestoreBackup { .. })));
    let fx = step_done(
        &mut h,
        StepId {
            phase: first,
            step: 0,
        },
        0,
    );
    assert!(
        fx.contains(&Effect::RestoreBackup {
            archive: backup(),
            mode: RestoreMode::InPlace
        }),
        "{fx:?}"
    );
    assert!(
        journal_events(&fx).iter().any(|e| matches!(
            e,
            Event::RestoreStarted { loss: Some(l), .. } if l.contains("public.accounts: 1 inserted")
        )),
        "{fx:?}"
    );
}

#[test]
fn a_failed_before_restore_step_means_no_restore_and_a_new_database_skips_it() {
    let mut h = harness();
    restore_prompt(&mut h, Ok(after()));
    h.settle();
    h.type_text("shop");
    let fx = h.key(KeyCode::Enter);
    let first = h.state.before_restore_phase().unwrap();
    assert_eq!(
        starts(&fx),
        vec![StepId {
            phase: first,
            step: 0
        }]
    );
    let fx = step_done(
        &mut h,
        StepId {
            phase: first,
            step: 0,
        },
        3,
    );
    assert!(!fx.iter().any(|e| matches!(e, Effect::RestoreBackup { .. })));
    assert!(
        journal_events(&fx).iter().any(|e| matches!(
            e,
            Event::BackupFailed { what, error } if what == "restore" && error.contains("left untouched")
        )),
        "{fx:?}"
    );

    // Into a new database nothing is overwritten: no step first, and nothing lost is journaled.
    restore_prompt(&mut h, Ok(after()));
    h.settle();
    h.key(KeyCode::Tab);
    h.type_text("shop");
    let fx = h.key(KeyCode::Enter);
    assert!(starts(&fx).is_empty(), "{fx:?}");
    assert!(
        journal_events(&fx).iter().any(|e| matches!(
            e,
            Event::RestoreStarted {
                loss: None,
                new_database: Some(_),
                ..
            }
        )),
        "{fx:?}"
    );
}

#[test]
fn before_restore_is_parsed_checked_and_needs_a_database() {
    let plan = plan_from(PLAN);
    let r = plan.rollback.as_ref().unwrap();
    assert_eq!(r.before_restore.len(), 1);
    assert_eq!(r.before_restore[0].run.display, "systemctl stop shop");
    let no_db = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Deploy"
steps = [{ run = "./deploy.sh" }]

[rollback]
before_restore = [{ run = "systemctl stop shop" }]
"#;
    let env = |_: &str| None;
    let err = deckhand::plan::parse(no_db, std::path::Path::new("p.toml"), &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("p.toml:11:1"), "{err}");
    assert!(err.contains("before_restore needs a [database]"), "{err}");
    let typo = PLAN.replace("before_restore", "before_restor");
    let err = deckhand::plan::parse(&typo, std::path::Path::new("p.toml"), &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("before_restore"), "{err}");
    assert!(err.contains("unknown field `before_restor`"), "{err}");
}
