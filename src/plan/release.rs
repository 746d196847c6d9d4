//! The sections around a release: `[rollback]` (code steps, same syntax as phase steps, and what happens to the
//! database), `[monitor]` (how long the watch after the deploy lasts) and `[notify]` (a webhook whose URL is
//! interpolated and never shown resolved: only its scheme and host, since the path usually carries a token).

use std::time::Duration;

use toml::Spanned;

use super::build::Builder;
use super::error::PlanError;
use super::raw::{RawMonitor, RawNotify, RawRelease, RawRollback};
use super::types::{Monitor, Notify, Resolved, Rollback, RollbackDatabase, STAGES};

/// Default `[notify] timeout`.
pub const DEFAULT_NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

impl Builder<'_> {
    /// `has_database` / `has_backup`: whether the plan (after environment overrides) has those sections.
    pub(super) fn rollback(
        &self,
        raw: &Spanned<RawRollback>,
        has_database: bool,
        has_backup: bool,
    ) -> Result<Rollback, PlanError> {
        let r = raw.get_ref();
        let steps = self.rollback_steps(r.steps.as_ref(), "rollback.steps")?;
        let before_restore =
            self.rollback_steps(r.before_restore.as_ref(), "rollback.before_restore")?;
        if let Some(first) = r.before_restore.as_ref().filter(|_| !has_database) {
            let message = "before_restore needs a [database] table (its steps run before the database is restored or \
                           reverted)";
            return Err(self.err(first.span(), "rollback.before_restore", message));
        }
        let database = match &r.database {
            None => RollbackDatabase::Auto,
            Some(d) => {
                let key = "rollback.database";
                match self.resolve(d, key)?.value.as_str() {
                    "auto" => RollbackDatabase::Auto,
                    "none" => RollbackDatabase::Leave,
                    "restore" if !has_database => {
                        let message = "database = \"restore\" needs a [database] table (there is nothing to restore)";
                        return Err(self.err(d.span(), key, message));
                    }
                    "restore" if !has_backup => {
                        let message = "database = \"restore\" needs a [backup] table (the backup this run takes is \
                                       what is restored)";
                        return Err(self.err(d.span(), key, message));
                    }
                    "restore" => RollbackDatabase::Restore,
                    other => {
                        let message =
                            format!("unknown mode \"{other}\": expected auto, restore or none");
                        return Err(self.err(d.span(), key, &message));
                    }
                }
            }
        };
        Ok(Rollback {
            steps,
            before_restore,
            database,
        })
    }

    /// A list of steps under `key` (`rollback.steps`), each as a phase step.
    fn rollback_steps(
        &self,
        raw: Option<&Spanned<Vec<Spanned<super::raw::RawStep>>>>,
        key: &str,
    ) -> Result<Vec<super::types::Step>, PlanError> {
        match raw {
            None => Ok(Vec::new()),
            Some(steps) => steps
                .get_ref()
                .iter()
                .enumerate()
                .map(|(j, step)| self.step(&format!("{key}[{j}]"), step))
                .collect(),
        }
    }

    /// `[release] order`: every stage once; `preflight` first; `verify`, `monitor`, `sign-off` last, in that order
    /// (they judge what the others did). Between them, `backup`, `migrate` and `deploy` in any order.
    pub(super) fn stage_order(
        &self,
        raw: Option<&Spanned<RawRelease>>,
    ) -> Result<Vec<String>, PlanError> {
        let default = || STAGES.iter().map(|s| (*s).to_string()).collect();
        let Some(order) = raw.and_then(|r| r.get_ref().order.as_ref()) else {
            return Ok(default());
        };
        let key = "release.order";
        let mut seen: Vec<String> = Vec::new();
        for item in order.get_ref() {
            let name = item.get_ref();
            if !STAGES.contains(&name.as_str()) {
                let message = format!(
                    "unknown stage \"{name}\": expected one of {}",
                    STAGES.join(", ")
                );
                return Err(self.err(item.span(), key, &message));
            }
            if seen.contains(name) {
                return Err(self.err(
                    item.span(),
                    key,
                    &format!("stage \"{name}\" is named twice"),
                ));
            }
            seen.push(name.clone());
        }
        if seen.len() != STAGES.len() {
            let missing: Vec<&str> = STAGES
                .iter()
                .copied()
                .filter(|s| !seen.iter().any(|n| n == s))
                .collect();
            let message = format!(
                "every stage must be named once; missing: {}",
                missing.join(", ")
            );
            return Err(self.err(order.span(), key, &message));
        }
        let ends = seen[0] == "preflight" && seen[4..] == ["verify", "monitor", "sign-off"];
        if !ends {
            let message = "preflight comes first and verify, monitor, sign-off last, in that order (they judge \
                           what the others did); backup, migrate and deploy may come in any order between";
            return Err(self.err(order.span(), key, message));
        }
        Ok(seen)
    }

    pub(super) fn monitor(&self, raw: &Spanned<RawMonitor>) -> Result<Monitor, PlanError> {
        Ok(match &raw.get_ref().duration {
            Some(d) => Monitor {
                duration: self.timeout(d, "monitor.duration")?,
            },
            None => Monitor::default(),
        })
    }

    pub(super) fn notify(&self, raw: &Spanned<RawNotify>) -> Result<Notify, PlanError> {
        let n = raw.get_ref();
        let key = "notify.webhook";
        let webhook = self.required(
            n.webhook.as_ref(),
            raw.span(),
            key,
            "webhook = \"${SLACK_WEBHOOK}\"",
        )?;
        let span = n.webhook.as_ref().map_or(raw.span(), Spanned::span);
        // The value is never quoted back: it usually carries a token.
        let bad = |why: &str| {
            let message = format!(
                "invalid webhook URL ({why}): expected http://… or https://… (the value is not shown: it may \
                 carry a token)"
            );
            self.err(span.clone(), key, &message)
        };
        let url = url::Url::parse(webhook.value.trim()).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad(&format!("scheme {}", url.scheme())));
        }
        let Some(host) = url.host_str() else {
            return Err(bad("no host"));
        };
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let display = format!("{}://{host}{port}/…", url.scheme());
        let timeout = match &n.timeout {
            Some(t) => self.timeout(t, "notify.timeout")?,
            None => DEFAULT_NOTIFY_TIMEOUT,
        };
        Ok(Notify {
            webhook: Resolved {
                value: webhook.value.trim().to_string(),
                display,
            },
            timeout,
        })
    }
}
