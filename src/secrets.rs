//! Known secret values, masked wherever deckhand writes or shows text: a step's and a log source's output (screen
//! and step logs), the journal (and so the report), notifications. Value-based: every secret the plan resolved
//! (variables whose names look secret, passwords in URLs), in its plain, URL-encoded and JSON-escaped forms, is
//! replaced by `***`, by one Aho-Corasick pass. Values shorter than [`MIN_SECRET_LEN`] are not masked (masking
//! `ab` would garble every line). Imports nothing of deckhand.

use std::borrow::Cow;
use std::fmt;

use aho_corasick::{AhoCorasick, MatchKind};

/// What a secret is replaced with.
pub const MASK: &str = "***";

/// Shorter values are not masked.
pub const MIN_SECRET_LEN: usize = 4;

/// The secret values of a plan and a matcher over them.
#[derive(Clone, Default)]
pub struct Masker {
    matcher: Option<AhoCorasick>,
    count: usize,
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the values.
        write!(f, "Masker({} secret(s))", self.count)
    }
}

impl Masker {
    /// A masker over `secrets` (their plain, URL-encoded and JSON-escaped forms).
    pub fn new<S: AsRef<str>>(secrets: &[S]) -> Masker {
        let mut patterns: Vec<String> = Vec::new();
        let mut count = 0;
        for s in secrets.iter().map(AsRef::as_ref) {
            if s.len() < MIN_SECRET_LEN {
                continue;
            }
            count += 1;
            let encoded: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
            let escaped = serde_json::to_string(s).unwrap_or_default();
            let escaped = escaped.trim_matches('"').to_string();
            for form in [s.to_string(), encoded.replace('+', "%20"), encoded, escaped] {
                if form.len() >= MIN_SECRET_LEN && !patterns.contains(&form) {
                    patterns.push(form);
                }
            }
        }
        // Longest first at each position: a secret that contains another is masked whole.
        let matcher = (!patterns.is_empty())
            .then(|| {
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .ok()
            })
            .flatten();
        Masker { matcher, count }
    }

    /// No secret to mask.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// `text` with every known secret replaced by `***`.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.matcher {
            Some(m) if m.is_match(text) => {
                Cow::Owned(m.replace_all(text, &vec![MASK; m.patterns_len()]))
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// `bytes` with every known secret replaced by `***`.
    pub fn mask_bytes<'a>(&self, bytes: &'a [u8]) -> Cow<'a, [u8]> {
        match &self.matcher {
            Some(m) if m.is_match(bytes) => {
                let masks = vec![MASK.as_bytes(); m.patterns_len()];
                Cow::Owned(m.replace_all_bytes(bytes, &masks))
            }
            _ => Cow::Borrowed(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_form_and_leaves_short_values_alone() {
        let m = Masker::new(&["TOKapi-999", "p@ss word/1", "ab"]);
        assert_eq!(m.mask("token=TOKapi-999;"), "token=***;");
        assert_eq!(
            m.mask("url=postgres://u:p%40ss%20word%2F1@h/db"),
            "url=postgres://u:***@h/db"
        );
        assert_eq!(m.mask("form p%40ss+word%2F1"), "form ***");
        assert_eq!(m.mask("ab stays"), "ab stays");
        assert_eq!(&*m.mask_bytes(b"xTOKapi-999x"), b"x***x");
        assert!(matches!(m.mask("nothing here"), Cow::Borrowed(_)));
        assert_eq!(format!("{m:?}"), "Masker(2 secret(s))");
        let quoted = Masker::new(&["a\"b\\c"]);
        assert_eq!(quoted.mask(r#"{"v":"a\"b\\c"}"#), r#"{"v":"***"}"#);
        assert!(Masker::new::<&str>(&[]).is_empty());
    }
}
