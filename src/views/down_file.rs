//! A pending migration's way back in the migrations pane: flagged after its name when its down file destroys data
//! or breaks the app, or failed in a rehearsal on a restored copy; in its preview each Dangerous or Breaking
//! finding of the down file, why a rollback could not run it, and what the rehearsal's way back did with it.

use ratatui::text::{Line, Span};

use super::{Theme, safe};
use crate::app::State;
use crate::backup::{Direction, RehearsalStep, WayBack};
use crate::lint::Class;
use crate::runner::migrate::Snapshot;

use super::migrations::class_style;

/// After the name of a pending migration, or of one this run applied: `  down: 1 dangerous` when its down file
/// destroys data or breaks the app; `  way back FAILS` when the last rehearsal's way back failed at it.
pub(super) fn flag(
    state: &State,
    snap: &Snapshot,
    entry: &crate::migrate::status::Entry,
    t: Theme,
) -> Vec<Span<'static>> {
    // The way back that matters now: of what an apply would run, and of what this run applied (a rollback's).
    let matters = entry.state == crate::migrate::status::State::Pending
        || state.release.applied.contains(&entry.name);
    let mut spans: Vec<Span<'static>> = entry
        .local
        .filter(|_| matters)
        .and_then(|i| snap.downs.get(i))
        .and_then(Option::as_ref)
        .into_iter()
        .flat_map(|down| {
            [Class::Dangerous, Class::Breaking]
                .into_iter()
                .filter_map(|class| match down.findings(class).count() {
                    0 => None,
                    n => Some(Span::styled(
                        format!("  down: {n} {}", class.label()),
                        class_style(class, t),
                    )),
                })
                .take(1)
                .collect::<Vec<_>>()
        })
        .collect();
    let failed = rehearsed_steps(state, &entry.name)
        .iter()
        .any(|(_, s)| matches!(s, RehearsalStep::Failed { .. }));
    if failed {
        // First: the line is cut at the pane's edge.
        spans.insert(
            0,
            Span::styled("  way back FAILS", class_style(Class::Dangerous, t)),
        );
    }
    spans
}

/// The steps of the last rehearsal's way back that concern the migration `name`, in order.
fn rehearsed_steps<'a>(state: &'a State, name: &str) -> Vec<(Direction, &'a RehearsalStep)> {
    let Some(WayBack::Rehearsed { down, again }) =
        state.backup.rehearsal.as_ref().map(|r| &r.way_back)
    else {
        return Vec::new();
    };
    let of = |s: &RehearsalStep| match s {
        RehearsalStep::Applied { name, .. }
        | RehearsalStep::Failed { name, .. }
        | RehearsalStep::NotReached { name } => name.clone(),
    };
    down.iter()
        .map(|s| (Direction::Down, s))
        .chain(again.iter().map(|s| (Direction::Again, s)))
        .filter(|(_, s)| of(s) == name)
        .collect()
}

/// What the last rehearsal on a restored copy did on the way back with the migration `name`.
fn rehearsal_lines(state: &State, name: &str, t: Theme) -> Vec<Line<'static>> {
    let no_down = state.backup.rehearsal.as_ref().is_some_and(|r| {
        matches!(&r.way_back, WayBack::NoDownFile { missing } if missing.iter().any(|m| m == name))
    });
    if no_down {
        return vec![Line::styled(
            "way back on a copy: not rehearsed, this migration has no down file",
            t.warn(),
        )];
    }
    let mut lines = Vec::new();
    for (direction, step) in rehearsed_steps(state, name) {
        let text = crate::app::way_back_step_line(direction, step);
        let text = text.strip_prefix(&format!("{name}: ")).unwrap_or(&text);
        let style = match step {
            RehearsalStep::Failed { .. } => t.danger(),
            _ => t.muted(),
        };
        for (i, l) in text.lines().enumerate() {
            let l = if i == 0 {
                format!("way back on a copy: {l}")
            } else {
                format!("  {l}")
            };
            lines.push(Line::styled(safe(&l).into_owned(), style));
        }
    }
    lines
}

/// In the preview of a migration: what its down file risks, before anyone needs it (`down file: DANGEROUS
/// drop-table orders (line 3)`), or why a rollback could not run it; then the last rehearsal's way back with it.
pub(super) fn lines(
    state: &State,
    snap: &Snapshot,
    entry: &crate::migrate::status::Entry,
    t: Theme,
) -> Vec<Line<'static>> {
    let mut lines = file_lines(snap, entry.local, t);
    lines.extend(rehearsal_lines(state, &entry.name, t));
    lines
}

fn file_lines(snap: &Snapshot, local: Option<usize>, t: Theme) -> Vec<Line<'static>> {
    let Some(down) = local
        .and_then(|i| snap.downs.get(i))
        .and_then(Option::as_ref)
    else {
        return Vec::new();
    };
    let file = match &down.file {
        Ok(f) => f,
        Err(e) => {
            let text = format!("down file: cannot be read, a rollback would refuse it: {e}");
            return vec![Line::styled(safe(&text).into_owned(), t.danger())];
        }
    };
    let mut lines = Vec::new();
    if let Some(why) = &file.no_transaction {
        let text = format!(
            "down file: {} cannot run in a transaction ({why}): a rollback would refuse it",
            file.name
        );
        lines.push(Line::styled(safe(&text).into_owned(), t.warn()));
    }
    for class in [Class::Dangerous, Class::Breaking] {
        for f in down.findings(class) {
            let object = f
                .object
                .as_deref()
                .map_or(String::new(), |o| format!(" {o}"));
            let text = format!(
                "down file: {} {}{object} (line {})",
                class.label().to_uppercase(),
                f.rule,
                f.line
            );
            lines.push(Line::styled(
                safe(&text).into_owned(),
                class_style(class, t),
            ));
        }
    }
    if lines.is_empty() {
        let text = format!("down file: {}, no dangerous or breaking finding", file.name);
        lines.push(Line::styled(safe(&text).into_owned(), t.muted()));
    }
    lines
}
