//! What a restore would lose: each table's write counters recorded when a backup is taken (PostgreSQL's
//! `pg_stat_user_tables`, SQLite's row counts), read again before a restore, and the difference — rows inserted,
//! updated and deleted since the backup, tables created since, statistics reset since. Plain data and a pure diff;
//! the reading is in `pg::counters` and `sqlite::counters`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::types::{Archive, BackupError};
use crate::plan::Database;

/// Where the counters come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterSource {
    /// PostgreSQL's cumulative statistics: rows inserted, updated and deleted (approximate: they lag behind by a
    /// second or more, and count writes that were rolled back too).
    PgStatistics,
    /// SQLite keeps no such statistics: the exact number of rows in each table.
    RowCounts,
}

/// Rows written to a table since the statistics began (PostgreSQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Writes {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
}

impl Writes {
    pub fn total(&self) -> u64 {
        self.inserted
            .saturating_add(self.updated)
            .saturating_add(self.deleted)
    }
}

/// One table's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableCounter {
    /// `schema.table` (SQLite: the table's name).
    pub table: String,
    /// PostgreSQL: the table's oid; another oid under the same name is a table dropped and created again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oid: Option<u64>,
    /// PostgreSQL: rows written since the statistics began.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<Writes>,
    /// Rows in the table (PostgreSQL: the statistics' estimate, `n_live_tup`; SQLite: counted).
    pub rows: u64,
}

/// Every table's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// When they were read (this host's clock, like [`Archive::created_unix`]).
    pub at_unix: u64,
    pub source: CounterSource,
    /// PostgreSQL: when the database's statistics were last reset (`pg_stat_database.stats_reset`), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_reset_unix: Option<u64>,
    /// SQLite: when the database file (or its `-wal`) was last written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_unix: Option<u64>,
    pub tables: Vec<TableCounter>,
}

/// Reads the counters of the plan's database now.
pub async fn read_live(db: &Database) -> Result<Counters, BackupError> {
    if super::is_sqlite(db) {
        super::sqlite::counters::read_live(db).await
    } else {
        super::pg::counters::read_live(db).await
    }
}

/// One table's writes since the backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// PostgreSQL: rows inserted, updated and deleted since.
    Writes(Writes),
    /// SQLite: rows then and now.
    Rows { then: u64, now: u64 },
}

impl Change {
    /// How much changed, to rank tables by.
    pub fn weight(&self) -> u64 {
        match self {
            Change::Writes(w) => w.total(),
            Change::Rows { then, now } => then.abs_diff(*now),
        }
    }
}

/// What restoring a backup over the database now would lose, as far as the counters tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    /// When the backup was taken.
    pub backup_unix: u64,
    /// When the counters were read now (this host's clock).
    pub now_unix: u64,
    pub source: Option<CounterSource>,
    /// Nothing can be counted: why (the backup has no counters recorded, or they could not be read now).
    pub unknown: Option<String>,
    /// PostgreSQL: the statistics were reset after the backup, at this time: counts are since then only.
    pub reset_since: Option<u64>,
    /// Tables with writes since, most first.
    pub changed: Vec<(String, Change)>,
    /// Tables created since the backup (not in it), with their rows now.
    pub created: Vec<(String, u64)>,
    /// Tables whose writes cannot be counted: dropped and created again, or their counters reset.
    pub uncounted: Vec<String>,
    /// SQLite: the database file was written after the backup, at this time (updates do not change row counts).
    pub written_since: Option<u64>,
}

impl Loss {
    /// Whether the counters show no write at all since the backup.
    pub fn nothing(&self) -> bool {
        self.unknown.is_none()
            && self.changed.is_empty()
            && self.created.is_empty()
            && self.uncounted.is_empty()
            && self.reset_since.is_none()
            && self.written_since.is_none()
    }
}

/// Tables a migration tool keeps its ledger in: a restore takes them back with the migrations it undoes, which
/// the prompt already says; they are not the data at risk.
fn is_ledger(table: &str) -> bool {
    let name = table.rsplit('.').next().unwrap_or(table);
    matches!(
        name,
        "_prisma_migrations" | "_sqlx_migrations" | "__drizzle_migrations" | "deckhand_migrations"
    )
}

