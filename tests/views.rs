//! View tests: the whole screen rendered from a `State` into ratatui's `TestBackend`, snapshotted with insta at
//! 80x24 and 160x48, plus cell-style asserts where colour carries meaning (production and danger are red).
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Pane, State};
use deckhand::runner::{OutputLine, RunnerEvent, StepId, StepOutcome, Stream};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;

fn draw(state: &State, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    t.draw(|f| deckhand::views::render(f, state)).expect("draw");
    t
}

fn output(h: &mut Harness, id: StepId, texts: &[&str], stream: Stream) {
    h.act(Action::Runner(RunnerEvent::Output {
        id,
        lines: texts
            .iter()
            .map(|t| OutputLine {
                stream,
                text: t.to_string(),
                truncated: false,
            })
            .collect(),
    }));
}

/// A run in progress: smoke phase done, deploy running its first step with some output.
fn mid_run(mut h: Harness) -> Harness {
    h.char(' ');
    h.char('j');
    h.char(' ');
    h.select_phase(0);
    h.key(KeyCode::Enter);
    let smoke = StepId { phase: 0, step: 0 };
    output(&mut h, smoke, &["smoke ok"], Stream::Stdout);
    h.wait(Duration::from_secs(2));
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: smoke,
        outcome: StepOutcome::Exited(0),
        duration: Duration::from_secs(2),
    }));
    h.select_phase(1);
    h.key(KeyCode::Enter);
    h.settle();
    if h.state.plan.project.is_production() {
        h.type_text("production");
        h.key(KeyCode::Enter);
    } else {
        h.char('y');
    }
    let deploy = StepId { phase: 1, step: 0 };
    output(
        &mut h,
        deploy,
        &["rolling out 1/3", "rolling out 2/3"],
        Stream::Stdout,
    );
    output(&mut h, deploy, &["warning: slow node"], Stream::Stderr);
    h.wait(Duration::from_secs(75));
    h.act(Action::Tick);
    h
}

fn cell_fg_bg(buf: &Buffer, text: &str, row: u16) -> (Color, Color) {
    let line: String = (0..buf.area.width)
        .map(|x| buf[(x, row)].symbol().to_string())
        .collect();
    let col = line
        .find(text)
        .unwrap_or_else(|| panic!("{text:?} not on row {row}: {line:?}"));
    let x = line[..col].chars().count() as u16;
    let cell = &buf[(x, row)];
    (cell.fg, cell.bg)
}

#[test]
fn start_screen_80x24() {
    let h = Harness::staging();
    insta::assert_snapshot!(draw(&h.state, 80, 24).backend());
}

