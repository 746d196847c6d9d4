//! Issue 19, must-work 5: `[[health]]` checks from commands. The plan takes `command` instead of `url` (exactly one
//! of them) with `max`/`min`; the runner runs it with `sh -c` in its own process group (real processes here: a
//! number, a failure, a timeout, a number above `max`), its secrets in its environment and never in its argv; in
//! `update()` its number plays latency's role: baseline, alert on a rise, unhealthy on a breach.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, HealthState, ModalKind};
use deckhand::journal::Event;
use deckhand::plan::{self, HealthCommand, Plan, PlanError};
use deckhand::runner::health_command::probe;
use deckhand::runner::{Num, Probe, RunnerEvent};

const BASE: &str = "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[[phase]]\nname = \"Smoke\"\n\
                    steps = [{ run = \"echo smoke\" }]\n\n[[phase]]\nname = \"Deploy\"\ndestructive = true\n\
                    steps = [{ run = \"./deploy.sh\" }]\n";

const SECRET: &str = "pool-s3cret-77";

fn parse(extra: &str) -> Result<Plan, PlanError> {
    let env = |name: &str| (name == "POOL_TOKEN").then(|| SECRET.to_string());
    plan::parse(
        &format!("{BASE}\n{extra}"),
        Path::new("deckhand.toml"),
        &env,
    )
}

fn command(extra: &str) -> HealthCommand {
    let p = parse(extra).unwrap_or_else(|e| panic!("{e}"));
    p.health[0].command().expect("a command check").clone()
}

