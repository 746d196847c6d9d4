//! Journals written by earlier versions of deckhand keep parsing and resuming. The fixtures under
//! `tests/fixtures/journal/` were written by the real `Journal` writer from `update()` scenarios (the ignored
//! `write_fixture_journals` below, run at the version named by the file).
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, Row, Signal, State};
use deckhand::journal::{Event, Journal};
use deckhand::migrate::status::State as MState;
use deckhand::runner::backup::BackupEvent;
use deckhand::runner::migrate::ApplyOutcome;
use deckhand::runner::{PreflightResult, RunnerEvent, StepId, StepOutcome};

const PLAN_PATH: &str = "/srv/shop/deckhand.toml";

const PLAN: &str = r#"
[project]
name = "shop"
environment = "production"

[[checklist]]
item = "Staging verified"

[[checklist]]
item = "Team notified"

[database]
url = "postgres://app@db.internal:5432/shop"
migrations = "prisma/migrations"

[backup]
dir = "/var/backups/shop"

[[phase]]
name = "Deploy"
destructive = true
steps = [{ run = "./deploy.sh" }, { run = "./migrate-cache.sh" }]

[[phase]]
name = "Smoke script"
steps = [{ run = "./smoke.sh" }]

[[smoke]]
name = "home"
url = "http://127.0.0.1:9/"
"#;

const BACKUP: &str = "/var/backups/shop/shop-production-20261121T140300Z.dump";

fn snapshot(states: &[(&str, MState)]) -> Action {
    Action::Runner(RunnerEvent::Migrations(Ok(common::ledger::snapshot(
        states,
    ))))
}

fn listed(verified: bool) -> Action {
    let list = vec![archive(BACKUP, "shop", verified)];
    Action::Runner(RunnerEvent::Backup(Box::new(BackupEvent::Listed(list))))
}

fn preflight(check: &str, detail: &str) -> Action {
    Action::Runner(RunnerEvent::Preflight(PreflightResult {
        check: check.into(),
        ok: true,
        detail: detail.into(),
        policy: false,
    }))
}

fn step_done(phase: usize, step: usize, code: i32) -> Action {
    Action::Runner(RunnerEvent::StepFinished {
        id: StepId { phase, step },
        outcome: StepOutcome::Exited(code),
        duration: Duration::from_secs(3),
    })
}

/// Writes what a console would: the journal entries among `fx`, and a `StepStarted` for each step it starts.
struct Writer {
    journal: Journal,
    at: SystemTime,
}

impl Writer {
    fn new(dir: &Path, at: SystemTime) -> Writer {
        let mut w = Writer {
            journal: Journal::create(dir, at).unwrap(),
            at,
        };
        w.write(Event::RunStarted {
            user: "ops".into(),
            host: "bastion".into(),
            ssh_client: None,
            plan: PLAN_PATH.into(),
            plan_checksum: "5e1f".into(),
            project: "shop".into(),
            environment: "production".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            pid: 4242,
        });
        w
    }

    fn write(&mut self, e: Event) {
        self.at += Duration::from_secs(1);
        self.journal.append(e, self.at).unwrap();
    }

    fn effects(&mut self, state: &State, fx: Vec<Effect>) {
        for e in fx {
            match e {
                Effect::Journal(ev) => self.write(ev),
                Effect::StartStep(id) => {
                    let phase = &state.plan.phases[id.phase];
                    self.write(Event::StepStarted {
                        phase: phase.name.clone(),
                        step: id.step + 1,
                        command: phase.steps[id.step].run.display.clone(),
                        destructive: phase.destructive,
                        pid: 5000 + id.step as u32,
                        log: format!("steps/{}-{}.log", id.phase + 1, id.step + 1),
                    })
                }
                _ => {}
            }
        }
    }
}

/// One console's scenario: each action's effects go through the writer.
struct Run {
    h: Harness,
    w: Writer,
}

