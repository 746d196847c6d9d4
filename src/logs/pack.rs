//! One read's lines made into a [`LineBatch`] at once (issue 17): the raw lines lie end to end, each followed by
//! `\n` (a command's read lands there in place, see [`Packer::took_read`]; other lines are copied in), then the
//! whole batch is checked in single passes — printable ASCII or not (then only the lines that need it are decoded
//! and made inert), the secrets, the level words (one block scan over the batch) and the source's `error` regex
//! (one search over the batch, see [`super::pattern`]). The result is the same as [`super::line::make_line`] on
//! each line alone (a test holds them equal); it costs a few passes over the bytes instead of a setup per line.
//! May import `runner` message types, `sanitize` and `secrets`.

use std::borrow::Cow;

use super::batch::{LineBatch, line_start};
use super::line::{has_odd, word_levels};
use super::pattern::LineRegex;
use super::split::{Lines, Splitter};
use crate::runner::{Level, Stream};
use crate::sanitize::sanitize_bytes;

/// What a source does to its lines besides making them safe.
pub struct Finish<'a> {
    pub error: Option<&'a LineRegex>,
    pub masker: &'a crate::secrets::Masker,
    pub stream: Stream,
}

/// Raw lines of one read, collected until [`Packer::finish`].
#[derive(Debug, Default)]
pub struct Packer {
    raw: Vec<u8>,
    ends: Vec<u32>,
    truncated: Vec<bool>,
    /// Bytes and lines of the last batch: the next one's starting room.
    last: (usize, usize),
    /// Bytes at the end of `raw` that begin a line still open (taken over from the splitter, see
    /// [`Packer::carry`]): the next read appends to them.
    begun: usize,
}

/// The longest begun line carried into the next read's buffer: longer ones stay in the splitter (carrying them
/// again at every read would copy a long line over and over).
const CARRY_MAX: usize = 4096;

