//! `update()` tests for the migrations pane: what an apply is refused for, the checklist gate and confirmation
//! in front of it, journaling of results, a failed apply failing the run, and quitting while migrations run.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::ledger::{migration, snapshot};
use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, DbWork, Effect, ModalKind, Operation, QuitState};
use deckhand::journal::Event;
use deckhand::migrate::apply::Progress;
use deckhand::migrate::error::StatementFailure;
use deckhand::migrate::ledger::LedgerKey;
use deckhand::migrate::lock::{LockWait, Waited};
use deckhand::migrate::status::State as MState;
use deckhand::runner::RunnerEvent;
use deckhand::runner::migrate::{ApplyOutcome, Resolve, ResolveItem, ResolveRequest};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "production"

[[checklist]]
item = "Backup verified"

[database]
url = "postgres://app:hunter2@db.internal:5432/shop"
migrations = "prisma/migrations"

[backup]
dir = "/var/backups/shop"
"#;

fn confirmed(names: &[&str]) -> Vec<deckhand::migrate::apply::Confirmed> {
    names
        .iter()
        .map(|n| deckhand::migrate::apply::Confirmed::of(&migration(n)))
        .collect()
}

fn loaded(states: &[(&str, MState)]) -> Harness {
    let mut h = Harness::new(plan_from(PLAN));
    assert_eq!(
        deckhand::app::init(&h.state),
        vec![Effect::LoadMigrations, Effect::ListBackups]
    );
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snapshot(
        states,
    )))));
    assert_eq!(h.state.op, None);
    assert!(!h.state.db.loading);
    // These tests are about migrations: this run has a verified backup (the gate has its own tests).
    h.act(verified_event(
        &archive("/var/backups/shop/x.dump", "shop", true),
        true,
    ));
    h
}

fn applied(names: &[&str], error: Option<&str>) -> Action {
    Action::Runner(RunnerEvent::MigrationsApplied(ApplyOutcome {
        applied: names
            .iter()
            .map(|n| (n.to_string(), Duration::from_millis(40)))
            .collect(),
        error: error.map(String::from),
        failure: error.map(|e| StatementFailure {
            migration: "m2".into(),
            line: 3,
            column: 5,
            statement_index: 2,
            statement: "ALTER TABLE users ADD COLUMN x int".into(),
            message: e.into(),
            code: Some("55P03".into()),
            blocked: None,
        }),
        stopped: false,
    }))
}

#[test]
fn apply_is_gated_by_the_checklist_then_needs_the_environment_typed() {
    let mut h = loaded(&[("m1", MState::Applied), ("m2", MState::Pending)]);
    h.dried();
    let fx = h.char('a');
    assert!(!fx.iter().any(|e| matches!(e, Effect::ApplyMigrations(_))));
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::ChecklistOverride(_))
    ));
    h.settle();
    h.type_text("db team approved");
    h.key(KeyCode::Enter);
    let modal = h.state.modal.as_ref().expect("apply confirmation");
    assert_eq!(modal.kind, ModalKind::ApplyMigrations);
    let body: Vec<String> = modal
        .body
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    assert!(
        body.contains(&"Database: db.internal:5432/shop".to_string()),
        "{body:?}"
    );
    assert!(body.iter().any(|l| l.starts_with("Apply: m2")), "{body:?}");
    assert!(
        body.iter().any(|l| l.contains("lock_timeout 2 s")),
        "{body:?}"
    );
    assert!(
        !body.iter().any(|l| l.contains("hunter2")),
        "no password in the prompt"
    );
    h.settle();
    assert!(
        !h.char('y')
            .iter()
            .any(|e| matches!(e, Effect::ApplyMigrations(_))),
        "production needs the name typed"
    );
    h.key(KeyCode::Esc);
    // The override holds for the run: the next `a` goes straight to the confirmation.
    h.dried();
    h.char('a');
    assert_eq!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(&ModalKind::ApplyMigrations)
    );
    h.settle();
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    assert!(
        fx.contains(&Effect::ApplyMigrations(confirmed(&["m2"]))),
        "exactly the confirmed list: {fx:?}"
    );
    assert_eq!(h.state.op, Some(Operation::Db(DbWork::Applying)));
    assert!(journal_events(&fx).iter().any(|e| matches!(e, Event::MigrationsApplyStarted { migrations, .. } if migrations == &vec!["m2".to_string()])));
}

