#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]
//! The console without colour (`NO_COLOR`, https://no-color.org) and the default colours on a light background.
//! Drawn at 80x24 in four states — idle, a destructive prompt, an alert, a failed phase — with the plain theme: no
//! cell has a colour, danger still stands out (bold, reverse video, its symbols), and the text matches the
//! committed snapshots under tests/snapshots/ (`views_no_color__*.snap`; a change shows as a diff, and
//! `INSTA_UPDATE=always cargo test --test views_no_color` or `cargo insta review` accepts it). With the default
//! colours, no text is drawn white, grey or yellow on the terminal's own background, where one of a light or a dark
//! background would swallow it.

mod common;

use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, ModalKind};
use deckhand::runner::{Probe, RunnerEvent, StepId, StepOutcome};
use deckhand::views::Theme;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[checklist]]
item = "Staging verified"

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
window = "1m"
baseline_samples = 3
"#;

fn probe(h: &mut Harness, probe: Probe) {
    h.wait(Duration::from_secs(10));
    h.act(Action::Runner(RunnerEvent::HealthProbe { check: 0, probe }));
}

fn up() -> Probe {
    Probe::Up {
        status: 200,
        latency: Duration::from_millis(100),
    }
}

fn idle() -> Harness {
    Harness::new(plan_from(PLAN))
}

/// The deploy's confirmation, open and taking keys.
fn destructive_prompt() -> Harness {
    confirming(idle())
}

/// `h` with the checklist ticked and the deploy's confirmation open and taking keys.
fn confirming(mut h: Harness) -> Harness {
    h.tick_all();
    h.select_phase(1);
    h.key(KeyCode::Enter);
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::RunPhase(1))
    ));
    h.settle();
    // The screen shows the state's clock: bring it past the guard, so the prompt's instruction shows.
    h.act(Action::Tick);
    h
}

/// The deploy under way, confirmed.
fn deploying() -> Harness {
    let mut h = destructive_prompt();
    h.char('y');
    h
}

/// The health check failing after the deploy started: an alert, in the header and on the health pane.
fn alert() -> Harness {
    let mut h = idle();
    // The baseline, then the deploy (the first destructive action freezes it).
    for _ in 0..3 {
        probe(&mut h, up());
    }
    let mut h = confirming(h);
    h.char('y');
    h.wait(Duration::from_secs(120));
    for _ in 0..3 {
        probe(
            &mut h,
            Probe::Down {
                status: Some(500),
                latency: Duration::from_millis(100),
                why: "status 500, expected 200-299".into(),
            },
        );
    }
    assert!(h.state.health.alerts().next().is_some(), "an alert is up");
    h.key(KeyCode::Char('4'));
    h
}

/// The deploy's step failed: its row says so.
fn failed() -> Harness {
    let mut h = deploying();
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: StepId { phase: 1, step: 0 },
        outcome: StepOutcome::Exited(1),
        duration: Duration::from_secs(3),
    }));
    h
}

fn states() -> Vec<(&'static str, Harness)> {
    vec![
        ("idle", idle()),
        ("destructive_prompt", destructive_prompt()),
        ("alert", alert()),
        ("failed_row", failed()),
    ]
}

/// Where `needle` first shows on screen: (x, y) of its first cell.
fn find(text: &str, needle: &str) -> (u16, u16) {
    for (y, line) in text.lines().enumerate() {
        if let Some(col) = line.find(needle) {
            return (line[..col].chars().count() as u16, y as u16);
        }
    }
    panic!("{needle:?} not on screen:\n{text}");
}

/// Every cell of `needle`'s first appearance carries one of `modifiers`.
fn assert_marked(buf: &Buffer, text: &str, needle: &str, modifiers: Modifier) {
    let (x0, y) = find(text, needle);
    for x in x0..x0 + needle.chars().count() as u16 {
        let cell = &buf[(x, y)];
        assert!(
            cell.modifier.intersects(modifiers),
            "{needle:?}: cell {x},{y} ({:?}) is not {modifiers:?}:\n{text}",
            cell.symbol()
        );
    }
}

#[test]
fn no_color_draws_no_colour_and_danger_stays_unmistakable() {
    let strong = Modifier::BOLD | Modifier::REVERSED;
    for (name, h) in states() {
        let (text, buf) = h.screen_themed(80, 24, Theme::PLAIN);
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                let cell = &buf[(x, y)];
                assert_eq!(
                    (cell.fg, cell.bg),
                    (Color::Reset, Color::Reset),
                    "{name}: cell {x},{y} ({:?}) has a colour:\n{text}",
                    cell.symbol()
                );
            }
        }
        insta::assert_snapshot!(format!("{name}_80x24"), text);
        match name {
            "idle" => assert_marked(&buf, &text, "! Deploy", Modifier::BOLD),
            "destructive_prompt" => {
                assert_marked(
                    &buf,
                    &text,
                    "Run destructive phase: Deploy",
                    Modifier::REVERSED,
                );
                assert_marked(&buf, &text, "Run destructive phase: Deploy", Modifier::BOLD);
                assert_marked(&buf, &text, "Press y to confirm", Modifier::BOLD);
            }
            "alert" => {
                let header = text.lines().next().unwrap();
                assert!(header.contains("ALERT api: errors"), "{header}");
                assert_marked(&buf, &text, "ALERT api", strong);
                let (x, y) = find(&text, "ALERT api");
                assert!(buf[(x, y)].modifier.contains(strong), "{text}");
                // The health pane's line for the check says it too, in the same style.
                assert!(text.contains("api ALERT"), "{text}");
                assert_marked(&buf, &text, "api ALERT", Modifier::BOLD);
            }
            "failed_row" => {
                assert_marked(&buf, &text, "✗ ! Deploy", Modifier::BOLD);
                assert!(text.contains("exit 1"), "{text}");
            }
            _ => unreachable!(),
        }
    }
}

#[test]
fn colour_carries_no_meaning_alone_the_text_is_the_same_without_it() {
    for (name, h) in states() {
        let (plain, _) = h.screen_themed(80, 24, Theme::PLAIN);
        let (coloured, _) = h.screen();
        assert_eq!(plain, coloured, "{name}");
    }
}

#[test]
fn the_default_colours_read_on_a_light_background() {
    // White, grey and yellow text on the terminal's own background vanish on a light one (white, yellow) or a
    // dark one (dark grey): never drawn so. A coloured background always comes with its own foreground.
    let unreadable = [
        Color::White,
        Color::Gray,
        Color::DarkGray,
        Color::Yellow,
        Color::LightYellow,
    ];
    for (name, h) in states() {
        for (w, hgt) in [(80, 24), (160, 48)] {
            let (text, buf) = h.screen_at(w, hgt);
            for y in 0..buf.area.height {
                for x in 0..buf.area.width {
                    let cell = &buf[(x, y)];
                    if cell.symbol().trim().is_empty() {
                        continue;
                    }
                    assert!(
                        !(cell.bg == Color::Reset && unreadable.contains(&cell.fg)),
                        "{name} {w}x{hgt}: {:?} at {x},{y} is {:?} on the default background:\n{text}",
                        cell.symbol(),
                        cell.fg
                    );
                    assert!(
                        cell.bg == Color::Reset || cell.fg != Color::Reset,
                        "{name} {w}x{hgt}: {:?} at {x},{y} has a background without a foreground",
                        cell.symbol()
                    );
                }
            }
        }
    }
}
