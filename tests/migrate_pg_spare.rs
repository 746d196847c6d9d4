//! Typed names only where data is at stake, on a real PostgreSQL (issue 15, defect 7 / must-work 5): a history of
//! 120 Prisma-style migrations (enum removals, renames, drops of tables and columns created earlier, type changes,
//! `CREATE INDEX CONCURRENTLY` files) read by the migrations runner against an empty database asks no typed name,
//! and applies in one console confirmation; on a database with data, tables with rows (analyzed or not) ask for
//! their name, empty ones do not, and one that cannot be read in time (a lock held elsewhere) asks too.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::migrations as m;
use common::pg::{TestDb, fresh_db};
use common::*;
use crossterm::event::KeyCode;
use deckhand::app::{Action, Effect, ModalKind};
use deckhand::lint::{Class, Spared};
use deckhand::plan::Database;
use deckhand::runner::RunnerEvent;
use deckhand::runner::migrate::{ApplyOutcome, Snapshot};
use sqlx::{AssertSqlSafe, PgConnection};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One group of six migrations, as Prisma writes them, around table `User{g}` and enum `Role{g}`.
fn group(g: usize) -> [String; 6] {
    let end = if g.is_multiple_of(2) {
        format!("DROP TABLE \"User{g}\";\nDROP TYPE \"Role{g}\";\n")
    } else {
        format!("TRUNCATE TABLE \"User{g}\";\nDELETE FROM \"User{g}\";\n")
    };
    [
        format!(
            "-- CreateEnum\nCREATE TYPE \"Role{g}\" AS ENUM ('A', 'B', 'C');\n\n-- CreateTable\n\
             CREATE TABLE \"User{g}\" (\n    \"id\" SERIAL NOT NULL,\n    \"role\" \"Role{g}\" NOT NULL DEFAULT 'A',\n    \
             \"name\" TEXT,\n    CONSTRAINT \"User{g}_pkey\" PRIMARY KEY (\"id\")\n);\n\n\
             CREATE TABLE \"Temp{g}\" (\"id\" INTEGER NOT NULL);\n"
        ),
        format!(
            "-- AlterTable\nALTER TABLE \"User{g}\" ADD COLUMN \"nick\" TEXT;\n\n-- RenameTable\n\
             ALTER TABLE \"Temp{g}\" RENAME TO \"Renamed{g}\";\n\nINSERT INTO \"User{g}\" (\"name\") VALUES ('seed');\n"
        ),
        // Prisma's AlterEnum: a value removed (without the BEGIN/COMMIT it wraps it in).
        format!(
            "-- AlterEnum\nCREATE TYPE \"Role{g}_new\" AS ENUM ('A', 'B');\n\
             ALTER TABLE \"User{g}\" ALTER COLUMN \"role\" DROP DEFAULT;\n\
             ALTER TABLE \"User{g}\" ALTER COLUMN \"role\" TYPE \"Role{g}_new\" USING (\"role\"::text::\"Role{g}_new\");\n\
             ALTER TYPE \"Role{g}\" RENAME TO \"Role{g}_old\";\nALTER TYPE \"Role{g}_new\" RENAME TO \"Role{g}\";\n\
             DROP TYPE \"Role{g}_old\";\nALTER TABLE \"User{g}\" ALTER COLUMN \"role\" SET DEFAULT 'A';\n"
        ),
        format!(
            "-- CreateIndex\nCREATE INDEX CONCURRENTLY \"User{g}_name_idx\" ON \"User{g}\"(\"name\");\n"
        ),
        format!(
            "-- AlterTable\nALTER TABLE \"User{g}\" DROP COLUMN \"nick\",\nALTER COLUMN \"name\" SET DATA TYPE VARCHAR(50);\n\n\
             -- DropTable\nDROP TABLE \"Renamed{g}\";\n"
        ),
        end,
    ]
}

fn history() -> Vec<(String, String)> {
    (0..20)
        .flat_map(group)
        .enumerate()
        .map(|(i, sql)| {
            (
                format!("{}_step_{}", 20_240_101_000_000_u64 + i as u64, i + 1),
                sql,
            )
        })
        .collect()
}

async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The migrations runner's status read, as the console gets it.
async fn snapshot(spec: &Database) -> Snapshot {
    let (tx, mut rx) = mpsc::channel(16);
    deckhand::runner::migrate::load(spec.clone(), tx).await;
    match rx.recv().await {
        Some(RunnerEvent::Migrations(Ok(s))) => s,
        other => panic!("expected the status, got {other:?}"),
    }
}

/// (migration, object, spared) of every Dangerous finding of the snapshot.
fn dangerous(snap: &Snapshot) -> Vec<(String, String, Option<Spared>)> {
    snap.reports
        .iter()
        .flatten()
        .flat_map(|r| {
            r.findings
                .iter()
                .filter(|f| f.class == Class::Dangerous)
                .map(|f| {
                    (
                        r.name.clone(),
                        f.object.clone().unwrap_or_default(),
                        f.spared.clone(),
                    )
                })
        })
        .collect()
}

fn console(tdb: &TestDb, snap: Snapshot) -> Harness {
    let mut h = Harness::new(plan_from(&format!(
        "[project]\nname = \"shop\"\nenvironment = \"production\"\n\n\
         [database]\nurl = \"{}\"\nmigrations = \"prisma/migrations\"\n\n[backup]\ndir = \"/var/backups/shop\"\n",
        tdb.url
    )));
    h.act(Action::Runner(RunnerEvent::Migrations(Ok(snap))));
    h.act(verified_event(
        &archive("/var/backups/shop/x.dump", "shop", true),
        true,
    ));
    h.dried();
    h
}

