//! Team mode (issue 20) against the real PostgreSQL harness: `team init` and its versioning; the release lock
//! refused to a second operator naming the first, waited for with `--wait`, and free again when its holder's
//! session ends; the shared journal copied exactly once, also across the team database becoming unreachable (a
//! real forwarder in front of it, killed and started again) and a run ended before it was copied; `team status`,
//! `history` and `report` reading the team's runs back.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use common::net::{Forwarder, free_port};
use common::pg::{TestDb, fresh_db};
use common::wait_until;
use deckhand::journal::{Event, Journal};
use deckhand::plan::{Resolved, Team};
use deckhand::team::lock::{Claim, LockState, Refusal, acquire};
use deckhand::team::{Identity, schema, status, sync};

fn team_of(url: &str) -> Team {
    Team {
        database: Resolved::literal(url),
        schema: "deckhand".into(),
        role: None,
        approve: Vec::new(),
        approval_timeout: Duration::from_secs(60),
    }
}

fn claim(team: &Team, who: &str) -> Claim {
    Claim {
        team: team.clone(),
        project: "shop".into(),
        environment: "production".into(),
        who: Identity {
            os_user: "deploy".into(),
            operator: Some(who.into()),
            host: format!("bastion-{who}"),
            ssh_client: Some("10.0.0.5".into()),
        },
        why: None,
    }
}

async fn journal_rows(db: &TestDb, run: &str) -> Vec<i64> {
    let mut conn = db.connect().await;
    sqlx::query_scalar("SELECT seq FROM deckhand.journal WHERE run_id = $1 ORDER BY seq")
        .bind(run)
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn init_is_versioned_and_required() {
    let db = fresh_db().await;
    let team = team_of(&db.url);
    // Before init: refused with what to do.
    let refused = acquire(claim(&team, "alice"), None, |_| {}).await;
    let Err(Refusal::Failed(e)) = refused else {
        panic!("expected a refusal")
    };
    assert!(
        e.to_string().contains("run `deckhand team init` first"),
        "{e}"
    );
    let done = schema::init(&team).await.unwrap();
    assert_eq!((done.from, done.to), (0, schema::VERSION));
    let again = schema::init(&team).await.unwrap();
    assert_eq!((again.from, again.to), (schema::VERSION, schema::VERSION));
    // A schema newer than this deckhand is refused, never written to.
    let mut conn = db.connect().await;
    sqlx::query("INSERT INTO deckhand.schema_version (version) VALUES (99)")
        .execute(&mut conn)
        .await
        .unwrap();
    let newer = schema::init(&team).await.unwrap_err();
    assert!(newer.to_string().contains("version 99"), "{newer}");
}

#[tokio::test]
async fn one_release_at_a_time_across_sessions() {
    let db = fresh_db().await;
    let team = team_of(&db.url);
    schema::init(&team).await.unwrap();
    let alice = acquire(claim(&team, "alice"), None, |_| {}).await.unwrap();
    alice.set_run("20261205-alice");
    alice.set_stage("migrate");
    wait_until("alice's row to name her run and stage", async || {
        let rows = status::releases(&team).await.unwrap();
        rows.len() == 1 && rows[0].run_id == "20261205-alice" && rows[0].stage == "migrate"
    })
    .await;
    // Bob is refused, naming Alice.
    let Err(Refusal::Held(holder)) = acquire(claim(&team, "bob"), None, |_| {}).await else {
        panic!("bob got the lock alice holds")
    };
    let said = holder.describe();
    assert!(
        said.contains("deploy as alice on bastion-alice (ssh from 10.0.0.5)"),
        "{said}"
    );
    assert!(said.contains("run 20261205-alice, stage migrate"), "{said}");
    assert!(holder.live);

    // Bob waits; Alice's release ends; Bob gets it, woken by the server (not after his whole wait).
    let team_b = team.clone();
    let bob = tokio::spawn(async move {
        let mut told = None;
        let got = acquire(claim(&team_b, "bob"), Some(Duration::from_secs(60)), |h| {
            told = Some(h.operator.clone())
        })
        .await;
        (got.is_ok(), told)
    });
    wait_until("bob to be waiting on the server", async || {
        let mut conn = db.connect().await;
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        waiting == 1
    })
    .await;
    alice.release().await;
    let (got, told) = bob.await.unwrap();
    assert!(got, "bob got the lock once alice released it");
    assert_eq!(told.as_deref(), Some("deploy as alice"));
    // A wait that runs out is a refusal naming the holder.
    let rows = status::releases(&team).await.unwrap();
    assert!(
        rows.iter().all(|r| r.operator != "deploy as alice"),
        "alice's row went with her release"
    );
}

#[tokio::test]
async fn a_dead_session_frees_the_lock_and_its_holder_sees_the_loss() {
    let db = fresh_db().await;
    let team = team_of(&db.url);
    schema::init(&team).await.unwrap();
    let alice = acquire(claim(&team, "alice"), None, |_| {}).await.unwrap();
    let mut states = alice.states();
    // The server ends Alice's session (as when her console is killed or her link dies); Bob can take the lock at
    // once: no stale lock. (Should Alice's console win it back first, her session is ended again.)
    let deadline = Instant::now() + Duration::from_secs(30);
    let bob = loop {
        let mut conn = db.connect().await;
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE application_name = 'deckhand' AND pid <> pg_backend_pid() AND datname = current_database()",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        match acquire(claim(&team, "bob"), None, |_| {}).await {
            Ok(l) => break l,
            Err(Refusal::Held(h)) => {
                assert!(h.operator.contains("alice"), "{h:?}");
                assert!(Instant::now() < deadline, "bob never got the lock");
            }
            Err(Refusal::Failed(e)) => panic!("{e}"),
        }
    };
    // Alice's console hears that the lock is gone, and that Bob holds it now.
    let seen = states
        .wait_for(|s| matches!(s, LockState::Taken { .. }))
        .await
        .unwrap()
        .clone();
    let LockState::Taken { by } = seen else {
        unreachable!()
    };
    assert!(by.operator.contains("bob"), "{by:?}");
    bob.release().await;
    states.wait_for(|s| *s == LockState::Held).await.unwrap();
    alice.release().await;
}

