//! A whole Prisma-style history (120 migrations: enum removals with their own BEGIN … COMMIT mid-file, renames,
//! drops of tables created earlier in the same history, CONCURRENTLY files) applied to an empty PostgreSQL by
//! deckhand, compared with PostgreSQL itself receiving each file as one query, the way Prisma's engine sends it
//! (issue 15: real histories stopped at migration 39 of 820).
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::migrations::{self as m, apply_all, status_of};
use common::pg::{TestDb, fresh_db};
use common::prisma_history::history;
use deckhand::migrate::status::State;

const N: usize = 120;

/// Columns with types, enums with labels, indexes and constraints: the schema as comparable text.
async fn schema(db: &TestDb) -> Vec<String> {
    let mut conn = db.connect().await;
    let mut all = Vec::new();
    for sql in [
        "SELECT table_name || '.' || column_name || ' ' || udt_name || ' ' || is_nullable || ' ' || \
         coalesce(column_default, '') FROM information_schema.columns WHERE table_schema = 'public' \
         AND table_name <> '_prisma_migrations' ORDER BY 1",
        "SELECT t.typname || ':' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_type t \
         JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname ORDER BY 1",
        "SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = 'public' \
         AND tablename <> '_prisma_migrations' ORDER BY 1",
        "SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE connamespace = 'public'::regnamespace AND conname NOT LIKE '\\_prisma%' ORDER BY 1",
    ] {
        let rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap();
        all.extend(rows);
    }
    all
}

#[tokio::test]
async fn a_120_migration_prisma_history_applies_as_prisma_would_leave_it() {
    let migrations = history(N);
    let refs: Vec<(&str, &str)> = migrations
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    m::prisma(dir.path(), &refs);

    let db = fresh_db().await;
    let spec = m::database(&db.url, dir.path(), "prisma");
    let report = apply_all(&spec).await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(report.applied.len(), N);
    assert!(
        status_of(&spec)
            .await
            .iter()
            .all(|(_, s)| *s == State::Applied)
    );

    // The reference: each file sent as one query, in order, as Prisma's engine sends it.
    let reference = fresh_db().await;
    let mut conn = reference.connect().await;
    for (name, sql) in &migrations {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{name} fails as one query: {e}"));
    }
    drop(conn);
    let (ours, theirs) = (schema(&db).await, schema(&reference).await);
    assert!(ours.len() > N, "a real schema: {}", ours.len());
    let only_ours: Vec<&String> = ours.iter().filter(|r| !theirs.contains(r)).collect();
    let only_theirs: Vec<&String> = theirs.iter().filter(|r| !ours.contains(r)).collect();
    assert!(
        only_ours.is_empty() && only_theirs.is_empty(),
        "deckhand only: {only_ours:?}\nPostgreSQL as Prisma sends it only: {only_theirs:?}"
    );

    // Prisma's ledger: one finished row per migration, with the sha256 of the file and one applied step.
    let mut conn = db.connect().await;
    let rows: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT migration_name, checksum, applied_steps_count FROM _prisma_migrations \
         WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows.len(), N);
    for ((name, checksum, steps), (want, sql)) in rows.iter().zip(&migrations) {
        assert_eq!(name, want);
        assert_eq!(checksum, &m::sha256_hex(sql));
        assert_eq!(*steps, 1);
    }
}
