//! The plan file: TOML model (serde), `${VAR}` interpolation, durations and validation.
//! Every error names file:line:column, the key, and what was expected. Imports nothing else of deckhand.

mod backup;
mod build;
mod database;
mod error;
mod interp;
mod raw;
mod types;
mod watch;

use std::path::Path;

use sha2::{Digest, Sha256};

pub use error::PlanError;
pub use interp::mask_url_passwords;
pub use types::*;

/// Reads, interpolates (from the process environment) and validates the plan at `path`.
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    let source = std::fs::read_to_string(path).map_err(|e| PlanError::unreadable(path, &e))?;
    parse(&source, path, &|name| std::env::var(name).ok())
}

/// Parses plan text as if read from `path` (used in messages and to resolve relative `cwd`s),
/// resolving `${NAME}` through `env` (`None` = unset).
pub fn parse(
    source: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, PlanError> {
    let file = path.display().to_string();
    let deserializer =
        toml::de::Deserializer::parse(source).map_err(|e| error::from_syntax(&file, source, &e))?;
    let raw: raw::RawPlan = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| error::from_serde(&file, source, &e))?;
    let dir = build::plan_dir(path);
    let builder = build::Builder {
        file,
        source,
        dir: &dir,
        env,
    };
    let built = builder.build(raw)?;
    Ok(Plan {
        path: path.to_path_buf(),
        checksum: hex::encode(Sha256::digest(source.as_bytes())),
        project: built.project,
        database: built.database,
        backup: built.backup,
        health: built.health,
        verify: built.verify,
        logs: built.logs,
        checklist: built.checklist,
        phases: built.phases,
        smoke: Vec::new(),
        environments: Vec::new(),
        rollback: None,
        window: None,
        monitor: Monitor::default(),
        notify: None,
    })
}
