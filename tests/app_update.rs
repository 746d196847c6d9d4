//! `update()` tests: confirmation rules, the checklist gate, step sequencing, cancel and quit — by feeding
//! actions and asserting state and effects, with no terminal and no processes.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use deckhand::app::{Action, Effect, Gated, ModalKind, Pane, PhaseStatus, QuitState, Signal};
use deckhand::journal::Event;
use deckhand::runner::{OutputLine, RunnerEvent, StepId, StepOutcome, Stream};

const DEPLOY: usize = 1;

fn deploy_id(step: usize) -> StepId {
    StepId {
        phase: DEPLOY,
        step,
    }
}

fn finished(h: &mut Harness, id: StepId, outcome: StepOutcome) -> Vec<Effect> {
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id,
        outcome,
        duration: Duration::from_millis(120),
    }))
}

/// Opens the confirmation for the destructive phase with the checklist complete.
fn open_deploy_confirm(h: &mut Harness) {
    h.tick_all();
    h.select_phase(DEPLOY);
    let fx = h.key(KeyCode::Enter);
    assert!(
        starts(&fx).is_empty(),
        "a destructive phase must not start before confirmation"
    );
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::RunPhase(DEPLOY))
    ));
}

#[test]
fn keys_before_the_prompt_is_drawn_are_ignored() {
    let mut h = Harness::staging();
    open_deploy_confirm(&mut h);
    // A slow journal write delayed the frame: the prompt is not on screen yet, however long ago it opened.
    h.wait(Duration::from_secs(2));
    let fx = h.char('y');
    assert!(starts(&fx).is_empty());
    assert!(h.state.modal.is_some());
    h.settle();
    assert_eq!(starts(&h.char('y')), vec![deploy_id(0)]);
}

#[test]
fn keys_in_the_first_300ms_are_ignored() {
    let mut h = Harness::staging();
    open_deploy_confirm(&mut h);
    h.act(Action::ModalShown);
    h.wait(Duration::from_millis(100));
    let fx = h.char('y');
    assert!(starts(&fx).is_empty());
    assert!(
        h.state.modal.is_some(),
        "an early key neither confirms nor cancels"
    );
    h.wait(Duration::from_millis(250));
    let fx = h.char('y');
    assert_eq!(starts(&fx), vec![deploy_id(0)]);
    assert!(h.state.modal.is_none());
    assert!(journal_events(&fx).contains(&Event::ConfirmationGiven {
        what: "Run destructive phase: Deploy".into(),
        typed: "y".into()
    }));
}

#[test]
fn any_other_key_cancels_a_yes_prompt_and_is_journaled() {
    let mut h = Harness::staging();
    open_deploy_confirm(&mut h);
    h.settle();
    let fx = h.char('n');
    assert!(starts(&fx).is_empty());
    assert!(h.state.modal.is_none());
    assert!(
        matches!(&journal_events(&fx)[..], [Event::ConfirmationDeclined { typed, .. }] if typed.is_empty())
    );
    assert_eq!(h.state.phases[DEPLOY].status, PhaseStatus::Pending);
}

#[test]
fn paste_never_confirms() {
    let mut h = Harness::staging();
    open_deploy_confirm(&mut h);
    h.settle();
    for pasted in ["y", "yes\n", "production\r"] {
        let fx = h.act(Action::Paste(pasted.into()));
        assert!(fx.is_empty(), "a paste produced effects: {fx:?}");
    }
    let modal = h.state.modal.as_ref().expect("still open");
    assert!(modal.input.is_empty());
    assert!(
        modal
            .note
            .as_deref()
            .unwrap_or("")
            .contains("Pasted text is ignored")
    );

    let mut p = Harness::new(production_plan());
    p.tick_all();
    p.select_phase(DEPLOY);
    p.key(KeyCode::Enter);
    p.settle();
    p.act(Action::Paste("production".into()));
    let fx = p.key(KeyCode::Enter);
    assert!(
        starts(&fx).is_empty(),
        "pasted text must not count as typed"
    );
}

