//! SQL statement splitter following PostgreSQL's lexical rules (quotes, dollar quoting, nested comments, and
//! `BEGIN ... END` bodies of SQL-standard functions and SQLite triggers), with 1-based positions, plus the
//! detection of statements PostgreSQL refuses inside a transaction block (`no_tx`).

mod lexer;
mod no_tx;

use lexer::{Kind, Lexer, Token};
pub use no_tx::{file_no_transaction_reason, has_no_transaction_marker, no_transaction_reason};

use super::Statement;

/// Splits `sql` on top-level `;`. Empty and comment-only statements are dropped; each statement starts at its
/// first real token (leading whitespace and comments are skipped) and ends before its `;`, trimmed.
pub fn split(sql: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut cursor = Cursor::new(sql);
    let mut current: Option<Current> = None;
    for token in Lexer::new(sql) {
        let splits =
            token.kind == Kind::Semicolon && current.as_ref().is_none_or(Current::at_top_level);
        if splits {
            if let Some(c) = current.take() {
                push(&mut out, &mut cursor, sql, c.start, token.start);
            }
            continue;
        }
        current
            .get_or_insert_with(|| Current::new(token.start))
            .feed(sql, token);
    }
    if let Some(c) = current {
        push(&mut out, &mut cursor, sql, c.start, c.end);
    }
    out
}

/// 1-based line and column (in characters) of `byte_offset` in `sql`; offsets past the end are clamped to the
/// end, offsets inside a multi-byte character to that character's start.
pub fn line_col(sql: &str, byte_offset: usize) -> (usize, usize) {
    let mut offset = byte_offset.min(sql.len());
    while !sql.is_char_boundary(offset) {
        offset -= 1;
    }
    Cursor::new(sql).advance(offset)
}

fn push(out: &mut Vec<Statement>, cursor: &mut Cursor<'_>, sql: &str, start: usize, end: usize) {
    let text = sql[start..end].trim_end();
    if text.is_empty() {
        return;
    }
    let (line, column) = cursor.advance(start);
    out.push(Statement {
        sql: text.to_owned(),
        offset: start,
        line,
        column,
    });
}

/// Line/column bookkeeping for increasing offsets, so a file is walked once.
pub(crate) struct Cursor<'a> {
    sql: &'a str,
    offset: usize,
    line: usize,
    column: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(sql: &'a str) -> Self {
        Cursor {
            sql,
            offset: 0,
            line: 1,
            column: 1,
        }
    }

    /// Moves to `offset` (a char boundary not before the previous one) and returns its line and column.
    pub(crate) fn advance(&mut self, offset: usize) -> (usize, usize) {
        if offset >= self.offset {
            for c in self.sql[self.offset..offset].chars() {
                if c == '\n' {
                    self.line += 1;
                    self.column = 1;
                } else {
                    self.column += 1;
                }
            }
            self.offset = offset;
        }
        (self.line, self.column)
    }
}

/// How the statement's leading words decide whether `BEGIN ... END` blocks are tracked, as psql does for
/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE` (SQL-standard bodies) and here also for `CREATE ... TRIGGER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    Start,
    Create,
    Body,
    Plain,
}

/// The statement being read.
struct Current {
    start: usize,
    /// End of its last token.
    end: usize,
    parens: usize,
    blocks: usize,
    prefix: Prefix,
}

impl Current {
    fn new(start: usize) -> Self {
        Current {
            start,
            end: start,
            parens: 0,
            blocks: 0,
            prefix: Prefix::Start,
        }
    }

    /// A `;` here ends the statement (psql: outside parentheses and `BEGIN ... END` blocks).
    fn at_top_level(&self) -> bool {
        self.parens == 0 && self.blocks == 0
    }

    fn feed(&mut self, sql: &str, token: Token) {
        self.end = token.end;
        match token.kind {
            Kind::Open => self.parens += 1,
            Kind::Close => self.parens = self.parens.saturating_sub(1),
            Kind::Word => self.word(&sql[token.start..token.end]),
            _ => {}
        }
        if token.kind != Kind::Word && matches!(self.prefix, Prefix::Start | Prefix::Create) {
            self.prefix = Prefix::Plain;
        }
    }

