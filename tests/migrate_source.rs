//! Migration folders of Prisma, sqlx, Drizzle and plain SQL (fixtures under tests/fixtures/migrations):
//! detection, order, keys, statements, down files, checksums against independently computed digests and
//! against sqlx's own resolver (errors: tests/migrate_source_errors.rs).
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::fs;
use std::path::{Path, PathBuf};

use deckhand::migrate::source;
use deckhand::migrate::{Checksum, Format, Key, Migration};
use sha2::{Digest, Sha256, Sha384};
use sqlx::migrate::Migrator;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/migrations")
        .join(name)
}

fn read(dir: &Path, format: Format) -> Vec<Migration> {
    source::read(dir, format).unwrap_or_else(|e| panic!("{e}"))
}

/// (name, number of statements, line of the first statement) per migration.
fn shape(migrations: &[Migration]) -> Vec<(&str, usize, usize)> {
    migrations
        .iter()
        .map(|m| (m.name.as_str(), m.statements.len(), m.statements[0].line))
        .collect()
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(fs::read(path).unwrap()))
}

fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, contents).unwrap();
}

/// Every migration's `sql` is the file's exact text and its checksum is the tool's digest of the file bytes.
fn assert_contents_and_checksums(migrations: &[Migration]) {
    for m in migrations {
        assert_eq!(m.sql, fs::read_to_string(&m.path).unwrap(), "{}", m.name);
        let expected = match m.format {
            Format::Sqlx => Checksum::Bytes(Sha384::digest(fs::read(&m.path).unwrap()).to_vec()),
            _ => Checksum::Hex(sha256_hex(&m.path)),
        };
        assert_eq!(source::checksum(m), expected, "{}", m.name);
        assert!(source::checksum_matches(m, &expected), "{}", m.name);
    }
}

#[test]
fn detects_each_fixture_format() {
    assert_eq!(source::detect(&fixture("prisma")), Ok(Format::Prisma));
    assert_eq!(source::detect(&fixture("sqlx")), Ok(Format::Sqlx));
    // Drizzle's `0000_init.sql` names look like sqlx's: the journal decides first.
    assert_eq!(source::detect(&fixture("drizzle")), Ok(Format::Drizzle));
    assert_eq!(source::detect(&fixture("plain")), Ok(Format::Plain));
}

#[test]
fn detection_rules_on_edge_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let lock_only = tmp.path().join("lock_only");
    write(
        &lock_only,
        "migration_lock.toml",
        "provider = \"postgresql\"\n",
    );
    assert_eq!(source::detect(&lock_only), Ok(Format::Prisma));

    let folder_only = tmp.path().join("folder_only");
    write(&folder_only, "20240101000000_x/migration.sql", "SELECT 1;");
    assert_eq!(source::detect(&folder_only), Ok(Format::Prisma));

    let sqlx = tmp.path().join("sqlx");
    write(&sqlx, "1_a.sql", "SELECT 1;");
    write(&sqlx, "2_b.down.sql", "SELECT 2;");
    write(&sqlx, "README.md", "not sql");
    assert_eq!(source::detect(&sqlx), Ok(Format::Sqlx));

    write(&sqlx, "seed.sql", "SELECT 3;");
    assert_eq!(source::detect(&sqlx), Ok(Format::Plain));
}

#[test]
fn prisma_folders_in_name_order() {
    let dir = fixture("prisma");
    let migrations = read(&dir, Format::Prisma);
    assert_eq!(
        shape(&migrations),
        vec![
            ("20240101120000_init", 2, 2),
            ("20240215093000_add_user_created_at", 1, 2),
            ("20240301080000_add_posts", 3, 2),
        ]
    );
    let posts = &migrations[2];
    assert_eq!(
        posts.key,
        Key::Prisma {
            name: "20240301080000_add_posts".into()
        }
    );
    assert_eq!(
        posts.path,
        dir.join("20240301080000_add_posts/migration.sql")
    );
    let lines: Vec<usize> = posts.statements.iter().map(|s| s.line).collect();
    assert_eq!(lines, vec![2, 13, 16]);
    assert!(posts.statements[0].sql.starts_with("CREATE TABLE \"Post\""));
    assert!(posts.statements[0].sql.ends_with(')'));
    assert!(
        migrations
            .iter()
            .all(|m| m.down.is_none() && m.no_transaction.is_none())
    );
    assert!(migrations.iter().all(|m| m.format == Format::Prisma));
    assert_contents_and_checksums(&migrations);
}

