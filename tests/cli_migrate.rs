//! `deckhand migrate` (issue 15, must-work 6): the real binary against a real PostgreSQL — the console's gates as
//! flags (production's name, each object whose data is lost, a verified backup or a reason, a passing dry-run or a
//! reason), exit codes 0 / 1 / 2 / 3, JSON on stdout, and the run journaled like a console run.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::migrations as m;
use common::pg::{TestDb, fresh_db};
use deckhand::journal::{self, Event};

fn plan(dir: &Path, environment: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("deckhand.toml");
    m::write(
        &path,
        &format!(
            "[project]\nname = \"shop\"\nenvironment = \"{environment}\"\n\n[database]\nurl = \"${{TEST_PLAN_DB}}\"\n\
             migrations = \"migrations\"\nformat = \"prisma\"\n{extra}"
        ),
    );
    path
}

/// Makes a test's data folder owner-only, as deckhand requires of a data folder (issue 16).
fn private_data_dir(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if dir.is_dir() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
    }
}

fn migrate(plan: &Path, data: &Path, db: &TestDb, flags: &[&str]) -> Output {
    // The data folder must be owner-only (issue 16): a temporary folder may be created 0755.
    private_data_dir(data);
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .arg("migrate")
        .arg(plan)
        .args(flags)
        .env("DECKHAND_DATA_DIR", data)
        .env("TEST_PLAN_DB", &db.url)
        .output()
        .expect("run deckhand")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn applied(db: &TestDb) -> Vec<String> {
    let mut conn = db.connect().await;
    sqlx::query_scalar(
        "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default()
}

const INIT: &str = "CREATE TABLE \"Customer\" (id serial PRIMARY KEY, email text NOT NULL);\n";
const DROP: &str = "DROP TABLE \"Legacy\";\n";

#[tokio::test]
async fn the_gates_refuse_with_3_until_their_flags_are_given_then_it_applies_with_0() {
    let db = fresh_db().await;
    {
        let mut conn = db.connect().await;
        sqlx::raw_sql("CREATE TABLE \"Legacy\" (id int); INSERT INTO \"Legacy\" VALUES (1);")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    m::prisma(
        &dir.path().join("migrations"),
        &[("20240101000000_init", INIT), ("20240102000000_drop", DROP)],
    );
    let plan = plan(dir.path(), "production", "");

    // Production, a table with rows dropped, no [backup]: each gate names its flag; nothing is applied.
    let out = migrate(&plan, data.path(), &db, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    // `Legacy` was made by hand: the live schema drifted from the (empty) applied history.
    for want in [
        "--confirm production",
        "--accept-loss",
        "Legacy",
        "drift: table Legacy: not in the history (added by hand?)",
        "--drift REASON",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
    assert!(applied(&db).await.is_empty());
    let out = migrate(
        &plan,
        data.path(),
        &db,
        &[
            "--confirm",
            "production",
            "--accept-loss",
            "Legacy",
            "--drift",
            "Legacy predates the migrations",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--no-backup"),
        "{}",
        text(&out.stderr)
    );

    // With every flag: the dry-run runs first, then everything applies; JSON on stdout.
    let out = migrate(
        &plan,
        data.path(),
        &db,
        &[
            "--confirm",
            "production",
            "--accept-loss",
            "Legacy",
            "--no-backup",
            "throwaway test database",
            "--drift",
            "Legacy predates the migrations",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["exit_code"], 0);
    assert_eq!(json["applied"].as_array().map(Vec::len), Some(2), "{json}");
    assert!(
        text(&out.stderr).contains("dry-run"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        applied(&db).await,
        vec!["20240101000000_init", "20240102000000_drop"]
    );

    // Journaled like a console run: the reason for going without a backup, the dry-run, each migration.
    let runs = journal::list_runs(data.path()).unwrap();
    let last = runs.last().unwrap();
    let events: Vec<Event> = journal::read_entries(&last.journal)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert!(events.iter().any(|e| matches!(e, Event::BackupGateOverridden { reason, .. } if reason == "throwaway test database")));
    assert!(events.iter().any(|e| matches!(e,
        Event::StageOverridden { reason, blockers, detail, .. }
            if reason == "Legacy predates the migrations"
            && blockers == &vec![deckhand::journal::Blocker::Drift]
            && detail == "table Legacy: not in the history (added by hand?)")));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::MigrationsDryRun { .. }))
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::MigrationApplied { .. }))
            .count(),
        2
    );
    assert!(last.journal.parent().unwrap().join("report.md").exists());

    // Nothing left: exit 0, nothing done.
    let out = migrate(&plan, data.path(), &db, &["--confirm", "production"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nothing to apply"));
}

#[tokio::test]
async fn a_failing_migration_exits_1_and_a_plan_without_database_exits_2() {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    m::prisma(
        &dir.path().join("migrations"),
        &[
            ("20240101000000_init", INIT),
            (
                "20240102000000_bad",
                "ALTER TABLE \"Nope\" ADD COLUMN x int;\n",
            ),
        ],
    );
    let plan = plan(dir.path(), "staging", "");
    // The dry-run catches it first: refused, nothing applied.
    let out = migrate(&plan, data.path(), &db, &["--no-backup", "test"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("the dry-run failed"),
        "{}",
        text(&out.stderr)
    );
    assert!(applied(&db).await.is_empty());
    // Without the dry-run it runs and fails: exit 1, the first applied, the error in the JSON.
    let out = migrate(
        &plan,
        data.path(),
        &db,
        &[
            "--no-backup",
            "test",
            "--no-dry-run",
            "test",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json["error"].as_str().unwrap_or("").contains("Nope"),
        "{json}"
    );
    assert_eq!(applied(&db).await, vec!["20240101000000_init"]);

    let bare = dir.path().join("bare.toml");
    m::write(
        &bare,
        "[project]\nname = \"shop\"\nenvironment = \"staging\"\n",
    );
    let out = migrate(&bare, data.path(), &db, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[tokio::test]
async fn with_a_backup_section_it_takes_a_verified_backup_before_applying() {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    m::prisma(
        &dir.path().join("migrations"),
        &[("20240101000000_init", INIT)],
    );
    let backups = dir.path().join("backups");
    let plan = plan(
        dir.path(),
        "staging",
        &format!("\n[backup]\ndir = \"{}\"\n", backups.display()),
    );
    let out = migrate(&plan, data.path(), &db, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(applied(&db).await, vec!["20240101000000_init"]);
    let runs = journal::list_runs(data.path()).unwrap();
    let events: Vec<Event> = journal::read_entries(&runs[0].journal)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    let verified = events
        .iter()
        .position(|e| matches!(e, Event::BackupVerified { ok: true, .. }))
        .expect("a verified backup");
    let started = events
        .iter()
        .position(|e| matches!(e, Event::MigrationsApplyStarted { .. }))
        .expect("the apply");
    assert!(verified < started, "{events:?}");
}

#[tokio::test]
async fn an_empty_table_or_one_created_in_the_batch_needs_no_accept_loss() {
    let db = fresh_db().await;
    {
        let mut conn = db.connect().await;
        sqlx::raw_sql("CREATE TABLE \"Legacy\" (id int);")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    m::prisma(
        &dir.path().join("migrations"),
        &[
            ("20240101000000_init", INIT),
            ("20240102000000_drop", DROP),
            ("20240103000000_drop_new", "DROP TABLE \"Customer\";\n"),
        ],
    );
    let plan = plan(dir.path(), "staging", "");
    let out = migrate(
        &plan,
        data.path(),
        &db,
        &[
            "--no-backup",
            "test",
            "--drift",
            "Legacy predates the migrations",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(applied(&db).await.len(), 3);
}

#[tokio::test]
async fn a_table_lock_held_elsewhere_is_named_on_stderr_and_the_apply_fails_with_1() {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    m::prisma(
        &dir.path().join("migrations"),
        &[("20240101000000_init", INIT)],
    );
    let plan = plan(dir.path(), "staging", "lock_timeout = \"1s\"\n");
    let out = migrate(&plan, data.path(), &db, &["--no-backup", "test"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Another session reads the table in a transaction it leaves open.
    let mut holder = db.connect().await;
    sqlx::raw_sql("BEGIN; SELECT count(*) FROM \"Customer\";")
        .execute(&mut holder)
        .await
        .unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut holder)
        .await
        .unwrap();
    m::prisma(
        &dir.path().join("migrations"),
        &[(
            "20240102000000_add",
            "ALTER TABLE \"Customer\" ADD COLUMN \"x\" integer;\n",
        )],
    );
    let out = migrate(
        &plan,
        data.path(),
        &db,
        &["--no-backup", "test", "--no-dry-run", "test"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("pid {pid}")),
        "the holder named: {err}"
    );
    assert!(err.contains("pg_terminate_backend"), "what to do: {err}");
}

#[tokio::test]
async fn a_statement_that_will_fail_on_the_live_data_is_refused_until_will_fail_is_given() {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let folder = dir.path().join("migrations");
    m::prisma(&folder, &[("20240101000000_init", INIT)]);
    let plan = plan(dir.path(), "staging", "");
    let out = migrate(&plan, data.path(), &db, &["--no-backup", "test"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    {
        let mut conn = db.connect().await;
        sqlx::raw_sql(
            "ALTER TABLE \"Customer\" ALTER COLUMN email DROP NOT NULL; \
                       INSERT INTO \"Customer\" (email) VALUES (NULL), ('a@x.io');",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    }
    m::prisma(
        &folder,
        &[(
            "20240102000000_required",
            "ALTER TABLE \"Customer\" ALTER COLUMN email SET NOT NULL;\n",
        )],
    );
    // The NOT NULL dropped by hand is drift too; the NULL row makes the pending statement fail.
    let out = migrate(
        &plan,
        data.path(),
        &db,
        &["--no-backup", "test", "--drift", "hotfix 4411"],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("will fail on the live data: 20240102000000_required line 1: will fail: 1 NULL in Customer.email (exact count)"),
        "{err}"
    );
    assert!(err.contains("--will-fail REASON"), "{err}");
    assert_eq!(applied(&db).await.len(), 1);
    // Given a reason, it goes on — and fails as foretold, rolled back, exit 1.
    let out = migrate(
        &plan,
        data.path(),
        &db,
        &[
            "--no-backup",
            "test",
            "--drift",
            "hotfix 4411",
            "--will-fail",
            "testing the foretold failure",
            "--no-dry-run",
            "test",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(applied(&db).await.len(), 1);
}
