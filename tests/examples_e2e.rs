//! Examples a, b and c run end to end: each plan from `config/examples/` with its migrations, in the real binary in a
//! pseudo-terminal, against a fresh PostgreSQL database. The outside world is replaced by local stand-ins: `git`,
//! `npx`, `npm`, `pm2`, `ssh`, `curl` and the deploy scripts are small scripts that record how they were called, the
//! example's hosts point at a local HTTP server (health, smoke and the notification webhook), the monitor window is
//! three seconds and the deploy window is left out (it depends on the day the test runs). Everything else — the
//! checklist, the backup, the dry-run, the apply with typed production confirmations, every phase, verify with the
//! example's own SQL assertions, monitoring, sign-off and the report — is the example as written.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::http;
use common::pg::fresh_db;
use common::pty::PtyApp;
use deckhand::journal::{self, Event};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/examples");

/// A copy of `config/examples/<name>.toml` and its folder in `dir`, with the stand-ins described above.
fn example_copy(name: &str, dir: &Path, port: u16) -> PathBuf {
    let folder = Path::new(EXAMPLES).join(name);
    copy_dir(&folder, &dir.join(name));
    let text = std::fs::read_to_string(Path::new(EXAMPLES).join(format!("{name}.toml"))).unwrap();
    let hosts = regex::Regex::new(r"https://[a-z0-9.-]*example\.com").unwrap();
    let text = hosts.replace_all(&text, format!("http://127.0.0.1:{port}"));
    let window = regex::Regex::new(r"(?ms)^\[window\]\n.*?(^\[)").unwrap();
    let text = window.replace(&text, "$1");
    let duration = regex::Regex::new(r#"(?m)^(\[monitor\]\n)duration = "[^"]+""#).unwrap();
    let text = duration.replace(&text, "${1}duration = \"3s\"");
    assert!(
        !text.contains("[window]"),
        "the window was not taken out of {name}"
    );
    assert!(
        text.contains("duration = \"3s\""),
        "the monitor of {name} was not shortened"
    );
    let plan = dir.join(format!("{name}.toml"));
    std::fs::write(&plan, text.as_bytes()).unwrap();
    // The deploy scripts are stand-ins too: they record that they ran.
    let script = dir.join(name).join("scripts/deploy.sh");
    if script.exists() {
        stand_in(&script, dir);
    }
    plan
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// An executable at `path` that appends its name and arguments to `<dir>/calls.log` and succeeds (`ssh`, which
/// follows logs, then stays up as a log source does).
fn stand_in(path: &Path, dir: &Path) {
    let log = dir.join("calls.log");
    let name = path.file_name().unwrap().to_string_lossy();
    let tail = if name == "ssh" {
        "echo 'web listening on :3000'\nexec sleep 600\n"
    } else {
        ""
    };
    std::fs::write(
        path,
        format!(
            "#!/bin/sh\necho \"{name} $*\" >> '{}'\necho \"{name} stand-in: ok\"\n{tail}",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The checklist length and the phases (name, destructive) of a plan, read from its TOML.
fn shape(plan: &Path) -> (usize, Vec<(String, bool)>) {
    let value: toml::Value = toml::from_str(&std::fs::read_to_string(plan).unwrap()).unwrap();
    let checklist = value
        .get("checklist")
        .and_then(|c| c.as_array())
        .map_or(0, Vec::len);
    let phases = value
        .get("phase")
        .and_then(|p| p.as_array())
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    (
                        p["name"].as_str().unwrap().to_string(),
                        p.get("destructive").and_then(|d| d.as_bool()) == Some(true),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (checklist, phases)
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

/// Waits until every preflight check has answered and passed (the terminal check may only warn).
fn preflight_done(app: &PtyApp) {
    let start = Instant::now();
    let done = regex::Regex::new(r"checks (\d+)/(\d+) ok").unwrap();
    while start.elapsed() < Duration::from_secs(20) {
        let screen = app.contents();
        if !screen.contains("checking")
            && let Some(c) = done.captures(&screen)
            && c[1] == c[2]
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the preflight did not pass:\n{}", app.contents());
}

/// Runs the example `name` through the whole release; returns the journal's events, the stand-ins' calls and the
/// report.
async fn release(name: &str) -> (Vec<Event>, String, String, Vec<String>) {
    let db = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let (port, posts) = http::ok_server();
    let plan = example_copy(name, dir.path(), port);
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in [
        "git", "npx", "npm", "pm2", "ssh", "docker", "flyctl", "curl",
    ] {
        stand_in(&bin.join(tool), dir.path());
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let home = dir.path().join("home");
    let plan_arg = plan.display().to_string();
    let webhook = format!("http://127.0.0.1:{port}/hook");
    let mut app = PtyApp::start_with_env(
        &["run", &plan_arg],
        data.path(),
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("SMOKE_TOKEN", "smoke-token-value"),
            ("SLACK_WEBHOOK_URL", webhook.as_str()),
            ("PATH", path.as_str()),
            ("HOME", home.to_str().unwrap()),
            ("SSH_CONNECTION", ""),
            ("SSH_CLIENT", ""),
        ],
    );
    let (checklist, phases) = shape(&plan);
    app.wait_for(&format!("Checklist 0/{checklist}"));
    for _ in 0..checklist {
        app.type_keys(" j");
    }
    app.wait_for(&format!("Checklist {checklist}/{checklist}"));
    preflight_done(&app);
    app.send("B");
    app.wait_for("backup verified");
    app.send("d");
    answer(&mut app, "Dry-run the pending migrations", "y");
    app.wait_for("all rolled back");
    app.send("a");
    // Production: the environment's name is typed.
    answer(&mut app, "Apply migrations", "production\r");
    app.wait_for("applied 2 migration(s)");
    for (i, (phase, destructive)) in phases.iter().enumerate() {
        // Rows: the checklist, Backup, Migrate, then the phases.
        app.type_keys(&format!("g{}\r", "j".repeat(checklist + 2 + i)));
        if *destructive {
            answer(
                &mut app,
                &format!("Run destructive phase: {phase}"),
                "production\r",
            );
        }
        app.wait_for(&format!("Phase '{phase}' succeeded."));
    }
    app.send("V");
    app.wait_for("verify passed");
    app.send("M");
    app.wait_for("monitoring ended: passed");
    app.send("S");
    app.wait_for("Sign off the release of production");
    app.type_keys("Released as planned.");
    app.send("\x13");
    app.wait_for("Report written:");
    app.send("q");
    assert_eq!(app.wait_exit(), 0, "{}", app.contents());

    let runs = journal::list_runs(data.path()).unwrap();
    assert_eq!(runs.len(), 1);
    let events = journal::read_entries(&runs[0].journal)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    let report =
        std::fs::read_to_string(runs[0].journal.parent().unwrap().join("report.md")).unwrap();
    let calls = std::fs::read_to_string(dir.path().join("calls.log")).unwrap_or_default();
    let posts = posts.lock().unwrap().clone();
    (events, calls, report, posts)
}

fn assert_released(events: &[Event], report: &str, migrations: &[&str]) {
    for m in migrations {
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::MigrationApplied { name, .. } if name == m)),
            "{m} not applied: {events:?}"
        );
    }
    let failed: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, Event::VerifyChecked { passed: false, .. }))
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::VerifyChecked { passed: true, .. }))
    );
    for row in [
        "| backup | passed |",
        "| migrate | passed |",
        "| deploy | passed |",
        "| verify | passed |",
        "| monitor | passed |",
        "| sign-off | passed |",
    ] {
        assert!(report.contains(row), "{row} missing:\n{report}");
    }
    assert!(report.contains("Released as planned."), "{report}");
}

