//! What deckhand asks the server itself (through `migrate::db::connect`, never through the tools): its version,
//! the tables `pg_dump` dumps and their sizes, whether the role may create databases, and creating and dropping
//! the databases a restore or rehearsal goes into.

use sqlx::{AssertSqlSafe, Row};
use tokio_util::sync::CancellationToken;

use super::conn::Conn;
use super::tools::{Major, Server};
use crate::backup::BackupError;
use crate::migrate::db::{self, Db};
use crate::migrate::{self, error::describe_db_error};
use crate::plan::Database;

/// A table of a live database, as `pg_dump` would put it in an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTable {
    pub schema: String,
    pub name: String,
    pub owner: String,
    /// Estimated size (heap and TOAST pages as of the last VACUUM/ANALYZE; read without taking a lock): 0 for a
    /// partitioned parent, whose rows live in its partitions.
    pub bytes: u64,
}

impl LiveTable {
    /// `schema.table`, as `pg_dump --verbose` names it and as reports show it.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
}

/// Connects to `url` with the plan's session settings; a cancel abandons the attempt. Errors never carry the
/// password (`conn` scrubs whatever the driver said).
pub async fn connect(
    spec: &Database,
    url: &str,
    conn: &Conn,
    cancel: &CancellationToken,
) -> Result<Db, BackupError> {
    let settings = migrate::settings(spec);
    let attempt = db::connect(url, &settings);
    tokio::select! {
        () = cancel.cancelled() => Err(BackupError::Cancelled),
        r = attempt => r.map_err(|e| BackupError::Database {
            context: "connecting to the database".into(),
            message: conn.scrub(&e.to_string()),
        }),
    }
}

pub(super) fn err(context: &str) -> impl Fn(sqlx::Error) -> BackupError + '_ {
    move |e| BackupError::Database {
        context: context.to_string(),
        message: describe_db_error(&e).0,
    }
}

/// The server's version (`server_version_num`, `server_version`).
pub async fn server(db: &mut Db) -> Result<Server, BackupError> {
    let row = sqlx::query(
        "SELECT CAST(current_setting('server_version_num') AS TEXT), \
         CAST(current_setting('server_version') AS TEXT)",
    )
    .fetch_one(&mut db.conn)
    .await
    .map_err(err("reading the server version"))?;
    let num: String = row.try_get(0).map_err(err("reading the server version"))?;
    let text: String = row.try_get(1).map_err(err("reading the server version"))?;
    let num: u32 = num.trim().parse().map_err(|_| BackupError::Database {
        context: "reading the server version".into(),
        message: format!("server_version_num is {num:?}"),
    })?;
    Ok(Server {
        num,
        version: text.split_whitespace().next().unwrap_or(&text).to_string(),
        major: Major::from_num(num),
    })
}

