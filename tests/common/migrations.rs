//! Builders for migration folders in each tool's layout, and a plan `[database]` pointing at them.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use deckhand::migrate::apply::{self, Options};
use deckhand::migrate::status::State;
use deckhand::migrate::{self, db};
use deckhand::plan::{Database, Resolved};

pub fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create folder");
    }
    std::fs::write(path, text).expect("write file");
}

/// Prisma: `<dir>/<name>/migration.sql` and `migration_lock.toml`.
pub fn prisma(dir: &Path, migrations: &[(&str, &str)]) {
    write(
        &dir.join("migration_lock.toml"),
        "provider = \"postgresql\"\n",
    );
    for (name, sql) in migrations {
        write(&dir.join(name).join("migration.sql"), sql);
    }
}

/// sqlx: `<dir>/<version>_<description>.sql`.
pub fn sqlx(dir: &Path, migrations: &[(&str, &str)]) {
    for (name, sql) in migrations {
        write(&dir.join(format!("{name}.sql")), sql);
    }
}

/// sqlx with down files: `<dir>/<version>_<description>.up.sql` and `.down.sql`.
pub fn sqlx_reversible(dir: &Path, migrations: &[(&str, &str, &str)]) {
    for (name, up, down) in migrations {
        write(&dir.join(format!("{name}.up.sql")), up);
        write(&dir.join(format!("{name}.down.sql")), down);
    }
}

/// Drizzle: `<dir>/<tag>.sql` and `meta/_journal.json` with each entry's `when`.
pub fn drizzle(dir: &Path, migrations: &[(&str, i64, &str)]) {
    let entries: Vec<String> = migrations
        .iter()
        .enumerate()
        .map(|(i, (tag, when, _))| {
            format!(r#"{{"idx":{i},"version":"7","when":{when},"tag":"{tag}","breakpoints":true}}"#)
        })
        .collect();
    write(
        &dir.join("meta/_journal.json"),
        &format!(
            r#"{{"version":"7","dialect":"postgresql","entries":[{}]}}"#,
            entries.join(",")
        ),
    );
    for (tag, _, sql) in migrations {
        write(&dir.join(format!("{tag}.sql")), sql);
    }
}

/// Plain: `<dir>/<name>.sql`.
pub fn plain(dir: &Path, migrations: &[(&str, &str)]) {
    sqlx(dir, migrations);
}

pub fn database(url: &str, dir: &Path, format: &str) -> Database {
    Database {
        url: Resolved::literal(url),
        migrations: dir.to_path_buf(),
        format: Some(format.to_string()),
        lock_timeout: Duration::from_secs(2),
        statement_timeout: None,
        lock_wait: Duration::from_secs(10),
        impact_timeout: Duration::from_secs(3),
        tunnel: None,
    }
}

/// Apply options for tests: a generous lock wait, `applied_by` = "tester".
pub fn opts() -> Options {
    Options {
        lock_wait: Duration::from_secs(5),
        applied_by: "tester".into(),
    }
}

/// The (name, state) of every status entry.
pub async fn status_of(spec: &Database) -> Vec<(String, State)> {
    let (_, st) = migrate::read_status(spec).await.expect("status");
    st.entries.into_iter().map(|e| (e.name, e.state)).collect()
}

/// deckhand's connection to the plan's database, with the plan's settings.
pub async fn connect(spec: &Database) -> db::Db {
    db::connect(&spec.url.value, &migrate::settings(spec))
        .await
        .expect("connect")
}

/// Reads the folder and applies everything pending with `opts`; the error when the apply is refused.
pub async fn try_apply(
    spec: &Database,
    opts: &Options,
) -> Result<apply::Report, migrate::MigrateError> {
    let target = migrate::load(spec).expect("load");
    let mut conn = connect(spec).await;
    apply::apply(
        &mut conn,
        target.format,
        &target.migrations,
        opts,
        &mut |_| {},
    )
    .await
}

/// Applies everything pending; panics if the apply cannot even start.
pub async fn apply_all(spec: &Database) -> apply::Report {
    try_apply(spec, &opts()).await.expect("apply runs")
}

pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}
