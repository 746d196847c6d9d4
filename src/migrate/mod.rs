//! Migrations: reading the migration folders of Prisma, sqlx, Drizzle and plain SQL (`source`), splitting SQL into
//! statements (`split`), the tools' own ledgers on PostgreSQL and SQLite, status, apply, dry-run and resolve.
//! Imports nothing of deckhand but `plan` (types, and `human_duration` for durations in messages) and the leaf
//! `sanitize` (a lock holder's query and names, read from the database, are made inert before any message holds them).

pub mod apply;
pub mod db;
pub mod error;
pub mod execution;
pub mod index;
pub mod ledger;
pub mod lock;
pub mod record;
pub mod resolve;
pub mod revert;
pub mod source;
pub mod split;
pub mod status;

pub use error::MigrateError;

use std::fmt;
use std::path::PathBuf;

/// The migration tool whose folder layout and ledger deckhand follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `<dir>/<timestamp>_<name>/migration.sql`; ledger `_prisma_migrations`.
    Prisma,
    /// `<dir>/<version>_<description>.sql` (or `.up.sql`/`.down.sql`); ledger `_sqlx_migrations`.
    Sqlx,
    /// `<dir>/<tag>.sql` + `<dir>/meta/_journal.json`; ledger `drizzle.__drizzle_migrations`.
    Drizzle,
    /// `<dir>/*.sql` in name order, optional `<name>.down.sql`; ledger `deckhand_migrations`.
    Plain,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Prisma => "prisma",
            Format::Sqlx => "sqlx",
            Format::Drizzle => "drizzle",
            Format::Plain => "plain",
        }
    }
}

impl Format {
    /// The format a plan names (`prisma`, `sqlx`, `drizzle`, `plain`).
    pub fn from_name(name: &str) -> Option<Format> {
        [Format::Prisma, Format::Sqlx, Format::Drizzle, Format::Plain]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a migration sits in its tool's order, and how the tool's ledger identifies it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// The folder name (`20240101120000_add_users`); ordered by name like Prisma.
    Prisma { name: String },
    /// The integer version prefix and sqlx's description (file name after `_`, `_` → space, suffix removed).
    Sqlx { version: i64, description: String },
    /// The journal entry's `when` (ms since epoch, the ledger's `created_at`), then its index and tag.
    Drizzle { when: i64, idx: u32, tag: String },
    /// The file stem (`0003_add_index`); ordered by name.
    Plain { stem: String },
}

/// One statement of a migration file, with where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement's text as written (without the terminating `;`, trimmed of surrounding whitespace).
    pub sql: String,
    /// Byte offset of the statement's first character in the file.
    pub offset: usize,
    /// 1-based line and column (in characters) of the first character.
    pub line: usize,
    pub column: usize,
}

/// One migration as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub format: Format,
    pub key: Key,
    /// What the operator sees: Prisma folder name, sqlx/plain file stem, Drizzle tag.
    pub name: String,
    /// The SQL file.
    pub path: PathBuf,
    /// The file's exact contents (checksums are computed over these bytes).
    pub sql: String,
    /// The statements in order (Drizzle: split on `--> statement-breakpoint`; others: by the SQL splitter).
    pub statements: Vec<Statement>,
    /// The down (revert) migration, when the format and the folder have one.
    pub down: Option<PathBuf>,
    /// Why this file cannot run inside a transaction block (e.g. "CREATE INDEX CONCURRENTLY at line 3"), if so.
    pub no_transaction: Option<String>,
}

/// The checksum the tool's ledger stores for a migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// Lowercase hex text (Prisma and Drizzle: sha256; plain: sha256).
    Hex(String),
    /// Raw bytes (sqlx: SHA-384).
    Bytes(Vec<u8>),
}

/// A plan's migrations: their format (named by the plan or detected) and the migrations on disk, in order.
#[derive(Debug, Clone)]
pub struct Target {
    pub format: Format,
    pub dir: PathBuf,
    pub migrations: Vec<Migration>,
}

/// Reads the migrations folder of a plan's `[database]`.
pub fn load(spec: &crate::plan::Database) -> Result<Target, MigrateError> {
    let format = match spec.format.as_deref() {
        Some(name) => Format::from_name(name).ok_or_else(|| source::SourceError {
            path: spec.migrations.display().to_string(),
            message: format!("unknown migration format {name}"),
        })?,
        None => source::detect(&spec.migrations)?,
    };
    Ok(Target {
        format,
        dir: spec.migrations.clone(),
        migrations: source::read(&spec.migrations, format)?,
    })
}

/// deckhand's session settings for a plan's `[database]`.
pub fn settings(spec: &crate::plan::Database) -> db::Settings {
    db::Settings {
        lock_timeout: spec.lock_timeout,
        statement_timeout: spec.statement_timeout,
    }
}

/// Connects to a plan's database and reads the status of its migrations.
pub async fn read_status(
    spec: &crate::plan::Database,
) -> Result<(Target, status::Status), MigrateError> {
    let target = load(spec)?;
    let mut db = db::connect(&spec.url.value, &settings(spec)).await?;
    let st = status::read(&mut db, target.format, &target.migrations).await?;
    Ok((target, st))
}
