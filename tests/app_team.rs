//! `update()` tests for the team's release lock as the console sees it: lost or taken, it is in the header at
//! 80x24 and journaled; a destructive phase and a restore then ask why before anything else, the reason is
//! journaled and stands until the lock is held again; a rollback goes on with its own reason journaled.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, ModalKind};
use deckhand::journal::Event;
use deckhand::runner::RunnerEvent;
use deckhand::team::lock::{Holder, LockState};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]

[team]
database = "postgres://deckhand@team.internal/deckhand"
"#;

fn lock(h: &mut Harness, s: LockState) -> Vec<Effect> {
    h.act(Action::Runner(RunnerEvent::TeamLock(s)))
}

fn journaled(fx: &[Effect]) -> Vec<Event> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Journal(ev @ (Event::TeamLock { .. } | Event::TeamLockOverridden { .. })) => {
                Some(ev.clone())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_lost_lock_holds_back_destructive_work_until_someone_says_why() {
    let mut h = Harness::new(plan_from(PLAN));
    // Held from the start: nothing to say.
    assert!(journaled(&lock(&mut h, LockState::Held)).is_empty());
    let (screen, _) = h.screen();
    assert!(!screen.contains("TEAM LOCK"), "{screen}");

    let fx = lock(
        &mut h,
        LockState::Lost {
            why: "cannot reach the team database team.internal:5432/deckhand: connection refused"
                .into(),
        },
    );
    assert_eq!(
        journaled(&fx),
        [Event::TeamLock {
            state: "lost".into(),
            detail:
                "cannot reach the team database team.internal:5432/deckhand: connection refused"
                    .into()
        }]
    );
    let (screen, _) = h.screen();
    assert!(
        screen.lines().next().unwrap().contains("TEAM LOCK LOST"),
        "{screen}"
    );

    // The destructive phase asks why first; Esc leaves it unstarted.
    h.select_phase(0);
    let fx = h.key(KeyCode::Enter);
    assert!(starts(&fx).is_empty());
    let m = h.state.modal.as_ref().expect("the lost lock's prompt");
    assert!(matches!(m.kind, ModalKind::TeamLockLost(_)), "{:?}", m.kind);
    h.settle();
    h.key(KeyCode::Esc);
    assert!(h.state.modal.is_none());

    // With a reason: journaled, then on to the phase's own confirmation, and it runs.
    h.key(KeyCode::Enter);
    h.settle();
    let fx = h.type_text("team db down, incident 42");
    assert!(journaled(&fx).is_empty());
    let fx = h.key(KeyCode::Enter);
    assert_eq!(
        journaled(&fx),
        [Event::TeamLockOverridden {
            what: "Phase Deploy".into(),
            reason: "team db down, incident 42".into()
        }]
    );
    let m = h.state.modal.as_ref().expect("the phase's confirmation");
    assert_eq!(m.kind, ModalKind::RunPhase(0));
    h.settle();
    let fx = h.char('y');
    assert_eq!(starts(&fx).len(), 1);

    // Taken by someone else meanwhile: said, and the reason given still stands until the lock is held again.
    let by = Holder {
        project: "shop".into(),
        environment: "staging".into(),
        operator: "bob".into(),
        host: "bastion-2".into(),
        ssh_client: None,
        run_id: "r2".into(),
        stage: "deploy".into(),
        since: "2026-12-05 17:00:00 UTC".into(),
        why: None,
        live: true,
    };
    let fx = lock(&mut h, LockState::Taken { by: Box::new(by) });
    assert!(matches!(&journaled(&fx)[..], [Event::TeamLock { state, .. }] if state == "taken"));
    let (screen, _) = h.screen();
    assert!(
        screen.lines().next().unwrap().contains("TEAM LOCK TAKEN"),
        "{screen}"
    );

    // Held again: journaled, the header clears, and the next loss asks again.
    let fx = lock(&mut h, LockState::Held);
    assert!(matches!(&journaled(&fx)[..], [Event::TeamLock { state, .. }] if state == "held"));
    let (screen, _) = h.screen();
    let header = screen.lines().next().unwrap();
    assert!(!header.contains("TEAM LOCK"), "{screen}");
    assert!(h.state.release.team_override.is_none());
    lock(
        &mut h,
        LockState::Lost {
            why: "again".into(),
        },
    );
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: deckhand::runner::StepId { phase: 0, step: 0 },
        outcome: deckhand::runner::StepOutcome::Exited(0),
        duration: std::time::Duration::from_secs(1),
    }));
    h.state.modal = None;
    h.select_phase(0);
    h.key(KeyCode::Enter);
    let m = h.state.modal.as_ref().expect("asked again");
    assert!(matches!(m.kind, ModalKind::TeamLockLost(_)), "{:?}", m.kind);
}