/// What restoring `backup` would lose, from its recorded counters and `now` (or why they could not be read).
pub fn loss(backup: &Archive, now: Result<&Counters, &str>, now_unix: u64) -> Loss {
    let mut out = Loss {
        backup_unix: backup.created_unix,
        now_unix,
        source: None,
        unknown: None,
        reset_since: None,
        changed: Vec::new(),
        created: Vec::new(),
        uncounted: Vec::new(),
        written_since: None,
    };
    let now = match now {
        Ok(now) => now,
        Err(why) => {
            out.unknown = Some(format!("the write counters could not be read: {why}"));
            return out;
        }
    };
    let Some(then) = backup.counters.as_ref() else {
        out.unknown = Some("no write counters were recorded with this backup".into());
        return out;
    };
    if then.source != now.source {
        out.unknown = Some("the backup's counters are of another kind of database".into());
        return out;
    }
    out.now_unix = now.at_unix;
    out.source = Some(now.source);
    if now.stats_reset_unix != then.stats_reset_unix {
        out.reset_since = now.stats_reset_unix.or(Some(now.at_unix));
    }
    out.written_since = now
        .modified_unix
        .filter(|m| *m >= backup.created_unix && now.source == CounterSource::RowCounts);
    let before: HashMap<&str, &TableCounter> =
        then.tables.iter().map(|t| (t.table.as_str(), t)).collect();
    for t in now.tables.iter().filter(|t| !is_ledger(&t.table)) {
        match before.get(t.table.as_str()) {
            None => out.created.push((t.table.clone(), t.rows)),
            Some(b) => match change(b, t, out.reset_since.is_some()) {
                Some(c) if c.weight() > 0 => out.changed.push((t.table.clone(), c)),
                Some(_) => {}
                None => out.uncounted.push(t.table.clone()),
            },
        }
    }
    out.changed
        .sort_by(|a, b| b.1.weight().cmp(&a.1.weight()).then(a.0.cmp(&b.0)));
    out
}

