//! The plan file: TOML model (serde), `${VAR}` interpolation, durations (read, and printed for people) and
//! validation.
//! Every error names file:line:column, the key, and what was expected. Imports nothing else of deckhand.

mod backup;
mod build;
mod database;
mod envs;
mod error;
mod folders;
mod human;
mod interp;
mod raw;
mod release;
mod team;
mod tunnel;
mod types;
mod watch;
mod window;

use std::path::Path;

use sha2::{Digest, Sha256};

pub use error::PlanError;
pub use human::human_duration;
pub use interp::{mask_url_passwords, url_passwords};
pub use types::*;

/// Reads, interpolates (from the process environment) and validates the plan at `path`, for the environment
/// `[project] environment` names (see [`load_env`]).
pub fn load(path: &Path) -> Result<Plan, PlanError> {
    load_env(path, None)
}

/// Like [`load`], for the environment `env` (`--env`; `None` = `[project] environment`).
pub fn load_env(path: &Path, env: Option<&str>) -> Result<Plan, PlanError> {
    let bytes = std::fs::read(path).map_err(|e| PlanError::unreadable(path, &e))?;
    let source =
        String::from_utf8(bytes).map_err(|e| PlanError::not_utf8(path, e.as_bytes(), &e))?;
    parse_with(&source, path, env, &|name| std::env::var(name).ok(), true)
}

/// Parses plan text as if read from `path` (used in messages and to resolve relative `cwd`s),
/// resolving `${NAME}` through `vars` (`None` = unset), for `[project] environment`.
pub fn parse(
    source: &str,
    path: &Path,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, PlanError> {
    parse_env(source, path, None, vars)
}

/// Like [`parse`], for the environment `env`. Text parsed here is not a file on disk: the folders it names are
/// not looked for (see [`load_env`]). When the plan defines `[environments.NAME]` tables, `env` must
/// name one of them (`None`: `[project] environment` must); that environment's `vars` are consulted before
/// `vars`, and each section it gives replaces the base plan's section of that name entirely. When the plan
/// defines none, `env` must equal `[project] environment`.
pub fn parse_env(
    source: &str,
    path: &Path,
    env: Option<&str>,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Plan, PlanError> {
    parse_with(source, path, env, vars, false)
}

/// [`parse_env`]; with `on_disk` (a plan read from its file) the folders it names (migrations, each `cwd`) must
/// also exist.
fn parse_with(
    source: &str,
    path: &Path,
    env: Option<&str>,
    vars: &dyn Fn(&str) -> Option<String>,
    on_disk: bool,
) -> Result<Plan, PlanError> {
    let file = path.display().to_string();
    let deserializer =
        toml::de::Deserializer::parse(source).map_err(|e| error::from_syntax(&file, source, &e))?;
    let mut raw: raw::RawPlan = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| error::from_serde(&file, source, &e))?;
    let dir = build::plan_dir(path);
    let base = build::Builder {
        file: file.clone(),
        source,
        dir: &dir,
        env: vars,
        secrets: std::cell::RefCell::default(),
        on_disk,
    };
    let selection = base.select(&mut raw, env)?;
    let raw_team = raw.team.take();
    let lookup = |name: &str| {
        selection
            .vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| vars(name))
    };
    let builder = build::Builder {
        file,
        source,
        dir: &dir,
        env: &lookup,
        secrets: std::cell::RefCell::default(),
        on_disk,
    };
    let built = builder
        .build(raw, &selection)
        .map_err(|e| selection.locate(e))?;
    let team = (raw_team.as_ref())
        .map(|t| builder.team(t, &selection.names, &built.project.environment))
        .transpose()?;
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
        smoke: built.smoke,
        environments: selection.names,
        rollback: built.rollback,
        window: built.window,
        monitor: built.monitor,
        notify: built.notify,
        stage_order: built.stage_order,
        team,
        secrets: Secrets(builder.secrets.into_inner()),
    })
}
