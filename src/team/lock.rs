//! One release at a time per project and environment, across every host: a session-level advisory lock on the
//! team database, plus a row in `releases` naming who holds it (operator, host, SSH client, run, stage, since,
//! why). The lock lives exactly as long as the holder's database session, so a console killed with SIGKILL or cut
//! off frees it as soon as the server notices the session is gone; no stale lock outlives its holder.
//!
//! While held, a task owns the session: it writes the run and the stage into the row and checks the session every
//! few seconds. When the session is lost, the state says so and the task reconnects with backoff and takes the
//! lock again — unless another console took it meanwhile, which the state names.

use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Row};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Identity, TeamError, connect, schema, table};
use crate::plan::Team;

/// How often the held session is checked.
const HEARTBEAT: Duration = Duration::from_secs(3);
/// How long one check may take before the session counts as lost.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest wait between two attempts to get the lock back.
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The advisory lock's key, computed by the server from the project and environment.
const KEY: &str = "hashtextextended('deckhand:' || $1 || '/' || $2, 0)";

/// Who holds (or held) a release lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub project: String,
    pub environment: String,
    pub operator: String,
    pub host: String,
    pub ssh_client: Option<String>,
    pub run_id: String,
    pub stage: String,
    pub since: String,
    pub why: Option<String>,
    /// The holder's session still holds the lock.
    pub live: bool,
}

impl Holder {
    /// `alice on bastion-2 (ssh from 10.0.0.5), run 20261205-…, stage migrate, since 2026-12-05 17:02:11 UTC`.
    pub fn describe(&self) -> String {
        let ssh = self
            .ssh_client
            .as_ref()
            .map(|c| format!(" (ssh from {c})"))
            .unwrap_or_default();
        let run = if self.run_id.is_empty() {
            String::new()
        } else {
            format!(", run {}", self.run_id)
        };
        let why = self
            .why
            .as_ref()
            .map(|w| format!(", why: {w}"))
            .unwrap_or_default();
        format!(
            "{} on {}{ssh}{run}, stage {}, since {}{why}",
            self.operator, self.host, self.stage, self.since
        )
    }
}

/// Where this console's hold on the lock stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    Held,
    /// The session is gone (the team database unreachable): nothing guards the release until it is back.
    Lost {
        why: String,
    },
    /// Another console took the lock while this one's session was gone.
    Taken {
        by: Box<Holder>,
    },
}

/// Why the lock was not taken.
#[derive(Debug)]
pub enum Refusal {
    /// Another console holds it (and kept it through the wait, if any).
    Held(Box<Holder>),
    Failed(TeamError),
}

impl From<TeamError> for Refusal {
    fn from(e: TeamError) -> Self {
        Refusal::Failed(e)
    }
}

impl From<sqlx::Error> for Refusal {
    fn from(e: sqlx::Error) -> Self {
        Refusal::Failed(e.into())
    }
}

/// What a release lock is for.
#[derive(Debug, Clone)]
pub struct Claim {
    pub team: Team,
    pub project: String,
    pub environment: String,
    pub who: Identity,
    pub why: Option<String>,
}

enum Cmd {
    Run(String),
    Stage(String),
    Release(tokio::sync::oneshot::Sender<()>),
}

/// A held release lock; [`TeamLock::release`] frees it (dropping it frees it too, when its task ends).
pub struct TeamLock {
    cmd: mpsc::UnboundedSender<Cmd>,
    state: watch::Receiver<LockState>,
    task: Option<JoinHandle<()>>,
}

/// Takes the lock, or waits up to `wait` for it (telling `waiting` who holds it first); refuses naming the holder
/// otherwise.
pub async fn acquire(
    claim: Claim,
    wait: Option<Duration>,
    waiting: impl FnOnce(&Holder),
) -> Result<TeamLock, Refusal> {
    let mut conn = connect(&claim.team).await?;
    schema::require(&mut conn, &claim.team).await?;
    if !try_lock(&mut conn, &claim).await? {
        let held = holder(&mut conn, &claim).await?;
        let Some(wait) = wait.filter(|w| !w.is_zero()) else {
            return Err(Refusal::Held(Box::new(held)));
        };
        waiting(&held);
        if !wait_lock(&mut conn, &claim, wait).await? {
            return Err(Refusal::Held(Box::new(holder(&mut conn, &claim).await?)));
        }
    }
    let mut row = RowInfo {
        run: String::new(),
        stage: "starting".into(),
    };
    write_row(&mut conn, &claim, &row).await?;
    let (cmd, rx) = mpsc::unbounded_channel();
    let (tx, state) = watch::channel(LockState::Held);
    let task = tokio::spawn(async move {
        keep(conn, claim, &mut row, rx, tx).await;
    });
    Ok(TeamLock {
        cmd,
        state,
        task: Some(task),
    })
}

