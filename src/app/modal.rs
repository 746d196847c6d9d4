//! Confirmation as state: a modal that only a deliberate, typed answer can confirm. Keys in the first
//! [`CONFIRM_GUARD`] after it opens are ignored (a key meant for the screen below must not answer it), a paste
//! never answers it, and for `y` prompts any other key declines.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::runner::StepId;

/// Keys arriving this soon after a modal opens are ignored.
pub const CONFIRM_GUARD: Duration = Duration::from_millis(300);
/// Longest typed answer accepted (a reason, an environment name).
const MAX_INPUT_CHARS: usize = 200;

/// What the modal is about; decides what a confirmation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModalKind {
    /// Start this (destructive) phase.
    RunPhase(usize),
    /// Start this destructive phase although checklist items are unticked; asks for a reason first.
    ChecklistOverride(usize),
    CancelStep(StepId),
    /// Quit while a step runs (cancels it).
    Quit,
}

/// The answer that confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The `y` key; any other key declines.
    Yes,
    /// This exact word, typed, then Enter (production: the environment name).
    Word(String),
    /// Any non-empty reason, typed, then Enter.
    Reason,
}

/// Result of feeding a key to a modal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModalOutcome {
    /// Still open (typing, or a key ignored).
    Open,
    Confirmed {
        typed: String,
    },
    Declined {
        typed: String,
        why: String,
    },
}

/// An open confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modal {
    pub kind: ModalKind,
    pub title: String,
    /// Context lines: environment, what will run, what it falls back on.
    pub body: Vec<(String, String)>,
    pub expect: Expect,
    /// Red frame: destructive or production.
    pub danger: bool,
    pub input: String,
    pub opened: Instant,
    /// A one-line note shown in the modal (e.g. why a paste was ignored).
    pub note: Option<String>,
}

impl Modal {
    pub fn new(kind: ModalKind, title: impl Into<String>, expect: Expect, opened: Instant) -> Self {
        Modal {
            kind,
            title: title.into(),
            body: Vec::new(),
            expect,
            danger: false,
            input: String::new(),
            opened,
            note: None,
        }
    }

    /// The instruction line at the bottom of the modal.
    pub fn prompt(&self) -> String {
        match &self.expect {
            Expect::Yes => "Press y to confirm. Any other key cancels.".to_string(),
            Expect::Word(w) => format!("Type {w} and press Enter to confirm. Esc cancels."),
            Expect::Reason => {
                "Type a reason and press Enter (it is journaled). Esc cancels.".to_string()
            }
        }
    }

    /// How the journal describes what confirms this modal.
    pub fn expected_label(&self) -> String {
        match &self.expect {
            Expect::Yes => "y".to_string(),
            Expect::Word(w) => format!("typed '{w}'"),
            Expect::Reason => "a typed reason".to_string(),
        }
    }

    /// Feeds one key pressed at `now`.
    pub fn on_key(&mut self, key: KeyEvent, now: Instant) -> ModalOutcome {
        if now.saturating_duration_since(self.opened) < CONFIRM_GUARD {
            self.note = Some("Key ignored: too soon after this prompt opened.".to_string());
            return ModalOutcome::Open;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if key.code == KeyCode::Esc || (ctrl && key.code == KeyCode::Char('c')) {
            return self.decline("cancelled with Esc");
        }
        match self.expect.clone() {
            Expect::Yes => match key.code {
                KeyCode::Char('y') if !ctrl => ModalOutcome::Confirmed {
                    typed: "y".to_string(),
                },
                other => self.decline(&format!(
                    "other key: {}",
                    super::key_label(other, key.modifiers)
                )),
            },
            Expect::Word(word) => self.typed_key(key, |input| {
                if input == word {
                    Ok(())
                } else {
                    Err(format!("typed text does not match '{word}'"))
                }
            }),
            Expect::Reason => self.typed_key(key, |input| {
                if input.trim().is_empty() {
                    Err(String::new())
                } else {
                    Ok(())
                }
            }),
        }
    }

    /// A paste never confirms, and never types into the answer either.
    pub fn on_paste(&mut self) {
        self.note = Some("Pasted text is ignored here: type the answer.".to_string());
    }

    fn typed_key(
        &mut self,
        key: KeyEvent,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> ModalOutcome {
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return ModalOutcome::Open;
        }
        match key.code {
            KeyCode::Char(c) if self.input.chars().count() < MAX_INPUT_CHARS => {
                self.input.push(c);
                self.note = None;
                ModalOutcome::Open
            }
            KeyCode::Backspace => {
                self.input.pop();
                ModalOutcome::Open
            }
            KeyCode::Enter => match check(&self.input) {
                Ok(()) => ModalOutcome::Confirmed {
                    typed: self.input.clone(),
                },
                // An empty reason is not an answer yet: say so and keep the modal open.
                Err(why) if why.is_empty() => {
                    self.note = Some("A reason is required.".to_string());
                    ModalOutcome::Open
                }
                Err(why) => self.decline(&why),
            },
            _ => ModalOutcome::Open,
        }
    }

    fn decline(&self, why: &str) -> ModalOutcome {
        ModalOutcome::Declined {
            typed: self.input.clone(),
            why: why.to_string(),
        }
    }
}