#[test]
fn production_needs_the_environment_name_typed() {
    let mut h = Harness::new(production_plan());
    h.tick_all();
    h.select_phase(DEPLOY);
    h.key(KeyCode::Enter);
    h.settle();
    // `y` is just a character here.
    let fx = h.char('y');
    assert!(starts(&fx).is_empty());
    assert_eq!(h.state.modal.as_ref().map(|m| m.input.as_str()), Some("y"));
    let fx = h.key(KeyCode::Enter);
    assert!(starts(&fx).is_empty(), "'y' is not the environment name");
    assert!(h.state.modal.is_none(), "wrong text cancels");
    assert!(
        matches!(&journal_events(&fx)[..], [Event::ConfirmationDeclined { typed, .. }] if typed == "y")
    );

    h.key(KeyCode::Enter);
    h.settle();
    h.type_text("productoin");
    h.key(KeyCode::Backspace);
    h.key(KeyCode::Backspace);
    h.key(KeyCode::Backspace);
    h.type_text("ion");
    let fx = h.key(KeyCode::Enter);
    assert_eq!(starts(&fx), vec![deploy_id(0)]);
    assert!(journal_events(&fx).contains(&Event::ConfirmationGiven {
        what: "Run destructive phase: Deploy".into(),
        typed: "production".into()
    }));
}

#[test]
fn an_unbracketed_paste_of_the_answer_never_confirms() {
    let mut h = Harness::new(production_plan());
    h.tick_all();
    h.select_phase(DEPLOY);
    h.key(KeyCode::Enter);
    h.settle();
    // "production\r" arriving as keys with no gap between them, as a paste does without bracketed paste.
    h.char('p');
    for c in "roduction".chars() {
        h.burst_key(KeyCode::Char(c));
    }
    let fx = h.burst_key(KeyCode::Enter);
    assert!(starts(&fx).is_empty(), "a burst must not confirm");
    let modal = h.state.modal.as_ref().expect("the prompt stays open");
    assert!(modal.input.is_empty(), "the pasted text is thrown away");
    assert!(
        modal
            .note
            .as_deref()
            .unwrap_or("")
            .contains("faster than anyone types")
    );
    // Typed by a person, it confirms.
    h.type_text("production");
    assert_eq!(starts(&h.key(KeyCode::Enter)), vec![deploy_id(0)]);
}

#[test]
fn any_other_key_cancels_a_typed_prompt() {
    let mut h = Harness::new(production_plan());
    h.tick_all();
    h.select_phase(DEPLOY);
    h.key(KeyCode::Enter);
    h.settle();
    h.type_text("prod");
    let fx = h.key(KeyCode::Tab);
    assert!(h.state.modal.is_none());
    assert!(
        matches!(&journal_events(&fx)[..], [Event::ConfirmationDeclined { typed, why, .. }]
        if typed == "prod" && why.contains("Tab"))
    );
}

#[test]
fn production_prefix_or_case_variant_is_refused() {
    for typed in ["prod", "PRODUCTION", "production "] {
        let mut h = Harness::new(production_plan());
        h.tick_all();
        h.select_phase(DEPLOY);
        h.key(KeyCode::Enter);
        h.settle();
        h.type_text(typed);
        let fx = h.key(KeyCode::Enter);
        assert!(starts(&fx).is_empty(), "{typed:?} must not confirm");
    }
}

#[test]
fn checklist_gate_asks_for_a_reason_before_the_first_destructive_phase() {
    let mut h = Harness::staging();
    h.state.checked[0] = true;
    h.select_phase(DEPLOY);
    let fx = h.key(KeyCode::Enter);
    assert!(starts(&fx).is_empty());
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::ChecklistOverride(Gated::Phase(DEPLOY)))
    ));
    h.settle();
    let fx = h.key(KeyCode::Enter);
    assert!(
        fx.is_empty() && h.state.modal.is_some(),
        "an empty reason is not accepted"
    );
    h.type_text("hotfix, PM approved");
    let fx = h.key(KeyCode::Enter);
    assert!(
        starts(&fx).is_empty(),
        "the override leads to the confirmation, not straight to running"
    );
    assert!(journal_events(&fx).contains(&Event::ChecklistOverridden {
        reason: "hotfix, PM approved".into(),
        unticked: vec!["Team notified".into()],
    }));
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::RunPhase(DEPLOY))
    ));
    h.settle();
    assert_eq!(starts(&h.char('y')), vec![deploy_id(0)]);
}

#[test]
fn escape_on_the_gate_runs_nothing() {
    let mut h = Harness::staging();
    h.select_phase(DEPLOY);
    h.key(KeyCode::Enter);
    h.settle();
    h.type_text("because");
    let fx = h.key(KeyCode::Esc);
    assert!(starts(&fx).is_empty());
    assert!(h.state.modal.is_none() && h.state.checklist_override.is_none());
}

