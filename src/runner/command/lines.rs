//! Turns one output pipe of a step into lines: reads it in chunks, splits on `\n`, caps each line
//! at [`MAX_LINE_BYTES`], masks the plan's secrets, and hands every line out twice — sanitized for the screen,
//! raw for the log.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::MAX_LINE_BYTES;
use crate::logs::split::Splitter;
use crate::runner::{OutputLine, Stream};
use crate::sanitize::sanitize_bytes;

/// Size of one read from a pipe; every read becomes at most one `Output` batch.
const READ_CHUNK_BYTES: usize = 64 * 1024;

/// The splitter of the log pipeline, capped at [`MAX_LINE_BYTES`] per line.
fn splitter() -> Splitter {
    Splitter::new(MAX_LINE_BYTES)
}

/// One of the step's output pipes with its read buffer and line state.
pub(super) struct Pipe<R> {
    reader: Option<R>,
    stream: Stream,
    buf: Vec<u8>,
    splitter: Splitter,
    masker: crate::secrets::Masker,
}

impl<R: AsyncRead + Unpin> Pipe<R> {
    pub(super) fn new(reader: Option<R>, stream: Stream, masker: crate::secrets::Masker) -> Self {
        Pipe {
            reader,
            stream,
            buf: vec![0; READ_CHUNK_BYTES],
            splitter: splitter(),
            masker,
        }
    }

    pub(super) fn is_open(&self) -> bool {
        self.reader.is_some()
    }

    /// Stops reading; whatever the writers send later is lost (they get `SIGPIPE`).
    pub(super) fn close(&mut self) {
        self.reader = None;
    }

    /// Reads one chunk. Cancel-safe: dropping the future loses no data.
    pub(super) async fn read(&mut self) -> io::Result<usize> {
        match self.reader.as_mut() {
            Some(reader) => reader.read(&mut self.buf).await,
            None => std::future::pending().await,
        }
    }

    /// Turns the result of [`Pipe::read`] into the lines it completed: sanitized in the returned
    /// batch, raw (`out| ` / `err| ` prefixed) appended to `log`. EOF or an error closes the pipe.
    pub(super) fn lines(&mut self, read: io::Result<usize>, log: &mut Vec<u8>) -> Vec<OutputLine> {
        let stream = self.stream;
        let prefix: &[u8] = match stream {
            Stream::Stdout => b"out| ",
            Stream::Stderr => b"err| ",
        };
        let mut lines = Vec::new();
        let masker = &self.masker;
        let mut emit = |raw: &[u8], truncated: bool| {
            // Whole lines: a secret split across two reads is masked too.
            let raw = masker.mask_bytes(raw);
            let raw = raw.as_ref();
            log.extend_from_slice(prefix);
            log.extend_from_slice(raw);
            log.push(b'\n');
            lines.push(OutputLine {
                stream,
                text: sanitize_bytes(raw),
                truncated,
            });
        };
        match read {
            Ok(n) if n > 0 => self.splitter.push(&self.buf[..n], &mut emit),
            other => {
                if let Err(err) = other {
                    tracing::debug!(?stream, %err, "reading step output failed; treating as EOF");
                }
                self.reader = None;
                self.splitter.finish(&mut emit);
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<(Vec<u8>, bool)> {
        let mut splitter = splitter();
        let mut out = Vec::new();
        let mut emit = |line: &[u8], truncated: bool| out.push((line.to_vec(), truncated));
        for chunk in chunks {
            splitter.push(chunk, &mut emit);
        }
        splitter.finish(&mut emit);
        out
    }

    fn line(text: &str) -> (Vec<u8>, bool) {
        (text.as_bytes().to_vec(), false)
    }

    #[test]
    fn joins_lines_across_chunks_and_keeps_empty_lines() {
        let got = split(&[b"a\nbc", b"d\n\ne", b"f\n"]);
        assert_eq!(got, vec![line("a"), line("bcd"), line(""), line("ef")]);
    }

    #[test]
    fn unterminated_last_line_is_emitted_at_eof() {
        assert_eq!(split(&[b"x\ny"]), vec![line("x"), line("y")]);
        assert_eq!(split(&[b"x\n"]), vec![line("x")]);
    }

    #[test]
    fn line_of_exactly_the_cap_is_not_truncated() {
        let full = vec![b'a'; MAX_LINE_BYTES];
        let got = split(&[&full, b"\nnext\n"]);
        assert_eq!(got, vec![(full.clone(), false), line("next")]);
    }

    #[test]
    fn long_line_is_cut_and_rest_discarded_up_to_newline() {
        let long = vec![b'a'; MAX_LINE_BYTES + 10];
        let got = split(&[&long, b"bbb", b"ccc\nnext\n"]);
        assert_eq!(got, vec![(vec![b'a'; MAX_LINE_BYTES], true), line("next")]);
    }

    #[test]
    fn long_line_cut_within_one_chunk() {
        let mut chunk = vec![b'z'; MAX_LINE_BYTES + 1];
        chunk.extend_from_slice(b"\nok");
        let got = split(&[&chunk]);
        assert_eq!(got, vec![(vec![b'z'; MAX_LINE_BYTES], true), line("ok")]);
    }
}
