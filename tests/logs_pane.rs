//! The logs pane through `update` and the real views: filter (incremental re-scan, invalid regex), n/N search,
//! level and source toggles, source status (restarting, quiet, failed), error rate, and escape sequences that
//! reach the screen inert.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::time::Duration;

use crossterm::event::KeyCode;
use deckhand::app::{
    Action, Effect, Layer, LogBuffer, Overlay, SCAN_SLICE_LINES, SourceStatus, State, init,
};
use deckhand::logs::batch::LineBatch;
use deckhand::logs::line::make_line;
use deckhand::runner::{Level, RunnerEvent, SourceLine, SourceState, Stream};
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
    // A followed file that does not exist yet is waited for, and said so: not "failed".
    source_state(
        &mut h,
        1,
        SourceState::Waiting("/var/log/web.log does not exist yet".into()),
    );
    let s = screen(&h.state, 200, 24);
    assert!(
        s.contains("web waiting: /var/log/web.log does not exist yet"),
        "{s}"
    );
    assert!(
        shown(&h.state)
            .iter()
            .any(|l| l == "waiting: /var/log/web.log does not exist yet")
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
            stream: Stream::Stdout,
        }]),
    }));
    let s = screen(&h.state, 80, 24);
    assert!(s.contains(" web | long [line truncated]"), "{s}");
    assert!(s.contains("following"), "{s}");
}

/// The sequence number of the selected line (`None`: following, the newest line stands for it).
fn selected(h: &Harness) -> Option<String> {
    let seq = h.state.logview.current?;
    Some(h.state.logs.get_seq(seq)?.text.to_string())
}

fn numbered(h: &mut Harness, from: usize, n: usize) {
    let texts: Vec<String> = (from..from + n).map(|i| format!("line {i}")).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    lines(h, 0, &refs);
}

#[test]
fn j_and_k_move_the_selected_line_and_the_view_keeps_it_in_sight() {
    let mut h = harness();
    numbered(&mut h, 0, 100);
    assert_eq!(selected(&h), None, "following: nothing selected");
    h.char('k');
    assert_eq!(selected(&h).as_deref(), Some("line 98"));
    assert_eq!(h.state.log_offset, 0, "in view: the view stays");
    assert!(screen(&h.state, 80, 24).contains("paused (G follows)"));
    // A selection holds the view still while lines arrive.
    numbered(&mut h, 100, 5);
    assert_eq!(h.state.log_offset, 5);
    assert_eq!(selected(&h).as_deref(), Some("line 98"));
    // Up past the top of the view: the view scrolls a line at a time with it.
    let page = h.state.log_page();
    for _ in 0..page {
        h.char('k');
    }
    let top = 98 - page;
    assert_eq!(selected(&h), Some(format!("line {top}")));
    let end = 105 - h.state.log_offset;
    assert_eq!(end - page, top, "the selection is the top line in view");
    // j back down to the newest line with the view at the bottom follows again.
    for _ in 0..200 {
        h.char('j');
    }
    assert_eq!((selected(&h), h.state.log_offset), (None, 0));
    // g selects the oldest line; G follows again; PgUp moves the selection a page.
    h.char('g');
    assert_eq!(selected(&h).as_deref(), Some("line 0"));
    h.char('G');
    assert_eq!((selected(&h), h.state.log_offset), (None, 0));
    h.key(KeyCode::PageUp);
    assert_eq!(selected(&h), Some(format!("line {}", 104 - page)));
    assert_eq!(h.state.log_offset, page);
    h.key(KeyCode::PageDown);
    assert_eq!((selected(&h), h.state.log_offset), (None, 0));
}

#[test]
fn n_searches_from_the_selected_line() {
    let mut h = harness();
    let texts: Vec<String> = (0..20)
        .map(|i| format!("req {i} {}", if i % 5 == 0 { "slow" } else { "ok" }))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    lines(&mut h, 0, &refs);
    h.char('/');
    h.type_text("slow|ok");
    h.key(KeyCode::Enter);
    for _ in 0..3 {
        h.char('k');
    }
    assert_eq!(selected(&h).as_deref(), Some("req 16 ok"));
    h.char('/');
    h.type_text("");
    // Changing the filter starts over (following); j/k then n go from the line selected.
    for _ in 0..7 {
        h.key(KeyCode::Backspace);
    }
    h.type_text("slow");
    h.key(KeyCode::Enter);
    assert_eq!(selected(&h), None);
    h.char('n');
    assert_eq!(selected(&h).as_deref(), Some("req 15 slow"));
    h.char('k');
    assert_eq!(
        selected(&h).as_deref(),
        Some("req 10 slow"),
        "j/k move among the lines shown"
    );
}

