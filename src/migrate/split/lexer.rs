//! A small PostgreSQL-flavoured SQL tokenizer: skips whitespace and comments (`--`, nested `/* */`) and
//! yields words, quoted tokens (strings, `E''` strings, `"identifiers"`, dollar quotes) and punctuation.
//! It only needs to be exact about where quotes and comments begin and end; everything else is coarse.

/// What a token is, as far as splitting and keyword detection care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A bare identifier or keyword (`CREATE`, `users`, `foo$bar`).
    Word,
    /// A string, quoted identifier or dollar-quoted body: never a keyword.
    Quoted,
    Semicolon,
    Open,
    Close,
    /// Numbers, parameters (`$1`), operators and other punctuation.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    /// Byte range in the input; always on character boundaries.
    pub start: usize,
    pub end: usize,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

pub(crate) struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(sql: &'a str) -> Self {
        let s = sql.as_bytes();
        let i = if s.starts_with(BOM) { BOM.len() } else { 0 };
        Lexer { s, i }
    }

    fn at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    fn skip_trivia(&mut self) {
        loop {
            match (self.at(0), self.at(1)) {
                (Some(c), _) if is_space(c) => self.i += 1,
                (Some(b'-'), Some(b'-')) => {
                    self.i = match memchr::memchr(b'\n', &self.s[self.i..]) {
                        Some(p) => self.i + p + 1,
                        None => self.s.len(),
                    }
                }
                (Some(b'/'), Some(b'*')) => self.block_comment(),
                _ => return,
            }
        }
    }

    /// PostgreSQL block comments nest; an unterminated one runs to the end of the input.
    fn block_comment(&mut self) {
        let mut depth = 0usize;
        while self.i < self.s.len() {
            match (self.at(0), self.at(1)) {
                (Some(b'/'), Some(b'*')) => {
                    depth += 1;
                    self.i += 2;
                }
                (Some(b'*'), Some(b'/')) => {
                    depth -= 1;
                    self.i += 2;
                    if depth == 0 {
                        return;
                    }
                }
                _ => self.i += 1,
            }
        }
    }

    /// From an opening quote to just after its closing quote; a doubled quote is an escaped quote, and
    /// with `backslash` a backslash escapes the next byte (`E'...'`). Unterminated: to the end.
    fn quoted(&mut self, quote: u8, backslash: bool) {
        self.i += 1;
        while let Some(c) = self.at(0) {
            let escaped = (backslash && c == b'\\') || (c == quote && self.at(1) == Some(quote));
            if escaped {
                self.i += 2;
            } else if c == quote {
                self.i += 1;
                return;
            } else {
                self.i += 1;
            }
        }
        self.i = self.s.len();
    }

    /// `$1` is a parameter, `$$`/`$tag$` opens a dollar quote closed by the same delimiter, else `$` alone.
    fn dollar(&mut self) -> Kind {
        let start = self.i;
        if self.at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
            while self.at(0).is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            return Kind::Other;
        }
        let mut j = start + 1;
        if self.s.get(j).is_some_and(|&c| is_ident_start(c)) {
            while self
                .s
                .get(j)
                .is_some_and(|&c| is_ident_start(c) || c.is_ascii_digit())
            {
                j += 1;
            }
        }
        if self.s.get(j) != Some(&b'$') {
            self.i += 1;
            return Kind::Other;
        }
        let tag = &self.s[start..=j];
        let body = j + 1;
        self.i = match memchr::memmem::find(&self.s[body..], tag) {
            Some(p) => body + p + tag.len(),
            None => self.s.len(),
        };
        Kind::Quoted
    }

    fn word(&mut self) -> Kind {
        let start = self.i;
        while self
            .at(0)
            .is_some_and(|c| is_ident_start(c) || c.is_ascii_digit() || c == b'$')
        {
            self.i += 1;
        }
        let escape_string = self.i - start == 1 && matches!(self.s[start], b'e' | b'E');
        if escape_string && self.at(0) == Some(b'\'') {
            self.quoted(b'\'', true);
            return Kind::Quoted;
        }
        Kind::Word
    }
}

impl Iterator for Lexer<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        self.skip_trivia();
        let start = self.i;
        let c = self.at(0)?;
        let kind = match c {
            b';' | b'(' | b')' => {
                self.i += 1;
                match c {
                    b';' => Kind::Semicolon,
                    b'(' => Kind::Open,
                    _ => Kind::Close,
                }
            }
            b'\'' | b'"' | b'`' => {
                self.quoted(c, false);
                Kind::Quoted
            }
            b'$' => self.dollar(),
            c if is_ident_start(c) => self.word(),
            c if c.is_ascii_digit() => {
                while self
                    .at(0)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'_')
                {
                    self.i += 1;
                }
                Kind::Other
            }
            _ => {
                self.i += 1;
                Kind::Other
            }
        };
        Some(Token {
            kind,
            start,
            end: self.i,
        })
    }
}

/// PostgreSQL's `space`: `[ \t\n\r\f\v]`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

/// PostgreSQL's `ident_start`: letters, `_` and every non-ASCII byte.
fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(Kind, &str)> {
        Lexer::new(sql)
            .map(|t| (t.kind, &sql[t.start..t.end]))
            .collect()
    }

    #[test]
    fn words_quotes_and_punctuation() {
        assert_eq!(
            kinds("SELECT \"a\"\"b\", 'x''y', E'\\'', $1 FROM t;"),
            vec![
                (Kind::Word, "SELECT"),
                (Kind::Quoted, "\"a\"\"b\""),
                (Kind::Other, ","),
                (Kind::Quoted, "'x''y'"),
                (Kind::Other, ","),
                (Kind::Quoted, "E'\\''"),
                (Kind::Other, ","),
                (Kind::Other, "$1"),
                (Kind::Word, "FROM"),
                (Kind::Word, "t"),
                (Kind::Semicolon, ";"),
            ]
        );
    }

    #[test]
    fn dollar_quotes_identifiers_and_comments() {
        assert_eq!(
            kinds("a$$b $x$ $$ ; $x$ /* /* ; */ */ -- ;\n $ é"),
            vec![
                (Kind::Word, "a$$b"),
                (Kind::Quoted, "$x$ $$ ; $x$"),
                (Kind::Other, "$"),
                (Kind::Word, "é"),
            ]
        );
    }

    #[test]
    fn unterminated_constructs_run_to_the_end() {
        assert_eq!(kinds("'abc; x"), vec![(Kind::Quoted, "'abc; x")]);
        assert_eq!(kinds("E'abc\\"), vec![(Kind::Quoted, "E'abc\\")]);
        assert_eq!(kinds("$q$ body"), vec![(Kind::Quoted, "$q$ body")]);
        assert_eq!(kinds("x /* /* */ ; "), vec![(Kind::Word, "x")]);
        assert_eq!(kinds("\u{FEFF}x"), vec![(Kind::Word, "x")]);
    }
}
