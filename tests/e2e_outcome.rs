//! End to end in a real pseudo-terminal (issue 14): a deploy breaks the service, the health check alerts, the
//! operator rolls back from the alerts list, verify waits for the service to recover and passes; the run exits 5,
//! and `deckhand history` and the report's summary say "rolled back" as the screen did.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::process::Command;

use common::migrations as m;
use common::pty::PtyApp;
use deckhand::journal::{self, Event, Outcome};

/// A plan whose deploy breaks the service (`broken` makes the health endpoint answer 503) and whose rollback
/// mends it; a short health window so the alert clears within seconds of the service recovering.
fn plan(dir: &Path, port: u16) -> std::path::PathBuf {
    let path = dir.join("deckhand.toml");
    let text = format!(
        r#"[project]
name = "shop"
environment = "staging"

[[checklist]]
item = "Release notes reviewed"

[[health]]
name = "api"
url = "http://127.0.0.1:{port}/health"
interval = "500ms"
timeout = "1s"
fail_after = 2
recover_after = 2
baseline_samples = 2
window = "3s"

[[phase]]
name = "Deploy"
destructive = true
steps = [{{ run = "echo deploying v2; touch broken", cwd = "." }}]

[rollback]
steps = [{{ run = "echo back to v1; rm -f broken", cwd = "." }}]
"#
    );
    m::write(&path, &text);
    path
}

/// Makes a test's data folder owner-only, as deckhand requires of a data folder (issue 16).
fn private_data_dir(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if dir.is_dir() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
    }
}

fn deckhand(args: &[&str], data: &Path) -> std::process::Output {
    // The data folder must be owner-only (issue 16): a temporary folder may be created 0755.
    private_data_dir(data);
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(args)
        .env("DECKHAND_DATA_DIR", data)
        .output()
        .expect("run deckhand")
}

#[test]
fn an_alert_triggered_rollback_verifies_once_health_recovers_and_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = common::http::flag_server(dir.path().join("broken"));
    let plan = plan(dir.path(), port);
    let plan_arg = plan.display().to_string();
    let mut app = PtyApp::start_with_env(
        &["run", &plan_arg],
        data.path(),
        &[("SSH_CONNECTION", ""), ("SSH_CLIENT", "")],
    );
    app.wait_for("Checklist 0/1");
    app.send(" ");
    app.wait_for("Checklist 1/1");
    app.type_keys("j\r");
    app.wait_for("Run destructive phase: Deploy");
    app.wait_prompt_ready();
    app.send("y");
    app.wait_for("Phase 'Deploy' succeeded.");
    // The service answers 503 now: the check alerts.
    app.wait_for("ALERT");
    app.send("A");
    app.wait_for("rollback");
    app.send("R");
    app.wait_for("Roll back staging");
    app.wait_prompt_ready();
    app.send("y");
    // The rollback mends the service; verify waits for the alert to clear, then passes.
    app.wait_for("Rollback finished: verify after rollback passed.");
    app.wait_for("ROLLED BACK");
    let screen = app.contents();
    assert!(!screen.contains("✓ ! Deploy"), "the deploy row:\n{screen}");
    app.send("q");
    assert_eq!(app.wait_exit(), 5, "a rolled-back run exits 5");
    app.assert_restored();
    assert!(!dir.path().join("broken").exists(), "the rollback step ran");

    let runs = journal::list_runs(data.path()).unwrap();
    let events: Vec<Event> = journal::read_entries(&runs[0].journal)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    let at = |want: &dyn Fn(&Event) -> bool| events.iter().position(want);
    let recovered = at(&|e| matches!(e, Event::HealthAlertCleared { .. })).expect("cleared");
    let rollback = at(&|e| matches!(e, Event::RollbackFinished { ok: true, .. })).expect("done");
    let verified = events
        .iter()
        .rposition(|e| {
            matches!(e, Event::StageFinished { stage: journal::Stage::Verify, result, .. }
                if *result == journal::StageResult::Passed)
        })
        .expect("verify passed");
    assert!(
        rollback < recovered && recovered < verified,
        "verify judged after health recovered: {events:?}"
    );
    assert!(matches!(
        events.last(),
        Some(Event::Quit {
            exit_code: 5,
            outcome: Some(Outcome::RolledBack),
            ..
        })
    ));

    let history = deckhand(&["history"], data.path());
    let history = String::from_utf8_lossy(&history.stdout).into_owned();
    let line = history.lines().nth(1).expect("one run");
    assert!(
        line.contains("shop") && line.ends_with("rolled back (exit 5)"),
        "{history}"
    );
    let report = deckhand(&["report", "--stdout"], data.path());
    assert_eq!(report.status.code(), Some(0));
    let report = String::from_utf8_lossy(&report.stdout).into_owned();
    let lead = &report[..report.find("\n## ").unwrap()];
    assert!(
        lead.contains("**Outcome: rolled back** (exit 5; operator quit)."),
        "{report}"
    );
    assert!(
        lead.contains("Verify after the rollback") && lead.contains("passed"),
        "{lead}"
    );
    assert!(
        report.contains("| deploy | rolled back |"),
        "the stage row:\n{report}"
    );
}
