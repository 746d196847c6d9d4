//! Migration timings against a real PostgreSQL (the test harness's throwaway cluster, or TEST_DATABASE_URL):
//! reading the status of 1,000 applied migrations, applying 100 simple ones, and 500 trivial sqlx migrations
//! applied to an empty database by deckhand and by sqlx's own `Migrator` (the code `sqlx migrate run` runs), side
//! by side, each on a fresh database, alternating. Run: `cargo bench --bench migrations`. Prints medians and
//! spreads; nothing here asserts a time.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

#[path = "../tests/common/pg.rs"]
mod pg;

use std::time::{Duration, Instant};

use deckhand::migrate::{self, apply, db};
use deckhand::plan::{Database, Resolved};

const STATUS_MIGRATIONS: usize = 1_000;
const APPLY_MIGRATIONS: usize = 100;
const STATUS_RUNS: usize = 7;

fn spec(url: &str, dir: &std::path::Path) -> Database {
    Database {
        url: Resolved::literal(url),
        migrations: dir.to_path_buf(),
        format: Some("sqlx".into()),
        lock_timeout: Duration::from_secs(2),
        statement_timeout: None,
        lock_wait: Duration::from_secs(10),
        impact_timeout: Duration::from_secs(3),
        tunnel: None,
    }
}

fn write_migrations(dir: &std::path::Path, from: usize, to: usize) {
    for i in from..to {
        let sql = format!(
            "CREATE TABLE t{i} (id int PRIMARY KEY, note text);\nINSERT INTO t{i} VALUES (1, 'x');\n"
        );
        std::fs::write(dir.join(format!("{:05}_table_{i}.sql", i + 1)), sql)
            .expect("write migration");
    }
}

async fn apply_pending(spec: &Database) -> Duration {
    let target = migrate::load(spec).expect("load");
    let mut conn = db::connect(&spec.url.value, &migrate::settings(spec))
        .await
        .expect("connect");
    let opts = apply::Options {
        lock_wait: Duration::from_secs(10),
        applied_by: "bench".into(),
    };
    let start = Instant::now();
    let report = apply::apply(
        &mut conn,
        target.format,
        &target.migrations,
        &opts,
        &mut |_| {},
    )
    .await
    .expect("apply");
    assert!(report.failure.is_none(), "{:?}", report.failure);
    start.elapsed()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

const TRIVIAL: usize = 500;
const SIDE_BY_SIDE_RUNS: usize = 5;

/// `TRIVIAL` one-statement sqlx migrations.
fn write_trivial(dir: &std::path::Path) {
    for i in 0..TRIVIAL {
        std::fs::write(
            dir.join(format!("{:05}_t{i}.sql", i + 1)),
            format!("CREATE TABLE t{i} (id int);\n"),
        )
        .expect("write migration");
    }
}

/// deckhand and sqlx's `Migrator` applying the same 500 trivial migrations to fresh databases, alternating.
async fn side_by_side() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().expect("tempdir");
    write_trivial(dir.path());
    let migrator = sqlx::migrate::Migrator::new(dir.path())
        .await
        .expect("sqlx reads the folder");
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..SIDE_BY_SIDE_RUNS {
        let tdb = pg::fresh_db().await;
        ours.push(apply_pending(&spec(&tdb.url, dir.path())).await);
        let tdb = pg::fresh_db().await;
        let mut conn = sqlx::PgConnection::connect(&tdb.url)
            .await
            .expect("connect");
        let start = Instant::now();
        migrator.run(&mut conn).await.expect("sqlx applies");
        theirs.push(start.elapsed());
    }
    let spread = |v: &[Duration]| {
        let (lo, hi) = (v.iter().min(), v.iter().max());
        format!(
            "{:.2?}–{:.2?}",
            lo.copied().unwrap_or_default(),
            hi.copied().unwrap_or_default()
        )
    };
    let (m_ours, m_theirs) = (median(ours.clone()), median(theirs.clone()));
    println!(
        "apply {TRIVIAL} trivial sqlx migrations to an empty database, {SIDE_BY_SIDE_RUNS} runs each: deckhand median \
         {m_ours:.2?} (spread {}), sqlx Migrator median {m_theirs:.2?} (spread {}); deckhand/sqlx = {:.2}",
        spread(&ours),
        spread(&theirs),
        m_ours.as_secs_f64() / m_theirs.as_secs_f64()
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let tdb = pg::fresh_db().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(&tdb.url, dir.path());

    write_migrations(dir.path(), 0, STATUS_MIGRATIONS);
    let setup = apply_pending(&spec).await;
    println!("setup: applied {STATUS_MIGRATIONS} migrations in {setup:.2?}");

    let mut runs = Vec::new();
    for _ in 0..STATUS_RUNS {
        let start = Instant::now();
        let (_, st) = migrate::read_status(&spec).await.expect("status");
        runs.push(start.elapsed());
        assert_eq!(st.entries.len(), STATUS_MIGRATIONS);
    }
    println!(
        "status of {STATUS_MIGRATIONS} applied migrations (read folder + connect + ledger + compare): median {:.2?} over {STATUS_RUNS} runs",
        median(runs)
    );

    write_migrations(
        dir.path(),
        STATUS_MIGRATIONS,
        STATUS_MIGRATIONS + APPLY_MIGRATIONS,
    );
    let took = apply_pending(&spec).await;
    println!(
        "apply {APPLY_MIGRATIONS} simple migrations (each its own transaction + ledger row): {took:.2?} ({:.2?} each)",
        took / APPLY_MIGRATIONS as u32
    );
    side_by_side().await;
}