#[test]
fn start_screen_160x48_shows_all_four_panes() {
    let h = Harness::staging();
    let t = draw(&h.state, 160, 48);
    let screen = t.backend().to_string();
    for title in ["Checklist", "Migrations", "Logs", "Health"] {
        assert!(screen.contains(title), "{title} pane missing");
    }
    assert!(screen.contains("No database configured"));
    assert!(screen.contains("No health checks configured"));
    // Empty panes say how to add what they lack, never that a feature is missing from deckhand.
    assert!(!screen.contains("not built into"), "{screen}");
    assert!(screen.contains("Add [database]"), "{screen}");
    assert!(screen.contains("Add [[health]]"), "{screen}");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn mid_run_80x24() {
    let h = mid_run(Harness::staging());
    insta::assert_snapshot!(draw(&h.state, 80, 24).backend());
}

#[test]
fn mid_run_160x48() {
    let h = mid_run(Harness::staging());
    insta::assert_snapshot!(draw(&h.state, 160, 48).backend());
}

#[test]
fn production_confirmation_80x24() {
    let mut h = Harness::new(production_plan());
    h.tick_all();
    h.select_phase(1);
    h.key(KeyCode::Enter);
    h.settle();
    h.type_text("prod");
    let t = draw(&h.state, 80, 24);
    insta::assert_snapshot!(t.backend());
    let screen = t.backend().to_string();
    assert!(screen.contains("Type production and press Enter"));
    assert!(screen.contains("./deploy.sh --all  (timeout 20m)"));
}

#[test]
fn help_overlay_lists_every_key() {
    let mut h = Harness::staging();
    h.char('?');
    let t = draw(&h.state, 80, 24);
    insta::assert_snapshot!(t.backend());
    // At 80x24 the list is taller than the screen: it scrolls, and every key is on some page.
    let first = t.backend().to_string();
    assert!(first.contains("(j/k scroll, Esc closes)"), "{first}");
    h.char('G');
    let last = draw(&h.state, 80, 24).backend().to_string();
    assert_ne!(first, last, "G scrolls the help to its end");
    let screen = format!("{first}{last}");
    for key in [
        "1 / 2 / 3 / 4",
        "PgUp / PgDn",
        "a ",
        "d ",
        "m ",
        "b ",
        "B ",
        "U ",
        "E ",
        "v ",
        "Tab",
        "Shift-Tab",
        "j / Down",
        "g / Home",
        "G / End",
        "Space",
        "Enter",
        "c ",
        "q / Ctrl-C",
        "Esc",
        "Prompts: y confirms",
    ] {
        assert!(screen.contains(key), "help lacks {key:?}:\n{screen}");
    }
    // Closing and opening again starts at the top.
    h.key(crossterm::event::KeyCode::Esc);
    h.char('?');
    assert_eq!(draw(&h.state, 80, 24).backend().to_string(), first);
}

#[test]
fn narrow_terminal_shows_one_pane_as_tabs() {
    let mut h = mid_run(Harness::staging());
    h.state.focus = Pane::Logs;
    let t = draw(&h.state, 60, 20);
    let screen = t.backend().to_string();
    assert!(
        screen.contains("1 Checklist"),
        "tab bar lists the checklist"
    );
    assert!(
        screen.contains("rolling out 2/3"),
        "the focused logs pane fills the body"
    );
    assert!(
        !screen.contains("[x] Staging"),
        "the checklist is not drawn beside it"
    );
}

#[test]
fn production_badge_is_white_on_red() {
    let h = Harness::new(production_plan());
    let t = draw(&h.state, 80, 24);
    let (fg, bg) = cell_fg_bg(t.backend().buffer(), "PRODUCTION", 0);
    assert_eq!((fg, bg), (Color::White, Color::Red));
    let s = Harness::staging();
    let t = draw(&s.state, 80, 24);
    let (_, bg) = cell_fg_bg(t.backend().buffer(), "staging", 0);
    assert_ne!(bg, Color::Red, "only production is red");
}

#[test]
fn destructive_phase_is_red_and_modal_frame_is_red() {
    let mut h = Harness::staging();
    let t = draw(&h.state, 80, 24);
    let buf = t.backend().buffer();
    let row = (0..24).find(|y| {
        let line: String = (0..80).map(|x| buf[(x, *y)].symbol().to_string()).collect();
        line.contains("! Deploy")
    });
    let row = row.expect("destructive phase row");
    assert_eq!(cell_fg_bg(buf, "Deploy", row).0, Color::Red);
    assert_ne!(
        cell_fg_bg(buf, "Smoke", row - 2).0,
        Color::Red,
        "a safe phase is not red"
    );

    h.tick_all();
    h.select_phase(1);
    h.key(KeyCode::Enter);
    let t = draw(&h.state, 80, 24);
    let buf = t.backend().buffer();
    let title_row = (0..24)
        .find(|y| {
            (0..80)
                .map(|x| buf[(x, *y)].symbol().to_string())
                .collect::<String>()
                .contains("Run destructive")
        })
        .expect("modal title");
    assert_eq!(cell_fg_bg(buf, "Run destructive", title_row).0, Color::Red);
}

#[test]
fn escape_sequences_and_bidi_overrides_in_plan_text_are_inert_on_screen() {
    // `check` refuses control characters in names now; the screen stays inert for text that reaches it anyway
    // (an older plan's names replayed from a journal, a step's output): put them in the plan behind its back.
    let mut plan = plan_from(DEMO_ENV_PLAN);
    plan.checklist[1].item = "Team \u{1b}]0;pwned\u{7}notified".into();
    plan.phases[0].name = "Smoke \u{202e}gnp.exe".into();
    let mut h = Harness::new(plan);
    let t = draw(&h.state, 80, 24);
    let screen = t.backend().to_string();
    assert!(screen.contains("Team ^[]0;pwned^Gnotified"), "{screen}");
    assert!(screen.contains("Smoke <U+202E>gnp.exe"), "{screen}");
    // deckhand's own log notes quote the phase name: inert there too.
    h.select_phase(0);
    h.key(KeyCode::Enter);
    let screen = draw(&h.state, 80, 24).backend().to_string();
    assert!(
        screen.contains("phase 'Smoke <U+202E>gnp.exe' started"),
        "{screen}"
    );
    assert!(!screen.contains('\u{202e}'));
}

#[test]
fn migrations_pane_80x24_shows_states_sql_and_problems() {
    use deckhand::migrate::ledger::LedgerKey;
    use deckhand::migrate::status::{Entry, State as M, Status};
    use deckhand::migrate::{Format, Key, Migration};
    let src = "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[database]\n\
               url = \"postgres://app:pw@db:5432/shop\"\nmigrations = \"m\"\n";
    let mut h = Harness::new(plan_from(src));
    let names = ["0001_users", "0002_email_index", "0003_orders"];
    let states = [M::Applied, M::Failed, M::Pending];
    let sql = "-- unique emails\nCREATE UNIQUE INDEX CONCURRENTLY users_email_key\n    ON users (email);\n";
    let migrations: Vec<Migration> = names
        .iter()
        .map(|n| Migration {
            format: Format::Sqlx,
            key: Key::Plain {
                stem: n.to_string(),
            },
            name: n.to_string(),
            path: format!("m/{n}.sql").into(),
            sql: sql.into(),
            statements: Vec::new(),
            down: None,
            no_transaction: (n.contains("index"))
                .then(|| "CREATE UNIQUE INDEX CONCURRENTLY at line 2".to_string()),
        })
        .collect();
    let entries = names
        .iter()
        .zip(states)
        .enumerate()
        .map(|(i, (n, s))| Entry {
            name: n.to_string(),
            state: s,
            local: Some(i),
            key: LedgerKey::Name(n.to_string()),
            applied_at: None,
            detail: None,
        })
        .collect();
    let snapshot = deckhand::runner::migrate::Snapshot {
        format: Format::Sqlx,
        migrations,
        status: Status {
            format: "sqlx".into(),
            target: "db:5432/shop".into(),
            entries,
            invalid_indexes: vec![deckhand::migrate::index::InvalidIndex {
                schema: "public".into(),
                name: "users_email_key".into(),
                table: "users".into(),
                partitioned: false,
            }],
        },
        reports: vec![None, None, Some(locking_report())],
        downs: Vec::new(),
        notes: Vec::new(),
    };
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snapshot))));
    // The pending migration: its risk summary in the list, its finding marked on its SQL line.
    h.state.db.selected = 2;
    let screen = draw(&h.state, 80, 24).backend().to_string();
    assert!(
        screen.contains("0003_orders  pending  1 locking"),
        "{screen}"
    );
    assert!(screen.contains("L LOCKING line 2"), "{screen}");
    assert!(screen.contains("live: users: ~2,000,000 rows"), "{screen}");
    assert!(screen.contains("L2 CREATE UNIQUE INDEX"), "{screen}");
    h.state.db.selected = 1;
    let t = draw(&h.state, 80, 24);
    let screen = t.backend().to_string();
    assert!(
        screen.contains("1 applied, 1 pending, 1 need resolving"),
        "{screen}"
    );
    assert!(screen.contains("runs statement by statement"), "{screen}");
    assert!(
        screen.contains("INVALID index public.users_email_key"),
        "{screen}"
    );
    assert!(!screen.contains("pw@"), "no password on screen");
    let buf = t.backend().buffer();
    let row = (0..24)
        .find(|y| {
            (0..80)
                .map(|x| buf[(x, *y)].symbol().to_string())
                .collect::<String>()
                .contains("FAILED")
        })
        .expect("failed row");
    assert_eq!(cell_fg_bg(buf, "FAILED", row).0, Color::Red);
    insta::assert_snapshot!(t.backend());
}

