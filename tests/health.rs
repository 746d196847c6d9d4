//! Health probes against a tiny local HTTP(S) server (status, body, JSON pointer, slow answers, timeouts, refused
//! connections, headers, a custom CA and the insecure flag), and `[[verify]]` assertions on a real PostgreSQL.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use deckhand::app::{Action, Effect, VerifyRow};
use deckhand::journal::Event;
use deckhand::plan::{HealthCheck, HealthTarget, Resolved, StatusMatch};
use deckhand::runner::health::{client, probe, watch};
use deckhand::runner::{Probe, RunnerEvent};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const SLOW: Duration = Duration::from_millis(400);

/// Answers one request per connection according to its path.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&req).to_string();
    let target = text.split_whitespace().nth(1).unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/").to_string();
    let lower = text.to_ascii_lowercase();
    let (status, body) = match path.as_str() {
        "/ok" => (200, r#"{"status":"ok"}"#),
        "/slow" => {
            tokio::time::sleep(SLOW).await;
            (200, r#"{"status":"ok"}"#)
        }
        "/hang" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            (200, "late")
        }
        "/500" => (500, "boom"),
        "/wrong-json" => (200, r#"{"status":"degraded"}"#),
        "/body" => (200, "all systems go"),
        "/auth" if lower.contains("authorization: bearer s3cret") => (200, "welcome"),
        "/auth" => (401, "who are you"),
        _ => (404, "not found"),
    };
    let resp = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.shutdown().await;
}

/// A plain HTTP server on a free port; returns its base URL.
async fn server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(answer(s));
        }
    });
    format!("http://127.0.0.1:{port}")
}

fn check(url: &str) -> HealthCheck {
    let plan = plan_from(&format!(
        r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Deploy"
steps = [{{ run = "true" }}]

[[health]]
name = "api"
url = "{url}"
timeout = "2s"
"#
    ));
    plan.health[0].clone()
}

fn url_mut(c: &mut HealthCheck) -> &mut Resolved {
    match &mut c.target {
        HealthTarget::Url(u) => u,
        HealthTarget::Command(_) => panic!("a url check"),
    }
}

async fn probe_once(c: &HealthCheck) -> Probe {
    let client = client(c).expect("client builds");
    probe(&client, c).await
}

fn why(p: &Probe) -> String {
    match p {
        Probe::Down { why, .. } | Probe::NoAnswer { why } => why.clone(),
        Probe::Up { .. } | Probe::Ran { .. } => panic!("expected a failure, got {p:?}"),
    }
}

#[tokio::test]
async fn up_on_expected_status() {
    let base = server().await;
    let p = probe_once(&check(&format!("{base}/ok"))).await;
    assert!(matches!(p, Probe::Up { status: 200, .. }), "{p:?}");
}

#[tokio::test]
async fn wrong_status_is_down_and_a_range_can_accept_it() {
    let base = server().await;
    let mut c = check(&format!("{base}/500"));
    let p = probe_once(&c).await;
    assert!(
        matches!(
            p,
            Probe::Down {
                status: Some(500),
                ..
            }
        ),
        "{p:?}"
    );
    assert!(why(&p).contains("status 500"), "{p:?}");
    c.expect_status = StatusMatch::Range(500, 599);
    assert!(matches!(
        probe_once(&c).await,
        Probe::Up { status: 500, .. }
    ));
    c.expect_status = StatusMatch::List(vec![200, 204]);
    assert!(why(&probe_once(&c).await).contains("expected 200, 204"));
}

#[tokio::test]
async fn body_contains() {
    let base = server().await;
    let mut c = check(&format!("{base}/body"));
    c.body_contains = Some("systems go".into());
    assert!(matches!(probe_once(&c).await, Probe::Up { .. }));
    c.body_contains = Some("all is lost".into());
    let p = probe_once(&c).await;
    assert!(why(&p).contains("does not contain"), "{p:?}");
}

#[tokio::test]
async fn json_pointer_equals() {
    let base = server().await;
    let mut c = check(&format!("{base}/ok"));
    c.json = Some(("/status".into(), serde_json::json!("ok")));
    assert!(matches!(probe_once(&c).await, Probe::Up { .. }));

    *url_mut(&mut c) = Resolved::literal(&format!("{base}/wrong-json"));
    let p = probe_once(&c).await;
    assert!(why(&p).contains("\"degraded\""), "{p:?}");

    *url_mut(&mut c) = Resolved::literal(&format!("{base}/body"));
    assert!(why(&probe_once(&c).await).contains("not JSON"));

    *url_mut(&mut c) = Resolved::literal(&format!("{base}/ok"));
    c.json = Some(("/missing".into(), serde_json::json!(1)));
    assert!(why(&probe_once(&c).await).contains("nothing at /missing"));
}

