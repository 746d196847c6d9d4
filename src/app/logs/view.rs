//! The logs pane's own state: the `[[logs]]` sources (state, last line, quiet detection, error rate), the
//! level and source toggles, the regex filter with its incremental match list, and `n`/`N` search. Filtering never
//! makes the screen wait: new lines are tested once as they arrive; a new filter re-scans the buffer newest first
//! in bounded slices, one per tick, so the visible page is right at once.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::app::logs::buffer::{LineRef, LogBuffer, LogLine, TagId};
use crate::logs::batch::LineBatch;
use crate::logs::pattern::LineRegex;
use crate::plan::Plan;
use crate::runner::{Level, SourceState};

/// Lines a new filter tests per tick while it re-scans the buffer.
pub const SCAN_SLICE_LINES: usize = 100_000;
/// Time between two re-scan slices.
pub const SCAN_TICK: Duration = Duration::from_millis(15);
/// How far back the per-source error counts reach.
pub const RATE_HISTORY: Duration = Duration::from_secs(15 * 60);

/// Line and error counts of one second.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    second: u64,
    lines: u32,
    errors: u32,
}

/// One `[[logs]]` source as the pane knows it.
#[derive(Debug, Clone)]
pub struct SourceView {
    pub name: String,
    /// Tag shared by all its lines.
    pub tag: Arc<str>,
    pub quiet_after: Duration,
    /// Latest state reported (never a `Note`); `None` until the runner reports.
    pub state: Option<SourceState>,
    /// When `state` was reported.
    pub since: Instant,
    pub last_line: Option<Instant>,
    pub lines: u64,
    buckets: VecDeque<Bucket>,
}

/// What the pane shows for a source right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceStatus {
    Starting,
    Running,
    /// Running but silent longer than its `quiet_after`, since this instant.
    Quiet(Instant),
    /// Exited; restarting at this instant (or not at all).
    Stopped {
        why: String,
        restart_at: Option<Instant>,
    },
    /// A followed file that does not exist yet.
    Waiting(String),
    Failed(String),
}

/// Which origins are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    All,
    /// Only step output and deckhand's notes.
    Steps,
    /// Only this `[[logs]]` source.
    Source(usize),
}

/// The active filter.
#[derive(Debug, Clone)]
pub struct Filter {
    pub text: String,
    pub re: LineRegex,
}

/// Where the lines pushed with [`LogView::push_parts`] come from.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub tag: TagId,
    pub origin: Option<usize>,
    pub stream: Option<crate::runner::Stream>,
}

/// A re-scan under way: `next` is the (exclusive) sequence number it continues down from.
#[derive(Debug, Clone, Copy)]
struct Scan {
    next: u64,
    from: u64,
}

/// The logs pane beyond the buffer itself.
#[derive(Debug, Clone)]
pub struct LogView {
    origin: Instant,
    pub sources: Vec<SourceView>,
    pub min_level: Level,
    pub shown: Shown,
    pub filter: Option<Filter>,
    /// The filter being typed (`/`), if any.
    pub input: Option<String>,
    /// A message for the pane (e.g. an invalid regex).
    pub message: Option<String>,
    /// The selected line (`j`/`k` move it, `n`/`N` put it on a match, Enter shows it whole): a line's sequence
    /// number. `None` while following: then the newest line in view is the one Enter shows.
    pub current: Option<u64>,
    /// Long lines wrap onto as many rows as they need (`w`); otherwise one row each, cut at the pane's edge.
    pub wrap: bool,
    /// Display columns the lines are scrolled to the left (`←`/`→`), when not wrapping.
    pub col: usize,
    /// Sequence numbers of the lines that pass, oldest first (only kept while something filters).
    matches: VecDeque<u64>,
    scan: Option<Scan>,
}

