//! The `[backup]` section: the folder backups go to (`~` expanded, relative to the plan), the `pg_dump` format
//! (custom, or directory with parallel `jobs`), how many verified backups to keep, and where the client binaries are.

use std::path::PathBuf;

use toml::Spanned;

use super::build::Builder;
use super::error::PlanError;
use super::raw::RawBackup;
use super::types::{Backup, BackupFormat};

/// The formats `[backup] format` accepts.
pub const BACKUP_FORMATS: [&str; 2] = ["custom", "directory"];

impl Builder<'_> {
    pub(super) fn backup(&self, raw: &Spanned<RawBackup>) -> Result<Backup, PlanError> {
        let table = raw.span();
        let b = raw.get_ref();
        let dir = self.required(
            b.dir.as_ref(),
            table.clone(),
            "backup.dir",
            "dir = \"~/deckhand-backups\"",
        )?;
        let dir = self.path(
            &dir.value,
            b.dir.as_ref().map_or(table, Spanned::span),
            "backup.dir",
        )?;
        let format = match &b.format {
            None => "custom".to_string(),
            Some(f) => {
                let value = self.resolve(f, "backup.format")?.value;
                if !BACKUP_FORMATS.contains(&value.as_str()) {
                    let message = format!(
                        "unknown format \"{value}\": expected one of {}",
                        BACKUP_FORMATS.join(", ")
                    );
                    return Err(self.err(f.span(), "backup.format", &message));
                }
                value
            }
        };
        let format = match (format.as_str(), &b.jobs) {
            ("directory", jobs) => BackupFormat::Directory {
                jobs: match jobs {
                    Some(j) => self.positive(j, "backup.jobs")? as u32,
                    None => 1,
                },
            },
            (_, Some(j)) => {
                let message = "parallel jobs need format = \"directory\" (a custom-format dump is one stream)";
                return Err(self.err(j.span(), "backup.jobs", message));
            }
            (_, None) => BackupFormat::Custom,
        };
        let keep = b
            .keep
            .as_ref()
            .map(|k| self.positive(k, "backup.keep"))
            .transpose()?
            .map(|k| k as usize);
        let bin_dir = match &b.bin_dir {
            Some(d) => {
                let value = self.resolve(d, "backup.bin_dir")?.value;
                Some(self.path(&value, d.span(), "backup.bin_dir")?)
            }
            None => None,
        };
        Ok(Backup {
            dir,
            format,
            keep,
            bin_dir,
        })
    }

    /// A whole number from 1 to 1024.
    fn positive(&self, raw: &Spanned<i64>, key: &str) -> Result<i64, PlanError> {
        let value = *raw.get_ref();
        if !(1..=1024).contains(&value) {
            let message = format!("invalid value {value}: expected a whole number from 1 to 1024");
            return Err(self.err(raw.span(), key, &message));
        }
        Ok(value)
    }

    /// `~` and `~/x` from `HOME`; relative paths joined onto the plan's folder.
    fn path(
        &self,
        value: &str,
        span: std::ops::Range<usize>,
        key: &str,
    ) -> Result<PathBuf, PlanError> {
        let expanded = match value.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                let Some(home) = (self.env)("HOME").filter(|h| !h.is_empty()) else {
                    let message = "cannot expand ~: HOME is not set";
                    return Err(self.err(span, key, message));
                };
                PathBuf::from(format!("{home}{rest}"))
            }
            _ => PathBuf::from(value),
        };
        // Absolute, so backups are found again whatever the working directory of a later run.
        let joined = self.dir.join(expanded);
        Ok(std::path::absolute(&joined).unwrap_or(joined))
    }
}