#[test]
fn harmless_phase_runs_without_confirmation_or_checklist() {
    let mut h = Harness::staging();
    h.select_phase(0);
    let fx = h.key(KeyCode::Enter);
    assert_eq!(starts(&fx), vec![StepId { phase: 0, step: 0 }]);
    assert!(h.state.modal.is_none());
    assert_eq!(
        h.state.side,
        Pane::Logs,
        "the logs pane comes forward when a phase starts"
    );
}

#[test]
fn steps_run_in_order_and_a_failure_stops_the_phase() {
    let mut h = Harness::staging();
    open_deploy_confirm(&mut h);
    h.settle();
    h.char('y');
    let fx = finished(&mut h, deploy_id(0), StepOutcome::Exited(0));
    assert_eq!(starts(&fx), vec![deploy_id(1)]);
    assert_eq!(h.state.running(), Some(deploy_id(1)));
    let fx = finished(&mut h, deploy_id(1), StepOutcome::Exited(3));
    assert!(starts(&fx).is_empty());
    assert_eq!(h.state.phases[DEPLOY].status, PhaseStatus::Failed);
    assert_eq!(h.state.running(), None);
    assert!(journal_events(&fx).contains(&Event::StepFinished {
        phase: "Deploy".into(),
        step: 2,
        destructive: true,
        outcome: deckhand::journal::StepResult::Exited,
        exit_code: Some(3),
        signal: None,
        detail: String::new(),
        duration_ms: 120,
    }));
    assert_eq!(
        deckhand::app::release::outcome(&h.state),
        deckhand::journal::Outcome::Failed
    );
    let fx = h.char('q');
    assert!(fx.contains(&Effect::Quit));
    assert!(journal_events(&fx).contains(&Event::Quit {
        exit_code: 1,
        reason: "operator quit".into(),
        outcome: Some(deckhand::journal::Outcome::Failed),
    }));
}

#[test]
fn a_second_phase_cannot_start_while_one_runs() {
    let mut h = Harness::staging();
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.select_phase(0);
    let fx = h.key(KeyCode::Enter);
    assert!(starts(&fx).is_empty());
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("Not now: a step is under way")
    );
}

#[test]
fn quit_when_idle_is_immediate_and_clean() {
    let mut h = Harness::staging();
    let fx = h.char('q');
    assert!(fx.contains(&Effect::Quit));
    // Nothing failed, nothing signed off: unfinished, exit 1.
    assert_eq!(
        deckhand::app::release::outcome(&h.state),
        deckhand::journal::Outcome::Unfinished
    );
    assert_eq!(deckhand::app::release::outcome(&h.state).exit_code(), 1);
}

#[test]
fn quit_while_running_asks_then_cancels_and_waits_for_the_step() {
    let mut h = Harness::staging();
    h.select_phase(0);
    h.key(KeyCode::Enter);
    let fx = h.char('q');
    assert!(!fx.contains(&Effect::Quit));
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::Quit)
    ));
    h.settle();
    let fx = h.char('y');
    let smoke = StepId { phase: 0, step: 0 };
    assert!(fx.contains(&Effect::CancelStep(smoke)));
    assert!(
        !fx.contains(&Effect::Quit),
        "deckhand waits until the step's processes are gone"
    );
    assert_eq!(h.state.quit, QuitState::AfterStep);
    let fx = finished(&mut h, smoke, StepOutcome::Cancelled);
    assert!(fx.contains(&Effect::Quit));
    assert_eq!(h.state.phases[0].status, PhaseStatus::Cancelled);
    assert_eq!(
        deckhand::app::release::outcome(&h.state).exit_code(),
        1,
        "an aborted run exits 1"
    );
}

#[test]
fn declining_quit_keeps_the_step_running() {
    let mut h = Harness::staging();
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.char('q');
    h.settle();
    let fx = h.key(KeyCode::Esc);
    assert!(
        fx.iter()
            .all(|e| !matches!(e, Effect::CancelStep(_) | Effect::Quit))
    );
    assert_eq!(h.state.quit, QuitState::No);
    assert!(h.state.running().is_some());
}

