//! Lock trouble named, against a real PostgreSQL (issue 15, defect 6): a table lock held by another session is
//! named in the lock-timeout failure (pid, application_name, user, client, state, since, query start and its
//! query, made inert and cut) with what the operator can do; while an apply waits — for a table lock or for the
//! migration's advisory lock — the runner reports who holds it. deckhand never ends the other session.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::migrations::{self as m, apply_all};
use common::pg::{TestDb, fresh_db};
use deckhand::migrate::apply::{Confirmed, Progress};
use deckhand::migrate::lock::{DECKHAND_LOCK_KEY, LockWait, Waited};
use deckhand::plan::Database;
use deckhand::runner::RunnerEvent;
use deckhand::runner::migrate::ApplyOutcome;
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::mpsc::{Receiver, channel};
use tokio_util::sync::CancellationToken;

/// Hang guard while waiting for the runner's next event (not a timing assertion).
const EVENT_LIMIT: Duration = Duration::from_secs(60);

/// Another session, as an operator's psql would be: its pid and user.
struct Other {
    conn: PgConnection,
    pid: i32,
    user: String,
}

async fn other_session(tdb: &TestDb, application_name: &str) -> Other {
    let mut conn = tdb
        .options()
        .application_name(application_name)
        .connect()
        .await
        .unwrap();
    let (pid, user): (i32, String) =
        sqlx::query_as("SELECT pg_backend_pid(), CAST(current_user AS TEXT)")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    Other { conn, pid, user }
}

/// `001_t` applied (table `t`), `002_x` (`ALTER TABLE t ADD COLUMN x int`) pending.
async fn table_t_and_pending_alter(tdb: &TestDb, dir: &std::path::Path) -> Database {
    m::plain(dir, &[("001_t", "CREATE TABLE t (id int);\n")]);
    let spec = m::database(&tdb.url, dir, "plain");
    assert!(apply_all(&spec).await.failure.is_none());
    m::plain(dir, &[("002_x", "ALTER TABLE t ADD COLUMN x int;\n")]);
    spec
}

fn pending(spec: &Database) -> Vec<Confirmed> {
    let target = deckhand::migrate::load(spec).unwrap();
    vec![Confirmed::of(&target.migrations[1])]
}

async fn next(rx: &mut Receiver<RunnerEvent>) -> RunnerEvent {
    tokio::time::timeout(EVENT_LIMIT, rx.recv())
        .await
        .expect("the runner went quiet")
        .expect("the runner ended without its result")
}

/// Events until the apply's outcome; the progress events before it are returned too.
async fn outcome(rx: &mut Receiver<RunnerEvent>) -> (ApplyOutcome, Vec<RunnerEvent>) {
    let mut seen = Vec::new();
    loop {
        match next(rx).await {
            RunnerEvent::MigrationsApplied(o) => return (o, seen),
            other => seen.push(other),
        }
    }
}

