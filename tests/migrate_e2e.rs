//! Migrations end to end with the real binary: `deckhand status` exit codes and JSON against a real PostgreSQL,
//! and the console applying a migration that is killed half-way (kill -9 during pg_sleep): nothing half-applied,
//! no ledger row, the advisory lock released.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::migrations as m;
use common::pg::fresh_db;
use common::pty::PtyApp;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

fn plan(dir: &Path, url: &str, format: &str) -> std::path::PathBuf {
    let path = dir.join("deckhand.toml");
    let text = format!(
        "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[database]\nurl = \"${{TEST_PLAN_DB}}\"\n\
         migrations = \"migrations\"\nformat = \"{format}\"\nlock_wait = \"2s\"\n"
    );
    m::write(&path, &text);
    let _ = url;
    path
}

fn status(plan: &Path, url: &str, json: bool) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deckhand"));
    cmd.arg("status").arg(plan).env("TEST_PLAN_DB", url);
    if json {
        cmd.arg("--json");
    }
    let out = cmd.output().expect("run deckhand status");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn status_exit_codes_follow_pending_and_problems() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    m::sqlx(&migs, &[("1_users", "CREATE TABLE users (id int);\n")]);
    let plan = plan(dir.path(), &tdb.url, "sqlx");
    let (code, out) = status(&plan, &tdb.url, false);
    assert_eq!(code, 3, "pending: {out}");
    assert!(out.contains("1_users") && out.contains("pending"), "{out}");
    assert!(!out.contains("postgres@"), "no credentials in the output");

    let mut conn = tdb.connect().await;
    sqlx::migrate::Migrator::new(migs.as_path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    let (code, out) = status(&plan, &tdb.url, true);
    assert_eq!(code, 0, "{out}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(json["entries"][0]["state"], "applied");
    assert_eq!(json["format"], "sqlx");

    m::write(
        &migs.join("1_users.sql"),
        "CREATE TABLE users (id bigint);\n",
    );
    let (code, out) = status(&plan, &tdb.url, false);
    assert_eq!(code, 1, "an edited migration is a problem: {out}");
    assert!(out.contains("EDITED"), "{out}");
}

#[tokio::test]
async fn status_of_an_unreachable_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(
        &dir.path().join("migrations"),
        &[("1_users", "CREATE TABLE users (id int);\n")],
    );
    let url = "postgres://app:hunter2@127.0.0.1:9/shop";
    let plan = plan(dir.path(), url, "sqlx");
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .arg("status")
        .arg(&plan)
        .env("TEST_PLAN_DB", url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot connect to 127.0.0.1:9/shop"), "{err}");
    assert!(!err.contains("hunter2"), "the password leaked: {err}");
}

#[tokio::test]
async fn killing_deckhand_mid_migration_leaves_nothing_half_applied() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let migs = dir.path().join("migrations");
    let slow = "CREATE TABLE half (id int);\nINSERT INTO half VALUES (1);\nSELECT pg_sleep(60);\n";
    m::prisma(&migs, &[("20240101000000_slow", slow)]);
    let plan = plan(dir.path(), &tdb.url, "prisma");
    let data = tempfile::tempdir().unwrap();
    let plan_arg = plan.display().to_string();
    let mut app = PtyApp::start_with_env(
        &["run", &plan_arg],
        data.path(),
        &[("TEST_PLAN_DB", &tdb.url)],
    );
    app.wait_for("1 pending");
    app.send("a");
    // No [backup] in this plan: the gate asks why it is safe to go on without one.
    app.wait_for("No verified backup");
    app.wait_prompt_ready();
    app.type_keys("throwaway test database\r");
    // Nor a dry-run (it would sleep as long): a second reason.
    app.wait_for("Not tried in this run");
    app.wait_prompt_ready();
    app.type_keys("the sleep is the test\r");
    app.wait_for("Apply migrations");
    app.wait_prompt_ready();
    app.send("y");
    app.wait_for("statement 2/3");
    // The migration is inside pg_sleep now: kill deckhand outright.
    let mut conn = tdb.connect().await;
    let sleeping = wait_until(|| async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'deckhand' AND query LIKE '%pg_sleep%'",
        )
        .fetch_one(&mut tdb.connect().await)
        .await
        .unwrap();
        n == 1
    })
    .await;
    assert!(sleeping, "the migration never reached pg_sleep");
    kill(Pid::from_raw(app.pid() as i32), Signal::SIGKILL).unwrap();
    app.wait_exit();
    // The server notices the dead client and rolls its transaction back.
    let gone = wait_until(|| async {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'deckhand'",
        )
        .fetch_one(&mut tdb.connect().await)
        .await
        .unwrap();
        n == 0
    })
    .await;
    assert!(gone, "deckhand's session outlived it");
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'half'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 0, "half a migration stayed applied");
    // What Prisma leaves when its engine dies mid-migration: the row written before the file ran, unfinished
    // (`prisma migrate deploy` then refuses with P3009 until it is resolved).
    let unfinished: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM _prisma_migrations WHERE finished_at IS NULL AND rolled_back_at IS NULL",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(unfinished, 1, "Prisma's unfinished row");
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(72707369)")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(locked, "Prisma's advisory lock is still held");
}

/// Polls `check` until it is true, for at most 15 s (a hang guard, not a performance bound).
async fn wait_until<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}
