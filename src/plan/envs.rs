//! `[environments.NAME]`: choosing the environment a run targets (`--env`, else `[project] environment`) and
//! merging that environment's overrides into the plan. An override REPLACES the base plan's section of the same
//! name entirely (no key-by-key merge: an environment's `[environments.prod.database]` must be complete);
//! phases and the checklist are shared by every environment. The merge happens on the raw structs, before
//! validation, so every span still points into the one plan file; only the chosen environment is validated
//! (the others must still deserialize: unknown keys are errors everywhere).

use std::ops::Range;

use toml::Spanned;

use super::build::{Builder, env_key_offset, is_environment_word};
use super::error::PlanError;
use super::interp;
use super::raw::{RawEnvironment, RawPlan};

/// What the environment choice adds to the base plan.
#[derive(Debug, Default)]
pub(super) struct Selection {
    /// The chosen `[environments.NAME]`, when the plan defines environments.
    pub chosen: Option<String>,
    /// `--env` for a plan without environments: must equal `[project] environment`.
    pub required: Option<String>,
    /// Every environment name, in file order.
    pub names: Vec<String>,
    /// The chosen environment's `vars`, consulted before the process environment.
    pub vars: Vec<(String, String)>,
    pub production: Option<bool>,
    pub allow_seed: Option<bool>,
    /// The sections the chosen environment replaced (`database`, `health`…).
    pub overridden: Vec<&'static str>,
}

impl Selection {
    /// Errors in a replaced section are named by where they are written: `environments.prod.database.url`.
    pub(super) fn locate(&self, mut e: PlanError) -> PlanError {
        let head = e.key.split(['.', '[']).next().unwrap_or_default();
        if let Some(name) = &self.chosen
            && self.overridden.contains(&head)
        {
            e.key = format!("environments.{name}.{}", e.key);
        }
        e
    }
}

impl Builder<'_> {
    /// Picks the environment (`env` = `--env`), moves its overrides into `raw` and returns what else it sets.
    /// `self` resolves with the process environment only (no environment is chosen yet).
    pub(super) fn select(
        &self,
        raw: &mut RawPlan,
        env: Option<&str>,
    ) -> Result<Selection, PlanError> {
        let no_environments = Selection {
            required: env.map(str::to_string),
            ..Selection::default()
        };
        let Some(table) = raw.environments.take() else {
            return Ok(no_environments);
        };
        let table_span = table.span();
        let mut entries: Vec<(String, Spanned<RawEnvironment>)> =
            table.into_inner().into_iter().collect();
        if entries.is_empty() {
            return Ok(no_environments);
        }
        entries.sort_by_key(|(_, e)| e.span().start);
        for (name, e) in &entries {
            if !is_environment_word(name) {
                let message = format!(
                    "invalid environment name \"{name}\": expected one word of letters, digits, '_', '.' or '-' \
                     (the operator types it to confirm)"
                );
                return Err(self.err(e.span(), &format!("environments.{name}"), &message));
            }
        }
        let names: Vec<String> = entries.iter().map(|(n, _)| n.clone()).collect();
        let chosen = self.choose(raw, env, &names, &table_span)?;
        let Some((_, picked)) = entries.into_iter().find(|(n, _)| *n == chosen) else {
            return Err(self.err(table_span, "environments", "environment vanished"));
        };
        let e = picked.into_inner();
        let vars = self.vars(&e, &chosen)?;
        let (production, allow_seed) = (e.production, e.allow_seed);
        let overridden = take_overrides(raw, e);
        Ok(Selection {
            chosen: Some(chosen),
            required: None,
            names,
            vars,
            production,
            allow_seed,
            overridden,
        })
    }

    /// The environment this run targets: `--env`, else `[project] environment`; it must be one of `names`.
    fn choose(
        &self,
        raw: &RawPlan,
        env: Option<&str>,
        names: &[String],
        table_span: &Range<usize>,
    ) -> Result<String, PlanError> {
        let list = names.join(", ");
        match env {
            Some(want) if names.iter().any(|n| n == want) => Ok(want.to_string()),
            Some(want) => {
                let message = format!(
                    "unknown environment \"{want}\" (from --env): this plan defines environments {list}"
                );
                Err(self.err(table_span.clone(), "environments", &message))
            }
            None => {
                let project_env = raw
                    .project
                    .as_ref()
                    .and_then(|p| p.get_ref().environment.as_ref());
                let resolved = match project_env {
                    Some(v) => Some(self.resolve(v, "project.environment")?.value),
                    None => None,
                };
                match resolved {
                    Some(name) if names.contains(&name) => Ok(name),
                    other => {
                        let note = other
                            .map(|n| format!(" ([project] environment \"{n}\" is none of them)"))
                            .unwrap_or_default();
                        let message = format!(
                            "this plan defines environments {list}: choose one with --env{note}"
                        );
                        Err(self.err(table_span.clone(), "environments", &message))
                    }
                }
            }
        }
    }

    /// The chosen environment's `vars`, in file order; their names must be variable names.
    fn vars(&self, e: &RawEnvironment, chosen: &str) -> Result<Vec<(String, String)>, PlanError> {
        let mut vars: Vec<(&String, &Spanned<String>)> = e.vars.iter().collect();
        vars.sort_by_key(|(_, v)| v.span().start);
        vars
            .into_iter()
            .map(|(key, value)| {
                if interp::is_variable_name(key) {
                    return Ok((key.clone(), value.get_ref().clone()));
                }
                let start = value.span().start;
                let at = env_key_offset(self.source, start, key).unwrap_or(start);
                let message = format!(
                    "invalid variable name \"{key}\": expected letters, digits and '_', not starting with a digit"
                );
                Err(self.err(
                    at..at,
                    &format!("environments.{chosen}.vars.{key}"),
                    &message,
                ))
            })
            .collect()
    }
}

/// Moves the chosen environment's sections into `raw`, each replacing the base plan's whole section; the names of
/// those replaced.
fn take_overrides(raw: &mut RawPlan, e: RawEnvironment) -> Vec<&'static str> {
    let mut overridden = Vec::new();
    let mut replace = |name: &'static str, present: bool| {
        if present {
            overridden.push(name);
        }
    };
    replace("database", e.database.is_some());
    replace("backup", e.backup.is_some());
    replace("health", e.health.is_some());
    replace("smoke", e.smoke.is_some());
    replace("verify", e.verify.is_some());
    replace("logs", e.logs.is_some());
    replace("rollback", e.rollback.is_some());
    replace("window", e.window.is_some());
    replace("monitor", e.monitor.is_some());
    replace("notify", e.notify.is_some());
    if e.database.is_some() {
        raw.database = e.database;
    }
    if e.backup.is_some() {
        raw.backup = e.backup;
    }
    if let Some(v) = e.health {
        raw.health = v;
    }
    if let Some(v) = e.smoke {
        raw.smoke = v;
    }
    if let Some(v) = e.verify {
        raw.verify = v;
    }
    if let Some(v) = e.logs {
        raw.logs = v;
    }
    if e.rollback.is_some() {
        raw.rollback = e.rollback;
    }
    if e.window.is_some() {
        raw.window = e.window;
    }
    if e.monitor.is_some() {
        raw.monitor = e.monitor;
    }
    if e.notify.is_some() {
        raw.notify = e.notify;
    }
    overridden
}
