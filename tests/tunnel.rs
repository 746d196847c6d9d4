//! The managed database tunnel (issue 19, must-work 3) with a real port forwarder (`socat`) in front of the test
//! PostgreSQL: the plan refuses a URL that bypasses the tunnel; the supervisor brings it up, restarts it after it is
//! killed, and stops its whole process group; `deckhand status` goes through it and leaves nothing running; a tunnel
//! that exits, or a port someone else already listens on, is an error that says so; the console in a real pty
//! shows the tunnel, journals it going down and coming back, reads the database through the restarted tunnel, and
//! stops it on quit — and the tunnel's secret never reaches a command line.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::migrations as m;
use common::net::{free_port, port_open};
use common::pg::{TestDb, fresh_db};
use common::pty::PtyApp;
use deckhand::journal::{self, Event};
use deckhand::runner::tunnel::{Tunnel, TunnelState};

/// A secret the tunnel command reads (as `flyctl proxy` reads `FLY_API_TOKEN`): never on a command line.
const TOKEN: &str = "fly-tok-7f3a9c";

/// The forwarder: listens on `port`, forwards every connection to the test cluster. It first writes the secret it
/// was given to `seen` (so the test can tell it arrived through the environment).
fn forwarder(port: u16, db: &TestDb, seen: &Path) -> String {
    format!(
        "printf %s ${{FLY_API_TOKEN}} > {}; exec socat TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork TCP:{}:{}",
        seen.display(),
        db.host,
        db.port
    )
}

/// The pids whose command line listens on `port` (the forwarder), and every command line seen.
fn forwarders(port: u16) -> Vec<i32> {
    let needle = format!("TCP-LISTEN:{port},");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(
            !text.contains(TOKEN),
            "the tunnel's secret is on a command line: {text}"
        );
        if text.contains(&needle) && !is_zombie(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// The forwarder that listens (its process group's leader; the others serve one connection each).
fn listener(port: u16) -> Vec<i32> {
    forwarders(port)
        .into_iter()
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                let fields: Vec<&str> = s
                    .rsplit(')')
                    .next()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect();
                fields.get(2) == Some(&pid.to_string().as_str())
            })
        })
        .collect()
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
}

/// Waits (a hang guard, not a timing bound) until `check` holds.
fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A plan in `dir` whose database is reached through `tunnel` on `port`, with two pending sqlx migrations.
fn tunnel_plan(dir: &Path, db: &TestDb, port: u16, tunnel: &str) -> PathBuf {
    m::sqlx(
        &dir.join("migrations"),
        &[
            (
                "1_orders",
                "CREATE TABLE orders (id bigserial PRIMARY KEY);\n",
            ),
            ("2_status", "ALTER TABLE orders ADD COLUMN status text;\n"),
        ],
    );
    let plan = dir.join("deckhand.toml");
    let text = format!(
        r#"[project]
name = "shop"
environment = "staging"

[database]
url = "postgres://postgres@127.0.0.1:{port}/{name}"
migrations = "migrations"
format = "sqlx"
tunnel = "{tunnel}"
tunnel_port = {port}
tunnel_timeout = "20s"
"#,
        name = db.name,
        tunnel = tunnel.replace('\\', "\\\\").replace('"', "\\\""),
    );
    std::fs::write(&plan, text).unwrap();
    plan
}

/// [`tunnel_plan`] with the real [`forwarder`] as its tunnel (the secret it gets written to `dir/seen`).
fn forwarded_plan(dir: &Path, db: &TestDb, port: u16) -> PathBuf {
    tunnel_plan(dir, db, port, &forwarder(port, db, &dir.join("seen")))
}

fn deckhand(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args(args)
        .env("FLY_API_TOKEN", TOKEN)
        .output()
        .unwrap()
}

fn env_lookup(name: &str) -> Option<String> {
    (name == "FLY_API_TOKEN").then(|| TOKEN.to_string())
}

