//! The confirmation modal: what will happen, where, and what answer confirms it; red when destructive. Until the
//! guard after it appeared has passed, the instruction line says keys do not count yet: the instruction itself
//! appears only once they do. A context taller than the screen scrolls above the answer, which always shows (the
//! fit is reported back: [`fit`]). May import app (read only).

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Wrap};

use super::{Theme, safe};
use crate::app::{Expect, Modal, ModalFit, ModalKind, Picker, restore_choice, restore_loss};

/// Picker rows shown at once (the rest scroll into view with the selection).
const PICKER_ROWS: usize = 5;

pub fn render(frame: &mut Frame, area: Rect, m: &Modal, now: Instant, t: Theme) {
    // A destructive prompt is red, and its title in reverse video: unmistakable with or without colour.
    let (accent, title) = if m.danger {
        (t.danger(), t.alarm())
    } else {
        (t.focus(), t.focus().add_modifier(Modifier::BOLD))
    };
    let body = body_lines(m, t);
    let footer = footer_lines(m, now, accent, t);
    let g = Geometry::of(area, &body, &footer);
    frame.render_widget(Clear, g.popup);
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .border_style(accent)
        .title(Span::styled(format!(" {} ", safe(&m.title)), title));
    frame.render_widget(block, g.popup);
    frame.render_widget(Paragraph::new(footer).wrap(Wrap { trim: false }), g.footer);
    let Some(window) = g.window else {
        frame.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }), g.body);
        return;
    };
    // Taller than the screen: a window on the context, between what is above it and what is below.
    let first = m.scroll.min(g.fit.max_scroll);
    let rows = to_u16(first);
    frame.render_widget(
        Paragraph::new(body)
            .wrap(Wrap { trim: false })
            .scroll((rows, 0)),
        window.rows,
    );
    let below = g.body_rows.saturating_sub(first + g.fit.page);
    let keys = scroll_keys(m);
    if first > 0 {
        let text = format!("  ↑ {first} more line(s) above · {keys} scroll");
        frame.render_widget(Line::styled(text, t.muted()), window.above);
    }
    if below > 0 {
        let text = format!("  ↓ {below} more line(s) below · {keys} scroll");
        frame.render_widget(Line::styled(text, t.muted()), window.below);
    }
}

/// How the open prompt's context fits in `area` (the whole screen), as [`render`] lays it out: what the console
/// reports back after each frame, so that scrolling stays within it.
pub fn fit(area: Rect, m: &Modal, now: Instant) -> ModalFit {
    let t = Theme::PLAIN;
    let body = body_lines(m, t);
    let footer = footer_lines(m, now, t.focus(), t);
    Geometry::of(area, &body, &footer).fit
}

/// The keys that scroll this prompt, as its key table has them.
fn scroll_keys(m: &Modal) -> &'static str {
    match (&m.expect, m.picker.is_some()) {
        (Expect::Yes | Expect::Approval, _) => "j/k PgUp/PgDn",
        (_, true) => "PgUp/PgDn",
        (_, false) => "↑/↓ PgUp/PgDn",
    }
}

fn to_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Where a prompt's parts go: the answer's lines at the bottom always show; the context above them scrolls when
/// it does not fit, between a row saying what is above and one saying what is below.
struct Geometry {
    popup: Rect,
    body: Rect,
    footer: Rect,
    /// Present when the context does not fit.
    window: Option<Window>,
    body_rows: usize,
    fit: ModalFit,
}

struct Window {
    above: Rect,
    rows: Rect,
    below: Rect,
}

