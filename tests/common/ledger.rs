//! A Prisma migrations folder and its ledger as the migrations runner reports them, for `update()` tests: each
//! migration adds a column, each entry is in the given state.

use std::path::PathBuf;

use deckhand::migrate::ledger::LedgerKey;
use deckhand::migrate::status::{Entry, State as MState, Status};
use deckhand::migrate::{Format, Key, Migration};
use deckhand::runner::migrate::Snapshot;

pub fn migration(name: &str) -> Migration {
    Migration {
        format: Format::Prisma,
        key: Key::Prisma { name: name.into() },
        name: name.into(),
        path: PathBuf::from(format!("prisma/migrations/{name}/migration.sql")),
        sql: "ALTER TABLE users ADD COLUMN x int;\n".into(),
        statements: Vec::new(),
        down: None,
        no_transaction: None,
    }
}

pub fn snapshot(states: &[(&str, MState)]) -> Snapshot {
    Snapshot {
        format: Format::Prisma,
        migrations: states.iter().map(|(n, _)| migration(n)).collect(),
        status: Status {
            format: "prisma".into(),
            target: "db.internal:5432/shop".into(),
            entries: states
                .iter()
                .enumerate()
                .map(|(i, (n, s))| Entry {
                    name: n.to_string(),
                    state: *s,
                    local: Some(i),
                    key: LedgerKey::Name(n.to_string()),
                    applied_at: None,
                    detail: None,
                })
                .collect(),
            invalid_indexes: Vec::new(),
        },
        reports: vec![None; states.len()],
        downs: Vec::new(),
        notes: Vec::new(),
    }
}
