//! Secrets never reach a process's argv or any output (issue 16, defects 2-3): a secret `${NAME}` in a step's `run`
//! or a log source's `command` reaches the command through its environment (the text says `"$NAME"`), checked by
//! polling `/proc/*/cmdline` while real processes run; known secret values are masked as `***` in step output (on
//! screen and in the step log), log source lines and the journal; `Debug` of a plan shows none.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use deckhand::plan::{self, Plan};
use deckhand::runner::command::{CommandSpec, TERM_GRACE, run_command};
use deckhand::runner::{RunnerEvent, StepId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "TOKapi-999";
const DEPLOY: &str = "dpl-7f3a9c";
const DB_PASSWORD: &str = "s3cr3t-pw";

fn plan(dir: &Path, run: &str) -> Plan {
    let src = format!(
        "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[[phase]]\nname = \"Deploy\"\n\
         steps = [{{ run = '{run}', env = {{ DEPLOY_TOKEN = \"${{DEPLOY_TOKEN}}\" }} }}]\n\n\
         [[logs]]\nname = \"api\"\ncommand = 'echo from logs ${{API_TOKEN}}; echo url ${{DB_URL}}; \
         while [ ! -e {stop} ]; do sleep 0.05; done'\n",
        stop = dir.join("stop-logs").display()
    );
    let env = |name: &str| match name {
        "API_TOKEN" => Some(TOKEN.to_string()),
        "DEPLOY_TOKEN" => Some(DEPLOY.to_string()),
        "DB_URL" => Some(format!("postgres://app:{DB_PASSWORD}@db.internal/shop")),
        _ => None,
    };
    plan::parse(&src, &dir.join("deckhand.toml"), &env).expect("plan parses")
}

/// Every process's command line, as `ps` shows it to every user.
fn command_lines() -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) {
            out.push(String::from_utf8_lossy(&bytes).replace('\0', " "));
        }
    }
    out
}

fn spec(plan: &Plan, dir: &Path) -> CommandSpec {
    let step = &plan.phases[0].steps[0];
    CommandSpec {
        id: StepId { phase: 0, step: 0 },
        command: step.run.value.clone(),
        cwd: Some(dir.to_path_buf()),
        env: step
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect(),
        timeout: None,
        log_path: dir.join("step.log"),
        grace: TERM_GRACE,
        masker: plan.secrets.masker(),
    }
}

#[tokio::test]
async fn a_secret_in_run_reaches_the_command_by_its_environment_and_never_its_argv() {
    let dir = tempfile::tempdir().unwrap();
    let run = format!(
        "printf %s ${{API_TOKEN}} > got; echo token ${{API_TOKEN}}; echo deploy $DEPLOY_TOKEN; \
         while [ ! -e {} ]; do sleep 0.05; done",
        dir.path().join("stop").display()
    );
    let plan = plan(dir.path(), &run);
    let step = &plan.phases[0].steps[0];
    assert!(
        step.run.value.contains("\"$API_TOKEN\""),
        "{}",
        step.run.value
    );
    assert!(!step.run.value.contains(TOKEN));
    assert_eq!(
        step.run.display, step.run.value,
        "what is shown is what runs"
    );
    assert!(
        !format!("{plan:?}").contains(TOKEN),
        "Debug shows no secret"
    );

    let (tx, mut rx) = mpsc::channel(64);
    let task = tokio::spawn(run_command(
        spec(&plan, dir.path()),
        tx,
        CancellationToken::new(),
    ));
    // While the step runs, no process's command line holds the token.
    let got = dir.path().join("got");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !got.exists() {
        assert!(Instant::now() < deadline, "the step never started");
        let leaked: Vec<String> = command_lines()
            .into_iter()
            .filter(|c| c.contains(TOKEN) || c.contains(DEPLOY))
            .collect();
        assert!(leaked.is_empty(), "a secret in argv: {leaked:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        command_lines()
            .iter()
            .all(|c| !c.contains(TOKEN) && !c.contains(DEPLOY))
    );
    std::fs::write(dir.path().join("stop"), "").unwrap();
    let mut screen = String::new();
    while let Some(ev) = rx.recv().await {
        match ev {
            RunnerEvent::Output { lines, .. } => {
                for l in lines.iter() {
                    screen.push_str(&l.text);
                    screen.push('\n');
                }
            }
            RunnerEvent::StepFinished { .. } => break,
            _ => {}
        }
    }
    task.await.unwrap();
    // The command got the value; the screen and the step log show it masked.
    assert_eq!(std::fs::read_to_string(&got).unwrap(), TOKEN);
    assert!(
        screen.contains("token ***") && screen.contains("deploy ***"),
        "{screen}"
    );
    assert!(!screen.contains(TOKEN) && !screen.contains(DEPLOY));
    let log = std::fs::read_to_string(dir.path().join("step.log")).unwrap();
    assert!(log.contains("token ***"), "{log}");
    assert!(!log.contains(TOKEN) && !log.contains(DEPLOY), "{log}");
}

#[tokio::test]
async fn a_log_commands_secrets_stay_out_of_argv_and_its_lines_are_masked() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path(), "true");
    let source = plan.logs[0].clone();
    let (tx, mut rx) = mpsc::channel(64);
    let cancel = CancellationToken::new();
    let task = tokio::spawn(deckhand::runner::logs::run_source(
        0,
        source,
        tx,
        cancel.clone(),
        plan.secrets.masker(),
    ));
    let mut text = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !text.contains("url") {
        assert!(Instant::now() < deadline, "no lines: {text}");
        let leaked = command_lines()
            .into_iter()
            .filter(|c| c.contains(TOKEN) || c.contains(DB_PASSWORD))
            .count();
        assert_eq!(leaked, 0, "a secret in a log command's argv");
        if let Ok(Some(RunnerEvent::LogLines { lines, .. })) =
            tokio::time::timeout(Duration::from_millis(50), rx.recv()).await
        {
            for l in lines.iter() {
                text.push_str(l.text);
                text.push('\n');
            }
        }
    }
    assert!(text.contains("from logs ***"), "{text}");
    // A variable whose value carries a password is a secret whole.
    assert!(text.contains("url ***"), "{text}");
    assert!(!text.contains(TOKEN) && !text.contains(DB_PASSWORD));
    std::fs::write(dir.path().join("stop-logs"), "").unwrap();
    cancel.cancel();
    task.await.unwrap();
}

