//! Splits a byte stream into lines with memchr, keeping an unfinished last line until its newline arrives and
//! cutting lines longer than a cap (the cut line is marked truncated; the rest of it, up to its newline, is
//! skipped so that the lines after it are intact). The whole lines of a chunk can be handed over at once
//! ([`Lines::whole`]): a packer then copies them in one go instead of line by line.

use memchr::{memchr, memrchr};

/// Where a splitter's lines go.
pub trait Lines {
    /// One line (without its `\n`); `truncated` when it was cut at the cap.
    fn line(&mut self, raw: &[u8], truncated: bool);

    /// Several whole lines at once, each ending in `\n`: true when taken. A line longer than `cap` must not be
    /// taken (return false, having kept nothing): the lines then come one by one through [`Lines::line`].
    fn whole(&mut self, block: &[u8], cap: usize) -> bool {
        let _ = (block, cap);
        false
    }
}

impl<F: FnMut(&[u8], bool)> Lines for F {
    fn line(&mut self, raw: &[u8], truncated: bool) {
        self(raw, truncated);
    }
}

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

    /// Feeds one chunk, handing `out` every line it completes: the one already begun, then the chunk's whole
    /// lines at once when `out` takes them, else one by one.
    pub fn push(&mut self, mut chunk: &[u8], out: &mut impl Lines) {
        if !self.partial.is_empty() || self.discarding {
            let Some(at) = memchr(b'\n', chunk) else {
                return self.push_lines(chunk, out);
            };
            self.push_lines(&chunk[..=at], out);
            chunk = &chunk[at + 1..];
        }
        if let Some(last) = memrchr(b'\n', chunk) {
            let (whole, rest) = chunk.split_at(last + 1);
            if !out.whole(whole, self.cap) {
                self.push_lines(whole, out);
            }
            chunk = rest;
        }
        self.push_lines(chunk, out);
    }

    /// [`Self::push`], one line at a time.
    fn push_lines(&mut self, mut chunk: &[u8], out: &mut impl Lines) {
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
                out.line(&self.partial, true);
                self.partial.clear();
                self.discarding = newline.is_none();
            } else if newline.is_none() {
                self.partial.extend_from_slice(segment);
            } else if self.partial.is_empty() {
                out.line(segment, false);
            } else {
                self.partial.extend_from_slice(segment);
                out.line(&self.partial, false);
                self.partial.clear();
            }
        }
    }

    /// True when no line is begun or being skipped: the next byte starts a line.
    pub fn idle(&self) -> bool {
        self.partial.is_empty() && !self.discarding
    }

    /// Hands the begun line over to `to` (appended), when one is begun, is not being skipped and is at most
    /// `max` bytes: the splitter is then [`Splitter::idle`]. Returns how many bytes went.
    pub fn hand_over(&mut self, to: &mut Vec<u8>, max: usize) -> usize {
        let len = self.partial.len();
        if self.discarding || len == 0 || len > max {
            return 0;
        }
        to.extend_from_slice(&self.partial);
        self.partial.clear();
        len
    }

    /// The longest line kept whole.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// End of stream (or of a file before switching to its successor): emits the unfinished last line.
    pub fn finish(&mut self, out: &mut impl Lines) {
        if !self.partial.is_empty() {
            out.line(&self.partial, false);
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
