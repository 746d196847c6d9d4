//! The release sections of a plan: `[rollback]` (code steps and what happens to the database), `[window]` (when
//! a release may start, checked by the preflight), `[monitor]` (how long the watch lasts) and `[notify]` (a
//! Slack-compatible webhook). Raw serde structs and their validation.

use std::ops::Range;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use toml::Spanned;

use super::build::Builder;
use super::error::PlanError;
use super::raw::RawStep;
use super::types::{DeployWindow, Monitor, Notify, Resolved, Rollback, RollbackDatabase};

/// How long a webhook post may take by default.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [rollback] table with steps and/or database"
)]
pub(super) struct RawRollback {
    #[serde(default)]
    pub steps: Vec<Spanned<RawStep>>,
    pub database: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a [window] table with days, hours and timezone"
)]
pub(super) struct RawWindow {
    #[serde(default)]
    pub days: Vec<Spanned<String>>,
    pub hours: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [monitor] table with duration")]
pub(super) struct RawMonitor {
    pub duration: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a [notify] table with webhook")]
pub(super) struct RawNotify {
    pub webhook: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
}

impl Builder<'_> {
    pub(super) fn rollback(
        &self,
        raw: &Spanned<RawRollback>,
        has_database: bool,
        has_backup: bool,
    ) -> Result<Rollback, PlanError> {
        let r = raw.get_ref();
        let steps = r
            .steps
            .iter()
            .enumerate()
            .map(|(j, s)| self.step(&format!("rollback.steps[{j}]"), s))
            .collect::<Result<_, _>>()?;
        let database = match &r.database {
            None => RollbackDatabase::Auto,
            Some(d) => match d.get_ref().as_str() {
                "auto" => RollbackDatabase::Auto,
                "restore" if !has_database || !has_backup => {
                    let m = "\"restore\" needs a [database] and a [backup] to restore from";
                    return Err(self.err(d.span(), "rollback.database", m));
                }
                "restore" => RollbackDatabase::Restore,
                "none" => RollbackDatabase::Leave,
                other => {
                    let m = format!(
                        "invalid value \"{other}\": expected \"auto\", \"restore\" or \"none\""
                    );
                    return Err(self.err(d.span(), "rollback.database", &m));
                }
            },
        };
        Ok(Rollback { steps, database })
    }

    pub(super) fn window(&self, raw: &Spanned<RawWindow>) -> Result<DeployWindow, PlanError> {
        let w = raw.get_ref();
        let mut days = Vec::new();
        for (i, d) in w.days.iter().enumerate() {
            let name = d.get_ref().to_ascii_lowercase();
            let Some(n) = DAYS
                .iter()
                .position(|day| name.len() >= 3 && day.starts_with(&name[..3]) && is_day(&name))
            else {
                let m = format!(
                    "invalid day \"{}\": expected mon, tue, wed, thu, fri, sat or sun",
                    d.get_ref()
                );
                return Err(self.err(d.span(), &format!("window.days[{i}]"), &m));
            };
            days.push(n as u8);
        }
        let hours = match &w.hours {
            None => None,
            Some(h) => Some(parse_hours(h.get_ref()).ok_or_else(|| {
                let m = format!(
                    "invalid hours \"{}\": expected \"09:00-16:00\" (start before end, 24h clock)",
                    h.get_ref()
                );
                self.err(h.span(), "window.hours", &m)
            })?),
        };
        let timezone = match &w.timezone {
            None => None,
            Some(tz) => {
                jiff::tz::TimeZone::get(tz.get_ref()).map_err(|_| {
                    let m = format!(
                        "unknown time zone \"{}\": expected an IANA name such as \"Europe/Berlin\"",
                        tz.get_ref()
                    );
                    self.err(tz.span(), "window.timezone", &m)
                })?;
                Some(tz.get_ref().clone())
            }
        };
        Ok(DeployWindow {
            days,
            hours,
            timezone,
        })
    }

    pub(super) fn monitor(&self, raw: &Spanned<RawMonitor>) -> Result<Monitor, PlanError> {
        match &raw.get_ref().duration {
            None => Ok(Monitor::default()),
            Some(d) => Ok(Monitor {
                duration: self.timeout(d, "monitor.duration")?,
            }),
        }
    }