#[test]
fn apply_is_refused_while_a_migration_needs_resolving() {
    let mut h = loaded(&[("m1", MState::Failed), ("m2", MState::Pending)]);
    h.dried();
    let fx = h.char('a');
    assert!(fx.is_empty() && h.state.modal.is_none());
    let flash = h.state.flash.clone().unwrap_or_default();
    assert!(
        flash.contains("m1 (FAILED)") && flash.contains("m marks applied"),
        "{flash}"
    );
}

#[test]
fn nothing_pending_means_nothing_to_confirm() {
    let mut h = loaded(&[("m1", MState::Applied)]);
    h.dried();
    assert!(h.char('a').is_empty());
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("Nothing to apply")
    );
}

#[test]
fn results_are_journaled_and_a_failed_apply_fails_the_run() {
    let mut h = loaded(&[("m1", MState::Pending), ("m2", MState::Pending)]);
    h.state.checked[0] = true;
    h.dried();
    h.char('a');
    h.settle();
    h.type_text("production");
    h.key(KeyCode::Enter);
    let fx = h.act(applied(
        &["m1"],
        Some("canceling statement due to lock timeout"),
    ));
    let events = journal_events(&fx);
    assert!(events.contains(&Event::MigrationApplied {
        name: "m1".into(),
        duration_ms: 40
    }));
    assert!(events.iter().any(
        |e| matches!(e, Event::MigrationFailed { name: Some(n), line: Some(3), .. } if n == "m2")
    ));
    assert_eq!(h.state.op, None, "the apply ended");
    assert!(
        h.state.db.loading,
        "the status is read again after an apply"
    );
    assert!(h.state.db.last.as_deref().unwrap_or("").contains("FAILED"));
    assert_eq!(deckhand::app::release::outcome(&h.state).exit_code(), 1);
}

#[test]
fn quitting_while_applying_stops_after_the_migration_in_flight() {
    let mut h = loaded(&[("m1", MState::Pending), ("m2", MState::Pending)]);
    h.state.checked[0] = true;
    h.dried();
    h.char('a');
    h.settle();
    h.type_text("production");
    h.key(KeyCode::Enter);
    let fx = h.char('q');
    assert!(!fx.contains(&Effect::Quit));
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::Quit)
    ));
    h.settle();
    let fx = h.char('y');
    assert!(fx.contains(&Effect::StopMigrations));
    assert!(
        !fx.contains(&Effect::Quit),
        "the migration in flight is never cut off"
    );
    assert_eq!(h.state.quit, QuitState::AfterStep);
    let fx = h.act(applied(&["m1"], None));
    assert!(fx.contains(&Effect::Quit));
}

#[test]
fn a_signal_while_applying_also_waits_for_the_migration_in_flight() {
    let mut h = loaded(&[("m1", MState::Pending)]);
    h.state.checked[0] = true;
    h.dried();
    h.char('a');
    h.settle();
    h.type_text("production");
    h.key(KeyCode::Enter);
    let fx = h.act(Action::Signal(deckhand::app::Signal::Hangup));
    assert!(fx.contains(&Effect::StopMigrations));
    assert!(!fx.contains(&Effect::Quit));
    assert!(h.act(applied(&["m1"], None)).contains(&Effect::Quit));
}

