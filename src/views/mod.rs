//! Pure rendering: `render_with(frame, &State, Theme)` draws the whole screen; one file per pane or overlay. Views
//! read `app::State` only — they never call runners or change state — and draw meaning through the [`Theme`] they
//! are handed (colour, or none with `NO_COLOR`). Every plan or process string shown passes through `sanitize` so it
//! cannot drive the terminal.

mod alerts;
mod checklist;
mod down_file;
mod header;
mod health;
mod help;
mod logline;
mod logrows;
mod logs;
mod migrations;
mod modal;
mod placeholder;
mod signoff;
mod status;
mod theme;

pub use theme::Theme;

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use crate::app::{Overlay, Pane, State};

/// How the panes are arranged for a terminal size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrangement {
    /// All four panes at once (at least 120x30).
    Grid,
    /// Checklist on the left, one of the other three on the right as tabs (at least 64 wide).
    Split,
    /// One pane at a time, as tabs.
    Single,
    /// The logs pane alone, whatever the size: a `deckhand tail` session has nothing else to show.
    LogsOnly,
}

pub fn arrangement(width: u16, height: u16) -> Arrangement {
    if width >= 120 && height >= 30 {
        Arrangement::Grid
    } else if width >= 64 {
        Arrangement::Split
    } else {
        Arrangement::Single
    }
}

/// How the open prompt's context fits on a screen of `area` (`None` without one): the console reports it back
/// after each frame (`Action::ModalFit`), so that scrolling the prompt stays within what is drawn.
pub fn modal_fit(state: &State, area: Rect) -> Option<crate::app::ModalFit> {
    state.modal.as_ref().map(|m| modal::fit(area, m, state.now))
}

/// Draws the whole screen for `state` in the default colours.
pub fn render(frame: &mut Frame, state: &State) {
    render_with(frame, state, Theme::COLOUR);
}

/// Draws the whole screen for `state` in theme `t`.
pub fn render_with(frame: &mut Frame, state: &State, t: Theme) {
    let area = frame.area();
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, top, state, t);
    status::render(frame, bottom, state, t);
    let arranged = if state.tail {
        Arrangement::LogsOnly
    } else {
        arrangement(area.width, area.height)
    };
    match arranged {
        Arrangement::LogsOnly => pane_at(frame, body, state, t, Pane::Logs, None),
        Arrangement::Grid => {
            let [left, right] =
                Layout::horizontal([Constraint::Percentage(38), Constraint::Percentage(62)])
                    .areas(body);
            let [check, health] =
                Layout::vertical([Constraint::Min(6), Constraint::Length(10)]).areas(left);
            let [migr, logs] =
                Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)])
                    .areas(right);
            for (pane, rect) in [
                (Pane::Checklist, check),
                (Pane::Health, health),
                (Pane::Migrations, migr),
                (Pane::Logs, logs),
            ] {
                pane_at(frame, rect, state, t, pane, None);
            }
        }
        Arrangement::Split => {
            let left_width = (body.width * 2 / 5).clamp(28, 40);
            let [left, right] =
                Layout::horizontal([Constraint::Length(left_width), Constraint::Min(20)])
                    .areas(body);
            pane_at(frame, left, state, t, Pane::Checklist, None);
            let tabs = [Pane::Migrations, Pane::Logs, Pane::Health];
            pane_at(frame, right, state, t, state.side, Some(&tabs));
        }
        Arrangement::Single => pane_at(frame, body, state, t, state.focus, Some(&Pane::ALL)),
    }
    match state.overlay {
        Some(Overlay::Help { scroll }) => help::render(frame, area, state, scroll, t),
        Some(Overlay::Alerts) => alerts::render(frame, area, state, t),
        Some(Overlay::Line { seq, scroll }) => logline::render(frame, area, state, seq, scroll, t),
        None => {}
    }
    if let Some(form) = &state.release.signoff {
        signoff::render(frame, area, form, &state.plan.project.environment, t);
    }
    if let Some(m) = &state.modal {
        modal::render(frame, area, m, state.now, t);
    }
}

fn pane_at(
    frame: &mut Frame,
    area: Rect,
    state: &State,
    t: Theme,
    pane: Pane,
    tabs: Option<&[Pane]>,
) {
    let focused = state.focus == pane;
    if pane == Pane::Logs {
        // Its title carries its counts.
        return logs::render(frame, area, state, t, focused, tabs);
    }
    let title = match tabs {
        Some(tabs) => tab_title(tabs, pane, t, false),
        None => Line::from(format!(" {} ", pane.title())),
    };
    let block = pane_block(title, focused, t);
    match pane {
        Pane::Checklist => checklist::render(frame, area, block, state, t),
        Pane::Logs => {}
        Pane::Migrations => migrations::render(frame, area, block, state, t),
        Pane::Health => health::render(frame, area, block, state, t),
    }
}

/// A pane title that doubles as a tab bar: the shown pane highlighted, the others dim (`compact`: only their
/// numbers, the keys that show them).
fn tab_title(tabs: &[Pane], shown: Pane, t: Theme, compact: bool) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    for (i, tab) in tabs.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" | ", t.muted()));
        }
        let style = if *tab == shown {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            t.muted()
        };
        let label = if compact && *tab != shown {
            pane_number(*tab).to_string()
        } else {
            format!("{} {}", pane_number(*tab), tab.title())
        };
        spans.push(Span::styled(label, style));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

fn pane_number(p: Pane) -> usize {
    Pane::ALL
        .iter()
        .position(|x| *x == p)
        .map(|i| i + 1)
        .unwrap_or(0)
}

fn pane_block(title: Line<'static>, focused: bool, t: Theme) -> Block<'static> {
    let (border, kind) = if focused {
        (t.focus(), BorderType::Thick)
    } else {
        (t.muted(), BorderType::Plain)
    };
    Block::bordered()
        .border_type(kind)
        .border_style(border)
        .title(title)
}

/// Plan text, made inert for the terminal.
fn safe(s: &str) -> Cow<'_, str> {
    crate::sanitize::sanitize_str(s)
}
