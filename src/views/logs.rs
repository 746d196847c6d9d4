//! The logs pane: step output and the `[[logs]]` sources merged, each source with its coloured tag, lines
//! coloured by level (the rows themselves are laid out in `logrows`); following the newest line or paused where
//! the operator scrolled or selected a line; the title's counts (lines, matches, errors, dropped), the filter
//! (and its re-scan progress), wrapping or the column scrolled to, the toggles and each source's status. Only
//! the visible lines are touched. May import app (read only).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use super::logrows::{tag_style, view_rows};
use crate::app::{Pane, Shown, SourceStatus, State, format_clock};
use crate::runner::Level;

pub fn render(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    t: Theme,
    focused: bool,
    tabs: Option<&[Pane]>,
) {
    let view = &state.logview;
    let logs = &state.logs;
    let (bar, counts, dropped_in_title) = title(state, tabs, usize::from(area.width), t);
    let mut block = super::pane_block(bar, focused, t)
        .title_bottom(Line::styled(footer(state, !dropped_in_title), t.muted()));
    if let Some(counts) = counts {
        block = block.title_top(counts.right_aligned());
    }
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
    rows.extend(view_rows(state, usize::from(inner.width), room, t));
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

/// The pane's title: its name (or the tab bar) on the left, and on the right the counts — lines kept, lines
/// shown by the filter, error lines, lines dropped — in the longest wording that fits `width`. In a tab bar
/// beside the checklist the other tabs give way to their numbers before a count is left out; where the tab bar
/// is the only map of the panes (one pane at a time) it stays whole. Also whether the dropped count made it in
/// (the footer says it if not).
fn title(
    state: &State,
    tabs: Option<&[Pane]>,
    width: usize,
    t: Theme,
) -> (Line<'static>, Option<Line<'static>>, bool) {
    let room = width.saturating_sub(2);
    let bar = |compact| match tabs {
        Some(tabs) => super::tab_title(tabs, Pane::Logs, t, compact),
        None => Line::from(" Logs "),
    };
    let counts = counts(state);
    if counts.is_empty() {
        return (bar(false), None, false);
    }
    let forms = forms(&counts);
    let (whole, fewer) = forms.split_at(WORDINGS);
    let may_compact = tabs.is_some_and(|tabs| !tabs.contains(&Pane::Checklist));
    let mut tries: Vec<(bool, &Vec<Count>)> = whole.iter().map(|f| (false, f)).collect();
    if may_compact {
        tries.extend(forms.iter().map(|f| (true, f)));
    } else {
        tries.extend(fewer.iter().map(|f| (false, f)));
    }
    for (compact, form) in tries.into_iter().filter(|(_, f)| !f.is_empty()) {
        let base = bar(compact);
        let mut counts = vec![Span::raw(" ")];
        counts.extend(count_spans(form, t));
        counts.push(Span::raw(" "));
        let counts = Line::from(counts);
        // At least one column of border between the two.
        if base.width() + 1 + counts.width() <= room {
            let dropped = form.iter().any(|c| c.what == What::Dropped);
            return (base, Some(counts), dropped);
        }
    }
    (bar(false), None, false)
}

/// The wordings of all the counts [`forms`] starts with (the forms after them leave counts out).
const WORDINGS: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    Lines,
    Shown,
    Matches,
    Errors,
    Dropped,
}

/// One count of the title, in one wording.
#[derive(Debug, Clone)]
struct Count {
    what: What,
    n: u64,
    /// The number is still growing (a re-scan under way).
    partial: bool,
    exact: bool,
    short: bool,
}

impl Count {
    fn text(&self) -> String {
        let n = if self.exact {
            grouped(self.n)
        } else {
            compact(self.n)
        };
        let one = self.n == 1 && !self.partial;
        let word = match (self.what, self.short) {
            (What::Lines, false) if one => "line",
            (What::Lines, false) => "lines",
            (What::Lines, true) => "ln",
            (What::Shown, _) => "shown",
            (What::Matches, false) if !one => "matches",
            (What::Matches, _) => "match",
            (What::Errors, false) if one => "error",
            (What::Errors, false) => "errors",
            (What::Errors, true) => "err",
            (What::Dropped, false) => "dropped",
            (What::Dropped, true) => "drop",
        };
        let plus = if self.partial { "+" } else { "" };
        format!("{n}{plus} {word}")
    }
}