#[test]
fn resolve_asks_and_names_what_it_will_do() {
    let mut h = loaded(&[("m1", MState::Failed), ("m2", MState::Pending)]);
    h.char('2');
    let fx = h.char('b');
    assert!(
        fx.iter()
            .all(|e| !matches!(e, Effect::ResolveMigration { .. }))
    );
    let modal = h.state.modal.as_ref().expect("resolve asks first");
    assert!(modal.body.iter().any(|(_, v)| v.contains("no SQL is run")));
    h.settle();
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    assert!(fx.contains(&Effect::ResolveMigration(ResolveRequest {
        action: Resolve::MarkRolledBack,
        items: vec![ResolveItem {
            key: LedgerKey::Name("m1".into()),
            name: "m1".into(),
            seen: MState::Failed,
        }],
    })));
    let fx = h.act(Action::Runner(RunnerEvent::Resolved(Ok(vec![
        "m1: marked rolled back (1 ledger row(s))".into(),
    ]))));
    assert!(journal_events(&fx).iter().any(|e| matches!(e, Event::MigrationResolved { action, name, .. } if action == "mark rolled back" && name == "m1")));
    // A pending migration has nothing to mark rolled back.
    h.state.db.selected = 1;
    h.char('b');
    assert!(h.state.modal.is_none());
}

#[test]
fn phases_wait_while_migrations_are_applied() {
    let src = format!("{PLAN}\n[[phase]]\nname = \"Smoke\"\nsteps = [{{ run = \"true\" }}]\n");
    let mut h = Harness::new(plan_from(&src));
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snapshot(&[(
        "m1",
        MState::Pending,
    )])))));
    h.act(verified_event(
        &archive("/var/backups/shop/x.dump", "shop", true),
        true,
    ));
    h.state.checked[0] = true;
    h.dried();
    h.char('a');
    h.settle();
    h.type_text("production");
    h.key(KeyCode::Enter);
    h.select_phase(0);
    assert!(starts(&h.key(KeyCode::Enter)).is_empty());
    assert!(
        h.state
            .flash
            .as_deref()
            .unwrap_or("")
            .contains("applying migrations is under way")
    );
}

fn finding(
    class: deckhand::lint::Class,
    rule: &str,
    object: Option<&str>,
    ignored: Option<&str>,
) -> deckhand::lint::Finding {
    deckhand::lint::Finding {
        class,
        rule: rule.into(),
        statement_index: 1,
        line: 2,
        column: 1,
        statement: "DROP TABLE users".into(),
        why: "the table and its rows are gone".into(),
        safer: "rename it first; drop it in a later release".into(),
        object: object.map(String::from),
        tables: vec!["users".into()],
        severity: None,
        context: vec!["users: ~120 rows".into()],
        ignored: ignored.map(String::from),
        spared: None,
    }
}

fn with_findings(findings: Vec<deckhand::lint::Finding>) -> Harness {
    let mut snap = snapshot(&[("m1", MState::Applied), ("m2", MState::Pending)]);
    snap.reports[1] = Some(deckhand::lint::FileReport {
        name: "m2".into(),
        path: "prisma/migrations/m2/migration.sql".into(),
        findings,
        atomicity: deckhand::lint::Atomicity {
            transactional: true,
            on_failure: Vec::new(),
            summary: "one transaction".into(),
        },
        impacts: Vec::new(),
    });
    let mut h = Harness::new(plan_from(PLAN));
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snap))));
    h.act(verified_event(
        &archive("/var/backups/shop/x.dump", "shop", true),
        true,
    ));
    h.state.checked[0] = true;
    h
}