#[test]
fn enter_shows_the_selected_line_whole_and_its_keys_scroll_it() {
    let mut h = harness();
    lines(&mut h, 0, &["first", "second"]);
    // Following: Enter shows the newest line.
    h.key(KeyCode::Enter);
    let seq = |h: &Harness| match h.state.overlay {
        Some(Overlay::Line { seq, .. }) => h.state.logs.get_seq(seq).unwrap().text.to_string(),
        other => panic!("no line overlay: {other:?}"),
    };
    assert_eq!(seq(&h), "second");
    assert_eq!(deckhand::app::layer(&h.state), Layer::Line);
    // Its keys are its own: q closes it, it does not quit.
    let fx = h.char('q');
    assert!(fx.is_empty() && h.state.overlay.is_none());
    h.char('k');
    h.key(KeyCode::Enter);
    assert_eq!(seq(&h), "first");
    h.key(KeyCode::Enter);
    assert!(h.state.overlay.is_none(), "Enter closes it too");

    // A line of 2,000 words scrolls, never past its end.
    let long: String = (0..2_000).map(|i| format!("w{i:04} ")).collect();
    lines(&mut h, 0, &[long.trim_end()]);
    h.char('G');
    h.key(KeyCode::Enter);
    let scroll = |h: &Harness| match h.state.overlay {
        Some(Overlay::Line { scroll, .. }) => scroll,
        _ => panic!("closed"),
    };
    h.char('j');
    assert_eq!(scroll(&h), 1);
    h.char('G');
    let end = scroll(&h);
    let (cols, rows) = deckhand::app::line_text_area(80, 24);
    let total = deckhand::app::layout::rows(long.trim_end(), cols).count();
    assert_eq!(end, total - rows);
    h.char('j');
    assert_eq!(scroll(&h), end);
    let s = screen(&h.state, 80, 24);
    assert!(s.contains("w1999"), "{s}");
    assert!(s.contains(&format!("of {total}")), "{s}");
    h.key(KeyCode::Home);
    assert_eq!(scroll(&h), 0);
    assert!(screen(&h.state, 80, 24).contains("w0000"));
}

#[test]
fn a_ten_megabyte_line_shows_its_start_and_its_size() {
    let mut h = harness();
    let huge = "x".repeat(10 * 1024 * 1024);
    h.act(Action::Runner(RunnerEvent::LogLines {
        source: 0,
        lines: vec![SourceLine {
            text: huge,
            truncated: false,
            level: Level::Other,
            stream: Stream::Stdout,
        }]
        .into(),
    }));
    // Wrapped in the pane, it fills it at most and says more follows.
    h.char('w');
    let s = screen(&h.state, 80, 24);
    assert!(s.contains('›'), "{s}");
    h.key(KeyCode::Enter);
    let s = screen(&h.state, 80, 24);
    assert!(s.contains("10.5 MB in all: the first 65.5 KB shown"), "{s}");
    h.char('G');
    let s = screen(&h.state, 80, 24);
    assert!(s.contains("rows"), "{s}");
}

#[test]
fn overlay_text_is_inert_and_says_where_the_line_came_from() {
    let mut h = harness();
    h.act(Action::Runner(RunnerEvent::LogLines {
        source: 1,
        lines: vec![SourceLine {
            stream: Stream::Stderr,
            ..make_line(
                b"boom \x1b]52;c;ZXZpbA==\x07 \xe2\x80\xae reversed",
                false,
                None,
            )
        }]
        .into(),
    }));
    h.key(KeyCode::Enter);
    let s = screen(&h.state, 80, 24);
    assert!(
        !s.contains('\x1b') && !s.contains('\x07') && !s.contains('\u{202e}'),
        "{s:?}"
    );
    assert!(
        s.contains("source web ([[logs]]) · stderr · level no level"),
        "{s}"
    );
    assert!(
        s.contains("boom ^[]52;c;ZXZpbA==^G <U+202E> reversed"),
        "{s}"
    );
}

#[test]
fn a_sources_stderr_lines_are_marked_apart_from_its_stdout() {
    let mut h = harness();
    let line = |text: &str, stream| SourceLine {
        stream,
        ..make_line(text.as_bytes(), false, None)
    };
    h.act(Action::Runner(RunnerEvent::LogLines {
        source: 0,
        lines: vec![
            line("to stdout", Stream::Stdout),
            line("to stderr", Stream::Stderr),
        ]
        .into(),
    }));
    let s = screen(&h.state, 80, 24);
    assert!(s.contains(" api | to stdout"), "{s}");
    assert!(s.contains(" api ! to stderr"), "{s}");
}

