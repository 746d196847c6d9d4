//! Reading migration folders exactly as Prisma, sqlx and Drizzle do (plus deckhand's plain SQL folders):
//! format detection, one reader per tool (submodules), and the checksums each tool's ledger stores.

mod drizzle;
mod plain;
mod prisma;
mod sqlx;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256, Sha384};

use super::{Checksum, Format, Key, Migration, split};

/// A migration folder or file that cannot be read the way its tool would read it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct SourceError {
    pub path: String,
    pub message: String,
}

impl SourceError {
    pub(crate) fn new(path: &Path, message: impl Into<String>) -> Self {
        SourceError {
            path: path.display().to_string(),
            message: message.into(),
        }
    }
}

/// Which tool's layout `dir` follows: `meta/_journal.json` → Drizzle; a subfolder with `migration.sql` or a
/// `migration_lock.toml` → Prisma; `.sql` files all named `<integer>_...` → sqlx; other `.sql` files → plain.
pub fn detect(dir: &Path) -> Result<Format, SourceError> {
    let entries = list_dir(dir)?;
    if dir.join("meta").join("_journal.json").is_file() {
        return Ok(Format::Drizzle);
    }
    let prisma = entries.iter().any(|e| {
        (e.is_dir && e.path.join("migration.sql").is_file())
            || (e.is_file && e.name == "migration_lock.toml")
    });
    if prisma {
        return Ok(Format::Prisma);
    }
    let sql: Vec<&str> = entries
        .iter()
        .filter(|e| e.is_file && e.name.ends_with(".sql"))
        .map(|e| e.name.as_str())
        .collect();
    if sql.is_empty() {
        return Err(SourceError::new(
            dir,
            "no migrations found (expected prisma, sqlx, drizzle or plain SQL files)",
        ));
    }
    if sql.iter().all(|name| has_integer_prefix(name)) {
        Ok(Format::Sqlx)
    } else {
        Ok(Format::Plain)
    }
}

/// The migrations in `dir`, in the order the tool applies them.
pub fn read(dir: &Path, format: Format) -> Result<Vec<Migration>, SourceError> {
    match format {
        Format::Prisma => prisma::read(dir),
        Format::Sqlx => sqlx::read(dir),
        Format::Drizzle => drizzle::read(dir),
        Format::Plain => plain::read(dir),
    }
}

/// What the tool's ledger stores for `m`: sqlx the SHA-384 bytes of the file, the others the lowercase hex
/// SHA-256 of the file (Prisma `checksum`, Drizzle `hash`, deckhand's plain ledger).
pub fn checksum(m: &Migration) -> Checksum {
    match m.format {
        Format::Sqlx => Checksum::Bytes(Sha384::digest(m.sql.as_bytes()).to_vec()),
        Format::Prisma | Format::Drizzle | Format::Plain => Checksum::Hex(sha256_hex(&m.sql)),
    }
}

/// Whether the ledger's `stored` checksum still matches the file. Prisma is lenient the way its schema engine
/// is: the file with CRLF turned into LF, or LF into CRLF, also matches, and so does a legacy checksum written
/// without zero-padding (prisma-engines#1887).
pub fn checksum_matches(m: &Migration, stored: &Checksum) -> bool {
    match (m.format, stored) {
        (Format::Prisma, Checksum::Hex(stored)) => prisma_checksum_matches(&m.sql, stored),
        _ => checksum(m) == *stored,
    }
}

