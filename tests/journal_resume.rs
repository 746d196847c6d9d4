//! What earlier runs left: the latest unfinished run of a plan and environment, the chain of resumed runs, and
//! following a journal another console is writing.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use deckhand::journal::{Completed, Event, Journal, Stage, chain, follow, latest_unfinished};

const PLAN: &str = "/srv/shop/deckhand.toml";

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000 + secs)
}

fn started(environment: &str, pid: u32) -> Event {
    Event::RunStarted {
        user: "ops".into(),
        host: "bastion".into(),
        ssh_client: None,
        plan: PLAN.into(),
        plan_checksum: "00".into(),
        project: "shop".into(),
        environment: environment.into(),
        version: "0.1.0".into(),
        pid,
    }
}

fn quit() -> Event {
    Event::Quit {
        exit_code: 0,
        reason: "operator quit".into(),
        outcome: None,
    }
}

fn run(dir: &Path, at: u64, events: Vec<Event>) -> Journal {
    let mut j = Journal::create(dir, t(at)).unwrap();
    for e in events {
        j.append(e, t(at)).unwrap();
    }
    j
}

/// A console run: its `RunStarted` is followed by a preflight result, as a console's is.
fn console_run(dir: &Path, at: u64, events: Vec<Event>) -> Journal {
    let mut j = Journal::create(dir, t(at)).unwrap();
    for e in events {
        let console = matches!(e, Event::RunStarted { .. });
        j.append(e, t(at)).unwrap();
        if console {
            j.append(preflight(), t(at)).unwrap();
        }
    }
    j
}

fn preflight() -> Event {
    Event::PreflightChecked {
        check: "database".into(),
        ok: true,
        detail: "db:5432/shop".into(),
    }
}

#[test]
fn a_backup_from_the_command_line_is_not_a_run_to_resume_and_does_not_hide_one() {
    let d = tempfile::tempdir().unwrap();
    let hung = console_run(
        d.path(),
        0,
        vec![
            started("production", 4242),
            Event::Signal {
                name: "SIGHUP".into(),
            },
            quit(),
        ],
    );
    // `deckhand backup` later, on the same plan: a run of its own, with no preflight.
    let mut cli = Journal::create(d.path(), t(100)).unwrap();
    cli.append(started("production", 5151), t(100)).unwrap();
    cli.append(quit(), t(101)).unwrap();
    let prev = latest_unfinished(d.path(), Path::new(PLAN), "production")
        .unwrap()
        .expect("the hung-up console run");
    assert_eq!(prev.run, hung.run_id());
    assert!(prev.hung_up);
}

#[test]
fn nothing_to_resume_without_runs() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(
        latest_unfinished(d.path(), Path::new(PLAN), "production").unwrap(),
        None
    );
}

#[test]
fn a_crashed_run_is_resumable() {
    let d = tempfile::tempdir().unwrap();
    let j = console_run(
        d.path(),
        0,
        vec![
            started("production", 4242),
            Event::StageStarted {
                stage: Stage::Deploy,
            },
        ],
    );
    let prev = latest_unfinished(d.path(), Path::new(PLAN), "production")
        .unwrap()
        .expect("resumable");
    assert_eq!(prev.run, j.run_id());
    assert_eq!(prev.journal, j.path());
    assert_eq!(prev.entries.len(), 3, "its start, its preflight, the stage");
    assert_eq!(prev.pid, 4242);
    assert!(!prev.ended && !prev.hung_up);
    assert_eq!(
        latest_unfinished(d.path(), Path::new(PLAN), "staging").unwrap(),
        None,
        "another environment"
    );
    assert_eq!(
        latest_unfinished(d.path(), Path::new("/srv/blog/deckhand.toml"), "production").unwrap(),
        None,
        "another plan"
    );
}

#[test]
fn a_hang_up_before_quit_is_resumable() {
    let d = tempfile::tempdir().unwrap();
    console_run(
        d.path(),
        0,
        vec![
            started("production", 1),
            Event::Signal {
                name: "SIGHUP".into(),
            },
            quit(),
        ],
    );
    let prev = latest_unfinished(d.path(), Path::new(PLAN), "production")
        .unwrap()
        .expect("resumable");
    assert!(prev.ended && prev.hung_up);

    let d = tempfile::tempdir().unwrap();
    console_run(
        d.path(),
        0,
        vec![
            started("production", 1),
            Event::Error {
                context: "terminal".into(),
                message: "input/output error".into(),
            },
            quit(),
        ],
    );
    let prev = latest_unfinished(d.path(), Path::new(PLAN), "production").unwrap();
    assert!(prev.is_some_and(|p| p.hung_up));
}

