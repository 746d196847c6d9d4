//! `update()` tests: a `[[logs]]` source's error rate feeds the health alerting — nothing before the baselines
//! freeze, an alert (journaled, in the header, offering the rollback) when errors pass `error_rate` over the
//! window with enough lines to judge, cleared once the rate has stayed at or under 80% of it for a whole window.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect};
use deckhand::journal::Event;
use deckhand::runner::{Level, RunnerEvent, SourceLine, Stream};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]

[[logs]]
name = "api"
command = "tail -F /var/log/api.log"
error_rate = 0.1
"#;

fn lines(info: usize, errors: usize) -> Action {
    let mut v: Vec<SourceLine> = (0..info)
        .map(|i| SourceLine {
            text: format!("INFO GET /{i} 200"),
            truncated: false,
            level: Level::Info,
            stream: Stream::Stdout,
        })
        .collect();
    v.extend((0..errors).map(|i| SourceLine {
        text: format!("ERROR POST /{i} 500"),
        truncated: false,
        level: Level::Error,
        stream: Stream::Stdout,
    }));
    Action::Runner(RunnerEvent::LogLines {
        source: 0,
        lines: v.into(),
    })
}

fn alerts(fx: &[Effect]) -> Vec<String> {
    journal_events(fx)
        .into_iter()
        .filter_map(|e| match e {
            Event::HealthAlert { check, why } => Some(format!("{check}: {why}")),
            _ => None,
        })
        .collect()
}

fn frozen() -> Harness {
    let mut h = Harness::new(plan_from(PLAN));
    // The destructive phase starts: alerting is on from here.
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    h.char('y');
    assert!(h.state.health.frozen);
    h
}

#[test]
fn errors_before_the_first_destructive_action_raise_nothing() {
    let mut h = Harness::new(plan_from(PLAN));
    assert!(alerts(&h.act(lines(10, 30))).is_empty());
    assert!(h.state.health.alerts().next().is_none());
}

#[test]
fn an_error_rate_over_the_threshold_alerts_once_and_clears() {
    let mut h = frozen();
    // 5 errors of 10 lines: too few lines to judge.
    assert!(alerts(&h.act(lines(5, 5))).is_empty());
    // 5 of 45: 11% > 10%.
    let fx = h.act(lines(35, 0));
    assert!(alerts(&fx).len() == 1, "{fx:?}");
    assert!(
        alerts(&fx)[0].starts_with("logs api: errors 11% of 45 lines over 1m > 10%"),
        "{fx:?}"
    );
    // A notification, never a prompt: queued for the operator.
    assert!(h.state.modal.is_none());
    assert_eq!(
        h.state
            .health
            .queue()
            .iter()
            .map(|a| a.index)
            .collect::<Vec<_>>(),
        vec![0],
        "the first alert index past the (no) checks is the log source"
    );
    // Once per episode.
    assert!(alerts(&h.act(lines(0, 5))).is_empty());
    // Enough good lines bring the rate to 4%, at or under 80% of the threshold: calm, but not yet for a window.
    let fx = h.act(lines(200, 0));
    assert!(journal_events(&fx).is_empty(), "{fx:?}");
    assert!(h.state.health.alerts().next().is_some());
    // Calm for the whole 1m window: cleared.
    h.wait(std::time::Duration::from_secs(60));
    let fx = h.act(lines(30, 0));
    assert!(journal_events(&fx).contains(&Event::HealthAlertCleared {
        check: "logs api".into()
    }));
    assert!(h.state.health.alerts().next().is_none());
}
