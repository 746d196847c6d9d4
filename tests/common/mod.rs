//! Shared helpers for deckhand's integration tests: plans from strings, states at a fixed time, key events.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use deckhand::app::{Action, Effect, State, update};
use deckhand::plan::{self, Plan};

pub const DEMO_ENV_PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[checklist]]
item = "Staging verification complete"

[[checklist]]
item = "Team notified"

[[phase]]
name = "Smoke"
steps = [{ run = "echo smoke" }]

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh --all", timeout = "20m" }, { run = "echo done" }]
"#;

pub fn plan_from(src: &str) -> Plan {
    let env = |_: &str| None;
    plan::parse(src, Path::new("test.toml"), &env).expect("test plan parses")
}

pub fn production_plan() -> Plan {
    plan_from(&DEMO_ENV_PLAN.replace("\"staging\"", "\"production\""))
}

/// What the runner reports after a status read on a database that is what its history produces.
pub fn clean_drift() -> deckhand::runner::RunnerEvent {
    deckhand::runner::RunnerEvent::Drift(Ok(deckhand::drift::DriftReport {
        target: "db.internal:5432/shop".into(),
        format: "sqlx".into(),
        replayed: Vec::new(),
        scratch: "deckhand_drift_00000000".into(),
        live_objects: 0,
        history_objects: 0,
        differences: Vec::new(),
        notes: Vec::new(),
        took_ms: 1,
    }))
}

/// Time between two keys typed by a person.
pub const KEY_GAP: Duration = Duration::from_millis(40);

/// A console state at a fixed origin time.
pub struct Harness {
    pub state: State,
    pub t0: Instant,
    pub now: Instant,
    /// The console's runner follows every status read with a drift comparison: a migration status fed to the
    /// harness is followed by a clean one (no difference) unless this is off (tests of drift feed their own).
    pub auto_drift: bool,
}

impl Harness {
    pub fn new(plan: Plan) -> Self {
        let t0 = Instant::now();
        Harness {
            state: State::new(plan, t0, 80, 24),
            t0,
            now: t0,
            auto_drift: true,
        }
    }

    pub fn staging() -> Self {
        Harness::new(plan_from(DEMO_ENV_PLAN))
    }

    /// Moves the clock forward.
    pub fn wait(&mut self, d: Duration) {
        self.now += d;
    }

    pub fn act(&mut self, action: Action) -> Vec<Effect> {
        let status = matches!(
            &action,
            Action::Runner(deckhand::runner::RunnerEvent::Migrations(Ok(_)))
        );
        let mut fx = update(&mut self.state, action, self.now);
        if status && self.auto_drift {
            fx.extend(update(
                &mut self.state,
                Action::Runner(clean_drift()),
                self.now,
            ));
        }
        fx
    }

    /// A key typed by a person: it arrives a little after the previous one.
    pub fn key(&mut self, code: KeyCode) -> Vec<Effect> {
        self.wait(KEY_GAP);
        self.act(Action::Key(KeyEvent::new(code, KeyModifiers::NONE).into()))
    }

    /// A key arriving with no gap after the previous one (how an unbracketed paste arrives).
    pub fn burst_key(&mut self, code: KeyCode) -> Vec<Effect> {
        self.act(Action::Key(KeyEvent::new(code, KeyModifiers::NONE).into()))
    }

    /// A key the event loop read at `read`, handed to `update` now (later, when deckhand stalled).
    pub fn key_read_at(&mut self, code: KeyCode, read: Instant) -> Vec<Effect> {
        self.act(Action::Key(deckhand::app::Keypress {
            event: KeyEvent::new(code, KeyModifiers::NONE),
            read: Some(read),
            after_stall: false,
        }))
    }

    /// A key the event loop read, with the others typed meanwhile, in its first wake-up after deckhand stalled.
    pub fn key_after_stall(&mut self, code: KeyCode) -> Vec<Effect> {
        self.act(Action::Key(deckhand::app::Keypress {
            event: KeyEvent::new(code, KeyModifiers::NONE),
            read: Some(self.now),
            after_stall: true,
        }))
    }

    pub fn char(&mut self, c: char) -> Vec<Effect> {
        self.key(KeyCode::Char(c))
    }

    pub fn type_text(&mut self, s: &str) -> Vec<Effect> {
        s.chars().flat_map(|c| self.char(c)).collect()
    }

    /// The console drawn at `width` x `height`: its text, a line per row, and the cells (for colours).
    pub fn screen_at(&self, width: u16, height: u16) -> (String, ratatui::buffer::Buffer) {
        self.screen_themed(width, height, deckhand::views::Theme::COLOUR)
    }

