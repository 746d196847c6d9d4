//! The checklist pane: checklist items with their ticks, then the plan's phases with status, destructiveness
//! and timing. The selected row is highlighted and kept in view.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::{Theme, safe};
use crate::app::release::{self, Stage, StageStatus};
use crate::app::{PhaseStatus, Row, State, format_clock};

pub fn render(frame: &mut Frame, area: Rect, block: Block<'static>, state: &State, t: Theme) {
    let width = usize::from(area.width.saturating_sub(2));
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_line = 0;
    lines.push(strip_line(state, width, t));
    if let Some((text, bad)) = release::preflight_line(state) {
        let style = if bad { t.danger() } else { t.muted() };
        for part in wrap(&safe(&text), width) {
            lines.push(Line::styled(part, style));
        }
    }
    let done = state.checked.iter().filter(|c| **c).count();
    if !state.plan.checklist.is_empty() {
        let mut head = vec![Span::styled(
            format!("Checklist {done}/{}", state.checked.len()),
            Style::new().add_modifier(Modifier::BOLD),
        )];
        if state.checklist_override.is_some() {
            head.push(Span::styled("  overridden", t.danger()));
        }
        lines.push(Line::from(head));
    }
    let mut headed = (false, false);
    for (i, row) in state.rows().into_iter().enumerate() {
        lines.extend(heading(state, row, &mut headed));
        let selected = i == state.selected;
        if selected {
            selected_line = lines.len();
        }
        let mut row_lines = match row {
            Row::Check(c) => check_line(state, c, width, t),
            Row::Backup => backup_lines(state, width, t),
            Row::Phase(p) => phase_lines(state, p, width, t),
            Row::Stage(stage) => stage_lines(state, stage, width, t),
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

/// The heading above the first phase row ("Phases") and above the first optional one; `headed` remembers which
/// were drawn.
fn heading(state: &State, row: Row, headed: &mut (bool, bool)) -> Option<Line<'static>> {
    let Row::Phase(p) = row else {
        return None;
    };
    let optional = state.plan.phases[p].optional;
    let (done, title) = if optional {
        (&mut headed.1, "Optional (outside the release)")
    } else {
        (&mut headed.0, "Phases")
    };
    if std::mem::replace(done, true) {
        return None;
    }
    Some(Line::styled(
        title,
        Style::new().add_modifier(Modifier::BOLD),
    ))
}

fn check_line(state: &State, c: usize, width: usize, t: Theme) -> Vec<Line<'static>> {
    let (mark, style) = if state.checked[c] {
        ("[x] ", t.ok())
    } else {
        ("[ ] ", Style::new())
    };
    let text = safe(&state.plan.checklist[c].item).into_owned();
    wrap(&text, width.saturating_sub(4))
        .into_iter()
        .enumerate()
        .map(|(i, part)| {
            let lead = if i == 0 {
                Span::styled(mark, style)
            } else {
                Span::raw("    ")
            };
            Line::from(vec![lead, Span::raw(part)])
        })
        .collect()
}

/// The backup row: what this run has to fall back on, or the backup under way with its progress.
fn backup_lines(state: &State, width: usize, t: Theme) -> Vec<Line<'static>> {
    let (text, problem) = crate::app::backup_row(state);
    let (icon, style) = match (state.backup_work(), &state.backup.verified, problem) {
        (Some(_), _, _) => ("> ", t.warn().add_modifier(Modifier::BOLD)),
        (None, _, true) => ("✗ ", t.danger().add_modifier(Modifier::BOLD)),
        (None, Some(_), false) => ("✓ ", t.ok()),
        (None, None, false) => ("o ", t.muted()),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(icon, style),
        Span::styled("Backup", Style::new().add_modifier(Modifier::BOLD)),
    ])];
    let detail_style = if problem { t.danger() } else { t.muted() };
    for part in wrap(&safe(&text), width.saturating_sub(2)) {
        lines.push(Line::styled(format!("  {part}"), detail_style));
    }
    lines
}

fn phase_lines(state: &State, p: usize, width: usize, t: Theme) -> Vec<Line<'static>> {
    let phase = &state.plan.phases[p];
    let run = &state.phases[p];
    let bold = Modifier::BOLD;
    let undone = rolled_back(state, p);
    let (icon, icon_style) = match run.status {
        PhaseStatus::Succeeded if undone => ("↶ ", t.warn().add_modifier(bold)),
        PhaseStatus::Pending => ("o ", t.muted()),
        PhaseStatus::Running => ("> ", t.warn().add_modifier(bold)),
        PhaseStatus::Succeeded => ("✓ ", t.ok()),
        PhaseStatus::Failed => ("✗ ", t.danger().add_modifier(bold)),
        PhaseStatus::Cancelled => ("- ", t.warn()),
        PhaseStatus::Interrupted => ("~ ", t.warn().add_modifier(bold)),
    };
    let (name_style, marker) = if phase.destructive {
        (t.danger(), "! ")
    } else {
        (Style::new(), "")
    };
    let mut lines = Vec::new();
    let name = format!("{marker}{}", safe(&phase.name));
    for (i, part) in wrap(&name, width.saturating_sub(2)).into_iter().enumerate() {
        let lead = if i == 0 {
            Span::styled(icon, icon_style)
        } else {
            Span::raw("  ")
        };
        lines.push(Line::from(vec![lead, Span::styled(part, name_style)]));
    }
    let detail = phase_detail(state, p);
    let detail_style = match run.status {
        PhaseStatus::Failed => t.danger(),
        _ => t.muted(),
    };
    for part in wrap(&detail, width.saturating_sub(2)) {
        lines.push(Line::styled(format!("  {part}"), detail_style));
    }
    lines
}