#[test]
fn sqlx_files_by_version_with_down_attached() {
    let dir = fixture("sqlx");
    let migrations = read(&dir, Format::Sqlx);
    let keys: Vec<&Key> = migrations.iter().map(|m| &m.key).collect();
    let key = |version, description: &str| Key::Sqlx {
        version,
        description: description.into(),
    };
    assert_eq!(
        keys,
        [
            &key(20240101120000, "create users"),
            &key(20240215093000, "add display name"),
            &key(20240301080000, "index users created at"),
        ]
    );
    assert_eq!(
        shape(&migrations),
        vec![
            ("20240101120000_create_users", 1, 2),
            ("20240215093000_add_display_name", 2, 1),
            ("20240301080000_index_users_created_at", 1, 3),
        ]
    );
    assert_eq!(migrations[1].statements[1].line, 4);
    assert_eq!(
        migrations[1].path,
        dir.join("20240215093000_add_display_name.up.sql")
    );
    let downs: Vec<Option<PathBuf>> = migrations.iter().map(|m| m.down.clone()).collect();
    assert_eq!(
        downs,
        vec![
            None,
            Some(dir.join("20240215093000_add_display_name.down.sql")),
            None
        ]
    );
    let no_tx: Vec<Option<&str>> = migrations
        .iter()
        .map(|m| m.no_transaction.as_deref())
        .collect();
    assert_eq!(no_tx, vec![None, None, Some("-- no-transaction marker")]);
    assert_contents_and_checksums(&migrations);
}

/// Our reading of `dir` agrees with `sqlx::migrate::Migrator::new(dir)` on every up migration's version,
/// description, SQL, checksum and `no_tx`, and on which of them have a down migration (a down file without
/// an up migration is not attached anywhere).
async fn assert_same_as_sqlx(dir: &Path) {
    let ours = read(dir, Format::Sqlx);
    let migrator = Migrator::new(dir).await.unwrap();
    let ups: Vec<_> = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .collect();
    assert_eq!(ups.len(), ours.len());
    for (theirs, ours) in ups.iter().zip(&ours) {
        let expected_key = Key::Sqlx {
            version: theirs.version,
            description: theirs.description.to_string(),
        };
        assert_eq!(ours.key, expected_key);
        assert_eq!(ours.sql, theirs.sql.as_str());
        assert_eq!(
            source::checksum(ours),
            Checksum::Bytes(theirs.checksum.to_vec())
        );
        let marker = ours.no_transaction.as_deref() == Some("-- no-transaction marker");
        assert_eq!(marker, theirs.no_tx, "{}", ours.name);
    }
    let their_downs: Vec<i64> = migrator
        .iter()
        .filter(|m| m.migration_type.is_down_migration())
        .map(|m| m.version)
        .filter(|version| ups.iter().any(|up| up.version == *version))
        .collect();
    let our_downs: Vec<i64> = ours
        .iter()
        .filter(|m| m.down.is_some())
        .map(|m| match m.key {
            Key::Sqlx { version, .. } => version,
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(our_downs, their_downs);
}

#[tokio::test]
async fn sqlx_fixture_matches_sqlx_resolver() {
    assert_same_as_sqlx(&fixture("sqlx")).await;
}

#[tokio::test]
async fn sqlx_tricky_names_match_sqlx_resolver() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write(dir, "10_ten.sql", "SELECT 10;");
    write(dir, "9_nine.sql", "-- no-transaction\nVACUUM;");
    write(dir, "-3_negative.sql", "SELECT -3;");
    write(dir, "+4_plus_sign.sql", "SELECT 4;");
    write(dir, "5_double.sql.sql", "SELECT 5;");
    write(dir, "6_.sql", "SELECT 6;");
    write(dir, "7_two_words_here.up.sql", "SELECT 7;");
    write(dir, "7_two_words_here.down.sql", "SELECT -7;");
    write(dir, "8_only_down.down.sql", "SELECT -8;");
    write(dir, "11_crlf.sql", "SELECT 1;\r\nSELECT 2;\r\n");
    write(dir, "notes.sql", "ignored: no underscore");
    write(dir, "12_not_sql.txt", "ignored: not .sql");
    write(dir, "README.md", "ignored");
    fs::create_dir(dir.join("13_folder.sql")).unwrap();
    assert_same_as_sqlx(dir).await;

    let names: Vec<String> = read(dir, Format::Sqlx)
        .into_iter()
        .map(|m| m.name)
        .collect();
    let expected = [
        "-3_negative",
        "+4_plus_sign",
        "5_double.sql",
        "6_",
        "7_two_words_here",
        "9_nine",
        "10_ten",
        "11_crlf",
    ];
    assert_eq!(names, expected);
}

#[test]
fn drizzle_journal_entries_split_on_breakpoints() {
    let dir = fixture("drizzle");
    let migrations = read(&dir, Format::Drizzle);
    let key = |when, idx, tag: &str| Key::Drizzle {
        when,
        idx,
        tag: tag.into(),
    };
    let keys: Vec<&Key> = migrations.iter().map(|m| &m.key).collect();
    assert_eq!(
        keys,
        [
            &key(1704110400000, 0, "0000_init"),
            &key(1707989400000, 1, "0001_add_user_name"),
            &key(1709280000000, 2, "0002_posts"),
        ]
    );
    assert_eq!(
        shape(&migrations),
        vec![
            ("0000_init", 1, 1),
            ("0001_add_user_name", 2, 1),
            ("0002_posts", 3, 1)
        ]
    );
    let name_column = &migrations[1].statements;
    assert_eq!(
        name_column[0].sql,
        "ALTER TABLE \"users\" ADD COLUMN \"name\" text;"
    );
    assert_eq!((name_column[1].line, name_column[1].column), (2, 1));
    let posts: Vec<usize> = migrations[2].statements.iter().map(|s| s.line).collect();
    assert_eq!(posts, vec![1, 7, 13]);
    assert!(migrations[2].statements[1].sql.starts_with("DO $$ BEGIN"));
    assert!(migrations[2].statements[1].sql.ends_with("END $$;"));
    assert_eq!(migrations[2].path, dir.join("0002_posts.sql"));
    assert!(
        migrations
            .iter()
            .all(|m| m.down.is_none() && m.no_transaction.is_none())
    );
    assert_contents_and_checksums(&migrations);
}

#[test]
fn drizzle_applies_entries_in_journal_array_order() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = r#"{"version":"7","dialect":"sqlite","entries":[
        {"idx":1,"when":20,"tag":"b","breakpoints":true,"extra":[1,2]},
        {"idx":0,"when":10,"tag":"a","breakpoints":false}]}"#;
    write(tmp.path(), "meta/_journal.json", journal);
    write(tmp.path(), "a.sql", "SELECT 1;");
    write(tmp.path(), "b.sql", "-- no-transaction\nSELECT 2;");
    let migrations = read(tmp.path(), Format::Drizzle);
    let tags: Vec<&str> = migrations.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(tags, ["b", "a"]);
    assert_eq!(
        migrations[0].no_transaction.as_deref(),
        Some("-- no-transaction marker")
    );
}

