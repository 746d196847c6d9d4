//! Issue 16, defects 1 and 7: every file deckhand writes refuses a symlink (or hard link) planted at its path, or
//! replaces the link, and never writes through it; the data folder's mode is checked; a closed stdout ends the
//! printing commands quietly (killed by SIGPIPE, as `cat` is), never with a panic.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use deckhand::journal::{self, Event, Journal, LockInfo};
use deckhand::safe_fs;

const SECRET: &[u8] = b"precious contents of another file\n";

/// A file outside the data folder that a planted symlink points at; its contents must never change.
fn victim(dir: &Path) -> PathBuf {
    let path = dir.join("victim");
    std::fs::write(&path, SECRET).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

fn untouched(victim: &Path) {
    assert_eq!(
        std::fs::read(victim).unwrap(),
        SECRET,
        "the symlink's target was written"
    );
    let mode = std::fs::metadata(victim).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o644, "the symlink's target was chmod'ed");
}

fn holder() -> LockInfo {
    LockInfo {
        pid: std::process::id(),
        run: "run-1".into(),
        journal: PathBuf::from("/data/runs/run-1/journal.jsonl"),
        user: "ops".into(),
        host: "bastion".into(),
        plan: "/srv/plan.toml".into(),
        environment: "production".into(),
        started: "2026-11-21T12:00:00Z".into(),
    }
}

#[test]
fn a_symlink_at_the_lock_file_is_refused_and_its_target_untouched() {
    let d = tempfile::tempdir().unwrap();
    let target = victim(d.path());
    let data = d.path().join("data");
    let path = journal::lock_path(&data, Path::new("/srv/plan.toml"), "production");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    symlink(&target, &path).unwrap();
    let err = journal::acquire(&data, Path::new("/srv/plan.toml"), "production", holder())
        .expect_err("a symlinked lock file must be refused");
    assert!(err.to_string().contains("symlink"), "{err}");
    untouched(&target);
}

#[test]
fn a_hard_link_at_the_lock_file_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let path = journal::lock_path(&data, Path::new("/srv/plan.toml"), "production");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let target = victim(path.parent().unwrap());
    std::fs::hard_link(&target, &path).unwrap();
    let err = journal::acquire(&data, Path::new("/srv/plan.toml"), "production", holder())
        .expect_err("a hard-linked lock file must be refused");
    assert!(err.to_string().contains("hard link"), "{err}");
    untouched(&target);
}

#[test]
fn appended_files_refuse_a_symlink_and_new_ones_are_0600() {
    // deckhand.log and the step logs are opened with safe_fs::open_append.
    let d = tempfile::tempdir().unwrap();
    let target = victim(d.path());
    let log = d.path().join("deckhand.log");
    symlink(&target, &log).unwrap();
    let err = safe_fs::open_append(&log).expect_err("a symlinked log must be refused");
    assert!(err.to_string().contains("symlink"), "{err}");
    untouched(&target);

    let fresh = d.path().join("fresh.log");
    drop(safe_fs::open_append(&fresh).unwrap());
    assert_eq!(std::fs::metadata(&fresh).unwrap().mode() & 0o777, 0o600);
    // An existing looser file of ours is tightened.
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(safe_fs::open_append(&fresh).unwrap());
    assert_eq!(std::fs::metadata(&fresh).unwrap().mode() & 0o777, 0o600);
}

#[test]
fn new_files_refuse_anything_at_their_path() {
    let d = tempfile::tempdir().unwrap();
    let target = victim(d.path());
    let path = d.path().join("journal.jsonl");
    symlink(&target, &path).unwrap();
    assert!(safe_fs::create_new(&path).is_err());
    untouched(&target);
}

