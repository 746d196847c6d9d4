//! The status bar: the last message (a result, a refusal) and the keys that apply right now.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{safe, theme};
use crate::app::{State, hints};

pub fn render(frame: &mut Frame, area: Rect, state: &State) {
    let mut spans = Vec::new();
    if let Some(msg) = &state.flash {
        spans.push(Span::styled(
            format!(" {} ", safe(msg)),
            Style::new().fg(theme::WARN),
        ));
        spans.push(Span::styled("|", Style::new().fg(theme::MUTED)));
    }
    for (keys, what) in hints(state) {
        spans.push(Span::styled(
            format!(" {keys}"),
            Style::new().add_modifier(Modifier::BOLD),
        ));
        spans.push(Span::styled(
            format!(" {what} "),
            Style::new().fg(theme::MUTED),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
