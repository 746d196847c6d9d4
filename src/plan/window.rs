//! The `[window]` section: the weekdays and hours a release may start in, in an IANA timezone (the host's when
//! absent). Parses `days = ["mon", "tue"]` (three-letter or full English names, any case), `hours =
//! "09:00-16:00"` (24-hour clock, start before end, end may be `24:00`) and `timezone = "Europe/Berlin"`
//! (checked against the system's zoneinfo through jiff), and tells whether a moment is inside the window.

use std::time::SystemTime;

use jiff::tz::TimeZone;
use toml::Spanned;

use super::build::Builder;
use super::error::PlanError;
use super::raw::RawWindow;
use super::types::DeployWindow;

/// Day names as written in messages, 0 = Monday.
const SHORT_DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl Builder<'_> {
    pub(super) fn window(&self, raw: &Spanned<RawWindow>) -> Result<DeployWindow, PlanError> {
        let w = raw.get_ref();
        let mut days = Vec::new();
        if let Some(list) = &w.days {
            if list.get_ref().is_empty() {
                let message = "no days; expected days such as [\"mon\", \"tue\"] \
                               (leave days out to allow every day)";
                return Err(self.err(list.span(), "window.days", message));
            }
            for (i, day) in list.get_ref().iter().enumerate() {
                let key = format!("window.days[{i}]");
                let value = self.resolve(day, &key)?.value;
                let Some(n) = parse_day(&value) else {
                    let message = format!(
                        "unknown day \"{value}\": expected mon, tue, wed, thu, fri, sat or sun \
                         (or the full English name)"
                    );
                    return Err(self.err(day.span(), &key, &message));
                };
                if !days.contains(&n) {
                    days.push(n);
                }
            }
            days.sort_unstable();
        }
        let hours = match &w.hours {
            None => None,
            Some(h) => {
                let value = self.resolve(h, "window.hours")?.value;
                let Some(range) = parse_hours(&value) else {
                    let message = format!(
                        "invalid hours \"{value}\": expected \"HH:MM-HH:MM\" on a 24-hour clock with the \
                         start before the end, e.g. \"09:00-16:00\" (the end may be \"24:00\")"
                    );
                    return Err(self.err(h.span(), "window.hours", &message));
                };
                Some(range)
            }
        };
        let timezone = match &w.timezone {
            None => None,
            Some(t) => {
                let value = self.resolve(t, "window.timezone")?.value;
                if TimeZone::get(&value).is_err() {
                    let message = format!(
                        "unknown timezone \"{value}\": expected an IANA name such as \"Europe/Berlin\" or \"UTC\""
                    );
                    return Err(self.err(t.span(), "window.timezone", &message));
                }
                Some(value)
            }
        };
        Ok(DeployWindow {
            days,
            hours,
            timezone,
        })
    }
}

/// `"mon"`, `"Monday"`, `"TUE"` → 0, 0, 1.
fn parse_day(text: &str) -> Option<u8> {
    let lower = text.trim().to_ascii_lowercase();
    LONG_DAYS
        .iter()
        .position(|long| lower == *long || (lower.len() == 3 && long.starts_with(&lower)))
        .and_then(|i| u8::try_from(i).ok())
}

/// `"09:00-16:00"` → (540, 960), minutes since midnight; the end may be `24:00`; start must be before end.
fn parse_hours(text: &str) -> Option<(u16, u16)> {
    let (start, end) = text.split_once('-')?;
    let (start, end) = (parse_clock(start)?, parse_clock(end)?);
    (start < end).then_some((start, end))
}

/// `"9:30"` / `"09:30"` → 570; hours 0–24 (24 only as `24:00`), minutes two digits 00–59.
fn parse_clock(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    let digits = |s: &str, len: std::ops::RangeInclusive<usize>| {
        len.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 || h == 24 && m == 0).then_some(h * 60 + m)
}