impl LogView {
    pub fn new(plan: &Plan, now: Instant) -> Self {
        let sources = plan
            .logs
            .iter()
            .map(|s| SourceView {
                name: s.name.clone(),
                tag: Arc::from(s.name.as_str()),
                quiet_after: s.quiet_after,
                state: None,
                since: now,
                last_line: None,
                lines: 0,
                buckets: VecDeque::new(),
            })
            .collect();
        LogView {
            origin: now,
            sources,
            min_level: Level::Other,
            shown: Shown::All,
            filter: None,
            input: None,
            message: None,
            current: None,
            wrap: false,
            col: 0,
            matches: VecDeque::new(),
            scan: None,
        }
    }

    /// True when some lines may be hidden (the match list is in use).
    pub fn active(&self) -> bool {
        self.filter.is_some() || self.min_level > Level::Other || self.shown != Shown::All
    }

    /// Whether a line is shown under the current toggles and filter.
    pub fn passes(&self, line: &LineRef<'_>) -> bool {
        self.passes_parts(line.origin, line.level, line.text)
    }

    fn passes_parts(&self, origin: Option<usize>, level: Level, text: &str) -> bool {
        self.shows_origin(origin)
            && level >= self.min_level
            && self.filter.as_ref().is_none_or(|f| f.re.is_match(text))
    }

    /// Whether lines from `origin` are shown under the source toggle.
    fn shows_origin(&self, origin: Option<usize>) -> bool {
        match self.shown {
            Shown::All => true,
            Shown::Steps => origin.is_none(),
            Shown::Source(i) => origin == Some(i),
        }
    }

    /// Forgets the matches the buffer no longer holds.
    fn forget_evicted(&mut self, logs: &LogBuffer) {
        let first = logs.first_seq();
        while self.matches.front().is_some_and(|s| *s < first) {
            self.matches.pop_front();
        }
    }

    /// Lines shown (of the buffer).
    pub fn visible_len(&self, logs: &LogBuffer) -> usize {
        if self.active() {
            self.matches.len()
        } else {
            logs.len()
        }
    }

    /// Sequence number of the shown line at `pos` (0 = oldest shown).
    pub fn visible_seq(&self, logs: &LogBuffer, pos: usize) -> Option<u64> {
        if self.active() {
            self.matches.get(pos).copied()
        } else {
            (pos < logs.len()).then(|| logs.first_seq() + pos as u64)
        }
    }

    /// Position among the shown lines of the line with sequence number `seq`, if it is shown.
    pub fn visible_pos(&self, logs: &LogBuffer, seq: u64) -> Option<usize> {
        if self.active() {
            self.matches.binary_search(&seq).ok()
        } else {
            let pos = usize::try_from(seq.checked_sub(logs.first_seq())?).ok()?;
            (pos < logs.len()).then_some(pos)
        }
    }

    /// True while a new filter's re-scan is still under way (the match count is not final).
    pub fn scanning(&self) -> bool {
        self.scan.is_some()
    }

    /// Re-scan progress in percent while a new filter is being applied.
    pub fn scan_progress(&self, logs: &LogBuffer) -> Option<u8> {
        let scan = self.scan?;
        let low = logs.first_seq();
        let total = scan.from.saturating_sub(low).max(1);
        let done = scan.from.saturating_sub(scan.next.max(low));
        Some((done * 100 / total).min(99) as u8)
    }

    /// Pushes a line into the buffer, testing it once against the filter. Returns true if it is shown.
    pub fn push(&mut self, logs: &mut LogBuffer, line: LogLine) -> bool {
        let tag = logs.tag(&line.source, line.origin);
        let parts = Parts {
            tag,
            origin: line.origin,
            stream: line.stream,
        };
        self.push_parts(logs, &parts, &line.text, line.level, line.truncated)
    }

    /// [`Self::push`] for a line given in parts (a batch's lines, without an owned copy each).
    pub fn push_parts(
        &mut self,
        logs: &mut LogBuffer,
        parts: &Parts,
        text: &str,
        level: Level,
        truncated: bool,
    ) -> bool {
        let active = self.active();
        let shown = !active || self.passes_parts(parts.origin, level, text);
        let seq = logs.end_seq();
        logs.push_parts(parts.tag, text, parts.stream, level, truncated);
        if shown && active {
            self.matches.push_back(seq);
        }
        self.forget_evicted(logs);
        shown
    }

