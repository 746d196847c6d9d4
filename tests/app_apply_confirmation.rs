//! The apply confirmation of a long history (issue 15, defect 7): at 80x24 it leads with the summary of its
//! risks, scrolls with PgUp/PgDn and the arrows (and j/k in a `y` prompt) without answering, and always shows the
//! line that says what to type; a Dangerous finding that loses no existing data is listed with why and asks no
//! typed name — a table found empty only while that reading is recent (an old status is read again before the
//! prompt). `update()`, with the view's fit fed back as the console does.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::ledger::snapshot;
use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, ModalKind};
use deckhand::lint::{Atomicity, Class, FileReport, Finding, Spared};
use deckhand::migrate::status::State as MState;
use deckhand::runner::RunnerEvent;
use ratatui::layout::Rect;

fn plan(environment: &str) -> String {
    format!(
        r#"
[project]
name = "shop"
environment = "{environment}"

[database]
url = "postgres://app@db.internal:5432/shop"
migrations = "prisma/migrations"

[backup]
dir = "/var/backups/shop"
"#
    )
}

fn finding(line: usize, object: &str, spared: Option<Spared>) -> Finding {
    Finding {
        class: Class::Dangerous,
        rule: "ban-drop-table".into(),
        statement_index: 1,
        line,
        column: 1,
        statement: format!("DROP TABLE \"{object}\";"),
        why: "DROP TABLE deletes the table and every row in it".into(),
        safer: "drop it in a later release".into(),
        object: Some(object.into()),
        tables: vec![object.into()],
        severity: None,
        context: Vec::new(),
        ignored: None,
        spared,
    }
}

/// 200 pending migrations; each from the 100th on drops a table, all created earlier in the batch but `Ledger`
/// (in the last one), whose rows exist now.
fn long_history(environment: &str) -> Harness {
    let names: Vec<String> = (1..=200).map(|i| format!("2024{i:04}_step_{i}")).collect();
    let states: Vec<(&str, MState)> = names
        .iter()
        .map(|n| (n.as_str(), MState::Pending))
        .collect();
    let mut snap = snapshot(&states);
    for i in 100..200 {
        let created = Spared::CreatedInBatch {
            migration: names[i - 99].clone(),
            line: 1,
        };
        let mut findings = vec![finding(1, &format!("T{i}"), Some(created))];
        if i == 199 {
            findings.push(finding(2, "Ledger", None));
        }
        snap.reports[i] = Some(FileReport {
            name: names[i].clone(),
            path: format!("prisma/migrations/{}/migration.sql", names[i]),
            findings,
            atomicity: Atomicity {
                transactional: true,
                on_failure: Vec::new(),
                summary: "one transaction".into(),
            },
            impacts: Vec::new(),
        });
    }
    let mut h = Harness::new(plan_from(&plan(environment)));
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snap))));
    h.act(verified_event(
        &archive("/var/backups/shop/x.dump", "shop", true),
        true,
    ));
    h.dried();
    h
}

/// Draws the console at 80x24 after feeding the modal's fit back, as the event loop does after each frame.
fn draw(h: &mut Harness) -> String {
    if let Some(fit) = deckhand::views::modal_fit(&h.state, Rect::new(0, 0, 80, 24)) {
        h.act(Action::ModalFit(fit));
    }
    h.screen().0
}

