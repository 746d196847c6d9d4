//! A type change judged as PostgreSQL runs it: `ALTER COLUMN … TYPE` converts with an assignment cast, which
//! rejects a string longer than a `varchar(n)`/`char(n)` (an explicit cast would cut it silently) and raises on an
//! integer out of the new range. So: a bounded string type counts the values too long (the statement fails on
//! them); otherwise the values the conversion alters are counted (lost), and when that raises on an integer
//! target, the values out of range are counted instead.

use super::asks::{Ask, Question};
use super::exec::{Answer, counted};
use super::{Basis, Limits};
use crate::migrate::db::Db;

/// `varchar(20)`, `character varying (20)`, `char(3)`, `character(3)`, `bpchar(3)` → the length.
pub fn bounded_length(to_type: &str) -> Option<u32> {
    let t: String = to_type
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let (name, rest) = t.split_once('(')?;
    if !["varchar", "charactervarying", "char", "character", "bpchar"].contains(&name) {
        return None;
    }
    rest.strip_suffix(')')?.parse().ok()
}

/// The range of an integer type narrower than `bigint`.
pub fn int_range(to_type: &str) -> Option<(i64, i64)> {
    match to_type.trim().to_ascii_lowercase().as_str() {
        "smallint" | "int2" => Some((i64::from(i16::MIN), i64::from(i16::MAX))),
        "integer" | "int" | "int4" => Some((i64::from(i32::MIN), i64::from(i32::MAX))),
        _ => None,
    }
}

/// The question asked as a condition every value must meet (NULL passes): rows failing it make the statement fail.
fn condition(q: &Question, table: &str, predicate: String) -> Question {
    Question {
        ask: Ask::Violations {
            table: table.to_string(),
            predicate,
        },
        ..q.clone()
    }
}

/// Answers a type change ([`Ask::Cast`]).
pub async fn answer(db: &mut Db, q: &Question, limits: &Limits) -> Answer {
    let Ask::Cast {
        table,
        column,
        to_type,
        using,
    } = &q.ask
    else {
        return counted(db, q, limits).await;
    };
    let value = using.as_deref().unwrap_or(column);
    if let Some(n) = bounded_length(to_type) {
        let fits = format!("length(rtrim(CAST(({value}) AS TEXT))) <= {n}");
        return counted(db, &condition(q, table, fits), limits).await;
    }
    let changed = counted(db, q, limits).await;
    if let (Basis::Raised { .. }, Some((lo, hi))) = (&changed.basis, int_range(to_type)) {
        let fits = format!("({value}) BETWEEN {lo} AND {hi}");
        let out_of_range = counted(db, &condition(q, table, fits), limits).await;
        if out_of_range.count.is_some_and(|n| n > 0) {
            return out_of_range;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_string_types_and_integer_ranges_are_read_as_written() {
        assert_eq!(bounded_length("VARCHAR(50)"), Some(50));
        assert_eq!(bounded_length("character varying (8)"), Some(8));
        assert_eq!(bounded_length("char(3)"), Some(3));
        assert_eq!(bounded_length("text"), None);
        assert_eq!(bounded_length("numeric(10,2)"), None);
        assert_eq!(int_range("SMALLINT"), Some((-32768, 32767)));
        assert_eq!(int_range("int4"), Some((-2147483648, 2147483647)));
        assert_eq!(int_range("bigint"), None);
    }
}
