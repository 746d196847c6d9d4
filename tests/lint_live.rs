//! Live context against a real PostgreSQL (the shared harness) and SQLite: table sizes drive severity and lock
//! estimates, sessions holding locks and long transactions show up with their pid, new tables are new, and a
//! direct connection is not mistaken for a pooled one.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::time::Duration;

use common::pg::{TestDb, fresh_db};
use deckhand::lint::live::{self, DEFAULT_LONG_TX, LiveContext};
use deckhand::lint::{Class, Finding, Severity};
use deckhand::migrate::db::{self, Db, Settings};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};

const INDEX_RULE: &str = "require-concurrent-index-creation";

fn finding(rule: &str, table: &str) -> Finding {
    Finding {
        class: Class::Locking,
        rule: rule.into(),
        statement_index: 1,
        line: 1,
        column: 1,
        statement: format!("CREATE INDEX ON {table} (id);"),
        why: "blocks writes while the index builds".into(),
        safer: "CREATE INDEX CONCURRENTLY".into(),
        object: None,
        tables: vec![table.into()],
        severity: None,
        context: vec![],
        ignored: None,
        spared: None,
    }
}

async fn connect(url: &str) -> Db {
    let settings = Settings {
        lock_timeout: Duration::from_secs(2),
        statement_timeout: None,
    };
    db::connect(url, &settings)
        .await
        .expect("deckhand connects")
}

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// `big` with 200,000 rows and `small` with 10, both analyzed.
async fn big_and_small(tdb: &TestDb) -> PgConnection {
    let mut conn = tdb.connect().await;
    exec(
        &mut conn,
        "CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 200000) g;
         CREATE TABLE small (id bigint PRIMARY KEY, payload text NOT NULL);
         INSERT INTO small SELECT g, md5(g::text) FROM generate_series(1, 10) g;
         ANALYZE big; ANALYZE small;",
    )
    .await;
    conn
}

async fn read(db: &mut Db, tables: &[&str], long_tx: Duration) -> LiveContext {
    let tables: Vec<String> = tables.iter().map(|t| t.to_string()).collect();
    live::read(db, &tables, long_tx)
        .await
        .expect("live context")
}

