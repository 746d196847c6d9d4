//! Four-eyes approval (`[team] approve = ["production"]`): in those environments each destructive action, once its
//! operator confirmed it, waits for a second operator to approve exactly what will run. The request is a row in
//! `approvals` (what, the prompt's lines, who asked, until when); `deckhand approve` shows it and decides; the asking
//! console is woken by `LISTEN deckhand_approval`. Nobody approves their own request (checked here and by the
//! schema); a request can be withdrawn by its operator, and times out.

use std::time::Duration;

use sqlx::postgres::{PgConnection, PgListener};
use sqlx::{AssertSqlSafe, Connection, Row};
use tokio_util::sync::CancellationToken;

use super::{Identity, TeamError, connect, db_text, schema, table};
use crate::plan::Team;

/// The channel deciders `NOTIFY` on; the payload is the request's id.
pub const CHANNEL: &str = "deckhand_approval";

/// What a console asks a second operator to approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub run_id: String,
    pub project: String,
    pub environment: String,
    /// The prompt's title: `Run destructive phase: Deploy`.
    pub action: String,
    /// The prompt's lines, as the operator saw them (`Step 1: ./deploy.sh`).
    pub detail: Vec<String>,
    pub by: Identity,
    pub timeout: Duration,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Approved { by: String },
    Refused { by: String },
    Withdrawn,
    TimedOut,
}

/// What the console hears about its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalEvent {
    /// The request is on the team database under this id.
    Asked {
        id: i64,
    },
    Decided(Decision),
    /// It could not be asked or waited for (the action does not run).
    Failed(String),
}

/// A request waiting for a decision, as `deckhand approve` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub id: i64,
    pub run_id: String,
    pub project: String,
    pub environment: String,
    pub action: String,
    pub detail: String,
    pub requested_by: String,
    pub requested_on: String,
    pub requested_at: String,
    pub expires_at: String,
}

/// Files the request; its id.
pub async fn request(team: &Team, req: &Request) -> Result<i64, TeamError> {
    let mut conn = connect(team).await?;
    schema::require(&mut conn, team).await?;
    let mut tx = conn.begin().await?;
    let id: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "INSERT INTO {} (run_id, project, environment, action, detail, requested_by, requested_on, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8))
         RETURNING id",
        table(team, "approvals")
    )))
    .bind(&req.run_id)
    .bind(&req.project)
    .bind(&req.environment)
    .bind(&req.action)
    .bind(req.detail.join("\n"))
    .bind(req.by.name())
    .bind(&req.by.host)
    .bind(req.timeout.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    notify(&mut tx, id).await?;
    tx.commit().await?;
    let _ = conn.close().await;
    Ok(id)
}

async fn notify(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(id.to_string())
        .execute(conn)
        .await
        .map(|_| ())
}

/// Waits until request `id` is decided, withdrawn (`withdraw` cancelled: marked so, unless decided first) or times
/// out (marked so). Woken by the deciders' `NOTIFY`.
pub async fn decision(
    team: &Team,
    id: i64,
    withdraw: &CancellationToken,
) -> Result<Decision, TeamError> {
    let mut listener = PgListener::connect(&team.database.value)
        .await
        .map_err(|e| TeamError::Unreachable {
            target: super::target(team),
            message: db_text(&e),
        })?;
    listener.listen(CHANNEL).await?;
    let mut conn = connect(team).await?;
    loop {
        // Read after listening: a decision made in between is not missed.
        let (state, by, left) = read(&mut conn, team, id).await?;
        if let Some(d) = decided(&state, by) {
            return Ok(d);
        }
        if left <= 0.0 {
            end(&mut conn, team, id, "timed_out").await?;
            continue;
        }
        tokio::select! {
            () = withdraw.cancelled() => {
                end(&mut conn, team, id, "withdrawn").await?;
                let (state, by, _) = read(&mut conn, team, id).await?;
                return Ok(decided(&state, by).unwrap_or(Decision::Withdrawn));
            }
            got = listener.recv() => { got?; }
            () = tokio::time::sleep(Duration::from_secs_f64(left)) => {}
        }
    }
}

/// The request's state, who decided it, and the seconds left before it times out.
async fn read(
    conn: &mut PgConnection,
    team: &Team,
    id: i64,
) -> Result<(String, Option<String>, f64), TeamError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT state, decided_by, greatest(extract(epoch FROM expires_at - now()), 0)::float8 AS left
           FROM {} WHERE id = $1",
        table(team, "approvals")
    )))
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok((
        row.try_get("state")?,
        row.try_get("decided_by")?,
        row.try_get("left")?,
    ))
}

