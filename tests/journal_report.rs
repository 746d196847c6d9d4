//! The Markdown release report: every section from a realistic journal, escaping (table cells, notes with
//! fences), password masking, and the file written beside the journal.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

use deckhand::journal::{
    Blocker, Entry, Event, Journal, MonitorResult, Outcome, PhaseResult, RestoreKind, Stage,
    StageResult, StepResult, read_entries, render, write_report,
};

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000 + secs)
}

fn s(v: &str) -> String {
    v.to_string()
}

fn release_events() -> Vec<Event> {
    vec![
        Event::RunStarted {
            user: s("alice"),
            host: s("bastion"),
            ssh_client: Some(s("10.0.0.7 51234 22")),
            plan: s("/srv/shop/deckhand.toml"),
            plan_checksum: s("ab12cd34"),
            project: s("shop"),
            environment: s("production"),
            version: s("0.1.0"),
            pid: 4242,
        },
        Event::ChecklistTicked {
            index: 0,
            item: s("Announce in #ops"),
            checked: true,
        },
        Event::ChecklistTicked {
            index: 1,
            item: s("Freeze merges"),
            checked: true,
        },
        Event::ChecklistTicked {
            index: 1,
            item: s("Freeze merges"),
            checked: false,
        },
        Event::ChecklistOverridden {
            reason: s("merges frozen by CI"),
            unticked: vec![s("Freeze merges")],
        },
        Event::StageStarted {
            stage: Stage::Preflight,
        },
        Event::PreflightChecked {
            check: s("database"),
            ok: true,
            detail: s("reachable in 12 ms"),
        },
        Event::PreflightChecked {
            check: s("window"),
            ok: false,
            detail: s("outside Tue-Thu 09:00-16:00"),
        },
        Event::StageFinished {
            stage: Stage::Preflight,
            result: StageResult::Failed,
            detail: s("1 check failed"),
        },
        Event::StageOverridden {
            stage: Stage::Preflight,
            reason: s("hotfix approved by CTO"),
            blockers: vec![Blocker::PreflightFailed],
            detail: s("window: outside Tue-Thu 09:00-16:00"),
        },
        Event::StageStarted {
            stage: Stage::Backup,
        },
        Event::BackupStarted {
            target: s("postgres://app:hunter2@db.internal/shop"),
            dir: s("/var/backups/shop"),
        },
        Event::BackupTaken {
            file: s("/var/backups/shop/shop-1.dump"),
            size: 13_000_000,
            sha256: s("deadbeef"),
            duration_ms: 4_200,
            counters: Some(s(
                "write counters of 12 tables (PostgreSQL's statistics, never reset)",
            )),
        },
        Event::BackupVerified {
            file: s("/var/backups/shop/shop-1.dump"),
            ok: true,
            tables: 12,
            compared_with_live: true,
            problems: vec![],
            schema_changes: vec![s(
                "column public.orders.added (integer) of the live database is not in the archive",
            )],
            duration_ms: 2_100,
        },
        Event::BackupsDeleted {
            files: vec![s("/var/backups/shop/shop-0.dump")],
        },
        Event::StageFinished {
            stage: Stage::Backup,
            result: StageResult::Passed,
            detail: String::new(),
        },
        Event::StageStarted {
            stage: Stage::Migrate,
        },
        Event::MigrationsDryRun {
            results: vec![s("0007_add_index: ok (rolled back)")],
        },
        Event::Rehearsal {
            file: s("/var/backups/shop/shop-1.dump"),
            scratch: s("shop_rehearsal"),
            results: vec![s("0007_add_index: ok in 3.1 s")],
            way_back: Some(deckhand::journal::WayBackRecord {
                result: deckhand::journal::WayBackResult::Failed,
                steps: vec![
                    s(
                        "0007_add_index: down FAILED after 12 ms: index \"orders_idx\" does not exist (42704)",
                    ),
                    s("applying the migrations again: not attempted after the failed down file"),
                ],
            }),
            dropped: true,
            duration_ms: 9_000,
        },
        Event::ConfirmationAsked {
            what: s("apply 1 migration"),
            expected: s("shop"),
        },
        Event::ConfirmationGiven {
            what: s("apply 1 migration"),
            typed: s("shop"),
        },
        Event::MigrationsApplyStarted {
            target: s("postgres://app:****@db.internal/shop"),
            format: s("sqlx"),
            migrations: vec![s("0007_add_index")],
        },
        Event::MigrationRisks {
            migration: s("0007_add_index"),
            findings: vec![s("warning: index without CONCURRENTLY")],
            exemptions: vec![s("small table: 2k rows")],
            data: vec![s("line 3: drops 1,204 rows of audit (exact count)")],
        },
        Event::MigrationApplied {
            name: s("0007_add_index"),
            duration_ms: 3_150,
        },
        Event::MigrationFailed {
            name: Some(s("0008_drop_col")),
            error: s("column \"x\" does not exist"),
            line: Some(3),
            column: Some(5),
            statement: Some(s("ALTER TABLE t DROP COLUMN x;")),
        },
        Event::MigrationResolved {
            action: s("mark-rolled-back"),
            name: s("0008_drop_col"),
            result: s("removed from ledger"),
        },
        Event::StageFinished {
            stage: Stage::Migrate,
            result: StageResult::Passed,
            detail: String::new(),
        },
        Event::BackupGateOverridden {
            what: s("seed"),
            reason: s("staging copy only"),
        },
        Event::HealthBaseline {
            check: s("api"),
            median_ms: Some(40),
            p95_ms: Some(90),
            median_value: None,
            p95_value: None,
            samples: 20,
            errors: 0,
            no_answer: 0,
            wanted: 20,
        },
        Event::StageStarted {
            stage: Stage::Deploy,
        },
        Event::PhaseStarted {
            phase: s("Deploy"),
            destructive: true,
        },
        Event::StepStarted {
            phase: s("Deploy"),
            step: 1,
            command: s("kubectl rollout restart deploy/shop | tee /tmp/out"),
            destructive: true,
            pid: 777,
            log: s("steps/phase01-step01.log"),
        },
        Event::StepFinished {
            phase: s("Deploy"),
            step: 1,
            destructive: true,
            outcome: StepResult::Exited,
            exit_code: Some(0),
            signal: None,
            detail: String::new(),
            duration_ms: 65_000,
        },
        Event::CancelRequested {
            phase: s("Deploy"),
            step: 1,
        },
        Event::PhaseFinished {
            phase: s("Deploy"),
            destructive: true,
            result: PhaseResult::Succeeded,
            duration_ms: 66_000,
        },
        Event::StageFinished {
            stage: Stage::Deploy,
            result: StageResult::Passed,
            detail: String::new(),
        },
        Event::StageStarted {
            stage: Stage::Verify,
        },
        Event::SmokeChecked {
            name: s("home page"),
            ok: true,
            status: Some(200),
            latency_ms: Some(55),
            detail: String::new(),
        },
        Event::VerifyChecked {
            name: s("orders migrated"),
            value: Some(s("42")),
            passed: true,
            error: None,
        },
        Event::HealthSummary {
            check: s("api"),
            when: s("after"),
            median_ms: Some(48),
            p95_ms: Some(120),
            samples: 30,
            errors: 1,
            no_answer: 0,
        },
        Event::StageFinished {
            stage: Stage::Verify,
            result: StageResult::Passed,
            detail: String::new(),
        },
        Event::MonitorStarted {
            duration_ms: 600_000,
        },
        Event::HealthAlert {
            check: s("api"),
            why: s("p95 250 ms > 2x baseline"),
        },
        Event::HealthAlertAnswered {
            check: s("api"),
            rollback: true,
            note: s("rolling back"),
        },
        Event::HealthAlertCleared { check: s("api") },
        Event::MonitorFinished {
            result: MonitorResult::Alerted,
            alerts: 1,
            elapsed_ms: 120_000,
        },
        Event::ConfirmationDeclined {
            what: s("roll back"),
            typed: s("shp"),
            why: s("typed text did not match"),
        },
        Event::RollbackStarted {
            reason: s("p95 latency doubled"),
            before_restore: vec![s("kubectl scale deploy/shop --replicas=0")],
            code_steps: vec![s("kubectl rollout undo deploy/shop")],
            database: s("revert 1 migration"),
            loss: Some(s(
                "writes since the backup (2026-11-18 08:00:00 UTC, 42 min ago); public.accounts: 1 inserted",
            )),
        },
        Event::MigrationReverted {
            name: s("0007_add_index"),
            duration_ms: 800,
        },
        Event::RestoreStarted {
            file: s("/var/backups/shop/shop-1.dump"),
            target: s("shop"),
            mode: RestoreKind::InPlace,
            new_database: None,
            loss: None,
        },
        Event::RestoreFinished {
            file: s("/var/backups/shop/shop-1.dump"),
            target: s("shop"),
            tables: 12,
            missing: vec![],
            extra: vec![],
            dropped: vec![s("public.orders")],
            kept: Some(s("shop_before_restore")),
            duration_ms: 30_000,
        },
        Event::RollbackFinished {
            ok: true,
            detail: s("verify passed after rollback"),
        },
        Event::NotificationFailed {
            what: s("slack"),
            error: s("HTTP 500 from https://hooks.example/x"),
        },
        Event::Signal { name: s("SIGHUP") },
        Event::SignedOff {
            by: s("alice"),
            notes: s("Rolled back.\n```\nrm -rf /\n```\nSee postgres://root:s3cret@db/admin"),
        },
        Event::ReportWritten {
            path: s("report.md"),
        },
        Event::Quit {
            exit_code: 5,
            reason: s("operator quit"),
            outcome: Some(Outcome::RolledBack),
        },
    ]
}

