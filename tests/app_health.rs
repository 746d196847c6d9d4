//! `update()` tests for health checks and verify: consecutive thresholds, no data as inconclusive, the sliding
//! window's error ratio, latency against the baseline, the baseline frozen at the first destructive phase, alerts
//! journaled once per episode with their rollback prompt, the header and pane at 80x24, and the `v` key.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, HealthState, ModalKind, verify_passes};
use deckhand::journal::Event;
use deckhand::plan::CmpOp;
use deckhand::runner::{Probe, RunnerEvent};
use ratatui::style::Color;

const PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Smoke"
steps = [{ run = "echo smoke" }]

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]

[[health]]
name = "api"
url = "https://api.example.com/health"
fail_after = 2
recover_after = 2
window = "1m"
baseline_samples = 3
insecure = true

[[verify]]
name = "tables"
sql = "select count(*) from information_schema.tables"
expect = ">= 58"
"#;

const STEP: Duration = Duration::from_secs(10);

fn up(ms: u64) -> Probe {
    Probe::Up {
        status: 200,
        latency: Duration::from_millis(ms),
    }
}

fn down(ms: u64) -> Probe {
    Probe::Down {
        status: Some(500),
        latency: Duration::from_millis(ms),
        why: "status 500, expected 200-299".into(),
    }
}

fn none() -> Probe {
    Probe::NoAnswer {
        why: "cannot connect: Connection refused".into(),
    }
}

/// One probe of check 0, `STEP` after the previous one.
fn feed(h: &mut Harness, p: Probe) -> Vec<Effect> {
    h.wait(STEP);
    h.act(Action::Runner(RunnerEvent::HealthProbe {
        check: 0,
        probe: p,
    }))
}

fn state(h: &Harness) -> HealthState {
    h.state.health.checks[0].state
}

/// Runs the destructive phase (confirmed with `y`): the baselines freeze.
fn start_destructive(h: &mut Harness) -> Vec<Effect> {
    h.select_phase(1);
    let mut fx = h.key(KeyCode::Enter);
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::RunPhase(1))
    ));
    h.settle();
    fx.extend(h.char('y'));
    fx
}

fn alerts(fx: &[Effect]) -> Vec<String> {
    journal_events(fx)
        .into_iter()
        .filter_map(|e| match e {
            Event::HealthAlert { why, .. } => Some(why),
            _ => None,
        })
        .collect()
}

fn harness() -> Harness {
    Harness::new(plan_from(PLAN))
}

#[test]
fn init_starts_health_checks_only_when_the_plan_has_some() {
    let h = harness();
    assert!(deckhand::app::init(&h.state).contains(&Effect::StartHealthChecks));
    let plain = Harness::staging();
    assert!(!deckhand::app::init(&plain.state).contains(&Effect::StartHealthChecks));
}

#[test]
fn consecutive_thresholds_change_the_state() {
    let mut h = harness();
    assert_eq!(state(&h), HealthState::Starting);
    feed(&mut h, up(100));
    assert_eq!(
        state(&h),
        HealthState::Starting,
        "one success is not enough"
    );
    feed(&mut h, up(100));
    assert_eq!(state(&h), HealthState::Healthy);
    feed(&mut h, down(100));
    assert_eq!(state(&h), HealthState::Healthy, "one failure is not enough");
    feed(&mut h, up(100));
    feed(&mut h, down(100));
    assert_eq!(
        state(&h),
        HealthState::Healthy,
        "failures must be consecutive"
    );
    feed(&mut h, down(100));
    assert_eq!(state(&h), HealthState::Unhealthy);
    feed(&mut h, up(100));
    assert_eq!(state(&h), HealthState::Unhealthy);
    feed(&mut h, up(100));
    assert_eq!(state(&h), HealthState::Healthy);
}

