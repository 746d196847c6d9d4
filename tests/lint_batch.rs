//! Which Dangerous findings of a batch of pending migrations put existing data at stake (`deckhand::lint::batch`):
//! objects created earlier in the batch, tables the live database shows empty, and everything that makes a
//! table's rows come from elsewhere (renames, copies, updates) so that the name is still asked.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::path::PathBuf;

use deckhand::lint::batch::{Probe, Probes, asks, spare};
use deckhand::lint::{Class, FileReport, Options, Spared, analyze_migration};
use deckhand::migrate::split::split;
use deckhand::migrate::{Format, Key, Migration};

fn migration(name: &str, sql: &str) -> Migration {
    Migration {
        format: Format::Prisma,
        key: Key::Prisma { name: name.into() },
        name: name.into(),
        path: PathBuf::from(format!("prisma/migrations/{name}/migration.sql")),
        sql: sql.into(),
        statements: split(sql),
        down: None,
        no_transaction: None,
    }
}

/// The batch analyzed and judged with `probes`: each Dangerous finding as (migration, object, spared).
fn judged(files: &[(&str, &str)], probes: &Probes) -> Vec<(String, String, Option<Spared>)> {
    let migrations: Vec<Migration> = files.iter().map(|(n, s)| migration(n, s)).collect();
    let order: Vec<&Migration> = migrations.iter().collect();
    let opts = Options {
        executor_sets_lock_timeout: true,
    };
    let mut reports: Vec<FileReport> = order.iter().map(|m| analyze_migration(m, &opts)).collect();
    spare(&order, &mut reports, probes);
    reports
        .iter()
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

fn asked(files: &[(&str, &str)]) -> Vec<String> {
    let migrations: Vec<Migration> = files.iter().map(|(n, s)| migration(n, s)).collect();
    let order: Vec<&Migration> = migrations.iter().collect();
    let reports: Vec<FileReport> = order
        .iter()
        .map(|m| analyze_migration(m, &Options::default()))
        .collect();
    asks(&order, &reports)
}

fn created(migration: &str, line: usize) -> Option<Spared> {
    Some(Spared::CreatedInBatch {
        migration: migration.into(),
        line,
    })
}

fn row(m: &str, object: &str, spared: Option<Spared>) -> (String, String, Option<Spared>) {
    (m.into(), object.into(), spared)
}

#[test]
fn what_an_earlier_migration_of_the_batch_created_loses_no_existing_data() {
    let files = [
        (
            "m1",
            "CREATE TABLE \"Session\" (id text);\nCREATE TABLE users (id int);\n",
        ),
        (
            "m2",
            "ALTER TABLE users ADD COLUMN \"nickName\" text;\nALTER TABLE accounts ADD COLUMN note text;\n",
        ),
        (
            "m3",
            "DROP TABLE \"Session\";\nALTER TABLE \"users\" DROP COLUMN \"nickName\";\n\
             ALTER TABLE accounts DROP COLUMN note;\nALTER TABLE accounts ALTER COLUMN note2 TYPE varchar(20);\n\
             DROP TABLE accounts;\n",
        ),
    ];
    assert_eq!(
        judged(&files, &Probes::default()),
        vec![
            row("m3", "Session", created("m1", 1)),
            // A column of a table the batch created: created with it.
            row("m3", "users.nickName", created("m1", 2)),
            // A column the batch added to an older table.
            row("m3", "accounts.note", created("m2", 2)),
            row("m3", "accounts.note2", None),
            row("m3", "accounts", None),
        ]
    );
}

#[test]
fn earlier_in_the_same_file_counts_later_does_not_and_names_resolve_as_postgres_does() {
    let files = [(
        "m1",
        "DROP TABLE t;\nCREATE TABLE t (id int);\nTRUNCATE t;\nDELETE FROM T;\nUPDATE \"t\" SET id = 1;\n\
         CREATE TABLE \"Mixed\" (id int);\nDROP TABLE Mixed;\nDROP TABLE \"Mixed\";\n\
         CREATE TABLE app.x (id int);\nDROP TABLE x;\nDROP TABLE app.x;\n",
    )];
    assert_eq!(
        judged(&files, &Probes::default()),
        vec![
            row("m1", "t", None),
            row("m1", "t", created("m1", 2)),
            row("m1", "T", created("m1", 2)),
            row("m1", "t", created("m1", 2)),
            // Unquoted Mixed is the table mixed, not "Mixed".
            row("m1", "Mixed", None),
            row("m1", "Mixed", created("m1", 6)),
            // Not assumed to be one table: the search path decides.
            row("m1", "x", None),
            row("m1", "app.x", created("m1", 9)),
        ]
    );
}

#[test]
fn rows_from_elsewhere_keep_the_name_asked() {
    let files = [
        (
            "m1",
            "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\nCREATE TABLE c (id int);\n\
             CREATE TABLE d (id int);\nCREATE TABLE e (id int);\nCREATE TABLE f (id int);\n",
        ),
        (
            "m2",
            // a: filled from an older table; b: takes an older table's name; c: updated from elsewhere; d: seeded
            // with literal values (the batch's own rows); e: moved to another schema; f: renamed (keeps its status).
            "INSERT INTO a SELECT id FROM old;\nDROP TABLE b;\nALTER TABLE old RENAME TO b;\n\
             UPDATE c SET id = o.id FROM old o;\nINSERT INTO d VALUES (1), (2);\nALTER TABLE e SET SCHEMA archive;\n\
             ALTER TABLE f RENAME TO g;\n",
        ),
        (
            "m3",
            "DROP TABLE a;\nDROP TABLE b;\nDROP TABLE c;\nDROP TABLE d;\nDROP TABLE e;\nDROP TABLE g;\n",
        ),
    ];
    let rows = judged(&files, &Probes::default());
    assert_eq!(
        rows,
        vec![
            row("m2", "b", created("m1", 2)),
            // UPDATE without WHERE overwrites what the batch wrote: judged before it copies anything in.
            row("m2", "c", created("m1", 3)),
            row("m3", "a", None),
            row("m3", "b", None),
            row("m3", "c", None),
            row("m3", "d", created("m1", 4)),
            row("m3", "e", None),
            row("m3", "g", created("m1", 6)),
        ]
    );
}

#[test]
fn a_new_column_filled_from_the_rows_of_an_older_table_holds_copies() {
    // Prisma's way of changing a column's type by hand: add, copy, drop the old one, rename the new one.
    let files = [(
        "m1",
        "ALTER TABLE users ADD COLUMN age_new int;\nUPDATE users SET age_new = age::int WHERE true;\n\
         ALTER TABLE users DROP COLUMN age;\nALTER TABLE users RENAME COLUMN age_new TO age;\n\
         ALTER TABLE users ADD COLUMN tmp int;\nALTER TABLE users DROP COLUMN tmp;\n\
         ALTER TABLE users DROP COLUMN age;\n",
    )];
    assert_eq!(
        judged(&files, &Probes::default()),
        vec![
            row("m1", "users.age", None),
            row("m1", "users.tmp", created("m1", 5)),
            row("m1", "users.age", None),
        ]
    );
}

#[test]
fn a_table_the_live_database_shows_empty_loses_nothing_unless_the_batch_changed_it() {
    let files = [
        (
            "m1",
            "DROP TABLE empty_one;\nALTER TABLE empty_two DROP COLUMN c;\nTRUNCATE full_one;\n\
             INSERT INTO empty_three SELECT * FROM full_one;\nDROP TABLE empty_three;\nDROP TABLE unreadable;\n\
             DROP TABLE gone;\n",
        ),
        ("m2", "DROP TABLE empty_two;\n"),
    ];
    assert_eq!(
        asked(&files),
        vec![
            "\"empty_one\"",
            "\"empty_two\"",
            "\"full_one\"",
            "\"unreadable\"",
            "\"gone\""
        ]
    );
    let mut probes = Probes::default();
    for (t, p) in [
        ("\"empty_one\"", Probe::Empty),
        ("\"empty_two\"", Probe::Empty),
        ("\"empty_three\"", Probe::Empty),
        ("\"full_one\"", Probe::HasRows),
        ("\"gone\"", Probe::Absent),
    ] {
        probes.insert(t.into(), p);
    }
    assert_eq!(
        judged(&files, &probes),
        vec![
            row("m1", "empty_one", Some(Spared::EmptyTable)),
            row("m1", "empty_two.c", Some(Spared::EmptyTable)),
            row("m1", "full_one", None),
            // Empty now, but filled from a table with rows first.
            row("m1", "empty_three", None),
            row("m1", "unreadable", None),
            // Absent now: its rows would come from something deckhand cannot see.
            row("m1", "gone", None),
            row("m2", "empty_two", Some(Spared::EmptyTable)),
        ]
    );
}

#[test]
fn create_if_not_exists_creates_only_what_the_live_database_lacks() {
    let files = [
        (
            "m1",
            "CREATE TABLE IF NOT EXISTS \"new\" (id int);\nCREATE TABLE IF NOT EXISTS \"old\" (id int);\n\
             CREATE TABLE IF NOT EXISTS \"unknown\" (id int);\n",
        ),
        (
            "m2",
            "DROP TABLE \"new\";\nDROP TABLE \"old\";\nDROP TABLE \"unknown\";\n",
        ),
    ];
    assert_eq!(asked(&files), vec!["\"new\"", "\"old\"", "\"unknown\""]);
    let mut probes = Probes::default();
    probes.insert("\"new\"".into(), Probe::Absent);
    probes.insert("\"old\"".into(), Probe::HasRows);
    assert_eq!(
        judged(&files, &probes),
        vec![
            row("m2", "new", created("m1", 1)),
            row("m2", "old", None),
            row("m2", "unknown", None),
        ]
    );
}

#[test]
fn what_no_single_table_holds_always_asks() {
    let files = [(
        "m1",
        "CREATE SCHEMA s;\nCREATE TABLE t (id int);\nDROP SCHEMA s CASCADE;\nTRUNCATE t CASCADE;\n\
         DO $$ BEGIN DELETE FROM t; END $$;\n",
    )];
    let rows = judged(&files, &Probes::default());
    assert!(
        rows.contains(&row("m1", "s", None)),
        "a schema's objects are not followed: {rows:?}"
    );
    assert!(
        rows.contains(&row("m1", "t", created("m1", 2))),
        "TRUNCATE of t itself: {rows:?}"
    );
    assert!(
        rows.iter()
            .filter(|(_, o, _)| o == "t" || o == "m1")
            .any(|(_, _, s)| s.is_none()),
        "CASCADE reaches other tables, a DO block anything: {rows:?}"
    );
}
