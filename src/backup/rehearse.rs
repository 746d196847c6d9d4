//! The part of a rehearsal both backends share: applying the pending migrations to a restored copy, one result
//! per migration (duration, or the error as the database gave it), with progress; then, when every one has a down
//! file, the way back (apply → down → apply): each down file newest first with deckhand's own revert, then the
//! migrations applied again.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::types::{BackupError, Progress, RehearsalStep, Stage, WayBack};
use crate::migrate::apply::{self, Options, Progress as ApplyProgress};
use crate::migrate::{self, Target, db, revert};
use crate::plan::Database;

/// Who a rehearsal's ledger rows name as having applied them (the copy is dropped afterwards).
pub const REHEARSAL_APPLIED_BY: &str = "deckhand rehearsal";

/// What a rehearsal did on the copy: each pending migration's result, and the way back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rehearsed {
    pub steps: Vec<RehearsalStep>,
    pub way_back: WayBack,
}

/// Which pass over the pending migrations: the progress line says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    First,
    Again,
}

fn db_err(e: migrate::MigrateError) -> BackupError {
    BackupError::Database {
        context: "rehearsing the migrations".into(),
        message: e.to_string(),
    }
}

/// Applies every pending migration of `copy` (the plan's `[database]` with its URL pointing at the restored copy)
/// and reports each one; when all applied and each has a down file, rehearses the way back. Stops starting new
/// migrations once `cancel` fires. `started` is when the whole rehearsal began (progress shows time since then).
pub async fn apply_pending(
    copy: &Database,
    started: Instant,
    progress: &watch::Sender<Progress>,
    cancel: &CancellationToken,
) -> Result<Rehearsed, BackupError> {
    let target = migrate::load(copy).map_err(db_err)?;
    let mut conn = db::connect(&copy.url.value, &migrate::settings(copy))
        .await
        .map_err(db_err)?;
    let run = Run {
        copy,
        target: &target,
        opts: Options {
            lock_wait: copy.lock_wait,
            applied_by: REHEARSAL_APPLIED_BY.into(),
        },
        started,
        progress,
        cancel,
    };
    let result = run.rehearse(&mut conn).await;
    // Close the session before the copy is dropped (PostgreSQL refuses to drop a database in use).
    if let Err(e) = sqlx::Connection::close(conn.conn).await {
        tracing::warn!("closing the rehearsal connection: {e}");
    }
    result
}

/// One rehearsal's fixed parts.
struct Run<'a> {
    copy: &'a Database,
    target: &'a Target,
    opts: Options,
    started: Instant,
    progress: &'a watch::Sender<Progress>,
    cancel: &'a CancellationToken,
}

impl Run<'_> {
    async fn rehearse(&self, conn: &mut db::Db) -> Result<Rehearsed, BackupError> {
        let status = migrate::status::read(conn, self.target.format, &self.target.migrations)
            .await
            .map_err(db_err)?;
        let pending: Vec<String> = status
            .pending()
            .into_iter()
            .map(|i| self.target.migrations[i].name.clone())
            .collect();
        let steps = self.apply(conn, &pending, Pass::First).await?;
        let all_applied = !steps.is_empty()
            && steps
                .iter()
                .all(|s| matches!(s, RehearsalStep::Applied { .. }));
        let way_back = if all_applied {
            self.way_back(conn, &pending).await?
        } else {
            WayBack::NotTried
        };
        Ok(Rehearsed { steps, way_back })
    }

    fn show(&self, detail: String) {
        self.progress.send_modify(|pr| {
            *pr = Progress::new(Stage::Migrating, self.started.elapsed());
            pr.detail = Some(detail);
        });
    }

    /// Applies the pending migrations `pending` once, one step each (those after a failure not reached). An apply
    /// that could not start is an error on the first pass; on the second it is the step that failed.
    async fn apply(
        &self,
        conn: &mut db::Db,
        pending: &[String],
        pass: Pass,
    ) -> Result<Vec<RehearsalStep>, BackupError> {
        let mut current: Option<(String, Instant)> = None;
        let mut on_progress = |p: ApplyProgress| {
            if let ApplyProgress::Started { name, .. } = &p {
                current = Some((name.clone(), Instant::now()));
                self.show(match pass {
                    Pass::First => name.clone(),
                    Pass::Again => format!("{name} (again, after its down file)"),
                });
            }
        };
        let stop = || self.cancel.is_cancelled();
        let target = self.target;
        let report = apply::apply_until(
            conn,
            target.format,
            &target.migrations,
            &self.opts,
            None,
            &mut on_progress,
            &stop,
        )
        .await;
        if self.cancel.is_cancelled() || report.as_ref().is_ok_and(|r| r.stopped) {
            return Err(BackupError::Cancelled);
        }
        let (applied, failure) = match report {
            Ok(r) => (r.applied, r.failure.map(|e| e.to_string())),
            Err(e) if pass == Pass::First => return Err(db_err(e)),
            Err(e) => (Vec::new(), Some(e.to_string())),
        };
        let mut steps: Vec<RehearsalStep> = applied
            .into_iter()
            .map(|(name, took)| RehearsalStep::Applied { name, took })
            .collect();
        if let Some(error) = failure {
            let (name, took) = match &current {
                Some((name, at)) => (name.clone(), at.elapsed()),
                None => (String::from("(before the first migration)"), Duration::ZERO),
            };
            steps.push(RehearsalStep::Failed { name, took, error });
        }
        let done = steps.len();
        steps.extend(
            pending
                .iter()
                .skip(done)
                .map(|name| RehearsalStep::NotReached { name: name.clone() }),
        );
        Ok(steps)
    }

    /// The way back: each down file newest first, one revert each (so a failure names its migration), then the
    /// migrations applied again — not after a failed down file.
    async fn way_back(
        &self,
        conn: &mut db::Db,
        pending: &[String],
    ) -> Result<WayBack, BackupError> {
        let missing = revert::missing_downs(&self.target.migrations, pending);
        if !missing.is_empty() {
            return Ok(WayBack::NoDownFile { missing });
        }
        let newest_first: Vec<&String> = pending.iter().rev().collect();
        let mut down = Vec::new();
        for (k, name) in newest_first.iter().enumerate() {
            if self.cancel.is_cancelled() {
                return Err(BackupError::Cancelled);
            }
            self.show(format!("{name} (down)"));
            let at = Instant::now();
            let (format, migrations) = (self.target.format, &self.target.migrations);
            let lock_wait = self.copy.lock_wait;
            match revert::revert_on(conn, format, migrations, name, lock_wait).await {
                Ok(took) => down.push(RehearsalStep::Applied {
                    name: name.to_string(),
                    took,
                }),
                Err(error) => {
                    down.push(RehearsalStep::Failed {
                        name: name.to_string(),
                        took: at.elapsed(),
                        error,
                    });
                    down.extend(
                        newest_first[k + 1..]
                            .iter()
                            .map(|n| RehearsalStep::NotReached {
                                name: n.to_string(),
                            }),
                    );
                    return Ok(WayBack::Rehearsed {
                        down,
                        again: Vec::new(),
                    });
                }
            }
        }
        let again = self.apply(conn, pending, Pass::Again).await?;
        Ok(WayBack::Rehearsed { down, again })
    }
}
