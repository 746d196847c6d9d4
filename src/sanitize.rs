//! Makes untrusted text (command output, plan strings) inert before it reaches the terminal: colour
//! sequences are dropped, every other control character becomes visible text (caret notation or
//! `<U+XXXX>`), and tabs are expanded, so nothing can move the cursor, set titles or touch the clipboard.

use std::borrow::Cow;

/// Columns between tab stops.
const TAB_STOP_COLS: usize = 8;

/// Sanitizes one raw output line (without its `\n`): decodes it as UTF-8 (lossily), drops a trailing
/// `\r` (CRLF line ends), and applies the rules of [`sanitize_str`].
pub fn sanitize_bytes(line: &[u8]) -> String {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    match String::from_utf8_lossy(line) {
        Cow::Borrowed(text) => sanitize_text(text).into_owned(),
        Cow::Owned(decoded) => match sanitize_text(&decoded) {
            Cow::Borrowed(_) => decoded,
            Cow::Owned(cleaned) => cleaned,
        },
    }
}

/// Sanitizes already-decoded text with the same rules as [`sanitize_bytes`]. Borrows when nothing
/// needs to change, which is the common case.
pub fn sanitize_str(s: &str) -> Cow<'_, str> {
    sanitize_text(s.strip_suffix('\r').unwrap_or(s))
}

/// True for the characters that must not reach the terminal as they are (TAB included: it is
/// expanded).
fn needs_rewrite(c: char) -> bool {
    c < ' ' || c == '\x7f' || is_c1(c) || is_bidi_control(c)
}

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

/// The bidi embedding, override and isolate controls (the "Trojan Source" characters).
fn is_bidi_control(c: char) -> bool {
    ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Length in bytes of an SGR sequence (`ESC [ <digits ; :> m`) starting at `bytes[0]`, if there is one.
fn sgr_len(bytes: &[u8]) -> Option<usize> {
    let rest = bytes.strip_prefix(b"\x1b[")?;
    let params = rest
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b';' || **b == b':')
        .count();
    (rest.get(params) == Some(&b'm')).then_some(2 + params + 1)
}

fn sanitize_text(s: &str) -> Cow<'_, str> {
    if !s.chars().any(needs_rewrite) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut col = 0usize;
    let mut i = 0usize;
    while let Some(c) = s[i..].chars().next() {
        if c == '\x1b'
            && let Some(len) = sgr_len(&s.as_bytes()[i..])
        {
            i += len;
            continue;
        }
        i += c.len_utf8();
        if c == '\t' {
            let spaces = TAB_STOP_COLS - col % TAB_STOP_COLS;
            out.extend(std::iter::repeat_n(' ', spaces));
            col += spaces;
        } else if c < ' ' {
            out.push('^');
            out.push(char::from(c as u8 + 0x40));
            col += 2;
        } else if c == '\x7f' {
            out.push_str("^?");
            col += 2;
        } else if is_c1(c) || is_bidi_control(c) {
            let shown = format!("<U+{:04X}>", u32::from(c));
            col += shown.chars().count();
            out.push_str(&shown);
        } else {
            out.push(c);
            col += 1;
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let s = "deploying api v1.2.3 — ok ✓";
        assert!(matches!(sanitize_str(s), Cow::Borrowed(t) if t == s));
        assert_eq!(sanitize_bytes(s.as_bytes()), s);
    }

    #[test]
    fn sgr_colours_are_removed() {
        assert_eq!(sanitize_str("\x1b[31mred\x1b[0m plain"), "red plain");
        assert_eq!(sanitize_str("\x1b[1;38;5;208mx\x1b[m"), "x");
        assert_eq!(sanitize_str("\x1b[38:2:1:2:3my"), "y");
    }

    #[test]
    fn osc_title_becomes_visible_text() {
        assert_eq!(sanitize_str("\x1b]0;pwned\x07"), "^[]0;pwned^G");
        assert_eq!(sanitize_str("a\x1b]2;title\x1b\\b"), "a^[]2;title^[\\b");
    }

    #[test]
    fn osc52_clipboard_write_is_inert() {
        let out = sanitize_str("\x1b]52;c;cm0gLXJmIC8=\x07");
        assert_eq!(out, "^[]52;c;cm0gLXJmIC8=^G");
        assert!(!out.contains('\x1b'));
    }

    #[test]
    fn clear_screen_and_cursor_moves_are_inert() {
        assert_eq!(sanitize_str("\x1b[2J\x1b[H"), "^[[2J^[[H");
        assert_eq!(sanitize_str("\x1b[10;5Hx\x1b[3A"), "^[[10;5Hx^[[3A");
        // Looks like SGR but is not: a non-parameter byte before the final `m`.
        assert_eq!(sanitize_str("\x1b[?25m"), "^[[?25m");
    }

    #[test]
    fn c0_del_and_lone_cr_use_caret_notation() {
        assert_eq!(sanitize_str("a\x00b\x08c\x7fd"), "a^@b^Hc^?d");
        assert_eq!(sanitize_str("50%\r100%"), "50%^M100%");
        assert_eq!(sanitize_bytes(b"\x1b"), "^[");
    }

    #[test]
    fn c1_controls_are_shown_as_code_points() {
        assert_eq!(sanitize_str("a\u{9b}2Jb"), "a<U+009B>2Jb");
        assert_eq!(sanitize_str("\u{85}"), "<U+0085>");
    }

    #[test]
    fn bidi_controls_are_shown_as_code_points() {
        assert_eq!(
            sanitize_str("if x \u{202e}} \u{2066}{"),
            "if x <U+202E>} <U+2066>{"
        );
        assert_eq!(sanitize_str("\u{2069}\u{202a}"), "<U+2069><U+202A>");
    }

    #[test]
    fn crlf_loses_only_the_trailing_cr() {
        assert_eq!(sanitize_bytes(b"done\r"), "done");
        assert_eq!(sanitize_str("done\r"), "done");
        assert!(matches!(sanitize_str("done\r"), Cow::Borrowed("done")));
        assert_eq!(sanitize_bytes(b"a\rb\r"), "a^Mb");
    }

    #[test]
    fn tabs_expand_to_multiples_of_eight_columns() {
        assert_eq!(sanitize_str("\tx"), "        x");
        assert_eq!(sanitize_str("abc\tx"), "abc     x");
        assert_eq!(sanitize_str("abcdefgh\tx"), "abcdefgh        x");
        // Columns count characters, including the visible form of controls.
        assert_eq!(sanitize_str("é\x07\tx"), "é^G     x");
    }

    #[test]
    fn invalid_utf8_is_replaced_and_still_sanitized() {
        assert_eq!(
            sanitize_bytes(b"ok \xff\xfe end"),
            "ok \u{fffd}\u{fffd} end"
        );
        assert_eq!(sanitize_bytes(b"\xc3\x1b[2J"), "\u{fffd}^[[2J");
        // A raw C1 byte is not valid UTF-8 on its own, so it is replaced, not interpreted.
        assert_eq!(sanitize_bytes(b"\x9b2J"), "\u{fffd}2J");
    }
}
