//! How things read, for confirmations and the panes, in one place the views and the CLI share: sizes, UTC times,
//! clocks, the database target, a step's outcome, the backup row and progress, and the backup line every
//! destructive confirmation shows. Kernel: reads the state, imports no room.

use std::time::Duration;

use crate::app::busy::BackupWork;
use crate::app::state::State;
use crate::backup::{Archive, Progress};
use crate::runner::StepOutcome;

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