fn journal() -> (tempfile::TempDir, Journal, Vec<Entry>) {
    let d = tempfile::tempdir().unwrap();
    let mut j = Journal::create(d.path(), t(0)).unwrap();
    for (i, e) in release_events().into_iter().enumerate() {
        j.append(e, t(i as u64 * 10)).unwrap();
    }
    let entries = read_entries(j.path()).unwrap();
    (d, j, entries)
}

fn section<'a>(report: &'a str, title: &str) -> &'a str {
    let start = report
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("no section {title}:\n{report}"));
    let rest = &report[start + title.len() + 5..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

#[test]
fn every_section_holds_its_facts() {
    let (_d, j, entries) = journal();
    let report = render(&entries);
    assert!(
        report.starts_with("# Release report: shop (production)\n"),
        "{report}"
    );
    let run = section(&report, "Run");
    for fact in [
        "**alice**",
        "bastion",
        "10.0.0.7",
        "/srv/shop/deckhand.toml",
        "ab12cd34",
        j.run_id(),
    ] {
        assert!(run.contains(fact), "Run lacks {fact}:\n{run}");
    }
    // The summary leads with the outcome, the same the console and the exit code gave.
    let lead = &report[..report.find("\n## ").unwrap()];
    for fact in [
        "**Outcome: rolled back** (exit 5; operator quit).",
        "Rollback started",
        "Signed off by **alice**",
        "Verify after the rollback",
        "problem(s) listed under *Interruptions and errors*",
    ] {
        assert!(lead.contains(fact), "the lead lacks {fact}:\n{lead}");
    }
    assert!(run.contains("**rolled back**, exit 5"), "{run}");
    let checklist = section(&report, "Checklist");
    assert!(
        checklist.contains("| 2 | Freeze merges | not ticked |"),
        "{checklist}"
    );
    assert!(checklist.contains("merges frozen by CI"), "{checklist}");
    let stages = section(&report, "Stages");
    // One row per stage, with its final state and what it was before.
    assert!(
        stages.contains(
            "| preflight | gone past with a reason | hotfix approved by CTO | failed at "
        ),
        "{stages}"
    );
    assert_eq!(stages.matches("| deploy |").count(), 1, "{stages}");
    assert!(
        section(&report, "Preflight").contains("| window | FAILED | outside Tue-Thu 09:00-16:00 |")
    );
    let backup = section(&report, "Backup");
    for fact in [
        "shop-1.dump",
        "12.4 MiB (13000000 bytes)",
        "deadbeef",
        "12 tables",
        "Recorded with it: write counters of 12 tables",
        "The schema changed since the backup: column public.orders.added (integer) of the live database is not in the archive",
        "shop-0.dump",
    ] {
        assert!(backup.contains(fact), "Backup lacks {fact}:\n{backup}");
    }
    assert!(
        !backup.contains("shop_before_restore"),
        "a rollback's restore is under Rollback"
    );
    let migrations = section(&report, "Migrations");
    for fact in [
        "| `0007_add_index` | 3.1 s |",
        "index without CONCURRENTLY",
        "small table",
        "Dry run",
        "Rehearsal",
        "FAILED `0008_drop_col` at line 3, column 5",
        "ALTER TABLE t DROP COLUMN x;",
        "removed from ledger",
    ] {
        assert!(
            migrations.contains(fact),
            "Migrations lacks {fact}:\n{migrations}"
        );
    }
    let commands = section(&report, "Commands");
    assert!(commands.contains("| Deploy (destructive) | 1 | `kubectl rollout restart deploy/shop \\| tee /tmp/out` | exit 0 | 0 | 1 min 05 s |"), "{commands}");
    assert!(commands.contains("Cancel requested"), "{commands}");
    let health = section(&report, "Health");
    assert!(
        health.contains("| api | baseline | ")
            && health.contains(" UTC | 40 ms | 90 ms | 20 of 20 | 0 | 0 |"),
        "{health}"
    );
    assert!(
        health.contains("| api | after | ")
            && health.contains(" UTC | 48 ms | 120 ms | 30 | 1 | 0 |"),
        "{health}"
    );
    assert!(
        health.contains("| home page | ok | 200 | 55 ms |"),
        "{health}"
    );
    assert!(
        health.contains("| orders migrated | passed | `42` |"),
        "{health}"
    );
    assert!(
        health.contains("Monitoring ended after 2 min 00 s: alerted (1 alert(s))"),
        "{health}"
    );
    let alerts = section(&report, "Alerts");
    assert!(
        alerts.contains("p95 250 ms")
            && alerts.contains("cleared")
            && alerts.contains("rollback yes"),
        "{alerts}"
    );
    let confirmations = section(&report, "Confirmations");
    for fact in [
        "apply 1 migration | `shop` | confirmed",
        "declined: typed text did not match",
        "backup gate: seed",
        "checklist, unticked: Freeze merges",
        "stage preflight past: window",
    ] {
        assert!(
            confirmations.contains(fact),
            "Confirmations lack {fact}:\n{confirmations}"
        );
    }
    let rollback = section(&report, "Rollback");
    for fact in [
        "p95 latency doubled",
        "First (before_restore): `kubectl scale deploy/shop --replicas=0`",
        "Lost: writes since the backup (2026-11-18 08:00:00 UTC, 42 min ago); public.accounts: 1 inserted",
        "kubectl rollout undo",
        "Reverted `0007_add_index`",
        "shop_before_restore",
        "Finished",
        "verify passed after rollback",
    ] {
        assert!(
            rollback.contains(fact),
            "Rollback lacks {fact}:\n{rollback}"
        );
    }
    assert!(section(&report, "Sign-off").contains("Signed off by **alice**"));
    assert!(section(&report, "Notifications").contains("HTTP 500"));
    assert!(section(&report, "Interruptions and errors").contains("SIGHUP"));
    insta::assert_snapshot!(report.replace(j.run_id(), "RUN-ID"));
}

#[test]
fn passwords_are_masked_everywhere() {
    let (_d, _j, entries) = journal();
    let report = render(&entries);
    assert!(!report.contains("hunter2"), "{report}");
    assert!(!report.contains("s3cret"), "{report}");
    assert!(report.contains("postgres://app:****@db.internal/shop"));
    assert!(report.contains("postgres://root:****@db/admin"));
}

#[test]
fn notes_with_fences_stay_inside_their_block() {
    let (_d, _j, entries) = journal();
    let sign_off = section(&render(&entries), "Sign-off").to_string();
    let open = sign_off
        .find("````text\n")
        .expect("a fence longer than the notes' own");
    let body = &sign_off[open + 8..];
    let close = body.find("\n````\n").expect("closed");
    assert!(body[..close].contains("```\nrm -rf /\n```"), "{sign_off}");
}

#[test]
fn empty_sections_say_so() {
    let (_d, _j, entries) = journal();
    let report = render(&entries[..1]);
    for title in [
        "Checklist",
        "Stages",
        "Preflight",
        "Backup",
        "Migrations",
        "Commands",
        "Health",
        "Alerts",
        "Confirmations",
    ] {
        assert_eq!(
            section(&report, title).trim(),
            "None.",
            "{title}:\n{report}"
        );
    }
    assert_eq!(section(&report, "Rollback").trim(), "No rollback.");
    assert_eq!(section(&report, "Sign-off").trim(), "Not signed off.");
    assert_eq!(
        section(&report, "Notifications").trim(),
        "No notification failures."
    );
    let lead = &report[..report.find("\n## ").unwrap()];
    assert!(lead.contains("**Outcome: no end recorded**"), "{report}");
}

#[test]
fn write_puts_a_private_report_beside_the_journal() {
    let (_d, j, entries) = journal();
    let path = write_report(j.run_dir(), &entries).unwrap();
    assert_eq!(path, j.run_dir().join("report.md"));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), render(&entries));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // Written again (a resumed run's report) it is replaced whole, with no temporary file left behind.
    write_report(j.run_dir(), &entries[..3]).unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        render(&entries[..3])
    );
    let names: Vec<_> = std::fs::read_dir(j.run_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn control_characters_of_journaled_text_arrive_inert() {
    let d = tempfile::tempdir().unwrap();
    let mut j = Journal::create(d.path(), t(0)).unwrap();
    j.append(release_events().remove(0), t(0)).unwrap();
    j.append(
        Event::Error {
            context: s("migrations"),
            message: s("relation \"x\x1b]0;pwned\x07\" does not exist\x1b[2J"),
        },
        t(1),
    )
    .unwrap();
    let report = render(&read_entries(j.path()).unwrap());
    assert!(
        !report.contains('\x1b') && !report.contains('\x07'),
        "{report:?}"
    );
    assert!(report.contains("^[]0;pwned^G"), "{report}");
}
