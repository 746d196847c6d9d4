//! The health pane: per `[[health]]` check its state (healthy green, unhealthy red, no data magenta; ALERT as the
//! header shows it while its alert is up, never "healthy" beside it), last latency (a command check: its last
//! number and its `min`/`max`), a sparkline of recent latencies,
//! the error rate over its window and its baseline; `insecure` as a red warning; a `[[logs]]` source whose alert is
//! up; then the `[[verify]]` assertions with pass or fail and the value. Scrolls (j/k) when taller than the pane.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::{Theme, safe};
use crate::app::{CheckRun, HealthState, State, baseline_text};
use crate::runner::Probe;

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// Sparkline width at most (it is cut to the pane).
const SPARK_WIDTH: usize = 30;

pub fn render(frame: &mut Frame, area: Rect, block: Block<'static>, state: &State, t: Theme) {
    let inner_width = usize::from(area.width.saturating_sub(2));
    let log_alerts = log_alert_lines(state, inner_width, t);
    if state.plan.health.is_empty() && state.plan.verify.is_empty() && log_alerts.is_empty() {
        super::placeholder::health(frame, area, block, t);
        return;
    }
    let mut lines = Vec::new();
    for (cfg, run) in state.plan.health.iter().zip(&state.health.checks) {
        lines.extend(check_lines(state, cfg, run, inner_width, t));
    }
    lines.extend(log_alerts);
    if !state.plan.health.is_empty() && !state.health.frozen {
        lines.push(Line::styled(
            "baseline: sampling until the first destructive action",
            t.muted(),
        ));
    }
    lines.extend(verify_lines(state, t));
    // Many checks on a small screen: j/k scroll the pane (clamped so the last line can reach the bottom).
    let visible = usize::from(area.height.saturating_sub(2));
    let scroll = state.health_scroll.min(lines.len().saturating_sub(visible));
    frame.render_widget(
        Paragraph::new(lines)
            .scroll((scroll as u16, 0))
            .block(block),
        area,
    );
}

fn state_style(s: HealthState, t: Theme) -> Style {
    match s {
        HealthState::Healthy => t.ok(),
        HealthState::Unhealthy => t.danger().add_modifier(Modifier::BOLD),
        HealthState::Inconclusive => t.warn(),
        HealthState::Starting => t.muted(),
    }
}

fn check_lines(
    state: &State,
    cfg: &crate::plan::HealthCheck,
    run: &CheckRun,
    width: usize,
    t: Theme,
) -> Vec<Line<'static>> {
    let window = run.window(state.now, cfg.window);
    let last = match &run.last {
        None => "-".to_string(),
        // A command's number has no unit; without one, how it ended.
        Some(Probe::Ran { value, why, .. }) => match (value, why) {
            (Some(v), _) => v.to_string(),
            (None, None) => "ok".to_string(),
            (None, Some(_)) => "failed".to_string(),
        },
        Some(p) => match p.latency() {
            Some(l) => format!("{}ms", l.as_millis()),
            None => "no answer".to_string(),
        },
    };
    let bounds = match cfg.command().map(crate::plan::HealthCommand::bounds) {
        Some(b) if !b.is_empty() => format!(" ({b})"),
        _ => String::new(),
    };
    let errors = match window.error_ratio() {
        Some(r) => format!("err {:.0}%", r * 100.0),
        None => "err -".to_string(),
    };
    let mut head = vec![Span::styled(
        format!("{} ", safe(&cfg.name)),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    // An alert that is up outranks what the probes say: never "healthy" beside the header's ALERT.
    if run.alert.is_some() {
        head.push(Span::styled("ALERT", t.alarm()));
    }
    if run.alert.is_none() || run.state.failing() {
        let gap = if run.alert.is_some() { " " } else { "" };
        head.push(Span::raw(gap));
        head.push(Span::styled(run.state.label(), state_style(run.state, t)));
    }
    head.push(Span::raw(format!("  {last}{bounds}  {errors}")));
    let mut lines = vec![Line::from(head)];
    if let Some(why) = &run.alert {
        lines.extend(alert_why(why, width, t));
    }
    let spark = sparkline(run, width.saturating_sub(4).min(SPARK_WIDTH));
    lines.push(Line::from(vec![
        Span::raw("  "),
        Span::styled(spark, t.focus()),
    ]));
    lines.push(Line::styled(
        format!("  base {}", baseline_text(run)),
        t.muted(),
    ));
    if let Some(why) = run.last.as_ref().and_then(Probe::why) {
        lines.push(Line::styled(
            format!("  {}", safe(why)),
            state_style(run.state, t),
        ));
    }
    if cfg.insecure {
        lines.push(Line::styled(
            "  ! insecure: TLS certificate not checked",
            t.danger().add_modifier(Modifier::BOLD),
        ));
    }
    lines
}

/// Why an alert is up, under the line that says ALERT, wrapped to the pane's `width` (it is the one line that
/// says what is wrong; the header cuts it).
fn alert_why(why: &str, width: usize, t: Theme) -> Vec<Line<'static>> {
    let style = t.danger().add_modifier(Modifier::BOLD);
    (super::checklist::wrap(&safe(why), width.saturating_sub(2)).into_iter())
        .map(|part| Line::styled(format!("  {part}"), style))
        .collect()
}

/// Each `[[logs]]` source whose error-rate alert is up, as the header names it.
fn log_alert_lines(state: &State, width: usize, t: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (src, why) in state.plan.logs.iter().zip(&state.health.log_alerts) {
        if let Some(why) = why {
            lines.push(Line::from(vec![
                Span::styled(
                    format!("logs {} ", safe(&src.name)),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::styled("ALERT", t.alarm()),
            ]));
            lines.extend(alert_why(why, width, t));
        }
    }
    lines
}

/// The last `width` latencies as block characters, scaled to the largest; a space where nothing answered.
pub fn sparkline(run: &CheckRun, width: usize) -> String {
    let points: Vec<u64> = run.spark.iter().rev().take(width).rev().copied().collect();
    let max = points.iter().copied().max().unwrap_or(0).max(1);
    points
        .iter()
        .map(|&v| {
            if v == 0 {
                ' '
            } else {
                let i = ((v * (BARS.len() as u64 - 1)) / max) as usize;
                BARS[i.min(BARS.len() - 1)]
            }
        })
        .collect()
}

fn verify_lines(state: &State, t: Theme) -> Vec<Line<'static>> {
    if state.plan.verify.is_empty() {
        return Vec::new();
    }
    let running = if state.health.verify_pending > 0 {
        " (running)"
    } else {
        ""
    };
    let mut lines = vec![Line::styled(
        format!("verify (v){running}"),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    for (cfg, row) in state.plan.verify.iter().zip(&state.health.verify) {
        let want = format!("{} {}", cfg.op.symbol(), cfg.value);
        let (tag, style, rest) = match row {
            None => ("  -  ", t.muted(), format!("want {want}")),
            Some(r) => match &r.result {
                Ok(v) if r.passed => ("PASS ", t.ok(), format!("{v} {want}")),
                Ok(v) => (
                    "FAIL ",
                    t.danger().add_modifier(Modifier::BOLD),
                    format!("{v}, want {want}"),
                ),
                Err(e) => ("ERR  ", t.danger().add_modifier(Modifier::BOLD), e.clone()),
            },
        };
        lines.push(Line::from(vec![
            Span::raw("  "),
            Span::styled(tag, style),
            Span::raw(format!("{}: {}", safe(&cfg.name), safe(&rest))),
        ]));
    }
    lines
}
