//! The `A` overlay: the alerts raised while the release was live, oldest first, each with when, what and why, and
//! whether it has cleared since; the keys come from the alerts layer's own table. May import app (read only).

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::{Theme, safe};
use crate::app::{State, alert_bindings, format_clock};

pub fn render(frame: &mut Frame, area: Rect, state: &State, t: Theme) {
    let mut lines: Vec<Line> = Vec::new();
    let queue = state.health.queue();
    if queue.is_empty() {
        lines.push(Line::raw("No alert waits to be acknowledged."));
        for (i, why) in state.health.alerts() {
            let name = crate::app::alert_name(state, i);
            lines.push(Line::styled(
                format!("still raised: {}: {}", safe(&name), safe(why)),
                t.danger(),
            ));
        }
    }
    for a in queue {
        let ago = format_clock(state.now.saturating_duration_since(a.at));
        let (mark, style) = if a.cleared {
            ("cleared since", t.muted())
        } else {
            ("RAISED", t.danger().add_modifier(Modifier::BOLD))
        };
        lines.push(Line::from(vec![
            Span::styled(format!("{mark:<13} "), style),
            Span::raw(format!("{} ago  {}: {}", ago, safe(&a.name), safe(&a.why))),
        ]));
    }
    lines.push(Line::raw(""));
    let keys: Vec<String> = alert_bindings()
        .into_iter()
        .map(|(k, what)| format!("{k}: {what}"))
        .collect();
    lines.push(Line::styled(keys.join("   "), t.muted()));
    let width = 78.min(area.width);
    let height = (lines.len() as u16 * 2 + 2).min(area.height);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    frame.render_widget(Clear, popup);
    let block = Block::bordered().border_style(t.danger()).title(" Alerts ");
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        popup,
    );
}
