//! The migration preview and health panes, which say plainly that nothing is configured for them yet.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::theme;

pub fn migrations(frame: &mut Frame, area: Rect, block: Block<'static>) {
    let text = vec![
        Line::from("No database configured."),
        Line::from(""),
        Line::styled(
            "This plan has no [database] section, so there are no migrations to preview. Migration support \
             (Prisma, sqlx, Drizzle, plain SQL) is not built into this version yet.",
            Style::new().fg(theme::MUTED),
        ),
    ];
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(block),
        area,
    );
}

pub fn health(frame: &mut Frame, area: Rect, block: Block<'static>) {
    let text = vec![
        Line::from("No health checks configured."),
        Line::from(""),
        Line::styled(
            "This plan has no [[health]] checks. Health probes, latency baselines and alerts are not built \
             into this version yet.",
            Style::new().fg(theme::MUTED),
        ),
    ];
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(block),
        area,
    );
}
