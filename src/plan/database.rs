//! The `[database]` section: where the database is (URL, interpolated; its password never shown), where its
//! migrations are, which tool's format they follow, and the timeouts deckhand applies while migrating.

use std::time::Duration;

use toml::Spanned;

use super::build::Builder;
use super::error::PlanError;
use super::raw::RawDatabase;
use super::types::{Database, MIGRATION_FORMATS};

/// Default `lock_timeout`: how long one statement may wait for a table lock.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(2);
/// Default `lock_wait`: how long deckhand waits for the migration tool's advisory lock.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10);
/// Default `impact_timeout`: how long one data-impact count may run on the live database before deckhand estimates
/// from statistics or a sample instead.
pub const DEFAULT_IMPACT_TIMEOUT: Duration = Duration::from_secs(3);

impl Builder<'_> {
    pub(super) fn database(&self, raw: &Spanned<RawDatabase>) -> Result<Database, PlanError> {
        let table = raw.span();
        let d = raw.get_ref();
        let url = self.required(
            d.url.as_ref(),
            table.clone(),
            "database.url",
            "url = \"${DATABASE_URL}\"",
        )?;
        let scheme_ok = ["postgres://", "postgresql://", "sqlite:"]
            .iter()
            .any(|s| url.value.starts_with(s));
        if !scheme_ok {
            let span = d.url.as_ref().map_or(table.clone(), Spanned::span);
            let message = format!(
                "unsupported database URL \"{}\": expected postgres://…, postgresql://… or sqlite:…",
                url.display
            );
            return Err(self.err(span, "database.url", &message));
        }
        if let Some(why) = postgres_url_problem(&url.value) {
            let span = d.url.as_ref().map_or(table.clone(), Spanned::span);
            let message = format!("invalid database URL \"{}\": {why}", url.display);
            return Err(self.err(span, "database.url", &message));
        }
        let migrations = self.required(
            d.migrations.as_ref(),
            table.clone(),
            "database.migrations",
            "migrations = \"<folder>\", e.g. \"prisma/migrations\"",
        )?;
        let migrations_span = d.migrations.as_ref().map_or(table.clone(), Spanned::span);
        let migrations = self.existing_folder(
            &migrations.value,
            migrations_span,
            "database.migrations",
            "the folder of migration files",
        )?;
        let format = match &d.format {
            None => None,
            Some(f) => {
                let value = self.resolve(f, "database.format")?.value;
                if !MIGRATION_FORMATS.contains(&value.as_str()) {
                    let message = format!(
                        "unknown format \"{value}\": expected one of {}",
                        MIGRATION_FORMATS.join(", ")
                    );
                    return Err(self.err(f.span(), "database.format", &message));
                }
                Some(value)
            }
        };
        let duration = |v: &Option<Spanned<String>>, key: &str| {
            v.as_ref().map(|v| self.timeout(v, key)).transpose()
        };
        let tunnel = self.tunnel(d, &url, table)?;
        Ok(Database {
            tunnel,
            url,
            migrations,
            format,
            lock_timeout: duration(&d.lock_timeout, "database.lock_timeout")?
                .unwrap_or(DEFAULT_LOCK_TIMEOUT),
            statement_timeout: duration(&d.statement_timeout, "database.statement_timeout")?,
            lock_wait: duration(&d.lock_wait, "database.lock_wait")?.unwrap_or(DEFAULT_LOCK_WAIT),
            impact_timeout: duration(&d.impact_timeout, "database.impact_timeout")?
                .unwrap_or(DEFAULT_IMPACT_TIMEOUT),
        })
    }
}

/// The libpq `sslmode` values.
const SSLMODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// What is wrong with a PostgreSQL URL that would only fail at connect time: one that does not parse, or an
/// `sslmode` libpq does not know. `None` for a good one (and for SQLite).
fn postgres_url_problem(url: &str) -> Option<String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return None;
    }
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => {
            return Some(format!(
                "{e}; expected postgres://user:password@host:port/database"
            ));
        }
    };
    for (k, v) in parsed.query_pairs() {
        if k == "sslmode" && !SSLMODES.contains(&v.as_ref()) {
            return Some(format!("sslmode={v} is not one of {}", SSLMODES.join(", ")));
        }
    }
    None
}
