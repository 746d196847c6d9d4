//! Confirmation as state: a modal that only a deliberate, typed answer can confirm. Keys are ignored until the
//! prompt has been drawn and for [`CONFIRM_GUARD`] after (a key meant for the screen below must not answer it),
//! judged by when each key was read; a paste never answers it — bracketed, or read as a burst of keys faster than
//! a person types (see `input::typing`); any key other than the expected answer declines — except the keys that
//! scroll a prompt taller than the screen (`input::keys::lookup_prompt_scroll`), which neither answer nor decline.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::backup::Archive;
use crate::runner::StepId;
use crate::runner::migrate::ResolveRequest;

/// Keys arriving this soon after a modal opens are ignored.
pub const CONFIRM_GUARD: Duration = Duration::from_millis(300);
/// Longest typed answer accepted (a reason, an environment name).
const MAX_INPUT_CHARS: usize = 200;

const BURST_NOTE: &str =
    "That arrived faster than anyone types (a paste?): type the answer yourself.";

/// What the modal is about; decides what a confirmation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModalKind {
    /// Start this (destructive) phase.
    RunPhase(usize),
    /// Go ahead with a destructive action although checklist items are unticked; asks for a reason first.
    ChecklistOverride(Gated),
    /// Apply the pending migrations.
    ApplyMigrations,
    /// A Dangerous finding destroys these objects: the operator types each name, in turn, before the apply starts.
    ConfirmDestroy(Vec<String>),
    /// Rehearse the pending migrations (takes table locks until it rolls back).
    DryRunMigrations,
    /// Mark ledger entries applied or rolled back (one, or a range selected in the list).
    ResolveMigration(ResolveRequest),
    /// Drop this invalid index (`DROP INDEX CONCURRENTLY`).
    DropIndex(crate::migrate::index::InvalidIndex),
    CancelStep(StepId),
    /// Quit while a step runs (cancels it).
    Quit,
    /// Go ahead without a verified backup from this run; asks for a reason.
    BackupOverride(Gated),
    /// Restore one of these backups (the picker chooses; the database's name confirms).
    RestoreBackup(Vec<Archive>),
    /// Restore this backup into a scratch copy and apply the pending migrations there.
    RehearseBackup(Box<Archive>),
    /// Stop the backup operation under way.
    CancelBackup,
    /// Go on although this earlier stage has not passed; asks for a reason.
    StageOverride(Gated, crate::app::stage::Stage),
    /// Apply without a dry-run or rehearsal in this run; asks for a reason.
    NoRehearsal,
    /// Apply although these statements will fail on the live data; asks for a reason.
    WillFail(Vec<String>),
    /// Apply although the live schema differs from its history in these ways; asks for a reason.
    Drift(Vec<String>),
    /// Run the rollback plan shown (code steps, then the database), then verify again.
    Rollback(String),
    /// Stop the monitor window before its end; asks for a reason.
    StopMonitor,
    /// Go ahead with a destructive action while the team's release lock is not held; asks for a reason.
    TeamLockLost(TeamAfter),
    /// The confirmed action waits for a second operator's approval (four-eyes); Esc withdraws the request.
    AwaitingApproval,
}

/// What a reason typed past the lost team lock lets go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeamAfter {
    Gated(Gated),
    Restore,
}

/// A choice inside a modal: Up/Down pick an item, Tab flips the option. Neither confirms nor declines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picker {
    pub items: Vec<String>,
    pub selected: usize,
    /// A yes/no option that Tab flips: its label and state.
    pub option: Option<(String, bool)>,
    /// Context lines for each item (label, text), shown for the one selected: what choosing it means.
    pub details: Vec<Vec<(String, String)>>,
}

/// An action that the release's gates stand before: the stage order, the checklist (destructive ones), the backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gated {
    Phase(usize),
    ApplyMigrations,
    /// The verify stage: SQL assertions, smoke endpoints, health.
    Verify,
    /// The monitor window.
    Monitor,
    SignOff,
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
    /// Nothing the operator types confirms: another operator's approval does (it arrives from the team database);
    /// Esc withdraws the request.
    Approval,
}

impl Expect {
    /// The answer is typed into the prompt (a word or a reason), rather than a single key or nothing at all.
    pub fn typed(&self) -> bool {
        matches!(self, Expect::Word(_) | Expect::Reason)
    }
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
    /// When the prompt was first drawn; keys before that, and for [`CONFIRM_GUARD`] after, are ignored.
    pub shown: Option<Instant>,
    /// Some of the typed input arrived as a burst: Enter will not accept it.
    pub burst: bool,
    /// A one-line note shown in the modal (e.g. why a paste was ignored).
    pub note: Option<String>,
    /// A list to choose from before confirming.
    pub picker: Option<Picker>,
    /// The first row of the context shown (the context scrolls when the prompt is taller than the screen).
    pub scroll: usize,
    /// How the context fitted on the last frame drawn, as the view measured it; `None` before the first.
    pub fit: Option<ModalFit>,
}

