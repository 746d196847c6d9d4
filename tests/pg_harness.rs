//! Proves the shared PostgreSQL harness (tests/common/pg.rs): fresh databases are distinct, usable,
//! safe to make in parallel and gone once dropped; sessions are seen in pg_stat_activity; the server
//! is recent enough; binaries are found; and the throwaway cluster is stopped and removed when the
//! test process dies, even by SIGKILL.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::{self, TestDb, admin_connect, fresh_db, own_cluster, pg_bin};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

/// Set in the environment of the child test process that the watchdog test starts and kills.
const CHILD_ENV: &str = "DECKHAND_PG_WATCHDOG_CHILD";
/// Marks the child's report line on its stdout.
const CHILD_REPORT: &str = "PG_WATCHDOG_CHILD";
/// Hang guards, not performance bounds.
const CHILD_LIMIT: Duration = Duration::from_secs(120);
const CLEANUP_LIMIT: Duration = Duration::from_secs(20);

async fn current_database(conn: &mut PgConnection) -> String {
    sqlx::query_scalar("select current_database()")
        .fetch_one(conn)
        .await
        .expect("select current_database() works")
}

async fn database_exists(name: &str) -> bool {
    let mut admin = admin_connect().await;
    sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .expect("pg_database is readable")
}

/// Alive and not a zombie (a dead orphan may wait long to be reaped here).
fn process_alive(pid: i32) -> bool {
    if kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| state != "Z" && state != "X"),
        Err(_) => true,
    }
}

#[tokio::test]
async fn two_fresh_databases_are_distinct_and_usable() {
    let a = fresh_db().await;
    let b = fresh_db().await;
    assert_ne!(a.name, b.name);
    assert_ne!(a.url, b.url);
    assert!(a.name.starts_with(pg::DB_PREFIX), "{}", a.name);
    let parsed = url::Url::parse(&a.url).expect("the URL parses");
    assert_eq!(parsed.path(), format!("/{}", a.name), "{}", a.url);

    let mut ca = a.connect().await;
    let mut cb = b.connect().await;
    assert_eq!(current_database(&mut ca).await, a.name);
    assert_eq!(current_database(&mut cb).await, b.name);

    ca.execute("create table only_in_a (x int); insert into only_in_a values (7)")
        .await
        .expect("DDL works in a fresh database");
    let in_a: i32 = sqlx::query_scalar("select x from only_in_a")
        .fetch_one(&mut ca)
        .await
        .expect("table readable");
    assert_eq!(in_a, 7);
    let in_b: Option<String> = sqlx::query_scalar("select to_regclass('only_in_a')::text")
        .fetch_one(&mut cb)
        .await
        .expect("to_regclass works");
    assert_eq!(in_b, None, "a table made in {} shows in {}", a.name, b.name);

    let pool = b.pool().await;
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&pool)
        .await
        .expect("pool query works");
    assert_eq!(one, 1);
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_concurrent_fresh_dbs_all_work() {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..8 {
        set.spawn(async {
            let t0 = Instant::now();
            let db = fresh_db().await;
            let took = t0.elapsed();
            let mut conn = db.connect().await;
            let current = current_database(&mut conn).await;
            conn.close().await.expect("clean close");
            (db, current, took)
        });
    }
    let mut dbs: Vec<TestDb> = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (db, current, took) = joined.expect("a concurrent fresh_db panicked");
        eprintln!("fresh_db {} took {took:?} (concurrently)", db.name);
        assert_eq!(current, db.name);
        dbs.push(db);
    }
    assert_eq!(dbs.len(), 8);
    let names: HashSet<&str> = dbs.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names.len(), 8, "names repeat: {names:?}");
}

#[tokio::test]
async fn one_fresh_db_timing() {
    // Warm: the cluster may be started by this call, which is measured apart.
    drop(fresh_db().await);
    let t0 = Instant::now();
    let db = fresh_db().await;
    let created = t0.elapsed();
    let t1 = Instant::now();
    drop(db);
    let dropped = t1.elapsed();
    if let Some(info) = own_cluster() {
        eprintln!("cluster start-up took {:?}", info.startup);
    }
    eprintln!("one fresh_db took {created:?}, dropping it took {dropped:?}");
    // A hang guard with room for slow CI machines, not a benchmark.
    assert!(
        created < Duration::from_secs(30),
        "fresh_db took {created:?}"
    );
}

#[tokio::test]
async fn dropped_database_is_gone_even_with_open_sessions() {
    let db = fresh_db().await;
    let name = db.name.clone();
    let mut open = db.connect().await;
    assert_eq!(current_database(&mut open).await, name);
    assert!(database_exists(&name).await, "{name} missing while alive");

    drop(db);

    assert!(
        !database_exists(&name).await,
        "{name} still exists after drop"
    );
    assert!(
        open.execute("select 1").await.is_err(),
        "a session on the dropped database still works"
    );
}

#[tokio::test]
async fn application_name_is_visible_in_pg_stat_activity() {
    let db = fresh_db().await;
    let app = format!("deckhand-probe-{}", uuid::Uuid::new_v4().simple());
    let probe = db
        .options()
        .application_name(&app)
        .connect()
        .await
        .expect("connect with application_name");
    let mut watcher = db.connect().await;
    let rows: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "select datname::text, host(client_addr) from pg_stat_activity where application_name = $1",
    )
    .bind(&app)
    .fetch_all(&mut watcher)
    .await
    .expect("pg_stat_activity is readable");
    assert_eq!(rows.len(), 1, "sessions named {app}: {rows:?}");
    assert_eq!(rows[0].0.as_deref(), Some(db.name.as_str()));
    if own_cluster().is_some() {
        assert_eq!(db.host, "127.0.0.1");
        assert_eq!(rows[0].1.as_deref(), Some("127.0.0.1"), "not a TCP session");
    }
    probe.close().await.expect("clean close");
}

