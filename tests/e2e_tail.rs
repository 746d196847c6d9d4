//! End to end: `deckhand tail`, the real binary in a real 80x24 pseudo-terminal. A file the test writes and then
//! rotates, a command that prints a line and exits (stopped, then restarted), `--filter` applied from the start and
//! `--error` marking lines, the processes gone after `q`, the terminal given back, and the usage errors.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pty::{PtyApp, WAIT_LIMIT, wait_until};

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Waits until `text` is on screen at least `times` times.
fn wait_for_count(app: &PtyApp, text: &str, times: usize) {
    let start = Instant::now();
    while start.elapsed() < WAIT_LIMIT {
        if app.contents().matches(text).count() >= times {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!(
        "{text:?} did not show {times} times; screen:\n{}",
        app.contents()
    );
}

/// Processes whose command line holds `marker`.
fn pids_with(marker: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(marker) && pid != std::process::id() {
            pids.push(pid);
        }
    }
    pids
}

/// Live (not zombie) processes in process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command's name: state, ppid, pgrp.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[2] == pgid.to_string() && !matches!(fields[0], "Z" | "X") {
            pids.push(pid);
        }
    }
    pids
}

/// The data folder a tail session was given holds no run and no lock: a tail is not a release.
fn assert_no_run_recorded(data: &Path) {
    assert!(!data.join("runs").exists(), "a tail session wrote a run");
    assert!(!data.join("locks").exists(), "a tail session took a lock");
}

#[test]
fn tail_follows_a_file_across_rotation_and_q_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "old line, before the tail started\n").unwrap();
    let log_arg = log.display().to_string();
    let mut app = PtyApp::start(&["tail", &log_arg], &data);
    app.wait_for("tailing 1 log source");
    // Following from the end, as tail -F: the file's name tags its lines and its state.
    app.wait_for("app.log running");
    let screen = app.contents();
    assert!(!screen.contains("old line"), "{screen}");
    // The logs pane alone: no checklist, no environment badge, no release keys.
    for absent in ["Checklist", "Phases", "rollback", "Tab"] {
        assert!(!screen.contains(absent), "{absent:?} shown:\n{screen}");
    }
    assert!(screen.contains("q quit"), "{screen}");
    assert_eq!(app.line_modes(), (false, false), "raw mode");

    append(&log, "first file line one\nfirst file line two\n");
    app.wait_for("first file line two");
    app.wait_for("first file line one");

    // Rotation as logrotate does it: the file is renamed (and written to a last time), a new one is created.
    let rotated = dir.path().join("app.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    append(&rotated, "last line of the old file\n");
    std::fs::write(&log, "").unwrap();
    append(&log, "second file line one\n");
    app.wait_for("second file line one");
    app.wait_for("last line of the old file");
    app.wait_for("was rotated; following the new file");
    append(&log, "second file line two\n");
    app.wait_for("second file line two");
    // In order: the old file read to its end before the new one.
    let screen = app.contents();
    let at = |text: &str| {
        screen
            .find(text)
            .unwrap_or_else(|| panic!("{text:?}:\n{screen}"))
    };
    assert!(at("last line of the old file") < at("second file line one"));
    assert!(at("first file line two") < at("last line of the old file"));

    app.send("q");
    assert_eq!(app.wait_exit(), 0, "q ends a tail with 0");
    app.assert_restored();
    assert_no_run_recorded(&data);
}