/// The ordinary and partitioned tables `pg_dump` dumps: not the system catalogs, TOAST or other sessions'
/// temporary tables, not tables that belong to an extension (the extension recreates them).
pub async fn live_tables(db: &mut Db) -> Result<Vec<LiveTable>, BackupError> {
    let rows = sqlx::query(
        "SELECT CAST(n.nspname AS TEXT), CAST(c.relname AS TEXT), CAST(pg_get_userbyid(c.relowner) AS TEXT), \
         CAST(c.relpages + COALESCE(t.relpages, 0) AS BIGINT) * CAST(current_setting('block_size') AS BIGINT) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_class t ON t.oid = c.reltoastrelid \
         WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%' \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = CAST('pg_class' AS regclass) \
                         AND d.objid = c.oid AND d.deptype = 'e') \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut db.conn)
    .await
    .map_err(err("listing the database's tables"))?;
    rows.iter()
        .map(|r| {
            let bytes: i64 = r.try_get(3)?;
            Ok(LiveTable {
                schema: r.try_get(0)?,
                name: r.try_get(1)?,
                owner: r.try_get(2)?,
                bytes: u64::try_from(bytes).unwrap_or(0),
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(err("reading the database's tables"))
}

/// Exact sizes (`pg_table_size`, heap and TOAST) of the ordinary tables, by `schema.table`. `pg_table_size` locks
/// each table briefly: a table locked exclusively elsewhere (a migration) makes this fail within a quarter
/// second, and the caller keeps [`LiveTable::bytes`]' estimates.
pub async fn exact_sizes(db: &mut Db) -> Result<Vec<(String, u64)>, BackupError> {
    let context = "reading table sizes";
    sqlx::raw_sql("SET lock_timeout = '250ms'")
        .execute(&mut db.conn)
        .await
        .map_err(err(context))?;
    let rows = sqlx::query(
        "SELECT CAST(n.nspname AS TEXT), CAST(c.relname AS TEXT), CAST(pg_table_size(c.oid) AS BIGINT) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND c.relpersistence <> 't' \
         AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'",
    )
    .fetch_all(&mut db.conn)
    .await
    .map_err(err(context))?;
    rows.iter()
        .map(|r| {
            let schema: String = r.try_get(0)?;
            let name: String = r.try_get(1)?;
            let bytes: i64 = r.try_get(2)?;
            Ok((
                format!("{schema}.{name}"),
                u64::try_from(bytes).unwrap_or(0),
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(err(context))
}

/// The current role, and whether it may create databases (`CREATEDB` or superuser).
pub async fn may_create_databases(db: &mut Db) -> Result<(String, bool), BackupError> {
    let row = sqlx::query(
        "SELECT CAST(current_user AS TEXT), \
         COALESCE((SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user), false)",
    )
    .fetch_one(&mut db.conn)
    .await
    .map_err(err("checking the role's CREATEDB privilege"))?;
    let role: String = row
        .try_get(0)
        .map_err(err("checking the role's CREATEDB privilege"))?;
    let may: bool = row
        .try_get(1)
        .map_err(err("checking the role's CREATEDB privilege"))?;
    Ok((role, may))
}

pub async fn database_exists(db: &mut Db, name: &str) -> Result<bool, BackupError> {
    let row = sqlx::query("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut db.conn)
        .await
        .map_err(err("looking for the database"))?;
    let n: i64 = row.try_get(0).map_err(err("looking for the database"))?;
    Ok(n > 0)
}

/// Creates database `name` from `template0` with the encoding and locale of the database `db` is connected to, so
/// that text sorts and compares (unique indexes!) the same way in the copy.
pub async fn create_database(db: &mut Db, name: &str, server: &Server) -> Result<(), BackupError> {
    let context = format!("creating database {name}");
    let provider_cols = match server.num {
        n if n >= 170_000 => "CAST(datlocprovider AS TEXT), COALESCE(datlocale, '')",
        n if n >= 150_000 => "CAST(datlocprovider AS TEXT), COALESCE(daticulocale, '')",
        _ => "'c', ''",
    };
    let sql = format!(
        "SELECT CAST(pg_encoding_to_char(encoding) AS TEXT), CAST(datcollate AS TEXT), CAST(datctype AS TEXT), \
         {provider_cols} FROM pg_database WHERE datname = current_database()"
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .fetch_one(&mut db.conn)
        .await
        .map_err(err(&context))?;
    let get = |i: usize| row.try_get::<String, _>(i).map_err(err(&context));
    let (encoding, collate, ctype, provider, locale) =
        (get(0)?, get(1)?, get(2)?, get(3)?, get(4)?);
    let mut create = format!(
        "CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}",
        quote_ident(name),
        quote_literal(&encoding),
        quote_literal(&collate),
        quote_literal(&ctype)
    );
    match provider.as_str() {
        "i" => create.push_str(&format!(
            " LOCALE_PROVIDER icu ICU_LOCALE {}",
            quote_literal(&locale)
        )),
        "b" => create.push_str(&format!(
            " LOCALE_PROVIDER builtin BUILTIN_LOCALE {}",
            quote_literal(&locale)
        )),
        _ => {}
    }
    sqlx::raw_sql(AssertSqlSafe(create))
        .execute(&mut db.conn)
        .await
        .map_err(err(&context))?;
    Ok(())
}

/// Drops database `name`, ending its sessions first (`WITH (FORCE)` from PostgreSQL 13, `pg_terminate_backend`
/// before).
pub async fn drop_database(db: &mut Db, name: &str, server: &Server) -> Result<(), BackupError> {
    let context = format!("dropping database {name}");
    let drop = if server.num >= 130_000 {
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))
    } else {
        sqlx::query(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
        )
        .bind(name)
        .fetch_one(&mut db.conn)
        .await
        .map_err(err(&context))?;
        format!("DROP DATABASE IF EXISTS {}", quote_ident(name))
    };
    sqlx::raw_sql(AssertSqlSafe(drop))
        .execute(&mut db.conn)
        .await
        .map_err(err(&context))?;
    Ok(())
}

/// `"name"`, with inner quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
