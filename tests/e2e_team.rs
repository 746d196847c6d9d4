//! Team mode end to end (issue 20): two real consoles in real pseudo-terminals as two operators (their own data
//! folders, their own `DECKHAND_OPERATOR`) on one team database; the second refused with exit 4 naming the first;
//! the first killed with SIGKILL, after which the lock is free at once and the second gets it; each run's journal on
//! the team database, listed by `deckhand history PLAN`.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::pg::fresh_db;
use common::pty::{PtyApp, wait_gone};

const PLAN: &str = r#"[project]
name = "shop"
environment = "production"

[[checklist]]
item = "Release notes reviewed"

[[phase]]
name = "Deploy"
steps = [{ run = "true" }]

[team]
database = "${DECKHAND_TEAM_URL}"
"#;

fn deckhand(args: &[&str], dir: &Path, url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(args)
        .current_dir(dir)
        .env("DECKHAND_TEAM_URL", url)
        .output()
        .unwrap()
}

fn console(plan: &Path, data: &Path, url: &str, who: &str, extra: &[&str]) -> PtyApp {
    let mut args = vec!["run", plan.to_str().unwrap()];
    args.extend_from_slice(extra);
    PtyApp::start_with_env(
        &args,
        data,
        &[("DECKHAND_TEAM_URL", url), ("DECKHAND_OPERATOR", who)],
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_second_console_is_refused_until_the_first_is_killed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(fresh_db());
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("deckhand.toml");
    std::fs::write(&plan, PLAN).unwrap();
    let init = deckhand(&["team", "init"], dir.path(), &db.url);
    assert_eq!(init.status.code(), Some(0), "{}", text(&init.stderr));

    let (data_a, data_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let alice = console(&plan, data_a.path(), &db.url, "alice", &[]);
    alice.wait_for("Checklist 0/1");
    let status = deckhand(&["team", "status"], dir.path(), &db.url);
    let said = text(&status.stdout);
    assert!(said.contains("shop production: "), "{said}");
    assert!(said.contains(" as alice on "), "{said}");

    // Bob, elsewhere (his own data folder): refused, naming Alice.
    let mut bob = console(&plan, data_b.path(), &db.url, "bob", &[]);
    assert_eq!(bob.wait_exit(), 4);
    bob.wait_for_output("is being released by");
    bob.wait_for_output(" as alice on ");
    drop(bob);

    // Bob waits this time; Alice's console is killed outright: the lock goes with her session.
    let mut bob = console(&plan, data_b.path(), &db.url, "bob", &["--wait", "60s"]);
    bob.wait_for_output("waiting for it to end");
    let pid = alice.pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(wait_gone(pid));
    bob.wait_for("Checklist 0/1");
    let status = deckhand(&["team", "status"], dir.path(), &db.url);
    let said = text(&status.stdout);
    assert!(said.contains(" as bob on "), "{said}");
    assert!(!said.contains(" as alice on "), "{said}");
    bob.type_keys(" ");
    bob.wait_for("Checklist 1/1");
    bob.send("q");
    assert_eq!(bob.wait_exit(), 1, "quit before sign-off");
    bob.assert_restored();
    let status = deckhand(&["team", "status"], dir.path(), &db.url);
    assert!(
        text(&status.stdout).contains("Nobody is releasing"),
        "{}",
        text(&status.stdout)
    );

    // Both runs are on the team database; Bob's whole journal, his tick included.
    let deadline = Instant::now() + Duration::from_secs(20);
    let history = loop {
        let h = deckhand(&["history", plan.to_str().unwrap()], dir.path(), &db.url);
        let out = text(&h.stdout);
        if out.lines().count() >= 3 || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(
        history.lines().count(),
        3,
        "a header and two runs:\n{history}"
    );
    assert!(
        history.contains("operator quit") || history.contains("exit 1"),
        "{history}"
    );
    let report = deckhand(
        &["report", "--plan", plan.to_str().unwrap()],
        dir.path(),
        &db.url,
    );
    let report = text(&report.stdout);
    assert!(report.contains("Release notes reviewed"), "{report}");
}

/// `deckhand watch` in a pty follows alice's live run from elsewhere: what she does appears as she does it, and the
/// watch ends with her run.
#[test]
fn a_watch_follows_a_live_run_to_its_end() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(fresh_db());
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("deckhand.toml");
    std::fs::write(&plan, PLAN).unwrap();
    assert_eq!(
        deckhand(&["team", "init"], dir.path(), &db.url)
            .status
            .code(),
        Some(0)
    );
    let data_a = tempfile::tempdir().unwrap();
    let mut alice = console(&plan, data_a.path(), &db.url, "alice", &[]);
    alice.wait_for("Checklist 0/1");
    let data_w = tempfile::tempdir().unwrap();
    let mut watch = PtyApp::start_with_env(
        &["watch", plan.to_str().unwrap()],
        data_w.path(),
        &[("DECKHAND_TEAM_URL", &db.url)],
    );
    watch.wait_for_output("watching run ");
    watch.wait_for_output("run_started");
    alice.type_keys(" ");
    alice.wait_for("Checklist 1/1");
    watch.wait_for_output("checklist_ticked");
    watch.wait_for_output("item=Release notes reviewed");
    alice.send("q");
    assert_eq!(alice.wait_exit(), 1);
    watch.wait_for_output("the run ended: ");
    assert_eq!(watch.wait_exit(), 0);
    // A finished run is shown whole, and the watch ends at once, also from a host without the plan.
    let elsewhere = tempfile::tempdir().unwrap();
    let again = deckhand(&["watch", "shop", "production"], elsewhere.path(), &db.url);
    let out = text(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{out}");
    assert!(
        out.contains("checklist_ticked") && out.contains("the run ended: "),
        "{out}"
    );
}

const FOUR_EYES: &str = r#"[project]
name = "shop"
environment = "production"

[[checklist]]
item = "Release notes reviewed"

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "touch deployed.flag" }]

[team]
database = "${DECKHAND_TEAM_URL}"
approve = ["production"]
"#;

/// Four-eyes in real terminals: alice confirms a destructive phase in production, her console waits; bob, from his
/// own shell, sees exactly what will run and approves; only then does the phase run. Alice could not approve it.
#[test]
fn a_destructive_phase_runs_once_a_second_operator_approves_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(fresh_db());
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("deckhand.toml");
    std::fs::write(
        &plan,
        FOUR_EYES.replace(
            "touch deployed.flag",
            &format!("touch {}", dir.path().join("deployed.flag").display()),
        ),
    )
    .unwrap();
    assert_eq!(
        deckhand(&["team", "init"], dir.path(), &db.url)
            .status
            .code(),
        Some(0)
    );
    let data = tempfile::tempdir().unwrap();
    let mut alice = console(&plan, data.path(), &db.url, "alice", &[]);
    alice.wait_for("Checklist 0/1");
    alice.type_keys(" ");
    alice.wait_for("Checklist 1/1");
    alice.type_keys("j\r");
    alice.wait_for("Run destructive phase: Deploy");
    alice.wait_prompt_ready();
    alice.type_keys("production\r");
    alice.wait_for("Awaiting approval");
    assert!(
        !dir.path().join("deployed.flag").exists(),
        "nothing runs before the approval"
    );

    let approve = |who: &str| {
        Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .args(["approve", "--yes"])
            .current_dir(dir.path())
            .env("DECKHAND_TEAM_URL", &db.url)
            .env("DECKHAND_OPERATOR", who)
            .output()
            .unwrap()
    };
    // The request reaches the team database once the console filed it (a hang guard, not a timing bound).
    let deadline = Instant::now() + Duration::from_secs(20);
    let own = loop {
        let out = approve("alice");
        if !text(&out.stderr).contains("nothing waits") || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(own.status.code(), Some(1));
    assert!(
        text(&own.stderr).contains("is yours"),
        "{}",
        text(&own.stderr)
    );
    let bob = approve("bob");
    let shown = text(&bob.stdout);
    assert_eq!(bob.status.code(), Some(0), "{shown}{}", text(&bob.stderr));
    assert!(shown.contains("Run destructive phase: Deploy"), "{shown}");
    assert!(shown.contains("deployed.flag"), "{shown}");
    alice.wait_for("Approved by ");
    let flag = dir.path().join("deployed.flag");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !flag.exists() {
        assert!(Instant::now() < deadline, "the phase never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    alice.send("q");
    alice.wait_for("Quit before sign-off");
    alice.wait_prompt_ready();
    alice.send("y");
    assert_eq!(alice.wait_exit(), 1, "quit before sign-off");
    alice.assert_restored();
}
