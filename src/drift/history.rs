//! Which migrations make up the applied history: those the ledger says are applied, in the ledger's order, taken
//! from the files on disk; and what the comparison cannot vouch for because of the ledger's state (an edited file,
//! a failed migration, one missing on disk), said as notes. Pure; imports `migrate` (status and ledger types).

use crate::migrate::Migration;
use crate::migrate::ledger::{LedgerRow, RowState};
use crate::migrate::status::{self, State};

/// The migrations to replay, and the notes the report carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub migrations: Vec<Migration>,
    pub notes: Vec<String>,
}

/// The applied history of `migrations` (on disk, in the tool's order) according to the ledger `rows` (in the
/// tool's order).
pub fn applied(migrations: &[Migration], rows: &[LedgerRow]) -> History {
    let entries = status::compute(migrations, rows);
    // Where each migration was applied in the ledger's order: the first row that says it is applied.
    let position = |e: &status::Entry| {
        rows.iter()
            .position(|r| r.key == e.key && r.state == RowState::Applied)
            .unwrap_or(usize::MAX)
    };
    let mut chosen: Vec<(usize, usize)> = Vec::new();
    let mut notes = Vec::new();
    let mut pending = 0;
    for e in &entries {
        match (e.state, e.local) {
            (State::Applied, Some(i)) => chosen.push((position(e), i)),
            (State::Edited, Some(i)) => {
                chosen.push((position(e), i));
                notes.push(format!(
                    "{} was edited after it was applied: the history is replayed from the file as it is now, so \
                     what the edit changed shows as drift",
                    e.name
                ));
            }
            (State::Failed, _) => notes.push(format!(
                "{} failed part-way (the ledger says so) and is not replayed: what it did before failing shows \
                 as drift",
                e.name
            )),
            (State::MissingLocally, _) => notes.push(format!(
                "{} is in the ledger but not on disk, so it cannot be replayed: what it made shows as drift",
                e.name
            )),
            (State::Pending | State::OutOfOrder, _) => pending += 1,
            _ => {}
        }
    }
    if pending > 0 {
        notes.push(format!(
            "{pending} migration(s) not applied yet: not part of the history compared"
        ));
    }
    chosen.sort();
    History {
        migrations: chosen
            .into_iter()
            .map(|(_, i)| migrations[i].clone())
            .collect(),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::ledger::{LedgerKey, key_of};
    use crate::migrate::{Checksum, Format, Key, source};

    fn migration(stem: &str) -> Migration {
        let sql = format!("CREATE TABLE {stem} (id int);");
        Migration {
            format: Format::Plain,
            key: Key::Plain { stem: stem.into() },
            name: stem.into(),
            path: format!("{stem}.sql").into(),
            statements: Vec::new(),
            sql,
            down: None,
            no_transaction: None,
        }
    }

    fn row(m: &Migration, state: RowState, edited: bool) -> LedgerRow {
        let checksum = if edited {
            Checksum::Hex("0".repeat(64))
        } else {
            source::checksum(m)
        };
        LedgerRow {
            key: key_of(m),
            name: m.name.clone(),
            checksum,
            state,
            applied_at: None,
            detail: None,
        }
    }

    #[test]
    fn applied_in_ledger_order_with_notes_for_what_cannot_be_vouched_for() {
        let ms: Vec<Migration> = ["a", "b", "c", "d", "e"].map(migration).into();
        let gone = LedgerRow {
            key: LedgerKey::Name("z".into()),
            name: "z".into(),
            ..row(&ms[0], RowState::Applied, false)
        };
        let rows = vec![
            row(&ms[1], RowState::Applied, false),
            row(&ms[0], RowState::Applied, false),
            row(&ms[2], RowState::Applied, true),
            row(&ms[3], RowState::Failed, false),
            gone,
        ];
        let h = applied(&ms, &rows);
        let names: Vec<&str> = h.migrations.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["b", "a", "c"]);
        assert_eq!(h.notes.len(), 4, "{:?}", h.notes);
        assert!(h.notes[0].starts_with("c was edited"));
        assert!(h.notes[1].starts_with("d failed part-way"));
        assert!(h.notes[2].starts_with("z is in the ledger but not on disk"));
        assert!(h.notes[3].starts_with("1 migration(s) not applied yet"));
    }
}
