//! Following a run from elsewhere (`deckhand watch`): its journal as the team database has it, then each new entry
//! as the run's console copies it (woken by `LISTEN deckhand_journal`, never by polling the journal), until the run
//! records its end — or its console is gone without one (its release lock freed with no `quit` entry). Read-only:
//! nothing here writes to the team database.

use std::time::Duration;

use sqlx::postgres::{PgConnection, PgListener};
use sqlx::{AssertSqlSafe, Row};

use super::{TeamError, connect, schema, table};
use crate::journal::{Entry, Event};
use crate::plan::Team;

/// How often, with nothing new, the watcher checks that the run's console still holds its lock.
const ALIVE_CHECK: Duration = Duration::from_secs(2);

/// How a watched run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It recorded its end (exit code and reason).
    Quit { exit_code: i32, reason: String },
    /// Its console is gone without recording an end (killed, or cut off while the team database was away).
    Gone,
}

/// Which run to watch: `run` (an id or a unique prefix), else the run releasing `project` `environment` now, else
/// its newest one.
pub async fn pick(
    team: &Team,
    run: Option<&str>,
    place: Option<(&str, &str)>,
) -> Result<String, TeamError> {
    let mut conn = connect(team).await?;
    schema::require(&mut conn, team).await?;
    if let Some(prefix) = run {
        let ids: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT run_id FROM {} WHERE starts_with(run_id, $1) ORDER BY run_id LIMIT 2",
            table(team, "runs")
        )))
        .bind(prefix)
        .fetch_all(&mut conn)
        .await?;
        return match ids.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(TeamError::Query(format!(
                "no team run starts with {prefix}"
            ))),
            _ => Err(TeamError::Query(format!(
                "{prefix} names more than one team run"
            ))),
        };
    }
    let Some((project, environment)) = place else {
        return Err(TeamError::Query(
            "name a run, or a project and environment".into(),
        ));
    };
    let live = super::lock::holders(&mut conn, team, Some((project, environment))).await?;
    if let Some(h) = live.into_iter().find(|h| h.live && !h.run_id.is_empty()) {
        return Ok(h.run_id);
    }
    let newest: Option<String> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT run_id FROM {} WHERE project = $1 AND environment = $2 ORDER BY started_at DESC, run_id DESC LIMIT 1",
        table(team, "runs")
    )))
    .bind(project)
    .bind(environment)
    .fetch_optional(&mut conn)
    .await?;
    newest.ok_or_else(|| {
        TeamError::Query(format!(
            "the team has no run of {project} {environment} yet"
        ))
    })
}

/// Shows every entry of `run` through `show`, in order, as they arrive, until the run ends.
pub async fn follow(
    team: &Team,
    run: &str,
    show: &mut (dyn FnMut(&Entry) + Send),
) -> Result<Ended, TeamError> {
    let mut listener = PgListener::connect(&team.database.value)
        .await
        .map_err(|e| TeamError::Unreachable {
            target: super::target(team),
            message: super::db_text(&e),
        })?;
    listener.listen(super::sync::CHANNEL).await?;
    let mut conn = connect(team).await?;
    schema::require(&mut conn, team).await?;
    let mut seen = 0i64;
    loop {
        // Read after listening: nothing copied in between is missed.
        for entry in newer(&mut conn, team, run, seen).await? {
            seen = seen.max(entry.seq as i64);
            show(&entry);
            if let Event::Quit {
                exit_code, reason, ..
            } = &entry.event
            {
                return Ok(Ended::Quit {
                    exit_code: *exit_code,
                    reason: reason.clone(),
                });
            }
        }
        match tokio::time::timeout(ALIVE_CHECK, listener.recv()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) if !alive(&mut conn, team, run).await? => {
                // One last read: the console may have copied its end just before going.
                let last = newer(&mut conn, team, run, seen).await?;
                let quit = last.iter().find_map(|e| match &e.event {
                    Event::Quit {
                        exit_code, reason, ..
                    } => Some(Ended::Quit {
                        exit_code: *exit_code,
                        reason: reason.clone(),
                    }),
                    _ => None,
                });
                last.iter().for_each(&mut *show);
                return Ok(quit.unwrap_or(Ended::Gone));
            }
            Err(_) => {}
        }
    }
}

/// The entries of `run` after `seq`, in order.
async fn newer(
    conn: &mut PgConnection,
    team: &Team,
    run: &str,
    seq: i64,
) -> Result<Vec<Entry>, TeamError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT entry::text AS entry FROM {} WHERE run_id = $1 AND seq > $2 ORDER BY seq",
        table(team, "journal")
    )))
    .bind(run)
    .bind(seq)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>("entry").ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect())
}

/// Whether a console still holds the release lock for `run`.
async fn alive(conn: &mut PgConnection, team: &Team, run: &str) -> Result<bool, TeamError> {
    let all = super::lock::holders(conn, team, None).await?;
    Ok(all.iter().any(|h| h.live && h.run_id == run))
}
