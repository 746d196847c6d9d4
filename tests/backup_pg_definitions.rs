//! Verifying a PostgreSQL archive's object definitions against the live database (issue 16, must-work 6): no
//! checksum covers a custom archive's table of contents, so a changed byte in a `CREATE TABLE` passed every other
//! check. Without a record a difference is a problem (a damaged table of contents and a changed schema look the
//! same); with a matching record it is the schema having changed since the backup, told as a note. A dump of many
//! kinds of objects matches its own database (no false differences), and `deckhand verify` prints what was found.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::process::Command;

use common::pg::{TestDb, fresh_db};
use common::pgbackup::*;
use deckhand::backup::{Archive, store};
use deckhand::journal;

/// `public.data`, with a few rows.
async fn data_table(tdb: &TestDb) {
    let mut c = tdb.connect().await;
    exec(
        &mut c,
        "CREATE TABLE public.data (id integer PRIMARY KEY, amount integer NOT NULL, note text);\n\
         INSERT INTO public.data SELECT i, i * 10, md5(i::text) FROM generate_series(1, 200) i;",
    )
    .await;
}

/// Replaces the one occurrence of `from` in the file at `path` with `to` (as long): a byte changed in place.
fn flip(path: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(path).unwrap();
    let at: Vec<usize> = bytes
        .windows(from.len())
        .enumerate()
        .filter(|(_, w)| *w == from)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        at.len(),
        1,
        "{} found {} times",
        String::from_utf8_lossy(from),
        at.len()
    );
    bytes[at[0]..at[0] + to.len()].copy_from_slice(to);
    std::fs::write(path, bytes).unwrap();
}

/// A custom-format backup of `tdb` whose sidecar record is deleted.
async fn without_record(
    tdb: &TestDb,
    dir: &Path,
) -> (Archive, deckhand::plan::Database, tempfile::TempDir) {
    let (db, guard) = plain_db(&tdb.url);
    let archive = backed_up(&db, dir).await;
    std::fs::remove_file(store::sidecar_path(&archive.path)).unwrap();
    (archive, db, guard)
}

const CANNOT_TELL: &str =
    "deckhand cannot tell a damaged table of contents from a schema changed since the backup";

#[tokio::test]
async fn a_table_renamed_in_the_table_of_contents_of_an_archive_without_its_record_is_bad() {
    let tdb = fresh_db().await;
    data_table(&tdb).await;
    let dir = tempfile::tempdir().unwrap();
    let (archive, db, _guard) = without_record(&tdb, dir.path()).await;

    // Untouched, the archive matches the live database: a pass, but not proven (no record).
    let v = verify(&archive.path, Some(&db)).await;
    assert!(
        v.ok && !v.proven && v.compared_with_live,
        "{:?}",
        v.problems
    );
    assert!(v.schema_changes.is_empty(), "{:?}", v.schema_changes);

    // The defect: `CREATE TABLE public.data` → `public.fata` in the table of contents, which no checksum covers.
    flip(
        &archive.path,
        b"CREATE TABLE public.data (",
        b"CREATE TABLE public.fata (",
    );
    let v = verify(&archive.path, Some(&db)).await;
    assert!(!v.ok, "a renamed table passed: {v:?}");
    assert!(!v.proven);
    assert!(
        v.problems.iter().any(|p| p.contains(CANNOT_TELL)),
        "{:?}",
        v.problems
    );
    assert!(
        v.problems.contains(
            &"table public.fata is in the archive but not in the live database".to_string()
        ),
        "{:?}",
        v.problems
    );
    assert!(
        v.problems
            .contains(&"table public.data of the live database is not in the archive".to_string()),
        "{:?}",
        v.problems
    );
    assert!(v.schema_changes.is_empty());
    // Its table list (`pg_restore --list` reads the entry's tag, not its definition) still names public.data.
    assert_eq!(v.tables, ["public.data"]);
    assert!(v.missing.is_empty());

    // Without a live database there is nothing to compare with: a pass, not proven (as before).
    let v = verify(&archive.path, None).await;
    assert!(
        v.ok && !v.proven && !v.compared_with_live,
        "{:?}",
        v.problems
    );
}

