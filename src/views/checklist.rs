//! The checklist pane: checklist items with their ticks, then the plan's phases with status, destructiveness
//! and timing. The selected row is highlighted and kept in view.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::{safe, theme};
use crate::app::{PhaseStatus, Row, State, format_clock};

pub fn render(frame: &mut Frame, area: Rect, block: Block<'static>, state: &State) {
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_line = 0;
    let done = state.checked.iter().filter(|c| **c).count();
    if !state.plan.checklist.is_empty() {
        let mut head = vec![Span::styled(
            format!("Checklist {done}/{}", state.checked.len()),
            Style::new().add_modifier(Modifier::BOLD),
        )];
        if state.checklist_override.is_some() {
            head.push(Span::styled("  overridden", Style::new().fg(theme::DANGER)));
        }
        lines.push(Line::from(head));
    }
    for (i, row) in state.rows().into_iter().enumerate() {
        if row == Row::Phase(0) {
            lines.push(Line::styled(
                "Phases",
                Style::new().add_modifier(Modifier::BOLD),
            ));
        }
        let selected = i == state.selected;
        if selected {
            selected_line = lines.len();
        }
        let mut row_lines = match row {
            Row::Check(c) => vec![check_line(state, c)],
            Row::Phase(p) => phase_lines(state, p),
        };
        if selected {
            row_lines[0] = row_lines[0]
                .clone()
                .patch_style(Style::new().add_modifier(Modifier::REVERSED));
        }
        lines.extend(row_lines);
    }
    // Keep the selected row in view: scroll so it sits in the lower part of the pane when needed.
    let visible = usize::from(area.height.saturating_sub(2)).max(1);
    let scroll = (selected_line + 2).saturating_sub(visible);
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll as u16, 0))
            .block(block),
        area,
    );
}

fn check_line(state: &State, c: usize) -> Line<'static> {
    let (mark, style) = if state.checked[c] {
        ("[x] ", Style::new().fg(theme::OK))
    } else {
        ("[ ] ", Style::new())
    };
    Line::from(vec![
        Span::styled(mark, style),
        Span::raw(safe(&state.plan.checklist[c].item).into_owned()),
    ])
}

fn phase_lines(state: &State, p: usize) -> Vec<Line<'static>> {
    let phase = &state.plan.phases[p];
    let run = &state.phases[p];
    let (icon, icon_style) = match run.status {
        PhaseStatus::Pending => ("o ", Style::new().fg(theme::MUTED)),
        PhaseStatus::Running => (
            "> ",
            Style::new().fg(theme::WARN).add_modifier(Modifier::BOLD),
        ),
        PhaseStatus::Succeeded => ("✓ ", Style::new().fg(theme::OK)),
        PhaseStatus::Failed => (
            "✗ ",
            Style::new().fg(theme::DANGER).add_modifier(Modifier::BOLD),
        ),
        PhaseStatus::Cancelled => ("- ", Style::new().fg(theme::WARN)),
    };
    let name_style = if phase.destructive {
        Style::new().fg(theme::DANGER)
    } else {
        Style::new()
    };
    let mut detail = if phase.destructive {
        "destructive".to_string()
    } else {
        "safe".to_string()
    };
    detail.push_str(&format!(
        " · {} step{}",
        phase.steps.len(),
        if phase.steps.len() == 1 { "" } else { "s" }
    ));
    match run.status {
        PhaseStatus::Running => {
            let step = state.running.map(|id| id.step).unwrap_or(0);
            let clock = run.steps[step]
                .started
                .map(|t| format_clock(state.now.saturating_duration_since(t)))
                .unwrap_or_default();
            detail.push_str(&format!(
                " · step {}/{} {clock}",
                step + 1,
                phase.steps.len()
            ));
        }
        PhaseStatus::Pending => {}
        status => {
            let took = run.duration.map(format_clock).unwrap_or_default();
            let last = run.steps.iter().rev().find_map(|s| s.outcome.as_ref());
            let what = match (status, last) {
                (PhaseStatus::Failed, Some(o)) => crate::app::outcome_text(o),
                _ => format!("{status:?}").to_lowercase(),
            };
            detail.push_str(&format!(" · {what} {took}"));
        }
    }
    vec![
        Line::from(vec![
            Span::styled(icon, icon_style),
            Span::styled(safe(&phase.name).into_owned(), name_style),
        ]),
        Line::styled(format!("    {detail}"), Style::new().fg(theme::MUTED)),
    ]
}
