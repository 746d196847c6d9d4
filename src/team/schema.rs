//! The team schema, versioned: `deckhand team init` creates it and applies each missing version in one
//! transaction under a transaction-level advisory lock (two operators running it at once apply each version once);
//! every other use of the team database first checks the version is one this deckhand knows.

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, Row};

use super::{TeamError, connect, target};
use crate::plan::Team;

/// The newest schema version this deckhand writes and reads.
pub const VERSION: i32 = 1;

/// Version 1: the release lock rows, the runs, their journals and the approvals. `{s}` is the quoted schema.
const V1: &str = r#"
CREATE TABLE {s}.releases (
    project text NOT NULL,
    environment text NOT NULL,
    run_id text NOT NULL,
    operator text NOT NULL,
    host text NOT NULL,
    ssh_client text,
    stage text NOT NULL,
    why text,
    since timestamptz NOT NULL DEFAULT now(),
    backend_pid int NOT NULL,
    PRIMARY KEY (project, environment)
);
CREATE TABLE {s}.runs (
    run_id text PRIMARY KEY,
    project text NOT NULL,
    environment text NOT NULL,
    operator text NOT NULL,
    host text NOT NULL,
    started_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {s}.journal (
    run_id text NOT NULL REFERENCES {s}.runs ON DELETE CASCADE,
    seq bigint NOT NULL,
    ts text NOT NULL,
    event text NOT NULL,
    entry jsonb NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE {s}.approvals (
    id bigserial PRIMARY KEY,
    run_id text NOT NULL REFERENCES {s}.runs ON DELETE CASCADE,
    project text NOT NULL,
    environment text NOT NULL,
    action text NOT NULL,
    detail text NOT NULL,
    requested_by text NOT NULL,
    requested_on text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    state text NOT NULL DEFAULT 'waiting'
        CHECK (state IN ('waiting', 'approved', 'refused', 'withdrawn', 'timed_out')),
    decided_by text,
    decided_at timestamptz,
    note text,
    CHECK (decided_by IS NULL OR decided_by <> requested_by)
);
CREATE INDEX approvals_waiting ON {s}.approvals (run_id) WHERE state = 'waiting';
"#;

const MIGRATIONS: [(i32, &str); 1] = [(1, V1)];

/// What `team init` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Initialised {
    pub target: String,
    pub schema: String,
    /// The version before (0: no schema) and after.
    pub from: i32,
    pub to: i32,
}

/// Creates the schema or brings it up to [`VERSION`].
pub async fn init(team: &Team) -> Result<Initialised, TeamError> {
    let mut conn = connect(team).await?;
    let s = format!("\"{}\"", team.schema);
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('deckhand:team-init', 0))")
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.schema_version (
             version int PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now(),
             applied_by text NOT NULL DEFAULT current_user
         );"
    )))
    .execute(&mut *tx)
    .await?;
    let from: i32 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT coalesce(max(version), 0) FROM {s}.schema_version"
    )))
    .fetch_one(&mut *tx)
    .await?;
    if from > VERSION {
        return Err(TeamError::TooNew {
            schema: team.schema.clone(),
            found: from,
            known: VERSION,
        });
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > from) {
        sqlx::raw_sql(AssertSqlSafe(sql.replace("{s}", &s)))
            .execute(&mut *tx)
            .await?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {s}.schema_version (version) VALUES ($1)"
        )))
        .bind(version)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let _ = conn.close().await;
    Ok(Initialised {
        target: target(team),
        schema: team.schema.clone(),
        from,
        to: VERSION,
    })
}

/// Fails unless the schema exists at [`VERSION`].
pub async fn require(conn: &mut PgConnection, team: &Team) -> Result<(), TeamError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT to_regclass('\"{0}\".schema_version') IS NOT NULL AS present",
        team.schema
    )))
    .fetch_one(&mut *conn)
    .await?;
    let present: bool = row.try_get("present")?;
    let found: i32 = if present {
        sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT coalesce(max(version), 0) FROM \"{}\".schema_version",
            team.schema
        )))
        .fetch_one(&mut *conn)
        .await?
    } else {
        0
    };
    match found {
        v if v == VERSION => Ok(()),
        v if v > VERSION => Err(TeamError::TooNew {
            schema: team.schema.clone(),
            found: v,
            known: VERSION,
        }),
        _ => Err(TeamError::NotInitialised {
            target: target(team),
            schema: team.schema.clone(),
        }),
    }
}
