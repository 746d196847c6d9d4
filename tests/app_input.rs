//! Input layers in `update()`: a key reaches exactly one layer (text input > prompt > overlay > panes); alerts are
//! notifications that never take keys; a typed answer is judged by when its keys were read, not when deckhand got
//! round to them. Each defect seen in trials is reproduced here the way it was seen.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use deckhand::app::release::Stage;
use deckhand::app::{Action, Effect, ModalKind, PhaseStatus, QuitState, Row};
use deckhand::journal::Event;
use deckhand::runner::{Probe, RunnerEvent, StepId, StepOutcome};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "production"

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]

[[health]]
name = "api"
url = "https://api.example.com/health"
window = "1m"
baseline_samples = 3
insecure = true

[monitor]
duration = "15m"

[rollback]
steps = [{ run = "./rollback.sh" }]
"#;

const PROBE_GAP: Duration = Duration::from_secs(10);

fn probe(h: &mut Harness, ok: bool) -> Vec<Effect> {
    h.wait(PROBE_GAP);
    let probe = if ok {
        Probe::Up {
            status: 200,
            latency: Duration::from_millis(100),
        }
    } else {
        Probe::Down {
            status: Some(500),
            latency: Duration::from_millis(100),
            why: "status 500, expected 200-299".into(),
        }
    };
    h.act(Action::Runner(RunnerEvent::HealthProbe { check: 0, probe }))
}

/// The baseline is collected, the deploy phase ran (confirmed by typing the environment): alerts are armed.
fn deployed() -> Harness {
    let mut h = Harness::new(plan_from(PLAN));
    for _ in 0..3 {
        probe(&mut h, true);
    }
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    assert_eq!(starts(&fx), vec![StepId { phase: 0, step: 0 }], "{fx:?}");
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: StepId { phase: 0, step: 0 },
        outcome: StepOutcome::Exited(0),
        duration: Duration::from_secs(3),
    }));
    h.wait(Duration::from_secs(120));
    h
}

/// Three failing probes in a row: the error ratio passes 5% and an alert is raised.
fn raise_alert(h: &mut Harness) -> Vec<Effect> {
    let mut fx = Vec::new();
    for _ in 0..3 {
        fx.extend(probe(h, false));
    }
    assert!(
        journal_events(&fx)
            .iter()
            .any(|e| matches!(e, Event::HealthAlert { .. })),
        "the alert is raised and journaled: {fx:?}"
    );
    fx
}

/// Opens the sign-off form, typing a reason for the stages that have not passed.
fn open_signoff(h: &mut Harness) {
    h.char('S');
    while let Some(m) = h.state.modal.as_ref() {
        assert!(
            matches!(m.kind, ModalKind::StageOverride(..)),
            "only stage gates stand before sign-off: {:?}",
            m.kind
        );
        h.settle();
        h.type_text("monitoring by hand");
        h.key(KeyCode::Enter);
    }
    assert!(h.state.release.signoff.is_some(), "the form opens");
}

fn no_answer_recorded(fx: &[Effect]) {
    let answered: Vec<_> = journal_events(fx)
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::HealthAlertAnswered { .. }
                    | Event::ConfirmationDeclined { .. }
                    | Event::ConfirmationGiven { .. }
            )
        })
        .collect();
    assert!(answered.is_empty(), "an answer nobody gave: {answered:?}");
}

fn ctrl(h: &mut Harness, c: char) -> Vec<Effect> {
    h.wait(KEY_GAP);
    h.act(Action::Key(
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL).into(),
    ))
}

/// Defect: version 2's errors passed 5% while the operator typed sign-off notes; the alert prompt opened over the
/// text area, swallowed keys in its guard, and `n` answered it ("declined: other key: n").
#[test]
fn an_alert_while_typing_sign_off_notes_takes_no_key_and_is_queued() {
    let mut h = deployed();
    open_signoff(&mut h);
    let mut fx = h.type_text("rel");
    fx.extend(raise_alert(&mut h));
    fx.extend(h.type_text("ate, no rollback"));
    no_answer_recorded(&fx);
    assert!(h.state.modal.is_none(), "no prompt opened over the notes");
    let form = h
        .state
        .release
        .signoff
        .as_ref()
        .expect("the form is still open");
    assert_eq!(form.notes_text(), "relate, no rollback", "every key typed");
    // Shown at once, and waiting in the queue for the operator.
    assert_eq!(h.state.health.queue().len(), 1);
    let text = h.screen_at(80, 24).0;
    assert!(text.contains("ALERT"), "the header shows it:\n{text}");
    // The notes are signed as typed.
    let fx = ctrl(&mut h, 's');
    assert!(
        journal_events(&fx)
            .iter()
            .any(|e| matches!(e, Event::SignedOff { notes, .. } if notes == "relate, no rollback")),
        "{fx:?}"
    );
}

