//! The logs pane through `update` and the real views: filter (incremental re-scan, invalid regex), n/N search,
//! level and source toggles, source status (restarting, quiet, failed), error rate, and escape sequences that
//! reach the screen inert.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::time::Duration;

use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, SCAN_SLICE_LINES, SourceStatus, State, init};
use deckhand::logs::batch::LineBatch;
use deckhand::logs::line::make_line;
use deckhand::runner::{Level, RunnerEvent, SourceLine, SourceState};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

mod common;
use common::{Harness, plan_from};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Smoke"
steps = [{ run = "true" }]

[[logs]]
name = "api"
command = "flyctl logs -f"
quiet_after = "30s"

[[logs]]
name = "web"
file = "/var/log/web.log"
"#;

fn harness() -> Harness {
    let mut h = Harness::new(plan_from(PLAN));
    h.key(KeyCode::Char('3'));
    h
}

fn lines(h: &mut Harness, source: usize, texts: &[&str]) {
    let lines: Vec<SourceLine> = texts
        .iter()
        .map(|t| make_line(t.as_bytes(), false, None))
        .collect();
    h.act(Action::Runner(RunnerEvent::LogLines {
        source,
        lines: lines.into(),
    }));
}

fn source_state(h: &mut Harness, source: usize, state: SourceState) {
    h.act(Action::Runner(RunnerEvent::LogSource { source, state }));
}

/// The texts of the lines shown, oldest first.
fn shown(state: &State) -> Vec<String> {
    let v = &state.logview;
    (0..v.visible_len(&state.logs))
        .filter_map(|p| v.visible_seq(&state.logs, p))
        .filter_map(|s| state.logs.get_seq(s))
        .map(|l| l.text.to_string())
        .collect()
}

fn screen(state: &State, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| deckhand::views::render(f, state)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn init_starts_the_log_sources() {
    let h = harness();
    assert!(init(&h.state).contains(&Effect::StartLogSources));
    assert!(!init(&Harness::staging().state).contains(&Effect::StartLogSources));
}

#[test]
fn filter_applies_and_new_lines_are_tested_as_they_arrive() {
    let mut h = harness();
    lines(&mut h, 0, &["GET /a 200", "GET /b 500", "POST /c 500"]);
    h.char('/');
    h.type_text("50+");
    assert_eq!(h.state.logview.input.as_deref(), Some("50+"));
    h.key(KeyCode::Enter);
    assert_eq!(shown(&h.state), ["GET /b 500", "POST /c 500"]);
    lines(&mut h, 1, &["GET /d 200", "GET /e 500"]);
    assert_eq!(shown(&h.state), ["GET /b 500", "POST /c 500", "GET /e 500"]);
    // Empty filter clears it.
    h.char('/');
    for _ in 0..3 {
        h.key(KeyCode::Backspace);
    }
    h.key(KeyCode::Enter);
    assert_eq!(shown(&h.state).len(), 5);
}

#[test]
fn invalid_regex_keeps_the_previous_filter_and_says_so() {
    let mut h = harness();
    lines(&mut h, 0, &["alpha", "beta"]);
    h.char('/');
    h.type_text("alp");
    h.key(KeyCode::Enter);
    h.char('/');
    h.type_text("(unclosed");
    h.key(KeyCode::Enter);
    assert_eq!(h.state.logview.filter.as_ref().unwrap().text, "alp");
    assert_eq!(shown(&h.state), ["alpha"]);
    let msg = h.state.logview.message.clone().unwrap();
    assert!(msg.contains("Invalid regex"), "{msg}");
    assert!(screen(&h.state, 80, 24).contains("Invalid regex"));
    // Esc cancels typing without touching the filter.
    h.char('/');
    h.type_text("zzz");
    h.key(KeyCode::Esc);
    assert_eq!(h.state.logview.filter.as_ref().unwrap().text, "alp");
    assert!(h.state.logview.input.is_none());
}

#[test]
fn rescan_is_sliced_newest_first_with_progress() {
    let mut h = harness();
    let total = SCAN_SLICE_LINES * 2 + 10;
    let texts: Vec<String> = (0..total).map(|i| format!("line {i}")).collect();
    for chunk in texts.chunks(10_000) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        lines(&mut h, 0, &refs);
    }
    h.char('/');
    h.type_text("0$");
    h.key(KeyCode::Enter);
    // The first slice ran at once: the newest matches (the visible page) are there already.
    let first = shown(&h.state);
    assert_eq!(first.last().map(String::as_str), Some("line 200000"));
    assert_eq!(first.len(), SCAN_SLICE_LINES / 10);
    let p = h.state.logview.scan_progress(&h.state.logs).unwrap();
    assert!((40..60).contains(&p), "{p}");
    assert!(screen(&h.state, 80, 24).contains("filtering…"));
    // More lines during the scan are tested as they arrive, and ticks finish the scan.
    lines(&mut h, 0, &["new 10"]);
    while h.state.logview.scan_progress(&h.state.logs).is_some() {
        h.act(Action::Tick);
    }
    let all = shown(&h.state);
    assert_eq!(all.len(), total / 10 + 1);
    assert_eq!(all[0], "line 0");
    assert_eq!(all.last().map(String::as_str), Some("new 10"));
    assert!(all.windows(2).take(total / 10 - 1).all(|w| {
        let n = |s: &str| s[5..].parse::<usize>().unwrap();
        n(&w[0]) < n(&w[1])
    }));
}

