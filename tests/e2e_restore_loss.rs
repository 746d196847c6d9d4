#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]
//! Issue 14, defect 2: a production rollback silently threw away the writes made after the backup. The real binary
//! in a pseudo-terminal against a real PostgreSQL: a backup, a migration applied, a customer inserted afterwards;
//! the restore prompt (`U`) and the rollback prompt (`R`) both say what a restore loses — the backup's time and
//! the table with its row inserted since — and the rollback runs the plan's `before_restore` step first.

mod common;

use std::path::{Path, PathBuf};

use common::migrations as m;
use common::pg::{TestDb, fresh_db};
use common::pty::PtyApp;
use deckhand::journal;

/// A plan in `dir`: one sqlx migration (with a down file, but the rollback restores), a backup folder, a verify
/// assertion, and a rollback whose `before_restore` step leaves `stopped.flag`.
fn plan(dir: &Path) -> PathBuf {
    m::sqlx_reversible(
        &dir.join("migrations"),
        &[(
            "1_orders",
            "CREATE TABLE orders (id bigserial PRIMARY KEY, total numeric NOT NULL);\n",
            "DROP TABLE orders;\n",
        )],
    );
    let plan = dir.join("deckhand.toml");
    m::write(
        &plan,
        r#"[project]
name = "shop"
environment = "staging"

[database]
url = "${TEST_PLAN_DB}"
migrations = "migrations"
format = "sqlx"

[backup]
dir = "backups"

[[verify]]
name = "accounts kept"
sql = "select count(*) from accounts"
expect = ">= 1"

[rollback]
database = "restore"
before_restore = [{ run = "echo stopping the app; touch stopped.flag", cwd = "." }]
steps = [{ run = "echo reverting code", cwd = "." }]
"#,
    );
    plan
}

fn start(plan: &Path, data: &Path, url: &str) -> PtyApp {
    let plan_arg = plan.display().to_string();
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

fn answer(app: &mut PtyApp, prompt: &str, keys: &str) {
    app.wait_for(prompt);
    app.wait_prompt_ready();
    app.type_keys(keys);
}

/// Rows inserted into `accounts` as PostgreSQL's statistics count them now.
async fn inserted(db: &TestDb) -> i64 {
    let mut conn = db.connect().await;
    sqlx::query_scalar(
        "SELECT COALESCE(max(n_tup_ins), 0) FROM pg_stat_user_tables WHERE relname = 'accounts'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

/// Runs `sql` on a connection of its own, closed at once (its statistics are flushed when its server process ends).
async fn exec(db: &TestDb, sql: &str) {
    let mut conn = db.connect().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
}

/// `2026-11-21 14:03:05 UTC`: the backup's time as the prompts show it.
fn shown_time(unix: u64) -> String {
    deckhand::backup::store::format_utc(unix)
        .replace('T', " ")
        .replace('Z', " UTC")
}

#[tokio::test]
async fn restore_and_rollback_prompts_say_what_writes_since_the_backup_are_lost() {
    let db = fresh_db().await;
    exec(
        &db,
        "CREATE TABLE accounts (id int PRIMARY KEY); INSERT INTO accounts VALUES (1), (2);",
    )
    .await;
    // The seed must be counted before the backup records the counters, or it would show as written since.
    common::wait_until("the seed in the statistics", async || {
        inserted(&db).await == 2
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let plan = plan(dir.path());
    let mut app = start(&plan, data.path(), &db.url);
    app.wait_for("1 pending");
    app.send("B");
    app.wait_for("backup verified");
    app.send("d");
    answer(&mut app, "Dry-run the pending migrations", "y");
    app.wait_for("all rolled back");
    app.send("a");
    // `accounts` was made by hand, outside the migrations: drift, asked about first.
    answer(
        &mut app,
        "The live schema drifted from its history",
        "accounts predates the migrations\r",
    );
    answer(&mut app, "Apply migrations", "y");
    app.wait_for("applied 1 migration(s)");

    // A customer signs up after the deploy.
    exec(&db, "INSERT INTO accounts VALUES (3);").await;
    common::wait_until("the new customer in the statistics", async || {
        inserted(&db).await == 3
    })
    .await;
    let backups = deckhand::backup::store::list(&dir.path().join("backups"));
    assert_eq!(backups.len(), 1, "{backups:?}");
    let taken = shown_time(backups[0].created_unix);

    // The restore prompt says what an in-place restore of the chosen backup loses.
    app.send("U");
    answer(&mut app, &format!("Restore {} from a backup", db.name), "");
    let screen = app.contents();
    assert!(screen.contains(&taken), "the backup's time:\n{screen}");
    assert!(screen.contains("public.accounts"), "the table:\n{screen}");
    assert!(screen.contains("1 inserted"), "its new row:\n{screen}");
    app.send("\x1b");
    app.wait_for("Cancelled: Restore");

    // So does the rollback's, with the step that runs before the restore.
    app.send("R");
    answer(&mut app, "Roll back staging", "");
    let screen = app.contents();
    assert!(screen.contains(&taken), "the backup's time:\n{screen}");
    assert!(screen.contains("public.accounts"), "the table:\n{screen}");
    assert!(screen.contains("1 inserted"), "its new row:\n{screen}");
    assert!(
        screen.contains("touch stopped.flag"),
        "the before_restore step:\n{screen}"
    );
    assert!(
        screen.contains("public.orders"),
        "the table created since, dropped:\n{screen}"
    );
    app.type_keys("y");
    app.wait_for("Rollback finished");
    app.send("q");
    app.wait_exit();

    assert!(
        dir.path().join("stopped.flag").exists(),
        "before_restore ran"
    );
    let mut conn = db.connect().await;
    let accounts: i64 = sqlx::query_scalar("SELECT count(*) FROM accounts")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        accounts, 2,
        "the restore took the database back to the backup"
    );

    // The loss is journaled with the rollback's start, and the report shows it.
    let runs = journal::list_runs(data.path()).unwrap();
    let entries = journal::read_entries(&runs[0].journal).unwrap();
    let started = entries
        .iter()
        .find(|e| matches!(e.event, journal::Event::RollbackStarted { .. }))
        .expect("rollback journaled");
    let line = serde_json::to_string(&started.event).unwrap();
    assert!(line.contains("1 inserted"), "{line}");
    assert!(line.contains("touch stopped.flag"), "{line}");
    let report = journal::render(&entries);
    assert!(report.contains("1 inserted"), "{report}");
    assert!(report.contains(&taken), "{report}");
}
