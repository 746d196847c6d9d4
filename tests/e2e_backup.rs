//! Backups end to end with the real binary: the demo (SQLite) in a pseudo-terminal — back up, apply the pending
//! migration through the gate, restore the backup and find the migration pending again — and `deckhand backup` /
//! `deckhand verify` from the shell against a real PostgreSQL.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::pg::fresh_db;
use common::pty::PtyApp;
use deckhand::journal::{self, Event};

fn events(data_dir: &Path) -> Vec<Event> {
    let runs = journal::list_runs(data_dir).expect("list runs");
    assert_eq!(runs.len(), 1, "exactly one run recorded");
    journal::read_entries(&runs[0].journal)
        .expect("journal reads back")
        .into_iter()
        .map(|e| e.event)
        .collect()
}

/// Archives (not sidecars) in a backup folder.
fn archives(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
        .unwrap_or_default();
    out.retain(|p| !p.to_string_lossy().ends_with(".json"));
    out.sort();
    out
}

async fn applied_in_demo(db: &Path) -> i64 {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("open demo db");
    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .expect("read the ledger")
}

/// Waits until the open prompt takes keys (its instruction shows once the guard has passed).
fn settle(app: &PtyApp) {
    app.wait_prompt_ready();
}

#[tokio::test]
async fn demo_backup_gate_apply_then_restore_brings_the_pending_migration_back() {
    let data = tempfile::tempdir().expect("tempdir");
    let demo_db = data.path().join("demo/shop.db");
    let backups = data.path().join("demo/backups");
    let mut app = PtyApp::start(&["demo"], data.path());
    app.wait_for("Checklist 0/3");
    app.wait_for("1 pending");
    // The preflight's checks have answered (else the stage order asks about them first).
    app.wait_for("checks 5/5 ok");
    // Without a backup, applying asks why (after the checklist's own question).
    app.send("2");
    app.send("a");
    app.wait_for("Checklist incomplete");
    settle(&app);
    app.type_keys("demo run\r");
    app.wait_for("No verified backup");
    settle(&app);
    app.send("\x1b");
    app.wait_for("Cancelled: No verified backup");

    app.send("B");
    app.wait_for("backup verified");
    let written = archives(&backups);
    assert_eq!(written.len(), 1, "{written:?}");
    let mode = std::fs::metadata(&written[0]).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the backup is private");
    // The pending migration is tried first: a dry-run, rolled back.
    app.send("d");
    app.wait_for("Dry-run the pending migrations");
    settle(&app);
    app.send("y");
    app.wait_for("all rolled back");
    // Now the gates are open: straight to the confirmation, which names the backup.
    app.send("a");
    app.wait_for("Apply migrations");
    app.wait_for("verified acme-shop-demo-shop.db-");
    settle(&app);
    app.send("y");
    // The pending migration rewrites every order: the object must be typed.
    app.wait_for("Data loss: orders");
    settle(&app);
    app.type_keys("orders\r");
    app.wait_for("applied 1 migration");
    assert_eq!(applied_in_demo(&demo_db).await, 3);

    app.send("U");
    app.wait_for("Restore shop.db from a backup");
    app.wait_for("STOP THE APP FIRST");
    settle(&app);
    app.type_keys("shop.db\r");
    app.wait_for("restored acme-shop-demo-shop.db-");
    assert_eq!(
        applied_in_demo(&demo_db).await,
        2,
        "the restore brought back the state before the migration"
    );
    app.wait_for("1 pending");
    app.send("q");
    assert_eq!(app.wait_exit(), 1);
    app.assert_restored();

    let ev = events(data.path());
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::BackupVerified { ok: true, .. }))
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::MigrationApplied { .. }))
    );
    let kept = ev.iter().find_map(|e| match e {
        Event::RestoreFinished { kept, missing, .. } if missing.is_empty() => kept.clone(),
        _ => None,
    });
    let kept = kept.expect("restore journaled with the kept file");
    assert!(
        Path::new(&kept).exists(),
        "the replaced database file is kept: {kept}"
    );
}

fn plan(dir: &Path, with_backup: bool) -> PathBuf {
    let path = dir.join("deckhand.toml");
    let backup = if with_backup {
        "\n[backup]\ndir = \"backups\"\nkeep = 2\n"
    } else {
        ""
    };
    let text = format!(
        "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[database]\nurl = \"${{TEST_PLAN_DB}}\"\n\
         migrations = \"migrations\"\nformat = \"sqlx\"\n{backup}"
    );
    common::migrations::write(&path, &text);
    common::migrations::sqlx(
        &dir.join("migrations"),
        &[("1_orders", "CREATE TABLE orders (id int);\n")],
    );
    path
}

fn deckhand(args: &[&str], url: &str, data: &Path) -> (i32, String, String) {
    // deckhand refuses a data folder other users can reach; a temporary folder is 0755.
    std::fs::set_permissions(
        data,
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700),
    )
    .expect("chmod 700");
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(args)
        .env("TEST_PLAN_DB", url)
        .env(journal::DATA_DIR_ENV, data)
        .output()
        .expect("run deckhand");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn backup_and_verify_from_the_shell() {
    let tdb = fresh_db().await;
    let mut conn = tdb.connect().await;
    sqlx::raw_sql("CREATE TABLE customers (id int, name text); INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 5000) g;")
        .execute(&mut conn)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let plan_path = plan(dir.path(), true);
    let plan_arg = plan_path.display().to_string();

    let (code, _, err) = deckhand(&["backup", &plan_arg], &tdb.url, data.path());
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("verified: read back in full"), "{err}");
    let ev = events(data.path());
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::BackupTaken { sha256, .. } if sha256.len() == 64))
    );
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::BackupVerified {
            ok: true,
            compared_with_live: true,
            ..
        }
    )));
    assert!(matches!(ev.last(), Some(Event::Quit { exit_code: 0, .. })));

    let written = archives(&dir.path().join("backups"));
    assert_eq!(written.len(), 1, "{written:?}");
    let file = written[0].display().to_string();
    let (code, out, err) = deckhand(
        &["verify", &file, "--plan", &plan_arg],
        &tdb.url,
        data.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("good") && out.contains("none missing"),
        "{out}"
    );

    // A copy cut in half is bad, though pg_restore --list still reads its table of contents.
    let bytes = std::fs::read(&written[0]).unwrap();
    let cut = dir.path().join("cut.dump");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (code, out, _) = deckhand(
        &["verify", &cut.display().to_string()],
        &tdb.url,
        data.path(),
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("BAD"), "{out}");

    // Without [backup] there is nothing to back up into: a usage error.
    let bare = tempfile::tempdir().unwrap();
    let bare_plan = plan(bare.path(), false).display().to_string();
    let (code, _, err) = deckhand(&["backup", &bare_plan], &tdb.url, data.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("needs [database] and [backup]"), "{err}");
}
