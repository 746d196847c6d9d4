//! Risk in the apply flow: the apply confirmation (a summary of the risks first — counts by class, the objects to
//! type — then the limits, the migrations and every finding), the findings journaled with the apply, and the typed
//! name of every object a Dangerous finding destroys where existing data is at stake. A finding the batch itself
//! makes harmless (`lint::batch`: the object is created earlier in the batch, or the table is empty on the live
//! database) is listed with why, and asks no name.

use std::time::Duration;

use crate::app::migrations::start_apply;
use crate::app::out::Out;
use crate::app::prompt::{Expect, Modal, ModalKind};
use crate::app::state::State;
use crate::app::text::database_line;
use crate::lint::{Class, Finding, Spared};
use crate::migrate::status::State as MState;

/// An apply asked for with a status older than this, where a table found empty spares a typed name, reads the
/// status again first.
pub const STATUS_FRESH_FOR: Duration = Duration::from_secs(10);
/// A table found empty longer ago than this, when the apply is confirmed, asks for its name after all: it may have
/// rows by now.
pub const EMPTY_VALID_FOR: Duration = Duration::from_secs(120);

/// How long ago the status shown was read.
fn status_age(state: &State) -> Duration {
    state
        .db
        .read_at
        .map_or(Duration::MAX, |t| state.now.saturating_duration_since(t))
}

/// Whether the status must be read again before an apply: a finding is spared because its table was empty, and
/// that was read more than [`STATUS_FRESH_FOR`] ago.
pub(super) fn needs_fresh_read(state: &State) -> bool {
    status_age(state) > STATUS_FRESH_FOR
        && pending_findings(state)
            .iter()
            .any(|(_, f)| f.spared == Some(Spared::EmptyTable))
}

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
        let mut text = format!("{} {} line {}: {}", f.class.label(), f.rule, f.line, f.why);
        if let Some(spared) = &f.spared {
            text.push_str(&format!(" ({})", spared_text(spared)));
        }
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

/// Why a Dangerous finding asks no typed name.
fn spared_text(spared: &Spared) -> String {
    match spared {
        Spared::CreatedInBatch { migration, line } => {
            format!("no name needed: created earlier in this batch, {migration} line {line}")
        }
        Spared::EmptyTable => "no name needed: the table is empty on the live database".into(),
    }
}

/// Every finding of every migration an apply would run, with the migration's name.
pub(super) fn pending_findings(state: &State) -> Vec<(String, Finding)> {
    pending_each(state, |r| r.findings.clone())
}

/// What `of` takes from the report of each migration an apply would run, in order, with the migration's name.
pub(in crate::app) fn pending_each<T>(
    state: &State,
    of: impl Fn(&crate::lint::FileReport) -> Vec<T>,
) -> Vec<(String, T)> {
    let Some(snap) = state.db.snapshot() else {
        return Vec::new();
    };
    snap.pending_reports()
        .flat_map(|(name, r)| of(r).into_iter().map(move |x| (name.to_string(), x)))
        .collect()
}

/// A Dangerous finding whose object holds data that exists now: its name must be typed. A table found empty too
/// long ago ([`EMPTY_VALID_FOR`]) may hold rows by now.
fn at_stake(state: &State, f: &Finding) -> bool {
    f.class == Class::Dangerous
        && match f.spared {
            None => true,
            Some(Spared::EmptyTable) => status_age(state) > EMPTY_VALID_FOR,
            Some(Spared::CreatedInBatch { .. }) => false,
        }
}