#[tokio::test]
async fn a_column_type_changed_in_the_table_of_contents_is_named() {
    let tdb = fresh_db().await;
    data_table(&tdb).await;
    let dir = tempfile::tempdir().unwrap();
    let (archive, db, _guard) = without_record(&tdb, dir.path()).await;
    flip(&archive.path, b"amount integer", b"amount intefer");
    let v = verify(&archive.path, Some(&db)).await;
    assert!(!v.ok && !v.proven);
    assert!(
        v.problems.contains(
            &"column public.data.amount is intefer in the archive but integer in the live database"
                .to_string()
        ),
        "{:?}",
        v.problems
    );
    assert!(v.problems.iter().any(|p| p.contains(CANNOT_TELL)));

    // A column's name changed the same way.
    let dir = tempfile::tempdir().unwrap();
    let (archive, db, _guard) = without_record(&tdb, dir.path()).await;
    flip(&archive.path, b"    note text", b"    nose text");
    let v = verify(&archive.path, Some(&db)).await;
    assert!(!v.ok);
    for line in [
        "column public.data.nose (text) is in the archive but not in the live database",
        "column public.data.note (text) of the live database is not in the archive",
    ] {
        assert!(
            v.problems.contains(&line.to_string()),
            "{line}: {:?}",
            v.problems
        );
    }
}

#[tokio::test]
async fn with_its_record_a_migration_after_the_backup_is_a_note_not_a_problem() {
    let tdb = fresh_db().await;
    data_table(&tdb).await;
    let (db, _guard) = plain_db(&tdb.url);
    let dir = tempfile::tempdir().unwrap();
    let archive = backed_up(&db, dir.path()).await;
    let mut c = tdb.connect().await;
    exec(
        &mut c,
        "ALTER TABLE public.data ADD COLUMN added integer; \
         ALTER TABLE public.data ALTER COLUMN note SET NOT NULL; \
         CREATE INDEX data_added ON public.data (added)",
    )
    .await;

    let v = verify(&archive.path, Some(&db)).await;
    assert!(v.ok && v.proven, "{:?}", v.problems);
    assert!(v.problems.is_empty());
    assert_eq!(
        v.schema_changes,
        [
            "column public.data.note is nullable in the archive but NOT NULL in the live database",
            "column public.data.added (integer) of the live database is not in the archive",
            "index public.data_added on public.data of the live database is not in the archive",
        ]
    );
    assert!(
        store::read_sidecar(&archive.path)
            .unwrap()
            .verified
            .is_some(),
        "a pass with a changed schema is recorded"
    );

    // `deckhand verify` tells the change as a note under a good verdict.
    let (code, out) = verify_cli(&archive.path, &tdb.url);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(": good"), "{out}");
    assert!(
        out.contains(
            "  the schema changed since the backup: column public.data.added (integer) of the live database \
             is not in the archive"
        ),
        "{out}"
    );

    // The same archive without its record: the same differences are problems.
    std::fs::remove_file(store::sidecar_path(&archive.path)).unwrap();
    let v = verify(&archive.path, Some(&db)).await;
    assert!(!v.ok && !v.proven && v.schema_changes.is_empty());
    assert!(
        v.problems.iter().any(
            |p| p.contains("there is no sha256 record beside the archive")
                && p.contains(CANNOT_TELL)
        ),
        "{:?}",
        v.problems
    );
    assert!(v.problems.iter().any(|p| p.contains("public.data.added")));
}

#[tokio::test]
async fn deckhand_verify_prints_the_differences_of_a_damaged_table_of_contents() {
    let tdb = fresh_db().await;
    data_table(&tdb).await;
    let dir = tempfile::tempdir().unwrap();
    let (archive, _db, _guard) = without_record(&tdb, dir.path()).await;

    let (code, out) = verify_cli(&archive.path, &tdb.url);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("table of contents not proven") && out.contains("match the live database's"),
        "{out}"
    );

    flip(
        &archive.path,
        b"CREATE TABLE public.data (",
        b"CREATE TABLE public.fata (",
    );
    let (code, out) = verify_cli(&archive.path, &tdb.url);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(": BAD"), "{out}");
    assert!(out.contains(CANNOT_TELL), "{out}");
    assert!(
        out.contains("  table public.fata is in the archive but not in the live database"),
        "{out}"
    );
}

