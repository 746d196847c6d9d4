//! The log ring buffer: bounded in lines and in bytes; what falls out is counted so the pane can show it.
//!
//! Lines are stored packed (issue 17) in chunks ([`super::chunk`]) of about [`CHUNK_BYTES`] of text with one end
//! offset and one flags byte (stream, level, truncated) per line — 6 bytes beside the text (its `\n` included),
//! against ~230 for a
//! `String`, an `Arc` and an `Option` per line. Where a line came from is an index into a small table of tags,
//! not a tag per line. Evicting the oldest lines is exact (the bounds and the dropped count are per line); a chunk
//! is freed whole once its last line is gone, so memory under a long flood stays flat instead of fragmenting.
//! When lines arrived is kept per run of lines, not per line: a chunk notes the second at the lines where it
//! changes (a flood of 32,768 lines in one second costs one entry). Error lines are counted exactly, evictions
//! included. A batch from a runner goes in a run at a time (one copy of its text), and evictions for the line
//! bound drop whole runs. Imports the runner's line kinds, [`crate::logs::batch`] and the chunk.

use std::collections::VecDeque;
use std::sync::Arc;

pub use super::chunk::{CHUNK_BYTES, CHUNK_LINES, TagId};
use super::chunk::{Chunk, Count, pack, unpack};
use crate::logs::batch::LineBatch;
use crate::runner::{Level, Stream};

/// Default bound on lines kept.
pub const MAX_LOG_LINES: usize = 1_000_000;
/// Default bound on text bytes kept.
pub const MAX_LOG_BYTES: usize = 256 * 1024 * 1024;

/// One line in the logs pane, owned: what is pushed (see [`LineRef`] for what is read back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Short tag of where it came from (`deploy#1`, `deckhand`).
    pub source: Arc<str>,
    /// `None` for deckhand's own notes.
    pub stream: Option<Stream>,
    /// Already sanitized: safe to put on screen.
    pub text: String,
    pub truncated: bool,
    pub level: Level,
    /// The `[[logs]]` source it came from; `None` for step output and deckhand's notes.
    pub origin: Option<usize>,
}

impl LogLine {
    /// The line as the buffer gives it back.
    pub fn as_ref(&self) -> LineRef<'_> {
        LineRef {
            source: &self.source,
            stream: self.stream,
            text: &self.text,
            truncated: self.truncated,
            level: self.level,
            origin: self.origin,
        }
    }
}

/// One kept line, borrowed from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRef<'a> {
    pub source: &'a Arc<str>,
    pub stream: Option<Stream>,
    pub text: &'a str,
    pub truncated: bool,
    pub level: Level,
    pub origin: Option<usize>,
}

/// Where lines come from: a tag and the `[[logs]]` source it stands for. Lines carry its index.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tag {
    name: Arc<str>,
    origin: Option<usize>,
}

/// Bounded ring of log lines.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    chunks: VecDeque<Chunk>,
    tags: Vec<Tag>,
    /// The tag the last line used (most lines come in runs from one source).
    last_tag: Option<TagId>,
    lines: usize,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    dropped: u64,
    /// Error lines kept.
    errors: usize,
    /// The second lines pushed now arrive at.
    clock: u32,
    /// The last chunk freed, kept for the next one.
    spare: Option<Chunk>,
}

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer::with_limits(MAX_LOG_LINES, MAX_LOG_BYTES)
    }
}

impl LogBuffer {
    pub fn with_limits(max_lines: usize, max_bytes: usize) -> Self {
        LogBuffer {
            chunks: VecDeque::new(),
            tags: Vec::new(),
            last_tag: None,
            lines: 0,
            bytes: 0,
            max_lines: max_lines.max(1),
            max_bytes,
            dropped: 0,
            spare: None,
            errors: 0,
            clock: 0,
        }
    }

    /// The lines pushed from now on arrived at `second` (seconds since the console started; the caller's clock).
    pub fn set_clock(&mut self, second: u32) {
        self.clock = second;
    }