    fn word(&mut self, word: &str) {
        let is = |k: &str| word.eq_ignore_ascii_case(k);
        self.prefix = match self.prefix {
            Prefix::Start if is("create") => Prefix::Create,
            Prefix::Create
                if ["or", "replace", "temp", "temporary", "constraint"]
                    .iter()
                    .any(|k| is(k)) =>
            {
                Prefix::Create
            }
            Prefix::Create if is("function") || is("procedure") || is("trigger") => Prefix::Body,
            Prefix::Start | Prefix::Create => Prefix::Plain,
            other => other,
        };
        if self.prefix != Prefix::Body || self.parens > 0 {
            return;
        }
        if is("begin") {
            self.blocks += 1;
        } else if is("case") && self.blocks > 0 {
            // CASE also closes with END; it only matters inside a block.
            self.blocks += 1;
        } else if is("end") {
            self.blocks = self.blocks.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(sql: &str) -> Vec<String> {
        split(sql).into_iter().map(|s| s.sql).collect()
    }

    #[test]
    fn splits_on_top_level_semicolons_and_drops_empty_statements() {
        let sql = "CREATE TABLE a (id int);\n\n;; -- only a comment\n;\n/* c */ ;\nINSERT INTO a VALUES (1)\n";
        assert_eq!(
            texts(sql),
            vec!["CREATE TABLE a (id int)", "INSERT INTO a VALUES (1)"]
        );
        assert!(split("").is_empty());
        assert!(split("  -- nothing\n/* at all */\n").is_empty());
    }

    #[test]
    fn final_statement_without_semicolon_stops_at_its_last_token() {
        assert_eq!(
            texts("SELECT 1;\nSELECT 2 -- trailing\n"),
            vec!["SELECT 1", "SELECT 2"]
        );
    }

    #[test]
    fn keeps_inner_comments_and_skips_leading_ones() {
        let sql = "-- header\n/* block */ SELECT 1 /* ; */ -- ;\n  + 2 -- end\n;";
        assert_eq!(texts(sql), vec!["SELECT 1 /* ; */ -- ;\n  + 2 -- end"]);
    }

    #[test]
    fn single_quotes_with_doubled_quotes() {
        assert_eq!(
            texts("SELECT 'a;''b'';'; SELECT 'it''s'"),
            vec!["SELECT 'a;''b'';'", "SELECT 'it''s'"]
        );
        // A standard string does not treat backslash as an escape.
        assert_eq!(
            texts(r"SELECT 'C:\'; SELECT 2"),
            vec![r"SELECT 'C:\'", "SELECT 2"]
        );
    }

    #[test]
    fn escape_strings_with_backslashes() {
        assert_eq!(
            texts(r"SELECT E'a\';b'; SELECT e'\\'; SELECT 3"),
            vec![r"SELECT E'a\';b'", r"SELECT e'\\'", "SELECT 3"]
        );
        // `some'...'` is a word followed by a standard string, not an escape string.
        assert_eq!(
            texts(r"SELECT x'\'; SELECT 4"),
            vec![r"SELECT x'\'", "SELECT 4"]
        );
    }

    #[test]
    fn double_quoted_identifiers() {
        assert_eq!(
            texts(r#"CREATE TABLE "a;""b" (id int); SELECT 1"#),
            vec![r#"CREATE TABLE "a;""b" (id int)"#, "SELECT 1"]
        );
    }

    #[test]
    fn dollar_quotes_with_and_without_tags() {
        let sql = "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\
                   DO $body$ BEGIN PERFORM '$$;'; END $body$;\n\
                   SELECT $1; SELECT $x$ ; $y$ ; $x$";
        assert_eq!(
            texts(sql),
            vec![
                "CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql",
                "DO $body$ BEGIN PERFORM '$$;'; END $body$",
                "SELECT $1",
                "SELECT $x$ ; $y$ ; $x$",
            ]
        );
    }

    #[test]
    fn plpgsql_body_in_dollar_quotes_does_not_open_a_block() {
        let sql = "CREATE OR REPLACE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  \
                   NEW.x := 1;\n  RETURN NEW;\nEND;\n$$;\nSELECT 2;";
        let parts = texts(sql);
        assert_eq!(parts.len(), 2);
        assert!(parts[0].ends_with("END;\n$$"));
        assert_eq!(parts[1], "SELECT 2");
    }

    #[test]
    fn line_and_nested_block_comments() {
        let sql = "SELECT 1 -- a; b\n; /* x /* nested; */ still; */ SELECT 2; /* unterminated ;";
        assert_eq!(texts(sql), vec!["SELECT 1 -- a; b", "SELECT 2"]);
    }

    #[test]
    fn begin_atomic_bodies_are_one_statement() {
        let sql = "CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  \
                   SELECT CASE WHEN true THEN 2 ELSE 3 END;\n  SELECT (CASE 1 WHEN 1 THEN 4 END);\nEND;\n\
                   create or replace procedure p() begin atomic insert into t values (1); end;\n\
                   SELECT 5;";
        let parts = texts(sql);
        assert_eq!(parts.len(), 3, "{parts:#?}");
        assert!(parts[0].starts_with("CREATE FUNCTION f()") && parts[0].ends_with("END"));
        assert!(
            parts[1].starts_with("create or replace procedure p()") && parts[1].ends_with("end")
        );
        assert_eq!(parts[2], "SELECT 5");
    }

    #[test]
    fn transaction_begin_is_not_a_block() {
        assert_eq!(
            texts("BEGIN; SELECT CASE WHEN true THEN 1 END; END; COMMIT;"),
            vec!["BEGIN", "SELECT CASE WHEN true THEN 1 END", "END", "COMMIT"]
        );
    }

    #[test]
    fn sqlite_trigger_bodies_are_one_statement() {
        let sql = "CREATE TEMP TRIGGER IF NOT EXISTS t AFTER INSERT ON a\nBEGIN\n  \
                   UPDATE b SET n = CASE WHEN n IS NULL THEN 1 ELSE n + 1 END;\n  \
                   SELECT RAISE(ABORT, 'no; way') WHERE 0;\nEND;\nCREATE TRIGGER u AFTER UPDATE ON a \
                   BEGIN DELETE FROM c; END; DROP TABLE d";
        let parts = texts(sql);
        assert_eq!(parts.len(), 3, "{parts:#?}");
        assert!(parts[0].ends_with("WHERE 0;\nEND"));
        assert_eq!(
            parts[1],
            "CREATE TRIGGER u AFTER UPDATE ON a BEGIN DELETE FROM c; END"
        );
        assert_eq!(parts[2], "DROP TABLE d");
    }

    #[test]
    fn semicolons_inside_parentheses_do_not_split() {
        let sql = "CREATE RULE r AS ON INSERT TO a DO ALSO (INSERT INTO b VALUES (1); NOTIFY c);\nSELECT 1";
        assert_eq!(
            texts(sql),
            vec![
                "CREATE RULE r AS ON INSERT TO a DO ALSO (INSERT INTO b VALUES (1); NOTIFY c)",
                "SELECT 1"
            ]
        );
    }

    #[test]
    fn positions_point_at_the_first_real_token() {
        let sql = "/* multi\n   line\n   comment */  SELECT 1;\n-- c\n\n    SELECT 2;";
        let s = split(sql);
        assert_eq!((s[0].line, s[0].column), (3, 16));
        assert_eq!(&sql[s[0].offset..s[0].offset + 6], "SELECT");
        assert_eq!((s[1].line, s[1].column), (6, 5));
        assert_eq!(&sql[s[1].offset..s[1].offset + 8], "SELECT 2");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let sql = "SELECT 'héllo→'; SELECT 2;\n'ü'; SELECT 3";
        let s = split(sql);
        assert_eq!((s[1].line, s[1].column), (1, 18));
        assert_eq!(s[1].offset, "SELECT 'héllo→'; ".len());
        assert_eq!((s[2].line, s[2].column), (2, 1));
        assert_eq!((s[3].line, s[3].column), (2, 6));
    }

    #[test]
    fn crlf_files_split_and_count_lines() {
        let s = split("SELECT 1;\r\n\r\nSELECT 2;\r\n");
        assert_eq!(s[0].sql, "SELECT 1");
        assert_eq!(s[1].sql, "SELECT 2");
        assert_eq!((s[1].line, s[1].column), (3, 1));
    }

    #[test]
    fn line_col_clamps_and_counts_characters() {
        let sql = "ab\nçd";
        assert_eq!(line_col(sql, 0), (1, 1));
        assert_eq!(line_col(sql, 2), (1, 3));
        assert_eq!(line_col(sql, 3), (2, 1));
        assert_eq!(line_col(sql, 4), (2, 1)); // inside `ç`
        assert_eq!(line_col(sql, 5), (2, 2));
        assert_eq!(line_col(sql, 99), (2, 3));
        assert_eq!(line_col("", 5), (1, 1));
    }
}
