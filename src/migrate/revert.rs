//! Reverting migrations for a rollback: each down migration runs in its own transaction together with the removal
//! of its ledger entry, newest first, so the tools agree with the database afterwards.
//!
//! Only formats with down files can be reverted: sqlx (`<version>_<name>.down.sql`) and plain SQL folders
//! (`<name>.down.sql`). Prisma and Drizzle have no down migrations, so their migrations are never revertible here.
//! Everything that can be checked before touching the database is checked up front (a down file for every name,
//! each one applied per the ledger, no down file that cannot run in a transaction); nothing runs unless all pass.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::apply::{body, one_transaction, run_statements};
use super::db::{self, Backend, Db};
use super::error::MigrateError;
use super::ledger::{self, key_of};
use super::status::{self, State};
use super::{Format, Migration, lock, source};

/// What a revert did: the migrations reverted (newest first) with their durations, and what stopped it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevertOutcome {
    pub reverted: Vec<(String, Duration)>,
    pub error: Option<String>,
}

/// The migrations among `names` that cannot be reverted because they are not on disk or have no down file.
/// Pure: the UI asks this of the migrations it already holds (`Snapshot::migrations`) to decide whether a
/// rollback can use down migrations. Prisma and Drizzle migrations never have a down file, so all of them are
/// listed.
pub fn missing_downs(migrations: &[Migration], names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| {
            !migrations
                .iter()
                .any(|m| &m.name == *n && m.down.is_some() && revertible_format(m.format))
        })
        .cloned()
        .collect()
}

/// A down file as a prompt showed it: the migration it reverts and the checksum of the down file's text. A revert
/// given what was shown refuses to run a down file that changed since (or one not shown at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownDown {
    pub name: String,
    pub checksum: super::Checksum,
}

impl ShownDown {
    /// `down` (the down file read, as [`load_down`] reads it) of the migration named `name`.
    pub fn of(name: &str, down: &Migration) -> ShownDown {
        ShownDown {
            name: name.to_string(),
            checksum: source::checksum(down),
        }
    }
}

/// Whether the format has down migrations at all.
pub fn revertible_format(format: Format) -> bool {
    matches!(format, Format::Sqlx | Format::Plain)
}

/// The down file of `up`, read and split as a revert runs it (its `name` is the file's name, `2_orders.down.sql`):
/// `None` when the format has no down files or the folder has none for `up`.
pub fn load_down(up: &Migration) -> Option<Result<Migration, source::SourceError>> {
    let path = up.down.as_ref().filter(|_| revertible_format(up.format))?;
    let label = path.file_name().map_or_else(
        || format!("{} (down)", up.name),
        |f| f.to_string_lossy().into_owned(),
    );
    Some(source::load(
        up.format,
        up.key.clone(),
        label,
        path.clone(),
        None,
    ))
}

/// A down migration ready to run: the migration it reverts and the down file, read and split.
struct Down<'a> {
    up: &'a Migration,
    down: Migration,
}

/// Reads the down file of each named migration, refusing (with every reason at once) when any is missing, unreadable
/// or cannot run inside a transaction.
fn downs<'a>(
    format: Format,
    migrations: &'a [Migration],
    names: &[String],
    shown: Option<&[ShownDown]>,
) -> Result<Vec<Down<'a>>, String> {
    if !revertible_format(format) {
        return Err(format!(
            "{format} migrations have no down files: {} cannot be reverted (restore a backup instead)",
            names.join(", ")
        ));
    }
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for name in names {
        if !seen.insert(name) {
            problems.push(format!("{name} is named twice"));
            continue;
        }
        let Some(up) = migrations.iter().find(|m| &m.name == name) else {
            problems.push(format!("{name} is not in the migrations folder"));
            continue;
        };
        let down = match load_down(up) {
            None => {
                problems.push(format!("{name} has no down migration"));
                continue;
            }
            Some(Ok(d)) => d,
            Some(Err(e)) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        if let Some(why) = &down.no_transaction {
            problems.push(format!(
                "{}: cannot run in a transaction ({why}), so it cannot be reverted together with its ledger entry",
                down.name
            ));
            continue;
        }
        if let Err(e) = body(&down) {
            problems.push(e.to_string());
            continue;
        }
        if let Some(shown) = shown
            && !shown.contains(&ShownDown::of(name, &down))
        {
            problems.push(format!(
                "{}: not the down file the prompt showed (it changed since, or was not shown): press R again to see \
                 what would run",
                down.name
            ));
            continue;
        }
        out.push(Down { up, down });
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(format!("refusing to revert: {}", problems.join("; ")))
    }
}

/// Reverts the migrations named `names` (as `ApplyOutcome::applied` and the snapshot name them), in the given order
/// (the caller passes newest first). Refuses before running anything when any of them has no down file or is not
/// applied per the ledger; otherwise stops at the first failure, whose transaction rolls back, keeping the ones
/// already reverted.
pub async fn revert(spec: &crate::plan::Database, names: &[String]) -> RevertOutcome {
    revert_shown(spec, names, None).await
}

/// [`revert`], refusing before anything runs unless every down file is the one `shown` (when given): what the
/// rollback's prompt listed is what runs.
pub async fn revert_shown(
    spec: &crate::plan::Database,
    names: &[String],
    shown: Option<&[ShownDown]>,
) -> RevertOutcome {
    let mut outcome = RevertOutcome::default();
    if let Err(e) = revert_into(spec, names, shown, &mut outcome).await {
        outcome.error = Some(e);
    }
    outcome
}

