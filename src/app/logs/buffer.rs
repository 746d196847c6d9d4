//! The log ring buffer: bounded in lines and in bytes; what falls out is counted so the pane can show it.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::runner::{Level, Stream};

/// Default bound on lines kept.
pub const MAX_LOG_LINES: usize = 1_000_000;
/// Default bound on text bytes kept.
pub const MAX_LOG_BYTES: usize = 256 * 1024 * 1024;

/// One line in the logs pane.
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

/// Bounded ring of log lines.
#[derive(Debug, Clone)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    dropped: u64,
}

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer::with_limits(MAX_LOG_LINES, MAX_LOG_BYTES)
    }
}

impl LogBuffer {
    pub fn with_limits(max_lines: usize, max_bytes: usize) -> Self {
        LogBuffer {
            lines: VecDeque::new(),
            bytes: 0,
            max_lines: max_lines.max(1),
            max_bytes,
            dropped: 0,
        }
    }

    pub fn push(&mut self, line: LogLine) {
        self.bytes += line.text.len();
        self.lines.push_back(line);
        while self.lines.len() > self.max_lines
            || (self.bytes > self.max_bytes && self.lines.len() > 1)
        {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.text.len();
                self.dropped += 1;
            }
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
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
        self.dropped + self.lines.len() as u64
    }

    /// The line with sequence number `seq`, if it is still kept.
    pub fn get_seq(&self, seq: u64) -> Option<&LogLine> {
        let index = seq.checked_sub(self.dropped)?;
        self.lines.get(usize::try_from(index).ok()?)
    }

    pub fn get(&self, index: usize) -> Option<&LogLine> {
        self.lines.get(index)
    }

    /// Lines `start..end` (clamped), oldest first.
    pub fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &LogLine> {
        let end = end.min(self.lines.len());
        self.lines.range(start.min(end)..end)
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
        let kept: Vec<_> = b.range(0, 10).map(|l| l.text.as_str()).collect();
        assert_eq!(kept, ["2", "3", "4"]);
    }

    #[test]
    fn bounded_by_bytes() {
        let mut b = LogBuffer::with_limits(100, 10);
        b.push(line("aaaaaa"));
        b.push(line("bbbbbb"));
        assert_eq!(b.len(), 1);
        assert_eq!(b.get(0).map(|l| l.text.as_str()), Some("bbbbbb"));
        assert_eq!(b.dropped(), 1);
    }
}