#[test]
fn no_answer_is_inconclusive_never_healthy() {
    let mut h = harness();
    feed(&mut h, none());
    assert_eq!(state(&h), HealthState::Inconclusive);
    feed(&mut h, none());
    assert_eq!(state(&h), HealthState::Inconclusive);
    // An answer in between a refused connection does not make a run of successes.
    feed(&mut h, up(100));
    assert_eq!(state(&h), HealthState::Starting);
    feed(&mut h, none());
    feed(&mut h, up(100));
    assert_ne!(state(&h), HealthState::Healthy);
    feed(&mut h, up(100));
    assert_eq!(state(&h), HealthState::Healthy);
    // Healthy, then nothing answers: after fail_after probes, no data.
    feed(&mut h, none());
    assert_eq!(state(&h), HealthState::Healthy);
    feed(&mut h, none());
    assert_eq!(state(&h), HealthState::Inconclusive);
    let w = h.state.health.checks[0].window(h.now, Duration::from_secs(60));
    assert!(w.no_answer >= 2);
}

#[test]
fn a_window_with_only_no_answer_is_inconclusive() {
    let mut h = harness();
    feed(&mut h, up(100));
    feed(&mut h, up(100));
    assert_eq!(state(&h), HealthState::Healthy);
    // The answers age out of the window; only a refused connection is left.
    h.wait(Duration::from_secs(120));
    feed(&mut h, none());
    assert_eq!(state(&h), HealthState::Inconclusive);
    let w = h.state.health.checks[0].window(h.now, Duration::from_secs(60));
    assert_eq!((w.answered, w.no_answer), (0, 1));
    assert_eq!(w.error_ratio(), None, "no data is not 0% errors");
}

#[test]
fn baseline_is_frozen_at_the_first_destructive_phase_and_journaled() {
    let mut h = harness();
    for ms in [100, 120, 300, 90] {
        feed(&mut h, up(ms));
    }
    // A harmless phase does not freeze it.
    h.select_phase(0);
    let fx = h.key(KeyCode::Enter);
    assert!(
        !journal_events(&fx)
            .iter()
            .any(|e| matches!(e, Event::HealthBaseline { .. }))
    );
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: deckhand::runner::StepId { phase: 0, step: 0 },
        outcome: deckhand::runner::StepOutcome::Exited(0),
        duration: Duration::from_secs(1),
    }));
    assert!(!h.state.health.frozen);
    let fx = start_destructive(&mut h);
    assert!(h.state.health.frozen);
    // The first three probes (baseline_samples = 3), not the fourth.
    assert!(
        journal_events(&fx).contains(&Event::HealthBaseline {
            check: "api".into(),
            median_ms: Some(120),
            p95_ms: Some(300),
            median_value: None,
            p95_value: None,
            samples: 3,
            errors: 0,
            no_answer: 0,
            wanted: 3,
        }),
        "{fx:?}"
    );
    let b = h.state.health.checks[0].baseline.unwrap();
    feed(&mut h, up(5));
    assert_eq!(h.state.health.checks[0].baseline, Some(b), "frozen");
}

#[test]
fn an_early_destructive_phase_freezes_an_incomplete_or_inconclusive_baseline() {
    let mut h = harness();
    feed(&mut h, none());
    let fx = start_destructive(&mut h);
    assert!(journal_events(&fx).contains(&Event::HealthBaseline {
        check: "api".into(),
        median_ms: None,
        p95_ms: None,
        median_value: None,
        p95_value: None,
        samples: 1,
        errors: 0,
        no_answer: 1,
        wanted: 3,
    }));
    let notes: Vec<String> = h
        .state
        .logs
        .range(0, h.state.logs.len())
        .map(|l| l.text.to_string())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("from 1 of 3 samples")),
        "{notes:?}"
    );
    assert!(
        notes.iter().any(|n| n.contains("inconclusive")),
        "{notes:?}"
    );
    // No latency baseline: slow answers cannot raise a latency alert.
    let mut fx = Vec::new();
    for _ in 0..4 {
        fx.extend(feed(&mut h, up(5_000)));
    }
    assert!(alerts(&fx).is_empty(), "{fx:?}");
}

#[test]
fn no_alert_before_the_baseline_is_frozen() {
    let mut h = harness();
    let mut fx = Vec::new();
    for _ in 0..6 {
        fx.extend(feed(&mut h, down(100)));
    }
    assert!(alerts(&fx).is_empty());
    assert_eq!(state(&h), HealthState::Unhealthy);
}

