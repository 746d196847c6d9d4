//! Turns the raw serde structs into the validated plan model: interpolates every string, checks
//! required keys, names, durations and env keys, and joins relative `cwd`s onto the plan folder.
//! Each error points at the offending value (or the table missing a key) with its key path.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::envs::Selection;
use super::error::PlanError;
use super::interp::{self, EnvLookup};
use super::raw::{RawChecklistItem, RawPhase, RawPlan, RawProject, RawStep};
use super::types::{
    ChecklistItem, Database, DeployWindow, Monitor, Notify, Phase, Project, Resolved, Rollback,
    Step,
};

/// The longest duration a plan may give (a timeout, an interval, a window): beyond it is a typo, and clock
/// arithmetic must stay far from overflowing.
const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Everything validation needs to build located errors and resolve strings.
/// The longest name a plan may give (a phase, a check, a checklist item, the project).
pub const MAX_NAME_CHARS: usize = 200;

pub(super) struct Builder<'a> {
    pub file: String,
    pub source: &'a str,
    /// The plan file's folder; relative `cwd`s are joined onto it.
    pub dir: &'a Path,
    pub env: EnvLookup<'a>,
    /// Every secret value a string of the plan resolved to (for masking what deckhand writes and shows).
    pub secrets: std::cell::RefCell<Vec<String>>,
    /// The plan was read from its file: folders it names must exist (see `folders.rs`).
    pub on_disk: bool,
}

/// The validated parts of a plan (the caller adds path and checksum).
pub(super) struct Built {
    pub project: Project,
    pub database: Option<Database>,
    pub backup: Option<super::types::Backup>,
    pub health: Vec<super::types::HealthCheck>,
    pub verify: Vec<super::types::VerifyCheck>,
    pub logs: Vec<super::types::LogSource>,
    pub checklist: Vec<ChecklistItem>,
    pub phases: Vec<Phase>,
    pub smoke: Vec<super::types::HealthCheck>,
    pub rollback: Option<Rollback>,
    pub window: Option<DeployWindow>,
    pub monitor: Monitor,
    pub notify: Option<Notify>,
    pub stage_order: Vec<String>,
}