impl TeamLock {
    /// Names the run in the lock's row (and in `runs`).
    pub fn set_run(&self, run_id: &str) {
        let _ = self.cmd.send(Cmd::Run(run_id.to_string()));
    }

    /// The stage the release is in, for `team status`.
    pub fn set_stage(&self, stage: &str) {
        let _ = self.cmd.send(Cmd::Stage(stage.to_string()));
    }

    /// Every change of the hold.
    pub fn states(&self) -> watch::Receiver<LockState> {
        self.state.clone()
    }

    /// Deletes the row and ends the session (which frees the lock).
    pub async fn release(mut self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.cmd.send(Cmd::Release(done)).is_ok() {
            let _ = tokio::time::timeout(HEARTBEAT_TIMEOUT, wait).await;
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for TeamLock {
    fn drop(&mut self) {
        // Ending the task closes its connection: the server frees the lock with the session.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What the row says besides who.
struct RowInfo {
    run: String,
    stage: String,
}

async fn try_lock(conn: &mut PgConnection, claim: &Claim) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(AssertSqlSafe(format!("SELECT pg_try_advisory_lock({KEY})")))
        .bind(&claim.project)
        .bind(&claim.environment)
        .fetch_one(conn)
        .await
}

/// Waits for the lock with the server's own `lock_timeout` (woken when it is freed, not by polling).
async fn wait_lock(
    conn: &mut PgConnection,
    claim: &Claim,
    wait: Duration,
) -> Result<bool, Refusal> {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "SET lock_timeout = '{}ms'",
        wait.as_millis().max(1)
    )))
    .execute(&mut *conn)
    .await?;
    let got = sqlx::query(AssertSqlSafe(format!("SELECT pg_advisory_lock({KEY})")))
        .bind(&claim.project)
        .bind(&claim.environment)
        .execute(&mut *conn)
        .await;
    sqlx::raw_sql("SET lock_timeout = 0")
        .execute(&mut *conn)
        .await?;
    match got {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Who holds the lock of `claim` (as its row says; a holder that has not written its row yet is named so).
async fn holder(conn: &mut PgConnection, claim: &Claim) -> Result<Holder, sqlx::Error> {
    let found = holders(
        conn,
        &claim.team,
        Some((&claim.project, &claim.environment)),
    )
    .await?;
    Ok(found.into_iter().next().unwrap_or_else(|| Holder {
        project: claim.project.clone(),
        environment: claim.environment.clone(),
        operator: "a console that has not named itself yet".into(),
        host: "?".into(),
        ssh_client: None,
        run_id: String::new(),
        stage: "starting".into(),
        since: "just now".into(),
        why: None,
        live: true,
    }))
}

/// The release rows (of one project and environment, or all), each with whether its session still holds the lock.
pub async fn holders(
    conn: &mut PgConnection,
    team: &Team,
    only: Option<(&str, &str)>,
) -> Result<Vec<Holder>, sqlx::Error> {
    let releases = table(team, "releases");
    let sql = format!(
        "SELECT r.project, r.environment, r.operator, r.host, r.ssh_client, r.run_id, r.stage, r.why,
                to_char(r.since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' AS since,
                EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
                        AND l.pid = r.backend_pid AND l.database = (SELECT oid FROM pg_database
                                                                    WHERE datname = current_database())) AS live
           FROM {releases} r
          WHERE ($1::text IS NULL OR (r.project = $1 AND r.environment = $2))
          ORDER BY r.project, r.environment"
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(only.map(|o| o.0))
        .bind(only.map(|o| o.1))
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Holder {
                project: r.try_get("project")?,
                environment: r.try_get("environment")?,
                operator: r.try_get("operator")?,
                host: r.try_get("host")?,
                ssh_client: r.try_get("ssh_client")?,
                run_id: r.try_get("run_id")?,
                stage: r.try_get("stage")?,
                since: r.try_get("since")?,
                why: r.try_get("why")?,
                live: r.try_get("live")?,
            })
        })
        .collect()
}

/// Writes this console's row (the lock is held: the row is ours).
async fn write_row(
    conn: &mut PgConnection,
    claim: &Claim,
    row: &RowInfo,
) -> Result<(), sqlx::Error> {
    let releases = table(&claim.team, "releases");
    let sql = format!(
        "INSERT INTO {releases} (project, environment, run_id, operator, host, ssh_client, stage, why, since,
                                 backend_pid)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now(), pg_backend_pid())
         ON CONFLICT (project, environment) DO UPDATE SET
             run_id = EXCLUDED.run_id, operator = EXCLUDED.operator, host = EXCLUDED.host,
             ssh_client = EXCLUDED.ssh_client, stage = EXCLUDED.stage, why = EXCLUDED.why,
             since = CASE WHEN {releases}.backend_pid = EXCLUDED.backend_pid THEN {releases}.since ELSE now() END,
             backend_pid = EXCLUDED.backend_pid"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(&claim.project)
        .bind(&claim.environment)
        .bind(&row.run)
        .bind(claim.who.name())
        .bind(&claim.who.host)
        .bind(&claim.who.ssh_client)
        .bind(&row.stage)
        .bind(&claim.why)
        .execute(conn)
        .await?;
    Ok(())
}

