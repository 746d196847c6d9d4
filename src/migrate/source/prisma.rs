//! Prisma Migrate folders: every subfolder `<timestamp>_<name>/migration.sql`, in folder-name order, as
//! prisma-engines' `list_migrations` reads them; `migration_lock.toml` and plain files are ignored.

use std::path::Path;

use super::{SourceError, list_dir, load};
use crate::migrate::{Format, Key, Migration};

pub(super) fn read(dir: &Path) -> Result<Vec<Migration>, SourceError> {
    let mut out = Vec::new();
    for entry in list_dir(dir)?.into_iter().filter(|e| e.is_dir) {
        let name = entry.utf8_name()?.to_owned();
        let path = entry.path.join("migration.sql");
        if !path.is_file() {
            // Prisma fails the same way (P3015) rather than skipping the folder.
            return Err(SourceError::new(
                &path,
                "could not find the migration file; delete the folder or restore the file (Prisma P3015)",
            ));
        }
        let key = Key::Prisma { name: name.clone() };
        out.push(load(Format::Prisma, key, name, path, None)?);
    }
    Ok(out)
}