impl Builder<'_> {
    /// Validates `raw` (already merged with the chosen environment's overrides, see `envs.rs`).
    pub(super) fn build(&self, raw: RawPlan, selection: &Selection) -> Result<Built, PlanError> {
        self.unique_names_of(&raw)?;
        let project = self.project(raw.project, selection)?;
        let checklist = raw
            .checklist
            .iter()
            .enumerate()
            .map(|(i, item)| self.checklist_item(i, item))
            .collect::<Result<_, _>>()?;
        let database = raw
            .database
            .as_ref()
            .map(|d| self.database(d))
            .transpose()?;
        let backup = match &raw.backup {
            Some(b) if database.is_none() => {
                let message = "a backup needs a database: add a [database] table with url";
                return Err(self.err(b.span(), "backup", message));
            }
            Some(b) => Some(self.backup(b)?),
            None => None,
        };
        // Something to run or watch: phases, a database, or health checks and logs alone (an operator watching a
        // release window with nothing to run).
        let watches = !raw.health.is_empty() || !raw.logs.is_empty();
        let phases = self.phases(&raw.phase, database.is_some() || watches)?;
        let health = raw
            .health
            .iter()
            .enumerate()
            .map(|(i, h)| self.health("health", i, h))
            .collect::<Result<_, _>>()?;
        let smoke = raw
            .smoke
            .iter()
            .enumerate()
            .map(|(i, h)| self.health("smoke", i, h))
            .collect::<Result<_, _>>()?;
        let rollback = raw
            .rollback
            .as_ref()
            .map(|r| self.rollback(r, database.is_some(), backup.is_some()))
            .transpose()?;
        let window = raw.window.as_ref().map(|w| self.window(w)).transpose()?;
        let monitor = match &raw.monitor {
            Some(m) => self.monitor(m)?,
            None => Monitor::default(),
        };
        let notify = raw.notify.as_ref().map(|n| self.notify(n)).transpose()?;
        let stage_order = self.stage_order(raw.release.as_ref())?;
        let verify = raw
            .verify
            .iter()
            .enumerate()
            .map(|(i, v)| self.verify(i, v))
            .collect::<Result<_, _>>()?;
        let logs = raw
            .logs
            .iter()
            .enumerate()
            .map(|(i, l)| self.logs(i, l))
            .collect::<Result<_, _>>()?;
        Ok(Built {
            project,
            database,
            backup,
            health,
            verify,
            logs,
            checklist,
            phases,
            smoke,
            rollback,
            window,
            monitor,
            notify,
            stage_order,
        })
    }

    /// The phases, in order; their names are unique. A plan with nothing else to do (no database, no health
    /// checks or logs to watch) needs at least one.
    fn phases(
        &self,
        raw: &[Spanned<RawPhase>],
        has_other_work: bool,
    ) -> Result<Vec<Phase>, PlanError> {
        if raw.is_empty() && !has_other_work {
            return Err(self.err(
                0..0,
                "phase",
                "the plan has nothing to run or watch; expected at least one [[phase]], a [database], \
                 [[health]] or [[logs]]",
            ));
        }
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut phases = Vec::with_capacity(raw.len());
        for (i, raw_phase) in raw.iter().enumerate() {
            let phase = self.phase(i, raw_phase)?;
            if let Some(first) = seen.get(&phase.name) {
                let span = raw_phase
                    .get_ref()
                    .name
                    .as_ref()
                    .map_or(raw_phase.span(), Spanned::span);
                let message = format!(
                    "duplicate phase name \"{}\" (already used by phase[{first}])",
                    phase.name
                );
                return Err(self.err(span, &format!("phase[{i}].name"), &message));
            }
            seen.insert(phase.name.clone(), i);
            phases.push(phase);
        }
        Ok(phases)
    }

    pub(super) fn err(&self, span: Range<usize>, key: &str, message: &str) -> PlanError {
        PlanError::at(&self.file, self.source, span.start, key, message)
    }

    /// Interpolates a string value; errors point at the value.
    pub(super) fn resolve(
        &self,
        value: &Spanned<String>,
        key: &str,
    ) -> Result<Resolved, PlanError> {
        self.resolve_as(value, key, false).map(|(r, _)| r)
    }

    /// Like [`Builder::resolve`]; a `command` gets each secret as `"$NAME"`, returned with its value for the
    /// command's environment. Every secret value is kept for masking.
    pub(super) fn resolve_as(
        &self,
        value: &Spanned<String>,
        key: &str,
        command: bool,
    ) -> Result<(Resolved, Vec<(String, String)>), PlanError> {
        let i = interp::interpolate_as(value.get_ref(), self.env, command)
            .map_err(|msg| self.err(value.span(), key, &msg))?;
        let mut known = self.secrets.borrow_mut();
        for (_, v) in &i.secrets {
            if !known.contains(v) {
                known.push(v.clone());
            }
        }
        Ok((i.resolved, i.secrets))
    }

    /// Each table array's names are what the screen, the journal and alerts tell checks apart by: unique.
    fn unique_names_of(&self, raw: &RawPlan) -> Result<(), PlanError> {
        let names = |v: Vec<Option<Spanned<String>>>| v;
        self.unique_names(
            "health",
            &names(
                raw.health
                    .iter()
                    .map(|h| h.get_ref().name.clone())
                    .collect(),
            ),
        )?;
        self.unique_names(
            "smoke",
            &names(raw.smoke.iter().map(|h| h.get_ref().name.clone()).collect()),
        )?;
        self.unique_names(
            "logs",
            &names(raw.logs.iter().map(|l| l.get_ref().name.clone()).collect()),
        )?;
        self.unique_names(
            "verify",
            &names(
                raw.verify
                    .iter()
                    .map(|v| v.get_ref().name.clone())
                    .collect(),
            ),
        )?;
        Ok(())
    }

    /// Refuses what is sure to fail or mislead later: a NUL in any string (no command, path or URL can hold one),
    /// and in a name — shown on screen, journaled, typed to confirm — any control character or a length past
    /// [`MAX_NAME_CHARS`].
    fn plain_text(&self, value: &str, span: Range<usize>, key: &str) -> Result<(), PlanError> {
        if value.contains('\0') {
            return Err(self.err(
                span,
                key,
                "holds a NUL character; expected text without one",
            ));
        }
        let is_name = key.ends_with(".name") || key.ends_with(".item");
        if !is_name {
            return Ok(());
        }
        let control = value.chars().find(|c| {
            c.is_control()
                || ('\u{202a}'..='\u{202e}').contains(c)
                || ('\u{2066}'..='\u{2069}').contains(c)
        });
        if let Some(c) = control {
            let message = format!(
                "holds the control character U+{:04X}; expected plain text (names are shown, journaled and typed)",
                u32::from(c)
            );
            return Err(self.err(span, key, &message));
        }
        let chars = value.chars().count();
        if chars > MAX_NAME_CHARS {
            let message = format!("is {chars} characters long; expected at most {MAX_NAME_CHARS}");
            return Err(self.err(span, key, &message));
        }
        Ok(())
    }

    /// Refuses a name that appears twice in `section` (`health[2].name: "api" is also health[0]'s name`).
    fn unique_names(
        &self,
        section: &str,
        names: &[Option<Spanned<String>>],
    ) -> Result<(), PlanError> {
        for (i, name) in names.iter().enumerate() {
            let Some(name) = name else { continue };
            if let Some(first) = names[..i]
                .iter()
                .position(|n| n.as_ref().is_some_and(|n| n.get_ref() == name.get_ref()))
            {
                let message = format!(
                    "duplicate name \"{}\": it is also {section}[{first}]'s name; names must be unique",
                    crate::sanitize::sanitize_str(name.get_ref())
                );
                return Err(self.err(name.span(), &format!("{section}[{i}].name"), &message));
            }
        }
        Ok(())
    }

    /// A required, non-empty string: missing points at `table`, empty at the value.
    pub(super) fn required(
        &self,
        value: Option<&Spanned<String>>,
        table: Range<usize>,
        key: &str,
        expected: &str,
    ) -> Result<Resolved, PlanError> {
        let Some(value) = value else {
            return Err(self.err(table, key, &format!("missing; expected {expected}")));
        };
        let resolved = self.resolve(value, key)?;
        self.plain_text(&resolved.value, value.span(), key)?;
        if resolved.value.trim().is_empty() {
            return Err(self.err(
                value.span(),
                key,
                &format!("must not be empty; expected {expected}"),
            ));
        }
        Ok(resolved)
    }

    fn project(
        &self,
        raw: Option<Spanned<RawProject>>,
        selection: &Selection,
    ) -> Result<Project, PlanError> {
        let Some(raw) = raw else {
            let message = "missing [project] table; expected [project] with name and environment";
            return Err(self.err(0..0, "project", message));
        };
        let table = raw.span();
        let RawProject {
            name,
            environment,
            production,
            allow_seed,
            shared_data,
        } = raw.into_inner();
        let shared_data = shared_data.unwrap_or(false);
        let name = self.required(
            name.as_ref(),
            table.clone(),
            "project.name",
            "name = \"<project>\"",
        )?;
        // An environment's own flags win; `[project]`'s are the default.
        let production = selection.production.or(production).unwrap_or(false);
        let allow_seed = selection.allow_seed.or(allow_seed).unwrap_or(false);
        if let Some(chosen) = &selection.chosen {
            return Ok(Project {
                name: name.display,
                production: production || super::types::is_production_name(chosen),
                environment: chosen.clone(),
                allow_seed,
                shared_data,
            });
        }
        let expected = "environment = \"<word>\", e.g. \"production\"";
        let span = environment.as_ref().map_or(table.clone(), Spanned::span);
        let environment =
            self.required(environment.as_ref(), table, "project.environment", expected)?;
        if !is_environment_word(&environment.value) {
            let message = format!(
                "invalid environment \"{}\": expected one word of letters, digits, '_', '.' or '-' \
                 (the operator types it to confirm)",
                environment.display
            );
            return Err(self.err(span, "project.environment", &message));
        }
        if let Some(want) = &selection.required
            && *want != environment.value
        {
            let message = format!(
                "--env {want} does not match environment \"{}\" (the plan defines no [environments.NAME])",
                environment.display
            );
            return Err(self.err(span, "project.environment", &message));
        }
        Ok(Project {
            name: name.display,
            production: production || super::types::is_production_name(&environment.value),
            environment: environment.value,
            allow_seed,
            shared_data,
        })
    }

    fn checklist_item(
        &self,
        i: usize,
        raw: &Spanned<RawChecklistItem>,
    ) -> Result<ChecklistItem, PlanError> {
        let RawChecklistItem { item } = raw.get_ref();
        let key = format!("checklist[{i}].item");
        let item = self.required(item.as_ref(), raw.span(), &key, "item = \"<text>\"")?;
        Ok(ChecklistItem { item: item.display })
    }

    fn phase(&self, i: usize, raw: &Spanned<RawPhase>) -> Result<Phase, PlanError> {
        let RawPhase {
            name,
            destructive,
            needs_backup,
            seed,
            optional,
            steps,
        } = raw.get_ref();
        let prefix = format!("phase[{i}]");
        let name = self.required(
            name.as_ref(),
            raw.span(),
            &format!("{prefix}.name"),
            "name = \"<phase>\"",
        )?;
        let steps_key = format!("{prefix}.steps");
        let expected = "at least one step such as { run = \"./deploy.sh\" }";
        let Some(steps) = steps else {
            return Err(self.err(
                raw.span(),
                &steps_key,
                &format!("missing; expected {expected}"),
            ));
        };
        if steps.get_ref().is_empty() {
            return Err(self.err(
                steps.span(),
                &steps_key,
                &format!("no steps; expected {expected}"),
            ));
        }
        let steps = steps
            .get_ref()
            .iter()
            .enumerate()
            .map(|(j, step)| self.step(&format!("{steps_key}[{j}]"), step))
            .collect::<Result<_, _>>()?;
        Ok(Phase {
            name: name.display,
            // Seeding writes data: always treated as destructive.
            destructive: *destructive || *seed,
            needs_backup: *needs_backup,
            seed: *seed,
            optional: *optional,
            steps,
        })
    }

    pub(super) fn step(&self, prefix: &str, raw: &Spanned<RawStep>) -> Result<Step, PlanError> {
        let RawStep {
            run,
            timeout,
            cwd,
            env,
        } = raw.get_ref();
        let run_key = format!("{prefix}.run");
        let Some(run_raw) = run.as_ref() else {
            return Err(self.err(
                raw.span(),
                &run_key,
                "missing; expected run = \"<command>\"",
            ));
        };
        self.required(Some(run_raw), raw.span(), &run_key, "run = \"<command>\"")?;
        // Secrets reach the command through its environment, never its command line.
        let (run, secret_env) = self.resolve_as(run_raw, &run_key, true)?;
        let timeout = match timeout {
            Some(t) => Some(self.timeout(t, &format!("{prefix}.timeout"))?),
            None => None,
        };
        let cwd = match cwd {
            Some(c) => {
                let key = format!("{prefix}.cwd");
                let value = self.resolve(c, &key)?.value;
                Some(self.existing_folder(&value, c.span(), &key, "the folder the step runs in")?)
            }
            None => None,
        };
        let mut entries: Vec<(&String, &Spanned<String>)> = env.iter().collect();
        entries.sort_by_key(|(_, value)| value.span().start);
        let mut env: Vec<(String, Resolved)> = entries
            .into_iter()
            .map(|(name, value)| self.env_entry(prefix, name, value))
            .collect::<Result<_, _>>()?;
        for (name, value) in secret_env {
            if !name.is_empty() && !env.iter().any(|(k, _)| *k == name) {
                let display = format!("${{{name}}}");
                env.push((name, Resolved { value, display }));
            }
        }
        Ok(Step {
            run,
            timeout,
            cwd,
            env,
        })
    }

    pub(super) fn timeout(&self, raw: &Spanned<String>, key: &str) -> Result<Duration, PlanError> {
        let resolved = self.resolve(raw, key)?;
        let text = resolved.display;
        let duration = humantime::parse_duration(resolved.value.trim()).map_err(|_| {
            let message = format!(
                "invalid duration \"{text}\": \
                 expected a duration such as \"30s\", \"5m\" or \"1h30m\""
            );
            self.err(raw.span(), key, &message)
        })?;
        if duration.is_zero() {
            let message = format!("invalid duration \"{text}\": must be greater than zero");
            return Err(self.err(raw.span(), key, &message));
        }
        if duration > MAX_DURATION {
            let message = format!("invalid duration \"{text}\": at most 30 days");
            return Err(self.err(raw.span(), key, &message));
        }
        Ok(duration)
    }

    fn env_entry(
        &self,
        prefix: &str,
        name: &str,
        value: &Spanned<String>,
    ) -> Result<(String, Resolved), PlanError> {
        let key = format!("{prefix}.env.{name}");
        if !interp::is_variable_name(name) {
            let offset =
                env_key_offset(self.source, value.span().start, name).unwrap_or(value.span().start);
            let message = format!(
                "invalid variable name \"{name}\": \
                 expected letters, digits and '_', not starting with a digit"
            );
            return Err(self.err(offset..offset, &key, &message));
        }
        Ok((name.to_string(), self.resolve(value, &key)?))
    }
}

