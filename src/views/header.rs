//! The header line: project, environment badge (production in red), run clock, what is running, a health alert;
//! in a tail session, that it is tailing (no environment badge: nothing is released).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, safe};
use crate::app::{State, format_clock, format_elapsed};

pub fn render(frame: &mut Frame, area: Rect, state: &State, t: Theme) {
    if state.tail {
        tail(frame, area, state, t);
        return;
    }
    let project = &state.plan.project;
    let env = if project.is_production() {
        project.environment.to_uppercase()
    } else {
        project.environment.clone()
    };
    let mut spans = vec![
        Span::styled(" deckhand ", Style::new().add_modifier(Modifier::BOLD)),
        Span::raw(safe(&project.name).into_owned()),
        Span::raw(" "),
        Span::styled(
            format!(" {} ", safe(&env)),
            t.environment(project.is_production()),
        ),
    ];
    // How the run stands, once there is something to say: failed, rolling back, rolled back, signed off.
    if let Some((badge, bad)) = crate::app::release::badge(state) {
        let style = if bad {
            t.alarm()
        } else {
            t.ok().add_modifier(Modifier::BOLD)
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!(" {badge} "), style));
    }
    if let Some(badge) = crate::app::release::team::lock_badge(state) {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!(" {badge} "), t.alarm()));
    }
    // A tunnel that is down (or still starting after it was lost) is said on every screen: nothing reaches the
    // database meanwhile.
    if let Some(tunnel) = state.db.tunnel.as_ref().filter(|s| !s.is_up()) {
        let down = matches!(tunnel, crate::runner::tunnel::TunnelState::Down { .. });
        let (text, style) = if down {
            (" TUNNEL DOWN ", t.alarm())
        } else {
            (" tunnel starting ", t.warn())
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(text, style));
    }
    spans.push(Span::styled(
        format!(" elapsed {}", format_elapsed(state.elapsed())),
        t.muted(),
    ));
    if let (Some(id), Some(phase)) = (
        state.running(),
        state.running().and_then(|id| state.phase_def(id.phase)),
    ) {
        let clock = (state.phase_run(id.phase))
            .and_then(|r| r.steps.get(id.step)?.started)
            .map(|t| format_clock(state.now.saturating_duration_since(t)))
            .unwrap_or_default();
        let verb = if state.op.is_some_and(crate::app::Operation::cancelling) {
            "cancelling"
        } else {
            "running"
        };
        spans.push(Span::styled(
            format!(
                "  {verb} {} {}/{} {clock}",
                safe(&phase.name),
                id.step + 1,
                phase.steps.len()
            ),
            t.warn().add_modifier(Modifier::BOLD),
        ));
    }
    if let Some((i, why)) = state.health.alerts().next() {
        let name = crate::app::alert_name(state, i);
        spans.push(Span::styled(
            format!("  ALERT {}: {}", safe(&name), safe(why)),
            t.alarm(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A tail session's header: what it is and how many sources it follows.
fn tail(frame: &mut Frame, area: Rect, state: &State, t: Theme) {
    let n = state.logview.sources.len();
    let spans = vec![
        Span::styled(" deckhand ", Style::new().add_modifier(Modifier::BOLD)),
        Span::styled(
            format!("tailing {n} log source{}", if n == 1 { "" } else { "s" }),
            t.focus(),
        ),
        Span::styled(" (no release)", t.muted()),
        Span::styled(
            format!("  elapsed {}", format_elapsed(state.elapsed())),
            t.muted(),
        ),
    ];
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
