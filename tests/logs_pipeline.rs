//! The `[[logs]]` runners for real: a file followed across rotation and truncation, a command's million-line
//! burst counted exactly through the app's buffer, a 10 MB line, invalid UTF-8, CRLF, restarts with backoff.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use deckhand::app::{Action, LogBuffer, LogView, State, update};
use deckhand::logs::MAX_LINE_BYTES;
use deckhand::plan::{LogInput, LogSource, Resolved};
use deckhand::runner::logs::run_source;
use deckhand::runner::{Level, RunnerEvent, SourceLine, SourceState, Stream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

mod common;

const LIMIT: Duration = Duration::from_secs(30);

fn source(input: LogInput) -> LogSource {
    LogSource {
        name: "t".into(),
        input,
        error: None,
        quiet_after: Duration::from_secs(60),
        restart: false,
        error_rate: 0.05,
        window: Duration::from_secs(60),
        command_env: Default::default(),
    }
}

fn command(cmd: &str) -> LogSource {
    source(LogInput::Command(Resolved::literal(cmd)))
}

/// Collects events until `done` says so (or the limit passes).
async fn collect(
    rx: &mut mpsc::Receiver<RunnerEvent>,
    mut done: impl FnMut(&[SourceLine], &[SourceState]) -> bool,
) -> (Vec<SourceLine>, Vec<SourceState>) {
    let (mut lines, mut states) = (Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !done(&lines, &states) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(RunnerEvent::LogLines { lines: l, .. })) => lines.extend(l.to_lines()),
            Ok(Some(RunnerEvent::LogSource { state, .. })) => states.push(state),
            Ok(Some(_)) => {}
            Ok(None) => break,
            Err(_) => panic!("timed out; lines {lines:?} states {states:?}"),
        }
    }
    (lines, states)
}

/// Runs `cmd` as a source (not restarted) until it stops: every line it gave; its task has ended.
async fn until_it_stops(cmd: &str) -> Vec<SourceLine> {
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(run_source(
        0,
        command(cmd),
        tx,
        CancellationToken::new(),
        Default::default(),
    ));
    let (lines, _) = collect(&mut rx, |_, s| {
        s.iter().any(|s| matches!(s, SourceState::Stopped { .. }))
    })
    .await;
    task.await.unwrap();
    lines
}

fn texts(lines: &[SourceLine]) -> Vec<&str> {
    lines.iter().map(|l| l.text.as_str()).collect()
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[tokio::test]
async fn file_is_followed_across_rotation_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.log");
    append(&path, "old history, skipped\n");
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_source(
        0,
        source(LogInput::File(path.clone())),
        tx,
        cancel.clone(),
        Default::default(),
    ));
    let (_, states) = collect(&mut rx, |_, s| !s.is_empty()).await;
    assert_eq!(states, [SourceState::Running { pid: None }]);

    append(&path, "one\ntwo\npart");
    let (lines, _) = collect(&mut rx, |l, _| l.len() == 2).await;
    assert_eq!(texts(&lines), ["one", "two"]);
    assert!(
        lines.iter().all(|l| l.stream == Stream::Stdout),
        "a file's lines are stdout"
    );

    // Rotation: the old file's unfinished line is finished, then the new file is read from its start.
    append(&path, "ial\nlast old\n");
    std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
    append(&path, "new one\n");
    let (lines, states) = collect(&mut rx, |l, s| l.len() >= 3 && !s.is_empty()).await;
    assert_eq!(texts(&lines), ["partial", "last old", "new one"]);
    assert!(
        matches!(&states[0], SourceState::Note(n) if n.contains("rotated")),
        "{states:?}"
    );

    // Truncation: reading starts over from 0. The source must see the file shrink before it grows again (a longer
    // write first would look like growth): the next line is written once it says so.
    std::fs::write(&path, "").unwrap();
    let (_, states) = collect(&mut rx, |_, s| !s.is_empty()).await;
    assert!(
        matches!(&states[0], SourceState::Note(n) if n.contains("truncated")),
        "{states:?}"
    );
    append(&path, "after truncate\n");
    let (lines, _) = collect(&mut rx, |l, _| !l.is_empty()).await;
    assert_eq!(texts(&lines), ["after truncate"]);

    cancel.cancel();
    tokio::time::timeout(LIMIT, task).await.unwrap().unwrap();
}

#[tokio::test]
async fn missing_file_is_waited_for_then_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later.log");
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_source(
        0,
        source(LogInput::File(path.clone())),
        tx,
        cancel.clone(),
        Default::default(),
    ));
    let (_, states) = collect(&mut rx, |_, s| !s.is_empty()).await;
    assert!(
        matches!(&states[0], SourceState::Waiting(w) if w.ends_with("later.log does not exist yet")),
        "{states:?}"
    );
    append(&path, "hello\n");
    let (lines, states) = collect(&mut rx, |l, _| !l.is_empty()).await;
    assert_eq!(states, [SourceState::Running { pid: None }]);
    assert_eq!(
        texts(&lines),
        ["hello"],
        "a file that appears later is read from its start"
    );
    cancel.cancel();
    tokio::time::timeout(LIMIT, task).await.unwrap().unwrap();
}

