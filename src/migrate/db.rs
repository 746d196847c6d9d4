//! Connecting to the target database (PostgreSQL or SQLite) through sqlx's `Any` driver with runtime queries:
//! `application_name=deckhand`, `lock_timeout` and `statement_timeout` as startup options, and a description of
//! the target that never includes the password.

use std::time::Duration;

use sqlx::{AnyConnection, Connection};

use super::error::{MigrateError, describe_db_error};

/// How often PostgreSQL checks that deckhand is still there while a statement runs.
pub const CLIENT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Which database engine the URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn of(url: &str) -> Option<Backend> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "PostgreSQL",
            Backend::Sqlite => "SQLite",
        }
    }

    /// SQL for the current time as the ledgers store it.
    pub fn now(self) -> &'static str {
        match self {
            Backend::Postgres => "now()",
            Backend::Sqlite => "CURRENT_TIMESTAMP",
        }
    }
}

/// Session settings for deckhand's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long one statement may wait for a lock before failing (PostgreSQL `lock_timeout`; SQLite
    /// `busy_timeout`).
    pub lock_timeout: Duration,
    pub statement_timeout: Option<Duration>,
}

/// An open connection to the target.
pub struct Db {
    pub conn: AnyConnection,
    pub backend: Backend,
    /// `host:port/database` or the SQLite file: what confirmations show. No password.
    pub target: String,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .field("target", &self.target)
            .finish()
    }
}

/// Where `url` points, without credentials: `db.internal:5432/shop`, or the SQLite file.
pub fn target(url: &str) -> String {
    match (Backend::of(url), url::Url::parse(url)) {
        (Some(Backend::Postgres), Ok(u)) => {
            let host = u.host_str().unwrap_or("localhost");
            let port = u.port().unwrap_or(5432);
            format!("{host}:{port}{}", u.path())
        }
        (Some(Backend::Sqlite), _) => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            format!("sqlite {}", path.split('?').next().unwrap_or(path))
        }
        _ => "(unrecognised database URL)".to_string(),
    }
}

/// The URL deckhand connects with: PostgreSQL gets `application_name` and the timeouts as startup options.
fn session_url(url: &str, backend: Backend, s: &Settings) -> Result<String, String> {
    if backend == Backend::Sqlite {
        return Ok(url.to_string());
    }
    let mut u = url::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    let mut options = format!("-c lock_timeout={}ms", s.lock_timeout.as_millis());
    if let Some(t) = s.statement_timeout {
        options.push_str(&format!(" -c statement_timeout={}ms", t.as_millis()));
    }
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k != "application_name" && k != "options")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("application_name", "deckhand")
        .append_pair("options", &options);
    Ok(u.to_string())
}

/// Connects to `url` with deckhand's session settings.
pub async fn connect(url: &str, settings: &Settings) -> Result<Db, MigrateError> {
    sqlx::any::install_default_drivers();
    let target = target(url);
    let fail = |message: String| MigrateError::Connect {
        target: target.clone(),
        message,
    };
    let backend = Backend::of(url).ok_or_else(|| fail("unsupported URL scheme".into()))?;
    let session = session_url(url, backend, settings).map_err(fail)?;
    let mut conn = AnyConnection::connect(&session)
        .await
        .map_err(|e| fail(describe_db_error(&e).0))?;
    if backend == Backend::Postgres {
        // If deckhand dies mid-migration (killed, host lost), the server cancels the statement in flight within
        // a second and rolls back, instead of running on with its locks. PostgreSQL 14+; older servers refuse
        // the setting, which only means they notice later.
        let check = format!(
            "SET client_connection_check_interval = {}",
            CLIENT_CHECK_INTERVAL.as_millis()
        );
        if let Err(e) = sqlx::raw_sql(sqlx::AssertSqlSafe(check))
            .execute(&mut conn)
            .await
        {
            tracing::info!(
                "client_connection_check_interval not set: {}",
                describe_db_error(&e).0
            );
        }
    }
    if backend == Backend::Sqlite {
        let pragma = format!(
            "PRAGMA busy_timeout = {}",
            settings.lock_timeout.as_millis()
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(pragma))
            .execute(&mut conn)
            .await
            .map_err(|e| fail(describe_db_error(&e).0))?;
    }
    Ok(Db {
        conn,
        backend,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_never_shows_the_password() {
        assert_eq!(
            target("postgres://app:s3cret@db.internal:6432/shop?sslmode=require"),
            "db.internal:6432/shop"
        );
        assert_eq!(target("postgresql://localhost/x"), "localhost:5432/x");
        assert_eq!(
            target("sqlite://demo/app.db?mode=rwc"),
            "sqlite demo/app.db"
        );
        assert_eq!(target("sqlite:app.db"), "sqlite app.db");
    }

    #[test]
    fn session_url_carries_name_and_timeouts() {
        let s = Settings {
            lock_timeout: Duration::from_secs(2),
            statement_timeout: Some(Duration::from_secs(60)),
        };
        let u = session_url(
            "postgres://a:b@h/db?sslmode=disable&application_name=x",
            Backend::Postgres,
            &s,
        )
        .unwrap();
        let parsed = url::Url::parse(&u).unwrap();
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        assert!(pairs.contains(&("sslmode".into(), "disable".into())));
        assert!(pairs.contains(&("application_name".into(), "deckhand".into())));
        assert!(pairs.contains(&(
            "options".into(),
            "-c lock_timeout=2000ms -c statement_timeout=60000ms".into()
        )));
        assert_eq!(
            pairs
                .iter()
                .filter(|(k, _)| k == "application_name")
                .count(),
            1
        );
    }
}
