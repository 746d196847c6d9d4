//! One chunk of the log ring (issue 17): consecutive lines packed as a [`LineBatch`] packs them — their texts end
//! to end, each followed by `\n`, with one end offset and one flags byte per line (stream, level, truncated), and
//! the source tag index per run of lines. A whole batch's run of lines is appended with one copy of its text and a
//! mapped copy of its ends and flags; a regex can run over a chunk's text as over a batch's. A regular chunk's text
//! is one block ([`crate::logs::block`]), on a huge page when its lines are expected to fill it. Imports the
//! runner's line kinds, [`crate::logs::batch`] and the block's text.

use crate::logs::batch::{self, LineBatch, level_bits, line_start};
use crate::logs::block::{BLOCK_BYTES, Text};
use crate::runner::{Level, Stream};

/// Text bytes a chunk holds before the next one starts: one block (a longer line gets a chunk of its own).
pub const CHUNK_BYTES: usize = BLOCK_BYTES;
/// Lines a chunk holds at most (short lines): 64 B a line on average fill a block.
pub const CHUNK_LINES: usize = 32 * 1024;
const _: () = assert!(
    CHUNK_LINES <= u16::MAX as usize,
    "a chunk's runs hold lines as u16"
);

/// Index of a source tag in the buffer's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TagId(pub(super) u16);

/// The packed word of a line: tag index in the low 16 bits, then stream (2 bits), level (2), truncated (1).
pub(super) fn pack(tag: TagId, stream: Option<Stream>, level: Level, truncated: bool) -> u32 {
    let stream = match stream {
        None => 0,
        Some(Stream::Stdout) => 1,
        Some(Stream::Stderr) => 2,
    };
    let level = u32::from(level_bits(level));
    u32::from(tag.0) | (stream << 16) | (level << 18) | (u32::from(truncated) << 20)
}

/// A line's kept flags (a word without its tag): the bits of [`pack`] above the tag.
fn flags_of(word: u32) -> u8 {
    (word >> 16) as u8
}

/// The kept flags of a batch line from its flags byte (see [`LineBatch::flags`]): the same bits as [`flags_of`].
fn batch_flags(flags: u8) -> u8 {
    let stream = 1 + ((flags >> 3) & 1);
    stream | ((flags & 3) << 2) | (((flags >> 2) & 1) << 4)
}

/// Tag index, stream, level and truncated of a packed word.
pub(super) fn unpack(word: u32) -> (usize, Option<Stream>, Level, bool) {
    let stream = match (word >> 16) & 3 {
        1 => Some(Stream::Stdout),
        2 => Some(Stream::Stderr),
        _ => None,
    };
    (
        (word & 0xffff) as usize,
        stream,
        level_of(word),
        word & (1 << 20) != 0,
    )
}

fn level_of(word: u32) -> Level {
    batch::level_of(((word >> 18) & 3) as u8)
}

fn is_error(flags: u8) -> bool {
    (flags >> 2) & 3 == 3
}

