//! Plain SQL folders (deckhand's own ledger): every `*.sql` file directly in the folder, in file-name byte
//! order, except `*.down.sql`, which attaches as the revert of the file with the same stem.

use std::path::Path;

use super::{SourceError, list_dir, load};
use crate::migrate::{Format, Key, Migration};

pub(super) fn read(dir: &Path) -> Result<Vec<Migration>, SourceError> {
    let mut out = Vec::new();
    for entry in list_dir(dir)? {
        let is_up = entry.name.ends_with(".sql") && !entry.name.ends_with(".down.sql");
        if !entry.is_file || !is_up {
            continue;
        }
        let name = entry.utf8_name()?;
        let stem = name.strip_suffix(".sql").unwrap_or(name).to_owned();
        let down = dir.join(format!("{stem}.down.sql"));
        let down = down.is_file().then_some(down);
        let key = Key::Plain { stem: stem.clone() };
        out.push(load(Format::Plain, key, stem, entry.path, down)?);
    }
    Ok(out)
}