#[test]
fn a_symlinked_runs_folder_is_refused_for_a_new_journal() {
    let d = tempfile::tempdir().unwrap();
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let data = d.path().join("data");
    std::fs::create_dir(&data).unwrap();
    symlink(&elsewhere, data.join("runs")).unwrap();
    let err = Journal::create(&data, SystemTime::now()).expect_err("refused");
    assert!(err.to_string().contains("symlink"), "{err}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
}

#[test]
fn the_report_replaces_a_symlink_planted_at_its_path() {
    let d = tempfile::tempdir().unwrap();
    let target = victim(d.path());
    let data = d.path().join("data");
    let mut j = Journal::create(&data, SystemTime::now()).unwrap();
    j.append(
        Event::ChecklistTicked {
            index: 0,
            item: "Staging verified".into(),
            checked: true,
        },
        SystemTime::now(),
    )
    .unwrap();
    let run_dir = j.run_dir().to_path_buf();
    symlink(&target, run_dir.join(journal::REPORT_FILE)).unwrap();
    let entries = journal::read_entries(j.path()).unwrap();
    let path = journal::write_report(&run_dir, &entries).unwrap();
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(
        meta.file_type().is_file(),
        "the link was replaced by the report"
    );
    assert_eq!(meta.mode() & 0o777, 0o600);
    untouched(&target);
}

#[test]
fn the_backup_record_replaces_a_symlink_planted_at_its_path() {
    let d = tempfile::tempdir().unwrap();
    let target = victim(d.path());
    let archive = d.path().join("shop.sqlite3");
    std::fs::write(&archive, b"x").unwrap();
    let sidecar = deckhand::backup::store::sidecar_path(&archive);
    symlink(&target, &sidecar).unwrap();
    safe_fs::replace(&sidecar, b"{}").unwrap();
    assert!(
        std::fs::symlink_metadata(&sidecar)
            .unwrap()
            .file_type()
            .is_file()
    );
    assert_eq!(std::fs::metadata(&sidecar).unwrap().mode() & 0o777, 0o600);
    untouched(&target);
}

#[test]
fn a_data_folder_open_to_others_is_refused_with_the_fix_unless_shared_on_purpose() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = safe_fs::check_data_dir(dir, false).unwrap_err();
    assert!(err.contains("mode 0755"), "{err}");
    assert!(
        err.contains(&format!("chmod 700 {}", dir.display())),
        "{err}"
    );
    assert!(err.contains(safe_fs::SHARED_DATA_ENV), "{err}");
    // Shared on purpose: the group may, other users may not.
    assert!(safe_fs::check_data_dir(dir, true).is_err());
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o770)).unwrap();
    assert!(safe_fs::check_data_dir(dir, true).is_ok());
    assert!(safe_fs::check_data_dir(dir, false).is_err());
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(safe_fs::check_data_dir(dir, false).is_ok());
}

/// Runs deckhand with a stdout whose reader is already gone: the first write meets a closed pipe, every time.
fn with_closed_stdout(args: &[&str], data: &Path) -> std::process::Output {
    // The demo plan's migrations folder, as `deckhand demo` makes it (`check` looks for it).
    std::fs::create_dir_all(data.join("migrations")).unwrap();
    let (read, write) = nix::unistd::pipe().unwrap();
    drop(read);
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(args)
        .env("DECKHAND_DATA_DIR", data)
        .env("DECKHAND_DEMO_DIR", data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::from(write))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_stdout_ends_the_printing_commands_quietly() {
    let d = tempfile::tempdir().unwrap();
    let commands: [&[&str]; 3] = [
        &["check", "config/demo.toml"],
        &["lint", "config/demo-migrations"],
        &["history"],
    ];
    for args in commands {
        let out = with_closed_stdout(args, d.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
        assert_eq!(
            out.status.signal(),
            Some(nix::libc::SIGPIPE),
            "{args:?}: ended by SIGPIPE, as cat is: {:?} {stderr}",
            out.status
        );
    }
}

/// Issue 16, defect 7, for the commands that need a database, a run and a backup: the demo plan's SQLite shop
/// (its three migrations pending), one `deckhand backup` (a run and an archive), then `status`, `report --stdout`,
/// `verify` and `migrate`, each with its stdout already closed.
#[test]
fn a_closed_stdout_ends_status_report_verify_and_migrate_quietly() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path();
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o700)).unwrap();
    let migrations = data.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    for entry in
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/demo-migrations"))
            .unwrap()
    {
        let from = entry.unwrap().path();
        std::fs::copy(&from, migrations.join(from.file_name().unwrap())).unwrap();
    }
    let url = format!("sqlite://{}/shop.db?mode=rwc", data.display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use sqlx::Connection;
        let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("CREATE TABLE note (id integer primary key, body text)")
            .execute(&mut db)
            .await
            .unwrap();
        db.close().await.unwrap();
    });
    let backup = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["backup", "config/demo.toml"])
        .env("DECKHAND_DATA_DIR", data)
        .env("DECKHAND_DEMO_DIR", data)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(
        backup.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    let archive = std::fs::read_dir(data.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "sqlite3"))
        .expect("the backup archive");
    let archive = archive.to_str().unwrap();
    let commands: [&[&str]; 4] = [
        &["status", "config/demo.toml"],
        &["report", "--stdout"],
        &["verify", archive],
        &[
            "migrate",
            "config/demo.toml",
            "--no-dry-run",
            "closed-pipe test",
            // `note` is made by hand above: drift from the history, gone past with a reason.
            "--drift",
            "closed-pipe test",
            "--format",
            "json",
        ],
    ];
    for args in commands {
        let out = with_closed_stdout(args, data);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        if args[0] == "migrate" {
            // A command that changes the database is never stopped half-way by a reader going away: it drops
            // its output, finishes, and says how it ended by its exit code.
            assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
            assert!(stderr.contains("applied 3/3"), "{stderr}");
            continue;
        }
        assert_eq!(
            out.status.signal(),
            Some(nix::libc::SIGPIPE),
            "{args:?}: ended by SIGPIPE, as cat is: {:?} {stderr}",
            out.status
        );
    }
}