#[test]
fn the_journal_masks_known_secrets_in_every_entry() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan(dir.path(), "true");
    let mut j = deckhand::journal::Journal::create(dir.path(), SystemTime::now()).unwrap();
    j.set_masker(plan.secrets.masker());
    j.append(
        deckhand::journal::Event::Error {
            context: "step".into(),
            message: format!("failed with token {TOKEN} at postgres://app:{DB_PASSWORD}@db"),
        },
        SystemTime::now(),
    )
    .unwrap();
    let text = std::fs::read_to_string(j.path()).unwrap();
    assert!(
        !text.contains(TOKEN) && !text.contains(DB_PASSWORD),
        "{text}"
    );
    assert!(text.contains("token ***"), "{text}");
}

/// Issue 16, must-work 3: a secret split across two reads of the pipe (printed in two writes with a pause
/// between) and a secret's URL-encoded form are masked too, on screen, in the step log, and in the report made
/// from the journal.
#[tokio::test]
async fn split_and_url_encoded_secrets_are_masked_in_output_log_and_report() {
    const KEY: &str = "k/y+z@1:2-secret";
    const KEY_ENCODED: &str = "k%2Fy%2Bz%401%3A2-secret";
    let dir = tempfile::tempdir().unwrap();
    let src = "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[[phase]]\nname = \"Deploy\"\n\
               steps = [{ run = 'printf \"half dpl-\"; sleep 0.3; printf \"7f3a9c end\\n\"; echo enc k%2Fy%2Bz%401%3A2-secret', \
               env = { DEPLOY_TOKEN = \"${DEPLOY_TOKEN}\", SIGNING_KEY = \"${SIGNING_KEY}\" } }]\n";
    let env = |name: &str| match name {
        "DEPLOY_TOKEN" => Some(DEPLOY.to_string()),
        "SIGNING_KEY" => Some(KEY.to_string()),
        _ => None,
    };
    let plan = plan::parse(src, &dir.path().join("deckhand.toml"), &env).expect("plan parses");
    let (tx, mut rx) = mpsc::channel(64);
    let task = tokio::spawn(run_command(
        spec(&plan, dir.path()),
        tx,
        CancellationToken::new(),
    ));
    let mut screen = String::new();
    while let Some(ev) = rx.recv().await {
        match ev {
            RunnerEvent::Output { lines, .. } => {
                for l in lines {
                    screen.push_str(&l.text);
                    screen.push('\n');
                }
            }
            RunnerEvent::StepFinished { .. } => break,
            _ => {}
        }
    }
    task.await.unwrap();
    let leaks =
        |text: &str| text.contains(DEPLOY) || text.contains("7f3a9c") || text.contains(KEY_ENCODED);
    assert!(screen.contains("half ***"), "{screen}");
    assert!(screen.contains("enc ***"), "{screen}");
    assert!(!leaks(&screen), "{screen}");
    let log = std::fs::read_to_string(dir.path().join("step.log")).unwrap();
    assert!(!leaks(&log), "{log}");

    // The journal masks what it is given; the report is made from the journal.
    let mut j = deckhand::journal::Journal::create(dir.path(), SystemTime::now()).unwrap();
    j.set_masker(plan.secrets.masker());
    j.append(
        deckhand::journal::Event::Error {
            context: "deploy".into(),
            message: format!("push refused for {KEY} ({KEY_ENCODED})"),
        },
        SystemTime::now(),
    )
    .unwrap();
    let entries = deckhand::journal::read_entries(j.path()).unwrap();
    let report = deckhand::journal::render(&entries);
    assert!(report.contains("push refused for *** (***)"), "{report}");
    assert!(
        !report.contains(KEY) && !report.contains(KEY_ENCODED),
        "{report}"
    );
}
