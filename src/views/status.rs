//! The status bar: the last message (a result, a refusal) and the keys that apply right now.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, safe};
use crate::app::{State, hints};

pub fn render(frame: &mut Frame, area: Rect, state: &State, t: Theme) {
    let mut spans = Vec::new();
    if let Some(msg) = &state.flash {
        spans.push(Span::styled(format!(" {} ", safe(msg)), t.warn()));
        spans.push(Span::styled("|", t.muted()));
    }
    for (keys, what) in hints(state) {
        spans.push(Span::styled(
            format!(" {keys}"),
            Style::new().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(format!(" {what} "), t.muted()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