#[test]
fn a_dangerous_finding_must_be_confirmed_by_typing_the_object_name() {
    use deckhand::lint::Class;
    let mut h = with_findings(vec![
        finding(Class::Dangerous, "ban-drop-table", Some("users"), None),
        finding(Class::Breaking, "renaming-column", None, None),
        finding(
            Class::Locking,
            "require-concurrent-index-creation",
            None,
            Some("table has 3 rows"),
        ),
    ]);
    h.dried();
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
    assert!(
        body.iter()
            .any(|l| l.starts_with("DANGEROUS: m2 line 2: DROP TABLE users")),
        "{body:?}"
    );
    assert!(
        body.iter().any(|l| l.starts_with("BREAKING: m2")),
        "{body:?}"
    );
    assert!(
        body.iter().any(|l| l.starts_with(
            "Exempted: m2 line 2 require-concurrent-index-creation: table has 3 rows"
        )),
        "{body:?}"
    );
    h.settle();
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    assert!(
        !fx.iter().any(|e| matches!(e, Effect::ApplyMigrations(_))),
        "not before the object is typed"
    );
    let modal = h.state.modal.as_ref().expect("data-loss prompt");
    assert_eq!(modal.title, "Data loss: users");
    h.settle();
    h.type_text("user");
    let fx = h.key(KeyCode::Enter);
    assert!(h.state.modal.is_none(), "a wrong name cancels");
    assert!(!fx.iter().any(|e| matches!(e, Effect::ApplyMigrations(_))));
    // Again, properly.
    h.dried();
    h.char('a');
    h.settle();
    h.type_text("production");
    h.key(KeyCode::Enter);
    h.settle();
    h.type_text("users");
    let fx = h.key(KeyCode::Enter);
    assert!(fx.contains(&Effect::ApplyMigrations(confirmed(&["m2"]))));
    let risks = journal_events(&fx)
        .into_iter()
        .find_map(|e| match e {
            Event::MigrationRisks {
                migration,
                findings,
                exemptions,
                ..
            } => Some((migration, findings, exemptions)),
            _ => None,
        })
        .expect("risks journaled");
    assert_eq!(risks.0, "m2");
    assert_eq!(risks.1.len(), 2);
    assert_eq!(
        risks.2,
        vec!["require-concurrent-index-creation line 2: table has 3 rows".to_string()]
    );
}

#[test]
fn an_exemption_in_the_file_does_not_spare_the_typed_name() {
    use deckhand::lint::Class;
    let exempted = finding(
        Class::Dangerous,
        "ban-drop-table",
        Some("users"),
        Some("table retired in v41"),
    );
    let mut h = with_findings(vec![exempted]);
    h.dried();
    h.char('a');
    h.settle();
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    assert!(!fx.iter().any(|e| matches!(e, Effect::ApplyMigrations(_))));
    assert_eq!(
        h.state.modal.as_ref().map(|m| m.title.as_str()),
        Some("Data loss: users")
    );
}

#[test]
fn sql_that_could_not_be_parsed_is_confirmed_by_typing_the_migration_name() {
    use deckhand::lint::Class;
    let mut h = with_findings(vec![finding(
        Class::Dangerous,
        "could-not-parse",
        None,
        None,
    )]);
    h.dried();
    h.char('a');
    h.settle();
    h.type_text("production");
    h.key(KeyCode::Enter);
    assert_eq!(
        h.state.modal.as_ref().map(|m| m.title.as_str()),
        Some("Data loss: m2")
    );
    h.settle();
    h.type_text("m2");
    assert!(
        h.key(KeyCode::Enter)
            .contains(&Effect::ApplyMigrations(confirmed(&["m2"])))
    );
}

#[test]
fn an_apply_wants_a_passing_dry_run_or_a_typed_reason() {
    let mut h = loaded(&[("m1", MState::Applied), ("m2", MState::Pending)]);
    h.tick_all();
    // Not tried at all: the prompt asks why.
    let fx = h.char('a');
    assert!(!fx.iter().any(|e| matches!(e, Effect::ApplyMigrations(_))));
    assert_eq!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(&ModalKind::NoRehearsal)
    );
    h.settle();
    h.key(KeyCode::Esc);
    // A dry-run that failed does not count.
    h.act(Action::Runner(deckhand::runner::RunnerEvent::Rehearsed(
        Ok(vec![deckhand::migrate::apply::Rehearsal::NotReached {
            name: "m2".into(),
        }]),
    )));
    h.char('a');
    assert_eq!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(&ModalKind::NoRehearsal)
    );
    h.settle();
    h.type_text("hotfix: the dry-run database is down");
    let fx = h.key(KeyCode::Enter);
    assert!(journal_events(&fx).iter().any(|e| matches!(e,
        Event::StageOverridden { stage, reason, .. }
            if *stage == deckhand::journal::Stage::Migrate
                && reason == "hotfix: the dry-run database is down")));
    assert_eq!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(&ModalKind::ApplyMigrations)
    );
}