/// The objects that Dangerous findings destroy where existing data is at stake (exempted or not), in order, each
/// once.
pub(in crate::app) fn objects_to_confirm(state: &State) -> Vec<String> {
    let mut objects: Vec<String> = Vec::new();
    for (mig, f) in pending_findings(state) {
        // An exemption in the file decides `deckhand lint`'s exit code; it never spares the operator typing what
        // will be destroyed (anyone who can edit the migration could add one).
        if at_stake(state, &f) {
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
        if at_stake(state, &f) && object_of(&mig, &f) == object {
            m.body.push(("Migration".into(), finding_text(&mig, &f)));
            if f.spared.is_some() {
                let ago = crate::app::text::format_elapsed(status_age(state));
                m.body.push((
                    "Live".into(),
                    format!("empty when the status was read, {ago} ago: it may have rows by now"),
                ));
            }
            m.body.push(("Safer".into(), f.safer.clone()));
            for c in &f.context {
                m.body.push(("Live".into(), c.clone()));
            }
        }
    }
    m.body.push(("Database".into(), database_line(state)));
    state.ask(m, fx);
}

/// The apply confirmation: the summary of the risks first (what the operator must know before anything else,
/// on a screen of any height), then the limits, the migrations and every finding.
pub(in crate::app) fn apply_confirmation(state: &State) -> Modal {
    let mut m = Modal::new(
        ModalKind::ApplyMigrations,
        "Apply migrations",
        crate::app::prompt::destructive_expect(&state.plan),
    );
    m.danger = true;
    m.body
        .push(("Environment".into(), state.plan.project.environment.clone()));
    m.body.push(("Database".into(), database_line(state)));
    let findings = pending_findings(state);
    m.body.extend(summary(state, &findings));
    m.body.extend(super::drift::confirmation_line(state));
    m.body.extend(super::impact::confirmation_lines(state));
    m.body
        .push(("Backup".into(), crate::app::text::backup_line(state)));
    if let Some(reason) = &state.checklist_override {
        m.body
            .push(("Checklist".into(), format!("overridden: {reason}")));
    }
    if let Some(d) = &state.plan.database {
        let statement = d
            .statement_timeout
            .map_or("none".to_string(), crate::plan::human_duration);
        m.body.push((
            "Timeouts".into(),
            format!(
                "lock_timeout {}, statement_timeout {statement}, lock wait {}",
                crate::plan::human_duration(d.lock_timeout),
                crate::plan::human_duration(d.lock_wait)
            ),
        ));
    }
    m.body.extend(migration_lines(state));
    m.body.extend(finding_lines(state, &findings));
    m.body.extend(way_back_lines(state));
    m
}

/// The way back of what this apply runs, where it destroys data: each Dangerous finding of a pending migration's
/// down file (a rollback by down migrations would run it), flagged before anyone needs it.
fn way_back_lines(state: &State) -> Vec<(String, String)> {
    let Some(snap) = state.db.snapshot() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for i in snap.status.pending() {
        let Some(Some(down)) = snap.downs.get(i) else {
            continue;
        };
        for f in down.findings(Class::Dangerous) {
            let object = f.object.as_deref().unwrap_or("(no single object)");
            out.push((
                "WAY BACK".to_string(),
                format!(
                    "{} down file line {}: DANGEROUS {} {object} — a rollback by down migrations runs it",
                    snap.migrations[i].name, f.line, f.rule
                ),
            ));
        }
    }
    out
}

/// `Risks`: how many findings of each class, and how many Dangerous ones need no name; `Names`: the objects to type,
/// one prompt each, after this one.
fn summary(state: &State, findings: &[(String, Finding)]) -> Vec<(String, String)> {
    let count = |class: Class| findings.iter().filter(|(_, f)| f.class == class).count();
    let spared = findings
        .iter()
        .filter(|(_, f)| f.class == Class::Dangerous && !at_stake(state, f))
        .count();
    let exempted = findings.iter().filter(|(_, f)| f.ignored.is_some()).count();
    let objects = objects_to_confirm(state);
    let mut risks = Vec::new();
    let dangerous = count(Class::Dangerous);
    if dangerous > 0 {
        let mut text = format!("{dangerous} dangerous");
        if spared > 0 {
            text.push_str(&format!(" ({spared} lose no existing data)"));
        }
        risks.push(text);
    }
    for (class, label) in [(Class::Breaking, "breaking"), (Class::Locking, "locking")] {
        match count(class) {
            0 => {}
            n => risks.push(format!("{n} {label}")),
        }
    }
    if exempted > 0 {
        risks.push(format!("{exempted} exempted in the files"));
    }
    let risks = if risks.is_empty() {
        "no finding".to_string()
    } else {
        risks.join(", ")
    };
    let names = match objects.len() {
        0 => "none: no existing data is at stake".to_string(),
        n => format!(
            "{n} to type, one prompt each after this one: {}",
            objects.join(", ")
        ),
    };
    vec![("Risks".into(), risks), ("Names".into(), names)]
}

/// `Format`, how many migrations, then each with how it runs.
fn migration_lines(state: &State) -> Vec<(String, String)> {
    let Some(snap) = state.db.snapshot() else {
        return Vec::new();
    };
    let pending = snap.status.pending();
    let outside = pending
        .iter()
        .filter(|&&i| snap.migrations[i].no_transaction.is_some())
        .count();
    let mut count = format!("{} pending", pending.len());
    if outside > 0 {
        count.push_str(&format!(", {outside} of them NOT in a transaction"));
    }
    let mut out = vec![
        ("Format".into(), snap.format.to_string()),
        ("Migrations".into(), count),
    ];
    for i in pending {
        let mig = &snap.migrations[i];
        let mut how = match &mig.no_transaction {
            Some(why) => format!("  (NOT in a transaction: {why})"),
            None => "  (one transaction)".into(),
        };
        if snap
            .status
            .entries
            .iter()
            .any(|e| e.local == Some(i) && e.state == MState::OutOfOrder)
        {
            how.push_str("  OUT OF ORDER: older than the newest applied");
        }
        out.push(("Apply".into(), format!("{}{how}", mig.name)));
    }
    out
}

/// Every Dangerous and Breaking finding, and every exemption: what puts existing data at stake first, then what
/// breaks the running app, then what loses no existing data (with why), then the exemptions.
fn finding_lines(state: &State, findings: &[(String, Finding)]) -> Vec<(String, String)> {
    let mut ranked: Vec<(u8, &'static str, String)> = Vec::new();
    for (mig, f) in findings {
        let line = match (&f.ignored, f.class) {
            (Some(reason), _) => (
                3,
                "Exempted",
                format!("{mig} line {} {}: {reason}", f.line, f.rule),
            ),
            (None, Class::Dangerous) if at_stake(state, f) => {
                (0, "DANGEROUS", finding_text(mig, f))
            }
            (None, Class::Breaking) => (1, "BREAKING", finding_text(mig, f)),
            (None, Class::Dangerous) => {
                let why = f.spared.as_ref().map(spared_text).unwrap_or_default();
                (2, "DANGEROUS", format!("{} — {why}", finding_text(mig, f)))
            }
            _ => continue,
        };
        ranked.push(line);
    }
    ranked.sort_by_key(|(rank, _, _)| *rank);
    ranked
        .into_iter()
        .map(|(_, label, text)| (label.to_string(), text))
        .collect()
}
