//! The release stages in `update()`: the stage order with typed reasons, the verify stage, the monitor window,
//! sign-off, rollback (restore, then verify again), seeding in production, and resuming from a journal.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use deckhand::app::release::{self, Stage, StageStatus};
use deckhand::app::{Action, Effect, ModalKind, PhaseStatus, Row, Signal};
use deckhand::backup::RestoreMode;
use deckhand::journal::Event;
use deckhand::runner::{CountersFor, PreflightResult, Probe, RunnerEvent, StepId, StepOutcome};

const RELEASE_PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[checklist]]
item = "Staging verified"

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]

[[phase]]
name = "Seed demo data"
seed = true
steps = [{ run = "./seed.sh" }]

[[smoke]]
name = "home"
url = "http://127.0.0.1:9/"

[monitor]
duration = "2m"

[rollback]
steps = [{ run = "git revert --no-edit HEAD" }]
"#;

fn harness() -> Harness {
    Harness::new(plan_from(RELEASE_PLAN))
}

fn select(h: &mut Harness, row: Row) {
    h.state.selected = h.state.rows().iter().position(|r| *r == row).expect("row");
}

fn ctrl(h: &mut Harness, c: char) -> Vec<Effect> {
    h.wait(KEY_GAP);
    h.act(Action::Key(
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL).into(),
    ))
}

fn deploy(h: &mut Harness) {
    h.tick_all();
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    h.char('y');
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: StepId { phase: 0, step: 0 },
        outcome: StepOutcome::Exited(0),
        duration: Duration::from_secs(3),
    }));
}

fn smoke_up(h: &mut Harness) -> Vec<Effect> {
    h.act(Action::Runner(RunnerEvent::Smoke {
        check: 0,
        probe: Probe::Up {
            status: 200,
            latency: Duration::from_millis(20),
        },
    }))
}

#[test]
fn a_failed_preflight_check_blocks_the_later_stages_until_a_reason_is_typed() {
    let mut h = harness();
    h.act(Action::Runner(RunnerEvent::Preflight(PreflightResult {
        check: "window".into(),
        ok: false,
        detail: "fri 17:00 is OUTSIDE the window".into(),
        policy: true,
    })));
    assert_eq!(
        release::status(&h.state, Stage::Preflight),
        StageStatus::Failed
    );
    h.tick_all();
    select(&mut h, Row::Stage(Stage::Verify));
    h.key(KeyCode::Enter);
    let m = h.state.modal.as_ref().expect("stage prompt");
    assert!(matches!(
        m.kind,
        ModalKind::StageOverride(_, Stage::Preflight)
    ));
    assert!(m.body.iter().any(|(_, v)| v.contains("OUTSIDE the window")));
    h.settle();
    h.type_text("hotfix for the checkout outage");
    let fx = h.key(KeyCode::Enter);
    assert!(journal_events(&fx).iter().any(|e| matches!(e,
        Event::StageOverridden { stage, reason, .. } if *stage == deckhand::journal::Stage::Preflight && reason == "hotfix for the checkout outage")));
    // The preflight is passed over; the deploy, which has not run, is the next stage in the way.
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::StageOverride(_, Stage::Deploy))
    ));
    assert_eq!(
        release::status(&h.state, Stage::Preflight),
        StageStatus::Overridden
    );
}

#[test]
fn verify_waits_for_the_deploy_then_passes_on_smoke_and_journals_stage_results() {
    let mut h = harness();
    h.tick_all();
    select(&mut h, Row::Stage(Stage::Verify));
    h.key(KeyCode::Enter);
    assert!(
        matches!(
            h.state.modal.as_ref().map(|m| &m.kind),
            Some(ModalKind::StageOverride(_, Stage::Deploy))
        ),
        "verify before the deploy asks for a reason"
    );
    h.key(KeyCode::Esc);
    h.state.modal = None;
    deploy(&mut h);
    assert_eq!(
        release::status(&h.state, Stage::Deploy),
        StageStatus::Passed
    );
    select(&mut h, Row::Stage(Stage::Verify));
    let fx = h.key(KeyCode::Enter);
    assert!(fx.contains(&Effect::RunSmoke), "{fx:?}");
    assert_eq!(
        release::status(&h.state, Stage::Verify),
        StageStatus::Running
    );
    let fx = smoke_up(&mut h);
    assert_eq!(
        release::status(&h.state, Stage::Verify),
        StageStatus::Passed
    );
    let events = journal_events(&fx);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::SmokeChecked { ok: true, .. }))
    );
    assert!(events.iter().any(|e| matches!(e,
        Event::StageFinished { stage, result, .. }
            if *stage == deckhand::journal::Stage::Verify
                && *result == deckhand::journal::StageResult::Passed)));
}

