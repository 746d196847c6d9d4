//! `update()` tests for ending the run while a backup operation is in flight: a hang-up lets it finish, a signal
//! stops it, and the journal's last entry says which of the two happened.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, QuitState, Signal};
use deckhand::journal::Event;
use deckhand::runner::RunnerEvent;
use deckhand::runner::backup::{BackupEvent, BackupOp};

const PLAN: &str = r#"
[project]
name = "shop"
environment = "production"

[database]
url = "postgres://app@db.internal:5432/shop"
migrations = "migrations"

[backup]
dir = "/var/backups/shop"
"#;

const FILE: &str = "/var/backups/shop/shop.dump";

fn backup_ev(ev: BackupEvent) -> Action {
    Action::Runner(RunnerEvent::Backup(Box::new(ev)))
}

fn quit_reason(fx: &[Effect]) -> String {
    match journal_events(fx).last() {
        Some(Event::Quit { reason, .. }) => reason.clone(),
        other => panic!("the last entry is not the quit: {other:?}"),
    }
}

/// A console taking a backup, then hung up while it runs.
fn hung_up_while_backing_up() -> Harness {
    let mut h = Harness::new(plan_from(PLAN));
    h.key(KeyCode::Char('B'));
    let fx = h.act(Action::Signal(Signal::Hangup));
    assert!(
        !fx.contains(&Effect::CancelBackup),
        "a hang-up lets the backup finish"
    );
    assert!(!fx.contains(&Effect::Quit));
    assert_eq!(h.state.quit, QuitState::AfterStep);
    h.act(backup_ev(BackupEvent::Taken(archive(FILE, "shop", false))));
    h
}

#[test]
fn a_hang_up_during_a_backup_that_completes_says_it_finished() {
    let mut h = hung_up_while_backing_up();
    let fx = h.act(verified_event(&archive(FILE, "shop", true), true));
    assert!(fx.contains(&Effect::Quit));
    let reason = quit_reason(&fx);
    assert_eq!(reason, "hung up: quit after the backup finished");
    assert!(
        h.state.backup.verified.is_some(),
        "the backup finished and is verified"
    );
}

#[test]
fn a_hang_up_during_a_backup_that_fails_verification_says_so() {
    let mut h = hung_up_while_backing_up();
    let fx = h.act(verified_event(&archive(FILE, "shop", false), false));
    let reason = quit_reason(&fx);
    assert_eq!(
        reason,
        "hung up: quit after the backup finished (it FAILED verification)"
    );
}

#[test]
fn a_signal_during_a_backup_stops_it_and_says_so() {
    let mut h = Harness::new(plan_from(PLAN));
    h.key(KeyCode::Char('B'));
    let fx = h.act(Action::Signal(Signal::Terminate));
    assert!(fx.contains(&Effect::CancelBackup));
    let fx = h.act(backup_ev(BackupEvent::Failed {
        op: BackupOp::Take,
        error: "cancelled".into(),
        cancelled: true,
    }));
    assert_eq!(quit_reason(&fx), "quit after stopping the backup");
}

#[test]
fn a_backup_that_completes_before_a_signal_stops_it_is_not_said_stopped() {
    let mut h = Harness::new(plan_from(PLAN));
    h.key(KeyCode::Char('B'));
    h.act(backup_ev(BackupEvent::Taken(archive(FILE, "shop", false))));
    let fx = h.act(Action::Signal(Signal::Terminate));
    assert!(fx.contains(&Effect::CancelBackup));
    // The verification was done before the cancellation reached it.
    let fx = h.act(verified_event(&archive(FILE, "shop", true), true));
    assert_eq!(quit_reason(&fx), "quit after the backup finished");
}
