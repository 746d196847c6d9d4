//! Small Markdown building blocks for the release report: table cells that cannot break their table, code spans
//! and fences that cannot be closed early by the text they hold, and human durations, sizes and times. Every
//! piece of text is passed through the plan's URL password masking first.

use crate::plan::mask_url_passwords;

/// Text for a table cell: passwords masked, `|` escaped, line breaks as `<br>`, never empty.
pub(super) fn cell(text: &str) -> String {
    let text = one_line(&mask_url_passwords(text), "<br>").replace('|', "\\|");
    if text.trim().is_empty() {
        "–".into()
    } else {
        text
    }
}

/// A code span for a table cell (a `|` inside a code span still ends a GFM table cell unless escaped).
pub(super) fn code_cell(text: &str) -> String {
    if text.trim().is_empty() {
        return "–".into();
    }
    code(text).replace('|', "\\|")
}

/// Text for a running paragraph or list item: passwords masked, line breaks as `<br>`.
pub(super) fn inline(text: &str) -> String {
    one_line(&mask_url_passwords(text), "<br>")
}

/// A code span delimited by more backticks than any run inside it (padded when it starts or ends with one).
pub(super) fn code(text: &str) -> String {
    let text = one_line(&mask_url_passwords(text), " ");
    let ticks = "`".repeat(longest_backtick_run(&text) + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{text}{pad}{ticks}")
}

/// A fenced block (ending with a newline) whose fence is longer than any backtick run in `text`, so nothing
/// inside can close it.
pub(super) fn fenced(text: &str) -> String {
    let text = mask_url_passwords(text).replace("\r\n", "\n");
    let fence = "`".repeat((longest_backtick_run(&text) + 1).max(3));
    let body = text.trim_end_matches('\n');
    format!("{fence}text\n{body}\n{fence}\n")
}

fn longest_backtick_run(text: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

fn one_line(text: &str, br: &str) -> String {
    text.trim_end_matches(['\r', '\n'])
        .replace("\r\n", "\n")
        .replace(['\n', '\r'], br)
}

/// A GFM table; rows hold already escaped cells.
pub(super) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|", header.join(" | "));
    for _ in header {
        out.push_str("---|");
    }
    out.push('\n');
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

/// `350 ms`, `4.2 s`, `2 min 03 s`, `1 h 05 min`.
pub(super) fn ms(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {:02} s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{} h {:02} min", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// `12.3 MiB (12912345 bytes)`.
pub(super) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {} ({n} bytes)", UNITS[unit])
}

/// `2026-11-18T12:44:06.123Z` → `2026-11-18 12:44:06 UTC`; anything else as it is.
pub(super) fn time(ts: &str) -> String {
    match ts.get(..19) {
        Some(head) if ts.ends_with('Z') && head.contains('T') => {
            format!("{} UTC", head.replacen('T', " ", 1))
        }
        _ => ts.to_string(),
    }
}

/// `yes` / `no`.
pub(super) fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A `, `-joined list of code spans, or `none`.
pub(super) fn code_list(items: &[String]) -> String {
    if items.is_empty() {
        return "none".into();
    }
    items.iter().map(|i| code(i)).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_spans_stay_whole() {
        assert_eq!(cell("a | b\nc"), "a \\| b<br>c");
        assert_eq!(cell(""), "–");
        assert_eq!(code("ls `x`"), "`` ls `x` ``");
        assert_eq!(code("a``b"), "```a``b```");
        assert_eq!(code_cell("a|b"), "`a\\|b`");
        assert_eq!(fenced("x\n```\ny"), "````text\nx\n```\ny\n````\n");
        assert_eq!(cell("postgres://u:secret@db/x"), "postgres://u:****@db/x");
    }

    #[test]
    fn human_numbers() {
        assert_eq!(ms(350), "350 ms");
        assert_eq!(ms(4_200), "4.2 s");
        assert_eq!(ms(123_000), "2 min 03 s");
        assert_eq!(bytes(10), "10 bytes");
        assert_eq!(bytes(2048), "2.0 KiB (2048 bytes)");
        assert_eq!(time("2026-11-18T12:44:06.123Z"), "2026-11-18 12:44:06 UTC");
    }
}
