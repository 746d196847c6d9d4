//! The rows of the logs pane: each line with its source tag and stream mark, coloured by level; cut at the
//! pane's edge (`›` when more is to the right, `‹` when scrolled past its start) or wrapped onto as many rows as
//! it needs, laid out bottom-up from the end of the view and only for the lines drawn. The selected line is
//! reversed, and kept in sight when wrapping pushes it off the top. May import app (read only).

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::Theme;
use crate::app::layout::{cut, rows, str_width};
use crate::app::{LineRef, State, selected_line};
use crate::runner::{Level, Stream};

/// Shown after the text of a line cut when it was read (longer than the cap).
const TRUNCATED: &str = " [line truncated]";
/// More of the line is right of the pane's edge.
const MORE_RIGHT: &str = "›";
/// The line starts left of the pane's edge.
const MORE_LEFT: &str = "‹";

/// The rows for the lines in view, top to bottom, at most `room` of them, `width` columns wide.
pub fn view_rows(state: &State, width: usize, room: usize, t: Theme) -> Vec<Line<'_>> {
    let view = &state.logview;
    let visible = view.visible_len(&state.logs);
    let end = visible.saturating_sub(state.log_offset);
    let marked = selected_line(state).and_then(|(pos, _, chosen)| chosen.then_some(pos));
    let line = |pos: usize| {
        let seq = view.visible_seq(&state.logs, pos)?;
        Some((state.logs.get_seq(seq)?, marked == Some(pos)))
    };
    if !view.wrap {
        return (end.saturating_sub(room)..end)
            .filter_map(line)
            .map(|(l, m)| cut_row(l, view.col, width, m, t))
            .collect();
    }
    // Bottom-up: the lines that end the view, each wrapped, until the rows are filled.
    let mut blocks = Vec::new();
    let (mut used, mut pos) = (0, end);
    while used < room && pos > 0 {
        pos -= 1;
        if let Some((l, m)) = line(pos) {
            let rows = wrapped(l, width, room, m, t);
            used += rows.len();
            blocks.push(rows);
        }
    }
    let clipped = used > room;
    match marked {
        // The selected line would be cut off at the top: the view starts with it instead.
        Some(m) if m < pos || (m == pos && clipped) => {
            let mut out: Vec<Line> = (m..end)
                .map_while(line)
                .flat_map(|(l, mk)| wrapped(l, width, room, mk, t))
                .take(room)
                .collect();
            out.truncate(room);
            out
        }
        _ => {
            let mut out: Vec<Line> = blocks.into_iter().rev().flatten().collect();
            out.drain(..out.len().saturating_sub(room));
            out
        }
    }
}

/// The tag and stream mark a line starts with, and the style of its text.
fn parts(l: LineRef<'_>, marked: bool, t: Theme) -> (Vec<Span<'static>>, usize, Style) {
    let (sep, mut style) = match l.stream {
        Some(Stream::Stdout) => (" | ", Style::new()),
        Some(Stream::Stderr) => (" ! ", t.warn()),
        None => (" ", t.focus().add_modifier(Modifier::ITALIC)),
    };
    match l.level {
        Level::Error => style = style.patch(t.danger()),
        Level::Warn => style = style.patch(t.warn()),
        Level::Info | Level::Other => {}
    }
    if marked {
        style = style.add_modifier(Modifier::REVERSED);
    }
    let tag = format!("{:>4}", super::safe(l.source));
    let width = str_width(&tag) + str_width(sep);
    let prefix = vec![
        Span::styled(tag, tag_style(l.origin, t)),
        Span::styled(sep, t.muted()),
    ];
    (prefix, width, style)
}

pub fn tag_style(origin: Option<usize>, t: Theme) -> Style {
    match origin {
        Some(i) => t.source(i).add_modifier(Modifier::BOLD),
        None => t.muted(),
    }
}

/// One row: the line from column `col`, cut at the edge with a mark on the side where text is hidden.
fn cut_row(l: LineRef<'_>, col: usize, width: usize, marked: bool, t: Theme) -> Line<'_> {
    let (mut spans, prefix, style) = parts(l, marked, t);
    let left = usize::from(col > 0);
    let room = width.saturating_sub(prefix + left);
    let mut c = cut(l.text, col, room);
    if c.right {
        c = cut(l.text, col, room.saturating_sub(1));
    }
    if left > 0 {
        spans.push(Span::styled(
            if c.left { MORE_LEFT } else { " " },
            t.focus(),
        ));
    }
    if c.pad > 0 {
        spans.push(Span::raw(" ".repeat(c.pad)));
    }
    spans.push(Span::styled(c.text, style));
    if c.right {
        spans.push(Span::styled(MORE_RIGHT, t.focus()));
    } else if l.truncated {
        spans.push(Span::styled(TRUNCATED, t.warn()));
    }
    Line::from(spans)
}

/// A line wrapped onto the rows it needs (continuation rows indented under its text), at most `cap` of them; a
/// line longer than that ends with `›` (Enter shows it whole).
fn wrapped(l: LineRef<'_>, width: usize, cap: usize, marked: bool, t: Theme) -> Vec<Line<'_>> {
    let (prefix, pw, style) = parts(l, marked, t);
    let avail = width.saturating_sub(pw).max(1);
    let indent = || Span::raw(" ".repeat(pw));
    let mut it = rows(l.text, avail);
    let ranges: Vec<_> = it.by_ref().take(cap.max(1)).collect();
    let more = it.next().is_some();
    let last = ranges.len().saturating_sub(1);
    let mut out: Vec<Line> = Vec::with_capacity(ranges.len() + 1);
    let mut last_width = 0;
    for (i, r) in ranges.into_iter().enumerate() {
        let mut spans = if i == 0 {
            prefix.clone()
        } else {
            vec![indent()]
        };
        let text = &l.text[r];
        if i == last && more {
            spans.push(Span::styled(
                cut(text, 0, avail.saturating_sub(1)).text,
                style,
            ));
            spans.push(Span::styled(MORE_RIGHT, t.focus()));
        } else {
            last_width = str_width(text);
            spans.push(Span::styled(text, style));
        }
        out.push(Line::from(spans));
    }
    if l.truncated && !more {
        let marker = Span::styled(TRUNCATED, t.warn());
        let rows = out.len();
        match out.last_mut() {
            Some(row) if last_width + TRUNCATED.len() <= avail => row.spans.push(marker),
            _ if rows < cap => out.push(Line::from(vec![indent(), marker])),
            _ => {}
        }
    }
    out
}