#[test]
fn a_clean_quit_or_a_sign_off_is_not_resumable() {
    let d = tempfile::tempdir().unwrap();
    console_run(d.path(), 0, vec![started("production", 1), quit()]);
    assert_eq!(
        latest_unfinished(d.path(), Path::new(PLAN), "production").unwrap(),
        None
    );
    let d = tempfile::tempdir().unwrap();
    console_run(
        d.path(),
        0,
        vec![
            started("production", 1),
            Event::Signal {
                name: "SIGHUP".into(),
            },
            Event::SignedOff {
                by: "ops".into(),
                notes: String::new(),
            },
        ],
    );
    assert_eq!(
        latest_unfinished(d.path(), Path::new(PLAN), "production").unwrap(),
        None
    );
}

#[test]
fn only_the_latest_run_of_the_plan_counts() {
    let d = tempfile::tempdir().unwrap();
    let crashed = console_run(d.path(), 0, vec![started("production", 1)]);
    console_run(d.path(), 60, vec![started("production", 2), quit()]);
    // A later run of another environment does not hide the earlier one.
    console_run(d.path(), 120, vec![started("staging", 3)]);
    assert_eq!(
        latest_unfinished(d.path(), Path::new(PLAN), "production").unwrap(),
        None,
        "the newest production run finished"
    );
    let prev = latest_unfinished(d.path(), Path::new(PLAN), "staging").unwrap();
    assert_eq!(prev.map(|p| p.pid), Some(3));
    drop(crashed);
}

#[test]
fn chain_follows_resumed_runs_oldest_first() {
    let d = tempfile::tempdir().unwrap();
    let first = run(d.path(), 0, vec![started("production", 1)]);
    let second = run(
        d.path(),
        60,
        vec![
            started("production", 2),
            Event::Resumed {
                previous: first.run_id().into(),
                completed: vec![Completed::Checklist { ticked: 1, of: 1 }],
                next: Stage::Backup,
            },
        ],
    );
    let third = run(
        d.path(),
        120,
        vec![
            started("production", 3),
            Event::Resumed {
                previous: second.run_id().into(),
                completed: vec![
                    Completed::Checklist { ticked: 1, of: 1 },
                    Completed::Backup {
                        file: "/b/shop.dump".into(),
                    },
                ],
                next: Stage::Migrate,
            },
            quit(),
        ],
    );
    let entries = chain(d.path(), third.run_id()).unwrap();
    let runs: Vec<&str> = entries.iter().map(|e| e.run.as_str()).collect();
    assert_eq!(
        runs,
        [
            first.run_id(),
            second.run_id(),
            second.run_id(),
            third.run_id(),
            third.run_id(),
            third.run_id()
        ]
    );
    assert_eq!(chain(d.path(), first.run_id()).unwrap().len(), 1);
    assert!(chain(d.path(), "no-such-run").is_err());
}

#[test]
fn chain_survives_a_cycle() {
    let d = tempfile::tempdir().unwrap();
    let a = Journal::create(d.path(), t(0)).unwrap();
    let mut b = run(d.path(), 60, vec![started("production", 2)]);
    b.append(
        Event::Resumed {
            previous: a.run_id().into(),
            completed: vec![],
            next: Stage::Deploy,
        },
        t(60),
    )
    .unwrap();
    let mut a = a;
    a.append(
        Event::Resumed {
            previous: b.run_id().into(),
            completed: vec![],
            next: Stage::Deploy,
        },
        t(0),
    )
    .unwrap();
    let entries = chain(d.path(), b.run_id()).unwrap();
    assert_eq!(entries.len(), 3);
}

#[tokio::test]
async fn follow_reads_new_lines_until_quit() {
    let d = tempfile::tempdir().unwrap();
    let mut j = run(d.path(), 0, vec![started("production", std::process::id())]);
    let path = j.path().to_path_buf();
    // Each line is written once the follower has read the one before it: every one is new while following.
    let (read_tx, mut read_rx) = tokio::sync::watch::channel(0u64);
    let writer = tokio::spawn(async move {
        for i in 0..3 {
            read_rx.wait_for(|&seq| seq > i).await.unwrap();
            j.append(
                Event::StageStarted {
                    stage: [Stage::Preflight, Stage::Backup, Stage::Migrate][i as usize],
                },
                t(1),
            )
            .unwrap();
        }
        j.append(quit(), t(2)).unwrap();
        // Written after the Quit: not read.
        j.append(
            Event::Signal {
                name: "SIGTERM".into(),
            },
            t(3),
        )
        .unwrap();
    });
    let mut seen = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        follow(&path, std::process::id(), |e| {
            seen.push(e.seq);
            read_tx.send_replace(e.seq);
        }),
    )
    .await
    .expect("follow returns at the Quit")
    .unwrap();
    writer.await.unwrap();
    assert_eq!(seen, [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn follow_returns_when_the_writer_is_gone() {
    let d = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let j = run(d.path(), 0, vec![started("production", dead)]);
    let mut seen = 0;
    tokio::time::timeout(
        Duration::from_secs(10),
        follow(j.path(), dead, |_| seen += 1),
    )
    .await
    .expect("follow gives up on a dead writer")
    .unwrap();
    assert_eq!(seen, 1);
}