impl Run {
    fn act(&mut self, a: Action) {
        let fx = self.h.act(a);
        self.w.effects(&self.h.state, fx);
    }
    fn key(&mut self, k: KeyCode) {
        let fx = self.h.key(k);
        self.w.effects(&self.h.state, fx);
    }
    fn text(&mut self, s: &str) {
        let fx = self.h.type_text(s);
        self.w.effects(&self.h.state, fx);
    }
    fn settle(&mut self) {
        let fx = self.h.act(Action::ModalShown);
        self.w.effects(&self.h.state, fx);
        self.h.wait(Duration::from_millis(400));
    }
    fn select(&mut self, row: Row) {
        self.h.state.selected = self.h.state.rows().iter().position(|r| *r == row).unwrap();
    }
    fn start(&mut self) {
        let fx = deckhand::app::start(&mut self.h.state);
        self.w.effects(&self.h.state, fx);
        self.act(preflight(
            "migrations",
            "/srv/shop/prisma/migrations (2 entries)",
        ));
        self.act(preflight("database", "db.internal:5432/shop"));
        self.act(preflight("terminal", "ssh inside tmux"));
    }
}

/// The first console: checklist, a verified backup, m2 applied untried with a reason, the deploy phase hung up
/// after its first step.
fn first_run(dir: &Path, at: SystemTime) {
    let mut r = Run {
        h: Harness::new(plan_from(PLAN)),
        w: Writer::new(dir, at),
    };
    r.start();
    r.act(snapshot(&[
        ("m1", MState::Applied),
        ("m2", MState::Pending),
    ]));
    r.act(listed(true));
    r.select(Row::Check(0));
    r.key(KeyCode::Char(' '));
    r.select(Row::Check(1));
    r.key(KeyCode::Char(' '));
    r.key(KeyCode::Char('B'));
    let taken = archive(BACKUP, "shop", false);
    r.act(Action::Runner(RunnerEvent::Backup(Box::new(
        BackupEvent::Taken(taken),
    ))));
    r.act(verified_event(&archive(BACKUP, "shop", true), true));
    r.act(listed(true));
    r.key(KeyCode::Char('a'));
    r.settle();
    r.text("hotfix: the dry-run database is down");
    r.key(KeyCode::Enter);
    r.settle();
    r.text("production");
    r.key(KeyCode::Enter);
    r.act(Action::Runner(RunnerEvent::MigrationsApplied(
        ApplyOutcome {
            applied: vec![("m2".into(), Duration::from_millis(40))],
            error: None,
            failure: None,
            stopped: false,
        },
    )));
    r.act(snapshot(&[
        ("m1", MState::Applied),
        ("m2", MState::Applied),
    ]));
    // A read-only phase that fails, then the deploy, hung up while its first step runs.
    r.h.select_phase(1);
    r.key(KeyCode::Enter);
    r.act(step_done(1, 0, 1));
    r.h.select_phase(0);
    r.key(KeyCode::Enter);
    r.settle();
    r.text("production");
    r.key(KeyCode::Enter);
    r.act(Action::Signal(Signal::Hangup));
    r.act(step_done(0, 0, 0));
}

/// The second console resumes the first, finishes the deploy, goes past the deploy stage (the failed read-only
/// phase) and verify with reasons, and hangs up in the sign-off form.
fn second_run(dir: &Path, at: SystemTime, previous: &str, earlier: &[Event]) {
    let mut r = Run {
        h: Harness::new(plan_from(PLAN)),
        w: Writer::new(dir, at),
    };
    let fx = deckhand::app::restore(&mut r.h.state, previous, earlier);
    r.w.effects(&r.h.state, fx);
    r.start();
    r.act(listed(true));
    r.act(snapshot(&[
        ("m1", MState::Applied),
        ("m2", MState::Applied),
    ]));
    r.h.select_phase(0);
    r.key(KeyCode::Enter);
    r.settle();
    r.text("production");
    r.key(KeyCode::Enter);
    r.act(step_done(0, 1, 0));
    r.key(KeyCode::Char('S'));
    r.settle();
    r.text("the smoke script needs the VPN, checked by hand");
    r.key(KeyCode::Enter);
    r.settle();
    r.text("smoke endpoint is behind the VPN from here");
    r.key(KeyCode::Enter);
    r.act(Action::Signal(Signal::Hangup));
}