    pub(super) fn notify(&self, raw: &Spanned<RawNotify>) -> Result<Notify, PlanError> {
        let n = raw.get_ref();
        let expected = "webhook = \"${SLACK_WEBHOOK_URL}\"";
        let url = self.required(n.webhook.as_ref(), raw.span(), "notify.webhook", expected)?;
        let span: Range<usize> = n.webhook.as_ref().map_or(raw.span(), Spanned::span);
        let parsed = url::Url::parse(url.value.trim())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        let Some(parsed) = parsed else {
            return Err(self.err(span, "notify.webhook", "expected an http(s) URL"));
        };
        // The URL carries the webhook's token: show only where it goes.
        let display = format!(
            "{}://{}/…",
            parsed.scheme(),
            parsed.host_str().unwrap_or("")
        );
        let timeout = match &n.timeout {
            None => DEFAULT_NOTIFY_TIMEOUT,
            Some(t) => self.timeout(t, "notify.timeout")?,
        };
        Ok(Notify {
            webhook: Resolved {
                value: url.value,
                display,
            },
            timeout,
        })
    }
}

fn is_day(name: &str) -> bool {
    const FULL: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    name.len() == 3 || FULL.contains(&name)
}

/// `09:00-16:00` → minutes since midnight, start < end; the end may be `24:00`.
fn parse_hours(text: &str) -> Option<(u16, u16)> {
    let (a, b) = text.split_once('-')?;
    let minutes = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = (minutes(a)?, minutes(b)?);
    (start < end).then_some((start, end))
}

impl DeployWindow {
    /// `Mon-Thu 09:00-16:00 Europe/Berlin`.
    pub fn describe(&self) -> String {
        let days = if self.days.is_empty() {
            "any day".to_string()
        } else {
            let names: Vec<&str> = self.days.iter().map(|d| DAYS[usize::from(*d)]).collect();
            names.join(",")
        };
        let hours = self.hours.map_or("all day".to_string(), |(s, e)| {
            format!("{:02}:{:02}-{:02}:{:02}", s / 60, s % 60, e / 60, e % 60)
        });
        let tz = self.timezone.clone().unwrap_or_else(|| "local time".into());
        format!("{days} {hours} {tz}")
    }

    /// Whether `now` is inside the window: `Ok` or `Err` with a sentence saying which, for the preflight.
    pub fn check(&self, now: SystemTime) -> Result<String, String> {
        let tz = match &self.timezone {
            Some(name) => {
                jiff::tz::TimeZone::get(name).map_err(|e| format!("time zone {name}: {e}"))?
            }
            None => jiff::tz::TimeZone::system(),
        };
        let ts = jiff::Timestamp::try_from(now).map_err(|e| e.to_string())?;
        let local = ts.to_zoned(tz);
        let day = local.weekday().to_monday_zero_offset() as u8;
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        let day_ok = self.days.is_empty() || self.days.contains(&day);
        let hour_ok = self.hours.is_none_or(|(s, e)| minute >= s && minute < e);
        let at = format!(
            "{} {:02}:{:02}",
            DAYS[usize::from(day)],
            local.hour(),
            local.minute()
        );
        if day_ok && hour_ok {
            Ok(format!("{at} is inside the window {}", self.describe()))
        } else {
            Err(format!("{at} is OUTSIDE the window {}", self.describe()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_parse_with_edges() {
        assert_eq!(parse_hours("09:00-16:00"), Some((540, 960)));
        assert_eq!(parse_hours("00:00-24:00"), Some((0, 1440)));
        assert_eq!(parse_hours("16:00-09:00"), None);
        assert_eq!(parse_hours("9-16"), None);
        assert_eq!(parse_hours("09:60-10:00"), None);
    }

    #[test]
    fn window_checks_day_and_hour_in_its_time_zone() {
        let w = DeployWindow {
            days: vec![0, 1, 2, 3],
            hours: Some((540, 960)),
            timezone: Some("UTC".into()),
        };
        // 2026-11-19 is a Thursday.
        let at = |s: &str| SystemTime::from(s.parse::<jiff::Timestamp>().unwrap());
        assert!(w.check(at("2026-11-19T10:00:00Z")).is_ok());
        assert!(w.check(at("2026-11-19T08:59:00Z")).is_err());
        assert!(
            w.check(at("2026-11-19T16:00:00Z")).is_err(),
            "the end is exclusive"
        );
        let friday = w.check(at("2026-11-20T10:00:00Z")).unwrap_err();
        assert!(friday.contains("fri 10:00 is OUTSIDE"), "{friday}");
        let berlin = DeployWindow {
            timezone: Some("Europe/Berlin".into()),
            ..w
        };
        // 08:30 UTC is 09:30 in Berlin in November.
        assert!(berlin.check(at("2026-11-19T08:30:00Z")).is_ok());
    }
}
