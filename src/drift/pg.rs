//! Reading a PostgreSQL database's catalog into a [`Catalog`]: extensions, schemas, enums (values in order),
//! sequences, tables, columns (type, nullability, default, identity, generated, collation), indexes (definition,
//! validity), constraints, views, materialized views, functions and procedures (signature and definition), and
//! triggers (definition, enabled). System schemas, other sessions' temporary objects and everything an extension owns
//! are left out (the extension is compared instead). Each query runs with the simple protocol, values inlined, never
//! a prepared statement (a transaction-pooling proxy loses those); the session's `search_path` is emptied first so
//! every definition names its objects schema-qualified, the same way on both sides. Reads only: catalog reads take
//! no lock on the application's tables. Imports `migrate::db` (the connection) and [`super::catalog`].

use std::collections::BTreeMap;

use serde_json::Value;
use sqlx::Row;

use super::catalog::{Catalog, Kind, Object};
use crate::migrate::MigrateError;
use crate::migrate::db::Db;
use crate::migrate::error::describe_db_error;

/// A schema of the user's (`n` is the `pg_namespace` row).
const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// `oid` (of catalog `class`) is not a member of an extension.
fn not_in_extension(class: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend x WHERE x.classid = CAST('{class}' AS regclass) \
         AND x.objid = {oid} AND x.deptype = 'e')"
    )
}

fn db_err(context: &str, e: sqlx::Error) -> MigrateError {
    MigrateError::Database {
        context: context.into(),
        message: describe_db_error(&e).0,
    }
}

/// Every query of the snapshot, each returning `schema, name, table, attributes as JSON` for one kind.
/// `server_num` is the server's `server_version_num` (generated columns from 12, `prokind` from 11).
fn queries(server_num: u32) -> Vec<(Kind, String)> {
    let generated = if server_num >= 120_000 {
        "a.attgenerated"
    } else {
        "''"
    };
    let routines = if server_num >= 110_000 {
        "p.prokind IN ('f', 'p', 'w')"
    } else {
        "NOT p.proisagg"
    };
    let mut all = outside_tables();
    all.extend(tables(generated));
    all.extend(table_parts());
    all.extend(code(routines));
    all
}

/// Extensions, schemas, enums and sequences.
fn outside_tables() -> Vec<(Kind, String)> {
    let relation = |alias: &str| not_in_extension("pg_class", &format!("{alias}.oid"));
    vec![
        (
            Kind::Extension,
            "SELECT '', CAST(e.extname AS TEXT), NULL, \
             CAST(json_build_object('version', e.extversion, 'schema', n.nspname) AS TEXT) \
             FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                .to_string(),
        ),
        (
            Kind::Schema,
            format!(
                "SELECT '', CAST(n.nspname AS TEXT), NULL, '{{}}' FROM pg_namespace n \
                 WHERE {USER_SCHEMA} AND {}",
                not_in_extension("pg_namespace", "n.oid")
            ),
        ),
        (
            Kind::Enum,
            format!(
                "SELECT CAST(n.nspname AS TEXT), CAST(t.typname AS TEXT), NULL, \
                 CAST(json_build_object('values', COALESCE((SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) \
                 FROM pg_enum e WHERE e.enumtypid = t.oid), CAST('[]' AS json))) AS TEXT) \
                 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace \
                 WHERE t.typtype = 'e' AND {USER_SCHEMA} AND {}",
                not_in_extension("pg_type", "t.oid")
            ),
        ),
        (
            Kind::Sequence,
            format!(
                "SELECT CAST(n.nspname AS TEXT), CAST(c.relname AS TEXT), \
                 (SELECT CAST(o.relname AS TEXT) FROM pg_depend d JOIN pg_class o ON o.oid = d.refobjid \
                  WHERE d.classid = CAST('pg_class' AS regclass) AND d.objid = c.oid \
                  AND d.refclassid = CAST('pg_class' AS regclass) AND d.deptype IN ('a', 'i') LIMIT 1), \
                 CAST(json_build_object('type', format_type(s.seqtypid, NULL), \
                  'increment', CAST(s.seqincrement AS TEXT), 'minimum', CAST(s.seqmin AS TEXT), \
                  'maximum', CAST(s.seqmax AS TEXT), 'start', CAST(s.seqstart AS TEXT), \
                  'cache', CAST(s.seqcache AS TEXT), 'cycle', s.seqcycle) AS TEXT) \
                 FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relpersistence <> 't' AND {USER_SCHEMA} AND {}",
                relation("c")
            ),
        ),
    ]
}

