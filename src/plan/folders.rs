//! Folders a plan names that must exist before a run (issue 16): the migrations folder and each step's `cwd`.
//! `deckhand check` says at `file:line:column` that one is missing or not a folder, instead of a preview that
//! finds no migrations or a step that fails to start. Imports the builder only.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::build::Builder;
use super::error::PlanError;

impl Builder<'_> {
    /// `value` (already resolved) joined onto the plan's folder, which must be an existing folder when the plan
    /// was read from its file; otherwise an error at `span` for `key`, naming `what` the folder is for.
    pub(super) fn existing_folder(
        &self,
        value: &str,
        span: Range<usize>,
        key: &str,
        what: &str,
    ) -> Result<PathBuf, PlanError> {
        let path = self.dir.join(value);
        if !self.on_disk {
            return Ok(path);
        }
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => Ok(path),
            Ok(_) => {
                let message = format!(
                    "\"{value}\" is not a folder ({}); expected {what}",
                    shown(&path)
                );
                Err(self.err(span, key, &message))
            }
            Err(e) => {
                let why = match e.kind() {
                    std::io::ErrorKind::NotFound => "does not exist".to_string(),
                    _ => format!("cannot be read: {e}"),
                };
                let message = format!(
                    "the folder \"{value}\" {why} ({}); expected {what}",
                    shown(&path)
                );
                Err(self.err(span, key, &message))
            }
        }
    }
}

/// The path as the operator can find it: absolute when it can be made so.
fn shown(path: &Path) -> String {
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string()
}
