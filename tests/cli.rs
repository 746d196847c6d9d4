//! The command line as a user meets it: help and version, `check` on good and bad plans, exit codes for bad
//! usage, and `history` reading runs back from the journal.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use deckhand::journal::{Event, Journal};

fn deckhand(args: &[&str], data_dir: &std::path::Path) -> Output {
    // The data folder must be owner-only (issue 16): a temporary folder may be created 0755.
    private_data_dir(data_dir);
    // The demo plan's migrations folder, as `deckhand demo` sets it up (`check` looks for it).
    let demo = data_dir.join("demo");
    std::fs::create_dir_all(demo.join("migrations")).expect("demo folder");
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(args)
        .env("DECKHAND_DATA_DIR", data_dir)
        .env("DECKHAND_DEMO_DIR", &demo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run deckhand")
}

/// Makes a test's data folder owner-only, as deckhand requires of a data folder (issue 16).
fn private_data_dir(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if dir.is_dir() {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn version_and_help_for_every_command() {
    let d = tempfile::tempdir().unwrap();
    let out = deckhand(&["--version"], d.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("deckhand {}", env!("CARGO_PKG_VERSION"))
    );
    let out = deckhand(&["--help"], d.path());
    assert_eq!(out.status.code(), Some(0));
    for cmd in ["run", "check", "demo", "history", "import", "init"] {
        assert!(text(&out.stdout).contains(cmd), "--help lacks {cmd}");
        let sub = deckhand(&[cmd, "--help"], d.path());
        assert_eq!(sub.status.code(), Some(0), "{cmd} --help");
        assert!(
            text(&sub.stdout).contains("Usage: deckhand"),
            "{cmd} --help"
        );
    }
}

#[test]
fn bad_usage_exits_2() {
    let d = tempfile::tempdir().unwrap();
    assert_eq!(deckhand(&["frobnicate"], d.path()).status.code(), Some(2));
    assert_eq!(
        deckhand(&["check"], d.path()).status.code(),
        Some(2),
        "check needs a plan"
    );
}

#[test]
fn check_accepts_the_demo_plan() {
    let d = tempfile::tempdir().unwrap();
    let out = deckhand(&["check", "config/demo.toml"], d.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("config/demo.toml: ok."), "{stdout}");
    assert!(stdout.contains("4 phase(s), 2 destructive"), "{stdout}");
    assert!(
        stdout.contains("[destructive] Deploy (simulated)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[safe, optional] Long task (press c to cancel)"),
        "{stdout}"
    );
    assert!(stdout.contains("monitor: 1m"), "{stdout}");
}

#[test]
fn check_rejects_an_invalid_plan_with_file_line_column_and_key() {
    let d = tempfile::tempdir().unwrap();
    let out = deckhand(
        &[
            "check",
            "tests/fixtures/invalid/04-unknown-key-in-step.toml",
        ],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        "deckhand: invalid plan: tests/fixtures/invalid/04-unknown-key-in-step.toml:9:26: \
         phase[0].steps[1].timout: unknown field `timout`, expected one of `run`, `timeout`, `cwd`, `env`"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_plan_file_exits_2_for_check_and_run() {
    let d = tempfile::tempdir().unwrap();
    for cmd in ["check", "run"] {
        let out = deckhand(&[cmd, "no/such/plan.toml"], d.path());
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        assert!(
            text(&out.stderr).contains("no/such/plan.toml: cannot read plan"),
            "{cmd}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn history_lists_recorded_runs() {
    let d = tempfile::tempdir().unwrap();
    let out = deckhand(&["history"], d.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout).trim(), "No runs recorded yet.");

    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let mut ok = Journal::create(d.path(), t0).unwrap();
    ok.append(started("shop", "production"), t0).unwrap();
    ok.append(
        Event::Quit {
            exit_code: 0,
            reason: "operator quit".into(),
            outcome: None,
        },
        t0,
    )
    .unwrap();
    let t1 = t0 + Duration::from_secs(3600);
    let mut crashed = Journal::create(d.path(), t1).unwrap();
    crashed.append(started("shop", "staging"), t1).unwrap();

    let out = deckhand(&["history"], d.path());
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[1].contains("production") && lines[1].ends_with("ok"),
        "{stdout}"
    );
    assert!(
        lines[2].contains("staging") && lines[2].contains("no end recorded"),
        "{stdout}"
    );
}

fn started(project: &str, environment: &str) -> Event {
    Event::RunStarted {
        user: "ops".into(),
        host: "bastion".into(),
        ssh_client: None,
        plan: "deckhand.toml".into(),
        plan_checksum: "00".into(),
        project: project.into(),
        environment: environment.into(),
        version: "0.1.0".into(),
        pid: 1,
    }
}

const ENV_PLAN: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Deploy"
steps = [{ run = "./deploy.sh" }]

[[phase]]
name = "Load fixtures"
seed = true
steps = [{ run = "./seed.sh" }]

[rollback]
steps = [{ run = "./rollback.sh" }]
database = "none"

[window]
days = ["mon", "tue", "wed", "thu"]
hours = "09:00-16:00"
timezone = "Europe/Berlin"

[notify]
webhook = "https://hooks.slack.com/services/T0/B0/s3cr3t"

[environments.staging]
allow_seed = true

[environments.production]

[environments.production.monitor]
duration = "30m"
"#;

#[test]
fn check_env_picks_the_environment_and_reports_the_release_sections() {
    let d = tempfile::tempdir().unwrap();
    let plan = d.path().join("plan.toml");
    std::fs::write(&plan, ENV_PLAN).unwrap();
    let plan = plan.to_str().unwrap();

    let out = deckhand(&["check", plan], d.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("environment \"staging\";"), "{stdout}");
    assert!(
        stdout.contains("environments: staging, production (chosen: staging)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rollback: 1 step(s), database none"),
        "{stdout}"
    );
    assert!(
        stdout.contains("window: Mon-Thu 09:00-16:00 (Europe/Berlin)"),
        "{stdout}"
    );
    assert!(stdout.contains("monitor: 15m"), "{stdout}");
    assert!(
        stdout.contains("notify: https://hooks.slack.com/…"),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cr3t"), "{stdout}");
    assert!(
        stdout.contains("seed phase(s): Load fixtures (seeding allowed here)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[destructive, seed] Load fixtures"),
        "{stdout}"
    );

    let out = deckhand(&["check", "--env", "production", plan], d.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("environment \"production\" (production: typed confirmations)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("(chosen: production, a production environment)"),
        "{stdout}"
    );
    assert!(stdout.contains("monitor: 30m"), "{stdout}");
    assert!(stdout.contains("(seeding not allowed here)"), "{stdout}");

    let out = deckhand(&["check", "--env", "qa", plan], d.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown environment \"qa\" (from --env): this plan defines environments staging, production"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn report_writes_the_newest_run_with_the_runs_it_resumed() {
    let d = tempfile::tempdir().unwrap();
    let out = deckhand(&["report"], d.path());
    assert_eq!(
        out.status.code(),
        Some(2),
        "no runs yet: {}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("deckhand history"));

    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let mut first = Journal::create(d.path(), t0).unwrap();
    first.append(started("shop", "production"), t0).unwrap();
    first
        .append(
            Event::StageFinished {
                stage: deckhand::journal::Stage::Backup,
                result: deckhand::journal::StageResult::Passed,
                detail: "backup-from-first-run".into(),
            },
            t0,
        )
        .unwrap();
    let t1 = t0 + Duration::from_secs(60);
    let mut second = Journal::create(d.path(), t1).unwrap();
    second.append(started("shop", "production"), t1).unwrap();
    second
        .append(
            Event::Resumed {
                previous: first.run_id().into(),
                completed: vec![deckhand::journal::Completed::Backup {
                    file: "/b/shop.dump".into(),
                }],
                next: deckhand::journal::Stage::Deploy,
            },
            t1,
        )
        .unwrap();

    // The newest run, with what the run it resumed did.
    let out = deckhand(&["report"], d.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let path = second.run_dir().join("report.md");
    assert_eq!(text(&out.stdout).trim(), path.display().to_string());
    let report = std::fs::read_to_string(&path).unwrap();
    assert!(
        report.starts_with("# Release report: shop (production)"),
        "{report}"
    );
    assert!(report.contains("backup-from-first-run"), "{report}");

    // By id, by path and by unique prefix (the first run only: its report knows nothing of the second).
    let out = deckhand(&["report", "--stdout", first.run_id()], d.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("backup-from-first-run"));
    assert!(!text(&out.stdout).contains(second.run_id()));
    let dir = first.run_dir().display().to_string();
    let out = deckhand(&["report", "--stdout", &dir], d.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let prefix = &second.run_id()[..16]; // down to the minute: only the second run
    let out = deckhand(&["report", "--stdout", prefix], d.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(second.run_id()));

    // Ambiguous or unknown: exit 2, saying how to list runs.
    let out = deckhand(&["report", "2026"], d.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("matches 2 runs"),
        "{}",
        text(&out.stderr)
    );
    let out = deckhand(&["report", "nope"], d.path());
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no run \"nope\"") && stderr.contains("deckhand history"),
        "{stderr}"
    );
}

#[test]
fn check_shows_the_steps_run_before_a_restore() {
    let d = tempfile::tempdir().unwrap();
    let plan = d.path().join("plan.toml");
    std::fs::write(
        &plan,
        r#"
[project]
name = "shop"
environment = "production"

[database]
url = "postgres://app@db.internal:5432/shop"
migrations = "m"
format = "sqlx"

[[phase]]
name = "Deploy"
steps = [{ run = "./deploy.sh" }]

[rollback]
steps = [{ run = "./rollback.sh" }]
before_restore = [{ run = "systemctl stop shop", timeout = "1m" }]
"#,
    )
    .unwrap();
    std::fs::create_dir(d.path().join("m")).unwrap();
    let out = deckhand(&["check", plan.to_str().unwrap()], d.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("rollback: 1 step(s), database auto, 1 before_restore step(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  rollback before_restore (run first when the database is restored or reverted"
        ) && stdout.contains("    $ systemctl stop shop"),
        "{stdout}"
    );
}