/// Waits for the runner to report a wait for a lock that `pid` holds.
async fn wait_naming(rx: &mut Receiver<RunnerEvent>, pid: i32) -> LockWait {
    loop {
        match next(rx).await {
            RunnerEvent::MigrationProgress(Progress::Waiting(w))
                if w.holders.iter().any(|h| h.pid == i64::from(pid)) =>
            {
                return w;
            }
            RunnerEvent::MigrationsApplied(o) => {
                panic!("the apply ended before naming pid {pid}: {o:?}")
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_held_table_lock_is_named_in_the_failure() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = table_t_and_pending_alter(&tdb, dir.path()).await;
    let mut other = other_session(&tdb, "psql").await;
    // The query the holder ran last: with an escape sequence that must stay inert, and long enough to be cut.
    let tail = "y".repeat(400);
    let query = format!("SELECT count(*) FROM t WHERE '\u{1b}]0;owned\u{7}' <> '{tail}'");
    sqlx::raw_sql("BEGIN")
        .execute(&mut other.conn)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(query))
        .execute(&mut other.conn)
        .await
        .unwrap();
    spec.lock_timeout = Duration::from_millis(300);
    let (tx, mut rx) = channel(64);
    let stop = CancellationToken::new();
    let confirmed = pending(&spec);
    let run = tokio::spawn(deckhand::runner::migrate::apply(
        spec.clone(),
        "tester".into(),
        confirmed,
        tx,
        stop,
    ));
    let (done, _) = outcome(&mut rx).await;
    let error = done.error.expect("the ALTER cannot get its lock");
    let f = done.failure.as_ref().expect("a statement failure");
    assert_eq!(f.code.as_deref(), Some("55P03"), "{error}");
    let pid = other.pid;
    for part in [
        "lock timeout".to_string(),
        format!("pid {pid} psql ({}@127.0.0.1)", other.user),
        "idle in transaction since ".into(),
        "query started ".into(),
        "UTC".into(),
        "SELECT count(*) FROM t WHERE".into(),
        "wait for it to finish".into(),
        format!("pg_terminate_backend({pid})"),
        "deckhand never ends a session".into(),
    ] {
        assert!(error.contains(&part), "missing {part:?} in:\n{error}");
    }
    assert!(
        !error.contains('\u{1b}') && !error.contains('\u{7}'),
        "{error}"
    );
    assert!(
        error.contains("^[]0;owned^G"),
        "made inert, not dropped: {error}"
    );
    assert!(
        !error.contains(&tail),
        "a long query is cut: {} chars",
        error.len()
    );
    // deckhand ended nothing: the other session is still in its transaction, and can go on.
    let (state,): (String,) = sqlx::query_as("SELECT state FROM pg_stat_activity WHERE pid = $1")
        .bind(other.pid)
        .fetch_one(&mut tdb.connect().await)
        .await
        .unwrap();
    assert_eq!(state, "idle in transaction");
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut other.conn)
        .await
        .unwrap();
    // The runner reads the status again after the apply; it says pending.
    match next(&mut rx).await {
        RunnerEvent::Migrations(Ok(snap)) => assert_eq!(
            snap.status.pending().len(),
            1,
            "nothing was recorded for the failed migration"
        ),
        other => panic!("expected the status read again, got {other:?}"),
    }
    run.await.unwrap();
}

#[tokio::test]
async fn while_a_table_lock_blocks_the_apply_the_runner_names_its_holder() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = table_t_and_pending_alter(&tdb, dir.path()).await;
    let mut other = other_session(&tdb, "psql").await;
    let mut tx_other = other.conn.begin().await.unwrap();
    sqlx::raw_sql("SELECT count(*) FROM t")
        .execute(&mut *tx_other)
        .await
        .unwrap();
    // Long enough that the ALTER waits until the holder is done: the test ends the wait, not a timeout.
    spec.lock_timeout = Duration::from_secs(600);
    let (tx, mut rx) = channel(64);
    let confirmed = pending(&spec);
    let run = tokio::spawn(deckhand::runner::migrate::apply(
        spec.clone(),
        "tester".into(),
        confirmed,
        tx,
        CancellationToken::new(),
    ));
    let wait = wait_naming(&mut rx, other.pid).await;
    assert_eq!(
        wait.lock,
        Waited::Object {
            what: "a lock on t".into()
        }
    );
    assert_eq!(wait.holders.len(), 1, "{wait:?}");
    let h = &wait.holders[0];
    assert_eq!(
        (
            h.application_name.as_str(),
            h.user.as_str(),
            h.client.as_str()
        ),
        ("psql", other.user.as_str(), "127.0.0.1")
    );
    assert_eq!(h.state, "idle in transaction");
    assert_eq!(h.query, "SELECT count(*) FROM t");
    assert!(
        h.since.ends_with(" UTC") && h.query_start.ends_with(" UTC"),
        "{h:?}"
    );
    let text = h.to_string();
    assert!(
        text.starts_with(&format!(
            "pid {} psql ({}@127.0.0.1) idle in transaction since ",
            other.pid, other.user
        )),
        "{text}"
    );
    assert!(text.ends_with(": SELECT count(*) FROM t"), "{text}");
    // The holder finishes: the ALTER gets its lock and the migration applies.
    tx_other.rollback().await.unwrap();
    let (done, _) = outcome(&mut rx).await;
    assert_eq!(done.error, None);
    assert_eq!(done.applied.len(), 1, "{done:?}");
    run.await.unwrap();
}

#[tokio::test]
async fn while_another_migration_holds_the_advisory_lock_the_runner_names_it() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = table_t_and_pending_alter(&tdb, dir.path()).await;
    let mut other = other_session(&tdb, "other-deploy").await;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(DECKHAND_LOCK_KEY)
        .execute(&mut other.conn)
        .await
        .unwrap();
    // The same key held in another database is another lock, and not its holder.
    let elsewhere = fresh_db().await;
    let mut unrelated = other_session(&elsewhere, "unrelated").await;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(DECKHAND_LOCK_KEY)
        .execute(&mut unrelated.conn)
        .await
        .unwrap();
    spec.lock_wait = Duration::from_secs(600);
    let (tx, mut rx) = channel(64);
    let confirmed = pending(&spec);
    let run = tokio::spawn(deckhand::runner::migrate::apply(
        spec.clone(),
        "tester".into(),
        confirmed,
        tx,
        CancellationToken::new(),
    ));
    let wait = wait_naming(&mut rx, other.pid).await;
    assert_eq!(
        wait.lock,
        Waited::Migration {
            key: DECKHAND_LOCK_KEY
        }
    );
    assert_eq!(
        wait.holders.len(),
        1,
        "only the holder in this database: {wait:?}"
    );
    let h = &wait.holders[0];
    assert_eq!(
        (
            h.application_name.as_str(),
            h.user.as_str(),
            h.client.as_str()
        ),
        ("other-deploy", other.user.as_str(), "127.0.0.1")
    );
    assert_eq!(h.query, "SELECT pg_advisory_lock($1)");
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(DECKHAND_LOCK_KEY)
        .execute(&mut other.conn)
        .await
        .unwrap();
    let (done, _) = outcome(&mut rx).await;
    assert_eq!(done.error, None);
    assert_eq!(done.applied.len(), 1, "{done:?}");
    run.await.unwrap();
}