fn started(journal: &mut Journal) {
    journal
        .append(
            Event::RunStarted {
                user: "deploy".into(),
                host: "bastion-1".into(),
                ssh_client: None,
                plan: "/srv/shop/deckhand.toml".into(),
                plan_checksum: "0".repeat(64),
                project: "shop".into(),
                environment: "production".into(),
                version: "test".into(),
                pid: 1,
            },
            SystemTime::now(),
        )
        .unwrap();
}

fn tick(journal: &mut Journal, item: &str) {
    journal
        .append(
            Event::ChecklistTicked {
                index: 0,
                item: item.into(),
                checked: true,
            },
            SystemTime::now(),
        )
        .unwrap();
}

#[tokio::test]
async fn the_journal_is_copied_exactly_once_across_an_outage() {
    let db = fresh_db().await;
    let port = free_port();
    let mut fwd = Forwarder::start(port, &db.host, db.port);
    let url = format!("postgres://postgres@127.0.0.1:{port}/{}", db.name);
    let team = team_of(&url);
    schema::init(&team).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut journal = Journal::create(data.path(), SystemTime::now()).unwrap();
    let run = journal.run_id().to_string();
    started(&mut journal);
    tick(&mut journal, "Backup verified");
    let copy = sync::JournalSync::start(team.clone(), run.clone(), journal.path().to_path_buf());
    let mut states = copy.states();
    states.wait_for(|s| s.synced == 2).await.unwrap();
    assert_eq!(journal_rows(&db, &run).await, [1, 2]);

    // The team database goes away mid-run; the run goes on writing its journal.
    fwd.kill();
    for i in 0..5 {
        tick(&mut journal, &format!("item {i}"));
        copy.wrote();
    }
    states
        .wait_for(|s| s.error.is_some() && s.local == 7)
        .await
        .unwrap();
    assert_eq!(
        journal_rows(&db, &run).await,
        [1, 2],
        "nothing copied while away"
    );
    // Back: caught up, each entry once.
    let mut fwd = Forwarder::start(port, &db.host, db.port);
    states
        .wait_for(|s| s.synced == 7 && s.error.is_none())
        .await
        .unwrap();
    assert_eq!(journal_rows(&db, &run).await, (1..=7).collect::<Vec<i64>>());

    // The run ends while the team database is away: what is left is caught up later, once.
    fwd.kill();
    tick(&mut journal, "late");
    let left = copy.finish(Duration::from_millis(300)).await;
    assert_eq!((left.synced, left.local), (7, 8));
    let mut fwd = Forwarder::start(port, &db.host, db.port);
    let runs = [(run.clone(), journal.path().to_path_buf())];
    assert_eq!(sync::catch_up(&team, &runs).await.unwrap(), 1);
    assert_eq!(
        sync::catch_up(&team, &runs).await.unwrap(),
        0,
        "nothing twice"
    );
    assert_eq!(journal_rows(&db, &run).await, (1..=8).collect::<Vec<i64>>());

    // Read back as `history` and `report` do.
    let listed = status::runs(&team, Some("shop"), 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].run, run);
    assert_eq!(listed[0].environment, "production");
    let (id, entries) = status::journal(&team, Some(&run[..8])).await.unwrap();
    assert_eq!(id, run);
    assert_eq!(entries.len(), 8);
    let report = deckhand::journal::render(&entries);
    assert!(
        report.contains("# Release report: shop (production)"),
        "{report}"
    );
    fwd.kill();
}

