//! The logs room: the bounded buffer of every line (steps, `[[logs]]` sources, deckhand's own notes), the pane's
//! view of it (sources, level, filter, search, error rates), the selected line, wrapping and sideways scroll, and
//! the overlay that shows one line whole.

pub mod buffer;
mod chunk;
pub mod layout;
pub mod pane;
pub mod view;

use crate::app::msg::Notice;
use crate::app::out::Out;
use crate::app::state::State;
use buffer::LogLine;

/// Lines from `[[logs]]` source `source`: counted for its error rate, into the pane; health hears of them.
pub(super) fn on_lines(
    state: &mut State,
    source: usize,
    lines: crate::logs::batch::LineBatch,
    fx: &mut Out,
) {
    let Some(tag) = state.logview.sources.get(source).map(|s| s.tag.clone()) else {
        return;
    };
    let now = state.now;
    state
        .logview
        .count(source, lines.len(), lines.errors(), now);
    state.push_batch(&tag, source, &lines);
    fx.notice(Notice::SourceLines { source });
}

/// A `[[logs]]` source changed state: recorded, and a line in the pane for what the operator should see.
pub(super) fn on_source_state(state: &mut State, source: usize, s: crate::runner::SourceState) {
    use crate::runner::SourceState;
    let Some(tag) = state.logview.sources.get(source).map(|v| v.tag.clone()) else {
        return;
    };
    let note = match &s {
        SourceState::Note(text) => Some(text.clone()),
        SourceState::Stopped { why, restart_in } => Some(match restart_in {
            Some(d) => format!("stopped: {why}, restarting in {} s", d.as_secs().max(1)),
            None => format!("stopped: {why}"),
        }),
        SourceState::Failed(why) => Some(format!("failed: {why}")),
        SourceState::Waiting(why) => Some(format!("waiting: {why}")),
        SourceState::Running { .. } => None,
    };
    if let Some(text) = note {
        state.source_note(tag, Some(source), text);
    }
    if !matches!(s, SourceState::Note(_)) {
        state.logview.set_state(source, s, state.now);
    }
}

/// A step's output: into the pane under the step's tag (`p2.1`).
pub(super) fn on_step_output(
    state: &mut State,
    tag: std::sync::Arc<str>,
    lines: Vec<crate::runner::OutputLine>,
) {
    let lines = lines.into_iter().map(|l| LogLine {
        source: tag.clone(),
        stream: Some(l.stream),
        level: crate::logs::line::detect_level(l.text.as_bytes()),
        text: l.text,
        truncated: l.truncated,
        origin: None,
    });
    state.push_lines(lines);
}