#[test]
fn the_plan_refuses_a_url_that_bypasses_the_tunnel() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("m")).unwrap();
    let path = dir.path().join("deckhand.toml");
    let plan = |database: &str| {
        let text = format!(
            "[project]\nname = \"p\"\nenvironment = \"staging\"\n\n[database]\nmigrations = \"m\"\n{database}"
        );
        deckhand::plan::parse(&text, &path, &env_lookup)
    };
    let bypass = plan(
        "url = \"postgres://u@db.internal:5432/shop\"\ntunnel = \"flyctl proxy 15432:5432 -a shop-db\"\n\
         tunnel_port = 15432\n",
    )
    .unwrap_err()
    .to_string();
    assert!(bypass.contains("deckhand.toml:7:7"), "{bypass}");
    assert!(bypass.contains("database.url"), "{bypass}");
    assert!(
        bypass.contains("db.internal:5432, not through the tunnel"),
        "{bypass}"
    );
    let no_port = plan(
        "url = \"postgres://u@localhost:15432/shop\"\ntunnel = \"flyctl proxy 15432:5432 -a shop-db\"\n",
    )
    .unwrap_err()
    .to_string();
    assert!(no_port.contains("database.tunnel_port"), "{no_port}");
    assert!(
        no_port.contains("expected tunnel_port = 15432"),
        "{no_port}"
    );
    let orphan = plan("url = \"postgres://u@localhost:15432/shop\"\ntunnel_port = 15432\n")
        .unwrap_err()
        .to_string();
    assert!(orphan.contains("tunnel_port without tunnel"), "{orphan}");
    let bad_port =
        plan("url = \"postgres://u@localhost:15432/shop\"\ntunnel = \"x\"\ntunnel_port = 70000\n")
            .unwrap_err()
            .to_string();
    assert!(bad_port.contains("invalid port 70000"), "{bad_port}");

    let ok = plan(
        "url = \"postgres://u@localhost:15432/shop\"\n\
         tunnel = \"flyctl proxy 15432:5432 -a shop-db --access-token ${FLY_API_TOKEN}\"\ntunnel_port = 15432\n",
    )
    .unwrap();
    let tunnel = ok.database.unwrap().tunnel.unwrap();
    assert_eq!((tunnel.host.as_str(), tunnel.port), ("localhost", 15432));
    assert_eq!(tunnel.ready_timeout, Duration::from_secs(30));
    // The secret reaches the command through its environment: never in its text, never shown.
    assert!(!tunnel.command.value.contains(TOKEN));
    assert!(!tunnel.command.display.contains(TOKEN));
    assert_eq!(
        tunnel.env.0,
        vec![("FLY_API_TOKEN".to_string(), TOKEN.to_string())]
    );
    assert!(!format!("{tunnel:?}").contains(TOKEN));
}

#[tokio::test]
async fn the_supervisor_restarts_a_killed_tunnel_and_stops_its_group() {
    let db = fresh_db().await;
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let path = forwarded_plan(dir.path(), &db, port);
    let plan = deckhand::plan::parse(&std::fs::read_to_string(&path).unwrap(), &path, &env_lookup)
        .unwrap();
    let spec = plan.database.unwrap().tunnel.unwrap();
    let tunnel = Tunnel::start(spec, plan.secrets.masker());
    let gate = tunnel.gate();
    gate.ready().await.unwrap();
    let mut states = tunnel.states();
    let first = listener(port);
    assert_eq!(first.len(), 1, "one forwarder listens");

    // Killed from outside: down (saying how), then up again as a new process.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let down = states
        .wait_for(|s| matches!(s, TunnelState::Down { .. }))
        .await
        .unwrap()
        .clone();
    let TunnelState::Down { why, retry_in } = down else {
        unreachable!()
    };
    assert!(why.contains("killed by signal 9"), "{why}");
    assert_eq!(retry_in, Duration::from_secs(1));
    states.wait_for(TunnelState::is_up).await.unwrap();
    let second = listener(port);
    assert_eq!(second.len(), 1);
    assert_ne!(second, first, "a new forwarder was started");
    // And the database answers through it.
    let mut conn = deckhand::migrate::db::connect(
        &format!("postgres://postgres@127.0.0.1:{port}/{}", db.name),
        &deckhand::migrate::db::Settings {
            lock_timeout: Duration::from_secs(2),
            statement_timeout: None,
        },
    )
    .await
    .unwrap();
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&mut conn.conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    drop(conn);

    tunnel.stop().await;
    assert!(forwarders(port).is_empty(), "the forwarder is stopped");
    assert!(!port_open(port), "nothing listens on the tunnel's port");
}

