//! Comparing the catalog the applied history produces with the live one: one [`Difference`] per object (or per
//! attribute of one) that is not the same, worded for the operator (`column orders.note: not in the history (added
//! by hand?)`), in a stable order. The parts of a table that is on one side only are not told again. Pure; imports
//! only [`super::catalog`].

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;
use serde_json::Value;

use super::catalog::{Catalog, Kind, Object};

/// Longest value shown in a sentence; longer ones (a view's or a function's definition) are told as differing,
/// with a short fingerprint of each side, and given whole in the JSON.
const SHOWN_CHARS: usize = 100;

/// How an object differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// On the live database only: made outside the migrations.
    NotInHistory,
    /// In the history only: dropped (or never made) on the live database.
    MissingLive,
    /// On both sides, with an attribute (`aspect`) of another value.
    Differs,
}

/// One difference between the history and the live database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    pub kind: Kind,
    /// The object as the report names it (`orders.note`; schema shown when not `public`).
    pub object: String,
    pub schema: String,
    /// The table it belongs to, when it belongs to one.
    pub table: Option<String>,
    pub change: Change,
    /// What differs: `type`, `not_null`, `default`, `definition`, `value` (of an enum), …; none for an object
    /// on one side only.
    pub aspect: Option<String>,
    /// The history's value of `aspect` (none: the history does not have it).
    pub history: Option<String>,
    /// The live database's value of `aspect` (none: the live database does not have it).
    pub live: Option<String>,
    /// The sentence the report prints.
    pub message: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The differences between `history` (the catalog the applied migrations produce) and `live`, in the report's
/// order: by kind (extensions first, triggers last), then name, then aspect.
pub fn compare(history: &Catalog, live: &Catalog) -> Vec<Difference> {
    let tables = |c: &Catalog| -> BTreeSet<(String, String)> {
        c.objects
            .values()
            .filter(|o| o.has_parts())
            .filter_map(Object::owner_table)
            .collect()
    };
    let (history_tables, live_tables) = (tables(history), tables(live));
    // Tables (and materialized views) on one side only: their columns, indexes, constraints, triggers and
    // sequences go with them.
    let one_sided: BTreeSet<(String, String)> = history_tables
        .symmetric_difference(&live_tables)
        .cloned()
        .collect();
    let told_with_table = |o: &Object| {
        !o.has_parts()
            && o.owner_table()
                .is_some_and(|owner| one_sided.contains(&owner))
    };
    let mut out = Vec::new();
    for (key, expected) in &history.objects {
        match live.objects.get(key) {
            None if !told_with_table(expected) => out.push(one_side(expected, Change::MissingLive)),
            None => {}
            Some(now) => attributes(expected, now, &mut out),
        }
    }
    for (key, now) in &live.objects {
        if !history.objects.contains_key(key) && !told_with_table(now) {
            out.push(one_side(now, Change::NotInHistory));
        }
    }
    out.sort_by(|a, b| {
        (a.kind, &a.object, &a.aspect, &a.message).cmp(&(b.kind, &b.object, &b.aspect, &b.message))
    });
    out
}

fn base(o: &Object, change: Change) -> Difference {
    Difference {
        kind: o.kind,
        object: o.display_name(),
        schema: o.schema.clone(),
        table: o.table.clone(),
        change,
        aspect: None,
        history: None,
        live: None,
        message: String::new(),
    }
}

fn one_side(o: &Object, change: Change) -> Difference {
    let what = match change {
        Change::NotInHistory => "not in the history (added by hand?)",
        _ => "missing on the live database",
    };
    Difference {
        message: format!("{} {}: {what}", o.kind.word(), o.display_name()),
        ..base(o, change)
    }
}