/// Defect: at 200x50 the `S` itself went to the alert.
#[test]
fn a_key_pressed_just_after_an_alert_goes_to_the_screen_it_was_typed_for() {
    let mut h = deployed();
    h.act(Action::Resize {
        width: 200,
        height: 50,
    });
    let mut fx = raise_alert(&mut h);
    fx.extend(h.char('S'));
    no_answer_recorded(&fx);
    assert!(
        h.state.release.signoff.is_some()
            || matches!(
                h.state.modal.as_ref().map(|m| &m.kind),
                Some(ModalKind::StageOverride(_, Stage::Monitor | Stage::Verify))
            ),
        "S asked for the sign-off"
    );
}

/// Defect: alerts kept opening prompts after sign-off; `q` was eaten three times.
#[test]
fn after_sign_off_an_alert_is_journaled_and_shown_and_q_quits() {
    let mut h = deployed();
    open_signoff(&mut h);
    h.type_text("done");
    ctrl(&mut h, 's');
    assert!(h.state.release.signed.is_some());
    let mut fx = raise_alert(&mut h);
    assert!(h.state.modal.is_none(), "nothing pushed at the operator");
    fx.extend(h.char('q'));
    no_answer_recorded(&fx);
    assert_eq!(h.state.quit, QuitState::Done, "q quits at once");
}

/// `A` shows the alerts and acknowledges them (journaled as the operator's own act); `R` keeps its own prompt.
#[test]
fn a_acknowledges_the_queued_alerts_and_r_offers_the_rollback() {
    let mut h = deployed();
    raise_alert(&mut h);
    h.char('A');
    let text = h.screen_at(80, 24).0;
    assert!(
        text.contains("errors 100% over 1m"),
        "the alert's reason:\n{text}"
    );
    let fx = h.key(KeyCode::Enter);
    assert!(
        journal_events(&fx)
            .iter()
            .any(|e| matches!(e, Event::AlertsAcknowledged { alerts, .. } if alerts.len() == 1)),
        "{fx:?}"
    );
    assert!(h.state.health.queue().is_empty(), "acknowledged");
    // Still raised (not cleared): the header says so, and R leads to the rollback's own confirmation.
    assert!(h.state.health.checks[0].alert.is_some());
    h.char('R');
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::Rollback(_))
    ));
}

/// Defect: keys read 120 ms apart (a person typing) but processed together after a stall of deckhand itself looked
/// like a paste, and the answer was voided.
#[test]
fn keys_read_apart_but_processed_together_after_a_stall_confirm() {
    let mut h = Harness::new(plan_from(PLAN));
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    let typed_from = h.now;
    // deckhand stalls; meanwhile the keys are read as the person types them, 120 ms apart.
    h.wait(Duration::from_secs(2));
    let mut fx = Vec::new();
    for (i, c) in "production".chars().enumerate() {
        let read = typed_from + Duration::from_millis(120 * (i as u64 + 1));
        fx.extend(h.key_read_at(KeyCode::Char(c), read));
    }
    let read = typed_from + Duration::from_millis(120 * 11);
    fx.extend(h.key_read_at(KeyCode::Enter, read));
    assert_eq!(starts(&fx), vec![StepId { phase: 0, step: 0 }], "{fx:?}");
    assert_eq!(h.state.phases[0].status, PhaseStatus::Running);
}

/// SIGSTOP while typing: the keys typed during the stop are all read at once when deckhand continues. The event
/// loop marks the keys of that wake-up as read after a stall: the answer stands.
#[test]
fn keys_read_together_right_after_a_stall_confirm() {
    let mut h = Harness::new(plan_from(PLAN));
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    h.type_text("prod");
    h.wait(Duration::from_secs(5));
    let mut fx = Vec::new();
    for c in "uction".chars() {
        fx.extend(h.key_after_stall(KeyCode::Char(c)));
    }
    // Enter, typed after deckhand went on, arrives a person's gap later.
    fx.extend(h.key(KeyCode::Enter));
    assert_eq!(starts(&fx), vec![StepId { phase: 0, step: 0 }], "{fx:?}");
}

/// The layer in force decides who gets a key: a typed `q` in the logs filter is text, not quit.
#[test]
fn each_key_reaches_exactly_one_layer() {
    use deckhand::app::Layer;
    let mut h = deployed();
    assert_eq!(deckhand::app::layer(&h.state), Layer::Panes);
    h.char('?');
    assert_eq!(deckhand::app::layer(&h.state), Layer::Help);
    h.key(KeyCode::Esc);
    h.char('/');
    assert_eq!(deckhand::app::layer(&h.state), Layer::Text);
    h.type_text("q");
    assert_eq!(h.state.quit, QuitState::No);
    h.key(KeyCode::Enter);
    assert_eq!(deckhand::app::layer(&h.state), Layer::Panes);
    // The filter left the logs pane focused, where Enter shows a line whole; the checklist runs phases.
    h.char('1');
    h.state.selected = h
        .state
        .rows()
        .iter()
        .position(|r| *r == Row::Phase(0))
        .unwrap();
    h.key(KeyCode::Enter);
    assert_eq!(deckhand::app::layer(&h.state), Layer::Text, "typed answer");
}