#[tokio::test]
async fn slow_answer_over_max_latency_is_down_with_its_latency() {
    let base = server().await;
    let mut c = check(&format!("{base}/slow"));
    c.max_latency = Some(Duration::from_millis(100));
    let p = probe_once(&c).await;
    match &p {
        Probe::Down {
            status: Some(200),
            latency,
            why,
        } => {
            assert!(*latency >= SLOW, "{p:?}");
            assert!(why.contains("slow"), "{p:?}");
        }
        other => panic!("expected slow Down, got {other:?}"),
    }
    c.max_latency = None;
    assert!(matches!(probe_once(&c).await, Probe::Up { .. }));
}

#[tokio::test]
async fn timeout_is_no_answer() {
    let base = server().await;
    let mut c = check(&format!("{base}/hang"));
    c.timeout = Duration::from_millis(300);
    let start = Instant::now();
    let p = probe_once(&c).await;
    assert!(matches!(p, Probe::NoAnswer { .. }), "{p:?}");
    assert!(why(&p).contains("no answer within 300ms"), "{p:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn connection_refused_is_no_answer() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let p = probe_once(&check(&format!("http://127.0.0.1:{port}/ok"))).await;
    assert!(matches!(p, Probe::NoAnswer { .. }), "{p:?}");
    assert!(why(&p).contains("cannot connect"), "{p:?}");
}

#[tokio::test]
async fn headers_are_sent_and_their_values_never_reported() {
    let base = server().await;
    let mut c = check(&format!("{base}/auth?token=hunter2"));
    url_mut(&mut c).display = format!("{base}/auth?token=${{TOKEN}}");
    let p = probe_once(&c).await;
    assert!(
        matches!(
            p,
            Probe::Down {
                status: Some(401),
                ..
            }
        ),
        "{p:?}"
    );
    c.headers = vec![(
        "Authorization".into(),
        Resolved {
            value: "Bearer s3cret".into(),
            display: "Bearer ${API_TOKEN}".into(),
        },
    )];
    assert!(matches!(
        probe_once(&c).await,
        Probe::Up { status: 200, .. }
    ));
    // A failure names neither the header value nor the URL (whose query may carry a token).
    c.timeout = Duration::from_millis(200);
    let u = url_mut(&mut c);
    u.value = u.value.replace("/auth", "/hang");
    let p = probe_once(&c).await;
    let text = format!("{p:?}");
    assert!(
        !text.contains("s3cret") && !text.contains("hunter2"),
        "{text}"
    );
}

#[tokio::test]
async fn watch_probes_every_interval_and_stops_when_cancelled() {
    let base = server().await;
    let mut c = check(&format!("{base}/ok"));
    c.interval = Duration::from_millis(50);
    let (tx, mut rx) = mpsc::channel(8);
    let stop = CancellationToken::new();
    let task = tokio::spawn(watch(3, c, tx, stop.clone()));
    for _ in 0..3 {
        let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("a probe within 5s")
            .expect("channel open");
        assert!(
            matches!(
                ev,
                RunnerEvent::HealthProbe {
                    check: 3,
                    probe: Probe::Up { .. }
                }
            ),
            "{ev:?}"
        );
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the task ends when cancelled")
        .unwrap();
}

#[tokio::test]
async fn unreadable_ca_file_makes_every_probe_no_answer() {
    let base = server().await;
    let mut c = check(&format!("{base}/ok"));
    c.ca_file = Some("/nonexistent/ca.pem".into());
    assert!(client(&c).unwrap_err().contains("cannot read ca_file"));
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    c.ca_file = Some(junk);
    assert!(client(&c).is_err());

    c.ca_file = Some("/nonexistent/ca.pem".into());
    let (tx, mut rx) = mpsc::channel(8);
    let stop = CancellationToken::new();
    tokio::spawn(watch(0, c, tx, stop.clone()));
    let ev = rx.recv().await.unwrap();
    stop.cancel();
    match ev {
        RunnerEvent::HealthProbe {
            probe: Probe::NoAnswer { why },
            ..
        } => assert!(why.contains("ca_file"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// An HTTPS server whose certificate (for `localhost`) is signed by a fresh CA; returns its base URL and the CA.
async fn tls_server() -> (String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(s).await {
                    answer(tls).await;
                }
            });
        }
    });
    (format!("https://localhost:{port}"), ca.pem())
}

#[tokio::test]
async fn tls_with_custom_ca_and_insecure() {
    let (base, ca_pem) = tls_server().await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let mut c = check(&format!("{base}/ok"));

    // Unknown CA: no answer (a TLS failure is no data, not a wrong answer).
    let p = probe_once(&c).await;
    assert!(matches!(p, Probe::NoAnswer { .. }), "{p:?}");

    c.ca_file = Some(ca_file);
    let p = probe_once(&c).await;
    assert!(matches!(p, Probe::Up { status: 200, .. }), "{p:?}");

    c.ca_file = None;
    c.insecure = true;
    let p = probe_once(&c).await;
    assert!(matches!(p, Probe::Up { status: 200, .. }), "{p:?}");
}

// ---- [[verify]] on a real PostgreSQL ----

fn verify_plan(url: &str) -> deckhand::plan::Plan {
    plan_from(&format!(
        r#"
[project]
name = "shop"
environment = "staging"

[database]
url = "{url}"
migrations = "migrations"

[[phase]]
name = "Deploy"
steps = [{{ run = "true" }}]

[[verify]]
name = "tables"
sql = "select count(*) from information_schema.tables where table_schema = 'public'"
expect = ">= 2"

[[verify]]
name = "numbers as numbers"
sql = "select 10"
expect = ">= 9"

[[verify]]
name = "text as text"
sql = "select 'beta'"
expect = "> alpha"

[[verify]]
name = "too few"
sql = "select count(*) from orders"
expect = ">= 58"

[[verify]]
name = "missing table"
sql = "select count(*) from no_such_table"
expect = "= 0"

[[verify]]
name = "flag"
sql = "select true"
expect = "= true"

[[verify]]
name = "ratio"
sql = "select 0.5::float8"
expect = "< 1"

[[verify]]
name = "null"
sql = "select null::int"
expect = "= 1"

[[verify]]
name = "read only"
sql = "delete from orders returning 1"
expect = "= 1"
"#
    ))
}

#[tokio::test]
async fn verify_assertions_on_postgres() {
    let db = common::pg::fresh_db().await;
    let mut conn = db.connect().await;
    use sqlx::Executor as _;
    conn.execute("create table orders (id int); create table users (id int); insert into orders values (1), (2), (3)")
        .await
        .unwrap();
    let plan = verify_plan(&db.url);
    let (tx, mut rx) = mpsc::channel(16);
    deckhand::runner::verify::run(plan.database.clone().unwrap(), plan.verify.clone(), tx).await;
    let mut h = Harness::new(plan);
    let fx = h.char('v');
    assert!(fx.contains(&Effect::RunVerify), "{fx:?}");
    let mut journal = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        journal.extend(journal_events(&h.act(Action::Runner(ev))));
    }
    let rows: Vec<&VerifyRow> = h.state.health.verify.iter().flatten().collect();
    assert_eq!(rows.len(), 9, "{rows:?}");
    let got = |i: usize| (rows[i].result.clone(), rows[i].passed);
    assert_eq!(got(0), (Ok("2".into()), true));
    assert_eq!(got(1), (Ok("10".into()), true), "10 >= 9 as numbers");
    assert_eq!(got(2), (Ok("beta".into()), true), "beta > alpha as text");
    assert_eq!(got(3), (Ok("3".into()), false));
    let (missing, passed) = got(4);
    assert!(!passed);
    assert!(
        missing.as_ref().unwrap_err().contains("no_such_table"),
        "{missing:?}"
    );
    assert_eq!(got(5), (Ok("true".into()), true));
    assert_eq!(got(6), (Ok("0.5".into()), true));
    assert_eq!(got(7), (Ok("NULL".into()), false));
    let (ro, passed) = got(8);
    assert!(
        !passed && ro.as_ref().unwrap_err().contains("read-only"),
        "{ro:?}"
    );
    assert_eq!(h.state.health.verify_pending, 0);
    assert_eq!(h.state.flash.as_deref(), Some("Verify: 5 of 9 passed."));
    assert!(journal.contains(&Event::VerifyChecked {
        name: "too few".into(),
        value: Some("3".into()),
        passed: false,
        error: None,
    }));
    // The delete never ran.
    let n: i64 = sqlx::query_scalar("select count(*) from orders")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 3);
}

#[tokio::test]
async fn verify_without_a_reachable_database_reports_every_assertion() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let plan = verify_plan(&format!("postgres://u:pw@127.0.0.1:{port}/x"));
    let (tx, mut rx) = mpsc::channel(16);
    deckhand::runner::verify::run(plan.database.clone().unwrap(), plan.verify.clone(), tx).await;
    let mut n = 0;
    while let Ok(ev) = rx.try_recv() {
        match ev {
            RunnerEvent::VerifyResult { result: Err(e), .. } => {
                assert!(!e.contains("pw@"), "{e}");
                n += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(n, 9);
}
