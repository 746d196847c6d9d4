//! End to end: the real `deckhand` binary in a real pseudo-terminal. Typing keys, reading the screen through a
//! vt100 emulator, checking the journal it leaves, the processes it leaves (none), and that the terminal is given
//! back on quit, SIGTERM and SIGHUP.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::pty::{PtyApp, process_gone, wait_gone};
use deckhand::journal::{self, Event};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn journal_of(data_dir: &Path) -> Vec<Event> {
    let runs = journal::list_runs(data_dir).expect("list runs");
    assert_eq!(runs.len(), 1, "exactly one run recorded");
    journal::read_entries(&runs[0].journal)
        .expect("journal reads back")
        .into_iter()
        .map(|e| e.event)
        .collect()
}

#[test]
fn demo_tick_confirm_destructive_phase_and_quit() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut app = PtyApp::start(&["demo"], data.path());
    app.wait_for("Checklist 0/3");
    assert_eq!(
        app.line_modes(),
        (false, false),
        "the console runs in raw mode"
    );
    app.type_keys(" j j ");
    app.wait_for("Checklist 3/3");
    // Down to the destructive phase (past the backup and migrate rows and the release-notes phase) and ask to run it.
    app.type_keys("jjjj\r");
    // The stage order: no backup and a pending migration in this run, each passed over with a typed reason.
    pass_stage(&mut app, "backup", "demo: nothing to lose");
    pass_stage(&mut app, "migrate", "demo: the deploy does not need it");
    app.wait_for("Run destructive phase: Deploy (simulated)");
    app.wait_for("Press y to confirm");
    app.send("y");
    app.wait_for("rolling out instance 1/8");
    app.wait_for("Phase 'Deploy (simulated)' succeeded.");
    app.send("q");
    // Quit before sign-off: the run is unfinished (exit 1).
    assert_eq!(app.wait_exit(), 1);
    app.assert_restored();

    let events = journal_of(data.path());
    assert!(
        matches!(events.first(), Some(Event::RunStarted { environment, .. }) if environment == "demo")
    );
    let ticks = events
        .iter()
        .filter(|e| matches!(e, Event::ChecklistTicked { checked: true, .. }))
        .count();
    assert_eq!(ticks, 3);
    for (stage, reason) in [
        (deckhand::journal::Stage::Backup, "demo: nothing to lose"),
        (
            deckhand::journal::Stage::Migrate,
            "demo: the deploy does not need it",
        ),
    ] {
        assert!(
            events.iter().any(|e| matches!(e, Event::StageOverridden { stage: s, reason: r, .. } if *s == stage && r == reason)),
            "{stage} override not journaled: {events:?}"
        );
    }
    assert!(events.contains(&Event::ConfirmationGiven {
        what: "Run destructive phase: Deploy (simulated)".into(),
        typed: "y".into()
    }));
    let exits: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished { exit_code, .. } => Some(*exit_code),
            _ => None,
        })
        .collect();
    assert_eq!(exits, vec![Some(0), Some(0), Some(0)]);
    assert_eq!(
        events.last(),
        Some(&Event::Quit {
            exit_code: 1,
            reason: "operator quit".into(),
            outcome: Some(deckhand::journal::Outcome::Unfinished),
        })
    );
}

/// Answers the stage-order prompt for `stage` with a typed reason, and checks the reason is journaled later.
fn pass_stage(app: &mut PtyApp, stage: &str, reason: &str) {
    app.wait_for(&format!("The {stage} stage has not passed"));
    app.wait_prompt_ready();
    app.type_keys(reason);
    app.send("\r");
}

/// Starts the long demo phase and returns the pid of its shell from the journal.
fn start_long_task(app: &mut PtyApp, data: &Path) -> u32 {
    app.wait_for("Checklist 0/3");
    // The long task is the last row: an optional phase, listed after the release (read-only: no gates).
    app.type_keys("G\r");
    app.wait_for("working 1/300");
    journal_of(data)
        .iter()
        .find_map(|e| match e {
            Event::StepStarted { pid, .. } => Some(*pid),
            _ => None,
        })
        .expect("step_started journaled")
}

