//! The one line an operator reads for an impact: what is lost or why the statement fails, then how the figure was
//! obtained. Pure.

use super::{Basis, Kind, Outcome};

/// `1234567` → `1,234,567`.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), if n == 1 { one } else { many })
}

/// How the figure was obtained, in parentheses.
pub fn basis(b: &Basis) -> String {
    match b {
        Basis::Exact => "(exact count)".into(),
        Basis::Statistics => {
            "(estimate from the planner's statistics: counting took too long)".into()
        }
        Basis::Sample {
            percent,
            lower_bound: false,
        } => format!("(estimate from a {percent}% sample: counting took too long)"),
        Basis::Sample {
            percent,
            lower_bound: true,
        } => format!("(at least: found in a {percent}% sample, counting took too long)"),
        Basis::Raised { error } => format!("(the database says: {error})"),
        Basis::DependsOn { migration, line } => {
            format!("(not counted: depends on an earlier statement, {migration} line {line})")
        }
        Basis::NotJudged { why } => format!("(not counted: {why})"),
        Basis::CreatedInBatch { migration, line } => {
            format!(
                "(no data that exists now: what it meets is created earlier in this batch, {migration} line {line})"
            )
        }
    }
}

/// What was counted, without the basis: `drops 1,204 rows of orders`, `will fail: 3 NULL values in users.email`.
pub fn what(
    kind: Kind,
    outcome: Outcome,
    object: &str,
    n: Option<i64>,
    example: Option<&str>,
) -> String {
    let Some(n) = n else {
        return unknown(kind, outcome, object);
    };
    let e = example.map_or(String::new(), |e| format!(", e.g. {e}"));
    match (kind, outcome, n) {
        (Kind::TableRows, _, _) => format!("drops {} of {object}", plural(n, "row", "rows")),
        (Kind::TruncatedRows, _, _) => format!("empties {object}: {}", plural(n, "row", "rows")),
        (Kind::DeletedRows, _, _) => format!(
            "deletes every row of {object}: {}",
            plural(n, "row", "rows")
        ),
        (Kind::OverwrittenRows, _, _) => {
            format!(
                "overwrites every row of {object}: {}",
                plural(n, "row", "rows")
            )
        }
        (Kind::ColumnValues, _, _) => format!("drops {} of {object}", plural(n, "value", "values")),
        (Kind::CastValues, Outcome::Lost, _) => {
            format!("changes {} of {object}", plural(n, "value", "values"))
        }
        (_, Outcome::WillFail, 0) => passes(kind, object),
        (Kind::CastValues, _, _) => format!(
            "will fail: {} of {object} cannot be converted{e}",
            plural(n, "value", "values")
        ),
        (Kind::NullRows, _, _) => format!("will fail: {} in {object}", plural(n, "NULL", "NULLs")),
        (Kind::RowsWithoutValue, _, _) => format!(
            "will fail: {} would get no value for the new NOT NULL column {object}",
            plural(n, "existing row", "existing rows")
        ),
        (Kind::DuplicateKeys, _, _) => format!(
            "will fail: {} for {object}{e}",
            plural(n, "duplicate key", "duplicate keys")
        ),
        (Kind::CheckViolations | Kind::Validation, _, _) => {
            let verb = if n == 1 { "violates" } else { "violate" };
            format!("will fail: {} {verb} {object}", plural(n, "row", "rows"))
        }
        (Kind::OrphanRows, _, _) => format!(
            "will fail: {} {} nothing ({object})",
            plural(n, "row", "rows"),
            if n == 1 { "references" } else { "reference" }
        ),
    }
}

fn passes(kind: Kind, object: &str) -> String {
    match kind {
        Kind::NullRows => format!("passes: no NULL in {object}"),
        Kind::RowsWithoutValue => format!("passes: the table of {object} is empty"),
        Kind::DuplicateKeys => format!("passes: no duplicate key for {object}"),
        Kind::OrphanRows => format!("passes: every row has its reference ({object})"),
        Kind::CastValues => format!("passes: every value of {object} converts"),
        _ => format!("passes: no row violates {object}"),
    }
}

fn unknown(kind: Kind, outcome: Outcome, object: &str) -> String {
    match (kind, outcome) {
        (Kind::TableRows, _) => format!("drops {object}"),
        (Kind::TruncatedRows, _) => format!("empties {object}"),
        (Kind::DeletedRows, _) => format!("deletes every row of {object}"),
        (Kind::OverwrittenRows, _) => format!("overwrites every row of {object}"),
        (Kind::ColumnValues, _) => format!("drops the values of {object}"),
        (Kind::CastValues, Outcome::WillFail) => format!("will fail: {object} cannot be converted"),
        (Kind::CastValues, Outcome::Lost) => format!("changes the values of {object}"),
        (Kind::NullRows, _) => format!("may fail: NULLs in {object}"),
        (Kind::RowsWithoutValue, _) => format!("may fail: existing rows get no value for {object}"),
        (Kind::DuplicateKeys, _) => format!("may fail: duplicate keys for {object}"),
        (Kind::CheckViolations | Kind::Validation, _) => {
            format!("may fail: rows violating {object}")
        }
        (Kind::OrphanRows, _) => format!("may fail: rows referencing nothing ({object})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(-1_000), "-1,000");
    }

    #[test]
    fn lines_say_what_and_how() {
        assert_eq!(
            what(
                Kind::NullRows,
                Outcome::WillFail,
                "users.email",
                Some(3),
                None
            ),
            "will fail: 3 NULLs in users.email"
        );
        assert_eq!(
            what(
                Kind::NullRows,
                Outcome::WillFail,
                "users.email",
                Some(0),
                None
            ),
            "passes: no NULL in users.email"
        );
        assert_eq!(
            what(Kind::TableRows, Outcome::Lost, "orders", Some(1), None),
            "drops 1 row of orders"
        );
        assert_eq!(
            basis(&Basis::Sample {
                percent: "1".into(),
                lower_bound: true
            }),
            "(at least: found in a 1% sample, counting took too long)"
        );
    }
}