/// How a prompt's context fits on screen: the rows it can scroll by, and a page of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModalFit {
    /// The largest first row: 0 when the context fits.
    pub max_scroll: usize,
    /// Rows shown at once.
    pub page: usize,
}

impl ModalFit {
    pub fn scrolls(&self) -> bool {
        self.max_scroll > 0
    }
}

/// A move of a prompt's context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
}

impl Modal {
    pub fn new(kind: ModalKind, title: impl Into<String>, expect: Expect) -> Self {
        Modal {
            kind,
            title: title.into(),
            body: Vec::new(),
            expect,
            danger: false,
            input: String::new(),
            shown: None,
            burst: false,
            note: None,
            picker: None,
            scroll: 0,
            fit: None,
        }
    }

    /// Scrolls the context; never answers. Bounded by the last frame's fit (before one, only by the context's
    /// length: the view clamps what it shows).
    pub fn scroll_by(&mut self, how: Scroll) {
        let (max, page) = match self.fit {
            Some(f) => (f.max_scroll, f.page.saturating_sub(1).max(1)),
            None => (self.body.len(), 10),
        };
        self.scroll = match how {
            Scroll::Up => self.scroll.saturating_sub(1),
            Scroll::Down => self.scroll + 1,
            Scroll::PageUp => self.scroll.saturating_sub(page),
            Scroll::PageDown => self.scroll + page,
            Scroll::Top => 0,
            Scroll::Bottom => max,
        }
        .min(max);
    }

    /// The view measured how the context fits: remember it, and keep the scroll within it.
    pub fn fitted(&mut self, fit: ModalFit) {
        self.fit = Some(fit);
        self.scroll = self.scroll.min(fit.max_scroll);
    }

    /// The instruction line at the bottom of the modal.
    pub fn prompt(&self) -> String {
        match &self.expect {
            Expect::Yes => "Press y to confirm. Any other key cancels.".to_string(),
            Expect::Word(w) => format!("Type {w} and press Enter to confirm. Esc cancels."),
            Expect::Reason => {
                "Type a reason and press Enter (it is journaled). Esc cancels.".to_string()
            }
            Expect::Approval => {
                "Waiting for another operator: deckhand approve. Esc withdraws the request."
                    .to_string()
            }
        }
    }

    /// How the journal describes what confirms this modal.
    pub fn expected_label(&self) -> String {
        match &self.expect {
            Expect::Yes => "y".to_string(),
            Expect::Word(w) => format!("typed '{w}'"),
            Expect::Reason => "a typed reason".to_string(),
            Expect::Approval => "another operator's approval".to_string(),
        }
    }

    /// Records that the prompt is on screen (the guard runs from here).
    pub fn mark_shown(&mut self, now: Instant) {
        self.shown.get_or_insert(now);
    }

    /// Whether a key read at `read` is past the guard (the prompt was drawn at least [`CONFIRM_GUARD`] before).
    pub fn settled(&self, read: Instant) -> bool {
        self.shown
            .is_some_and(|t| read.saturating_duration_since(t) >= CONFIRM_GUARD)
    }

    /// When keys start to count, once the prompt has been drawn.
    pub fn ready_at(&self) -> Option<Instant> {
        self.shown.map(|t| t + CONFIRM_GUARD)
    }

