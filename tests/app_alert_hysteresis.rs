//! `update()` tests for alert hysteresis and honest alert text (issue 14, defect 6): an alert raised when a
//! reading passes its threshold stays up while the reading hovers near it, and clears only once every reading has
//! stayed at or under 80% of its threshold for a whole `window`; the reason prints enough precision that its
//! `>` is visibly true; the health pane shows the alert on the line of the check (or log source) the header names.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, Stats, alert_reason};
use deckhand::journal::Event;
use deckhand::runner::{Level, Probe, RunnerEvent, SourceLine, Stream};
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

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
fail_after = 2
recover_after = 2
window = "1m"
baseline_samples = 3
error_rate = 0.2

[[logs]]
name = "web"
command = "tail -F /var/log/web.log"
error_rate = 0.1
window = "1m"

[[logs]]
name = "worker"
command = "tail -F /var/log/worker.log"
error_rate = 0.05
window = "1m"
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

/// One probe of the check, `STEP` after the previous one.
fn feed(h: &mut Harness, p: Probe) -> Vec<Effect> {
    h.wait(STEP);
    h.act(Action::Runner(RunnerEvent::HealthProbe {
        check: 0,
        probe: p,
    }))
}

/// A batch of `info` good lines and `errors` error lines from log source `source`, at the harness's clock.
fn lines(source: usize, info: usize, errors: usize) -> Action {
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
        source,
        lines: v.into(),
    })
}

/// Raised alerts as `name: why`.
fn raised(fx: &[Effect]) -> Vec<String> {
    journal_events(fx)
        .into_iter()
        .filter_map(|e| match e {
            Event::HealthAlert { check, why } => Some(format!("{check}: {why}")),
            _ => None,
        })
        .collect()
}

fn cleared(fx: &[Effect]) -> Vec<String> {
    journal_events(fx)
        .into_iter()
        .filter_map(|e| match e {
            Event::HealthAlertCleared { check } => Some(check),
            _ => None,
        })
        .collect()
}

/// A baseline of three 100 ms answers, frozen by the destructive phase; then the clock moves past the window so
/// it starts empty.
fn monitoring() -> Harness {
    let mut h = Harness::new(plan_from(PLAN));
    for _ in 0..3 {
        feed(&mut h, up(100));
    }
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    h.char('y');
    assert!(h.state.health.frozen);
    h.wait(Duration::from_secs(120));
    h
}

#[test]
fn a_log_error_share_hovering_at_its_threshold_alerts_once_and_clears_after_a_calm_window() {
    let mut h = monitoring();
    let mut fx = Vec::new();
    // 5 of 45 lines: 11% > 10%.
    fx.extend(h.act(lines(0, 40, 5)));
    assert_eq!(raised(&fx).len(), 1, "{fx:?}");
    // Within the minute: 5 of 55 (9.1%, under the threshold but over 80% of it), then 7 of 57 (12%).
    h.wait(STEP);
    fx.extend(h.act(lines(0, 10, 0)));
    h.wait(STEP);
    fx.extend(h.act(lines(0, 0, 2)));
    assert_eq!(raised(&fx).len(), 1, "one alert, not a flap: {fx:?}");
    assert!(cleared(&fx).is_empty(), "9% is not calm for 10%: {fx:?}");
    assert!(h.state.health.alerts().next().is_some());

    // t=30s: 7 of 107 (6.5%, at or under 8%): calm from here.
    h.wait(STEP);
    let mut fx = h.act(lines(0, 50, 0));
    h.wait(Duration::from_secs(20));
    fx.extend(h.act(lines(0, 10, 0)));
    h.wait(Duration::from_secs(20));
    fx.extend(h.act(lines(0, 10, 0)));
    // t=80s: 7 of 77 in the window (9.1%) — over the clear level again: the calm clock starts over.
    h.wait(STEP);
    fx.extend(h.act(lines(0, 0, 7)));
    // t=90s: 7 of 127 (5.5%): calm again, from here.
    h.wait(STEP);
    fx.extend(h.act(lines(0, 100, 0)));
    // t=140s: 50 s calm: not yet a whole window.
    h.wait(Duration::from_secs(50));
    fx.extend(h.act(lines(0, 10, 0)));
    assert!(cleared(&fx).is_empty(), "{fx:?}");
    assert!(h.state.health.alerts().next().is_some());
    // t=150s: calm for the whole 1m window: cleared, once.
    h.wait(STEP);
    let fx = h.act(lines(0, 10, 0));
    assert_eq!(cleared(&fx), vec!["logs web".to_string()], "{fx:?}");
    assert!(h.state.health.alerts().next().is_none());
    // A new episode alerts again.
    h.wait(Duration::from_secs(1));
    assert_eq!(raised(&h.act(lines(0, 0, 20))).len(), 1);
}