fn locking_report() -> deckhand::lint::FileReport {
    use deckhand::lint::{Atomicity, Class, FileReport, Finding};
    FileReport {
        name: "0003_orders".into(),
        path: "m/0003_orders.sql".into(),
        findings: vec![Finding {
            class: Class::Locking,
            rule: "require-concurrent-index-creation".into(),
            statement_index: 1,
            line: 2,
            column: 1,
            statement: "CREATE UNIQUE INDEX users_email_key ON users (email)".into(),
            why: "writes to users wait until the index is built".into(),
            safer: "CREATE INDEX CONCURRENTLY".into(),
            object: None,
            tables: vec!["users".into()],
            severity: None,
            context: vec!["users: ~2,000,000 rows, 180 MB; est. lock ~4 s".into()],
            ignored: None,
            spared: None,
        }],
        atomicity: Atomicity {
            transactional: true,
            on_failure: Vec::new(),
            summary: "one transaction: if any statement fails, nothing stays applied".into(),
        },
        impacts: Vec::new(),
    }
}

const LOGS_PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Smoke"
steps = [{ run = "true" }]

[[logs]]
name = "api"
command = "flyctl logs -a shop"
"#;

/// Long lines from a `[[logs]]` source, one of them on stderr, one wide (CJK), one an error; the logs pane focused.
fn long_lines() -> Harness {
    let mut h = Harness::new(plan_from(LOGS_PLAN));
    h.key(KeyCode::Char('3'));
    h.wait(Duration::from_secs(5));
    let line = |text: &str, level, stream| deckhand::runner::SourceLine {
        text: text.to_string(),
        truncated: false,
        level,
        stream,
    };
    use deckhand::runner::Level;
    let lines = vec![
        line("GET /api/health 200 2ms", Level::Other, Stream::Stdout),
        line(
            "INFO order 1234 created for customer 98765 with 3 items, total 129.90 EUR, paid via acme-pay ref 7f3a9c2e-55b1-4c1e-9d1f-0a6b2c3d4e5f",
            Level::Info,
            Stream::Stdout,
        ),
        line(
            "WARN retrying upstream call to inventory-service after 502 Bad Gateway (attempt 2 of 5, backoff 400ms)",
            Level::Warn,
            Stream::Stderr,
        ),
        line(
            "INFO 注文を受け付けました: 顧客 98765、商品 3 点、合計 129.90 EUR、決済 acme-pay",
            Level::Info,
            Stream::Stdout,
        ),
        line(
            "ERROR payment capture failed for order 1234: upstream acme-pay answered 503 Service Unavailable after 30000ms; the order stays pending and will be retried by the reconciler",
            Level::Error,
            Stream::Stderr,
        ),
        line("GET /api/orders 200 14ms", Level::Other, Stream::Stdout),
    ];
    h.act(Action::Runner(RunnerEvent::LogLines {
        source: 0,
        lines: lines.into(),
    }));
    h.wait(Duration::from_secs(3));
    h
}

