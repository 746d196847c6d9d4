//! The catalog snapshot both sides of a drift check are read into: every schema object as its kind, where it
//! lives, its name and its attributes (type, default, definition, …), keyed so the live database and the replayed
//! history line up object by object. Also what is never drift: the migration tools' and deckhand's own ledgers.
//! Plain data; imports nothing of deckhand.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// The ledger tables of Prisma, sqlx, Drizzle and deckhand (plain SQL): never drift, in whatever schema they are,
/// nor anything of theirs (indexes, constraints, sequences, triggers).
pub const LEDGER_TABLES: &[&str] = &[
    "_prisma_migrations",
    "_sqlx_migrations",
    "__drizzle_migrations",
    "deckhand_migrations",
];

/// The schema Drizzle's migrator (and deckhand for Drizzle folders) creates for its ledger.
pub const DRIZZLE_SCHEMA: &str = "drizzle";

/// What an object is. The order is the report's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Extension,
    Schema,
    Enum,
    Sequence,
    Table,
    Column,
    Index,
    Constraint,
    View,
    MaterializedView,
    Function,
    Trigger,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Extension => "extension",
            Kind::Schema => "schema",
            Kind::Enum => "enum",
            Kind::Sequence => "sequence",
            Kind::Table => "table",
            Kind::Column => "column",
            Kind::Index => "index",
            Kind::Constraint => "constraint",
            Kind::View => "view",
            Kind::MaterializedView => "materialized view",
            Kind::Function => "function",
            Kind::Trigger => "trigger",
        }
    }

    /// Kinds whose names are unique per table only (their identity includes the table).
    fn scoped_by_table(self) -> bool {
        matches!(self, Kind::Column | Kind::Constraint | Kind::Trigger)
    }
}

/// Where an object is and what it is called: what lines the two sides up.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub kind: Kind,
    /// Empty for objects outside schemas (extensions, schemas themselves); `main` on SQLite.
    pub schema: String,
    /// The table, for kinds named per table (columns, constraints, triggers); empty otherwise.
    pub table: String,
    /// The object's name; a function's includes its argument types (`total(integer)`).
    pub name: String,
}

/// One object of a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub kind: Kind,
    pub schema: String,
    pub name: String,
    /// The table it belongs to (a column's, an index's, a constraint's, a trigger's, an owned sequence's), in the
    /// same schema.
    pub table: Option<String>,
    /// What is compared: `type`, `not_null`, `default`, `definition`, `values`, … (JSON values; `null` = none).
    pub attrs: BTreeMap<String, Value>,
}

impl Object {
    pub fn key(&self) -> Key {
        let table = if self.kind.scoped_by_table() {
            self.table.clone().unwrap_or_default()
        } else {
            String::new()
        };
        Key {
            kind: self.kind,
            schema: self.schema.clone(),
            table,
            name: self.name.clone(),
        }
    }

    /// How the report names it: `orders.note`, `orders_email_idx`, `status`; the schema shown only when it is not
    /// the default one (`public`, SQLite's `main`).
    pub fn display_name(&self) -> String {
        let mut out = String::new();
        if !is_default_schema(&self.schema) {
            out.push_str(&self.schema);
            out.push('.');
        }
        match (&self.table, self.kind) {
            // SQLite's unnamed constraints are named by what they say: `UNIQUE (email) on orders`.
            (Some(t), Kind::Constraint) if self.name.contains(' ') => {
                return format!("{} on {out}{t}", self.name);
            }
            (Some(t), Kind::Column | Kind::Constraint | Kind::Trigger) => {
                out.push_str(t);
                out.push('.');
            }
            _ => {}
        }
        out.push_str(&self.name);
        out
    }

    /// Whether other objects belong to this one (a table's columns, a materialized view's indexes).
    pub fn has_parts(&self) -> bool {
        matches!(self.kind, Kind::Table | Kind::MaterializedView)
    }

    /// The qualified table this object stands or falls with: itself for a table (or a materialized view), its
    /// owner otherwise.
    pub fn owner_table(&self) -> Option<(String, String)> {
        match (self.kind, &self.table) {
            _ if self.has_parts() => Some((self.schema.clone(), self.name.clone())),
            (_, Some(t)) => Some((self.schema.clone(), t.clone())),
            _ => None,
        }
    }

    /// A ledger table, something of one, or Drizzle's ledger schema: owned by the tools, never drift.
    pub fn tool_owned(&self) -> bool {
        if self.kind == Kind::Schema && self.name == DRIZZLE_SCHEMA {
            return true;
        }
        self.owner_table()
            .is_some_and(|(_, t)| LEDGER_TABLES.contains(&t.as_str()))
    }
}

fn is_default_schema(schema: &str) -> bool {
    matches!(schema, "" | "public" | "main")
}

/// Every object of one database (the live one, or the replayed history), tool-owned objects left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Catalog {
    pub objects: BTreeMap<Key, Object>,
}

impl Catalog {
    /// Adds `object` unless the tools own it.
    pub fn add(&mut self, object: Object) {
        if !object.tool_owned() {
            self.objects.insert(object.key(), object);
        }
    }

    /// The extensions installed, by name.
    pub fn extensions(&self) -> Vec<String> {
        self.objects
            .values()
            .filter(|o| o.kind == Kind::Extension)
            .map(|o| o.name.clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// A builder for an object's attributes.
pub fn attrs<const N: usize>(pairs: [(&str, Value); N]) -> BTreeMap<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(kind: Kind, schema: &str, table: Option<&str>, name: &str) -> Object {
        Object {
            kind,
            schema: schema.into(),
            name: name.into(),
            table: table.map(str::to_string),
            attrs: BTreeMap::new(),
        }
    }

    #[test]
    fn ledgers_and_their_parts_are_never_drift() {
        let mut c = Catalog::default();
        c.add(object(Kind::Table, "public", None, "_prisma_migrations"));
        c.add(object(
            Kind::Constraint,
            "app",
            Some("_prisma_migrations"),
            "_prisma_migrations_pkey",
        ));
        c.add(object(
            Kind::Sequence,
            "drizzle",
            Some("__drizzle_migrations"),
            "__drizzle_migrations_id_seq",
        ));
        c.add(object(Kind::Schema, "", None, "drizzle"));
        c.add(object(
            Kind::Column,
            "main",
            Some("_sqlx_migrations"),
            "version",
        ));
        c.add(object(Kind::Table, "public", None, "orders"));
        c.add(object(
            Kind::Column,
            "public",
            Some("orders"),
            "deckhand_migrations",
        ));
        let names: Vec<String> = c.objects.values().map(Object::display_name).collect();
        assert_eq!(names, ["orders", "orders.deckhand_migrations"]);
    }

    #[test]
    fn names_show_the_schema_only_when_not_the_default() {
        assert_eq!(
            object(Kind::Column, "public", Some("orders"), "note").display_name(),
            "orders.note"
        );
        assert_eq!(
            object(Kind::Index, "app", Some("orders"), "orders_email_idx").display_name(),
            "app.orders_email_idx"
        );
        assert_eq!(
            object(Kind::Extension, "", None, "citext").display_name(),
            "citext"
        );
    }
}
