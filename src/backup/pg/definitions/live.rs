//! The live database's definitions, from its catalog, as `pg_dump` would write them: what it dumps (no system
//! schema, no other session's temporary table, nothing an extension owns) and how it writes it (types by
//! `format_type` with an empty `search_path`, so every type outside `pg_catalog` is schema-qualified, as in a dump).

use sqlx::Row;

use super::super::catalog::err;
use super::{Column, Definitions, Kind, Object};
use crate::backup::BackupError;
use crate::migrate::db::Db;

/// A schema `pg_dump` dumps (`n` is the `pg_namespace` row).
const USER_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// Tables and their columns, in column order. A column is listed where `pg_dump` writes it: defined in the table
/// itself (not only inherited), or in a partition (whose columns pg_dump writes out). Its NOT NULL is told only
/// when not inherited (a child's inherited NOT NULL is not written with it), and always for a partition.
fn columns_sql() -> String {
    format!(
        "SELECT CAST(n.nspname AS TEXT), CAST(c.relname AS TEXT), c.reloftype <> 0, CAST(a.attname AS TEXT), \
         CAST(format_type(a.atttypid, a.atttypmod) AS TEXT), a.attnotnull, \
         (a.attinhcount = 0 OR c.relispartition) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
              AND (a.attislocal OR c.relispartition) \
         WHERE c.relkind IN ('r', 'p') AND c.relpersistence <> 't' AND {USER_SCHEMA} \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = CAST('pg_class' AS regclass) \
                         AND d.objid = c.oid AND d.deptype = 'e') \
         ORDER BY 1, 2, a.attnum"
    )
}

/// Every other object as `(kind, schema, name, table)`: indexes that no constraint makes (pg_dump writes those as
/// the constraint), constraints as pg_dump writes them (keys and exclusions, foreign keys not cloned onto a
/// partition, CHECKs not inherited), sequences other than an identity column's, views, materialized views,
/// functions and procedures. `server_num` is the server's `server_version_num`: before PostgreSQL 11 there were
/// no procedures (`prokind`) and no foreign keys cloned onto partitions (`conparentid`).
fn objects_sql(server_num: u32) -> String {
    let (not_cloned, kind, routine) = if server_num >= 110_000 {
        (
            "k.conparentid = 0",
            "p.prokind",
            "p.prokind IN ('f', 'w', 'p')",
        )
    } else {
        ("true", "'f'", "NOT p.proisagg")
    };
    let not_extension = |class: &str, oid: &str| {
        format!(
            "NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = CAST('{class}' AS regclass) \
             AND d.objid = {oid} AND d.deptype = 'e')"
        )
    };
    let relations = not_extension("pg_class", "c.oid");
    let tables = not_extension("pg_class", "t.oid");
    let routines = not_extension("pg_proc", "p.oid");
    format!(
        "SELECT 'index', CAST(n.nspname AS TEXT), CAST(c.relname AS TEXT), CAST(t.relname AS TEXT) \
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE t.relkind IN ('r', 'p', 'm') AND t.relpersistence <> 't' AND {USER_SCHEMA} AND {tables} \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid \
                         AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x')) \
         UNION ALL \
         SELECT 'constraint', CAST(n.nspname AS TEXT), CAST(k.conname AS TEXT), CAST(t.relname AS TEXT) \
         FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE t.relkind IN ('r', 'p') AND t.relpersistence <> 't' AND {USER_SCHEMA} AND {tables} \
         AND (k.contype IN ('p', 'u', 'x') OR (k.contype = 'f' AND {not_cloned}) \
              OR (k.contype = 'c' AND k.conislocal)) \
         UNION ALL \
         SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' ELSE 'materialized view' END, \
         CAST(n.nspname AS TEXT), CAST(c.relname AS TEXT), NULL \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ('S', 'v', 'm') AND c.relpersistence <> 't' AND {USER_SCHEMA} AND {relations} \
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = CAST('pg_class' AS regclass) \
                         AND d.objid = c.oid AND d.deptype = 'i') \
         UNION ALL \
         SELECT CASE {kind} WHEN 'p' THEN 'procedure' ELSE 'function' END, CAST(n.nspname AS TEXT), \
         CAST(p.proname AS TEXT), NULL \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
         WHERE {routine} AND {USER_SCHEMA} AND {routines}"
    )
}

fn kind(word: &str) -> Option<Kind> {
    Some(match word {
        "index" => Kind::Index,
        "constraint" => Kind::Constraint,
        "sequence" => Kind::Sequence,
        "view" => Kind::View,
        "materialized view" => Kind::MaterializedView,
        "function" => Kind::Function,
        "procedure" => Kind::Procedure,
        _ => return None,
    })
}

/// Reads the definitions of the database `db` is connected to (a server whose `server_version_num` is
/// `server_num`). Sets the session's `search_path` to empty (as
/// `pg_dump` does): the connection is meant for reading the catalog only.
pub async fn read(db: &mut Db, server_num: u32) -> Result<Definitions, BackupError> {
    let context = "reading the database's definitions";
    sqlx::raw_sql("SET search_path = ''")
        .execute(&mut db.conn)
        .await
        .map_err(err(context))?;
    let mut defs = Definitions::default();
    let rows = sqlx::query(sqlx::AssertSqlSafe(columns_sql()))
        .fetch_all(&mut db.conn)
        .await
        .map_err(err(context))?;
    for r in &rows {
        let key: (String, String) = (
            r.try_get(0).map_err(err(context))?,
            r.try_get(1).map_err(err(context))?,
        );
        let table = defs.tables.entry(key).or_default();
        table.typed = r.try_get(2).map_err(err(context))?;
        let name: Option<String> = r.try_get(3).map_err(err(context))?;
        let (Some(name), Some(ty)) = (
            name,
            r.try_get::<Option<String>, _>(4).map_err(err(context))?,
        ) else {
            continue;
        };
        let not_null: bool = r.try_get(5).map_err(err(context))?;
        let told: bool = r.try_get(6).map_err(err(context))?;
        table.columns.push(Column {
            name,
            ty,
            not_null: told.then_some(not_null),
        });
    }
    let rows = sqlx::query(sqlx::AssertSqlSafe(objects_sql(server_num)))
        .fetch_all(&mut db.conn)
        .await
        .map_err(err(context))?;
    for r in &rows {
        let word: String = r.try_get(0).map_err(err(context))?;
        let Some(kind) = kind(&word) else { continue };
        defs.objects.insert(Object {
            kind,
            schema: r.try_get(1).map_err(err(context))?,
            name: r.try_get(2).map_err(err(context))?,
            table: r.try_get(3).map_err(err(context))?,
        });
    }
    Ok(defs)
}
