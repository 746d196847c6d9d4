//! The release stages' runners against real things: preflight (a real PostgreSQL from the shared harness, a local
//! HTTP server, log files present and missing, an unreachable database whose password must not show), smoke probes,
//! and webhook notifications (the JSON body received, failures that never show the webhook URL or its token).
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::migrations as m;
use common::pg::fresh_db;
use common::plan_from;
use deckhand::plan::{Notify, Plan, Resolved};
use deckhand::runner::{PreflightResult, Probe, RunnerEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// One request as the server saw it: path and body.
#[derive(Debug)]
struct Seen {
    path: String,
    body: String,
}

/// Reads one request (headers, then `content-length` bytes of body) and answers according to its path.
async fn answer(mut s: TcpStream, seen: mpsc::UnboundedSender<Seen>) {
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&req[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while req.len() < head_end + length {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let body = String::from_utf8_lossy(&req[head_end..]).to_string();
    let status = if path.starts_with("/ok") || path.starts_with("/hooks/ok") {
        200
    } else if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(5)).await;
        200
    } else {
        500
    };
    let _ = seen.send(Seen { path, body });
    let text = if status == 200 { "ok" } else { "boom" };
    let resp = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// A local HTTP server; its base URL and what it received.
async fn server() -> (String, mpsc::UnboundedReceiver<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(answer(s, tx.clone()));
        }
    });
    (format!("http://127.0.0.1:{port}"), rx)
}

/// A port nothing listens on.
async fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}

fn notify(url: &str) -> Notify {
    Notify {
        webhook: Resolved {
            value: url.to_string(),
            display: "${SLACK_WEBHOOK}".into(),
        },
        timeout: Duration::from_secs(2),
    }
}

async fn notify_events(n: Notify) -> Vec<RunnerEvent> {
    let (tx, mut rx) = mpsc::channel(4);
    deckhand::runner::notify::send(n, "release started".into(), "shop: release".into(), tx).await;
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        out.push(ev);
    }
    out
}

#[tokio::test]
async fn notify_posts_slack_json_and_reports_nothing_on_success() {
    let (base, mut seen) = server().await;
    let text = "shop: release \"2.4\" started\nby ana";
    let (tx, mut rx) = mpsc::channel(4);
    let n = notify(&format!("{base}/hooks/ok/T0/B0"));
    deckhand::runner::notify::send(n, "start".into(), text.into(), tx).await;
    assert!(rx.try_recv().is_err(), "a success sends nothing");
    let got = seen.recv().await.expect("the server got the post");
    assert_eq!(got.path, "/hooks/ok/T0/B0");
    let json: serde_json::Value = serde_json::from_str(&got.body).expect("valid JSON");
    assert_eq!(json, serde_json::json!({ "text": text }));
}

#[tokio::test]
async fn notify_failure_on_500_never_shows_the_url_or_token() {
    let (base, _seen) = server().await;
    let evs = notify_events(notify(&format!("{base}/hooks/T0/B0/xoxb-s3cret-token"))).await;
    match evs.as_slice() {
        [RunnerEvent::NotifyFailed { what, error }] => {
            assert_eq!(what, "release started");
            assert!(error.contains("500"), "{error}");
            assert!(!error.contains("s3cret"), "{error}");
            assert!(!error.contains("/hooks/"), "{error}");
            assert!(!error.contains(&base), "{error}");
        }
        other => panic!("expected one NotifyFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn notify_failure_on_a_refused_port() {
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/hooks/T0/B0/xoxb-s3cret-token");
    let evs = notify_events(notify(&url)).await;
    match evs.as_slice() {
        [RunnerEvent::NotifyFailed { error, .. }] => {
            assert!(error.contains("cannot connect"), "{error}");
            assert!(
                !error.contains("s3cret") && !error.contains("/hooks/"),
                "{error}"
            );
        }
        other => panic!("expected one NotifyFailed, got {other:?}"),
    }
}

fn plan(health_base: &str, log_dir: &std::path::Path) -> Plan {
    plan_from(&format!(
        r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Deploy"
steps = [{{ run = "true" }}]

[[health]]
name = "up"
url = "{health_base}/ok"
timeout = "2s"

[[health]]
name = "down"
url = "{health_base}/broken"
timeout = "2s"

[[logs]]
name = "present"
file = "{present}"

[[logs]]
name = "later"
file = "{later}"

[[logs]]
name = "nowhere"
file = "{nowhere}"

[[logs]]
name = "shell"
command = "sh -c 'echo hi'"

[[logs]]
name = "missing"
command = "RUST_LOG=info no-such-program-deckhand --follow"
"#,
        present = log_dir.join("app.log").display(),
        later = log_dir.join("later.log").display(),
        nowhere = log_dir.join("no/such/dir/x.log").display(),
    ))
}

async fn preflight(plan: Plan) -> Vec<PreflightResult> {
    let (tx, mut rx) = mpsc::channel(64);
    deckhand::runner::preflight::run(plan, None, tx).await;
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        match ev {
            RunnerEvent::Preflight(r) => out.push(r),
            other => panic!("unexpected {other:?}"),
        }
    }
    out.sort_by(|a, b| a.check.cmp(&b.check));
    out
}

fn find<'a>(results: &'a [PreflightResult], check: &str) -> &'a PreflightResult {
    results
        .iter()
        .find(|r| r.check == check)
        .unwrap_or_else(|| panic!("no {check} in {results:?}"))
}

