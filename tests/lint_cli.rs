//! `deckhand lint` as CI uses it: exit codes by threshold, the JSON shape, ignore comments with and without a
//! reason, folders of a migration tool and loose files, and bad usage.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::migrations as m;

fn lint(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .arg("lint")
        .args(args)
        .output()
        .expect("run deckhand lint")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn file(dir: &Path, name: &str, sql: &str) -> String {
    let path = dir.join(name);
    m::write(&path, sql);
    path.display().to_string()
}

#[test]
fn exit_codes_follow_the_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let index = file(
        dir.path(),
        "index.sql",
        "CREATE INDEX users_email_idx ON users (email);\n",
    );
    let drop = file(dir.path(), "drop.sql", "DROP TABLE users;\n");
    let safe = file(
        dir.path(),
        "safe.sql",
        "CREATE TABLE t (id bigint PRIMARY KEY);\n",
    );
    assert_eq!(lint(&[&safe]).status.code(), Some(0), "nothing found");
    assert_eq!(
        lint(&[&index]).status.code(),
        Some(0),
        "locking is below the default threshold"
    );
    assert_eq!(
        lint(&["--fail-on", "locking", &index]).status.code(),
        Some(1)
    );
    assert_eq!(
        lint(&[&drop]).status.code(),
        Some(1),
        "dangerous fails by default"
    );
    assert_eq!(lint(&["--fail-on", "never", &drop]).status.code(), Some(0));
    let out = lint(&[&drop]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("DANGEROUS"), "{stdout}");
    assert!(
        stdout.contains("1 | DROP TABLE users;"),
        "the source snippet: {stdout}"
    );
    assert!(stdout.contains("safer:"), "{stdout}");
}

#[test]
fn json_has_files_findings_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "ALTER TABLE users RENAME COLUMN email TO email_address;\nDELETE FROM sessions;\n";
    let f = file(dir.path(), "001_mixed.sql", sql);
    let out = lint(&["--format", "json", "--fail-on", "breaking", &f]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).expect("JSON");
    let findings = v["files"][0]["findings"].as_array().expect("findings");
    let classes: Vec<&str> = findings
        .iter()
        .map(|f| f["class"].as_str().unwrap())
        .collect();
    assert!(
        classes.contains(&"breaking") && classes.contains(&"dangerous"),
        "{classes:?}"
    );
    let delete = findings
        .iter()
        .find(|f| f["rule"] == "delete-without-where")
        .expect("delete finding");
    assert_eq!(delete["line"], 2);
    assert_eq!(delete["statement_index"], 2);
    assert_eq!(delete["object"], "sessions");
    assert_eq!(v["summary"]["dangerous"], 1);
    assert_eq!(v["fail_on"], "breaking");
    assert_eq!(v["failed"], true);
    assert_eq!(v["files"][0]["atomicity"]["transactional"], true);
}

#[test]
fn ignore_comments_exempt_with_a_reason_and_are_shown() {
    let dir = tempfile::tempdir().unwrap();
    let sql = "-- deckhand:ignore ban-drop-table table retired in v41, no readers left\nDROP TABLE legacy_events;\n";
    let f = file(dir.path(), "drop.sql", sql);
    let out = lint(&[&f]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "exempted: {}",
        text(&out.stdout)
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ignored: table retired in v41, no readers left"),
        "{stdout}"
    );
    assert!(stdout.contains("1 ignored"), "{stdout}");

    let bare = file(
        dir.path(),
        "bare.sql",
        "-- deckhand:ignore ban-drop-table\nDROP TABLE legacy_events;\n",
    );
    let out = lint(&["--format", "json", &bare]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an ignore without a reason exempts nothing"
    );
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let rules: Vec<&str> = v["files"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"ignore-without-reason") && rules.contains(&"ban-drop-table"),
        "{rules:?}"
    );
}

#[test]
fn a_tool_folder_is_read_in_its_format() {
    let dir = tempfile::tempdir().unwrap();
    m::prisma(
        dir.path(),
        &[
            (
                "20240101000000_init",
                "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n",
            ),
            (
                "20240201000000_drop",
                "ALTER TABLE users DROP COLUMN email;\n",
            ),
        ],
    );
    let out = lint(&["--format", "json", &dir.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["files"][0]["findings"].as_array().unwrap().len(),
        0,
        "creating a table is safe"
    );
    assert_eq!(v["files"][1]["name"], "20240201000000_drop");
    let objects: Vec<&str> = v["files"][1]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["object"].as_str())
        .collect();
    assert!(objects.contains(&"users.email"), "{objects:?}");
}

