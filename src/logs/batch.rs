//! A batch of lines from one read of a `[[logs]]` source, packed (issue 17): the texts end to end in one `String`,
//! an end offset and a flag byte per line. One read makes one batch with three allocations, whatever its line
//! count, instead of a `String` per line allocated on a runner thread and freed on the console's (the frees across
//! threads were a fifth of the ingest time and made memory creep under a long flood). May import `runner` message
//! types only.

use crate::runner::{Level, SourceLine, Stream};

/// Lines of one read, already made safe for the screen, packed: each line's text followed by `\n` (a line's
/// own text never holds one), so a regex or a multi-pattern search can run over the whole batch at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineBatch {
    text: String,
    /// Where each line's text ends (its `\n` is there).
    ends: Vec<u32>,
    /// Per line: level (2 bits), truncated (bit 2), stderr (bit 3).
    flags: Vec<u8>,
}

/// One line of a [`LineBatch`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLine<'a> {
    pub text: &'a str,
    pub truncated: bool,
    pub level: Level,
    pub stream: Stream,
}

impl BatchLine<'_> {
    /// The line as an owned [`SourceLine`].
    pub fn to_owned(&self) -> SourceLine {
        SourceLine {
            text: self.text.to_string(),
            truncated: self.truncated,
            level: self.level,
            stream: self.stream,
        }
    }
}

/// A level as two bits (the encoding of the flags byte, and of the ring's packed word).
pub(crate) fn level_bits(level: Level) -> u8 {
    match level {
        Level::Other => 0,
        Level::Info => 1,
        Level::Warn => 2,
        Level::Error => 3,
    }
}

fn flags(level: Level, truncated: bool, stream: Stream) -> u8 {
    level_bits(level) | (u8::from(truncated) << 2) | (u8::from(stream == Stream::Stderr) << 3)
}

/// The level of two bits (see [`level_bits`]; higher bits are ignored).
pub(crate) fn level_of(bits: u8) -> Level {
    match bits & 3 {
        1 => Level::Info,
        2 => Level::Warn,
        3 => Level::Error,
        _ => Level::Other,
    }
}

/// Where line `i` starts in lines laid out as a batch's are (each followed by `\n`, line `i`'s `\n` at `ends[i]`).
pub(crate) fn line_start(ends: &[u32], i: usize) -> usize {
    i.checked_sub(1).map_or(0, |p| ends[p] as usize + 1)
}

impl LineBatch {
    /// An empty batch with room for about `lines` lines of `bytes` text.
    pub fn with_capacity(lines: usize, bytes: usize) -> LineBatch {
        LineBatch {
            text: String::with_capacity(bytes),
            ends: Vec::with_capacity(lines),
            flags: Vec::with_capacity(lines),
        }
    }

    /// Ends the line whose text was written at the end of the text since the previous line.
    fn close_line(&mut self, level: Level, truncated: bool, stream: Stream) {
        self.ends
            .push(u32::try_from(self.text.len()).unwrap_or(u32::MAX));
        self.text.push('\n');
        self.flags.push(flags(level, truncated, stream));
    }

    /// A batch made of `text` (lines each followed by `\n`), their `ends`, and per line its level and whether it
    /// was truncated; every line from `stream`.
    pub(crate) fn from_parts(
        text: String,
        ends: Vec<u32>,
        lines: impl Iterator<Item = (Level, bool)>,
        stream: Stream,
    ) -> LineBatch {
        let flags = lines.map(|(l, t)| flags(l, t, stream)).collect();
        LineBatch { text, ends, flags }
    }

    /// Appends one line.
    pub fn push(&mut self, text: &str, level: Level, truncated: bool, stream: Stream) {
        self.text.push_str(text);
        self.close_line(level, truncated, stream);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Text bytes in the batch (each line's `\n` included).
    pub fn bytes(&self) -> usize {
        self.text.len()
    }

    /// Lines at [`Level::Error`].
    pub fn errors(&self) -> usize {
        self.flags.iter().filter(|f| *f & 3 == 3).count()
    }

    /// The batch as it is packed: the text (each line followed by `\n`), where each line ends (its `\n` is
    /// there), and a flags byte per line (level in bits 0–1, truncated bit 2, stderr bit 3).
    pub fn parts(&self) -> (&str, &[u32], &[u8]) {
        (&self.text, &self.ends, &self.flags)
    }

    /// The level of line `i` ([`Level::Other`] past the end).
    pub fn level(&self, i: usize) -> Level {
        self.flags.get(i).map_or(Level::Other, |f| level_of(*f))
    }

    /// Line `i`.
    pub fn get(&self, i: usize) -> Option<BatchLine<'_>> {
        let end = *self.ends.get(i)? as usize;
        let start = line_start(&self.ends, i);
        let flags = self.flags[i];
        Some(BatchLine {
            text: &self.text[start..end],
            truncated: flags & 4 != 0,
            level: level_of(flags),
            stream: if flags & 8 != 0 {
                Stream::Stderr
            } else {
                Stream::Stdout
            },
        })
    }

    /// The lines, in order.
    pub fn iter(&self) -> impl Iterator<Item = BatchLine<'_>> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    /// The lines as owned [`SourceLine`]s (tests and tools; the console reads them in place).
    pub fn to_lines(&self) -> Vec<SourceLine> {
        self.iter().map(|l| l.to_owned()).collect()
    }
}

impl FromIterator<SourceLine> for LineBatch {
    fn from_iter<I: IntoIterator<Item = SourceLine>>(lines: I) -> LineBatch {
        let mut batch = LineBatch::default();
        for l in lines {
            batch.push(&l.text, l.level, l.truncated, l.stream);
        }
        batch
    }
}

impl From<Vec<SourceLine>> for LineBatch {
    fn from(lines: Vec<SourceLine>) -> LineBatch {
        let bytes = lines.iter().map(|l| l.text.len()).sum();
        let mut batch = LineBatch::with_capacity(lines.len(), bytes);
        for l in &lines {
            batch.push(&l.text, l.level, l.truncated, l.stream);
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_back_as_pushed() {
        let lines = vec![
            SourceLine {
                text: "a".into(),
                truncated: false,
                level: Level::Info,
                stream: Stream::Stdout,
            },
            SourceLine {
                text: String::new(),
                truncated: true,
                level: Level::Error,
                stream: Stream::Stderr,
            },
            SourceLine {
                text: "ünïcode".into(),
                truncated: false,
                level: Level::Warn,
                stream: Stream::Stdout,
            },
        ];
        let batch = LineBatch::from(lines.clone());
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.errors(), 1);
        assert_eq!(batch.to_lines(), lines);
    }
}
