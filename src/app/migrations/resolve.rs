//! Resolve in the migrations pane: mark applied (baselining a migration whose changes already exist, or a failed or
//! edited one) and mark rolled back (a failed run, a row whose file is gone), for the selected migration or a range
//! selected in the list — one confirmation for all of them (production: the environment name, once), one
//! transaction, and a journal entry for every migration named.

use super::super::busy::{DbWork, Operation};
use super::super::msg::Effect;
use super::super::prompt::{Modal, ModalKind};
use super::super::state::State;
use super::{end_db_work, refusal};
use crate::app::out::Out;
use crate::journal::Event;
use crate::migrate::status::{Entry, State as MState};
use crate::runner::migrate::{Resolve, ResolveItem, ResolveRequest};

/// Names shown when a selection is refused: the first few, then how many more.
const NAMES_IN_A_REFUSAL: usize = 3;

/// `m` / `b`: asks to resolve every selected entry, if the action applies to each.
pub(in crate::app) fn request(state: &mut State, action: Resolve, fx: &mut Out) {
    if let Some(why) = refusal(state) {
        state.flash = Some(why);
        return;
    }
    let entries: Vec<&Entry> = state
        .db
        .snapshot()
        .map(|s| {
            let range = state.db.selection();
            s.status
                .entries
                .iter()
                .enumerate()
                .filter(|(i, _)| range.contains(i))
                .map(|(_, e)| e)
                .collect()
        })
        .unwrap_or_default();
    if entries.is_empty() {
        state.flash = Some("Select a migration in the migrations pane first.".into());
        return;
    }
    let not: Vec<&&Entry> = entries
        .iter()
        .filter(|e| !action.applies_to(e.state))
        .collect();
    if let [only] = entries.as_slice()
        && !not.is_empty()
    {
        state.flash = Some(format!(
            "{} is {}: nothing to {}.",
            only.name,
            only.state.label(),
            action.label()
        ));
        return;
    }
    if !not.is_empty() {
        let mut names: Vec<String> = not
            .iter()
            .take(NAMES_IN_A_REFUSAL)
            .map(|e| format!("{} ({})", e.name, e.state.label()))
            .collect();
        if not.len() > NAMES_IN_A_REFUSAL {
            names.push(format!("{} more", not.len() - NAMES_IN_A_REFUSAL));
        }
        state.flash = Some(format!(
            "Cannot {} {} of the {} selected: {}. Narrow the selection (Esc ends it).",
            action.label(),
            not.len(),
            entries.len(),
            names.join(", ")
        ));
        return;
    }
    let items: Vec<ResolveItem> = entries
        .iter()
        .map(|e| ResolveItem {
            key: e.key.clone(),
            name: e.name.clone(),
            seen: e.state,
        })
        .collect();
    let modal = confirmation(state, ResolveRequest { action, items });
    state.ask(modal, fx);
}

/// The one confirmation of a resolve: where, what it does to the ledger, then every migration by name.
fn confirmation(state: &State, req: ResolveRequest) -> Modal {
    let (action, n) = (req.action, req.items.len());
    let title = match req.items.as_slice() {
        [one] => format!("Resolve {}: {}", one.name, action.label()),
        _ => format!("Resolve {n} migrations: {}", action.label()),
    };
    let lines: Vec<(String, String)> = effects(&req)
        .into_iter()
        .map(|e| ("Effect".to_string(), e.to_string()))
        .chain(req.items.iter().map(|i| {
            (
                "Migration".to_string(),
                format!("{} (now {})", i.name, i.seen.label()),
            )
        }))
        .collect();
    let mut m = Modal::new(
        ModalKind::ResolveMigration(req),
        title,
        crate::app::prompt::destructive_expect(&state.plan),
    );
    m.danger = true;
    m.body
        .push(("Database".into(), crate::app::text::database_line(state)));
    if let Some(s) = state.db.snapshot() {
        m.body.push(("Format".into(), s.format.to_string()));
    }
    if n > 1 {
        m.body.push((
            "How".into(),
            format!("all {n} in one transaction under the migration lock: all of them, or none"),
        ));
    }
    m.body.extend(lines);
    m
}

/// What the resolve does to the ledger, one line for each kind of entry it touches.
fn effects(req: &ResolveRequest) -> Vec<&'static str> {
    let has = |f: fn(MState) -> bool| req.items.iter().any(|i| f(i.seen));
    let mut out = Vec::new();
    match req.action {
        Resolve::MarkApplied => {
            if has(|s| matches!(s, MState::Pending | MState::OutOfOrder | MState::Failed)) {
                out.push(
                    "recorded as applied with the file's checksum; its SQL is NOT run — only for changes that \
                     already exist in the database (baselining), as prisma migrate resolve --applied",
                );
            }
            if has(|s| s == MState::Edited) {
                out.push(
                    "edited: the ledger takes the checksum of the file as it is now; no SQL is run",
                );
            }
        }
        Resolve::MarkRolledBack => {
            if has(|s| s == MState::Failed) {
                out.push(
                    "the failed run is marked rolled back (Prisma: rolled_back_at; the others: the row is removed); \
                     no SQL is run, and an apply runs the migration again",
                );
            }
            if has(|s| s == MState::MissingLocally) {
                out.push(
                    "the ledger forgets the row whose file is gone (Prisma: rolled_back_at; the others: the row is \
                     removed); no SQL is run",
                );
            }
        }
    }
    out
}

/// Confirmed: the resolve starts, and the range selection ends.
pub(in crate::app) fn start(state: &mut State, req: ResolveRequest, fx: &mut Out) {
    state.op = Some(Operation::Db(DbWork::Resolving));
    state.db.anchor = None;
    state.db.resolving = Some(req.clone());
    fx.push(Effect::ResolveMigration(req));
}

/// The resolve ended: a journal entry for every migration named, with what was done to it (or why nothing was).
pub(in crate::app) fn on_resolved(
    state: &mut State,
    result: Result<Vec<String>, String>,
    fx: &mut Out,
) {
    end_db_work(state);
    state.db.loading = true;
    let Some(req) = state.db.resolving.take() else {
        return;
    };
    let label = req.action.label();
    for (i, item) in req.items.iter().enumerate() {
        let result = match &result {
            Ok(lines) => lines
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("{}: done", item.name)),
            Err(e) => format!("failed, nothing was done: {e}"),
        };
        fx.push(Effect::Journal(Event::MigrationResolved {
            action: label.into(),
            name: item.name.clone(),
            result,
        }));
    }
    let text = match (&result, req.items.len()) {
        (Ok(lines), 1) => lines.first().cloned().unwrap_or_default(),
        (Ok(_), n) => format!("{label}: done for {n} migrations (each journaled)"),
        (Err(e), _) => format!("{label} failed, nothing was done: {e}"),
    };
    state.note(format!("migrations: {text}"));
    state.flash = Some(text);
}
