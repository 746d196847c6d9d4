//! The outcome told truly (issue 14): what went wrong is reported as wrong, on screen (row, status line, logs pane),
//! in the journal and the report — never as success.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::ledger::snapshot;
use common::*;
use crossterm::event::KeyCode;
use deckhand::app::release::{self, Stage};
use deckhand::app::{Action, ModalKind};
use deckhand::journal::Event;
use deckhand::migrate::status::State as MState;
use deckhand::runner::RunnerEvent;

const PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[database]
url = "postgres://app@db.internal:5432/shop"
migrations = "prisma/migrations"
"#;

/// Defect: a squashed history (ledger rows missing locally) made the dry-run refuse to run; the status line said
/// "every pending migration ran; all rolled back", the logs pane said nothing.
#[test]
fn a_dry_run_that_never_ran_is_reported_as_failed_everywhere() {
    let mut h = Harness::new(plan_from(PLAN));
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snapshot(&[
        ("20240101_init", MState::Applied),
        ("20240201_orders", MState::Pending),
    ])))));
    h.key(KeyCode::Char('d'));
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::DryRunMigrations)
    ));
    h.settle();
    h.char('y');
    let why = "refusing to apply: 20231201_old is missing locally";
    let fx = h.act(Action::Runner(RunnerEvent::Rehearsed(Err(why.into()))));
    let flash = h.state.flash.clone().unwrap_or_default();
    assert!(flash.contains("FAILED") && flash.contains(why), "{flash}");
    assert!(!flash.contains("every pending migration ran"), "{flash}");
    let logged = (0..h.state.logs.len())
        .filter_map(|i| h.state.logs.get(i))
        .any(|l| l.text.contains("dry-run FAILED") && l.text.contains(why));
    assert!(logged, "the logs pane says it");
    assert!(
        journal_events(&fx).iter().any(|e| matches!(e,
            Event::MigrationsDryRun { results } if results.iter().any(|r| r.contains("FAILED")))),
        "{fx:?}"
    );
    let row = release::detail(&h.state, Stage::Migrate);
    assert!(row.contains("FAILED"), "the migrate row: {row}");
    assert!(
        !h.state.tried_ok(),
        "an apply still asks for a try or a reason"
    );
}

/// Defect: a phase that succeeded in the run this one resumed showed "ok in" with no duration.
#[test]
fn a_resumed_phase_shows_how_long_it_took() {
    let plan = plan_from(
        "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n\
         [[phase]]\nname = \"Deploy\"\nsteps = [{ run = \"./deploy.sh\" }]\n",
    );
    let mut h = Harness::new(plan);
    let events = vec![
        Event::PhaseStarted {
            phase: "Deploy".into(),
            destructive: false,
        },
        Event::StepFinished {
            phase: "Deploy".into(),
            step: 1,
            destructive: false,
            outcome: deckhand::journal::StepResult::Exited,
            exit_code: Some(0),
            signal: None,
            detail: String::new(),
            duration_ms: 2_500,
        },
        Event::PhaseFinished {
            phase: "Deploy".into(),
            destructive: false,
            result: deckhand::journal::PhaseResult::Succeeded,
            duration_ms: 3_000,
        },
    ];
    deckhand::app::restore(&mut h.state, "run-1", &events);
    let (text, _) = h.screen();
    assert!(text.contains("ok in 0:03"), "{text}");
}

/// Defect: quitting while the monitor window runs in production asked nothing. Must work: quitting mid-monitor or
/// before sign-off in production (once the release has changed something) asks first; declining keeps the run.
#[test]
fn quitting_production_before_sign_off_asks_first() {
    let mut h = Harness::new(production_plan());
    // Nothing changed yet: q quits at once.
    let mut idle = Harness::new(production_plan());
    idle.char('q');
    assert_eq!(idle.state.quit, deckhand::app::QuitState::Done);
    // The destructive deploy ran.
    h.tick_all();
    h.select_phase(1);
    h.key(KeyCode::Enter);
    h.settle();
    h.type_text("production");
    h.key(KeyCode::Enter);
    for step in 0..2 {
        h.act(Action::Runner(RunnerEvent::StepFinished {
            id: deckhand::runner::StepId { phase: 1, step },
            outcome: deckhand::runner::StepOutcome::Exited(0),
            duration: std::time::Duration::from_secs(1),
        }));
    }
    assert_eq!(h.state.op, None);
    h.char('q');
    let m = h.state.modal.as_ref().expect("a quit prompt");
    assert_eq!(m.kind, ModalKind::Quit);
    assert!(m.title.contains("before sign-off"), "{}", m.title);
    h.settle();
    h.key(KeyCode::Esc);
    assert_eq!(
        h.state.quit,
        deckhand::app::QuitState::No,
        "declined: the run goes on"
    );
    h.char('q');
    h.settle();
    let fx = h.char('y');
    assert_eq!(h.state.quit, deckhand::app::QuitState::Done);
    assert!(fx.contains(&deckhand::app::Effect::Quit));
}
