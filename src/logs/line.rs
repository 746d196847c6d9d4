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

/// For one block, as bit masks (bit i for byte i): ASCII letters and digits; bytes that may start a level word
/// (c e f i n p w, either case); printable ASCII and `\n`. Vector compares, 16 or 32 bytes at a time ([`wide`]
/// picks the widest the build allows).
#[inline(always)]
fn classify(block: &[u8; BLOCK]) -> (u32, u32, u32) {
    use wide::{CmpEq, CmpLt, i8x32};
    let splat = |b: u8| i8x32::splat(i8::from_ne_bytes([b]));
    // `x - lo < n` unsigned: shifted by 0x80 into a signed compare.
    let below =
        |x: i8x32, lo: u8, n: u8| (x + splat(0x80u8.wrapping_sub(lo))).cmp_lt(splat(n ^ 0x80));
    let v = i8x32::new(bytemuck::cast(*block));
    let l = v | splat(0x20);
    let alnum = below(l, b'a', 26) | below(v, b'0', 10);
    let first = below(l, b'e', 2)
        | l.cmp_eq(splat(b'c'))
        | l.cmp_eq(splat(b'i'))
        | l.cmp_eq(splat(b'n'))
        | l.cmp_eq(splat(b'p'))
        | l.cmp_eq(splat(b'w'));
    let plain = below(v, 0x20, 0x5f) | v.cmp_eq(splat(b'\n'));
    // (Through `black_box`: without it the compiler took the masks apart bit by bit again, at four times the cost.)
    let bits = |m: i8x32| std::hint::black_box(u32::from_ne_bytes(m.move_mask().to_ne_bytes()));
    (bits(alnum), bits(first), bits(plain))
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

/// [`word_levels`] with 32-byte vector compares (AVX2): a third of the scan's time where the CPU has them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn word_levels_avx2(text: &[u8], found: impl FnMut(usize, Level)) -> bool {
    scan_blocks(text, found, |block| classify_avx2(block))
}

/// Byte classes for [`classify_avx2`], one bit each; a byte is in a class when both its nibbles allow it.
#[cfg(target_arch = "x86_64")]
mod class {
    /// Printable, high nibble 2–6.
    pub const P1: u8 = 0x01;
    /// Printable, high nibble 7 (not DEL).
    pub const P2: u8 = 0x02;
    pub const NEWLINE: u8 = 0x04;
    pub const DIGIT: u8 = 0x08;
    /// Letters A–O and a–o.
    pub const L1: u8 = 0x10;
    /// Letters P–Z and p–z.
    pub const L2: u8 = 0x20;
    /// C E F I N (either case): may start a level word.
    pub const F1: u8 = 0x40;
    /// P W (either case): may start a level word.
    pub const F2: u8 = 0x80;

    /// The classes a high nibble allows.
    pub const HIGH: [u8; 16] = [
        NEWLINE,
        0,
        P1,
        P1 | DIGIT,
        P1 | L1 | F1,
        P1 | L2 | F2,
        P1 | L1 | F1,
        P2 | L2 | F2,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ];

    /// The classes a low nibble allows.
    pub const LOW: [u8; 16] = {
        let mut t = [0u8; 16];
        let mut n = 0;
        while n < 16 {
            let mut c = P1;
            if n <= 0xe {
                c |= P2;
            }
            if n == 0xa {
                c |= NEWLINE;
            }
            if n <= 9 {
                c |= DIGIT;
            }
            if n >= 1 {
                c |= L1;
            }
            if n <= 0xa {
                c |= L2;
            }
            if matches!(n, 3 | 5 | 6 | 9 | 0xe) {
                c |= F1;
            }
            if matches!(n, 0 | 7) {
                c |= F2;
            }
            t[n] = c;
            n += 1;
        }
        t
    };

    /// A 16-entry table twice (a 32-byte shuffle looks up each 16-byte half in its own copy).
    pub const fn twice(t: [u8; 16]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut i = 0;
        while i < 32 {
            out[i] = t[i % 16];
            i += 1;
        }
        out
    }
}

/// [`classify`] in AVX2 instructions: each byte's classes looked up by its two nibbles (two shuffles), then one
/// mask per question.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn classify_avx2(block: &[u8; BLOCK]) -> (u32, u32, u32) {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_movemask_epi8, _mm256_set1_epi8,
        _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_srli_epi16,
    };
    let splat = |b: u8| _mm256_set1_epi8(i8::from_ne_bytes([b]));
    let v: __m256i = bytemuck::cast(*block);
    let nibbles = splat(0x0f);
    let low = _mm256_and_si256(v, nibbles);
    let high = _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibbles);
    let low_table: __m256i = bytemuck::cast(class::twice(class::LOW));
    let high_table: __m256i = bytemuck::cast(class::twice(class::HIGH));
    let classes = _mm256_and_si256(
        _mm256_shuffle_epi8(low_table, low),
        _mm256_shuffle_epi8(high_table, high),
    );
    // Bit i set when byte i is in none of `set`; the caller's masks are the opposite.
    let outside = |set: u8| {
        let none = _mm256_cmpeq_epi8(
            _mm256_and_si256(classes, splat(set)),
            _mm256_setzero_si256(),
        );
        std::hint::black_box(u32::from_ne_bytes(_mm256_movemask_epi8(none).to_ne_bytes()))
    };
    (
        !outside(class::DIGIT | class::L1 | class::L2),
        !outside(class::F1 | class::F2),
        !outside(class::P1 | class::P2 | class::NEWLINE),
    )
}

/// The scan of [`word_levels`], with the block classifier given.
#[inline(always)]
fn scan_blocks(
    text: &[u8],
    mut found: impl FnMut(usize, Level),
    classify: impl Fn(&[u8; BLOCK]) -> (u32, u32, u32),
) -> bool {
    let mut plain = u32::MAX;
    let mut carry = 0u32;
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
    plain != u32::MAX
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

    /// The portable scan (16-byte vectors) finds what the one this CPU runs finds (AVX2 where it has it): the
    /// same words at the same places, and the same answer on odd bytes.
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
            assert_eq!(
                (odd_a, a),
                (odd_b, b),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
        }
    }

    /// Every byte value, at every place in a block, falls in the same classes in both classifiers.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn both_classifiers_agree_on_every_byte() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        for b in 0..=255u8 {
            for at in [0, 7, 16, 31] {
                let mut block = [b'.'; BLOCK];
                block[at] = b;
                // SAFETY: the CPU has AVX2, checked above.
                let fast = unsafe { classify_avx2(&block) };
                assert_eq!(fast, classify(&block), "byte {b:#04x} at {at}");
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