/// Holds the lock until released: applies commands, checks the session, gets the lock back after losing it.
async fn keep(
    conn: PgConnection,
    claim: Claim,
    row: &mut RowInfo,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
    tx: watch::Sender<LockState>,
) {
    let mut conn = Some(conn);
    let mut retry = Duration::from_secs(1);
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let cmd = tokio::select! {
            cmd = rx.recv() => cmd,
            _ = tick.tick() => Some(Cmd::Stage(String::new())),
        };
        let result = match cmd {
            None => return,
            Some(Cmd::Release(done)) => {
                if let Some(mut c) = conn.take() {
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DELETE FROM {} WHERE project = $1 AND environment = $2 AND backend_pid = pg_backend_pid()",
                        table(&claim.team, "releases")
                    )))
                    .bind(&claim.project)
                    .bind(&claim.environment)
                    .execute(&mut c)
                    .await;
                    let _ = c.close().await;
                }
                let _ = done.send(());
                return;
            }
            Some(Cmd::Run(run)) => {
                row.run = run;
                write(&mut conn, &claim, row).await
            }
            // An empty stage is the heartbeat.
            Some(Cmd::Stage(stage)) if stage.is_empty() => check(&mut conn).await,
            Some(Cmd::Stage(stage)) => {
                row.stage = stage;
                write(&mut conn, &claim, row).await
            }
        };
        if let Err(why) = result {
            conn = None;
            if !matches!(
                *tx.borrow(),
                LockState::Lost { .. } | LockState::Taken { .. }
            ) {
                tx.send_replace(LockState::Lost { why });
            }
        }
        if conn.is_none() {
            match regain(&claim, row).await {
                Ok(c) => {
                    conn = Some(c);
                    retry = Duration::from_secs(1);
                    tx.send_replace(LockState::Held);
                }
                Err(state) => {
                    tx.send_replace(state);
                    // Commands that arrive meanwhile update the row written when the lock is back.
                    tokio::time::sleep(retry).await;
                    retry = (retry * 2).min(RETRY_MAX);
                }
            }
        }
    }
}

/// Writes the row on the held session; `Err` when the session is gone.
async fn write(
    conn: &mut Option<PgConnection>,
    claim: &Claim,
    row: &RowInfo,
) -> Result<(), String> {
    let Some(c) = conn.as_mut() else {
        return Err("not connected".into());
    };
    answered(tokio::time::timeout(HEARTBEAT_TIMEOUT, write_row(c, claim, row)).await)
}

/// `SELECT 1` on the held session; `Err` when it is gone.
async fn check(conn: &mut Option<PgConnection>) -> Result<(), String> {
    let Some(c) = conn.as_mut() else {
        return Err("not connected".into());
    };
    answered(tokio::time::timeout(HEARTBEAT_TIMEOUT, sqlx::raw_sql("SELECT 1").execute(c)).await)
}

/// A statement on the held session, run within [`HEARTBEAT_TIMEOUT`]: `Err` says why the session counts as gone.
fn answered<T>(
    result: Result<Result<T, sqlx::Error>, tokio::time::error::Elapsed>,
) -> Result<(), String> {
    match result {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(super::db_text(&e)),
        Err(_) => Err("the team database did not answer".into()),
    }
}

/// Reconnects and takes the lock again; the state to show when that is not possible.
async fn regain(claim: &Claim, row: &RowInfo) -> Result<PgConnection, LockState> {
    let mut conn = connect(&claim.team)
        .await
        .map_err(|e| LockState::Lost { why: e.to_string() })?;
    let lost = |e: sqlx::Error| LockState::Lost {
        why: super::db_text(&e),
    };
    if !try_lock(&mut conn, claim).await.map_err(lost)? {
        let by = holder(&mut conn, claim).await.map_err(lost)?;
        return Err(LockState::Taken { by: Box::new(by) });
    }
    write_row(&mut conn, claim, row).await.map_err(lost)?;
    Ok(conn)
}