/// The counts in display order, worded in full: none while nothing came; errors and dropped lines once there
/// are some; the lines shown while a filter or toggle hides some.
fn counts(state: &State) -> Vec<Count> {
    let (view, logs) = (&state.logview, &state.logs);
    let count = |what, n: u64| Count {
        what,
        n,
        partial: false,
        exact: true,
        short: false,
    };
    if logs.is_empty() && logs.dropped() == 0 {
        return Vec::new();
    }
    let mut out = vec![count(What::Lines, logs.len() as u64)];
    if view.active() {
        let what = if view.filter.is_some() {
            What::Matches
        } else {
            What::Shown
        };
        out.push(Count {
            partial: view.scanning(),
            ..count(what, view.visible_len(logs) as u64)
        });
    }
    if logs.errors() > 0 {
        out.push(count(What::Errors, logs.errors() as u64));
    }
    if logs.dropped() > 0 {
        out.push(count(What::Dropped, logs.dropped()));
    }
    out
}

/// The wordings to try, longest first: exact numbers, then rounded ones, then short words, then fewer counts
/// (lines kept go first, then the dropped count, then the matches; the errors stay).
fn forms(counts: &[Count]) -> Vec<Vec<Count>> {
    let with = |exact, short| -> Vec<Count> {
        counts
            .iter()
            .map(|c| Count {
                exact,
                short,
                ..c.clone()
            })
            .collect()
    };
    let mut out = vec![with(true, false), with(false, false), with(false, true)];
    let mut fewer = with(false, true);
    for gone in [What::Lines, What::Dropped, What::Matches, What::Shown] {
        if fewer.iter().any(|c| c.what == gone) {
            fewer.retain(|c| c.what != gone);
            out.push(fewer.clone());
        }
    }
    out
}

fn count_spans(form: &[Count], t: Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    for (i, c) in form.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", t.muted()));
        }
        let style = match c.what {
            What::Errors if c.n > 0 => t.danger(),
            What::Dropped => t.warn(),
            _ => t.muted(),
        };
        spans.push(Span::styled(c.text(), style));
    }
    spans
}

/// `1,234,567`.
pub(super) fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `9,999`, `12k`, `1.2M`, `34M`: at most five columns, rounded down (never more than there is).
fn compact(n: u64) -> String {
    match n {
        0..10_000 => grouped(n),
        10_000..1_000_000 => format!("{}k", n / 1_000),
        1_000_000..10_000_000 => format!("{}.{}M", n / 1_000_000, (n / 100_000) % 10),
        _ => format!("{}M", n / 1_000_000),
    }
}

/// Following or paused (a line selected, or scrolled up), how the lines are laid out, the dropped count when
/// the title had no room for it, the filter and its progress, the toggles.
fn footer(state: &State, dropped: bool) -> String {
    let view = &state.logview;
    let mut info = if state.log_offset > 0 {
        format!(" paused, {} newer below (G follows) ", state.log_offset)
    } else if view.current.is_some() {
        " paused (G follows) ".to_string()
    } else {
        " following ".to_string()
    };
    if view.wrap {
        info.push_str("| wrapped ");
    } else if view.col > 0 {
        info.push_str(&format!("| from col {} ", view.col + 1));
    }
    if dropped && state.logs.dropped() > 0 {
        info.push_str(&format!("| {} dropped ", state.logs.dropped()));
    }
    if let Some(f) = &view.filter {
        info.push_str(&format!("| /{}/ ", crate::sanitize::sanitize_str(&f.text)));
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
            Some(SourceStatus::Waiting(why)) => (format!("waiting: {why}"), t.warn()),
        };
        let text = crate::sanitize::sanitize_str(&text).into_owned();
        spans.push(Span::styled(format!(" {text}"), style));
    }
    Line::from(spans)
}
