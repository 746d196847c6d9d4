//! Four-eyes approval on the real PostgreSQL harness (issue 20): a request approved by a second operator, refused
//! to the operator who asked (here and by the schema), refused by another, withdrawn, and timed out — each seen by
//! the waiting side as it happens (woken by NOTIFY); and `deckhand approve` through the binary.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::{Duration, Instant};

use common::pg::fresh_db;
use deckhand::plan::{Resolved, Team};
use deckhand::team::approve::{self, Decision, Request};
use deckhand::team::{Identity, schema};
use tokio_util::sync::CancellationToken;

fn team_of(url: &str) -> Team {
    Team {
        database: Resolved::literal(url),
        schema: "deckhand".into(),
        role: None,
        approve: vec!["production".into()],
        approval_timeout: Duration::from_secs(600),
    }
}

fn who(name: &str) -> Identity {
    Identity {
        os_user: "deploy".into(),
        operator: Some(name.into()),
        host: format!("bastion-{name}"),
        ssh_client: None,
    }
}

fn request(timeout: Duration) -> Request {
    Request {
        run_id: "20261205-run".into(),
        project: "shop".into(),
        environment: "production".into(),
        action: "Run destructive phase: Deploy".into(),
        detail: vec!["Step 1: ./deploy.sh --all".into()],
        by: who("alice"),
        timeout,
    }
}

