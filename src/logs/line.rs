//! One raw line to one [`SourceLine`]: lossy UTF-8, a trailing `\r` dropped (CRLF), control and escape
//! sequences made inert ([`crate::sanitize`]), and a level found by a byte scan (no per-line regex) or by the
//! source's own `error` regex. One pass over the line, 64 bytes at a time ([`super::classify`]), finds both the
//! word starts for the level and whether the line is printable ASCII (nothing to decode or sanitize).

use regex::Regex;

#[cfg(target_arch = "x86_64")]
use super::classify::classify_avx2;
use super::classify::{BLOCK, Masks, classify};
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

fn is_alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// A level word as a key: its bytes in lower case, zero-padded to 8 (a word's own bytes are never zero, so the
/// key says its length too).
const fn key(word: &[u8]) -> u64 {
    let mut bytes = [0u8; 8];
    let mut i = 0;
    while i < word.len() {
        bytes[i] = word[i];
        i += 1;
    }
    u64::from_le_bytes(bytes)
}

/// [`LEVEL_WORDS`] as keys.
const KEYS: [(u64, Level); LEVEL_WORDS.len()] = {
    let mut keys = [(0, Level::Other); LEVEL_WORDS.len()];
    let mut i = 0;
    while i < keys.len() {
        keys[i] = (key(LEVEL_WORDS[i].0), LEVEL_WORDS[i].1);
        i += 1;
    }
    keys
};

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
    let mut word = [0u8; WORD_MAX];
    let mut len = 0;
    for &b in text.iter().take(WORD_MAX + 1) {
        if !is_alnum(b) {
            break;
        }
        // A ninth letter: longer than any level word.
        *word.get_mut(len)? = b | 0x20;
        len += 1;
    }
    if len < WORD_MIN {
        return None;
    }
    level_of_key(u64::from_le_bytes(word))
}

/// The level of a lower-cased word given as a key (see [`key`]), if it is a level word.
#[inline]
fn level_of_key(word: u64) -> Option<Level> {
    KEYS.iter()
        .find(|(k, _)| *k == word)
        .map(|(_, level)| *level)
}

/// [`word_level`] for a word whose length `len` is known: its first 8 bytes read at once, lower-cased and cut to
/// `len`, compared with the keys.
#[inline]
fn keyed_level(text: &[u8], len: usize) -> Option<Level> {
    if !(WORD_MIN..=WORD_MAX).contains(&len) {
        return None;
    }
    let Some(head) = text.first_chunk::<8>() else {
        return word_level(text);
    };
    let keep = if len == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * len)) - 1
    };
    // Letters to lower case; the digits a word may hold already have this bit, and no level word has one.
    level_of_key((u64::from_le_bytes(*head) | 0x2020_2020_2020_2020) & keep)
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
pub(crate) fn word_levels(text: &[u8], found: impl FnMut(usize, Level)) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above; nothing else is required of the caller.
        return unsafe { word_levels_avx2(text, found) };
    }
    scan_blocks(text, found, classify)
}

/// [`word_levels`] with 32-byte vector compares (AVX2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn word_levels_avx2(text: &[u8], found: impl FnMut(usize, Level)) -> bool {
    scan_blocks(text, found, |block| classify_avx2(block))
}

/// The scan of [`word_levels`], with the block classifier given.
#[inline(always)]
fn scan_blocks(
    text: &[u8],
    mut found: impl FnMut(usize, Level),
    classify: impl Fn(&[u8; BLOCK]) -> Masks,
) -> bool {
    let mut plain = u64::MAX;
    let mut carry = 0u64;
    let mut base = 0usize;
    while base < text.len() {
        let rest = &text[base..];
        let (alnum, first, ok) = match rest.first_chunk::<BLOCK>() {
            Some(block) => classify(block),
            None => {
                let mut block = [b' '; BLOCK];
                block[..rest.len()].copy_from_slice(rest);
                classify(&block)
            }
        };
        plain &= ok;
        let mut candidates = alnum & !((alnum << 1) | carry) & first;
        while candidates != 0 {
            let bit = candidates.trailing_zeros();
            let at = base + bit as usize;
            candidates &= candidates - 1;
            // The word's length from the mask when it ends in this block.
            let len = (!(alnum >> bit)).trailing_zeros();
            let level = if bit + len < BLOCK as u32 {
                keyed_level(&text[at..], len as usize)
            } else {
                word_level(&text[at..])
            };
            if let Some(level) = level {
                found(at, level);
            }
        }
        carry = alnum >> (BLOCK - 1);
        base += BLOCK;
    }
    plain != u64::MAX
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

    /// The portable scan finds what the one this CPU runs finds, and what the AVX2 one finds (where the CPU has
    /// AVX2): the same words at the same places, and the same answer on odd bytes.
    #[test]
    fn portable_scan_agrees_with_the_one_in_use() {
        let mut seed = 0x0000_ddb1_a5e5_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pieces: [&[u8]; 10] = [
            b"error",
            b"WARN",
            b"info",
            b"x",
            b" ",
            b"\n",
            b"\xc3\xa9",
            b"\x7f",
            b"notice",
            b"9",
        ];
        for _ in 0..5_000 {
            let mut text = Vec::new();
            for _ in 0..next() % 40 {
                text.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let odd_a = word_levels(&text, |at, l| a.push((at, l)));
            let odd_b = scan_blocks(&text, |at, l| b.push((at, l)), classify);
            let shown = String::from_utf8_lossy(&text);
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                let mut c = Vec::new();
                // SAFETY: the CPU has AVX2, checked above.
                let odd_c = unsafe { word_levels_avx2(&text, |at, l| c.push((at, l))) };
                assert_eq!((odd_c, c), (odd_b, b.clone()), "avx2: {shown:?}");
            }
            assert_eq!((odd_a, a), (odd_b, b), "{shown:?}");
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
