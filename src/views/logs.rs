//! The logs pane: step output and the `[[logs]]` sources merged, each source with its coloured tag, lines
//! coloured by level; following the newest line or paused where the operator scrolled; the dropped count, the
//! filter (and its re-scan progress), the toggles and each source's status. Only the visible lines are touched.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::theme;
use crate::app::{LogLine, Shown, SourceStatus, State, format_clock};
use crate::runner::{Level, Stream};

/// Tag colours of the `[[logs]]` sources, by index.
const SOURCE_COLOURS: [Color; 6] = [
    Color::Cyan,
    Color::Magenta,
    Color::Green,
    Color::Blue,
    Color::LightYellow,
    Color::LightMagenta,
];

pub fn render(frame: &mut Frame, area: Rect, block: Block<'static>, state: &State) {
    let view = &state.logview;
    let logs = &state.logs;
    let block = block.title_bottom(Line::styled(footer(state), Style::new().fg(theme::MUTED)));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut rows = Vec::new();
    if !view.sources.is_empty() {
        rows.push(status_line(state));
    }
    let prompt = prompt_line(state);
    let room = usize::from(inner.height)
        .saturating_sub(rows.len())
        .saturating_sub(usize::from(prompt.is_some()));
    let visible = view.visible_len(logs);
    if logs.is_empty() && view.sources.is_empty() {
        let hint = Paragraph::new(Line::styled(
            "No output yet. Select a phase in the checklist pane and press Enter: its output streams here.",
            Style::new().fg(theme::MUTED),
        ))
        .wrap(Wrap { trim: true });
        frame.render_widget(hint, inner);
        return;
    }
    let end = visible.saturating_sub(state.log_offset);
    let start = end.saturating_sub(room);
    for pos in start..end {
        let Some(seq) = view.visible_seq(logs, pos) else {
            continue;
        };
        if let Some(l) = logs.get_seq(seq) {
            rows.push(log_line(l, view.current == Some(seq)));
        }
    }
    if visible == 0 && view.active() && view.scan_progress(logs).is_none() {
        rows.push(Line::styled(
            "No line matches (/ changes the filter, l the level, s the source).",
            Style::new().fg(theme::MUTED),
        ));
    }
    while rows.len() < usize::from(inner.height).saturating_sub(usize::from(prompt.is_some())) {
        rows.push(Line::raw(""));
    }
    rows.extend(prompt);
    frame.render_widget(Paragraph::new(rows), inner);
}

/// Following or paused, dropped lines, filter and progress, toggles.
fn footer(state: &State) -> String {
    let view = &state.logview;
    let mut info = if state.log_offset == 0 {
        " following ".to_string()
    } else {
        format!(" paused, {} newer below (G follows) ", state.log_offset)
    };
    if state.logs.dropped() > 0 {
        info.push_str(&format!("| {} dropped ", state.logs.dropped()));
    }
    if let Some(f) = &view.filter {
        info.push_str(&format!("| /{}/ ", f.text));
    }
    if let Some(p) = view.scan_progress(&state.logs) {
        info.push_str(&format!("filtering… {p}% "));
    }
    match view.min_level {
        Level::Other => {}
        Level::Info => info.push_str("| info+ "),
        Level::Warn => info.push_str("| warn+ "),
        Level::Error => info.push_str("| errors "),
    }
    match view.shown {
        Shown::All => {}
        Shown::Steps => info.push_str("| steps only "),
        Shown::Source(i) => {
            if let Some(s) = view.sources.get(i) {
                info.push_str(&format!("| only {} ", s.name));
            }
        }
    }
    info
}

/// The filter being typed, or the pane's message.
fn prompt_line(state: &State) -> Option<Line<'static>> {
    let view = &state.logview;
    if let Some(input) = &view.input {
        return Some(Line::from(vec![
            Span::styled("filter /", Style::new().fg(theme::FOCUS)),
            Span::raw(crate::sanitize::sanitize_str(input).into_owned()),
            Span::styled("█", Style::new().fg(theme::FOCUS)),
        ]));
    }
    view.message
        .as_ref()
        .map(|m| Line::styled(m.clone(), Style::new().fg(theme::WARN)))
}

/// One entry per source: `api running · worker quiet 2:10 · db stopped: exit 1, restarting in 4 s`.
fn status_line(state: &State) -> Line<'static> {
    let view = &state.logview;
    let mut spans = Vec::new();
    for (i, s) in view.sources.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", Style::new().fg(theme::MUTED)));
        }
        spans.push(Span::styled(s.name.clone(), tag_style(Some(i))));
        let (text, colour) = match view.status(i, state.now) {
            Some(SourceStatus::Starting) | None => ("starting".to_string(), theme::MUTED),
            Some(SourceStatus::Running) => ("running".to_string(), theme::OK),
            Some(SourceStatus::Quiet(since)) => (
                format!(
                    "quiet {}",
                    format_clock(state.now.saturating_duration_since(since))
                ),
                theme::MUTED,
            ),
            Some(SourceStatus::Stopped { why, restart_at }) => match restart_at {
                Some(at) => {
                    let left = at.saturating_duration_since(state.now);
                    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                    (
                        format!("stopped: {why}, restarting in {secs} s"),
                        theme::WARN,
                    )
                }
                None => (format!("stopped: {why}"), theme::DANGER),
            },
            Some(SourceStatus::Failed(why)) => (format!("failed: {why}"), theme::DANGER),
        };
        let text = crate::sanitize::sanitize_str(&text).into_owned();
        spans.push(Span::styled(format!(" {text}"), Style::new().fg(colour)));
    }
    Line::from(spans)
}

fn tag_style(origin: Option<usize>) -> Style {
    match origin {
        Some(i) => Style::new()
            .fg(SOURCE_COLOURS[i % SOURCE_COLOURS.len()])
            .add_modifier(Modifier::BOLD),
        None => Style::new().fg(theme::MUTED),
    }
}

fn log_line(l: &LogLine, marked: bool) -> Line<'_> {
    let (sep, mut text_style) = match l.stream {
        Some(Stream::Stdout) => (" | ", Style::new()),
        Some(Stream::Stderr) => (" ! ", Style::new().fg(theme::WARN)),
        None => (
            " ",
            Style::new().fg(theme::FOCUS).add_modifier(Modifier::ITALIC),
        ),
    };
    match l.level {
        Level::Error => text_style = text_style.fg(theme::DANGER),
        Level::Warn => text_style = text_style.fg(theme::WARN),
        Level::Info | Level::Other => {}
    }
    if marked {
        text_style = text_style.add_modifier(Modifier::REVERSED);
    }
    let mut spans = vec![
        Span::styled(format!("{:>4}", &*l.source), tag_style(l.origin)),
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