#[tokio::test]
async fn preflight_checks_database_health_logs_and_terminal() {
    let tdb = fresh_db().await;
    let (base, _seen) = server().await;
    let logs = tempfile::tempdir().unwrap();
    std::fs::write(logs.path().join("app.log"), "hello\n").unwrap();
    let mut p = plan(&base, logs.path());
    p.database = Some(m::database(&tdb.url, logs.path(), "plain"));
    let results = preflight(p).await;
    let checks: Vec<&str> = results.iter().map(|r| r.check.as_str()).collect();
    assert_eq!(
        checks,
        [
            "database",
            "health down",
            "health up",
            "logs later",
            "logs missing",
            "logs nowhere",
            "logs present",
            "logs shell",
            "migrations",
            "terminal"
        ]
    );
    let migrations = find(&results, "migrations");
    assert!(migrations.ok, "{migrations:?}");
    assert!(migrations.detail.ends_with("(1 entries)"), "{migrations:?}");
    let db = find(&results, "database");
    assert!(db.ok, "{db:?}");
    assert_eq!(db.detail, format!("{}:{}/{}", tdb.host, tdb.port, tdb.name));
    assert!(find(&results, "health up").ok);
    let down = find(&results, "health down");
    assert!(!down.ok && down.detail.contains("status 500"), "{down:?}");
    assert!(find(&results, "logs present").ok);
    let later = find(&results, "logs later");
    assert!(later.ok && later.detail == "not there yet", "{later:?}");
    assert!(!find(&results, "logs nowhere").ok);
    assert!(find(&results, "logs shell").ok);
    let missing = find(&results, "logs missing");
    assert!(!missing.ok, "{missing:?}");
    assert!(
        missing.detail.contains("no-such-program-deckhand"),
        "{missing:?}"
    );
    assert!(results.iter().all(|r| !r.policy || r.check == "terminal"));
}

#[tokio::test]
async fn preflight_unreachable_database_names_no_password() {
    let port = closed_port().await;
    let logs = tempfile::tempdir().unwrap();
    let mut p = plan_from(
        "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[[phase]]\nname = \"D\"\nsteps = [{ run = \"true\" }]\n",
    );
    let url = format!("postgres://app:hunter2secret@127.0.0.1:{port}/shop");
    p.database = Some(m::database(&url, logs.path(), "plain"));
    let m_folder = logs.path().to_path_buf();
    let results = preflight(p).await;
    assert!(find(&results, "migrations").ok);
    let db = find(&results, "database");
    assert!(!db.ok, "{db:?}");
    assert!(!db.detail.contains("hunter2secret"), "{db:?}");
    // The migrations folder went away after check (issue 16): a ✗, not a ✓ over an empty history.
    drop(logs);
    let gone = deckhand::runner::preflight::migrations_folder(&m_folder);
    assert!(!gone.ok, "{gone:?}");
    assert!(gone.detail.contains("No such file"), "{gone:?}");
    assert!(
        db.detail.contains(&format!("127.0.0.1:{port}/shop")),
        "{db:?}"
    );
}

#[tokio::test]
async fn smoke_probes_each_endpoint_once() {
    let (base, _seen) = server().await;
    let p = plan(&base, std::path::Path::new("/tmp"));
    let (tx, mut rx) = mpsc::channel(8);
    deckhand::runner::smoke::run(p.health.clone(), tx).await;
    let mut got = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        match ev {
            RunnerEvent::Smoke { check, probe } => got.push((check, probe)),
            other => panic!("unexpected {other:?}"),
        }
    }
    got.sort_by_key(|(i, _)| *i);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(matches!(got[0].1, Probe::Up { status: 200, .. }), "{got:?}");
    assert!(
        matches!(
            got[1].1,
            Probe::Down {
                status: Some(500),
                ..
            }
        ),
        "{got:?}"
    );
}
