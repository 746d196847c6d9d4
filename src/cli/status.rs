//! `deckhand status`: the migration status table (or JSON) for a plan's database, with the exit code operators
//! script against: 0 all applied, 3 pending, 1 problems (failed, edited, missing, out of order, invalid index).

use deckhand::migrate::{self, status::State};
use deckhand::plan::Plan;

/// Prints the status; returns the exit code.
pub fn run(plan: &Plan, json: bool) -> u8 {
    let Some(db) = &plan.database else {
        tell!(
            "deckhand: {} has no [database] section",
            plan.path.display()
        );
        return 2;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tell!("deckhand: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let read = super::through_tunnel(db, plan.secrets.masker(), migrate::read_status(db));
    let (target, status) = match runtime.block_on(read) {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            tell!("deckhand: {e}");
            return 1;
        }
        Err(why) => {
            tell!("deckhand: {why}");
            return 1;
        }
    };
    if json {
        match serde_json::to_string_pretty(&status) {
            Ok(text) => say!("{text}"),
            Err(e) => {
                tell!("deckhand: {e}");
                return 1;
            }
        }
    } else {
        print_table(&target, &status);
    }
    status.exit_code() as u8
}

fn print_table(target: &migrate::Target, status: &migrate::status::Status) {
    say!(
        "{} migrations in {} on {}",
        target.format,
        target.dir.display(),
        status.target
    );
    let width = status
        .entries
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(9)
        .max(9);
    say!("{:<width$}  {:<15}  APPLIED AT", "MIGRATION", "STATE");
    for e in &status.entries {
        let when = e.applied_at.as_deref().unwrap_or("");
        say!("{:<width$}  {:<15}  {when}", e.name, e.state.label());
        if let Some(detail) = e.detail.as_deref().filter(|_| e.state.is_problem()) {
            say!("{:<width$}    {}", "", detail.lines().next().unwrap_or(""));
        }
    }
    for index in &status.invalid_indexes {
        say!("! {index}");
        say!("  to drop it: {};", index.drop_statement());
    }
    let mut summary = Vec::new();
    for state in [
        State::Applied,
        State::Pending,
        State::Failed,
        State::Edited,
        State::MissingLocally,
        State::OutOfOrder,
    ] {
        let n = status.count(state);
        if n > 0 {
            summary.push(format!("{n} {}", state.label().to_lowercase()));
        }
    }
    if summary.is_empty() {
        summary.push("no migrations".into());
    }
    say!("{}", summary.join(", "));
}
