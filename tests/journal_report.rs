//! The run report: rendered from a real journal (and the one it resumed), every section present, passwords
//! masked, table cells escaped; and `deckhand report` writes it beside the journal.

use std::process::Command;
use std::time::{Duration, SystemTime};

use deckhand::journal::{Event, Journal, chain, report};

fn started(run_pid: &str) -> Event {
    Event::RunStarted {
        user: "ana".into(),
        host: "bastion".into(),
        ssh_client: Some("10.0.0.9 5000 22".into()),
        plan: "/srv/plan.toml".into(),
        plan_checksum: "c0ffee".into(),
        project: "shop".into(),
        environment: "production".into(),
        version: run_pid.into(),
        pid: 1,
    }
}

#[test]
fn report_covers_the_release_across_a_resumed_run_and_masks_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
    let mut first = Journal::create(dir.path(), t0).unwrap();
    for ev in [
        started("0.1.0"),
        Event::ChecklistTicked {
            index: 0,
            item: "Staging verified".into(),
            checked: true,
        },
        Event::BackupTaken {
            file: "/b/shop.dump".into(),
            size: 1024,
            sha256: "ab12".into(),
            duration_ms: 900,
        },
        Event::MigrationApplied {
            name: "0002_orders".into(),
            duration_ms: 42,
        },
        Event::Signal {
            name: "SIGHUP".into(),
        },
    ] {
        first.append(ev, t0).unwrap();
    }
    let mut second = Journal::create(dir.path(), t0 + Duration::from_secs(5)).unwrap();
    for ev in [
        started("0.1.0"),
        Event::Resumed {
            previous: first.run_id().into(),
            completed: vec!["backup".into()],
            next: "deploy".into(),
        },
        Event::StepStarted {
            phase: "Deploy".into(),
            step: 1,
            command: "psql postgres://app:hunter2@db/shop | tee out".into(),
            destructive: true,
            pid: 7,
            log: "x".into(),
        },
        Event::StepFinished {
            phase: "Deploy".into(),
            step: 1,
            destructive: true,
            outcome: "exit 0".into(),
            exit_code: Some(0),
            duration_ms: 1500,
        },
        Event::ConfirmationGiven {
            what: "Run destructive phase: Deploy".into(),
            typed: "production".into(),
        },
        Event::HealthAlert {
            check: "api".into(),
            why: "errors 8% > 5%".into(),
        },
        Event::SignedOff {
            by: "ana".into(),
            notes: "all good\n```\n# not a heading".into(),
        },
    ] {
        second.append(ev, t0).unwrap();
    }
    let entries = chain(dir.path(), second.run_id()).unwrap();
    assert_eq!(
        entries.first().unwrap().run,
        first.run_id(),
        "the resumed run comes first"
    );
    let md = report::render(&entries);
    for section in [
        "# Release report: shop (production)",
        "## Run",
        "## Checklist",
        "## Stages",
        "## Backup",
        "## Migrations",
        "## Commands",
        "## Health",
        "## Alerts",
        "## Confirmations",
        "## Rollback",
        "## Sign-off",
    ] {
        assert!(md.contains(section), "{section} missing:\n{md}");
    }
    assert!(md.contains("sha256 ab12"));
    assert!(md.contains("applied 0002_orders in 42 ms"));
    assert!(md.contains("by typing \"production\""));
    assert!(md.contains("ALERT api: errors 8% > 5%"));
    assert!(!md.contains("hunter2"), "{md}");
    assert!(
        md.contains("postgres://app:****@db/shop \\| tee out"),
        "{md}"
    );
    assert!(
        md.contains("    ```"),
        "notes are indented, never a live fence"
    );
    assert!(md.contains("Signed off by **ana**"));
}

#[test]
fn deckhand_report_writes_the_newest_runs_report_and_refuses_an_unknown_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::create(dir.path(), SystemTime::now()).unwrap();
    j.append(started("0.1.0"), SystemTime::now()).unwrap();
    let bin = env!("CARGO_BIN_EXE_deckhand");
    let out = Command::new(bin)
        .arg("report")
        .env("DECKHAND_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = String::from_utf8(out.stdout).unwrap();
    let text = std::fs::read_to_string(path.trim()).unwrap();
    assert!(text.starts_with("# Release report: shop (production)"));
    let out = Command::new(bin)
        .args(["report", "1999-"])
        .env("DECKHAND_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("deckhand history"));
}
