//! `-- deckhand:ignore <rule> <reason>` exemptions: read from the comments of the parsed file, attached to the
//! statement they stand right above (no blank line between) or at the end of whose first line they sit. A reason is
//! required; `all` names every rule.

use squawk_syntax::{SyntaxKind, SyntaxNode};

use crate::migrate::Statement;

const DIRECTIVE: &str = "deckhand:ignore";

/// One ignore comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoreComment {
    /// Byte offset of the comment in the file.
    pub offset: usize,
    /// The rule it names (`all` for every rule); empty when it names none.
    pub rule: String,
    /// `None` when the comment gives no reason.
    pub reason: Option<String>,
    /// 0-based index of the statement it applies to; `None` when it stands where no statement can claim it.
    pub statement: Option<usize>,
}

/// The ignore comments of a file, in order.
pub fn find(root: &SyntaxNode, sql: &str, statements: &[Statement]) -> Vec<IgnoreComment> {
    root.descendants_with_tokens()
        .filter_map(|e| e.into_token())
        .filter(|t| t.kind() == SyntaxKind::COMMENT)
        .filter_map(|t| {
            let offset = usize::from(t.text_range().start());
            let end = usize::from(t.text_range().end());
            // The comment as written in `sql` (the tree may come from a text with squawk's comments made inert).
            let (rule, reason) = directive(sql.get(offset..end).unwrap_or(t.text()))?;
            Some(IgnoreComment {
                offset,
                rule,
                reason,
                statement: attach(sql, statements, offset),
            })
        })
        .collect()
}

/// `(rule, reason)` of a `-- deckhand:ignore <rule> <reason>` comment.
fn directive(comment: &str) -> Option<(String, Option<String>)> {
    let body = comment.strip_prefix("--")?.trim();
    let rest = body.strip_prefix(DIRECTIVE)?;
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    let (rule, reason) = match rest.split_once(char::is_whitespace) {
        Some((rule, reason)) => (rule, reason.trim()),
        None => (rest, ""),
    };
    let reason = (!reason.is_empty()).then(|| reason.to_owned());
    Some((rule.to_owned(), reason))
}

/// The statement a comment at `offset` applies to.
fn attach(sql: &str, statements: &[Statement], offset: usize) -> Option<usize> {
    let before = sql.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    // At the end of a statement's first line: the last statement starting on this line before the comment.
    let same_line = statements
        .iter()
        .rposition(|s| s.offset >= line_start && s.offset < offset);
    if same_line.is_some() {
        return same_line;
    }
    // Inside a statement, past its first line: nothing.
    if statements
        .iter()
        .any(|s| s.offset <= offset && offset < s.offset + s.sql.len())
    {
        return None;
    }
    // On its own line, right above the next statement (only comment lines in between, no blank line).
    if !before[line_start..].trim().is_empty() {
        return None;
    }
    let next = statements.iter().position(|s| s.offset > offset)?;
    let between = sql.get(offset..statements[next].offset)?;
    let lines: Vec<&str> = between.split('\n').collect();
    let inner = lines.get(1..lines.len().saturating_sub(1)).unwrap_or(&[]);
    if inner.iter().any(|l| l.trim().is_empty()) {
        return None;
    }
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migrate::split::split;
    use squawk_syntax::SourceFile;

    fn ignores(sql: &str) -> Vec<(String, Option<String>, Option<usize>)> {
        let parse = SourceFile::parse(sql);
        find(&parse.syntax_node(), sql, &split(sql))
            .into_iter()
            .map(|i| (i.rule, i.reason, i.statement))
            .collect()
    }

    fn one(
        rule: &str,
        reason: Option<&str>,
        stmt: Option<usize>,
    ) -> (String, Option<String>, Option<usize>) {
        (rule.to_owned(), reason.map(str::to_owned), stmt)
    }

    #[test]
    fn reads_rule_and_reason() {
        assert_eq!(
            ignores(
                "-- deckhand:ignore ban-drop-table  legacy,  unused since 2023 \nDROP TABLE a;"
            ),
            vec![one(
                "ban-drop-table",
                Some("legacy,  unused since 2023"),
                Some(0)
            )]
        );
        assert_eq!(
            ignores("--deckhand:ignore truncate\nTRUNCATE a;"),
            vec![one("truncate", None, Some(0))]
        );
        assert_eq!(ignores("-- deckhand:ignored x y\nSELECT 1;"), vec![]);
        assert_eq!(ignores("SELECT '-- deckhand:ignore all x';"), vec![]);
    }

    #[test]
    fn attaches_above_or_at_the_end_of_the_first_line() {
        let sql = "SELECT 1; -- deckhand:ignore all one\n\
                   -- deckhand:ignore all two\n-- other comment\nSELECT 2;\n\
                   -- deckhand:ignore all three\n\nSELECT 3;\n\
                   SELECT 4 -- deckhand:ignore all four\n  , 5 -- deckhand:ignore all five\n;";
        assert_eq!(
            ignores(sql),
            vec![
                one("all", Some("one"), Some(0)),
                one("all", Some("two"), Some(1)),
                one("all", Some("three"), None),
                one("all", Some("four"), Some(3)),
                one("all", Some("five"), None),
            ]
        );
    }
}