/// Runs `deckhand verify ARCHIVE --plan PLAN` with a plan on `url`: its exit code and stdout.
fn verify_cli(archive: &Path, url: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("deckhand.toml");
    common::migrations::write(
        &plan,
        "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[database]\nurl = \"${TEST_PLAN_DB}\"\n\
         migrations = \"migrations\"\nformat = \"sqlx\"\n",
    );
    std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
    let data = tempfile::tempdir().unwrap();
    // deckhand refuses a data folder other users can reach; a temporary folder is 0755.
    std::fs::set_permissions(
        data.path(),
        <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o700),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .args([
            "verify",
            &archive.display().to_string(),
            "--plan",
            &plan.display().to_string(),
        ])
        .env("TEST_PLAN_DB", url)
        .env(journal::DATA_DIR_ENV, data.path())
        .output()
        .expect("run deckhand");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Types as `pg_dump` writes them and the catalog's `format_type` shows them compare as text, and every kind of
/// object compared is matched: a dump of its own database has no difference, with its record or without.
#[tokio::test]
async fn a_dump_of_many_kinds_of_objects_matches_its_own_database() {
    let tdb = fresh_db().await;
    let mut c = tdb.connect().await;
    exec(
        &mut c,
        r#"CREATE SCHEMA app;
        CREATE SCHEMA "Odd Schema";
        CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy');
        CREATE TYPE app."Pair" AS (l integer, r integer);
        CREATE DOMAIN app.positive AS integer CHECK (VALUE > 0);
        CREATE TABLE public.kinds (
            id serial PRIMARY KEY, big bigint NOT NULL, t text, v varchar(20), n numeric(10,2) DEFAULT 0 NOT NULL,
            at timestamptz, plain timestamp(3), j jsonb, ints int[], texts text[][], mood app.mood,
            moods app.mood[], u uuid UNIQUE, c char(3), f double precision, r real, small smallint,
            b boolean, d date, tm time with time zone, iv interval, bits bit varying(5), by bytea,
            inet_addr inet, p app.positive, pair app."Pair", "Quoted Col" text, "select" int,
            name text COLLATE "C", g integer GENERATED ALWAYS AS (small * 2) STORED
        );
        CREATE TABLE app.ident (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind integer REFERENCES public.kinds (id), CONSTRAINT kind_positive CHECK (kind > 0));
        CREATE TABLE "Odd Schema"."Odd Table" ("ID" integer);
        CREATE INDEX kinds_partial ON public.kinds (big) WHERE t IS NOT NULL;
        CREATE UNIQUE INDEX kinds_lower ON public.kinds (lower(t));
        CREATE TABLE public.parted (id integer NOT NULL, at date NOT NULL, PRIMARY KEY (id, at))
            PARTITION BY RANGE (at);
        CREATE TABLE public.parted_2024 PARTITION OF public.parted FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
        CREATE INDEX parted_at ON public.parted (at);
        ALTER TABLE public.parted ADD CONSTRAINT parted_kind FOREIGN KEY (id) REFERENCES public.kinds (id);
        CREATE TABLE public.parent (x integer NOT NULL, CONSTRAINT x_positive CHECK (x > 0));
        CREATE TABLE public.child (extra text) INHERITS (public.parent);
        CREATE TABLE public.typed OF app."Pair" (l WITH OPTIONS NOT NULL);
        CREATE TABLE public.nothing ();
        CREATE UNLOGGED TABLE public.scratch (x integer);
        ALTER TABLE public.kinds ADD CONSTRAINT later CHECK (big > 0) NOT VALID;
        CREATE SEQUENCE app.counter;
        CREATE VIEW app.recent AS SELECT id, at FROM public.kinds;
        CREATE MATERIALIZED VIEW app.totals AS SELECT count(*) AS n FROM public.kinds;
        CREATE INDEX totals_n ON app.totals (n);
        CREATE FUNCTION app.add(a integer, b integer DEFAULT 1) RETURNS integer LANGUAGE sql AS 'SELECT a + b';
        CREATE FUNCTION app.add(a text) RETURNS text LANGUAGE sql AS 'SELECT a';
        CREATE PROCEDURE app.tidy() LANGUAGE sql AS 'SELECT 1';
        ALTER TABLE public.kinds DROP COLUMN r;"#,
    )
    .await;
    let (db, _guard) = plain_db(&tdb.url);
    let dir = tempfile::tempdir().unwrap();
    let archive = backed_up(&db, dir.path()).await;
    let v = verify(&archive.path, Some(&db)).await;
    assert!(v.ok && v.proven, "{:?}", v.problems);
    assert!(v.schema_changes.is_empty(), "{:#?}", v.schema_changes);

    std::fs::remove_file(store::sidecar_path(&archive.path)).unwrap();
    let v = verify(&archive.path, Some(&db)).await;
    assert!(v.ok && !v.proven, "{:#?}", v.problems);
}