#[tokio::test]
async fn a_prisma_history_of_120_migrations_applies_to_an_empty_database_in_one_confirmation() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    let files = history();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_str()))
        .collect();
    m::prisma(dir.path(), &refs);
    let spec = m::database(&tdb.url, dir.path(), "prisma");
    let snap = snapshot(&spec).await;
    assert_eq!(snap.status.pending().len(), 120);
    let found = dangerous(&snap);
    // Per group: the dropped column, the narrowed column, the dropped renamed table, and the table dropped or
    // emptied at the end (twice: TRUNCATE and DELETE).
    let objects: Vec<&str> = found.iter().map(|(_, o, _)| o.as_str()).collect();
    assert_eq!(found.len(), 10 * 4 + 10 * 5, "{objects:?}");
    let at_stake: Vec<_> = found.iter().filter(|(_, _, s)| s.is_none()).collect();
    assert!(
        at_stake.is_empty(),
        "all created earlier in the batch: {at_stake:#?}"
    );
    assert!(
        found.contains(&(
            "20240101000004_step_5".into(),
            "Renamed0".into(),
            Some(Spared::CreatedInBatch {
                migration: "20240101000000_step_1".into(),
                line: 12,
            })
        )),
        "{found:#?}"
    );

    // The console: one confirmation, then the apply.
    let mut h = console(&tdb, snap);
    h.char('a');
    assert_eq!(
        h.state.modal.as_ref().map(|m| m.kind.clone()),
        Some(ModalKind::ApplyMigrations)
    );
    h.settle();
    h.type_text("production");
    let fx = h.key(KeyCode::Enter);
    assert!(h.state.modal.is_none(), "no typed object name asked");
    let confirmed = fx
        .iter()
        .find_map(|e| match e {
            Effect::ApplyMigrations(c) => Some(c.clone()),
            _ => None,
        })
        .expect("the apply starts");
    assert_eq!(confirmed.len(), 120);
    let (tx, mut rx) = mpsc::channel(1024);
    deckhand::runner::migrate::apply(
        spec.clone(),
        "tester".into(),
        confirmed,
        tx,
        CancellationToken::new(),
    )
    .await;
    let outcome: ApplyOutcome = loop {
        match rx.recv().await.expect("the apply's outcome") {
            RunnerEvent::MigrationsApplied(o) => break o,
            _ => continue,
        }
    };
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.applied.len(), 120);
    assert!(snapshot(&spec).await.status.pending().is_empty());
}

#[tokio::test]
async fn on_a_database_with_data_only_tables_with_rows_or_unreadable_ones_ask_their_name() {
    let tdb = fresh_db().await;
    let mut setup = tdb.connect().await;
    exec(
        &mut setup,
        "CREATE TABLE full_analyzed (id int, c text); INSERT INTO full_analyzed VALUES (1, 'x'); ANALYZE full_analyzed;
         CREATE TABLE full_fresh (id int); INSERT INTO full_fresh VALUES (1);
         CREATE TABLE emptied (id int); INSERT INTO emptied VALUES (1); ANALYZE emptied; DELETE FROM emptied;
         CREATE TABLE \"Empty\" (id int, c text);
         CREATE TABLE locked (id int);",
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    m::prisma(
        dir.path(),
        &[(
            "20240101000000_cleanup",
            "DROP TABLE full_analyzed;\nDROP TABLE full_fresh;\nDROP TABLE emptied;\n\
             ALTER TABLE \"Empty\" DROP COLUMN \"c\";\nDROP TABLE \"Empty\";\nDROP TABLE locked;\n",
        )],
    );
    let spec = m::database(&tdb.url, dir.path(), "prisma");
    // Another session holds an ACCESS EXCLUSIVE lock on `locked`: its emptiness cannot be read in time.
    let mut holder = tdb.connect().await;
    exec(
        &mut holder,
        "BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE;",
    )
    .await;
    let snap = snapshot(&spec).await;
    let m = "20240101000000_cleanup".to_string();
    assert_eq!(
        dangerous(&snap),
        vec![
            (m.clone(), "full_analyzed".into(), None),
            (m.clone(), "full_fresh".into(), None),
            // The statistics still count the deleted row: read exactly, it is empty.
            (m.clone(), "emptied".into(), Some(Spared::EmptyTable)),
            (m.clone(), "Empty.c".into(), Some(Spared::EmptyTable)),
            (m.clone(), "Empty".into(), Some(Spared::EmptyTable)),
            (m.clone(), "locked".into(), None),
        ]
    );
    exec(&mut holder, "ROLLBACK").await;
    // The probe left nothing behind: the holder's table is writable at once.
    exec(&mut setup, "INSERT INTO locked VALUES (1)").await;

    let mut h = console(&tdb, snap);
    h.char('a');
    h.settle();
    h.type_text("production");
    h.key(KeyCode::Enter);
    assert_eq!(
        h.state.modal.as_ref().map(|m| m.kind.clone()),
        Some(ModalKind::ConfirmDestroy(vec![
            "full_analyzed".into(),
            "full_fresh".into(),
            "locked".into()
        ]))
    );
}
