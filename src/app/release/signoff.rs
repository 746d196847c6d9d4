//! The sign-off stage: notes and who signs. Ctrl-S signs: the sign-off is journaled, the report is written and the
//! webhook told. Esc closes the form and keeps what was typed. The state holds the notes as plain lines and a
//! cursor; `ratatui-textarea` does the editing (a key is applied to a text area made from them) and the view
//! draws its own text area from them, so no widget lives in the state.

use crate::app::out::Out;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::{CursorMove, TextArea};

use crate::app::msg::Effect;
use crate::app::msg::Notice;
use crate::app::prompt::Gated;
use crate::app::state::State;
use crate::journal::Event;

/// Longest signer name accepted.
const MAX_SIGNER_CHARS: usize = 80;

/// Which field of the form has the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignField {
    Notes,
    Signer,
}

/// The open sign-off form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOffForm {
    /// The notes, line by line.
    pub notes: Vec<String>,
    /// The notes' cursor: (line, character).
    pub cursor: (usize, usize),
    pub signer: String,
    pub field: SignField,
    /// Why the last Ctrl-S did not sign.
    pub note: Option<String>,
}

impl SignOffForm {
    fn new(signer: String) -> Self {
        SignOffForm {
            notes: vec![String::new()],
            cursor: (0, 0),
            signer,
            field: SignField::Notes,
            note: None,
        }
    }

    pub fn notes_text(&self) -> String {
        self.notes.join("\n").trim_end().to_string()
    }

    /// Edits the notes as a text area would: `edit` gets one made from them, at the cursor.
    fn edit_notes(&mut self, edit: impl FnOnce(&mut TextArea<'static>)) {
        let mut area = TextArea::new(std::mem::take(&mut self.notes));
        let (row, col) = self.cursor;
        let clamp = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
        area.move_cursor(CursorMove::Jump(clamp(row), clamp(col)));
        edit(&mut area);
        let cursor = area.cursor();
        self.cursor = (cursor.0, cursor.1);
        self.notes = area.into_lines();
    }
}

/// Enter on the sign-off row (or `S`): through the gates, then the form (kept if it was closed with Esc).
pub(in crate::app) fn request_signoff(state: &mut State, fx: &mut Out) {
    if let Some(by) = &state.release.signed {
        state.flash = Some(format!("Already signed off by {by}: see the report."));
        return;
    }
    fx.notice(Notice::PassGates(Gated::SignOff));
}

pub(in crate::app) fn open_form(state: &mut State) {
    if state.release.form_kept.is_none() {
        state.release.form_kept = Some(SignOffForm::new(state.release.operator.clone()));
    }
    state.release.signoff = state.release.form_kept.take();
}

/// A key while the form is open.
pub(in crate::app) fn on_signoff_key(state: &mut State, key: KeyEvent, fx: &mut Out) {
    let Some(form) = state.release.signoff.as_mut() else {
        return;
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => {
            state.release.form_kept = state.release.signoff.take();
            state.flash = Some("Sign-off closed; what you typed is kept.".into());
            return;
        }
        KeyCode::Char('s') if ctrl => return sign(state, fx),
        KeyCode::Tab | KeyCode::BackTab => {
            form.field = match form.field {
                SignField::Notes => SignField::Signer,
                SignField::Signer => SignField::Notes,
            };
        }
        _ => match form.field {
            SignField::Notes => form.edit_notes(|area| {
                area.input(key);
            }),
            SignField::Signer => match key.code {
                KeyCode::Char(c) if !ctrl && form.signer.chars().count() < MAX_SIGNER_CHARS => {
                    form.signer.push(c)
                }
                KeyCode::Backspace => {
                    form.signer.pop();
                }
                _ => {}
            },
        },
    }
    form.note = None;
}

/// Pasted text goes into the notes (control characters but newlines dropped); it never signs.
pub(in crate::app) fn on_signoff_paste(state: &mut State, text: &str) {
    if let Some(form) = state.release.signoff.as_mut() {
        let clean: String = text
            .chars()
            .filter(|c| *c == '\n' || !c.is_control())
            .collect();
        match form.field {
            SignField::Notes => form.edit_notes(|area| {
                area.insert_str(clean);
            }),
            SignField::Signer => form.signer.push_str(clean.lines().next().unwrap_or("")),
        }
    }
}

fn sign(state: &mut State, fx: &mut Out) {
    let Some(form) = state.release.signoff.as_mut() else {
        return;
    };
    let by = form.signer.trim().to_string();
    if by.is_empty() {
        form.note = Some("Who signs? Tab to the name field and type it.".into());
        form.field = SignField::Signer;
        return;
    }
    let notes = form.notes_text();
    state.release.signoff = None;
    state.release.signed = Some(by.clone());
    fx.push(Effect::Journal(Event::SignedOff {
        by: by.clone(),
        notes,
    }));
    fx.push(Effect::WriteReport);
    fx.notify("sign-off", format!("release signed off by {by}"));
    state.note(format!("signed off by {by}; writing the report"));
    state.flash = Some(format!("Signed off by {by}. Writing the report…"));
}