fn end_of(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

impl Packer {
    /// Adds one raw line (without its `\n`; a trailing `\r` is dropped).
    pub fn add(&mut self, raw: &[u8], truncated: bool) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        self.reserve(raw.len() + 1);
        self.raw.extend_from_slice(raw);
        self.ends.push(end_of(self.raw.len()));
        self.raw.push(b'\n');
        self.truncated.push(truncated);
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The buffer a read may append to in place, with room for `bytes` more (see [`Packer::took_read`]), and
    /// where the read's first line starts: where its bytes will, or before them when a begun line was carried over
    /// ([`Packer::carry`]).
    pub fn read_buffer(&mut self, bytes: usize) -> (&mut Vec<u8>, usize) {
        self.reserve(bytes);
        self.raw.reserve(bytes);
        let from = self.raw.len() - self.begun;
        (&mut self.raw, from)
    }

    /// After a batch is finished: the line `splitter` has begun (when short) becomes the start of the next read's
    /// buffer, so that the read's lines, that one included, stay where they are (see [`Packer::took_read`]).
    pub fn carry(&mut self, splitter: &mut Splitter) {
        // (No room is reserved here: `read_buffer` reserves it, moving only these few bytes.)
        if self.begun == 0 && self.ends.is_empty() && self.raw.is_empty() {
            self.begun = splitter.hand_over(&mut self.raw, CARRY_MAX);
        }
    }

    /// Gives a carried begun line back to `splitter` (the pipe ended before the line did).
    pub fn settle(&mut self, splitter: &mut Splitter) {
        let begun = std::mem::take(&mut self.begun);
        let rest = self.raw.split_off(self.raw.len() - begun);
        splitter.push(&rest, self);
    }

    /// A read appended bytes to [`Packer::read_buffer`], whose first line starts at `from`, `splitter` being
    /// [`Splitter::idle`]: its whole lines stay where they are (no copy), the rest goes to `splitter`. When a line
    /// is over the cap or ends in `\r`, the read goes through `splitter` line by line instead.
    pub fn took_read(&mut self, from: usize, splitter: &mut Splitter) {
        self.begun = 0;
        let last = memchr::memrchr(b'\n', &self.raw[from..]).map(|at| from + at);
        let rest = match last {
            Some(last) if self.keep_whole(from, last + 1, splitter.cap()) => last + 1,
            _ => from,
        };
        let rest = self.raw.split_off(rest);
        splitter.push(&rest, self);
    }

    /// Takes `raw[from..end]`, whole lines each ending in `\n`, as they are: their ends found with one memchr
    /// pass. False, with nothing taken, when a line is longer than `cap` or ends in `\r` (those go through
    /// [`Packer::add`], which cuts and strips).
    fn keep_whole(&mut self, from: usize, end: usize, cap: usize) -> bool {
        let lines = self.ends.len();
        let mut start = from;
        for nl in memchr::memchr_iter(b'\n', &self.raw[from..end]) {
            let nl = from + nl;
            if nl - start > cap || (nl > start && self.raw[nl - 1] == b'\r') {
                self.ends.truncate(lines);
                return false;
            }
            self.ends.push(end_of(nl));
            start = nl + 1;
        }
        self.truncated.resize(self.ends.len(), false);
        true
    }

    /// Room for the batch when it is still empty: as much as the last one took.
    fn reserve(&mut self, bytes: usize) {
        if self.ends.is_empty() {
            self.raw.reserve(self.last.0.max(bytes));
            self.ends.reserve(self.last.1);
            self.truncated.reserve(self.last.1);
        }
    }

    /// The batch of the lines added since the last call.
    pub fn finish(&mut self, how: &Finish<'_>) -> LineBatch {
        // A carried begun line is no line yet: it stays for the next batch.
        let begun = self.raw.split_off(self.raw.len() - self.begun);
        let raw = std::mem::replace(&mut self.raw, begun);
        let ends = std::mem::take(&mut self.ends);
        let truncated = std::mem::take(&mut self.truncated);
        self.last = (raw.len(), ends.len());
        // One pass finds the level words and whether anything needs making safe; the text is scanned again
        // only when it changed (decoded or masked).
        let (mut levels, odd) = levels(raw.as_slice(), &ends);
        let (text, ends) = safe_text(raw, ends, odd);
        let (text, ends, was_masked) = masked(text, ends, how.masker);
        if odd || was_masked {
            levels = self::levels(text.as_bytes(), &ends).0;
        }
        if let Some(re) = how.error {
            re.each_match(&text, &ends, |i| levels[i] = Level::Error);
        }
        let lines = levels.into_iter().zip(truncated);
        LineBatch::from_parts(text, ends, lines, how.stream)
    }
}

impl Lines for Packer {
    fn line(&mut self, raw: &[u8], truncated: bool) {
        self.add(raw, truncated);
    }

    /// The lines copied in one go, then taken as [`Packer::took_read`] takes a read.
    fn whole(&mut self, block: &[u8], cap: usize) -> bool {
        self.reserve(block.len());
        let from = self.raw.len();
        self.raw.extend_from_slice(block);
        let taken = self.keep_whole(from, self.raw.len(), cap);
        if !taken {
            self.raw.truncate(from);
        }
        taken
    }
}

/// The lines as safe text: as they are when all of them are printable ASCII, else line by line, each decoded and
/// made inert where it needs it.
fn safe_text(raw: Vec<u8>, ends: Vec<u32>, odd: bool) -> (String, Vec<u32>) {
    if !odd {
        debug_assert!(raw.iter().all(|&b| b == b'\n' || (0x20..0x7f).contains(&b)));
        // SAFETY: not `odd`: the level scan saw only printable ASCII and `\n` (see [`levels`]), which is UTF-8. (The
        // check would cost a tenth of the runner's time; the scan's byte classes are tested on every byte value.)
        return (unsafe { String::from_utf8_unchecked(raw) }, ends);
    }
    rebuild(&ends, |i| {
        let line = &raw[line_start(&ends, i)..ends[i] as usize];
        if has_odd(line) {
            Cow::Owned(sanitize_bytes(line))
        } else {
            Cow::Borrowed(std::str::from_utf8(line).unwrap_or_default())
        }
    })
}

/// Text and ends made of `n = ends.len()` lines given by `line(i)`.
fn rebuild<'a>(ends: &[u32], mut line: impl FnMut(usize) -> Cow<'a, str>) -> (String, Vec<u32>) {
    let mut text = String::new();
    let mut out = Vec::with_capacity(ends.len());
    for i in 0..ends.len() {
        text.push_str(&line(i));
        out.push(end_of(text.len()));
        text.push('\n');
    }
    (text, out)
}

/// Known secrets masked, line by line (only when the batch holds one); true when one was.
fn masked(
    text: String,
    ends: Vec<u32>,
    masker: &crate::secrets::Masker,
) -> (String, Vec<u32>, bool) {
    if masker.is_empty() || matches!(masker.mask(&text), Cow::Borrowed(_)) {
        return (text, ends, false);
    }
    let (text, ends) = rebuild(&ends, |i| {
        let line = &text[line_start(&ends, i)..ends[i] as usize];
        Cow::Owned(masker.mask(line).into_owned())
    });
    (text, ends, true)
}

