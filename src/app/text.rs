//! How things read, for confirmations and the panes, in one place the views and the CLI share: sizes, UTC times,
//! clocks, the database target, a step's outcome, the backup row and progress, and the backup line every
//! destructive confirmation shows. Kernel: reads the state, imports no room.

use std::time::Duration;

use crate::app::busy::BackupWork;
use crate::app::state::State;
use crate::backup::counters::{Change, CounterSource, Counters, Loss};
use crate::backup::{Archive, Progress};
use crate::runner::StepOutcome;

/// `waiting 3.2 s for a lock on t, held by pid 123 psql (ops@10.0.0.7) idle in transaction since 12:03:04 UTC
/// (42 s), query started 12:03:04 UTC: SELECT count(*) FROM t` — an apply's wait for a lock, on one line (the
/// first holder; how many more).
pub fn lock_wait_line(w: &crate::migrate::lock::LockWait) -> String {
    let head = format!(
        "waiting {} for {}",
        crate::plan::human_duration(w.waited),
        w.lock
    );
    match w.holders.split_first() {
        None => format!("{head}; who holds it cannot be seen"),
        Some((h, [])) => format!("{head}, held by {h}"),
        Some((h, rest)) => format!("{head}, held by {h} (and {} more)", rest.len()),
    }
}

/// `12.3 MB`, `950 KB`, `3 B`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// `14:03 UTC` of a Unix time (`2026-11-20 14:03 UTC` when `with_date`).
pub fn utc_time(unix: u64, with_date: bool) -> String {
    let stamp = crate::backup::store::format_utc(unix);
    // 2026-11-21T14:03:05Z
    let (date, time) = stamp.split_once('T').unwrap_or((&stamp, ""));
    let hm: String = time.chars().take(5).collect();
    if with_date {
        format!("{date} {hm} UTC")
    } else {
        format!("{hm} UTC")
    }
}

pub(super) fn file_name(a: &Archive) -> String {
    a.path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| a.path.display().to_string())
}

/// What confirmations show as the backup to fall back on.
pub fn backup_line(state: &State) -> String {
    let b = &state.backup;
    match (&b.verified, &b.gate_override, &state.plan.backup) {
        (Some(a), _, _) => format!(
            "verified {} ({}, taken {}, sha256 {}…)",
            file_name(a),
            human_bytes(a.size),
            utc_time(a.created_unix, false),
            &a.sha256[..a.sha256.len().min(12)]
        ),
        (None, Some(reason), _) => format!("NONE verified in this run — overridden: {reason}"),
        (None, None, None) => "none: the plan has no [backup]".into(),
        (None, None, Some(_)) => "NONE verified in this run".into(),
    }
}

/// The checklist pane's backup row: (text, is a problem).
pub fn row_text(state: &State) -> (String, bool) {
    let b = &state.backup;
    if let Some(busy) = state.backup_work() {
        return (progress_text(busy, b.progress.as_ref()), false);
    }
    match (&b.verified, &b.taken) {
        (Some(v), Some(t)) if v.path != t.path => (
            format!(
                "newest FAILED verification; verified: {} {}",
                human_bytes(v.size),
                utc_time(v.created_unix, false)
            ),
            true,
        ),
        (Some(v), _) => (
            format!(
                "verified {} at {} ({})",
                human_bytes(v.size),
                utc_time(v.created_unix, false),
                file_name(v)
            ),
            false,
        ),
        (None, Some(_)) => (
            format!(
                "FAILED verification: {}",
                b.problems.first().cloned().unwrap_or_default()
            ),
            true,
        ),
        (None, None) => match &b.last {
            Some(last) => (last.clone(), true),
            None => ("none in this run: Enter or B takes one".into(), false),
        },
    }
}

/// `dumping 42% · 1.2 GB · 80.0 MB/s · 0:31 · ETA 0:43 · public.orders`.
pub fn progress_text(busy: BackupWork, p: Option<&Progress>) -> String {
    let Some(p) = p else {
        return format!("{}…", busy.label());
    };
    let mut parts = vec![match p.permille {
        Some(pm) => format!("{} {}%", p.stage.label(), pm / 10),
        None => p.stage.label().to_string(),
    }];
    if p.bytes > 0 {
        parts.push(human_bytes(p.bytes));
    }
    if let Some(rate) = p.rate() {
        parts.push(format!("{}/s", human_bytes(rate)));
    }
    parts.push(crate::app::text::format_clock(p.elapsed));
    if let Some(eta) = p.eta() {
        parts.push(format!("ETA {}", crate::app::text::format_clock(eta)));
    }
    if let Some(d) = &p.detail {
        parts.push(d.clone());
    }
    parts.join(" · ")
}

/// `engine host:port/db` — what confirmations show about the database (never the password).
pub fn database_line(state: &State) -> String {
    match &state.plan.database {
        None => "none configured in this plan".into(),
        Some(d) => crate::migrate::db::target(&d.url.value),
    }
}

/// A step's outcome in words.
pub fn outcome_text(outcome: &StepOutcome) -> String {
    match outcome {
        StepOutcome::Exited(c) => format!("exit {c}"),
        StepOutcome::Signalled(s) => format!("killed by signal {s}"),
        StepOutcome::TimedOut => "timed out (process group terminated)".into(),
        StepOutcome::Cancelled => "cancelled (process group terminated)".into(),
        StepOutcome::SpawnFailed(why) => format!("failed to start: {why}"),
    }
}

