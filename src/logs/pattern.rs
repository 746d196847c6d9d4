//! A regex over lines, run over many lines at once (issue 17): a batch or a ring chunk holds its lines end to end,
//! each followed by `\n`, so one search over the whole text finds the lines that match instead of a search per
//! line. The pattern is compiled twice: multi-line (`^` and `$` at line ends) for the whole text, and as written
//! for one line; a hit that runs past its line's end (`\s`, `[^x]` and `(?s).` cross a `\n`) is checked against
//! that line alone, and a pattern that anchors to the text's own ends or turns multi-line off is run line by line.
//! Used for a source's `error` regex and for the logs pane's filter. Imports the batch layout only.

use regex::Regex;

use super::batch::line_start;

/// A regex for whole runs of lines and for single lines.
#[derive(Debug, Clone)]
pub struct LineRegex {
    /// The pattern with `^` and `$` at line ends (`(?m)`), run over many lines.
    many: Regex,
    /// The pattern as written, run over one line.
    line: Regex,
    /// The pattern anchors to the text's own ends (`\A`, `\z`) or turns multi-line off: only per line is exact.
    per_line: bool,
}

impl LineRegex {
    /// Compiles `pattern`.
    pub fn parse(pattern: &str) -> Result<LineRegex, regex::Error> {
        let line = Regex::new(pattern)?;
        let per_line =
            pattern.contains("\\A") || pattern.contains("\\z") || clears_multi_line(pattern);
        let many = Regex::new(&format!("(?m){pattern}"))?;
        Ok(LineRegex {
            many,
            line,
            per_line,
        })
    }

    /// Compiles `pattern`; `None` when it is not a valid regex (the plan check refuses those).
    pub fn new(pattern: &str) -> Option<LineRegex> {
        LineRegex::parse(pattern).ok()
    }

    /// The regex for one line.
    pub fn line(&self) -> &Regex {
        &self.line
    }

    /// Whether one line matches.
    pub fn is_match(&self, line: &str) -> bool {
        self.line.is_match(line)
    }

    /// Calls `hit(i)` for each line `i` that matches, in order: `text` holds the lines, each followed by `\n`,
    /// line `i` ending at `ends[i]` (where its `\n` is) and starting after the previous one's `\n`.
    pub fn each_match(&self, text: &str, ends: &[u32], mut hit: impl FnMut(usize)) {
        let start = |i: usize| line_start(ends, i);
        let line_text = |i: usize| text.get(start(i)..ends[i] as usize).unwrap_or_default();
        if self.per_line {
            for i in 0..ends.len() {
                if self.line.is_match(line_text(i)) {
                    hit(i);
                }
            }
            return;
        }
        let mut line = 0;
        let mut pos = 0;
        while line < ends.len() {
            let Some(found) = self.many.find_at(text, pos) else {
                return;
            };
            // The first line whose end is at or after the hit's start.
            line += ends[line..].partition_point(|e| (*e as usize) < found.start());
            if line == ends.len() {
                return;
            }
            if found.end() <= ends[line] as usize || self.line.is_match(line_text(line)) {
                hit(line);
            }
            line += 1;
            pos = start(line);
        }
    }
}

/// Whether a flag group turns multi-line mode off (`(?-m)`, `(?i-sm:…)`): then `^` and `$` no longer mean a line's
/// ends in the search over many lines. A false alarm only costs speed (the lines are tested one by one).
fn clears_multi_line(pattern: &str) -> bool {
    pattern.match_indices("(?").any(|(at, _)| {
        let mut cleared = false;
        for c in pattern[at + 2..].chars() {
            match c {
                '-' => cleared = true,
                'm' if cleared => return true,
                c if c.is_ascii_alphabetic() => {}
                _ => break,
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> (String, Vec<u32>) {
        let mut all = String::new();
        let mut ends = Vec::new();
        for l in text.split('|') {
            all.push_str(l);
            ends.push(u32::try_from(all.len()).unwrap_or(u32::MAX));
            all.push('\n');
        }
        (all, ends)
    }

    /// Whole-text search finds exactly the lines a per-line search finds, anchors and line-crossing classes
    /// included.
    #[test]
    fn many_lines_at_once_match_as_one_by_one() {
        let (text, ends) = lines("error here|ok|x error|  |errorerror|end x|a b|ab|\u{e9}t\u{e9}|");
        for pattern in [
            "error",
            "^x",
            "x$",
            "^$",
            "a\\s+b",
            "[^z]{3}",
            "(?s)ok.x",
            "\\Aerror",
            "t\\z",
            "(?-m)^a",
            "a*",
            "\\bend\\b",
            "(?-im)^a",
            "(?-sm)^a",
            "(?i-sm)b$",
            "(?i)(?-s:a)$",
            "(?m-i:^ok)",
        ] {
            let re = LineRegex::parse(pattern).unwrap();
            let mut got = Vec::new();
            re.each_match(&text, &ends, |i| got.push(i));
            let want: Vec<usize> = (0..ends.len())
                .filter(|&i| re.is_match(&text[line_start(&ends, i)..ends[i] as usize]))
                .collect();
            assert_eq!(got, want, "{pattern}");
        }
    }
}