#[test]
fn status_goes_through_the_tunnel_and_leaves_nothing_running() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(fresh_db());
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let plan = forwarded_plan(dir.path(), &db, port);
    let plan = plan.to_str().unwrap();
    let out = deckhand(&["status", plan]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "pending migrations: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 pending"), "{stdout}");
    assert!(stdout.contains(&format!("127.0.0.1:{port}")), "{stdout}");
    assert!(forwarders(port).is_empty(), "the tunnel was stopped");
    assert!(!port_open(port));

    // `deckhand lint --plan` judges the pending migrations on the live data through the same tunnel.
    let out = deckhand(&["lint", "--plan", plan, "--format", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("live context unavailable"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2_status"), "{stdout}");
    assert!(forwarders(port).is_empty());
    // `deckhand check` says what the tunnel is.
    let out = deckhand(&["check", plan]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("tunnel: $ printf %s \"$FLY_API_TOKEN\" >"),
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("seen")).unwrap(),
        TOKEN,
        "the tunnel got its secret through its environment"
    );
    assert!(
        stdout.contains(&format!("listens on 127.0.0.1:{port}")),
        "{stdout}"
    );
    assert!(!stdout.contains(TOKEN));
}

#[test]
fn a_tunnel_that_exits_or_a_port_already_taken_is_an_error() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(fresh_db());
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let failing = "echo Error: app shop-db not found, token ${FLY_API_TOKEN} >&2; exit 1";
    let plan = tunnel_plan(dir.path(), &db, port, failing);
    let out = deckhand(&["status", plan.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the database tunnel to 127.0.0.1:{port} did not come up: the tunnel exited with status 1 before \
             its port opened: Error: app shop-db not found"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "the secret is masked: {stderr}");
    assert!(stderr.contains("token ***"), "{stderr}");

    // Someone else listens on the port (a proxy opened by hand): never used.
    let squatter = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let plan = forwarded_plan(dir.path(), &db, port);
    let out = deckhand(&["migrate", plan.to_str().unwrap()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("already accepts connections before the tunnel started"),
        "{text}"
    );
    drop(squatter);
    assert!(forwarders(port).is_empty(), "no forwarder was left behind");
}

#[test]
fn the_console_shows_the_tunnel_and_survives_it_being_killed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(fresh_db());
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let plan = forwarded_plan(dir.path(), &db, port);
    let mut app = PtyApp::start_with_env(
        &["run", plan.to_str().unwrap()],
        data.path(),
        &[("FLY_API_TOKEN", TOKEN)],
    );
    app.type_keys("2");
    app.wait_for("via tunnel");
    app.wait_for("0 applied, 2 pending");
    let first = listener(port);
    assert_eq!(first.len(), 1);

    // The forwarder dies mid-run: journaled as down, then up again.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let tunnel_events = || -> Vec<(String, String)> {
        let runs = journal::list_runs(data.path()).unwrap();
        journal::read_entries(&runs[0].journal)
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.event {
                Event::Tunnel { state, detail } => Some((state, detail)),
                _ => None,
            })
            .collect()
    };
    wait_for("the tunnel to be journaled down and up again", || {
        tunnel_events().len() >= 3
    });
    let events = tunnel_events();
    assert_eq!(events[0].0, "up");
    assert_eq!(events[1].0, "down");
    assert!(events[1].1.contains("killed by signal 9"), "{events:?}");
    assert_eq!(events[2].0, "up");
    let second = listener(port);
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);

    // The database is read through the restarted tunnel: a third migration shows up.
    m::sqlx(
        &dir.path().join("migrations"),
        &[("3_paid", "ALTER TABLE orders ADD COLUMN paid boolean;\n")],
    );
    app.send("r");
    app.wait_for("0 applied, 3 pending");
    app.send("q");
    assert_eq!(app.wait_exit(), 1, "quit before sign-off");
    app.assert_restored();
    assert!(
        forwarders(port).is_empty(),
        "the tunnel stops with the console"
    );
    assert!(!port_open(port));
}
