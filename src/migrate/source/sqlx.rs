//! sqlx folders, resolved like sqlx-core 0.9's `resolve_blocking`: files `<version>_<description>.sql`,
//! `.up.sql` or `.down.sql` with an `i64` version; other names are ignored. `.down.sql` files are not
//! migrations of their own: they attach as the revert of the same version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{SourceError, list_dir, load, read_text};
use crate::migrate::{Format, Key, Migration};

const UP: &str = ".up.sql";
const DOWN: &str = ".down.sql";
const SIMPLE: &str = ".sql";

struct Up {
    description: String,
    name: String,
    path: PathBuf,
}

pub(super) fn read(dir: &Path) -> Result<Vec<Migration>, SourceError> {
    let mut ups: BTreeMap<i64, Up> = BTreeMap::new();
    let mut downs: BTreeMap<i64, PathBuf> = BTreeMap::new();
    for entry in list_dir(dir)? {
        if !entry.is_file {
            continue;
        }
        // sqlx: `splitn(2, '_')`, and the part after `_` must end in `.sql`.
        let Some((prefix, rest)) = entry.name.split_once('_') else {
            continue;
        };
        if !rest.ends_with(SIMPLE) {
            continue;
        }
        let version: i64 = prefix.parse().map_err(|_| {
            SourceError::new(
                &entry.path,
                format!(
                    "error parsing migration filename {:?}; expected integer version prefix (e.g. `01_foo.sql`)",
                    entry.name
                ),
            )
        })?;
        // sqlx reads every matching file, down migrations included, and fails on unreadable ones.
        read_text(&entry.path)?;
        let suffix = suffix(rest);
        if suffix == DOWN {
            if let Some(other) = downs.insert(version, entry.path.clone()) {
                return Err(duplicate(dir, version, &other, &entry.path));
            }
            continue;
        }
        if let Some(other) = ups.get(&version) {
            return Err(duplicate(dir, version, &other.path, &entry.path));
        }
        let up = Up {
            description: rest.trim_end_matches(suffix).replace('_', " "),
            name: entry.name[..entry.name.len() - suffix.len()].to_owned(),
            path: entry.path,
        };
        ups.insert(version, up);
    }
    ups.into_iter()
        .map(|(version, up)| {
            let key = Key::Sqlx {
                version,
                description: up.description,
            };
            load(Format::Sqlx, key, up.name, up.path, downs.remove(&version))
        })
        .collect()
}

/// sqlx's `MigrationType::from_filename(..).suffix()`.
fn suffix(rest: &str) -> &'static str {
    if rest.ends_with(UP) {
        UP
    } else if rest.ends_with(DOWN) {
        DOWN
    } else {
        SIMPLE
    }
}

/// Files come sorted by name, so `first` is the one met earlier.
fn duplicate(dir: &Path, version: i64, first: &Path, second: &Path) -> SourceError {
    let name = |p: &Path| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    SourceError::new(
        dir,
        format!(
            "duplicate migration version {version}: {} and {}",
            name(first),
            name(second)
        ),
    )
}