#[test]
fn a_passing_dry_run_opens_the_apply_confirmation_directly() {
    let mut h = loaded(&[("m1", MState::Applied), ("m2", MState::Pending)]);
    h.tick_all();
    h.act(Action::Runner(deckhand::runner::RunnerEvent::Rehearsed(
        Ok(vec![deckhand::migrate::apply::Rehearsal::Ok {
            name: "m2".into(),
            took: Duration::from_millis(3),
        }]),
    )));
    h.char('a');
    assert_eq!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(&ModalKind::ApplyMigrations)
    );
}

#[test]
fn an_apply_uses_up_its_rehearsal() {
    let mut h = loaded(&[("m1", MState::Applied), ("m2", MState::Pending)]);
    h.tick_all();
    // Tried on a restored copy of the backup (E), which went through.
    let report = deckhand::backup::RehearsalReport {
        scratch: "deckhand_rehearsal_0a1b2c3d".into(),
        restore_took: Duration::from_secs(2),
        steps: vec![deckhand::backup::RehearsalStep::Applied {
            name: "m2".into(),
            took: Duration::from_millis(30),
        }],
        way_back: deckhand::backup::WayBack::NotTried,
        dropped: true,
        cleanup_error: None,
        took: Duration::from_secs(3),
    };
    h.act(Action::Runner(RunnerEvent::Backup(Box::new(
        deckhand::runner::backup::BackupEvent::Rehearsed {
            archive: archive("/var/backups/shop/x.dump", "shop", true),
            report,
        },
    ))));
    h.char('a');
    assert_eq!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(&ModalKind::ApplyMigrations)
    );
    h.settle();
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    assert!(fx.iter().any(|e| matches!(e, Effect::ApplyMigrations(_))));
    // A migration that appears later was never tried: the next apply asks again.
    h.act(Action::Runner(deckhand::runner::RunnerEvent::Migrations(
        Ok(snapshot(&[
            ("m1", MState::Applied),
            ("m2", MState::Applied),
            ("m3", MState::Pending),
        ])),
    )));
    // The apply ended (its outcome is another test's), and the status was read again.
    h.state.op = None;
    h.state.db.loading = false;
    h.char('a');
    assert_eq!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(&ModalKind::NoRehearsal)
    );
}

fn holder(pid: i64, query: &str) -> deckhand::migrate::error::LockHolder {
    deckhand::migrate::error::LockHolder {
        pid,
        application_name: "psql".into(),
        user: "ops".into(),
        client: "10.0.0.7".into(),
        state: "idle in transaction".into(),
        since: "12:03:04 UTC".into(),
        in_state: Some(Duration::from_millis(42_300)),
        query_start: "12:03:04 UTC".into(),
        query: query.into(),
    }
}

fn waiting(
    lock: Waited,
    waited_ms: u64,
    holders: Vec<deckhand::migrate::error::LockHolder>,
) -> Action {
    Action::Runner(RunnerEvent::MigrationProgress(Progress::Waiting(
        LockWait {
            lock,
            waited: Duration::from_millis(waited_ms),
            holders,
        },
    )))
}

