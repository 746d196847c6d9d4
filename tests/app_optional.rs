#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]
//! Optional phases (`optional = true`): outside the release. The deploy stage neither waits for them nor fails or
//! runs with them, they are listed after the sign-off row, and a read-only one runs at any time. The bundled demo
//! keeps its long cancellable task that way.

mod common;

use std::time::Duration;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::release::{self, Stage, StageStatus};
use deckhand::app::{Action, PhaseStatus, Row};
use deckhand::runner::{RunnerEvent, StepId, StepOutcome};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Warm the caches"
optional = true
steps = [{ run = "./warm.sh" }]

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]

[[phase]]
name = "Long report"
optional = true
steps = [{ run = "./report.sh" }]
"#;

fn finish(h: &mut Harness, phase: usize, outcome: StepOutcome) {
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: StepId { phase, step: 0 },
        outcome,
        duration: Duration::from_secs(1),
    }));
}

fn deploy_status(h: &Harness) -> StageStatus {
    release::status(&h.state, Stage::Deploy)
}

#[test]
fn optional_phases_are_outside_the_deploy_stage_and_listed_after_the_release() {
    let mut h = Harness::new(plan_from(PLAN));
    assert!(h.state.plan.phases[0].optional && !h.state.plan.phases[1].optional);
    assert_eq!(
        h.state.rows(),
        vec![
            Row::Phase(1),
            Row::Stage(Stage::Verify),
            Row::Stage(Stage::Monitor),
            Row::Stage(Stage::SignOff),
            Row::Phase(0),
            Row::Phase(2),
        ],
        "the optional phases come after the sign-off, in plan order"
    );

    // A read-only optional phase runs at once; while it runs the deploy stage is not running, and its failure is
    // not the deploy's.
    h.select_phase(2);
    let fx = h.key(KeyCode::Enter);
    assert_eq!(starts(&fx), vec![StepId { phase: 2, step: 0 }]);
    assert_eq!(h.state.phases[2].status, PhaseStatus::Running);
    assert_eq!(deploy_status(&h), StageStatus::Pending);
    finish(&mut h, 2, StepOutcome::Exited(1));
    assert_eq!(h.state.phases[2].status, PhaseStatus::Failed);
    assert_eq!(deploy_status(&h), StageStatus::Pending);

    // The deploy phase alone passes the stage; the optional phase that never ran does not hold it back.
    h.select_phase(1);
    h.key(KeyCode::Enter);
    h.settle();
    h.char('y');
    assert_eq!(deploy_status(&h), StageStatus::Running);
    finish(&mut h, 1, StepOutcome::Exited(0));
    assert_eq!(deploy_status(&h), StageStatus::Passed);
    assert_eq!(h.state.phases[0].status, PhaseStatus::Pending);

    // Running the other one after the deploy leaves the stage passed: nothing later has to wait for it.
    h.select_phase(0);
    h.key(KeyCode::Enter);
    assert_eq!(h.state.phases[0].status, PhaseStatus::Running);
    assert_eq!(deploy_status(&h), StageStatus::Passed);
    // (This plan has nothing to verify: the monitor is next.)
    assert_eq!(release::current(&h.state), Some(Stage::Monitor));
}

#[test]
fn the_checklist_pane_heads_the_optional_phases_apart() {
    let h = Harness::new(plan_from(PLAN));
    let (text, _) = h.screen();
    let at = |s: &str| {
        text.find(s)
            .unwrap_or_else(|| panic!("{s:?} not on screen:\n{text}"))
    };
    assert!(at("Phases") < at("Deploy"), "{text}");
    assert!(
        at("Sign-off") < at("Optional (outside the release)"),
        "{text}"
    );
    assert!(
        at("Optional (outside the release)") < at("Warm the caches"),
        "{text}"
    );
    assert!(text.contains("1 step · optional"), "{text}");
}

/// The bundled demo plan as `deckhand demo` runs it.
fn demo_plan() -> deckhand::plan::Plan {
    let env = |name: &str| match name {
        "DECKHAND_DEMO_DIR" => Some("/tmp/demo".to_string()),
        "DECKHAND_DEMO_PORT" => Some("8099".to_string()),
        _ => None,
    };
    let src = std::fs::read_to_string("config/demo.toml").unwrap();
    deckhand::plan::parse(&src, std::path::Path::new("config/demo.toml"), &env).unwrap()
}

#[test]
fn the_demo_keeps_its_long_task_and_faulty_build_out_of_the_release_and_watches_for_a_minute() {
    let plan = demo_plan();
    assert_eq!(plan.monitor.duration, Duration::from_secs(60));
    let in_deploy: Vec<&str> = (plan.phases.iter())
        .filter(|p| p.in_deploy())
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(in_deploy, ["Build the release notes", "Deploy (simulated)"]);
    for p in plan.phases.iter().filter(|p| !p.in_deploy()) {
        assert!(p.optional, "{} is outside the deploy stage", p.name);
    }
    assert!(
        plan.phases.iter().any(|p| p.name.starts_with("Long task")),
        "the cancellable task stays"
    );
    // No phase shares its name with a stage (the demo once had a phase called "Preflight checks").
    for p in &plan.phases {
        for stage in Stage::ALL {
            assert!(
                !p.name.to_lowercase().starts_with(stage.name()) || stage == Stage::Deploy,
                "phase {:?} reads like the {} stage",
                p.name,
                stage.name()
            );
        }
    }
}