#[test]
fn n_and_shift_n_walk_through_matches() {
    let mut h = harness();
    let texts: Vec<String> = (0..100)
        .map(|i| format!("req {i} {}", if i % 10 == 3 { "slow" } else { "ok" }))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    lines(&mut h, 0, &refs);
    h.char('n');
    assert!(h.state.flash.as_deref().unwrap().contains("/ sets"));
    h.char('/');
    h.type_text("slow");
    h.key(KeyCode::Enter);
    let mark = |h: &Harness| {
        h.state
            .logs
            .get_seq(h.state.logview.current.unwrap())
            .unwrap()
            .text
            .to_string()
    };
    h.char('n');
    assert_eq!(mark(&h), "req 93 slow");
    h.char('n');
    assert_eq!(mark(&h), "req 83 slow");
    for _ in 0..8 {
        h.char('n');
    }
    assert_eq!(mark(&h), "req 3 slow");
    h.char('n');
    assert_eq!(mark(&h), "req 3 slow");
    assert_eq!(h.state.flash.as_deref(), Some("No older match."));
    h.char('N');
    assert_eq!(mark(&h), "req 13 slow");
}

#[test]
fn level_and_source_toggles() {
    let mut h = harness();
    lines(&mut h, 0, &["INFO a", "WARN b", "ERROR c", "plain"]);
    lines(&mut h, 1, &["error from web"]);
    h.char('l');
    assert_eq!(
        shown(&h.state),
        ["INFO a", "WARN b", "ERROR c", "error from web"]
    );
    h.char('l');
    h.char('l');
    assert_eq!(h.state.logview.min_level, Level::Error);
    assert_eq!(shown(&h.state), ["ERROR c", "error from web"]);
    h.char('s');
    assert_eq!(shown(&h.state), ["ERROR c"]);
    h.char('s');
    assert_eq!(shown(&h.state), ["error from web"]);
    assert!(screen(&h.state, 80, 24).contains("only web"));
    h.char('l');
    h.char('s');
    h.char('s');
    assert_eq!(shown(&h.state).len(), 5);
}

#[test]
fn source_status_restarting_quiet_and_failed() {
    let mut h = harness();
    source_state(&mut h, 0, SourceState::Running { pid: Some(42) });
    source_state(
        &mut h,
        1,
        SourceState::Failed("cannot open /var/log/web.log: No such file".into()),
    );
    lines(&mut h, 0, &["hello"]);
    assert_eq!(
        h.state.logview.status(0, h.now),
        Some(SourceStatus::Running)
    );
    let quiet_at = h.state.next_tick().unwrap();
    assert!(quiet_at <= h.now + Duration::from_secs(31));
    h.wait(Duration::from_secs(31));
    h.act(Action::Tick);
    assert!(matches!(
        h.state.logview.status(0, h.now),
        Some(SourceStatus::Quiet(_))
    ));
    let s = screen(&h.state, 80, 24);
    assert!(s.contains("api quiet 0:31"), "{s}");
    assert!(s.contains("web failed: cannot open"), "{s}");

    source_state(
        &mut h,
        0,
        SourceState::Stopped {
            why: "exit 1".into(),
            restart_in: Some(Duration::from_secs(4)),
        },
    );
    let s = screen(&h.state, 80, 24);
    assert!(s.contains("api stopped: exit 1, restarting in 4 s"), "{s}");
    h.wait(Duration::from_millis(1500));
    h.act(Action::Tick);
    assert!(screen(&h.state, 80, 24).contains("restarting in 3 s"));
    assert!(
        shown(&h.state)
            .iter()
            .any(|l| l == "stopped: exit 1, restarting in 4 s")
    );
}

#[test]
fn error_rate_over_a_sliding_window() {
    let mut h = harness();
    assert_eq!(h.state.error_rate(0, h.now, Duration::from_secs(60)), None);
    lines(&mut h, 0, &["ERROR x", "ok", "ok", "ok"]);
    let r = h
        .state
        .error_rate(0, h.now, Duration::from_secs(60))
        .unwrap();
    assert!((r - 0.25).abs() < 1e-9, "{r}");
    h.wait(Duration::from_secs(120));
    lines(&mut h, 0, &["ok"]);
    assert_eq!(
        h.state.error_rate(0, h.now, Duration::from_secs(60)),
        Some(0.0)
    );
    let r = h
        .state
        .error_rate(0, h.now, Duration::from_secs(600))
        .unwrap();
    assert!((r - 0.2).abs() < 1e-9, "{r}");
    assert_eq!(h.state.error_rate(7, h.now, Duration::from_secs(60)), None);
}

#[test]
fn escape_injection_renders_inert() {
    let mut h = harness();
    h.act(Action::Runner(RunnerEvent::LogLines {
        source: 0,
        lines: vec![make_line(
            b"x\x1b]0;pwned\x07\x1b[2Jy \x1b[31mred\x1b[0m",
            false,
            None,
        )]
        .into(),
    }));
    let s = screen(&h.state, 80, 24);
    assert!(!s.contains('\x1b') && !s.contains('\x07'), "{s:?}");
    assert!(s.contains("x^[]0;pwned^G^[[2Jy red"), "{s}");
}

#[test]
fn pane_fits_80x24_with_tags_and_truncated_marker() {
    let mut h = harness();
    h.act(Action::Runner(RunnerEvent::LogLines {
        source: 1,
        lines: LineBatch::from(vec![SourceLine {
            text: "long".into(),
            truncated: true,
            level: Level::Warn,
            stream: deckhand::runner::Stream::Stdout,
        }]),
    }));
    let s = screen(&h.state, 80, 24);
    assert!(s.contains(" web | long [line truncated]"), "{s}");
    assert!(s.contains("following"), "{s}");
}