#[test]
fn a_command_check_parses_with_its_bounds() {
    let p = parse(
        "[[health]]\nname = \"pool\"\ncommand = \"psql -tAc 'select 1'\"\nmax = 80\nmin = 1.5\n\
         interval = \"10s\"\ntimeout = \"4s\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let h = &p.health[0];
    assert_eq!(h.url(), None);
    let c = h.command().unwrap();
    assert_eq!(c.run.value, "psql -tAc 'select 1'");
    assert_eq!((c.max, c.min), (Some(80.0), Some(1.5)));
    assert_eq!(c.bounds(), "min 1.5 max 80");
    assert_eq!(h.interval, Duration::from_secs(10));
    assert_eq!(h.timeout, Duration::from_secs(4));
    // Without bounds: exit 0 alone is healthy.
    let c = command("[[health]]\nname = \"mem\"\ncommand = \"true\"\n");
    assert_eq!((c.max, c.min), (None, None));
}

#[test]
fn each_bad_form_is_refused_at_its_place_naming_the_key() {
    let cases = [
        (
            "[[health]]\nname = \"x\"\n",
            "deckhand.toml:14:1: health[0].url: missing; expected url = \"https://…/health\" or command = \"…\"",
        ),
        (
            "[[health]]\nname = \"x\"\nurl = \"http://h/\"\ncommand = \"true\"\n",
            "deckhand.toml:17:11: health[0].command: a health check has a url or a command, not both",
        ),
        (
            "[[health]]\nname = \"x\"\nurl = \"http://h/\"\nmax = 3\n",
            "deckhand.toml:17:7: health[0].max: max bounds the number a command prints; a url check has \
             max_latency instead",
        ),
        (
            "[[health]]\nname = \"x\"\ncommand = \"true\"\nmax_latency = \"1s\"\n",
            "deckhand.toml:17:15: health[0].max_latency: max_latency belongs to a url check; a command check \
             has max and min",
        ),
        (
            "[[health]]\nname = \"x\"\ncommand = \"true\"\nmin = 5\nmax = 1\n",
            "deckhand.toml:17:7: health[0].min: min 5 is above max 1: no sample could pass",
        ),
        (
            "[[health]]\nname = \"x\"\ncommand = \"true\"\nmax = \"many\"\n",
            "deckhand.toml:17:7: health[0].max: invalid type: string \"many\", expected f64",
        ),
        (
            "[[health]]\nname = \"x\"\ncommand = \"  \"\n",
            "deckhand.toml:16:11: health[0].command: must not be empty; expected command = \"…\"",
        ),
    ];
    for (extra, want) in cases {
        match parse(extra) {
            Ok(_) => panic!("accepted: {extra}"),
            Err(e) => assert_eq!(e.to_string(), want, "{extra}"),
        }
    }
}

fn ran(p: &Probe) -> (Option<f64>, Option<String>) {
    match p {
        Probe::Ran { value, why, .. } => (value.map(Num::get), why.clone()),
        other => panic!("a command probe, got {other:?}"),
    }
}

#[tokio::test]
async fn the_runner_runs_real_commands_and_judges_them() {
    let t = Duration::from_secs(10);
    // A number on the last non-empty line is the sample.
    let c = command("[[health]]\nname = \"n\"\ncommand = \"echo starting; echo 42; echo\"\n");
    assert_eq!(ran(&probe(&c, t).await), (Some(42.0), None));
    // Exit 0 without a number is healthy when no bound is set.
    let c = command("[[health]]\nname = \"n\"\ncommand = \"echo ready\"\n");
    assert_eq!(ran(&probe(&c, t).await), (None, None));
    // A failing command says how, with its last stderr line.
    let c = command("[[health]]\nname = \"n\"\ncommand = \"echo pool gone >&2; exit 3\"\n");
    assert_eq!(
        ran(&probe(&c, t).await),
        (None, Some("exit 3: pool gone".into()))
    );
    // A number above max (or under min) fails.
    let c = command("[[health]]\nname = \"n\"\ncommand = \"echo 95.5\"\nmax = 80\n");
    assert_eq!(
        ran(&probe(&c, t).await),
        (Some(95.5), Some("95.5 > max 80".into()))
    );
    let c = command("[[health]]\nname = \"n\"\ncommand = \"echo 0\"\nmin = 1\n");
    assert_eq!(ran(&probe(&c, t).await).1, Some("0 < min 1".into()));
    // Bounds set and no number: a failure.
    let c = command("[[health]]\nname = \"n\"\ncommand = \"echo lots\"\nmax = 80\n");
    assert_eq!(
        ran(&probe(&c, t).await).1,
        Some("no number on its last line (max 80 is set)".into())
    );
}

/// Every process's command line.
fn command_lines() -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) {
            out.push(String::from_utf8_lossy(&bytes).replace('\0', " "));
        }
    }
    out
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group_and_fails() {
    let c = command("[[health]]\nname = \"n\"\ncommand = \"sleep 31.25 & sleep 31.25; echo 1\"\n");
    let p = probe(&c, Duration::from_millis(300)).await;
    assert_eq!(
        ran(&p),
        (None, Some("no result within 300ms (killed)".into()))
    );
    // Neither sleep outlives the probe (a zombie has no command line).
    let deadline = Instant::now() + Duration::from_secs(10);
    while command_lines().iter().any(|c| c.contains("sleep 31.25")) {
        assert!(Instant::now() < deadline, "a sleep survived its probe");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_secret_in_the_command_reaches_it_by_its_environment_never_its_argv() {
    let dir = tempfile::tempdir().unwrap();
    let (started, stop) = (dir.path().join("started"), dir.path().join("stop"));
    let c = command(&format!(
        "[[health]]\nname = \"n\"\ncommand = '''test -n ${{POOL_TOKEN}} && touch {s}; \
         while [ ! -e {t} ]; do sleep 0.05; done; echo token ${{POOL_TOKEN}} >&2; exit 1'''\n",
        s = started.display(),
        t = stop.display()
    ));
    assert!(!c.run.value.contains(SECRET), "{}", c.run.value);
    let task = tokio::spawn(async move { probe(&c, Duration::from_secs(20)).await });
    let deadline = Instant::now() + Duration::from_secs(20);
    while !started.exists() {
        assert!(
            Instant::now() < deadline,
            "the command never saw its secret"
        );
        assert!(
            !command_lines().iter().any(|l| l.contains(SECRET)),
            "a secret in an argv"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!command_lines().iter().any(|l| l.contains(SECRET)));
    std::fs::write(&stop, "").unwrap();
    let p = task.await.unwrap();
    // What it printed is masked in the reason shown and journaled.
    assert_eq!(ran(&p).1, Some("exit 1: token ***".into()));
}

const STEP: Duration = Duration::from_secs(10);

fn value(v: f64, why: Option<&str>) -> Probe {
    Probe::Ran {
        took: Duration::from_millis(30),
        value: Num::new(v),
        why: why.map(str::to_string),
    }
}

fn feed(h: &mut Harness, p: Probe) -> Vec<deckhand::app::Effect> {
    h.wait(STEP);
    h.act(Action::Runner(RunnerEvent::HealthProbe {
        check: 0,
        probe: p,
    }))
}

#[test]
fn a_rise_over_the_baseline_alerts_and_a_breach_turns_unhealthy() {
    let plan = plan_from(&format!(
        "{BASE}\n[[health]]\nname = \"pool\"\ncommand = \"echo 10\"\nmax = 100\nfail_after = 2\n\
         recover_after = 1\nbaseline_samples = 3\nwindow = \"1m\"\n"
    ));
    let mut h = Harness::new(plan);
    for _ in 0..3 {
        feed(&mut h, value(10.0, None));
    }
    assert_eq!(h.state.health.checks[0].state, HealthState::Healthy);
    // The destructive phase freezes the baseline: its numbers are journaled.
    h.select_phase(1);
    let mut fx = h.key(KeyCode::Enter);
    assert!(matches!(
        h.state.modal.as_ref().map(|m| &m.kind),
        Some(ModalKind::RunPhase(1))
    ));
    h.settle();
    fx.extend(h.char('y'));
    assert!(journal_events(&fx).iter().any(|e| matches!(
        e,
        Event::HealthBaseline { check, median_value: Some(m), .. } if check == "pool" && m == "10"
    )));
    // Three times the baseline: an alert (2x by default), journaled once.
    let mut fx = Vec::new();
    for _ in 0..6 {
        fx.extend(feed(&mut h, value(30.0, None)));
    }
    let alerts: Vec<String> = journal_events(&fx)
        .into_iter()
        .filter_map(|e| match e {
            Event::HealthAlert { check, why } if check == "pool" => Some(why),
            _ => None,
        })
        .collect();
    assert_eq!(alerts, vec!["p95 30 > 20 (2x baseline 10)".to_string()]);
    assert!(h.state.health.checks[0].alert.is_some());
    // Over max twice in a row: unhealthy, the reason kept for the pane.
    feed(&mut h, value(150.0, Some("150 > max 100")));
    feed(&mut h, value(150.0, Some("150 > max 100")));
    assert_eq!(h.state.health.checks[0].state, HealthState::Unhealthy);
    h.key(KeyCode::Char('4'));
    let (screen, _) = h.screen_at(80, 24);
    assert!(screen.contains("pool ALERT UNHEALTHY"), "{screen}");
    assert!(screen.contains("base p50 10 p95 10"), "{screen}");
    assert!(screen.contains("150 (max 100)"), "{screen}");
    assert!(screen.contains("150 > max 100"), "{screen}");
}

#[tokio::test]
async fn preflight_runs_a_command_check_once_as_the_runner_judges_it() {
    let p = parse("[[health]]\nname = \"pool\"\ncommand = \"echo 12\"\nmax = 80\n").unwrap();
    let r = deckhand::runner::preflight::health(&p.health[0]).await;
    assert_eq!(r.check, "health pool");
    assert!(r.ok && r.detail.starts_with("exit 0, 12 in "), "{r:?}");
    let p = parse("[[health]]\nname = \"pool\"\ncommand = \"echo 95\"\nmax = 80\n").unwrap();
    let r = deckhand::runner::preflight::health(&p.health[0]).await;
    assert!(!r.ok && r.detail == "95 > max 80", "{r:?}");
}
