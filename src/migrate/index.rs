//! Indexes PostgreSQL marks INVALID — what a killed or failed `CREATE INDEX CONCURRENTLY` (or `REINDEX
//! CONCURRENTLY`) leaves behind: finding them, and dropping one with `DROP INDEX CONCURRENTLY`, the recovery
//! PostgreSQL's documentation gives ("drop the index and try again"). They block an apply: the file that built one
//! would fail on "relation … already exists" (or, with `IF NOT EXISTS`, leave it invalid and count as applied).

use std::fmt;

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use super::db::{Backend, Db};
use super::error::{MigrateError, describe_db_error};

/// One index PostgreSQL ignores for queries because its build did not finish (`pg_index.indisvalid = false`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct InvalidIndex {
    pub schema: String,
    pub name: String,
    /// The table it is on.
    pub table: String,
    /// An index on a partitioned table (`relkind 'I'`): PostgreSQL cannot drop it CONCURRENTLY, and it is also
    /// invalid, by design, between `CREATE INDEX … ON ONLY` and the last `ALTER INDEX … ATTACH PARTITION`.
    pub partitioned: bool,
}

/// `"name"` with embedded quotes doubled: an identifier PostgreSQL reads back exactly, whatever it holds.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl InvalidIndex {
    /// `schema.name`, as a person reads it.
    pub fn display_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The statement that drops it: on its own, outside any transaction block (PostgreSQL refuses it inside one),
    /// with both parts of the name quoted. `IF EXISTS`: someone may have dropped it since the status was read.
    pub fn drop_statement(&self) -> String {
        format!(
            "DROP INDEX CONCURRENTLY IF EXISTS {}.{}",
            quote_ident(&self.schema),
            quote_ident(&self.name)
        )
    }
}

impl fmt::Display for InvalidIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "index {} on {} is INVALID (a failed CREATE INDEX CONCURRENTLY leaves this): drop it and run the \
             migration again",
            self.display_name(),
            self.table
        )
    }
}

fn db_err(context: &str, e: sqlx::Error) -> MigrateError {
    MigrateError::Database {
        context: context.into(),
        message: describe_db_error(&e).0,
    }
}

/// Invalid indexes outside the system schemas, except those being built right now (a `CREATE INDEX
/// CONCURRENTLY` under way is invalid until it finishes): by schema, then name. SQLite has none.
pub async fn invalid(db: &mut Db) -> Result<Vec<InvalidIndex>, MigrateError> {
    if db.backend != Backend::Postgres {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT CAST(n.nspname AS TEXT), CAST(c.relname AS TEXT), CAST(t.relname AS TEXT), \
         CAST(c.relkind = 'I' AS INTEGER) \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND NOT EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut db.conn)
    .await
    .map_err(|e| db_err("looking for invalid indexes", e))?;
    rows.iter()
        .map(|r| {
            Ok(InvalidIndex {
                schema: r.try_get(0)?,
                name: r.try_get(1)?,
                table: r.try_get(2)?,
                partitioned: r.try_get::<i32, _>(3)? != 0,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| db_err("reading invalid indexes", e))
}

/// Drops `index` with `DROP INDEX CONCURRENTLY`, after checking it is still there and still invalid (nothing is
/// dropped otherwise). The statement goes alone, as its own simple query, on a connection with no transaction
/// open; it waits for transactions that may use the index, within the session's `lock_timeout`.
pub async fn drop_invalid(db: &mut Db, index: &InvalidIndex) -> Result<(), MigrateError> {
    if index.partitioned {
        return Err(MigrateError::Database {
            context: format!("dropping {}", index.display_name()),
            message: "it is on a partitioned table, and PostgreSQL cannot drop such an index CONCURRENTLY: \
                      attach the partitions' indexes (ALTER INDEX … ATTACH PARTITION) or drop it by hand, then \
                      read the status again; nothing was dropped"
                .into(),
        });
    }
    let now = invalid(db).await?;
    if !now.contains(index) {
        return Err(MigrateError::Database {
            context: format!("dropping {}", index.display_name()),
            message: format!(
                "it is no longer an invalid index on {}; nothing was dropped",
                index.table
            ),
        });
    }
    sqlx::raw_sql(AssertSqlSafe(index.drop_statement()))
        .execute(&mut db.conn)
        .await
        .map(|_| ())
        .map_err(|e| db_err(&format!("dropping {}", index.display_name()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_drop_statement_quotes_both_parts_of_the_name() {
        let i = InvalidIndex {
            schema: "my \"app\"".into(),
            name: "Users_email_key".into(),
            table: "users".into(),
            partitioned: false,
        };
        assert_eq!(
            i.drop_statement(),
            "DROP INDEX CONCURRENTLY IF EXISTS \"my \"\"app\"\"\".\"Users_email_key\""
        );
        assert!(
            i.to_string()
                .starts_with("index my \"app\".Users_email_key on users is INVALID")
        );
    }
}
