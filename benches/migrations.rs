//! Migration timings against a real PostgreSQL (the test harness's throwaway cluster, or TEST_DATABASE_URL):
//! reading the status of 1,000 applied migrations, and applying 100 simple ones. Run: `cargo bench --bench
//! migrations`. Prints medians; nothing here asserts a time.
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
}
