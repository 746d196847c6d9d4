//! Four-eyes approval as the console sees it (`[team] approve`): in those environments, once the operator
//! confirmed a destructive action (a destructive or seeding phase, an apply, a restore, a rollback), the confirmed
//! prompt is kept and a request goes to the team database; a prompt says it waits (Esc withdraws). Approved by a
//! second operator, the kept prompt goes on as if just confirmed; refused, withdrawn, timed out or failed, nothing
//! runs. Every step is journaled with both identities. A withdrawal drops the kept prompt at once, so an approval
//! that crosses it runs nothing.

use crate::app::msg::Effect;
use crate::app::out::Out;
use crate::app::prompt::{Expect, Modal, ModalKind};
use crate::app::state::State;
use crate::journal::Event;
use crate::team::approve::{ApprovalEvent, Decision};

/// A request under way: the confirmed prompt it holds back (gone once withdrawn) and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalWait {
    pub held: Option<(Modal, String)>,
    pub what: String,
    pub id: Option<i64>,
}

/// Whether the prompt just confirmed needs a second operator's approval before it goes on.
pub(in crate::app) fn needed(state: &State, kind: &ModalKind) -> bool {
    let plan = &state.plan;
    let Some(team) = &plan.team else {
        return false;
    };
    if !team.approval_required(&plan.project.environment) {
        return false;
    }
    match kind {
        ModalKind::RunPhase(p) => plan
            .phases
            .get(*p)
            .is_some_and(|ph| ph.destructive || ph.seed),
        ModalKind::ApplyMigrations | ModalKind::RestoreBackup(_) | ModalKind::Rollback(_) => true,
        _ => false,
    }
}

/// Holds `confirmed` back (answered with `typed`) and asks for approval of exactly what it shows.
pub(in crate::app) fn ask(state: &mut State, confirmed: Modal, typed: String, fx: &mut Out) {
    let mut detail: Vec<String> = (confirmed.body.iter())
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    if let Some(p) = &confirmed.picker {
        if let Some(item) = p.items.get(p.selected) {
            detail.push(format!("Chosen: {item}"));
        }
        if let Some((label, on)) = &p.option {
            detail.push(format!("{label}: {}", if *on { "yes" } else { "no" }));
        }
    }
    let what = confirmed.title.clone();
    fx.push(Effect::Journal(Event::Approval {
        what: what.clone(),
        result: "requested".into(),
        by: state.release.operator.clone(),
        detail: detail.join("\n"),
    }));
    fx.push(Effect::RequestApproval {
        action: what.clone(),
        detail,
    });
    let timeout = (state.plan.team.as_ref()).map_or(String::new(), |t| {
        crate::plan::human_duration(t.approval_timeout)
    });
    let mut wait = Modal::new(
        ModalKind::AwaitingApproval,
        format!("Awaiting approval: {what}"),
        Expect::Approval,
    );
    wait.danger = true;
    wait.body.push((
        "Approve".into(),
        format!(
            "another operator runs: deckhand approve {} (on any host)",
            state.plan.path.display()
        ),
    ));
    wait.body
        .push(("Times out".into(), format!("in {timeout}")));
    wait.body.extend(confirmed.body.iter().cloned());
    state.release.approval = Some(ApprovalWait {
        held: Some((confirmed, typed)),
        what,
        id: None,
    });
    state.modal = Some(wait);
}

/// What the team database said about the request; the held prompt to go on with, when approved.
pub(in crate::app) fn on_event(
    state: &mut State,
    ev: ApprovalEvent,
    fx: &mut Out,
) -> Option<(Modal, String)> {
    let decision = match ev {
        ApprovalEvent::Asked { id } => {
            if let Some(w) = state.release.approval.as_mut() {
                w.id = Some(id);
            }
            state.note(format!("approval request {id} waits for another operator"));
            return None;
        }
        ApprovalEvent::Decided(d) => Ok(d),
        ApprovalEvent::Failed(why) => Err(why),
    };
    let wait = state.release.approval.take()?;
    if state
        .modal
        .as_ref()
        .is_some_and(|m| m.kind == ModalKind::AwaitingApproval)
    {
        state.modal = None;
    }
    let (result, by, line) = match &decision {
        Ok(Decision::Approved { by }) if wait.held.is_some() => (
            "approved",
            by.clone(),
            format!("Approved by {by}: {}", wait.what),
        ),
        Ok(Decision::Approved { by }) => (
            "approved",
            by.clone(),
            format!("Approved by {by} after it was withdrawn: nothing ran."),
        ),
        Ok(Decision::Refused { by }) => (
            "refused",
            by.clone(),
            format!("REFUSED by {by}: {} did not run.", wait.what),
        ),
        Ok(Decision::Withdrawn) => (
            "withdrawn",
            state.release.operator.clone(),
            format!("Approval withdrawn: {} did not run.", wait.what),
        ),
        Ok(Decision::TimedOut) => (
            "timed_out",
            String::new(),
            format!("Nobody approved in time: {} did not run.", wait.what),
        ),
        Err(why) => (
            "failed",
            String::new(),
            format!(
                "Approval could not be asked for ({why}): {} did not run.",
                wait.what
            ),
        ),
    };
    fx.push(Effect::Journal(Event::Approval {
        what: wait.what.clone(),
        result: result.into(),
        by,
        detail: decision.as_ref().err().cloned().unwrap_or_default(),
    }));
    state.note(line.clone());
    state.flash = Some(line);
    match decision {
        Ok(Decision::Approved { .. }) => wait.held,
        _ => None,
    }
}

/// Esc on the waiting prompt: the request is withdrawn and the held prompt dropped, whatever arrives after.
pub(in crate::app) fn withdraw(state: &mut State, fx: &mut Out) {
    if let Some(w) = state.release.approval.as_mut() {
        w.held = None;
    }
    fx.push(Effect::WithdrawApproval);
}
