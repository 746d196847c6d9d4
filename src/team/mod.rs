//! Team mode (`[team]`): operators on any bastion coordinate through one PostgreSQL database. A release takes a
//! lock per project and environment that lives exactly as long as its database session ([`lock`]); every journal
//! entry is copied there in order ([`sync`]); `deckhand team status`, `history` and `report` read it back
//! ([`status`]); in the environments it names, a second operator approves each destructive action
//! ([`approve`]); `deckhand watch` follows a run from anywhere ([`watch`]). The schema is deckhand's own, versioned and migrated by [`schema`]. Nothing secret is written
//! there: journal entries are already masked, and the URL's password stays in the plan's environment.
//!
//! May import `plan`, `journal` and `migrate::db` (for describing database errors); never `app` or `runner`.

pub mod approve;
pub mod lock;
pub mod schema;
pub mod status;
pub mod sync;
pub mod watch;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection};

use crate::plan::Team;

/// How long connecting to the team database may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Each statement deckhand runs there is cut off after this (a team database is small; a hung one must not hang a
/// release).
const STATEMENT_TIMEOUT: &str = "15s";

/// Who runs deckhand, as the team sees it: the OS user, and `DECKHAND_OPERATOR` when set (operators sharing one
/// login on a bastion tell themselves apart with it). Two identities that differ are two operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub os_user: String,
    pub operator: Option<String>,
    pub host: String,
    /// `SSH_CLIENT`'s address, when on SSH.
    pub ssh_client: Option<String>,
}

impl Identity {
    /// The identity of this process, from `os_user` (the console's operator line) and the environment.
    pub fn current(os_user: String, host: String) -> Identity {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Identity {
            os_user,
            operator: var("DECKHAND_OPERATOR").map(|v| v.trim().to_string()),
            host,
            ssh_client: var("SSH_CLIENT")
                .and_then(|v| v.split_whitespace().next().map(String::from)),
        }
    }

    /// `alice`, or `deploy as alice` when `DECKHAND_OPERATOR` names someone on a shared login.
    pub fn name(&self) -> String {
        match &self.operator {
            Some(op) if *op != self.os_user => format!("{} as {op}", self.os_user),
            _ => self.os_user.clone(),
        }
    }

    /// `alice on bastion-2 (ssh from 10.0.0.5)`.
    pub fn describe(&self) -> String {
        let ssh = self
            .ssh_client
            .as_ref()
            .map(|c| format!(" (ssh from {c})"))
            .unwrap_or_default();
        format!("{} on {}{ssh}", self.name(), self.host)
    }
}

/// Why the team database could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamError {
    #[error("cannot reach the team database {target}: {message}")]
    Unreachable { target: String, message: String },
    #[error(
        "the team database {target} has no deckhand schema \"{schema}\" (or an older one): run `deckhand team init` first"
    )]
    NotInitialised { target: String, schema: String },
    #[error(
        "the team database's schema \"{schema}\" is version {found}; this deckhand knows up to {known}: upgrade deckhand"
    )]
    TooNew {
        schema: String,
        found: i32,
        known: i32,
    },
    #[error("team database: {0}")]
    Query(String),
}

impl From<sqlx::Error> for TeamError {
    fn from(e: sqlx::Error) -> Self {
        TeamError::Query(db_text(&e))
    }
}

/// What the database said, as deckhand words its errors (never the URL's password).
pub(crate) fn db_text(e: &sqlx::Error) -> String {
    crate::migrate::error::describe_db_error(e).0
}

/// `host:port/db` of the team database (never the password).
pub fn target(team: &Team) -> String {
    crate::migrate::db::target(&team.database.value)
}

/// Connects to the team database: `application_name` deckhand, a statement timeout, the team's role when it names
/// one.
pub async fn connect(team: &Team) -> Result<PgConnection, TeamError> {
    let unreachable = |message: String| TeamError::Unreachable {
        target: target(team),
        message,
    };
    let options = PgConnectOptions::from_str(&team.database.value)
        .map_err(|e| unreachable(crate::plan::mask_url_passwords(&e.to_string())))?
        .application_name("deckhand")
        .options([("statement_timeout", STATEMENT_TIMEOUT)]);
    let mut conn =
        match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(unreachable(db_text(&e))),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {}s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        };
    if let Some(role) = &team.role {
        // `role` is a validated identifier (lowercase letters, digits, `_`).
        sqlx::raw_sql(AssertSqlSafe(format!("SET ROLE {role}")))
            .execute(&mut conn)
            .await?;
    }
    Ok(conn)
}

/// `"schema".table` for SQL text (`schema` is a validated identifier).
pub(crate) fn table(team: &Team, name: &str) -> String {
    format!("\"{}\".{name}", team.schema)
}