/// Baseline of three 100 ms answers, frozen; the clock then moves past the window so it starts empty.
fn monitoring() -> Harness {
    let mut h = harness();
    for _ in 0..3 {
        feed(&mut h, up(100));
    }
    start_destructive(&mut h);
    h.wait(Duration::from_secs(120));
    h
}

#[test]
fn error_ratio_over_the_window_alerts_once_per_episode_and_clears() {
    let mut h = monitoring();
    let mut fx = Vec::new();
    for _ in 0..3 {
        fx.extend(feed(&mut h, up(100)));
    }
    assert!(alerts(&fx).is_empty());
    let fx = feed(&mut h, down(100));
    let got = alerts(&fx);
    assert_eq!(got.len(), 1, "{fx:?}");
    assert!(got[0].contains("errors 25% over 1m > 5%"), "{got:?}");
    assert_eq!(
        h.state.health.checks[0].alert.as_deref(),
        Some(got[0].as_str())
    );
    // A notification, never a prompt: it waits in the queue for the operator.
    assert!(h.state.modal.is_none());
    assert_eq!(h.state.health.queue().len(), 1);
    assert_eq!(h.state.health.queue()[0].why, got[0]);
    // Still alarming: no second alert.
    let fx = feed(&mut h, down(100));
    assert!(alerts(&fx).is_empty());
    // Seven good probes later the failures have left the 1m window (0% from then on); the episode ends only once
    // the window has stayed calm for a whole minute more.
    let mut fx = Vec::new();
    for _ in 0..12 {
        fx.extend(feed(&mut h, up(100)));
    }
    assert!(
        !journal_events(&fx).contains(&Event::HealthAlertCleared {
            check: "api".into()
        }),
        "{fx:?}"
    );
    let fx = feed(&mut h, up(100));
    assert!(
        journal_events(&fx).contains(&Event::HealthAlertCleared {
            check: "api".into()
        }),
        "{fx:?}"
    );
    assert_eq!(h.state.health.checks[0].alert, None);
    // A new episode alerts again.
    let fx = feed(&mut h, down(100));
    assert_eq!(alerts(&fx).len(), 1);
}

#[test]
fn a_window_needs_a_few_answers_before_alerting() {
    let mut h = monitoring();
    let mut fx = feed(&mut h, down(100));
    fx.extend(feed(&mut h, down(100)));
    assert!(alerts(&fx).is_empty());
    let fx = feed(&mut h, down(100));
    assert_eq!(alerts(&fx).len(), 1);
}

#[test]
fn latency_over_the_factor_of_the_baseline_alerts() {
    let mut h = monitoring();
    let mut fx = Vec::new();
    for _ in 0..5 {
        fx.extend(feed(&mut h, up(190)));
    }
    assert!(alerts(&fx).is_empty(), "1.9x is within the factor of 2");
    h.wait(Duration::from_secs(120));
    let mut fx = Vec::new();
    for _ in 0..3 {
        fx.extend(feed(&mut h, up(250)));
    }
    let got = alerts(&fx);
    assert_eq!(got.len(), 1, "{fx:?}");
    assert!(
        got[0].contains("latency 250ms > 200ms (2x baseline 100ms)"),
        "{got:?}"
    );
}

#[test]
fn acknowledging_the_alerts_is_journaled_and_runs_nothing() {
    let mut h = monitoring();
    for _ in 0..3 {
        feed(&mut h, down(100));
    }
    assert!(h.state.modal.is_none());
    h.char('A');
    let fx = h.key(KeyCode::Enter);
    assert!(
        journal_events(&fx).contains(&Event::AlertsAcknowledged {
            alerts: vec!["api: errors 100% over 1m > 5%".into()],
        }),
        "{fx:?}"
    );
    assert!(starts(&fx).is_empty());
    assert!(h.state.health.queue().is_empty());
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap()
            .contains("acknowledged (journaled)")
    );

    // Another episode (after a whole calm window); the overlay closed with Esc journals nothing and keeps the
    // alert queued.
    for _ in 0..13 {
        feed(&mut h, up(100));
    }
    for _ in 0..3 {
        feed(&mut h, down(100));
    }
    h.char('A');
    let fx = h.key(KeyCode::Esc);
    assert!(journal_events(&fx).is_empty(), "{fx:?}");
    assert_eq!(h.state.health.queue().len(), 1);
}

