//! The guided release end to end: the real binary in a real pseudo-terminal against a real PostgreSQL — checklist,
//! backup, dry-run, apply, deploy command, verify, a short monitor window, sign-off and the report it writes; a
//! rollback that restores the backup and verifies again; the pseudo-terminal closed while a migration sleeps, then a
//! second start that waits for the first, shows what completed and resumes; a second console refused.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::migrations as m;
use common::pg::{TestDb, fresh_db};
use common::pty::PtyApp;
use deckhand::journal::{self, Event};

/// The password put in the plan's database URL (the test cluster trusts local connections, so it is ignored by the
/// server): it must never reach the screen, the journal or the report.
const PASSWORD: &str = "s3cr3t-pw";

/// The database URL with a password added.
fn url_with_password(db: &TestDb) -> String {
    db.url
        .replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1)
}

/// A release plan in `dir` with two sqlx migrations (with down files), a deploy step that leaves `deployed.flag`,
/// a rollback step that removes it, and `extra` appended.
fn release_plan(dir: &Path, port: u16, extra: &str) -> PathBuf {
    m::sqlx_reversible(
        &dir.join("migrations"),
        &[
            (
                "1_orders",
                "CREATE TABLE orders (id bigserial PRIMARY KEY, total numeric NOT NULL);\n",
                "DROP TABLE orders;\n",
            ),
            (
                "2_status",
                "ALTER TABLE orders ADD COLUMN status text;\n",
                "ALTER TABLE orders DROP COLUMN status;\n",
            ),
        ],
    );
    let plan = dir.join("deckhand.toml");
    let text = format!(
        r#"[project]
name = "shop"
environment = "staging"

[[checklist]]
item = "Release notes reviewed"

[database]
url = "${{TEST_PLAN_DB}}"
migrations = "migrations"
format = "sqlx"

[backup]
dir = "backups"

[[health]]
name = "api"
url = "http://127.0.0.1:{port}/health"
interval = "1s"

[[smoke]]
name = "home"
url = "http://127.0.0.1:{port}/"

[[verify]]
name = "accounts kept"
sql = "select count(*) from accounts"
expect = ">= 1"

[[phase]]
name = "Deploy"
destructive = true
steps = [{{ run = "echo deploying; touch deployed.flag", cwd = "." }}]

[rollback]
steps = [{{ run = "echo reverting code; rm -f deployed.flag", cwd = "." }}]
{extra}
"#
    );
    m::write(&plan, &text);
    plan
}

fn start(plan: &Path, data: &Path, url: &str) -> PtyApp {
    let plan_arg = plan.display().to_string();
    // The terminal check would warn on an SSH session outside tmux: not this test's subject.
    PtyApp::start_with_env(
        &["run", &plan_arg],
        data,
        &[
            ("TEST_PLAN_DB", url),
            ("SSH_CONNECTION", ""),
            ("SSH_CLIENT", ""),
        ],
    )
}

/// Waits until the open prompt takes keys (its instruction shows once the guard has passed).
fn settle(app: &PtyApp) {
    app.wait_prompt_ready();
}

fn answer(app: &mut PtyApp, prompt: &str, keys: &str) {
    app.wait_for(prompt);
    settle(app);
    app.type_keys(keys);
}

/// Every event of every run under `data`, oldest run first.
fn all_events(data: &Path) -> Vec<Vec<Event>> {
    let mut runs = journal::list_runs(data).expect("list runs");
    runs.sort_by(|a, b| a.journal.cmp(&b.journal));
    runs.iter()
        .map(|r| {
            journal::read_entries(&r.journal)
                .expect("journal reads back")
                .into_iter()
                .map(|e| e.event)
                .collect()
        })
        .collect()
}

