//! A statement that will fail on the live data gates the apply (issue 18): the status read from a real PostgreSQL
//! (NULLs under a new NOT NULL) reaches the console through `update()`; `a` then asks why to apply anyway before
//! the confirmation, the reason is journaled with what will fail, the confirmation lists it, the apply's journal
//! carries every figure, and the same statements ask nothing again. The preview shows it at 80x24.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::migrations as m;
use common::pg::fresh_db;
use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, ModalKind};
use deckhand::journal::{Blocker, Event};
use deckhand::runner::RunnerEvent;
use sqlx::AssertSqlSafe;

fn plan(url: &str, dir: &std::path::Path) -> String {
    format!(
        r#"
[project]
name = "shop"
environment = "staging"

[database]
url = "{url}"
migrations = "{}"
format = "sqlx"

[backup]
dir = "/var/backups/shop"
"#,
        dir.display()
    )
}

fn modal_kind(h: &Harness) -> Option<ModalKind> {
    h.state.modal.as_ref().map(|m| m.kind.clone())
}

#[tokio::test]
async fn a_not_null_that_will_fail_gates_the_apply_with_a_typed_reason() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(
        dir.path(),
        &[(
            "0_users",
            "CREATE TABLE users (id int PRIMARY KEY, email text);\n",
        )],
    );
    m::apply_all(&m::database(&tdb.url, dir.path(), "sqlx")).await;
    let mut conn = tdb.connect().await;
    sqlx::raw_sql(AssertSqlSafe(
        "INSERT INTO users VALUES (1, 'a@x.io'), (2, NULL), (3, NULL);",
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    m::sqlx(
        dir.path(),
        &[(
            "1_email_required",
            "-- every user has an email now\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
        )],
    );
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    // The runner reads the status (with the data impact), then compares the schema (no drift here).
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    deckhand::runner::migrate::load(spec.clone(), tx).await;
    let status = rx.recv().await.expect("the status");
    let drift = rx.recv().await.expect("the comparison");
    assert!(
        matches!(&drift, RunnerEvent::Drift(Ok(r)) if !r.has_drift()),
        "{drift:?}"
    );

    let mut h = Harness::new(plan_from(&plan(&tdb.url, dir.path())));
    h.auto_drift = false;
    h.act(Action::Runner(status));
    h.act(Action::Runner(drift));
    h.act(verified_event(
        &archive("/var/backups/shop/x.dump", "shop", true),
        true,
    ));
    h.dried();

    // The preview says it before anyone asks: the list and the selected migration's detail.
    h.char('2');
    let (screen, _) = h.screen();
    assert!(screen.contains("1 will fail"), "{screen}");
    // Wrapped, not cut, at 80x24.
    assert!(
        screen.contains("✗ WILL FAIL line 2: will fail: 2 NULLs in"),
        "{screen}"
    );
    assert!(screen.contains("users.email (exact count)"), "{screen}");

    // `a`: the data gate comes first, and asks for a reason.
    h.char('a');
    let expected = "1_email_required line 2: will fail: 2 NULLs in users.email (exact count)";
    assert_eq!(
        modal_kind(&h),
        Some(ModalKind::WillFail(vec![expected.to_string()]))
    );
    let body = &h.state.modal.as_ref().unwrap().body;
    assert!(
        body.iter().any(|(k, v)| k == "WILL FAIL" && v == expected),
        "{body:?}"
    );
    // Esc: nothing happens.
    h.settle();
    h.key(KeyCode::Esc);
    assert_eq!(modal_kind(&h), None);

    h.char('a');
    h.settle();
    h.type_text("backfill runs first in the deploy script");
    let fx = h.key(KeyCode::Enter);
    let events = journal_events(&fx);
    assert!(
        events.iter().any(|e| matches!(e,
            Event::StageOverridden { reason, blockers, detail, .. }
                if reason == "backfill runs first in the deploy script"
                && blockers == &vec![Blocker::WillFail]
                && detail == expected)),
        "{events:#?}"
    );
    // Then the confirmation, which lists it.
    assert_eq!(modal_kind(&h), Some(ModalKind::ApplyMigrations));
    // Declined, then asked again: the reason given covers the same statements, no second data prompt.
    h.settle();
    h.key(KeyCode::Esc);
    h.char('a');
    assert!(h.state.db.will_fail_override.is_some());
    assert_eq!(modal_kind(&h), Some(ModalKind::ApplyMigrations));
    let body = &h.state.modal.as_ref().unwrap().body;
    assert!(
        body.iter()
            .any(|(k, v)| k == "Data" && v == "1 will fail (counted on the live database)"),
        "{body:?}"
    );
    assert!(
        body.iter().any(|(k, v)| k == "WILL FAIL" && v == expected),
        "{body:?}"
    );
    h.settle();
    let fx = h.char('y');
    assert!(
        fx.iter().any(|e| matches!(e, Effect::ApplyMigrations(_))),
        "{fx:?}"
    );
    let events = journal_events(&fx);
    assert!(
        events.iter().any(|e| matches!(e,
            Event::MigrationRisks { migration, data, .. }
                if migration == "1_email_required"
                && data == &vec!["line 2: will fail: 2 NULLs in users.email (exact count)".to_string()])),
        "{events:#?}"
    );
}

#[tokio::test]
async fn drift_from_the_history_is_shown_and_gates_the_apply_with_a_typed_reason() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(
        dir.path(),
        &[(
            "1_users",
            "CREATE TABLE users (id int PRIMARY KEY, email text);\n",
        )],
    );
    let spec = m::database(&tdb.url, dir.path(), "sqlx");
    m::apply_all(&spec).await;
    // By hand, outside any migration; then a pending migration written against the history.
    let mut conn = tdb.connect().await;
    sqlx::raw_sql("ALTER TABLE users ADD COLUMN nickname text")
        .execute(&mut conn)
        .await
        .unwrap();
    m::sqlx(
        dir.path(),
        &[("2_index", "CREATE INDEX users_email ON users (email);\n")],
    );
    // The runner reads the status, then compares the schema: two events, in that order.
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    deckhand::runner::migrate::load(spec.clone(), tx).await;
    let status = rx.recv().await.expect("the status");
    let drift = rx.recv().await.expect("the comparison");
    assert!(
        matches!(status, RunnerEvent::Migrations(Ok(_))),
        "{status:?}"
    );

    let mut h = Harness::new(plan_from(&plan(&tdb.url, dir.path())));
    h.auto_drift = false;
    h.act(Action::Runner(status));
    h.act(verified_event(
        &archive("/var/backups/shop/x.dump", "shop", true),
        true,
    ));
    h.dried();
    // Asked while the comparison runs: the apply waits for it, then goes on through the gates.
    h.char('a');
    assert_eq!(modal_kind(&h), None);
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("Still comparing")
    );
    h.act(Action::Runner(drift));
    let expected = "column users.nickname: not in the history (added by hand?)";
    assert_eq!(
        modal_kind(&h),
        Some(ModalKind::Drift(vec![expected.to_string()]))
    );
    let (screen, _) = h.screen();
    assert!(screen.contains("DRIFT"), "{screen}");
    h.settle();
    h.type_text("nickname is the hotfix from incident 4411");
    let fx = h.key(KeyCode::Enter);
    assert!(
        journal_events(&fx).iter().any(|e| matches!(e,
            Event::StageOverridden { blockers, detail, .. }
                if blockers == &vec![Blocker::Drift] && detail == expected)),
        "{fx:?}"
    );
    assert_eq!(modal_kind(&h), Some(ModalKind::ApplyMigrations));
    let body = &h.state.modal.as_ref().unwrap().body;
    assert!(
        body.iter().any(|(k, v)| k == "Drift"
            && v == "1 difference(s), applying anyway: nickname is the hotfix from incident 4411"),
        "{body:?}"
    );
    // Esc, then again: the same difference does not ask twice.
    h.settle();
    h.key(KeyCode::Esc);
    h.char('a');
    assert_eq!(modal_kind(&h), Some(ModalKind::ApplyMigrations));
}