fn prisma_checksum_matches(sql: &str, stored: &str) -> bool {
    let legacy = !stored.is_empty() && stored.len() != 64;
    let variants = [
        sql.to_owned(),
        sql.replace("\r\n", "\n"),
        sql.replace('\n', "\r\n"),
    ];
    variants.iter().any(|variant| {
        let digest = Sha256::digest(variant.as_bytes());
        let rendered = if legacy {
            digest.iter().map(|b| format!("{b:x}")).collect()
        } else {
            hex::encode(digest)
        };
        rendered == stored
    })
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// `0001_...`: one or more ASCII digits, then `_`.
fn has_integer_prefix(name: &str) -> bool {
    let digits = name.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && name.as_bytes().get(digits) == Some(&b'_')
}

/// One directory entry.
pub(crate) struct Entry {
    /// The file name (lossy if it is not UTF-8; see `utf8_name`).
    pub name: String,
    utf8: bool,
    pub path: PathBuf,
    /// A file, following symlinks (sqlx: `fs::metadata(..).is_file()`).
    pub is_file: bool,
    /// A directory, not following symlinks (Prisma: `entry.file_type()?.is_dir()`).
    pub is_dir: bool,
}

impl Entry {
    /// The file name, or an error naming the entry when it is not UTF-8.
    pub(crate) fn utf8_name(&self) -> Result<&str, SourceError> {
        if self.utf8 {
            Ok(&self.name)
        } else {
            Err(SourceError::new(&self.path, "file name is not valid UTF-8"))
        }
    }
}

/// The entries of `dir`, sorted by file name (byte order), or an error naming the folder.
pub(crate) fn list_dir(dir: &Path) -> Result<Vec<Entry>, SourceError> {
    let folder_error = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound => SourceError::new(dir, "migrations folder not found"),
        io::ErrorKind::NotADirectory => SourceError::new(dir, "not a folder"),
        _ => SourceError::new(dir, format!("cannot read migrations folder: {e}")),
    };
    let mut entries = Vec::new();
    for entry in fs::read_dir(dir).map_err(folder_error)? {
        let entry = entry.map_err(folder_error)?;
        let path = entry.path();
        let file_name = entry.file_name();
        entries.push(Entry {
            name: file_name.to_string_lossy().into_owned(),
            utf8: file_name.to_str().is_some(),
            is_file: fs::metadata(&path).is_ok_and(|m| m.is_file()),
            is_dir: entry.file_type().is_ok_and(|t| t.is_dir()),
            path,
        });
    }
    entries.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
    Ok(entries)
}

/// The file's contents as UTF-8, or an error naming the file.
pub(crate) fn read_text(path: &Path) -> Result<String, SourceError> {
    let bytes = fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => SourceError::new(path, "file not found"),
        _ => SourceError::new(path, format!("cannot read file: {e}")),
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        SourceError::new(
            path,
            format!("file is not valid UTF-8 (invalid byte at offset {at})"),
        )
    })
}

/// Reads the migration file at `path` and splits it (Drizzle on its breakpoints, the others as SQL).
pub(crate) fn load(
    format: Format,
    key: Key,
    name: String,
    path: PathBuf,
    down: Option<PathBuf>,
) -> Result<Migration, SourceError> {
    let sql = read_text(&path)?;
    let statements = match format {
        Format::Drizzle => drizzle::statements(&sql),
        Format::Prisma | Format::Sqlx | Format::Plain => split::split(&sql),
    };
    let no_transaction = split::file_no_transaction_reason(&sql, &statements);
    Ok(Migration {
        format,
        key,
        name,
        path,
        sql,
        statements,
        down,
        no_transaction,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_prefix_needs_digits_then_underscore() {
        assert!(has_integer_prefix("1_a.sql"));
        assert!(has_integer_prefix("20240101_a.up.sql"));
        assert!(!has_integer_prefix("_a.sql"));
        assert!(!has_integer_prefix("001-a.sql"));
        assert!(!has_integer_prefix("v1_a.sql"));
        assert!(!has_integer_prefix("12.sql"));
    }

    #[test]
    fn prisma_legacy_checksums_drop_leading_zeros_per_byte() {
        // sha256("hello") = 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
        let legacy = "2cf24dba5fb0a3e26e83b2ac5b9e29e1b161e5c1fa7425e7343362938b9824";
        assert!(prisma_checksum_matches("hello", legacy));
        assert!(prisma_checksum_matches(
            "hello",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        ));
        assert!(!prisma_checksum_matches("hello", "2cf24dba"));
        assert!(!prisma_checksum_matches("hello", ""));
    }
}
