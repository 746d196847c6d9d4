//! Durations as people read them — `850 ms`, `10.07 s`, `2 min 05 s`, `1 h 02 min`, `2 d 4 h` — the one way
//! deckhand prints a duration it measured (a migration, a lock wait, an apply's total) or one a plan gave, on the
//! screen, on the command line, in errors and in the report. Never `10s 72ms 42us`, never a Debug `10.072042s`.

use std::time::Duration;

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// `0 ms`, `< 1 ms`, `850 ms`, `2 s`, `10.07 s`, `2 min`, `2 min 05 s`, `1 h`, `1 h 02 min`, `2 d`, `2 d 4 h`.
/// Seconds keep two decimals (trailing zeros dropped) below a minute; above, the smaller unit is whole.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.is_zero() {
        "0 ms".into()
    } else if d < Duration::from_millis(1) {
        "< 1 ms".into()
    } else if secs == 0 {
        format!("{} ms", d.as_millis())
    } else if secs < MINUTE {
        let text = format!("{:.2}", d.as_secs_f64());
        let text = text.trim_end_matches('0').trim_end_matches('.');
        // 59.996 s rounds to 60: say so in minutes.
        if text == "60" {
            "1 min".into()
        } else {
            format!("{text} s")
        }
    } else if secs < HOUR {
        two(secs / MINUTE, "min", secs % MINUTE, "s")
    } else if secs < DAY {
        two(secs / HOUR, "h", secs % HOUR / MINUTE, "min")
    } else {
        let hours = secs % DAY / HOUR;
        if hours == 0 {
            format!("{} d", secs / DAY)
        } else {
            format!("{} d {hours} h", secs / DAY)
        }
    }
}

/// `2 min`, `2 min 05 s`.
fn two(big: u64, big_unit: &str, small: u64, small_unit: &str) -> String {
    if small == 0 {
        format!("{big} {big_unit}")
    } else {
        format!("{big} {big_unit} {small:02} {small_unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_for_people() {
        let ms = Duration::from_millis;
        assert_eq!(human_duration(Duration::ZERO), "0 ms");
        assert_eq!(human_duration(Duration::from_micros(420)), "< 1 ms");
        assert_eq!(human_duration(ms(850)), "850 ms");
        assert_eq!(human_duration(Duration::new(10, 72_042_554)), "10.07 s");
        assert_eq!(human_duration(ms(2_000)), "2 s");
        assert_eq!(human_duration(ms(4_200)), "4.2 s");
        assert_eq!(human_duration(ms(59_999)), "1 min");
        assert_eq!(human_duration(ms(120_000)), "2 min");
        assert_eq!(human_duration(ms(125_400)), "2 min 05 s");
        assert_eq!(human_duration(ms(3_600_000)), "1 h");
        assert_eq!(human_duration(ms(3_720_000)), "1 h 02 min");
        assert_eq!(human_duration(ms(2 * 86_400_000)), "2 d");
        assert_eq!(
            human_duration(ms(2 * 86_400_000 + 4 * 3_600_000)),
            "2 d 4 h"
        );
    }
}
