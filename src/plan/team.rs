//! `[team]`: the PostgreSQL database operators coordinate through — `database` (a URL, usually
//! `"${DECKHAND_TEAM_URL}"`), `schema` (default `deckhand`), `role` (optional), `approve` (the environments where a
//! second operator approves each destructive action) and `approval_timeout` (default 30 minutes).

use std::time::Duration;

use toml::Spanned;

use super::build::Builder;
use super::error::PlanError;
use super::raw::RawTeam;
use super::types::Team;

/// Default `approval_timeout`.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

impl Builder<'_> {
    /// The `[team]` section; `environments` are the plan's `[environments.*]` names (empty without any) and
    /// `chosen` the environment this run targets.
    pub(super) fn team(
        &self,
        raw: &Spanned<RawTeam>,
        environments: &[String],
        chosen: &str,
    ) -> Result<Team, PlanError> {
        let t = raw.get_ref();
        let database = self.required(
            t.database.as_ref(),
            raw.span(),
            "team.database",
            "database = \"${DECKHAND_TEAM_URL}\" (a postgres:// URL)",
        )?;
        let span = t.database.as_ref().map_or(raw.span(), Spanned::span);
        let is_pg = ["postgres://", "postgresql://"]
            .iter()
            .any(|s| database.value.starts_with(s));
        if !is_pg || url::Url::parse(&database.value).is_err() {
            let message = format!(
                "invalid team database URL \"{}\": expected postgres://user:password@host:port/database",
                database.display
            );
            return Err(self.err(span, "team.database", &message));
        }
        let schema = match &t.schema {
            Some(s) => self.identifier(s, "team.schema")?,
            None => "deckhand".into(),
        };
        let role = t
            .role
            .as_ref()
            .map(|r| self.identifier(r, "team.role"))
            .transpose()?;
        let mut approve = Vec::new();
        for (i, e) in t.approve.iter().flat_map(|a| a.get_ref()).enumerate() {
            let name = self.resolve(e, &format!("team.approve[{i}]"))?.value;
            let known = if environments.is_empty() {
                name == chosen
            } else {
                environments.contains(&name)
            };
            if !known {
                let names = if environments.is_empty() {
                    chosen.to_string()
                } else {
                    environments.join(", ")
                };
                let message = format!("unknown environment \"{name}\": expected one of {names}");
                return Err(self.err(e.span(), &format!("team.approve[{i}]"), &message));
            }
            approve.push(name);
        }
        let approval_timeout = match &t.approval_timeout {
            Some(d) => self.timeout(d, "team.approval_timeout")?,
            None => DEFAULT_APPROVAL_TIMEOUT,
        };
        Ok(Team {
            database,
            schema,
            role,
            approve,
            approval_timeout,
        })
    }

    /// A PostgreSQL name deckhand writes unquoted into SQL: lowercase letters, digits and `_`, not starting with a
    /// digit, at most 63 bytes.
    fn identifier(&self, raw: &Spanned<String>, key: &str) -> Result<String, PlanError> {
        let value = self.resolve(raw, key)?.value;
        let ok = !value.is_empty()
            && value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !value.starts_with(|c: char| c.is_ascii_digit());
        if ok {
            Ok(value)
        } else {
            let message = format!(
                "invalid name \"{value}\": expected lowercase letters, digits and _ (not starting with a digit)"
            );
            Err(self.err(raw.span(), key, &message))
        }
    }
}
