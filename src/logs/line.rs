//! One raw line to one [`SourceLine`]: lossy UTF-8, a trailing `\r` dropped (CRLF), control and escape
//! sequences made inert ([`crate::sanitize`]), and a level found by a byte scan (no per-line regex) or by the
//! source's own `error` regex. One pass over the line, 32 bytes at a time, finds both the word starts for the
//! level and whether the line is printable ASCII (nothing to decode or sanitize).

use regex::Regex;

use crate::runner::{Level, SourceLine, Stream};
use crate::sanitize::sanitize_bytes;

/// The words that give a line its level, matched ASCII case-insensitively as whole words (lower case here;
/// `debug` is a level word too, but its level is [`Level::Other`], the level of a line without any).
const LEVEL_WORDS: [(&[u8], Level); 11] = [
    (b"error", Level::Error),
    (b"err", Level::Error),
    (b"fatal", Level::Error),
    (b"panic", Level::Error),
    (b"critical", Level::Error),
    (b"crit", Level::Error),
    (b"emerg", Level::Error),
    (b"warning", Level::Warn),
    (b"warn", Level::Warn),
    (b"info", Level::Info),
    (b"notice", Level::Info),
];

/// Shortest and longest level word.
const WORD_MIN: usize = 3;
const WORD_MAX: usize = 8;

/// Bytes looked at per step of the scan.
const BLOCK: usize = 32;

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// For one block: bit i set when byte i is an ASCII letter or digit; when it is the first letter of a level
/// word (either case: c d e f i n p w). Written so that it compiles to a few vector compares: one flag byte per
/// input byte, then 8 flags at a time gathered into bits with a multiplication.
#[inline(always)]
fn classify(block: &[u8; BLOCK]) -> (u32, u32) {
    let mut flags = [0u8; BLOCK];
    for (f, &b) in flags.iter_mut().zip(block) {
        let l = b | 0x20;
        let letter = l.wrapping_sub(b'a') < 26;
        let digit = b.wrapping_sub(b'0') < 10;
        let starts =
            (l.wrapping_sub(b'c') < 4) | (l == b'i') | (l == b'n') | (l == b'p') | (l == b'w');
        *f = u8::from(letter | digit) | (u8::from(starts) << 1);
    }
    // Byte i of `w` (0 or 1) lands in bit 56 + i of the product, with no carries between them.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    const LOW: u64 = 0x0101_0101_0101_0101;
    let (mut alnum, mut first) = (0u32, 0u32);
    for (k, chunk) in flags.chunks_exact(8).enumerate() {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        alnum |= (((w & LOW).wrapping_mul(GATHER) >> 56) as u32) << (8 * k);
        first |= ((((w >> 1) & LOW).wrapping_mul(GATHER) >> 56) as u32) << (8 * k);
    }
    (alnum, first)
}

/// True when some byte is not printable ASCII.
#[inline(always)]
pub(crate) fn has_odd(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(false, |odd, &b| odd | (b.wrapping_sub(0x20) >= 0x5f))
}

/// The level of the word (a maximal run of ASCII letters and digits) starting at `text[0]`, if it is one.
#[inline]
fn word_level(text: &[u8]) -> Option<Level> {
    let len = text
        .iter()
        .take(WORD_MAX + 1)
        .take_while(|b| is_alnum(**b))
        .count();
    if !(WORD_MIN..=WORD_MAX).contains(&len) {
        return None;
    }
    let word = &text[..len];
    LEVEL_WORDS
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(word))
        .map(|(_, level)| *level)
}

/// Finds the level of a line and whether it is printable ASCII only, in one pass.
fn scan(text: &[u8]) -> (Level, bool) {
    let mut level = Level::Other;
    let odd = word_levels(text, |_, found| level = level.max(found));
    (level, !odd && memchr::memchr(b'\n', text).is_none())
}