/// Sends `sig` to deckhand while the long demo step runs; checks it cancels the step, gives the terminal back,
/// exits 1 and journals the signal and the cancelled step. Returns the journal.
fn signal_while_running(sig: Signal) -> Vec<Event> {
    let data = tempfile::tempdir().expect("tempdir");
    let mut app = PtyApp::start(&["demo"], data.path());
    let step_pid = start_long_task(&mut app, data.path());
    kill(Pid::from_raw(app.pid() as i32), sig).expect("send signal");
    assert_eq!(app.wait_exit(), 1, "a run ended by {sig} is aborted");
    app.assert_restored();
    assert!(
        process_gone(step_pid),
        "the step's shell outlived deckhand after {sig}"
    );
    let events = journal_of(data.path());
    assert!(events.contains(&Event::Signal {
        name: sig.as_str().into()
    }));
    assert!(events.iter().any(
        |e| matches!(e, Event::StepFinished { outcome, .. } if *outcome == deckhand::journal::StepResult::Cancelled)
    ));
    assert!(matches!(
        events.last(),
        Some(Event::Quit { exit_code: 1, .. })
    ));
    events
}

#[test]
fn sigterm_while_running_cancels_the_step_restores_the_terminal_and_exits_1() {
    signal_while_running(Signal::SIGTERM);
}

#[test]
fn sigint_while_running_is_handled_like_sigterm() {
    signal_while_running(Signal::SIGINT);
}

#[test]
fn sighup_lets_the_step_in_flight_finish_starts_nothing_new_and_exits() {
    let data = tempfile::tempdir().expect("tempdir");
    let marker = data.path().join("second-step-ran");
    let plan = data.path().join("hangup.toml");
    std::fs::write(
        &plan,
        format!(
            "[project]\nname = \"hup\"\nenvironment = \"staging\"\n\n[[phase]]\nname = \"Deploy\"\n\
             steps = [{{ run = \"echo rolling; sleep 2; echo rolled\" }}, {{ run = \"touch {}\" }}]\n",
            marker.display()
        ),
    )
    .unwrap();
    let plan_arg = plan.display().to_string();
    let mut app = PtyApp::start(&["run", &plan_arg], data.path());
    app.wait_for("Phases");
    // The only row is the phase (no checklist, no database): Enter starts it, it is not destructive.
    app.send("\r");
    app.wait_for("rolling");
    kill(Pid::from_raw(app.pid() as i32), Signal::SIGHUP).expect("send SIGHUP");
    assert_eq!(app.wait_exit(), 1, "a hung-up run is not finished");
    app.assert_restored();
    assert!(!marker.exists(), "a step started after the hang-up");
    let events = journal_of(data.path());
    assert!(events.contains(&Event::Signal {
        name: "SIGHUP".into()
    }));
    let finished: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::StepFinished {
                step, exit_code, ..
            } => Some((*step, *exit_code)),
            _ => None,
        })
        .collect();
    assert_eq!(
        finished,
        vec![(1, Some(0))],
        "the step in flight ran to its end"
    );
    assert!(events.iter().any(|e| matches!(e,
        Event::PhaseFinished { result, .. } if *result == deckhand::journal::PhaseResult::Interrupted)));
    assert!(
        matches!(events.last(), Some(Event::Quit { exit_code: 1, reason, .. }) if reason.contains("hung up")),
        "{:?}",
        events.last()
    );
}

#[test]
fn a_panic_restores_the_terminal_and_leaves_no_step_behind() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut app = PtyApp::start_with_env(
        &["demo"],
        data.path(),
        &[("DECKHAND_FAULT", "panic"), ("RUST_BACKTRACE", "0")],
    );
    let step_pid = start_long_task(&mut app, data.path());
    // Go back up to the first checklist item and tick it: the injected fault panics there.
    app.type_keys("g ");
    let code = app.wait_exit();
    assert_ne!(code, 0, "a panic is not a success");
    app.assert_restored();
    let screen = app.contents();
    assert!(
        screen.contains("fault injected"),
        "the panic message is not readable on the main screen:\n{screen}"
    );
    assert!(
        wait_gone(step_pid),
        "the step's process group must die with deckhand"
    );
}

#[test]
fn cancel_from_the_keyboard_ends_the_step_and_the_console_stays() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut app = PtyApp::start(&["demo"], data.path());
    let step_pid = start_long_task(&mut app, data.path());
    app.send("c");
    app.wait_for("Cancel step 1 of Long task");
    app.wait_prompt_ready();
    app.send("y");
    app.wait_for("Phase 'Long task (press c to cancel)' cancelled.");
    assert!(process_gone(step_pid));
    app.send("q");
    assert_eq!(app.wait_exit(), 1, "a cancelled phase is not a success");
    app.assert_restored();
}

