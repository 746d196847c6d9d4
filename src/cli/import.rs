//! `deckhand import RUNBOOK.md [-o PLAN]`: a Markdown runbook turned into a plan (the library's
//! `deckhand::import` does the reading). The plan goes to stdout, or to a new file through `safe_fs` (never over
//! an existing file, never through a symlink); the summary goes to stderr. Exit 0 written, 2 bad usage or an
//! unreadable runbook.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;

#[derive(Args)]
pub struct Flags {
    /// The runbook (Markdown)
    pub runbook: PathBuf,
    /// Write the plan to this new file (never over an existing one) instead of stdout
    #[arg(short = 'o', long = "output", value_name = "PLAN")]
    pub output: Option<PathBuf>,
}

pub fn run(flags: &Flags) -> u8 {
    let bytes = match std::fs::read(&flags.runbook) {
        Ok(b) => b,
        Err(e) => {
            tell!("deckhand: cannot read {}: {e}", flags.runbook.display());
            return 2;
        }
    };
    let source = flags.runbook.file_name().map_or_else(
        || flags.runbook.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let plan_dir = match &flags.output {
        Some(out) => out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        None => PathBuf::from("."),
    };
    let options = deckhand::import::Options {
        source: source.clone(),
        plan_dir,
    };
    let imported = deckhand::import::import(&bytes, &options);
    match &flags.output {
        None => {
            // The plan is TOML meant to be redirected to a file: its text is printed as is but made inert.
            say!("{}", imported.toml.trim_end());
        }
        Some(out) => {
            if !write_plan(out, imported.toml.as_bytes()) {
                return 2;
            }
        }
    }
    tell!("{}", imported.summary.render(&source));
    if let Some(out) = &flags.output {
        tell!(
            "wrote {}: check it with `deckhand check {}`",
            out.display(),
            out.display()
        );
    }
    0
}

/// Writes the plan to a new file through `safe_fs` (never over an existing file, never through a symlink); says
/// on stderr why it could not. Shared with `deckhand init`.
pub(crate) fn write_plan(path: &Path, bytes: &[u8]) -> bool {
    let written = deckhand::safe_fs::create_new(path).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match written {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            tell!(
                "deckhand: {} already exists: not overwritten (choose another -o)",
                path.display()
            );
            false
        }
        Err(e) => {
            tell!("deckhand: cannot write {}: {e}", path.display());
            false
        }
    }
}
