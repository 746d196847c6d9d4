//! Table names as findings write them (maybe schema-qualified, maybe with their quotes stripped) turned into
//! what PostgreSQL and SQLite can resolve without a syntax error, and values inlined into SQL safely.

/// The touched tables as a JSON array of `[name as written, name folded as PostgreSQL would, name exactly as
/// written]`; the last two are fully quoted (so `to_regclass` never fails on syntax), `null` when the name cannot
/// be a table name.
pub(super) fn names_json(tables: &[String]) -> String {
    let rows: Vec<serde_json::Value> = tables
        .iter()
        .map(|t| match candidates(t) {
            Some((folded, exact)) => serde_json::json!([t, folded, exact]),
            None => serde_json::json!([t, null, null]),
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// The parts of a table name as the finding wrote it, each with whether it was quoted: `app."Order"` ->
/// [(`app`, false), (`Order`, true)]. A three-part name keeps its last two parts (the first can only be the
/// current database). `None` when it cannot be a table name.
pub(super) fn split_name(name: &str) -> Option<Vec<(String, bool)>> {
    let mut parts: Vec<(String, bool)> = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = name.trim().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            '.' if !quoted => {
                parts.push((
                    std::mem::take(&mut current),
                    std::mem::take(&mut was_quoted),
                ));
            }
            c => current.push(c),
        }
    }
    parts.push((current, was_quoted));
    if quoted || parts.len() > 3 || parts.iter().any(|(p, _)| p.is_empty()) {
        return None;
    }
    Some(parts.split_off(parts.len().saturating_sub(2)))
}

pub(super) fn quote_ident(part: &str) -> String {
    format!("\"{}\"", part.replace('"', "\"\""))
}

/// `Users` -> (`"users"`, `"Users"`); `app."Order"` -> (`"app"."Order"`, `"app"."Order"`): the name folded as
/// PostgreSQL folds unquoted identifiers, and exactly as written. Finding names may have lost their quotes, so a
/// mixed-case name (Prisma's `"User"`) is also tried as written.
fn candidates(name: &str) -> Option<(String, String)> {
    let parts = split_name(name)?;
    let quote = |fold: bool| {
        parts
            .iter()
            .map(|(p, q)| {
                quote_ident(&if fold && !q {
                    p.to_ascii_lowercase()
                } else {
                    p.clone()
                })
            })
            .collect::<Vec<_>>()
            .join(".")
    };
    Some((quote(true), quote(false)))
}

/// `text` as a dollar-quoted literal (`$deckhand$...$deckhand$`, the tag grown until it does not occur in
/// `text`): no escaping, whatever `standard_conforming_strings` says.
pub(crate) fn dollar_quote(text: &str) -> String {
    let mut tag = String::from("deckhand");
    while text.contains(&format!("${tag}$")) {
        tag.push('x');
    }
    format!("${tag}${text}${tag}$")
}

/// `text` as a standard SQL string literal (`'it''s'`), for SQLite (which has no dollar quoting).
pub(crate) fn sql_string(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The last part of a name as canonical names write it (`"public"."Users"` → `Users`): the bare identifier.
pub(crate) fn unquote(name: &str) -> String {
    split_name(name)
        .and_then(|mut parts| parts.pop())
        .map_or_else(|| name.to_string(), |(part, _)| part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_as_postgres_folds_them_and_as_written() {
        let c = |s: &str| candidates(s);
        assert_eq!(c("users"), Some(("\"users\"".into(), "\"users\"".into())));
        assert_eq!(c("User"), Some(("\"user\"".into(), "\"User\"".into())));
        assert_eq!(
            c("app.\"Order\""),
            Some(("\"app\".\"Order\"".into(), "\"app\".\"Order\"".into()))
        );
        assert_eq!(
            c("db.public.t"),
            Some(("\"public\".\"t\"".into(), "\"public\".\"t\"".into()))
        );
        assert_eq!(
            c("\"a\"\"b\""),
            Some(("\"a\"\"b\"".into(), "\"a\"\"b\"".into()))
        );
        assert_eq!(c("a..b"), None);
        assert_eq!(c("a.b.c.d"), None);
        assert_eq!(c("\"open"), None);
        assert_eq!(c(""), None);
    }

    #[test]
    fn bare_names_and_string_literals() {
        assert_eq!(unquote("\"public\".\"Us\"\"ers\""), "Us\"ers");
        assert_eq!(unquote("\"note\""), "note");
        assert_eq!(sql_string("it's"), "'it''s'");
    }

    #[test]
    fn dollar_quotes_never_close_early() {
        assert_eq!(dollar_quote("[\"a\"]"), "$deckhand$[\"a\"]$deckhand$");
        assert_eq!(
            dollar_quote("x$deckhand$y$deckhandx$"),
            "$deckhandxx$x$deckhand$y$deckhandx$$deckhandxx$"
        );
    }
}