#[test]
fn logs_cut_at_the_edge_80x24() {
    let h = long_lines();
    let t = draw(&h.state, 80, 24);
    let screen = t.backend().to_string();
    // One row per line, a mark where more is to the right; stderr marked apart; the counts in the title.
    assert!(
        screen.contains("api | INFO order 1234 created for customer 9›"),
        "{screen}"
    );
    assert!(screen.contains("api ! ERROR payment capture"), "{screen}");
    assert!(screen.contains(" 6 lines · 1 error "), "{screen}");
    let (fg, _) = cell_fg_bg(t.backend().buffer(), "1 error", 1);
    assert_eq!(fg, Color::Red, "errors counted in red");
    insta::assert_snapshot!(t.backend());
}

#[test]
fn logs_scrolled_sideways_80x24() {
    let mut h = long_lines();
    h.key(KeyCode::Right);
    h.key(KeyCode::Right);
    assert_eq!(h.state.logview.col, 40);
    let t = draw(&h.state, 80, 24);
    let screen = t.backend().to_string();
    assert!(screen.contains("from col 41"), "{screen}");
    assert!(screen.contains("‹"), "{screen}");
    insta::assert_snapshot!(t.backend());
    // Never past the longest line in view; back to the start.
    for _ in 0..20 {
        h.key(KeyCode::Right);
    }
    assert!(h.state.logview.col < 180, "{}", h.state.logview.col);
    for _ in 0..20 {
        h.key(KeyCode::Left);
    }
    assert_eq!(h.state.logview.col, 0);
}

#[test]
fn logs_wrapped_80x24() {
    let mut h = long_lines();
    h.char('w');
    assert!(h.state.logview.wrap);
    let t = draw(&h.state, 80, 24);
    let screen = t.backend().to_string();
    assert!(screen.contains("wrapped"), "{screen}");
    assert!(
        !screen.contains('›'),
        "nothing is cut when wrapping: {screen}"
    );
    insta::assert_snapshot!(t.backend());
    h.char('w');
    assert!(!h.state.logview.wrap);
}

#[test]
fn log_line_overlay_80x24() {
    let mut h = long_lines();
    // The selection starts at the newest line; k moves it to the error line.
    h.char('k');
    let t = draw(&h.state, 80, 24);
    let buf = t.backend().buffer();
    let row = (0..24)
        .find(|y| {
            (0..80)
                .map(|x| buf[(x, *y)].symbol())
                .collect::<String>()
                .contains("ERROR payment")
        })
        .unwrap();
    let x = (0..80).find(|x| buf[(*x, row)].symbol() == "E").unwrap();
    assert!(
        buf[(x, row)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED),
        "the selected line is reversed"
    );
    h.key(KeyCode::Enter);
    let t = draw(&h.state, 80, 24);
    let screen = t.backend().to_string();
    assert!(
        screen.contains("source api ([[logs]]) · stderr · level error"),
        "{screen}"
    );
    assert!(
        screen.contains("arrived 0:05 into the run, 0:03 ago"),
        "{screen}"
    );
    assert!(screen.contains("reconciler"), "the whole text: {screen}");
    insta::assert_snapshot!(t.backend());
    h.key(KeyCode::Esc);
    assert!(h.state.overlay.is_none());
}
