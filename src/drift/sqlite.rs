//! Reading a SQLite database's schema into a [`Catalog`]: tables (from `sqlite_master`), columns (`pragma
//! table_xinfo`: declared type, NOT NULL, default, primary key position, generated), indexes (their SQL; the
//! automatic ones of UNIQUE and PRIMARY KEY constraints as constraints, by their columns), foreign keys (`pragma
//! foreign_key_list`), views and triggers (their SQL, whitespace folded). SQLite's own tables (`sqlite_%`) are left
//! out. Not compared: CHECK constraints (SQLite keeps them only inside the table's SQL). Reads only. Imports
//! `migrate::db` (the connection) and [`super::catalog`].

use std::collections::BTreeMap;

use serde_json::{Value, json};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::catalog::{Catalog, Kind, Object, attrs};
use crate::migrate::MigrateError;
use crate::migrate::db::Db;
use crate::migrate::error::describe_db_error;

/// SQLite's schema name for the database itself.
const MAIN: &str = "main";

/// Objects of the user's: not SQLite's own (`sqlite_sequence`, `sqlite_stat1`, automatic indexes).
const USER_OBJECT: &str = "m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

fn db_err(e: sqlx::Error) -> MigrateError {
    MigrateError::Database {
        context: "reading the database's schema".into(),
        message: describe_db_error(&e).0,
    }
}

async fn rows(db: &mut Db, sql: String) -> Result<Vec<AnyRow>, MigrateError> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut db.conn)
        .await
        .map_err(db_err)
}