/// `^[A-Za-z0-9][A-Za-z0-9_.-]*$`: the word the operator types to confirm.
pub(super) fn is_environment_word(word: &str) -> bool {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) if first.is_ascii_alphanumeric() => {
            chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        }
        _ => false,
    }
}

/// Where an env key is written, found by walking back from its value over `=` and optional quotes
/// (`KEY = "v"`, `"KEY" = "v"`, `env.KEY = "v"`). `None` when the text does not look like that.
pub(super) fn env_key_offset(source: &str, value_start: usize, key: &str) -> Option<usize> {
    let before = source
        .get(..value_start)?
        .trim_end()
        .strip_suffix('=')?
        .trim_end();
    ["\"", "'", ""].into_iter().find_map(|quote| {
        let rest = before
            .strip_suffix(quote)?
            .strip_suffix(key)?
            .strip_suffix(quote)?;
        Some(rest.len())
    })
}

/// The folder relative `cwd`s are joined onto: the plan file's parent (empty for a bare file name).
pub(super) fn plan_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_key_offset_finds_bare_quoted_and_dotted_keys() {
        let src = r#"env = { A = "1", "1 B" = "2", 'C' ="3" }"#;
        let at = |needle: &str| src.find(needle).unwrap();
        assert_eq!(env_key_offset(src, at("\"1\""), "A"), Some(at("A =")));
        assert_eq!(env_key_offset(src, at("\"2\""), "1 B"), Some(at("\"1 B")));
        assert_eq!(env_key_offset(src, at("\"3\""), "C"), Some(at("'C'")));
        let dotted = "env.X_1 = \"v\"";
        assert_eq!(env_key_offset(dotted, 10, "X_1"), Some(4));
        assert_eq!(env_key_offset(dotted, 10, "Y"), None);
    }

    #[test]
    fn environment_words() {
        for ok in ["production", "prod-eu.1", "9_x"] {
            assert!(is_environment_word(ok), "{ok}");
        }
        for bad in ["", "-prod", ".x", "live prod", "prod!", "é"] {
            assert!(!is_environment_word(bad), "{bad}");
        }
    }
}
