//! The sign-off form: the notes text area (`ratatui-textarea`, made from the state's lines and cursor at each draw)
//! and who signs, over the panes. May import app (read only).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph};
use ratatui_textarea::{CursorMove, TextArea};

use super::{Theme, safe};
use crate::app::release::{SignField, SignOffForm};

pub fn render(frame: &mut Frame, area: Rect, form: &SignOffForm, environment: &str, t: Theme) {
    let width = area.width.saturating_sub(4).clamp(20, 100);
    let height = area.height.saturating_sub(2).clamp(8, 20);
    let [_, mid, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(height),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, rect, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(width),
        Constraint::Fill(1),
    ])
    .areas(mid);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .border_style(t.focus())
        .title(format!(" Sign off the release of {} ", safe(environment)));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [notes_area, signer_area, help_area] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let focus = |on: bool| {
        if on { t.focus() } else { t.muted() }
    };
    let mut notes = TextArea::new(form.notes.iter().map(|l| safe(l).into_owned()).collect());
    let clamp = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
    notes.move_cursor(CursorMove::Jump(clamp(form.cursor.0), clamp(form.cursor.1)));
    notes.set_placeholder_text("What was released, anything odd seen, follow-ups…");
    // The text area's own placeholder style is dark grey, which vanishes on a dark background.
    notes.set_placeholder_style(t.muted());
    notes.set_block(
        Block::bordered()
            .title(" Notes ")
            .border_style(focus(form.field == SignField::Notes)),
    );
    if form.field != SignField::Notes {
        notes.set_cursor_style(Style::new());
    }
    frame.render_widget(&notes, notes_area);
    let cursor = if form.field == SignField::Signer {
        "▏"
    } else {
        ""
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(
                "Signed by: ",
                focus(form.field == SignField::Signer).add_modifier(Modifier::BOLD),
            ),
            Span::raw(format!("{}{cursor}", safe(&form.signer))),
        ])),
        signer_area,
    );
    let help = match &form.note {
        Some(n) => Line::styled(safe(n).into_owned(), t.warn()),
        None => Line::styled(
            "Tab: notes / name · Ctrl-S: sign and write the report · Esc: close (kept)",
            t.muted(),
        ),
    };
    frame.render_widget(Paragraph::new(help), help_area);
}