/// SQL text on one line, whitespace runs folded: how a definition is compared.
fn folded(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn object(kind: Kind, name: String, table: Option<String>, a: BTreeMap<String, Value>) -> Object {
    Object {
        kind,
        schema: MAIN.into(),
        name,
        table,
        attrs: a,
    }
}

/// Reads the schema of the SQLite database `db` is connected to.
pub async fn read(db: &mut Db) -> Result<Catalog, MigrateError> {
    let mut catalog = Catalog::default();
    let master = format!(
        "SELECT CAST(m.type AS TEXT), CAST(m.name AS TEXT), CAST(m.tbl_name AS TEXT), CAST(m.sql AS TEXT) \
         FROM sqlite_master m WHERE m.type IN ('table', 'index', 'view', 'trigger') AND {USER_OBJECT} \
         AND m.sql IS NOT NULL ORDER BY m.type, m.name"
    );
    for r in rows(db, master).await? {
        let (ty, name, table, sql): (String, String, String, String) = (
            r.try_get(0).map_err(db_err)?,
            r.try_get(1).map_err(db_err)?,
            r.try_get(2).map_err(db_err)?,
            r.try_get(3).map_err(db_err)?,
        );
        let definition = || attrs([("definition", json!(folded(&sql)))]);
        catalog.add(match ty.as_str() {
            "table" => object(Kind::Table, name, None, attrs([])),
            "index" => object(Kind::Index, name, Some(table), definition()),
            "view" => object(Kind::View, name, None, definition()),
            _ => object(Kind::Trigger, name, Some(table), definition()),
        });
    }
    columns(db, &mut catalog).await?;
    key_constraints(db, &mut catalog).await?;
    foreign_keys(db, &mut catalog).await?;
    Ok(catalog)
}

/// Every column of every table (`pragma table_xinfo`: hidden 2 and 3 are generated columns).
async fn columns(db: &mut Db, catalog: &mut Catalog) -> Result<(), MigrateError> {
    let sql = format!(
        "SELECT CAST(m.name AS TEXT), CAST(p.name AS TEXT), CAST(p.type AS TEXT), CAST(p.\"notnull\" AS INTEGER), \
         CAST(p.dflt_value AS TEXT), CAST(p.pk AS INTEGER), CAST(p.hidden AS INTEGER) \
         FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p \
         WHERE m.type = 'table' AND {USER_OBJECT} ORDER BY m.name, p.cid"
    );
    for r in rows(db, sql).await? {
        let table: String = r.try_get(0).map_err(db_err)?;
        let name: String = r.try_get(1).map_err(db_err)?;
        let ty: String = r.try_get(2).map_err(db_err)?;
        let not_null: i64 = r.try_get(3).map_err(db_err)?;
        let default: Option<String> = r.try_get(4).map_err(db_err)?;
        let pk: i64 = r.try_get(5).map_err(db_err)?;
        let hidden: i64 = r.try_get(6).map_err(db_err)?;
        let a = attrs([
            ("type", json!(ty)),
            ("not_null", json!(not_null != 0)),
            ("default", json!(default)),
            (
                "primary_key",
                if pk > 0 {
                    json!(pk.to_string())
                } else {
                    Value::Null
                },
            ),
            ("generated", json!(matches!(hidden, 2 | 3))),
        ]);
        catalog.add(object(Kind::Column, name, Some(table), a));
    }
    Ok(())
}

/// UNIQUE and PRIMARY KEY constraints: SQLite names their indexes by position (`sqlite_autoindex_t_1`), so they are
/// named here by their columns (`UNIQUE (email)`).
async fn key_constraints(db: &mut Db, catalog: &mut Catalog) -> Result<(), MigrateError> {
    let sql = format!(
        "SELECT CAST(m.name AS TEXT), CAST(l.origin AS TEXT), \
         (SELECT group_concat(c, ', ') FROM (SELECT i.name AS c FROM pragma_index_info(l.name) i ORDER BY i.seqno)) \
         FROM sqlite_master m JOIN pragma_index_list(m.name) l \
         WHERE m.type = 'table' AND {USER_OBJECT} AND l.origin IN ('u', 'pk') ORDER BY m.name, l.name"
    );
    for r in rows(db, sql).await? {
        let table: String = r.try_get(0).map_err(db_err)?;
        let origin: String = r.try_get(1).map_err(db_err)?;
        let cols: Option<String> = r.try_get(2).map_err(db_err)?;
        let word = if origin == "pk" {
            "PRIMARY KEY"
        } else {
            "UNIQUE"
        };
        let name = format!("{word} ({})", cols.unwrap_or_default());
        catalog.add(object(Kind::Constraint, name, Some(table), attrs([])));
    }
    Ok(())
}

/// Foreign keys, one per constraint (its columns gathered in order), named by what they say.
async fn foreign_keys(db: &mut Db, catalog: &mut Catalog) -> Result<(), MigrateError> {
    let sql = format!(
        "SELECT CAST(m.name AS TEXT), CAST(f.id AS INTEGER), CAST(f.\"table\" AS TEXT), CAST(f.\"from\" AS TEXT), \
         CAST(f.\"to\" AS TEXT), CAST(f.on_update AS TEXT), CAST(f.on_delete AS TEXT) \
         FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table' AND {USER_OBJECT} ORDER BY m.name, f.id, f.seq"
    );
    // (table, id) -> (referenced table, from columns, to columns, on update, on delete)
    type Fk = (String, Vec<String>, Vec<String>, String, String);
    let mut keys: BTreeMap<(String, i64), Fk> = BTreeMap::new();
    for r in rows(db, sql).await? {
        let table: String = r.try_get(0).map_err(db_err)?;
        let id: i64 = r.try_get(1).map_err(db_err)?;
        let to: Option<String> = r.try_get(4).map_err(db_err)?;
        let entry = keys.entry((table, id)).or_insert_with(|| {
            let get = |i| r.try_get::<String, _>(i).unwrap_or_default();
            (get(2), Vec::new(), Vec::new(), get(5), get(6))
        });
        entry.1.push(r.try_get(3).map_err(db_err)?);
        entry.2.extend(to);
    }
    for ((table, _), (target, from, to, on_update, on_delete)) in keys {
        let to = if to.is_empty() {
            String::new()
        } else {
            format!(" ({})", to.join(", "))
        };
        let name = format!(
            "FOREIGN KEY ({}) REFERENCES {target}{to} ON UPDATE {on_update} ON DELETE {on_delete}",
            from.join(", ")
        );
        catalog.add(object(Kind::Constraint, name, Some(table), attrs([])));
    }
    Ok(())
}