#[test]
fn a_check_error_ratio_hovering_at_its_threshold_alerts_once_and_clears_after_a_calm_window() {
    let mut h = monitoring();
    let mut fx = Vec::new();
    for _ in 0..3 {
        fx.extend(feed(&mut h, up(100)));
    }
    // 1 of 4 wrong: 25% > 20%.
    fx.extend(feed(&mut h, down(100)));
    assert_eq!(raised(&fx).len(), 1, "{fx:?}");
    // 1 of 5 (20%: not over, but over 80% of it), then 2 of 6 (33%).
    fx.extend(feed(&mut h, up(100)));
    fx.extend(feed(&mut h, down(100)));
    assert_eq!(raised(&fx).len(), 1, "one alert, not a flap: {fx:?}");
    assert!(cleared(&fx).is_empty(), "{fx:?}");
    // 2 of 7 for four more probes, then 1 of 7 (14%, calm: at or under 16%) from the fifth: cleared a whole
    // minute after that, at the eleventh.
    let mut fx = Vec::new();
    for _ in 0..10 {
        fx.extend(feed(&mut h, up(100)));
    }
    assert!(cleared(&fx).is_empty(), "{fx:?}");
    assert!(h.state.health.checks[0].alert.is_some());
    let fx = feed(&mut h, up(100));
    assert_eq!(cleared(&fx), vec!["api".to_string()], "{fx:?}");
    assert_eq!(h.state.health.checks[0].alert, None);
}

#[test]
fn a_check_latency_hovering_at_its_threshold_alerts_once_and_clears_after_a_calm_window() {
    let mut h = monitoring();
    let mut fx = Vec::new();
    // Median 250 ms > 2x the 100 ms baseline.
    for _ in 0..3 {
        fx.extend(feed(&mut h, up(250)));
    }
    assert_eq!(raised(&fx).len(), 1, "{fx:?}");
    // 190 ms: under 200 ms but over 80% of it (160 ms); then 250 ms again.
    h.wait(Duration::from_secs(120));
    for _ in 0..3 {
        fx.extend(feed(&mut h, up(190)));
    }
    h.wait(Duration::from_secs(120));
    for _ in 0..3 {
        fx.extend(feed(&mut h, up(250)));
    }
    assert_eq!(raised(&fx).len(), 1, "one alert, not a flap: {fx:?}");
    assert!(cleared(&fx).is_empty(), "{fx:?}");
    // Back to 100 ms: the third probe is the first window to judge (calm); a whole minute later, cleared.
    h.wait(Duration::from_secs(120));
    let mut fx = Vec::new();
    for _ in 0..8 {
        fx.extend(feed(&mut h, up(100)));
    }
    assert!(cleared(&fx).is_empty(), "{fx:?}");
    let fx = feed(&mut h, up(100));
    assert_eq!(cleared(&fx), vec!["api".to_string()], "{fx:?}");
}

#[test]
fn a_log_share_just_over_its_threshold_reads_truly() {
    let mut h = monitoring();
    // 3 of 58 lines: 5.17%, over 5%.
    let fx = h.act(lines(1, 55, 3));
    let got = raised(&fx);
    assert_eq!(got.len(), 1, "{fx:?}");
    assert_eq!(
        got[0],
        "logs worker: errors 5.2% of 58 lines over 1m > 5.0%"
    );
    // Exactly 5% is not over 5%: the alert means `>`, and says so.
    let mut h = monitoring();
    assert!(raised(&h.act(lines(1, 38, 2))).is_empty());
}

#[test]
fn a_check_reading_just_over_its_threshold_reads_truly() {
    let h = Harness::new(plan_from(PLAN));
    let cfg = &h.state.plan.health[0];
    let stats = |answered: usize, errors: usize, median_us: u64| Stats {
        samples: answered,
        answered,
        errors,
        no_answer: 0,
        median: Some(Duration::from_micros(median_us)),
        p95: Some(Duration::from_micros(median_us)),
        value_median: None,
        value_p95: None,
    };
    // 41 of 204 wrong: 20.1% > 20%, not "20% > 20%".
    let why = alert_reason(cfg, &stats(10, 0, 100_000), &stats(204, 41, 100_000)).unwrap();
    assert_eq!(why, "errors 20.1% over 1m > 20.0%");
    // Exactly 20% is not over 20%.
    assert_eq!(
        alert_reason(cfg, &stats(10, 0, 100_000), &stats(20, 4, 100_000)),
        None
    );
    // A median of 200.9 ms against 2x a 100.4 ms baseline (200.8 ms): not "200ms > 2x baseline 100ms".
    let why = alert_reason(cfg, &stats(10, 0, 100_400), &stats(10, 0, 200_900)).unwrap();
    assert_eq!(
        why,
        "median latency 200.9ms > 200.8ms (2x baseline 100.4ms)"
    );
    // On loopback the noise floor is the threshold, and the reason names it.
    let why = alert_reason(cfg, &stats(10, 0, 1_000), &stats(10, 0, 25_000)).unwrap();
    assert_eq!(
        why,
        "median latency 25ms > 21ms (baseline 1ms + 20ms noise)"
    );
}