/// Tables and their columns (`generated`: the column telling a generated column, or `''`).
fn tables(generated: &str) -> Vec<(Kind, String)> {
    let relation = |alias: &str| not_in_extension("pg_class", &format!("{alias}.oid"));
    vec![
        (
            Kind::Table,
            format!(
                "SELECT CAST(n.nspname AS TEXT), CAST(c.relname AS TEXT), NULL, \
                 CAST(json_build_object('partitioned', c.relkind = 'p', 'unlogged', c.relpersistence = 'u', \
                  'row_level_security', c.relrowsecurity, \
                  'partition_of', (SELECT CAST(p.relname AS TEXT) FROM pg_inherits i \
                                   JOIN pg_class p ON p.oid = i.inhparent WHERE i.inhrelid = c.oid \
                                   AND c.relispartition LIMIT 1), \
                  'partition_bound', pg_get_expr(c.relpartbound, c.oid)) AS TEXT) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND {USER_SCHEMA} AND {}",
                relation("c")
            ),
        ),
        (
            Kind::Column,
            format!(
                "SELECT CAST(n.nspname AS TEXT), CAST(a.attname AS TEXT), CAST(c.relname AS TEXT), \
                 CAST(json_build_object('type', format_type(a.atttypid, a.atttypmod), 'not_null', a.attnotnull, \
                  'default', CASE WHEN {generated} = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END, \
                  'generated', CASE WHEN {generated} <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END, \
                  'identity', CASE a.attidentity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END, \
                  'collation', CASE WHEN a.attcollation <> t.typcollation THEN \
                     (SELECT CAST(k.collname AS TEXT) FROM pg_collation k WHERE k.oid = a.attcollation) END) \
                  AS TEXT) \
                 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid \
                 LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
                 WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') \
                 AND c.relpersistence <> 't' AND {USER_SCHEMA} AND {}",
                relation("c")
            ),
        ),
    ]
}

/// Indexes, constraints and triggers.
fn table_parts() -> Vec<(Kind, String)> {
    let relation = |alias: &str| not_in_extension("pg_class", &format!("{alias}.oid"));
    vec![
        (
            Kind::Index,
            // An index a constraint makes is the constraint's: told once, as the constraint.
            format!(
                "SELECT CAST(n.nspname AS TEXT), CAST(c.relname AS TEXT), CAST(t.relname AS TEXT), \
                 CAST(json_build_object('definition', pg_get_indexdef(i.indexrelid), 'valid', i.indisvalid) \
                  AS TEXT) \
                 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE t.relkind IN ('r', 'p', 'm') AND t.relpersistence <> 't' AND {USER_SCHEMA} AND {} \
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid \
                                 AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))",
                relation("t")
            ),
        ),
        (
            Kind::Constraint,
            // NOT NULL constraints (PostgreSQL 18 lists them) are the columns' nullability.
            format!(
                "SELECT CAST(n.nspname AS TEXT), CAST(k.conname AS TEXT), CAST(t.relname AS TEXT), \
                 CAST(json_build_object('definition', pg_get_constraintdef(k.oid)) AS TEXT) \
                 FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE k.contype <> 'n' AND t.relkind IN ('r', 'p') AND t.relpersistence <> 't' \
                 AND {USER_SCHEMA} AND {}",
                relation("t")
            ),
        ),
        (
            Kind::Trigger,
            format!(
                "SELECT CAST(n.nspname AS TEXT), CAST(g.tgname AS TEXT), CAST(t.relname AS TEXT), \
                 CAST(json_build_object('definition', pg_get_triggerdef(g.oid), \
                  'enabled', CASE g.tgenabled WHEN 'O' THEN 'enabled' WHEN 'D' THEN 'disabled' \
                  WHEN 'R' THEN 'enabled on replicas only' WHEN 'A' THEN 'enabled always' END) AS TEXT) \
                 FROM pg_trigger g JOIN pg_class t ON t.oid = g.tgrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE NOT g.tgisinternal AND {USER_SCHEMA} AND {}",
                relation("t")
            ),
        ),
    ]
}