/// Calls `found(at, level)` for each level word in `text` (positions increasing), as whole words: the same
/// words [`detect_level`] finds, over a whole batch at once (its lines separated by `\n`, which is no letter).
/// Returns whether some byte is neither printable ASCII nor `\n` (in the same pass).
pub(crate) fn word_levels(text: &[u8], mut found: impl FnMut(usize, Level)) -> bool {
    let mut odd = false;
    let mut carry = 0u32;
    let mut base = 0usize;
    while base < text.len() {
        let rest = &text[base..];
        let (alnum, first) = match rest.first_chunk::<BLOCK>() {
            Some(block) => {
                odd |= has_odd_but_newline(block);
                classify(block)
            }
            None => {
                odd |= has_odd_but_newline(rest);
                let mut block = [0u8; BLOCK];
                block[..rest.len()].copy_from_slice(rest);
                classify(&block)
            }
        };
        let mut candidates = alnum & !((alnum << 1) | carry) & first;
        while candidates != 0 {
            let at = base + candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            if let Some(level) = word_level(&text[at..]) {
                found(at, level);
            }
        }
        carry = alnum >> (BLOCK - 1);
        base += BLOCK;
    }
    odd
}

/// True when some byte is neither printable ASCII nor `\n`.
#[inline(always)]
pub(crate) fn has_odd_but_newline(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |odd, &b| {
        odd | ((b.wrapping_sub(0x20) >= 0x5f) & (b != b'\n'))
    })
}

/// The level of a line: the most severe level word in it (as a whole word: `[ERROR]`, `level=warn`, `E: panic:`
/// count, `terror` and `information` do not).
pub fn detect_level(text: &[u8]) -> Level {
    scan(text).0
}

/// Makes a raw line (without its `\n`) safe for the screen and finds its level. `error` is the source's `error`
/// regex: a line it matches is an error whatever its words say. (The runners make whole batches at once, see
/// [`super::pack`]; this is the one-line reference they are held equal to.)
pub fn make_line(raw: &[u8], truncated: bool, error: Option<&Regex>) -> SourceLine {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    let (mut level, plain) = scan(raw);
    let text = match plain.then(|| std::str::from_utf8(raw).ok()).flatten() {
        Some(text) => text.to_string(),
        None => sanitize_bytes(raw),
    };
    if level != Level::Error && error.is_some_and(|re| re.is_match(&text)) {
        level = Level::Error;
    }
    SourceLine {
        text,
        truncated,
        level,
        stream: Stream::Stdout,
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

    /// The level as the pipeline first found it: a leftmost-longest multi-pattern search, whole words only.
    fn reference_level(text: &[u8]) -> Level {
        use aho_corasick::{AhoCorasickBuilder, MatchKind};
        let mut words: Vec<(&[u8], Level)> = LEVEL_WORDS.to_vec();
        words.push((b"debug", Level::Other));
        let ac = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(words.iter().map(|(w, _)| w))
            .expect("automaton");
        let mut level = Level::Other;
        for m in ac.find_iter(text) {
            let before = m.start().checked_sub(1).map(|i| text[i]);
            let after = text.get(m.end()).copied();
            let boundary = |b: Option<u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric());
            if boundary(before) && boundary(after) {
                level = level.max(words[m.pattern().as_usize()].1);
            }
        }
        level
    }

    #[test]
    fn scan_agrees_with_the_reference_search() {
        let pieces: [&[u8]; 24] = [
            b"error",
            b"ERR",
            b"Fatal",
            b"panic",
            b"CRITICAL",
            b"crit",
            b"emerg",
            b"Warning",
            b"warn",
            b"INFO",
            b"notice",
            b"debug",
            b"errors",
            b"informat",
            b"x",
            b"9",
            b" ",
            b"=",
            b"[",
            b"_",
            b"\xc3\xa9",
            b"\x1b",
            b"\t",
            b"\x7f",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let mut text = Vec::new();
            let count = next() % 30;
            for _ in 0..count {
                text.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            let (level, plain) = scan(&text);
            assert_eq!(
                level,
                reference_level(&text),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
            assert_eq!(plain, text.iter().all(|&b| (0x20..0x7f).contains(&b)));
        }
        // A word across a block boundary, and one starting right after it.
        for pad in 0..70 {
            for word in [&b"warn"[..], b"error", b"info"] {
                let mut text = vec![b' '; pad];
                text.extend_from_slice(word);
                assert_eq!(scan(&text).0, reference_level(&text));
                let mut glued = vec![b'a'; pad];
                glued.extend_from_slice(word);
                assert_eq!(scan(&glued).0, reference_level(&glued));
            }
        }
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