#[test]
fn plain_files_in_name_order_with_down_files() {
    let dir = fixture("plain");
    let migrations = read(&dir, Format::Plain);
    assert_eq!(
        shape(&migrations),
        vec![
            ("001-create-users", 3, 2),
            ("002-add-last-login", 1, 1),
            ("003-index-last-login", 1, 3)
        ]
    );
    let lines: Vec<usize> = migrations[0].statements.iter().map(|s| s.line).collect();
    assert_eq!(lines, vec![2, 8, 15]);
    assert!(migrations[0].statements[1].sql.ends_with("END;\n$$"));
    assert_eq!(
        migrations[1].key,
        Key::Plain {
            stem: "002-add-last-login".into()
        }
    );
    assert_eq!(
        migrations[1].down,
        Some(dir.join("002-add-last-login.down.sql"))
    );
    assert_eq!(migrations[0].down, None);
    assert_eq!(
        migrations[2].no_transaction.as_deref(),
        Some("CREATE INDEX CONCURRENTLY at line 3")
    );
    assert_contents_and_checksums(&migrations);
}

#[test]
fn plain_order_is_file_name_byte_order() {
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "a.sql",
        "B.sql",
        "_c.sql",
        "9.sql",
        "10.sql",
        "a.down.sql",
        "x.txt",
    ] {
        write(tmp.path(), name, "SELECT 1;");
    }
    let migrations = read(tmp.path(), Format::Plain);
    let names: Vec<&str> = migrations.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["10", "9", "B", "_c", "a"]);
    assert_eq!(migrations[4].down, Some(tmp.path().join("a.down.sql")));
}

#[test]
fn prisma_tolerates_line_ending_changes_and_others_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let lf = "CREATE TABLE t (id int);\nCREATE TABLE u (id int);\n";
    let crlf = lf.replace('\n', "\r\n");
    let hex256 = |s: &str| Checksum::Hex(hex::encode(Sha256::digest(s.as_bytes())));
    write(tmp.path(), "prisma/1_crlf/migration.sql", &crlf);
    write(tmp.path(), "prisma/2_lf/migration.sql", lf);
    let prisma = read(&tmp.path().join("prisma"), Format::Prisma);
    assert!(source::checksum_matches(&prisma[0], &hex256(lf)));
    assert!(source::checksum_matches(&prisma[1], &hex256(&crlf)));
    assert!(!source::checksum_matches(
        &prisma[1],
        &hex256("CREATE TABLE t (id int);\n")
    ));
    assert!(!source::checksum_matches(
        &prisma[1],
        &Checksum::Bytes(Sha256::digest(lf).to_vec())
    ));

    write(tmp.path(), "plain/1.sql", &crlf);
    let plain = read(&tmp.path().join("plain"), Format::Plain);
    assert!(!source::checksum_matches(&plain[0], &hex256(lf)));
    write(tmp.path(), "sqlx/1_a.sql", &crlf);
    let sqlx = read(&tmp.path().join("sqlx"), Format::Sqlx);
    let lf384 = Checksum::Bytes(Sha384::digest(lf.as_bytes()).to_vec());
    assert!(!source::checksum_matches(&sqlx[0], &lf384));
    assert!(!source::checksum_matches(&sqlx[0], &hex256(&crlf)));
}
