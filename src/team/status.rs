//! Reading the team database back: who is releasing what (`deckhand team status`), the team's runs (`deckhand
//! history` with `[team]`) and one run's journal (`deckhand report` with `[team]`).

use std::path::PathBuf;

use sqlx::{AssertSqlSafe, Connection, Row};

use super::lock::{Holder, holders};
use super::{TeamError, connect, schema, table};
use crate::journal::{Entry, RunSummary, summarize_entries};
use crate::plan::Team;

/// Every release lock row, each with whether its holder's session still holds it.
pub async fn releases(team: &Team) -> Result<Vec<Holder>, TeamError> {
    let mut conn = connect(team).await?;
    schema::require(&mut conn, team).await?;
    let found = holders(&mut conn, team, None).await?;
    let _ = conn.close().await;
    Ok(found)
}

/// The team's runs (of `project`, when given), oldest first, summarised as `deckhand history` shows local ones;
/// the newest `limit` only.
pub async fn runs(
    team: &Team,
    project: Option<&str>,
    limit: i64,
) -> Result<Vec<RunSummary>, TeamError> {
    let mut conn = connect(team).await?;
    schema::require(&mut conn, team).await?;
    let sql = format!(
        "SELECT r.run_id, j.entry::text AS entry
           FROM (SELECT run_id, started_at FROM {runs} WHERE $1::text IS NULL OR project = $1
                  ORDER BY started_at DESC, run_id DESC LIMIT $2) r
           JOIN {journal} j USING (run_id)
          ORDER BY r.started_at, r.run_id, j.seq",
        runs = table(team, "runs"),
        journal = table(team, "journal"),
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .bind(project)
        .bind(limit)
        .fetch_all(&mut conn)
        .await?;
    let _ = conn.close().await;
    let mut out: Vec<RunSummary> = Vec::new();
    let mut current: Option<(String, Vec<Entry>, usize)> = None;
    for row in rows {
        let run: String = row.try_get("run_id")?;
        let text: String = row.try_get("entry")?;
        if current.as_ref().is_some_and(|(r, ..)| *r != run)
            && let Some((r, entries, bad)) = current.take()
        {
            out.push(summary(r, &entries, bad));
        }
        let slot = current.get_or_insert_with(|| (run, Vec::new(), 0));
        match serde_json::from_str::<Entry>(&text) {
            Ok(e) => slot.1.push(e),
            Err(_) => slot.2 += 1,
        }
    }
    if let Some((r, entries, bad)) = current {
        out.push(summary(r, &entries, bad));
    }
    Ok(out)
}

fn summary(run: String, entries: &[Entry], bad: usize) -> RunSummary {
    let place = PathBuf::from(format!("team:{run}"));
    summarize_entries(run, &place, entries, bad)
}

/// The journal of the run whose id is `run` or starts with it (the newest run when `None`), in order.
pub async fn journal(team: &Team, run: Option<&str>) -> Result<(String, Vec<Entry>), TeamError> {
    let mut conn = connect(team).await?;
    schema::require(&mut conn, team).await?;
    let runs = table(team, "runs");
    let ids: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT run_id FROM {runs} WHERE $1::text IS NULL OR starts_with(run_id, $1)
          ORDER BY started_at DESC, run_id DESC LIMIT 2"
    )))
    .bind(run)
    .fetch_all(&mut conn)
    .await?;
    let id = match (ids.as_slice(), run) {
        ([one], _) | ([one, ..], None) => one.clone(),
        ([], Some(r)) => return Err(TeamError::Query(format!("no team run starts with {r}"))),
        ([], None) => return Err(TeamError::Query("the team has no runs yet".into())),
        (_, Some(r)) => {
            return Err(TeamError::Query(format!(
                "{r} names more than one team run"
            )));
        }
    };
    let texts: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT entry::text FROM {} WHERE run_id = $1 ORDER BY seq",
        table(team, "journal")
    )))
    .bind(&id)
    .fetch_all(&mut conn)
    .await?;
    let _ = conn.close().await;
    let entries = texts
        .iter()
        .filter_map(|t| serde_json::from_str(t).ok())
        .collect();
    Ok((id, entries))
}