/// One difference per attribute of another value; an enum's values one by one.
fn attributes(history: &Object, live: &Object, out: &mut Vec<Difference>) {
    let keys: BTreeSet<&String> = history.attrs.keys().chain(live.attrs.keys()).collect();
    for key in keys {
        let (h, l) = (
            history.attrs.get(key).unwrap_or(&Value::Null),
            live.attrs.get(key).unwrap_or(&Value::Null),
        );
        if h == l {
            continue;
        }
        if key == "values" {
            enum_values(history, h, l, out);
            continue;
        }
        let (h_text, l_text) = (plain(h), plain(l));
        let (h_phrase, mut l_phrase) = (phrase(key, h), phrase(key, l));
        let name = format!("{} {}", history.kind.word(), history.display_name());
        let message =
            if h_phrase.chars().count() > SHOWN_CHARS || l_phrase.chars().count() > SHOWN_CHARS {
                format!(
                    "{name}: {} differs ({} in the history, {} live; the JSON output has both)",
                    key.replace('_', " "),
                    fingerprint(h_text.as_deref()),
                    fingerprint(l_text.as_deref())
                )
            } else {
                // `default true in the history, false live`: the attribute's name once.
                let prefix = format!("{} ", key.replace('_', " "));
                if h_phrase.starts_with(&prefix)
                    && let Some(rest) = l_phrase.strip_prefix(&prefix)
                {
                    l_phrase = rest.to_string();
                }
                format!("{name}: {h_phrase} in the history, {l_phrase} live")
            };
        out.push(Difference {
            aspect: Some(key.clone()),
            history: h_text,
            live: l_text,
            message,
            ..base(history, Change::Differs)
        });
    }
}

/// An enum's values: each value on one side only, then (when both have the same values) a change of order.
fn enum_values(o: &Object, history: &Value, live: &Value, out: &mut Vec<Difference>) {
    let list = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|x| plain(x).unwrap_or_default()).collect())
            .unwrap_or_default()
    };
    let (h, l) = (list(history), list(live));
    let name = format!("{} {}", o.kind.word(), o.display_name());
    let mut value = |change: Change, v: &String, what: &str| {
        let (history, live) = match change {
            Change::NotInHistory => (None, Some(v.clone())),
            _ => (Some(v.clone()), None),
        };
        out.push(Difference {
            aspect: Some("value".into()),
            history,
            live,
            message: format!("{name}: value '{v}' {what}"),
            ..base(o, change)
        });
    };
    let mut any = false;
    for v in l.iter().filter(|v| !h.contains(v)) {
        value(Change::NotInHistory, v, "not in the history");
        any = true;
    }
    for v in h.iter().filter(|v| !l.contains(v)) {
        value(Change::MissingLive, v, "missing on the live database");
        any = true;
    }
    if !any {
        let (h, l) = (h.join(", "), l.join(", "));
        out.push(Difference {
            aspect: Some("values".into()),
            message: format!("{name}: values in another order (history: {h}; live: {l})"),
            history: Some(h),
            live: Some(l),
            ..base(o, Change::Differs)
        });
    }
}

