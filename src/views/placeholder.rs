//! The migration preview and health panes when the plan has nothing for them: what is missing, and how to add it
//! (the plan table and the README section).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::Theme;

pub fn migrations(frame: &mut Frame, area: Rect, block: Block<'static>, t: Theme) {
    let text = vec![
        Line::from("No database configured."),
        Line::from(""),
        Line::styled(
            "This plan has no [database] section, so there are no migrations to preview. Add [database] with \
             a url and a migrations folder (Prisma, sqlx, Drizzle or plain SQL): README, Plan format and \
             Migrations.",
            t.muted(),
        ),
    ];
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(block),
        area,
    );
}

pub fn health(frame: &mut Frame, area: Rect, block: Block<'static>, t: Theme) {
    let text = vec![
        Line::from("No health checks configured."),
        Line::from(""),
        Line::styled(
            "This plan has no [[health]] checks. Add [[health]] with a name and a url to probe it, keep a latency \
             baseline and raise alerts during the release: README, Health checks.",
            t.muted(),
        ),
    ];
    frame.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: true }).block(block),
        area,
    );
}