fn clock(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

impl DeployWindow {
    /// The window as an operator reads it: `Mon-Thu 09:00-16:00 (Europe/Berlin)`, `every day 09:00-16:00 (local
    /// time)`.
    pub fn describe(&self) -> String {
        let zone = match &self.timezone {
            Some(name) => name.clone(),
            None => TimeZone::system()
                .iana_name()
                .map_or_else(|| "local time".to_string(), |n| format!("local time, {n}")),
        };
        format!("{} ({zone})", self.days_and_hours())
    }

    /// Whether `now` is inside the window: `Ok("Tue 10:42 Europe/Berlin is inside the window Mon-Thu
    /// 09:00-16:00")`, or `Err` with the same kind of text saying it is outside (or that the clock or timezone
    /// cannot be read).
    pub fn check(&self, now: SystemTime) -> Result<String, String> {
        let (tz, zone) = match &self.timezone {
            Some(name) => {
                let tz =
                    TimeZone::get(name).map_err(|e| format!("unknown timezone \"{name}\": {e}"))?;
                (tz, name.clone())
            }
            None => {
                let tz = TimeZone::system();
                let zone = tz.iana_name().unwrap_or("local time").to_string();
                (tz, zone)
            }
        };
        let stamp =
            jiff::Timestamp::try_from(now).map_err(|e| format!("cannot read the clock: {e}"))?;
        let zoned = stamp.to_zoned(tz);
        let day = u8::try_from(zoned.weekday().to_monday_zero_offset()).unwrap_or(0);
        let hour = u16::try_from(zoned.hour()).unwrap_or(0);
        let minute = hour * 60 + u16::try_from(zoned.minute()).unwrap_or(0);
        let day_ok = self.days.is_empty() || self.days.contains(&day);
        let hour_ok = self
            .hours
            .is_none_or(|(start, end)| start <= minute && minute < end);
        let inside = day_ok && hour_ok;
        let text = format!(
            "{} {} {zone} is {} the window {}",
            SHORT_DAYS[usize::from(day % 7)],
            clock(minute),
            if inside { "inside" } else { "outside" },
            self.days_and_hours()
        );
        if inside { Ok(text) } else { Err(text) }
    }

    /// `Mon-Thu 09:00-16:00`, `Mon, Wed-Fri all day`, `every day 09:00-24:00`.
    fn days_and_hours(&self) -> String {
        let hours = match self.hours {
            Some((start, end)) => format!("{}-{}", clock(start), clock(end)),
            None => "all day".to_string(),
        };
        format!("{} {hours}", days_text(&self.days))
    }
}

/// Sorted day numbers as runs: `[0, 1, 2, 4]` → `Mon-Wed, Fri`; none or all seven → `every day`.
fn days_text(days: &[u8]) -> String {
    if days.is_empty() || days.len() >= 7 {
        return "every day".to_string();
    }
    let mut runs: Vec<(u8, u8)> = Vec::new();
    for &d in days {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == d => *last = d,
            _ => runs.push((d, d)),
        }
    }
    let name = |d: u8| SHORT_DAYS[usize::from(d % 7)];
    runs.iter()
        .map(|&(a, b)| {
            if a == b {
                name(a).to_string()
            } else {
                format!("{}-{}", name(a), name(b))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// 2026-11-17 is a Tuesday.
    fn at(rfc3339: &str) -> SystemTime {
        let stamp: jiff::Timestamp = rfc3339.parse().unwrap();
        SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(stamp.as_second()).unwrap())
    }

    fn berlin_mon_thu() -> DeployWindow {
        DeployWindow {
            days: vec![0, 1, 2, 3],
            hours: Some((9 * 60, 16 * 60)),
            timezone: Some("Europe/Berlin".into()),
        }
    }

    #[test]
    fn inside_and_outside_by_hour_in_the_zone() {
        let w = berlin_mon_thu();
        // 09:42 UTC is 10:42 in Berlin (CET, UTC+1, in November).
        assert_eq!(
            w.check(at("2026-11-17T09:42:00Z")),
            Ok("Tue 10:42 Europe/Berlin is inside the window Mon-Thu 09:00-16:00".into())
        );
        // 07:59 UTC is 08:59 Berlin: before the start, though 07:59 would be too in UTC.
        assert_eq!(
            w.check(at("2026-11-17T07:59:00Z")),
            Err("Tue 08:59 Europe/Berlin is outside the window Mon-Thu 09:00-16:00".into())
        );
        // Edges: the start is inside, the end is not.
        assert!(w.check(at("2026-11-17T08:00:00Z")).is_ok());
        assert!(w.check(at("2026-11-17T14:59:00Z")).is_ok());
        assert!(w.check(at("2026-11-17T15:00:00Z")).is_err());
    }

    #[test]
    fn days_are_taken_in_the_zone() {
        let w = berlin_mon_thu();
        // Thursday 23:30 UTC is Friday 00:30 in Berlin: outside by day even with all-day hours.
        let all_day = DeployWindow {
            hours: None,
            ..w.clone()
        };
        assert_eq!(
            all_day.check(at("2026-11-19T23:30:00Z")),
            Err("Fri 00:30 Europe/Berlin is outside the window Mon-Thu all day".into())
        );
        assert!(all_day.check(at("2026-11-19T22:59:00Z")).is_ok());
        // Sunday 23:30 UTC is Monday 00:30 in Berlin.
        assert!(all_day.check(at("2026-11-22T23:30:00Z")).is_ok());
        assert!(w.check(at("2026-11-21T10:00:00Z")).is_err(), "Saturday");
    }

    #[test]
    fn end_of_day_and_every_day() {
        let w = DeployWindow {
            days: Vec::new(),
            hours: Some((22 * 60, 24 * 60)),
            timezone: Some("UTC".into()),
        };
        assert_eq!(
            w.check(at("2026-11-22T23:59:00Z")),
            Ok("Sun 23:59 UTC is inside the window every day 22:00-24:00".into())
        );
        assert!(w.check(at("2026-11-22T00:00:00Z")).is_err());
        assert_eq!(w.describe(), "every day 22:00-24:00 (UTC)");
    }

    #[test]
    fn describe_groups_day_runs() {
        assert_eq!(days_text(&[0, 1, 2, 4]), "Mon-Wed, Fri");
        assert_eq!(days_text(&[5, 6]), "Sat-Sun");
        assert_eq!(days_text(&[0, 2, 4]), "Mon, Wed, Fri");
        assert_eq!(days_text(&[0, 1, 2, 3, 4, 5, 6]), "every day");
        assert_eq!(
            berlin_mon_thu().describe(),
            "Mon-Thu 09:00-16:00 (Europe/Berlin)"
        );
    }

    #[test]
    fn days_and_hours_parse() {
        assert_eq!(parse_day("mon"), Some(0));
        assert_eq!(parse_day("Sunday"), Some(6));
        assert_eq!(parse_day("THU"), Some(3));
        assert_eq!(parse_day("mo"), None);
        assert_eq!(parse_day("thurs"), None);
        assert_eq!(parse_hours("09:00-16:00"), Some((540, 960)));
        assert_eq!(parse_hours("0:00-24:00"), Some((0, 1440)));
        assert_eq!(parse_hours("16:00-09:00"), None);
        assert_eq!(parse_hours("09:00-09:00"), None);
        assert_eq!(parse_hours("24:00-24:00"), None);
        assert_eq!(parse_hours("09:60-10:00"), None);
        assert_eq!(parse_hours("24:30-10:00"), None);
        assert_eq!(parse_hours("9-16"), None);
    }
}
