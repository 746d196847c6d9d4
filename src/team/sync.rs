//! The shared journal: every entry of a run's local journal copied to the team database, in order, exactly once.
//! The local journal is the source of truth and the buffer: the copier reads the lines appended since its last
//! read, inserts those the team does not have (`(run_id, seq)` is the key, so a batch re-sent after a lost commit
//! adds nothing twice), and `NOTIFY`s watchers. While the team database is unreachable the lines wait in the file;
//! after it is back they are caught up. [`catch_up`] does the same for earlier runs a console ended before they
//! were copied.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::{TeamError, connect, schema, table};
use crate::journal::{Entry, Event};
use crate::plan::Team;

/// The longest wait between two attempts while the team database is unreachable.
const RETRY_MAX: Duration = Duration::from_secs(30);
/// The channel watchers `LISTEN` on; the payload is `run_id:seq` of the newest entry.
pub const CHANNEL: &str = "deckhand_journal";

/// How far the copy is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SyncState {
    /// The newest entry the team database has.
    pub synced: u64,
    /// The newest entry of the local journal read so far.
    pub local: u64,
    /// Why the last attempt failed, while it has not succeeded since.
    pub error: Option<String>,
}

/// A run's journal being copied.
pub struct JournalSync {
    journal: PathBuf,
    wrote: Arc<Notify>,
    state: watch::Receiver<SyncState>,
    stop: Arc<Notify>,
    task: Option<JoinHandle<()>>,
}

impl JournalSync {
    /// Starts copying `journal` (of run `run_id`).
    pub fn start(team: Team, run_id: String, journal: PathBuf) -> JournalSync {
        let wrote = Arc::new(Notify::new());
        let stop = Arc::new(Notify::new());
        let (tx, state) = watch::channel(SyncState::default());
        let mut copier = Copier {
            team,
            run_id,
            journal: journal.clone(),
            offset: 0,
            partial: Vec::new(),
            queue: Vec::new(),
            conn: None,
            state: tx,
        };
        let (w, s) = (wrote.clone(), stop.clone());
        let task = tokio::spawn(async move { copier.run(&w, &s).await });
        wrote.notify_one();
        JournalSync {
            journal,
            wrote,
            state,
            stop,
            task: Some(task),
        }
    }

    /// The local journal has new lines.
    pub fn wrote(&self) {
        self.wrote.notify_one();
    }

    pub fn states(&self) -> watch::Receiver<SyncState> {
        self.state.clone()
    }

    /// Copies what is left, waiting at most `limit`; what could not be copied stays in the local journal for
    /// [`catch_up`]. Returns how far the copy got.
    pub async fn finish(mut self, limit: Duration) -> SyncState {
        self.wrote.notify_one();
        // Everything written so far, as the file says now (the copier may not have read the last lines yet).
        let newest = crate::journal::read_entries(&self.journal)
            .ok()
            .and_then(|e| e.last().map(|e| e.seq))
            .unwrap_or(0);
        let mut state = self.state.clone();
        let caught_up = state.wait_for(|s| s.synced >= newest);
        let _ = tokio::time::timeout(limit, caught_up).await;
        self.stop.notify_one();
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.state.borrow().clone()
    }
}

impl Drop for JournalSync {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

struct Copier {
    team: Team,
    run_id: String,
    journal: PathBuf,
    /// Bytes of the journal read so far.
    offset: u64,
    /// An unfinished last line.
    partial: Vec<u8>,
    /// Read, not yet in the team database.
    queue: Vec<Entry>,
    conn: Option<PgConnection>,
    state: watch::Sender<SyncState>,
}

impl Copier {
    async fn run(&mut self, wrote: &Notify, stop: &Notify) {
        let mut retry = Duration::from_secs(1);
        loop {
            tokio::select! {
                () = wrote.notified() => {}
                () = stop.notified() => return,
            }
            loop {
                match self.round().await {
                    Ok(()) => {
                        retry = Duration::from_secs(1);
                        break;
                    }
                    Err(e) => {
                        self.conn = None;
                        self.state.send_modify(|s| s.error = Some(e.to_string()));
                        tokio::select! {
                            () = tokio::time::sleep(retry) => {}
                            () = stop.notified() => return,
                        }
                        retry = (retry * 2).min(RETRY_MAX);
                    }
                }
            }
        }
    }