#[test]
fn unparseable_sql_is_never_silently_safe() {
    let dir = tempfile::tempdir().unwrap();
    let f = file(dir.path(), "bad.sql", "ALTER TABLE users ADD COLUMN;\n");
    let out = lint(&["--format", "json", &f]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("could-not-parse"));
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(lint(&[]).status.code(), Some(2), "a path is required");
    assert_eq!(lint(&["no/such/dir"]).status.code(), Some(2));
    assert_eq!(
        lint(&["--fail-on", "sometimes", "x.sql"]).status.code(),
        Some(2)
    );
    let dir = tempfile::tempdir().unwrap();
    let notes = file(dir.path(), "notes.txt", "hello");
    let out = lint(&[&notes]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("expected a migrations folder or a .sql file"));
}

#[tokio::test]
async fn database_url_adds_live_context_without_showing_the_password() {
    let tdb = common::pg::fresh_db().await;
    let mut conn = tdb.connect().await;
    sqlx::raw_sql(
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text);\n\
         INSERT INTO events SELECT g, 'x' FROM generate_series(1, 50000) g;\nANALYZE events;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = file(
        dir.path(),
        "idx.sql",
        "CREATE INDEX events_kind_idx ON events (kind);\n",
    );
    let url = tdb.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        lint(&["--fail-on", "locking", "--database-url", &url, &f])
    })
    .await
    .unwrap();
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("live: events: ~50,000 rows"), "{stdout}");
}

#[test]
fn an_unreachable_database_costs_only_the_live_context_and_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let f = file(
        dir.path(),
        "drop.sql",
        "-- deckhand:ignore ban-drop-table \u{1b}]0;pwned\u{7} retired\nDROP TABLE t;\n",
    );
    let url = "postgres://app:hunter2@127.0.0.1:9/shop";
    let out = lint(&["--database-url", url, &f]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "the finding is exempted: {stdout}"
    );
    assert!(
        stdout.contains("note: live context unavailable: cannot connect to 127.0.0.1:9/shop"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("hunter2") && !stderr.contains("hunter2"),
        "the password leaked"
    );
    assert!(
        !stdout.contains('\u{1b}'),
        "an escape sequence from the file reached the output"
    );
    assert!(stdout.contains("^[]0;pwned^G"), "{stdout}");
}

#[tokio::test]
async fn database_url_counts_the_data_impact_of_pending_migrations_only() {
    let tdb = common::pg::fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("migrations");
    std::fs::create_dir(&folder).unwrap();
    // The first migration is applied (by deckhand's own apply): nothing to judge. The second is pending, and
    // trips on NULLs; a loose file after it deletes every row.
    m::sqlx(
        &folder,
        &[
            (
                "1_users",
                "CREATE TABLE users (id int PRIMARY KEY, email text);\n",
            ),
            (
                "2_required",
                "ALTER TABLE users ALTER COLUMN email SET NOT NULL;\n",
            ),
        ],
    );
    let spec = m::database(&tdb.url, &folder, "sqlx");
    let mut db = m::connect(&spec).await;
    let all = deckhand::migrate::load(&spec).unwrap();
    deckhand::migrate::apply::apply(
        &mut db,
        all.format,
        &all.migrations[..1],
        &m::opts(),
        &mut |_| {},
    )
    .await
    .unwrap();
    let mut conn = tdb.connect().await;
    sqlx::raw_sql("INSERT INTO users VALUES (1, NULL), (2, 'b'), (3, NULL);")
        .execute(&mut conn)
        .await
        .unwrap();
    let f = file(dir.path(), "cleanup.sql", "DELETE FROM users;\n");
    let (url, folder) = (tdb.url.clone(), folder.display().to_string());
    let out = tokio::task::spawn_blocking(move || {
        let human = lint(&[
            "--fail-on",
            "dangerous",
            "--database-url",
            &url,
            &folder,
            &f,
        ]);
        let json = lint(&[
            "--format",
            "json",
            "--fail-on",
            "never",
            "--database-url",
            &url,
            &folder,
        ]);
        (human, json)
    })
    .await
    .unwrap();
    let (human, json) = out;
    let stdout = text(&human.stdout);
    assert_eq!(human.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("WILL FAIL  line 1: will fail: 2 NULLs in users.email (exact count)"),
        "{stdout}"
    );
    // Judged after the pending migration before it in the run: nothing changed the rows, so counted.
    assert!(
        stdout.contains("DATA LOSS  line 1: deletes every row of users: 3 rows (exact count)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1 will fail on the live data — FAILED"),
        "{stdout}"
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json.status.code(), Some(0));
    let files = v["files"].as_array().unwrap();
    assert!(
        files[0].get("impacts").is_none(),
        "applied: not judged: {v:#}"
    );
    let impact = &files[1]["impacts"][0];
    assert_eq!(impact["kind"], "null_rows");
    assert_eq!(impact["outcome"], "will_fail");
    assert_eq!(impact["count"], 2);
    assert_eq!(impact["basis"]["how"], "exact");
    assert_eq!(v["summary"]["will_fail"], 1);
}
