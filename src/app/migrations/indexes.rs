//! Invalid indexes in the migrations pane: they block the apply, and `X` offers to drop them one by one with
//! `DROP INDEX CONCURRENTLY` — confirmed (a destructive prompt; production: the environment name), journaled, and
//! followed by a fresh read of the status. deckhand never drops anything without that confirmation.

use super::super::busy::{DbWork, Operation};
use super::super::msg::Effect;
use super::super::prompt::{Modal, ModalKind};
use super::super::state::State;
use super::{end_db_work, refusal};
use crate::app::out::Out;
use crate::journal::Event;
use crate::migrate::index::InvalidIndex;

/// `X`: asks to drop the first invalid index PostgreSQL can drop CONCURRENTLY.
pub(in crate::app) fn request_drop(state: &mut State, fx: &mut Out) {
    if let Some(why) = refusal(state) {
        state.flash = Some(why);
        return;
    }
    let Some(snap) = state.db.snapshot() else {
        state.flash = Some("No migration status yet: press r to read it.".into());
        return;
    };
    let all = &snap.status.invalid_indexes;
    if all.is_empty() {
        state.flash = Some("No invalid index to drop.".into());
        return;
    }
    let Some((n, index)) = all.iter().enumerate().find(|(_, i)| !i.partitioned) else {
        state.flash = Some(format!(
            "{} is on a partitioned table: PostgreSQL cannot drop it CONCURRENTLY. Attach the partitions' \
             indexes (ALTER INDEX … ATTACH PARTITION) or drop it by hand, then press r.",
            all[0].display_name()
        ));
        return;
    };
    let modal = confirmation(state, index.clone(), n + 1, all.len());
    state.ask(modal, fx);
}

fn confirmation(state: &State, index: InvalidIndex, nth: usize, of: usize) -> Modal {
    let mut m = Modal::new(
        ModalKind::DropIndex(index.clone()),
        format!("Drop invalid index {}", index.display_name()),
        crate::app::prompt::destructive_expect(&state.plan),
    );
    m.danger = true;
    m.body
        .push(("Database".into(), crate::app::text::database_line(state)));
    m.body.push((
        "Index".into(),
        format!(
            "{} on {}: INVALID, left by a failed CREATE INDEX CONCURRENTLY; queries ignore it, writes still maintain it",
            index.display_name(),
            index.table
        ),
    ));
    m.body.push(("Runs".into(), index.drop_statement()));
    let wait = state.plan.database.as_ref().map_or(String::new(), |d| {
        format!(
            " (lock_timeout {})",
            crate::plan::human_duration(d.lock_timeout)
        )
    });
    m.body.push((
        "How".into(),
        format!(
            "alone, outside any transaction; it waits for transactions using the table{wait}; reads and writes go \
             on meanwhile"
        ),
    ));
    m.body.push((
        "Then".into(),
        "the status is read again; the migration that built it can run again (if the ledger says it failed, mark \
         it rolled back first: b)"
            .into(),
    ));
    if of > 1 {
        m.body.push((
            "Invalid".into(),
            format!("{nth} of {of} invalid indexes; X again for the next, each confirmed"),
        ));
    }
    m
}

/// Confirmed: the drop starts.
pub(in crate::app) fn start_drop(state: &mut State, index: InvalidIndex, fx: &mut Out) {
    state.op = Some(Operation::Db(DbWork::DroppingIndex));
    state.db.dropping = Some(index.clone());
    fx.push(Effect::DropInvalidIndex(index));
}

/// The drop ended: journaled with the statement, and said; the runner reads the status again.
pub(in crate::app) fn on_dropped(
    state: &mut State,
    index: InvalidIndex,
    result: Result<(), String>,
    fx: &mut Out,
) {
    end_db_work(state);
    state.db.dropping = None;
    state.db.loading = true;
    let text = match &result {
        Ok(()) => format!("dropped invalid index {}", index.display_name()),
        Err(e) => format!("FAILED to drop {}: {e}", index.display_name()),
    };
    fx.push(Effect::Journal(Event::IndexDropped {
        index: index.display_name(),
        table: index.table.clone(),
        statement: index.drop_statement(),
        result: match &result {
            Ok(()) => "dropped".into(),
            Err(e) => format!("failed: {e}"),
        },
    }));
    state.note(format!("migrations: {text}"));
    state.flash = Some(text);
}
