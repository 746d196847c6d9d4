//! Rooms talk by notices, routed after the room's handler returns: what routing a notice produces must land in the
//! journal where a direct call would have put it — the baseline before the step it guards, a rollback's end before
//! the quit that follows it.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, ModalKind, QuitState};
use deckhand::journal::Event;
use deckhand::runner::{Probe, RunnerEvent, StepId, StepOutcome};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]

[[health]]
name = "api"
url = "https://api.example.com/health"
baseline_samples = 1
insecure = true

[rollback]
steps = [{ run = "./rollback-1.sh" }, { run = "./rollback-2.sh" }]
"#;

fn position(fx: &[Effect], what: impl Fn(&Effect) -> bool) -> usize {
    fx.iter()
        .position(what)
        .unwrap_or_else(|| panic!("not among the effects: {fx:?}"))
}

#[test]
fn the_baseline_is_journaled_before_the_destructive_step_starts() {
    let mut h = Harness::new(plan_from(PLAN));
    h.act(Action::Runner(RunnerEvent::HealthProbe {
        check: 0,
        probe: Probe::Up {
            status: 200,
            latency: Duration::from_millis(50),
        },
    }));
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    let fx = h.char('y');
    let baseline = position(&fx, |e| {
        matches!(e, Effect::Journal(Event::HealthBaseline { .. }))
    });
    let start = position(&fx, |e| matches!(e, Effect::StartStep(_)));
    let phase = position(&fx, |e| {
        matches!(e, Effect::Journal(Event::PhaseStarted { .. }))
    });
    assert!(phase < baseline && baseline < start, "{fx:?}");
}

#[test]
fn a_rollback_ended_by_a_quit_is_journaled_before_the_quit() {
    let mut h = Harness::new(plan_from(PLAN));
    h.char('R');
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::Rollback(_))
    ));
    h.settle();
    let fx = h.char('y');
    let rollback = h.state.rollback_phase().expect("the rollback's steps");
    assert_eq!(
        starts(&fx),
        vec![StepId {
            phase: rollback,
            step: 0
        }]
    );
    // Quit while the first rollback step runs; it finishes while the operator decides: the second waits.
    h.char('q');
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: StepId {
            phase: rollback,
            step: 0,
        },
        outcome: StepOutcome::Exited(0),
        duration: Duration::from_secs(1),
    }));
    h.settle();
    let fx = h.char('y');
    assert_eq!(h.state.quit, QuitState::Done);
    let finished = position(&fx, |e| {
        matches!(e, Effect::Journal(Event::RollbackFinished { .. }))
    });
    let quit = position(&fx, |e| matches!(e, Effect::Journal(Event::Quit { .. })));
    assert!(finished < quit, "{fx:?}");
    assert_eq!(fx.last(), Some(&Effect::Quit), "{fx:?}");
}