    /// The index of `name` for `origin`, added to the table when new. The table holds 65,536 tags; past that,
    /// the last one is shared (step tags are per step: no plan comes near it).
    pub fn tag(&mut self, name: &Arc<str>, origin: Option<usize>) -> TagId {
        if let Some(id) = self.last_tag {
            let t = &self.tags[usize::from(id.0)];
            if Arc::ptr_eq(&t.name, name) && t.origin == origin {
                return id;
            }
        }
        let found = self
            .tags
            .iter()
            .position(|t| t.origin == origin && *t.name == **name);
        let index = found.unwrap_or_else(|| {
            if self.tags.len() <= usize::from(u16::MAX) {
                self.tags.push(Tag {
                    name: name.clone(),
                    origin,
                });
            }
            self.tags.len() - 1
        });
        let id = TagId(u16::try_from(index).unwrap_or(u16::MAX));
        self.last_tag = Some(id);
        id
    }

    pub fn push(&mut self, line: LogLine) {
        let tag = self.tag(&line.source, line.origin);
        self.push_parts(tag, &line.text, line.stream, line.level, line.truncated);
    }

    /// Adds one line (its text already made safe), then evicts the oldest lines past the bounds.
    pub fn push_parts(
        &mut self,
        tag: TagId,
        text: &str,
        stream: Option<Stream>,
        level: Level,
        truncated: bool,
    ) {
        if !self.chunks.back().is_some_and(|c| c.fits(text.len())) {
            let chunk = self.new_chunk(text.len());
            self.chunks.push_back(chunk);
        }
        if let Some(chunk) = self.chunks.back_mut() {
            chunk.push(text, pack(tag, stream, level, truncated), self.clock);
        }
        self.count(Count {
            lines: 1,
            bytes: text.len(),
            errors: usize::from(level == Level::Error),
        });
        self.evict();
    }

    /// Adds the lines of a batch, all from source `tag` (their texts already made safe): copied a run at a time,
    /// then the oldest lines past the bounds evicted.
    pub fn push_batch(&mut self, tag: TagId, batch: &LineBatch) {
        let mut from = 0;
        while from < batch.len() {
            let clock = self.clock;
            let mut count = match self.chunks.back_mut() {
                Some(chunk) => chunk.push_run(batch, from, tag, clock),
                None => Count::default(),
            };
            if count.lines == 0 {
                let mut chunk = self.new_chunk(batch.get(from).map_or(0, |l| l.text.len()));
                count = chunk.push_run(batch, from, tag, clock);
                self.chunks.push_back(chunk);
            }
            from += count.lines;
            // Counted at once: the next chunk's first sequence number depends on it.
            self.count(count);
        }
        self.evict();
    }

    /// Counts lines added.
    fn count(&mut self, count: Count) {
        self.lines += count.lines;
        self.bytes += count.bytes;
        self.errors += count.errors;
    }

    /// Drops the oldest lines past the bounds: whole runs for the line bound, one at a time for the byte bound.
    fn evict(&mut self) {
        while self.lines > self.max_lines {
            self.drop_oldest(self.lines - self.max_lines);
        }
        while self.bytes > self.max_bytes && self.lines > 1 {
            self.drop_oldest(1);
        }
    }

    /// Drops up to `n` of the oldest kept lines (those of the oldest chunk); frees the chunk once it is empty.
    fn drop_oldest(&mut self, n: usize) {
        let Some(front) = self.chunks.front_mut() else {
            return;
        };
        let count = front.drop_front(n);
        self.errors -= count.errors;
        self.bytes -= count.bytes;
        self.lines -= count.lines;
        self.dropped += count.lines as u64;
        if front.live() == 0
            && let Some(freed) = self.chunks.pop_front()
        {
            // Kept for the next chunk when it is a regular one on base pages: under a flood, chunks are reused
            // instead of returned and asked for again (no fresh pages to fault in, memory flat). A huge page is
            // unmapped instead: a new one costs one fault, and a spare would hold 2 MiB more under a long flood.
            if freed.regular() && !freed.huge() {
                self.spare = Some(freed);
            }
        }
    }

