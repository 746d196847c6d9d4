//! Drizzle Kit folders, read like drizzle-orm's `readMigrationFiles`: `meta/_journal.json` lists the entries
//! in order, each `<tag>.sql` file is split on `--> statement-breakpoint`, and its `when` is the ledger key.

use std::path::Path;

use serde::Deserialize;

use super::{SourceError, list_dir, load, read_text};
use crate::migrate::split::Cursor;
use crate::migrate::{Format, Key, Migration, Statement};

/// drizzle-orm: `query.split('--> statement-breakpoint')`.
const BREAKPOINT: &str = "--> statement-breakpoint";

/// `meta/_journal.json`; other fields (`version`, `dialect`, `breakpoints`, ...) are ignored.
#[derive(Debug, Deserialize)]
struct Journal {
    entries: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    idx: u32,
    when: i64,
    tag: String,
}

/// The journal's entries in the order the journal lists them, which is the order drizzle-orm applies them.
pub(super) fn read(dir: &Path) -> Result<Vec<Migration>, SourceError> {
    let journal_path = dir.join("meta").join("_journal.json");
    list_dir(dir)?; // the same errors as the other formats for a missing folder
    let text = read_text(&journal_path)?;
    let journal: Journal = serde_json::from_str(&text)
        .map_err(|e| SourceError::new(&journal_path, format!("invalid Drizzle journal: {e}")))?;
    journal
        .entries
        .into_iter()
        .map(|entry| {
            let path = dir.join(format!("{}.sql", entry.tag));
            if !path.is_file() {
                let message = format!(
                    "journal entry {} ({:?}) points to a missing file",
                    entry.idx, entry.tag
                );
                return Err(SourceError::new(&path, message));
            }
            let key = Key::Drizzle {
                when: entry.when,
                idx: entry.idx,
                tag: entry.tag.clone(),
            };
            load(Format::Drizzle, key, entry.tag, path, None)
        })
        .collect()
}

/// The file split on the exact string `--> statement-breakpoint`; pieces are trimmed (so they keep their
/// `;`) and empty ones dropped; positions are those of each piece's first non-whitespace character.
pub(super) fn statements(sql: &str) -> Vec<Statement> {
    let mut cursor = Cursor::new(sql);
    let mut out = Vec::new();
    let mut start = 0;
    let ends = sql
        .match_indices(BREAKPOINT)
        .map(|(at, _)| at)
        .chain([sql.len()]);
    for end in ends {
        let piece = &sql[start..end];
        let text = piece.trim();
        if !text.is_empty() {
            let offset = start + (piece.len() - piece.trim_start().len());
            let (line, column) = cursor.advance(offset);
            out.push(Statement {
                sql: text.to_owned(),
                offset,
                line,
                column,
            });
        }
        start = end + BREAKPOINT.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_breakpoints_only() {
        let sql = "CREATE TABLE a (x int);--> statement-breakpoint\n\
                   --> statement-breakpoint\n  \
                   INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);\n--> statement-breakpoint";
        let s = statements(sql);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].sql, "CREATE TABLE a (x int);");
        assert_eq!((s[0].offset, s[0].line, s[0].column), (0, 1, 1));
        assert_eq!(
            s[1].sql,
            "INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);"
        );
        assert_eq!((s[1].line, s[1].column), (3, 3));
        assert_eq!(&sql[s[1].offset..s[1].offset + 6], "INSERT");
    }

    #[test]
    fn a_file_without_breakpoints_is_one_statement() {
        let s = statements("\n\nSELECT 1;\nSELECT 2;\n");
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].sql, "SELECT 1;\nSELECT 2;");
        assert_eq!(s[0].line, 3);
        assert!(statements(" \n ").is_empty());
    }
}
