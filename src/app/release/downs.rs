//! The down SQL in the rollback's prompt: for a rollback by down migrations, each migration in the order the
//! rollback reverts it (newest first), its down file and the statements it will run, one row each, cut so that the
//! prompt stays readable at 80x24 (it scrolls; a long file's other statements are counted and read in the
//! migrations pane); a statement the analyzer finds Dangerous is always listed, and says so on its row.

use crate::app::state::State;
use crate::lint::Class;
use crate::migrate::revert::ShownDown;
use crate::runner::downs::DownFile;

/// Characters of one statement shown (its whitespace folded to single spaces); the rest is cut with `…`.
pub const STATEMENT_CHARS: usize = 150;
/// Statements listed per down file; the others are counted.
pub const STATEMENTS_PER_FILE: usize = 8;
/// Statements listed in the whole prompt; the migrations beyond are counted.
pub const STATEMENTS_IN_PROMPT: usize = 32;

/// The prompt's rows (label, text) for the down migrations `names`, in the order given (the order they run).
pub(super) fn down_sql_rows(state: &State, names: &[String]) -> Vec<(String, String)> {
    let Some(snap) = state.db.snapshot() else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    let mut shown = 0;
    for (n, name) in names.iter().enumerate() {
        if shown >= STATEMENTS_IN_PROMPT {
            rows.push((
                String::new(),
                format!(
                    "… and {} more down migration(s): read them in the migrations pane",
                    names.len() - n
                ),
            ));
            break;
        }
        let down = snap
            .migrations
            .iter()
            .position(|m| &m.name == name)
            .and_then(|i| snap.downs.get(i))
            .and_then(Option::as_ref);
        let head = format!("{}/{} {name}", n + 1, names.len());
        let Some(down) = down else {
            rows.push(("Down".into(), format!("{head}: its down file was not read")));
            continue;
        };
        shown += file_rows(down, &head, STATEMENTS_IN_PROMPT - shown, &mut rows);
    }
    rows
}

/// The down files of `names` as the prompt shows them (those it could read): the revert runs only these.
pub(super) fn shown(state: &State, names: &[String]) -> Vec<ShownDown> {
    let Some(snap) = state.db.snapshot() else {
        return Vec::new();
    };
    names
        .iter()
        .filter_map(|name| {
            let i = snap.migrations.iter().position(|m| &m.name == name)?;
            let down = snap.downs.get(i)?.as_ref()?.file.as_ref().ok()?;
            Some(ShownDown::of(name, down))
        })
        .collect()
}

/// One down file's rows: its name and how many statements, then its statements — the first ones (at most `room`,
/// and [`STATEMENTS_PER_FILE`]) and every one the analyzer finds Dangerous; how many were listed.
fn file_rows(down: &DownFile, head: &str, room: usize, rows: &mut Vec<(String, String)>) -> usize {
    let file = match &down.file {
        Ok(f) => f,
        Err(e) => {
            rows.push((
                "Down".into(),
                format!(
                    "{head}: its down file cannot be read ({e}): the rollback will refuse to run"
                ),
            ));
            return 0;
        }
    };
    let count = file.statements.len();
    let mut text = format!("{head} — {}, {count} statement(s)", file.name);
    if let Some(why) = &file.no_transaction {
        text.push_str(&format!(
            "; cannot run in a transaction ({why}): the rollback will refuse to run"
        ));
    }
    rows.push(("Down".into(), text));
    let limit = room.min(STATEMENTS_PER_FILE);
    let width = count.to_string().len();
    let mut listed = 0;
    for (i, st) in file.statements.iter().enumerate() {
        let dangers: Vec<String> = down
            .findings(Class::Dangerous)
            .filter(|f| f.statement_index == i + 1)
            .map(|f| {
                let object = f.object.as_ref().map_or(String::new(), |o| format!(" {o}"));
                format!("  ← DANGEROUS {}{object}", f.rule)
            })
            .collect();
        // A statement that destroys data is listed even past the limit: that is what the operator must see.
        if i >= limit && dangers.is_empty() {
            continue;
        }
        let text = format!("{:>width$} {}", i + 1, folded(&st.sql, STATEMENT_CHARS));
        rows.push((String::new(), text + &dangers.concat()));
        listed += 1;
    }
    if count > listed {
        rows.push((
            String::new(),
            format!(
                "… and {} more statement(s) in {}: read it in the migrations pane",
                count - listed,
                file.name
            ),
        ));
    }
    listed
}

/// `sql` on one line (each run of whitespace one space), at most `max` characters (`…` when cut).
pub fn folded(sql: &str, max: usize) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        return one;
    }
    let mut cut: String = one.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_joins_lines_and_cuts_long_statements() {
        assert_eq!(folded("DROP TABLE\n   orders", 80), "DROP TABLE orders");
        let long = "x ".repeat(200);
        let cut = folded(&long, 20);
        assert_eq!(cut.chars().count(), 20);
        assert!(cut.ends_with('…'));
    }
}