/// Defect (issue 15): while the apply waited for a lock, the pane said only "applying… 0 done". Must work: the
/// pane shows who holds it (pid, application, user@client, state and since when, query start, query: inert),
/// how long deckhand has waited and when it gives up, and what the operator can do — deckhand never ends it.
#[test]
fn while_an_apply_waits_for_a_lock_the_pane_names_the_holder() {
    let mut h = loaded(&[("m1", MState::Applied), ("m2", MState::Pending)]);
    h.state.checked[0] = true;
    h.dried();
    h.char('a');
    h.settle();
    h.type_text("production");
    h.key(KeyCode::Enter);
    assert_eq!(h.state.op, Some(Operation::Db(DbWork::Applying)));
    h.act(waiting(
        Waited::Object {
            what: "a lock on public.users".into(),
        },
        3_210,
        vec![holder(4242, "SELECT count(*) FROM users /* \u{1b}[2J */")],
    ));
    let (wide, _) = h.screen_at(240, 40);
    for part in [
        // The status line (cut at the pane's width).
        "waiting 3.21 s for a lock on public.users, held by pid 4242 psql (ops@10.0.0.7) idle in transaction \
         since 12:03:04 UTC (42.3 s), query started 12:0",
        // The detail area, wrapped: every holder in full.
        "! Waiting 3.21 s for a lock on public.users; gives up after 2 s (lock_timeout)",
        "  held by pid 4242 psql (ops@10.0.0.7) idle in transaction since 12:03:04 UTC (42.3 s), query started \
         12:03:04 UTC: SELECT count(*) FROM users /*",
        "^[[2J */",
        "deckhand goes on by itself once the lock is free",
        "SELECT pg_terminate_backend(4242)",
        "deckhand never ends a session",
    ] {
        assert!(wide.contains(part), "missing {part:?} in:\n{wide}");
    }
    assert!(!wide.contains("applying… 0 done"), "{wide}");
    assert!(!wide.contains('\u{1b}'), "the holder's query is inert");
    // At 80x24 the one-line status is cut, but the detail area wraps: the holder is on screen; the checklist's
    // migrate row says it too.
    let (small, _) = h.screen();
    assert!(small.contains("pid 4242 psql"), "{small}");
    assert!(
        small.contains("applying: waiting for a lock┃") && small.contains("┃  held by pid 4242 "),
        "{small}"
    );
    // The wait is over: back to the progress line.
    h.act(Action::Runner(RunnerEvent::MigrationProgress(
        Progress::Unblocked,
    )));
    let (wide, _) = h.screen_at(240, 40);
    assert!(!wide.contains("Waiting"), "{wide}");
    assert!(wide.contains("applying… 0 done"), "{wide}");
    // Another migration holds the migration lock, and who it is cannot be seen.
    h.act(waiting(
        Waited::Migration { key: 72707369 },
        65_000,
        Vec::new(),
    ));
    let (wide, _) = h.screen_at(240, 40);
    for part in [
        "waiting 1 min 05 s for the migration lock (advisory lock 72707369); who holds it cannot be seen",
        "gives up after 10 s (lock wait)",
    ] {
        assert!(wide.contains(part), "missing {part:?} in:\n{wide}");
    }
    // The apply ends in a lock timeout: nothing is shown as waiting any more; the failure, every line of it, is.
    let failure = "m2 failed at line 1, column 1 (statement 1): canceling statement due to lock timeout \
                   [SQLSTATE 55P03]\n  ALTER TABLE users ADD COLUMN x int\n  it waited for a lock on users, held by \
                   pid 4242 psql (ops@10.0.0.7)\n  what to do: wait for it to finish, then apply again; or end it \
                   yourself with SELECT pg_terminate_backend(4242) if you are sure — deckhand never ends a session";
    h.act(applied(&[], Some(failure)));
    assert_eq!(h.state.db.waiting, None);
    let (wide, _) = h.screen_at(240, 40);
    assert!(!wide.contains("Waiting"), "{wide}");
    for part in [
        "then FAILED: m2 failed at line 1, column 1 (statement 1): canceling statement due to lock timeout",
        "  it waited for a lock on users, held by pid 4242 psql (ops@10.0.0.7)",
        "  what to do: wait for it to finish, then apply again;",
    ] {
        assert!(wide.contains(part), "missing {part:?} in:\n{wide}");
    }
}
