//! The last pass over the gathered parts, once the whole runbook is read: thresholds onto the health checks,
//! phases guessed from the scripts the runbook names in inline code when no shell block gave one, a placeholder
//! phase when nothing is left to run, the summary's closing lines. May import the other `import` modules only.

use super::build::{Model, Phase, Step, unique_phase};
use super::classify;

impl Model {
    /// After the walk: thresholds onto the health checks, phases guessed from inline script names when no
    /// shell block gave one, and a placeholder phase when nothing at all is left to run.
    pub(super) fn finish(&mut self) {
        self.thresholds();
        if self.phases.is_empty() {
            self.phases_from_inline();
        }
        let nothing = self.phases.is_empty()
            && self.health.is_empty()
            && self.logs.is_empty()
            && !self.database.as_ref().is_some_and(|d| d.3);
        if nothing {
            self.summary.guessed.push(
                "no command to run was found: a placeholder phase that fails until replaced".into(),
            );
            self.phases.push(Phase {
                name: "Deploy".into(),
                line: 1,
                steps: vec![Step {
                    run: "echo 'replace with the deploy commands' >&2; exit 1".into(),
                    line: 1,
                    cwd: None,
                    note: None,
                    todo: Some("the runbook gives no command to run".into()),
                }],
                destructive: None,
                seed: None,
                guess: Some("the runbook gives no shell block".into()),
            });
        }
        if self.database.as_ref().is_some_and(|d| d.3) {
            self.summary.variables.insert(0, "DATABASE_URL".into());
        }
        if let Some((_, folder, line, false)) = &self.database {
            self.summary.left_out.push(format!(
                "line {line}: [database] commented out: its migrations folder {folder} is not beside the plan"
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        self.summary.variables.retain(|v| seen.insert(v.clone()));
        for (env, line) in &self.environments {
            self.summary
                .taken
                .push(format!("line {line}: {env} named → [environments.{env}]"));
        }
    }

    fn thresholds(&mut self) {
        let stated = [
            self.latency_factor.map(|(_, l)| ("latency_factor", l)),
            self.max_latency.as_ref().map(|(_, l)| ("max_latency", *l)),
            self.error_rate.map(|(_, l)| ("error_rate", l)),
        ];
        for (key, line) in stated.into_iter().flatten() {
            if self.health.is_empty() {
                self.summary.left_out.push(format!(
                    "line {line}: a {key} threshold: no [[health]] check (curl -f URL) to attach it to"
                ));
            } else {
                self.summary
                    .taken
                    .push(format!("line {line}: {key} → every [[health]] check"));
            }
        }
    }

    /// Scripts the runbook names in inline code (`scripts/deploy.sh`, `scripts/001-migration.sql`) as guessed
    /// phases, one per heading, in the runbook's order; rollback scripts left to the rollback.
    fn phases_from_inline(&mut self) {
        for (code, line, heading, at) in std::mem::take(&mut self.inline) {
            let code = code.trim();
            if code.contains(char::is_whitespace) || code.to_lowercase().contains("rollback") {
                continue;
            }
            let run = if code.ends_with(".sh") {
                if code.starts_with('/') || code.starts_with("./") {
                    code.to_string()
                } else {
                    format!("./{code}")
                }
            } else if code.ends_with(".sql") && code.to_lowercase().contains("migration") {
                format!("psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -f {code}")
            } else {
                continue;
            };
            let why = format!("the runbook names {code} without saying how to run it");
            self.summary
                .guessed
                .push(format!("line {line}: `{run}`: {why}"));
            let step = Step {
                run: run.clone(),
                line,
                cwd: None,
                note: None,
                todo: Some(why),
            };
            if let Some(p) = self.phases.iter_mut().find(|p| p.line == at) {
                if p.destructive.is_none() && classify::destructive(&run) {
                    p.destructive = Some((line, run.clone()));
                }
                p.steps.push(step);
                continue;
            }
            self.phases.push(Phase {
                name: unique_phase(&self.phases, &heading),
                line: at,
                destructive: classify::destructive(&run).then(|| (line, run.clone())),
                seed: None,
                steps: vec![step],
                guess: Some(
                    "no shell block outside the rollback: built from the scripts named".into(),
                ),
            });
        }
    }
}