    /// Pushes a batch of `[[logs]]` source `origin`'s lines (source tag `tag`) into the buffer, testing them
    /// against the filter in one search over the batch. Returns how many are shown.
    pub fn push_batch(
        &mut self,
        logs: &mut LogBuffer,
        tag: TagId,
        origin: usize,
        batch: &LineBatch,
    ) -> usize {
        let first = logs.end_seq();
        logs.push_batch(tag, batch);
        if !self.active() {
            return batch.len();
        }
        let before = self.matches.len();
        if self.shows_origin(Some(origin)) {
            let (matches, min) = (&mut self.matches, self.min_level);
            let mut hit = |i: usize| {
                if batch.level(i) >= min {
                    matches.push_back(first + i as u64);
                }
            };
            match &self.filter {
                Some(f) => {
                    let (text, ends, _) = batch.parts();
                    f.re.each_match(text, ends, hit);
                }
                None => (0..batch.len()).for_each(&mut hit),
            }
        }
        let shown = self.matches.len() - before;
        self.forget_evicted(logs);
        shown
    }

    /// Counts a batch of `lines` of a source, `errors` of them errors, at `now` (for quiet detection and the
    /// error rate).
    pub fn count(&mut self, source: usize, lines: usize, errors: usize, now: Instant) {
        let second = now.saturating_duration_since(self.origin).as_secs();
        let Some(s) = self.sources.get_mut(source) else {
            return;
        };
        if lines == 0 {
            return;
        }
        let (lines32, errors32) = (
            u32::try_from(lines).unwrap_or(u32::MAX),
            u32::try_from(errors).unwrap_or(u32::MAX),
        );
        s.last_line = Some(now);
        s.lines += lines as u64;
        match s.buckets.back_mut() {
            Some(b) if b.second == second => {
                b.lines = b.lines.saturating_add(lines32);
                b.errors = b.errors.saturating_add(errors32);
            }
            _ => s.buckets.push_back(Bucket {
                second,
                lines: lines32,
                errors: errors32,
            }),
        }
        let keep = RATE_HISTORY.as_secs();
        while s.buckets.front().is_some_and(|b| b.second + keep < second) {
            s.buckets.pop_front();
        }
    }

    /// Errors per line of `source` over the `window` ending at `now` (whole seconds; at most [`RATE_HISTORY`]);
    /// `None` for an unknown source or when it sent no line in the window. For health alerting.
    pub fn error_rate(&self, source: usize, now: Instant, window: Duration) -> Option<f64> {
        self.error_rate_counted(source, now, window).map(|(r, _)| r)
    }

    /// [`Self::error_rate`] with the number of lines it is computed from.
    pub fn error_rate_counted(
        &self,
        source: usize,
        now: Instant,
        window: Duration,
    ) -> Option<(f64, u64)> {
        let s = self.sources.get(source)?;
        let now_s = now.saturating_duration_since(self.origin).as_secs();
        let from = now_s.saturating_sub(window.as_secs().max(1) - 1);
        let (lines, errors) = s
            .buckets
            .iter()
            .rev()
            .take_while(|b| b.second >= from)
            .filter(|b| b.second <= now_s)
            .fold((0u64, 0u64), |(l, e), b| {
                (l + u64::from(b.lines), e + u64::from(b.errors))
            });
        (lines > 0).then(|| (errors as f64 / lines as f64, lines))
    }

    /// Records a source's new state (notes are lines, not states).
    pub fn set_state(&mut self, source: usize, state: SourceState, now: Instant) {
        if let Some(s) = self.sources.get_mut(source) {
            s.state = Some(state);
            s.since = now;
        }
    }