#[test]
fn a_resumed_run_keeps_the_reasons_given_for_will_fail_and_drift() {
    let mut h = Harness::staging();
    let events = vec![
        Event::StageOverridden {
            stage: deckhand::journal::Stage::Migrate,
            reason: "backfill runs first".into(),
            blockers: vec![Blocker::WillFail],
            detail: "1_a line 2: will fail: 2 NULLs in users.email (exact count)\n1_a line 3: will fail: 1 NULL in users.name (exact count)".into(),
        },
        Event::StageOverridden {
            stage: deckhand::journal::Stage::Migrate,
            reason: "hotfix 4411".into(),
            blockers: vec![Blocker::Drift],
            detail: "column users.nickname: not in the history (added by hand?)".into(),
        },
    ];
    deckhand::app::restore(&mut h.state, "RUN", &events);
    let (reason, lines) = h.state.db.will_fail_override.clone().expect("restored");
    assert_eq!(reason, "backfill runs first");
    assert_eq!(lines.len(), 2);
    assert_eq!(
        h.state.db.drift_override,
        Some((
            "hotfix 4411".to_string(),
            vec!["column users.nickname: not in the history (added by hand?)".to_string()]
        ))
    );
    // Neither is a whole stage passed over.
    assert!(h.state.release.overrides.is_empty());
}
