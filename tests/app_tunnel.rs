//! `update()` and view tests for the database tunnel as the console shows it: its state beside the database and in
//! the header at 80x24, each down and up journaled, a failed status read tried again when the tunnel is back, and
//! the preflight counting its check.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::ledger::snapshot;
use common::*;
use deckhand::app::{Action, Effect};
use deckhand::journal::Event;
use deckhand::migrate::status::State as MState;
use deckhand::runner::RunnerEvent;
use deckhand::runner::tunnel::TunnelState;

const PLAN: &str = r#"
[project]
name = "shop"
environment = "production"

[database]
url = "postgres://app:hunter2@localhost:15432/shop"
migrations = "prisma/migrations"
tunnel = "flyctl proxy 15432:5432 -a shop-db"
tunnel_port = 15432
"#;

fn tunnel(h: &mut Harness, s: TunnelState) -> Vec<Effect> {
    h.act(Action::Runner(RunnerEvent::Tunnel(s)))
}

fn journaled(fx: &[Effect]) -> Vec<(String, String)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Journal(Event::Tunnel { state, detail }) => {
                Some((state.clone(), detail.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn the_tunnel_is_shown_journaled_and_a_failed_read_retried() {
    let mut h = Harness::new(plan_from(PLAN));
    // Starting: said in the header and where the status is being read.
    assert!(tunnel(&mut h, TunnelState::Starting { attempt: 1 }).is_empty());
    let (screen, _) = h.screen();
    assert!(screen.contains("tunnel starting"), "{screen}");
    h.key(crossterm::event::KeyCode::Char('2'));
    let (screen, _) = h.screen();
    assert!(screen.contains("Tunnel: starting"), "{screen}");

    // Up: journaled once; the header badge goes; the pane says "via tunnel" before the target (80 columns).
    let fx = tunnel(&mut h, TunnelState::Up { pid: 4242 });
    assert_eq!(
        journaled(&fx),
        [("up".to_string(), "up (pid 4242)".to_string())]
    );
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snapshot(&[
        ("m1", MState::Applied),
        ("m2", MState::Pending),
    ])))));
    h.act(Action::Runner(clean_drift()));
    let (screen, _) = h.screen();
    assert!(!screen.contains("tunnel starting"), "{screen}");
    assert!(
        screen.contains("1 applied, 1 pending · via tunnel"),
        "{screen}"
    );
    assert!(!screen.contains("hunter2"));

    // Down: journaled with why, flashed, in the header and the pane.
    let why = "the tunnel killed by signal 9: Error: peer went away";
    let fx = tunnel(
        &mut h,
        TunnelState::Down {
            why: why.into(),
            retry_in: Duration::from_secs(2),
        },
    );
    assert_eq!(journaled(&fx), [("down".to_string(), why.to_string())]);
    let (screen, _) = h.screen();
    assert!(screen.contains("TUNNEL DOWN"), "{screen}");
    assert!(
        screen.contains("1 applied, 1 pending, TUNNEL DOWN"),
        "{screen}"
    );

    // A read that fails meanwhile is read again once the tunnel is back, and the way back is journaled.
    h.act(Action::Runner(RunnerEvent::Migrations(Err(
        "connection refused".into(),
    ))));
    let (screen, _) = h.screen();
    assert!(
        screen.contains("Tunnel: DOWN: the tunnel killed by signal 9"),
        "{screen}"
    );
    assert!(tunnel(&mut h, TunnelState::Starting { attempt: 2 }).is_empty());
    let fx = tunnel(&mut h, TunnelState::Up { pid: 4343 });
    assert_eq!(
        journaled(&fx),
        [("up".to_string(), "up (pid 4343)".to_string())]
    );
    assert!(fx.contains(&Effect::LoadMigrations), "{fx:?}");
    // Up again while up: nothing new.
    assert!(tunnel(&mut h, TunnelState::Up { pid: 4343 }).is_empty());
}

#[test]
fn preflight_counts_the_tunnel_check() {
    let with = plan_from(PLAN);
    let without = plan_from(&PLAN.replace(
        "tunnel = \"flyctl proxy 15432:5432 -a shop-db\"\ntunnel_port = 15432\n",
        "",
    ));
    assert_eq!(
        deckhand::runner::preflight::expected(&with),
        deckhand::runner::preflight::expected(&without) + 1
    );
}
