//! Turns live facts into each finding's severity and context lines: table size, an estimate of how long the lock is
//! held (from the table's bytes and an assumed throughput per kind of work), and the sessions it would wait behind.

use super::rules::{LockMode, RuleEffect, Work, effect_of};
use super::{Blocker, LiveContext, TableFacts};
use crate::lint::{Finding, Severity};

const MB: i64 = 1024 * 1024;
const GB: i64 = 1024 * MB;

/// From this many rows (or bytes), a table is big enough that a long lock on it is felt: Medium.
pub const MEDIUM_FROM_ROWS: i64 = 10_000;
pub const MEDIUM_FROM_BYTES: i64 = 10 * MB;
/// From this many rows (or bytes), a lock that grows with the table is an outage: High.
pub const HIGH_FROM_ROWS: i64 = 1_000_000;
pub const HIGH_FROM_BYTES: i64 = GB;

/// Assumed throughput of an index build (read the table, sort, write the index), in bytes of the whole relation
/// (pg_total_relation_size) per second. Deliberately modest: a busy production server, not a benchmark.
pub const INDEX_BUILD_BYTES_PER_SEC: i64 = 50 * MB;
/// A rewrite writes a new copy of the table and rebuilds every index: slower than an index build.
pub const REWRITE_BYTES_PER_SEC: i64 = 25 * MB;
/// A validation scan only reads.
pub const SCAN_BYTES_PER_SEC: i64 = 200 * MB;
/// Changing every row writes new row versions, index entries and WAL for each.
pub const ROW_CHANGE_BYTES_PER_SEC: i64 = 20 * MB;

const BRIEF_LOCK: &str = "metadata only: lock is brief unless it waits behind another session";

/// Sets each finding's severity and context lines from `ctx` (replacing earlier ones, so applying twice is the
/// same as once). Severity is the worst over the tables the finding touches, raised to at least Medium when a
/// session holds a conflicting lock on one of them. A finding touching no known table keeps `None`.
pub fn apply(findings: &mut [Finding], ctx: &LiveContext) {
    for f in findings.iter_mut() {
        let effect = effect_of(&f.rule);
        let mut severity = None;
        let mut lines = Vec::new();
        for facts in f.tables.iter().filter_map(|t| ctx.facts(t)) {
            lines.push(facts_line(facts, effect));
            severity = severity.max(Some(severity_of(facts, effect)));
        }
        let touched = |b: &&Blocker| b.table.as_ref().is_some_and(|t| f.tables.contains(t));
        for b in ctx.blockers.iter().filter(touched) {
            let (line, conflicts) = blocker_line(b, effect);
            lines.push(line);
            if conflicts {
                severity = severity.max(Some(Severity::Medium));
            }
        }
        if effect.is_some_and(|e| e.safer_waits_for_old_transactions) {
            for b in ctx.blockers.iter().filter(|b| b.table.is_none()) {
                lines.push(format!(
                    "{} has had a transaction open for {}{}: the CONCURRENTLY build (the safer pattern) waits \
                     until it ends",
                    who(b),
                    clock(b.xact_age_secs),
                    state(b)
                ));
            }
        }
        f.severity = severity;
        f.context = lines;
    }
}

/// How much the finding matters on this table.
fn severity_of(facts: &TableFacts, effect: Option<&RuleEffect>) -> Severity {
    if !facts.exists {
        return Severity::Low;
    }
    let by_size = size_tier(facts.rows, facts.bytes);
    match effect.map(|e| e.work) {
        // The lock is brief whatever the size; size only hints at how busy the table is.
        Some(Work::Metadata) => by_size.min(Severity::Medium),
        Some(Work::FailsIfRows) => match facts.rows {
            0 => Severity::Low,
            r if r > 0 => Severity::High,
            _ => Severity::Medium,
        },
        _ => by_size,
    }
}

