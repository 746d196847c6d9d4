//! Whether a run of keys is a person typing or a paste the terminal did not bracket, judged by when the event loop
//! read each key, never by when `update` got round to it. Keys read in the wake-up right after deckhand itself
//! stalled (SIGSTOP, a starved host) come together although a person typed them: the event loop marks them, and
//! they start a run that is not judged a paste.
//! Bracketed paste is the real paste signal (`Action::Paste`); this is the fallback for terminals without it.
//! Imports nothing from the other rooms.

use std::time::{Duration, Instant};

/// Keys read closer together than this are a burst (a paste without bracketed paste), never typing.
pub const BURST_GAP: Duration = Duration::from_millis(5);
/// The timing of the keys read so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Typing {
    last_read: Option<Instant>,
    /// Keys read from the end of a stall on, each within [`BURST_GAP`] of the one before.
    after_stall: bool,
}

impl Typing {
    /// A key read at `read` (`after_stall`: in the wake-up right after a stall): true when it came as part of a
    /// burst no person types.
    pub fn is_burst(&mut self, read: Instant, after_stall: bool) -> bool {
        let gap = self
            .last_read
            .map(|t| read.saturating_duration_since(t))
            .unwrap_or(Duration::MAX);
        self.last_read = Some(read);
        if after_stall {
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
        let ms = Duration::from_millis;
        let mut t = Typing::default();
        assert!(!t.is_burst(t0, false));
        assert!(!t.is_burst(t0 + ms(40), false), "typing");
        assert!(t.is_burst(t0 + ms(41), false), "a paste");
        // Read together right after a stall: typed during it.
        let end = t0 + Duration::from_secs(2);
        assert!(!t.is_burst(end, true));
        assert!(!t.is_burst(end, true));
        assert!(
            !t.is_burst(end + ms(1), false),
            "the same run, read just after"
        );
        assert!(!t.is_burst(end + ms(200), false), "typing again");
        assert!(t.is_burst(end + ms(201), false), "a new burst");
    }
}
