//! Pure rendering: `render(frame, &State)` draws the whole screen; one file per pane or overlay. Views read
//! `app::State` only — they never call runners or change state. Every plan or process string shown passes through
//! `sanitize` so it cannot drive the terminal.

mod alerts;
mod checklist;
mod header;
mod health;
mod help;
mod logs;
mod migrations;
mod modal;
mod placeholder;
mod signoff;
mod status;

use std::borrow::Cow;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType};

use crate::app::{Overlay, Pane, State};

/// Colours that carry meaning.
pub mod theme {
    use ratatui::style::Color;
    pub const DANGER: Color = Color::Red;
    pub const FOCUS: Color = Color::Cyan;
    pub const OK: Color = Color::Green;
    pub const WARN: Color = Color::Yellow;
    pub const MUTED: Color = Color::DarkGray;
}

/// How the panes are arranged for a terminal size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrangement {
    /// All four panes at once (at least 120x30).
    Grid,
    /// Checklist on the left, one of the other three on the right as tabs (at least 64 wide).
    Split,
    /// One pane at a time, as tabs.
    Single,
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

/// Draws the whole screen for `state`.
pub fn render(frame: &mut Frame, state: &State) {
    let area = frame.area();
    let [top, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    header::render(frame, top, state);
    status::render(frame, bottom, state);
    match arrangement(area.width, area.height) {
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
                pane_at(frame, rect, state, pane, None);
            }
        }
        Arrangement::Split => {
            let left_width = (body.width * 2 / 5).clamp(28, 40);
            let [left, right] =
                Layout::horizontal([Constraint::Length(left_width), Constraint::Min(20)])
                    .areas(body);
            pane_at(frame, left, state, Pane::Checklist, None);
            let tabs = [Pane::Migrations, Pane::Logs, Pane::Health];
            pane_at(frame, right, state, state.side, Some(&tabs));
        }
        Arrangement::Single => pane_at(frame, body, state, state.focus, Some(&Pane::ALL)),
    }
    match state.overlay {
        Some(Overlay::Help { scroll }) => help::render(frame, area, scroll),
        Some(Overlay::Alerts) => alerts::render(frame, area, state),
        None => {}
    }
    if let Some(form) = &state.release.signoff {
        signoff::render(frame, area, form, &state.plan.project.environment);
    }
    if let Some(m) = &state.modal {
        modal::render(frame, area, m, state.now);
    }
}

fn pane_at(frame: &mut Frame, area: Rect, state: &State, pane: Pane, tabs: Option<&[Pane]>) {
    let focused = state.focus == pane;
    let title = match tabs {
        Some(tabs) => tab_title(tabs, pane),
        None => Line::from(format!(" {} ", pane.title())),
    };
    let block = pane_block(title, focused);
    match pane {
        Pane::Checklist => checklist::render(frame, area, block, state),
        Pane::Logs => logs::render(frame, area, block, state),
        Pane::Migrations => migrations::render(frame, area, block, state),
        Pane::Health => health::render(frame, area, block, state),
    }
}

/// A pane title that doubles as a tab bar: the shown pane highlighted, the others dim.
fn tab_title(tabs: &[Pane], shown: Pane) -> Line<'static> {
    let mut spans = vec![Span::raw(" ")];
    for (i, t) in tabs.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" | ", Style::new().fg(theme::MUTED)));
        }
        let style = if *t == shown {
            Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new().fg(theme::MUTED)
        };
        spans.push(Span::styled(
            format!("{} {}", pane_number(*t), t.title()),
            style,
        ));
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

fn pane_block(title: Line<'static>, focused: bool) -> Block<'static> {
    let (border, kind) = if focused {
        (Style::new().fg(theme::FOCUS), BorderType::Thick)
    } else {
        (Style::new().fg(theme::MUTED), BorderType::Plain)
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

/// Style for an alert that is up: the same in the header and on its line in the health pane.
pub fn alert_style() -> Style {
    Style::new()
        .fg(theme::DANGER)
        .add_modifier(Modifier::BOLD | Modifier::REVERSED)
}

/// Style for the environment badge: production is white on red.
pub fn environment_style(production: bool) -> Style {
    if production {
        Style::new()
            .fg(Color::White)
            .bg(theme::DANGER)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::Black).bg(theme::OK)
    }
}