#[test]
fn tail_restarts_a_command_that_exits_and_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let marker = format!("dhtail{}", std::process::id());
    // One command prints a line and exits (restarted with backoff); one runs until deckhand quits.
    let once = format!("echo line from {marker}-once; sleep 0.2");
    let forever = format!("while :; do sleep 1; done; : {marker}-forever");
    let mut app = PtyApp::start(&["tail", "--cmd", &once, "--cmd", &forever], &data);
    app.wait_for("tailing 2 log sources");
    app.wait_for(&format!("line from {marker}-once"));
    // Shown as stopped, with when it starts again; then it runs again and its line shows a second time.
    app.wait_for("stopped: exit 0, restarting in");
    wait_for_count(&app, &format!("line from {marker}-once"), 2);
    // The tags: each command's first word.
    let screen = app.contents();
    assert!(screen.contains("echo |"), "{screen}");
    assert!(screen.contains("while"), "{screen}");
    // With two sources, `s` shows one alone.
    assert!(screen.contains("s source"), "{screen}");

    // The long-running command: its shell leads its own process group.
    let start = Instant::now();
    let shells = loop {
        // deckhand's own argv holds the command text too.
        let mut found = pids_with(&format!("{marker}-forever"));
        found.retain(|p| *p != app.pid());
        if !found.is_empty() || start.elapsed() > WAIT_LIMIT {
            break found;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(shells.len(), 1, "one shell for the command: {shells:?}");
    let pgid = shells[0];
    assert!(
        !group_members(pgid).is_empty(),
        "the command runs in its own group"
    );

    app.send("q");
    assert_eq!(app.wait_exit(), 0);
    app.assert_restored();
    // Nothing of either command outlives deckhand: no process with the marker, none left in the group.
    let start = Instant::now();
    while (!pids_with(&marker).is_empty() || !group_members(pgid).is_empty())
        && start.elapsed() < WAIT_LIMIT
    {
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(pids_with(&marker).is_empty(), "{:?}", pids_with(&marker));
    assert!(
        group_members(pgid).is_empty(),
        "left in the command's group: {:?}",
        group_members(pgid)
    );
    assert_no_run_recorded(&data);
}

#[test]
fn tail_applies_the_filter_from_the_start_and_marks_error_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("web.log");
    std::fs::write(&log, "").unwrap();
    let log_arg = log.display().to_string();
    let mut app = PtyApp::start(
        &["tail", &log_arg, "--filter", "keep", "--error", "BOOM"],
        &data,
    );
    app.wait_for("web.log running");
    // The filter shows as it does when typed with `/`.
    app.wait_for("/keep/");
    append(
        &log,
        "keep this calm line\ndrop this line\nkeep BOOM went the server\n",
    );
    app.wait_for("keep BOOM went the server");
    app.wait_for("keep this calm line");
    let screen = app.contents();
    assert!(!screen.contains("drop this line"), "{screen}");

    // `--error` marks its lines: drawn in the error colour, the calm line not.
    let colour_of = |text: &str| {
        let parser = app.screen.lock().unwrap();
        let grid = parser.screen();
        let (row, col) = (0..24u16)
            .find_map(|r| {
                let line = grid.contents_between(r, 0, r, 80);
                line.find(text)
                    .map(|c| (r, line[..c].chars().count() as u16))
            })
            .unwrap_or_else(|| panic!("{text:?} not on screen"));
        grid.cell(row, col).map(|c| c.fgcolor())
    };
    assert_eq!(colour_of("keep BOOM"), Some(vt100::Color::Idx(1)), "red");
    assert_ne!(colour_of("keep this calm"), Some(vt100::Color::Idx(1)));

    // `l` down to errors only: the calm line goes, the error line stays.
    app.send("l");
    app.wait_for("info+");
    app.send("l");
    app.wait_for("warn+");
    app.send("l");
    app.wait_for("| errors");
    let start = Instant::now();
    while app.contents().contains("keep this calm line") && start.elapsed() < WAIT_LIMIT {
        std::thread::sleep(Duration::from_millis(25));
    }
    let screen = app.contents();
    assert!(!screen.contains("keep this calm line"), "{screen}");
    assert!(screen.contains("keep BOOM went the server"), "{screen}");

    // A release's key does nothing here but say so; help lists the tail's keys only.
    app.send("R");
    app.wait_for("deckhand tail shows the logs only");
    app.send("?");
    app.wait_for("regex filter");
    let screen = app.contents();
    assert!(!screen.contains("roll back"), "{screen}");
    assert!(!screen.contains("checklist"), "{screen}");
    app.send("\x1b");
    let start = Instant::now();
    while app.contents().contains("regex filter") && start.elapsed() < WAIT_LIMIT {
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(!app.contents().contains("regex filter"));

    app.send("q");
    assert_eq!(app.wait_exit(), 0);
    app.assert_restored();
    assert_no_run_recorded(&data);
}

/// `deckhand tail ARGS` without a terminal: (exit code, stderr).
fn tail_without_a_terminal(args: &[&str], data: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .arg("tail")
        .args(args)
        .env("DECKHAND_DATA_DIR", data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tail_usage_errors_exit_2_with_a_message_naming_the_argument() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("app.log");
    std::fs::write(&log, "").unwrap();
    let log_arg = log.display().to_string();

    let (code, err) = tail_without_a_terminal(&[&log_arg, "--error", "(unclosed"], &data);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--error: invalid regex \"(unclosed\""),
        "{err}"
    );
    let (code, err) = tail_without_a_terminal(&["--cmd", "true", "--filter", "[a-"], &data);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--filter: invalid regex \"[a-\""), "{err}");
    let folder = dir.path().display().to_string();
    let (code, err) = tail_without_a_terminal(&[&folder], &data);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is a folder"), "{err}");
    let (code, err) = tail_without_a_terminal(&["--cmd", ""], &data);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--cmd \"\": must not be empty"), "{err}");
    // An error regex that matches an empty line would make every line an error.
    let (code, err) = tail_without_a_terminal(&[&log_arg, "--error", ""], &data);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--error") && err.contains("matches an empty line"),
        "{err}"
    );
    // Nothing to tail: clap's usage error names both ways to give a source.
    let (code, err) = tail_without_a_terminal(&[], &data);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("<FILE|--cmd <CMD>>"), "{err}");
    // Valid, but no terminal to draw on.
    let (code, err) = tail_without_a_terminal(&[&log_arg], &data);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs an interactive terminal"), "{err}");
    assert!(
        !data.exists(),
        "nothing written before the console could start"
    );
}

/// The terminal goes away without a SIGHUP reaching deckhand: its shell ignores hang-ups, and the kernel sends the
/// hang-up to the session's leader alone. deckhand notices by itself, ends its command and exits 1 (it spun on the
/// dead terminal and, when a signal came later, panicked with 101).
#[test]
fn tail_ends_when_its_terminal_goes_away_without_a_hang_up_signal() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rc = dir.path().join("rc");
    let marker = format!("dhlost{}", std::process::id());
    let script = format!(
        "trap '' HUP; \"$0\" tail --cmd 'sleep 1000; : {marker}'; echo $? > '{}'",
        rc.display()
    );
    let deckhand = env!("CARGO_BIN_EXE_deckhand");
    let mut app = PtyApp::start_program("/bin/sh", &["-c", &script, deckhand], &data, &[]);
    app.wait_for("tailing 1 log source");
    let mine = || pids_with(&format!(": {marker}"));
    // Its shell, deckhand and the command (each argv holds the marker).
    assert!(wait_until(|| mine().len() >= 3), "{:?}", mine());
    // Drawn: from here on nothing changes on screen, so no failed draw can tell deckhand the terminal is gone.
    app.wait_for("sleep running");
    app.hang_up();
    let code = || std::fs::read_to_string(&rc).unwrap_or_default();
    wait_until(|| !code().is_empty());
    let code = code();
    assert_eq!(
        code.trim(),
        "1",
        "deckhand's exit code after its terminal went away"
    );
    assert!(
        wait_until(|| mine().is_empty()),
        "the command outlived deckhand: {:?}",
        mine()
    );
}
