//! `update()` tests for how a run ends (issue 14, defects 3–5): verify after a rollback waits, bounded and counted
//! down, for the health checks to recover before judging; a run ends as one outcome — signed off, rolled back,
//! failed, aborted or unfinished — shown on the screen, journaled with the quit, and followed by the exit code; a
//! rolled-back deploy no longer shows as passed.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::release::{self, RollbackStep, Stage, StageStatus};
use deckhand::app::{Action, Effect, PhaseStatus, Row};
use deckhand::journal::{Event, Outcome};
use deckhand::runner::{Probe, RunnerEvent, StepId, StepOutcome};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]

[[phase]]
name = "Warm caches"
steps = [{ run = "./warm.sh" }]

[[health]]
name = "api"
url = "https://api.example.com/health"
fail_after = 2
recover_after = 2
window = "1m"
baseline_samples = 3
error_rate = 0.2

[monitor]
duration = "2m"

[rollback]
steps = [{ run = "./deploy.sh --previous" }]
"#;

const STEP: Duration = Duration::from_secs(10);

fn up() -> Probe {
    Probe::Up {
        status: 200,
        latency: Duration::from_millis(100),
    }
}

fn down() -> Probe {
    Probe::Down {
        status: Some(500),
        latency: Duration::from_millis(100),
        why: "status 500, expected 200-299".into(),
    }
}

fn feed(h: &mut Harness, p: Probe) -> Vec<Effect> {
    h.wait(STEP);
    h.act(Action::Runner(RunnerEvent::HealthProbe {
        check: 0,
        probe: p,
    }))
}

fn finish_step(h: &mut Harness, phase: usize, code: i32) -> Vec<Effect> {
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: StepId { phase, step: 0 },
        outcome: StepOutcome::Exited(code),
        duration: Duration::from_secs(2),
    }))
}

/// A baseline, the deploy (destructive: the baseline freezes), then the check fails until an alert is up.
fn deployed_then_alerting() -> Harness {
    let mut h = Harness::new(plan_from(PLAN));
    for _ in 0..3 {
        feed(&mut h, up());
    }
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    h.char('y');
    finish_step(&mut h, 0, 0);
    assert_eq!(h.state.phases[0].status, PhaseStatus::Succeeded);
    for _ in 0..4 {
        feed(&mut h, down());
    }
    assert!(h.state.health.alerts().next().is_some(), "the alert is up");
    h
}

/// `R`, confirmed, and the rollback's code step succeeds.
fn roll_back(h: &mut Harness) -> Vec<Effect> {
    h.char('R');
    h.settle();
    h.char('y');
    let phase = h.state.rollback_phase().expect("rollback steps");
    finish_step(h, phase, 0)
}

fn quit(h: &mut Harness) -> Vec<Effect> {
    h.char('q')
}

fn quit_outcome(fx: &[Effect]) -> (i32, Option<Outcome>) {
    journal_events(fx)
        .into_iter()
        .find_map(|e| match e {
            Event::Quit {
                exit_code, outcome, ..
            } => Some((exit_code, outcome)),
            _ => None,
        })
        .expect("the quit is journaled")
}

#[test]
fn verify_after_a_rollback_waits_for_the_health_check_to_recover_then_passes() {
    let mut h = deployed_then_alerting();
    roll_back(&mut h);
    // Still unhealthy right after the rollback: verify does not judge yet, it waits with a countdown.
    let run = h.state.release.rollback.as_ref().expect("rollback");
    assert!(
        matches!(run.step, RollbackStep::Recovering { .. }),
        "{:?}",
        run.step
    );
    assert_eq!(h.state.release.verify.result, None, "not judged yet");
    let (screen, _) = h.screen();
    assert!(
        screen.contains("waiting for") && screen.contains("health to recover"),
        "the wait is shown:\n{screen}"
    );
    let left = |h: &Harness| release::recovery_left(&h.state).expect("a countdown");
    let first = left(&h);
    h.wait(Duration::from_secs(1));
    h.act(Action::Tick);
    assert!(left(&h) < first, "it counts down");
    // The next tick comes within a second, for the countdown.
    assert!(h.state.next_tick().expect("a tick") <= h.now + Duration::from_secs(1));

    // The service answers again; the alert clears after a calm window; then verify runs and passes.
    let mut fx = Vec::new();
    for _ in 0..18 {
        fx.extend(feed(&mut h, up()));
        if h.state.release.verify.result.is_some() {
            break;
        }
    }
    assert_eq!(h.state.release.verify.result, Some(true), "{fx:?}");
    let run = h.state.release.rollback.as_ref().expect("rollback");
    assert_eq!(run.step, RollbackStep::Done);
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("verify after rollback passed"),
        "{:?}",
        h.state.flash
    );
    // A rolled-back release: the deploy is no longer shown as passed.
    assert_eq!(
        release::status(&h.state, Stage::Deploy),
        StageStatus::RolledBack
    );
    let (screen, _) = h.screen();
    assert!(screen.contains("ROLLED BACK"), "header:\n{screen}");
    assert!(!screen.contains("✓ ! Deploy"), "row:\n{screen}");
    assert_eq!(release::outcome(&h.state), Outcome::RolledBack);
    let (code, outcome) = quit_outcome(&quit(&mut h));
    assert_eq!((code, outcome), (5, Some(Outcome::RolledBack)));
}