/// Each line's level: its most severe level word (one scan over the batch, see
/// [`super::line::word_levels`]), and whether some byte is neither printable ASCII nor `\n`.
fn levels(text: &[u8], ends: &[u32]) -> (Vec<Level>, bool) {
    let mut levels = vec![Level::Other; ends.len()];
    let mut line = 0;
    let odd = word_levels(text, |at, level| {
        while line < ends.len() && (ends[line] as usize) < at {
            line += 1;
        }
        if let Some(l) = levels.get_mut(line) {
            *l = (*l).max(level);
        }
    });
    (levels, odd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::line::{detect_level, make_line};

    /// Random lines from pieces that exercise every path: level words, the error pattern, secrets (plain and
    /// URL-encoded), invalid UTF-8, escapes, CR, bidi and C1 controls, empty lines.
    fn lines(seed: &mut u64, n: usize) -> Vec<Vec<u8>> {
        let pieces: [&[u8]; 20] = [
            b"INFO",
            b"error",
            b"Warning",
            b"panic:",
            b"timeout",
            b"TIMEOUT",
            b"s3cret-tok",
            b"s3cret%2Dtok",
            b" ",
            b"req=42",
            b"\xc3\xa9",
            b"\xff",
            b"\x1b]0;x\x07",
            b"\r",
            b"\xe2\x80\xae",
            b"\xc2\x9b",
            b"x",
            b"terror",
            b"=",
            b"upstream timed out",
        ];
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        };
        (0..n)
            .map(|_| {
                let count = next() % 12;
                (0..count)
                    .flat_map(|_| pieces[(next() % pieces.len() as u64) as usize].to_vec())
                    .collect()
            })
            .collect()
    }

    /// Whole lines taken at once (one copy) make the same batch as the same lines handed over one by one:
    /// lines over the cap, CRLF, a line begun in one read and ended in a later one (carried into the next read's
    /// buffer), reads without a newline, a stream that ends inside a line.
    #[test]
    fn whole_lines_at_once_are_the_same_as_one_by_one() {
        use crate::logs::split::Splitter;
        let masker = crate::secrets::Masker::default();
        let how = Finish {
            error: None,
            masker: &masker,
            stream: Stream::Stdout,
        };
        let mut seed = 0x1234_5678_9abc_def1u64;
        let mut carried = 0;
        for round in 0..300 {
            let mut stream = Vec::new();
            for l in lines(&mut seed, 1 + round % 40) {
                stream.extend_from_slice(&l);
                stream.push(b'\n');
            }
            if round % 3 == 0 {
                stream.extend_from_slice(b"no newline yet");
            }
            let step = 1 + (seed % 97) as usize;
            let (mut fast, mut slow, mut direct) =
                (Packer::default(), Packer::default(), Packer::default());
            let (mut a, mut b, mut c) = (Splitter::new(16), Splitter::new(16), Splitter::new(16));
            let (mut got, mut want, mut read) = (Vec::new(), Vec::new(), Vec::new());
            for chunk in stream.chunks(step) {
                a.push(chunk, &mut fast);
                b.push(chunk, &mut |raw: &[u8], t| slow.add(raw, t));
                // Read in place when no line is begun or a short one was carried over, as the command runner
                // does; now and then a read is dropped before it took anything (cancelled by `select!`).
                if c.idle() {
                    if round % 5 == 0 {
                        let _ = direct.read_buffer(chunk.len());
                    }
                    let (buf, from) = direct.read_buffer(chunk.len());
                    buf.extend_from_slice(chunk);
                    direct.took_read(from, &mut c);
                } else {
                    c.push(chunk, &mut direct);
                }
                got.extend(fast.finish(&how).to_lines());
                want.extend(slow.finish(&how).to_lines());
                read.extend(direct.finish(&how).to_lines());
                direct.carry(&mut c);
                carried += usize::from(direct.begun > 0);
            }
            a.finish(&mut fast);
            b.finish(&mut |raw: &[u8], t| slow.add(raw, t));
            direct.settle(&mut c);
            c.finish(&mut direct);
            got.extend(fast.finish(&how).to_lines());
            want.extend(slow.finish(&how).to_lines());
            read.extend(direct.finish(&how).to_lines());
            assert_eq!(got, want, "round {round}, reads of {step}");
            assert_eq!(read, want, "in place: round {round}, reads of {step}");
        }
        assert!(
            carried > 100,
            "begun lines carried into the next read: {carried}"
        );
    }

    #[test]
    fn a_batch_is_the_same_as_each_line_made_alone() {
        let masker = crate::secrets::Masker::new(&["s3cret-tok"]);
        let none = crate::secrets::Masker::default();
        let patterns = [
            None,
            Some("(?i)timeout"),
            Some("timed out$"),
            Some("^x"),
            Some("\\Aerror"),
            Some("a*"),
            Some("out\\s+\\S"),
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for pattern in patterns {
            let error = pattern.and_then(LineRegex::new);
            for masker in [&none, &masker] {
                for round in 0..40 {
                    let raw = lines(&mut seed, 1 + round * 7);
                    let mut packer = Packer::default();
                    for (i, l) in raw.iter().enumerate() {
                        packer.add(l, i % 3 == 0);
                    }
                    let how = Finish {
                        error: error.as_ref(),
                        masker,
                        stream: Stream::Stderr,
                    };
                    let batch = packer.finish(&how);
                    assert_eq!(batch.len(), raw.len());
                    for (i, l) in raw.iter().enumerate() {
                        // Alone: made safe, masked, then its level words and the error regex on that text.
                        let mut want = make_line(l, i % 3 == 0, None);
                        want.text = masker.mask(&want.text).into_owned();
                        want.level = detect_level(want.text.as_bytes());
                        if error
                            .as_ref()
                            .is_some_and(|e| e.line().is_match(&want.text))
                        {
                            want.level = Level::Error;
                        }
                        want.stream = Stream::Stderr;
                        let got = batch.get(i).map(|l| l.to_owned());
                        assert_eq!(
                            got.as_ref(),
                            Some(&want),
                            "{pattern:?} line {i}: {:?}",
                            String::from_utf8_lossy(l)
                        );
                    }
                }
            }
        }
    }
}