    /// A chunk for the next lines, with room for a line of `bytes`: the spare one when it fits.
    fn new_chunk(&mut self, bytes: usize) -> Chunk {
        let first = self.end_seq();
        match self.spare.take() {
            Some(mut c) if bytes < CHUNK_BYTES => {
                c.reuse(first);
                c
            }
            _ => {
                let back = self.chunks.back();
                let lines = back.map_or(0, Chunk::len);
                Chunk::with_room(bytes, lines, first, back.is_some_and(Chunk::dense))
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lines
    }

    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// Text bytes kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Chunks allocated (for accounting tests and benches).
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Error lines kept (exact: an evicted error line is no longer counted).
    pub fn errors(&self) -> usize {
        self.errors
    }

    /// Lines that fell out of the buffer because of its bounds.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Sequence number of the oldest line kept (every line ever pushed has one, counting from 0).
    pub fn first_seq(&self) -> u64 {
        self.dropped
    }

    /// Sequence number the next pushed line gets.
    pub fn end_seq(&self) -> u64 {
        self.dropped + self.lines as u64
    }

    /// The line with sequence number `seq`, if it is still kept.
    pub fn get_seq(&self, seq: u64) -> Option<LineRef<'_>> {
        self.locate(seq).map(|(chunk, i)| self.line_of(chunk, i))
    }

    /// The chunk holding the line with sequence number `seq`, and its index there.
    fn locate(&self, seq: u64) -> Option<(&Chunk, usize)> {
        if seq < self.first_seq() || seq >= self.end_seq() {
            return None;
        }
        let at = self
            .chunks
            .partition_point(|c| c.first <= seq)
            .checked_sub(1)?;
        let chunk = &self.chunks[at];
        let i = usize::try_from(seq - chunk.first).ok()?;
        (i < chunk.len()).then_some((chunk, i))
    }

    /// The second (on the clock given by [`Self::set_clock`]) the line with sequence number `seq` arrived at, if it
    /// is still kept.
    pub fn arrived(&self, seq: u64) -> Option<u32> {
        self.locate(seq).map(|(chunk, i)| chunk.arrived(i))
    }

    /// The kept line at `index` (0 = oldest kept).
    pub fn get(&self, index: usize) -> Option<LineRef<'_>> {
        self.get_seq(self.first_seq() + index as u64)
    }

    fn line_of<'a>(&'a self, chunk: &'a Chunk, i: usize) -> LineRef<'a> {
        let (tag, stream, level, truncated) = unpack(chunk.word(i));
        let tag = &self.tags[tag];
        LineRef {
            source: &tag.name,
            stream,
            text: chunk.text(i),
            truncated,
            level,
            origin: tag.origin,
        }
    }

