//! Migration folders that cannot be read: a missing or empty folder, sqlx names without an integer version
//! or with duplicate versions, Drizzle journal problems, a Prisma folder without its file, invalid UTF-8.
//! Each error names the folder or file, and sqlx's own resolver fails on the same sqlx folders.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::fs;
use std::path::Path;

use deckhand::migrate::Format;
use deckhand::migrate::source::{self, SourceError};
use sqlx::migrate::Migrator;

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

fn error(result: Result<impl std::fmt::Debug, SourceError>) -> SourceError {
    result.expect_err("expected an error")
}

#[test]
fn missing_folder_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let expected = SourceError {
        path: missing.display().to_string(),
        message: "migrations folder not found".into(),
    };
    assert_eq!(error(source::detect(&missing)), expected);
    for format in [Format::Prisma, Format::Sqlx, Format::Drizzle, Format::Plain] {
        assert_eq!(error(source::read(&missing, format)), expected, "{format}");
    }
    assert_eq!(
        expected.to_string(),
        format!("{}: migrations folder not found", missing.display())
    );
}

#[test]
fn empty_folder_has_no_migrations() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "README.md", "nothing here");
    let e = error(source::detect(tmp.path()));
    assert_eq!(e.path, tmp.path().display().to_string());
    assert_eq!(
        e.message,
        "no migrations found (expected prisma, sqlx, drizzle or plain SQL files)"
    );
    assert_eq!(source::read(tmp.path(), Format::Sqlx), Ok(vec![]));
}

#[tokio::test]
async fn sqlx_non_integer_version_fails_like_sqlx() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "1_ok.sql", "SELECT 1;");
    write(tmp.path(), "abc_create_users.sql", "SELECT 2;");
    let e = error(source::read(tmp.path(), Format::Sqlx));
    assert_eq!(
        e.path,
        tmp.path()
            .join("abc_create_users.sql")
            .display()
            .to_string()
    );
    assert_eq!(
        e.message,
        "error parsing migration filename \"abc_create_users.sql\"; expected integer version prefix (e.g. `01_foo.sql`)"
    );
    assert!(Migrator::new(tmp.path()).await.is_err());
}

#[test]
fn sqlx_duplicate_versions_fail() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "1_a.sql", "SELECT 1;");
    write(tmp.path(), "1_b.up.sql", "SELECT 2;");
    let e = error(source::read(tmp.path(), Format::Sqlx));
    assert_eq!(
        e.message,
        "duplicate migration version 1: 1_a.sql and 1_b.up.sql"
    );
    assert_eq!(e.path, tmp.path().display().to_string());
}

#[test]
fn drizzle_entry_without_file_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let journal =
        r#"{"entries":[{"idx":0,"when":1,"tag":"0000_a"},{"idx":1,"when":2,"tag":"0001_gone"}]}"#;
    write(tmp.path(), "meta/_journal.json", journal);
    write(tmp.path(), "0000_a.sql", "SELECT 1;");
    let e = error(source::read(tmp.path(), Format::Drizzle));
    assert_eq!(
        e.path,
        tmp.path().join("0001_gone.sql").display().to_string()
    );
    assert_eq!(
        e.message,
        "journal entry 1 (\"0001_gone\") points to a missing file"
    );
}

#[test]
fn drizzle_journal_must_exist_and_parse() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = tmp.path().join("meta/_journal.json");
    let e = error(source::read(tmp.path(), Format::Drizzle));
    assert_eq!(
        (e.path, e.message),
        (journal.display().to_string(), "file not found".into())
    );
    write(
        tmp.path(),
        "meta/_journal.json",
        r#"{"entries":[{"idx":0,"tag":"a"}]}"#,
    );
    let e = error(source::read(tmp.path(), Format::Drizzle));
    assert_eq!(e.path, journal.display().to_string());
    assert!(
        e.message
            .starts_with("invalid Drizzle journal: missing field `when`"),
        "{}",
        e.message
    );
}

#[test]
fn prisma_folder_without_migration_sql_fails_like_prisma() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "20240101000000_ok/migration.sql", "SELECT 1;");
    fs::create_dir(tmp.path().join("20240102000000_half_deleted")).unwrap();
    let e = error(source::read(tmp.path(), Format::Prisma));
    let expected = tmp.path().join("20240102000000_half_deleted/migration.sql");
    assert_eq!(e.path, expected.display().to_string());
    assert!(e.message.contains("P3015"), "{}", e.message);
}

#[tokio::test]
async fn invalid_utf8_names_the_file_in_every_format() {
    let bad: &[u8] = b"SELECT '\xff';";
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (Format::Prisma, "20240101000000_x/migration.sql"),
        (Format::Sqlx, "1_x.sql"),
        (Format::Plain, "x.sql"),
        (Format::Drizzle, "0000_x.sql"),
    ];
    for (format, file) in cases {
        let dir = tmp.path().join(format.name());
        write(&dir, file, bad);
        if format == Format::Drizzle {
            let journal = r#"{"entries":[{"idx":0,"when":1,"tag":"0000_x"}]}"#;
            write(&dir, "meta/_journal.json", journal);
        }
        let e = error(source::read(&dir, format));
        assert_eq!(e.path, dir.join(file).display().to_string(), "{format}");
        assert_eq!(
            e.message,
            "file is not valid UTF-8 (invalid byte at offset 8)"
        );
    }
    // sqlx reads down files too, and fails on them the same way.
    let dir = tmp.path().join("sqlx_down");
    write(&dir, "1_x.up.sql", "SELECT 1;");
    write(&dir, "1_x.down.sql", bad);
    let e = error(source::read(&dir, Format::Sqlx));
    assert_eq!(e.path, dir.join("1_x.down.sql").display().to_string());
    assert!(Migrator::new(dir.as_path()).await.is_err());
}
