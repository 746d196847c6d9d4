//! Policies and thresholds a runbook states in prose, read one sentence (a paragraph, a list item, a heading)
//! at a time: the deploy window ("never on Fridays", "low-traffic hours"), the monitor's length ("watch the
//! logs for 10–15 minutes"), latency and error-rate thresholds, schema counts stated as success criteria ("58
//! tables"), the environments named. Small regexes over one sentence only; imports nothing of deckhand.

use std::sync::LazyLock;

use regex::Regex;

fn re(pattern: &str) -> Option<Regex> {
    Regex::new(pattern).ok()
}

static FRIDAY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(no|never|not|avoid|don'?t|without)\b[^.]*\bfridays?\b|\bno[- ]deploy(ment)?s?[- ]fridays?\b",
    )
});
static QUIET_HOURS: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"(?i)\b(low[- ]traffic|off[- ]peak|peak hours|quiet hours|maintenance window)\b")
});
static MONITOR: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(monitor\w*|watch\w*)\b.*?\b(\d+)(?:\s*(?:-|–|to)\s*(\d+))?\+?\s*(minutes?|mins?|hours?|hrs?|h)\b",
    )
});
static LATENCY_FACTOR: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(
        r"(?i)\b(latency|response times?)\b[^.]*?(\bdoubles?\b|\btriples?\b|(\d+(?:\.\d+)?)\s*(?:x|×|times)\b)",
    )
});
static LATENCY_MS: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"(?i)\b(latency|response times?)\b[^.]*?(\d+)\s*ms\b"));
static ERROR_RATE: LazyLock<Option<Regex>> =
    LazyLock::new(|| re(r"(?i)\berror(s| rates?)?\b[^.]*?(\d+(?:\.\d+)?)\s*%"));
static COUNT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    re(r"(?i)\b(\d+)\s+(tables|foreign keys|indexes|indices|views|sequences|enums|functions)\b")
});

/// What one sentence says, as plan settings.
#[derive(Debug, Clone, PartialEq)]
pub enum Finding {
    /// Never on Fridays: Monday to Thursday.
    NoFriday,
    /// "low-traffic hours" and the like: hours the operator must fill in.
    QuietHours(String),
    /// The monitor's length, e.g. `15m`, `24h`.
    Monitor(String),
    /// Alert above this × the baseline latency.
    LatencyFactor(f64),
    /// A latency ceiling, e.g. `800ms`.
    MaxLatency(String),
    /// Alert above this share of errors.
    ErrorRate(f64),
    /// A schema count as a success criterion: what is counted, and how many.
    Count(String, u64),
}

/// The findings of one sentence. `criteria`: the sentence stands under a success/verification heading.
pub fn read(sentence: &str, criteria: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let found = |r: &LazyLock<Option<Regex>>| r.as_ref().and_then(|r| r.captures(sentence));
    if found(&FRIDAY).is_some() {
        out.push(Finding::NoFriday);
    }
    if let Some(c) = found(&QUIET_HOURS) {
        out.push(Finding::QuietHours(c[1].to_string()));
    }
    if let Some(c) = found(&MONITOR) {
        let n = c.get(3).or_else(|| c.get(2)).map_or("", |m| m.as_str());
        let unit = if c[4].to_ascii_lowercase().starts_with('h') {
            "h"
        } else {
            "m"
        };
        out.push(Finding::Monitor(format!("{n}{unit}")));
    }
    if let Some(c) = found(&LATENCY_FACTOR) {
        let word = c[2].to_ascii_lowercase();
        let factor = if word.starts_with("doubl") {
            Some(2.0)
        } else if word.starts_with("tripl") {
            Some(3.0)
        } else {
            c.get(3).and_then(|m| m.as_str().parse().ok())
        };
        out.extend(
            factor
                .filter(|f: &f64| *f > 1.0)
                .map(Finding::LatencyFactor),
        );
    }
    if let Some(c) = found(&LATENCY_MS) {
        out.push(Finding::MaxLatency(format!("{}ms", &c[2])));
    }
    if let Some(c) = found(&ERROR_RATE) {
        let rate: Option<f64> = c[2].parse().ok();
        out.extend(
            rate.filter(|r| *r > 0.0 && *r < 100.0)
                .map(|r| Finding::ErrorRate(r / 100.0)),
        );
    }
    if criteria && let Some(r) = COUNT.as_ref() {
        for c in r.captures_iter(sentence) {
            if let Ok(n) = c[1].parse() {
                out.push(Finding::Count(c[2].to_ascii_lowercase(), n));
            }
        }
    }
    out
}

/// The SQL that counts `what` (as [`Finding::Count`] names it) in the public schema.
pub fn count_sql(what: &str) -> &'static str {
    match what {
        "tables" => {
            "select count(*) from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'"
        }
        "foreign keys" => {
            "select count(*) from information_schema.table_constraints where table_schema = 'public' and constraint_type = 'FOREIGN KEY'"
        }
        "views" => "select count(*) from information_schema.views where table_schema = 'public'",
        "sequences" => {
            "select count(*) from information_schema.sequences where sequence_schema = 'public'"
        }
        "enums" => {
            "select count(*) from pg_type t join pg_namespace n on n.oid = t.typnamespace where t.typtype = 'e' and n.nspname = 'public'"
        }
        "functions" => {
            "select count(*) from information_schema.routines where routine_schema = 'public'"
        }
        _ => "select count(*) from pg_indexes where schemaname = 'public'",
    }
}

/// The environments a sentence names, as deckhand's names (`staging`, `production`).
pub fn environments(sentence: &str) -> Vec<&'static str> {
    let lower = sentence.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    if words.contains(&"staging") {
        out.push("staging");
    }
    if words.iter().any(|w| *w == "production" || *w == "prod") {
        out.push("production");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_and_thresholds() {
        assert_eq!(
            read("Never deploy on Fridays.", false),
            vec![Finding::NoFriday]
        );
        assert_eq!(
            read("Preferably during low-traffic hours", false),
            vec![Finding::QuietHours("low-traffic".into())]
        );
        assert_eq!(
            read("Watch the logs for 10–15 minutes", false),
            vec![Finding::Monitor("15m".into())]
        );
        assert_eq!(
            read(
                "Post-Deployment Monitoring (24 hours after deployment)",
                false
            ),
            vec![Finding::Monitor("24h".into())]
        );
        assert_eq!(
            read("Alert if latency doubles or errors pass 5%", false),
            vec![Finding::LatencyFactor(2.0), Finding::ErrorRate(0.05)]
        );
        assert_eq!(
            read("p95 response time under 800 ms", false),
            vec![Finding::MaxLatency("800ms".into())]
        );
        assert_eq!(
            read("58 tables and 76 foreign keys", true),
            vec![
                Finding::Count("tables".into(), 58),
                Finding::Count("foreign keys".into(), 76)
            ]
        );
        assert!(read("58 tables", false).is_empty());
        assert!(read("Deployment Success Rate: > 99%", false).is_empty());
    }

    #[test]
    fn environments_named() {
        assert_eq!(
            environments("Deploy to staging, then production"),
            vec!["staging", "production"]
        );
        assert!(environments("a productionised build").is_empty());
    }
}
