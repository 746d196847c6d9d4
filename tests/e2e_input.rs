//! Typed answers through the real binary in a pseudo-terminal, judged as a person typed them: deckhand stopped
//! (SIGSTOP) while the operator types the environment's name and continued before Enter still takes the answer,
//! while the same keys sent as one unbracketed burst do not.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::pty::PtyApp;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How far apart a person's keys arrive (the trial that found the defect typed 120 ms apart).
const HUMAN_GAP: Duration = Duration::from_millis(120);

fn production_plan(dir: &std::path::Path) -> String {
    let plan = dir.join("prod.toml");
    std::fs::write(
        &plan,
        "[project]\nname = \"shop\"\nenvironment = \"production\"\n\n\
         [[phase]]\nname = \"Deploy\"\ndestructive = true\nsteps = [{ run = \"echo deployed-ok\" }]\n",
    )
    .unwrap();
    plan.display().to_string()
}

/// Opens the typed confirmation of the destructive Deploy phase and waits until it takes keys.
fn ask_to_deploy(app: &mut PtyApp) {
    app.wait_for("checks 1/1 ok");
    app.send("\r");
    app.wait_for("Type production and press Enter");
    app.wait_prompt_ready();
}

fn type_slowly(app: &mut PtyApp, keys: &str) {
    for c in keys.chars() {
        app.send(&c.to_string());
        // The gap between two keys is what is being tested: a person's typing speed.
        std::thread::sleep(HUMAN_GAP);
    }
}

#[test]
fn keys_typed_while_deckhand_is_stopped_still_confirm() {
    let data = tempfile::tempdir().unwrap();
    let plan = production_plan(data.path());
    let mut app = PtyApp::start(&["run", &plan], data.path());
    ask_to_deploy(&mut app);
    type_slowly(&mut app, "prod");
    app.wait_for("> prod_");
    let pid = Pid::from_raw(app.pid() as i32);
    kill(pid, Signal::SIGSTOP).unwrap();
    // Typed while deckhand does not run: the terminal holds the keys, and they are read together on SIGCONT.
    type_slowly(&mut app, "uction");
    kill(pid, Signal::SIGCONT).unwrap();
    app.wait_for("> production_");
    app.send("\r");
    app.wait_for("Phase 'Deploy' succeeded.");
    assert!(
        !app.contents().contains("faster than anyone types"),
        "{}",
        app.contents()
    );
    // Production, changed, not signed off: quitting asks first.
    app.send("q");
    app.wait_for("Quit before sign-off");
    app.wait_prompt_ready();
    app.send("y");
    assert_eq!(app.wait_exit(), 1);
    app.assert_restored();
}

#[test]
fn the_answer_sent_as_one_unbracketed_burst_never_confirms() {
    let data = tempfile::tempdir().unwrap();
    let plan = production_plan(data.path());
    let mut app = PtyApp::start(&["run", &plan], data.path());
    ask_to_deploy(&mut app);
    // One write, as a terminal without bracketed paste delivers a paste.
    app.send("production\r");
    app.wait_for("faster than anyone types");
    assert!(!app.contents().contains("Phase 'Deploy' succeeded."));
    app.send("\x1b");
    app.wait_for("Cancelled: Run destructive phase: Deploy");
    app.send("q");
    assert_eq!(app.wait_exit(), 1);
}