    /// Feeds one key read at `read`; `burst` says it came faster than anyone types (see `input::typing`).
    pub fn on_key(&mut self, key: KeyEvent, read: Instant, burst: bool) -> ModalOutcome {
        if !self.settled(read) {
            self.note = Some("Key ignored: too soon after this prompt appeared.".to_string());
            return ModalOutcome::Open;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if key.code == KeyCode::Esc || (ctrl && key.code == KeyCode::Char('c')) {
            return self.decline("cancelled with Esc");
        }
        if let Some(p) = self.picker.as_mut() {
            let last = p.items.len().saturating_sub(1);
            match key.code {
                KeyCode::Up => p.selected = p.selected.saturating_sub(1),
                KeyCode::Down => p.selected = (p.selected + 1).min(last),
                KeyCode::Tab if p.option.is_some() => {
                    if let Some((_, on)) = p.option.as_mut() {
                        *on = !*on;
                    }
                }
                _ => return self.answer(key, burst, ctrl),
            }
            // What was typed confirmed the previous choice, not this one: type it again.
            if !self.input.is_empty() {
                self.input.clear();
                self.burst = false;
                self.note = Some("The choice changed: type the answer again.".to_string());
            } else {
                self.note = None;
            }
            return ModalOutcome::Open;
        }
        self.answer(key, burst, ctrl)
    }

    fn answer(&mut self, key: KeyEvent, burst: bool, ctrl: bool) -> ModalOutcome {
        match self.expect.clone() {
            Expect::Yes => match key.code {
                KeyCode::Char('y') if burst => {
                    self.note = Some(BURST_NOTE.to_string());
                    ModalOutcome::Open
                }
                KeyCode::Char('y') if !ctrl => ModalOutcome::Confirmed {
                    typed: "y".to_string(),
                },
                other => self.decline(&format!("other key: {}", key_label(other, key.modifiers))),
            },
            Expect::Word(word) => self.typed_key(key, burst, |input| {
                if input == word {
                    Ok(())
                } else {
                    Err(format!("typed text does not match '{word}'"))
                }
            }),
            Expect::Reason => self.typed_key(key, burst, |input| {
                if input.trim().is_empty() {
                    Err(String::new())
                } else {
                    Ok(())
                }
            }),
            Expect::Approval => match key.code {
                KeyCode::Esc => self.decline("withdrawn by the operator"),
                _ => {
                    self.note = Some(
                        "Only another operator's approval goes on from here; Esc withdraws the request."
                            .to_string(),
                    );
                    ModalOutcome::Open
                }
            },
        }
    }

    /// A paste never confirms, and never types into the answer either.
    pub fn on_paste(&mut self) {
        self.note = Some("Pasted text is ignored here: type the answer.".to_string());
    }

    fn typed_key(
        &mut self,
        key: KeyEvent,
        burst: bool,
        check: impl Fn(&str) -> Result<(), String>,
    ) -> ModalOutcome {
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match key.code {
            KeyCode::Char(c) if plain => {
                if self.input.chars().count() < MAX_INPUT_CHARS {
                    self.input.push(c);
                }
                self.burst |= burst;
                self.note = None;
                ModalOutcome::Open
            }
            KeyCode::Backspace => {
                self.input.pop();
                ModalOutcome::Open
            }
            KeyCode::Enter if burst || self.burst => {
                // A paste the terminal did not bracket: refuse it, and make the operator type.
                self.input.clear();
                self.burst = false;
                self.note = Some(BURST_NOTE.to_string());
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
            other => self.decline(&format!("other key: {}", key_label(other, key.modifiers))),
        }
    }

    fn decline(&self, why: &str) -> ModalOutcome {
        ModalOutcome::Declined {
            typed: self.input.clone(),
            why: why.to_string(),
        }
    }
}

/// The answer that confirms a destructive action: the environment's name in production, else `y`.
pub(in crate::app) fn destructive_expect(plan: &crate::plan::Plan) -> Expect {
    if plan.project.is_production() {
        Expect::Word(plan.project.environment.clone())
    } else {
        Expect::Yes
    }
}

/// What a gated action is, for prompts and the journal.
pub(in crate::app) fn gated_label(plan: &crate::plan::Plan, gated: Gated) -> String {
    match gated {
        Gated::Phase(p) => format!("Phase {}", plan.phases[p].name),
        Gated::ApplyMigrations => "Applying migrations".to_string(),
        Gated::Verify => "The verify stage".to_string(),
        Gated::Monitor => "The monitor stage".to_string(),
        Gated::SignOff => "The sign-off".to_string(),
    }
}

/// Whether a gated action needs a verified backup first (applying migrations, a `needs_backup` phase).
pub(in crate::app) fn needs_backup(plan: &crate::plan::Plan, gated: Gated) -> bool {
    match gated {
        Gated::ApplyMigrations => true,
        Gated::Phase(p) => plan.phases.get(p).is_some_and(|ph| ph.needs_backup),
        Gated::Verify | Gated::Monitor | Gated::SignOff => false,
    }
}

/// A key as the screen names it.
pub fn key_label(code: KeyCode, mods: KeyModifiers) -> String {
    let base = match code {
        KeyCode::Char(' ') => "Space".to_string(),
        KeyCode::Char(c) if mods.contains(KeyModifiers::CONTROL) => {
            c.to_ascii_uppercase().to_string()
        }
        KeyCode::Char(c) => c.to_string(),
        KeyCode::BackTab => "Shift-Tab".to_string(),
        KeyCode::PageUp => "PgUp".to_string(),
        KeyCode::PageDown => "PgDn".to_string(),
        KeyCode::Up => "Up".to_string(),
        KeyCode::Down => "Down".to_string(),
        other => format!("{other:?}"),
    };
    if mods.contains(KeyModifiers::CONTROL) {
        format!("Ctrl-{base}")
    } else if mods.contains(KeyModifiers::SHIFT) && !matches!(code, KeyCode::Char(_)) {
        format!("Shift-{base}")
    } else {
        base
    }
}