/// Both scenarios, written under `out` by this version: returns the second run's id.
fn write_journals(out: &Path) -> String {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_269_600);
    first_run(out, t0);
    let runs = deckhand::journal::run_ids(out).unwrap();
    let earlier: Vec<Event> = deckhand::journal::chain(out, &runs[0])
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    second_run(out, t0 + Duration::from_secs(3600), &runs[0], &earlier);
    deckhand::journal::run_ids(out).unwrap().remove(1)
}

#[test]
#[ignore = "writes fixture journals: DECKHAND_FIXTURE_OUT=dir cargo test --test journal_compat -- --ignored"]
fn write_fixture_journals() {
    let out = std::env::var("DECKHAND_FIXTURE_OUT").expect("DECKHAND_FIXTURE_OUT");
    write_journals(Path::new(&out));
}

const FIRST: &str = "2026-11-21T140000Z-16198";
const SECOND: &str = "2026-11-21T150000Z-16198";

/// A data folder holding the v0.1 fixture runs: one hung up in the deploy, and the run that resumed it.
fn v01_data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal");
    for (run, file) in [
        (FIRST, "v0.1-hung-up.jsonl"),
        (SECOND, "v0.1-resumed.jsonl"),
    ] {
        let run_dir = dir.path().join("runs").join(run);
        std::fs::create_dir_all(&run_dir).unwrap();
        std::fs::copy(fixtures.join(file), run_dir.join("journal.jsonl")).unwrap();
    }
    dir
}

#[test]
fn a_v01_journal_chain_parses_whole_and_is_the_run_to_resume() {
    let dir = v01_data_dir();
    let prev = deckhand::journal::latest_unfinished(dir.path(), Path::new(PLAN_PATH), "production")
        .unwrap()
        .expect("the resumed run hung up too");
    assert_eq!(prev.run, SECOND);
    assert!(prev.hung_up);
    let entries = deckhand::journal::chain(dir.path(), SECOND).unwrap();
    assert_eq!(entries.len(), 36 + 25, "every line of both journals parses");
    assert_eq!(entries[0].run, FIRST);
}

#[test]
fn a_v01_journal_resumes_what_it_recorded() {
    let dir = v01_data_dir();
    resumes_what_it_recorded(dir.path(), SECOND);
}

#[test]
fn a_journal_of_this_version_resumes_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let second = write_journals(dir.path());
    resumes_what_it_recorded(dir.path(), &second);
}

