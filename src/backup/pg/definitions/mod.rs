//! The object definitions of an archive's table of contents, read back and compared with the live database. No
//! checksum covers a custom archive's table of contents (only its data blocks are compressed), so a changed byte
//! in a `CREATE TABLE` would pass every other check: [`ddl`] reads what `pg_restore --schema-only` prints (parsed
//! with squawk-syntax) and [`live`] the same from the catalog, and [`compare`] tells the differences: tables and
//! their columns (name, type as `format_type` writes it, NOT NULL), indexes, constraints, sequences, views,
//! materialized views, functions and procedures.

mod ddl;
mod live;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use self::ddl::parse;
pub use self::live::read as read_live;

/// The most differences told, one line each; the rest are counted on one more line.
pub const MAX_DIFFERENCES: usize = 50;

/// The objects of a database (or of an archive), by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Definitions {
    /// Ordinary and partitioned tables, by `(schema, name)`.
    pub tables: BTreeMap<(String, String), Table>,
    /// Everything else, each once.
    pub objects: BTreeSet<Object>,
}

/// A table's columns as its definition lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<Column>,
    /// A typed table (`CREATE TABLE … OF type`): its columns come from the type and are not compared.
    pub typed: bool,
}

/// A column: its name, its type as `format_type` (and so `pg_dump`) writes it, and whether it is NOT NULL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub ty: String,
    /// `None` when the definition does not tell (a column a child table inherits: its NOT NULL comes from the
    /// parent's definition).
    pub not_null: Option<bool>,
}

/// What an [`Object`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Index,
    Constraint,
    Sequence,
    View,
    MaterializedView,
    Function,
    Procedure,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Index => "index",
            Kind::Constraint => "constraint",
            Kind::Sequence => "sequence",
            Kind::View => "view",
            Kind::MaterializedView => "materialized view",
            Kind::Function => "function",
            Kind::Procedure => "procedure",
        }
    }
}

/// An object other than a table, named as `pg_dump` names it. Functions are compared by name: overloads count
/// once.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Object {
    pub kind: Kind,
    pub schema: String,
    pub name: String,
    /// The table an index or constraint belongs to (in `schema`): constraint names are unique per table only.
    pub table: Option<String>,
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, &self.table) {
            (Kind::Constraint, Some(t)) => {
                write!(f, "constraint {} on {}.{t}", self.name, self.schema)
            }
            (kind, Some(t)) => write!(
                f,
                "{} {}.{} on {}.{t}",
                kind.word(),
                self.schema,
                self.name,
                self.schema
            ),
            (kind, None) => write!(f, "{} {}.{}", kind.word(), self.schema, self.name),
        }
    }
}

fn qualified((schema, name): &(String, String)) -> String {
    format!("{schema}.{name}")
}

/// How `archive` differs from `live`, one line each naming the object (at most [`MAX_DIFFERENCES`] and a count of
/// the rest). `reported` are live tables (`schema.table`) already told as missing from the archive: they, and the
/// indexes and constraints of every table on one side only, are not told again.
pub fn compare(archive: &Definitions, live: &Definitions, reported: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut gone: BTreeSet<(String, String)> = BTreeSet::new();
    for (key, table) in &archive.tables {
        match live.tables.get(key) {
            None => {
                out.push(format!(
                    "table {} is in the archive but not in the live database",
                    qualified(key)
                ));
                gone.insert(key.clone());
            }
            Some(now) if !table.typed && !now.typed => {
                columns(&qualified(key), table, now, &mut out)
            }
            Some(_) => {}
        }
    }
    for key in live
        .tables
        .keys()
        .filter(|k| !archive.tables.contains_key(*k))
    {
        let name = qualified(key);
        if !reported.contains(&name) {
            out.push(format!(
                "table {name} of the live database is not in the archive"
            ));
        }
        gone.insert(key.clone());
    }
    let on_gone = |o: &Object| {
        o.table
            .as_ref()
            .is_some_and(|t| gone.contains(&(o.schema.clone(), t.clone())))
    };
    for o in archive.objects.difference(&live.objects) {
        if !on_gone(o) {
            out.push(format!(
                "{o} is in the archive but not in the live database"
            ));
        }
    }
    for o in live.objects.difference(&archive.objects) {
        if !on_gone(o) {
            out.push(format!("{o} of the live database is not in the archive"));
        }
    }
    if out.len() > MAX_DIFFERENCES {
        let more = out.len() - MAX_DIFFERENCES;
        out.truncate(MAX_DIFFERENCES);
        out.push(format!("… and {more} more differences"));
    }
    out
}

