//! The line overlay (Enter in the logs pane): one log line whole — where it came from, its stream and level, when
//! it arrived, its size — and its text wrapped to the overlay's width, scrolled by its own keys. Only the rows in
//! view are laid out, from at most the first [`LINE_SHOWN_BYTES`] of the line. The text was made inert when it
//! was read. May import app (read only).

use std::time::Duration;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::logs::grouped;
use super::{Theme, safe};
use crate::app::layout::{head, rows};
use crate::app::{
    LINE_MAX_WIDTH, LINE_SHOWN_BYTES, LineRef, State, format_clock, human_bytes, line_text_area,
};
use crate::runner::{Level, Stream};

pub fn render(frame: &mut Frame, area: Rect, state: &State, seq: u64, scroll: usize, t: Theme) {
    let width = area.width.min(LINE_MAX_WIDTH);
    let popup = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + 1.min(area.height),
        width,
        height: area.height.saturating_sub(2),
    };
    frame.render_widget(Clear, popup);
    let (cols, text_rows) = line_text_area(area.width, area.height);
    let block = Block::bordered()
        .border_style(t.focus())
        .title(format!(" Log line {} ", grouped(seq + 1)));
    let Some(l) = state.logs.get_seq(seq) else {
        let gone = Line::styled(
            "This line is no longer kept: newer lines pushed it out of the buffer.",
            t.warn(),
        );
        frame.render_widget(
            Paragraph::new(gone).block(block.title_bottom(" Esc closes ")),
            popup,
        );
        return;
    };
    let shown = head(l.text, LINE_SHOWN_BYTES);
    let total = rows(shown, cols).count();
    let scroll = scroll.min(total.saturating_sub(text_rows));
    let bottom = if total > text_rows {
        format!(
            " rows {}-{} of {} · j/k PgUp/PgDn scroll · Esc closes ",
            grouped(scroll as u64 + 1),
            grouped((scroll + text_rows).min(total) as u64),
            grouped(total as u64)
        )
    } else {
        " Esc closes ".to_string()
    };
    let mut lines = header(state, seq, l, t);
    lines.extend(
        rows(shown, cols)
            .skip(scroll)
            .take(text_rows)
            .map(|r| Line::raw(&shown[r])),
    );
    frame.render_widget(
        Paragraph::new(lines).block(block.title_bottom(bottom)),
        popup,
    );
}

/// What the line is, when it came, how long it is: [`crate::app::LINE_HEAD_ROWS`] rows.
fn header<'a>(state: &State, seq: u64, l: LineRef<'_>, t: Theme) -> Vec<Line<'a>> {
    let tag = safe(l.source).into_owned();
    let from = match (l.origin, l.stream) {
        (Some(i), Some(_)) => format!("source {} ([[logs]])", source_name(state, i, &tag)),
        (Some(i), None) => format!("deckhand's note on source {}", source_name(state, i, &tag)),
        (None, Some(_)) => format!("step {tag}"),
        (None, None) => "deckhand's own note".to_string(),
    };
    let mut what = vec![Span::styled(from, super::logrows::tag_style(l.origin, t))];
    match l.stream {
        Some(Stream::Stdout) => what.push(Span::styled(" · stdout", t.muted())),
        Some(Stream::Stderr) => what.push(Span::styled(" · stderr", t.warn())),
        None => {}
    }
    let (level, style) = match l.level {
        Level::Error => ("error", t.danger()),
        Level::Warn => ("warning", t.warn()),
        Level::Info => ("info", t.muted()),
        Level::Other => ("no level", t.muted()),
    };
    what.push(Span::styled(" · level ", t.muted()));
    what.push(Span::styled(level, style));
    let when = match state.logs.arrived(seq) {
        Some(second) => {
            let at = Duration::from_secs(u64::from(second));
            let ago = state.elapsed().saturating_sub(at);
            format!(
                "arrived {} into the run, {} ago",
                format_clock(at),
                format_clock(ago)
            )
        }
        None => "arrival time not known".to_string(),
    };
    let size = if l.text.len() > LINE_SHOWN_BYTES {
        format!(
            "{} in all: the first {} shown",
            human_bytes(l.text.len() as u64),
            human_bytes(LINE_SHOWN_BYTES as u64)
        )
    } else if l.truncated {
        format!(
            "{} bytes kept: longer when read, the rest was not kept",
            grouped(l.text.len() as u64)
        )
    } else {
        format!("{} bytes", grouped(l.text.len() as u64))
    };
    let size_style = if l.truncated || l.text.len() > LINE_SHOWN_BYTES {
        t.warn()
    } else {
        t.muted()
    };
    vec![
        Line::from(what),
        Line::styled(when, t.muted()),
        Line::styled(size, size_style),
    ]
}

/// A `[[logs]]` source's name as the plan gives it, made inert (its tag when unknown).
fn source_name(state: &State, i: usize, tag: &str) -> String {
    state
        .logview
        .sources
        .get(i)
        .map_or_else(|| tag.to_string(), |s| safe(&s.name).into_owned())
}
