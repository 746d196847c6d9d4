//! Following a log file the way `tail -F` does, by polling: new bytes are read as they are appended; when the
//! path names a different file (rotation), the old one is read to its end first and then the new one from its
//! start; when the file shrinks below what was read (truncation), reading starts again from 0. A missing or
//! unreadable file is reported and retried. Synchronous: the runner calls [`Follower::poll`] on a timer.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::split::{Lines, Splitter};
use super::{MAX_LINE_BYTES, READ_CHUNK_BYTES};

/// Something the pane should hear about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowEvent {
    /// The file is open and being followed.
    Opened,
    /// The file does not exist yet (the text says so); opened when it appears.
    Waiting(String),
    /// The file cannot be read (the text says why); retried on every poll.
    Failed(String),
    /// The file was rotated or truncated.
    Note(String),
}

/// One followed file.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    file: Option<(File, (u64, u64))>,
    pos: u64,
    splitter: Splitter,
    buf: Vec<u8>,
    /// The first open starts at the end (old content is history, not live); later opens start at 0.
    start_at_end: bool,
    /// The failure or wait reported last (until the file opens).
    failed: Option<FollowEvent>,
}

impl Follower {
    /// Follows `path`; with `start_at_end`, what the file holds when first opened is skipped.
    pub fn new(path: &Path, start_at_end: bool) -> Self {
        Follower {
            path: path.to_path_buf(),
            file: None,
            pos: 0,
            splitter: Splitter::new(MAX_LINE_BYTES),
            buf: vec![0; READ_CHUNK_BYTES],
            start_at_end,
            failed: None,
        }
    }

    /// Reads at most about `max_bytes` of what is new, handing `emit` the complete lines and pushing events. Returns true when there may be more to read right away (poll again without waiting).
    pub fn poll(
        &mut self,
        max_bytes: usize,
        emit: &mut impl Lines,
        events: &mut Vec<FollowEvent>,
    ) -> bool {
        if self.file.is_none() && !self.open(events) {
            return false;
        }
        let Some((file, id)) = self.file.as_mut() else {
            return false;
        };
        let id = *id;
        let mut total = 0;
        while total < max_bytes {
            match file.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.splitter.push(&self.buf[..n], emit);
                    self.pos += n as u64;
                    total += n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(format!("cannot read {}: {e}", self.path.display()), events);
                    self.file = None;
                    return false;
                }
            }
        }
        if total >= max_bytes {
            return true;
        }
        // At the end of what the open file holds: has the path moved on, or the file shrunk?
        match std::fs::metadata(&self.path) {
            Ok(meta) if (meta.dev(), meta.ino()) != id => {
                self.splitter.finish(emit);
                self.file = None;
                self.start_at_end = false;
                events.push(FollowEvent::Note(format!(
                    "{} was rotated; following the new file",
                    self.path.display()
                )));
                true
            }
            Ok(meta) if meta.len() < self.pos => {
                self.splitter.reset();
                self.pos = 0;
                if let Some((file, _)) = self.file.as_mut()
                    && let Err(e) = file.seek(SeekFrom::Start(0))
                {
                    self.fail(
                        format!("cannot rewind {}: {e}", self.path.display()),
                        events,
                    );
                    self.file = None;
                    return false;
                }
                events.push(FollowEvent::Note(format!(
                    "{} was truncated; reading from the start",
                    self.path.display()
                )));
                true
            }
            // Same file, or the path is gone for now (mid-rotation): keep the open file.
            _ => total > 0,
        }
    }

    fn open(&mut self, events: &mut Vec<FollowEvent>) -> bool {
        let opened = File::open(&self.path).and_then(|mut f| {
            let meta = f.metadata()?;
            if meta.is_dir() {
                // It opens, but every read fails: a folder is no file to follow (reported once, retried).
                return Err(std::io::Error::other("it is a folder, not a file"));
            }
            let pos = if self.start_at_end { meta.len() } else { 0 };
            f.seek(SeekFrom::Start(pos))?;
            Ok((f, (meta.dev(), meta.ino()), pos))
        });
        match opened {
            Ok((file, id, pos)) => {
                self.file = Some((file, id));
                self.pos = pos;
                self.start_at_end = false;
                self.failed = None;
                self.splitter.reset();
                events.push(FollowEvent::Opened);
                true
            }
            Err(e) => {
                // A file that appears later is new: all of it is live.
                self.start_at_end = false;
                let path = self.path.display();
                let event = if e.kind() == std::io::ErrorKind::NotFound {
                    FollowEvent::Waiting(format!("{path} does not exist yet"))
                } else {
                    FollowEvent::Failed(format!("cannot open {path}: {e}"))
                };
                self.report(event, events);
                false
            }
        }
    }

    /// Reports a failure once per distinct message (it is retried on every poll).
    fn fail(&mut self, why: String, events: &mut Vec<FollowEvent>) {
        self.report(FollowEvent::Failed(why), events);
    }

    /// Reports a failure or a wait unless it is the one reported last.
    fn report(&mut self, event: FollowEvent, events: &mut Vec<FollowEvent>) {
        if self.failed.as_ref() != Some(&event) {
            events.push(event.clone());
            self.failed = Some(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder that appears where a followed file is expected is reported once, as a missing file is, not on
    /// every poll (it opened, which cleared the failure, and then failed to read).
    #[test]
    fn a_folder_at_the_path_is_reported_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.log");
        let mut follower = Follower::new(&path, true);
        let mut events = Vec::new();
        let mut lines = |_: &[u8], _: bool| {};
        follower.poll(1024, &mut lines, &mut events);
        follower.poll(1024, &mut lines, &mut events);
        // Missing: waited for, said once.
        let [FollowEvent::Waiting(why)] = events.as_slice() else {
            panic!("{events:?}");
        };
        assert!(why.ends_with("later.log does not exist yet"), "{why}");
        std::fs::create_dir(&path).unwrap();
        events.clear();
        for _ in 0..5 {
            follower.poll(1024, &mut lines, &mut events);
        }
        assert_eq!(events.len(), 1, "{events:?}");
        let FollowEvent::Failed(why) = &events[0] else {
            panic!("{events:?}");
        };
        assert!(why.contains("is a folder, not a file"), "{why}");
    }
}
