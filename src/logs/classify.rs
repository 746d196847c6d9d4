//! Byte classes of a 64-byte block as bit masks (bit i for byte i), for the level-word scan of
//! [`super::line`]: ASCII letters and digits; bytes that may start a level word (c e f i n p w, either case);
//! printable ASCII and `\n`. Two classifiers give the same masks: a portable one ([`wide`] vectors) and one in AVX2
//! (picked at run time by the scan). (An AVX-512 one was measured and dropped: on this project's 2-core VM it
//! made the pack bench 2.2 times slower than AVX2.) Imports nothing of the crate.

/// Bytes looked at per step of the scan.
pub const BLOCK: usize = 64;

/// One block's masks: letters and digits, possible first letters of a level word, printable ASCII or `\n`.
pub type Masks = (u64, u64, u64);

/// A block's masks from those of its two 32-byte halves (each in the low 32 bits).
#[inline(always)]
fn by_halves(block: &[u8; BLOCK], half: impl Fn(&[u8; BLOCK / 2]) -> Masks) -> Masks {
    let [lo, hi]: [[u8; BLOCK / 2]; 2] = bytemuck::cast(*block);
    let (a, b) = (half(&lo), half(&hi));
    (a.0 | (b.0 << 32), a.1 | (b.1 << 32), a.2 | (b.2 << 32))
}

/// The portable classifier: 32-byte vector compares ([`wide`] picks the widest the build allows), twice.
#[inline(always)]
pub fn classify(block: &[u8; BLOCK]) -> Masks {
    by_halves(block, half)
}

/// [`classify`] for 32 bytes.
#[inline(always)]
fn half(block: &[u8; BLOCK / 2]) -> Masks {
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
    let bits = |m: i8x32| {
        u64::from(std::hint::black_box(u32::from_ne_bytes(
            m.move_mask().to_ne_bytes(),
        )))
    };
    (bits(alnum), bits(first), bits(plain))
}

/// Byte classes for the table classifiers, one bit each; a byte is in a class when both its nibbles allow it.
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

    pub const ALNUM: u8 = DIGIT | L1 | L2;
    pub const FIRST: u8 = F1 | F2;
    pub const PLAIN: u8 = P1 | P2 | NEWLINE;

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

    /// A 16-entry table repeated to `N` bytes (a vector shuffle looks up each 16-byte lane in its own copy).
    pub const fn repeat<const N: usize>(t: [u8; 16]) -> [u8; N] {
        let mut out = [0u8; N];
        let mut i = 0;
        while i < N {
            out[i] = t[i % 16];
            i += 1;
        }
        out
    }
}

/// [`classify`] in AVX2 instructions, 32 bytes at a time: each byte's classes looked up by its two nibbles (two
/// shuffles), then one mask per question.
///
/// # Safety
/// The CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) fn classify_avx2(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_movemask_epi8, _mm256_set1_epi8,
        _mm256_setzero_si256, _mm256_shuffle_epi8, _mm256_srli_epi16,
    };
    let splat = |b: u8| _mm256_set1_epi8(i8::from_ne_bytes([b]));
    let low_table: __m256i = bytemuck::cast(class::repeat::<32>(class::LOW));
    let high_table: __m256i = bytemuck::cast(class::repeat::<32>(class::HIGH));
    let half = |block: &[u8; BLOCK / 2]| {
        let v: __m256i = bytemuck::cast(*block);
        let nibbles = splat(0x0f);
        let low = _mm256_and_si256(v, nibbles);
        let high = _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibbles);
        let classes = _mm256_and_si256(
            _mm256_shuffle_epi8(low_table, low),
            _mm256_shuffle_epi8(high_table, high),
        );
        // Bit i set when byte i is in one of `set`: the opposite of "in none of them".
        let inside = |set: u8| {
            let none = _mm256_cmpeq_epi8(
                _mm256_and_si256(classes, splat(set)),
                _mm256_setzero_si256(),
            );
            u64::from(!std::hint::black_box(u32::from_ne_bytes(
                _mm256_movemask_epi8(none).to_ne_bytes(),
            )))
        };
        (
            inside(class::ALNUM),
            inside(class::FIRST),
            inside(class::PLAIN),
        )
    };
    by_halves(block, half)
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// Every byte value, at every place in a block, falls in the same classes in both classifiers.
    #[test]
    fn the_classifiers_agree_on_every_byte() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        for b in 0..=255u8 {
            for at in [0, 7, 16, 31, 32, 47, 63] {
                let mut block = [b'.'; BLOCK];
                block[at] = b;
                let want = classify(&block);
                // SAFETY: the CPU has AVX2, checked above.
                let got = unsafe { classify_avx2(&block) };
                assert_eq!(got, want, "{b:#04x} at {at}");
            }
        }
    }
}
