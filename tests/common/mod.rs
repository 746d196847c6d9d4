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

/// Time between two keys typed by a person.
pub const KEY_GAP: Duration = Duration::from_millis(40);

/// A console state at a fixed origin time.
pub struct Harness {
    pub state: State,
    pub t0: Instant,
    pub now: Instant,
}

impl Harness {
    pub fn new(plan: Plan) -> Self {
        let t0 = Instant::now();
        Harness {
            state: State::new(plan, t0, 80, 24),
            t0,
            now: t0,
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
        update(&mut self.state, action, self.now)
    }

    /// A key typed by a person: it arrives a little after the previous one.
    pub fn key(&mut self, code: KeyCode) -> Vec<Effect> {
        self.wait(KEY_GAP);
        self.act(Action::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    /// A key arriving with no gap after the previous one (how an unbracketed paste arrives).
    pub fn burst_key(&mut self, code: KeyCode) -> Vec<Effect> {
        self.act(Action::Key(KeyEvent::new(code, KeyModifiers::NONE)))
    }

    pub fn char(&mut self, c: char) -> Vec<Effect> {
        self.key(KeyCode::Char(c))
    }

    pub fn type_text(&mut self, s: &str) -> Vec<Effect> {
        s.chars().flat_map(|c| self.char(c)).collect()
    }

    /// Selects the phase with this index in the checklist pane.
    pub fn select_phase(&mut self, phase: usize) {
        self.state.selected = self.state.plan.checklist.len() + phase;
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
pub mod migrations;
pub mod pg;
pub mod pty;
