//! Integration tests of the command runner against real `sh` processes: output batching and order,
//! exit reporting, timeouts, cancellation, cleanup of whole process groups, logging and sanitizing.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use deckhand::runner::command::{CommandSpec, MAX_LINE_BYTES, run_command};
use deckhand::runner::{OutputLine, RunnerEvent, StepId, StepOutcome, Stream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Bound on any single run: only there so a broken runner fails the test instead of hanging it.
const HANG_GUARD_SECS: u64 = 20;
/// Short grace so the TERM → KILL path is exercised quickly.
const SHORT_GRACE_MS: u64 = 300;
/// Timeout of the steps that are meant to time out.
const STEP_TIMEOUT_MS: u64 = 300;
/// How long a killed process may take to disappear after the runner is done.
const GONE_WITHIN_MS: u64 = 5_000;
/// How often a process is checked while waiting for it to disappear.
const GONE_POLL_MS: u64 = 20;

const ID: StepId = StepId { phase: 1, step: 2 };

/// A step running `command` in `dir`, logging under `dir/logs/deep/`, with a short grace.
fn spec(dir: &Path, command: &str) -> CommandSpec {
    CommandSpec {
        id: ID,
        command: command.to_owned(),
        cwd: Some(dir.to_path_buf()),
        env: Vec::new(),
        timeout: None,
        log_path: dir.join("logs/deep/step.log"),
        grace: Duration::from_millis(SHORT_GRACE_MS),
        masker: deckhand::secrets::Masker::default(),
    }
}

fn timing_out(dir: &Path, command: &str) -> CommandSpec {
    let mut s = spec(dir, command);
    s.timeout = Some(Duration::from_millis(STEP_TIMEOUT_MS));
    s
}

/// Runs `spec` and collects every event until the runner drops its sender.
async fn run(spec: CommandSpec) -> Vec<RunnerEvent> {
    run_observed(spec, CancellationToken::new(), |_| {}).await
}

/// Like [`run`], calling `observe` on each event as it arrives; checks the event framing.
async fn run_observed(
    spec: CommandSpec,
    cancel: CancellationToken,
    mut observe: impl FnMut(&RunnerEvent),
) -> Vec<RunnerEvent> {
    let (tx, mut rx) = mpsc::channel(8);
    let task = tokio::spawn(run_command(spec, tx, cancel));
    let collect = async {
        let mut events = Vec::new();
        while let Some(event) = rx.recv().await {
            observe(&event);
            events.push(event);
        }
        events
    };
    let events = tokio::time::timeout(Duration::from_secs(HANG_GUARD_SECS), collect)
        .await
        .expect("runner hung");
    task.await.expect("runner task panicked");
    // StepStarted first (unless the step never started), exactly one StepFinished, and it is last.
    let finished = events
        .iter()
        .filter(|e| matches!(e, RunnerEvent::StepFinished { .. }))
        .count();
    assert_eq!(finished, 1, "{events:?}");
    assert!(matches!(
        events.last(),
        Some(RunnerEvent::StepFinished { id: ID, .. })
    ));
    if events.len() > 1 {
        assert!(matches!(events[0], RunnerEvent::StepStarted { id: ID, .. }));
    }
    events
}

fn outcome(events: &[RunnerEvent]) -> StepOutcome {
    match events.last() {
        Some(RunnerEvent::StepFinished { outcome, .. }) => outcome.clone(),
        other => panic!("last event is not StepFinished: {other:?}"),
    }
}

fn leader_pid(events: &[RunnerEvent]) -> i32 {
    match events.first() {
        Some(RunnerEvent::StepStarted { pid, .. }) => i32::try_from(*pid).expect("pid"),
        other => panic!("first event is not StepStarted: {other:?}"),
    }
}

fn output(events: &[RunnerEvent]) -> Vec<OutputLine> {
    let batches = events.iter().filter_map(|e| match e {
        RunnerEvent::Output { id, lines } => {
            assert_eq!(*id, ID);
            assert!(!lines.is_empty(), "empty batch sent");
            Some(lines.clone())
        }
        _ => None,
    });
    batches.flatten().collect()
}

fn texts(events: &[RunnerEvent], stream: Stream) -> Vec<String> {
    let lines = output(events).into_iter().filter(|l| l.stream == stream);
    lines.map(|l| l.text).collect()
}

fn pidfile(dir: &Path) -> i32 {
    let text = std::fs::read_to_string(dir.join("pidfile")).expect("pidfile");
    text.trim().parse().expect("pid in pidfile")
}

/// Gone means no /proc entry or a zombie (pid 1 of a container may reap orphans late or never).
fn is_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|at| stat[at + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z"),
    }
}

