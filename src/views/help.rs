//! The `?` overlay: every key and what it does, generated from the keymap table.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::theme;
use crate::app::bindings;

pub fn render(frame: &mut Frame, area: Rect) {
    let rows = bindings();
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
    lines.push(Line::styled(
        "Prompts: y confirms; in production type the environment name, then Enter.",
        Style::new().fg(theme::MUTED),
    ));
    let height = (lines.len() as u16 + 2).min(area.height);
    let width = 78.min(area.width);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .border_style(Style::new().fg(theme::FOCUS))
        .title(" Keys (Esc or ? closes) ");
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
