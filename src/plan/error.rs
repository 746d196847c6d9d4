//! [`PlanError`]: one plan problem, located as file:line:column plus the key path (`phase[0].steps[1].run`).
//! Also converts toml syntax errors and serde (path-tracked) errors, whose spans are byte offsets.

use std::ops::Range;
use std::path::Path;

/// Marker serde_spanned uses for the value inside a `Spanned<T>`; it shows up in tracked paths.
const SPANNED_PRIVATE_PREFIX: &str = "$__serde_spanned_private_";

/// A problem with a plan file. `line`/`column` are 1-based (column counts characters);
/// `line == 0` means the problem has no position (e.g. the file could not be read).
/// `key` is the key path such as `phase[0].steps[1].timeout`, empty for syntax errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct PlanError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub key: String,
    pub message: String,
}

impl PlanError {
    /// An error at byte `offset` of `source`.
    pub(super) fn at(file: &str, source: &str, offset: usize, key: &str, message: &str) -> Self {
        let (line, column) = line_column(source, offset);
        PlanError {
            file: file.to_string(),
            line,
            column,
            key: key.to_string(),
            message: one_line(message),
        }
    }

    /// The plan file is not UTF-8: where the first byte that is not.
    pub(super) fn not_utf8(path: &Path, bytes: &[u8], err: &std::string::FromUtf8Error) -> Self {
        let at = err.utf8_error().valid_up_to();
        let before = String::from_utf8_lossy(&bytes[..at]);
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        PlanError {
            file: path.display().to_string(),
            line,
            column,
            key: String::new(),
            message: format!(
                "the plan is not UTF-8: byte 0x{:02x} here; save it as UTF-8",
                bytes.get(at).copied().unwrap_or(0)
            ),
        }
    }

    /// The plan file could not be read at all.
    pub(super) fn unreadable(path: &Path, err: &std::io::Error) -> Self {
        PlanError {
            file: path.display().to_string(),
            line: 0,
            column: 0,
            key: String::new(),
            message: one_line(&format!("cannot read plan: {err}")),
        }
    }

    fn render(&self) -> String {
        let PlanError {
            file,
            line,
            column,
            key,
            message,
        } = self;
        if *line == 0 {
            format!("{file}: {message}")
        } else if key.is_empty() {
            format!("{file}:{line}:{column}: {message}")
        } else {
            format!("{file}:{line}:{column}: {key}: {message}")
        }
    }
}

/// A TOML syntax error (from `toml::de::Deserializer::parse`): no key, toml's position and message.
pub(super) fn from_syntax(file: &str, source: &str, err: &toml::de::Error) -> PlanError {
    let at = span_start(err.span());
    // toml says only "duplicate key": name it, from the text at the error's position.
    if err.message().starts_with("duplicate key")
        && let Some(span) = err.span()
        && let Some(text) = source.get(span)
    {
        let key = text.trim().trim_matches('"').to_string();
        if !key.is_empty() {
            let message = format!("duplicate key `{key}`: each key may appear once in a table");
            return PlanError::at(file, source, at, &key, &message);
        }
    }
    PlanError::at(file, source, at, "", err.message())
}

/// A deserialization error (unknown key, wrong type), with the key path serde_path_to_error tracked.
pub(super) fn from_serde(
    file: &str,
    source: &str,
    err: &serde_path_to_error::Error<toml::de::Error>,
) -> PlanError {
    let inner = err.inner();
    let key = key_path(err.path());
    PlanError::at(
        file,
        source,
        span_start(inner.span()),
        &key,
        inner.message(),
    )
}

fn span_start(span: Option<Range<usize>>) -> usize {
    span.map_or(0, |s| s.start)
}

/// `phase[0].steps[1].timeout`, leaving out the segments `Spanned<T>` adds.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        let name = match segment {
            Segment::Seq { index } => {
                out.push_str(&format!("[{index}]"));
                continue;
            }
            Segment::Map { key } => key.as_str(),
            Segment::Enum { variant } => variant.as_str(),
            Segment::Unknown => "?",
        };
        if name.starts_with(SPANNED_PRIVATE_PREFIX) {
            continue;
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(name);
    }
    out
}

/// 1-based line and column (in characters) of byte `offset`; offsets past the end clamp to the end.
pub(super) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    let line = before.matches('\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Messages are shown on one line: join the lines of multi-line messages with spaces.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters_and_lines() {
        let src = "a = 1\nné = \"x\"\n";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 4), (1, 5));
        assert_eq!(line_column(src, 6), (2, 1));
        // "né " is 4 bytes but 3 characters.
        assert_eq!(line_column(src, 10), (2, 4));
        assert_eq!(line_column(src, 999), (3, 1));
        // Inside a multi-byte character: back to its start.
        assert_eq!(line_column(src, 8), (2, 2));
    }

    #[test]
    fn display_forms() {
        let mut e = PlanError {
            file: "p.toml".into(),
            line: 3,
            column: 7,
            key: "project.name".into(),
            message: "must not be empty".into(),
        };
        assert_eq!(e.to_string(), "p.toml:3:7: project.name: must not be empty");
        e.key.clear();
        assert_eq!(e.to_string(), "p.toml:3:7: must not be empty");
        e.line = 0;
        assert_eq!(e.to_string(), "p.toml: must not be empty");
    }

    #[test]
    fn one_line_collapses_newlines() {
        assert_eq!(one_line("a\n  b\n\nc\n"), "a b c");
    }
}