    /// What the pane shows for `source` at `now`.
    pub fn status(&self, source: usize, now: Instant) -> Option<SourceStatus> {
        let s = self.sources.get(source)?;
        Some(match &s.state {
            None | Some(SourceState::Note(_)) => SourceStatus::Starting,
            Some(SourceState::Running { .. }) => {
                let last = s.last_line.map_or(s.since, |t| t.max(s.since));
                if now.saturating_duration_since(last) > s.quiet_after {
                    SourceStatus::Quiet(last)
                } else {
                    SourceStatus::Running
                }
            }
            Some(SourceState::Stopped { why, restart_in }) => SourceStatus::Stopped {
                why: why.clone(),
                restart_at: restart_in.map(|d| s.since + d),
            },
            Some(SourceState::Failed(why)) => SourceStatus::Failed(why.clone()),
            Some(SourceState::Waiting(why)) => SourceStatus::Waiting(why.clone()),
        })
    }

    /// When the pane next changes by itself: a re-scan slice, a source turning quiet, a restart countdown.
    pub fn next_change(&self, now: Instant) -> Option<Instant> {
        let mut next = self.scan.map(|_| now + SCAN_TICK);
        for (i, s) in self.sources.iter().enumerate() {
            let at = match self.status(i, now) {
                Some(SourceStatus::Running) => {
                    let last = s.last_line.map_or(s.since, |t| t.max(s.since));
                    Some(last + s.quiet_after + Duration::from_millis(1))
                }
                Some(SourceStatus::Stopped {
                    restart_at: Some(_),
                    ..
                }) => Some(now + Duration::from_secs(1)),
                _ => None,
            };
            next = match (next, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        next
    }

    /// Starts over after a filter or toggle changed: the list is rebuilt newest first, the first slice now.
    pub fn restart_scan(&mut self, logs: &LogBuffer) {
        self.matches.clear();
        self.current = None;
        self.scan = self.active().then(|| Scan {
            next: logs.end_seq(),
            from: logs.end_seq(),
        });
        self.scan_step(logs);
    }

    /// Tests one slice of the re-scan (newest first). True while more remains.
    pub fn scan_step(&mut self, logs: &LogBuffer) -> bool {
        let Some(mut scan) = self.scan else {
            return false;
        };
        let low = logs.first_seq();
        let mut budget = SCAN_SLICE_LINES;
        while scan.next > low && budget > 0 {
            scan.next -= 1;
            budget -= 1;
            if logs.get_seq(scan.next).is_some_and(|l| self.passes(&l)) {
                self.matches.push_front(scan.next);
            }
        }
        self.scan = (scan.next > low).then_some(scan);
        self.scan.is_some()
    }

    /// Sets the filter from typed text; an invalid regex keeps the previous filter and says why.
    pub fn apply_filter(&mut self, text: &str, logs: &LogBuffer) {
        if text.is_empty() {
            self.filter = None;
            self.message = Some("Filter cleared.".into());
        } else {
            match LineRegex::parse(text) {
                Ok(re) => {
                    self.filter = Some(Filter {
                        text: text.to_string(),
                        re,
                    });
                    self.message = None;
                }
                Err(e) => {
                    let first = e.to_string();
                    let why = first.lines().last().unwrap_or("invalid").trim().to_string();
                    self.message = Some(format!("Invalid regex ({why}); filter unchanged."));
                    return;
                }
            }
        }
        self.restart_scan(logs);
    }

    /// The next match older (`older`) or newer than the mark (or than `from`, the newest line in view).
    /// Returns its position among the shown lines.
    pub fn search(&mut self, older: bool, from: Option<u64>) -> Option<usize> {
        self.filter.as_ref()?;
        // Without a mark, the line in view is itself the first match.
        let (reference, inclusive) = match self.current {
            Some(c) => (c, false),
            None => (from?, true),
        };
        let pos = match self.matches.binary_search(&reference) {
            Ok(p) if inclusive => p,
            Ok(p) if older => p.checked_sub(1)?,
            Ok(p) => p + 1,
            Err(p) if older => p.checked_sub(1)?,
            Err(p) => p,
        };
        let seq = *self.matches.get(pos)?;
        self.current = Some(seq);
        Some(pos)
    }
}
