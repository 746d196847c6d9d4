//! The confirmation modal: what will happen, where, and what answer confirms it; red when destructive. Until the
//! guard after it appeared has passed, the instruction line says keys do not count yet: the instruction itself
//! appears only once they do. May import app (read only).

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use super::{safe, theme};
use crate::app::{Expect, Modal, ModalKind, restore_choice};

/// Picker rows shown at once (the rest scroll into view with the selection).
const PICKER_ROWS: usize = 5;

pub fn render(frame: &mut Frame, area: Rect, m: &Modal, now: Instant) {
    let accent = if m.danger {
        theme::DANGER
    } else {
        theme::FOCUS
    };
    let label_width = m
        .body
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<Line> = m
        .body
        .iter()
        .map(|(label, value)| {
            Line::from(vec![
                Span::styled(
                    format!("{label:<label_width$}  "),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(safe(value).into_owned()),
            ])
        })
        .collect();
    if let Some(p) = &m.picker {
        if let ModalKind::RestoreBackup(list) = &m.kind {
            lines.push(Line::from(vec![
                Span::styled("Restores  ", Style::new().add_modifier(Modifier::BOLD)),
                Span::styled(
                    safe(&restore_choice(list, p)).into_owned(),
                    Style::new().fg(theme::DANGER),
                ),
            ]));
        }
        lines.push(Line::from(""));
        // A window of the list around the selection, so a long list never pushes the prompt off screen.
        let first = p.selected.saturating_sub(PICKER_ROWS - 1);
        if first > 0 {
            lines.push(Line::styled(
                format!("  ↑ {first} more"),
                Style::new().fg(theme::MUTED),
            ));
        }
        for (i, item) in p.items.iter().enumerate().skip(first).take(PICKER_ROWS) {
            let line = Line::from(format!("  {}", safe(item)));
            lines.push(if i == p.selected {
                line.patch_style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                line
            });
        }
        let after = p.items.len().saturating_sub(first + PICKER_ROWS);
        if after > 0 {
            lines.push(Line::styled(
                format!("  ↓ {after} more"),
                Style::new().fg(theme::MUTED),
            ));
        }
        if let Some((label, on)) = &p.option {
            let mark = if *on { "[x]" } else { "[ ]" };
            lines.push(Line::from(format!("  {mark} {label}")));
        }
    }
    lines.push(Line::from(""));
    if m.settled(now) {
        lines.push(Line::styled(
            m.prompt(),
            Style::new().fg(accent).add_modifier(Modifier::BOLD),
        ));
    } else {
        lines.push(Line::styled(
            "Read this first: keys count in a moment.",
            Style::new().fg(theme::MUTED),
        ));
    }
    if !matches!(m.expect, Expect::Yes) {
        lines.push(Line::from(vec![
            Span::styled("> ", Style::new().fg(accent)),
            Span::raw(safe(&m.input).into_owned()),
            Span::styled("_", Style::new().add_modifier(Modifier::SLOW_BLINK)),
        ]));
    }
    if let Some(note) = &m.note {
        lines.push(Line::styled(note.clone(), Style::new().fg(theme::WARN)));
    }
    let width = 76.min(area.width);
    // Room for wrapped long commands: estimate each line's height at the inner width.
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let wanted: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let height = (wanted as u16 + 2).min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .border_style(Style::new().fg(accent))
        .title(Span::styled(
            format!(" {} ", safe(&m.title)),
            Style::new().fg(accent).add_modifier(Modifier::BOLD),
        ));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        popup,
    );
}