/// The cell where `needle` first shows on row `y` (from column `from`).
fn cell_at<'a>(
    buf: &'a Buffer,
    text: &str,
    y: usize,
    from: usize,
    needle: &str,
) -> &'a ratatui::buffer::Cell {
    let line = text.lines().nth(y).unwrap();
    let start: usize = line.char_indices().nth(from).map_or(line.len(), |(i, _)| i);
    let col = line[start..]
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not on row {y}:\n{text}"));
    let x = line[..start + col].chars().count() as u16;
    &buf[(x, y as u16)]
}

/// The row of the health pane (right of the left column) holding `needle`.
fn pane_row(text: &str, needle: &str) -> usize {
    text.lines()
        .enumerate()
        .skip(1)
        .find(|(_, l)| l.contains(needle))
        .map(|(y, _)| y)
        .unwrap_or_else(|| panic!("{needle:?} not in the pane:\n{text}"))
}

#[test]
fn the_health_pane_shows_the_alert_the_header_shows_on_a_check_that_still_answers() {
    let mut h = monitoring();
    for _ in 0..3 {
        feed(&mut h, up(250));
    }
    assert!(h.state.health.checks[0].alert.is_some());
    h.key(KeyCode::Char('4'));
    let (text, buf) = h.screen();
    let header = text.lines().next().unwrap();
    assert!(header.contains("ALERT api: median"), "{header}");
    // The probes still answer (the consecutive counters say healthy), but the pane must not call it healthy
    // beside the header's alert: the check's line says ALERT, styled as the header's.
    assert!(!text.contains("api healthy"), "{text}");
    let y = pane_row(&text, "api ALERT");
    let in_pane = cell_at(&buf, &text, y, 31, "ALERT").clone();
    let in_header = cell_at(&buf, &text, 0, 0, "ALERT").clone();
    assert_eq!(in_pane.fg, Color::Red);
    assert_eq!(in_pane.fg, in_header.fg);
    assert!(
        in_pane
            .modifier
            .contains(Modifier::REVERSED | Modifier::BOLD)
    );
    assert_eq!(in_pane.modifier, in_header.modifier);
    insta::assert_snapshot!("health_pane_latency_alert_80x24", text);
}

#[test]
fn the_health_pane_shows_a_log_source_alert_the_header_shows() {
    let mut h = monitoring();
    for _ in 0..3 {
        feed(&mut h, up(100));
    }
    h.act(lines(0, 40, 5));
    h.key(KeyCode::Char('4'));
    let (text, buf) = h.screen();
    let header = text.lines().next().unwrap();
    assert!(header.contains("ALERT logs web:"), "{header}");
    let y = pane_row(&text, "logs web ALERT");
    assert!(
        text.contains("errors 11% of 45 lines over 1m > 10%"),
        "{text}"
    );
    let in_pane = cell_at(&buf, &text, y, 31, "ALERT").clone();
    let in_header = cell_at(&buf, &text, 0, 0, "ALERT").clone();
    assert_eq!(
        (in_pane.fg, in_pane.modifier),
        (in_header.fg, in_header.modifier)
    );
    // The check itself is fine, and says so.
    assert!(text.contains("api healthy"), "{text}");
    insta::assert_snapshot!("health_pane_log_alert_80x24", text);
}

#[test]
fn a_log_source_that_goes_quiet_after_its_alert_clears_after_a_calm_window() {
    let mut h = monitoring();
    let fx = h.act(lines(0, 40, 5));
    assert_eq!(raised(&fx).len(), 1, "{fx:?}");
    // The source says nothing more: the errors leave the window, then a whole window passes with none.
    let mut fx = Vec::new();
    for _ in 0..15 {
        h.wait(STEP);
        fx.extend(h.act(Action::Tick));
    }
    assert_eq!(cleared(&fx), vec!["logs web".to_string()], "{fx:?}");
    assert!(h.state.health.alerts().next().is_none());
}
