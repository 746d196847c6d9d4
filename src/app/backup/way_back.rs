//! The way back a rehearsal on a restored copy found (apply → down → apply), told as the journal, the notes and the
//! result line tell it: one line per step, a summary, and the journal's typed record.

use crate::backup::{Direction, RehearsalStep, WayBack};
use crate::journal::{WayBackRecord, WayBackResult};
use crate::plan::human_duration;

/// One step of the way back as a line: `2_orders: down ok in 3 ms`, `1_users: applied again in 5 ms`.
pub fn way_back_step_line(direction: Direction, s: &RehearsalStep) -> String {
    let what = match direction {
        Direction::Down => "down",
        Direction::Again => "applied again",
    };
    match (direction, s) {
        (Direction::Down, RehearsalStep::Applied { name, took }) => {
            format!("{name}: {what} ok in {}", human_duration(*took))
        }
        (Direction::Again, RehearsalStep::Applied { name, took }) => {
            format!("{name}: {what} in {}", human_duration(*took))
        }
        (_, RehearsalStep::Failed { name, took, error }) => format!(
            "{name}: {what} FAILED after {}: {error}",
            human_duration(*took)
        ),
        (_, RehearsalStep::NotReached { name }) => format!("{name}: {what} not reached"),
    }
}

/// Why the way back was not rehearsed, or `None` when it was (or was not tried).
fn not_rehearsed(way_back: &WayBack) -> Option<String> {
    let WayBack::NoDownFile { missing } = way_back else {
        return None;
    };
    Some(match missing.as_slice() {
        [one] => format!("way back not rehearsed: {one} has no down file"),
        many => format!(
            "way back not rehearsed: {} pending migrations have no down file ({})",
            many.len(),
            many.join(", ")
        ),
    })
}

/// Every step of the way back as lines (the down files newest first, then the migrations applied again), or why
/// it was not rehearsed; nothing when it was not tried.
pub fn way_back_lines(way_back: &WayBack) -> Vec<String> {
    if let Some(why) = not_rehearsed(way_back) {
        return vec![why];
    }
    let WayBack::Rehearsed { down, again } = way_back else {
        return Vec::new();
    };
    let mut lines: Vec<String> = down
        .iter()
        .map(|s| way_back_step_line(Direction::Down, s))
        .collect();
    lines.extend(
        again
            .iter()
            .map(|s| way_back_step_line(Direction::Again, s)),
    );
    if way_back
        .failure()
        .is_some_and(|(d, _)| d == Direction::Down)
    {
        lines
            .push("applying the migrations again: not attempted after the failed down file".into());
    }
    lines
}

/// The way back in a few words, for the rehearsal's result line: `way back ok: …`, `the way back FAILS at …`,
/// `way back not rehearsed: …`; `None` when it was not tried.
pub fn way_back_summary(way_back: &WayBack) -> Option<String> {
    if let Some(why) = not_rehearsed(way_back) {
        return Some(why);
    }
    if let Some((direction, step)) = way_back.failure() {
        let (name, error) = match step {
            RehearsalStep::Failed { name, error, .. } => (name.as_str(), error.as_str()),
            _ => ("", ""),
        };
        let first = error.lines().next().unwrap_or_default();
        let at = match direction {
            Direction::Down => "its down file",
            Direction::Again => "applying it again after its down file",
        };
        return Some(format!("the way back FAILS at {name} ({at}): {first}"));
    }
    match way_back {
        WayBack::Rehearsed { down, .. } if way_back.passed() => Some(format!(
            "way back ok: {} down file(s) ran newest first, then the migrations applied again",
            down.len()
        )),
        WayBack::Rehearsed { .. } => Some("way back incomplete".into()),
        _ => None,
    }
}

/// The journal's record of the way back; `None` when it was not tried.
pub fn way_back_record(way_back: &WayBack) -> Option<WayBackRecord> {
    let result = match way_back {
        WayBack::NotTried => return None,
        WayBack::NoDownFile { .. } => WayBackResult::NotRehearsed,
        WayBack::Rehearsed { .. } if way_back.passed() => WayBackResult::Passed,
        WayBack::Rehearsed { .. } => WayBackResult::Failed,
    };
    Some(WayBackRecord {
        result,
        steps: way_back_lines(way_back),
    })
}
