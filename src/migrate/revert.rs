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

/// Whether the format has down migrations at all.
pub fn revertible_format(format: Format) -> bool {
    matches!(format, Format::Sqlx | Format::Plain)
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
        let Some(path) = &up.down else {
            problems.push(format!("{name} has no down migration"));
            continue;
        };
        let label = path.file_name().map_or_else(
            || format!("{name} (down)"),
            |f| f.to_string_lossy().into_owned(),
        );
        let down = match source::load(format, up.key.clone(), label, path.clone(), None) {
            Ok(d) => d,
            Err(e) => {
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
    let mut outcome = RevertOutcome::default();
    if let Err(e) = revert_into(spec, names, &mut outcome).await {
        outcome.error = Some(e);
    }
    outcome
}

async fn revert_into(
    spec: &crate::plan::Database,
    names: &[String],
    outcome: &mut RevertOutcome,
) -> Result<(), String> {
    let target = super::load(spec).map_err(|e| e.to_string())?;
    let downs = downs(target.format, &target.migrations, names)?;
    if downs.is_empty() {
        return Ok(());
    }
    let mut db = db::connect(&spec.url.value, &super::settings(spec))
        .await
        .map_err(|e| e.to_string())?;
    ledger::check_supported(target.format, db.backend).map_err(|e| e.to_string())?;
    let key = match db.backend {
        Backend::Postgres => {
            let key = lock::key_for(&mut db, target.format)
                .await
                .map_err(|e| e.to_string())?;
            lock::acquire(&mut db, key, spec.lock_wait)
                .await
                .map_err(|e| e.to_string())?;
            Some(key)
        }
        Backend::Sqlite => None,
    };
    let result = revert_locked(&mut db, target.format, &target.migrations, &downs, outcome).await;
    if let Some(k) = key
        && let Err(e) = lock::release(&mut db, k).await
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
        let err = downs(Format::Drizzle, &ms, &["20240101_a".into()])
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("drizzle migrations have no down files"),
            "{err}"
        );
    }
}