#[test]
fn verify_after_a_rollback_judges_when_the_wait_runs_out_and_the_run_fails() {
    let mut h = deployed_then_alerting();
    roll_back(&mut h);
    assert_eq!(h.state.release.verify.result, None);
    let mut fx = Vec::new();
    for _ in 0..30 {
        fx.extend(feed(&mut h, down()));
        fx.extend(h.act(Action::Tick));
        if h.state.release.verify.result.is_some() {
            break;
        }
    }
    assert_eq!(h.state.release.verify.result, Some(false), "{fx:?}");
    let run = h.state.release.rollback.as_ref().expect("rollback");
    assert_eq!(run.step, RollbackStep::Done);
    assert!(
        run.detail
            .iter()
            .any(|d| d.contains("verify after rollback FAILED")),
        "{:?}",
        run.detail
    );
    assert_eq!(release::outcome(&h.state), Outcome::Failed);
    let (screen, _) = h.screen();
    assert!(screen.contains("FAILED"), "header:\n{screen}");
    let (code, outcome) = quit_outcome(&quit(&mut h));
    assert_eq!((code, outcome), (1, Some(Outcome::Failed)));
}

#[test]
fn a_rollback_with_health_already_fine_verifies_at_once() {
    let mut h = Harness::new(plan_from(PLAN));
    for _ in 0..3 {
        feed(&mut h, up());
    }
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    h.char('y');
    finish_step(&mut h, 0, 0);
    feed(&mut h, up());
    roll_back(&mut h);
    assert_eq!(h.state.release.verify.result, Some(true));
    assert_eq!(
        h.state.release.rollback.as_ref().map(|r| r.step),
        Some(RollbackStep::Done)
    );
}

#[test]
fn a_signed_off_run_with_a_cancelled_phase_exits_0() {
    let mut h = Harness::new(plan_from(PLAN));
    for _ in 0..3 {
        feed(&mut h, up());
    }
    // A read-only phase started and cancelled.
    h.select_phase(1);
    h.key(KeyCode::Enter);
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: StepId { phase: 1, step: 0 },
        outcome: StepOutcome::Cancelled,
        duration: Duration::from_secs(1),
    }));
    assert_eq!(h.state.phases[1].status, PhaseStatus::Cancelled);
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    h.char('y');
    finish_step(&mut h, 0, 0);
    feed(&mut h, up());
    // Sign off; the stages not passed are gone past with typed reasons.
    h.state.selected = h
        .state
        .rows()
        .iter()
        .position(|r| *r == Row::Stage(Stage::SignOff))
        .expect("row");
    for _ in 0..4 {
        h.key(KeyCode::Enter);
        if h.state.release.signoff.is_some() {
            break;
        }
        h.settle();
        h.type_text("the warm-up is optional; verified by hand");
        h.key(KeyCode::Enter);
    }
    assert!(h.state.release.signoff.is_some(), "the form opens");
    h.type_text("v2 out");
    h.wait(KEY_GAP);
    h.act(Action::Key(
        crossterm::event::KeyEvent::new(
            KeyCode::Char('s'),
            crossterm::event::KeyModifiers::CONTROL,
        )
        .into(),
    ));
    assert!(h.state.release.signed.is_some());
    assert_eq!(release::outcome(&h.state), Outcome::SignedOff);
    let (code, outcome) = quit_outcome(&quit(&mut h));
    assert_eq!((code, outcome), (0, Some(Outcome::SignedOff)));
}

#[test]
fn quitting_before_sign_off_is_unfinished_and_a_failed_step_is_failed() {
    let mut h = Harness::new(plan_from(PLAN));
    assert_eq!(release::outcome(&h.state), Outcome::Unfinished);
    let (code, outcome) = quit_outcome(&quit(&mut h));
    assert_eq!((code, outcome), (1, Some(Outcome::Unfinished)));

    let mut h = Harness::new(plan_from(PLAN));
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    h.char('y');
    finish_step(&mut h, 0, 3);
    assert_eq!(release::outcome(&h.state), Outcome::Failed);
    let (screen, _) = h.screen();
    assert!(screen.contains("FAILED"), "header:\n{screen}");
    let (code, outcome) = quit_outcome(&quit(&mut h));
    assert_eq!((code, outcome), (1, Some(Outcome::Failed)));
}

#[test]
fn quitting_while_a_step_runs_is_aborted() {
    let mut h = Harness::new(plan_from(PLAN));
    h.select_phase(1);
    h.key(KeyCode::Enter);
    h.char('q');
    h.settle();
    h.char('y');
    let fx = h.act(Action::Runner(RunnerEvent::StepFinished {
        id: StepId { phase: 1, step: 0 },
        outcome: StepOutcome::Cancelled,
        duration: Duration::from_secs(1),
    }));
    let (code, outcome) = quit_outcome(&fx);
    assert_eq!((code, outcome), (1, Some(Outcome::Aborted)));
}
