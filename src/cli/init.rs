//! `deckhand init [-o PLAN]`: a starter plan from the project folder it runs in (the library's `deckhand::init`
//! reads it), written to a new file (`./deckhand.toml` by default) through `safe_fs` — never over an existing
//! plan, never through a symlink. The summary (found, guessed, not found) goes to stderr. Exit 0 written, 2 the
//! plan is already there or cannot be written.

use std::path::{Path, PathBuf};

use clap::Args;

#[derive(Args)]
pub struct Flags {
    /// Write the plan to this new file (never over an existing one)
    #[arg(
        short = 'o',
        long = "output",
        value_name = "PLAN",
        default_value = "deckhand.toml"
    )]
    pub output: PathBuf,
}

pub fn run(flags: &Flags) -> u8 {
    let out = &flags.output;
    let plan_dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let options = deckhand::init::Options {
        project_dir: PathBuf::from("."),
        plan_dir,
    };
    let initialized = deckhand::init::init(&options);
    if !super::import::write_plan(out, initialized.toml.as_bytes()) {
        return 2;
    }
    tell!(
        "{}",
        initialized
            .summary
            .render_as("deckhand init", ["found", "guessed", "not found"])
    );
    tell!(
        "wrote {}: review each \"# TODO\", then check it with `deckhand check {}`",
        out.display(),
        out.display()
    );
    0
}
