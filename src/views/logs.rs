//! The logs pane: step output and the `[[logs]]` sources merged, each source with its coloured tag, lines
//! coloured by level; following the newest line or paused where the operator scrolled; the dropped count, the
//! filter (and its re-scan progress), the toggles and each source's status. Only the visible lines are touched.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::Theme;
use crate::app::{LineRef, Shown, SourceStatus, State, format_clock};
use crate::runner::{Level, Stream};

pub fn render(frame: &mut Frame, area: Rect, block: Block<'static>, state: &State, t: Theme) {
    let view = &state.logview;
    let logs = &state.logs;
    let block = block.title_bottom(Line::styled(footer(state), t.muted()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut rows = Vec::new();
    if !view.sources.is_empty() {
        rows.push(status_line(state, t));
    }
    let prompt = prompt_line(state, t);
    let room = usize::from(inner.height)
        .saturating_sub(rows.len())
        .saturating_sub(usize::from(prompt.is_some()));
    let visible = view.visible_len(logs);
    if logs.is_empty() && view.sources.is_empty() {
        let hint = Paragraph::new(Line::styled(
            "No output yet. Select a phase in the checklist pane and press Enter: its output streams here.",
            t.muted(),
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
            rows.push(log_line(l, view.current == Some(seq), t));
        }
    }
    if visible == 0 && view.active() && view.scan_progress(logs).is_none() {
        rows.push(Line::styled(
            "No line matches (/ changes the filter, l the level, s the source).",
            t.muted(),
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
fn prompt_line(state: &State, t: Theme) -> Option<Line<'static>> {
    let view = &state.logview;
    if let Some(input) = &view.input {
        return Some(Line::from(vec![
            Span::styled("filter /", t.focus()),
            Span::raw(crate::sanitize::sanitize_str(input).into_owned()),
            Span::styled("█", t.focus()),
        ]));
    }
    view.message
        .as_ref()
        .map(|m| Line::styled(m.clone(), t.warn()))
}

/// One entry per source: `api running · worker quiet 2:10 · db stopped: exit 1, restarting in 4 s`.
fn status_line(state: &State, t: Theme) -> Line<'static> {
    let view = &state.logview;
    let mut spans = Vec::new();
    for (i, s) in view.sources.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", t.muted()));
        }
        spans.push(Span::styled(s.name.clone(), tag_style(Some(i), t)));
        let (text, style) = match view.status(i, state.now) {
            Some(SourceStatus::Starting) | None => ("starting".to_string(), t.muted()),
            Some(SourceStatus::Running) => ("running".to_string(), t.ok()),
            Some(SourceStatus::Quiet(since)) => (
                format!(
                    "quiet {}",
                    format_clock(state.now.saturating_duration_since(since))
                ),
                t.muted(),
            ),
            Some(SourceStatus::Stopped { why, restart_at }) => match restart_at {
                Some(at) => {
                    let left = at.saturating_duration_since(state.now);
                    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                    (format!("stopped: {why}, restarting in {secs} s"), t.warn())
                }
                None => (format!("stopped: {why}"), t.danger()),
            },
            Some(SourceStatus::Failed(why)) => (format!("failed: {why}"), t.danger()),
        };
        let text = crate::sanitize::sanitize_str(&text).into_owned();
        spans.push(Span::styled(format!(" {text}"), style));
    }
    Line::from(spans)
}

fn tag_style(origin: Option<usize>, t: Theme) -> Style {
    match origin {
        Some(i) => t.source(i).add_modifier(Modifier::BOLD),
        None => t.muted(),
    }
}

fn log_line(l: LineRef<'_>, marked: bool, t: Theme) -> Line<'_> {
    let (sep, mut text_style) = match l.stream {
        Some(Stream::Stdout) => (" | ", Style::new()),
        Some(Stream::Stderr) => (" ! ", t.warn()),
        None => (" ", t.focus().add_modifier(Modifier::ITALIC)),
    };
    match l.level {
        Level::Error => text_style = text_style.patch(t.danger()),
        Level::Warn => text_style = text_style.patch(t.warn()),
        Level::Info | Level::Other => {}
    }
    if marked {
        text_style = text_style.add_modifier(Modifier::REVERSED);
    }
    let mut spans = vec![
        Span::styled(format!("{:>4}", &**l.source), tag_style(l.origin, t)),
        Span::styled(sep, t.muted()),
        Span::styled(l.text, text_style),
    ];
    if l.truncated {
        spans.push(Span::styled(" [line truncated]", t.warn()));
    }
    Line::from(spans)
}