/// The status bar's hints for the layer in force.
fn hint(h: &Harness) -> String {
    deckhand::app::hints(&h.state)
        .iter()
        .map(|(k, w)| format!("{k} {w}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn applies(fx: &[Effect]) -> bool {
    fx.iter().any(|e| matches!(e, Effect::ApplyMigrations(_)))
}

fn modal_kind(h: &Harness) -> Option<ModalKind> {
    h.state.modal.as_ref().map(|m| m.kind.clone())
}

#[test]
fn a_200_line_confirmation_at_80x24_scrolls_and_always_shows_what_to_type() {
    let mut h = long_history("production");
    h.char('a');
    assert_eq!(modal_kind(&h), Some(ModalKind::ApplyMigrations));
    h.settle();
    let first = draw(&mut h);
    // The summary of the risks leads; the answer's line is on screen.
    assert!(first.contains("Risks"), "{first}");
    assert!(
        first.contains("101 dangerous (100 lose no existing data)"),
        "{first}"
    );
    assert!(first.contains("Names"), "{first}");
    assert!(first.contains("Ledger"), "{first}");
    assert!(first.contains("Type production and press Enter"), "{first}");
    assert!(first.contains("more line(s) below"), "{first}");
    assert!(!first.contains("more line(s) above"), "{first}");
    let fit = h.state.modal.as_ref().unwrap().fit.expect("the view's fit");
    assert!(
        fit.max_scroll > 200,
        "200 migrations and 101 findings: {fit:?}"
    );
    assert!(
        hint(&h).contains("Up/Down PgUp/PgDn scroll"),
        "scroll keys hinted: {}",
        hint(&h)
    );

    // Typing and scrolling interleave: the arrows and PgUp/PgDn scroll, letters (j and k too) are typed.
    h.type_text("prodjk");
    assert_eq!(
        h.state.modal.as_ref().unwrap().scroll,
        0,
        "j and k are typed"
    );
    assert_eq!(h.state.modal.as_ref().unwrap().input, "prodjk");
    h.key(KeyCode::Backspace);
    h.key(KeyCode::Backspace);
    h.key(KeyCode::PageDown);
    h.key(KeyCode::PageDown);
    let paged = draw(&mut h);
    assert!(paged.contains("more line(s) above"), "{paged}");
    assert!(paged.contains("> prod_"), "{paged}");
    assert!(paged.contains("Type production and press Enter"), "{paged}");
    assert_ne!(paged, first);
    let before = h.state.modal.as_ref().unwrap().scroll;
    assert_eq!(before, 2 * (fit.page - 1));
    h.key(KeyCode::Down);
    assert_eq!(h.state.modal.as_ref().unwrap().scroll, before + 1);
    h.key(KeyCode::Up);
    h.key(KeyCode::Up);
    assert_eq!(h.state.modal.as_ref().unwrap().scroll, before - 1);
    // To the end and past it: never beyond the last page, and the last finding shows.
    h.key(KeyCode::End);
    h.key(KeyCode::PageDown);
    assert_eq!(h.state.modal.as_ref().unwrap().scroll, fit.max_scroll);
    let end = draw(&mut h);
    assert!(!end.contains("more line(s) below"), "{end}");
    assert!(
        end.contains("lose no existing data") || end.contains("no name needed"),
        "{end}"
    );
    assert!(end.contains("> prod_"), "{end}");
    h.key(KeyCode::Home);
    assert_eq!(h.state.modal.as_ref().unwrap().scroll, 0);
    h.type_text("uction");
    assert_eq!(h.state.modal.as_ref().unwrap().input, "production");
    let fx = h.key(KeyCode::Enter);
    assert!(!applies(&fx), "Ledger's rows exist: its name comes first");
    // One name to type, for the one table whose data is at stake; the 100 created in the batch ask none.
    assert_eq!(
        modal_kind(&h),
        Some(ModalKind::ConfirmDestroy(vec!["Ledger".into()]))
    );
    h.settle();
    h.type_text("Ledger");
    assert!(applies(&h.key(KeyCode::Enter)));
    assert!(h.state.modal.is_none());
}

#[test]
fn in_a_y_prompt_j_and_k_scroll_and_other_keys_still_cancel() {
    let mut h = long_history("staging");
    h.char('a');
    h.settle();
    let first = draw(&mut h);
    assert!(first.contains("Press y to confirm"), "{first}");
    for key in [
        KeyCode::Char('j'),
        KeyCode::Char('j'),
        KeyCode::Char('k'),
        KeyCode::Down,
        KeyCode::PageDown,
        KeyCode::PageUp,
        KeyCode::End,
        KeyCode::Home,
        KeyCode::Char('j'),
    ] {
        let fx = h.key(key);
        assert!(!applies(&fx) && h.state.modal.is_some(), "{key:?} answered");
    }
    assert_eq!(h.state.modal.as_ref().unwrap().scroll, 1);
    let scrolled = draw(&mut h);
    assert!(scrolled.contains("Press y to confirm"), "{scrolled}");
    assert!(scrolled.contains("more line(s) above"), "{scrolled}");
    assert!(hint(&h).contains("j/k PgUp/PgDn scroll"), "{}", hint(&h));
    // Any other key still declines, as before.
    h.char('n');
    assert!(h.state.modal.is_none());
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .starts_with("Cancelled: Apply migrations"),
        "{:?}",
        h.state.flash
    );
}

#[test]
fn scroll_keys_count_before_the_guard_and_answer_nothing_then() {
    let mut h = long_history("staging");
    h.char('a');
    // Drawn, but the guard has not passed: reading is what the guard is for.
    h.act(Action::ModalShown);
    draw(&mut h);
    h.key(KeyCode::Char('j'));
    h.key(KeyCode::PageDown);
    let m = h.state.modal.as_ref().unwrap();
    assert!(m.scroll > 1, "scrolled: {}", m.scroll);
    assert_eq!(m.note, None, "no 'too soon' note for a scroll key");
    // An answer that early is still ignored.
    let fx = h.char('y');
    assert!(!applies(&fx));
    assert!(h.state.modal.is_some());
}

#[test]
fn a_confirmation_that_fits_does_not_scroll_and_shows_no_scroll_hint() {
    let mut h = long_history("staging");
    h.char('a');
    h.settle();
    draw(&mut h);
    h.state.modal.as_mut().unwrap().body.truncate(3);
    let text = draw(&mut h);
    assert_eq!(h.state.modal.as_ref().unwrap().fit.unwrap().max_scroll, 0);
    assert!(!text.contains("more line(s)"), "{text}");
    h.key(KeyCode::PageDown);
    assert_eq!(h.state.modal.as_ref().unwrap().scroll, 0);
    assert!(!hint(&h).contains("PgUp"), "{}", hint(&h));
}

#[test]
fn findings_that_lose_no_existing_data_are_listed_with_why_and_journaled() {
    let mut h = long_history("staging");
    h.char('a');
    let body: Vec<String> = h
        .state
        .modal
        .as_ref()
        .unwrap()
        .body
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let at = |prefix: &str| body.iter().position(|l| l.starts_with(prefix));
    // The summary first, then the limits, the migrations, the findings: what is at stake before what is not.
    assert_eq!(at("Environment"), Some(0));
    assert!(
        at("Risks") < at("Backup") && at("Backup") < at("Apply"),
        "{body:?}"
    );
    let ledger = at("DANGEROUS: 20240200_step_200 line 2: DROP TABLE \"Ledger\"").expect("Ledger");
    let spared = body
        .iter()
        .position(|l| {
            l.contains("DROP TABLE \"T100\"")
                && l.ends_with(
                    "no name needed: created earlier in this batch, 20240002_step_2 line 1",
                )
        })
        .expect("T100 listed with why it needs no name");
    assert!(ledger < spared, "{body:?}");
    assert_eq!(
        body.iter().filter(|l| l.contains("no name needed")).count(),
        100
    );
    h.settle();
    let fx = h.char('y');
    assert!(!applies(&fx));
    h.settle();
    h.type_text("Ledger");
    let fx = h.key(KeyCode::Enter);
    assert!(applies(&fx));
    let risks: Vec<String> = journal_events(&fx)
        .into_iter()
        .filter_map(|e| match e {
            deckhand::journal::Event::MigrationRisks { findings, .. } => Some(findings),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(risks.len(), 101);
    assert!(
        risks
            .iter()
            .any(|r| r.contains("(no name needed: created earlier in this batch")),
        "{risks:?}"
    );
}

/// One pending migration dropping `Scratch`, a table the live database showed empty when the status was read.
fn empty_table_drop() -> Harness {
    let mut snap = snapshot(&[("m1", MState::Applied), ("m2", MState::Pending)]);
    snap.reports[1] = Some(FileReport {
        name: "m2".into(),
        path: "prisma/migrations/m2/migration.sql".into(),
        findings: vec![finding(1, "Scratch", Some(Spared::EmptyTable))],
        atomicity: Atomicity {
            transactional: true,
            on_failure: Vec::new(),
            summary: "one transaction".into(),
        },
        impacts: Vec::new(),
    });
    let mut h = Harness::new(plan_from(&plan("production")));
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snap.clone()))));
    h.act(verified_event(
        &archive("/var/backups/shop/x.dump", "shop", true),
        true,
    ));
    h.dried();
    h
}

