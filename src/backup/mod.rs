//! Backups of the plan's database: `pg_dump` with progress (PostgreSQL) or `VACUUM INTO` (SQLite), full-read
//! verification, restore, and rehearsal of the pending migrations on a restored copy. Each archive has a sidecar
//! record (`<archive>.json`) with its size, sha256 and verification. May import `plan` and `migrate`.

pub mod pg;
pub mod rehearse;
pub mod sqlite;
pub mod store;
mod types;

pub use types::*;
