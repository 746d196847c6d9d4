//! Whether a run of keys is a person typing or a paste the terminal did not bracket, judged by when the event loop
//! read each key, never by when `update` got round to it. Keys read right after deckhand itself stalled (SIGSTOP, a
//! starved host) arrive together although a person typed them: they start a run that is not judged a paste.
//! Bracketed paste is the real paste signal (`Action::Paste`); this is the fallback for terminals without it.
//! Imports nothing from the other rooms.

use std::time::{Duration, Instant};

/// Keys read closer together than this are a burst (a paste without bracketed paste), never typing.
pub const BURST_GAP: Duration = Duration::from_millis(5);
/// Keys read this soon after a stall was noticed were typed during it.
pub const STALL_GRACE: Duration = Duration::from_millis(50);

/// The timing of the keys read so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Typing {
    last_read: Option<Instant>,
    /// Keys read from the end of a stall on, each within [`BURST_GAP`] of the one before.
    after_stall: bool,
    /// A stall ended at this time; the first key read within [`STALL_GRACE`] of it starts an after-stall run.
    stall_ended: Option<Instant>,
}

impl Typing {
    /// deckhand did not run until `now`: keys already typed are about to be read together.
    pub fn stalled(&mut self, now: Instant) {
        self.stall_ended = Some(now);
    }

    /// A key read at `read`: true when it came as part of a burst no person types.
    pub fn is_burst(&mut self, read: Instant) -> bool {
        let gap = self
            .last_read
            .map(|t| read.saturating_duration_since(t))
            .unwrap_or(Duration::MAX);
        self.last_read = Some(read);
        if let Some(end) = self.stall_ended.take()
            && read.saturating_duration_since(end) <= STALL_GRACE
        {
            self.after_stall = true;
            return false;
        }
        if gap >= BURST_GAP {
            self.after_stall = false;
            return false;
        }
        !self.after_stall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_a_paste_and_a_stall() {
        let t0 = Instant::now();
        let mut t = Typing::default();
        assert!(!t.is_burst(t0));
        assert!(!t.is_burst(t0 + Duration::from_millis(40)), "typing");
        assert!(t.is_burst(t0 + Duration::from_millis(41)), "a paste");
        t.stalled(t0 + Duration::from_secs(2));
        let end = t0 + Duration::from_secs(2);
        assert!(!t.is_burst(end), "typed during the stall");
        assert!(!t.is_burst(end + Duration::from_millis(1)), "the same run");
        assert!(
            !t.is_burst(end + Duration::from_millis(200)),
            "typing again"
        );
        assert!(t.is_burst(end + Duration::from_millis(201)), "a new burst");
        // A stall noticed long before the next key excuses nothing.
        t.stalled(t0 + Duration::from_secs(10));
        assert!(!t.is_burst(t0 + Duration::from_secs(20)));
        assert!(t.is_burst(t0 + Duration::from_secs(20) + Duration::from_millis(1)));
    }
}