#[test]
fn ctrl_c_is_quit_and_asks_while_running() {
    let mut h = Harness::staging();
    h.select_phase(0);
    h.key(KeyCode::Enter);
    let fx = h.act(Action::Key(
        KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL).into(),
    ));
    assert!(!fx.contains(&Effect::Quit));
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::Quit)
    ));
}

#[test]
fn cancel_asks_first() {
    let mut h = Harness::staging();
    assert!(h.char('c').is_empty(), "nothing to cancel");
    h.select_phase(0);
    h.key(KeyCode::Enter);
    let fx = h.char('c');
    assert!(!fx.iter().any(|e| matches!(e, Effect::CancelStep(_))));
    h.settle();
    let fx = h.char('y');
    assert!(fx.contains(&Effect::CancelStep(StepId { phase: 0, step: 0 })));
    assert!(h.state.op.is_some_and(deckhand::app::Operation::cancelling));
}

#[test]
fn hangup_lets_the_running_step_finish_starts_nothing_new_then_quits() {
    let mut h = Harness::staging();
    h.select_phase(0);
    h.key(KeyCode::Enter);
    let fx = h.act(Action::Signal(Signal::Hangup));
    assert!(h.state.terminal_lost, "no drawing after SIGHUP");
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::CancelStep(_))),
        "the step in flight is left to finish: {fx:?}"
    );
    assert!(!fx.contains(&Effect::Quit));
    assert!(journal_events(&fx).contains(&Event::Signal {
        name: "SIGHUP".into()
    }));
    let fx = finished(&mut h, StepId { phase: 0, step: 0 }, StepOutcome::Exited(0));
    assert!(starts(&fx).is_empty(), "nothing new starts: {fx:?}");
    assert!(fx.contains(&Effect::Quit));
    assert!(matches!(
        h.state.phases[0].status,
        PhaseStatus::Interrupted | PhaseStatus::Succeeded
    ));
    assert_eq!(h.state.next_tick(), None);
}

#[test]
fn terminate_when_idle_quits_at_once_as_aborted() {
    let mut h = Harness::staging();
    let fx = h.act(Action::Signal(Signal::Terminate));
    assert!(fx.contains(&Effect::Quit));
    assert_eq!(deckhand::app::release::outcome(&h.state).exit_code(), 1);
}

#[test]
fn paused_logs_stay_anchored_while_output_arrives() {
    let mut h = Harness::staging();
    h.select_phase(0);
    h.key(KeyCode::Enter);
    let id = StepId { phase: 0, step: 0 };
    let batch = |n: usize| {
        Action::Runner(RunnerEvent::Output {
            id,
            lines: (0..n)
                .map(|i| OutputLine {
                    stream: Stream::Stdout,
                    text: format!("line {i}"),
                    truncated: false,
                })
                .collect(),
        })
    };
    h.act(batch(100));
    h.state.focus = Pane::Logs;
    h.key(KeyCode::PageUp);
    let offset = h.state.log_offset;
    assert!(offset > 0, "PgUp pauses following");
    h.act(batch(10));
    assert_eq!(h.state.log_offset, offset + 10);
    h.char('G');
    assert_eq!(h.state.log_offset, 0, "G follows again");
}

#[test]
fn checklist_ticks_are_journaled() {
    let mut h = Harness::staging();
    let fx = h.char(' ');
    assert_eq!(h.state.checked, vec![true, false]);
    assert_eq!(
        journal_events(&fx),
        vec![Event::ChecklistTicked {
            index: 0,
            item: "Staging verification complete".into(),
            checked: true
        }]
    );
    h.char(' ');
    assert_eq!(h.state.checked, vec![false, false]);
}

#[test]
fn step_started_is_journaled_with_pid_and_log() {
    let mut h = Harness::staging();
    open_deploy_confirm(&mut h);
    h.settle();
    h.char('y');
    let fx = h.act(Action::Runner(RunnerEvent::StepStarted {
        id: deploy_id(0),
        pid: 4242,
        log_path: PathBuf::from("/tmp/x.log"),
    }));
    assert_eq!(
        journal_events(&fx),
        vec![Event::StepStarted {
            phase: "Deploy".into(),
            step: 1,
            command: "./deploy.sh --all".into(),
            destructive: true,
            pid: 4242,
            log: "/tmp/x.log".into(),
        }]
    );
}