#[test]
fn a_smoke_failure_fails_verify_with_the_reason() {
    let mut h = harness();
    deploy(&mut h);
    select(&mut h, Row::Stage(Stage::Verify));
    h.key(KeyCode::Enter);
    h.act(Action::Runner(RunnerEvent::Smoke {
        check: 0,
        probe: Probe::NoAnswer {
            why: "connection refused".into(),
        },
    }));
    assert_eq!(
        release::status(&h.state, Stage::Verify),
        StageStatus::Failed
    );
    assert!(
        release::why_not_done(&h.state, Stage::Verify).contains("smoke home: connection refused")
    );
}

#[test]
fn monitor_counts_down_and_passes_then_sign_off_journals_notes_and_writes_the_report() {
    let mut h = harness();
    deploy(&mut h);
    select(&mut h, Row::Stage(Stage::Verify));
    h.key(KeyCode::Enter);
    smoke_up(&mut h);
    select(&mut h, Row::Stage(Stage::Monitor));
    let fx = h.key(KeyCode::Enter);
    assert!(journal_events(&fx).contains(&Event::MonitorStarted {
        duration_ms: 120_000
    }));
    // The clock ticks by the second while the window runs.
    let next = h.state.next_tick().expect("a tick");
    assert!(next <= h.now + Duration::from_secs(1));
    h.wait(Duration::from_secs(60));
    h.act(Action::Tick);
    assert_eq!(
        release::status(&h.state, Stage::Monitor),
        StageStatus::Running
    );
    h.wait(Duration::from_secs(61));
    let fx = h.act(Action::Tick);
    assert!(journal_events(&fx).iter().any(|e| matches!(e,
        Event::MonitorFinished { result, alerts: 0, .. }
            if *result == deckhand::journal::MonitorResult::Passed)));
    select(&mut h, Row::Stage(Stage::SignOff));
    h.key(KeyCode::Enter);
    assert!(h.state.release.signoff.is_some(), "the form opens");
    h.type_text("v2 out; p95 flat");
    h.key(KeyCode::Enter);
    h.type_text("no errors");
    // The signer is prefilled; clear it and sign without one: refused.
    h.key(KeyCode::Tab);
    for _ in 0..20 {
        h.key(KeyCode::Backspace);
    }
    let fx = ctrl(&mut h, 's');
    assert!(!fx.contains(&Effect::WriteReport));
    assert!(
        !journal_events(&fx)
            .iter()
            .any(|e| matches!(e, Event::SignedOff { .. }))
    );
    assert!(h.state.release.signed.is_none(), "nobody signed");
    h.type_text("ana");
    let fx = ctrl(&mut h, 's');
    assert!(journal_events(&fx).contains(&Event::SignedOff {
        by: "ana".into(),
        notes: "v2 out; p95 flat\nno errors".into(),
    }));
    assert!(fx.contains(&Effect::WriteReport));
    assert_eq!(
        release::status(&h.state, Stage::SignOff),
        StageStatus::Passed
    );
}

