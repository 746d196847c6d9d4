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

impl Settings {
    /// `SET LOCAL` statements that put these limits in force for the current transaction (PostgreSQL).
    pub fn set_local(&self) -> String {
        let mut sql = format!(
            "SET LOCAL lock_timeout = '{}ms'",
            self.lock_timeout.as_millis()
        );
        if let Some(t) = self.statement_timeout {
            sql.push_str(&format!(
                "; SET LOCAL statement_timeout = '{}ms'",
                t.as_millis()
            ));
        }
        sql
    }
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

    /// SQL for the current wall-clock time as the ledgers store it (PostgreSQL's `now()` would be the start of the
    /// transaction).
    pub fn now(self) -> &'static str {
        match self {
            Backend::Postgres => "clock_timestamp()",
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
    /// The session settings asked for (also applied with `SET LOCAL` inside each migration's transaction, in case
    /// a connection pooler dropped the startup options).
    pub settings: Settings,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .field("target", &self.target)
            .finish()
    }
}

/// Where `url` points, without credentials: `db.internal:5432/shop`, or the SQLite file. For PostgreSQL this is
/// what sqlx will actually connect to (query parameters such as `host=` or `dbname=` override the authority).
pub fn target(url: &str) -> String {
    match Backend::of(url) {
        Some(Backend::Postgres) => match url.parse::<sqlx::postgres::PgConnectOptions>() {
            Ok(o) => {
                let db = o.get_database().unwrap_or("(default database)");
                match o.get_socket() {
                    Some(socket) => format!("socket {}/{db}", socket.display()),
                    None => format!("{}:{}/{db}", o.get_host(), o.get_port()),
                }
            }
            Err(_) => "(unreadable database URL)".to_string(),
        },
        Some(Backend::Sqlite) => {
            let path = url
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            format!("sqlite {}", path.split('?').next().unwrap_or(path))
        }
        None => "(unrecognised database URL)".to_string(),
    }
}

/// The URL deckhand connects with. PostgreSQL gets `application_name=deckhand` and the timeouts as startup
/// options, added to any `options` the URL already had; Prisma's `?schema=NAME` becomes `search_path=NAME`, so
/// deckhand reads the same `_prisma_migrations` Prisma does.
fn session_url(url: &str, backend: Backend, s: &Settings) -> Result<String, String> {
    if backend == Backend::Sqlite {
        return Ok(url.to_string());
    }
    let mut u = url::Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    let mut options = Vec::new();
    let mut kept: Vec<(String, String)> = Vec::new();
    for (k, v) in u.query_pairs() {
        match k.as_ref() {
            "options" => options.push(v.into_owned()),
            "schema" => options.push(format!("-c search_path={v}")),
            "application_name" => {}
            _ => kept.push((k.into_owned(), v.into_owned())),
        }
    }
    options.push(format!("-c lock_timeout={}ms", s.lock_timeout.as_millis()));
    if let Some(t) = s.statement_timeout {
        options.push(format!("-c statement_timeout={}ms", t.as_millis()));
    }
    u.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("application_name", "deckhand")
        .append_pair("options", &options.join(" "));
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
        settings: *settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(statement_timeout: Option<Duration>) -> Settings {
        Settings {
            lock_timeout: Duration::from_secs(2),
            statement_timeout,
        }
    }

    fn options_of(url: &str) -> Vec<(String, String)> {
        url::Url::parse(url)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn target_never_shows_the_password() {
        let t = |u: &str| target(u);
        assert_eq!(
            t("postgres://app:s3cret@db.internal:6432/shop?sslmode=require"),
            "db.internal:6432/shop"
        );
        assert_eq!(t("postgresql://localhost/x"), "localhost:5432/x");
        assert_eq!(t("sqlite://demo/app.db?mode=rwc"), "sqlite demo/app.db");
        assert_eq!(t("sqlite:app.db"), "sqlite app.db");
    }

    #[test]
    fn target_is_where_sqlx_will_connect() {
        assert_eq!(
            target("postgres://u:p@localhost/shop?host=prod-db&port=6543"),
            "prod-db:6543/shop"
        );
        assert_eq!(
            target("postgres://u:p@localhost/shop?dbname=other"),
            "localhost:5432/other"
        );
    }

    #[test]
    fn session_url_carries_name_and_timeouts() {
        let u = session_url(
            "postgres://a:b@h/db?sslmode=disable&application_name=x",
            Backend::Postgres,
            &settings(Some(Duration::from_secs(60))),
        )
        .unwrap();
        let pairs = options_of(&u);
        assert!(pairs.contains(&("sslmode".into(), "disable".into())));
        assert!(pairs.contains(&("application_name".into(), "deckhand".into())));
        let options = (
            "options".into(),
            "-c lock_timeout=2000ms -c statement_timeout=60000ms".into(),
        );
        assert!(pairs.contains(&options), "{pairs:?}");
        assert_eq!(
            pairs
                .iter()
                .filter(|(k, _)| k == "application_name")
                .count(),
            1
        );
    }

    #[test]
    fn prisma_schema_and_existing_options_are_kept() {
        let url = "postgres://a@h/db?schema=app&options=-c%20work_mem%3D64MB";
        let pairs = options_of(&session_url(url, Backend::Postgres, &settings(None)).unwrap());
        let options = (
            "options".into(),
            "-c search_path=app -c work_mem=64MB -c lock_timeout=2000ms".into(),
        );
        assert!(pairs.contains(&options), "{pairs:?}");
        assert!(!pairs.iter().any(|(k, _)| k == "schema"));
    }
}