/// A table's change between its counters then and now; `None` when it cannot be counted. After a reset of the
/// statistics the counters start again from zero: what they say now is what was written since the reset.
fn change(then: &TableCounter, now: &TableCounter, reset: bool) -> Option<Change> {
    if then.oid.is_some() && now.oid.is_some() && then.oid != now.oid {
        return None;
    }
    match (then.writes, now.writes) {
        (Some(_), Some(n)) if reset => Some(Change::Writes(n)),
        (Some(b), Some(n)) => Some(Change::Writes(Writes {
            inserted: n.inserted.checked_sub(b.inserted)?,
            updated: n.updated.checked_sub(b.updated)?,
            deleted: n.deleted.checked_sub(b.deleted)?,
        })),
        (None, None) => Some(Change::Rows {
            then: then.rows,
            now: now.rows,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(at: u64, reset: Option<u64>, tables: &[(&str, u64, [u64; 3])]) -> Counters {
        Counters {
            at_unix: at,
            source: CounterSource::PgStatistics,
            stats_reset_unix: reset,
            modified_unix: None,
            tables: tables
                .iter()
                .map(|(name, oid, [i, u, d])| TableCounter {
                    table: (*name).into(),
                    oid: Some(*oid),
                    writes: Some(Writes {
                        inserted: *i,
                        updated: *u,
                        deleted: *d,
                    }),
                    rows: i - d,
                })
                .collect(),
        }
    }

    fn backup_with(counters: Option<Counters>) -> Archive {
        Archive {
            path: "/b/shop.dump".into(),
            kind: super::super::types::ArchiveKind::PgCustom,
            project: "shop".into(),
            environment: "production".into(),
            database: "db:5432/shop".into(),
            dbname: "shop".into(),
            created_unix: 1000,
            size: 1,
            sha256: String::new(),
            server_version: "15".into(),
            tool: "pg_dump".into(),
            took_ms: 1,
            verified: None,
            counters,
        }
    }

    #[test]
    fn writes_since_are_the_difference_most_first_and_new_tables_are_named() {
        let then = pg(
            1000,
            Some(10),
            &[
                ("public.accounts", 1, [2, 0, 0]),
                ("public.orders", 2, [10, 5, 1]),
                ("public.quiet", 3, [4, 0, 0]),
                ("public.swapped", 4, [4, 0, 0]),
                ("public._sqlx_migrations", 5, [3, 0, 0]),
            ],
        );
        let now = pg(
            1600,
            Some(10),
            &[
                ("public.accounts", 1, [3, 0, 0]),
                ("public.orders", 2, [12, 9, 1]),
                ("public.quiet", 3, [4, 0, 0]),
                ("public.swapped", 40, [1, 0, 0]),
                ("public._sqlx_migrations", 5, [4, 0, 0]),
                ("public.audit", 6, [7, 0, 0]),
            ],
        );
        let l = loss(&backup_with(Some(then)), Ok(&now), 1600);
        assert_eq!(l.unknown, None);
        assert_eq!(l.reset_since, None);
        let changed: Vec<(&str, u64)> = l
            .changed
            .iter()
            .map(|(t, c)| (t.as_str(), c.weight()))
            .collect();
        // The migration ledger is not the data at risk; a table without writes is not listed.
        assert_eq!(changed, vec![("public.orders", 6), ("public.accounts", 1)]);
        assert_eq!(l.created, vec![("public.audit".to_string(), 7)]);
        assert_eq!(l.uncounted, vec!["public.swapped".to_string()]);
        assert!(!l.nothing());
    }

    #[test]
    fn a_reset_after_the_backup_counts_from_the_reset() {
        let then = pg(1000, None, &[("public.accounts", 1, [50, 0, 0])]);
        let now = pg(1600, Some(1200), &[("public.accounts", 1, [2, 1, 0])]);
        let l = loss(&backup_with(Some(then)), Ok(&now), 1600);
        assert_eq!(l.reset_since, Some(1200));
        assert_eq!(
            l.changed,
            vec![(
                "public.accounts".to_string(),
                Change::Writes(Writes {
                    inserted: 2,
                    updated: 1,
                    deleted: 0
                })
            )]
        );
    }

    #[test]
    fn no_counters_or_no_reading_is_unknown_and_no_writes_is_nothing() {
        let now = pg(1600, None, &[("public.accounts", 1, [2, 0, 0])]);
        let l = loss(&backup_with(None), Ok(&now), 1600);
        assert!(l.unknown.as_deref().unwrap().contains("no write counters"));
        let l = loss(&backup_with(Some(now.clone())), Err("timed out"), 1700);
        assert!(l.unknown.as_deref().unwrap().contains("timed out"));
        assert_eq!(l.now_unix, 1700);
        let l = loss(&backup_with(Some(now.clone())), Ok(&now), 1600);
        assert!(l.nothing(), "{l:?}");
    }

    #[test]
    fn sqlite_compares_rows_and_the_files_time() {
        let rows = |n: u64, modified: Option<u64>| Counters {
            at_unix: 1000,
            source: CounterSource::RowCounts,
            stats_reset_unix: None,
            modified_unix: modified,
            tables: vec![TableCounter {
                table: "orders".into(),
                oid: None,
                writes: None,
                rows: n,
            }],
        };
        let l = loss(
            &backup_with(Some(rows(5, None))),
            Ok(&rows(7, Some(1200))),
            1300,
        );
        assert_eq!(
            l.changed,
            vec![("orders".to_string(), Change::Rows { then: 5, now: 7 })]
        );
        assert_eq!(l.written_since, Some(1200));
        // Same rows, but written since: not "nothing".
        let l = loss(
            &backup_with(Some(rows(5, None))),
            Ok(&rows(5, Some(1200))),
            1300,
        );
        assert!(l.changed.is_empty() && !l.nothing());
    }
}
