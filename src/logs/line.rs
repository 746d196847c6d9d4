//! One raw line to one [`SourceLine`]: lossy UTF-8, a trailing `\r` dropped (CRLF), control and escape
//! sequences made inert ([`crate::sanitize`]), and a level found by a byte scan (one SIMD multi-pattern search,
//! no per-line regex) or by the source's own `error` regex.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::Regex;

use crate::runner::{Level, SourceLine};
use crate::sanitize::sanitize_bytes;

/// The words that give a line its level, matched ASCII case-insensitively as whole words.
const LEVEL_WORDS: [(&str, Level); 12] = [
    ("error", Level::Error),
    ("err", Level::Error),
    ("fatal", Level::Error),
    ("panic", Level::Error),
    ("critical", Level::Error),
    ("crit", Level::Error),
    ("emerg", Level::Error),
    ("warning", Level::Warn),
    ("warn", Level::Warn),
    ("info", Level::Info),
    ("notice", Level::Info),
    ("debug", Level::Other),
];

static LEVELS: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(AhoCorasickKind::DFA))
        .build(LEVEL_WORDS.iter().map(|(w, _)| w))
        .ok()
});

/// The level of a line: the most severe level word in it (as a whole word: `[ERROR]`, `level=warn`, `E: panic:`
/// count, `terror` and `information` do not).
pub fn detect_level(text: &[u8]) -> Level {
    let Some(ac) = LEVELS.as_ref() else {
        return Level::Other;
    };
    let mut level = Level::Other;
    for m in ac.find_iter(text) {
        let before = m.start().checked_sub(1).map(|i| text[i]);
        let after = text.get(m.end()).copied();
        let boundary = |b: Option<u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric());
        if boundary(before) && boundary(after) {
            level = level.max(LEVEL_WORDS[m.pattern().as_usize()].1);
            if level == Level::Error {
                break;
            }
        }
    }
    level
}

/// True when the bytes are printable ASCII only: nothing to decode or sanitize.
fn plain_ascii(raw: &[u8]) -> bool {
    raw.iter().all(|&b| (0x20..0x7f).contains(&b))
}

/// Makes a raw line (without its `\n`) safe for the screen and finds its level. `error` is the source's `error`
/// regex: a line it matches is an error whatever its words say.
pub fn make_line(raw: &[u8], truncated: bool, error: Option<&Regex>) -> SourceLine {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let text = if plain_ascii(raw) {
        // Printable ASCII is valid UTF-8; the check is one pass and never fails here.
        String::from_utf8(raw.to_vec()).unwrap_or_else(|e| sanitize_bytes(e.as_bytes()))
    } else {
        sanitize_bytes(raw)
    };
    let mut level = detect_level(raw);
    if level != Level::Error && error.is_some_and(|re| re.is_match(&text)) {
        level = Level::Error;
    }
    SourceLine {
        text,
        truncated,
        level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_by_whole_words() {
        assert_eq!(detect_level(b"2024 [ERROR] db down"), Level::Error);
        assert_eq!(detect_level(b"level=warn msg=slow"), Level::Warn);
        assert_eq!(detect_level(b"INFO started; WARNING soon"), Level::Warn);
        assert_eq!(detect_level(b"I: info"), Level::Info);
        assert_eq!(detect_level(b"terror information"), Level::Other);
        assert_eq!(detect_level(b"thread main panicked"), Level::Other);
        assert_eq!(detect_level(b"panic: nil map"), Level::Error);
    }

    #[test]
    fn crlf_invalid_utf8_and_escapes() {
        let l = make_line(b"hello\r", false, None);
        assert_eq!(l.text, "hello");
        let l = make_line(b"caf\xe9 \xff", false, None);
        assert_eq!(l.text, "caf\u{fffd} \u{fffd}");
        let l = make_line(b"\x1b]0;pwned\x07 \x1b[2J x", false, None);
        assert!(
            !l.text.contains('\x1b') && !l.text.contains('\x07'),
            "{}",
            l.text
        );
    }

    #[test]
    fn error_regex_raises_level() {
        let re = Regex::new("(?i)timeout").ok();
        assert_eq!(
            make_line(b"upstream TIMEOUT", false, re.as_ref()).level,
            Level::Error
        );
    }
}
