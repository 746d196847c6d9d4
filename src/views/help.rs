//! The `?` overlay: every key and what it does, generated from the keymap table (in a tail session, the keys that
//! work there); scrolls when the screen is too short for all of it.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::Theme;
use crate::app::{State, bindings};

pub fn render(frame: &mut Frame, area: Rect, state: &State, scroll: usize, t: Theme) {
    let rows = bindings(state);
    let key_width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<Line> = rows
        .into_iter()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::styled(
                    format!("{keys:<key_width$}  "),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(what),
            ])
        })
        .collect();
    let footnote = if state.tail {
        "deckhand tail: the logs only; nothing is run, released or journaled."
    } else {
        "Prompts: y confirms; in production type the environment name, then Enter."
    };
    lines.push(Line::styled(footnote, t.muted()));
    let height = (lines.len() as u16 + 2).min(area.height);
    let visible = usize::from(height.saturating_sub(2));
    let scroll = scroll.min(lines.len().saturating_sub(visible));
    let title = if visible < lines.len() {
        format!(
            " Keys {}-{} of {} (j/k scroll, Esc closes) ",
            scroll + 1,
            (scroll + visible).min(lines.len()),
            lines.len()
        )
    } else {
        " Keys (Esc or ? closes) ".to_string()
    };
    let width = 78.min(area.width);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let block = Block::bordered().border_style(t.focus()).title(title);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll as u16, 0))
            .block(block),
        popup,
    );
}