#[test]
fn w_wraps_and_arrows_scroll_sideways_by_columns() {
    let mut h = harness();
    let wide = "日本語".repeat(40);
    lines(&mut h, 0, &["short", &wide]);
    let step = deckhand::app::pan_step(&h.state);
    h.key(KeyCode::Right);
    assert_eq!(h.state.logview.col, step);
    let s = screen(&h.state, 80, 24);
    assert!(s.contains(&format!("from col {}", step + 1)), "{s}");
    h.key(KeyCode::Left);
    h.key(KeyCode::Left);
    assert_eq!(h.state.logview.col, 0);
    // Wrapped, the arrows have nothing to scroll and say why.
    h.char('w');
    h.key(KeyCode::Right);
    assert_eq!(h.state.logview.col, 0);
    assert!(h.state.flash.as_deref().unwrap().contains("w cuts them"));
    // Elsewhere the arrows say where they work.
    h.key(KeyCode::Char('1'));
    h.key(KeyCode::Right);
    assert!(h.state.flash.as_deref().unwrap().contains("logs pane"));
}

#[test]
fn title_counts_lines_matches_errors_and_dropped() {
    let mut h = harness();
    h.state.logs = LogBuffer::with_limits(50, usize::MAX);
    let texts: Vec<String> = (0..80)
        .map(|i| {
            if i % 10 == 0 {
                format!("ERROR {i}")
            } else {
                format!("ok {i}")
            }
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    lines(&mut h, 0, &refs);
    // Lines 30..80 are kept: errors 30, 40, ... 70.
    assert_eq!(h.state.logs.errors(), 5);
    let s = screen(&h.state, 160, 48);
    assert!(s.contains(" 50 lines · 5 errors · 30 dropped "), "{s}");
    h.char('/');
    h.type_text("ok 7");
    h.key(KeyCode::Enter);
    let s = screen(&h.state, 160, 48);
    assert!(
        s.contains(" 50 lines · 9 matches · 5 errors · 30 dropped "),
        "{s}"
    );
    // At 80 columns the wording gets shorter and the other tabs give way to their numbers.
    let s = screen(&h.state, 80, 24);
    let title = s.lines().nth(1).unwrap();
    assert!(title.contains("3 Logs"), "{title}");
    assert!(
        title.contains("9 match") && title.contains("5 err"),
        "{title}"
    );
}

#[test]
fn wrapped_view_keeps_the_selected_line_in_sight() {
    let mut h = harness();
    let texts: Vec<String> = (0..40)
        .map(|i| format!("line {i:02} {}", "word ".repeat(20)))
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    lines(&mut h, 0, &refs);
    h.char('w');
    // Each line takes three rows or more at 80x24: going up a few lines leaves the lines in view behind.
    for k in 1..=12 {
        h.char('k');
        let want = format!("line {:02}", 39 - k);
        let s = screen(&h.state, 80, 24);
        assert!(s.contains(&want), "{want} selected but not shown:\n{s}");
    }
    for j in 1..=12 {
        h.char('j');
        let want = format!("line {:02}", 27 + j);
        assert!(screen(&h.state, 80, 24).contains(&want), "{want}");
    }
}

/// Lines that arrive under a filter are tested a batch at a time (one search over the whole batch); what shows
/// is exactly what testing each line alone shows (a re-scan does that): anchors, classes that cross a line's
/// end, text anchors, with and without a level and a source toggle.
#[test]
fn batches_are_filtered_as_their_lines_one_by_one() {
    let texts = [
        "x error here",
        "ok",
        "a  b",
        "ab",
        "end x",
        "",
        "ERROR x",
        "WARN x",
        "x",
    ];
    let patterns = [
        "^x",
        "x$",
        "a\\s+b",
        "[^z]{3}",
        "^$",
        "(?s)ok.x",
        "\\Ax",
        "x\\z",
        "error",
        "(?i)error",
        "(?-im)^x",
        "(?i-sm)x$",
    ];
    for toggles in ["", "ls"] {
        for pattern in patterns {
            let mut h = harness();
            for c in toggles.chars() {
                h.char(c);
            }
            h.char('/');
            h.type_text(pattern);
            h.key(KeyCode::Enter);
            lines(&mut h, 0, &texts);
            lines(&mut h, 1, &texts);
            let arrived = shown(&h.state);
            h.state.logview.apply_filter(pattern, &h.state.logs);
            while h.state.logview.scan_step(&h.state.logs) {}
            assert_eq!(arrived, shown(&h.state), "/{pattern}/ toggles {toggles:?}");
        }
    }
}