#[test]
fn idle_console_wakes_only_each_minute_running_one_each_second() {
    let mut h = Harness::staging();
    h.wait(Duration::from_secs(5));
    h.act(Action::Resize {
        width: 80,
        height: 24,
    });
    assert_eq!(h.state.next_tick(), Some(h.t0 + Duration::from_secs(60)));
    h.select_phase(0);
    h.key(KeyCode::Enter);
    let started = h.now;
    h.wait(Duration::from_millis(1500));
    h.act(Action::Tick);
    assert_eq!(h.state.next_tick(), Some(started + Duration::from_secs(2)));
}

/// Starts the two-step destructive phase and lets its first step succeed while `prompt` is open.
fn first_step_ends_while_prompt_open(prompt: char) -> Harness {
    let mut h = Harness::staging();
    open_deploy_confirm(&mut h);
    h.settle();
    h.char('y');
    h.char(prompt);
    assert!(h.state.modal.is_some(), "{prompt} asks first");
    let fx = finished(&mut h, deploy_id(0), StepOutcome::Exited(0));
    assert!(
        starts(&fx).is_empty(),
        "no new step starts while the operator decides whether to stop"
    );
    assert_eq!(h.state.held, Some(deploy_id(1)));
    h
}

#[test]
fn declining_a_cancel_prompt_resumes_the_held_step() {
    let mut h = first_step_ends_while_prompt_open('c');
    h.settle();
    let fx = h.char('n');
    assert_eq!(starts(&fx), vec![deploy_id(1)]);
    assert!(!h.state.op.is_some_and(deckhand::app::Operation::cancelling));
}

#[test]
fn confirming_a_cancel_prompt_after_the_step_ended_cancels_the_phase_not_the_next_step() {
    let mut h = first_step_ends_while_prompt_open('c');
    h.settle();
    let fx = h.char('y');
    assert!(starts(&fx).is_empty());
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::CancelStep(_))),
        "nothing runs, nothing to signal"
    );
    assert_eq!(h.state.phases[DEPLOY].status, PhaseStatus::Cancelled);
    assert!(
        !h.state.op.is_some_and(deckhand::app::Operation::cancelling),
        "no stale cancelling flag"
    );
    assert_eq!(h.state.held, None);
}

#[test]
fn confirming_quit_between_steps_quits_without_starting_the_next() {
    let mut h = first_step_ends_while_prompt_open('q');
    h.settle();
    let fx = h.char('y');
    assert!(starts(&fx).is_empty());
    assert!(fx.contains(&Effect::Quit));
    assert_eq!(h.state.phases[DEPLOY].status, PhaseStatus::Cancelled);
    assert_eq!(deckhand::app::release::outcome(&h.state).exit_code(), 1);
}

#[test]
fn a_stale_cancel_prompt_does_not_poison_the_next_phase() {
    let mut h = Harness::staging();
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.char('c');
    finished(&mut h, StepId { phase: 0, step: 0 }, StepOutcome::Exited(0));
    h.settle();
    let fx = h.char('y');
    assert!(!fx.iter().any(|e| matches!(e, Effect::CancelStep(_))));
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("Nothing to cancel")
    );
    assert!(!h.state.op.is_some_and(deckhand::app::Operation::cancelling));
    assert_eq!(h.state.phases[0].status, PhaseStatus::Succeeded);
    // The next phase runs through, and can itself be cancelled.
    open_deploy_confirm(&mut h);
    h.settle();
    h.char('y');
    let fx = finished(&mut h, deploy_id(0), StepOutcome::Exited(0));
    assert_eq!(starts(&fx), vec![deploy_id(1)]);
    h.char('c');
    h.settle();
    assert!(h.char('y').contains(&Effect::CancelStep(deploy_id(1))));
}

#[test]
fn a_signal_while_a_prompt_is_open_journals_the_decline_and_cancels() {
    let mut h = Harness::staging();
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.char('c');
    let fx = h.act(Action::Signal(Signal::Terminate));
    assert!(h.state.modal.is_none());
    let events = journal_events(&fx);
    assert!(
        events.iter().any(
            |e| matches!(e, Event::ConfirmationDeclined { why, .. } if why.contains("SIGTERM"))
        )
    );
    assert!(fx.contains(&Effect::CancelStep(StepId { phase: 0, step: 0 })));
}

#[test]
fn unbound_keys_do_not_redraw() {
    let mut h = Harness::staging();
    h.state.dirty = false;
    h.char('z');
    assert!(!h.state.dirty);
    h.char('j');
    assert!(h.state.dirty);
}