impl Geometry {
    fn of(area: Rect, body: &[Line], footer: &[Line]) -> Geometry {
        let width = 76.min(area.width);
        // Room for wrapped long commands: each line's height at the inner width, wrapped at words as drawn.
        let inner = usize::from(width.saturating_sub(2)).max(1);
        let rows = |lines: &[Line]| -> usize { lines.iter().map(|l| wrapped_rows(l, inner)).sum() };
        let (body_rows, footer_rows) = (rows(body), rows(footer));
        let height = to_u16(body_rows + footer_rows + 2).min(area.height);
        let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
        let inside = Block::bordered().inner(popup);
        let footer_height = to_u16(footer_rows).min(inside.height);
        let [top, bottom] =
            Layout::vertical([Constraint::Min(0), Constraint::Length(footer_height)]).areas(inside);
        let shown = usize::from(top.height);
        if body_rows <= shown || top.height < 3 {
            return Geometry {
                popup,
                body: top,
                footer: bottom,
                window: None,
                body_rows,
                fit: ModalFit {
                    max_scroll: 0,
                    page: shown,
                },
            };
        }
        let [above, rows, below] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(top);
        let page = usize::from(rows.height);
        Geometry {
            popup,
            body: top,
            footer: bottom,
            window: Some(Window { above, rows, below }),
            body_rows,
            fit: ModalFit {
                max_scroll: body_rows - page,
                page,
            },
        }
    }
}

/// The rows `line` takes at `width` columns wrapped at word boundaries, as the paragraph draws it (a word wider
/// than a row is cut): counted, not guessed from its length, so the answer below it is never pushed off the frame.
fn wrapped_rows(line: &Line, width: usize) -> usize {
    let text: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
    let mut rows = 1;
    let mut col = 0;
    for word in text.split_inclusive(' ') {
        let w = Span::raw(word).width();
        let ink = Span::raw(word.trim_end_matches(' ')).width();
        if col > 0 && col + ink > width {
            rows += 1;
            col = 0;
        }
        if w > width {
            rows += (w - 1) / width;
            col = w % width;
        } else {
            col += w;
        }
    }
    rows
}

/// What will happen: the context lines, and the picker when there is one.
fn body_lines(m: &Modal, t: Theme) -> Vec<Line<'static>> {
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
        picker_lines(m, p, label_width, &mut lines, t);
    }
    lines
}

fn picker_lines(
    m: &Modal,
    p: &Picker,
    label_width: usize,
    lines: &mut Vec<Line<'static>>,
    t: Theme,
) {
    if let ModalKind::RestoreBackup(list) = &m.kind {
        lines.push(Line::from(vec![
            Span::styled("Restores  ", Style::new().add_modifier(Modifier::BOLD)),
            Span::styled(safe(&restore_choice(list, p)).into_owned(), t.danger()),
        ]));
        // What the choice loses, for the backup selected now.
        for (label, value) in restore_loss(p) {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{label:<label_width$}  "),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(safe(&value).into_owned()),
            ]));
        }
    }
    lines.push(Line::from(""));
    // A window of the list around the selection, so a long list never pushes the prompt off screen.
    let first = p.selected.saturating_sub(PICKER_ROWS - 1);
    if first > 0 {
        lines.push(Line::styled(format!("  ↑ {first} more"), t.muted()));
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
        lines.push(Line::styled(format!("  ↓ {after} more"), t.muted()));
    }
    if let Some((label, on)) = &p.option {
        let mark = if *on { "[x]" } else { "[ ]" };
        lines.push(Line::from(format!("  {mark} {label}")));
    }
}

/// The answer: the instruction (once keys count), what was typed, and a note.
fn footer_lines(m: &Modal, now: Instant, accent: Style, t: Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from("")];
    if m.settled(now) {
        lines.push(Line::styled(
            m.prompt(),
            accent.add_modifier(Modifier::BOLD),
        ));
    } else {
        lines.push(Line::styled(
            "Read this first: keys count in a moment.",
            t.muted(),
        ));
    }
    if m.expect.typed() {
        lines.push(Line::from(vec![
            Span::styled("> ", accent),
            Span::raw(safe(&m.input).into_owned()),
            Span::styled("_", Style::new().add_modifier(Modifier::SLOW_BLINK)),
        ]));
    }
    if let Some(note) = &m.note {
        lines.push(Line::styled(safe(note).into_owned(), t.warn()));
    }
    lines
}
