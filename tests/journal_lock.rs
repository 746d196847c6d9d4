//! The run lock: one console per plan and environment; released on drop; a dead holder's lock is taken over;
//! racing acquirers cannot both win.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use deckhand::journal::{LockError, LockInfo, acquire, lock_path};

const PLAN: &str = "/srv/shop/deckhand.toml";

fn info(pid: u32, user: &str) -> LockInfo {
    LockInfo {
        pid,
        run: format!("run-{pid}-{user}"),
        journal: PathBuf::from(format!("/data/runs/run-{pid}/journal.jsonl")),
        user: user.into(),
        host: "bastion".into(),
        plan: PLAN.into(),
        environment: "production".into(),
        started: "2026-11-21T12:00:00Z".into(),
    }
}

#[test]
fn second_acquire_is_refused_while_held_and_names_the_holder() {
    let d = tempfile::tempdir().unwrap();
    let lock = acquire(
        d.path(),
        Path::new(PLAN),
        "production",
        info(std::process::id(), "alice"),
    )
    .unwrap();
    assert!(lock.stale.is_none());
    let mode = std::fs::metadata(lock.path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        lock.path(),
        lock_path(d.path(), Path::new(PLAN), "production")
    );
    let name = lock
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(name.len(), 16 + ".lock".len(), "{name}");

    let err = acquire(d.path(), Path::new(PLAN), "production", info(1, "bob")).unwrap_err();
    match &err {
        LockError::Held(holder) => assert_eq!(holder.user, "alice"),
        other => panic!("expected Held, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&std::process::id().to_string()),
        "{message}"
    );
    assert!(message.contains("alice"), "{message}");
}

#[test]
fn released_after_drop() {
    let d = tempfile::tempdir().unwrap();
    let lock = acquire(d.path(), Path::new(PLAN), "production", info(10, "alice")).unwrap();
    let path = lock.path().to_path_buf();
    drop(lock);
    assert!(!path.exists(), "the lock file is removed on drop");
    let again = acquire(d.path(), Path::new(PLAN), "production", info(11, "bob")).unwrap();
    assert!(
        again.stale.is_none(),
        "a clean release leaves nothing stale"
    );
}

#[test]
fn update_run_rewrites_the_holder() {
    let d = tempfile::tempdir().unwrap();
    let mut lock = acquire(d.path(), Path::new(PLAN), "production", info(12, "alice")).unwrap();
    lock.update_run(
        "2026-11-21T120000Z-12",
        Path::new("/data/runs/x/journal.jsonl"),
    )
    .unwrap();
    let text = std::fs::read_to_string(lock.path()).unwrap();
    assert!(text.contains("2026-11-21T120000Z-12"), "{text}");
    let err = acquire(d.path(), Path::new(PLAN), "production", info(13, "bob")).unwrap_err();
    assert!(matches!(err, LockError::Held(h) if h.run == "2026-11-21T120000Z-12"));
    let path = lock.path().to_path_buf();
    drop(lock);
    assert!(!path.exists());
}

#[test]
fn a_stale_lock_from_a_dead_pid_is_taken_over() {
    let d = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let stale = info(dead, "carol");
    assert!(!stale.pid_alive());
    let path = lock_path(d.path(), Path::new(PLAN), "production");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec(&stale).unwrap()).unwrap();

    let lock = acquire(d.path(), Path::new(PLAN), "production", info(20, "dave")).unwrap();
    assert_eq!(lock.stale.as_ref(), Some(&stale));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("dave") && !text.contains("carol"), "{text}");
}

#[test]
fn a_corrupt_unheld_lock_file_is_taken_over() {
    let d = tempfile::tempdir().unwrap();
    let path = lock_path(d.path(), Path::new(PLAN), "production");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"{ torn").unwrap();
    let lock = acquire(d.path(), Path::new(PLAN), "production", info(21, "erin")).unwrap();
    assert!(lock.stale.is_none());
}

#[test]
fn another_environment_or_plan_does_not_conflict() {
    let d = tempfile::tempdir().unwrap();
    let _prod = acquire(d.path(), Path::new(PLAN), "production", info(30, "alice")).unwrap();
    let _staging = acquire(d.path(), Path::new(PLAN), "staging", info(31, "bob")).unwrap();
    let _other = acquire(
        d.path(),
        Path::new("/srv/blog/deckhand.toml"),
        "production",
        info(32, "carol"),
    )
    .unwrap();
}

#[test]
fn eight_racing_acquirers_exactly_one_wins() {
    for _round in 0..5 {
        let d = Arc::new(tempfile::tempdir().unwrap());
        let barrier = Arc::new(Barrier::new(8));
        let tried = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8u32)
            .map(|i| {
                let d = Arc::clone(&d);
                let barrier = Arc::clone(&barrier);
                let tried = Arc::clone(&tried);
                std::thread::spawn(move || {
                    barrier.wait();
                    let got = acquire(d.path(), Path::new(PLAN), "production", info(100 + i, "x"));
                    // Hold on (to the lock, if won) until everyone has tried.
                    tried.wait();
                    match got {
                        Ok(_lock) => true,
                        Err(LockError::Held(_)) => false,
                        Err(e) => panic!("unexpected: {e}"),
                    }
                })
            })
            .collect();
        let winners = threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|won| *won)
            .count();
        assert_eq!(winners, 1);
    }
}