    /// [`Self::screen_at`] in theme `theme` (`Theme::PLAIN` is the console under `NO_COLOR`).
    pub fn screen_themed(
        &self,
        width: u16,
        height: u16,
        theme: deckhand::views::Theme,
    ) -> (String, ratatui::buffer::Buffer) {
        let backend = ratatui::backend::TestBackend::new(width, height);
        let mut t = ratatui::Terminal::new(backend).expect("test terminal");
        t.draw(|f| deckhand::views::render_with(f, &self.state, theme))
            .expect("draw");
        let buf = t.backend().buffer().clone();
        let mut text = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                text.push_str(buf[(x, y)].symbol());
            }
            text.push('\n');
        }
        (text, buf)
    }

    /// The console drawn at 80x24, the smallest size it must work at.
    pub fn screen(&self) -> (String, ratatui::buffer::Buffer) {
        self.screen_at(80, 24)
    }

    /// Selects the phase with this index in the checklist pane.
    pub fn select_phase(&mut self, phase: usize) {
        self.state.selected = (self.state.rows().iter())
            .position(|r| *r == deckhand::app::Row::Phase(phase))
            .expect("no such phase row");
    }

    /// A dry-run of the pending migrations came back clean (applying asks for one first).
    pub fn dried(&mut self) {
        self.act(Action::Runner(deckhand::runner::RunnerEvent::Rehearsed(
            Ok(Vec::new()),
        )));
    }

    pub fn tick_all(&mut self) {
        for i in 0..self.state.checked.len() {
            self.state.checked[i] = true;
        }
    }

    /// The open prompt reached the screen, and the confirmation guard passed.
    pub fn settle(&mut self) {
        self.act(Action::ModalShown);
        self.wait(Duration::from_millis(400));
    }
}

/// Waits until `check` says so, polling every 20 ms; panics naming `what` after 30 s (a hang guard for a loaded
/// machine, not a timing assertion).
pub async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check().await {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn starts(fx: &[Effect]) -> Vec<deckhand::runner::StepId> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::StartStep(id) => Some(*id),
            _ => None,
        })
        .collect()
}

pub fn journal_events(fx: &[Effect]) -> Vec<deckhand::journal::Event> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Journal(ev) => Some(ev.clone()),
            _ => None,
        })
        .collect()
}
pub mod http;
pub mod ledger;
pub mod migrations;
pub mod net;
pub mod pg;
pub mod pgbackup;
pub mod prisma_history;
pub mod pty;

/// A backup record as the runner reports it (verified or not), for `update()` tests.
pub fn archive(path: &str, dbname: &str, verified: bool) -> deckhand::backup::Archive {
    use deckhand::backup::{Archive, ArchiveKind, Verified};
    Archive {
        path: std::path::PathBuf::from(path),
        kind: ArchiveKind::PgCustom,
        project: "shop".into(),
        environment: "production".into(),
        database: format!("db.internal:5432/{dbname}"),
        dbname: dbname.into(),
        created_unix: 1_795_269_785,
        size: 12_345_678,
        sha256: "ab".repeat(32),
        server_version: "15.18".into(),
        tool: "pg_dump (PostgreSQL) 15.18".into(),
        took_ms: 1_500,
        verified: verified.then(|| Verified {
            at_unix: 1_795_269_800,
            tables: vec!["public.orders".into(), "public.users".into()],
            took_ms: 900,
            compared_with_live: true,
        }),
        counters: None,
    }
}

/// The runner's report that this run's backup passed (or failed) verification.
pub fn verified_event(a: &deckhand::backup::Archive, ok: bool) -> Action {
    use deckhand::runner::backup::BackupEvent;
    let tables = vec!["public.orders".to_string(), "public.users".to_string()];
    Action::Runner(deckhand::runner::RunnerEvent::Backup(Box::new(
        BackupEvent::Verified {
            archive: a.clone(),
            verification: deckhand::backup::Verification {
                ok,
                tables,
                missing: Vec::new(),
                compared_with_live: true,
                proven: ok,
                problems: if ok {
                    Vec::new()
                } else {
                    vec!["pg_restore: error: could not read from input file: end of file".into()]
                },
                schema_changes: Vec::new(),
                took: Duration::from_millis(900),
            },
            deleted: None,
        },
    )))
}

/// The runner's answer to `Effect::ReadCounters`: the database's write counters now, or why they could not be read.
pub fn counters_read(
    purpose: deckhand::runner::CountersFor,
    result: Result<deckhand::backup::counters::Counters, String>,
) -> Action {
    Action::Runner(deckhand::runner::RunnerEvent::Counters {
        purpose,
        at_unix: 1_795_270_000,
        result,
    })
}