#[tokio::test]
async fn server_is_postgresql_15_or_newer() {
    let db = fresh_db().await;
    let mut conn = db.connect().await;
    let version: String = sqlx::query_scalar("show server_version_num")
        .fetch_one(&mut conn)
        .await
        .expect("server_version_num");
    let number: u32 = version.parse().expect("server_version_num is a number");
    assert!(
        number >= 150_000,
        "server version {number} is older than 15"
    );
}

#[test]
fn pg_bin_finds_client_tools_and_nothing_bogus() {
    let pg_dump = pg_bin("pg_dump").expect("pg_dump is installed");
    let out = Command::new(&pg_dump)
        .arg("--version")
        .output()
        .expect("pg_dump runs");
    assert!(
        out.status.success(),
        "{} --version failed",
        pg_dump.display()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("PostgreSQL"));
    assert_eq!(pg_bin("no-such-pg-tool-deckhand"), None);
}

#[test]
fn server_binaries_are_found_together_highest_version_first() {
    let root = tempfile::tempdir().expect("temp dir");
    let make = |dir: &Path, names: &[&str]| {
        std::fs::create_dir_all(dir).expect("mkdir");
        for name in names {
            let p = dir.join(name);
            std::fs::write(&p, "#!/bin/sh\n").expect("write fake binary");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
    };
    let versions = root.path().join("versions");
    let all = ["initdb", "pg_ctl", "postgres"];
    make(&versions.join("9.6/bin"), &all);
    make(&versions.join("15/bin"), &all);
    make(&versions.join("16/bin"), &["initdb", "pg_ctl"]); // incomplete: skipped
    let empty = std::ffi::OsString::new();
    assert_eq!(
        pg::server_bin_dir_in(&empty, &versions),
        Some(versions.join("15/bin"))
    );

    // An initdb on PATH wins, through its symlink, when its real folder holds the other two.
    let real = root.path().join("real");
    make(&real, &all);
    let on_path = root.path().join("path");
    std::fs::create_dir_all(&on_path).expect("mkdir");
    std::os::unix::fs::symlink(real.join("initdb"), on_path.join("initdb")).expect("symlink");
    let canonical_real = std::fs::canonicalize(&real).expect("canonical");
    assert_eq!(
        pg::server_bin_dir_in(on_path.as_os_str(), &versions),
        Some(canonical_real)
    );

    assert_eq!(
        pg::server_bin_dir_in(&empty, &root.path().join("nothing")),
        None
    );
}

/// Runs only as the child of `watchdog_removes_cluster_when_test_process_is_killed`: starts the
/// cluster, reports it, and SIGKILLs its own process, which no Drop or atexit can observe.
#[test]
#[ignore = "helper process of watchdog_removes_cluster_when_test_process_is_killed"]
fn pg_watchdog_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        eprintln!("{CHILD_ENV} not set: nothing to do outside the watchdog test");
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let db = runtime.block_on(fresh_db());
    let mut conn = runtime.block_on(db.connect());
    assert_eq!(runtime.block_on(current_database(&mut conn)), db.name);
    let info = own_cluster().expect("the child runs its own cluster");
    assert!(
        process_alive(i32::try_from(info.watchdog_pid).expect("pid fits i32")),
        "watchdog not running"
    );
    assert!(process_alive(info.postmaster_pid), "postmaster not running");
    println!(
        "\n{CHILD_REPORT} {} {} {}",
        info.postmaster_pid,
        info.watchdog_pid,
        info.dir.display()
    );
    std::io::stdout().flush().expect("flush");
    let _ = kill(Pid::this(), Signal::SIGKILL);
    std::thread::sleep(Duration::from_secs(60));
    panic!("still alive after SIGKILL");
}

#[test]
fn watchdog_removes_cluster_when_test_process_is_killed() {
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = Command::new(exe)
        .args([
            "pg_watchdog_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env_remove(pg::TEST_DATABASE_URL)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child test process");
    let deadline = Instant::now() + CHILD_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("child test process still running after {CHILD_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    if let Some(mut err) = child.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    assert_eq!(
        status.signal(),
        Some(Signal::SIGKILL as i32),
        "child did not reach its SIGKILL ({status}):\n{stdout}\n{stderr}"
    );
    let report = stdout
        .lines()
        .find_map(|l| l.split_once(CHILD_REPORT).map(|(_, rest)| rest))
        .unwrap_or_else(|| panic!("no report from the child:\n{stdout}\n{stderr}"));
    let mut fields = report.trim().splitn(3, ' ');
    let mut pid = || -> i32 {
        fields
            .next()
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| panic!("bad child report: {report}"))
    };
    let postmaster = pid();
    let watchdog = pid();
    let dir = Path::new(fields.next().expect("report names the folder")).to_path_buf();
    assert!(dir.to_string_lossy().contains(pg::TEMP_PREFIX), "{report}");

    let t0 = Instant::now();
    while process_alive(postmaster) || process_alive(watchdog) || dir.exists() {
        assert!(
            t0.elapsed() < CLEANUP_LIMIT,
            "after {CLEANUP_LIMIT:?}: postmaster alive {}, watchdog alive {}, {} exists {}",
            process_alive(postmaster),
            process_alive(watchdog),
            dir.display(),
            dir.exists()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "cluster of the killed process was gone {:?} after",
        t0.elapsed()
    );
}