    /// Lines `start..end` (clamped), oldest first.
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = LineRef<'_>> {
        let end = end.min(self.lines);
        let mut skip = start.min(end);
        let mut take = end - skip;
        self.chunks.iter().flat_map(move |chunk| {
            let live = chunk.live();
            let from = skip.min(live);
            skip -= from;
            let n = (live - from).min(take);
            take -= n;
            let first = chunk.skip + from;
            (first..first + n).map(move |i| self.line_of(chunk, i))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> LogLine {
        LogLine {
            source: Arc::from("t"),
            stream: Some(Stream::Stdout),
            text: text.to_string(),
            truncated: false,
            level: Level::Other,
            origin: None,
        }
    }

    #[test]
    fn bounded_by_lines_and_counts_drops() {
        let mut b = LogBuffer::with_limits(3, 1 << 20);
        for i in 0..5 {
            b.push(line(&i.to_string()));
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.dropped(), 2);
        let kept: Vec<_> = b.range(0, 10).map(|l| l.text).collect();
        assert_eq!(kept, ["2", "3", "4"]);
    }

    #[test]
    fn bounded_by_bytes() {
        let mut b = LogBuffer::with_limits(100, 10);
        b.push(line("aaaaaa"));
        b.push(line("bbbbbb"));
        assert_eq!(b.len(), 1);
        assert_eq!(b.get(0).map(|l| l.text), Some("bbbbbb"));
        assert_eq!(b.dropped(), 1);
    }

    #[test]
    fn every_field_comes_back_as_pushed() {
        let mut b = LogBuffer::default();
        let tag: Arc<str> = Arc::from("api");
        for (i, (stream, level)) in [
            (None, Level::Other),
            (Some(Stream::Stdout), Level::Info),
            (Some(Stream::Stderr), Level::Warn),
            (Some(Stream::Stderr), Level::Error),
        ]
        .into_iter()
        .enumerate()
        {
            let line = LogLine {
                source: tag.clone(),
                stream,
                text: format!("line {i}"),
                truncated: i % 2 == 1,
                level,
                origin: (i > 1).then_some(7),
            };
            b.push(line.clone());
            assert_eq!(b.get_seq(i as u64), Some(line.as_ref()));
        }
    }

    /// A huge page is resident whole, so only chunks after one its lines filled by half ask for one: short lines
    /// (which fill a chunk's line count first) and the first chunk of a quiet pane stay on base pages.
    #[test]
    fn only_chunks_that_fill_their_block_ask_for_a_huge_page() {
        let mut short = LogBuffer::default();
        for i in 0..3 * CHUNK_LINES {
            short.push(line(&format!("{i:08}")));
        }
        assert!(short.chunks.len() >= 3);
        assert!(short.chunks.iter().all(|c| !c.huge()));
        let mut long = LogBuffer::default();
        let text = "x".repeat(149);
        for _ in 0..3 * CHUNK_BYTES / 150 {
            long.push(line(&text));
        }
        let huge: Vec<bool> = long.chunks.iter().map(Chunk::huge).collect();
        assert_eq!(huge.first(), Some(&false), "the first chunk has no history");
        // Where huge pages are still asked for, every chunk after the first got one. Where the system offers none,
        // or gave them up after a slow fault (in this test or another), the later chunks have none: once given up,
        // never again.
        let asked = crate::logs::block::huge_pages_asked();
        assert!(huge.len() >= 3, "{huge:?}");
        assert!(!asked || huge[1..].iter().all(|h| *h), "{huge:?}");
        assert!(huge[1..].windows(2).all(|w| w[0] || !w[1]), "{huge:?}");
    }

    /// Two sources taking turns, line by line and in whole batches, come back each with its own tag.
    #[test]
    fn sources_taking_turns_keep_their_tags() {
        let mut b = LogBuffer::default();
        let (api, db): (Arc<str>, Arc<str>) = (Arc::from("api"), Arc::from("db"));
        let mut want = Vec::new();
        for i in 0..100 {
            let source = if i % 3 == 0 { &db } else { &api };
            b.push(LogLine {
                source: source.clone(),
                ..line(&i.to_string())
            });
            want.push(source.clone());
        }
        // Then whole batches taking turns, one of them spilling over into a new chunk.
        let batch = |n: usize| -> LineBatch {
            (0..n)
                .map(|i| crate::runner::SourceLine {
                    text: format!("{i:0100}"),
                    truncated: false,
                    level: Level::Other,
                    stream: Stream::Stdout,
                })
                .collect()
        };
        let (api_id, db_id) = (b.tag(&api, Some(0)), b.tag(&db, Some(1)));
        let chunks = b.chunks.len();
        for (id, source, n) in [
            (api_id, &api, 7),
            (db_id, &db, CHUNK_BYTES / 101),
            (api_id, &api, 5),
        ] {
            b.push_batch(id, &batch(n));
            want.extend(std::iter::repeat_n(source.clone(), n));
        }
        assert!(b.chunks.len() > chunks, "a batch spilled into a new chunk");
        for (i, source) in want.iter().enumerate() {
            assert_eq!(b.get_seq(i as u64).map(|l| l.source), Some(source), "{i}");
        }
    }
}
