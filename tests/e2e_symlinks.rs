#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]
//! Issue 16, defect 1, through the real binary in a real pty: a symlink planted at the run lock made
//! `deckhand run` truncate its target, write the lock's JSON into it and chmod it 0600; one at `deckhand.log` got
//! log lines appended to its target. Now the lock refuses (the console does not start, the target is untouched)
//! and the log is not written (the operator is told why; the target is untouched). A plan that says its data
//! folder is shared (`[project] shared_data = true`) is let into a group-shared folder and writes for the group.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::pty::PtyApp;

const PLAN: &str = "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n\
                    [[phase]]\nname = \"Notes\"\nsteps = [{ run = \"echo hello\" }]\n";

/// A file of someone else's that must survive: its bytes and mode are checked after.
fn victim(dir: &Path) -> PathBuf {
    let path = dir.join("victim.txt");
    std::fs::write(&path, "precious\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

fn untouched(victim: &Path) {
    assert_eq!(std::fs::read_to_string(victim).unwrap(), "precious\n");
    let mode = std::fs::metadata(victim).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "the target's mode is kept");
}

fn plan_in(dir: &Path, source: &str) -> PathBuf {
    let path = dir.join("deckhand.toml");
    std::fs::write(&path, source).unwrap();
    std::fs::canonicalize(path).unwrap()
}

#[test]
fn a_symlink_at_the_run_lock_stops_the_console_and_its_target_is_untouched() {
    let data = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = victim(elsewhere.path());
    let plan = plan_in(elsewhere.path(), PLAN);
    let lock = deckhand::journal::lock_path(data.path(), &plan, "staging");
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&target, &lock).unwrap();

    let mut app = PtyApp::start(&["run", plan.to_str().unwrap()], data.path());
    let code = app.wait_exit();
    app.wait_for_output("is a symlink: refusing to write through it");
    assert_eq!(code, 1, "refused to start");
    untouched(&target);
    assert!(
        std::fs::symlink_metadata(&lock)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the planted link is left for the operator to look at"
    );
}

#[test]
fn a_symlink_at_deckhand_log_is_not_written_through() {
    let data = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let target = victim(elsewhere.path());
    let plan = plan_in(elsewhere.path(), PLAN);
    std::os::unix::fs::symlink(&target, data.path().join("deckhand.log")).unwrap();

    let mut app = PtyApp::start_with_env(
        &["run", plan.to_str().unwrap()],
        data.path(),
        &[("DECKHAND_LOG", "debug")],
    );
    app.wait_for_output("not writing diagnostics");
    app.wait_for("Notes");
    app.send("q");
    app.wait_exit();
    app.assert_restored();
    untouched(&target);
}

#[test]
fn a_plan_that_shares_its_data_folder_is_let_into_a_group_folder_and_writes_for_the_group() {
    let data = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let private = plan_in(elsewhere.path(), PLAN);
    let shared_source = PLAN.replace(
        "environment = \"staging\"\n",
        "environment = \"staging\"\nshared_data = true\n",
    );
    let shared = elsewhere.path().join("shared.toml");
    std::fs::write(&shared, shared_source).unwrap();

    // A group folder (0770) without the plan's word: refused, and told how to say it. (PtyApp makes the folder it
    // is given 0700, so it gets the plans' folder and the data folder comes through the environment.)
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
    let mut app = PtyApp::start_with_env(
        &["run", private.to_str().unwrap()],
        elsewhere.path(),
        &[("DECKHAND_DATA_DIR", data.path().to_str().unwrap())],
    );
    assert_eq!(app.wait_exit(), 1);
    app.wait_for_output("shared_data = true");

    // With it: the console starts; what it creates is for the group (0660 files, 0770 folders), never others.
    let mut app = PtyApp::start_with_env(
        &["run", shared.to_str().unwrap()],
        elsewhere.path(),
        &[("DECKHAND_DATA_DIR", data.path().to_str().unwrap())],
    );
    app.wait_for("Notes");
    app.send("q");
    app.wait_exit();
    let runs = deckhand::journal::list_runs(data.path()).unwrap();
    assert_eq!(runs.len(), 1);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&runs[0].journal), 0o660);
    assert_eq!(mode(runs[0].journal.parent().unwrap()), 0o770);
    assert_eq!(
        mode(data.path()),
        0o770,
        "the folder's own mode is the team's"
    );

    // Open to every user: refused even when shared on purpose.
    std::fs::set_permissions(data.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut app = PtyApp::start_with_env(
        &["run", shared.to_str().unwrap()],
        elsewhere.path(),
        &[("DECKHAND_DATA_DIR", data.path().to_str().unwrap())],
    );
    assert_eq!(app.wait_exit(), 1);
    app.wait_for_output("chmod o-rwx");
}