/// The differences between one table's columns in the archive and live.
fn columns(table: &str, archive: &Table, live: &Table, out: &mut Vec<String>) {
    for c in &archive.columns {
        let Some(now) = live.columns.iter().find(|l| l.name == c.name) else {
            out.push(format!(
                "column {table}.{} ({}) is in the archive but not in the live database",
                c.name, c.ty
            ));
            continue;
        };
        if c.ty != now.ty {
            out.push(format!(
                "column {table}.{} is {} in the archive but {} in the live database",
                c.name, c.ty, now.ty
            ));
        }
        if let (Some(then), Some(now)) = (c.not_null, now.not_null)
            && then != now
        {
            let word = |n: bool| if n { "NOT NULL" } else { "nullable" };
            out.push(format!(
                "column {table}.{} is {} in the archive but {} in the live database",
                c.name,
                word(then),
                word(now)
            ));
        }
    }
    for c in live
        .columns
        .iter()
        .filter(|l| !archive.columns.iter().any(|c| c.name == l.name))
    {
        out.push(format!(
            "column {table}.{} ({}) of the live database is not in the archive",
            c.name, c.ty
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: &[(&str, &str, bool)]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|(name, ty, not_null)| Column {
                    name: (*name).into(),
                    ty: (*ty).into(),
                    not_null: Some(*not_null),
                })
                .collect(),
            typed: false,
        }
    }

    fn defs(tables: &[(&str, Table)], objects: &[Object]) -> Definitions {
        Definitions {
            tables: tables
                .iter()
                .map(|(name, t)| (("public".into(), (*name).into()), t.clone()))
                .collect(),
            objects: objects.iter().cloned().collect(),
        }
    }

    fn constraint(name: &str, table: &str) -> Object {
        Object {
            kind: Kind::Constraint,
            schema: "public".into(),
            name: name.into(),
            table: Some(table.into()),
        }
    }

    #[test]
    fn names_every_difference_once() {
        let archive = defs(
            &[
                ("fata", table(&[("id", "integer", true)])),
                (
                    "orders",
                    table(&[("id", "integer", true), ("n", "text", false)]),
                ),
            ],
            &[
                constraint("fata_pkey", "fata"),
                constraint("orders_pkey", "orders"),
            ],
        );
        let live = defs(
            &[
                ("data", table(&[("id", "integer", true)])),
                ("late", table(&[("id", "integer", true)])),
                (
                    "orders",
                    table(&[("id", "bigint", false), ("m", "text", false)]),
                ),
            ],
            &[
                constraint("data_pkey", "data"),
                constraint("late_pkey", "late"),
                constraint("orders_pkey", "orders"),
                Object {
                    kind: Kind::View,
                    schema: "public".into(),
                    name: "v".into(),
                    table: None,
                },
            ],
        );
        let lines = compare(&archive, &live, &["public.late".to_string()]);
        assert_eq!(
            lines,
            [
                "table public.fata is in the archive but not in the live database",
                "column public.orders.id is integer in the archive but bigint in the live database",
                "column public.orders.id is NOT NULL in the archive but nullable in the live database",
                "column public.orders.n (text) is in the archive but not in the live database",
                "column public.orders.m (text) of the live database is not in the archive",
                "table public.data of the live database is not in the archive",
                "view public.v of the live database is not in the archive",
            ]
        );
        assert!(compare(&live, &live, &[]).is_empty());
    }

    #[test]
    fn many_differences_are_counted() {
        let many: Vec<(String, Table)> = (0..MAX_DIFFERENCES + 7)
            .map(|i| (format!("t{i:03}"), Table::default()))
            .collect();
        let many: Vec<(&str, Table)> = many.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        let lines = compare(&defs(&many, &[]), &Definitions::default(), &[]);
        assert_eq!(lines.len(), MAX_DIFFERENCES + 1);
        assert_eq!(lines[MAX_DIFFERENCES], "… and 7 more differences");
    }
}