/// Replays the chain ending with `second` (the scenarios above) into a new console and checks what it restored.
fn resumes_what_it_recorded(data: &Path, second: &str) {
    let events: Vec<Event> = deckhand::journal::chain(data, second)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    let mut h = Harness::new(plan_from(PLAN));
    let fx = deckhand::app::restore(&mut h.state, second, &events);
    let s = &h.state;
    assert_eq!(s.checked, vec![true, true]);
    assert_eq!(
        s.release.no_rehearsal.as_deref(),
        Some("hotfix: the dry-run database is down"),
        "the untried apply's reason"
    );
    use deckhand::app::release::Stage;
    let overridden: Vec<Stage> = s.release.overrides.iter().map(|(st, _)| *st).collect();
    assert_eq!(overridden, vec![Stage::Deploy, Stage::Verify]);
    assert_eq!(s.release.applied, vec!["m2".to_string()]);
    use deckhand::app::PhaseStatus;
    assert_eq!(s.phases[0].status, PhaseStatus::Succeeded);
    assert_eq!(s.phases[1].status, PhaseStatus::Failed);
    assert_eq!(
        s.phases[1].steps[0].outcome,
        Some(StepOutcome::Exited(1)),
        "the failed step's outcome"
    );
    let resumed = s.release.resumed.as_ref().expect("resumed");
    assert_eq!(resumed.backup_file.as_deref(), Some(BACKUP));
    assert!(
        s.backup.verified.is_none(),
        "the backup is adopted only once the folder's listing confirms it"
    );
    assert!(
        journal_events(&fx).is_empty(),
        "the resume is journaled once the backup folder and the database were read again"
    );
    // The folder still holds the backup, verified: it is this run's again.
    let mut journaled = journal_events(&h.act(listed(true)));
    assert_eq!(
        h.state
            .backup
            .verified
            .as_ref()
            .map(|a| a.path.display().to_string()),
        Some(BACKUP.to_string())
    );
    journaled.extend(journal_events(&h.act(snapshot(&[
        ("m1", MState::Applied),
        ("m2", MState::Applied),
    ]))));
    let resumed: Vec<_> = journaled
        .iter()
        .filter_map(|e| match e {
            Event::Resumed { previous, next, .. } => Some((previous.clone(), next.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(
        resumed,
        vec![(second.to_string(), "monitor".to_string())],
        "deploy and verify were passed over with reasons: {journaled:?}"
    );
    assert!(
        h.state.release.rollback_backup.is_some(),
        "m2 was applied after it"
    );
}

#[test]
fn the_v01_sentences_parse_to_typed_values() {
    use deckhand::journal::{Blocker, Completed, PhaseResult, Stage, StepResult};
    let dir = v01_data_dir();
    let events: Vec<Event> = deckhand::journal::chain(dir.path(), SECOND)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    let has = |f: &dyn Fn(&Event) -> bool| events.iter().any(f);
    assert!(has(&|e| matches!(e, Event::StageOverridden {
        stage: Stage::Migrate, blockers, ..
    } if *blockers == [Blocker::Untried])));
    assert!(has(&|e| matches!(e, Event::StageOverridden {
        stage: Stage::Deploy, blockers, ..
    } if *blockers == [Blocker::Legacy("not succeeded: Smoke script (failed)".into())])));
    assert!(has(&|e| matches!(e, Event::StageOverridden {
        stage: Stage::Verify, blockers, ..
    } if *blockers == [Blocker::VerifyNotRun])));
    assert!(has(&|e| matches!(
        e,
        Event::StepFinished {
            outcome: StepResult::Exited,
            exit_code: Some(1),
            ..
        }
    )));
    assert!(has(&|e| matches!(
        e,
        Event::PhaseFinished {
            result: PhaseResult::Interrupted,
            ..
        }
    )));
    // What v0.1 journaled on resuming (its `next` was the defect's "backup").
    assert!(has(&|e| matches!(e, Event::Resumed {
        next: Stage::Backup, completed, ..
    } if completed.first() == Some(&Completed::Legacy("checklist 2/2".into())))));
    // The report of the chain renders.
    let entries = deckhand::journal::chain(dir.path(), SECOND).unwrap();
    let report = deckhand::journal::render(&entries);
    assert!(
        report.contains("not succeeded: Smoke script (failed)"),
        "{report}"
    );
    assert!(report.contains("`untried`"), "{report}");
}

#[test]
fn a_rehearsal_journaled_before_the_way_back_parses_and_the_way_back_keeps_its_names() {
    use deckhand::journal::{WayBackRecord, WayBackResult};
    let old = r#"{"event":"rehearsal","file":"/b/x.dump","scratch":"deckhand_rehearsal_0a1b2c3d","results":["2_a: ok in 3 ms"],"dropped":true,"duration_ms":900}"#;
    let parsed: Event = serde_json::from_str(old).unwrap();
    assert!(matches!(parsed, Event::Rehearsal { way_back: None, .. }));
    assert_eq!(
        serde_json::to_value(&parsed).unwrap(),
        serde_json::from_str::<serde_json::Value>(old).unwrap(),
        "no way back: written as before"
    );
    for (result, name) in [
        (WayBackResult::Passed, "passed"),
        (WayBackResult::Failed, "failed"),
        (WayBackResult::NotRehearsed, "not_rehearsed"),
    ] {
        let event = Event::Rehearsal {
            file: "/b/x.dump".into(),
            scratch: "deckhand_rehearsal_0a1b2c3d".into(),
            results: vec!["2_a: ok in 3 ms".into()],
            way_back: Some(WayBackRecord {
                result,
                steps: vec!["2_a: down ok in 1 ms".into()],
            }),
            dropped: true,
            duration_ms: 900,
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["way_back"]["result"], name);
        assert_eq!(json["way_back"]["steps"][0], "2_a: down ok in 1 ms");
        assert_eq!(serde_json::from_value::<Event>(json).unwrap(), event);
    }
}
