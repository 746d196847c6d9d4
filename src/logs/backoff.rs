//! Restart backoff for a `[[logs]]` command that exits: 1 s, 2 s, 4 s … capped at 30 s, back to 1 s once the
//! command has run stably for a while.

use std::time::Duration;

/// First delay before restarting.
pub const BACKOFF_START: Duration = Duration::from_secs(1);
/// Longest delay before restarting.
pub const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A run at least this long resets the backoff.
pub const STABLE_RUN: Duration = Duration::from_secs(60);

/// The delay sequence of one source.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: BACKOFF_START,
        }
    }
}

impl Backoff {
    /// The delay after a run that lasted `ran`, and the next one doubled.
    pub fn after_run(&mut self, ran: Duration) -> Duration {
        if ran >= STABLE_RUN {
            self.next = BACKOFF_START;
        }
        let now = self.next;
        self.next = (self.next * 2).min(BACKOFF_MAX);
        now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_caps_and_resets() {
        let mut b = Backoff::default();
        let short = Duration::from_millis(10);
        let got: Vec<u64> = (0..7).map(|_| b.after_run(short).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(b.after_run(STABLE_RUN).as_secs(), 1);
        assert_eq!(b.after_run(short).as_secs(), 2);
    }
}