fn offset(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Runs of lines sharing a value: `(line, value)`, from line `line` of the chunk on the lines have `value` (lines
/// are fewer than [`CHUNK_LINES`], so a `u16` holds the line).
type Runs<T> = Vec<(u16, T)>;

/// The value of the run line `i` is in (the default before the first run).
fn run_value<T: Copy + Default>(runs: &[(u16, T)], i: usize) -> T {
    let at = runs.partition_point(|(line, _)| usize::from(*line) <= i);
    at.checked_sub(1).map_or_else(T::default, |a| runs[a].1)
}

/// Starts a run of `value` at line `line`, unless the last run has that value.
fn note_run<T: PartialEq>(runs: &mut Runs<T>, line: usize, value: T) {
    if runs.last().is_none_or(|(_, v)| *v != value) {
        runs.push((u16::try_from(line).unwrap_or(u16::MAX), value));
    }
}

/// Lines appended or dropped: how many, their text bytes (without the `\n`s) and how many are errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Count {
    pub lines: usize,
    pub bytes: usize,
    pub errors: usize,
}

/// Consecutive lines, packed: `text` holds them end to end, each followed by `\n`; line `i` ends at `ends[i]`.
/// A line's word is its flags byte and its tag, kept per run of lines (a flood from one source is one run).
#[derive(Debug, Clone, Default)]
pub(super) struct Chunk {
    text: Text,
    ends: Vec<u32>,
    flags: Vec<u8>,
    /// The tag index of each run of lines from one source.
    tags: Runs<u16>,
    /// Lines at the front already evicted (only the oldest chunk has any).
    pub skip: usize,
    /// Sequence number of the chunk's line 0.
    pub first: u64,
    /// The second each run of lines arrived at.
    arrived: Runs<u32>,
}

impl Chunk {
    /// An empty chunk for lines from `first` on, with room for a line of `bytes` and for `lines` lines (as many
    /// as the chunk before held: the offsets then take what they need, not up to twice that). Its text asks for a
    /// huge page when `dense` (the lines are expected to fill it, see [`Chunk::dense`]).
    pub fn with_room(bytes: usize, lines: usize, first: u64, dense: bool) -> Chunk {
        Chunk {
            text: Text::with_capacity(bytes.saturating_add(1).max(CHUNK_BYTES), dense),
            ends: Vec::with_capacity(lines),
            flags: Vec::with_capacity(lines),
            first,
            ..Chunk::default()
        }
    }

    /// Whether its text took at least half of its room: the next chunk is then worth a huge page (resident whole
    /// from its first line; short lines fill a chunk's line count long before its bytes).
    pub fn dense(&self) -> bool {
        self.text.len() >= CHUNK_BYTES / 2
    }

    /// Whether its text asked for a huge page.
    pub fn huge(&self) -> bool {
        self.text.huge()
    }

    /// Whether it is a regular chunk (worth keeping for reuse once freed).
    pub fn regular(&self) -> bool {
        self.text.capacity() == CHUNK_BYTES
    }

    /// Empties a freed chunk for lines from `first` on.
    pub fn reuse(&mut self, first: u64) {
        self.text.clear();
        self.ends.clear();
        self.flags.clear();
        self.tags.clear();
        self.arrived.clear();
        self.skip = 0;
        self.first = first;
    }

    /// Whether a line of `len` bytes goes in this chunk (an empty chunk takes any line).
    pub fn fits(&self, len: usize) -> bool {
        self.ends.len() < CHUNK_LINES
            && (self.ends.is_empty() || self.text.len() + len < CHUNK_BYTES)
    }

    /// Lines held (evicted ones included).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    fn start(&self, i: usize) -> usize {
        line_start(&self.ends, i)
    }

    /// The text of line `i`.
    pub fn text(&self, i: usize) -> &str {
        self.text
            .as_str()
            .get(self.start(i)..self.ends[i] as usize)
            .unwrap_or_default()
    }

    /// The packed word of line `i` (see [`pack`]).
    pub fn word(&self, i: usize) -> u32 {
        u32::from(run_value(&self.tags, i)) | (u32::from(self.flags[i]) << 16)
    }

    /// Notes that the lines appended next come from `tag`.
    fn tag(&mut self, tag: u16) {
        note_run(&mut self.tags, self.ends.len(), tag);
    }

    /// Lines still kept.
    pub fn live(&self) -> usize {
        self.ends.len() - self.skip
    }

    /// The second line `i` arrived at.
    pub fn arrived(&self, i: usize) -> u32 {
        run_value(&self.arrived, i)
    }

    /// Notes that the lines appended next arrived at `second`.
    fn stamp(&mut self, second: u32) {
        note_run(&mut self.arrived, self.ends.len(), second);
    }

    /// Appends one line.
    pub fn push(&mut self, text: &str, word: u32, second: u32) {
        self.stamp(second);
        self.tag((word & 0xffff) as u16);
        self.text.push_str(text);
        self.ends.push(offset(self.text.len()));
        self.text.push_str("\n");
        self.flags.push(flags_of(word));
    }

    /// Appends the lines of `batch` from line `from` on that fit (at least one when the chunk is empty), all with
    /// source `tag`, arrived at `second`. Returns what it appended.
    pub fn push_run(&mut self, batch: &LineBatch, from: usize, tag: TagId, second: u32) -> Count {
        let (text, ends, flags) = batch.parts();
        let start = line_start(ends, from);
        let room_lines = CHUNK_LINES - self.ends.len();
        let room_bytes = CHUNK_BYTES.saturating_sub(self.text.len());
        // Lines whose `\n` still fits; the first one always when the chunk is empty.
        let rest = &ends[from..ends.len().min(from + room_lines)];
        let mut n = rest.partition_point(|e| *e as usize - start < room_bytes);
        if n == 0 && self.ends.is_empty() && !rest.is_empty() {
            n = 1;
        }
        if n == 0 {
            return Count::default();
        }
        let end = ends[from + n - 1] as usize + 1;
        self.stamp(second);
        self.tag(tag.0);
        let base = self.text.len();
        self.text.push_str(text.get(start..end).unwrap_or_default());
        let shift = |e: &u32| offset(base + *e as usize - start);
        self.ends.extend(ends[from..from + n].iter().map(shift));
        let before = self.flags.len();
        self.flags
            .extend(flags[from..from + n].iter().map(|f| batch_flags(*f)));
        Count {
            lines: n,
            bytes: end - start - n,
            errors: self.flags[before..]
                .iter()
                .filter(|f| is_error(**f))
                .count(),
        }
    }

    /// Drops up to `n` of the oldest kept lines. Returns what it dropped.
    pub fn drop_front(&mut self, n: usize) -> Count {
        let n = n.min(self.live());
        if n == 0 {
            return Count::default();
        }
        let (from, to) = (self.skip, self.skip + n);
        let bytes = self.ends[to - 1] as usize + 1 - self.start(from) - n;
        let errors = self.flags[from..to]
            .iter()
            .filter(|f| is_error(**f))
            .count();
        self.skip = to;
        Count {
            lines: n,
            bytes,
            errors,
        }
    }
}