/// Checklist → backup → dry-run → apply → deploy → verify, all through the keyboard.
fn release_until_verified(app: &mut PtyApp, dir: &Path) {
    app.wait_for("checks 4/4 ok");
    app.send(" ");
    app.wait_for("Checklist 1/1");
    app.send("B");
    app.wait_for("backup verified");
    app.send("d");
    answer(app, "Dry-run the pending migrations", "y");
    app.wait_for("all rolled back");
    app.send("a");
    // `accounts` was made by hand, outside the migrations: drift, shown and asked about first.
    app.wait_for("table accounts: not in the history");
    answer(
        app,
        "The live schema drifted from its history",
        "accounts predates the migrations\r",
    );
    answer(app, "Apply migrations", "y");
    app.wait_for("applied 2 migration(s)");
    // Rows: the checklist item, Backup, Migrate, then the Deploy phase.
    app.type_keys("jjj\r");
    answer(app, "Run destructive phase: Deploy", "y");
    app.wait_for("Phase 'Deploy' succeeded.");
    assert!(dir.join("deployed.flag").exists(), "the deploy step ran");
    app.send("V");
    app.wait_for("verify passed");
}

async fn seed_accounts(db: &TestDb) {
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        "CREATE TABLE accounts (id int PRIMARY KEY); INSERT INTO accounts VALUES (1), (2);",
    )
    .execute(&mut conn)
    .await
    .expect("seed accounts");
}