fn decided(state: &str, by: Option<String>) -> Option<Decision> {
    let by = by.unwrap_or_default();
    match state {
        "approved" => Some(Decision::Approved { by }),
        "refused" => Some(Decision::Refused { by }),
        "withdrawn" => Some(Decision::Withdrawn),
        "timed_out" => Some(Decision::TimedOut),
        _ => None,
    }
}

/// Ends a waiting request as `state` (withdrawn, timed out); a request already decided stays as it is.
async fn end(conn: &mut PgConnection, team: &Team, id: i64, state: &str) -> Result<(), TeamError> {
    sqlx::query(AssertSqlSafe(format!(
        "UPDATE {} SET state = $2, decided_at = now() WHERE id = $1 AND state = 'waiting'",
        table(team, "approvals")
    )))
    .bind(id)
    .bind(state)
    .execute(&mut *conn)
    .await?;
    notify(conn, id).await?;
    Ok(())
}

/// The requests waiting for a decision (of `project` `environment`, of runs whose id starts with `run`: each when
/// given), oldest first.
pub async fn waiting(
    team: &Team,
    place: Option<(&str, &str)>,
    run: Option<&str>,
) -> Result<Vec<Waiting>, TeamError> {
    let mut conn = connect(team).await?;
    schema::require(&mut conn, team).await?;
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT id, run_id, project, environment, action, detail, requested_by, requested_on,
                to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' AS requested_at,
                to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' AS expires_at
           FROM {} WHERE state = 'waiting' AND expires_at > now()
            AND ($1::text IS NULL OR (project = $1 AND environment = $2))
            AND ($3::text IS NULL OR starts_with(run_id, $3))
          ORDER BY id",
        table(team, "approvals")
    )))
    .bind(place.map(|p| p.0))
    .bind(place.map(|p| p.1))
    .bind(run)
    .fetch_all(&mut conn)
    .await?;
    let _ = conn.close().await;
    rows.iter()
        .map(|r| {
            Ok(Waiting {
                id: r.try_get("id")?,
                run_id: r.try_get("run_id")?,
                project: r.try_get("project")?,
                environment: r.try_get("environment")?,
                action: r.try_get("action")?,
                detail: r.try_get("detail")?,
                requested_by: r.try_get("requested_by")?,
                requested_on: r.try_get("requested_on")?,
                requested_at: r.try_get("requested_at")?,
                expires_at: r.try_get("expires_at")?,
            })
        })
        .collect()
}

/// Approves (or refuses) request `id` as `by`. Refused to the operator who asked; a request no longer waiting is
/// left as it is and said so.
pub async fn decide(team: &Team, id: i64, by: &Identity, approve: bool) -> Result<(), TeamError> {
    let mut conn = connect(team).await?;
    schema::require(&mut conn, team).await?;
    let approvals = table(team, "approvals");
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT requested_by, state, expires_at <= now() AS expired FROM {approvals} WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut conn)
    .await?
    .ok_or_else(|| TeamError::Query(format!("no approval request {id}")))?;
    let requested_by: String = row.try_get("requested_by")?;
    let state: String = row.try_get("state")?;
    let expired: bool = row.try_get("expired")?;
    if requested_by == by.name() {
        return Err(TeamError::Query(format!(
            "request {id} is yours ({requested_by}): another operator must approve it"
        )));
    }
    if state != "waiting" || expired {
        let state = if state == "waiting" {
            "timed_out"
        } else {
            &state
        };
        return Err(TeamError::Query(format!(
            "request {id} is no longer waiting: {}",
            state.replace('_', " ")
        )));
    }
    let mut tx = conn.begin().await?;
    let done = sqlx::query(AssertSqlSafe(format!(
        "UPDATE {approvals} SET state = $2, decided_by = $3, decided_at = now()
          WHERE id = $1 AND state = 'waiting' AND expires_at > now()"
    )))
    .bind(id)
    .bind(if approve { "approved" } else { "refused" })
    .bind(by.name())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(TeamError::Query(format!(
            "request {id} was decided, withdrawn or timed out meanwhile"
        )));
    }
    notify(&mut tx, id).await?;
    tx.commit().await?;
    let _ = conn.close().await;
    Ok(())
}
