//! Risk in the apply flow: the findings of the migrations an apply would run, listed in its confirmation,
//! journaled with it, and the typed name of every object a Dangerous finding destroys.

use crate::app::migrations::start_apply;
use crate::app::out::Out;
use crate::app::prompt::{Expect, Modal, ModalKind};
use crate::app::state::State;
use crate::app::text::database_line;
use crate::lint::{Class, Finding};

/// For the journal: per pending migration with findings, its findings and its exemptions.
pub(super) fn risks_by_migration(state: &State) -> Vec<(String, Vec<String>, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for (mig, f) in pending_findings(state) {
        if out.last().is_none_or(|(m, _, _)| *m != mig) {
            out.push((mig.clone(), Vec::new(), Vec::new()));
        }
        let Some(entry) = out.last_mut() else {
            continue;
        };
        let text = format!("{} {} line {}: {}", f.class.label(), f.rule, f.line, f.why);
        match &f.ignored {
            Some(reason) => entry
                .2
                .push(format!("{} line {}: {reason}", f.rule, f.line)),
            None => entry.1.push(text),
        }
    }
    out
}

/// What the operator types to confirm a Dangerous finding: the object it destroys, or — when there is no single
/// object (SQL that could not be parsed) — the migration's name.
fn object_of(migration: &str, f: &Finding) -> String {
    f.object.clone().unwrap_or_else(|| migration.to_string())
}

pub(super) fn finding_text(migration: &str, f: &Finding) -> String {
    let first = f.statement.lines().next().unwrap_or("");
    format!("{migration} line {}: {first} — {}", f.line, f.why)
}

/// Every finding of every migration an apply would run, with the migration's name.
pub(super) fn pending_findings(state: &State) -> Vec<(String, Finding)> {
    let Some(snap) = state.db.snapshot() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in snap.status.pending() {
        if let Some(Some(report)) = snap.reports.get(i) {
            let name = &snap.migrations[i].name;
            out.extend(report.findings.iter().map(|f| (name.clone(), f.clone())));
        }
    }
    out
}

/// The objects that Dangerous findings destroy (exempted or not), in order, each once.
pub(in crate::app) fn objects_to_confirm(state: &State) -> Vec<String> {
    let mut objects: Vec<String> = Vec::new();
    for (mig, f) in pending_findings(state) {
        // An exemption in the file decides `deckhand lint`'s exit code; it never spares the operator typing what
        // will be destroyed (anyone who can edit the migration could add one).
        if f.class == Class::Dangerous {
            let object = object_of(&mig, &f);
            if !objects.contains(&object) {
                objects.push(object);
            }
        }
    }
    objects
}

/// After the apply confirmation: the operator types the name of each object a Dangerous finding destroys, one
/// prompt each; the apply starts after the last. `objects` are those still to confirm, the first one next.
pub(in crate::app) fn confirm_destroyed_then_apply(
    state: &mut State,
    objects: Vec<String>,
    fx: &mut Out,
) {
    let Some(object) = objects.first().cloned() else {
        start_apply(state, fx);
        return;
    };
    let mut m = Modal::new(
        ModalKind::ConfirmDestroy(objects),
        format!("Data loss: {object}"),
        Expect::Word(object.clone()),
    );
    m.danger = true;
    for (mig, f) in pending_findings(state) {
        let about = object_of(&mig, &f) == object;
        if f.class == Class::Dangerous && about {
            m.body.push(("Migration".into(), finding_text(&mig, &f)));
            m.body.push(("Safer".into(), f.safer.clone()));
            for c in &f.context {
                m.body.push(("Live".into(), c.clone()));
            }
        }
    }
    m.body.push(("Database".into(), database_line(state)));
    state.ask(m, fx);
}