async fn revert_into(
    spec: &crate::plan::Database,
    names: &[String],
    shown: Option<&[ShownDown]>,
    outcome: &mut RevertOutcome,
) -> Result<(), String> {
    let target = super::load(spec).map_err(|e| e.to_string())?;
    let downs = downs(target.format, &target.migrations, names, shown)?;
    if downs.is_empty() {
        return Ok(());
    }
    let mut db = db::connect(&spec.url.value, &super::settings(spec))
        .await
        .map_err(|e| e.to_string())?;
    let result = under_lock(
        &mut db,
        target.format,
        &target.migrations,
        &downs,
        spec.lock_wait,
        outcome,
    )
    .await;
    if let Err(e) = sqlx::Connection::close(db.conn).await {
        tracing::debug!("closing the revert's connection: {e}");
    }
    result
}

/// Reverts the one migration named `name` on an open connection, as [`revert`] does (the same checks, the tool's
/// lock, the down file and the ledger entry in one transaction): how long it took, or why it was not reverted — a
/// refusal, or the database's error, the transaction rolled back. A rehearsal's way back goes one at a time so each
/// step says which migration it was.
pub async fn revert_on(
    db: &mut Db,
    format: Format,
    migrations: &[Migration],
    name: &str,
    lock_wait: Duration,
) -> Result<Duration, String> {
    let downs = downs(format, migrations, &[name.to_string()], None)?;
    let mut outcome = RevertOutcome::default();
    under_lock(db, format, migrations, &downs, lock_wait, &mut outcome).await?;
    outcome
        .reverted
        .first()
        .map(|(_, took)| *took)
        .ok_or_else(|| format!("{name} was not reverted"))
}

/// Takes the tool's lock (PostgreSQL), reverts `downs`, releases the lock.
async fn under_lock(
    db: &mut Db,
    format: Format,
    migrations: &[Migration],
    downs: &[Down<'_>],
    lock_wait: Duration,
    outcome: &mut RevertOutcome,
) -> Result<(), String> {
    ledger::check_supported(format, db.backend).map_err(|e| e.to_string())?;
    let key = match db.backend {
        Backend::Postgres => {
            let key = lock::key_for(db, format).await.map_err(|e| e.to_string())?;
            lock::acquire(db, key, lock_wait)
                .await
                .map_err(|e| e.to_string())?;
            Some(key)
        }
        Backend::Sqlite => None,
    };
    let result = revert_locked(db, format, migrations, downs, outcome).await;
    if let Some(k) = key
        && let Err(e) = lock::release(db, k).await
    {
        tracing::warn!("releasing the migration lock: {e}");
    }
    result
}

/// Under the lock: checks every migration is applied, then reverts them one by one.
async fn revert_locked(
    db: &mut Db,
    format: Format,
    migrations: &[Migration],
    downs: &[Down<'_>],
    outcome: &mut RevertOutcome,
) -> Result<(), String> {
    let st = status::read(db, format, migrations)
        .await
        .map_err(|e| e.to_string())?;
    let problems: Vec<String> = downs
        .iter()
        .filter_map(|d| {
            let entry = st.entries.iter().find(|e| {
                e.local
                    .and_then(|i| migrations.get(i))
                    .is_some_and(|m| m.name == d.up.name)
            });
            match entry.map(|e| e.state) {
                Some(State::Applied) => None,
                Some(s) => Some(format!(
                    "{} is {}, not applied",
                    d.up.name,
                    s.label().to_lowercase()
                )),
                None => Some(format!("{} is not in the ledger", d.up.name)),
            }
        })
        .collect();
    if !problems.is_empty() {
        return Err(format!("refusing to revert: {}", problems.join("; ")));
    }
    for d in downs {
        let start = Instant::now();
        revert_one(db, d).await.map_err(|e| e.to_string())?;
        outcome.reverted.push((d.up.name.clone(), start.elapsed()));
    }
    Ok(())
}

/// The down file's statements and the removal of the ledger entry, in one transaction: all of it, or none.
async fn revert_one(db: &mut Db, d: &Down<'_>) -> Result<(), MigrateError> {
    let stmts = body(&d.down)?;
    one_transaction(db, async |conn: &mut sqlx::AnyConnection| {
        run_statements(conn, &d.down, stmts, |_| {})
            .await
            .map_err(MigrateError::from)?;
        let removed = super::resolve::mark_rolled_back(conn, d.up.format, &key_of(d.up)).await?;
        if removed == 0 {
            return Err(MigrateError::Database {
                context: "removing the ledger entry".into(),
                message: format!("{} has no ledger entry to remove", d.up.name),
            });
        }
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::migrate::Key;

    fn migration(format: Format, name: &str, down: bool) -> Migration {
        Migration {
            format,
            key: Key::Plain { stem: name.into() },
            name: name.into(),
            path: PathBuf::from(format!("{name}.sql")),
            sql: String::new(),
            statements: Vec::new(),
            down: down.then(|| PathBuf::from(format!("{name}.down.sql"))),
            no_transaction: None,
        }
    }

    #[test]
    fn missing_downs_lists_names_without_a_down_file_or_not_on_disk() {
        let ms = [
            migration(Format::Plain, "001_a", true),
            migration(Format::Plain, "002_b", false),
        ];
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(missing_downs(&ms, &names(&["001_a"])).is_empty());
        assert_eq!(
            missing_downs(&ms, &names(&["002_b", "001_a", "003_c"])),
            names(&["002_b", "003_c"])
        );
    }

    #[test]
    fn prisma_and_drizzle_are_never_revertible() {
        let ms = [migration(Format::Prisma, "20240101_a", true)];
        assert_eq!(missing_downs(&ms, &["20240101_a".into()]).len(), 1);
        let err = downs(Format::Drizzle, &ms, &["20240101_a".into()], None)
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("drizzle migrations have no down files"),
            "{err}"
        );
    }
}