/// Views (materialized ones too), functions and procedures (`routines`: which `pg_proc` rows).
fn code(routines: &str) -> Vec<(Kind, String)> {
    let relation = |alias: &str| not_in_extension("pg_class", &format!("{alias}.oid"));
    vec![
        (
            Kind::View,
            format!(
                "SELECT CAST(n.nspname AS TEXT), CAST(c.relname AS TEXT), NULL, \
                 CAST(json_build_object('definition', pg_get_viewdef(c.oid), 'materialized', c.relkind = 'm') \
                  AS TEXT) \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('v', 'm') AND {USER_SCHEMA} AND {}",
                relation("c")
            ),
        ),
        (
            Kind::Function,
            format!(
                "SELECT CAST(n.nspname AS TEXT), \
                 CAST(p.proname AS TEXT) || '(' || pg_get_function_identity_arguments(p.oid) || ')', NULL, \
                 CAST(json_build_object('definition', pg_get_functiondef(p.oid)) AS TEXT) \
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                 WHERE {routines} AND {USER_SCHEMA} AND {}",
                not_in_extension("pg_proc", "p.oid")
            ),
        ),
    ]
}

/// The server's `server_version_num`.
async fn server_num(db: &mut Db) -> Result<u32, MigrateError> {
    let context = "reading the server version";
    let row = sqlx::raw_sql("SELECT current_setting('server_version_num')")
        .fetch_one(&mut db.conn)
        .await
        .map_err(|e| db_err(context, e))?;
    let text: String = row.try_get(0).map_err(|e| db_err(context, e))?;
    text.trim().parse().map_err(|_| MigrateError::Database {
        context: context.into(),
        message: format!("server_version_num is {text:?}"),
    })
}

/// Reads the catalog of the database `db` is connected to. Empties the session's `search_path` (the connection is
/// meant for this read only).
pub async fn read(db: &mut Db) -> Result<Catalog, MigrateError> {
    let context = "reading the database's catalog";
    sqlx::raw_sql("SET search_path = ''")
        .execute(&mut db.conn)
        .await
        .map_err(|e| db_err(context, e))?;
    let num = server_num(db).await?;
    let mut catalog = Catalog::default();
    for (kind, sql) in queries(num) {
        let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut db.conn)
            .await
            .map_err(|e| db_err(&format!("{context} ({}s)", kind.word()), e))?;
        for r in &rows {
            let object = decode(kind, r).map_err(|e| db_err(context, e))?;
            catalog.add(object);
        }
    }
    Ok(catalog)
}

fn decode(kind: Kind, r: &sqlx::any::AnyRow) -> Result<Object, sqlx::Error> {
    let attrs: String = r.try_get(3)?;
    let attrs: BTreeMap<String, Value> =
        serde_json::from_str(&attrs).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let (kind, attrs) = match kind {
        // A materialized view is its own kind; the flag was only there to tell it.
        Kind::View if attrs.get("materialized") == Some(&Value::Bool(true)) => {
            (Kind::MaterializedView, without(attrs, "materialized"))
        }
        Kind::View => (Kind::View, without(attrs, "materialized")),
        other => (other, attrs),
    };
    Ok(Object {
        kind,
        schema: r.try_get(0)?,
        name: r.try_get(1)?,
        table: r.try_get(2)?,
        attrs,
    })
}

fn without(mut attrs: BTreeMap<String, Value>, key: &str) -> BTreeMap<String, Value> {
    attrs.remove(key);
    attrs
}