/// The line under a phase: its size and destructiveness before it runs, its clock while it runs, its result after.
fn phase_detail(state: &State, p: usize) -> String {
    let phase = &state.plan.phases[p];
    let run = &state.phases[p];
    let n = phase.steps.len();
    let plural = if n == 1 { "" } else { "s" };
    match run.status {
        PhaseStatus::Pending => {
            let mut text = format!("{n} step{plural}");
            for (on, what) in [
                (phase.destructive, "destructive"),
                (phase.optional, "optional"),
            ] {
                if on {
                    text.push_str(" · ");
                    text.push_str(what);
                }
            }
            text
        }
        PhaseStatus::Running => {
            let step = state.running().map(|id| id.step).unwrap_or(0);
            let clock = run.steps[step]
                .started
                .map(|t| format_clock(state.now.saturating_duration_since(t)))
                .unwrap_or_default();
            format!("step {}/{n} running {clock}", step + 1)
        }
        status => {
            let last = run.steps.iter().rev().find_map(|s| s.outcome.as_ref());
            let what = match (status, last) {
                (PhaseStatus::Failed, Some(o)) => crate::app::outcome_text(o),
                (PhaseStatus::Succeeded, _) => "ok".to_string(),
                _ => format!("{status:?}").to_lowercase(),
            };
            // A phase finished by an earlier run without a recorded duration says only how it ended.
            let text = match run.duration {
                Some(d) => format!("{what} in {}", format_clock(d)),
                None => what,
            };
            if status == PhaseStatus::Succeeded && rolled_back(state, p) {
                format!("{text} · rolled back")
            } else {
                text
            }
        }
    }
}

/// Phase `p` belongs to the deploy (not seeding) and this run's rollback undid the deploy.
fn rolled_back(state: &State, p: usize) -> bool {
    !state.plan.phases[p].seed
        && !state.plan.phases[p].optional
        && release::status(state, Stage::Deploy) == StageStatus::RolledBack
}

/// The release's stages in one line: a mark per stage (✓ passed, ✗ failed, > running, ! overridden,
/// - skipped, o pending); short names when the pane is narrow.
fn strip_line(state: &State, width: usize, t: Theme) -> Line<'static> {
    let stages = release::strip(state);
    let short = width < 60;
    let tiny = width < 36;
    let mut spans = Vec::new();
    for (stage, status) in stages {
        let (mark, style) = stage_mark(status, t);
        let name = if tiny {
            &short_name(stage)[..2]
        } else if short {
            short_name(stage)
        } else {
            stage.name()
        };
        spans.push(Span::styled(format!("{mark}{name} "), style));
    }
    Line::from(spans)
}

fn short_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Preflight => "pre",
        Stage::Backup => "bak",
        Stage::Migrate => "mig",
        Stage::Deploy => "dep",
        Stage::Verify => "ver",
        Stage::Monitor => "mon",
        Stage::SignOff => "sign",
    }
}

fn stage_mark(status: StageStatus, t: Theme) -> (&'static str, Style) {
    let bold = Modifier::BOLD;
    match status {
        StageStatus::Pending => ("o", t.muted()),
        StageStatus::Running => (">", t.warn().add_modifier(bold)),
        StageStatus::Passed => ("✓", t.ok()),
        StageStatus::Failed => ("✗", t.danger().add_modifier(bold)),
        StageStatus::Skipped => ("-", t.muted()),
        StageStatus::Overridden => ("!", t.warn()),
        StageStatus::RolledBack => ("↶", t.warn().add_modifier(bold)),
    }
}

/// A stage's own row: its state and one detail line.
fn stage_lines(state: &State, stage: Stage, width: usize, t: Theme) -> Vec<Line<'static>> {
    let status = release::status(state, stage);
    let (mark, style) = stage_mark(status, t);
    let title = match stage {
        Stage::Migrate => "Migrate",
        Stage::Verify => "Verify",
        Stage::Monitor => "Monitor",
        Stage::SignOff => "Sign-off",
        _ => stage.name(),
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{mark} "), style),
        Span::styled(title, Style::new().add_modifier(Modifier::BOLD)),
    ])];
    let detail = release::detail(state, stage);
    let detail_style = if status == StageStatus::Failed {
        t.danger()
    } else {
        t.muted()
    };
    for part in wrap(&safe(&detail), width.saturating_sub(2)) {
        lines.push(Line::styled(format!("  {part}"), detail_style));
    }
    lines
}

/// Word-wraps `text` to `width` columns (long words are cut), at least one line.
pub(super) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(8);
    let mut out: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        loop {
            let used = line.chars().count();
            let need = word.chars().count() + usize::from(used > 0);
            if used + need <= width {
                if used > 0 {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if used > 0 {
                out.push(std::mem::take(&mut line));
                continue;
            }
            let cut: String = word.chars().take(width).collect();
            word = word.chars().skip(width).collect();
            out.push(cut);
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wraps_on_words_and_cuts_long_words() {
        assert_eq!(
            wrap("Staging verification complete", 14),
            ["Staging", "verification", "complete"]
        );
        assert_eq!(wrap("a bb ccc", 80), ["a bb ccc"]);
        assert_eq!(wrap("abcdefghijklmnop", 8), ["abcdefgh", "ijklmnop"]);
        assert_eq!(wrap("", 10), [""]);
    }
}
