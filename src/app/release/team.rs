//! The team's release lock as the release sees it: lost (the team database unreachable) or taken by another
//! console, it is said in the header, journaled, and no new destructive action (a destructive phase, an apply, a
//! restore, a rollback) starts until it is held again or the operator types why. Held again, the reason given is
//! spent: the next loss asks again.

use crate::app::msg::Effect;
use crate::app::out::Out;
use crate::app::prompt::{Expect, Modal, ModalKind, TeamAfter};
use crate::app::state::State;
use crate::journal::Event;
use crate::team::lock::LockState;

/// The lock's state changed.
pub(in crate::app) fn on_lock(state: &mut State, now: LockState, fx: &mut Out) {
    let (name, detail) = match &now {
        LockState::Held => ("held", "the team's release lock is held again".to_string()),
        LockState::Lost { why } => ("lost", why.clone()),
        LockState::Taken { by } => ("taken", format!("taken by {}", by.describe())),
    };
    if state.release.team_lock.as_ref() == Some(&now)
        || (state.release.team_lock.is_none() && now == LockState::Held)
    {
        return;
    }
    fx.push(Effect::Journal(Event::TeamLock {
        state: name.into(),
        detail: detail.clone(),
    }));
    let line = match &now {
        LockState::Held => {
            "Team lock held again: destructive actions are guarded again.".to_string()
        }
        _ => format!(
            "TEAM LOCK {}: {detail}. No new destructive action starts until it is back, unless you type why.",
            name.to_uppercase()
        ),
    };
    state.note(line.clone());
    state.flash = Some(line);
    if now == LockState::Held {
        state.release.team_lock = None;
        state.release.team_override = None;
    } else {
        state.release.team_lock = Some(now);
    }
}

/// `TEAM LOCK LOST` / `TEAM LOCK TAKEN` for the header, while it is so.
pub fn lock_badge(state: &State) -> Option<&'static str> {
    match state.release.team_lock.as_ref()? {
        LockState::Held => None,
        LockState::Lost { .. } => Some("TEAM LOCK LOST"),
        LockState::Taken { .. } => Some("TEAM LOCK TAKEN"),
    }
}

/// The prompt before a destructive action while the lock is not held, unless a reason was already typed.
pub(in crate::app) fn lock_modal(state: &State, after: TeamAfter) -> Option<Modal> {
    let lock = state.release.team_lock.as_ref()?;
    if state.release.team_override.is_some() {
        return None;
    }
    let (title, why) = match lock {
        LockState::Held => return None,
        LockState::Lost { why } => ("The team's release lock is lost", why.clone()),
        LockState::Taken { by } => (
            "Another console took the team's release lock",
            format!("taken by {}", by.describe()),
        ),
    };
    let mut m = Modal::new(ModalKind::TeamLockLost(after), title, Expect::Reason);
    m.danger = true;
    m.body.push(("Lock".into(), why));
    m.body.push((
        "Risk".into(),
        "nobody else is kept from releasing this project and environment meanwhile".into(),
    ));
    m.body.push((
        "Go on".into(),
        "type why (journaled; it stands until the lock is held again), or Esc and wait for it"
            .into(),
    ));
    Some(m)
}

/// The operator typed why to go on without the lock.
pub(in crate::app) fn overridden(state: &mut State, what: String, reason: String, fx: &mut Out) {
    fx.push(Effect::Journal(Event::TeamLockOverridden {
        what,
        reason: reason.clone(),
    }));
    state.release.team_override = Some(reason);
}