#[tokio::test]
async fn example_a_sql_migration_with_rollback_sql_and_a_deploy_script() {
    let (events, calls, report, posts) = release("a-sql-migration").await;
    assert_released(
        &events,
        &report,
        &["001-create-invoices", "002-add-invoice-status"],
    );
    assert!(calls.contains("deploy.sh"), "{calls}");
    // The webhook heard the run start and its stages.
    assert!(
        posts
            .iter()
            .any(|p| p.starts_with("POST /hook") && p.contains("release started")),
        "{posts:?}"
    );
    assert!(
        posts.iter().any(|p| p.contains("stage deploy: passed")),
        "{posts:?}"
    );
    assert!(
        posts.iter().any(|p| p.contains("phase Deploy: succeeded")),
        "{posts:?}"
    );
    assert!(
        posts.iter().any(|p| p.contains("release signed off by")),
        "{posts:?}"
    );
    assert!(
        !report.contains("smoke-token-value"),
        "a secret in the report"
    );
}

#[tokio::test]
async fn example_b_prisma_project_with_table_and_foreign_key_assertions() {
    let (events, calls, report, _) = release("b-prisma").await;
    assert_released(
        &events,
        &report,
        &["20261103091500_init", "20261117143000_add_order_items"],
    );
    assert!(calls.contains("npx prisma migrate status"), "{calls}");
    assert!(calls.contains("pm2 reload"), "{calls}");
    for check in [
        "| tables | passed | `4` |",
        "| foreign keys | passed | `2` |",
    ] {
        assert!(report.contains(check), "{check} missing:\n{report}");
    }
}

#[tokio::test]
async fn example_c_drizzle_project_merged_from_staging() {
    let (events, calls, report, _) = release("c-drizzle").await;
    let tags: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::MigrationApplied { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(tags.len(), 2, "{tags:?}");
    assert_released(&events, &report, &[]);
    assert!(
        calls.contains("git merge --no-ff origin/staging"),
        "{calls}"
    );
    assert!(calls.contains("deploy.sh"), "{calls}");
    assert!(
        calls.contains("ssh deploy@web1.shop.internal"),
        "the log source ran: {calls}"
    );
}