async fn assert_gone_soon(pid: i32) {
    let deadline = Instant::now() + Duration::from_millis(GONE_WITHIN_MS);
    while !is_gone(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still alive");
        tokio::time::sleep(Duration::from_millis(GONE_POLL_MS)).await;
    }
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_lines_arrive_complete_in_order_and_batched() {
    let dir = tmp();
    let events = run(spec(dir.path(), "seq 1 2000")).await;
    let expected: Vec<String> = (1..=2000).map(|n| n.to_string()).collect();
    assert_eq!(texts(&events, Stream::Stdout), expected);
    let batches = events
        .iter()
        .filter(|e| matches!(e, RunnerEvent::Output { .. }))
        .count();
    assert!(
        batches < expected.len() / 10,
        "{batches} batches for 2000 lines"
    );
    assert_eq!(outcome(&events), StepOutcome::Exited(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stderr_lines_are_tagged_and_each_stream_keeps_order() {
    let dir = tmp();
    let cmd = "for i in 1 2 3; do echo out$i; echo err$i >&2; done";
    let events = run(spec(dir.path(), cmd)).await;
    assert_eq!(texts(&events, Stream::Stdout), ["out1", "out2", "out3"]);
    assert_eq!(texts(&events, Stream::Stderr), ["err1", "err2", "err3"]);
    assert!(output(&events).iter().all(|l| !l.truncated));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_signals_are_reported() {
    let dir = tmp();
    for (cmd, code) in [("true", 0), ("echo x; exit 3", 3)] {
        assert_eq!(
            outcome(&run(spec(dir.path(), cmd)).await),
            StepOutcome::Exited(code)
        );
    }
    let killed = run(spec(dir.path(), "kill -9 $$")).await;
    assert_eq!(outcome(&killed), StepOutcome::Signalled(9));
    assert!(!outcome(&killed).is_success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_terminates_the_whole_group() {
    let dir = tmp();
    let cmd = "sleep 300 & echo $! > pidfile; wait";
    let events = run(timing_out(dir.path(), cmd)).await;
    assert_eq!(outcome(&events), StepOutcome::TimedOut);
    assert_gone_soon(pidfile(dir.path())).await;
    assert_gone_soon(leader_pid(&events)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_after_first_line_terminates_the_group() {
    let dir = tmp();
    let cmd = "sleep 300 & echo $! > pidfile; echo ready; wait";
    let cancel = CancellationToken::new();
    let events = run_observed(spec(dir.path(), cmd), cancel.clone(), |event| {
        if matches!(event, RunnerEvent::Output { .. }) {
            cancel.cancel();
        }
    })
    .await;
    assert_eq!(texts(&events, Stream::Stdout), ["ready"]);
    assert_eq!(outcome(&events), StepOutcome::Cancelled);
    assert_gone_soon(pidfile(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_ignoring_term_is_killed_after_grace() {
    let dir = tmp();
    // The leader dies on TERM; the inner shell (and its sleeps) ignore it and must be KILLed.
    // `\$\$` so that the inner shell, not the outer one, expands it.
    let inner = r"trap '' TERM; echo \$\$ > pidfile; while true; do sleep 0.1; done";
    let s = timing_out(dir.path(), &format!("sh -c \"{inner}\"; echo unreachable"));
    let started = Instant::now();
    let events = run(s).await;
    assert_eq!(outcome(&events), StepOutcome::TimedOut);
    // TERM did not end it: the runner had to wait out the grace before KILL.
    assert!(started.elapsed() >= Duration::from_millis(STEP_TIMEOUT_MS + SHORT_GRACE_MS));
    assert_gone_soon(pidfile(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_ignoring_term_is_killed_after_grace_on_cancel() {
    let dir = tmp();
    let cmd = "trap '' TERM; echo ready; while true; do sleep 0.1; done";
    let cancel = CancellationToken::new();
    // Cancel only once the trap is in place.
    let events = run_observed(spec(dir.path(), cmd), cancel.clone(), |event| {
        if matches!(event, RunnerEvent::Output { .. }) {
            cancel.cancel();
        }
    })
    .await;
    assert_eq!(outcome(&events), StepOutcome::Cancelled);
    assert_gone_soon(leader_pid(&events)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_leftovers_are_killed_and_do_not_block() {
    let dir = tmp();
    let cmd = "sleep 300 & echo $! > pidfile; echo done; exit 0";
    let events = run(spec(dir.path(), cmd)).await;
    assert_eq!(outcome(&events), StepOutcome::Exited(0));
    assert_eq!(texts(&events, Stream::Stdout), ["done"]);
    assert_gone_soon(pidfile(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cwd_is_a_spawn_failure_naming_the_path() {
    let dir = tmp();
    let missing = dir.path().join("no/such/dir");
    let mut s = spec(dir.path(), "echo never");
    s.cwd = Some(missing.clone());
    let events = run(s).await;
    assert_eq!(events.len(), 1, "only StepFinished expected: {events:?}");
    match outcome(&events) {
        StepOutcome::SpawnFailed(why) => {
            assert!(why.contains(&missing.display().to_string()), "{why}");
        }
        other => panic!("expected SpawnFailed, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_log_is_a_spawn_failure_and_nothing_runs() {
    let dir = tmp();
    let mut s = spec(dir.path(), "touch ran");
    std::fs::write(dir.path().join("file"), "").expect("write");
    s.log_path = dir.path().join("file/step.log");
    let events = run(s).await;
    assert!(matches!(outcome(&events), StepOutcome::SpawnFailed(_)));
    assert!(!dir.path().join("ran").exists());
}

/// Issue 16, defect 1: a symlink planted at a step's log path is never written through; the step does not run
/// (its output would have nowhere safe to go) and the link's target keeps its bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlink_at_the_step_log_is_refused_and_its_target_untouched() {
    let dir = tmp();
    let target = dir.path().join("victim.txt");
    std::fs::write(&target, "precious\n").expect("write");
    let mut s = spec(dir.path(), "touch ran; echo out");
    std::fs::create_dir_all(dir.path().join("logs")).expect("mkdir");
    s.log_path = dir.path().join("logs/step.log");
    std::os::unix::fs::symlink(&target, &s.log_path).expect("symlink");
    let events = run(s).await;
    match outcome(&events) {
        StepOutcome::SpawnFailed(why) => assert!(why.contains("is a symlink"), "{why}"),
        other => panic!("expected SpawnFailed, got {other:?}"),
    }
    assert!(!dir.path().join("ran").exists());
    assert_eq!(
        std::fs::read_to_string(&target).expect("read"),
        "precious\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_has_both_streams_raw_with_prefixes_and_mode_0600() {
    let dir = tmp();
    let cmd = r"echo out1; echo err1 >&2; printf 'raw\033[2J\r\n'; printf tail";
    let s = spec(dir.path(), cmd);
    let log_path: PathBuf = s.log_path.clone();
    let events = run(s).await;
    assert!(matches!(&events[0], RunnerEvent::StepStarted { log_path: p, .. } if *p == log_path));
    let log = std::fs::read_to_string(&log_path).expect("utf-8 log file");
    let mut lines: Vec<&str> = log.split_terminator('\n').collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["err| err1", "out| out1", "out| raw\x1b[2J\r", "out| tail"]
    );
    let meta = std::fs::metadata(&log_path).expect("log metadata");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(texts(&events, Stream::Stdout), ["out1", "raw^[[2J", "tail"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_and_cwd_are_applied() {
    let dir = tmp();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).expect("mkdir");
    let cmd = r#"echo "$DECKHAND_TEST_VAR"; pwd -P; echo "${HOME:+home}""#;
    let mut s = spec(dir.path(), cmd);
    s.cwd = Some(work.clone());
    s.env = vec![("DECKHAND_TEST_VAR".into(), "value with spaces".into())];
    let events = run(s).await;
    let canonical = work.canonicalize().expect("canonical");
    let home = std::env::var_os("HOME").map_or("", |_| "home");
    let expected = ["value with spaces", &canonical.display().to_string(), home];
    assert_eq!(texts(&events, Stream::Stdout), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminal_escapes_arrive_sanitized() {
    let dir = tmp();
    let cmd = r"printf 'a\033]0;title\007b\n\033[31mred\033[0m\tx\n'";
    let events = run(spec(dir.path(), cmd)).await;
    assert_eq!(
        texts(&events, Stream::Stdout),
        ["a^[]0;title^Gb", "red     x"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_line_is_truncated_and_next_line_is_intact() {
    let dir = tmp();
    let cmd = "head -c 204800 /dev/zero | tr '\\0' x; echo; echo next";
    let lines = output(&run(spec(dir.path(), cmd)).await);
    let shape: Vec<_> = lines.iter().map(|l| (l.text.len(), l.truncated)).collect();
    assert_eq!(shape, [(MAX_LINE_BYTES, true), (4, false)]);
    assert!(lines[0].text.bytes().all(|b| b == b'x'));
    assert_eq!(
        (lines[1].stream, lines[1].text.as_str()),
        (Stream::Stdout, "next")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_runner_kills_the_group() {
    let dir = tmp();
    let cmd = "sleep 300 & echo $! > pidfile; echo ready; wait";
    let s = spec(dir.path(), cmd);
    let (tx, mut rx) = mpsc::channel(8);
    let task = tokio::spawn(run_command(s, tx, CancellationToken::new()));
    let mut leader = None;
    let wait_ready = async {
        while let Some(event) = rx.recv().await {
            match event {
                RunnerEvent::StepStarted { pid, .. } => leader = i32::try_from(pid).ok(),
                RunnerEvent::Output { .. } => break,
                RunnerEvent::StepFinished { .. } => panic!("finished early"),
                other => panic!("a command runner sent {other:?}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(HANG_GUARD_SECS), wait_ready)
        .await
        .expect("no output");
    task.abort();
    assert!(task.await.expect_err("aborted").is_cancelled());
    assert_gone_soon(pidfile(dir.path())).await;
    assert_gone_soon(leader.expect("StepStarted")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_receiver_does_not_stop_the_step() {
    let dir = tmp();
    let s = spec(dir.path(), "seq 1 50000; echo last");
    let log_path = s.log_path.clone();
    let (tx, rx) = mpsc::channel(1);
    drop(rx);
    tokio::time::timeout(
        Duration::from_secs(HANG_GUARD_SECS),
        run_command(s, tx, CancellationToken::new()),
    )
    .await
    .expect("runner hung");
    let log = std::fs::read_to_string(log_path).expect("log");
    assert_eq!(log.lines().count(), 50_001);
    assert_eq!(log.lines().last(), Some("out| last"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_escaping_the_group_cannot_hold_the_step_open() {
    let dir = tmp();
    // `setsid` leaves the group but keeps stdout open; the runner must still finish.
    let cmd = "setsid sleep 300 & echo $! > pidfile; echo done";
    let events = run(spec(dir.path(), cmd)).await;
    let escaped = nix::unistd::Pid::from_raw(pidfile(dir.path()));
    let _ = nix::sys::signal::kill(escaped, nix::sys::signal::Signal::SIGKILL);
    assert_eq!(outcome(&events), StepOutcome::Exited(0));
    assert_eq!(texts(&events, Stream::Stdout), ["done"]);
}