/// A value as text: strings as they are, `true`/`false`, lists joined with `, `; none for JSON null.
fn plain(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(
            a.iter()
                .map(|x| plain(x).unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        other => Some(other.to_string()),
    }
}

/// How an attribute's value reads in a sentence: `default now()`, `no default`, `NOT NULL`, `type bigint`.
fn phrase(key: &str, v: &Value) -> String {
    let flag = v.as_bool();
    let text = plain(v).map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "));
    match (key, flag, text) {
        ("not_null", Some(true), _) => "NOT NULL".into(),
        ("not_null", _, _) => "nullable".into(),
        ("valid", Some(true), _) => "valid".into(),
        ("valid", _, _) => "INVALID (a failed CREATE INDEX CONCURRENTLY?)".into(),
        // A trigger's state reads as it is: `enabled`, `disabled`, `enabled on replicas only`.
        ("enabled", None, Some(t)) => t,
        (key, Some(true), _) => key.replace('_', " "),
        (key, Some(false), _) => format!("not {}", key.replace('_', " ")),
        (key, None, Some(t)) => format!("{} {t}", key.replace('_', " ")),
        ("identity", None, None) => "not an identity column".into(),
        ("generated", None, None) => "not generated".into(),
        ("collation", None, None) => "the type's collation".into(),
        (key, None, None) => format!("no {}", key.replace('_', " ")),
    }
}

/// A short, stable fingerprint of a long value (`sha256 1a2b3c4d`), or `none`.
fn fingerprint(text: Option<&str>) -> String {
    use sha2::Digest;
    match text {
        Some(t) => format!(
            "sha256 {}",
            &hex::encode(sha2::Sha256::digest(t.as_bytes()))[..8]
        ),
        None => "none".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::catalog::attrs;
    use serde_json::json;

    fn column(name: &str, ty: &str, default: Value) -> Object {
        Object {
            kind: Kind::Column,
            schema: "public".into(),
            name: name.into(),
            table: Some("users".into()),
            attrs: attrs([
                ("type", json!(ty)),
                ("not_null", json!(true)),
                ("default", default),
            ]),
        }
    }

    fn table(name: &str) -> Object {
        Object {
            kind: Kind::Table,
            schema: "public".into(),
            name: name.into(),
            table: None,
            attrs: attrs([]),
        }
    }

    fn catalog(objects: Vec<Object>) -> Catalog {
        let mut c = Catalog::default();
        for o in objects {
            c.add(o);
        }
        c
    }

    fn messages(d: &[Difference]) -> Vec<&str> {
        d.iter().map(|d| d.message.as_str()).collect()
    }

    #[test]
    fn each_kind_of_difference_is_worded_for_the_operator() {
        let status = |values: Value| Object {
            kind: Kind::Enum,
            schema: "public".into(),
            name: "status".into(),
            table: None,
            attrs: attrs([("values", values)]),
        };
        let history = catalog(vec![
            table("users"),
            column("active", "boolean", json!("true")),
            column("id", "integer", Value::Null),
            status(json!(["new", "paid"])),
        ]);
        let live = catalog(vec![
            table("users"),
            table("audit"),
            column("active", "boolean", json!("false")),
            column("id", "bigint", json!("nextval('users_id_seq'::regclass)")),
            column("note", "text", Value::Null),
            status(json!(["new", "paid", "archived"])),
        ]);
        let d = compare(&history, &live);
        assert_eq!(
            messages(&d),
            [
                "enum status: value 'archived' not in the history",
                "table audit: not in the history (added by hand?)",
                "column users.active: default true in the history, false live",
                "column users.id: no default in the history, default nextval('users_id_seq'::regclass) live",
                "column users.id: type integer in the history, bigint live",
                "column users.note: not in the history (added by hand?)",
            ]
        );
        assert_eq!(d[2].history.as_deref(), Some("true"));
        assert_eq!(d[2].live.as_deref(), Some("false"));
        assert!(compare(&live, &live).is_empty());
    }

    #[test]
    fn a_table_on_one_side_takes_its_parts_with_it() {
        let mut note = column("note", "text", Value::Null);
        note.table = Some("audit".into());
        let d = compare(&catalog(vec![table("audit"), note]), &Catalog::default());
        assert_eq!(messages(&d), ["table audit: missing on the live database"]);
    }

    #[test]
    fn long_definitions_are_told_by_fingerprint_and_order_changes_are_named() {
        let view = |def: &str| Object {
            kind: Kind::View,
            schema: "public".into(),
            name: "v".into(),
            table: None,
            attrs: attrs([("definition", json!(def))]),
        };
        let long = "SELECT ".to_string() + &"x, ".repeat(60) + "1";
        let d = compare(
            &catalog(vec![view(&long)]),
            &catalog(vec![view("SELECT 1")]),
        );
        assert!(
            d[0].message
                .starts_with("view v: definition differs (sha256 ")
                && d[0].message.ends_with(" live; the JSON output has both)"),
            "{}",
            d[0].message
        );
        assert_eq!(d[0].live.as_deref(), Some("SELECT 1"));
        let e = |v: Value| Object {
            kind: Kind::Enum,
            schema: "public".into(),
            name: "s".into(),
            table: None,
            attrs: attrs([("values", v)]),
        };
        let d = compare(
            &catalog(vec![e(json!(["a", "b"]))]),
            &catalog(vec![e(json!(["b", "a"]))]),
        );
        assert_eq!(
            messages(&d),
            ["enum s: values in another order (history: a, b; live: b, a)"]
        );
    }
}