/// Low, Medium or High by the thresholds above; an unknown count (-1) does not count.
fn size_tier(rows: i64, bytes: i64) -> Severity {
    if rows >= HIGH_FROM_ROWS || bytes >= HIGH_FROM_BYTES {
        Severity::High
    } else if rows >= MEDIUM_FROM_ROWS || bytes >= MEDIUM_FROM_BYTES {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// `users: ~200,000 rows, 18 MB; est. lock ~2 s (SHARE lock while the index builds: writes wait, reads continue)`.
fn facts_line(facts: &TableFacts, effect: Option<&RuleEffect>) -> String {
    if !facts.exists {
        return format!(
            "{}: new table: no rows yet (not in the database now; created earlier in this migration?)",
            facts.table
        );
    }
    let size = describe_size(facts.rows, facts.bytes);
    match effect {
        Some(e) => format!("{}: {size}; {}", facts.table, lock_part(facts, e)),
        None => format!("{}: {size}", facts.table),
    }
}

fn describe_size(rows: i64, bytes: i64) -> String {
    let rows = if rows < 0 {
        "rows unknown (never analyzed)".to_string()
    } else {
        format!("~{} rows", approx(rows))
    };
    if bytes < 0 {
        rows
    } else {
        format!("{rows}, {}", pretty_bytes(bytes))
    }
}

/// What the lock costs on this table.
fn lock_part(facts: &TableFacts, e: &RuleEffect) -> String {
    let (rate, during) = match e.work {
        Work::Metadata => return BRIEF_LOCK.to_string(),
        Work::Destroy => {
            let rows = match facts.rows {
                r if r < 0 => "every row".to_string(),
                r => format!("~{} rows", approx(r)),
            };
            return format!("{BRIEF_LOCK}; the data of {rows} is lost");
        }
        Work::FailsIfRows => {
            return match facts.rows {
                0 => "empty by the statistics: succeeds only if it still is".to_string(),
                r if r > 0 => {
                    "fails: ADD COLUMN NOT NULL without DEFAULT errors on a table with rows"
                        .to_string()
                }
                _ => "fails if the table has any row".to_string(),
            };
        }
        Work::IndexBuild => (INDEX_BUILD_BYTES_PER_SEC, "while the index builds"),
        Work::Rewrite => (REWRITE_BYTES_PER_SEC, "while the table is rewritten"),
        Work::Scan => (SCAN_BYTES_PER_SEC, "while existing rows are checked"),
        Work::RowChange => (ROW_CHANGE_BYTES_PER_SEC, "while every row changes"),
    };
    let what = format!("{} lock {during}: {}", e.lock.sql_name(), e.note);
    if facts.bytes < 0 {
        return format!("lock held for a time that grows with the table ({what})");
    }
    format!(
        "est. lock {} ({what}; assumes {} MB/s)",
        estimate(facts.bytes, rate),
        rate / MB
    )
}

/// `~2 s`, `~3 min`, `~1.5 h`, `under 1 s`.
fn estimate(bytes: i64, bytes_per_sec: i64) -> String {
    let secs = bytes as f64 / bytes_per_sec.max(1) as f64;
    if secs < 1.0 {
        "under 1 s".to_string()
    } else if secs < 90.0 {
        format!("~{} s", secs.round())
    } else if secs < 90.0 * 60.0 {
        format!("~{} min", (secs / 60.0).round())
    } else {
        format!("~{:.1} h", secs / 3600.0)
    }
}

/// One line for a session with a lock on a touched table, and whether this statement would wait behind it.
fn blocker_line(b: &Blocker, effect: Option<&RuleEffect>) -> (String, bool) {
    let table = b.table.as_deref().unwrap_or("?");
    let modes: Vec<(&str, bool)> = b
        .mode
        .split(", ")
        .map(|m| match m.strip_suffix(" (waiting)") {
            Some(name) => (name, true),
            None => (m, false),
        })
        .collect();
    let verb = if modes.iter().all(|(_, waiting)| *waiting) {
        "is waiting for"
    } else {
        "holds"
    };
    let names: Vec<&str> = modes.iter().map(|(name, _)| *name).collect();
    let open = match b.xact_age_secs {
        s if s > 0 => format!(", transaction open {}", clock(s)),
        _ => String::new(),
    };
    let (verdict, conflicts) = match effect {
        Some(e) => {
            let conflicts = names
                .iter()
                .filter_map(|n| LockMode::from_pg_name(n))
                .any(|m| m.conflicts_with(e.lock));
            if conflicts {
                (WAITS.to_string(), true)
            } else {
                let lock = e.lock.sql_name();
                (
                    format!("no conflict with this statement's {lock} lock"),
                    false,
                )
            }
        }
        None => ("this statement may wait behind it".to_string(), true),
    };
    let last = if b.query.is_empty() {
        String::new()
    } else {
        format!(" (last query: {})", b.query)
    };
    let line = format!(
        "{} {verb} {} on {table}{open}{}: {verdict}{last}",
        who(b),
        names.join(", "),
        state(b)
    );
    (line, conflicts)
}

const WAITS: &str = "this statement will wait behind it, then lock_timeout fails it";

/// `pid 4242 (psql from 10.0.0.5)`.
fn who(b: &Blocker) -> String {
    let app = if b.application_name.is_empty() {
        "no application_name"
    } else {
        &b.application_name
    };
    format!("pid {} ({app} from {})", b.pid, b.client)
}

fn state(b: &Blocker) -> String {
    if b.state.is_empty() {
        String::new()
    } else {
        format!(" ({})", b.state)
    }
}

/// `00:03:12`.
fn clock(secs: i64) -> String {
    let s = secs.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Two significant digits from 1,000 up, with thousands separators: `2,387,112` -> `2,400,000`.
fn approx(n: i64) -> String {
    let mut rounded = n;
    if n >= 1000 {
        let digits = n.ilog10();
        let unit = 10_i64.pow(digits - 1);
        rounded = (n + unit / 2) / unit * unit;
    }
    let raw = rounded.to_string();
    let mut out = String::new();
    for (i, c) in raw.chars().enumerate() {
        if i > 0 && (raw.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Like PostgreSQL's pg_size_pretty: `512 bytes`, `16 kB`, `12 MB`, `1.2 GB`.
fn pretty_bytes(bytes: i64) -> String {
    let units = [("TB", 1024 * GB), ("GB", GB), ("MB", MB), ("kB", 1024)];
    for (name, size) in units {
        if bytes >= size {
            let v = bytes as f64 / size as f64;
            return if v < 10.0 {
                format!("{v:.1} {name}")
            } else {
                format!("{} {name}", v.round())
            };
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
#[path = "annotate_tests.rs"]
mod tests;