#[test]
fn an_alert_during_another_prompt_leaves_that_prompt_alone() {
    let mut h = monitoring();
    // The quit prompt is open (a step runs).
    h.key(KeyCode::Char('q'));
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::Quit)
    ));
    let mut fx = Vec::new();
    for _ in 0..3 {
        fx.extend(feed(&mut h, down(100)));
    }
    assert_eq!(alerts(&fx).len(), 1, "journaled at once");
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::Quit)
    ));
    h.settle();
    h.key(KeyCode::Esc);
    assert!(h.state.modal.is_none(), "no alert prompt follows");
    assert_eq!(h.state.health.queue().len(), 1, "the alert waits");
}

fn fg_of(buf: &ratatui::buffer::Buffer, text: &str, needle: &str) -> Color {
    for (y, line) in text.lines().enumerate() {
        if let Some(col) = line.find(needle) {
            let x = line[..col].chars().count() as u16;
            return buf[(x, y as u16)].fg;
        }
    }
    panic!("{needle:?} not on screen:\n{text}");
}

#[test]
fn health_pane_and_header_at_80x24() {
    let mut h = monitoring();
    for _ in 0..3 {
        feed(&mut h, up(100));
    }
    h.key(KeyCode::Char('4'));
    let (text, buf) = h.screen();
    assert!(text.contains("api healthy  100ms  err 0%"), "{text}");
    assert!(text.contains("base p50 100ms p95 100ms"), "{text}");
    assert!(text.contains("██████"), "{text}");
    assert_eq!(fg_of(&buf, &text, "healthy"), Color::Green);
    assert_eq!(fg_of(&buf, &text, "! insecure"), Color::Red);
    assert!(text.contains("tables: want >= 58"), "{text}");
    assert!(!text.contains("ALERT"));

    for _ in 0..3 {
        feed(&mut h, down(100));
    }
    // Shown at once, without a prompt; the status bar offers A.
    assert!(h.state.modal.is_none());
    let (text, buf) = h.screen();
    let header = text.lines().next().unwrap();
    assert!(header.contains("ALERT api: errors"), "{header}");
    assert_eq!(fg_of(&buf, &text, "ALERT api"), Color::Red);
    assert_eq!(fg_of(&buf, &text, "UNHEALTHY"), Color::Red);
    insta::assert_snapshot!("health_pane_alert_80x24", text);
}

#[test]
fn no_data_is_magenta_and_says_so() {
    let mut h = harness();
    feed(&mut h, none());
    h.key(KeyCode::Char('4'));
    let (text, buf) = h.screen();
    assert!(text.contains("api no data  no answer  err -"), "{text}");
    // Magenta, not yellow: yellow vanishes on a light background.
    assert_eq!(fg_of(&buf, &text, "no data"), Color::Magenta);
    assert!(text.contains("Connection refused"), "{text}");
}

#[test]
fn v_runs_verify_and_shows_results() {
    // No [database]: refused with a reason.
    let mut h = harness();
    let fx = h.char('v');
    assert!(!fx.contains(&Effect::RunVerify));
    assert!(h.state.flash.as_deref().unwrap().contains("[database]"));

    let plan = PLAN.replace(
        "[[phase]]\nname = \"Smoke\"",
        "[database]\nurl = \"postgres://app:pw@db:5432/shop\"\nmigrations = \"m\"\n\n[[phase]]\nname = \"Smoke\"",
    );
    let mut h = Harness::new(plan_from(&plan));
    assert!(h.char('v').contains(&Effect::RunVerify));
    assert!(!h.char('v').contains(&Effect::RunVerify), "already running");
    let fx = h.act(Action::Runner(RunnerEvent::VerifyResult {
        check: 0,
        result: Ok("57".into()),
    }));
    assert!(journal_events(&fx).contains(&Event::VerifyChecked {
        name: "tables".into(),
        value: Some("57".into()),
        passed: false,
        error: None,
    }));
    assert_eq!(h.state.flash.as_deref(), Some("Verify: 0 of 1 passed."));
    h.key(KeyCode::Char('4'));
    let (text, buf) = h.screen();
    assert!(text.contains("FAIL tables: 57, want >= 58"), "{text}");
    assert_eq!(fg_of(&buf, &text, "FAIL"), Color::Red);

    let plain = Harness::staging();
    let mut plain = plain;
    plain.char('v');
    assert!(
        plain
            .state
            .flash
            .as_deref()
            .unwrap()
            .contains("No [[verify]]")
    );
}

