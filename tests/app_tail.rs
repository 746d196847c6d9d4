//! A tail session inside `update` and on screen, with no terminal and no processes: only the log sources start,
//! the filter is in force from the start, `q` quits at once with nothing journaled, the release's keys do nothing
//! but say so, and the logs pane fills an 80x24 screen with a header that says it is tailing.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, Pane, QuitState, Signal};
use deckhand::runner::{Level, RunnerEvent, SourceLine, SourceState};

const TAIL_PLAN: &str = r#"
[project]
name = "tail"
environment = "tail"

[[logs]]
name = "app.log"
file = "/var/log/app.log"
error = "BOOM"

[[logs]]
name = "journalctl"
command = "journalctl -f"
error = "BOOM"
"#;

fn tail(filter: Option<&str>) -> (Harness, Vec<Effect>) {
    let mut h = Harness::new(plan_from(TAIL_PLAN));
    let fx = deckhand::app::start_tail(&mut h.state, filter);
    (h, fx)
}

fn lines(h: &mut Harness, source: usize, texts: &[(&str, Level)]) -> Vec<Effect> {
    let lines = texts
        .iter()
        .map(|(t, level)| SourceLine {
            text: (*t).to_string(),
            truncated: false,
            level: *level,
            stream: deckhand::runner::Stream::Stdout,
        })
        .collect();
    h.act(Action::Runner(RunnerEvent::LogLines { source, lines }))
}

fn no_journal(fx: &[Effect]) {
    assert!(
        !fx.iter()
            .any(|e| matches!(e, Effect::Journal(_) | Effect::Notify { .. })),
        "a tail session journals nothing: {fx:?}"
    );
}

#[test]
fn a_tail_starts_its_sources_only_and_q_quits_at_once() {
    let (mut h, fx) = tail(None);
    assert_eq!(fx, vec![Effect::StartLogSources]);
    assert!(h.state.tail);
    assert_eq!(h.state.focus, Pane::Logs);
    let fx = h.act(Action::Runner(RunnerEvent::LogSource {
        source: 1,
        state: SourceState::Stopped {
            why: "exit 0".into(),
            restart_in: Some(std::time::Duration::from_secs(1)),
        },
    }));
    no_journal(&fx);
    let fx = h.char('q');
    assert_eq!(fx, vec![Effect::Quit], "no prompt, nothing journaled");
    assert_eq!(h.state.quit, QuitState::Done);
    assert!(!h.state.aborted);
}

#[test]
fn a_signal_ends_a_tail_as_aborted() {
    let (mut h, _) = tail(None);
    let fx = h.act(Action::Signal(Signal::Terminate));
    assert_eq!(fx, vec![Effect::Quit]);
    assert!(h.state.aborted, "the console exits 1");
}

#[test]
fn the_release_keys_do_nothing_in_a_tail() {
    let (mut h, _) = tail(None);
    for key in ['R', 'B', 'a', 'M', 'S', 'P', '1', ' '] {
        let fx = h.char(key);
        assert!(fx.is_empty(), "{key}: {fx:?}");
        assert!(h.state.modal.is_none() && h.state.release.signoff.is_none());
        let flash = h.state.flash.clone().unwrap_or_default();
        assert!(
            flash.contains("deckhand tail shows the logs only"),
            "{flash}"
        );
    }
    h.key(KeyCode::Tab);
    assert_eq!(h.state.focus, Pane::Logs);
    // Typing a filter, Tab does not leave the logs either.
    h.char('/');
    h.key(KeyCode::Tab);
    assert_eq!(h.state.focus, Pane::Logs);
    h.key(KeyCode::Esc);
    // `s` goes through each source alone and back to all of them, never to "steps only".
    let shown: Vec<_> = (0..3)
        .map(|_| {
            h.char('s');
            h.state.logview.shown
        })
        .collect();
    use deckhand::app::Shown;
    assert_eq!(shown, [Shown::Source(0), Shown::Source(1), Shown::All]);
    // Help lists the tail's keys only.
    let rows = deckhand::app::bindings(&h.state);
    let text: Vec<&str> = rows.iter().map(|(_, what)| *what).collect();
    assert!(text.contains(&"quit (exit 0)"), "{text:?}");
    assert!(
        !text
            .iter()
            .any(|t| t.contains("roll back") || t.contains("checklist"))
    );
}

#[test]
fn the_filter_applies_from_the_start_and_the_screen_is_the_logs_alone() {
    let (mut h, _) = tail(Some("keep"));
    assert_eq!(h.state.logview.filter.as_ref().unwrap().text, "keep");
    lines(
        &mut h,
        0,
        &[
            ("keep this calm line", Level::Other),
            ("drop this line", Level::Other),
            ("keep BOOM went the server", Level::Error),
        ],
    );
    let (screen, buf) = h.screen();
    assert!(screen.contains("keep this calm line"), "{screen}");
    assert!(screen.contains("keep BOOM went the server"), "{screen}");
    assert!(!screen.contains("drop this line"), "{screen}");
    let first = screen.lines().next().unwrap();
    assert!(first.contains("tailing 2 log sources"), "{first}");
    assert!(!first.contains(" tail "), "no environment badge: {first}");
    for absent in ["Checklist", "Migrations", "Health", "Tab", "rollback"] {
        assert!(!screen.contains(absent), "{absent:?}:\n{screen}");
    }
    // The keys fit the status bar at 80 columns, quit included.
    let last = screen.lines().nth(23).unwrap();
    assert!(
        last.contains("s source") && last.contains("q quit"),
        "{last}"
    );
    // The error line is drawn in the error colour.
    let (y, row) = screen
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("keep BOOM"))
        .unwrap();
    let x = row[..row.find("keep BOOM").unwrap()].chars().count();
    assert_eq!(
        buf[(x as u16, y as u16)].fg,
        ratatui::style::Color::Red,
        "{screen}"
    );
}

/// A long line is read in a tail as in the console's logs pane: `w` wraps, `←`/`→` scroll sideways, Enter opens
/// the line whole and Esc closes it (they were refused as "release keys").
#[test]
fn a_tail_reads_long_lines_with_the_logs_keys() {
    let (mut h, _) = tail(None);
    let long = format!("start {} the-end", "x".repeat(300));
    lines(&mut h, 0, &[(long.as_str(), Level::Other)]);
    h.key(KeyCode::Right);
    assert!(h.state.logview.col > 0, "→ scrolls sideways");
    h.key(KeyCode::Left);
    assert_eq!(h.state.logview.col, 0);
    h.char('w');
    assert!(h.state.logview.wrap, "w wraps");
    let (screen, _) = h.screen();
    assert!(screen.contains("the-end"), "wrapped:\n{screen}");
    h.char('w');
    h.key(KeyCode::Up);
    h.key(KeyCode::Enter);
    assert!(
        matches!(h.state.overlay, Some(deckhand::app::Overlay::Line { .. })),
        "Enter opens the line"
    );
    h.key(KeyCode::Esc);
    assert!(h.state.overlay.is_none());
    assert!(h.state.flash.is_none(), "{:?}", h.state.flash);
    // Help lists them.
    let rows = deckhand::app::bindings(&h.state);
    let text: Vec<&str> = rows.iter().map(|(_, what)| *what).collect();
    for want in ["wrap", "sideways", "line whole"] {
        assert!(text.iter().any(|t| t.contains(want)), "{want}: {text:?}");
    }
}
