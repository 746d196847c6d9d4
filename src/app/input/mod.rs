//! Input layers: which layer a key reaches, derived from the state by one function ([`layer`]) as yazi's
//! `Core::layer()`: text input (a typed answer, the sign-off notes, the logs filter) > prompt > overlay (alerts,
//! help, a log line) > panes. A key reaches exactly one layer; each layer has its own key table (`keys`), and the help overlay
//! and the status bar's hints are generated from the tables in force (`crate::app::typing` judges a run of keys
//! by when they were read). May import the state (read only) and the prompt's types.

pub mod keys;

use crate::app::prompt::Expect;
use crate::app::state::{Overlay, State};

/// The layer that gets the next key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// Typing: a prompt that wants a typed answer, the sign-off form, the logs filter line.
    Text,
    /// A prompt answered with one key (`y`).
    Prompt,
    /// The alerts overlay.
    Alerts,
    /// The help overlay.
    Help,
    /// One log line shown whole.
    Line,
    /// The panes and their commands.
    Panes,
}

/// Where typed text goes, when the layer is [`Layer::Text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Answer,
    SignOff,
    Filter,
}

/// The one function that says which layer a key reaches now.
pub fn layer(state: &State) -> Layer {
    if let Some(m) = &state.modal {
        return match m.expect {
            Expect::Yes | Expect::Approval => Layer::Prompt,
            Expect::Word(_) | Expect::Reason => Layer::Text,
        };
    }
    if text_field(state).is_some() {
        return Layer::Text;
    }
    match state.overlay {
        Some(Overlay::Alerts) => Layer::Alerts,
        Some(Overlay::Help { .. }) => Layer::Help,
        Some(Overlay::Line { .. }) => Layer::Line,
        None => Layer::Panes,
    }
}

/// The text field keys type into, if any.
pub fn text_field(state: &State) -> Option<TextField> {
    if state.modal.as_ref().is_some_and(|m| m.expect.typed()) {
        Some(TextField::Answer)
    } else if state.modal.is_some() {
        None
    } else if state.release.signoff.is_some() {
        Some(TextField::SignOff)
    } else if state.logview.input.is_some() {
        Some(TextField::Filter)
    } else {
        None
    }
}

/// The keys of the prompt and text layers, for the status bar.
fn text_hints(state: &State) -> Vec<(&'static str, &'static str)> {
    if let Some(m) = &state.modal {
        let mut h = match m.expect {
            Expect::Yes => vec![("y", "confirm"), ("other", "cancel")],
            Expect::Approval => vec![("Esc", "withdraw")],
            _ => vec![("Enter", "confirm"), ("Esc", "cancel")],
        };
        if m.picker.is_some() {
            h.insert(0, ("Up/Down", "choose"));
        }
        // Taller than the screen: the keys that scroll it (letters only where they are not typed).
        if m.fit.is_some_and(|f| f.scrolls()) {
            let keys = match (&m.expect, m.picker.is_some()) {
                (Expect::Yes | Expect::Approval, _) => "j/k PgUp/PgDn",
                (_, true) => "PgUp/PgDn",
                (_, false) => "Up/Down PgUp/PgDn",
            };
            h.insert(0, (keys, "scroll"));
        }
        return h;
    }
    match text_field(state) {
        Some(TextField::SignOff) => {
            vec![("Tab", "notes/name"), ("Ctrl-S", "sign"), ("Esc", "close")]
        }
        _ => vec![("Enter", "apply filter"), ("Esc", "cancel")],
    }
}
