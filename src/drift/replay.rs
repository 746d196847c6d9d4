//! The schema the applied history produces: the applied migrations replayed, in ledger order and with deckhand's
//! own apply (so every format works as it does on the live database), on a scratch database next to the live one
//! (`deckhand_drift_<8 hex>`, PostgreSQL; needs CREATEDB) or on a temporary SQLite file (a private folder of our own
//! under the system's temporary folder), whose catalog is then read. The scratch is removed on every path: success,
//! failure, cancel, and a future dropped half-way. A migration that fails to replay is an error naming it, never a
//! "no drift". Imports `backup::pg::scratch`, `backup::sqlite::file_url`, `migrate`, `plan` and `safe_fs`.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;

use sqlx::Connection;
use tokio_util::sync::CancellationToken;

use super::catalog::Catalog;
use super::{DriftError, Stage, pg, sqlite};
use crate::backup::BackupError;
use crate::backup::pg::scratch::ScratchDatabase;
use crate::migrate::apply::{self, Options, Progress as ApplyProgress};
use crate::migrate::db::{self, Backend, Db};
use crate::migrate::{self, Format, MigrateError, Migration};
use crate::plan::{Database, Resolved};

/// Prefix of the scratch databases (`deckhand_drift_%` finds any left behind).
pub const SCRATCH_PREFIX: &str = "deckhand_drift_";
/// Prefix of the temporary folder holding a SQLite replay.
const TEMP_PREFIX: &str = "deckhand-drift-";
/// Who the scratch ledger's rows name as having applied them (the scratch is dropped afterwards).
const APPLIED_BY: &str = "deckhand drift";

/// The replayed history's catalog, where it was built, and a cleanup that failed (the scratch left behind).
pub struct Expected {
    pub catalog: Catalog,
    pub scratch: String,
    pub cleanup_error: Option<String>,
}

/// What to replay: the plan's database, its format, the applied migrations in ledger order, and the extensions the
/// live database has (named when a replay fails: one installed by hand is the usual reason).
pub struct Replay<'a> {
    pub spec: &'a Database,
    pub format: Format,
    pub history: &'a [Migration],
    pub live_extensions: &'a [String],
}

/// Replays the history on a scratch database or file and reads its catalog.
pub async fn expected(
    replay: &Replay<'_>,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(Stage) + Send),
) -> Result<Expected, DriftError> {
    match Backend::of(&replay.spec.url.value) {
        Some(Backend::Sqlite) => on_sqlite(replay, cancel, progress).await,
        _ => on_postgres(replay, cancel, progress).await,
    }
}

async fn on_postgres(
    replay: &Replay<'_>,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(Stage) + Send),
) -> Result<Expected, DriftError> {
    progress(Stage::Creating);
    let scratch = ScratchDatabase::create(replay.spec, SCRATCH_PREFIX, cancel)
        .await
        .map_err(|e| match e {
            BackupError::NoCreateDb { role } => DriftError::NoCreateDb { role },
            BackupError::Cancelled => DriftError::Cancelled,
            other => DriftError::Scratch(other.to_string()),
        })?;
    let name = scratch.name().to_string();
    progress(Stage::Created {
        scratch: name.clone(),
    });
    let outcome = replay_on(&scratch.database(), replay, cancel, progress).await;
    progress(Stage::Cleaning);
    let cleanup_error = scratch.drop().await.err();
    finish(outcome, name, cleanup_error)
}

async fn on_sqlite(
    replay: &Replay<'_>,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(Stage) + Send),
) -> Result<Expected, DriftError> {
    progress(Stage::Creating);
    let dir = TempDir::create().map_err(|e| DriftError::Io(e.to_string()))?;
    let file = dir.0.join("history.db");
    crate::safe_fs::create_new(&file)
        .map_err(|e| DriftError::Io(format!("{}: {e}", file.display())))?;
    let name = format!("temporary file {}", file.display());
    progress(Stage::Created {
        scratch: name.clone(),
    });
    let url = crate::backup::sqlite::file_url(&file);
    let copy = Database {
        url: Resolved::literal(&url),
        ..replay.spec.clone()
    };
    let outcome = replay_on(&copy, replay, cancel, progress).await;
    progress(Stage::Cleaning);
    let cleanup_error = dir.remove().err();
    finish(outcome, name, cleanup_error)
}

/// Replays the history on the empty scratch database `copy` (Prisma's schema made first, when the URL names one)
/// and reads its catalog; a cancel abandons it wherever it is.
async fn replay_on(
    copy: &Database,
    replay: &Replay<'_>,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(Stage) + Send),
) -> Result<Catalog, DriftError> {
    let work = async {
        let mut conn = connect(copy).await?;
        let built = async {
            if conn.backend == Backend::Postgres
                && let Some(schema) = search_schema(&copy.url.value)
            {
                create_schema(&mut conn, &schema).await?;
            }
            build(&mut conn, replay, cancel, progress).await
        }
        .await;
        let _ = conn.conn.close().await;
        built
    };
    tokio::select! {
        r = work => r,
        () = cancel.cancelled() => Err(DriftError::Cancelled),
    }
}

/// The replay's result, with a cleanup that failed told with it.
fn finish(
    outcome: Result<Catalog, DriftError>,
    scratch: String,
    cleanup_error: Option<String>,
) -> Result<Expected, DriftError> {
    match (outcome, cleanup_error) {
        (Ok(catalog), cleanup_error) => Ok(Expected {
            catalog,
            scratch,
            cleanup_error,
        }),
        (Err(e), None) => Err(e),
        (Err(e), Some(cleanup)) => Err(DriftError::LeftBehind {
            error: Box::new(e),
            cleanup,
        }),
    }
}