#[tokio::test]
async fn a_release_from_checklist_to_sign_off_writes_the_report() {
    let db = fresh_db().await;
    seed_accounts(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let plan = release_plan(
        dir.path(),
        common::http::ok_server().0,
        "\n[monitor]\nduration = \"3s\"\n",
    );
    let mut app = start(&plan, data.path(), &url_with_password(&db));
    release_until_verified(&mut app, dir.path());
    app.send("M");
    app.wait_for("monitoring ended: passed");
    app.send("S");
    app.wait_for("Sign off the release of staging");
    app.type_keys("Orders released; error rate flat.");
    app.send("\x13"); // Ctrl-S
    app.wait_for("Report written:");
    assert!(!app.contents().contains(PASSWORD));
    app.send("q");
    assert_eq!(app.wait_exit(), 0);
    app.assert_restored();

    let runs = journal::list_runs(data.path()).unwrap();
    assert_eq!(runs.len(), 1);
    let report_path = runs[0].journal.parent().unwrap().join("report.md");
    let report = std::fs::read_to_string(&report_path).expect("report.md written at sign-off");
    for section in [
        "# Release report: shop (staging)",
        "## Checklist",
        "## Stages",
        "## Preflight",
        "## Backup",
        "## Migrations",
        "## Commands",
        "## Health",
        "## Confirmations",
        "## Rollback",
        "## Sign-off",
    ] {
        assert!(report.contains(section), "{section} missing:\n{report}");
    }
    for fact in [
        "| 1 | Release notes reviewed | ticked |",
        "| sign-off | passed |",
        "| `1_orders` |",
        "| `2_status` |",
        "`echo deploying; touch deployed.flag` | exit 0 | 0 |",
        "| api | baseline |",
        "| api | verify |",
        "| accounts kept | passed | `2` |",
        "| home | ok | 200 |",
        "Monitoring ended after 3.0 s: passed (0 alert(s))",
        "| Apply migrations | `y` | confirmed |",
        "| Run destructive phase: Deploy | `y` | confirmed |",
        "Orders released; error rate flat.",
        "No rollback.",
    ] {
        assert!(report.contains(fact), "{fact:?} missing:\n{report}");
    }
    assert!(
        report.contains("sha256 `"),
        "the backup's checksum:\n{report}"
    );
    assert!(!report.contains(PASSWORD), "the password leaked:\n{report}");
    let journal_text = std::fs::read_to_string(&runs[0].journal).unwrap();
    assert!(
        !journal_text.contains(PASSWORD),
        "the password leaked into the journal"
    );
}

#[tokio::test]
async fn rollback_restores_the_backup_then_verifies_again() {
    let db = fresh_db().await;
    seed_accounts(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let plan = release_plan(
        dir.path(),
        common::http::ok_server().0,
        "database = \"restore\"\n",
    );
    let mut app = start(&plan, data.path(), &url_with_password(&db));
    release_until_verified(&mut app, dir.path());
    app.send("R");
    app.wait_for("Roll back staging");
    assert!(
        app.contents().contains("rm -f deployed.flag"),
        "{}",
        app.contents()
    );
    answer(&mut app, "Roll back staging", "y");
    app.wait_for("Rollback finished: verify after rollback passed.");
    app.wait_for("2 pending");
    app.send("q");
    assert_eq!(app.wait_exit(), 5);

    assert!(
        !dir.path().join("deployed.flag").exists(),
        "the code step ran"
    );
    let mut conn = db.connect().await;
    let orders: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'orders'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        orders, 0,
        "the restore brought back the database before the migrations"
    );
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(accounts, 2);

    let events = all_events(data.path()).remove(0);
    let at = |want: &dyn Fn(&Event) -> bool| events.iter().position(want);
    let started = at(&|e| matches!(e, Event::RollbackStarted { .. })).expect("rollback journaled");
    let restored = at(&|e| matches!(e, Event::RestoreFinished { .. })).expect("restore journaled");
    let finished = at(&|e| matches!(e, Event::RollbackFinished { ok: true, .. }))
        .expect("rollback finished ok");
    let verified_again = events[finished..]
        .iter()
        .any(|e| matches!(e, Event::VerifyChecked { passed: true, .. }));
    assert!(started < restored && restored <= finished, "{events:?}");
    assert!(
        verified_again,
        "verify ran again after the rollback: {events:?}"
    );
}

#[tokio::test]
async fn a_rollback_by_down_migrations_shows_the_down_sql_then_runs_it() {
    let db = fresh_db().await;
    seed_accounts(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let plan = release_plan(
        dir.path(),
        common::http::ok_server().0,
        "database = \"auto\"\n",
    );
    let mut app = start(&plan, data.path(), &url_with_password(&db));
    release_until_verified(&mut app, dir.path());
    app.send("R");
    app.wait_for("Roll back staging");
    let prompt = app.contents();
    for shown in [
        "down migrations: 2_status, 1_orders",
        "1/2 2_status — 2_status.down.sql, 1 statement(s)",
        "1 ALTER TABLE orders DROP COLUMN status",
        "2/2 1_orders — 1_orders.down.sql, 1 statement(s)",
        "1 DROP TABLE orders  ← DANGEROUS",
    ] {
        assert!(
            prompt.contains(shown),
            "{shown:?} not in the prompt:\n{prompt}"
        );
    }
    answer(&mut app, "Roll back staging", "y");
    app.wait_for("Rollback finished: verify after rollback passed.");
    app.wait_for("2 pending");
    app.send("q");
    assert_eq!(app.wait_exit(), 5);
    let events = all_events(data.path()).remove(0);
    let reverted: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::MigrationReverted { name, .. } => Some(name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reverted, ["2_status", "1_orders"]);
    let mut conn = db.connect().await;
    let orders: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'orders'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(orders, 0, "the down files ran");
}

/// Polls `check` for at most 20 s (a hang guard, not a timing assertion).
async fn wait_until<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_hang_up_mid_migration_finishes_it_and_the_next_console_resumes() {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    m::sqlx(
        &dir.path().join("migrations"),
        &[(
            "1_slow",
            "CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\nSELECT pg_sleep(4);\n",
        )],
    );
    let plan = dir.path().join("deckhand.toml");
    m::write(
        &plan,
        "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[database]\nurl = \"${TEST_PLAN_DB}\"\n\
         migrations = \"migrations\"\nformat = \"sqlx\"\n\n[[phase]]\nname = \"Deploy\"\ndestructive = true\n\
         steps = [{ run = \"touch deployed.flag\", cwd = \".\" }]\n",
    );
    let url = url_with_password(&db);
    let mut first = start(&plan, data.path(), &url);
    first.wait_for("1 pending");
    first.send("a");
    answer(
        &mut first,
        "No verified backup",
        "throwaway test database\r",
    );
    answer(
        &mut first,
        "Not tried in this run",
        "the sleep is the test\r",
    );
    answer(&mut first, "Apply migrations", "y");
    let sleeping = wait_until(|| async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'deckhand' AND query LIKE '%pg_sleep%'",
        )
        .fetch_one(&mut db.connect().await)
        .await
        .unwrap();
        n == 1
    })
    .await;
    assert!(sleeping, "the migration never reached pg_sleep");

    // The connection drops: the pseudo-terminal goes away under deckhand.
    first.hang_up();
    let journal_path = journal::list_runs(data.path()).unwrap()[0].journal.clone();
    let noticed = wait_until(|| async {
        let text = std::fs::read_to_string(&journal_path).unwrap_or_default();
        text.contains("\"SIGHUP\"") || text.contains("\"context\":\"terminal\"")
    })
    .await;
    assert!(noticed, "the hang-up was not journaled");

    // A new console while the first still finishes: it says so and follows its journal, then starts.
    let mut second = start(&plan, data.path(), &url);
    second.wait_for_output("lost its terminal and is finishing");
    let first_code = first.wait_exit();
    assert_eq!(first_code, 1, "a hung-up run is not finished");
    second.wait_for("resumed run");
    second.wait_for("nothing pending");
    assert!(
        second.contents().contains("migrations applied: 1_slow"),
        "{}",
        second.contents()
    );

    // The migration ran to its end and was recorded: never half.
    let mut conn = db.connect().await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM half")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 1);
    let ledger: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(ledger, 1);

    // It resumes at the next phase: the deploy, which the stage order lets through (the migrate stage is done, as
    // the database itself says) straight to its confirmation.
    second.send("j\r");
    answer(&mut second, "Run destructive phase: Deploy", "y");
    second.wait_for("Phase 'Deploy' succeeded.");
    second.send("q");
    // Quit before sign-off: unfinished.
    assert_eq!(second.wait_exit(), 1);
    assert!(dir.path().join("deployed.flag").exists());

    let runs = all_events(data.path());
    assert_eq!(runs.len(), 2);
    let (a, b) = (&runs[0], &runs[1]);
    assert!(
        a.iter()
            .any(|e| matches!(e, Event::MigrationApplied { name, .. } if name == "1_slow")),
        "{a:?}"
    );
    assert!(
        matches!(a.last(), Some(Event::Quit { exit_code: 1, reason, .. }) if reason.contains("hung up")),
        "{:?}",
        a.last()
    );
    assert!(
        b.iter()
            .any(|e| matches!(e, Event::Resumed { completed, .. }
            if completed.iter().any(|c| c.to_string().contains("1_slow")))),
        "{b:?}"
    );
}

#[tokio::test]
async fn a_second_console_on_the_same_plan_and_environment_is_refused() {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let plan = release_plan(dir.path(), common::http::ok_server().0, "");
    let url = url_with_password(&db);
    let mut first = start(&plan, data.path(), &url);
    first.wait_for("Checklist 0/1");

    let mut second = start(&plan, data.path(), &url);
    assert_eq!(second.wait_exit(), 4, "refused: {}", second.contents());
    let screen = second.contents();
    assert!(screen.contains("is already being run by pid"), "{screen}");
    assert!(screen.contains(&first.pid().to_string()), "{screen}");
    assert!(!screen.contains(PASSWORD), "{screen}");
    drop(second);

    // The first is untouched; once it quits, the plan is free again.
    first.send("q");
    assert_eq!(first.wait_exit(), 1, "unfinished");
    let mut third = start(&plan, data.path(), &url);
    third.wait_for("Checklist 0/1");
    third.send("q");
    assert_eq!(third.wait_exit(), 1, "unfinished");
    assert_eq!(
        journal::list_runs(data.path()).unwrap().len(),
        2,
        "the refused console journaled no run"
    );
}
