//! Linting a set of migrations: reading loose `.sql` files as migrations, analyzing each, and adding live
//! context from the target when one is reachable. Used by `deckhand lint` and by the console's migration pane.

use std::path::Path;
use std::time::Duration;

use super::{FileReport, Options, analyze_migration, batch, live};
use crate::migrate::db::Db;
use crate::migrate::source::SourceError;
use crate::migrate::{Format, Key, MigrateError, Migration, split};

/// Transactions open longer than this are reported as possible blockers.
pub const LONG_TRANSACTION: Duration = Duration::from_secs(60);

/// A loose `.sql` file as a migration (plain format; statements split as deckhand runs them).
pub fn migration_from_file(path: &Path) -> Result<Migration, SourceError> {
    let err = |message: String| SourceError {
        path: path.display().to_string(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|e| err(format!("cannot read: {e}")))?;
    let sql = String::from_utf8(bytes).map_err(|_| err("not valid UTF-8".into()))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let statements = split::split(&sql);
    let no_transaction = split::file_no_transaction_reason(&sql, &statements);
    Ok(Migration {
        format: Format::Plain,
        key: Key::Plain { stem: stem.clone() },
        name: stem,
        path: path.to_path_buf(),
        sql,
        statements,
        down: None,
        no_transaction,
    })
}

/// Analyzes every migration.
pub fn analyze_all<'a>(
    migrations: impl IntoIterator<Item = &'a Migration>,
    opts: &Options,
) -> Vec<FileReport> {
    migrations
        .into_iter()
        .map(|m| analyze_migration(m, opts))
        .collect()
}

/// Adds table sizes, lock holders and long transactions to the findings. Returns notes that concern the whole
/// connection (a transaction-pooling proxy).
pub async fn add_live_context(
    db: &mut Db,
    reports: &mut [FileReport],
) -> Result<Vec<String>, MigrateError> {
    let mut tables: Vec<String> = reports
        .iter()
        .flat_map(|r| r.findings.iter().flat_map(|f| f.tables.iter().cloned()))
        .collect();
    tables.sort();
    tables.dedup();
    let ctx = live::read(db, &tables, LONG_TRANSACTION).await?;
    for r in reports.iter_mut() {
        live::apply(&mut r.findings, &ctx);
    }
    Ok(ctx.pgbouncer.into_iter().collect())
}

/// Marks the Dangerous findings of a batch that put no existing data at stake (see `lint::batch`): `migrations`
/// in the order they apply, `reports` their analyses (same order). Reads the tables that decide it on the live
/// database; when that read fails, only what the batch itself creates is spared, and the error is returned.
pub async fn spare_batch(
    db: &mut Db,
    migrations: &[&Migration],
    reports: &mut [FileReport],
) -> Result<(), MigrateError> {
    let asks = batch::asks(migrations, reports);
    let probes = if asks.is_empty() {
        Ok(batch::Probes::default())
    } else {
        live::probe(db, &asks).await
    };
    batch::spare(
        migrations,
        reports,
        probes.as_ref().unwrap_or(&batch::Probes::default()),
    );
    probes.map(|_| ())
}