/// A second session with its own application_name, and its pid.
async fn other_session(tdb: &TestDb, name: &str) -> (PgConnection, i64) {
    let mut conn = PgConnection::connect_with(&tdb.options().application_name(name))
        .await
        .expect("second session connects");
    let pid: i32 = sqlx::query("SELECT pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .and_then(|r| r.try_get(0))
        .expect("pid");
    (conn, i64::from(pid))
}

#[tokio::test]
async fn the_same_index_build_is_high_on_a_big_table_and_low_on_a_small_one() {
    let tdb = fresh_db().await;
    let _setup = big_and_small(&tdb).await;
    let mut db = connect(&tdb.url).await;
    let ctx = read(&mut db, &["big", "small"], DEFAULT_LONG_TX).await;

    let big = ctx.facts("big").expect("facts for big");
    assert!(big.exists);
    assert!((199_000..=201_000).contains(&big.rows), "{big:?}");
    assert!(big.bytes > 10 * 1024 * 1024, "{big:?}");
    let small = ctx.facts("small").expect("facts for small");
    assert_eq!((small.exists, small.rows), (true, 10));
    assert!(small.bytes < big.bytes / 100, "{small:?}");

    let mut findings = [finding(INDEX_RULE, "big"), finding(INDEX_RULE, "small")];
    live::apply(&mut findings, &ctx);
    let [big_f, small_f] = &findings;
    assert!(
        matches!(big_f.severity, Some(Severity::High | Severity::Medium)),
        "{big_f:?}"
    );
    assert_eq!(small_f.severity, Some(Severity::Low), "{small_f:?}");
    let line = &big_f.context[0];
    assert!(line.starts_with("big: ~200,000 rows, "), "{line}");
    assert!(line.contains("est. lock "), "{line}");
    assert!(line.contains("SHARE lock while the index builds"), "{line}");
    assert!(small_f.context[0].starts_with("small: ~10 rows, "));
}

#[tokio::test]
async fn a_session_holding_a_lock_on_the_table_shows_up_with_its_pid() {
    let tdb = fresh_db().await;
    let _setup = big_and_small(&tdb).await;
    let (mut holder, pid) = other_session(&tdb, "reporting").await;
    exec(&mut holder, "BEGIN").await;
    exec(&mut holder, "SELECT * FROM big\n LIMIT 1").await;

    let mut db = connect(&tdb.url).await;
    let ctx = read(&mut db, &["big", "small"], DEFAULT_LONG_TX).await;
    // Only the holder, or also an autovacuum worker that happens to be on `big`: look for the pid.
    let b = ctx
        .blockers
        .iter()
        .find(|b| b.pid == pid)
        .unwrap_or_else(|| panic!("pid {pid} missing from {:?}", ctx.blockers));
    assert_eq!(b.table.as_deref(), Some("big"));
    assert_eq!(b.mode, "AccessShareLock");
    assert_eq!(b.application_name, "reporting");
    assert_eq!(b.state, "idle in transaction");
    assert_eq!(b.query, "SELECT * FROM big LIMIT 1", "one line");

    let mut findings = [
        finding(INDEX_RULE, "big"),
        finding("renaming-table", "big"),
        finding(INDEX_RULE, "small"),
    ];
    live::apply(&mut findings, &ctx);
    let line_of = |f: &Finding| -> String {
        let who = format!("pid {pid} (reporting from ");
        let line = f.context.iter().find(|l| l.starts_with(&who));
        line.unwrap_or_else(|| panic!("no line for pid {pid}: {:?}", f.context))
            .clone()
    };
    // A reader does not block CREATE INDEX (SHARE) but does block a rename (ACCESS EXCLUSIVE).
    let index = line_of(&findings[0]);
    assert!(index.contains(") holds AccessShareLock on big"), "{index}");
    assert!(index.contains("(idle in transaction)"), "{index}");
    assert!(
        index.contains("no conflict with this statement's SHARE lock"),
        "{index}"
    );
    let rename = line_of(&findings[1]);
    assert!(
        rename.contains("this statement will wait behind it, then lock_timeout fails it"),
        "{rename}"
    );
    assert_eq!(
        findings[1].severity,
        Some(Severity::Medium),
        "raised by the wait"
    );
    assert!(
        !findings[2]
            .context
            .iter()
            .any(|l| l.contains(&format!("pid {pid} "))),
        "small has no lock holder: {:?}",
        findings[2].context
    );
    exec(&mut holder, "ROLLBACK").await;
}

#[tokio::test]
async fn a_long_transaction_is_a_blocker_even_on_an_untouched_table() {
    let tdb = fresh_db().await;
    let mut setup = big_and_small(&tdb).await;
    let (mut holder, pid) = other_session(&tdb, "batch").await;
    exec(&mut holder, "BEGIN; SELECT count(*) FROM small;").await;
    // The server's own clock says when the transaction is a second old (the threshold read with below).
    let aged = "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 \
                AND xact_start <= clock_timestamp() - interval '1 second'";
    common::wait_until("the transaction to be a second old", async || {
        let n: i64 = sqlx::query_scalar(aged)
            .bind(i32::try_from(pid).unwrap())
            .fetch_one(&mut setup)
            .await
            .unwrap();
        n > 0
    })
    .await;

    let mut db = connect(&tdb.url).await;
    let ctx = read(&mut db, &["big"], Duration::from_secs(1)).await;
    let b = ctx
        .blockers
        .iter()
        .find(|b| b.pid == pid)
        .unwrap_or_else(|| panic!("pid {pid} missing from {:?}", ctx.blockers));
    assert_eq!(b.mode, "long transaction");
    assert_eq!(b.table, None);
    assert!(b.xact_age_secs >= 1, "{b:?}");
    assert_eq!(b.application_name, "batch");

    // Below the threshold it is not reported.
    let quiet = read(&mut db, &["big"], DEFAULT_LONG_TX).await;
    assert!(
        !quiet.blockers.iter().any(|b| b.pid == pid),
        "{:?}",
        quiet.blockers
    );

    // CREATE INDEX CONCURRENTLY, the safer pattern, would wait for it.
    let mut findings = [finding(INDEX_RULE, "big")];
    live::apply(&mut findings, &ctx);
    let line = findings[0].context.last().expect("a context line");
    assert!(
        line.starts_with(&format!("pid {pid} (batch from ")),
        "{line}"
    );
    assert!(
        line.contains(") has had a transaction open for 00:00:0"),
        "{line}"
    );
    assert!(line.contains("CONCURRENTLY"), "{line}");
    exec(&mut holder, "ROLLBACK").await;
}

#[tokio::test]
async fn an_unknown_table_is_a_new_table_with_low_severity() {
    let tdb = fresh_db().await;
    let mut db = connect(&tdb.url).await;
    let ctx = read(
        &mut db,
        &["orders", "public.orders", "a..b"],
        DEFAULT_LONG_TX,
    )
    .await;
    for name in ["orders", "public.orders", "a..b"] {
        let facts = ctx.facts(name).expect("a row per table");
        assert!(!facts.exists, "{facts:?}");
        assert_eq!((facts.rows, facts.bytes), (-1, -1));
    }
    let mut findings = [finding(INDEX_RULE, "orders")];
    live::apply(&mut findings, &ctx);
    assert_eq!(findings[0].severity, Some(Severity::Low));
    assert!(findings[0].context[0].starts_with("orders: new table: no rows yet"));
}

#[tokio::test]
async fn names_resolve_folded_quoted_qualified_and_partitioned() {
    let tdb = fresh_db().await;
    let mut setup = tdb.connect().await;
    exec(
        &mut setup,
        r#"CREATE SCHEMA app;
           CREATE TABLE "User" (id int); INSERT INTO "User" VALUES (1), (2), (3);
           CREATE TABLE app.events (id int, at date NOT NULL) PARTITION BY RANGE (at);
           CREATE TABLE app.events_a PARTITION OF app.events FOR VALUES FROM ('2024-01-01') TO ('2024-07-01');
           CREATE TABLE app.events_b PARTITION OF app.events FOR VALUES FROM ('2024-07-01') TO ('2025-01-01');
           INSERT INTO app.events SELECT g, date '2024-01-01' + g % 360 FROM generate_series(1, 3000) g;
           ANALYZE "User"; ANALYZE app.events;
           CREATE VIEW user_ids AS SELECT id FROM "User";"#,
    )
    .await;
    let mut db = connect(&tdb.url).await;
    let names = ["User", "public.User", "APP.EVENTS", "user_ids"];
    let ctx = read(&mut db, &names, DEFAULT_LONG_TX).await;
    for name in ["User", "public.User"] {
        let facts = ctx.facts(name).expect("facts");
        assert_eq!((facts.exists, facts.rows), (true, 3), "{facts:?}");
    }
    let events = ctx.facts("APP.EVENTS").expect("facts");
    assert!(events.exists);
    assert_eq!(events.rows, 3000, "partitions summed: {events:?}");
    assert!(events.bytes > 2 * 8192, "partitions summed: {events:?}");
    // A view resolves too (no partition tree, no rows of its own) without failing the query.
    let view = ctx.facts("user_ids").expect("facts");
    assert!(view.exists && view.rows <= 0 && view.bytes == 0, "{view:?}");
}

#[tokio::test]
async fn a_direct_connection_is_not_taken_for_a_pooled_one() {
    // deckhand's own connection: same server session throughout, its lock_timeout set by the client.
    let tdb = fresh_db().await;
    let mut db = connect(&tdb.url).await;
    let ctx = read(&mut db, &[], DEFAULT_LONG_TX).await;
    assert_eq!(ctx.pgbouncer, None);
    assert!(ctx.tables.is_empty() && ctx.blockers.is_empty(), "{ctx:?}");
}

#[tokio::test]
async fn a_connection_that_lost_deckhands_startup_options_is_flagged() {
    // What a proxy that ignores the `options` startup parameter (PgBouncer's ignore_startup_parameters) hands
    // over: a session without deckhand's lock_timeout.
    let tdb = fresh_db().await;
    sqlx::any::install_default_drivers();
    let conn = sqlx::AnyConnection::connect(&tdb.url)
        .await
        .expect("plain connection");
    let mut db = Db {
        conn,
        backend: db::Backend::Postgres,
        target: db::target(&tdb.url),
        settings: db::Settings {
            lock_timeout: std::time::Duration::from_secs(2),
            statement_timeout: None,
        },
    };
    let ctx = read(&mut db, &[], DEFAULT_LONG_TX).await;
    assert_eq!(ctx.pgbouncer.as_deref(), Some(live::OPTIONS_DROPPED));
}

#[tokio::test]
async fn sqlite_counts_rows_and_has_no_blockers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
    let mut db = connect(&url).await;
    sqlx::raw_sql("CREATE TABLE users (id integer); INSERT INTO users VALUES (1), (2), (3);")
        .execute(&mut db.conn)
        .await
        .expect("setup");
    let ctx = read(&mut db, &["users", "main.USERS", "orders"], DEFAULT_LONG_TX).await;
    for name in ["users", "main.USERS"] {
        let facts = ctx.facts(name).expect("facts");
        assert_eq!(
            (facts.exists, facts.rows, facts.bytes),
            (true, 3, -1),
            "{facts:?}"
        );
    }
    assert!(!ctx.facts("orders").expect("facts").exists);
    assert!(ctx.blockers.is_empty() && ctx.pgbouncer.is_none());
    let mut findings = [finding("ban-drop-table", "users")];
    live::apply(&mut findings, &ctx);
    assert_eq!(findings[0].severity, Some(Severity::Low));
    assert!(
        findings[0].context[0].contains("the data of ~3 rows is lost"),
        "{:?}",
        findings[0].context
    );
}