#[test]
fn a_table_found_empty_asks_no_name_when_read_just_before_the_prompt() {
    let mut h = empty_table_drop();
    h.char('a');
    let body = &h.state.modal.as_ref().expect("the confirmation").body;
    assert!(
        body.iter().any(|(k, v)| k == "DANGEROUS"
            && v.ends_with("no name needed: the table is empty on the live database")),
        "{body:?}"
    );
    h.settle();
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    assert!(applies(&fx), "no name asked for an empty table");
}

#[test]
fn an_old_status_is_read_again_before_the_prompt_and_an_old_emptiness_asks_the_name() {
    let mut h = empty_table_drop();
    // The backup and the dry-run took a while: what was empty then is read again first.
    h.wait(std::time::Duration::from_secs(60));
    let fx = h.char('a');
    assert_eq!(fx, vec![Effect::LoadMigrations]);
    assert!(h.state.modal.is_none());
    assert!(h.state.db.loading);
    let again = h.state.db.snapshot().cloned().unwrap();
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(again))));
    assert_eq!(modal_kind(&h), Some(ModalKind::ApplyMigrations));
    // The operator reads it for three minutes: by then the table may have rows, and its name is asked after all.
    h.settle();
    h.wait(std::time::Duration::from_secs(180));
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    assert!(!applies(&fx));
    assert_eq!(
        modal_kind(&h),
        Some(ModalKind::ConfirmDestroy(vec!["Scratch".into()]))
    );
    let body = &h.state.modal.as_ref().unwrap().body;
    assert!(
        body.iter()
            .any(|(k, v)| k == "Live" && v.contains("empty when the status was read, 3m ago")),
        "{body:?}"
    );
    h.settle();
    h.type_text("Scratch");
    assert!(applies(&h.key(KeyCode::Enter)));
}

#[test]
fn a_failed_read_again_does_not_open_the_prompt() {
    let mut h = empty_table_drop();
    h.wait(std::time::Duration::from_secs(60));
    h.char('a');
    h.act(Action::Runner(RunnerEvent::Migrations(Err(
        "connection refused".into(),
    ))));
    assert!(h.state.modal.is_none());
    assert!(!h.state.db.apply_after_read);
}
