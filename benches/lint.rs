//! Linting 1,000 generated migration files (parse with squawk, run the rules, map classes, atomicity): the time
//! `deckhand lint` takes over a large migrations folder. Run: `cargo bench --bench lint`. Prints the median.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::time::{Duration, Instant};

use deckhand::lint::{self, run};
use deckhand::migrate::{Format, source};

const FILES: usize = 1_000;
const RUNS: usize = 5;

/// A mix of what real migrations hold: tables, columns, indexes, constraints, data fixes.
fn migration(i: usize) -> String {
    format!(
        "CREATE TABLE t{i} (id bigint PRIMARY KEY, owner_id bigint, note text, created_at timestamptz DEFAULT now());\n\
         ALTER TABLE t{i} ADD COLUMN status text;\n\
         CREATE INDEX t{i}_owner_idx ON t{i} (owner_id);\n\
         ALTER TABLE t{i} ADD CONSTRAINT t{i}_owner_fk FOREIGN KEY (owner_id) REFERENCES t0 (id);\n\
         UPDATE t{i} SET status = 'new' WHERE status IS NULL;\n\
         ALTER TABLE t{i} ALTER COLUMN status SET NOT NULL;\n"
    )
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    for i in 0..FILES {
        std::fs::write(
            dir.path().join(format!("{:05}_m{i}.sql", i + 1)),
            migration(i),
        )
        .expect("write");
    }
    let migrations = source::read(dir.path(), Format::Sqlx).expect("read");
    let opts = lint::Options {
        executor_sets_lock_timeout: true,
    };
    let mut times: Vec<Duration> = Vec::new();
    let mut findings = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let reports = run::analyze_all(&migrations, &opts);
        times.push(start.elapsed());
        findings = reports.iter().map(|r| r.findings.len()).sum();
    }
    times.sort();
    let median = times[RUNS / 2];
    println!(
        "lint {FILES} migration files (6 statements each, {findings} findings): median {median:.2?} over {RUNS} runs, {:.1?} per file",
        median / FILES as u32
    );
    let start = Instant::now();
    let _ = source::read(dir.path(), Format::Sqlx).expect("read");
    println!(
        "(reading and splitting the folder: {:.2?})",
        start.elapsed()
    );
}