/// `12m`, `1h02m`: the header's run clock, which changes once a minute.
pub fn format_elapsed(d: Duration) -> String {
    let mins = d.as_secs() / 60;
    if mins >= 60 {
        format!("{}h{:02}m", mins / 60, mins % 60)
    } else {
        format!("{mins}m")
    }
}

/// `0:07`, `12:34`, `1:02:03`: a step's clock.
pub fn format_clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// `2026-11-21 14:03:05 UTC` of a Unix time.
pub fn utc_seconds(unix: u64) -> String {
    crate::backup::store::format_utc(unix)
        .replacen('T', " ", 1)
        .replace('Z', " UTC")
}

/// `just now`, `42 s ago`, `12 min ago`, `3 h 05 min ago`, `2 d 4 h ago`.
pub fn ago(secs: u64) -> String {
    match secs {
        0..=4 => "just now".into(),
        5..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h {:02} min ago", secs / 3600, (secs / 60) % 60),
        _ => format!("{} d {} h ago", secs / 86_400, (secs / 3600) % 24),
    }
}

/// What happens to the tables created since the backup when it is restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// A rollback drops them.
    Dropped,
    /// An in-place restore leaves them as they are.
    Kept,
}

/// The backup's time and how long ago it was taken: `2026-11-21 14:03:05 UTC, 12 min ago`.
fn backup_when(loss: &Loss) -> String {
    format!(
        "{}, {}",
        utc_seconds(loss.backup_unix),
        ago(loss.now_unix.saturating_sub(loss.backup_unix))
    )
}

/// `public.accounts: 1 inserted, 3 updated` (SQLite: `orders: 5 rows at the backup, 7 now`).
fn change_text(table: &str, change: &Change) -> String {
    match change {
        Change::Writes(w) => {
            let parts: Vec<String> = [
                (w.inserted, "inserted"),
                (w.updated, "updated"),
                (w.deleted, "deleted"),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
            format!("{table}: {}", parts.join(", "))
        }
        Change::Rows { then, now } => format!("{table}: {then} rows at the backup, {now} now"),
    }
}

/// What a restore of the backup loses, as prompt lines: the backup's time, the tables with writes since (the
/// `top` most written, then how many more), tables created since and what happens to them, and what the counts
/// are worth.
pub fn loss_lines(loss: &Loss, top: usize, created: Created) -> Vec<(String, String)> {
    let when = backup_when(loss);
    if let Some(why) = &loss.unknown {
        return vec![(
            "Lost".into(),
            format!("every write since the backup ({when}); how many is UNKNOWN: {why}"),
        )];
    }
    if loss.nothing() {
        return vec![(
            "Lost".into(),
            format!("no writes recorded since the backup ({when})"),
        )];
    }
    let mut lines = Vec::new();
    let head = match loss.reset_since {
        Some(r) => format!(
            "writes since the backup ({when}); statistics reset {}: counted since then only",
            utc_seconds(r)
        ),
        None => format!("writes since the backup ({when}):"),
    };
    lines.push(("Lost".into(), head));
    for (table, change) in loss.changed.iter().take(top) {
        lines.push((String::new(), change_text(table, change)));
    }
    if loss.changed.len() > top {
        let more = loss.changed.len() - top;
        lines.push((
            String::new(),
            format!("and {more} more table(s) with changes"),
        ));
    }
    if let Some(t) = loss.written_since {
        lines.push((
            String::new(),
            format!(
                "the file was written {} (updates change no count)",
                utc_seconds(t)
            ),
        ));
    }
    if !loss.uncounted.is_empty() {
        lines.push((
            String::new(),
            format!(
                "{}: created again or reset since, writes unknown",
                loss.uncounted.join(", ")
            ),
        ));
    }
    if !loss.created.is_empty() {
        let names: Vec<&str> = loss.created.iter().map(|(t, _)| t.as_str()).collect();
        let fate = match created {
            Created::Dropped => "new since the backup: DROPPED with their rows",
            Created::Kept => "new since the backup: left as they are",
        };
        lines.push(("Created".into(), format!("{} ({fate})", names.join(", "))));
    }
    if let Some(note) = counts_note(loss) {
        lines.push(("Counts".into(), note.into()));
    }
    lines
}

/// What the counts are worth.
fn counts_note(loss: &Loss) -> Option<&'static str> {
    match loss.source? {
        CounterSource::PgStatistics => {
            Some("PostgreSQL statistics: lag ≥1 s, include rolled-back writes")
        }
        CounterSource::RowCounts => Some("rows counted: SQLite keeps no write statistics"),
    }
}

/// The loss in one line, every table named: for the journal and the report.
pub fn loss_summary(loss: &Loss, created: Created) -> String {
    let parts: Vec<String> = loss_lines(loss, usize::MAX, created)
        .into_iter()
        .map(|(label, text)| {
            let text = text.trim_end_matches(':');
            match label.as_str() {
                "" | "Lost" => text.to_string(),
                other => format!("{}: {text}", other.to_lowercase()),
            }
        })
        .collect();
    parts.join("; ")
}

/// What a backup recorded to tell a later restore's loss: `write counters of 12 tables (PostgreSQL's statistics,
/// last reset 2026-11-01 09:00:00 UTC)`, `row counts of 3 tables (SQLite)`.
pub fn counters_line(c: &Counters) -> String {
    let n = c.tables.len();
    match c.source {
        CounterSource::PgStatistics => {
            let reset = c.stats_reset_unix.map_or("never reset".to_string(), |r| {
                format!("last reset {}", utc_seconds(r))
            });
            format!("write counters of {n} tables (PostgreSQL's statistics, {reset})")
        }
        CounterSource::RowCounts => format!("row counts of {n} tables (SQLite)"),
    }
}