#[test]
fn an_idle_console_writes_nothing_to_the_terminal() {
    // A plan with nothing live in it (the demo's health check changes the screen every 2 s, as it should).
    let data = tempfile::tempdir().expect("tempdir");
    let plan = data.path().join("idle.toml");
    std::fs::write(
        &plan,
        "[project]\nname = \"idle\"\nenvironment = \"staging\"\n\n[[checklist]]\nitem = \"one\"\n\n\
         [[phase]]\nname = \"Deploy\"\nsteps = [{ run = \"true\" }]\n",
    )
    .unwrap();
    let plan_arg = plan.display().to_string();
    let mut app = PtyApp::start(&["run", &plan_arg], data.path());
    app.wait_for("Checklist 0/1");
    // Idle means: the preflight checks have answered and drawing has stopped. Then it must stay stopped.
    quiet(&app);
    let before = app.bytes.load(std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(3));
    let after = app.bytes.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(after - before, 0, "an idle console must not redraw");
    app.send("q");
    assert_eq!(app.wait_exit(), 1);
}

/// Waits until no preflight check is still running and nothing has been written to the terminal for 200 ms; at
/// most 30 s (a hang guard: a console that never stops drawing fails the idle test anyway).
fn quiet(app: &PtyApp) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut last = app.bytes.load(std::sync::atomic::Ordering::SeqCst);
    let mut since = std::time::Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let now = app.bytes.load(std::sync::atomic::Ordering::SeqCst);
        if now != last {
            (last, since) = (now, std::time::Instant::now());
        } else if since.elapsed() >= Duration::from_millis(200)
            && !app.contents().contains("checking")
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the console never went quiet:\n{}",
            app.contents()
        );
    }
}

#[test]
fn run_without_a_terminal_is_a_usage_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .arg("demo")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run deckhand");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs an interactive terminal"));
}

#[test]
fn a_followed_log_cannot_drive_the_terminal() {
    // A [[logs]] file source carrying a title change (OSC 0), a clipboard write (OSC 52), a clear-screen and a
    // colour change: on the real terminal they must arrive as visible, inert text.
    let data = tempfile::tempdir().expect("tempdir");
    let log = data.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let plan = data.path().join("logs.toml");
    std::fs::write(
        &plan,
        format!(
            "[project]\nname = \"inj\"\nenvironment = \"staging\"\n\n[[phase]]\nname = \"Deploy\"\n\
             steps = [{{ run = \"true\" }}]\n\n[[logs]]\nname = \"app\"\nfile = \"{}\"\n",
            log.display()
        ),
    )
    .unwrap();
    let plan_arg = plan.display().to_string();
    let mut app = PtyApp::start(&["run", &plan_arg], data.path());
    app.wait_for("Phases");
    app.send("3");
    let evil =
        "start \x1b]0;pwned\x07\nclip \x1b]52;c;ZXZpbA==\x07\nclear \x1b[2J\n\x1b[31mred end\n";
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, evil.as_bytes()))
        .unwrap();
    app.wait_for("start ^[]0;pwned^G");
    app.wait_for("red end");
    let screen = app.contents();
    assert!(screen.contains("clip ^[]52;c;ZXZpbA==^G"), "{screen}");
    assert!(screen.contains("clear ^[[2J"), "{screen}");
    // The colour change is dropped, not applied: "red end" is not drawn red.
    let parser = app.screen.lock().unwrap();
    let grid = parser.screen();
    let (row, col) = (0..24u16)
        .find_map(|r| {
            let text = grid.contents_between(r, 0, r, 80);
            text.find("red end")
                .map(|c| (r, text[..c].chars().count() as u16))
        })
        .expect("red end on screen");
    let fg = grid.cell(row, col).map(|c| c.fgcolor());
    assert_ne!(fg, Some(vt100::Color::Idx(1)), "{screen}");
    drop(parser);
    assert!(
        screen.contains("Phases"),
        "the screen was not cleared:\n{screen}"
    );
    let raw = app.raw.lock().unwrap().clone();
    for injected in [&b"\x1b]0;pwned"[..], b"\x1b]52;", b"pwned\x07"] {
        assert!(
            !raw.windows(injected.len()).any(|w| w == injected),
            "{injected:?} reached the terminal"
        );
    }
    app.send("q");
    assert_eq!(app.wait_exit(), 1);
}