fn deckhand(args: &[&str], dir: &Path, team_url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(args)
        .current_dir(dir)
        .env("DECKHAND_TEAM_URL", team_url)
        .output()
        .unwrap()
}

#[test]
fn team_init_and_status_through_the_binary() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(fresh_db());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("deckhand.toml"),
        "[project]\nname = \"shop\"\nenvironment = \"production\"\n\n[[phase]]\nname = \"Deploy\"\n\
         steps = [{ run = \"true\" }]\n\n[team]\ndatabase = \"${DECKHAND_TEAM_URL}\"\n",
    )
    .unwrap();
    let url = db.url.replacen("postgres@", "postgres:t3am-s3cret@", 1);
    let status = deckhand(&["team", "status"], dir.path(), &url);
    assert_eq!(status.status.code(), Some(1));
    let err = String::from_utf8_lossy(&status.stderr);
    assert!(err.contains("run `deckhand team init` first"), "{err}");
    assert!(!err.contains("t3am-s3cret"));
    let init = deckhand(&["team", "init"], dir.path(), &url);
    let out = String::from_utf8_lossy(&init.stdout);
    assert_eq!(
        init.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&init.stderr)
    );
    assert!(out.contains("version 0 → 1"), "{out}");
    assert!(!out.contains("t3am-s3cret"));
    let status = deckhand(&["team", "status"], dir.path(), &url);
    assert_eq!(status.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&status.stdout).contains("Nobody is releasing"));
    // Without [team]: bad usage, named.
    std::fs::write(dir.path().join("solo.toml"), "[project]\nname = \"s\"\nenvironment = \"x\"\n\n[[phase]]\nname = \"p\"\nsteps = [{ run = \"true\" }]\n").unwrap();
    let solo = deckhand(&["team", "status", "solo.toml"], dir.path(), &url);
    assert_eq!(solo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&solo.stderr).contains("has no [team] section"));
    // Four-eyes approval: `check` says where it applies; an environment the plan does not have is an error there.
    let four = |approve: &str| {
        std::fs::write(
            dir.path().join("four.toml"),
            format!(
                "[project]\nname = \"s\"\nenvironment = \"production\"\n\n[[phase]]\nname = \"p\"\n\
                 steps = [{{ run = \"true\" }}]\n\n[team]\ndatabase = \"${{DECKHAND_TEAM_URL}}\"\napprove = {approve}\n"
            ),
        )
        .unwrap();
        deckhand(&["check", "four.toml"], dir.path(), &url)
    };
    let ok = four("[\"production\"]");
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.contains("four-eyes approval in production"), "{out}");
    assert!(!out.contains("t3am-s3cret"), "{out}");
    let bad = four("[\"prod\"]");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("four.toml:11:12: team.approve[0]"), "{err}");
    assert!(
        err.contains("unknown environment \"prod\": expected one of production"),
        "{err}"
    );
}
