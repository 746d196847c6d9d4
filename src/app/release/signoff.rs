//! The sign-off stage: notes in a text area (`ratatui-textarea`) and who signs. Ctrl-S signs: the sign-off is
//! journaled, the report is written and the webhook told. Esc closes the form and keeps what was typed.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui_textarea::TextArea;

use crate::app::action::Effect;
use crate::app::flow::{gate, note_line};
use crate::app::modal::Gated;
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
#[derive(Debug, Clone)]
pub struct SignOffForm {
    pub notes: TextArea<'static>,
    pub signer: String,
    pub field: SignField,
    /// Why the last Ctrl-S did not sign.
    pub note: Option<String>,
}

impl SignOffForm {
    fn new(signer: String) -> Self {
        let mut notes = TextArea::default();
        notes.set_placeholder_text("What was released, anything odd seen, follow-ups…");
        SignOffForm {
            notes,
            signer,
            field: SignField::Notes,
            note: None,
        }
    }

    pub fn notes_text(&self) -> String {
        self.notes.lines().join("\n").trim_end().to_string()
    }
}

/// Enter on the sign-off row (or `S`): through the gates, then the form (kept if it was closed with Esc).
pub(in crate::app) fn request_signoff(state: &mut State, fx: &mut Vec<Effect>) {
    if let Some(by) = &state.release.signed {
        state.flash = Some(format!("Already signed off by {by}: see the report."));
        return;
    }
    gate(state, Gated::SignOff, fx);
}

pub(in crate::app) fn open_form(state: &mut State) {
    if state.release.form_kept.is_none() {
        state.release.form_kept = Some(SignOffForm::new(state.release.operator.clone()));
    }
    state.release.signoff = state.release.form_kept.take();
}

/// A key while the form is open.
pub(in crate::app) fn on_signoff_key(state: &mut State, key: KeyEvent, fx: &mut Vec<Effect>) {
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
            SignField::Notes => {
                form.notes.input(key);
            }
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
            SignField::Notes => {
                form.notes.insert_str(clean);
            }
            SignField::Signer => form.signer.push_str(clean.lines().next().unwrap_or("")),
        }
    }
}

fn sign(state: &mut State, fx: &mut Vec<Effect>) {
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
    super::notify(state, "sign-off", format!("release signed off by {by}"), fx);
    note_line(state, format!("signed off by {by}; writing the report"));
    state.flash = Some(format!("Signed off by {by}. Writing the report…"));
}