#[test]
fn rollback_runs_the_code_steps_then_restores_this_runs_backup_then_verifies_again() {
    let src = format!(
        "{RELEASE_PLAN}\n[database]\nurl = \"postgres://app@db.internal/shop\"\nmigrations = \"m\"\nformat = \"sqlx\"\n[backup]\ndir = \"/b\"\n"
    )
    .replace("[rollback]\n", "[rollback]\ndatabase = \"restore\"\n");
    let mut h = Harness::new(plan_from(&src));
    let a = archive("/b/shop.dump", "shop", true);
    h.state.backup.verified = Some(a.clone());
    // A restore's prompt waits for the write counters, to say what the restore loses.
    let fx = h.char('R');
    assert!(
        fx.contains(&Effect::ReadCounters(CountersFor::Rollback)),
        "{fx:?}"
    );
    assert!(h.state.modal.is_none());
    h.act(counters_read(
        CountersFor::Rollback,
        Err("timed out".into()),
    ));
    let m = h.state.modal.as_ref().expect("rollback prompt");
    assert!(matches!(m.kind, ModalKind::Rollback(_)));
    assert!(
        m.body
            .iter()
            .any(|(k, v)| k == "Code 1" && v == "git revert --no-edit HEAD")
    );
    assert!(
        m.body
            .iter()
            .any(|(k, v)| k == "Database" && v.contains("restore /b/shop.dump"))
    );
    h.settle();
    let fx = h.char('y');
    assert!(
        journal_events(&fx)
            .iter()
            .any(|e| matches!(e, Event::RollbackStarted { .. }))
    );
    let rollback_phase = h.state.plan.phases.len();
    assert_eq!(
        starts(&fx),
        vec![StepId {
            phase: rollback_phase,
            step: 0
        }]
    );
    let fx = h.act(Action::Runner(RunnerEvent::StepFinished {
        id: StepId {
            phase: rollback_phase,
            step: 0,
        },
        outcome: StepOutcome::Exited(0),
        duration: Duration::from_secs(1),
    }));
    assert!(fx.iter().any(|e| matches!(e,
        Effect::RestoreBackup { archive, mode: RestoreMode::Rollback } if archive.path == a.path)));
    let report = deckhand::backup::RestoreReport {
        target: "db.internal:5432/shop".into(),
        tables: 2,
        missing: vec![],
        extra: vec![],
        dropped: Vec::new(),
        kept: None,
        unchecked: None,
        took: Duration::from_secs(2),
    };
    let fx = h.act(Action::Runner(RunnerEvent::Backup(Box::new(
        deckhand::runner::backup::BackupEvent::Restored { archive: a, report },
    ))));
    assert!(
        journal_events(&fx)
            .iter()
            .any(|e| matches!(e, Event::RollbackFinished { ok: true, .. }))
    );
    assert!(fx.contains(&Effect::RunSmoke), "verify runs again: {fx:?}");
    smoke_up(&mut h);
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("Rollback finished")
    );
}

#[test]
fn seeding_is_refused_in_production_unless_allowed_and_then_needs_its_phrase() {
    let prod = RELEASE_PLAN.replace("\"staging\"", "\"production\"");
    let mut h = Harness::new(plan_from(&prod));
    h.state
        .release
        .overrides
        .push((Stage::Deploy, "test".into()));
    h.tick_all();
    h.select_phase(1);
    h.key(KeyCode::Enter);
    assert!(h.state.modal.is_none());
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap()
            .contains("does not allow seeding")
    );
    let allowed = prod.replace("name = \"shop\"", "name = \"shop\"\nallow_seed = true");
    let mut h = Harness::new(plan_from(&allowed));
    h.tick_all();
    h.select_phase(1);
    h.key(KeyCode::Enter);
    let m = h.state.modal.as_ref().expect("seed prompt");
    assert_eq!(
        m.expect,
        deckhand::app::Expect::Word("seed production".into())
    );
}

