//! Splits a byte stream into lines with memchr, keeping an unfinished last line until its newline arrives and
//! cutting lines longer than a cap (the cut line is marked truncated; the rest of it, up to its newline, is
//! skipped so that the lines after it are intact).

use memchr::memchr;

/// Line splitter with a length cap.
#[derive(Debug)]
pub struct Splitter {
    partial: Vec<u8>,
    /// The current line was already cut at the cap; its bytes are skipped up to the next newline.
    discarding: bool,
    cap: usize,
}

impl Splitter {
    pub fn new(cap: usize) -> Self {
        Splitter {
            partial: Vec::new(),
            discarding: false,
            cap: cap.max(1),
        }
    }

    /// Feeds one chunk, calling `emit(line, truncated)` for every line it completes (without the `\n`).
    pub fn push(&mut self, mut chunk: &[u8], emit: &mut impl FnMut(&[u8], bool)) {
        while !chunk.is_empty() {
            let newline = memchr(b'\n', chunk);
            let (segment, rest) = match newline {
                Some(at) => (&chunk[..at], &chunk[at + 1..]),
                None => (chunk, &chunk[chunk.len()..]),
            };
            chunk = rest;
            if self.discarding {
                self.discarding = newline.is_none();
                continue;
            }
            let room = self.cap - self.partial.len();
            if segment.len() > room {
                self.partial.extend_from_slice(&segment[..room]);
                emit(&self.partial, true);
                self.partial.clear();
                self.discarding = newline.is_none();
            } else if newline.is_none() {
                self.partial.extend_from_slice(segment);
            } else if self.partial.is_empty() {
                emit(segment, false);
            } else {
                self.partial.extend_from_slice(segment);
                emit(&self.partial, false);
                self.partial.clear();
            }
        }
    }

    /// End of stream (or of a file before switching to its successor): emits the unfinished last line.
    pub fn finish(&mut self, emit: &mut impl FnMut(&[u8], bool)) {
        if !self.partial.is_empty() {
            emit(&self.partial, false);
            self.partial.clear();
        }
        self.discarding = false;
    }

    /// Forgets any unfinished line (a truncated file starts over).
    pub fn reset(&mut self) {
        self.partial.clear();
        self.discarding = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(cap: usize, chunks: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
        let mut s = Splitter::new(cap);
        let mut out = Vec::new();
        let mut emit = |l: &[u8], t: bool| out.push((l.to_vec(), t));
        for c in chunks {
            s.push(c, &mut emit);
        }
        s.finish(&mut emit);
        out
    }

    #[test]
    fn joins_across_chunks_and_cuts_long_lines() {
        let got = split(4, &[b"ab\ncd", b"efgh", b"ij\nk\n", b"tail"]);
        let want: Vec<(Vec<u8>, bool)> = vec![
            (b"ab".to_vec(), false),
            (b"cdef".to_vec(), true),
            (b"k".to_vec(), false),
            (b"tail".to_vec(), false),
        ];
        assert_eq!(got, want);
    }
}