    /// Reads what is new and copies everything the team does not have yet.
    async fn round(&mut self) -> Result<(), TeamError> {
        let fresh = read_new(&self.journal, &mut self.offset, &mut self.partial).map_err(|e| {
            TeamError::Query(format!("cannot read {}: {e}", self.journal.display()))
        })?;
        self.queue.extend(fresh);
        let local = self
            .queue
            .last()
            .map_or(self.state.borrow().local, |e| e.seq);
        self.state.send_modify(|s| s.local = local);
        if self.queue.is_empty() {
            return Ok(());
        }
        if self.conn.is_none() {
            let mut conn = connect(&self.team).await?;
            schema::require(&mut conn, &self.team).await?;
            self.conn = Some(conn);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let synced = copy(conn, &self.team, &self.run_id, &self.queue).await?;
        self.queue.clear();
        self.state.send_modify(|s| {
            s.synced = synced;
            s.error = None;
        });
        Ok(())
    }
}

/// The complete lines appended to `path` since `offset`, as entries (a line that does not parse is skipped: the
/// local journal keeps it).
fn read_new(path: &Path, offset: &mut u64, partial: &mut Vec<u8>) -> std::io::Result<Vec<Entry>> {
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(*offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    *offset += bytes.len() as u64;
    partial.extend_from_slice(&bytes);
    let Some(end) = partial.iter().rposition(|b| *b == b'\n') else {
        return Ok(Vec::new());
    };
    let complete: Vec<u8> = partial.drain(..=end).collect();
    Ok(complete
        .split(|b| *b == b'\n')
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .filter_map(|l| serde_json::from_slice::<Entry>(l).ok())
        .collect())
}

/// Inserts `entries` of run `run_id` (and the run's row, from its first entry) in one transaction, then tells
/// watchers. Returns the newest sequence number the team database now has.
async fn copy(
    conn: &mut PgConnection,
    team: &Team,
    run_id: &str,
    entries: &[Entry],
) -> Result<u64, TeamError> {
    let mut tx = conn.begin().await?;
    if let Some(Entry {
        event:
            Event::RunStarted {
                project,
                environment,
                user,
                host,
                ..
            },
        ..
    }) = entries
        .iter()
        .find(|e| matches!(e.event, Event::RunStarted { .. }))
    {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {} (run_id, project, environment, operator, host) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (run_id) DO NOTHING",
            table(team, "runs")
        )))
        .bind(run_id)
        .bind(project)
        .bind(environment)
        .bind(team_operator(user))
        .bind(host)
        .execute(&mut *tx)
        .await?;
    }
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq as i64).collect();
    let ts: Vec<&str> = entries.iter().map(|e| e.ts.as_str()).collect();
    let values: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or_default())
        .collect();
    let kinds: Vec<String> = values
        .iter()
        .map(|v| v["event"].as_str().unwrap_or("unknown").to_string())
        .collect();
    let docs: Vec<String> = values.iter().map(ToString::to_string).collect();
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {} (run_id, seq, ts, event, entry)
         SELECT $1, s, t, k, d::jsonb FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS u(s, t, k, d)
         ON CONFLICT (run_id, seq) DO NOTHING",
        table(team, "journal")
    )))
    .bind(run_id)
    .bind(&seqs)
    .bind(&ts)
    .bind(&kinds)
    .bind(&docs)
    .execute(&mut *tx)
    .await?;
    let newest: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT coalesce(max(seq), 0) FROM {} WHERE run_id = $1",
        table(team, "journal")
    )))
    .bind(run_id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(format!("{run_id}:{newest}"))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(newest.max(0) as u64)
}

/// The operator as the team sees it: the journal's user line without its `(sudo by …)` part.
fn team_operator(user: &str) -> String {
    user.split(" (sudo by ").next().unwrap_or(user).to_string()
}

/// Copies whatever the team database lacks of the local runs `runs` (ids and journal paths): the ones a console
/// ended while the team database was unreachable. Returns how many entries were added.
pub async fn catch_up(team: &Team, runs: &[(String, PathBuf)]) -> Result<u64, TeamError> {
    let mut conn = connect(team).await?;
    schema::require(&mut conn, team).await?;
    let mut added = 0;
    for (run_id, path) in runs {
        let have: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT coalesce(max(seq), 0) FROM {} WHERE run_id = $1",
            table(team, "journal")
        )))
        .bind(run_id)
        .fetch_one(&mut conn)
        .await?;
        let Ok(entries) = crate::journal::read_entries(path) else {
            continue;
        };
        let missing: Vec<Entry> = entries
            .into_iter()
            .filter(|e| e.seq as i64 > have)
            .collect();
        if missing.is_empty() {
            continue;
        }
        added += missing.len() as u64;
        copy(&mut conn, team, run_id, &missing).await?;
    }
    let _ = conn.close().await;
    Ok(added)
}