#[test]
fn verify_compares_numbers_as_numbers_and_text_as_text() {
    assert!(verify_passes("58", CmpOp::Ge, "58"));
    assert!(verify_passes("100", CmpOp::Gt, "58"), "not '100' < '58'");
    assert!(verify_passes("58.0", CmpOp::Eq, "58"));
    assert!(!verify_passes("57", CmpOp::Ge, "58"));
    assert!(verify_passes("beta", CmpOp::Gt, "alpha"));
    assert!(verify_passes("ok", CmpOp::Eq, "ok"));
    assert!(verify_passes("ok", CmpOp::Ne, "OK"));
    assert!(!verify_passes("NULL", CmpOp::Eq, "1"));
    assert!(verify_passes("true", CmpOp::Eq, "true"));
    assert!(verify_passes("-3", CmpOp::Lt, "2"));
    assert!(verify_passes("2", CmpOp::Le, "2"));
}

#[test]
fn a_health_pane_taller_than_the_screen_scrolls() {
    let mut src = String::from(
        "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[database]\nurl = \"sqlite://x.db\"\n\
         migrations = \"m\"\n\n[[phase]]\nname = \"p\"\nsteps = [{ run = \"true\" }]\n",
    );
    for i in 0..8 {
        src.push_str(&format!(
            "\n[[health]]\nname = \"check{i}\"\nurl = \"http://127.0.0.1:9/{i}\"\n"
        ));
    }
    src.push_str("\n[[verify]]\nname = \"last row\"\nsql = \"select 1\"\nexpect = \"= 1\"\n");
    let mut h = Harness::new(plan_from(&src));
    h.char('4');
    let (text, _) = h.screen();
    assert!(
        text.contains("check0") && !text.contains("last row"),
        "{text}"
    );
    for _ in 0..60 {
        h.char('j');
    }
    let (text, _) = h.screen();
    assert!(
        text.contains("last row") && !text.contains("check0"),
        "{text}"
    );
    h.char('g');
    assert!(h.screen().0.contains("check0"));
}

#[test]
fn an_alert_stays_up_when_the_service_stops_answering() {
    let mut h = monitoring();
    for _ in 0..3 {
        feed(&mut h, up(100));
    }
    let fx = feed(&mut h, down(100));
    assert_eq!(alerts(&fx).len(), 1);
    h.key(crossterm::event::KeyCode::Esc);
    // The service is gone: the window empties of answers. Nothing says the incident is over.
    h.wait(Duration::from_secs(120));
    let mut fx = Vec::new();
    for _ in 0..5 {
        fx.extend(feed(&mut h, none()));
    }
    assert!(
        !journal_events(&fx)
            .iter()
            .any(|e| matches!(e, deckhand::journal::Event::HealthAlertCleared { .. })),
        "{fx:?}"
    );
    assert!(h.state.health.checks[0].alert.is_some());
    assert_eq!(state(&h), HealthState::Inconclusive);
}

#[test]
fn a_latency_rise_within_the_noise_floor_is_not_an_alert() {
    let h = harness();
    let cfg = &h.state.plan.health[0];
    let stats = |median_ms: u64| deckhand::app::Stats {
        samples: 10,
        answered: 10,
        errors: 0,
        no_answer: 0,
        median: Some(Duration::from_millis(median_ms)),
        p95: Some(Duration::from_millis(median_ms)),
        value_median: None,
        value_p95: None,
    };
    // Three times the baseline, but 2 ms on loopback: noise.
    assert_eq!(deckhand::app::alert_reason(cfg, &stats(1), &stats(3)), None);
    // Twice and a half a real baseline: an alert naming both.
    let reason = deckhand::app::alert_reason(cfg, &stats(100), &stats(250)).expect("an alert");
    assert!(
        reason.contains("250ms") && reason.contains("100ms"),
        "{reason}"
    );
}