/// A plan state with one `[[logs]]` source, fed every event of the runner.
fn state_with_source() -> State {
    let plan = common::plan_from(
        r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Smoke"
steps = [{ run = "true" }]

[[logs]]
name = "burst"
command = "true"
"#,
    );
    State::new(plan, Instant::now(), 80, 24)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn million_line_burst_arrives_with_exact_counts() {
    const N: u64 = 1_000_000;
    let mut state = state_with_source();
    // A smaller buffer so that lines are also dropped: every line is either kept or counted.
    state.logs = LogBuffer::with_limits(300_000, 256 * 1024 * 1024);
    state.logview = LogView::new(&state.plan, state.now);
    let (tx, mut rx) = mpsc::channel(8);
    let cancel = CancellationToken::new();
    let cmd = format!("seq 1 {N}");
    let task = tokio::spawn(run_source(
        0,
        command(&cmd),
        tx,
        cancel.clone(),
        Default::default(),
    ));
    let mut stopped = None;
    let mut received = 0u64;
    while stopped.is_none() {
        let ev = tokio::time::timeout(LIMIT, rx.recv())
            .await
            .unwrap()
            .unwrap();
        match &ev {
            RunnerEvent::LogLines { lines, .. } => received += lines.len() as u64,
            RunnerEvent::LogSource {
                state: SourceState::Stopped { why, .. },
                ..
            } => stopped = Some(why.clone()),
            _ => {}
        }
        update(&mut state, Action::Runner(ev), Instant::now());
    }
    assert_eq!(stopped.as_deref(), Some("exit 0"));
    assert_eq!(received, N);
    // The one extra line is the pane's "stopped: exit 0" note.
    assert_eq!(state.logs.len() as u64 + state.logs.dropped(), N + 1);
    assert_eq!(state.logs.dropped(), N + 1 - 300_000);
    let last_line = state.logs.get(state.logs.len() - 2).unwrap();
    assert_eq!(last_line.text, N.to_string());
    assert_eq!(state.logview.sources[0].lines, N);
    tokio::time::timeout(LIMIT, task).await.unwrap().unwrap();
}

#[tokio::test]
async fn ten_megabyte_line_is_capped_and_nothing_after_it_is_lost() {
    let cmd = "head -c 10000000 /dev/zero | tr '\\0' a; echo; echo after; echo last >&2";
    let lines = until_it_stops(cmd).await;
    assert_eq!(
        lines.len(),
        3,
        "{:?}",
        texts(&lines).iter().map(|t| t.len()).collect::<Vec<_>>()
    );
    assert_eq!(lines[0].text.len(), MAX_LINE_BYTES);
    assert!(lines[0].truncated);
    // stdout and stderr are separate pipes: their order relative to each other is not fixed.
    let mut rest: Vec<(&str, bool)> = lines[1..]
        .iter()
        .map(|l| (l.text.as_str(), l.truncated))
        .collect();
    rest.sort();
    assert_eq!(rest, [("after", false), ("last", false)]);
}

#[tokio::test]
async fn invalid_utf8_crlf_escapes_and_levels() {
    let cmd = r"printf 'caf\351 ok\r\nwindows line\r\n\033]0;pwned\007\033[2Jcleared\nWARN: slow\nE [ERROR] down\n'";
    let lines = until_it_stops(cmd).await;
    let t = texts(&lines);
    assert_eq!(t[0], "caf\u{fffd} ok");
    assert_eq!(t[1], "windows line");
    assert!(
        !t[2].contains('\x1b') && !t[2].contains('\x07'),
        "{:?}",
        t[2]
    );
    assert!(
        t[2].contains("pwned") && t[2].ends_with("cleared"),
        "{:?}",
        t[2]
    );
    let levels: Vec<Level> = lines.iter().map(|l| l.level).collect();
    assert_eq!(levels[3..], [Level::Warn, Level::Error]);
}

#[tokio::test]
async fn a_commands_stderr_lines_are_marked_apart_from_its_stdout() {
    let cmd = "echo out 1; echo err 1 >&2; echo out 2; echo err 2 >&2";
    let lines = until_it_stops(cmd).await;
    // The two pipes are read apart, so only each pipe's own order is certain.
    let mut got: Vec<(&str, Stream)> = lines.iter().map(|l| (l.text.as_str(), l.stream)).collect();
    got.sort_by_key(|(t, _)| *t);
    assert_eq!(
        got,
        [
            ("err 1", Stream::Stderr),
            ("err 2", Stream::Stderr),
            ("out 1", Stream::Stdout),
            ("out 2", Stream::Stdout),
        ]
    );
}

#[tokio::test]
async fn exiting_command_is_restarted_with_backoff() {
    let mut src = command("echo up; exit 1");
    src.restart = true;
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_source(0, src, tx, cancel.clone(), Default::default()));
    let stops = |s: &[SourceState]| {
        s.iter()
            .filter(|s| matches!(s, SourceState::Stopped { .. }))
            .count()
    };
    let (lines, states) = collect(&mut rx, |_, s| stops(s) == 2).await;
    assert_eq!(texts(&lines), ["up", "up"]);
    let stopped: Vec<&SourceState> = states
        .iter()
        .filter(|s| !matches!(s, SourceState::Running { .. }))
        .collect();
    assert_eq!(
        stopped,
        [
            &SourceState::Stopped {
                why: "exit 1".into(),
                restart_in: Some(Duration::from_secs(1))
            },
            &SourceState::Stopped {
                why: "exit 1".into(),
                restart_in: Some(Duration::from_secs(2))
            },
        ]
    );
    cancel.cancel();
    tokio::time::timeout(LIMIT, task).await.unwrap().unwrap();
}

#[tokio::test]
async fn cancel_terminates_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let cmd = format!(
        "sleep 300 & echo $! > {}; echo started; wait",
        pidfile.display()
    );
    let (tx, mut rx) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(run_source(
        0,
        command(&cmd),
        tx,
        cancel.clone(),
        Default::default(),
    ));
    collect(&mut rx, |l, _| !l.is_empty()).await;
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    cancel.cancel();
    tokio::time::timeout(LIMIT, task).await.unwrap().unwrap();
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        common::pty::process_gone(pid)
    });
    assert!(gone, "the background sleep outlived the source");
}
