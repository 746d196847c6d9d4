//! Status of each migration, computed from the files on disk and the tool's ledger: applied, pending, failed,
//! edited, missing locally, out of order. `compute` is pure; `read` asks the database (ledger rows, and indexes
//! left INVALID by a failed `CREATE INDEX CONCURRENTLY`).

use std::collections::HashMap;

use serde::Serialize;

use super::db::Db;
use super::error::MigrateError;
use super::index::InvalidIndex;
use super::ledger::{self, LedgerKey, LedgerRow, RowState};
use super::{Format, Migration, source};

/// Where one migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Applied,
    Pending,
    /// Started and not finished, or recorded as unsuccessful.
    Failed,
    /// Applied, but the file on disk no longer has the checksum the ledger recorded.
    Edited,
    /// In the ledger, not on disk.
    MissingLocally,
    /// Pending, but older than the newest applied migration (Drizzle would skip it silently).
    OutOfOrder,
}

impl State {
    pub fn label(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Failed => "FAILED",
            State::Edited => "EDITED",
            State::MissingLocally => "MISSING LOCALLY",
            State::OutOfOrder => "OUT OF ORDER",
        }
    }

    /// States `deckhand status` reports as problems (exit 1).
    pub fn is_problem(self) -> bool {
        !matches!(self, State::Applied | State::Pending)
    }

    /// States that block an apply until resolved. An out-of-order migration does not: Prisma and sqlx apply it
    /// (only Drizzle would skip it), so deckhand applies it too, saying so in the confirmation.
    pub fn blocks_apply(self) -> bool {
        matches!(self, State::Failed | State::Edited | State::MissingLocally)
    }
}

/// One line of the status table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub name: String,
    pub state: State,
    /// Index into the migrations on disk, when the migration is on disk.
    #[serde(skip)]
    pub local: Option<usize>,
    #[serde(skip)]
    pub key: LedgerKey,
    pub applied_at: Option<String>,
    /// What the ledger says went wrong, or why it is a problem.
    pub detail: Option<String>,
}

/// The whole status of a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub format: String,
    pub target: String,
    pub entries: Vec<Entry>,
    /// Indexes PostgreSQL marks INVALID (what a failed `CREATE INDEX CONCURRENTLY` leaves behind). They block
    /// an apply until dropped.
    pub invalid_indexes: Vec<InvalidIndex>,
}

impl Status {
    pub fn count(&self, state: State) -> usize {
        self.entries.iter().filter(|e| e.state == state).count()
    }

    pub fn problems(&self) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| e.state.is_problem())
            .collect()
    }

    /// Entries that must be resolved before an apply.
    pub fn blocking(&self) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| e.state.blocks_apply())
            .collect()
    }

    /// Why an apply cannot start, one line each: the entries to resolve, then the invalid indexes to drop.
    pub fn apply_blockers(&self) -> Vec<String> {
        let entries = self
            .blocking()
            .into_iter()
            .map(|e| format!("{} is {}", e.name, e.state.label().to_lowercase()));
        let indexes = self.invalid_indexes.iter().map(|i| {
            format!(
                "index {} on {} is INVALID (left by a failed CREATE INDEX CONCURRENTLY): drop it first",
                i.display_name(),
                i.table
            )
        });
        entries.chain(indexes).collect()
    }

    /// Indexes of the migrations on disk that an apply would run, in order (pending and out of order).
    pub fn pending(&self) -> Vec<usize> {
        self.entries
            .iter()
            .filter(|e| matches!(e.state, State::Pending | State::OutOfOrder))
            .filter_map(|e| e.local)
            .collect()
    }

    /// `deckhand status` exit code: 0 all applied, 3 pending, 1 problems.
    pub fn exit_code(&self) -> i32 {
        if !self.problems().is_empty() || !self.invalid_indexes.is_empty() {
            1
        } else if self.count(State::Pending) > 0 {
            3
        } else {
            0
        }
    }
}

/// The row that counts for each key: rolled-back rows are history; an unfinished one wins over a finished one
/// (Prisma refuses to deploy while any row of a migration is unfinished, P3009); otherwise the last one.
fn effective(rows: &[LedgerRow]) -> HashMap<&LedgerKey, &LedgerRow> {
    let mut map: HashMap<&LedgerKey, &LedgerRow> = HashMap::new();
    for r in rows.iter().filter(|r| r.state != RowState::RolledBack) {
        let keep_failed = map
            .get(&r.key)
            .is_some_and(|old| old.state == RowState::Failed);
        if !keep_failed {
            map.insert(&r.key, r);
        }
    }
    map
}

/// Status of each migration on disk, then of each ledger row with no file.
pub fn compute(migrations: &[Migration], rows: &[LedgerRow]) -> Vec<Entry> {
    let rows_by_key = effective(rows);
    let newest_applied = rows_by_key
        .values()
        .filter(|r| r.state == RowState::Applied)
        .map(|r| &r.key)
        .max();
    let mut entries = Vec::with_capacity(migrations.len());
    for (i, m) in migrations.iter().enumerate() {
        let key = ledger::key_of(m);
        let row = rows_by_key.get(&key);
        let (state, detail) = match row {
            Some(r) if r.state == RowState::Failed => (State::Failed, r.detail.clone()),
            Some(r) if source::checksum_matches(m, &r.checksum) => (State::Applied, None),
            Some(_) => (
                State::Edited,
                Some(
                    "the file changed after it was applied (checksum differs from the ledger)"
                        .into(),
                ),
            ),
            None if newest_applied.is_some_and(|newest| &key < newest) => (
                State::OutOfOrder,
                Some("older than the newest applied migration".into()),
            ),
            None => (State::Pending, None),
        };
        entries.push(Entry {
            name: m.name.clone(),
            state,
            local: Some(i),
            key,
            applied_at: row.and_then(|r| r.applied_at.clone()),
            detail,
        });
    }
    let mut missing: Vec<&&LedgerRow> = rows_by_key
        .values()
        .filter(|r| !migrations.iter().any(|m| ledger::key_of(m) == r.key))
        .collect();
    missing.sort_by(|a, b| a.key.cmp(&b.key));
    entries.extend(missing.into_iter().map(|r| Entry {
        name: r.name.clone(),
        state: State::MissingLocally,
        local: None,
        key: r.key.clone(),
        applied_at: r.applied_at.clone(),
        detail: Some("in the ledger but not on disk".into()),
    }));
    entries
}

/// Reads the ledger (and, on PostgreSQL, invalid indexes) and computes the status.
pub async fn read(
    db: &mut Db,
    format: Format,
    migrations: &[Migration],
) -> Result<Status, MigrateError> {
    ledger::check_supported(format, db.backend)?;
    let rows = ledger::read(db, format).await?;
    let invalid_indexes = super::index::invalid(db).await?;
    Ok(Status {
        format: format.name().to_string(),
        target: db.target.clone(),
        entries: compute(migrations, &rows),
        invalid_indexes,
    })
}
