//! How a log line takes columns and rows: display width (unicode-width, never bytes, never a cut inside a char),
//! the window of a line seen from a column (horizontal scroll) and its rows when wrapped. Each walks into a line
//! only as far as what is drawn, so a 10 MB line costs what fits on the screen. Shared by the logs pane, the line
//! overlay and `update` (which bounds the overlay's scroll with it). Imports nothing of the app.

use std::ops::Range;

use unicode_width::UnicodeWidthChar;

/// Columns a char takes on the terminal (0 for combining marks and the like).
pub fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// Columns a string takes on the terminal.
pub fn str_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// The part of a line seen through a window: from a column, at most some columns wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut<'a> {
    /// Blank columns before `text` (a wide char the left edge cut in half is not drawn).
    pub pad: usize,
    pub text: &'a str,
    /// Columns taken: `pad` and `text`.
    pub width: usize,
    /// Some of the line is left of the window.
    pub left: bool,
    /// Some of the line is right of the window.
    pub right: bool,
}

/// The window of `text` from display column `from`, `width` columns wide. Walks `from + width` columns at most.
pub fn cut(text: &str, from: usize, width: usize) -> Cut<'_> {
    let mut col = 0;
    let mut start = text.len();
    for (i, c) in text.char_indices() {
        let w = char_width(c);
        // Marks of zero width at the edge belong to the char the edge hid.
        if col >= from && (w > 0 || from == 0) {
            start = i;
            break;
        }
        col += w;
    }
    let pad = if start < text.len() {
        (col - from.min(col)).min(width)
    } else {
        0
    };
    let left = from > 0 && !text.is_empty() && (start > 0 || pad > 0);
    let mut used = pad;
    let mut end = start;
    for (i, c) in text[start..].char_indices() {
        let w = char_width(c);
        if used + w > width {
            break;
        }
        used += w;
        end = start + i + c.len_utf8();
    }
    Cut {
        pad,
        text: &text[start..end],
        width: used,
        left,
        right: end < text.len(),
    }
}

/// The rows `text` wraps into at `width` columns, as byte ranges, first to last, covering it all: a row ends after
/// the last space that fits (a word longer than the row is cut where the row ends), a char never splits, and a
/// row holds at least one char (a wide char in a one-column window). An empty text is one empty row. Lazy:
/// taking the first rows walks only them.
pub fn rows(text: &str, width: usize) -> Rows<'_> {
    Rows {
        text,
        at: 0,
        width: width.max(1),
        done: false,
    }
}

/// See [`rows`].
#[derive(Debug, Clone)]
pub struct Rows<'a> {
    text: &'a str,
    at: usize,
    width: usize,
    done: bool,
}

impl Iterator for Rows<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        if self.done {
            return None;
        }
        let start = self.at;
        let mut used = 0;
        let mut end = start;
        // Where the row may end after a space, if it must end early.
        let mut space = None;
        for (i, c) in self.text[start..].char_indices() {
            let w = char_width(c);
            if used + w > self.width && end > start {
                // A space where the row ends goes with it (unseen), so the next row starts with the next word.
                end = match space {
                    _ if c == ' ' => start + i + 1,
                    Some(at) => at,
                    None => end,
                };
                break;
            }
            used += w;
            end = start + i + c.len_utf8();
            if c == ' ' {
                space = Some(end);
            }
        }
        self.at = end;
        self.done = end >= self.text.len();
        Some(start..end)
    }
}

/// The first `max` bytes of `text` or less, ending on a char boundary.
pub fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    &text[..text.floor_char_boundary(max)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_counts_columns_not_bytes() {
        let c = cut("héllo wörld", 2, 5);
        assert_eq!((c.text, c.pad, c.left, c.right), ("llo w", 0, true, true));
        // A wide char cut by the left edge leaves a blank; one that would cross the right edge stays out.
        let c = cut("日本語です", 1, 4);
        assert_eq!((c.pad, c.text, c.width), (1, "本", 3));
        assert!(c.right && c.left);
        let c = cut("short", 10, 5);
        assert_eq!((c.text, c.left, c.right), ("", true, false));
        let c = cut("", 0, 5);
        assert_eq!((c.text, c.left, c.right), ("", false, false));
        // A combining mark stays with its letter.
        let c = cut("e\u{301}tat", 0, 1);
        assert_eq!(c.text, "e\u{301}");
    }

    #[test]
    fn rows_wrap_by_columns() {
        let t = "abcdefgh";
        let r: Vec<&str> = rows(t, 3).map(|r| &t[r]).collect();
        assert_eq!(r, ["abc", "def", "gh"]);
        // Between words where it can; a word longer than a row is cut.
        let t = "one two three fourfivesix";
        let r: Vec<&str> = rows(t, 9).map(|r| &t[r]).collect();
        assert_eq!(r, ["one two ", "three ", "fourfives", "ix"]);
        let t = "abc def";
        let r: Vec<&str> = rows(t, 3).map(|r| &t[r]).collect();
        assert_eq!(r, ["abc ", "def"]);
        let t = "日本語";
        let r: Vec<&str> = rows(t, 3).map(|r| &t[r]).collect();
        assert_eq!(r, ["日", "本", "語"]);
        let r: Vec<&str> = rows(t, 1).map(|r| &t[r]).collect();
        assert_eq!(r, ["日", "本", "語"]);
        assert_eq!(rows("", 4).count(), 1);
        assert_eq!(head("aé", 2), "a");
    }
}