#[test]
fn a_hang_up_between_steps_interrupts_and_resume_continues_from_the_journal() {
    let mut h = harness();
    deploy(&mut h);
    h.act(Action::Signal(Signal::Hangup));
    // A new console replays what the first journaled.
    let events = vec![
        Event::ChecklistTicked {
            index: 0,
            item: "Staging verified".into(),
            checked: true,
        },
        Event::PhaseStarted {
            phase: "Deploy".into(),
            destructive: true,
        },
        Event::StepFinished {
            phase: "Deploy".into(),
            step: 1,
            destructive: true,
            outcome: deckhand::journal::StepResult::Exited,
            exit_code: Some(0),
            signal: None,
            detail: String::new(),
            duration_ms: 3000,
        },
        Event::Signal {
            name: "SIGHUP".into(),
        },
    ];
    let mut next = harness();
    let fx = deckhand::app::restore(&mut next.state, "run-1", &events);
    assert!(next.state.checked[0]);
    assert_eq!(
        next.state.phases[0].status,
        PhaseStatus::Succeeded,
        "every step had succeeded"
    );
    match journal_events(&fx).as_slice() {
        [
            Event::Resumed {
                previous,
                completed,
                next,
            },
        ] => {
            assert_eq!(previous, "run-1");
            assert!(
                completed.contains(&deckhand::journal::Completed::Phase {
                    name: "Deploy".into()
                }),
                "{completed:?}"
            );
            assert_eq!(*next, deckhand::journal::Stage::Verify);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn verify_waits_for_an_unticked_checklist_or_a_reason() {
    let mut h = harness();
    deploy(&mut h);
    h.state.checked[0] = false;
    select(&mut h, Row::Stage(Stage::Verify));
    h.key(KeyCode::Enter);
    let m = h.state.modal.as_ref().expect("stage prompt");
    assert!(matches!(
        m.kind,
        ModalKind::StageOverride(_, Stage::Preflight)
    ));
    assert!(
        m.body
            .iter()
            .any(|(_, v)| v.contains("checklist: 1 item(s) unticked")),
        "{:?}",
        m.body
    );
}

fn with_database(rollback_db: &str) -> Harness {
    let src = format!(
        "{RELEASE_PLAN}\n[database]\nurl = \"postgres://app@db.internal/shop\"\nmigrations = \"m\"\nformat = \"sqlx\"\n[backup]\ndir = \"/b\"\n"
    )
    .replace("[rollback]\n", &format!("[rollback]\ndatabase = \"{rollback_db}\"\n"));
    Harness::new(plan_from(&src))
}

#[test]
fn rollback_restores_the_backup_from_before_the_apply_not_a_later_one() {
    let mut h = with_database("restore");
    let before = archive("/b/before-apply.dump", "shop", true);
    let after = archive("/b/after-apply.dump", "shop", true);
    h.state.release.rollback_backup = Some(before);
    h.state.backup.verified = Some(after);
    h.char('R');
    h.act(counters_read(
        CountersFor::Rollback,
        Err("timed out".into()),
    ));
    let m = h.state.modal.as_ref().expect("rollback prompt");
    let db = m
        .body
        .iter()
        .find(|(k, _)| k == "Database")
        .map(|(_, v)| v.clone())
        .expect("a database line");
    assert!(db.contains("before-apply.dump"), "{db}");
    assert!(db.contains("tables created since it are dropped"), "{db}");
}

#[test]
fn rollback_waits_for_the_migration_status_when_down_files_decide() {
    let mut h = with_database("auto");
    h.state.release.applied = vec!["2_orders".into()];
    h.char('R');
    assert!(h.state.modal.is_none(), "no prompt without the status");
    assert!(
        h.state
            .flash
            .as_deref()
            .is_some_and(|f| f.contains("migration status has not been read")),
        "{:?}",
        h.state.flash
    );
}

#[test]
fn a_hang_up_while_down_migrations_run_waits_for_them_then_quits() {
    let mut h = with_database("auto");
    h.state.op = Some(deckhand::app::Operation::Rollback {
        work: deckhand::app::RollbackWork::Reverting,
        cancelling: false,
    });
    let fx = h.act(Action::Signal(Signal::Hangup));
    assert!(
        !fx.contains(&Effect::Quit),
        "the revert in flight is let finish"
    );
    let fx = h.act(Action::Runner(RunnerEvent::Reverted(
        deckhand::migrate::revert::RevertOutcome {
            reverted: vec![("2_orders".into(), Duration::from_millis(40))],
            error: None,
        },
    )));
    let events = journal_events(&fx);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::MigrationReverted { name, .. } if name == "2_orders"))
    );
    assert!(
        matches!(events.last(), Some(Event::Quit { reason, .. }) if reason.contains("hung up")),
        "{events:?}"
    );
    assert!(fx.contains(&Effect::Quit));
}

#[test]
fn a_resumed_apply_untried_reason_stays_that_and_does_not_pass_the_migrate_stage() {
    let events = vec![Event::StageOverridden {
        stage: deckhand::journal::Stage::Migrate,
        reason: "hotfix: the dry-run database is down".into(),
        blockers: vec![deckhand::journal::Blocker::Untried],
        detail: String::new(),
    }];
    let mut next = harness();
    deckhand::app::restore(&mut next.state, "run-1", &events);
    assert_eq!(
        next.state.release.no_rehearsal.as_deref(),
        Some("hotfix: the dry-run database is down")
    );
    assert!(
        !next
            .state
            .release
            .overrides
            .iter()
            .any(|(s, _)| *s == Stage::Migrate),
        "the migrate stage itself was not passed over"
    );
}

#[test]
fn the_rollback_steps_are_their_own_list_and_the_plan_keeps_its_phases() {
    let h = harness();
    assert_eq!(h.state.plan.phases.len(), 2, "the plan's phases as written");
    assert_eq!(h.state.phases.len(), 2, "one record per deploy phase");
    let steps = h
        .state
        .rollback_steps
        .as_ref()
        .expect("the [rollback] steps");
    assert_eq!(steps.phase.steps.len(), 1);
    assert_eq!(h.state.rollback_phase(), Some(2));
    assert_eq!(
        h.state.phase_def(2).map(|p| p.name.as_str()),
        Some("Rollback")
    );
    assert!(h.state.phase_def(3).is_none());
    assert!(
        !h.state.rows().contains(&Row::Phase(2)),
        "never a deploy row"
    );
}