async fn connect(copy: &Database) -> Result<Db, DriftError> {
    db::connect(&copy.url.value, &migrate::settings(copy))
        .await
        .map_err(DriftError::Migrate)
}

/// Applies the history to the empty database `conn` is connected to, then reads its catalog.
async fn build(
    conn: &mut Db,
    replay: &Replay<'_>,
    cancel: &CancellationToken,
    progress: &mut (dyn FnMut(Stage) + Send),
) -> Result<Catalog, DriftError> {
    let opts = Options {
        lock_wait: replay.spec.lock_wait,
        applied_by: APPLIED_BY.into(),
    };
    let of = replay.history.len();
    let mut done = 0;
    let mut on_progress = |p: ApplyProgress| {
        if let ApplyProgress::Started { name, .. } = p {
            done += 1;
            progress(Stage::Replaying { name, done, of });
        }
    };
    let stop = || cancel.is_cancelled();
    let report = apply::apply_until(
        conn,
        replay.format,
        replay.history,
        &opts,
        None,
        &mut on_progress,
        &stop,
    )
    .await;
    let failure = match report {
        Err(e) => Some(e),
        Ok(r) if r.stopped => return Err(DriftError::Cancelled),
        Ok(r) if r.failure.is_none() && r.applied.len() != replay.history.len() => {
            let applied: Vec<&str> = r.applied.iter().map(|(n, _)| n.as_str()).collect();
            let skipped: Vec<&str> = replay
                .history
                .iter()
                .map(|m| m.name.as_str())
                .filter(|n| !applied.contains(n))
                .collect();
            return Err(DriftError::Replay {
                migration: skipped.first().map(|s| (*s).to_string()),
                message: format!("not replayed: {}", skipped.join(", ")),
                hint: None,
            });
        }
        Ok(r) => r.failure,
    };
    if let Some(e) = failure {
        return Err(replay_failed(conn, replay, e).await);
    }
    progress(Stage::ReadingHistory);
    let catalog = match conn.backend {
        Backend::Postgres => pg::read(conn).await,
        Backend::Sqlite => sqlite::read(conn).await,
    };
    catalog.map_err(DriftError::Migrate)
}

/// The error for a migration that failed to replay, naming the live database's extensions the replayed history
/// had not created by then (an extension installed by hand is the usual reason).
async fn replay_failed(conn: &mut Db, replay: &Replay<'_>, e: MigrateError) -> DriftError {
    let migration = match &e {
        MigrateError::Statement(f) => Some(f.migration.clone()),
        _ => None,
    };
    let mut hint = None;
    if conn.backend == Backend::Postgres && !replay.live_extensions.is_empty() {
        let here: Vec<String> = match pg::read(conn).await {
            Ok(c) => c.extensions(),
            Err(_) => Vec::new(),
        };
        let lacking: Vec<&str> = replay
            .live_extensions
            .iter()
            .filter(|x| !here.contains(x))
            .map(String::as_str)
            .collect();
        if !lacking.is_empty() {
            hint = Some(format!(
                "the live database has extension(s) {} that the replayed history had not created by then: if they \
                 were installed by hand, create them in a migration (CREATE EXTENSION IF NOT EXISTS …) so the \
                 history replays",
                lacking.join(", ")
            ));
        }
    }
    DriftError::Replay {
        migration,
        message: e.to_string(),
        hint,
    }
}

/// Prisma's `?schema=NAME`: the schema its migrations run in, made by Prisma before the first one (a fresh
/// scratch database lacks it).
fn search_schema(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    u.query_pairs()
        .find(|(k, _)| k == "schema")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty() && v != "public")
}

async fn create_schema(conn: &mut Db, schema: &str) -> Result<(), DriftError> {
    let sql = format!(
        "CREATE SCHEMA IF NOT EXISTS \"{}\"",
        schema.replace('"', "\"\"")
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn.conn)
        .await
        .map(drop)
        .map_err(|e| {
            DriftError::Migrate(MigrateError::Database {
                context: format!("creating schema {schema} in the scratch database"),
                message: migrate::error::describe_db_error(&e).0,
            })
        })
}

/// A private folder of ours under the system's temporary folder (`deckhand-drift-<8 hex>`, mode 0700, made new:
/// never one that was already there), removed with what it holds when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> std::io::Result<TempDir> {
        let name = format!(
            "{TEMP_PREFIX}{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let path = std::env::temp_dir().join(name);
        std::fs::DirBuilder::new()
            .mode(crate::safe_fs::dir_mode())
            .create(&path)?;
        // The mode given to mkdir() is reduced by the umask.
        std::fs::set_permissions(
            &path,
            std::fs::Permissions::from_mode(crate::safe_fs::dir_mode()),
        )?;
        Ok(TempDir(path))
    }

    fn remove(self) -> Result<(), String> {
        let removed = std::fs::remove_dir_all(&self.0);
        let path = self.0.clone();
        std::mem::forget(self);
        removed.map_err(|e| {
            format!(
                "the temporary folder {} could not be removed: {e}",
                path.display()
            )
        })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!("could not remove {}: {e}", self.0.display());
        }
    }
}
