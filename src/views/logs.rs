//! The logs pane: step output tagged with its step, following the newest line or paused where the operator
//! scrolled, with a count of lines dropped by the buffer's bounds. Only the visible lines are touched.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::theme;
use crate::app::{LogLine, State};
use crate::runner::Stream;

pub fn render(frame: &mut Frame, area: Rect, block: Block<'static>, state: &State) {
    let logs = &state.logs;
    let height = usize::from(area.height.saturating_sub(2));
    let end = logs.len().saturating_sub(state.log_offset);
    let start = end.saturating_sub(height);
    let mut info = if state.log_offset == 0 {
        " following ".to_string()
    } else {
        format!(" paused, {} newer below (G follows) ", state.log_offset)
    };
    if logs.dropped() > 0 {
        info.push_str(&format!("| {} dropped ", logs.dropped()));
    }
    let block = block.title_bottom(Line::styled(info, Style::new().fg(theme::MUTED)));
    let lines: Vec<Line> = if logs.is_empty() {
        vec![Line::styled(
            "No output yet. Select a phase in the checklist pane and press Enter: its output streams here.",
            Style::new().fg(theme::MUTED),
        )]
    } else {
        logs.range(start, end).map(log_line).collect()
    };
    let mut paragraph = Paragraph::new(lines).block(block);
    if logs.is_empty() {
        paragraph = paragraph.wrap(Wrap { trim: true });
    }
    frame.render_widget(paragraph, area);
}

fn log_line(l: &LogLine) -> Line<'_> {
    let (sep, text_style) = match l.stream {
        Some(Stream::Stdout) => (" | ", Style::new()),
        Some(Stream::Stderr) => (" ! ", Style::new().fg(theme::WARN)),
        None => (
            " ",
            Style::new().fg(theme::FOCUS).add_modifier(Modifier::ITALIC),
        ),
    };
    let mut spans = vec![
        Span::styled(format!("{:>4}", &*l.source), Style::new().fg(theme::MUTED)),
        Span::styled(sep, Style::new().fg(theme::MUTED)),
        Span::styled(l.text.as_str(), text_style),
    ];
    if l.truncated {
        spans.push(Span::styled(
            " [line truncated]",
            Style::new().fg(theme::WARN),
        ));
    }
    Line::from(spans)
}
