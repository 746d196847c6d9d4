//! The database tunnel as the console sees it: its state beside the database, journaled when it comes up or goes
//! down, a notice when it goes down, and the migration status read again when it comes back after a read failed.

use crate::app::msg::Effect;
use crate::app::out::Out;
use crate::app::state::State;
use crate::journal::Event;
use crate::runner::tunnel::TunnelState;

use super::DbView;

/// The tunnel reported `now`.
pub(in crate::app) fn on_state(state: &mut State, now: TunnelState, fx: &mut Out) {
    let before = state.db.tunnel.replace(now.clone());
    let was_up = before.as_ref().is_some_and(TunnelState::is_up);
    match &now {
        TunnelState::Up { .. } if !was_up => {
            fx.push(Effect::Journal(Event::Tunnel {
                state: "up".into(),
                detail: now.describe(),
            }));
            let lost = before
                .as_ref()
                .is_some_and(|b| !matches!(b, TunnelState::Starting { attempt: 1 }));
            if lost {
                state.note(format!("database tunnel back {}", now.describe()));
            }
            // A read that failed while the tunnel was down is tried again now that it is up.
            if matches!(state.db.view, DbView::Failed(_)) && !state.db.loading {
                state.db.loading = true;
                fx.push(Effect::LoadMigrations);
            }
        }
        TunnelState::Down { why, .. } => {
            fx.push(Effect::Journal(Event::Tunnel {
                state: "down".into(),
                detail: why.clone(),
            }));
            let line = format!("database tunnel {}", now.describe());
            state.note(line.clone());
            state.flash = Some(line);
        }
        TunnelState::Up { .. } | TunnelState::Starting { .. } | TunnelState::Stopped => {}
    }
}
