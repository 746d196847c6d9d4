//! What `deckhand check` says about how deckhand reaches its databases: the plan's managed tunnel and its team
//! database (where, and whether destructive actions wait for a second operator). Never a password.

use deckhand::plan::Plan;

/// One line for the tunnel and one for the team, when the plan has them.
pub fn reach_lines(plan: &Plan) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(t) = &plan.team {
        let four_eyes = if t.approve.is_empty() {
            "no four-eyes approval".to_string()
        } else {
            format!(
                "four-eyes approval in {} (requests time out after {})",
                t.approve.join(", "),
                deckhand::plan::human_duration(t.approval_timeout)
            )
        };
        lines.push(format!(
            "team: {} schema {}, one release at a time per project and environment, {four_eyes}",
            deckhand::team::target(t),
            t.schema
        ));
    }
    if let Some(t) = plan.database.as_ref().and_then(|d| d.tunnel.as_ref()) {
        lines.push(format!(
            "tunnel: $ {} (listens on {}:{}, waited for up to {} per start; deckhand runs it while it needs the \
             database)",
            t.command.display,
            t.host,
            t.port,
            deckhand::plan::human_duration(t.ready_timeout)
        ));
    }
    lines
}