/// The run the requests belong to (its row comes with its journal's first copy).
async fn run_row(db: &common::pg::TestDb) {
    let mut conn = db.connect().await;
    sqlx::query(
        "INSERT INTO deckhand.runs (run_id, project, environment, operator, host)
         VALUES ('20261205-run', 'shop', 'production', 'deploy as alice', 'bastion-alice')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn approved_by_another_refused_to_oneself_withdrawn_and_timed_out() {
    let db = fresh_db().await;
    let team = team_of(&db.url);
    schema::init(&team).await.unwrap();
    run_row(&db).await;

    // Approved by bob; alice may not approve her own.
    let id = approve::request(&team, &request(Duration::from_secs(600)))
        .await
        .unwrap();
    let waiting = approve::waiting(&team, Some(("shop", "production")), Some("2026"))
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].action, "Run destructive phase: Deploy");
    assert_eq!(waiting[0].detail, "Step 1: ./deploy.sh --all");
    assert_eq!(waiting[0].requested_by, "deploy as alice");
    let (t, never) = (team.clone(), CancellationToken::new());
    let waiter = tokio::spawn(async move { approve::decision(&t, id, &never).await });
    let own = approve::decide(&team, id, &who("alice"), true)
        .await
        .unwrap_err();
    assert!(own.to_string().contains("is yours"), "{own}");
    // The schema refuses it too, whatever writes the row.
    let mut conn = db.connect().await;
    let direct = sqlx::query(
        "UPDATE deckhand.approvals SET state = 'approved', decided_by = requested_by WHERE id = $1",
    )
    .bind(id)
    .execute(&mut conn)
    .await;
    assert!(
        direct.is_err(),
        "the schema lets an operator approve their own request"
    );
    approve::decide(&team, id, &who("bob"), true).await.unwrap();
    assert_eq!(
        waiter.await.unwrap().unwrap(),
        Decision::Approved {
            by: "deploy as bob".into()
        }
    );
    let again = approve::decide(&team, id, &who("carol"), true)
        .await
        .unwrap_err();
    assert!(
        again.to_string().contains("no longer waiting: approved"),
        "{again}"
    );

    // Refused by bob.
    let id = approve::request(&team, &request(Duration::from_secs(600)))
        .await
        .unwrap();
    approve::decide(&team, id, &who("bob"), false)
        .await
        .unwrap();
    let never = CancellationToken::new();
    assert_eq!(
        approve::decision(&team, id, &never).await.unwrap(),
        Decision::Refused {
            by: "deploy as bob".into()
        }
    );

    // Withdrawn by alice: bob can no longer approve it.
    let id = approve::request(&team, &request(Duration::from_secs(600)))
        .await
        .unwrap();
    let withdraw = CancellationToken::new();
    let (t, w) = (team.clone(), withdraw.clone());
    let waiter = tokio::spawn(async move { approve::decision(&t, id, &w).await });
    withdraw.cancel();
    assert_eq!(waiter.await.unwrap().unwrap(), Decision::Withdrawn);
    let late = approve::decide(&team, id, &who("bob"), true)
        .await
        .unwrap_err();
    assert!(
        late.to_string().contains("no longer waiting: withdrawn"),
        "{late}"
    );

    // Timed out: the waiter ends when the request expires, and nobody can approve it after.
    let id = approve::request(&team, &request(Duration::from_millis(300)))
        .await
        .unwrap();
    let started = Instant::now();
    let never = CancellationToken::new();
    assert_eq!(
        approve::decision(&team, id, &never).await.unwrap(),
        Decision::TimedOut
    );
    assert!(started.elapsed() < Duration::from_secs(30), "a hang guard");
    let late = approve::decide(&team, id, &who("bob"), true)
        .await
        .unwrap_err();
    assert!(
        late.to_string().contains("no longer waiting: timed out"),
        "{late}"
    );
    assert!(
        approve::waiting(&team, Some(("shop", "production")), None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[test]
fn deckhand_approve_through_the_binary() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(fresh_db());
    let team = team_of(&db.url);
    rt.block_on(schema::init(&team)).unwrap();
    rt.block_on(run_row(&db));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("deckhand.toml"),
        "[project]\nname = \"shop\"\nenvironment = \"production\"\n\n[[phase]]\nname = \"Deploy\"\n\
         destructive = true\nsteps = [{ run = \"./deploy.sh --all\" }]\n\n[team]\n\
         database = \"${DECKHAND_TEAM_URL}\"\napprove = [\"production\"]\n",
    )
    .unwrap();
    let run = |who: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_deckhand"))
            .args(args)
            .current_dir(dir.path())
            .env("DECKHAND_TEAM_URL", &db.url)
            .env("DECKHAND_OPERATOR", who)
            .output()
            .unwrap()
    };
    let none = run("bob", &["approve", "--yes"]);
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("nothing waits for approval"));

    let mut alice = request(Duration::from_secs(600));
    alice.by.os_user = deckhand::console::operator();
    let id = rt.block_on(approve::request(&team, &alice)).unwrap();
    // Alice (same login, same DECKHAND_OPERATOR) is refused; the request still waits.
    let own = run("alice", &["approve", "--yes"]);
    assert_eq!(own.status.code(), Some(1));
    let out = String::from_utf8_lossy(&own.stdout);
    assert!(
        out.contains("Run destructive phase: Deploy") && out.contains("./deploy.sh --all"),
        "{out}"
    );
    assert!(String::from_utf8_lossy(&own.stderr).contains("is yours"));
    // Without --yes and without a terminal, nothing is decided.
    let unsure = run("bob", &["approve"]);
    assert_eq!(unsure.status.code(), Some(1));
    // Bob, on a host without the plan: the team URL and the run are enough.
    let elsewhere = tempfile::tempdir().unwrap();
    let bob = std::process::Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(["approve", "20261205", "--yes"])
        .current_dir(elsewhere.path())
        .env("DECKHAND_TEAM_URL", &db.url)
        .env("DECKHAND_OPERATOR", "bob")
        .output()
        .unwrap();
    assert_eq!(
        bob.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&bob.stderr)
    );
    assert!(String::from_utf8_lossy(&bob.stdout).contains(&format!("request {id} approved by")));
    let never = CancellationToken::new();
    let decided = rt.block_on(approve::decision(&team, id, &never)).unwrap();
    assert!(matches!(decided, Decision::Approved { by } if by.ends_with(" as bob")));
}