const FOUR_EYES: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }]

[[phase]]
name = "Purge"
destructive = true
steps = [{ run = "./purge.sh" }]

[team]
database = "postgres://deckhand@team.internal/deckhand"
approve = ["staging"]
"#;

fn approval_events(fx: &[Effect]) -> Vec<(String, String)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Journal(Event::Approval { result, by, .. }) => {
                Some((result.clone(), by.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_confirmed_destructive_phase_waits_for_a_second_operator() {
    use deckhand::team::approve::{ApprovalEvent, Decision};
    let mut h = Harness::new(plan_from(FOUR_EYES));
    h.select_phase(0);
    h.key(KeyCode::Enter);
    h.settle();
    let fx = h.char('y');
    // Confirmed, but nothing starts: the request goes out with exactly what the prompt showed.
    assert!(starts(&fx).is_empty());
    let asked = fx.iter().find_map(|e| match e {
        Effect::RequestApproval { action, detail } => Some((action.clone(), detail.clone())),
        _ => None,
    });
    let (action, detail) = asked.expect("an approval request");
    assert_eq!(action, "Run destructive phase: Deploy");
    assert!(
        detail.iter().any(|l| l == "Step 1: ./deploy.sh"),
        "{detail:?}"
    );
    assert_eq!(
        approval_events(&fx),
        [("requested".into(), "operator".into())]
    );
    let m = h.state.modal.as_ref().expect("the waiting prompt");
    assert_eq!(m.kind, ModalKind::AwaitingApproval);
    let (screen, _) = h.screen();
    assert!(screen.contains("Awaiting approval"), "{screen}");
    assert!(screen.contains("deckhand approve"), "{screen}");
    // Keys the operator types do not answer it.
    h.settle();
    assert!(starts(&h.char('y')).is_empty());
    assert!(h.state.modal.is_some());

    h.act(Action::Runner(RunnerEvent::Approval(
        ApprovalEvent::Asked { id: 7 },
    )));
    let fx = h.act(Action::Runner(RunnerEvent::Approval(
        ApprovalEvent::Decided(Decision::Approved {
            by: "deploy as bob".into(),
        }),
    )));
    assert_eq!(starts(&fx).len(), 1, "approved: the phase runs");
    assert_eq!(
        approval_events(&fx),
        [("approved".into(), "deploy as bob".into())]
    );
    assert!(h.state.modal.is_none());
    h.act(Action::Runner(RunnerEvent::StepFinished {
        id: deckhand::runner::StepId { phase: 0, step: 0 },
        outcome: deckhand::runner::StepOutcome::Exited(0),
        duration: std::time::Duration::from_secs(1),
    }));

    // Withdrawn with Esc: nothing runs, even when an approval crosses the withdrawal.
    h.select_phase(1);
    h.key(KeyCode::Enter);
    h.settle();
    h.char('y');
    h.settle();
    let fx = h.key(KeyCode::Esc);
    assert!(fx.contains(&Effect::WithdrawApproval), "{fx:?}");
    assert!(h.state.modal.is_none());
    let fx = h.act(Action::Runner(RunnerEvent::Approval(
        ApprovalEvent::Decided(Decision::Approved {
            by: "deploy as bob".into(),
        }),
    )));
    assert!(starts(&fx).is_empty(), "withdrawn: nothing runs");
    assert!(
        h.state
            .flash
            .as_deref()
            .is_some_and(|f| f.contains("after it was withdrawn"))
    );

    // Refused, timed out, or not askable: nothing runs, and it is said.
    for (decision, said) in [
        (
            ApprovalEvent::Decided(Decision::Refused {
                by: "deploy as bob".into(),
            }),
            "REFUSED by deploy as bob",
        ),
        (
            ApprovalEvent::Decided(Decision::TimedOut),
            "Nobody approved in time",
        ),
        (
            ApprovalEvent::Failed("team database unreachable".into()),
            "could not be asked for",
        ),
    ] {
        h.state.flash = None;
        h.select_phase(1);
        h.key(KeyCode::Enter);
        h.settle();
        h.char('y');
        let fx = h.act(Action::Runner(RunnerEvent::Approval(decision)));
        assert!(starts(&fx).is_empty());
        assert!(h.state.modal.is_none());
        assert!(
            h.state.flash.as_deref().is_some_and(|f| f.contains(said)),
            "{:?}",
            h.state.flash
        );
    }
}
