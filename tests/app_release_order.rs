//! The runbook's own stage order (issue 19, must-work 4): `[release] order` puts `deploy` before `migrate`, so a
//! runbook that deploys code and then migrates runs without a typed reason, the gates follow that order (applying
//! before the deploy asks why), the checklist pane lists the stages in it, and a bad order is refused at its
//! `file:line:column`. `update()` with a migration status as the runner reports it.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::ledger::snapshot;
use common::*;
use crossterm::event::KeyCode;
use deckhand::app::release::{self, Stage, StageStatus};
use deckhand::app::{Action, ModalKind, Row};
use deckhand::migrate::status::State as MState;
use deckhand::runner::{RunnerEvent, StepId, StepOutcome};

fn plan(order: &str) -> String {
    format!(
        r#"
[project]
name = "shop"
environment = "staging"

[database]
url = "postgres://app@db.internal:5432/shop"
migrations = "prisma/migrations"

[[phase]]
name = "Deploy"
destructive = true
steps = [{{ run = "./deploy.sh" }}]
{order}"#
    )
}

const DEPLOY_FIRST: &str = r#"
[release]
order = ["preflight", "backup", "deploy", "migrate", "verify", "monitor", "sign-off"]
"#;

fn harness(order: &str) -> Harness {
    let mut h = Harness::new(plan_from(&plan(order)));
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snapshot(&[
        ("20240101_init", MState::Applied),
        ("20240102_orders", MState::Pending),
    ])))));
    h
}

fn modal_kind(h: &Harness) -> Option<ModalKind> {
    h.state.modal.as_ref().map(|m| m.kind.clone())
}

fn run_deploy(h: &mut Harness) -> Option<ModalKind> {
    h.select_phase(0);
    h.key(KeyCode::Enter);
    modal_kind(h)
}

#[test]
fn by_default_deploying_before_migrating_asks_why() {
    let mut h = harness("");
    assert_eq!(
        run_deploy(&mut h),
        Some(ModalKind::StageOverride(
            deckhand::app::Gated::Phase(0),
            Stage::Migrate
        ))
    );
}

#[test]
fn deploy_then_migrate_runs_in_the_runbooks_order_without_a_reason() {
    let mut h = harness(DEPLOY_FIRST);
    // The pane lists the stages in the plan's order: the deploy phase, then Migrate.
    let rows = h.state.rows();
    let deploy = rows.iter().position(|r| *r == Row::Phase(0)).unwrap();
    let migrate = rows
        .iter()
        .position(|r| *r == Row::Stage(Stage::Migrate))
        .unwrap();
    assert!(deploy < migrate, "{rows:?}");
    let strip: Vec<Stage> = release::strip(&h.state).iter().map(|(s, _)| *s).collect();
    assert_eq!(
        strip,
        [
            Stage::Preflight,
            Stage::Backup,
            Stage::Deploy,
            Stage::Migrate,
            Stage::Verify,
            Stage::Monitor,
            Stage::SignOff
        ]
    );
    // Migrating before the deploy is now what asks why.
    h.dried();
    h.key(KeyCode::Char('2'));
    h.key(KeyCode::Char('a'));
    assert_eq!(
        modal_kind(&h),
        Some(ModalKind::StageOverride(
            deckhand::app::Gated::ApplyMigrations,
            Stage::Deploy
        ))
    );
    h.key(KeyCode::Esc);
    h.state.modal = None;
    // The deploy asks only its own confirmation (no stage in its way), runs, and passes.
    h.key(KeyCode::Char('1'));
    assert_eq!(run_deploy(&mut h), Some(ModalKind::RunPhase(0)));
    h.settle();
    h.char('y');
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: StepId { phase: 0, step: 0 },
        outcome: StepOutcome::Exited(0),
        duration: Duration::from_secs(2),
    }));
    assert_eq!(
        release::status(&h.state, Stage::Deploy),
        StageStatus::Passed
    );
    assert_eq!(release::current(&h.state), Some(Stage::Migrate));
    // Then the apply: past the stage order, on to its own gates (the backup: this plan has none to take).
    h.key(KeyCode::Char('2'));
    h.key(KeyCode::Char('a'));
    assert!(
        !matches!(modal_kind(&h), Some(ModalKind::StageOverride(..))),
        "{:?}",
        modal_kind(&h)
    );
}

#[test]
fn a_bad_order_is_refused_at_its_place() {
    let bad = |order: &str| {
        let text = plan(&format!("\n[release]\norder = {order}\n"));
        deckhand::plan::parse(&text, std::path::Path::new("deckhand.toml"), &|_| None)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    let e = bad(r#"["preflight", "backup", "deploy", "migrate", "verfy", "monitor", "sign-off"]"#);
    assert!(
        e.contains("release.order: unknown stage \"verfy\": expected one of preflight, backup"),
        "{e}"
    );
    assert!(e.starts_with("deckhand.toml:"), "{e}");
    let e = bad(r#"["preflight", "backup", "deploy", "deploy", "verify", "monitor", "sign-off"]"#);
    assert!(e.contains("stage \"deploy\" is named twice"), "{e}");
    let e = bad(r#"["preflight", "deploy", "migrate", "verify", "monitor", "sign-off"]"#);
    assert!(e.contains("missing: backup"), "{e}");
    let e = bad(r#"["preflight", "backup", "deploy", "verify", "migrate", "monitor", "sign-off"]"#);
    assert!(
        e.contains("preflight comes first and verify, monitor, sign-off last"),
        "{e}"
    );
}

#[test]
fn the_plans_stage_names_are_the_journals() {
    let journal: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(deckhand::plan::STAGES.to_vec(), journal);
}
